/*
 * error.h - the one error object of libcairn.
 *
 * A failing function sets a struct cairn_error once, where the failure
 * happens, and returns -1 (or NULL).  The caller owns the error object (it is
 * usually on the caller's stack, initialised with CAIRN_ERROR_INIT), passes it
 * down as the last argument, and releases it with cairn_error_release().
 * Callers propagate without re-reporting; a layer may add one line of context
 * with cairn_error_context() ("while planning node 'web[2]'").
 *
 * An error may carry the location in the user's text it is about (file, line,
 * column, 1-based), so that a failure long after parsing can still be shown
 * with the source line and a caret.  The file name is borrowed: it points into
 * a struct cairn_sources (see diag.h) that outlives the error.
 *
 * Messages follow git's guidelines: lowercase start, no trailing period, the
 * subject quoted: "unknown key 'memroy'".
 */
#ifndef CAIRN_ERROR_H
#define CAIRN_ERROR_H

#include <stdarg.h>
#include <stddef.h>

enum cairn_errcode {
	CAIRN_E_OK = 0,
	CAIRN_E_INVALID,     /* the user's input is wrong */
	CAIRN_E_USAGE,       /* wrong command line */
	CAIRN_E_IO,          /* a file or socket failed */
	CAIRN_E_NOTFOUND,    /* the named thing does not exist */
	CAIRN_E_EXISTS,      /* the named thing already exists */
	CAIRN_E_CONFLICT,    /* someone else holds it, or it moved under us */
	CAIRN_E_STATE,       /* the state store failed or is inconsistent */
	CAIRN_E_UNSUPPORTED, /* the operation is not offered by this provider */
	CAIRN_E_RETRYABLE,   /* a transient failure: try again later */
	CAIRN_E_PERMANENT,   /* a failure that retrying will not fix */
	CAIRN_E_INTERNAL,    /* a bug in cairn */
};

/* A position in a source text; line and col are 1-based, 0 when unknown. */
struct cairn_loc {
	const char *file;   /* borrowed; NULL when unknown */
	int line;
	int col;
};

#define CAIRN_LOC_NONE ((struct cairn_loc){ NULL, 0, 0 })

struct cairn_error {
	enum cairn_errcode code;
	char *message;       /* owned; NULL when no error is set */
	char *hint;          /* owned; optional "did you mean 'memory'?" */
	char *context;       /* owned; optional "while ..." line */
	struct cairn_loc loc;
};

#define CAIRN_ERROR_INIT { CAIRN_E_OK, NULL, NULL, NULL, { NULL, 0, 0 } }

/*
 * Set the error and return -1.  Setting an error that is already set keeps the
 * first one (the deepest cause) and drops the new message.  err may be NULL.
 */
int cairn_error_set(struct cairn_error *err, enum cairn_errcode code,
		    const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int cairn_error_set_at(struct cairn_error *err, enum cairn_errcode code,
		       struct cairn_loc loc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
int cairn_error_setv(struct cairn_error *err, enum cairn_errcode code,
		     struct cairn_loc loc, const char *fmt, va_list ap)
	__attribute__((format(printf, 4, 0)));

/* Attach a hint ("did you mean ...?") to a set error.  Replaces an old hint. */
void cairn_error_hint(struct cairn_error *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Add one line of context; only the first (innermost) context is kept. */
void cairn_error_context(struct cairn_error *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Is an error set? */
static inline int cairn_error_isset(const struct cairn_error *err)
{
	return err && err->message != NULL;
}

/* Move src into dst (dst must be empty); src is left empty. */
void cairn_error_move(struct cairn_error *dst, struct cairn_error *src);

/* Free what the error holds and reset it to CAIRN_ERROR_INIT.  NULL is fine. */
void cairn_error_release(struct cairn_error *err);

/* "invalid", "not found", ...: a stable name for --json output. */
const char *cairn_errcode_name(enum cairn_errcode code);

#endif
