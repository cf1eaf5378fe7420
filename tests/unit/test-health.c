/*
 * test-health.c - the probes of health/probe.c against real peers on this
 * machine, no mocks: listening and bound sockets on 127.0.0.1, an HTTP
 * server in a thread, a dialer whose socketpair is served by a thread of
 * its own, and ICMP echo to the loopback addresses.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util/common.h"
#include "health/probe.h"

/* Generous bounds on how late a timed-out probe may return (ASan, busy CI). */
#define SHORT_MS 300
#define SLACK_MS 3000

/* ---- peers ----------------------------------------------------------------- */

/* A TCP socket on 127.0.0.1 with a port of the kernel's choice; listening
 * with backlog unless backlog < 0 (then only bound: connects are refused). */
static int tcp_socket(int backlog, int *port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	if (backlog >= 0)
		assert_int_equal(listen(fd, backlog), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	*port = ntohs(sa.sin_port);
	return fd;
}

static bool have_ipv6_loopback(void)
{
	struct sockaddr_in6 sa = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	int fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	bool ok = fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;

	if (fd >= 0)
		close(fd);
	return ok;
}

static void send_all(int fd, const char *s)
{
	size_t len = strlen(s);

	while (len) {
		ssize_t n = send(fd, s, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;   /* the probe went away: fine */
		s += n;
		len -= (size_t)n;
	}
}

/* Read until the other side closes (or 10 s pass, so a bug cannot hang us). */
static void drain(int fd)
{
	char buf[4096];

	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, 10000) <= 0)
			return;
		n = recv(fd, buf, sizeof(buf), 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
	}
}

/*
 * One HTTP exchange on fd, by the request's path:
 *   /ok 200, /moved 302 (to /ok), /down 503, /big 200 with 1 MiB of body,
 *   /continue 100 then 204, /empty closes without a word, /garbage a
 *   reply that is not HTTP, /hang never answers.
 * Each request is counted in *requests (when not NULL; under lock) before
 * it is answered.  Then waits for the probe to close its end.
 */
static void serve_conn(int fd, int *requests, pthread_mutex_t *lock)
{
	char req[4096], path[64] = "";
	size_t len = 0;

	while (len < sizeof(req) - 1) {
		ssize_t n = recv(fd, req + len, sizeof(req) - 1 - len, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		len += (size_t)n;
		req[len] = '\0';
		if (strstr(req, "\r\n\r\n"))
			break;
	}
	if (sscanf(req, "GET %63s HTTP/", path) != 1)
		return;
	if (requests) {
		pthread_mutex_lock(lock);
		(*requests)++;
		pthread_mutex_unlock(lock);
	}
	if (!strcmp(path, "/ok")) {
		send_all(fd, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
	} else if (!strcmp(path, "/moved")) {
		send_all(fd, "HTTP/1.1 302 Found\r\nLocation: /ok\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
	} else if (!strcmp(path, "/down")) {
		send_all(fd, "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\nConnection: close\r\n\r\ndown");
	} else if (!strcmp(path, "/big")) {
		char *body = xmalloc(1024 * 1024 + 1);

		memset(body, 'x', 1024 * 1024);
		body[1024 * 1024] = '\0';
		send_all(fd, "HTTP/1.1 200 OK\r\nContent-Length: 1048576\r\nConnection: close\r\n\r\n");
		send_all(fd, body);
		free(body);
	} else if (!strcmp(path, "/continue")) {
		send_all(fd, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n");
	} else if (!strcmp(path, "/garbage")) {
		send_all(fd, "hello there\r\n\r\n");
	} else if (!strcmp(path, "/empty")) {
		return;
	}
	if (strcmp(path, "/hang"))
		shutdown(fd, SHUT_WR);
	drain(fd);
}

/* The HTTP server: one thread, one connection at a time. */
struct server {
	int lfd, port;
	int stop[2];
	pthread_t thread;
	int requests;    /* counted before each is answered */
	pthread_mutex_t lock;
};

static void *server_main(void *arg)
{
	struct server *s = arg;

	for (;;) {
		struct pollfd p[2] = { { .fd = s->lfd, .events = POLLIN }, { .fd = s->stop[0], .events = POLLIN } };
		int fd;

		if (poll(p, 2, -1) < 0 && errno == EINTR)
			continue;
		if (p[1].revents)
			break;
		fd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		serve_conn(fd, &s->requests, &s->lock);
		close(fd);
	}
	return NULL;
}

static struct server *server_start(void)
{
	struct server *s = xcalloc(1, sizeof(*s));

	s->lfd = tcp_socket(64, &s->port);
	assert_int_equal(pipe2(s->stop, O_CLOEXEC), 0);
	pthread_mutex_init(&s->lock, NULL);
	assert_int_equal(pthread_create(&s->thread, NULL, server_main, s), 0);
	return s;
}

static int server_requests(struct server *s)
{
	int n;

	pthread_mutex_lock(&s->lock);
	n = s->requests;
	pthread_mutex_unlock(&s->lock);
	return n;
}

static void server_stop(struct server *s)
{
	assert_int_equal(write(s->stop[1], "x", 1), 1);
	pthread_join(s->thread, NULL);
	close(s->lfd);
	close(s->stop[0]);
	close(s->stop[1]);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

/* ---- a dialer: a socketpair, its far end served by a thread ---------------- */

struct dial_log {
	pthread_mutex_t lock;
	bool fail;             /* dial() refuses, as a bastion might */
	int dials, hangups;
	int closed_first;      /* hangups that found the probe's fd closed */
	char host[64];
	int port;
	int timeout_ms;
};

struct peer {
	pthread_t thread;
	int fd;                /* ours */
	int probe_fd;          /* the probe's, closed before hangup() */
};

static void *peer_main(void *arg)
{
	struct peer *p = arg;

	serve_conn(p->fd, NULL, NULL);
	close(p->fd);
	return NULL;
}

static int pair_dial(void *ctx, const char *host, int port, int timeout_ms, void **handle,
		     struct cairn_error *err)
{
	struct dial_log *log = ctx;
	struct peer *p;
	int sv[2];

	pthread_mutex_lock(&log->lock);
	log->dials++;
	snprintf(log->host, sizeof(log->host), "%s", host);
	log->port = port;
	log->timeout_ms = timeout_ms;
	pthread_mutex_unlock(&log->lock);
	if (log->fail)
		return cairn_error_set(err, CAIRN_E_RETRYABLE, "bastion 'gw' refused to forward to '%s:%d'",
				       host, port);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return cairn_error_set(err, CAIRN_E_IO, "socketpair: %s", strerror(errno));
	p = xcalloc(1, sizeof(*p));
	p->fd = sv[1];
	p->probe_fd = sv[0];
	if (pthread_create(&p->thread, NULL, peer_main, p) != 0) {
		close(sv[0]);
		close(sv[1]);
		free(p);
		return cairn_error_set(err, CAIRN_E_IO, "cannot start the peer thread");
	}
	*handle = p;
	return sv[0];
}

static void pair_hangup(void *ctx, void *handle)
{
	struct dial_log *log = ctx;
	struct peer *p = handle;
	bool closed = fcntl(p->probe_fd, F_GETFD) < 0 && errno == EBADF;

	/* the probe closed its end, so the peer saw the end and returns */
	pthread_join(p->thread, NULL);
	free(p);
	pthread_mutex_lock(&log->lock);
	log->hangups++;
	log->closed_first += closed;
	pthread_mutex_unlock(&log->lock);
}

#define DIAL_LOG_INIT { .lock = PTHREAD_MUTEX_INITIALIZER }

/* ---- misuse ---------------------------------------------------------------- */

static void expect_invalid(int rc, struct cairn_probe_result *r, struct cairn_error *err, const char *msg)
{
	assert_int_equal(rc, -1);
	assert_int_equal(err->code, CAIRN_E_INVALID);
	assert_string_equal(err->message, msg);
	assert_false(r->ok);
	assert_string_equal(r->detail, msg);
	cairn_error_release(err);
}

static void test_misuse(void **state)
{
	struct cairn_probe_dialer no_dial = { 0 };
	struct cairn_probe_result r;
	struct cairn_error err = CAIRN_ERROR_INIT;

	(void)state;
	expect_invalid(cairn_probe_tcp(NULL, 80, 1000, NULL, &r, &err), &r, &err, "invalid host ''");
	expect_invalid(cairn_probe_tcp("", 80, 1000, NULL, &r, &err), &r, &err, "invalid host ''");
	expect_invalid(cairn_probe_tcp("web 1", 80, 1000, NULL, &r, &err), &r, &err, "invalid host 'web 1'");
	expect_invalid(cairn_probe_tcp("[::1]", 80, 1000, NULL, &r, &err), &r, &err, "invalid host '[::1]'");
	expect_invalid(cairn_probe_tcp("::1", 0, 1000, NULL, &r, &err), &r, &err, "invalid port 0 for host '::1'");
	expect_invalid(cairn_probe_tcp("10.0.0.1", 65536, 1000, NULL, &r, &err), &r, &err,
		       "invalid port 65536 for host '10.0.0.1'");
	expect_invalid(cairn_probe_tcp("10.0.0.1", 80, 0, NULL, &r, &err), &r, &err, "invalid probe timeout 0 ms");
	expect_invalid(cairn_probe_tcp("10.0.0.1", 80, 1000, &no_dial, &r, &err), &r, &err,
		       "a probe dialer without a dial function");
	expect_invalid(cairn_probe_http(NULL, 1000, NULL, &r, &err), &r, &err, "invalid URL ''");
	expect_invalid(cairn_probe_http("ftp://10.0.0.1/", 1000, NULL, &r, &err), &r, &err,
		       "invalid URL 'ftp://10.0.0.1/': not http:// or https://");
	expect_invalid(cairn_probe_http("10.0.0.1/healthz", 1000, NULL, &r, &err), &r, &err,
		       "invalid URL '10.0.0.1/healthz': bad scheme");
	expect_invalid(cairn_probe_http("http://10.0.0.1/", -5, NULL, &r, &err), &r, &err,
		       "invalid probe timeout -5 ms");
	expect_invalid(cairn_probe_ping("a/b", 1000, &r, &err), &r, &err, "invalid host 'a/b'");
	expect_invalid(cairn_probe_ping("127.0.0.1", 0, &r, &err), &r, &err, "invalid probe timeout 0 ms");
}

/* ---- tcp ------------------------------------------------------------------- */

static void test_tcp_ok_and_refused(void **state)
{
	struct cairn_probe_result r;
	struct cairn_error err = CAIRN_ERROR_INIT;
	int port, closed_port;
	int lfd = tcp_socket(8, &port);
	int bfd = tcp_socket(-1, &closed_port);   /* bound, not listening: RST */

	(void)state;
	assert_int_equal(cairn_probe_tcp("127.0.0.1", port, 2000, NULL, &r, &err), 0);
	assert_true(r.ok);
	assert_string_equal(r.detail, "connected");
	assert_int_equal(r.status, 0);
	assert_true(r.ms >= 0 && r.ms < 2000);

	/* a name, resolved here */
	assert_int_equal(cairn_probe_tcp("localhost", port, 2000, NULL, &r, &err), 0);
	assert_true(r.ok);

	assert_int_equal(cairn_probe_tcp("127.0.0.1", closed_port, 2000, NULL, &r, &err), 0);
	assert_false(r.ok);
	assert_string_equal(r.detail, "connection refused");
	assert_int_equal(r.status, 0);
	assert_true(r.ms < 2000);
	assert_false(cairn_error_isset(&err));
	close(lfd);
	close(bfd);

	if (have_ipv6_loopback()) {
		struct sockaddr_in6 sa = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };
		socklen_t len = sizeof(sa);
		int fd6 = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);

		assert_true(fd6 >= 0);
		assert_int_equal(bind(fd6, (struct sockaddr *)&sa, sizeof(sa)), 0);
		assert_int_equal(listen(fd6, 8), 0);
		assert_int_equal(getsockname(fd6, (struct sockaddr *)&sa, &len), 0);
		assert_int_equal(cairn_probe_tcp("::1", ntohs(sa.sin6_port), 2000, NULL, &r, &err), 0);
		assert_true(r.ok);
		close(fd6);
		assert_int_equal(cairn_probe_tcp("::1", ntohs(sa.sin6_port), 2000, NULL, &r, &err), 0);
		assert_false(r.ok);
		assert_string_equal(r.detail, "connection refused");
	}
}

/*
 * A listener whose accept queue is full drops new SYNs (Linux, with
 * net.ipv4.tcp_abort_on_overflow at 0), so a connect hangs as it does to a
 * host that drops packets.  Fill it with connections nobody accepts, then
 * probe it with tcp and http.
 */
static void test_connect_timeout(void **state)
{
	struct cairn_probe_result r;
	char *url;
	struct cairn_error err = CAIRN_ERROR_INIT;
	struct sockaddr_in sa = { .sin_family = AF_INET };
	int port, fill[16], nfill = 0, lfd = tcp_socket(0, &port);
	bool full = false;

	(void)state;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = htons((uint16_t)port);
	while (nfill < (int)ARRAY_SIZE(fill) && !full) {
		struct pollfd p;
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

		assert_true(fd >= 0);
		fill[nfill++] = fd;
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			continue;
		assert_int_equal(errno, EINPROGRESS);
		p = (struct pollfd){ .fd = fd, .events = POLLOUT };
		full = poll(&p, 1, 200) == 0;   /* this one's SYN was dropped */
	}
	if (!full) {
		for (int i = 0; i < nfill; i++)
			close(fill[i]);
		close(lfd);
		print_message("skipped: a full accept queue does not drop connections here\n");
		skip();
	}
	assert_int_equal(cairn_probe_tcp("127.0.0.1", port, SHORT_MS, NULL, &r, &err), 0);
	assert_false(r.ok);
	assert_string_equal(r.detail, "no connection in 300 ms");
	assert_true(r.ms >= SHORT_MS && r.ms < SHORT_MS + SLACK_MS);

	/* the same for HTTP: told from a server that does not answer */
	url = xasprintf("http://127.0.0.1:%d/ok", port);
	assert_int_equal(cairn_probe_http(url, SHORT_MS, NULL, &r, &err), 0);
	assert_false(r.ok);
	assert_int_equal(r.status, 0);
	assert_string_equal(r.detail, "no connection in 300 ms");
	assert_true(r.ms >= SHORT_MS && r.ms < SHORT_MS + SLACK_MS);
	free(url);
	assert_false(cairn_error_isset(&err));
	for (int i = 0; i < nfill; i++)
		close(fill[i]);
	close(lfd);
}

static void test_tcp_unresolvable(void **state)
{
	struct cairn_probe_result r;
	struct cairn_error err = CAIRN_ERROR_INIT;

	(void)state;
	/* .invalid never resolves (RFC 6761); a result, not a misuse */
	assert_int_equal(cairn_probe_tcp("nothing.invalid", 80, 20000, NULL, &r, &err), 0);
	assert_false(r.ok);
	assert_true(!strncmp(r.detail, "cannot resolve 'nothing.invalid': ", 34) ||
		    !strncmp(r.detail, "resolving 'nothing.invalid' took ", 33));
	assert_false(cairn_error_isset(&err));
}

static void test_tcp_dialer(void **state)
{
	struct dial_log log = DIAL_LOG_INIT;
	struct cairn_probe_dialer d = { .dial = pair_dial, .hangup = pair_hangup, .ctx = &log };
	struct cairn_probe_result r;
	struct cairn_error err = CAIRN_ERROR_INIT;

	(void)state;
	/* nothing listens on 10.9.8.7 here: only the dialer makes it ok */
	assert_int_equal(cairn_probe_tcp("10.9.8.7", 5432, 1500, &d, &r, &err), 0);
	assert_true(r.ok);
	assert_string_equal(r.detail, "connected");
	assert_string_equal(log.host, "10.9.8.7");
	assert_int_equal(log.port, 5432);
	assert_int_equal(log.timeout_ms, 1500);
	assert_int_equal(log.dials, 1);
	assert_int_equal(log.hangups, 1);
	assert_int_equal(log.closed_first, 1);

	log.fail = true;
	assert_int_equal(cairn_probe_tcp("db.internal", 5432, 1500, &d, &r, &err), 0);
	assert_false(r.ok);
	assert_string_equal(r.detail, "bastion 'gw' refused to forward to 'db.internal:5432'");
	assert_int_equal(log.dials, 2);
	assert_int_equal(log.hangups, 1);
	assert_false(cairn_error_isset(&err));
}

/* ---- http ------------------------------------------------------------------ */

static struct server *http_server;

static int http_setup(void **state)
{
	(void)state;
	http_server = server_start();
	return 0;
}

static int http_teardown(void **state)
{
	(void)state;
	server_stop(http_server);
	http_server = NULL;
	return 0;
}

/* Probe path on the test server; returns r. */
static struct cairn_probe_result get(const char *path, int timeout_ms)
{
	struct cairn_probe_result r;
	struct cairn_error err = CAIRN_ERROR_INIT;
	char *url = xasprintf("http://127.0.0.1:%d%s", http_server->port, path);

	assert_int_equal(cairn_probe_http(url, timeout_ms, NULL, &r, &err), 0);
	assert_false(cairn_error_isset(&err));
	free(url);
	return r;
}

static void test_http_status(void **state)
{
	struct cairn_probe_result r;
	int before;

	(void)state;
	r = get("/ok", 5000);
	assert_true(r.ok);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.detail, "HTTP 200");
	assert_true(r.ms >= 0 && r.ms < 5000);

	/* healthy, and not followed: the server saw one request */
	before = server_requests(http_server);
	r = get("/moved", 5000);
	assert_true(r.ok);
	assert_int_equal(r.status, 302);
	assert_string_equal(r.detail, "HTTP 302");
	assert_int_equal(server_requests(http_server), before + 1);

	r = get("/down", 5000);
	assert_false(r.ok);
	assert_int_equal(r.status, 503);
	assert_string_equal(r.detail, "HTTP 503");

	/* the body is dropped after 64 KiB; the status stands */
	r = get("/big", 5000);
	assert_true(r.ok);
	assert_int_equal(r.status, 200);

	/* an interim 1xx is not the answer */
	r = get("/continue", 5000);
	assert_true(r.ok);
	assert_int_equal(r.status, 204);
	assert_string_equal(r.detail, "HTTP 204");

	r = get("/empty", 5000);
	assert_false(r.ok);
	assert_int_equal(r.status, 0);
	assert_string_equal(r.detail, "empty reply");

	r = get("/garbage", 5000);
	assert_false(r.ok);
	assert_int_equal(r.status, 0);
	assert_true(r.detail[0] != '\0');
}

static void test_http_timeout_and_refused(void **state)
{
	struct cairn_probe_result r;
	struct cairn_error err = CAIRN_ERROR_INIT;
	int port, bfd = tcp_socket(-1, &port);
	char *url = xasprintf("http://127.0.0.1:%d/ok", port);

	(void)state;
	r = get("/hang", SHORT_MS);
	assert_false(r.ok);
	assert_int_equal(r.status, 0);
	assert_string_equal(r.detail, "no response in 300 ms");
	assert_true(r.ms >= SHORT_MS && r.ms < SHORT_MS + SLACK_MS);

	assert_int_equal(cairn_probe_http(url, 2000, NULL, &r, &err), 0);
	assert_false(r.ok);
	assert_int_equal(r.status, 0);
	assert_string_equal(r.detail, "connection refused");
	assert_true(r.ms < 2000);
	free(url);
	close(bfd);

	/* https to a plain HTTP server: it waits for a request, the client
	 * for a ServerHello */
	url = xasprintf("https://127.0.0.1:%d/ok", http_server->port);
	assert_int_equal(cairn_probe_http(url, SHORT_MS, NULL, &r, &err), 0);
	assert_false(r.ok);
	assert_int_equal(r.status, 0);
	assert_string_equal(r.detail, "no TLS handshake in 300 ms");
	assert_true(r.ms >= SHORT_MS && r.ms < SHORT_MS + SLACK_MS);
	free(url);
	assert_false(cairn_error_isset(&err));
}

static void test_http_dialer(void **state)
{
	struct dial_log log = DIAL_LOG_INIT;
	struct cairn_probe_dialer d = { .dial = pair_dial, .hangup = pair_hangup, .ctx = &log };
	struct cairn_probe_result r;
	struct cairn_error err = CAIRN_ERROR_INIT;

	(void)state;
	/* a name only the far side knows: dialed as it is, never resolved here */
	assert_int_equal(cairn_probe_http("http://web.internal:8080/ok", 5000, &d, &r, &err), 0);
	assert_true(r.ok);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.detail, "HTTP 200");
	assert_string_equal(log.host, "web.internal");
	assert_int_equal(log.port, 8080);
	assert_true(log.timeout_ms > 0 && log.timeout_ms <= 5000);
	assert_int_equal(log.dials, 1);
	assert_int_equal(log.hangups, 1);
	assert_int_equal(log.closed_first, 1);

	/* an IPv6 literal loses its brackets; the port is the scheme's */
	assert_int_equal(cairn_probe_http("http://[fd00::5]/down", 5000, &d, &r, &err), 0);
	assert_false(r.ok);
	assert_int_equal(r.status, 503);
	assert_string_equal(r.detail, "HTTP 503");
	assert_string_equal(log.host, "fd00::5");
	assert_int_equal(log.port, 80);

	assert_int_equal(cairn_probe_http("http://10.1.2.3:81/moved", 5000, &d, &r, &err), 0);
	assert_true(r.ok);
	assert_int_equal(r.status, 302);
	assert_string_equal(log.host, "10.1.2.3");
	assert_int_equal(log.port, 81);

	assert_int_equal(cairn_probe_http("http://web.internal/hang", SHORT_MS, &d, &r, &err), 0);
	assert_false(r.ok);
	assert_int_equal(r.status, 0);
	assert_string_equal(r.detail, "no response in 300 ms");
	assert_int_equal(log.dials, 4);
	assert_int_equal(log.hangups, 4);
	assert_int_equal(log.closed_first, 4);

	log.fail = true;
	assert_int_equal(cairn_probe_http("http://web.internal:8080/ok", 5000, &d, &r, &err), 0);
	assert_false(r.ok);
	assert_int_equal(r.status, 0);
	assert_string_equal(r.detail, "bastion 'gw' refused to forward to 'web.internal:8080'");
	assert_int_equal(log.dials, 5);
	assert_int_equal(log.hangups, 4);
	assert_false(cairn_error_isset(&err));
}

/* ---- ping ------------------------------------------------------------------ */

/* cairn_probe_ping(), or skip when this process may not open ICMP sockets. */
static void ping_or_skip(const char *host, int timeout_ms, struct cairn_probe_result *r)
{
	struct cairn_error err = CAIRN_ERROR_INIT;

	if (cairn_probe_ping(host, timeout_ms, r, &err) < 0) {
		assert_int_equal(err.code, CAIRN_E_UNSUPPORTED);
		print_message("skipped: %s\n", err.message);
		cairn_error_release(&err);
		skip();
	}
}

static void test_ping_loopback(void **state)
{
	struct cairn_probe_result r;

	(void)state;
	ping_or_skip("127.0.0.1", 2000, &r);
	assert_true(r.ok);
	assert_string_equal(r.detail, "reply from 127.0.0.1");
	assert_int_equal(r.status, 0);
	assert_true(r.ms >= 0 && r.ms < 2000);

	ping_or_skip("localhost", 2000, &r);
	assert_true(r.ok);

	if (!have_ipv6_loopback()) {
		print_message("no ::1 here: ICMPv6 not tested\n");
		return;
	}
	ping_or_skip("::1", 2000, &r);
	assert_true(r.ok);
	assert_string_equal(r.detail, "reply from ::1");
}

/*
 * TEST-NET-2 (RFC 5737) is nobody's, so no reply can come; but what this
 * machine's network makes of it varies: the request leaves and nothing
 * comes back (a timeout), there is no route, or a gateway rejects it.  The
 * probe must say which, and never call it healthy.
 */
static void test_ping_no_reply(void **state)
{
	static const char *const honest[] = {
		"no reply in 300 ms", "network unreachable", "host unreachable", "rejected (ICMP port unreachable)",
	};
	struct cairn_probe_result r;
	bool known = false;

	(void)state;
	ping_or_skip("198.51.100.1", SHORT_MS, &r);
	if (r.ok) {
		print_message("skipped: 198.51.100.1 answers ICMP echo on this network\n");
		skip();
	}
	assert_int_equal(r.status, 0);
	for (size_t i = 0; i < ARRAY_SIZE(honest); i++)
		known |= !strcmp(r.detail, honest[i]);
	if (!known)
		fail_msg("unexpected detail '%s'", r.detail);
	if (!strcmp(r.detail, honest[0]))
		assert_true(r.ms >= SHORT_MS && r.ms < SHORT_MS + SLACK_MS);
	else
		assert_true(r.ms < SHORT_MS + SLACK_MS);
	print_message("198.51.100.1: %s\n", r.detail);
}

/* ---- threads --------------------------------------------------------------- */

/*
 * Several threads probe at once: pings must each match their own reply
 * (a raw socket sees every echo reply of the process), HTTP probes share
 * libcurl.  Threads record; the main thread asserts.
 */
#define NTHREADS 8
#define ROUNDS 5

struct worker {
	pthread_t thread;
	const char *url;
	struct cairn_probe_dialer *dialer;
	bool ping;
	int ok, bad;
	char last_bad[256];
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;

	for (int i = 0; i < ROUNDS; i++) {
		struct cairn_probe_result r;
		struct cairn_error err = CAIRN_ERROR_INIT;
		int rc = w->ping ? cairn_probe_ping("127.0.0.1", 3000, &r, &err)
				 : cairn_probe_http(w->url, 10000, w->dialer, &r, &err);

		if (rc == 0 && r.ok) {
			w->ok++;
		} else {
			w->bad++;
			snprintf(w->last_bad, sizeof(w->last_bad), "%s", r.detail);
		}
		cairn_error_release(&err);
	}
	return NULL;
}

static void test_concurrent(void **state)
{
	struct dial_log log = DIAL_LOG_INIT;
	struct cairn_probe_dialer d = { .dial = pair_dial, .hangup = pair_hangup, .ctx = &log };
	struct worker w[NTHREADS];
	struct cairn_probe_result r;
	struct cairn_error err = CAIRN_ERROR_INIT;
	char *url = xasprintf("http://127.0.0.1:%d/ok", http_server->port);
	bool can_ping = cairn_probe_ping("127.0.0.1", 2000, &r, &err) == 0;

	(void)state;
	cairn_error_release(&err);
	memset(w, 0, sizeof(w));
	for (int i = 0; i < NTHREADS; i++) {
		w[i].ping = can_ping && i % 2 == 0;
		w[i].url = i % 4 == 1 ? "http://svc.internal/ok" : url;
		w[i].dialer = i % 4 == 1 ? &d : NULL;
		assert_int_equal(pthread_create(&w[i].thread, NULL, worker_main, &w[i]), 0);
	}
	for (int i = 0; i < NTHREADS; i++) {
		pthread_join(w[i].thread, NULL);
		if (w[i].bad)
			fail_msg("thread %d: %d failed, the last with '%s'", i, w[i].bad, w[i].last_bad);
		assert_int_equal(w[i].ok, ROUNDS);
	}
	assert_int_equal(log.dials, log.hangups);
	free(url);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_misuse),
		cmocka_unit_test(test_tcp_ok_and_refused),
		cmocka_unit_test(test_connect_timeout),
		cmocka_unit_test(test_tcp_unresolvable),
		cmocka_unit_test(test_tcp_dialer),
		cmocka_unit_test(test_http_status),
		cmocka_unit_test(test_http_timeout_and_refused),
		cmocka_unit_test(test_http_dialer),
		cmocka_unit_test(test_ping_loopback),
		cmocka_unit_test(test_ping_no_reply),
		cmocka_unit_test(test_concurrent),
	};

	return cmocka_run_group_tests(tests, http_setup, http_teardown);
}
