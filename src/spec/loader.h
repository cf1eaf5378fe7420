/*
 * loader.h - the state of one cairn_spec_load() run, shared by the files of
 * src/spec/ (load.c reads and decodes, expand.c checks and expands).
 */
#ifndef CAIRN_SPEC_LOADER_H
#define CAIRN_SPEC_LOADER_H

#include "cairn/model.h"
#include "cairn/spec.h"
#include "model/model-priv.h"
#include "spec/decode.h"

struct spec_file {
	const char *path;             /* interned in the sources */
	char *dir;                    /* prefix for its relative paths ("" for the root's) */
	struct cairn_ynode *root;
	int depth;                    /* include depth */
};

struct spec_var {
	const char *name;
	struct cairn_loc loc;
	const struct cairn_ynode *value; /* NULL: no value */
	bool sensitive;
	const char *type;
};

struct loader {
	const struct cairn_spec_options *opt;
	struct cairn_sources *sources;
	struct cairn_diags *diags;
	struct cairn_model *m;
	struct cairn_model_priv *priv;
	struct spec_file *files;
	size_t nfiles, afiles;
	struct spec_var *vars;
	size_t nvars, avars;
	struct cairn_strmap varmap;     /* name -> spec_var index + 1 */
	struct cairn_refs refs;
	size_t errors_at_start;
	bool parse_failed;             /* a file could not be read or parsed */
	size_t *providers;             /* indices of provider declarations */
	size_t nproviders, aproviders;
};

/* The most resources a stack may expand to (struct cairn_spec_options). */
static inline size_t loader_max_resources(const struct loader *l)
{
	return l->opt && l->opt->max_resources ? l->opt->max_resources : CAIRN_SPEC_MAX_RESOURCES;
}

static inline bool loader_failed(const struct loader *l)
{
	return l->diags->nerrors > l->errors_at_start;
}

/* An error in the user's text, and a hint for the error added last. */
void spec_diag(struct loader *l, struct cairn_loc loc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
#define spec_hint(l, ...) cairn_diag_hint((l)->diags, __VA_ARGS__)

/* expand.c: cross-checks, cycles, resources, order, the design. */
void spec_check_and_expand(struct loader *l);

#endif
