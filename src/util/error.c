#include <stdio.h>
#include <stdlib.h>

#include "cairn/error.h"
#include "util/xalloc.h"

int cairn_error_setv(struct cairn_error *err, enum cairn_errcode code,
		     struct cairn_loc loc, const char *fmt, va_list ap)
{
	if (!err || err->message)
		return -1;
	err->code = code;
	err->message = xvasprintf(fmt, ap);
	err->loc = loc;
	return -1;
}

int cairn_error_set(struct cairn_error *err, enum cairn_errcode code,
		    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	cairn_error_setv(err, code, CAIRN_LOC_NONE, fmt, ap);
	va_end(ap);
	return -1;
}

int cairn_error_set_at(struct cairn_error *err, enum cairn_errcode code,
		       struct cairn_loc loc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	cairn_error_setv(err, code, loc, fmt, ap);
	va_end(ap);
	return -1;
}

void cairn_error_hint(struct cairn_error *err, const char *fmt, ...)
{
	va_list ap;

	if (!err || !err->message)
		return;
	free(err->hint);
	va_start(ap, fmt);
	err->hint = xvasprintf(fmt, ap);
	va_end(ap);
}

void cairn_error_context(struct cairn_error *err, const char *fmt, ...)
{
	va_list ap;

	if (!err || !err->message || err->context)
		return;
	va_start(ap, fmt);
	err->context = xvasprintf(fmt, ap);
	va_end(ap);
}

void cairn_error_move(struct cairn_error *dst, struct cairn_error *src)
{
	cairn_error_release(dst);
	*dst = *src;
	*src = (struct cairn_error)CAIRN_ERROR_INIT;
}

void cairn_error_release(struct cairn_error *err)
{
	if (!err)
		return;
	free(err->message);
	free(err->hint);
	free(err->context);
	*err = (struct cairn_error)CAIRN_ERROR_INIT;
}

const char *cairn_errcode_name(enum cairn_errcode code)
{
	static const char *const names[] = {
		[CAIRN_E_OK] = "ok",
		[CAIRN_E_INVALID] = "invalid",
		[CAIRN_E_USAGE] = "usage",
		[CAIRN_E_IO] = "io",
		[CAIRN_E_NOTFOUND] = "not-found",
		[CAIRN_E_EXISTS] = "exists",
		[CAIRN_E_CONFLICT] = "conflict",
		[CAIRN_E_STATE] = "state",
		[CAIRN_E_UNSUPPORTED] = "unsupported",
		[CAIRN_E_RETRYABLE] = "retryable",
		[CAIRN_E_PERMANENT] = "permanent",
		[CAIRN_E_INTERNAL] = "internal",
	};
	if ((size_t)code < sizeof(names) / sizeof(names[0]) && names[code])
		return names[code];
	return "unknown";
}
