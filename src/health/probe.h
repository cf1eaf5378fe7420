/*
 * probe.h - one health probe against one host: a TCP connect, an HTTP
 * request (libcurl) or an ICMP echo.  A probe answers one question once;
 * the engine schedules probes, counts failures in a row, decides ready,
 * pending or failed, and stores what they found (docs/internals/health.md).
 *
 * Results: every probe fills a struct cairn_probe_result, which the caller
 * owns (usually on its stack); nothing in it points anywhere.  A probe
 * returns 0 when it ran, whatever it found: r->ok says healthy or not and
 * r->detail says what was seen, as a short lowercase phrase without a
 * trailing period ("connection refused", "HTTP 503", "no reply in 2000 ms").
 * It returns -1 with err set only when it could not run at all, which says
 * nothing about the host:
 *   CAIRN_E_INVALID      a misuse: no host, a host that is neither a name
 *                        nor an IP address, a port outside 1..65535, a
 *                        timeout <= 0, a URL that is not http:// or https://
 *                        or does not parse;
 *   CAIRN_E_UNSUPPORTED  ping only: this process may open neither an
 *                        unprivileged ICMP socket (net.ipv4.ping_group_range)
 *                        nor a raw one (root, CAP_NET_RAW);
 *   CAIRN_E_IO           a local failure, such as no file descriptor left.
 * On -1, r is still filled: r->ok is false and r->detail holds err's
 * message.  A name that does not resolve is a result, not a misuse
 * ("cannot resolve 'web.lan': ..."): DNS may come back.
 *
 * Timeouts: timeout_ms bounds the whole probe, name resolution included as
 * far as the resolver allows (getaddrinfo() has no timeout of its own; a
 * lookup that ends past the budget is "resolving 'H' took N ms, over the
 * T ms timeout").  A probe that runs out of time says which step did, with
 * T the timeout given: "no connection in T ms" (the TCP handshake did not
 * complete), "no TLS handshake in T ms", "no response in T ms" (connected,
 * but no HTTP status and headers came back), "no reply in T ms" (no ICMP
 * echo reply).
 *
 * Threads: every function here may be called from any number of threads at
 * once.  Probes share nothing but libcurl's global state, initialised once
 * per process on the first HTTP probe (pthread_once); concurrent pings each
 * have their own socket and match only the reply to their own request.
 */
#ifndef CAIRN_HEALTH_PROBE_H
#define CAIRN_HEALTH_PROBE_H

#include <stdbool.h>
#include <stdint.h>

#include "cairn/error.h"

/*
 * How a probe reaches host:port when it cannot, or should not, connect
 * directly: e.g. through a node's SSH bastion.  A NULL dialer means
 * directly (a TCP connect from this host).
 *
 * dial() connects to host:port as the dialer sees it (a name is resolved
 * on the far side, never here) within timeout_ms and returns a connected
 * stream socket (e.g. one end of a socketpair whose other end a thread
 * pumps through an SSH channel), or -1 with err set when it cannot; its
 * message becomes the probe's detail.  It may set *handle to whatever it
 * needs to release afterwards.  The probe owns the returned fd and closes
 * it, then calls hangup(ctx, handle); hangup may be NULL when there is
 * nothing to release.  dial() must honour timeout_ms itself: the probe
 * cannot interrupt it.  Both are called from the probing thread, and may be
 * called from several threads at once with the same ctx.
 *
 * The dialer serves cairn_probe_tcp() and cairn_probe_http(); an ICMP echo
 * is not a stream and has no dialer.
 */
typedef int (*cairn_probe_dial_fn)(void *ctx, const char *host, int port, int timeout_ms,
				   void **handle, struct cairn_error *err);
typedef void (*cairn_probe_hangup_fn)(void *ctx, void *handle);

struct cairn_probe_dialer {
	cairn_probe_dial_fn dial;      /* mandatory */
	cairn_probe_hangup_fn hangup;  /* optional */
	void *ctx;                     /* borrowed, passed to both */
};

struct cairn_probe_result {
	bool ok;            /* healthy */
	int64_t ms;         /* how long it took, see each probe; also when !ok */
	long status;        /* the HTTP status, 0 when none came; tcp, ping: 0 */
	char detail[256];   /* what was seen, always set, e.g. "HTTP 503" */
};

/*
 * Connect to host:port (a name or an IPv4 or IPv6 address, without
 * brackets) and close at once.  Directly: a non-blocking connect to each
 * address getaddrinfo() gives, in its order, until one is established or
 * the time is up.  Healthy when a connection is established; r->ms is the
 * time from the call to that point.  Otherwise the detail of the last
 * address tried: "connection refused", "host unreachable", "network
 * unreachable", "no connection in T ms", "cannot resolve 'H': ...".
 * Through a dialer: healthy when dial() returns a socket; otherwise its
 * message.
 */
int cairn_probe_tcp(const char *host, int port, int timeout_ms, const struct cairn_probe_dialer *d,
		    struct cairn_probe_result *r, struct cairn_error *err);

/*
 * GET url (http:// or https://; libcurl) and look at the status.  Healthy
 * on a 2xx or 3xx status; redirects are not followed.  The verdict is the
 * status once the response's headers are complete: the body is read and
 * dropped, at most 64 KiB of it, and how it ends does not count.  No proxy
 * is used whatever the environment says; TLS certificates are verified
 * against the system's CAs.  r->status is the status (0 when none came),
 * r->detail "HTTP 503", or why no status came: "connection refused", "no
 * connection in T ms", "no TLS handshake in T ms", "no response in T ms",
 * "cannot resolve 'H'", "empty reply", "tls: ...", or the dialer's message.
 * r->ms is the time from the call to the end of the exchange.
 *
 * Through a dialer, dial() is called first, once, with the URL's host (a
 * name is not resolved here) and port (default 80 or 443), and what it
 * takes of timeout_ms is gone from the request's budget; the whole
 * exchange, TLS included, then runs over the socket it returned.
 */
int cairn_probe_http(const char *url, int timeout_ms, const struct cairn_probe_dialer *d,
		     struct cairn_probe_result *r, struct cairn_error *err);

/*
 * Send one ICMP echo request (ICMPv6 for an IPv6 address) to host, the
 * first address getaddrinfo() gives for a name, and wait for the reply to
 * that very request: same identifier, sequence and random payload; other
 * replies, such as those of concurrent pings, are ignored.  Done in-process
 * on an unprivileged ICMP socket, or a raw one when those are not allowed.
 * Healthy when the reply comes within timeout_ms; r->ms is the round trip
 * (from sending to the reply, so 0 on a fast network), or the time waited.
 * Otherwise "no reply in T ms"; "host unreachable", "network unreachable"
 * or "rejected (ICMP port unreachable)" (an ICMP error came back, or the
 * local routing table has no way there); "cannot resolve 'H': ...".
 * Always direct: there is no dialer.
 */
int cairn_probe_ping(const char *host, int timeout_ms, struct cairn_probe_result *r,
		     struct cairn_error *err);

#endif
