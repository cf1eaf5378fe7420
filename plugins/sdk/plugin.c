/*
 * plugin.c - the request loop of a C plugin: one reading thread, an elastic
 * pool of workers, responses written whole under one lock.
 *
 * The reader owns stdin.  It answers the handshake itself (so nothing is
 * worked on before it), queues every later request, and stops at "shutdown"
 * or end of input.  Workers are started on demand, up to max_workers, and
 * stay for the next request: a plugin answering thousands of quick calls
 * does not pay a thread per call, and one answering slow calls still works
 * on as many at once as cairn sends.  When max_workers calls are in
 * progress the reader stops reading, which is the back-pressure the
 * protocol expects (cairn sends at most `parallelism` requests anyway).
 *
 * There is one server per process, so its state is a static struct: a
 * worker still stuck in a handler when the process exits never points at
 * freed memory.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "plugin.h"

/* How long in-flight calls may take to finish once cairn said goodbye. */
#define DRAIN_MS 60000
#define DEFAULT_WORKERS 256
#define WORKER_STACK (1u << 20)

struct job {
	json_t *req;                /* the whole request, owned */
	json_int_t id;
	const char *method;         /* in req */
	const json_t *params;       /* in req, or empty_params */
	struct job *next;
};

struct cairn_sdk {
	const struct cairn_sdk_plugin *plugin;
	void *data;

	pthread_mutex_t out_lock;   /* one response line at a time */
	bool out_broken;            /* stdout failed: stop writing */

	pthread_mutex_t lock;       /* everything below */
	pthread_cond_t work;        /* a job was queued, or quitting */
	pthread_cond_t done;        /* a job finished, or a worker left */
	struct job *head, *tail;
	unsigned workers, idle;
	unsigned pending;           /* queued + running */
	unsigned max_workers;
	bool quit;                  /* workers leave once the queue is empty */
	bool stopping;              /* end of input or shutdown seen */
	pid_t parent;               /* cairn, as it was at the start */
};

static struct cairn_sdk server = {
	.out_lock = PTHREAD_MUTEX_INITIALIZER,
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.work = PTHREAD_COND_INITIALIZER,
	.done = PTHREAD_COND_INITIALIZER,
};

static json_t *empty_params;

void cairn_sdk_log(const char *fmt, ...)
{
	va_list ap;

	flockfile(stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	funlockfile(stderr);
}

int cairn_sdk_error(struct cairn_sdk_error *err, const char *code, const char *fmt, ...)
{
	va_list ap;

	snprintf(err->code, sizeof(err->code), "%s", code);
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	return CAIRN_SDK_ERROR;
}

const char *cairn_sdk_str(const json_t *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key));
}

int cairn_sdk_stopping(struct cairn_sdk *sdk)
{
	int r;

	pthread_mutex_lock(&sdk->lock);
	r = sdk->stopping;
	pthread_mutex_unlock(&sdk->lock);
	return r;
}

/* One line and its newline, in as few write()s as the pipe takes. */
static int write_line(int fd, const char *line, size_t len)
{
	struct iovec iov[2] = { { (void *)line, len }, { "\n", 1 } };
	int n = 2;
	struct iovec *v = iov;

	while (n) {
		ssize_t w = writev(fd, v, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		while (n && (size_t)w >= v->iov_len) {
			w -= (ssize_t)v->iov_len;
			v++;
			n--;
		}
		if (n) {
			v->iov_base = (char *)v->iov_base + w;
			v->iov_len -= (size_t)w;
		}
	}
	return 0;
}

int cairn_sdk_write_line(struct cairn_sdk *sdk, const char *line, size_t len)
{
	int r = 0;

	pthread_mutex_lock(&sdk->out_lock);
	if (sdk->out_broken) {
		r = -1;
	} else if (write_line(STDOUT_FILENO, line, len)) {
		cairn_sdk_log("%s: cannot write to cairn: %s", sdk->plugin->name, strerror(errno));
		sdk->out_broken = true;
		r = -1;
	}
	pthread_mutex_unlock(&sdk->out_lock);
	return r;
}

/* Encode and send one response; takes the reference to msg. */
static void send_json(struct cairn_sdk *sdk, json_t *msg)
{
	char *s = json_dumps(msg, JSON_COMPACT);

	json_decref(msg);
	if (!s) {
		cairn_sdk_log("%s: cannot encode a response", sdk->plugin->name);
		return;
	}
	cairn_sdk_write_line(sdk, s, strlen(s));
	free(s);
}

static void send_error(struct cairn_sdk *sdk, json_int_t id, struct cairn_sdk_error *err)
{
	json_t *e = json_pack("{ss ss}", "code", err->code[0] ? err->code : CAIRN_SDK_PERMANENT,
			      "message", err->message);

	if (err->extra) {
		json_object_update_missing(e, err->extra);
		json_decref(err->extra);
		err->extra = NULL;
	}
	send_json(sdk, json_pack("{sI so}", "id", id, "error", e));
}

/* Send what a handler returned; takes the reference to result. */
static void send_outcome(struct cairn_sdk *sdk, json_int_t id, int status, json_t *result,
			 struct cairn_sdk_error *err)
{
	json_t *msg;
	char *s;
	size_t len;

	if (status == CAIRN_SDK_NOREPLY) {
		json_decref(result);
		return;
	}
	if (status != CAIRN_SDK_OK) {
		json_decref(result);
		send_error(sdk, id, err);
		return;
	}
	if (!result)
		result = json_object();
	msg = json_pack("{sI so}", "id", id, "result", result);
	s = json_dumps(msg, JSON_COMPACT);
	json_decref(msg);
	len = s ? strlen(s) : 0;
	if (s && len < CAIRN_SDK_MAX_LINE) {
		cairn_sdk_write_line(sdk, s, len);
	} else {
		cairn_sdk_error(err, CAIRN_SDK_PERMANENT,
				"response of %zu bytes is over the protocol's limit of %u", len,
				CAIRN_SDK_MAX_LINE);
		send_error(sdk, id, err);
	}
	free(s);
}

static cairn_sdk_method_fn *handler_for(const struct cairn_sdk_plugin *p, const char *method)
{
	static const char *const names[] = { "create", "read", "update", "delete", "list" };
	cairn_sdk_method_fn *const fns[] = { p->create, p->read, p->update, p->delete, p->list };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(method, names[i]))
			return fns[i];
	return NULL;
}

static void run_job(struct cairn_sdk *sdk, struct job *j)
{
	struct cairn_sdk_call call = { sdk, j->id, j->method, j->params };
	struct cairn_sdk_error err = { "", "", NULL };
	cairn_sdk_method_fn *fn = handler_for(sdk->plugin, j->method);
	json_t *result = NULL;
	int status;

	if (!fn)
		status = cairn_sdk_error(&err, CAIRN_SDK_UNSUPPORTED, "method '%s' is not offered by %s",
					 j->method, sdk->plugin->name);
	else
		status = fn(sdk->data, &call, &result, &err);
	send_outcome(sdk, j->id, status, result, &err);
}

static void *worker(void *arg)
{
	struct cairn_sdk *sdk = arg;

	pthread_mutex_lock(&sdk->lock);
	for (;;) {
		struct job *j;

		while (!sdk->head && !sdk->quit)
			pthread_cond_wait(&sdk->work, &sdk->lock);
		if (!sdk->head)
			break;
		j = sdk->head;
		sdk->head = j->next;
		if (!sdk->head)
			sdk->tail = NULL;
		sdk->idle--;
		pthread_mutex_unlock(&sdk->lock);

		/* cairn gone (we were handed to another parent): start nothing
		 * more.  Its journal resolves what it never heard back about, and
		 * work begun now would race with the next run's recovery, which
		 * might look for an object before this made it. */
		if (getppid() == sdk->parent)
			run_job(sdk, j);
		json_decref(j->req);
		free(j);

		pthread_mutex_lock(&sdk->lock);
		sdk->idle++;
		sdk->pending--;
		pthread_cond_broadcast(&sdk->done);
	}
	sdk->idle--;
	sdk->workers--;
	pthread_cond_broadcast(&sdk->done);
	pthread_mutex_unlock(&sdk->lock);
	return NULL;
}

/* Called with sdk->lock held. */
static int start_worker(struct cairn_sdk *sdk)
{
	pthread_attr_t attr;
	pthread_t t;
	int r;

	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, WORKER_STACK);
	r = pthread_create(&t, &attr, worker, sdk);
	pthread_attr_destroy(&attr);
	if (r)
		return -1;
	sdk->workers++;
	sdk->idle++;
	return 0;
}

/* Queue one request (its reference is taken); waits while the pool is full. */
static void enqueue(struct cairn_sdk *sdk, json_t *req, json_int_t id, const char *method,
		    const json_t *params)
{
	struct job *j = malloc(sizeof(*j));

	if (!j) {
		cairn_sdk_log("%s: out of memory", sdk->plugin->name);
		abort();
	}
	*j = (struct job){ req, id, method, params, NULL };
	pthread_mutex_lock(&sdk->lock);
	while (sdk->pending >= sdk->max_workers)
		pthread_cond_wait(&sdk->done, &sdk->lock);
	if (sdk->tail)
		sdk->tail->next = j;
	else
		sdk->head = j;
	sdk->tail = j;
	sdk->pending++;
	/* Queued jobs beyond the idle workers need more workers. */
	if (sdk->idle < sdk->pending - (sdk->workers - sdk->idle) && sdk->workers < sdk->max_workers &&
	    start_worker(sdk) && !sdk->workers) {
		cairn_sdk_log("%s: cannot start a worker thread", sdk->plugin->name);
		abort();
	}
	pthread_cond_signal(&sdk->work);
	pthread_mutex_unlock(&sdk->lock);
}

/* Wait for the queue and the calls in progress, at most DRAIN_MS; then let idle workers go. */
static void drain(struct cairn_sdk *sdk)
{
	struct timespec until;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += DRAIN_MS / 1000;
	pthread_mutex_lock(&sdk->lock);
	sdk->stopping = true;
	while (sdk->pending)
		if (pthread_cond_timedwait(&sdk->done, &sdk->lock, &until) == ETIMEDOUT) {
			cairn_sdk_log("%s: leaving with %u calls unfinished", sdk->plugin->name,
				      sdk->pending);
			break;
		}
	sdk->quit = true;
	pthread_cond_broadcast(&sdk->work);
	/* Idle workers leave at once; a stuck one is abandoned to exit(). */
	while (sdk->workers > sdk->pending)
		if (pthread_cond_timedwait(&sdk->done, &sdk->lock, &until) == ETIMEDOUT)
			break;
	pthread_mutex_unlock(&sdk->lock);
}

static json_t *string_array(const char *const *v)
{
	json_t *a = json_array();

	for (; v && *v; v++)
		json_array_append_new(a, json_string(*v));
	return a;
}

/* Answer the handshake; true when it was accepted. */
static bool handshake(struct cairn_sdk *sdk, json_int_t id, const json_t *params)
{
	const struct cairn_sdk_plugin *p = sdk->plugin;
	struct cairn_sdk_error err = { "", "", NULL };
	struct cairn_sdk_call call = { sdk, id, "handshake", params };
	json_t *proto = json_object_get(params, "protocol");
	json_t *result;
	int status;

	if (!json_is_integer(proto)) {
		status = cairn_sdk_error(&err, CAIRN_SDK_INVALID, "the handshake names no protocol");
	} else if (json_integer_value(proto) != CAIRN_SDK_PROTOCOL) {
		status = cairn_sdk_error(&err, CAIRN_SDK_INVALID,
					 "%s speaks protocol %d, not %" JSON_INTEGER_FORMAT, p->name,
					 CAIRN_SDK_PROTOCOL, json_integer_value(proto));
	} else {
		static const char *const names[] = { "create", "read", "update", "delete", "list", NULL };
		json_t *methods = json_array();

		for (size_t i = 0; names[i]; i++)
			if (handler_for(p, names[i]))
				json_array_append_new(methods, json_string(names[i]));
		result = json_pack("{si ss ss so so so}", "protocol", CAIRN_SDK_PROTOCOL, "name", p->name,
				   "version", p->version, "types", string_array(p->types),
				   "kinds", string_array(p->kinds), "methods", methods);
		status = p->handshake ? p->handshake(sdk->data, &call, &result, &err) : CAIRN_SDK_OK;
		send_outcome(sdk, id, status, result, &err);
		return status == CAIRN_SDK_OK;
	}
	err.extra = json_pack("{s[i]}", "protocols", CAIRN_SDK_PROTOCOL);
	send_error(sdk, id, &err);
	return false;
}

/*
 * One line from cairn.  Returns 1 after "shutdown", else 0.  *shaken says
 * whether a handshake was answered successfully.
 */
static int dispatch(struct cairn_sdk *sdk, const char *line, size_t len, bool *shaken)
{
	struct cairn_sdk_error err = { "", "", NULL };
	json_error_t jerr;
	json_t *req = json_loadb(line, len, 0, &jerr);
	json_t *jid, *params;
	const char *method;
	json_int_t id;

	if (!req || !json_is_object(req)) {
		cairn_sdk_log("%s: ignoring a request that is not a JSON object: %s", sdk->plugin->name,
			      req ? "not an object" : jerr.text);
		json_decref(req);
		return 0;
	}
	jid = json_object_get(req, "id");
	if (!json_is_integer(jid)) {
		cairn_sdk_log("%s: ignoring a request without an integer id", sdk->plugin->name);
		json_decref(req);
		return 0;
	}
	id = json_integer_value(jid);
	method = cairn_sdk_str(req, "method");
	params = json_object_get(req, "params");
	if (!params || json_is_null(params))
		params = empty_params;
	if (!method) {
		cairn_sdk_error(&err, CAIRN_SDK_INVALID, "request %" JSON_INTEGER_FORMAT " has no method", id);
	} else if (!json_is_object(params)) {
		cairn_sdk_error(&err, CAIRN_SDK_INVALID, "the params of '%s' must be an object", method);
	} else if (!strcmp(method, "handshake")) {
		if (*shaken) {
			cairn_sdk_error(&err, CAIRN_SDK_INVALID, "a second handshake");
		} else {
			/* A refused handshake leaves the plugin waiting for a better one. */
			*shaken = handshake(sdk, id, params);
			json_decref(req);
			return 0;
		}
	} else if (!*shaken) {
		cairn_sdk_error(&err, CAIRN_SDK_INVALID, "'%s' before the handshake", method);
	} else if (!strcmp(method, "shutdown")) {
		drain(sdk);
		send_json(sdk, json_pack("{sI s{}}", "id", id, "result"));
		json_decref(req);
		return 1;
	} else {
		enqueue(sdk, req, id, method, params);
		return 0;
	}
	send_error(sdk, id, &err);
	json_decref(req);
	return 0;
}

int cairn_sdk_run(const struct cairn_sdk_plugin *plugin, void *data)
{
	struct cairn_sdk *sdk = &server;
	size_t cap = 1 << 16, len = 0, scanned = 0;
	char *buf = malloc(cap);
	bool shaken = false, skipping = false, done = false;
	int status = 0;
	unsigned left;

	sdk->parent = getppid();
	if (!buf)
		abort();
	signal(SIGPIPE, SIG_IGN);
	json_object_seed(0);    /* before any thread hashes a key */
	empty_params = json_object();
	sdk->plugin = plugin;
	sdk->data = data;
	sdk->max_workers = plugin->max_workers ? plugin->max_workers : DEFAULT_WORKERS;

	while (!done) {
		size_t start = 0;
		char *nl;
		ssize_t n;

		/* Hand over every complete line in the buffer, then keep the rest. */
		while (!done && (nl = memchr(buf + scanned, '\n', len - scanned))) {
			size_t end = (size_t)(nl - buf);

			if (skipping)
				skipping = false;
			else if (end > start && dispatch(sdk, buf + start, end - start, &shaken))
				done = true;
			start = scanned = end + 1;
		}
		if (done)
			break;
		if (start) {
			memmove(buf, buf + start, len - start);
			len -= start;
		}
		scanned = len;
		if (len > CAIRN_SDK_MAX_LINE) {
			if (!skipping)
				cairn_sdk_log("%s: ignoring a request longer than %u bytes",
					      plugin->name, CAIRN_SDK_MAX_LINE);
			skipping = true;
			len = scanned = 0;
		}
		if (len == cap) {
			char *b = realloc(buf, cap * 2);

			if (!b)
				abort();
			buf = b;
			cap *= 2;
		}
		n = read(STDIN_FILENO, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			cairn_sdk_log("%s: cannot read from cairn: %s", plugin->name, strerror(errno));
			status = 1;
		}
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	if (!done)
		drain(sdk);
	free(buf);
	pthread_mutex_lock(&sdk->lock);
	left = sdk->pending;
	pthread_mutex_unlock(&sdk->lock);
	if (!left)
		json_decref(empty_params);
	return status;
}
