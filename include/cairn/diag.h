/*
 * diag.h - many problems at once, each pointing at the user's text.
 *
 * Validation does not stop at the first mistake: it collects diagnostics in a
 * struct cairn_diags and the caller renders them all, sorted by position, as
 *
 *     stack.yml:12:5: error: unknown key 'memroy' in plan 'small'
 *        12 |     memroy: 1GiB
 *           |     ^
 *           = hint: did you mean 'memory'?
 *
 * The source texts live in a struct cairn_sources, which owns every file name
 * a struct cairn_loc points to; keep it alive as long as any location.
 */
#ifndef CAIRN_DIAG_H
#define CAIRN_DIAG_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

#include "cairn/error.h"

struct cairn_source {
	char *path;           /* as the user named it (or relative to the includer) */
	char *text;           /* whole contents, NUL-terminated */
	size_t len;
};

struct cairn_sources {
	struct cairn_source **v;
	size_t n, alloc;
};

#define CAIRN_SOURCES_INIT { NULL, 0, 0 }

/* Take ownership of text (malloc'ed, NUL-terminated); returns the entry. */
struct cairn_source *cairn_sources_add(struct cairn_sources *s, const char *path,
				       char *text, size_t len);
/* A name without text, for locations such as "<command line>". */
const char *cairn_sources_intern(struct cairn_sources *s, const char *name);
const struct cairn_source *cairn_sources_find(const struct cairn_sources *s,
					      const char *path);
void cairn_sources_release(struct cairn_sources *s);

enum cairn_severity {
	CAIRN_SEV_ERROR,
	CAIRN_SEV_WARNING,
};

struct cairn_diag {
	enum cairn_severity severity;
	struct cairn_loc loc;
	char *message;
	char *hint;           /* may be NULL */
};

struct cairn_diags {
	struct cairn_diag *v;
	size_t n, alloc;
	size_t nerrors;
	size_t max;           /* stop recording after this many (0: 1000) */
	size_t nerrors_dropped; /* errors past max, counted but not kept */
	bool dropped;         /* the last one added was past max */
};

#define CAIRN_DIAGS_INIT { NULL, 0, 0, 0, 0, 0, false }

void cairn_diag_add(struct cairn_diags *d, enum cairn_severity sev,
		    struct cairn_loc loc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Attach a hint to the diagnostic added last. */
void cairn_diag_hint(struct cairn_diags *d, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Record an error object as a diagnostic (message, hint, location). */
void cairn_diag_add_error(struct cairn_diags *d, const struct cairn_error *err);
/* Sort by file (in order of sources), line, column; stable; drops exact
 * duplicates (same place, same message). */
void cairn_diags_sort(struct cairn_diags *d, const struct cairn_sources *s);
void cairn_diags_release(struct cairn_diags *d);

/* Render as above; color adds ANSI escapes. */
void cairn_diags_print(const struct cairn_diags *d, const struct cairn_sources *s,
		       FILE *out, bool color);
/* Render one error the same way (used for errors outside validation). */
void cairn_error_print(const struct cairn_error *err, const struct cairn_sources *s,
		       FILE *out, bool color);
/* [{"severity","file","line","column","message","hint"}] */
json_t *cairn_diags_to_json(const struct cairn_diags *d);

#endif
