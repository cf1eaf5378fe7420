/*
 * xalloc.h - allocation that cannot fail.
 *
 * Out of memory is not a condition cairn tries to recover from: these wrappers
 * print a message and abort, so callers never check for NULL (tmux xmalloc.c).
 * Everything returned is owned by the caller and released with free().
 */
#ifndef CAIRN_UTIL_XALLOC_H
#define CAIRN_UTIL_XALLOC_H

#include <stdarg.h>
#include <stddef.h>

void *xmalloc(size_t size);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *ptr, size_t size);
void *xreallocarray(void *ptr, size_t nmemb, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *xvasprintf(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));

/*
 * Grow array x (of *alloc elements) so that it holds at least nr elements:
 *     ALLOC_GROW(v, n + 1, alloc); v[n++] = item;
 * (git's ALLOC_GROW).
 */
#define ALLOC_GROW(x, nr, alloc)                                            \
	do {                                                                \
		if ((size_t)(nr) > (alloc)) {                               \
			size_t alloc_grow_n_ = ((alloc) + 16) * 3 / 2;      \
			if (alloc_grow_n_ < (size_t)(nr))                   \
				alloc_grow_n_ = (nr);                       \
			(x) = xreallocarray((x), alloc_grow_n_, sizeof(*(x))); \
			(alloc) = alloc_grow_n_;                            \
		}                                                           \
	} while (0)

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#endif
