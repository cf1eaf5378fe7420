/*
 * yaml.h - parse one YAML text into a struct cairn_ynode tree (libfyaml's
 * event API underneath), with the limits untrusted input needs.
 *
 * Problems are reported into diags against file (a name interned in the
 * caller's struct cairn_sources).  The tree lives in arena; text must stay
 * alive while the tree is used (scalars are copied, but locations are not
 * re-checked).  Aliases become shared subtrees; the expanded size counts
 * against max_nodes, so a billion-laughs document fails after a few
 * hundred events instead of exhausting memory.
 */
#ifndef CAIRN_SPEC_YAML_H
#define CAIRN_SPEC_YAML_H

#include <stddef.h>

#include "cairn/diag.h"
#include "model/ynode.h"
#include "util/arena.h"

struct cairn_yaml_limits {
	int max_depth;        /* nesting of mappings and sequences */
	size_t max_nodes;     /* nodes aliases may add by repeating others */
};

/*
 * Returns 0 with *out the document's root (a null scalar for an empty
 * document), or -1 after adding at least one error to diags.  Duplicate
 * keys and keys that are not strings are reported but not fatal: they are
 * dropped from the tree and 0 is returned.
 */
int cairn_yaml_parse(struct cairn_arena *arena, const char *file,
		     const char *text, size_t len,
		     const struct cairn_yaml_limits *limits,
		     struct cairn_diags *diags, struct cairn_ynode **out);

/*
 * Is text fit to be parsed at all?  Refuses NUL bytes and invalid UTF-8
 * with one diagnostic (no line: the whole file is the problem).
 */
int cairn_yaml_check_text(const char *file, const char *text, size_t len,
			  struct cairn_diags *diags);

#endif
