/*
 * ssh.c - sessions: connect (directly or through the bastion's tunnel),
 * check the host key against the pins, authenticate with the in-memory key,
 * retry while a node boots, close.
 */
#include <errno.h>
#include <fcntl.h>
#include <time.h>

#include <libssh/libssh.h>

#include "util/common.h"
#include "util/clock.h"
#include "ssh/keys.h"
#include "ssh/ssh-priv.h"
#include "ssh/ssh.h"

CAIRN_LOG_INIT("ssh");

/* How connecting failed, for cairn_ssh_wait_ready() to decide on a retry. */
enum fail_kind {
	FAIL_NONE = 0,
	FAIL_REACH,     /* sshd not reached or dropped us: retryable */
	FAIL_AUTH,      /* the user key was refused */
	FAIL_HOSTKEY,   /* the host key does not match the pins */
	FAIL_OTHER,     /* wrong options, refused forwarding, a bug */
};

/* What one hop needs: a target and how to trust and log into it. */
struct hop {
	const struct cairn_ssh_target *target;
	const char *private_key;
	const char *const *pins;
	int timeout_ms;
	int fd;                 /* connect over this socket; -1 to dial target */
};

static const char *user_of(const struct cairn_ssh_target *t)
{
	return t->user && *t->user ? t->user : "root";
}

static int port_of(const struct cairn_ssh_target *t)
{
	return t->port > 0 ? t->port : 22;
}

static char *target_name(const struct cairn_ssh_target *t)
{
	return xasprintf("%s@%s:%d", user_of(t), t->host, port_of(t));
}

/* Parse the pins; -1 with err set when one is not a public key. */
static int parse_pins(const char *const *lines, ssh_key **keys, size_t *n, struct cairn_error *err)
{
	size_t count = 0;

	*keys = NULL;
	*n = 0;
	if (!lines)
		return 0;
	while (lines[count])
		count++;
	if (count == 0)
		return cairn_error_set(err, CAIRN_E_INVALID, "the list of pinned host keys is empty");
	*keys = xcalloc(count, sizeof(**keys));
	for (size_t i = 0; i < count; i++) {
		(*keys)[i] = cairn_ssh_pubkey_parse(lines[i], err);
		if (!(*keys)[i]) {
			cairn_error_context(err, "while reading pinned host key %zu", i + 1);
			*n = i;
			return -1;
		}
	}
	*n = count;
	return 0;
}

static void free_pins(ssh_key *keys, size_t n)
{
	for (size_t i = 0; i < n; i++)
		ssh_key_free(keys[i]);
	free(keys);
}

/* The host key algorithms to propose: those of the pinned keys, so that a
 * server holding several keys shows the one we know. */
static char *pin_algorithms(ssh_key *keys, size_t n)
{
	struct cairn_buf b = CAIRN_BUF_INIT;

	for (size_t i = 0; i < n; i++) {
		enum ssh_keytypes_e t = ssh_key_type(keys[i]);
		const char *alg = t == SSH_KEYTYPE_RSA ? "rsa-sha2-512,rsa-sha2-256" : ssh_key_type_to_char(t);
		char *have, *probe;

		if (!alg)
			continue;
		have = xasprintf(",%s,", b.s);
		probe = xasprintf(",%s,", alg);
		if (!strstr(have, probe))
			cairn_buf_addf(&b, "%s%s", b.len ? "," : "", alg);
		free(have);
		free(probe);
	}
	return cairn_buf_detach(&b, NULL);
}

/* A list of fingerprints "SHA256:a, SHA256:b" for a message. */
static char *pin_fingerprints(ssh_key *keys, size_t n)
{
	struct cairn_buf b = CAIRN_BUF_INIT;

	for (size_t i = 0; i < n; i++) {
		char *fp = cairn_ssh_pubkey_fingerprint(keys[i]);

		cairn_buf_addf(&b, "%s%s", i ? ", " : "", fp ? fp : "?");
		free(fp);
	}
	return cairn_buf_detach(&b, NULL);
}

static int set_options(ssh_session ssh, const struct hop *h, const char *algs, struct cairn_error *err)
{
	const struct cairn_ssh_target *t = h->target;
	long sec = h->timeout_ms / 1000, usec = (long)(h->timeout_ms % 1000) * 1000;
	int port = port_of(t), no = 0, yes = 1;

	/* Nothing from ~/.ssh or /etc/ssh: not the config, not known_hosts
	 * (libssh would order host key algorithms by it), not the agent. */
	if (ssh_options_set(ssh, SSH_OPTIONS_PROCESS_CONFIG, &no) < 0 ||
	    ssh_options_set(ssh, SSH_OPTIONS_KNOWNHOSTS, "/dev/null") < 0 ||
	    ssh_options_set(ssh, SSH_OPTIONS_GLOBAL_KNOWNHOSTS, "/dev/null") < 0 ||
	    ssh_options_set(ssh, SSH_OPTIONS_HOST, t->host) < 0 ||
	    ssh_options_set(ssh, SSH_OPTIONS_PORT, &port) < 0 ||
	    ssh_options_set(ssh, SSH_OPTIONS_USER, user_of(t)) < 0 ||
	    ssh_options_set(ssh, SSH_OPTIONS_TIMEOUT, &sec) < 0 ||
	    ssh_options_set(ssh, SSH_OPTIONS_TIMEOUT_USEC, &usec) < 0 ||
	    ssh_options_set(ssh, SSH_OPTIONS_NODELAY, &yes) < 0 ||
	    ssh_options_set(ssh, SSH_OPTIONS_PASSWORD_AUTH, &no) < 0 ||
	    ssh_options_set(ssh, SSH_OPTIONS_KBDINT_AUTH, &no) < 0 ||
	    ssh_options_set(ssh, SSH_OPTIONS_GSSAPI_AUTH, &no) < 0)
		return cairn_error_set(err, CAIRN_E_INVALID, "cannot set the SSH options for '%s': %s",
				       t->host, ssh_get_error(ssh));
	if (algs && *algs && ssh_options_set(ssh, SSH_OPTIONS_HOSTKEYS, algs) < 0)
		return cairn_error_set(err, CAIRN_E_INVALID, "cannot propose host key types '%s': %s",
				       algs, ssh_get_error(ssh));
	if (h->fd >= 0 && ssh_options_set(ssh, SSH_OPTIONS_FD, &h->fd) < 0)
		return cairn_error_set(err, CAIRN_E_INTERNAL, "cannot hand the tunnel to libssh: %s",
				       ssh_get_error(ssh));
	return 0;
}

/* Compare the server's key with the pins; records what was seen. */
static enum fail_kind check_host_key(ssh_session ssh, const char *name, ssh_key *pins, size_t npins,
				     char **seen, struct cairn_error *err)
{
	ssh_key srv = NULL;
	char *fp, *want;

	if (ssh_get_server_publickey(ssh, &srv) != SSH_OK) {
		cairn_error_set(err, CAIRN_E_RETRYABLE, "cannot get the host key of '%s': %s", name,
				ssh_get_error(ssh));
		return FAIL_REACH;
	}
	*seen = cairn_ssh_pubkey_line(srv, NULL);
	for (size_t i = 0; i < npins; i++) {
		if (ssh_key_cmp(pins[i], srv, SSH_KEY_CMP_PUBLIC) == 0) {
			ssh_key_free(srv);
			return FAIL_NONE;
		}
	}
	if (npins == 0) {   /* trust on first use */
		ssh_key_free(srv);
		return FAIL_NONE;
	}
	fp = cairn_ssh_pubkey_fingerprint(srv);
	want = pin_fingerprints(pins, npins);
	cairn_error_set(err, CAIRN_E_PERMANENT,
			npins == 1 ? "host key mismatch for '%s': the server offered %s %s, the pinned key is %s"
				   : "host key mismatch for '%s': the server offered %s %s, the pinned keys are %s",
			name, ssh_key_type_to_char(ssh_key_type(srv)), fp ? fp : "?", want);
	cairn_error_hint(err, "if the host was reinstalled, pin its new key; otherwise someone may be in the middle");
	free(fp);
	free(want);
	ssh_key_free(srv);
	return FAIL_HOSTKEY;
}

static enum fail_kind authenticate(ssh_session ssh, const char *name, const char *private_key,
				   struct cairn_error *err)
{
	struct cairn_ssh_key *key = cairn_ssh_key_import(private_key, err);
	enum fail_kind kind = FAIL_NONE;
	char *fp;
	int rc;

	if (!key)
		return FAIL_OTHER;
	rc = ssh_userauth_publickey(ssh, NULL, cairn_ssh_key_handle(key));
	switch (rc) {
	case SSH_AUTH_SUCCESS:
		break;
	case SSH_AUTH_DENIED:
	case SSH_AUTH_PARTIAL:
		fp = cairn_ssh_key_fingerprint(key);
		cairn_error_set(err, CAIRN_E_PERMANENT,
				rc == SSH_AUTH_DENIED
				? "authentication failed on '%s': the server refused key %s"
				: "authentication failed on '%s': the server wants more than key %s",
				name, fp);
		free(fp);
		kind = FAIL_AUTH;
		break;
	default:
		cairn_error_set(err, CAIRN_E_RETRYABLE, "authentication on '%s' broke off: %s", name,
				ssh_get_error(ssh));
		kind = FAIL_REACH;
		break;
	}
	cairn_ssh_key_free(key);
	return kind;
}

/*
 * Connect one hop: TCP (or h->fd), key exchange, host key, authentication.
 * Returns the session, or NULL with err set and *kind saying how it failed.
 */
static ssh_session connect_hop(const struct hop *h, char **seen, enum fail_kind *kind,
			       struct cairn_error *err)
{
	char *name = target_name(h->target), *algs = NULL;
	ssh_key *pins = NULL;
	size_t npins = 0;
	ssh_session ssh = NULL;
	const char *msg;

	*seen = NULL;
	*kind = FAIL_OTHER;
	if (!h->target->host || !*h->target->host) {
		cairn_error_set(err, CAIRN_E_INVALID, "no host to connect to");
		goto fail;
	}
	if (parse_pins(h->pins, &pins, &npins, err) < 0)
		goto fail;
	algs = pin_algorithms(pins, npins);
	ssh = ssh_new();
	if (!ssh) {
		cairn_error_set(err, CAIRN_E_INTERNAL, "cannot create an SSH session");
		goto fail;
	}
	if (set_options(ssh, h, algs, err) < 0)
		goto fail;
	cairn_debug("connecting to '%s'%s", name, h->fd >= 0 ? " through the tunnel" : "");
	if (ssh_connect(ssh) != SSH_OK) {
		msg = ssh_get_error(ssh);
		if (strstr(msg, "no match for method") && strstr(msg, "host key")) {
			char *want = pin_fingerprints(pins, npins);

			cairn_error_set(err, CAIRN_E_PERMANENT,
					npins == 1
					? "host key mismatch for '%s': the server offers no key of the pinned types (%s), the pinned key is %s"
					: "host key mismatch for '%s': the server offers no key of the pinned types (%s), the pinned keys are %s",
					name, algs, want);
			free(want);
			*kind = FAIL_HOSTKEY;
		} else if (strstr(msg, "no match for method")) {
			cairn_error_set(err, CAIRN_E_PERMANENT, "cannot connect to '%s': %s", name, msg);
		} else {
			cairn_error_set(err, CAIRN_E_RETRYABLE, "cannot connect to '%s': %s", name, msg);
			*kind = FAIL_REACH;
		}
		goto fail;
	}
	*kind = check_host_key(ssh, name, pins, npins, seen, err);
	if (*kind != FAIL_NONE)
		goto fail;
	*kind = authenticate(ssh, name, h->private_key, err);
	if (*kind != FAIL_NONE)
		goto fail;
	free_pins(pins, npins);
	free(algs);
	free(name);
	return ssh;
fail:
	if (ssh) {
		ssh_disconnect(ssh);
		ssh_free(ssh);
	}
	free(*seen);
	*seen = NULL;
	free_pins(pins, npins);
	free(algs);
	free(name);
	return NULL;
}

static struct cairn_ssh_session *connect_session(const struct cairn_ssh_target *target,
						 const struct cairn_ssh_options *opts,
						 int timeout_ms, enum fail_kind *kind,
						 struct cairn_error *err)
{
	struct cairn_ssh_session *s;
	struct cairn_ssh_tunnel *tun = NULL;
	char *bastion_seen = NULL, *seen = NULL;
	struct hop h = {
		.target = target,
		.private_key = opts->private_key,
		.pins = opts->host_keys,
		.timeout_ms = timeout_ms,
		.fd = -1,
	};
	ssh_session ssh;

	cairn_ssh_global_init();
	*kind = FAIL_OTHER;
	if (!target || !opts->private_key)
		return cairn_error_set(err, CAIRN_E_INVALID, "no target or no private key to connect with"), NULL;
	if (opts->bastion) {
		struct hop b = {
			.target = opts->bastion,
			.private_key = opts->bastion_private_key ? opts->bastion_private_key : opts->private_key,
			.pins = opts->bastion_host_keys,
			.timeout_ms = timeout_ms,
			.fd = -1,
		};
		ssh_session bssh = connect_hop(&b, &bastion_seen, kind, err);
		char *bname = target_name(opts->bastion);

		if (bssh)
			tun = cairn_ssh_tunnel_start(bssh, target->host, port_of(target), err);
		if (!tun) {
			if (bssh) {
				/* a refused forward is the bastion's configuration */
				*kind = cairn_error_isset(err) && err->code == CAIRN_E_RETRYABLE ? FAIL_REACH : FAIL_OTHER;
				ssh_disconnect(bssh);
				ssh_free(bssh);
			}
			cairn_error_context(err, "while reaching '%s:%d' through bastion '%s'", target->host,
					    port_of(target), bname);
			free(bname);
			free(bastion_seen);
			return NULL;
		}
		free(bname);
		h.fd = tun->node_fd;
	}
	ssh = connect_hop(&h, &seen, kind, err);
	if (!ssh) {
		if (tun) {
			char *bname = target_name(opts->bastion);

			cairn_error_context(err, "while connecting through bastion '%s'", bname);
			free(bname);
		}
		cairn_ssh_tunnel_stop(tun);
		free(bastion_seen);
		return NULL;
	}
	s = xcalloc(1, sizeof(*s));
	s->ssh = ssh;
	s->name = target_name(target);
	s->host_key = seen;
	s->bastion_host_key = bastion_seen;
	s->tunnel = tun;
	s->timeout_ms = timeout_ms;
	cairn_debug("connected to '%s'", s->name);
	return s;
}

static int timeout_of(const struct cairn_ssh_options *opts)
{
	return opts->connect_timeout_ms > 0 ? opts->connect_timeout_ms : CAIRN_SSH_CONNECT_TIMEOUT_MS;
}

struct cairn_ssh_session *cairn_ssh_connect(const struct cairn_ssh_target *target,
					    const struct cairn_ssh_options *opts,
					    struct cairn_error *err)
{
	enum fail_kind kind;

	return connect_session(target, opts, timeout_of(opts), &kind, err);
}

static void sleep_ms(int64_t ms)
{
	struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };

	while (ms > 0 && nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

struct cairn_ssh_session *cairn_ssh_wait_ready(const struct cairn_ssh_target *target,
					       const struct cairn_ssh_options *opts,
					       int64_t deadline_ms, struct cairn_error *err)
{
	int64_t delay = 200, start = cairn_now_ms();
	int attempts = 0;

	for (;;) {
		struct cairn_error e = CAIRN_ERROR_INIT;
		struct cairn_ssh_session *s;
		int64_t left = deadline_ms - cairn_now_ms();
		int timeout = timeout_of(opts);
		enum fail_kind kind;

		if (left < timeout)
			timeout = left < 100 ? 100 : (int)left;
		attempts++;
		s = connect_session(target, opts, timeout, &kind, &e);
		if (s) {
			cairn_debug("'%s' ready after %d attempts, %lld ms", s->name, attempts,
				    (long long)(cairn_now_ms() - start));
			return s;
		}
		if (kind != FAIL_REACH && kind != FAIL_AUTH) {
			cairn_error_move(err, &e);
			return NULL;
		}
		left = deadline_ms - cairn_now_ms();
		if (left <= 0) {
			/* the last failure, and how long it was tried */
			cairn_error_set(err, e.code, "'%s' not ready after %lld ms (%d attempts): %s",
					target->host, (long long)(cairn_now_ms() - start), attempts, e.message);
			if (e.context)
				cairn_error_context(err, "%s", e.context);
			if (e.hint)
				cairn_error_hint(err, "%s", e.hint);
			cairn_error_release(&e);
			return NULL;
		}
		cairn_debug("'%s' not ready (%s), again in %lld ms", target->host, e.message,
			    (long long)(delay < left ? delay : left));
		cairn_error_release(&e);
		sleep_ms(delay < left ? delay : left);
		delay = delay * 2 > 2000 ? 2000 : delay * 2;
	}
}

const char *cairn_ssh_host_key(const struct cairn_ssh_session *s)
{
	return s->host_key;
}

const char *cairn_ssh_bastion_host_key(const struct cairn_ssh_session *s)
{
	return s->bastion_host_key;
}

const char *cairn_ssh_name(const struct cairn_ssh_session *s)
{
	return s->name;
}

void cairn_ssh_close(struct cairn_ssh_session *s)
{
	if (!s)
		return;
	/* the node's session first: it writes its goodbye into the tunnel */
	ssh_disconnect(s->ssh);
	ssh_free(s->ssh);
	cairn_ssh_tunnel_stop(s->tunnel);
	free(s->name);
	free(s->host_key);
	free(s->bastion_host_key);
	free(s);
}

/* ---- forwarding: a stream through a host ------------------------------------------ */

struct cairn_ssh_forward {
	struct cairn_ssh_tunnel *tunnel;
};

struct cairn_ssh_forward *cairn_ssh_forward_open(const struct cairn_ssh_target *via,
						 const struct cairn_ssh_options *opts,
						 const char *host, int port, int *fd,
						 struct cairn_error *err)
{
	struct hop h = {
		.target = via,
		.private_key = opts->private_key,
		.pins = opts->host_keys,
		.timeout_ms = timeout_of(opts),
		.fd = -1,
	};
	struct cairn_ssh_forward *f;
	struct cairn_ssh_tunnel *t;
	enum fail_kind kind;
	char *seen = NULL;
	ssh_session ssh;

	*fd = -1;
	cairn_ssh_global_init();
	if (!via || !opts->private_key)
		return cairn_error_set(err, CAIRN_E_INVALID, "no host or no private key to connect with"), NULL;
	ssh = connect_hop(&h, &seen, &kind, err);
	free(seen);
	if (!ssh)
		return NULL;
	t = cairn_ssh_tunnel_start(ssh, host, port, err);
	if (!t) {
		ssh_disconnect(ssh);
		ssh_free(ssh);
		return NULL;
	}
	/* the caller's copy: closing it, then stopping the tunnel (which
	 * closes its own), ends the pump */
	*fd = fcntl(t->node_fd, F_DUPFD_CLOEXEC, 3);
	if (*fd < 0) {
		cairn_error_set(err, CAIRN_E_IO, "cannot duplicate the forwarded socket: %s", strerror(errno));
		cairn_ssh_tunnel_stop(t);
		return NULL;
	}
	f = xcalloc(1, sizeof(*f));
	f->tunnel = t;
	return f;
}

void cairn_ssh_forward_close(struct cairn_ssh_forward *f)
{
	if (!f)
		return;
	cairn_ssh_tunnel_stop(f->tunnel);
	free(f);
}
