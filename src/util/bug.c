#include <stdarg.h>

#include "util/common.h"

_Noreturn void cairn_bug(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "cairn: BUG: %s:%d: ", file, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}
