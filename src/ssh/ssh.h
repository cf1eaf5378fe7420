/*
 * ssh.h - SSH sessions to nodes (libssh): connect, directly or through a
 * bastion; run commands; write files; wait for a booting node's sshd.
 *
 * Ownership: targets and options are borrowed for the duration of the call
 * only; nothing in them needs to outlive it.  A session is the caller's,
 * closed and freed by cairn_ssh_close() (NULL is fine).  Strings returned by
 * accessors are borrowed from the session.
 *
 * Keys: the private key is text in memory (keys.h; opened from its sealed
 * form in the state, secretbox.h) and goes to libssh as it is; it is never
 * written anywhere.  No ~/.ssh file, ssh_config, known_hosts or agent is
 * read or used: a session does exactly what its options say.
 *
 * Host keys: with pinned keys, the server must offer one of them (only their
 * types are proposed, so a server with several keys offers the pinned one),
 * otherwise connecting fails with both fingerprints in the message.  Without
 * pins (trust on first use), any key is accepted; cairn_ssh_host_key()
 * returns the one seen, for the caller to pin from then on.
 *
 * Errors: failing to reach sshd (refused, unreachable, timed out, dropped
 * while starting) is CAIRN_E_RETRYABLE; a host key that does not match, a
 * user key the server refuses and a bastion that refuses to forward are
 * CAIRN_E_PERMANENT; wrong options are CAIRN_E_INVALID.
 *
 * Threads: any number of sessions may be used at once from different
 * threads, each session from one thread at a time.  A session through a
 * bastion runs one thread of its own, the pump between the node's session
 * and the bastion's channel (see docs/internals/ssh.md).
 */
#ifndef CAIRN_SSH_SSH_H
#define CAIRN_SSH_SSH_H

#include <stddef.h>
#include <stdint.h>

#include "cairn/error.h"
#include "util/buf.h"

struct cairn_ssh_target {
	const char *host;   /* name or address */
	int port;           /* 0: 22 */
	const char *user;   /* NULL: "root" */
};

#define CAIRN_SSH_CONNECT_TIMEOUT_MS 10000

struct cairn_ssh_options {
	/* The user key, an unencrypted OpenSSH private key (keys.h). */
	const char *private_key;
	/* Pinned host keys: a NULL-terminated array of public key lines
	 * ("ssh-ed25519 AAAA... [comment]", authorized_keys or known_hosts
	 * style); NULL to trust on first use. */
	const char *const *host_keys;
	/* Each step of connecting (TCP, key exchange, authentication, opening
	 * a channel) and each request on the session; 0: the default above. */
	int connect_timeout_ms;
	/* Reach the node through this host (NULL: directly).  The node's
	 * address and port are then as the bastion sees them. */
	const struct cairn_ssh_target *bastion;
	/* The bastion's pinned host keys, as host_keys (NULL: trust on first use). */
	const char *const *bastion_host_keys;
	/* The user key on the bastion; NULL: the same as private_key. */
	const char *bastion_private_key;
};

struct cairn_ssh_session;

/*
 * Connect and authenticate.  NULL with err set (see "Errors" above); the
 * message names the host, and the bastion when it is the bastion that failed.
 */
struct cairn_ssh_session *cairn_ssh_connect(const struct cairn_ssh_target *target,
					    const struct cairn_ssh_options *opts,
					    struct cairn_error *err);

/*
 * Connect as cairn_ssh_connect() does, again and again until it works or
 * deadline_ms (on the cairn_now_ms() clock, util/clock.h) passes: for a node
 * that is booting.  Retryable failures are retried with a back-off from
 * 200 ms to 2 s, and so is a refused user key, which a node may not have
 * installed yet when its sshd starts; a host key that does not match stops
 * at once.  The last attempt starts at the deadline at the latest; its
 * failure is returned with its code, as "'HOST' not ready after N ms
 * (K attempts): ...".
 */
struct cairn_ssh_session *cairn_ssh_wait_ready(const struct cairn_ssh_target *target,
					       const struct cairn_ssh_options *opts,
					       int64_t deadline_ms, struct cairn_error *err);

/* The node's host key as seen: "TYPE BASE64". */
const char *cairn_ssh_host_key(const struct cairn_ssh_session *s);
/* The bastion's host key as seen, or NULL when the session is direct. */
const char *cairn_ssh_bastion_host_key(const struct cairn_ssh_session *s);
/* "user@host:port", for messages. */
const char *cairn_ssh_name(const struct cairn_ssh_session *s);

/*
 * Run command (a shell command line, run by the user's shell on the node),
 * feed it in_len bytes of in (in NULL: an empty standard input) and collect
 * its standard output in out and its standard error in errout (either may be
 * NULL to discard it; appended to).  A buffer's ceiling (buf.h) is honoured:
 * more output than that fails the call.  *exit_status gets the command's
 * exit status, or 128 + the signal number when a signal ended it, or -1 when
 * the server sent neither.  timeout_ms bounds the whole command (<= 0: no
 * bound); when it passes, the command is sent SIGKILL and the call fails
 * with CAIRN_E_RETRYABLE.
 *
 * Returns 0 when the command ran, whatever its exit status; -1 with err set
 * when it could not be run or followed to its end.
 */
int cairn_ssh_run(struct cairn_ssh_session *s, const char *command, const void *in, size_t in_len,
		  struct cairn_buf *out, struct cairn_buf *errout, int *exit_status, int timeout_ms,
		  struct cairn_error *err);

/*
 * Write len bytes of content to path on the node (created or truncated) and
 * give it mode (e.g. 0600).  Through SFTP when the server offers it, else by
 * running "cat > path" and chmod (small images may have no sftp-server).
 * Returns 0, or -1 with err set (CAIRN_E_PERMANENT when the node refuses).
 */
int cairn_ssh_put_file(struct cairn_ssh_session *s, const char *path, const void *content, size_t len,
		       unsigned mode, struct cairn_error *err);

/*
 * An interactive login shell: on a pty sized like in_fd's terminal when
 * in_fd is one (the terminal is in raw mode meanwhile, and resizes are
 * passed on), else plain; the node's output goes to out_fd (its standard
 * error to 2 when out_fd is 1).  Returns when the shell exits, with
 * *exit_status as cairn_ssh_run() gives it.
 */
int cairn_ssh_shell(struct cairn_ssh_session *s, int in_fd, int out_fd, int *exit_status,
		    struct cairn_error *err);

/*
 * A stream to host:port (as via sees it) opened by via's sshd, as ssh -W
 * or -L would: connect and authenticate to via with opts (private_key and
 * host_keys, via's pins; bastion options are ignored), open a direct-tcpip
 * channel and pump it to a local socket, *fd, which the caller reads and
 * writes and closes before cairn_ssh_forward_close() (which stops the pump
 * and disconnects).  NULL with err set as for cairn_ssh_connect(), or
 * CAIRN_E_RETRYABLE when via cannot reach host:port.
 */
struct cairn_ssh_forward;
struct cairn_ssh_forward *cairn_ssh_forward_open(const struct cairn_ssh_target *via,
						 const struct cairn_ssh_options *opts,
						 const char *host, int port, int *fd,
						 struct cairn_error *err);
void cairn_ssh_forward_close(struct cairn_ssh_forward *f);

/* Disconnect (and from the bastion), stop the pump thread, free s. */
void cairn_ssh_close(struct cairn_ssh_session *s);

#endif
