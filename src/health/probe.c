/*
 * probe.c - the three probes: a TCP connect (non-blocking, bounded by
 * poll), an HTTP GET (a libcurl easy handle of its own, driven by a multi
 * handle of its own so that the probe's loop can relay to a dialed socket)
 * and an ICMP echo (an unprivileged ping socket, else a raw one).  Each
 * probe opens what it needs and closes it before it returns, so probes in
 * several threads share nothing but libcurl's global state.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <curl/curl.h>

#include "util/common.h"
#include "util/clock.h"
#include "health/probe.h"

CAIRN_LOG_INIT("health.probe");

/* Bytes of an HTTP body read and dropped before the probe stops reading. */
#define BODY_MAX (64 * 1024)

/* ICMP echo: an 8-byte header (type, code, checksum, identifier, sequence)
 * and a random payload that the reply must carry back unchanged. */
#define ECHO_HDR 8
#define ECHO_PAYLOAD 24
#define ICMP4_ECHO_REQUEST 8
#define ICMP4_ECHO_REPLY 0

/* Linux's raw-socket filter for ICMPv4, from <linux/icmp.h> (which clashes
 * with glibc's <netinet/ip_icmp.h>): a set bit drops that message type. */
#ifndef ICMP_FILTER
#define ICMP_FILTER 1
#endif
struct icmp4_filter {
	uint32_t data;
};

/* ---- results --------------------------------------------------------------- */

static void result_reset(struct cairn_probe_result *r)
{
	memset(r, 0, sizeof(*r));
}

static void __attribute__((format(printf, 2, 3))) set_detail(struct cairn_probe_result *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->detail, sizeof(r->detail), fmt, ap);
	va_end(ap);
}

/*
 * The probe could not run: set err, make r say the same (not ok), return -1.
 */
static int __attribute__((format(printf, 4, 5)))
cannot_run(struct cairn_probe_result *r, struct cairn_error *err, enum cairn_errcode code, const char *fmt, ...)
{
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	msg = xvasprintf(fmt, ap);
	va_end(ap);
	result_reset(r);
	set_detail(r, "%s", msg);
	cairn_error_set(err, code, "%s", msg);
	free(msg);
	return -1;
}

/* Messages from libc and libcurl start with a capital; ours do not. */
static void lower_first(char *s)
{
	if (s[0] && isupper((unsigned char)s[0]) && !isupper((unsigned char)s[1]))
		s[0] = (char)tolower((unsigned char)s[0]);
}

/* What a failed connect, send or receive means, as a detail. */
static void errno_phrase(int e, char *out, size_t n)
{
	char buf[128];

	switch (e) {
	case ECONNREFUSED:
		snprintf(out, n, "connection refused");
		return;
	case EHOSTUNREACH:
		snprintf(out, n, "host unreachable");
		return;
	case ENETUNREACH:
		snprintf(out, n, "network unreachable");
		return;
	case ECONNRESET:
		snprintf(out, n, "connection reset");
		return;
	default:
		snprintf(out, n, "%s", strerror_r(e, buf, sizeof(buf)));
		lower_first(out);
		return;
	}
}

static int random_bytes(void *buf, size_t n)
{
	ssize_t got;

	do
		got = getrandom(buf, n, 0);
	while (got < 0 && errno == EINTR);
	return got == (ssize_t)n ? 0 : -1;
}

/* ---- arguments ------------------------------------------------------------- */

/*
 * A name or an address literal, as getaddrinfo() takes it: letters,
 * digits, '.', '-' and '_' for names, ':' and '%' (a zone) for IPv6.
 */
static bool valid_host(const char *h)
{
	size_t n = h ? strlen(h) : 0;

	if (n == 0 || n > 253)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)h[i];

		if (!isalnum(c) && c != '.' && c != '-' && c != '_' && c != ':' && c != '%')
			return false;
	}
	return true;
}

static int check_dialer(const struct cairn_probe_dialer *d, struct cairn_probe_result *r,
			struct cairn_error *err)
{
	if (d && !d->dial)
		return cannot_run(r, err, CAIRN_E_INVALID, "a probe dialer without a dial function");
	return 0;
}

static int check_timeout(int timeout_ms, struct cairn_probe_result *r, struct cairn_error *err)
{
	if (timeout_ms <= 0)
		return cannot_run(r, err, CAIRN_E_INVALID, "invalid probe timeout %d ms", timeout_ms);
	return 0;
}

static int poll_ms(int64_t deadline)
{
	int64_t left = deadline - cairn_now_ms();

	return left <= 0 ? 0 : left > INT_MAX ? INT_MAX : (int)left;
}

/*
 * Resolve host for a probe.  0 with *res set; 1 when the probe is over
 * (the name does not resolve, or resolving used up the time; r says so).
 */
static int resolve(const char *host, const char *service, int socktype, int64_t start, int timeout_ms,
		   struct addrinfo **res, struct cairn_probe_result *r)
{
	struct addrinfo hints;
	int rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = socktype;
	hints.ai_flags = service ? AI_NUMERICSERV : 0;
	rc = getaddrinfo(host, service, &hints, res);
	r->ms = cairn_now_ms() - start;
	if (rc != 0) {
		char why[128];

		*res = NULL;
		if (rc == EAI_SYSTEM)
			errno_phrase(errno, why, sizeof(why));
		else
			snprintf(why, sizeof(why), "%s", gai_strerror(rc));
		lower_first(why);
		set_detail(r, "cannot resolve '%s': %s", host, why);
		return 1;
	}
	if (r->ms >= timeout_ms) {
		freeaddrinfo(*res);
		*res = NULL;
		set_detail(r, "resolving '%s' took %lld ms, over the %d ms timeout", host, (long long)r->ms,
			   timeout_ms);
		return 1;
	}
	return 0;
}

static void addr_string(const struct sockaddr *sa, char *out, size_t n)
{
	if (getnameinfo(sa, sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in),
			out, (socklen_t)n, NULL, 0, NI_NUMERICHOST) != 0)
		snprintf(out, n, "?");
}

/* ---- tcp ------------------------------------------------------------------- */

/*
 * Connect to one address by deadline.  0 when connected; otherwise the
 * errno of the failure, ETIMEDOUT when time ran out.  *local is set when
 * the failure is this host's (no socket), not the address's.
 */
static int connect_one(const struct addrinfo *a, int64_t deadline, bool *local)
{
	int fd, e = 0;
	socklen_t len = sizeof(e);

	fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
	if (fd < 0) {
		e = errno;
		*local = e != EAFNOSUPPORT;   /* no IPv6 here: that address fails */
		return e;
	}
	if (connect(fd, a->ai_addr, a->ai_addrlen) == 0)
		goto out;
	if (errno != EINPROGRESS) {
		e = errno;
		goto out;
	}
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLOUT };
		int n, ms = poll_ms(deadline);

		if (ms == 0) {
			e = ETIMEDOUT;
			goto out;
		}
		n = poll(&p, 1, ms);
		if (n > 0)
			break;
		if (n < 0 && errno != EINTR) {
			e = errno;
			*local = true;
			goto out;
		}
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &len) < 0)
		e = errno;
out:
	close(fd);
	return e;
}

static int tcp_direct(const char *host, int port, int timeout_ms, int64_t start, struct cairn_probe_result *r,
		      struct cairn_error *err)
{
	struct addrinfo *ai, *a;
	char service[16], why[128] = "";
	int64_t deadline = start + timeout_ms;
	int tried = 0, e = ETIMEDOUT;

	snprintf(service, sizeof(service), "%d", port);
	if (resolve(host, service, SOCK_STREAM, start, timeout_ms, &ai, r))
		return 0;
	for (a = ai; a; a = a->ai_next) {
		bool local = false;

		if (cairn_now_ms() >= deadline) {
			e = ETIMEDOUT;
			break;
		}
		tried++;
		e = connect_one(a, deadline, &local);
		if (local) {
			freeaddrinfo(ai);
			errno_phrase(e, why, sizeof(why));
			return cannot_run(r, err, CAIRN_E_IO, "cannot open a socket: %s", why);
		}
		if (e == 0)
			break;
	}
	freeaddrinfo(ai);
	r->ms = cairn_now_ms() - start;
	if (e == 0) {
		r->ok = true;
		set_detail(r, "connected");
		return 0;
	}
	if (e == ETIMEDOUT)
		snprintf(why, sizeof(why), "no connection in %d ms", timeout_ms);
	else
		errno_phrase(e, why, sizeof(why));
	if (tried > 1)
		set_detail(r, "%s (%d addresses tried)", why, tried);
	else
		set_detail(r, "%s", why);
	return 0;
}

/* The dialer's failure as a detail: its message, or a stand-in. */
static void dial_failed(struct cairn_probe_result *r, const struct cairn_error *derr)
{
	set_detail(r, "%s", derr->message ? derr->message : "the dialer failed without saying why");
}

static int tcp_dialed(const char *host, int port, int timeout_ms, const struct cairn_probe_dialer *d,
		      int64_t start, struct cairn_probe_result *r)
{
	struct cairn_error derr = CAIRN_ERROR_INIT;
	void *handle = NULL;
	int fd;

	fd = d->dial(d->ctx, host, port, timeout_ms, &handle, &derr);
	r->ms = cairn_now_ms() - start;
	if (fd < 0) {
		dial_failed(r, &derr);
	} else {
		r->ok = true;
		set_detail(r, "connected");
		close(fd);
		if (d->hangup)
			d->hangup(d->ctx, handle);
	}
	cairn_error_release(&derr);
	return 0;
}

int cairn_probe_tcp(const char *host, int port, int timeout_ms, const struct cairn_probe_dialer *d,
		    struct cairn_probe_result *r, struct cairn_error *err)
{
	int64_t start = cairn_now_ms();
	int rc;

	result_reset(r);
	if (!valid_host(host))
		return cannot_run(r, err, CAIRN_E_INVALID, "invalid host '%s'", host ? host : "");
	if (port < 1 || port > 65535)
		return cannot_run(r, err, CAIRN_E_INVALID, "invalid port %d for host '%s'", port, host);
	if (check_timeout(timeout_ms, r, err) < 0 || check_dialer(d, r, err) < 0)
		return -1;
	if (d)
		rc = tcp_dialed(host, port, timeout_ms, d, start, r);
	else
		rc = tcp_direct(host, port, timeout_ms, start, r, err);
	if (rc == 0)
		cairn_debug("tcp %s:%d: %s in %lld ms", host, port, r->detail, (long long)r->ms);
	return rc;
}

/* ---- http ------------------------------------------------------------------ */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

static void curl_init(void)
{
	curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* Bytes on their way from one socket to the other. */
struct chunk {
	char buf[16384];
	size_t len, off;
	bool eof;       /* the source has ended (or failed) */
	bool shut;      /* and the end has been passed on */
};

/*
 * The hop to a dialed socket.  libcurl cannot be handed a connected socket
 * everywhere: 7.88 (Debian 12) ignores CURL_SOCKOPT_ALREADY_CONNECTED and
 * calls connect() on it all the same (curl issue #10626, fixed in 8.0).  So
 * curl connects, as it knows how, to an abstract unix socket of this probe
 * (CURLOPT_ABSTRACT_UNIX_SOCKET: the URL's host still names the server, in
 * the Host header and for TLS), and the probe's loop copies bytes between
 * that connection and the dialed socket.  Nothing else may take the place
 * of curl's connection: one from another process is closed unheard.
 */
struct relay {
	int listen_fd;          /* -1 once curl's connection is accepted */
	int curl_fd;            /* -1 until then */
	int dial_fd;
	void *handle;           /* dial()'s, for hangup() */
	char name[64];          /* the abstract name, without its leading NUL */
	struct chunk up;        /* curl -> dialed */
	struct chunk down;      /* dialed -> curl */
};

/* One HTTP probe. */
struct http {
	char *host;             /* the URL's, without brackets */
	int port;               /* the URL's, or the scheme's default */
	bool https;
	bool connected;         /* one of curl's sockets got connected */
	long status;            /* of the last status line seen */
	bool headers_done;      /* a final (>= 200) response's headers ended */
	size_t body;            /* bytes of body dropped */
};

/*
 * Take url apart: http or https, its host (brackets of an IPv6 literal
 * removed) and port.  -1 with err set when it is not such a URL.
 */
static int parse_url(const char *url, struct http *h, struct cairn_probe_result *r, struct cairn_error *err)
{
	CURLU *u = curl_url();
	CURLUcode uc;
	char *scheme = NULL, *host = NULL, *port = NULL, why[128];
	int ret = -1;

	if (!u)
		return cannot_run(r, err, CAIRN_E_IO, "cannot parse URL '%s': out of memory", url);
	uc = curl_url_set(u, CURLUPART_URL, url, 0);
	if (uc != CURLUE_OK) {
		snprintf(why, sizeof(why), "%s", curl_url_strerror(uc));
		lower_first(why);
		cannot_run(r, err, CAIRN_E_INVALID, "invalid URL '%s': %s", url, why);
		goto out;
	}
	if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    (strcmp(scheme, "http") && strcmp(scheme, "https"))) {
		cannot_run(r, err, CAIRN_E_INVALID, "invalid URL '%s': not http:// or https://", url);
		goto out;
	}
	if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || !*host) {
		cannot_run(r, err, CAIRN_E_INVALID, "invalid URL '%s': no host", url);
		goto out;
	}
	if (curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK) {
		cannot_run(r, err, CAIRN_E_INVALID, "invalid URL '%s': no port", url);
		goto out;
	}
	if (host[0] == '[')
		h->host = xstrndup(host + 1, strcspn(host + 1, "]"));
	else
		h->host = xstrdup(host);
	h->port = (int)strtol(port, NULL, 10);
	h->https = !strcmp(scheme, "https");
	ret = 0;
out:
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(u);
	return ret;
}

/* Status lines and the end of each response's headers. */
static size_t on_header(char *line, size_t size, size_t n, void *clientp)
{
	struct http *h = clientp;
	size_t len = size * n;

	if (len > 5 && !memcmp(line, "HTTP/", 5)) {
		const char *sp = memchr(line, ' ', len);

		h->status = 0;
		if (sp && (size_t)(sp - line) + 4 <= len && isdigit((unsigned char)sp[1]) &&
		    isdigit((unsigned char)sp[2]) && isdigit((unsigned char)sp[3]))
			h->status = (sp[1] - '0') * 100 + (sp[2] - '0') * 10 + (sp[3] - '0');
	} else if ((len == 2 && line[0] == '\r' && line[1] == '\n') || (len == 1 && line[0] == '\n')) {
		/* a 1xx response is followed by the real one */
		if (h->status >= 200)
			h->headers_done = true;
	}
	return len;
}

/* The body only keeps the connection busy: drop it, and stop past BODY_MAX. */
static size_t on_body(char *data, size_t size, size_t n, void *clientp)
{
	struct http *h = clientp;

	(void)data;
	h->body += size * n;
	return h->body > BODY_MAX ? 0 : size * n;
}

/*
 * curl closes its sockets here: note whether one was connected, for the
 * detail of a timeout.  CURLINFO_CONNECT_TIME_T cannot tell: 7.88 sets it
 * only once TLS is up too.
 */
static int close_socket(void *clientp, curl_socket_t fd)
{
	struct http *h = clientp;
	struct sockaddr_storage peer;
	socklen_t len = sizeof(peer);

	if (getpeername(fd, (struct sockaddr *)&peer, &len) == 0)
		h->connected = true;
	return close(fd);
}

/* Listen on a fresh abstract unix socket.  -1 with errno set. */
static int relay_listen(struct relay *rl)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	uint64_t nonce;
	socklen_t salen;
	size_t len;

	if (random_bytes(&nonce, sizeof(nonce)) < 0)
		return -1;
	snprintf(rl->name, sizeof(rl->name), "cairn-health-%ld-%016llx", (long)getpid(),
		 (unsigned long long)nonce);
	len = strlen(rl->name);
	memcpy(sa.sun_path + 1, rl->name, len);   /* sun_path[0] = 0: abstract */
	salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + len);
	rl->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (rl->listen_fd < 0)
		return -1;
	if (bind(rl->listen_fd, (struct sockaddr *)&sa, salen) < 0 || listen(rl->listen_fd, 4) < 0)
		return -1;
	return 0;
}

/* Take curl's connection, and only one from this process. */
static void relay_accept(struct relay *rl)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	int fd;

	while (rl->listen_fd >= 0 && (fd = accept4(rl->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 && cred.pid == getpid()) {
			rl->curl_fd = fd;
			close(rl->listen_fd);
			rl->listen_fd = -1;
			return;
		}
		close(fd);
	}
}

/* Move what can be moved from one socket to the other without blocking. */
static void pump(int from, int to, struct chunk *c)
{
	for (;;) {
		if (c->off == c->len && !c->eof) {
			ssize_t n = recv(from, c->buf, sizeof(c->buf), MSG_DONTWAIT);

			if (n > 0) {
				c->len = (size_t)n;
				c->off = 0;
			} else if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
				c->eof = true;
			}
		}
		if (c->off == c->len)
			break;
		{
			ssize_t w = send(to, c->buf + c->off, c->len - c->off, MSG_NOSIGNAL | MSG_DONTWAIT);

			if (w > 0) {
				c->off += (size_t)w;
				continue;
			}
			if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
				return;
			c->off = c->len;   /* the other side is gone: drop it */
			c->eof = true;
			break;
		}
	}
	if (c->eof && !c->shut) {
		shutdown(to, SHUT_WR);
		c->shut = true;
	}
}

static void relay_pump(struct relay *rl)
{
	relay_accept(rl);
	if (rl->curl_fd < 0)
		return;
	pump(rl->curl_fd, rl->dial_fd, &rl->up);
	pump(rl->dial_fd, rl->curl_fd, &rl->down);
}

/* The relay's sockets for curl_multi_poll(), with what they wait for. */
static unsigned relay_waitfds(const struct relay *rl, struct curl_waitfd w[3])
{
	unsigned n = 0;

	if (rl->listen_fd >= 0)
		w[n++] = (struct curl_waitfd){ .fd = rl->listen_fd, .events = CURL_WAIT_POLLIN };
	if (rl->curl_fd < 0)
		return n;
	w[n].fd = rl->curl_fd;
	w[n].events = (short)((!rl->up.eof && rl->up.off == rl->up.len ? CURL_WAIT_POLLIN : 0) |
			      (rl->down.off < rl->down.len ? CURL_WAIT_POLLOUT : 0));
	w[n].revents = 0;
	if (w[n].events)
		n++;
	w[n].fd = rl->dial_fd;
	w[n].events = (short)((!rl->down.eof && rl->down.off == rl->down.len ? CURL_WAIT_POLLIN : 0) |
			      (rl->up.off < rl->up.len ? CURL_WAIT_POLLOUT : 0));
	w[n].revents = 0;
	if (w[n].events)
		n++;
	return n;
}

/* Close the relay's sockets, the dialed one last, then hang up. */
static void relay_close(struct relay *rl, const struct cairn_probe_dialer *d)
{
	if (rl->listen_fd >= 0)
		close(rl->listen_fd);
	if (rl->curl_fd >= 0)
		close(rl->curl_fd);
	if (rl->dial_fd >= 0) {
		close(rl->dial_fd);
		if (d->hangup)
			d->hangup(d->ctx, rl->handle);
	}
}

/* Run the transfer to its end, pumping the relay (NULL when direct) meanwhile. */
static CURLcode run(CURLM *m, CURL *c, struct relay *rl)
{
	CURLcode rc = CURLE_FAILED_INIT;
	CURLMsg *msg;
	int running = 1, left;

	while (running) {
		struct curl_waitfd w[3];
		unsigned n = 0;

		if (curl_multi_perform(m, &running) != CURLM_OK)
			break;
		if (!running)
			break;
		if (rl)
			n = relay_waitfds(rl, w);
		if (curl_multi_poll(m, w, n, 1000, NULL) != CURLM_OK)
			break;
		if (rl)
			relay_pump(rl);
	}
	while ((msg = curl_multi_info_read(m, &left)))
		if (msg->msg == CURLMSG_DONE && msg->easy_handle == c)
			rc = msg->data.result;
	return rc;
}

static bool is_tls_error(CURLcode rc)
{
	switch (rc) {
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
	case CURLE_SSL_CLIENTCERT:
		return true;
	default:
		return false;
	}
}

/* Why no status came back, as a detail. */
static void http_failure(CURL *c, CURLcode rc, const struct http *h, bool dialed, const char *errbuf,
			 int timeout_ms, struct cairn_probe_result *r)
{
	char why[CURL_ERROR_SIZE + 8];
	curl_off_t tls_done = 0;
	long os_errno = 0;

	snprintf(why, sizeof(why), "%s", errbuf[0] ? errbuf : curl_easy_strerror(rc));
	lower_first(why);
	curl_easy_getinfo(c, CURLINFO_OS_ERRNO, &os_errno);
	curl_easy_getinfo(c, CURLINFO_APPCONNECT_TIME_T, &tls_done);
	switch (rc) {
	case CURLE_COULDNT_RESOLVE_HOST:
		set_detail(r, "cannot resolve '%s'", h->host);
		break;
	case CURLE_COULDNT_CONNECT:
		if (os_errno && !dialed)
			errno_phrase((int)os_errno, r->detail, sizeof(r->detail));
		else
			set_detail(r, "%s", why);
		break;
	case CURLE_OPERATION_TIMEDOUT:
		if (!h->connected && !dialed)
			set_detail(r, "no connection in %d ms", timeout_ms);
		else if (h->https && !tls_done)
			set_detail(r, "no TLS handshake in %d ms", timeout_ms);
		else
			set_detail(r, "no response in %d ms", timeout_ms);
		break;
	case CURLE_GOT_NOTHING:
		set_detail(r, "empty reply");
		break;
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
		if (os_errno)
			errno_phrase((int)os_errno, r->detail, sizeof(r->detail));
		else
			set_detail(r, "%s", why);
		break;
	default:
		if (is_tls_error(rc))
			set_detail(r, "tls: %s", strncmp(why, "SSL: ", 5) ? why : why + 5);
		else
			set_detail(r, "%s", why);
		break;
	}
}

/*
 * Dial host:port for an HTTP probe and listen for curl's connection.  0
 * when the relay is ready; 1 when dial() failed (r says why); -1 with err
 * set on a local failure.
 */
static int http_dial(const struct cairn_probe_dialer *d, const struct http *h, int timeout_ms, int64_t start,
		     struct relay *rl, struct cairn_probe_result *r, struct cairn_error *err)
{
	struct cairn_error derr = CAIRN_ERROR_INIT;
	char why[128];

	rl->dial_fd = d->dial(d->ctx, h->host, h->port, timeout_ms, &rl->handle, &derr);
	if (rl->dial_fd < 0) {
		r->ms = cairn_now_ms() - start;
		dial_failed(r, &derr);
		cairn_error_release(&derr);
		return 1;
	}
	cairn_error_release(&derr);
	if (relay_listen(rl) < 0) {
		errno_phrase(errno, why, sizeof(why));
		return cannot_run(r, err, CAIRN_E_IO, "cannot open a local socket: %s", why);
	}
	return 0;
}

int cairn_probe_http(const char *url, int timeout_ms, const struct cairn_probe_dialer *d,
		     struct cairn_probe_result *r, struct cairn_error *err)
{
	int64_t start = cairn_now_ms();
	struct http h;
	struct relay rl = { .listen_fd = -1, .curl_fd = -1, .dial_fd = -1 };
	char errbuf[CURL_ERROR_SIZE] = "";
	CURLM *m = NULL;
	CURL *c = NULL;
	CURLcode rc;
	int ret = -1, left_ms;

	result_reset(r);
	memset(&h, 0, sizeof(h));
	if (!url || !*url)
		return cannot_run(r, err, CAIRN_E_INVALID, "invalid URL ''");
	if (check_timeout(timeout_ms, r, err) < 0 || check_dialer(d, r, err) < 0)
		return -1;
	pthread_once(&curl_once, curl_init);
	if (curl_init_rc != CURLE_OK)
		return cannot_run(r, err, CAIRN_E_IO, "cannot initialise libcurl: %s",
				  curl_easy_strerror(curl_init_rc));
	if (parse_url(url, &h, r, err) < 0)
		return -1;
	if (d) {
		ret = http_dial(d, &h, timeout_ms, start, &rl, r, err);
		if (ret != 0) {
			ret = ret > 0 ? 0 : -1;
			goto out;
		}
		ret = -1;
	}
	c = curl_easy_init();
	m = curl_multi_init();
	if (!c || !m) {
		cannot_run(r, err, CAIRN_E_IO, "cannot start an HTTP request to '%s'", url);
		goto out;
	}
	/* what the dialer took is gone from the budget */
	left_ms = poll_ms(start + timeout_ms);
	curl_easy_setopt(c, CURLOPT_URL, url);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
#endif
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)(left_ms > 0 ? left_ms : 1));
	curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "cairn-health/" CAIRN_VERSION);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, &h);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &h);
	curl_easy_setopt(c, CURLOPT_CLOSESOCKETFUNCTION, close_socket);
	curl_easy_setopt(c, CURLOPT_CLOSESOCKETDATA, &h);
	if (d)
		curl_easy_setopt(c, CURLOPT_ABSTRACT_UNIX_SOCKET, rl.name);
	if (curl_multi_add_handle(m, c) != CURLM_OK) {
		cannot_run(r, err, CAIRN_E_IO, "cannot start an HTTP request to '%s'", url);
		goto out;
	}
	rc = run(m, c, d ? &rl : NULL);
	r->ms = cairn_now_ms() - start;
	/* closes the connection, if curl kept it, for close_socket() to see */
	curl_multi_remove_handle(m, c);
	curl_multi_cleanup(m);
	m = NULL;
	if (!h.headers_done && rc == CURLE_OK) {
		/* a response without headers (HTTP/0.9 is refused): take curl's word */
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &h.status);
		h.headers_done = h.status > 0;
	}
	if (h.headers_done) {
		r->status = h.status;
		r->ok = h.status >= 200 && h.status < 400;
		set_detail(r, "HTTP %ld", h.status);
	} else {
		http_failure(c, rc, &h, d != NULL, errbuf, timeout_ms, r);
	}
	ret = 0;
out:
	if (c)
		curl_easy_cleanup(c);
	if (m)
		curl_multi_cleanup(m);
	if (d)
		relay_close(&rl, d);
	if (ret == 0)
		cairn_debug("http %s: %s in %lld ms", url, r->detail, (long long)r->ms);
	free(h.host);
	return ret;
}

/* ---- ping ------------------------------------------------------------------ */

/* One echo request in flight. */
struct echo {
	int fd;
	int family;
	bool raw;                 /* a raw socket: IPv4 replies carry the IP header */
	unsigned char id[2], seq[2];
	unsigned char payload[ECHO_PAYLOAD];
};

/* The Internet checksum (RFC 1071); the kernel computes ICMPv6's. */
static uint16_t inet_checksum(const unsigned char *p, size_t n)
{
	uint32_t sum = 0;

	for (size_t i = 0; i + 1 < n; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (n & 1)
		sum += (uint32_t)(p[n - 1] << 8);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/*
 * An ICMP socket for family: an unprivileged "ping" socket, else a raw
 * one.  -1 with errno set (that of the raw socket) when neither opens.
 */
static int icmp_socket(int family, bool *raw)
{
	int proto = family == AF_INET ? IPPROTO_ICMP : IPPROTO_ICMPV6;
	int fd;

	fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, proto);
	if (fd >= 0) {
		*raw = false;
		return fd;
	}
	fd = socket(family, SOCK_RAW | SOCK_CLOEXEC, proto);
	if (fd < 0)
		return -1;
	*raw = true;
	/* a raw socket sees every ICMP message; let only echo replies in */
	if (family == AF_INET) {
		struct icmp4_filter f = { ~(1U << ICMP4_ECHO_REPLY) };

		setsockopt(fd, SOL_RAW, ICMP_FILTER, &f, sizeof(f));
	} else {
		struct icmp6_filter f;

		ICMP6_FILTER_SETBLOCKALL(&f);
		ICMP6_FILTER_SETPASS(ICMP6_ECHO_REPLY, &f);
		setsockopt(fd, IPPROTO_ICMPV6, ICMP6_FILTER, &f, sizeof(f));
	}
	return fd;
}

/*
 * Is this the reply to our request?  A ping socket's kernel demultiplexes
 * by identifier (which it chose itself, overwriting ours), so only a raw
 * socket compares it; the sequence and the payload are compared always.
 */
static bool is_our_reply(const struct echo *e, const unsigned char *p, size_t n)
{
	if (e->family == AF_INET && e->raw) {
		size_t ihl;

		if (n < 20)
			return false;
		ihl = (size_t)(p[0] & 0x0f) * 4;
		if (ihl < 20 || n < ihl)
			return false;
		p += ihl;
		n -= ihl;
	}
	if (n != ECHO_HDR + ECHO_PAYLOAD)
		return false;
	if (p[0] != (e->family == AF_INET ? ICMP4_ECHO_REPLY : ICMP6_ECHO_REPLY) || p[1] != 0)
		return false;
	if (e->raw && memcmp(p + 4, e->id, 2))
		return false;
	return !memcmp(p + 6, e->seq, 2) && !memcmp(p + ECHO_HDR, e->payload, ECHO_PAYLOAD);
}

/* Send the request and wait for its reply; fills r. */
static void echo_run(struct echo *e, const struct addrinfo *a, const char *addr, int timeout_ms,
		     int64_t start, struct cairn_probe_result *r)
{
	unsigned char pkt[ECHO_HDR + ECHO_PAYLOAD], buf[512];
	int64_t deadline = start + timeout_ms, sent;
	uint16_t sum;

	/* connected, the socket takes only this address's packets, and an
	 * ICMP error about our request comes back as the socket's error */
	if (connect(e->fd, a->ai_addr, a->ai_addrlen) < 0)
		goto failed;
	pkt[0] = e->family == AF_INET ? ICMP4_ECHO_REQUEST : ICMP6_ECHO_REQUEST;
	pkt[1] = 0;
	pkt[2] = pkt[3] = 0;
	memcpy(pkt + 4, e->id, 2);
	memcpy(pkt + 6, e->seq, 2);
	memcpy(pkt + ECHO_HDR, e->payload, ECHO_PAYLOAD);
	if (e->family == AF_INET) {
		sum = inet_checksum(pkt, sizeof(pkt));
		pkt[2] = (unsigned char)(sum >> 8);
		pkt[3] = (unsigned char)(sum & 0xff);
	}
	sent = cairn_now_ms();
	if (send(e->fd, pkt, sizeof(pkt), 0) < 0)
		goto failed;
	for (;;) {
		struct pollfd p = { .fd = e->fd, .events = POLLIN };
		int ms = poll_ms(deadline), n;
		ssize_t got;

		if (ms == 0)
			break;
		n = poll(&p, 1, ms);
		if (n < 0 && errno != EINTR)
			goto failed;
		if (n <= 0)
			continue;
		got = recv(e->fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (got < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
				continue;
			goto failed;
		}
		if (is_our_reply(e, buf, (size_t)got)) {
			r->ok = true;
			r->ms = cairn_now_ms() - sent;
			set_detail(r, "reply from %s", addr);
			return;
		}
	}
	r->ms = cairn_now_ms() - start;
	set_detail(r, "no reply in %d ms", timeout_ms);
	return;
failed:
	r->ms = cairn_now_ms() - start;
	if (errno == ECONNREFUSED)   /* what the kernel makes of "port unreachable" */
		set_detail(r, "rejected (ICMP port unreachable)");
	else
		errno_phrase(errno, r->detail, sizeof(r->detail));
}

int cairn_probe_ping(const char *host, int timeout_ms, struct cairn_probe_result *r, struct cairn_error *err)
{
	int64_t start = cairn_now_ms();
	struct echo e;
	struct addrinfo *ai;
	char addr[INET6_ADDRSTRLEN + 16], why[128];

	result_reset(r);
	memset(&e, 0, sizeof(e));
	if (!valid_host(host))
		return cannot_run(r, err, CAIRN_E_INVALID, "invalid host '%s'", host ? host : "");
	if (check_timeout(timeout_ms, r, err) < 0)
		return -1;
	if (random_bytes(e.id, sizeof(e.id)) < 0 || random_bytes(e.seq, sizeof(e.seq)) < 0 ||
	    random_bytes(e.payload, sizeof(e.payload)) < 0)
		return cannot_run(r, err, CAIRN_E_IO, "cannot read random bytes: %s",
				  strerror_r(errno, why, sizeof(why)));
	if (resolve(host, NULL, SOCK_DGRAM, start, timeout_ms, &ai, r))
		goto done;
	e.family = ai->ai_family;
	addr_string(ai->ai_addr, addr, sizeof(addr));
	e.fd = icmp_socket(e.family, &e.raw);
	if (e.fd < 0) {
		int saved = errno;

		freeaddrinfo(ai);
		if (saved == EPERM || saved == EACCES)
			return cannot_run(r, err, CAIRN_E_UNSUPPORTED,
					  "cannot ping '%s': this process may open neither an unprivileged ICMP socket (net.ipv4.ping_group_range) nor a raw one (root or CAP_NET_RAW)",
					  host);
		errno_phrase(saved, why, sizeof(why));
		return cannot_run(r, err, CAIRN_E_IO, "cannot ping '%s': cannot open an ICMP socket: %s", host, why);
	}
	echo_run(&e, ai, addr, timeout_ms, start, r);
	close(e.fd);
	freeaddrinfo(ai);
done:
	cairn_debug("ping %s: %s in %lld ms", host, r->detail, (long long)r->ms);
	return 0;
}
