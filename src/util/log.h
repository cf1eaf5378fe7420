/*
 * log.h - diagnostics for operators, not for users' errors.
 *
 * Each .c names its source once, after its includes:
 *     CAIRN_LOG_INIT("spec.parse");
 * and then logs with cairn_debug(...), cairn_info(...), cairn_warn(...).
 * The level is compared before any argument is formatted.  Lines go to
 * stderr as "cairn: LEVEL: [source] [job] message"; the job id, when a
 * thread has one (cairn_log_set_job), is on every line of that job.
 */
#ifndef CAIRN_UTIL_LOG_H
#define CAIRN_UTIL_LOG_H

enum cairn_log_level {
	CAIRN_LOG_ERROR = 0,
	CAIRN_LOG_WARN,
	CAIRN_LOG_INFO,
	CAIRN_LOG_DEBUG,
};

extern enum cairn_log_level cairn_log_threshold;

void cairn_log_set_level(enum cairn_log_level level);
void cairn_log_set_job(const char *job);   /* per thread; NULL clears */
void cairn_log_write(enum cairn_log_level level, const char *source,
		     const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#define CAIRN_LOG_INIT(name) static const char cairn_log_source_[] = name

#define cairn_log_(lvl, ...)                                                 \
	do {                                                                 \
		if ((lvl) <= cairn_log_threshold)                            \
			cairn_log_write((lvl), cairn_log_source_, __VA_ARGS__); \
	} while (0)

#define cairn_debug(...) cairn_log_(CAIRN_LOG_DEBUG, __VA_ARGS__)
#define cairn_info(...)  cairn_log_(CAIRN_LOG_INFO, __VA_ARGS__)
#define cairn_warn(...)  cairn_log_(CAIRN_LOG_WARN, __VA_ARGS__)
#define cairn_logerr(...) cairn_log_(CAIRN_LOG_ERROR, __VA_ARGS__)

#endif
