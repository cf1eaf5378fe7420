/*
 * plugin.h - the server side of cairn's provider plugin protocol, for
 * plugins written in C (docs/plugin-protocol.md, docs/plugins.md).
 *
 * A plugin fills a struct cairn_sdk_plugin with its name, the types and
 * kinds it serves and one handler per method it offers (the handshake's
 * "methods" lists them; cairn sends no update to a plugin without one, and
 * an empty slot answers "unsupported" anyway), and hands it to
 * cairn_sdk_run(), which owns the process's stdin and stdout: it reads one
 * request per line, answers the handshake, runs the other requests on a
 * pool of worker threads (so slow calls overlap, as the protocol allows),
 * writes each response as one line under a lock, and returns when cairn
 * sends "shutdown" or closes stdin.
 *
 * Handlers run on worker threads, several at once: whatever they share they
 * lock themselves.  A handler gets its request's params borrowed (never
 * NULL: {} when the request had none) and returns one of:
 *   CAIRN_SDK_OK       *result is the response's "result", an object whose
 *                      reference the SDK takes over (NULL stands for {});
 *   CAIRN_SDK_ERROR    err says why: cairn_sdk_error() fills it;
 *   CAIRN_SDK_NOREPLY  no response at all (the handler answered itself with
 *                      cairn_sdk_write_line(), or means to lose the answer).
 *
 * The SDK needs only jansson and pthreads; it does not link libcairn.
 */
#ifndef CAIRN_PLUGINS_SDK_PLUGIN_H
#define CAIRN_PLUGINS_SDK_PLUGIN_H

#include <jansson.h>
#include <stddef.h>

#define CAIRN_SDK_PROTOCOL 1

/* The longest line either side may send (docs/plugin-protocol.md). */
#define CAIRN_SDK_MAX_LINE (4u << 20)

/* Error codes of the protocol. */
#define CAIRN_SDK_RETRYABLE   "retryable"
#define CAIRN_SDK_PERMANENT   "permanent"
#define CAIRN_SDK_NOTFOUND    "notfound"
#define CAIRN_SDK_INVALID     "invalid"
#define CAIRN_SDK_UNSUPPORTED "unsupported"

enum cairn_sdk_status {
	CAIRN_SDK_OK = 0,
	CAIRN_SDK_ERROR = -1,
	CAIRN_SDK_NOREPLY = 1,
};

/*
 * An error answer: code is one of the CAIRN_SDK_* codes above, message one
 * line in the project's style (lowercase, no trailing period).  extra, when
 * not NULL, is an object whose keys are added to the error object (the
 * handshake's "protocols"); the SDK releases it.
 */
struct cairn_sdk_error {
	char code[16];
	char message[1024];
	json_t *extra;
};

/* Fill err and return CAIRN_SDK_ERROR, so a handler can `return cairn_sdk_error(...)`. */
int cairn_sdk_error(struct cairn_sdk_error *err, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

struct cairn_sdk;           /* the running server, handed to handlers */

/* One request, borrowed by the handler for the duration of the call. */
struct cairn_sdk_call {
	struct cairn_sdk *sdk;
	json_int_t id;
	const char *method;
	const json_t *params;
};

/*
 * A method handler.  data is the pointer given to cairn_sdk_run().  For
 * "handshake", *result arrives holding the SDK's answer (protocol, name,
 * version, types, kinds, methods), which the handler may add to; the handshake
 * handler runs on the reading thread, before any other request is read.
 */
typedef int cairn_sdk_method_fn(void *data, const struct cairn_sdk_call *call,
				json_t **result, struct cairn_sdk_error *err);

struct cairn_sdk_plugin {
	const char *name;                   /* "cairn-provider-process" */
	const char *version;                /* "0.1.0" */
	const char *const *types;           /* NULL-terminated: {"process", NULL} */
	const char *const *kinds;           /* NULL-terminated: {"node", NULL} */
	cairn_sdk_method_fn *handshake;     /* optional: read the config */
	cairn_sdk_method_fn *create;        /* mandatory in the protocol */
	cairn_sdk_method_fn *read;
	cairn_sdk_method_fn *update;        /* optional: without it, cairn replaces */
	cairn_sdk_method_fn *delete;
	cairn_sdk_method_fn *list;
	unsigned max_workers;               /* calls in progress at once; 0: 256 */
};

/*
 * Serve requests from stdin until "shutdown" or end of input; calls in
 * progress are answered first (waiting for them at most 60 s).  Requests
 * before a successful handshake are refused with "invalid".  Returns the
 * process's exit status: 0, or 1 when reading stdin failed.
 * SIGPIPE is ignored from here on (a child that must not inherit that
 * resets it before exec).
 */
int cairn_sdk_run(const struct cairn_sdk_plugin *plugin, void *data);

/*
 * Write one line to cairn, as it is (a newline is added), under the lock
 * that keeps responses whole.  For handlers that answer in their own way: a
 * fault-injecting plugin writes garbage with it.  Returns 0 or -1.
 */
int cairn_sdk_write_line(struct cairn_sdk *sdk, const char *line, size_t len);

/*
 * Nonzero once cairn has sent "shutdown" or closed stdin: a handler that
 * waits on purpose (a simulated hang) polls it and gives up.
 */
int cairn_sdk_stopping(struct cairn_sdk *sdk);

/* Log one line to stderr, which cairn keeps and shows when the plugin fails. */
void cairn_sdk_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Small helpers for params. */
/* The string member key of obj, or NULL when absent or not a string. */
const char *cairn_sdk_str(const json_t *obj, const char *key);

#endif
