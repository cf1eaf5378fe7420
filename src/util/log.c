#include <stdarg.h>
#include <stdio.h>

#include "util/log.h"

enum cairn_log_level cairn_log_threshold = CAIRN_LOG_WARN;
static _Thread_local const char *log_job;

void cairn_log_set_level(enum cairn_log_level level)
{
	cairn_log_threshold = level;
}

void cairn_log_set_job(const char *job)
{
	log_job = job;
}

void cairn_log_write(enum cairn_log_level level, const char *source,
		     const char *fmt, ...)
{
	static const char *const names[] = { "error", "warning", "info", "debug" };
	va_list ap;

	flockfile(stderr);
	fprintf(stderr, "cairn: %s: [%s] ", names[level], source);
	if (log_job)
		fprintf(stderr, "[%s] ", log_job);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	funlockfile(stderr);
}
