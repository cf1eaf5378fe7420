/*
 * ssh-priv.h - what the files of src/ssh/ share, for src/ssh/ only.
 *
 * The public headers (keys.h, ssh.h) keep libssh's types out of their
 * callers' sight; these helpers hand them between the files of the layer.
 */
#ifndef CAIRN_SSH_PRIV_H
#define CAIRN_SSH_PRIV_H

#include <pthread.h>
#include <stdbool.h>

#include <libssh/libssh.h>

#include "cairn/error.h"
#include "ssh/keys.h"
#include "ssh/ssh.h"

/* ssh_init() with the pthread callbacks, once per process; any thread. */
void cairn_ssh_global_init(void);

/* The libssh key inside a cairn_ssh_key (borrowed). */
ssh_key cairn_ssh_key_handle(const struct cairn_ssh_key *key);

/* Parse a public key line (see cairn_ssh_fingerprint()); free with ssh_key_free(). */
ssh_key cairn_ssh_pubkey_parse(const char *line, struct cairn_error *err);
/* "TYPE BASE64[ comment]" of a key's public half; NULL if libssh cannot export it. */
char *cairn_ssh_pubkey_line(const ssh_key key, const char *comment);
/* "SHA256:..." of a key's public half; NULL if libssh cannot hash it. */
char *cairn_ssh_pubkey_fingerprint(const ssh_key key);

/*
 * The hop through a bastion (tunnel.c).  The bastion's session and the
 * direct-tcpip channel to the node belong to the pump thread from
 * cairn_ssh_tunnel_start() on; the node's session talks to node_fd, one end
 * of a socketpair whose other end the thread copies to and from the channel.
 */
struct cairn_ssh_tunnel {
	ssh_session bastion;
	ssh_channel channel;
	int fd;             /* the thread's end */
	int node_fd;        /* the node session's end; closed by cairn_ssh_tunnel_stop() */
	pthread_t thread;
	bool running;
};

/*
 * Open the direct-tcpip channel from the connected bastion session to
 * host:port and start the pump thread.  On success the tunnel owns bastion;
 * on failure bastion is still the caller's.
 */
struct cairn_ssh_tunnel *cairn_ssh_tunnel_start(ssh_session bastion, const char *host, int port,
						struct cairn_error *err);
/* Close the node's end, let the thread finish, free it all (NULL is fine). */
void cairn_ssh_tunnel_stop(struct cairn_ssh_tunnel *t);

struct cairn_ssh_session {
	ssh_session ssh;                 /* the node's */
	char *name;                      /* "user@host:port", for messages */
	char *host_key;                  /* what the node offered, "TYPE BASE64" */
	char *bastion_host_key;          /* what the bastion offered, NULL when direct */
	struct cairn_ssh_tunnel *tunnel; /* NULL when direct */
	int timeout_ms;                  /* for each request (connect_timeout_ms) */
	bool no_sftp;                    /* the server has no sftp subsystem */
};

#endif
