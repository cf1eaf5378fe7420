/*
 * command.c - the runner of command.h: posix_spawn, pipes and one poll()
 * loop that feeds standard input and drains both outputs, so that a command
 * writing a lot to one stream while cairn writes to its input never
 * deadlocks.
 */
#include "util/common.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util/clock.h"
#include "util/command.h"

CAIRN_LOG_INIT("util.command");

#define KILL_GRACE_MS 2000

extern char **environ;

/* environ with each of env's NAME=VALUE set (replacing NAME); free the array only */
static char **make_env(const char *const *env)
{
	size_t n = 0, k = 0, add = 0;
	char **out;

	while (environ[n])
		n++;
	while (env && env[add])
		add++;
	out = xcalloc(n + add + 1, sizeof(*out));
	for (size_t i = 0; i < n; i++) {
		bool replaced = false;

		for (size_t j = 0; j < add && !replaced; j++) {
			size_t len = strcspn(env[j], "=");

			replaced = !strncmp(environ[i], env[j], len) && environ[i][len] == '=';
		}
		if (!replaced)
			out[k++] = environ[i];
	}
	for (size_t j = 0; j < add; j++)
		out[k++] = (char *)env[j];
	return out;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* Read what fd has into b (kept up to its ceiling); false at EOF or error. */
static bool drain(int fd, struct cairn_buf *b)
{
	char chunk[16384];
	ssize_t n = read(fd, chunk, sizeof(chunk));

	if (n < 0)
		return errno == EINTR || errno == EAGAIN;
	if (n == 0)
		return false;
	if (b && (!b->max || b->len < b->max))
		cairn_buf_add(b, chunk, b->max && b->len + (size_t)n > b->max ? b->max - b->len : (size_t)n);
	return true;
}

int cairn_command_run(const struct cairn_command *c, struct cairn_buf *out, struct cairn_buf *errout,
		      int *status, struct cairn_error *err)
{
	int in[2] = { -1, -1 }, o[2] = { -1, -1 }, e[2] = { -1, -1 };
	bool same = out && out == errout;
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t all, none, pipe_set, old;
	int64_t deadline = c->timeout_ms > 0 ? cairn_now_ms() + c->timeout_ms : 0, killed_at = 0;
	size_t fed = 0;
	char **envp;
	pid_t pid;
	int rc, wstatus = 0;
	bool exited = false, timed_out = false;

	*status = -1;
	if (pipe2(o, O_CLOEXEC) < 0 || (!same && pipe2(e, O_CLOEXEC) < 0) ||
	    (c->in && pipe2(in, O_CLOEXEC) < 0)) {
		rc = errno;
		for (int i = 0; i < 2; i++) {
			close_fd(&o[i]);
			close_fd(&e[i]);
			close_fd(&in[i]);
		}
		return cairn_error_set(err, CAIRN_E_IO, "cannot make pipes for '%s': %s", c->argv[0],
				       strerror(rc));
	}
	posix_spawn_file_actions_init(&fa);
	if (c->in)
		posix_spawn_file_actions_adddup2(&fa, in[0], 0);
	else
		posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, o[1], 1);
	posix_spawn_file_actions_adddup2(&fa, same ? o[1] : e[1], 2);
	if (c->dir)
		posix_spawn_file_actions_addchdir_np(&fa, c->dir);
	sigfillset(&all);
	sigemptyset(&none);
	posix_spawnattr_init(&attr);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF |
					POSIX_SPAWN_SETSIGMASK);
	posix_spawnattr_setpgroup(&attr, 0);
	posix_spawnattr_setsigdefault(&attr, &all);
	posix_spawnattr_setsigmask(&attr, &none);
	envp = make_env(c->env);
	rc = posix_spawnp(&pid, c->argv[0], &fa, &attr, (char *const *)c->argv, envp);
	free(envp);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	close_fd(&in[0]);
	close_fd(&o[1]);
	close_fd(&e[1]);
	if (rc) {
		close_fd(&in[1]);
		close_fd(&o[0]);
		close_fd(&e[0]);
		return cairn_error_set(err, rc == ENOENT ? CAIRN_E_NOTFOUND : CAIRN_E_IO,
				       "cannot run '%s': %s", c->argv[0], strerror(rc));
	}
	cairn_debug("started '%s' as pid %d", c->argv[0], (int)pid);
	if (in[1] >= 0)
		fcntl(in[1], F_SETFL, O_NONBLOCK);
	if (in[1] >= 0 && !c->in_len)
		close_fd(&in[1]);

	/* a command that stops reading its input must not kill cairn */
	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_set, &old);

	while (o[0] >= 0 || e[0] >= 0 || !exited) {
		struct pollfd p[3];
		int np = 0, wait_ms = 100;
		int64_t now = cairn_now_ms();

		if (deadline && now >= deadline && !killed_at) {
			timed_out = true;
			killed_at = now;
			kill(-pid, SIGTERM);
		}
		if (killed_at && now >= killed_at + KILL_GRACE_MS)
			kill(-pid, SIGKILL);
		if (!exited) {
			/* not reaped yet: while it is a zombie, its pid and process
			 * group id cannot name anything else */
			siginfo_t si = { 0 };

			if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0 ||
			    si.si_pid == pid)
				exited = true;
		}
		if (o[0] >= 0)
			p[np++] = (struct pollfd){ .fd = o[0], .events = POLLIN };
		if (e[0] >= 0)
			p[np++] = (struct pollfd){ .fd = e[0], .events = POLLIN };
		if (in[1] >= 0)
			p[np++] = (struct pollfd){ .fd = in[1], .events = POLLOUT };
		if (!np) {
			if (exited)
				break;
			/* outputs closed, still running: wait for its exit */
			struct timespec ts = { 0, 20 * 1000000L };

			nanosleep(&ts, NULL);
			continue;
		}
		if (poll(p, (nfds_t)np, wait_ms) < 0 && errno != EINTR)
			break;
		for (int i = 0; i < np; i++) {
			if (!p[i].revents)
				continue;
			if (p[i].fd == o[0] && !drain(o[0], out))
				close_fd(&o[0]);
			else if (p[i].fd == e[0] && !drain(e[0], errout))
				close_fd(&e[0]);
			else if (p[i].fd == in[1]) {
				ssize_t w = write(in[1], (const char *)c->in + fed, c->in_len - fed);

				if (w > 0)
					fed += (size_t)w;
				if ((w < 0 && errno != EAGAIN && errno != EINTR) || fed == c->in_len)
					close_fd(&in[1]);
			}
		}
	}
	close_fd(&in[1]);
	close_fd(&o[0]);
	close_fd(&e[0]);
	/* what it left running in its process group goes with it (an
	 * ssh-agent waiting to notice its parent is gone) */
	kill(-pid, SIGTERM);
	while (waitpid(pid, &wstatus, 0) < 0 && errno == EINTR)
		;
	{
		/* take back a SIGPIPE our writes raised */
		struct timespec zero = { 0, 0 };
		sigset_t pending;

		sigpending(&pending);
		if (sigismember(&pending, SIGPIPE) && !sigismember(&old, SIGPIPE))
			sigtimedwait(&pipe_set, NULL, &zero);
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (timed_out)
		return cairn_error_set(err, CAIRN_E_RETRYABLE, "'%s' ran for more than %d ms and was killed",
				       c->argv[0], c->timeout_ms);
	if (WIFEXITED(wstatus))
		*status = WEXITSTATUS(wstatus);
	else if (WIFSIGNALED(wstatus))
		*status = 128 + WTERMSIG(wstatus);
	return 0;
}
