/*
 * decode.h - a YAML tree checked against a field table, turned into JSON.
 *
 * Every problem becomes a diagnostic and decoding goes on, so one run
 * reports all of them.  Sizes become bytes, durations milliseconds, paths are
 * made relative to the root stack file, defaults are filled in.  References
 * met on the way (REF fields, and ${...} inside strings) are appended to a
 * struct cairn_refs for the loader to check once every name is known.
 */
#ifndef CAIRN_SPEC_DECODE_H
#define CAIRN_SPEC_DECODE_H

#include <jansson.h>
#include <stdbool.h>

#include "cairn/diag.h"
#include "cairn/schema.h"
#include "model/ynode.h"

#define CAIRN_REF_NOINDEX (-1)
#define CAIRN_REF_STAR (-2)

struct cairn_ref {
	enum cairn_kind kind;       /* what it names */
	char *name;
	int index;                  /* [i], CAIRN_REF_NOINDEX or CAIRN_REF_STAR */
	char *attr;                 /* ${node.x.ATTR}; NULL for REF fields */
	bool self;                  /* ${self.ATTR} */
	bool expr;                  /* written as ${...} (else a REF field) */
	const char *key;            /* the field it was found in (static) */
	size_t origin;              /* the declaration it appears in */
	struct cairn_loc loc;
};

struct cairn_refs {
	struct cairn_ref *v;
	size_t n, alloc;
};

void cairn_refs_release(struct cairn_refs *r);

struct cairn_decoder {
	struct cairn_diags *diags;
	struct cairn_refs *refs;    /* may be NULL: references are then not collected */
	size_t origin;              /* stamped on collected references */
	const char *what;           /* "node 'web'", for messages */
	const char *dir;            /* prefix for PATH values ("" or "sub/") */
	bool in_node;               /* ${self...} allowed */
	bool no_refs;               /* do not look for ${...} (the caller checks) */
	bool canonical;             /* sizes and durations may be bare integers (bytes, ms) */
};

/*
 * Decode y as described by f (its name is used in messages).  Returns the
 * value (caller owns), or NULL when it was absent or wrong.
 */
json_t *cairn_decode_value(struct cairn_decoder *dc, const struct cairn_ynode *y,
			   const struct cairn_field *f);

/*
 * Decode a mapping against table a plus table b (b's fields win; either may
 * be NULL).  Unknown keys are errors unless open (then kept as ANY).
 * Required keys missing are reported at loc.  Returns a JSON object, never
 * NULL (problems only produce diagnostics).
 */
json_t *cairn_decode_object(struct cairn_decoder *dc, const struct cairn_ynode *y,
			    const struct cairn_field *a, const struct cairn_field *b,
			    bool open, struct cairn_loc loc);

/* Any YAML value as JSON (plain scalars become numbers, booleans, null). */
json_t *cairn_ynode_to_json(const struct cairn_ynode *y);

/*
 * Scan a string for ${...} references (skipping $${), checking their syntax
 * and collecting them.  Returns the number of problems found.
 */
int cairn_scan_refs(struct cairn_decoder *dc, const struct cairn_ynode *y,
		    const char *key);

#endif
