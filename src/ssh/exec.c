/*
 * exec.c - commands and files on a node: one channel per command, its
 * standard input written as the channel's window allows while both output
 * streams are read, so that no size of input or output can deadlock; files
 * through SFTP, or through "cat" where the image has no sftp-server.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>

#include <libssh/callbacks.h>
#include <libssh/libssh.h>
#include <libssh/sftp.h>

#include "util/common.h"
#include "util/clock.h"
#include "ssh/ssh-priv.h"
#include "ssh/ssh.h"

CAIRN_LOG_INIT("ssh.exec");

/* Bound of the "cat > path" fallback of cairn_ssh_put_file(). */
#define PUT_TIMEOUT_MS (5 * 60 * 1000)

struct run_state {
	int signal;   /* the number of the signal that ended the command, 0 if none */
};

static const struct { const char *name; int num; } signals[] = {
	{ "HUP", 1 }, { "INT", 2 }, { "QUIT", 3 }, { "ILL", 4 }, { "ABRT", 6 }, { "BUS", 7 },
	{ "FPE", 8 }, { "KILL", 9 }, { "USR1", 10 }, { "SEGV", 11 }, { "USR2", 12 },
	{ "PIPE", 13 }, { "ALRM", 14 }, { "TERM", 15 },
};

static void on_exit_signal(ssh_session session, ssh_channel channel, const char *sig, int core,
			   const char *errmsg, const char *lang, void *userdata)
{
	struct run_state *st = userdata;

	(void)session;
	(void)channel;
	(void)core;
	(void)errmsg;
	(void)lang;
	for (size_t i = 0; i < ARRAY_SIZE(signals); i++)
		if (sig && strcmp(sig, signals[i].name) == 0)
			st->signal = signals[i].num;
}

/* The first line of a command, shortened, for messages. */
static char *command_label(const char *command)
{
	size_t n = strcspn(command, "\n");

	if (n > 60)
		return xasprintf("%.57s...", command);
	return n < strlen(command) ? xasprintf("%.*s ...", (int)n, command) : xstrdup(command);
}

/* Append what the channel holds on one stream; -1 with err set on failure. */
static int drain(struct cairn_ssh_session *s, ssh_channel ch, int is_stderr, struct cairn_buf *b,
		 const char *label, bool *progress, struct cairn_error *err)
{
	char chunk[16384];

	for (;;) {
		int n = ssh_channel_read_nonblocking(ch, chunk, sizeof(chunk), is_stderr);

		if (n == SSH_ERROR)
			return cairn_error_set(err, CAIRN_E_RETRYABLE, "lost '%s' while running '%s': %s",
					       s->name, label, ssh_get_error(s->ssh));
		if (n <= 0)
			return 0;
		*progress = true;
		if (b && cairn_buf_add(b, chunk, (size_t)n) < 0)
			return cairn_error_set(err, CAIRN_E_PERMANENT,
					       is_stderr ? "'%s' on '%s' wrote more than %zu bytes to its standard error"
							 : "'%s' on '%s' wrote more than %zu bytes to its standard output",
					       label, s->name, b->max);
	}
}

int cairn_ssh_run(struct cairn_ssh_session *s, const char *command, const void *in, size_t in_len,
		  struct cairn_buf *out, struct cairn_buf *errout, int *exit_status, int timeout_ms,
		  struct cairn_error *err)
{
	struct run_state st = { 0 };
	struct ssh_channel_callbacks_struct cb = {
		.userdata = &st,
		.channel_exit_signal_function = on_exit_signal,
	};
	const unsigned char *inp = in;
	int64_t deadline = timeout_ms > 0 ? cairn_now_ms() + timeout_ms : 0;
	char *label = command_label(command);
	size_t off = 0;
	bool eof_sent = false;
	ssh_channel ch;
	int ret = -1, status;

	if (exit_status)
		*exit_status = -1;
	ch = ssh_channel_new(s->ssh);
	if (!ch || ssh_channel_open_session(ch) != SSH_OK) {
		cairn_error_set(err, CAIRN_E_RETRYABLE, "cannot open a channel on '%s': %s", s->name,
				ssh_get_error(s->ssh));
		goto out;
	}
	ssh_callbacks_init(&cb);
	ssh_set_channel_callbacks(ch, &cb);
	if (ssh_channel_request_exec(ch, command) != SSH_OK) {
		cairn_error_set(err, ssh_is_connected(s->ssh) ? CAIRN_E_PERMANENT : CAIRN_E_RETRYABLE,
				"'%s' refused to run '%s': %s", s->name, label, ssh_get_error(s->ssh));
		goto out;
	}
	for (;;) {
		bool progress = false;
		struct pollfd p;
		int64_t wait;

		if (drain(s, ch, 0, out, label, &progress, err) < 0 ||
		    drain(s, ch, 1, errout, label, &progress, err) < 0)
			goto out;
		if (off < in_len) {
			uint32_t win = ssh_channel_window_size(ch);

			if (win > 0) {
				size_t n = in_len - off;
				int w;

				if (n > win)
					n = win;
				if (n > 32768)
					n = 32768;
				w = ssh_channel_write(ch, inp + off, (uint32_t)n);
				if (w < 0) {
					/* a command that does not read its input may
					 * exit before it is all written: not an error */
					if (ssh_channel_is_eof(ch) || ssh_channel_is_closed(ch))
						off = in_len;
					else {
						cairn_error_set(err, CAIRN_E_RETRYABLE,
								"lost '%s' while writing to '%s': %s",
								s->name, label, ssh_get_error(s->ssh));
						goto out;
					}
				} else {
					off += (size_t)w;
					progress = true;
				}
			}
		} else if (!eof_sent) {
			ssh_channel_send_eof(ch);
			eof_sent = true;
		}
		/* true only once both streams are drained */
		if (ssh_channel_is_eof(ch) || ssh_channel_is_closed(ch))
			break;
		if (progress)
			continue;
		wait = 200;
		if (deadline) {
			int64_t left = deadline - cairn_now_ms();

			if (left <= 0) {
				ssh_channel_request_send_signal(ch, "KILL");
				cairn_error_set(err, CAIRN_E_RETRYABLE, "'%s' on '%s' timed out after %d ms",
						label, s->name, timeout_ms);
				goto out;
			}
			if (left < wait)
				wait = left;
		}
		p.fd = ssh_get_fd(s->ssh);
		p.events = POLLIN;
		p.revents = 0;
		if (p.fd < 0) {
			cairn_error_set(err, CAIRN_E_RETRYABLE, "lost '%s' while running '%s'", s->name, label);
			goto out;
		}
		poll(&p, 1, (int)wait);
	}
	/* the exit status comes with the end of output, or just after it */
	status = ssh_channel_get_exit_status(ch);
	if (status < 0 && st.signal)
		status = 128 + st.signal;
	if (exit_status)
		*exit_status = status;
	cairn_debug("'%s' on '%s' exited with %d", label, s->name, status);
	ret = 0;
out:
	if (ch) {
		if (!ssh_channel_is_closed(ch))
			ssh_channel_close(ch);
		ssh_channel_free(ch);
	}
	free(label);
	return ret;
}

static const char *sftp_strerror(int code)
{
	switch (code) {
	case SSH_FX_NO_SUCH_FILE:
	case SSH_FX_NO_SUCH_PATH: return "no such file or directory";
	case SSH_FX_PERMISSION_DENIED: return "permission denied";
	case SSH_FX_WRITE_PROTECT: return "read-only file system";
	case SSH_FX_FILE_ALREADY_EXISTS: return "file exists";
	case SSH_FX_OP_UNSUPPORTED: return "operation not supported";
	case SSH_FX_CONNECTION_LOST:
	case SSH_FX_NO_CONNECTION: return "connection lost";
	default: return "failure";
	}
}

/* 0 when written, 1 when the server has no SFTP, -1 with err set. */
static int put_sftp(struct cairn_ssh_session *s, const char *path, const unsigned char *content,
		    size_t len, unsigned mode, struct cairn_error *err)
{
	sftp_session sf = sftp_new(s->ssh);
	sftp_file f = NULL;
	size_t off = 0;
	int ret = -1;

	if (!sf || sftp_init(sf) != SSH_OK) {
		if (sf)
			sftp_free(sf);
		if (!ssh_is_connected(s->ssh))
			return cairn_error_set(err, CAIRN_E_RETRYABLE, "lost '%s' while starting SFTP: %s",
					       s->name, ssh_get_error(s->ssh));
		cairn_debug("'%s' has no SFTP (%s): writing files with cat", s->name, ssh_get_error(s->ssh));
		return 1;
	}
	f = sftp_open(sf, path, O_WRONLY | O_CREAT | O_TRUNC, (mode_t)(mode & 07777));
	if (!f) {
		cairn_error_set(err, CAIRN_E_PERMANENT, "cannot write '%s' on '%s': %s", path, s->name,
				sftp_strerror(sftp_get_error(sf)));
		goto out;
	}
	while (off < len) {
		size_t n = len - off > 32768 ? 32768 : len - off;
		ssize_t w = sftp_write(f, content + off, n);

		if (w <= 0) {
			cairn_error_set(err, CAIRN_E_PERMANENT, "cannot write '%s' on '%s': %s", path, s->name,
					sftp_strerror(sftp_get_error(sf)));
			goto out;
		}
		off += (size_t)w;
	}
	if (sftp_close(f) != SSH_NO_ERROR) {
		f = NULL;
		cairn_error_set(err, CAIRN_E_PERMANENT, "cannot write '%s' on '%s': %s", path, s->name,
				sftp_strerror(sftp_get_error(sf)));
		goto out;
	}
	f = NULL;
	/* open() applied the server's umask: set the mode asked for */
	if (sftp_chmod(sf, path, (mode_t)(mode & 07777)) < 0) {
		cairn_error_set(err, CAIRN_E_PERMANENT, "cannot chmod '%s' on '%s': %s", path, s->name,
				sftp_strerror(sftp_get_error(sf)));
		goto out;
	}
	ret = 0;
out:
	if (f)
		sftp_close(f);
	sftp_free(sf);
	return ret;
}

static int put_cat(struct cairn_ssh_session *s, const char *path, const void *content, size_t len,
		   unsigned mode, struct cairn_error *err)
{
	struct cairn_buf cmd = CAIRN_BUF_INIT, errout = CAIRN_BUF_INIT;
	int status = -1, ret = -1;

	/* umask first: the file never exists with a wider mode than asked */
	cairn_buf_addstr(&cmd, "umask 077 && cat > ");
	cairn_buf_add_sh_quoted(&cmd, path);
	cairn_buf_addf(&cmd, " && chmod %04o ", mode & 07777);
	cairn_buf_add_sh_quoted(&cmd, path);
	cairn_buf_init(&errout, 64 * 1024);
	if (cairn_ssh_run(s, cmd.s, content, len, NULL, &errout, &status, PUT_TIMEOUT_MS, err) < 0)
		goto out;
	if (status != 0) {
		while (errout.len && (errout.s[errout.len - 1] == '\n' || errout.s[errout.len - 1] == '\r'))
			cairn_buf_truncate(&errout, errout.len - 1);
		cairn_error_set(err, CAIRN_E_PERMANENT, "cannot write '%s' on '%s': %s", path, s->name,
				errout.len ? errout.s : "the command failed");
		goto out;
	}
	ret = 0;
out:
	cairn_buf_release(&cmd);
	cairn_buf_release(&errout);
	return ret;
}

int cairn_ssh_put_file(struct cairn_ssh_session *s, const char *path, const void *content, size_t len,
		       unsigned mode, struct cairn_error *err)
{
	if (!path || !*path)
		return cairn_error_set(err, CAIRN_E_INVALID, "no path to write on '%s'", s->name);
	if (!s->no_sftp) {
		int rc = put_sftp(s, path, content, len, mode, err);

		if (rc <= 0)
			return rc;
		s->no_sftp = true;
	}
	return put_cat(s, path, content, len, mode, err);
}
