/*
 * shell.c - an interactive login shell on a node (`cairn ssh STACK NODE`):
 * a pty sized like the local terminal, the terminal in raw mode for the
 * session, and the bytes copied both ways until the shell exits.
 */
#include "util/common.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "ssh/ssh-priv.h"
#include "util/fileio.h"

static volatile sig_atomic_t resized;

static void on_winch(int sig)
{
	(void)sig;
	resized = 1;
}

static void send_size(ssh_channel ch, int fd)
{
	struct winsize ws;

	if (!ioctl(fd, TIOCGWINSZ, &ws) && ws.ws_col && ws.ws_row)
		ssh_channel_change_pty_size(ch, ws.ws_col, ws.ws_row);
}

int cairn_ssh_shell(struct cairn_ssh_session *s, int in_fd, int out_fd, int *exit_status,
		    struct cairn_error *err)
{
	bool tty = isatty(in_fd);
	struct termios saved, raw;
	struct sigaction sa = { .sa_handler = on_winch }, old_sa;
	ssh_channel ch = ssh_channel_new(s->ssh);
	bool in_open = true;
	char buf[16384];
	int ret = -1;

	*exit_status = -1;
	if (!ch || ssh_channel_open_session(ch) != SSH_OK) {
		if (ch)
			ssh_channel_free(ch);
		return cairn_error_set(err, CAIRN_E_RETRYABLE, "cannot open a channel on '%s': %s", s->name,
				       ssh_get_error(s->ssh));
	}
	if (tty) {
		const char *term = getenv("TERM");
		struct winsize ws = { .ws_col = 80, .ws_row = 24 };

		ioctl(in_fd, TIOCGWINSZ, &ws);
		if (ssh_channel_request_pty_size(ch, term && *term ? term : "xterm", ws.ws_col ? ws.ws_col : 80,
						 ws.ws_row ? ws.ws_row : 24) != SSH_OK) {
			cairn_error_set(err, CAIRN_E_PERMANENT, "'%s' refused a terminal: %s", s->name,
					ssh_get_error(s->ssh));
			goto out;
		}
	}
	if (ssh_channel_request_shell(ch) != SSH_OK) {
		cairn_error_set(err, CAIRN_E_PERMANENT, "'%s' refused a shell: %s", s->name, ssh_get_error(s->ssh));
		goto out;
	}
	if (tty) {
		tcgetattr(in_fd, &saved);
		raw = saved;
		cfmakeraw(&raw);
		tcsetattr(in_fd, TCSANOW, &raw);
		sigemptyset(&sa.sa_mask);
		sigaction(SIGWINCH, &sa, &old_sa);
	}
	for (;;) {
		struct pollfd p[2] = { { .fd = in_fd, .events = POLLIN }, { .fd = ssh_get_fd(s->ssh), .events = POLLIN } };
		int n, got = 0;

		for (int stream = 0; stream < 2; stream++)
			while ((n = ssh_channel_read_nonblocking(ch, buf, sizeof(buf), stream)) > 0) {
				if (cairn_write_all(stream ? (out_fd == 1 ? 2 : out_fd) : out_fd, buf, (size_t)n) < 0)
					goto done;
				got = 1;
			}
		if (n == SSH_ERROR || ssh_channel_is_eof(ch) || ssh_channel_is_closed(ch))
			break;
		if (got)
			continue;
		if (resized) {
			resized = 0;
			send_size(ch, in_fd);
		}
		if (poll(in_open ? p : p + 1, in_open ? 2 : 1, 200) < 0 && errno != EINTR)
			break;
		if (in_open && (p[0].revents & (POLLIN | POLLHUP))) {
			ssize_t r = read(in_fd, buf, sizeof(buf));

			if (r > 0)
				ssh_channel_write(ch, buf, (uint32_t)r);
			else if (r == 0 || errno != EINTR) {
				in_open = false;
				ssh_channel_send_eof(ch);
			}
		}
	}
done:
	if (tty) {
		tcsetattr(in_fd, TCSANOW, &saved);
		sigaction(SIGWINCH, &old_sa, NULL);
	}
	*exit_status = ssh_channel_get_exit_status(ch);
	ret = 0;
out:
	ssh_channel_close(ch);
	ssh_channel_free(ch);
	return ret;
}
