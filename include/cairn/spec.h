/*
 * spec.h - from a stack file to a validated model.
 *
 * cairn_spec_load() reads the root file and its includes (libfyaml, with
 * positions), substitutes variables, checks everything the field tables and
 * the cross-references demand, expands counts into resources and orders them.
 * It reports every problem it finds into diags (each with file:line:col) and
 * returns -1 with *out NULL when there was at least one error.  Warnings do
 * not fail the load.
 *
 * The source texts are added to sources, which the caller owns and must keep
 * alive as long as the diagnostics or the model.
 *
 * The parser is hardened for untrusted input: at most max_bytes per file
 * (default 64 MiB), nesting depth 64, aliases adding at most 1,000,000
 * nodes (a billion-laughs file is refused at once), includes at most 16
 * deep.
 */
#ifndef CAIRN_SPEC_H
#define CAIRN_SPEC_H

#include <stdbool.h>
#include <stddef.h>

#include "cairn/diag.h"
#include "cairn/model.h"

struct cairn_spec_options {
	const char *const *vars;       /* "NAME=VALUE" from --var, in order */
	size_t nvars;
	const char *const *var_files;  /* YAML maps NAME: VALUE from --var-file */
	size_t nvar_files;
	bool no_env;                   /* ignore CAIRN_VAR_NAME variables */
	size_t max_bytes;              /* per file; 0: 64 MiB */
	bool canonical;                /* a stored design: bare integer sizes (bytes) and durations (ms) */
	size_t max_resources;          /* after ranges and counts; 0: CAIRN_SPEC_MAX_RESOURCES */
};

#define CAIRN_SPEC_MAX_BYTES (64u << 20)
#define CAIRN_SPEC_MAX_DEPTH 64
#define CAIRN_SPEC_MAX_NODES 1000000
#define CAIRN_SPEC_MAX_INCLUDE_DEPTH 16
#define CAIRN_SPEC_MAX_RESOURCES 1000000

/*
 * Load, validate and expand the stack in path ("-" reads stdin).  opt may be
 * NULL.  Returns 0 and *out (free with cairn_model_free()), or -1 with the
 * reasons in diags.  An unreadable, empty, binary or oversized file is one
 * diagnostic whose location has no line.
 */
int cairn_spec_load(const char *path, const struct cairn_spec_options *opt,
		    struct cairn_sources *sources, struct cairn_diags *diags,
		    struct cairn_model **out);

/* The same from a buffer (tests, the fuzzer, the daemon's API); name labels it.
 * Includes are resolved relative to the current directory. */
int cairn_spec_load_string(const char *name, const char *text, size_t len,
			   const struct cairn_spec_options *opt,
			   struct cairn_sources *sources, struct cairn_diags *diags,
			   struct cairn_model **out);

#endif
