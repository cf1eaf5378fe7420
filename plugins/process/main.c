/*
 * cairn-provider-process - the reference plugin: each node is a local
 * process (docs/plugins.md, "The process plugin").
 *
 * A node's process is started detached, in a session of its own, with its
 * cairn id, stack, address and provider in its environment.  That
 * environment is the only record the plugin keeps: read, delete and list
 * find processes by scanning /proc/PID/environ, so they find them again
 * after cairn or the plugin died, and a process that exited is simply not
 * there any more.
 *
 * /proc changes under our feet: a process seen a moment ago may be gone
 * (ENOENT, ESRCH) or be a zombie waiting for its reaper; both count as
 * gone.  A pid seen earlier is checked again (same start time) before it is
 * signalled, so a recycled pid is never hit.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sdk/plugin.h"
#include "util/xalloc.h"

#define DEFAULT_STOP_TIMEOUT_MS 10000
#define KILL_WAIT_MS 5000           /* after SIGKILL, before giving up */

extern char **environ;

/* Set once by the handshake, read-only afterwards. */
struct config {
	char *root;                 /* logs and default workdir */
	char *stack;
	char *provider;
};

/* What /proc says about one process carrying a cairn id. */
struct proc {
	pid_t pid;
	pid_t pgrp, session;
	unsigned long long start;   /* clock ticks after boot */
	char *cairn_id, *stack, *address, *provider;
	long long stop_timeout;     /* ms, -1 when not stamped */
};

struct procs {
	struct proc *v;
	size_t n, alloc;
};

/* Which processes a scan keeps: NULL members match anything. */
struct filter {
	const char *cairn_id;
	const char *stack;
	const char *provider;
};

/* Cairn ids with a create or delete in progress, so two calls on one id take turns. */
static pthread_mutex_t busy_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t busy_cond = PTHREAD_COND_INITIALIZER;
static char **busy;
static size_t nbusy, busy_alloc;

static void busy_take(const char *id)
{
	pthread_mutex_lock(&busy_lock);
	for (;;) {
		size_t i;

		for (i = 0; i < nbusy && strcmp(busy[i], id); i++)
			;
		if (i == nbusy)
			break;
		pthread_cond_wait(&busy_cond, &busy_lock);
	}
	if (nbusy == busy_alloc) {
		busy_alloc = busy_alloc ? 2 * busy_alloc : 16;
		busy = xrealloc(busy, busy_alloc * sizeof(*busy));
	}
	busy[nbusy++] = xstrdup(id);
	pthread_mutex_unlock(&busy_lock);
}

static void busy_give(const char *id)
{
	pthread_mutex_lock(&busy_lock);
	for (size_t i = 0; i < nbusy; i++)
		if (!strcmp(busy[i], id)) {
			free(busy[i]);
			busy[i] = busy[--nbusy];
			break;
		}
	pthread_cond_broadcast(&busy_cond);
	pthread_mutex_unlock(&busy_lock);
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- /proc --------------------------------------------------------------- */

/* Read a whole /proc file; NULL when it cannot be read (the process is gone). */
static char *read_proc_file(int dirfd, const char *path, size_t *len)
{
	size_t cap = 4096, n = 0;
	char *buf;
	int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return NULL;
	buf = xmalloc(cap + 1);
	for (;;) {
		ssize_t r = read(fd, buf + n, cap - n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			free(buf);
			close(fd);
			return NULL;
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (n == cap) {
			cap *= 2;
			buf = xrealloc(buf, cap + 1);
		}
	}
	close(fd);
	buf[n] = '\0';
	*len = n;
	return buf;
}

/* What /proc/PID/stat says that we use. */
struct stat_info {
	char state;
	pid_t pgrp, session;
	unsigned long flags;
	unsigned long long start;       /* clock ticks after boot */
	unsigned long long env_start;   /* 0: no environment mapped (yet) */
	unsigned long long env_end;
};

#define PF_KTHREAD 0x00200000       /* include/linux/sched.h */

/*
 * Parse /proc/PID/stat.  Returns -1 when the process is gone.  The command
 * name is in parentheses and may hold anything, so the fields are counted
 * from the last ')'.
 */
static int read_stat_info(pid_t pid, struct stat_info *si)
{
	char path[64], *buf, *p, *end;
	unsigned long long v[52] = { 0 };
	size_t len;
	int n = 3;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	buf = read_proc_file(AT_FDCWD, path, &len);
	if (!buf)
		return -1;
	p = strrchr(buf, ')');
	if (!p || !p[1] || !p[2]) {
		free(buf);
		return -1;
	}
	si->state = p[2];
	/* Fields 4 (ppid) on, numbered as in proc(5); negative ones do not matter here. */
	for (p += 3; n < 52 && *p; p = end) {
		long long x = strtoll(p, &end, 10);

		if (end == p)
			break;
		v[n++] = (unsigned long long)x;
	}
	si->pgrp = (pid_t)v[4];
	si->session = (pid_t)v[5];
	si->flags = (unsigned long)v[8];
	si->start = v[21];
	si->env_start = v[49];
	si->env_end = v[50];
	free(buf);
	return 0;
}

/* The fields we need of a live process: -1 when it is gone or a zombie. */
static int read_stat(pid_t pid, pid_t *pgrp, pid_t *session, unsigned long long *start)
{
	struct stat_info si;

	if (read_stat_info(pid, &si) || si.state == 'Z' || si.state == 'X')
		return -1;
	*pgrp = si.pgrp;
	*session = si.session;
	*start = si.start;
	return 0;
}

/*
 * The environment of a process, NUL-separated; NULL when it has none we can
 * read.  An execve() makes it look empty for a moment: a read racing the
 * switch to the new program's memory gets nothing, and so does one before
 * the new stack is filled in (env_start still 0, or env_end not yet past
 * it).  So an empty answer is asked again, briefly, and a node exec'ing
 * (sh's `exec sleep 60`) is not taken for gone.  A process whose
 * environment really is empty costs a few milliseconds.
 */
static char *read_environ(int dirfd, const char *name, pid_t pid, size_t *len)
{
	char path[64];
	int settled = 0;

	snprintf(path, sizeof(path), "%s/environ", name);
	for (int tries = 0; tries < 500 && settled < 3; tries++) {
		struct stat_info si;
		char *env = read_proc_file(dirfd, path, len);

		if (!env || *len)
			return env;
		free(env);
		if (read_stat_info(pid, &si) || si.state == 'Z' || si.state == 'X' ||
		    (si.flags & PF_KTHREAD))
			return NULL;
		if (si.env_start && si.env_end > si.env_start)
			continue;       /* there is one now: read it again */
		if (si.env_start)
			settled++;      /* empty, or being filled in */
		sleep_ms(1);
	}
	return NULL;
}

/* The value of NAME in a NUL-separated environment block, or NULL. */
static const char *env_get(const char *env, size_t len, const char *name)
{
	size_t nl = strlen(name);

	for (const char *p = env; p < env + len; p += strlen(p) + 1)
		if (!strncmp(p, name, nl) && p[nl] == '=')
			return p + nl + 1;
	return NULL;
}

static bool match(const char *want, const char *have)
{
	return !want || (have && !strcmp(want, have));
}

static void proc_release(struct proc *p)
{
	free(p->cairn_id);
	free(p->stack);
	free(p->address);
	free(p->provider);
}

static void procs_release(struct procs *ps)
{
	for (size_t i = 0; i < ps->n; i++)
		proc_release(&ps->v[i]);
	free(ps->v);
	*ps = (struct procs){ 0 };
}

/*
 * Look at one process: 1 when it is ours, alive and passes f (*out filled),
 * 0 otherwise.  dirfd is /proc, name the pid's entry.
 */
static int inspect(int dirfd, const char *name, pid_t pid, const struct filter *f, struct proc *out)
{
	struct stat st;
	char *env;
	size_t len;
	const char *id, *stack, *provider, *timeout;
	int r = 0;

	if (fstatat(dirfd, name, &st, 0) || st.st_uid != geteuid())
		return 0;
	env = read_environ(dirfd, name, pid, &len);
	if (!env)
		return 0;
	id = env_get(env, len, "CAIRN_ID");
	stack = env_get(env, len, "CAIRN_STACK");
	provider = env_get(env, len, "CAIRN_PROVIDER");
	if (id && *id && match(f->cairn_id, id) && match(f->stack, stack) &&
	    (!f->provider || !provider || !strcmp(f->provider, provider)) &&
	    !read_stat(pid, &out->pgrp, &out->session, &out->start)) {
		const char *addr = env_get(env, len, "CAIRN_ADDRESS");

		out->pid = pid;
		out->cairn_id = xstrdup(id);
		out->stack = xstrdup(stack ? stack : "");
		out->address = xstrdup(addr ? addr : "");
		out->provider = xstrdup(provider ? provider : "");
		timeout = env_get(env, len, "CAIRN_STOP_TIMEOUT");
		out->stop_timeout = timeout ? strtoll(timeout, NULL, 10) : -1;
		r = 1;
	}
	free(env);
	return r;
}

/* Every live process of ours passing f (the plugin itself excluded). */
static int scan(const struct filter *f, struct procs *out, struct cairn_sdk_error *err)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	pid_t self = getpid();

	*out = (struct procs){ 0 };
	if (!d)
		return cairn_sdk_error(err, CAIRN_SDK_RETRYABLE, "cannot read /proc: %s", strerror(errno));
	while ((de = readdir(d))) {
		char *end;
		long pid = strtol(de->d_name, &end, 10);
		struct proc p = { 0 };

		if (*end || pid <= 0 || pid == self)
			continue;
		if (!inspect(dirfd(d), de->d_name, (pid_t)pid, f, &p))
			continue;
		if (out->n == out->alloc) {
			out->alloc = out->alloc ? 2 * out->alloc : 16;
			out->v = xrealloc(out->v, out->alloc * sizeof(*out->v));
		}
		out->v[out->n++] = p;
	}
	closedir(d);
	return 0;
}

/* Is p still the process we saw (alive, not a zombie, same start time)? */
static bool still_there(const struct proc *p)
{
	pid_t g, s;
	unsigned long long start;

	return !read_stat(p->pid, &g, &s, &start) && start == p->start;
}

/* The process that stands for a node: its session leader, else the oldest. */
static const struct proc *leader(const struct procs *ps, const char *cairn_id)
{
	const struct proc *best = NULL;

	for (size_t i = 0; i < ps->n; i++) {
		const struct proc *p = &ps->v[i];
		bool lead = p->pid == p->session;

		if (strcmp(p->cairn_id, cairn_id))
			continue;
		if (!best || (lead && best->pid != best->session) ||
		    (lead == (best->pid == best->session) && p->start < best->start))
			best = p;
	}
	return best;
}


/* ---- observed ------------------------------------------------------------ */

static long long btime;         /* boot time, seconds since the epoch */
static long clock_hz;

static void read_boot_time(void)
{
	size_t len;
	char *s = read_proc_file(AT_FDCWD, "/proc/stat", &len);
	char *p = s ? strstr(s, "\nbtime ") : NULL;

	btime = p ? strtoll(p + 7, NULL, 10) : 0;
	free(s);
	clock_hz = sysconf(_SC_CLK_TCK);
	if (clock_hz <= 0)
		clock_hz = 100;
}

static json_t *iso_time(time_t t)
{
	struct tm tm;
	char buf[32];

	gmtime_r(&t, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
	return json_string(buf);
}

/* A name made safe as one path component. */
static char *path_part(const char *s)
{
	char *r = xasprintf("%s%s", s[0] == '.' || !s[0] ? "_" : "", s);

	for (char *c = r; *c; c++)
		if (*c == '/')
			*c = '_';
	return r;
}

/* ROOT/STACK/ADDRESS.log */
static char *log_path(const struct config *cfg, const char *stack, const char *address)
{
	char *st = path_part(stack), *addr = path_part(address);
	char *path = xasprintf("%s/%s/%s.log", cfg->root ? cfg->root : ".", st, addr);

	free(st);
	free(addr);
	return path;
}

static json_t *observed_of(const struct config *cfg, const struct proc *p)
{
	char id[24], *log = log_path(cfg, p->stack, p->address);
	time_t started = (time_t)(btime + (long long)(p->start / (unsigned long long)clock_hz));
	json_t *o;

	snprintf(id, sizeof(id), "%d", (int)p->pid);
	/* ip: a process's services are on this machine's loopback, which is
	 * where health checks (tcp, http, ping) find them */
	o = json_pack("{ss si ss ss so sI ss}", "id", id, "pid", (int)p->pid, "state", "running",
		      "ip", "127.0.0.1",
		      "started_at", iso_time(started),
		      "stop_timeout", (json_int_t)(p->stop_timeout >= 0 ? p->stop_timeout
								    : DEFAULT_STOP_TIMEOUT_MS),
		      "log", log);
	free(log);
	return o;
}

/*
 * Find the node with this cairn id: 1 and *observed when a process of ours
 * carries it, 0 when none does.  hint is a pid the node had (0 for none):
 * when it is still the node's session leader no scan is needed.
 */
static int find(const struct config *cfg, const char *cairn_id, pid_t hint, json_t **observed,
		struct cairn_sdk_error *err)
{
	struct filter f = { .cairn_id = cairn_id };
	struct procs ps;
	const struct proc *p;
	int found = 0;

	if (hint > 0) {
		char name[24];
		struct proc one = { 0 };
		int fd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		snprintf(name, sizeof(name), "%d", (int)hint);
		if (fd >= 0 && inspect(fd, name, hint, &f, &one) && one.pid == one.session)
			found = 1;
		if (fd >= 0)
			close(fd);
		if (found)
			*observed = observed_of(cfg, &one);
		proc_release(&one);
		if (found)
			return 1;
	}
	if (scan(&f, &ps, err))
		return -1;
	p = leader(&ps, cairn_id);
	if (p)
		*observed = observed_of(cfg, p);
	found = p != NULL;
	procs_release(&ps);
	return found;
}

/* ---- starting a process -------------------------------------------------- */

static bool env_named(const char *entry, const char *name)
{
	size_t n = strlen(name);

	return !strncmp(entry, name, n) && entry[n] == '=';
}

static void strv_free(char **v)
{
	for (char **p = v; p && *p; p++)
		free(*p);
	free(v);
}

/*
 * The node's environment: ours, then its env map, then the stamps, later
 * ones replacing earlier ones of the same name.  NULL with err set when the
 * env map is not NAME: string.
 */
static char **build_env(const json_t *env, const char *stamps[][2], struct cairn_sdk_error *err)
{
	size_t n = 0, k = 0;
	char **v;
	const char *key;
	json_t *val;

	if (env && !json_is_null(env) && !json_is_object(env)) {
		cairn_sdk_error(err, CAIRN_SDK_INVALID, "'env' must be an object of NAME: value");
		return NULL;
	}
	json_object_foreach((json_t *)env, key, val) {
		if (!*key || strchr(key, '=')) {
			cairn_sdk_error(err, CAIRN_SDK_INVALID, "invalid environment variable name '%s'", key);
			return NULL;
		}
		if (!json_is_string(val) && !json_is_number(val) && !json_is_boolean(val)) {
			cairn_sdk_error(err, CAIRN_SDK_INVALID, "the value of env '%s' must be a string", key);
			return NULL;
		}
	}
	for (char **e = environ; *e; e++)
		n++;
	v = xmalloc((n + json_object_size(env) + 8) * sizeof(*v));
	for (char **e = environ; *e; e++) {
		bool drop = false;

		for (size_t i = 0; stamps[i][0]; i++)
			drop = drop || env_named(*e, stamps[i][0]);
		json_object_foreach((json_t *)env, key, val)
			drop = drop || env_named(*e, key);
		if (!drop)
			v[k++] = xstrdup(*e);
	}
	json_object_foreach((json_t *)env, key, val) {
		bool stamp = false;

		for (size_t i = 0; stamps[i][0]; i++)
			stamp = stamp || !strcmp(key, stamps[i][0]);
		if (stamp)
			continue;
		if (json_is_string(val))
			v[k++] = xasprintf("%s=%s", key, json_string_value(val));
		else if (json_is_integer(val))
			v[k++] = xasprintf("%s=%" JSON_INTEGER_FORMAT, key, json_integer_value(val));
		else if (json_is_real(val))
			v[k++] = xasprintf("%s=%.17g", key, json_real_value(val));
		else
			v[k++] = xasprintf("%s=%s", key, json_is_true(val) ? "true" : "false");
	}
	for (size_t i = 0; stamps[i][0]; i++)
		v[k++] = xasprintf("%s=%s", stamps[i][0], stamps[i][1]);
	v[k] = NULL;
	return v;
}

static int mkdirs(const char *path)
{
	char *p = xstrdup(path);
	int r = 0;

	for (char *c = p + 1; ; c++) {
		if (*c == '/' || !*c) {
			char was = *c;

			*c = '\0';
			if (mkdir(p, 0700) && errno != EEXIST) {
				r = -1;
				break;
			}
			*c = was;
			if (!was)
				break;
		}
	}
	free(p);
	return r;
}

static bool transient(int e)
{
	return e == EAGAIN || e == ENOMEM || e == ENOSPC || e == EDQUOT || e == EMFILE ||
	       e == ENFILE || e == EINTR || e == EBUSY;
}

/* What the children tell the plugin through the pipe. */
enum { R_PID, R_FORK, R_SETSID, R_CHDIR, R_DUP, R_EXEC };
struct report {
	int what;
	int err;
	pid_t pid;
};

static void report(int fd, int what, int e, pid_t pid)
{
	struct report r = { what, e, pid };
	ssize_t w;

	do
		w = write(fd, &r, sizeof(r));
	while (w < 0 && errno == EINTR);
}

/*
 * The grandchild, after fork(): only async-signal-safe calls from here to
 * execve, since the plugin has other threads.
 */
static void grandchild(int rep, int null_fd, int log_fd, const char *workdir, char *const argv[],
		       char *const envp[])
{
	struct sigaction dfl = { .sa_handler = SIG_DFL };
	sigset_t none;

	if (setsid() < 0) {
		report(rep, R_SETSID, errno, 0);
		_exit(127);
	}
	for (int sig = 1; sig < NSIG; sig++)
		sigaction(sig, &dfl, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (chdir(workdir)) {
		report(rep, R_CHDIR, errno, 0);
		_exit(127);
	}
	if (dup2(null_fd, 0) < 0 || dup2(log_fd, 1) < 0 || dup2(log_fd, 2) < 0) {
		report(rep, R_DUP, errno, 0);
		_exit(127);
	}
	/* Nothing of the plugin's (cairn's pipes above all) goes past exec. */
	if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC))
		for (int fd = 3; fd < 1024; fd++)
			fcntl(fd, F_SETFD, FD_CLOEXEC);
	execve(argv[0], argv, envp);
	report(rep, R_EXEC, errno, 0);
	_exit(127);
}

/* Start the node detached; *pid is its pid.  Everything is prepared before fork. */
static int spawn(const char *command, const char *workdir, const char *log, char *const envp[],
		 pid_t *pid, struct cairn_sdk_error *err)
{
	char *argv[] = { "/bin/sh", "-c", (char *)command, NULL };
	int null_fd = -1, log_fd = -1, pfd[2] = { -1, -1 };
	struct report r;
	pid_t child;
	int status = CAIRN_SDK_ERROR, e;

	null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	log_fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY, 0600);
	if (null_fd < 0 || log_fd < 0) {
		e = errno;
		cairn_sdk_error(err, transient(e) ? CAIRN_SDK_RETRYABLE : CAIRN_SDK_PERMANENT,
				"cannot open '%s': %s", null_fd < 0 ? "/dev/null" : log, strerror(e));
		goto out;
	}
	if (pipe2(pfd, O_CLOEXEC)) {
		cairn_sdk_error(err, CAIRN_SDK_RETRYABLE, "cannot make a pipe: %s", strerror(errno));
		goto out;
	}
	child = fork();
	if (child < 0) {
		e = errno;
		cairn_sdk_error(err, transient(e) ? CAIRN_SDK_RETRYABLE : CAIRN_SDK_PERMANENT,
				"cannot fork: %s", strerror(e));
		goto out;
	}
	if (child == 0) {
		pid_t g = fork();

		if (g == 0)
			grandchild(pfd[1], null_fd, log_fd, workdir, argv, envp);
		report(pfd[1], g < 0 ? R_FORK : R_PID, g < 0 ? errno : 0, g);
		_exit(0);
	}
	close(pfd[1]);
	pfd[1] = -1;
	*pid = 0;
	status = CAIRN_SDK_OK;
	for (;;) {
		ssize_t n = read(pfd[0], &r, sizeof(r));

		if (n < 0 && errno == EINTR)
			continue;
		if (n != (ssize_t)sizeof(r))
			break;
		if (r.what == R_PID) {
			*pid = r.pid;
			continue;
		}
		switch (r.what) {
		case R_CHDIR:
			cairn_sdk_error(err, CAIRN_SDK_PERMANENT, "cannot enter workdir '%s': %s", workdir,
					strerror(r.err));
			break;
		case R_EXEC:
			cairn_sdk_error(err, CAIRN_SDK_PERMANENT, "cannot run /bin/sh: %s", strerror(r.err));
			break;
		default:
			cairn_sdk_error(err, transient(r.err) ? CAIRN_SDK_RETRYABLE : CAIRN_SDK_PERMANENT,
					"cannot start the process: %s", strerror(r.err));
		}
		status = CAIRN_SDK_ERROR;
	}
	while (waitpid(child, NULL, 0) < 0 && errno == EINTR)
		;
	if (status == CAIRN_SDK_OK && *pid <= 0)
		status = cairn_sdk_error(err, CAIRN_SDK_RETRYABLE, "cannot start the process: no pid came back");
out:
	if (null_fd >= 0)
		close(null_fd);
	if (log_fd >= 0)
		close(log_fd);
	if (pfd[0] >= 0)
		close(pfd[0]);
	if (pfd[1] >= 0)
		close(pfd[1]);
	return status;
}

/* ---- methods ------------------------------------------------------------- */

static bool valid_id(const char *s)
{
	if (!s || !*s || strlen(s) > 128)
		return false;
	for (; *s; s++)
		if (!(*s >= 'a' && *s <= 'z') && !(*s >= 'A' && *s <= 'Z') && !(*s >= '0' && *s <= '9') &&
		    *s != '-' && *s != '_' && *s != '.')
			return false;
	return true;
}

/* The cairn_id and address every call about a node carries. */
static int node_params(const json_t *params, const char **id, const char **address,
		       struct cairn_sdk_error *err)
{
	const char *kind = cairn_sdk_str(params, "kind");

	*id = cairn_sdk_str(params, "cairn_id");
	*address = cairn_sdk_str(params, "address");
	if (!valid_id(*id))
		return cairn_sdk_error(err, CAIRN_SDK_INVALID,
				       "'cairn_id' must be a string of letters, digits, '-', '_' and '.'");
	if (!*address || !**address)
		return cairn_sdk_error(err, CAIRN_SDK_INVALID, "'address' must be a non-empty string");
	if (kind && strcmp(kind, "node"))
		return cairn_sdk_error(err, CAIRN_SDK_INVALID, "kind '%s' is not served: processes are nodes",
				       kind);
	return 0;
}

static long long ms_value(const json_t *v, long long dflt)
{
	if (json_is_integer(v) && json_integer_value(v) >= 0)
		return json_integer_value(v);
	return dflt;
}

static int do_create(void *data, const struct cairn_sdk_call *call, json_t **result,
		     struct cairn_sdk_error *err)
{
	const struct config *cfg = data;
	const json_t *desired = json_object_get(call->params, "desired");
	const char *id, *address, *command, *workdir;
	const char *stack = cairn_sdk_str(call->params, "stack");
	char *dir = NULL, *log = NULL, **envp = NULL, timeout[24];
	json_t *observed = NULL;
	pid_t pid;
	int status, found;

	if (node_params(call->params, &id, &address, err))
		return CAIRN_SDK_ERROR;
	if (!stack)
		stack = cfg->stack;
	command = cairn_sdk_str(desired, "command");
	workdir = cairn_sdk_str(desired, "workdir");
	if (!command || !*command)
		return cairn_sdk_error(err, CAIRN_SDK_INVALID, "'command' must be a non-empty string");
	if (!stack || !*stack)
		return cairn_sdk_error(err, CAIRN_SDK_INVALID, "no stack: the handshake named none");
	if (!cfg->root)
		return cairn_sdk_error(err, CAIRN_SDK_PERMANENT,
				       "no directory for logs: set the provider's 'root' or pass 'state_dir' in the handshake");
	snprintf(timeout, sizeof(timeout), "%lld",
		 ms_value(json_object_get(desired, "stop_timeout"), DEFAULT_STOP_TIMEOUT_MS));
	{
		const char *stamps[][2] = {
			{ "CAIRN_ID", id }, { "CAIRN_STACK", stack }, { "CAIRN_ADDRESS", address },
			{ "CAIRN_PROVIDER", cfg->provider ? cfg->provider : "" },
			{ "CAIRN_STOP_TIMEOUT", timeout }, { NULL, NULL },
		};

		envp = build_env(json_object_get(desired, "env"), stamps, err);
	}
	if (!envp)
		return CAIRN_SDK_ERROR;

	busy_take(id);
	found = find(cfg, id, 0, &observed, err);
	if (found) {
		status = found < 0 ? CAIRN_SDK_ERROR : CAIRN_SDK_OK;
		goto out;
	}
	{
		char *st = path_part(stack);

		dir = xasprintf("%s/%s", cfg->root, st);
		free(st);
	}
	if (mkdirs(dir)) {
		int e = errno;

		status = cairn_sdk_error(err, transient(e) ? CAIRN_SDK_RETRYABLE : CAIRN_SDK_PERMANENT,
					 "cannot create '%s': %s", dir, strerror(e));
		goto out;
	}
	log = log_path(cfg, stack, address);
	status = spawn(command, workdir ? workdir : cfg->root, log, envp, &pid, err);
	if (status == CAIRN_SDK_OK) {
		struct proc p = { .pid = pid, .stop_timeout = strtoll(timeout, NULL, 10),
				  .cairn_id = (char *)id, .stack = (char *)stack,
				  .address = (char *)address };

		if (read_stat(pid, &p.pgrp, &p.session, &p.start)) {
			/* Gone already: a command that exits at once. */
			observed = observed_of(cfg, &p);
			json_object_set_new(observed, "state", json_string("exited"));
			json_object_set_new(observed, "started_at", iso_time(time(NULL)));
		} else {
			observed = observed_of(cfg, &p);
		}
	}
out:
	busy_give(id);
	strv_free(envp);
	free(dir);
	free(log);
	if (status == CAIRN_SDK_OK)
		*result = json_pack("{so}", "observed", observed);
	return status;
}

static int do_read(void *data, const struct cairn_sdk_call *call, json_t **result,
		   struct cairn_sdk_error *err)
{
	const json_t *last = json_object_get(call->params, "observed");
	const char *id, *address;
	json_t *observed = NULL;
	int found;

	if (node_params(call->params, &id, &address, err))
		return CAIRN_SDK_ERROR;
	found = find(data, id, (pid_t)ms_value(json_object_get(last, "pid"), 0), &observed, err);
	if (found < 0)
		return CAIRN_SDK_ERROR;
	if (!found)
		return cairn_sdk_error(err, CAIRN_SDK_NOTFOUND, "no process of ours carries cairn id '%s'",
				       id);
	*result = json_pack("{so}", "observed", observed);
	return CAIRN_SDK_OK;
}

static void signal_all(const struct procs *ps, int sig)
{
	for (size_t i = 0; i < ps->n; i++) {
		const struct proc *p = &ps->v[i];

		if (!still_there(p))
			continue;
		/* setsid() made the node its group's leader: the group is the node. */
		if (p->pid == p->pgrp)
			kill(-p->pid, sig);
		kill(p->pid, sig);
	}
}

/* Wait until none of ps is left, at most ms; true when none is. */
static bool wait_gone(const struct procs *ps, long long ms)
{
	long long until = now_ms() + ms;
	long step = 5;

	for (;;) {
		bool left = false;

		for (size_t i = 0; i < ps->n && !left; i++)
			left = still_there(&ps->v[i]);
		if (!left)
			return true;
		if (now_ms() >= until)
			return false;
		sleep_ms(step);
		if (step < 50)
			step *= 2;
	}
}

static int do_delete(void *data, const struct cairn_sdk_call *call, json_t **result,
		     struct cairn_sdk_error *err)
{
	const json_t *last = json_object_get(call->params, "observed");
	struct filter f;
	struct procs ps;
	const char *id, *address;
	long long timeout;
	int status = CAIRN_SDK_OK;

	(void)data;
	if (node_params(call->params, &id, &address, err))
		return CAIRN_SDK_ERROR;
	f = (struct filter){ .cairn_id = id };
	busy_take(id);
	if (scan(&f, &ps, err)) {
		busy_give(id);
		return CAIRN_SDK_ERROR;
	}
	timeout = ms_value(json_object_get(last, "stop_timeout"), -1);
	for (size_t i = 0; i < ps.n && timeout < 0; i++)
		timeout = ps.v[i].stop_timeout;
	if (timeout < 0)
		timeout = DEFAULT_STOP_TIMEOUT_MS;

	signal_all(&ps, SIGTERM);
	/* Then SIGKILL, and again for any straggler a last scan finds. */
	for (int round = 0; ps.n && round < 3; round++) {
		if (!wait_gone(&ps, round ? KILL_WAIT_MS : timeout)) {
			signal_all(&ps, SIGKILL);
			if (!wait_gone(&ps, KILL_WAIT_MS)) {
				status = cairn_sdk_error(err, CAIRN_SDK_RETRYABLE,
							 "a process of '%s' did not exit after SIGKILL",
							 address);
				break;
			}
		}
		procs_release(&ps);
		if (scan(&f, &ps, err)) {
			status = CAIRN_SDK_ERROR;
			break;
		}
		signal_all(&ps, SIGKILL);
	}
	if (status == CAIRN_SDK_OK && ps.n)
		status = cairn_sdk_error(err, CAIRN_SDK_RETRYABLE, "processes of '%s' keep appearing",
					 address);
	procs_release(&ps);
	busy_give(id);
	if (status == CAIRN_SDK_OK)
		*result = json_object();
	return status;
}

static int by_id(const void *a, const void *b)
{
	return strcmp(((const struct proc *)a)->cairn_id, ((const struct proc *)b)->cairn_id);
}

static int do_list(void *data, const struct cairn_sdk_call *call, json_t **result,
		   struct cairn_sdk_error *err)
{
	const struct config *cfg = data;
	const char *stack = cairn_sdk_str(call->params, "stack");
	struct filter f = { .stack = stack, .provider = cfg->provider };
	struct procs ps;
	json_t *objects;

	if (!stack || !*stack)
		return cairn_sdk_error(err, CAIRN_SDK_INVALID, "'stack' must be a non-empty string");
	if (scan(&f, &ps, err))
		return CAIRN_SDK_ERROR;
	if (ps.n)
		qsort(ps.v, ps.n, sizeof(*ps.v), by_id);
	objects = json_array();
	for (size_t i = 0, j; i < ps.n; i = j) {
		struct procs group;
		const struct proc *p;

		for (j = i + 1; j < ps.n && !strcmp(ps.v[i].cairn_id, ps.v[j].cairn_id); j++)
			;
		group = (struct procs){ ps.v + i, j - i, j - i };
		p = leader(&group, ps.v[i].cairn_id);
		json_array_append_new(objects, json_pack("{ss ss ss so}", "cairn_id", p->cairn_id,
							 "address", p->address, "kind", "node",
							 "observed", observed_of(cfg, p)));
	}
	procs_release(&ps);
	*result = json_pack("{so}", "objects", objects);
	return CAIRN_SDK_OK;
}

static int do_handshake(void *data, const struct cairn_sdk_call *call, json_t **result,
			struct cairn_sdk_error *err)
{
	struct config *cfg = data;
	const json_t *config = json_object_get(call->params, "config");
	const char *root = cairn_sdk_str(config, "root");
	const char *stack = cairn_sdk_str(call->params, "stack");
	const char *provider = cairn_sdk_str(call->params, "provider");

	(void)result;
	if (!root)
		root = cairn_sdk_str(call->params, "state_dir");
	if (root && !*root)
		return cairn_sdk_error(err, CAIRN_SDK_INVALID, "'root' must not be empty");
	if (root && root[0] != '/') {
		/* Relative to cairn's working directory, which is ours: pin it down. */
		char *cwd = getcwd(NULL, 0);

		cfg->root = cwd ? xasprintf("%s/%s", cwd, root) : xstrdup(root);
		free(cwd);
	} else {
		cfg->root = root ? xstrdup(root) : NULL;
	}
	cfg->stack = stack ? xstrdup(stack) : NULL;
	cfg->provider = provider ? xstrdup(provider) : NULL;
	read_boot_time();
	return CAIRN_SDK_OK;
}

static const struct cairn_sdk_plugin plugin = {
	.name = "cairn-provider-process",
	.version = CAIRN_VERSION,
	.types = (const char *const[]){ "process", NULL },
	.kinds = (const char *const[]){ "node", NULL },
	.handshake = do_handshake,
	.create = do_create,
	.read = do_read,
	/* No update: command forces a new process, and env, workdir and restart
	 * cannot be changed in a running one, so cairn replaces it. */
	.delete = do_delete,
	.list = do_list,
};

/* Reachable until exit: a call still running when cairn_sdk_run() returns may use it. */
static struct config config;

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "--version")) {
		printf("%s %s (plugin protocol %d)\n", plugin.name, plugin.version, CAIRN_SDK_PROTOCOL);
		return 0;
	}
	if (argc > 1) {
		fprintf(stderr, "usage: %s [--version]\n(cairn starts it and talks to it on stdin and stdout)\n",
			argv[0]);
		return 2;
	}
	return cairn_sdk_run(&plugin, &config);
}
