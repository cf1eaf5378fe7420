/*
 * exec.c - the "exec" driver: external provider plugins, spoken to with the
 * JSON-lines protocol of docs/plugin-protocol.md.
 *
 * An open instance (struct exec) owns at most one live plugin process
 * (struct proc) at a time.  Callers from any thread register a pending call
 * on that process, write their request line and sleep on the call's condition
 * variable; one reader thread per process reads the plugin's stdout and
 * stderr, matches each answer to its call by id and wakes the caller.  The
 * reader thread is also the only one that signals and reaps the process, so
 * a pid is never signalled after it was reaped.
 *
 * Whatever goes wrong with a process (a call timed out, garbage on stdout,
 * the plugin died) makes it "broken": its pending calls fail, it is stopped,
 * and the next call starts a new one.  Broken processes wait on a "retired"
 * list until their reader thread has finished, and are joined and freed when
 * the next process starts or when the instance closes.
 *
 * Locks, outermost first: exec.start_lock (which process is current; held
 * while a new one shakes hands), proc.write_lock (keeps request lines whole),
 * proc.lock (the pending calls and the stop state).
 */
#include "util/common.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <stdatomic.h>
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cairn/schema.h"
#include "providers/provider.h"
#include "util/clock.h"
#include "util/jsonutil.h"
#include "util/thread.h"

CAIRN_LOG_INIT("providers.exec");

#ifndef CAIRN_VERSION
#define CAIRN_VERSION "unknown"
#endif

#define PROTOCOL_VERSION 1
#define HANDSHAKE_TIMEOUT_MS 10000
#define DEFAULT_TIMEOUT_MS 60000
#define STOP_GRACE_MS 2000           /* shutdown -> SIGTERM -> SIGKILL */
#define EXIT_GRACE_MS 1000           /* stdout closed: time to finish exiting */
#define MAX_LINE ((size_t)4 << 20)   /* without its newline */
#define READ_CHUNK 65536
#define STDERR_RING 4096
#define STDERR_TAIL 512              /* how much of it an error message quotes */

extern char **environ;

/* One request waiting for its answer; lives on the caller's stack. */
struct call {
	struct call *prev, *next;
	json_int_t id;
	const char *method;
	pthread_cond_t cond;
	bool done;
	json_t *response;           /* the whole answer line, on success */
	struct cairn_error err;     /* or why there is none */
};

struct exec;

struct proc {
	struct exec *x;
	pid_t pid;
	int in_fd;                  /* its stdin; under write_lock; -1 once closed */
	int out_fd, err_fd;         /* the reader thread's */
	int wake[2];                /* wakes the reader thread */
	int pidfd;                  /* readable once it exited; -1 if unavailable */
	pthread_t reader;
	struct proc *next;          /* on exec.retired */

	pthread_mutex_t write_lock;
	pthread_mutex_t lock;
	/* under lock */
	struct call *pending;
	json_int_t next_id;
	unsigned users;             /* callers holding this process */
	bool broken;                /* no new calls; it is being stopped */
	bool stopping;              /* close(): answers no longer matter */
	bool finished;              /* the reader thread is done */
	int64_t term_at;            /* when to send SIGTERM; 0: not planned */
	/* the reader thread's own */
	bool term_sent, kill_sent;
	int64_t kill_at;
	char ring[STDERR_RING];     /* the last bytes of its stderr */
	size_t ring_pos, ring_len;
};

struct exec {
	char *path;
	char *label;                /* the executable's file name, for messages */
	char **argv;
	json_t *hello;              /* the handshake's params */
	int64_t timeout_ms;
	atomic_bool can_update;

	pthread_mutex_t start_lock;
	/* under start_lock */
	struct proc *cur;
	struct proc *retired;
};

/* ---- small helpers -------------------------------------------------------- */

static void deadline_ts(int64_t deadline_ms, struct timespec *ts)
{
	ts->tv_sec = deadline_ms / 1000;
	ts->tv_nsec = (long)(deadline_ms % 1000) * 1000000;
}

/* "60s", "300ms": how long a timeout was, for messages. */
static char *fmt_duration(int64_t ms)
{
	if (ms % 1000 == 0)
		return xasprintf("%llds", (long long)(ms / 1000));
	return xasprintf("%lldms", (long long)ms);
}

/* At most max bytes of s, quoted material for a message: one line, printable. */
static char *excerpt(const char *s, size_t len, size_t max)
{
	struct cairn_buf b = CAIRN_BUF_INIT;
	size_t n = len < max ? len : max;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		cairn_buf_addch(&b, c < 0x20 || c == 0x7f ? '?' : c);
	}
	if (n < len)
		cairn_buf_addstr(&b, "...");
	return cairn_buf_detach(&b, NULL);
}

static void wake_reader(struct proc *p)
{
	char c = 0;

	if (write(p->wake[1], &c, 1) < 0 && errno != EAGAIN)
		cairn_debug("cannot wake the reader of plugin '%s': %s", p->x->label, strerror(errno));
}

static void call_finish(struct proc *p, struct call *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		p->pending = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->prev = c->next = NULL;
	c->done = true;
	pthread_cond_signal(&c->cond);
}

/*
 * Mark p broken (lock held).  With a message, every pending call fails with
 * it now and the process is stopped at once; without one, the plugin is
 * taken to be exiting on its own: its calls wait for the exit status, and it
 * gets EXIT_GRACE_MS before the SIGTERM.
 */
static void proc_break(struct proc *p, enum cairn_errcode code, const char *why)
{
	int64_t now = cairn_now_ms();

	if (why) {
		while (p->pending) {
			struct call *c = p->pending;

			cairn_error_set(&c->err, code, "%s", why);
			call_finish(p, c);
		}
	}
	if (!p->broken)
		cairn_debug("stopping plugin '%s' (pid %d): %s", p->x->label, (int)p->pid,
			    why ? why : "it is exiting");
	p->broken = true;
	if (!p->term_at || p->term_at > now + (why ? 0 : EXIT_GRACE_MS)) {
		p->term_at = now + (why ? 0 : EXIT_GRACE_MS);
		wake_reader(p);
	}
}

/* ---- the reader thread ------------------------------------------------------ */

static void ring_add(struct proc *p, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		p->ring[(p->ring_pos + p->ring_len) % STDERR_RING] = s[i];
		if (p->ring_len < STDERR_RING)
			p->ring_len++;
		else
			p->ring_pos = (p->ring_pos + 1) % STDERR_RING;
	}
}

/* The last lines of its stderr, joined with " | ", at most STDERR_TAIL bytes. */
static char *stderr_tail(const struct proc *p)
{
	struct cairn_buf b = CAIRN_BUF_INIT;
	char *flat = xmalloc(p->ring_len + 1), *start, *line, *out;
	size_t n = p->ring_len;

	for (size_t i = 0; i < n; i++)
		flat[i] = p->ring[(p->ring_pos + i) % STDERR_RING];
	while (n && (flat[n - 1] == '\n' || flat[n - 1] == '\r' || flat[n - 1] == ' '))
		n--;
	flat[n] = '\0';
	start = n > STDERR_TAIL ? flat + n - STDERR_TAIL : flat;
	/* Begin at a line when the cut fell inside one and a later line exists. */
	if (start != flat && start[-1] != '\n' && strchr(start, '\n'))
		start = strchr(start, '\n') + 1;
	for (line = start; *line;) {
		size_t len = strcspn(line, "\n");
		char *e;

		while (len && line[len - 1] == '\r')
			len--;
		if (len) {
			e = excerpt(line, len, STDERR_TAIL);
			if (b.len)
				cairn_buf_addstr(&b, " | ");
			cairn_buf_addstr(&b, e);
			free(e);
		}
		line += strcspn(line, "\n");
		if (*line)
			line++;
	}
	free(flat);
	out = cairn_buf_detach(&b, NULL);
	return out;
}

/* "plugin 'P' exited with status 3; its stderr ends: ..." */
static char *death_message(const struct proc *p, bool reaped, int status)
{
	char *tail = stderr_tail(p), *how, *msg;

	if (!reaped)
		how = xstrdup("exited");
	else if (WIFEXITED(status))
		how = xasprintf("exited with status %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		how = xasprintf("was killed by SIG%s", sigabbrev_np(WTERMSIG(status)) ? sigabbrev_np(WTERMSIG(status)) : "?");
	else
		how = xasprintf("ended with wait status %d", status);
	if (*tail)
		msg = xasprintf("plugin '%s' %s; its stderr ends: %s", p->x->label, how, tail);
	else
		msg = xasprintf("plugin '%s' %s", p->x->label, how);
	free(how);
	free(tail);
	return msg;
}

/* The plugin broke the protocol: its calls fail, it is stopped. */
static void protocol_error(struct proc *p, char *why)
{
	pthread_mutex_lock(&p->lock);
	if (!p->broken && !p->stopping) {
		cairn_info("%s", why);
		proc_break(p, CAIRN_E_PERMANENT, why);
	}
	pthread_mutex_unlock(&p->lock);
	free(why);
}

/* A line from stdout: the answer to a pending call, or garbage.  Parsed
 * before the lock is taken, so a big answer holds up no caller. */
static void handle_line(struct proc *p, const char *line, size_t len)
{
	json_t *j, *id, *result, *error;
	const char *method;
	struct call *c;
	char *ex;

	while (len && line[len - 1] == '\r')
		len--;
	j = json_loadb(line, len, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(j)) {
		json_decref(j);
		ex = excerpt(line, len, 64);
		protocol_error(p, xasprintf("plugin '%s' wrote a line that is not a JSON object: '%s'",
					    p->x->label, ex));
		free(ex);
		return;
	}
	id = json_object_get(j, "id");
	result = json_object_get(j, "result");
	error = json_object_get(j, "error");
	if (!json_is_integer(id)) {
		json_decref(j);
		protocol_error(p, xasprintf("plugin '%s' wrote an answer without an integer 'id'", p->x->label));
		return;
	}

	pthread_mutex_lock(&p->lock);
	if (p->broken || p->stopping) {
		/* Its calls have failed already; what it says no longer counts. */
		pthread_mutex_unlock(&p->lock);
		json_decref(j);
		return;
	}
	for (c = p->pending; c; c = c->next)
		if (c->id == json_integer_value(id))
			break;
	if (c && !result != !error) {
		c->response = j;
		call_finish(p, c);
		pthread_mutex_unlock(&p->lock);
		return;
	}
	method = c ? c->method : NULL;     /* c is the caller's once unlocked */
	pthread_mutex_unlock(&p->lock);
	if (!method)
		protocol_error(p, xasprintf("plugin '%s' answered request %lld, which is not waiting for an answer",
					    p->x->label, (long long)json_integer_value(id)));
	else
		protocol_error(p, xasprintf("plugin '%s' answered '%s' with %s of 'result' and 'error'",
					    p->x->label, method, result ? "both" : "neither"));
	json_decref(j);
}

/* Split what stdout gave into lines; keeps the unfinished one in *buf. */
static void take_lines(struct proc *p, char **buf, size_t *len, size_t *scanned)
{
	size_t start = 0;
	char *nl;

	while ((nl = memchr(*buf + *scanned, '\n', *len - *scanned))) {
		size_t end = (size_t)(nl - *buf);

		if (end - start > MAX_LINE)
			protocol_error(p, xasprintf("plugin '%s' wrote a line longer than 4 MiB", p->x->label));
		else
			handle_line(p, *buf + start, end - start);
		start = end + 1;
		*scanned = start;
	}
	memmove(*buf, *buf + start, *len - start);
	*len -= start;
	*scanned = *len;
	if (*len > MAX_LINE) {
		/* No newline in sight: it is too long already, whatever follows. */
		protocol_error(p, xasprintf("plugin '%s' wrote a line longer than 4 MiB", p->x->label));
		*len = *scanned = 0;
	}
}

/* Read what fd has; returns false at end of file or on an error. */
static bool drain_out(struct proc *p, char **buf, size_t *len, size_t *alloc, size_t *scanned)
{
	for (;;) {
		ssize_t n;

		if (*alloc - *len < READ_CHUNK) {
			*alloc = *alloc * 2 > *len + READ_CHUNK ? *alloc * 2 : *len + READ_CHUNK;
			*buf = xrealloc(*buf, *alloc);
		}
		n = read(p->out_fd, *buf + *len, *alloc - *len);
		if (n > 0) {
			*len += (size_t)n;
			take_lines(p, buf, len, scanned);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		return n < 0 && errno == EAGAIN;
	}
}

static bool drain_err(struct proc *p)
{
	char chunk[4096];

	for (;;) {
		ssize_t n = read(p->err_fd, chunk, sizeof(chunk));

		if (n > 0) {
			ring_add(p, chunk, (size_t)n);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		return n < 0 && errno == EAGAIN;
	}
}

static void send_signal(struct proc *p, int sig)
{
	/* Its own process group: a wrapper script's children go too. */
	if (kill(-p->pid, sig) < 0 && kill(p->pid, sig) < 0)
		cairn_debug("cannot signal plugin '%s' (pid %d): %s", p->x->label, (int)p->pid, strerror(errno));
}

static void *reader_main(void *arg)
{
	struct proc *p = arg;
	bool out_open = true, err_open = true, exited = false, reaped = false;
	char *buf = NULL, *msg;
	size_t len = 0, alloc = 0, scanned = 0;
	int status = 0;

	for (;;) {
		struct pollfd fds[4];
		int nfds = 0, timeout = -1, out_i = -1, err_i = -1, pid_i = -1;
		int64_t now = cairn_now_ms(), term_at;

		pthread_mutex_lock(&p->lock);
		term_at = p->term_at;
		pthread_mutex_unlock(&p->lock);

		/* Stopping: SIGTERM when due, SIGKILL STOP_GRACE_MS later. */
		if (!exited && term_at && !p->term_sent && now >= term_at) {
			send_signal(p, SIGTERM);
			p->term_sent = true;
			p->kill_at = now + STOP_GRACE_MS;
		}
		if (!exited && p->term_sent && !p->kill_sent && now >= p->kill_at) {
			send_signal(p, SIGKILL);
			p->kill_sent = true;
		}
		if (!exited && term_at && !p->term_sent)
			timeout = (int)(term_at - now);
		else if (!exited && p->term_sent && !p->kill_sent)
			timeout = (int)(p->kill_at - now);
		if (!exited && p->pidfd < 0 && (timeout < 0 || timeout > 100))
			timeout = 100;

		fds[nfds++] = (struct pollfd){ .fd = p->wake[0], .events = POLLIN };
		if (out_open) {
			out_i = nfds;
			fds[nfds++] = (struct pollfd){ .fd = p->out_fd, .events = POLLIN };
		}
		if (err_open) {
			err_i = nfds;
			fds[nfds++] = (struct pollfd){ .fd = p->err_fd, .events = POLLIN };
		}
		if (!exited && p->pidfd >= 0) {
			pid_i = nfds;
			fds[nfds++] = (struct pollfd){ .fd = p->pidfd, .events = POLLIN };
		}
		if (poll(fds, (nfds_t)nfds, timeout) < 0 && errno != EINTR)
			BUG("poll on plugin pipes: %s", strerror(errno));

		if (fds[0].revents) {
			char junk[64];

			while (read(p->wake[0], junk, sizeof(junk)) > 0)
				;
		}
		if (err_i >= 0 && fds[err_i].revents)
			err_open = drain_err(p);
		if (out_i >= 0 && fds[out_i].revents) {
			out_open = drain_out(p, &buf, &len, &alloc, &scanned);
			if (!out_open) {
				/* It closed its stdout: exiting, or of no more use. */
				pthread_mutex_lock(&p->lock);
				proc_break(p, CAIRN_E_RETRYABLE, NULL);
				pthread_mutex_unlock(&p->lock);
			}
		}
		if (!exited && (p->pidfd < 0 || (pid_i >= 0 && fds[pid_i].revents))) {
			pid_t r = waitpid(p->pid, &status, WNOHANG);

			if (r == p->pid) {
				exited = reaped = true;
			} else if (r < 0 && errno == ECHILD) {
				exited = true;      /* someone else reaped it (SIGCHLD ignored) */
			} else if (r < 0 && errno != EINTR) {
				BUG("waitpid %d: %s", (int)p->pid, strerror(errno));
			}
		}
		if (exited) {
			/* All it wrote is in the pipes: take it, even if a child of
			 * its keeps them open. */
			if (out_open)
				drain_out(p, &buf, &len, &alloc, &scanned);
			if (err_open)
				drain_err(p);
			break;
		}
	}
	free(buf);

	msg = death_message(p, reaped, status);
	cairn_debug("%s", msg);
	pthread_mutex_lock(&p->lock);
	if (p->pending && !p->stopping)
		cairn_info("%s", msg);
	p->broken = true;
	while (p->pending) {
		struct call *c = p->pending;

		cairn_error_set(&c->err, CAIRN_E_RETRYABLE, "%s", msg);
		call_finish(p, c);
	}
	p->finished = true;
	pthread_mutex_unlock(&p->lock);
	free(msg);
	return NULL;
}

/* ---- starting and freeing processes ---------------------------------------- */

/* A pipe whose ends are not 0, 1 or 2 (which dup2 onto themselves would keep
 * close-on-exec), both close-on-exec. */
static int safe_pipe(int fds[2])
{
	if (pipe2(fds, O_CLOEXEC) < 0)
		return -1;
	for (int i = 0; i < 2; i++) {
		if (fds[i] <= 2) {
			int fd = fcntl(fds[i], F_DUPFD_CLOEXEC, 3);

			if (fd < 0)
				return -1;
			close(fds[i]);
			fds[i] = fd;
		}
	}
	return 0;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static void set_nonblock(int fd)
{
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

static struct proc *proc_new(struct exec *x)
{
	struct proc *p = xcalloc(1, sizeof(*p));

	p->x = x;
	p->pid = -1;
	p->in_fd = p->out_fd = p->err_fd = p->pidfd = -1;
	p->wake[0] = p->wake[1] = -1;
	pthread_mutex_init(&p->lock, NULL);
	pthread_mutex_init(&p->write_lock, NULL);
	return p;
}

/* The reader thread must be finished and joined, and no caller hold p. */
static void proc_free(struct proc *p)
{
	if (!p)
		return;
	close_fd(&p->in_fd);
	close_fd(&p->out_fd);
	close_fd(&p->err_fd);
	close_fd(&p->wake[0]);
	close_fd(&p->wake[1]);
	close_fd(&p->pidfd);
	pthread_mutex_destroy(&p->lock);
	pthread_mutex_destroy(&p->write_lock);
	free(p);
}

/* ---- starting plugins --------------------------------------------------------
 *
 * A plugin must not outlive cairn.  A call in flight when cairn is killed
 * would otherwise go on in the orphaned plugin while the next run's recovery
 * asks a new plugin about the same cairn id, finds nothing yet, forgets the
 * intent, and the old plugin then makes the object: an orphan (seen under
 * load in the crash tests).  So every plugin gets PR_SET_PDEATHSIG SIGKILL:
 * the kernel kills it as cairn dies, before cairn's parent can even reap
 * cairn, and a killed plugin does nothing more than finish the system call
 * it is in.
 *
 * The "parent" of the death signal is the *thread* that forked, not the
 * process: a plugin forked by a worker thread would be killed when that
 * worker ends.  So all plugins are forked by one thread that lives as long
 * as the process, the spawner, which takes one request at a time.  fork()
 * is used instead of posix_spawn() because only the child can ask for the
 * death signal; between fork and exec it makes only async-signal-safe calls.
 */

struct spawn_req {
	const char *path;
	char *const *argv;
	int fd0, fd1, fd2;
	pid_t pid;
	int error;                  /* errno of fork or exec; 0: started */
	bool done;
};

static pthread_once_t spawner_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t spawner_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t spawner_cond = PTHREAD_COND_INITIALIZER;
static struct spawn_req *spawner_req;      /* the one being asked for, under spawner_mu */

static void spawn_in_child(const struct spawn_req *r, pid_t parent, int report_fd)
{
	struct sigaction dfl;
	sigset_t none;
	int e;

	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
		goto fail;   /* cairn is gone already */
	/* its own process group: Ctrl-C is cairn's to handle */
	setpgid(0, 0);
	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	for (int sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			sigaction(sig, &dfl, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (dup2(r->fd0, 0) < 0 || dup2(r->fd1, 1) < 0 || dup2(r->fd2, 2) < 0)
		goto fail;
	/* nothing else of cairn's is inherited (report_fd closes on exec) */
	if (report_fd > 3)
		close_range(3, (unsigned)report_fd - 1, 0);
	close_range((unsigned)report_fd + 1, ~0U, 0);
	execve(r->path, r->argv, environ);
fail:
	e = errno;
	if (write(report_fd, &e, sizeof(e)) < 0) {
		/* nothing more to do: the parent sees EOF and an exit status */
	}
	_exit(127);
}

static void spawn_one(struct spawn_req *r)
{
	int report[2], e = 0;
	pid_t parent = getpid(), pid;
	ssize_t n;

	if (pipe2(report, O_CLOEXEC) < 0) {
		r->error = errno;
		return;
	}
	pid = fork();
	if (pid == 0)
		spawn_in_child(r, parent, report[1]);
	close(report[1]);
	if (pid < 0) {
		r->error = errno;
		close(report[0]);
		return;
	}
	/* EOF: exec succeeded (the pipe closed on exec); else its errno */
	do
		n = read(report[0], &e, sizeof(e));
	while (n < 0 && errno == EINTR);
	close(report[0]);
	if (n == (ssize_t)sizeof(e)) {
		waitpid(pid, NULL, 0);
		r->error = e ? e : ENOEXEC;
		return;
	}
	r->pid = pid;
}

static void *spawner_main(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&spawner_mu);
	for (;;) {
		struct spawn_req *r;

		while (!spawner_req || spawner_req->done)
			pthread_cond_wait(&spawner_cond, &spawner_mu);
		r = spawner_req;
		pthread_mutex_unlock(&spawner_mu);
		spawn_one(r);
		pthread_mutex_lock(&spawner_mu);
		r->done = true;
		pthread_cond_broadcast(&spawner_cond);
	}
	return NULL;
}

static void spawner_start(void)
{
	pthread_t t;

	/* forked children reset their signal mask */
	if (cairn_thread_start(&t, true, spawner_main, NULL))
		BUG("cannot start the plugin spawner thread");
}

/* Start path with argv on fds 0, 1, 2 = fd0, fd1, fd2; returns 0 or an errno. */
static int spawn_child(const char *path, char *const *argv, int fd0, int fd1, int fd2, pid_t *pid)
{
	struct spawn_req r = { .path = path, .argv = argv, .fd0 = fd0, .fd1 = fd1, .fd2 = fd2 };

	pthread_once(&spawner_once, spawner_start);
	pthread_mutex_lock(&spawner_mu);
	while (spawner_req && !spawner_req->done)
		pthread_cond_wait(&spawner_cond, &spawner_mu);
	spawner_req = &r;
	pthread_cond_broadcast(&spawner_cond);
	while (!r.done)
		pthread_cond_wait(&spawner_cond, &spawner_mu);
	spawner_req = NULL;
	pthread_cond_broadcast(&spawner_cond);
	pthread_mutex_unlock(&spawner_mu);
	*pid = r.pid;
	return r.error;
}

/* Start the process and its reader thread (not the handshake). */
static int proc_spawn(struct exec *x, struct proc **out, struct cairn_error *err)
{
	int in[2] = { -1, -1 }, outp[2] = { -1, -1 }, errp[2] = { -1, -1 };
	struct proc *p;
	int rc;

	if (safe_pipe(in) < 0 || safe_pipe(outp) < 0 || safe_pipe(errp) < 0) {
		rc = errno;
		for (int i = 0; i < 2; i++) {
			close_fd(&in[i]);
			close_fd(&outp[i]);
			close_fd(&errp[i]);
		}
		return cairn_error_set(err, CAIRN_E_RETRYABLE, "cannot make pipes for plugin '%s': %s",
				       x->label, strerror(rc));
	}

	p = proc_new(x);
	rc = spawn_child(x->path, x->argv, in[0], outp[1], errp[1], &p->pid);
	close(in[0]);
	close(outp[1]);
	close(errp[1]);
	p->in_fd = in[1];
	p->out_fd = outp[0];
	p->err_fd = errp[0];
	if (rc != 0) {
		p->pid = -1;
		proc_free(p);
		return cairn_error_set(err, CAIRN_E_PERMANENT, "cannot run plugin '%s': %s",
				       x->path, strerror(rc));
	}
	cairn_debug("started plugin '%s' as pid %d", x->path, (int)p->pid);
	set_nonblock(p->in_fd);
	set_nonblock(p->out_fd);
	set_nonblock(p->err_fd);
	p->pidfd = pidfd_open(p->pid, 0);   /* close-on-exec already */
	if (pipe2(p->wake, O_CLOEXEC | O_NONBLOCK) < 0)
		BUG("pipe2: %s", strerror(errno));

	rc = cairn_thread_start(&p->reader, false, reader_main, p);
	if (rc != 0)
		BUG("cannot start the reader thread of plugin '%s': %s", x->label, strerror(rc));
	*out = p;
	return 0;
}

/* ---- one call ------------------------------------------------------------------ */

/*
 * Write all of s to the plugin before the deadline.  Returns 0, ETIMEDOUT,
 * or the errno of the failed write (EPIPE: it stopped reading).  SIGPIPE is
 * blocked around the write and a SIGPIPE the write raised is taken back, so
 * a dead plugin cannot kill cairn, whatever cairn's own disposition is.
 */
static int write_line(struct proc *p, const char *s, size_t n, int64_t deadline)
{
	struct timespec ts, zero = { 0, 0 };
	sigset_t pipe_set, old, pending;
	bool was_pending;
	int ret = 0;

	/* The lock's deadline is on the wall clock: turn what is left of ours
	 * into one. */
	clock_gettime(CLOCK_REALTIME, &ts);
	deadline_ts((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + (deadline - cairn_now_ms()), &ts);
	if (pthread_mutex_timedlock(&p->write_lock, &ts) != 0)
		return ETIMEDOUT;
	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
	sigpending(&pending);
	was_pending = sigismember(&pending, SIGPIPE);

	while (n) {
		ssize_t w;

		if (p->in_fd < 0) {
			ret = EPIPE;
			break;
		}
		w = write(p->in_fd, s, n);
		if (w > 0) {
			s += w;
			n -= (size_t)w;
		} else if (w < 0 && errno == EAGAIN) {
			struct pollfd pfd = { .fd = p->in_fd, .events = POLLOUT };
			int64_t left = deadline - cairn_now_ms();

			if (left <= 0) {
				ret = ETIMEDOUT;
				break;
			}
			poll(&pfd, 1, (int)(left > 1000 ? 1000 : left));
		} else if (w < 0 && errno != EINTR) {
			ret = errno;
			break;
		}
	}

	if (ret == EPIPE && !was_pending)
		sigtimedwait(&pipe_set, NULL, &zero);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_mutex_unlock(&p->write_lock);
	return ret;
}

/*
 * Send method with params (borrowed) to p and wait for the answer until
 * timeout_ms.  On success (0) *response is the whole answer line, either
 * "result" or "error"; on failure (-1) err says why (timeouts, a dying
 * plugin, garbage).  Returns 1, sending nothing, when p broke before the
 * call could start.
 */
static int proc_call(struct proc *p, const char *method, json_t *params, int64_t timeout_ms,
		     json_t **response, struct cairn_error *err)
{
	int64_t deadline = cairn_now_ms() + timeout_ms;
	struct call c = { .method = method, .err = CAIRN_ERROR_INIT };
	pthread_condattr_t ca;
	struct timespec ts;
	json_t *req;
	char *line;
	size_t n;
	int werr;

	*response = NULL;
	pthread_mutex_lock(&p->lock);
	if (p->broken) {
		pthread_mutex_unlock(&p->lock);
		return 1;   /* not sent: the caller may try a new process */
	}
	c.id = p->next_id++;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&c.cond, &ca);
	pthread_condattr_destroy(&ca);
	c.next = p->pending;
	if (p->pending)
		p->pending->prev = &c;
	p->pending = &c;
	pthread_mutex_unlock(&p->lock);

	req = json_pack("{s:I, s:s, s:O}", "id", (json_int_t)c.id, "method", method, "params", params);
	line = req ? json_dumps(req, JSON_COMPACT) : NULL;
	json_decref(req);
	n = line ? strlen(line) : 0;
	if (!line || n > MAX_LINE) {
		pthread_mutex_lock(&p->lock);
		if (!c.done) {
			if (!line)
				cairn_error_set(&c.err, CAIRN_E_INVALID, "cannot encode the '%s' request to plugin '%s' as JSON",
						method, p->x->label);
			else
				cairn_error_set(&c.err, CAIRN_E_INVALID, "the '%s' request to plugin '%s' is longer than the 4 MiB a protocol line may hold",
						method, p->x->label);
			call_finish(p, &c);
		}
		pthread_mutex_unlock(&p->lock);
		free(line);
		goto out;
	}
	line[n] = '\n';     /* json_dumps' NUL becomes the line's end */
	werr = write_line(p, line, n + 1, deadline);
	free(line);
	if (werr == EPIPE) {
		/* It stopped reading: most likely exiting; its status will say. */
		pthread_mutex_lock(&p->lock);
		proc_break(p, CAIRN_E_RETRYABLE, NULL);
		pthread_mutex_unlock(&p->lock);
	} else if (werr && werr != ETIMEDOUT) {
		char *why = xasprintf("cannot write to plugin '%s': %s", p->x->label, strerror(werr));

		pthread_mutex_lock(&p->lock);
		proc_break(p, CAIRN_E_RETRYABLE, why);
		pthread_mutex_unlock(&p->lock);
		free(why);
	}

	deadline_ts(deadline, &ts);
	pthread_mutex_lock(&p->lock);
	while (!c.done && werr != ETIMEDOUT)
		if (pthread_cond_timedwait(&c.cond, &p->lock, &ts) == ETIMEDOUT)
			break;
	if (!c.done) {
		char *took = fmt_duration(timeout_ms);
		char *why = xasprintf("plugin '%s' was stopped: a '%s' call did not answer within %s",
				      p->x->label, method, took);

		cairn_error_set(&c.err, CAIRN_E_RETRYABLE, "plugin '%s' did not answer '%s' within %s",
				p->x->label, method, took);
		call_finish(p, &c);
		cairn_info("%s", c.err.message);
		proc_break(p, CAIRN_E_RETRYABLE, why);
		free(why);
		free(took);
	}
	pthread_mutex_unlock(&p->lock);

out:
	pthread_cond_destroy(&c.cond);
	if (cairn_error_isset(&c.err)) {
		json_decref(c.response);
		cairn_error_move(err, &c.err);
		return -1;
	}
	*response = c.response;
	return 0;
}

/* An "error" answer as a cairn error. */
static int answer_error(struct exec *x, const char *method, const json_t *e,
			struct cairn_error *err)
{
	static const struct {
		const char *name;
		enum cairn_errcode code;
	} codes[] = {
		{ "retryable", CAIRN_E_RETRYABLE },
		{ "permanent", CAIRN_E_PERMANENT },
		{ "notfound", CAIRN_E_NOTFOUND },
		{ "invalid", CAIRN_E_INVALID },
		{ "unsupported", CAIRN_E_UNSUPPORTED },
	};
	const char *name = cairn_json_str(e, "code"), *msg = cairn_json_str(e, "message");
	enum cairn_errcode code = CAIRN_E_PERMANENT;

	if (json_is_string(e))      /* "error": "text": lenient, as it is clear */
		msg = json_string_value(e);
	for (size_t i = 0; name && i < ARRAY_SIZE(codes); i++)
		if (!strcmp(codes[i].name, name))
			code = codes[i].code;
	if (msg && *msg)
		return cairn_error_set(err, code, "%s", msg);
	return cairn_error_set(err, code, "plugin '%s' failed '%s' without saying why", x->label, method);
}

/* ---- the instance: which process is current ----------------------------------- */

/* Hand a broken process to the retired list, and free the retired ones that
 * are done (start_lock held). */
static void retire(struct exec *x, struct proc *p)
{
	struct proc **pp = &x->retired;

	if (p) {
		p->next = x->retired;
		x->retired = p;
	}
	while (*pp) {
		struct proc *r = *pp;
		bool done;

		pthread_mutex_lock(&r->lock);
		done = r->finished && !r->users;
		pthread_mutex_unlock(&r->lock);
		if (!done) {
			pp = &r->next;
			continue;
		}
		*pp = r->next;
		pthread_join(r->reader, NULL);
		proc_free(r);
	}
}

static int handshake(struct exec *x, struct proc *p, struct cairn_error *err)
{
	json_t *resp = NULL, *res, *e, *v;
	bool can_update = true;
	int ret = -1;

	if (proc_call(p, "handshake", x->hello, HANDSHAKE_TIMEOUT_MS, &resp, err) != 0)
		return cairn_error_set(err, CAIRN_E_RETRYABLE, "plugin '%s' stopped before its handshake", x->label);
	e = json_object_get(resp, "error");
	if (e) {
		json_t *protocols = json_object_get(e, "protocols");

		if (json_is_array(protocols) && json_array_size(protocols)) {
			struct cairn_buf b = CAIRN_BUF_INIT;
			size_t i;

			json_array_foreach(protocols, i, v)
				cairn_buf_addf(&b, "%s%lld", i ? ", " : "", (long long)json_integer_value(v));
			cairn_error_set(err, CAIRN_E_PERMANENT, "plugin '%s' speaks protocol %s, cairn speaks %d",
					x->label, b.s, PROTOCOL_VERSION);
			cairn_buf_release(&b);
		} else {
			struct cairn_error herr = CAIRN_ERROR_INIT;

			answer_error(x, "handshake", e, &herr);
			cairn_error_set(err, herr.code == CAIRN_E_RETRYABLE ? CAIRN_E_RETRYABLE : CAIRN_E_PERMANENT,
					"plugin '%s' refused the handshake: %s", x->label, herr.message);
			cairn_error_release(&herr);
		}
		goto out;
	}
	res = json_object_get(resp, "result");
	v = json_object_get(res, "protocol");
	if (!json_is_integer(v)) {
		cairn_error_set(err, CAIRN_E_PERMANENT, "plugin '%s' answered the handshake without a protocol version",
				x->label);
		goto out;
	}
	if (json_integer_value(v) != PROTOCOL_VERSION) {
		cairn_error_set(err, CAIRN_E_PERMANENT, "plugin '%s' speaks protocol %lld, cairn speaks %d",
				x->label, (long long)json_integer_value(v), PROTOCOL_VERSION);
		goto out;
	}
	v = json_object_get(res, "methods");
	if (json_is_array(v)) {
		size_t i;
		json_t *m;

		can_update = false;
		json_array_foreach(v, i, m)
			if (json_is_string(m) && !strcmp(json_string_value(m), "update"))
				can_update = true;
	}
	atomic_store(&x->can_update, can_update);
	cairn_debug("plugin '%s' (pid %d) speaks protocol %d", x->label, (int)p->pid, PROTOCOL_VERSION);
	ret = 0;
out:
	json_decref(resp);
	return ret;
}

/* The current process, started if need be, with a user count taken. */
static struct proc *acquire(struct exec *x, struct cairn_error *err)
{
	struct proc *p;

	pthread_mutex_lock(&x->start_lock);
	if (x->cur) {
		bool broken;

		pthread_mutex_lock(&x->cur->lock);
		broken = x->cur->broken;
		pthread_mutex_unlock(&x->cur->lock);
		if (broken) {
			retire(x, x->cur);
			x->cur = NULL;
		}
	}
	if (!x->cur) {
		retire(x, NULL);
		if (proc_spawn(x, &p, err) < 0) {
			pthread_mutex_unlock(&x->start_lock);
			return NULL;
		}
		if (handshake(x, p, err) < 0) {
			pthread_mutex_lock(&p->lock);
			proc_break(p, CAIRN_E_PERMANENT, "the handshake failed");
			pthread_mutex_unlock(&p->lock);
			retire(x, p);
			pthread_mutex_unlock(&x->start_lock);
			return NULL;
		}
		x->cur = p;
	}
	p = x->cur;
	pthread_mutex_lock(&p->lock);
	p->users++;
	pthread_mutex_unlock(&p->lock);
	pthread_mutex_unlock(&x->start_lock);
	return p;
}

static void release(struct proc *p)
{
	pthread_mutex_lock(&p->lock);
	p->users--;
	pthread_mutex_unlock(&p->lock);
}

/*
 * One call, on the current process: the answer's "result" object in
 * *result, or the plugin's error mapped to a cairn error.
 */
static int exec_call(struct exec *x, const char *method, json_t *params, json_t **result,
		     struct cairn_error *err)
{
	json_t *resp = NULL, *e;
	struct proc *p;
	int ret = -1;

	*result = NULL;
	/* A process that broke between acquire() and the call (another call
	 * made it fail) is replaced once: the call was never sent. */
	for (int attempt = 0;; attempt++) {
		p = acquire(x, err);
		if (!p)
			return -1;
		ret = proc_call(p, method, params, x->timeout_ms, &resp, err);
		if (ret <= 0 || attempt)
			break;
		release(p);
	}
	if (ret != 0) {
		if (ret > 0)
			cairn_error_set(err, CAIRN_E_RETRYABLE, "plugin '%s' keeps stopping before calls reach it",
					x->label);
		ret = -1;
		goto out;
	}
	ret = -1;
	e = json_object_get(resp, "error");
	if (e) {
		answer_error(x, method, e, err);
		goto out;
	}
	*result = json_incref(json_object_get(resp, "result"));
	if (!json_is_object(*result)) {
		json_decref(*result);
		*result = NULL;
		cairn_error_set(err, CAIRN_E_PERMANENT, "plugin '%s' answered '%s' with a result that is not an object",
				x->label, method);
		goto out;
	}
	ret = 0;
out:
	json_decref(resp);
	release(p);
	return ret;
}

/* ---- the driver ------------------------------------------------------------------ */

static void exec_close(void *priv)
{
	struct exec *x = priv;
	struct proc *p;

	if (!x)
		return;
	pthread_mutex_lock(&x->start_lock);
	p = x->cur;
	x->cur = NULL;
	if (p) {
		bool live;

		json_int_t id;

		pthread_mutex_lock(&p->lock);
		live = !p->broken;
		p->stopping = true;     /* its answer, and anything else, is ignored */
		id = p->next_id++;
		pthread_mutex_unlock(&p->lock);
		if (live) {
			char *bye = xasprintf("{\"id\":%lld,\"method\":\"shutdown\",\"params\":{}}\n",
					      (long long)id);

			write_line(p, bye, strlen(bye), cairn_now_ms() + STOP_GRACE_MS);
			free(bye);
		}
		pthread_mutex_lock(&p->write_lock);
		close_fd(&p->in_fd);
		pthread_mutex_unlock(&p->write_lock);
		pthread_mutex_lock(&p->lock);
		p->broken = true;
		if (!p->term_at) {
			p->term_at = cairn_now_ms() + STOP_GRACE_MS;
			wake_reader(p);
		}
		pthread_mutex_unlock(&p->lock);
		p->next = x->retired;
		x->retired = p;
	}
	while ((p = x->retired)) {
		x->retired = p->next;
		pthread_join(p->reader, NULL);
		proc_free(p);
	}
	pthread_mutex_unlock(&x->start_lock);

	pthread_mutex_destroy(&x->start_lock);
	for (char **a = x->argv; *a; a++)
		free(*a);
	free(x->argv);
	json_decref(x->hello);
	free(x->path);
	free(x->label);
	free(x);
}

static int exec_open(const struct cairn_provider_config *cfg, void **priv,
		     struct cairn_error *err)
{
	const json_t *args = json_object_get(cfg->config, "args"), *t;
	const char *command = cairn_json_str(cfg->config, "command");
	struct exec *x;
	struct proc *p;
	size_t nargs = json_is_array(args) ? json_array_size(args) : 0;
	char *path;

	if (cfg->plugin_path)
		path = xstrdup(cfg->plugin_path);
	else if (command && *command)
		path = xstrdup(command);
	else
		path = cairn_plugin_find(cfg->type);
	if (!path)
		return cairn_error_set(err, CAIRN_E_NOTFOUND, "no plugin executable 'cairn-provider-%s' for provider type '%s'",
				       cfg->type, cfg->type);

	x = xcalloc(1, sizeof(*x));
	x->path = path;
	x->label = xstrdup(strrchr(path, '/') ? strrchr(path, '/') + 1 : path);
	x->argv = xcalloc(nargs + 2, sizeof(*x->argv));
	x->argv[0] = xstrdup(path);
	for (size_t i = 0; i < nargs; i++) {
		const json_t *a = json_array_get(args, i);

		x->argv[i + 1] = json_is_string(a) ? xstrdup(json_string_value(a))
						   : json_dumps(a, JSON_ENCODE_ANY | JSON_COMPACT);
	}
	t = json_object_get(cfg->config, "timeout");
	x->timeout_ms = DEFAULT_TIMEOUT_MS;
	if (json_is_integer(t) && json_integer_value(t) > 0)
		x->timeout_ms = json_integer_value(t);
	else if (json_is_real(t) && json_real_value(t) >= 1)
		x->timeout_ms = (int64_t)json_real_value(t);
	/* A copy: restarts shake hands again, long after cfg is gone. */
	x->hello = json_pack("{s:i, s:s, s:s?, s:s, s:s, s:o, s:s?}",
			     "protocol", PROTOCOL_VERSION, "cairn", CAIRN_VERSION,
			     "stack", cfg->stack, "provider", cfg->name, "type", cfg->type,
			     "config", json_is_object(cfg->config) ? json_deep_copy(cfg->config) : json_object(),
			     "state_dir", cfg->state_dir);
	if (!x->hello)
		BUG("cannot build the handshake of plugin '%s'", x->label);
	x->can_update = true;
	pthread_mutex_init(&x->start_lock, NULL);

	/* Start it now, so that a plugin that cannot work says so at once. */
	p = acquire(x, err);
	if (!p) {
		exec_close(x);
		return -1;
	}
	release(p);
	*priv = x;
	return 0;
}

/* The params every resource call shares. */
static json_t *req_params(const struct cairn_provider_req *req)
{
	return json_pack("{s:s, s:s, s:s, s:s}", "stack", req->stack, "cairn_id", req->cairn_id,
			 "address", req->address, "kind", cairn_kind_name(req->kind));
}

/* The result's "observed", or a permanent error. */
static int take_observed(struct exec *x, const char *method, json_t *result, json_t **observed,
			 struct cairn_error *err)
{
	json_t *o = json_object_get(result, "observed");

	if (!json_is_object(o)) {
		json_decref(result);
		return cairn_error_set(err, CAIRN_E_PERMANENT, "plugin '%s' answered '%s' without an 'observed' object",
				       x->label, method);
	}
	*observed = json_incref(o);
	json_decref(result);
	return 0;
}

static int resource_call(void *priv, const char *method, const struct cairn_provider_req *req,
			 bool desired, json_t **observed, struct cairn_error *err)
{
	struct exec *x = priv;
	json_t *params = req_params(req), *result;
	int ret;

	if (desired)
		json_object_set(params, "desired", (json_t *)req->desired);
	if (strcmp(method, "create"))
		json_object_set_new(params, "observed",
				    req->observed ? json_incref((json_t *)req->observed) : json_null());
	ret = exec_call(x, method, params, &result, err);
	json_decref(params);
	if (ret < 0)
		return -1;
	if (!observed) {
		json_decref(result);
		return 0;
	}
	return take_observed(x, method, result, observed, err);
}

static int exec_create(void *priv, const struct cairn_provider_req *req, json_t **observed,
		       struct cairn_error *err)
{
	return resource_call(priv, "create", req, true, observed, err);
}

static int exec_read(void *priv, const struct cairn_provider_req *req, json_t **observed,
		     struct cairn_error *err)
{
	return resource_call(priv, "read", req, false, observed, err);
}

static int exec_update(void *priv, const struct cairn_provider_req *req, json_t **observed,
		       struct cairn_error *err)
{
	return resource_call(priv, "update", req, true, observed, err);
}

static int exec_delete(void *priv, const struct cairn_provider_req *req, struct cairn_error *err)
{
	return resource_call(priv, "delete", req, false, NULL, err);
}

static int exec_list(void *priv, const char *stack, json_t **objects, struct cairn_error *err)
{
	struct exec *x = priv;
	json_t *params = json_pack("{s:s}", "stack", stack), *result, *o;
	int ret = exec_call(x, "list", params, &result, err);

	json_decref(params);
	if (ret < 0)
		return -1;
	o = json_object_get(result, "objects");
	if (!json_is_array(o)) {
		json_decref(result);
		return cairn_error_set(err, CAIRN_E_PERMANENT, "plugin '%s' answered 'list' without an 'objects' array",
				       x->label);
	}
	*objects = json_incref(o);
	json_decref(result);
	return 0;
}

static bool exec_can_update(void *priv)
{
	struct exec *x = priv;

	return atomic_load(&x->can_update);
}

/* Every call in flight fails now and the plugin is stopped (SIGTERM, then
 * SIGKILL); a later call would start it again. */
static void exec_abort(void *priv)
{
	struct exec *x = priv;

	pthread_mutex_lock(&x->start_lock);
	if (x->cur) {
		pthread_mutex_lock(&x->cur->lock);
		proc_break(x->cur, CAIRN_E_CONFLICT, "abandoned: cairn was interrupted a second time");
		pthread_mutex_unlock(&x->cur->lock);
	}
	pthread_mutex_unlock(&x->start_lock);
}

static const struct cairn_provider_driver exec_driver = {
	.name = "exec",
	.open = exec_open,
	.close = exec_close,
	.create = exec_create,
	.read = exec_read,
	.update = exec_update,
	.delete = exec_delete,
	.list = exec_list,
	.can_update = exec_can_update,
	.abort = exec_abort,
};

int cairn_provider_exec_register(struct cairn_error *err)
{
	return cairn_provider_driver_register(&exec_driver, err);
}
