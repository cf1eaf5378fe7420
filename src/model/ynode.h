/*
 * ynode.h - a YAML document as a tree that remembers where each part was.
 *
 * The spec loader (src/spec/yaml.c) builds it from libfyaml's events; the
 * model keeps it so that any later failure can point at the user's text.
 * Nodes live in a struct cairn_arena owned by whoever built the tree.
 * Aliases are already expanded (copied), merge keys are not supported.
 */
#ifndef CAIRN_MODEL_YNODE_H
#define CAIRN_MODEL_YNODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cairn/error.h"

enum cairn_ytype {
	CAIRN_Y_SCALAR,
	CAIRN_Y_SEQ,
	CAIRN_Y_MAP,
};

struct cairn_ynode;

struct cairn_ypair {
	struct cairn_ynode *key;     /* always a scalar */
	struct cairn_ynode *value;
};

/* 56 bytes: a 100,000-node stack has millions of these (docs/benchmarks.md). */
struct cairn_ynode {
	struct cairn_loc loc;        /* first character of the node */
	unsigned char type;          /* enum cairn_ytype */
	bool quoted;                 /* scalar written quoted or as a block */
	bool null;                   /* plain "~", "null", "" or nothing */
	bool sensitive;              /* holds a sensitive variable's value */
	bool inexact;                /* text differs from the source (escapes, folding):
	                                positions inside it cannot be told */
	unsigned char skip;          /* columns from loc to the text (1 past a quote) */
	unsigned short block_col;    /* literal block: column of its content, else 0 */
	uint32_t len;                /* SCALAR: of text */
	uint32_t n;                  /* SEQ items / MAP pairs */
	uint32_t weight;             /* nodes in the subtree, aliases expanded */
	char *text;                  /* SCALAR: NUL-terminated */
	union {
		struct cairn_ynode **items;  /* SEQ */
		struct cairn_ypair *pairs;   /* MAP */
	};
};

/* The value of key in a map, or NULL. */
const struct cairn_ynode *cairn_ynode_get(const struct cairn_ynode *map, const char *key);
/* The pair of key in a map, or NULL. */
const struct cairn_ypair *cairn_ynode_pair(const struct cairn_ynode *map, const char *key);
/*
 * Where byte off of scalar y's text was in the source: exact for one-line
 * scalars and literal blocks, the scalar's start otherwise.
 */
struct cairn_loc cairn_ynode_loc_at(const struct cairn_ynode *y, size_t off);
/* "mapping", "sequence", "string", "null" etc. for messages */
const char *cairn_ynode_describe(const struct cairn_ynode *y);

#endif
