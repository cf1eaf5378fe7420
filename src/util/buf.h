/*
 * buf.h - the growable byte buffer (git's strbuf, curl's dynbuf).
 *
 * Invariants: b->s is never NULL and always NUL-terminated, also when empty
 * (it then points at a shared static ""); b->len excludes the NUL.  A buffer
 * may have a ceiling (b->max, 0 = none): an append that would pass it fails
 * with -1 and leaves the buffer as it was, which is how untrusted input is
 * kept from growing without bound.
 *
 * Ownership: the buffer owns b->s until cairn_buf_detach() hands it to the
 * caller; cairn_buf_release() frees it and re-initialises the buffer.
 */
#ifndef CAIRN_UTIL_BUF_H
#define CAIRN_UTIL_BUF_H

#include <stdarg.h>
#include <stddef.h>

#include "cairn/error.h"

struct cairn_buf {
	char *s;
	size_t len;
	size_t alloc;   /* 0 while s points at the shared "" */
	size_t max;     /* ceiling on len, 0 for none */
};

extern char cairn_buf_empty[];
#define CAIRN_BUF_INIT { cairn_buf_empty, 0, 0, 0 }

void cairn_buf_init(struct cairn_buf *b, size_t max);
void cairn_buf_release(struct cairn_buf *b);
char *cairn_buf_detach(struct cairn_buf *b, size_t *len);
void cairn_buf_reset(struct cairn_buf *b);
void cairn_buf_truncate(struct cairn_buf *b, size_t len);

/* Appends return 0, or -1 when the ceiling would be passed. */
int cairn_buf_add(struct cairn_buf *b, const void *data, size_t n);
int cairn_buf_addstr(struct cairn_buf *b, const char *s);
int cairn_buf_addch(struct cairn_buf *b, int c);
int cairn_buf_addf(struct cairn_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int cairn_buf_vaddf(struct cairn_buf *b, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

/* Append s as one word for sh: in single quotes, a ' as '\''. */
int cairn_buf_add_sh_quoted(struct cairn_buf *b, const char *s);

/*
 * Read a whole file (path "-" is standard input) into b, refusing more than
 * max bytes.  On failure sets err with a one-line message naming the file.
 */
int cairn_buf_read_file(struct cairn_buf *b, const char *path, size_t max,
			struct cairn_error *err);

#endif
