/*
 * tunnel.c - the hop through a bastion: a direct-tcpip channel on the
 * bastion's session, and a thread that pumps bytes between it and one end of
 * a socketpair, whose other end the node's libssh session uses as its socket
 * (SSH_OPTIONS_FD).  The node's session is end-to-end encrypted through the
 * bastion, the key stays in memory, and no ssh binary runs: libssh 0.10 has
 * no ProxyJump of its own (its ProxyJump config line becomes a ProxyCommand
 * running ssh -W, which would need the key in a file).
 *
 * The bastion's session and the channel belong to the thread while it runs;
 * libssh allows one thread per session, and nothing else touches them until
 * cairn_ssh_tunnel_stop() has joined it.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <libssh/libssh.h>

#include "util/common.h"
#include "ssh/ssh-priv.h"

CAIRN_LOG_INIT("ssh.tunnel");

/* Stop reading the channel when this much waits for the node's session. */
#define DOWN_MAX (1024 * 1024)

/*
 * The pump never blocks on the channel: it writes to it only as much as the
 * window allows, keeps at most one chunk from the node waiting for window,
 * and does not read the node's end again until that chunk is gone.  A node
 * slow to take its input then only slows the tunnel; the session's timeout
 * (which bounds libssh's blocking waits) never comes into it.  Reading the
 * channel is also what makes libssh process the window adjustments, so it
 * goes on while the buffer towards the node has room; that buffer drains,
 * because libssh reads its socket even while it waits to write.
 */
static void *pump(void *arg)
{
	struct cairn_ssh_tunnel *t = arg;
	struct cairn_buf down = CAIRN_BUF_INIT;   /* channel -> node, not yet sent */
	size_t down_done = 0;
	char up[32768];                            /* node -> channel, not yet written */
	size_t up_len = 0, up_done = 0;
	bool local_eof = false, remote_eof = false, shut = false;
	char chunk[32768];

	for (;;) {
		struct pollfd p[2];
		int n;

		/* channel -> down; libssh may hold data it read while writing,
		 * so read before polling, not only after */
		while (!remote_eof && down.len - down_done < DOWN_MAX) {
			n = ssh_channel_read_nonblocking(t->channel, chunk, sizeof(chunk), 0);
			if (n > 0) {
				cairn_buf_add(&down, chunk, (size_t)n);
				continue;
			}
			if (n < 0 || ssh_channel_is_eof(t->channel) || ssh_channel_is_closed(t->channel))
				remote_eof = true;
			break;
		}
		/* down -> node */
		while (down_done < down.len) {
			ssize_t w = send(t->fd, down.s + down_done, down.len - down_done, MSG_NOSIGNAL | MSG_DONTWAIT);

			if (w > 0) {
				down_done += (size_t)w;
			} else if (w < 0 && errno == EINTR) {
				continue;
			} else {
				if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
					local_eof = true;   /* the node's end is gone */
				break;
			}
		}
		if (down_done == down.len || local_eof) {
			cairn_buf_reset(&down);
			down_done = 0;
		}
		/* up -> channel, within the window */
		while (up_done < up_len && !remote_eof) {
			uint32_t win = ssh_channel_window_size(t->channel);
			size_t len = up_len - up_done;
			int w;

			if (win == 0)
				break;
			if (len > win)
				len = win;
			w = ssh_channel_write(t->channel, up + up_done, (uint32_t)len);
			if (w < 0) {
				cairn_debug("writing to the bastion's channel failed: %s", ssh_get_error(t->bastion));
				remote_eof = true;
				break;
			}
			if (w == 0)
				break;
			up_done += (size_t)w;
		}
		if (up_done == up_len || remote_eof)
			up_len = up_done = 0;
		/* the node's session sees the end once all is sent */
		if (remote_eof && down.len == 0 && !shut) {
			shutdown(t->fd, SHUT_WR);
			shut = true;
		}
		/* the node's session closed its end and all it wrote is passed on */
		if (local_eof && up_len == 0)
			break;

		p[0].fd = t->fd;
		p[0].events = (short)((up_len == 0 && !local_eof ? POLLIN : 0) | (down.len ? POLLOUT : 0));
		p[1].fd = ssh_get_fd(t->bastion);
		p[1].events = (short)(!remote_eof && down.len < DOWN_MAX ? POLLIN : 0);
		p[0].revents = p[1].revents = 0;
		if (poll(p, p[1].fd >= 0 ? 2 : 1, remote_eof ? 1000 : 200) < 0 && errno != EINTR)
			break;
		if (up_len == 0 && !local_eof && (p[0].revents & (POLLIN | POLLHUP | POLLERR))) {
			ssize_t r = recv(t->fd, up, sizeof(up), MSG_DONTWAIT);

			if (r > 0) {
				if (remote_eof)
					continue;   /* nowhere to send it */
				up_len = (size_t)r;
			} else if (r == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
				local_eof = true;
			}
		}
	}
	cairn_buf_release(&down);
	if (!remote_eof && !ssh_channel_is_closed(t->channel))
		ssh_channel_send_eof(t->channel);
	return NULL;
}

struct cairn_ssh_tunnel *cairn_ssh_tunnel_start(ssh_session bastion, const char *host, int port,
						struct cairn_error *err)
{
	struct cairn_ssh_tunnel *t;
	ssh_channel ch = ssh_channel_new(bastion);
	int sv[2], rc;

	if (!ch) {
		cairn_error_set(err, CAIRN_E_RETRYABLE, "cannot open a channel on the bastion: %s",
				ssh_get_error(bastion));
		return NULL;
	}
	if (ssh_channel_open_forward(ch, host, port, "127.0.0.1", 0) != SSH_OK) {
		const char *msg = ssh_get_error(bastion);

		/* Reason 1 is SSH_OPEN_ADMINISTRATIVELY_PROHIBITED (libssh
		 * writes "error (1)"): AllowTcpForwarding no, or a PermitOpen
		 * that leaves the node out; retrying will not help.  Reason 2,
		 * connect failed, is a node whose sshd is not up yet. */
		if (strstr(msg, "error (1)") || strstr(msg, "prohibited"))
			cairn_error_set(err, CAIRN_E_PERMANENT,
					"the bastion refuses to forward to '%s:%d' (administratively prohibited): %s",
					host, port, msg);
		else
			cairn_error_set(err, CAIRN_E_RETRYABLE, "the bastion cannot open a connection to '%s:%d': %s",
					host, port, msg);
		ssh_channel_free(ch);
		return NULL;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		cairn_error_set(err, CAIRN_E_IO, "cannot create a socketpair for the tunnel: %s", strerror(errno));
		ssh_channel_close(ch);
		ssh_channel_free(ch);
		return NULL;
	}
	t = xcalloc(1, sizeof(*t));
	t->bastion = bastion;
	t->channel = ch;
	t->fd = sv[0];
	t->node_fd = sv[1];
	rc = pthread_create(&t->thread, NULL, pump, t);
	if (rc != 0) {
		cairn_error_set(err, CAIRN_E_INTERNAL, "cannot start the tunnel's thread: %s", strerror(rc));
		close(sv[0]);
		close(sv[1]);
		ssh_channel_close(ch);
		ssh_channel_free(ch);
		free(t);
		return NULL;
	}
	t->running = true;
	return t;
}

void cairn_ssh_tunnel_stop(struct cairn_ssh_tunnel *t)
{
	if (!t)
		return;
	/* libssh does not close a socket handed to it with SSH_OPTIONS_FD:
	 * closing it here is what tells the thread to stop */
	close(t->node_fd);
	if (t->running)
		pthread_join(t->thread, NULL);
	if (!ssh_channel_is_closed(t->channel))
		ssh_channel_close(t->channel);
	ssh_channel_free(t->channel);
	ssh_disconnect(t->bastion);
	ssh_free(t->bastion);
	close(t->fd);
	free(t);
}
