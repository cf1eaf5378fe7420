/*
 * health.c - a node's health checks (docs/internals/health.md): run them,
 * keep their state, gate a new node's dependents on them.
 *
 * A node's `health` section lists checks: ping, tcp ports, http URLs and a
 * command over SSH.  Each is probed from where cairn runs (src/health), and
 * for a node behind a bastion through it: tcp and http over a direct-tcpip
 * channel of the bastion's sshd, ping by running ping(8) on the bastion
 * (ICMP cannot cross an SSH connection), the command over the node's own
 * session through the bastion.
 *
 * Each check keeps a fact "check.NAME" on its node: {state, fails, detail,
 * ms, checked_at, since, ok_at}.  A check is "pending" until it first
 * passes, "ready" while it passes, and "failed" once it failed `retries`
 * times in a row (Occopus's semantics: a node gets retries x interval to
 * become ready, and a ready node that stops answering counts as failed
 * within retries x interval).  A node is failed when one of its checks is,
 * pending when one is, ready when all are.
 */
#include "util/common.h"

#include <pthread.h>

#include "engine/engine-priv.h"
#include "health/probe.h"
#include "ssh/keys.h"
#include "ssh/ssh.h"
#include "util/clock.h"
#include "util/jsonutil.h"
#include "util/strmap.h"

CAIRN_LOG_INIT("engine.health");

#define GATE_POLL_MS 2000       /* at most this long between two rounds while a node starts */

struct check {
	char *name;             /* "ping", "tcp:22", "http:URL", "command" */
	const char *kind;
	int port;               /* tcp */
	const char *arg;        /* http: the URL; command: the command (borrowed) */
};

struct node_health {
	const json_t *spec;     /* the resolved health section */
	struct check *checks;
	size_t n;
	int64_t interval_ms, timeout_ms;
	int retries;
};

static void health_release(struct node_health *h)
{
	for (size_t i = 0; i < h->n; i++)
		free(h->checks[i].name);
	free(h->checks);
	memset(h, 0, sizeof(*h));
}

static void add_check(struct node_health *h, char *name, const char *kind, int port, const char *arg)
{
	h->checks = xrealloc(h->checks, (h->n + 1) * sizeof(*h->checks));
	h->checks[h->n++] = (struct check){ name, kind, port, arg };
}

/* The checks of a resolved health section; false when it has none. */
static bool health_of(const json_t *spec, struct node_health *h)
{
	const json_t *v;
	size_t i;

	memset(h, 0, sizeof(*h));
	if (!json_is_object(spec))
		return false;
	h->spec = spec;
	v = json_object_get(spec, "interval");
	h->interval_ms = json_is_integer(v) ? json_integer_value(v) : 30000;
	v = json_object_get(spec, "timeout");
	h->timeout_ms = json_is_integer(v) ? json_integer_value(v) : 5000;
	v = json_object_get(spec, "retries");
	h->retries = json_is_integer(v) ? (int)json_integer_value(v) : 3;
	if (json_is_true(json_object_get(spec, "ping")))
		add_check(h, xstrdup("ping"), "ping", 0, NULL);
	json_array_foreach(json_object_get(spec, "tcp"), i, v)
		if (json_is_integer(v))
			add_check(h, xasprintf("tcp:%lld", (long long)json_integer_value(v)), "tcp",
				  (int)json_integer_value(v), NULL);
	json_array_foreach(json_object_get(spec, "http"), i, v)
		if (json_is_string(v))
			add_check(h, xasprintf("http:%s", json_string_value(v)), "http", 0, json_string_value(v));
	if (cairn_json_str(spec, "command"))
		add_check(h, xstrdup("command"), "command", 0, cairn_json_str(spec, "command"));
	return h->n > 0;
}

/* ---- probing -------------------------------------------------------------------------- */

struct via {
	struct eng *e;
	const struct cairn_resource_record *bastion;
};

static int dial(void *ctx, const char *host, int port, int timeout_ms, void **handle,
		struct cairn_error *err)
{
	struct via *v = ctx;
	int fd;

	*handle = eng_forward(v->e, v->bastion, host, port, timeout_ms, &fd, err);
	return *handle ? fd : -1;
}

static void hangup(void *ctx, void *handle)
{
	(void)ctx;
	cairn_ssh_forward_close(handle);
}

/* Probe one check of node rec (address host); r gets the outcome. */
static void probe(struct eng *e, const struct cairn_resource_record *rec,
		  const struct cairn_resource_record *bastion, const char *host,
		  const struct check *c, int timeout_ms, struct cairn_probe_result *r)
{
	struct via v = { e, bastion };
	struct cairn_probe_dialer d = { dial, hangup, &v };
	struct cairn_error err = CAIRN_ERROR_INIT;
	int64_t t0 = cairn_now_ms();

	memset(r, 0, sizeof(*r));
	if (!host && strcmp(c->kind, "http")) {
		snprintf(r->detail, sizeof(r->detail), "no address");
		return;
	}
	if (!strcmp(c->kind, "tcp")) {
		cairn_probe_tcp(host, c->port, timeout_ms, bastion ? &d : NULL, r, &err);
	} else if (!strcmp(c->kind, "http")) {
		cairn_probe_http(c->arg, timeout_ms, bastion ? &d : NULL, r, &err);
	} else if (!strcmp(c->kind, "ping") && !bastion) {
		cairn_probe_ping(host, timeout_ms, r, &err);
	} else {
		/* a command on the node, or ping(8) on its bastion */
		struct cairn_buf out = CAIRN_BUF_INIT;
		char *cmd = NULL;
		int status = -1;

		if (!strcmp(c->kind, "ping")) {
			struct cairn_buf q = CAIRN_BUF_INIT;

			/* iputils' ping, or busybox's where it is all there is */
			cairn_buf_addf(&q, "h=");
			cairn_buf_add_sh_quoted(&q, host);
			cairn_buf_addf(&q, "; if command -v ping >/dev/null 2>&1; then ping -c 1 -W %d \"$h\";"
				       " else busybox ping -c 1 -W %d \"$h\"; fi",
				       timeout_ms < 1000 ? 1 : timeout_ms / 1000, timeout_ms < 1000 ? 1 : timeout_ms / 1000);
			cmd = cairn_buf_detach(&q, NULL);
		}
		cairn_buf_init(&out, 4096);
		if (eng_run_on(e, cmd ? bastion : rec, cmd ? NULL : bastion, cmd ? cmd : c->arg,
			       timeout_ms, &out, &status, &err)) {
			snprintf(r->detail, sizeof(r->detail), "%s", err.message);
		} else {
			size_t end = out.len;

			while (end && (out.s[end - 1] == '\n' || out.s[end - 1] == '\r'))
				end--;
			r->ok = status == 0;
			if (r->ok)
				snprintf(r->detail, sizeof(r->detail), "%s", cmd ? "answers ping" : "exit 0");
			else
				snprintf(r->detail, sizeof(r->detail), "%s %d%s%.*s", cmd ? "ping exited" : "exit",
					 status, end ? ": " : "", (int)(end > 160 ? 160 : end),
					 out.s + (end > 160 ? end - 160 : 0));
		}
		cairn_buf_release(&out);
		free(cmd);
		r->ms = cairn_now_ms() - t0;
	}
	if (cairn_error_isset(&err) && !r->detail[0])
		snprintf(r->detail, sizeof(r->detail), "%s", err.message);
	cairn_error_release(&err);
}

/*
 * The next state of a check (prev: its fact, or NULL) after a probe:
 * ready when it passed; else pending or ready until it failed retries
 * times in a row, then failed.  While a new node is waited for (gating),
 * time decides instead: pending until give_up, then failed.
 */
static json_t *next_state(const json_t *prev, const struct cairn_probe_result *r, int retries,
			  bool gating, bool give_up)
{
	const char *was = cairn_json_str(prev, "state");
	json_int_t fails = json_integer_value(json_object_get(prev, "fails"));
	const char *state;
	char now[21];
	json_t *v;

	cairn_timestamp(now);
	if (r->ok) {
		fails = 0;
		state = "ready";
	} else {
		fails++;
		if (gating)
			state = give_up ? "failed" : "pending";
		else if (fails >= retries || (was && !strcmp(was, "failed")))
			state = "failed";
		else
			state = was && !strcmp(was, "ready") ? "ready" : "pending";
	}
	v = json_pack("{s:s, s:I, s:s, s:I, s:s}", "state", state, "fails", fails, "detail", r->detail,
		      "ms", (json_int_t)r->ms, "checked_at", now);
	if (was && !strcmp(was, state) && cairn_json_str(prev, "since"))
		json_object_set(v, "since", json_object_get(prev, "since"));
	else
		json_object_set_new(v, "since", json_string(now));
	if (r->ok)
		json_object_set_new(v, "ok_at", json_string(now));
	else if (json_object_get(prev, "ok_at"))
		json_object_set(v, "ok_at", json_object_get(prev, "ok_at"));
	return v;
}

/* The worst state of a node's checks: failed, pending, ready. */
static const char *node_state(const json_t *checks)
{
	const char *worst = "ready";
	size_t i;
	json_t *c;

	json_array_foreach(checks, i, c) {
		const char *s = cairn_json_str(c, "state");

		if (s && !strcmp(s, "failed"))
			return "failed";
		if (s && !strcmp(s, "pending"))
			worst = "pending";
	}
	return worst;
}

/*
 * One round of node rec's checks: probe each, store its new state.
 * *checks (may be NULL) gets [{check, ...state}].  Returns the node's state.
 */
static const char *round_of(struct eng *e, const struct cairn_resource_record *rec,
			    const struct cairn_resource_record *bastion, const struct node_health *h,
			    const json_t *facts, bool gating, bool give_up, json_t **checks)
{
	const char *host = cairn_json_str(rec->observed, "ip");
	json_t *all = json_array();
	const char *state;

	if (!host)
		host = cairn_json_str(rec->observed, "address");
	for (size_t i = 0; i < h->n; i++) {
		struct cairn_probe_result r;
		char *fact = xasprintf("check.%s", h->checks[i].name);
		struct cairn_error err = CAIRN_ERROR_INIT;
		json_t *v;

		probe(e, rec, bastion, host, &h->checks[i], (int)h->timeout_ms, &r);
		v = next_state(json_object_get(facts, fact), &r, h->retries, gating, give_up);
		pthread_mutex_lock(&e->store_mu);
		if (cairn_store_fact_put(e->st, e->stack, rec->address, fact, v, &err))
			cairn_warn("%s: cannot record check %s: %s", rec->address, h->checks[i].name, err.message);
		pthread_mutex_unlock(&e->store_mu);
		cairn_error_release(&err);
		json_object_set_new(v, "check", json_string(h->checks[i].name));
		json_array_append_new(all, v);
		free(fact);
	}
	state = node_state(all);
	if (checks)
		*checks = all;
	else
		json_decref(all);
	return state;
}

/* The node's "check." facts as {name: value}; a new reference. */
static json_t *check_facts(struct eng *e, const char *address)
{
	struct cairn_error err = CAIRN_ERROR_INIT;
	json_t *rows = NULL, *out = json_object(), *row;
	size_t i;

	pthread_mutex_lock(&e->store_mu);
	if (cairn_store_fact_list(e->st, e->stack, address, "check.", &rows, &err)) {
		cairn_warn("%s: cannot read its checks: %s", address, err.message);
		cairn_error_release(&err);
	}
	pthread_mutex_unlock(&e->store_mu);
	json_array_foreach(rows, i, row)
		json_object_set(out, cairn_json_str(row, "name"), json_object_get(row, "value"));
	json_decref(rows);
	return out;
}

/* Forget the checks a node no longer has. */
static void forget_stale(struct eng *e, const char *address, const json_t *facts,
			 const struct node_health *h)
{
	const char *name;
	json_t *v;

	json_object_foreach((json_t *)facts, name, v) {
		bool kept = false;

		for (size_t i = 0; i < h->n && !kept; i++)
			kept = !strcmp(name + 6, h->checks[i].name);
		if (!kept) {
			struct cairn_error err = CAIRN_ERROR_INIT;

			pthread_mutex_lock(&e->store_mu);
			cairn_store_fact_delete(e->st, e->stack, address, name, &err);
			pthread_mutex_unlock(&e->store_mu);
			cairn_error_release(&err);
		}
	}
}

int eng_health_gate(struct eng *e, const struct cairn_resource_record *rec,
		    const struct cairn_resource_record *bastion, const json_t *health,
		    struct cairn_error *err)
{
	struct node_health h;
	int64_t t0 = cairn_now_ms(), deadline;
	json_t *facts, *checks = NULL;
	const char *state = "pending";

	if (!health_of(health, &h))
		return 0;
	facts = check_facts(e, rec->address);
	forget_stale(e, rec->address, facts, &h);
	/* a new node has retries x interval to pass its checks (or retries x
	 * timeout, when one check may take longer than an interval), probed
	 * at least every GATE_POLL_MS meanwhile */
	deadline = t0 + h.retries * (h.interval_ms > h.timeout_ms ? h.interval_ms : h.timeout_ms);
	for (;;) {
		int64_t round = cairn_now_ms();
		bool last = round + (h.interval_ms < GATE_POLL_MS ? h.interval_ms : GATE_POLL_MS) > deadline;

		json_decref(checks);
		checks = NULL;
		state = round_of(e, rec, bastion, &h, facts, true, last, &checks);
		if (!strcmp(state, "ready") || last || !strcmp(state, "failed"))
			break;
		json_decref(facts);
		facts = check_facts(e, rec->address);
		{
			int64_t wait = (h.interval_ms < GATE_POLL_MS ? h.interval_ms : GATE_POLL_MS) -
				       (cairn_now_ms() - round);
			struct timespec ts = { wait / 1000, (wait % 1000) * 1000000L };

			if (wait > 0)
				nanosleep(&ts, NULL);
		}
		if (e->opts->interrupt && *e->opts->interrupt)
			break;
	}
	if (strcmp(state, "ready")) {
		struct cairn_buf why = CAIRN_BUF_INIT;
		size_t i;
		json_t *c;

		json_array_foreach(checks, i, c)
			if (strcmp(cairn_json_str(c, "state"), "ready"))
				cairn_buf_addf(&why, "%s%s: %s", why.len ? "; " : "", cairn_json_str(c, "check"),
					       cairn_json_str(c, "detail"));
		cairn_error_set(err, CAIRN_E_PERMANENT, "health checks did not pass in %.1f s: %s",
				(cairn_now_ms() - t0) / 1000.0, why.s);
		cairn_buf_release(&why);
	} else {
		cairn_debug("%s: healthy after %lld ms", rec->address, (long long)(cairn_now_ms() - t0));
	}
	json_decref(checks);
	json_decref(facts);
	health_release(&h);
	return strcmp(state, "ready") ? -1 : 0;
}

/* ---- cairn health ------------------------------------------------------------------ */

struct hjob {
	const struct cairn_resource_record *rec, *bastion;
	json_t *health;         /* resolved */
	struct node_health h;   /* its checks (h.spec points into health) */
	const json_t *facts;    /* {"check.NAME": value}, borrowed from the run's */
	json_t *result;         /* {"address", "name", "state", "checks"} */
};

struct hrun {
	struct eng *e;
	struct hjob *jobs;
	size_t n, next;
	pthread_mutex_t mu;
};

static void *hworker(void *arg)
{
	struct hrun *r = arg;

	for (;;) {
		struct hjob *j;
		json_t *checks = NULL;
		const char *state;

		pthread_mutex_lock(&r->mu);
		j = r->next < r->n ? &r->jobs[r->next++] : NULL;
		pthread_mutex_unlock(&r->mu);
		if (!j)
			break;
		forget_stale(r->e, j->rec->address, j->facts, &j->h);
		state = round_of(r->e, j->rec, j->bastion, &j->h, j->facts, false, false, &checks);
		j->result = json_pack("{s:s, s:s?, s:s, s:o}", "address", j->rec->address,
				      "name", cairn_json_str(j->rec->desired, "name"), "state", state,
				      "checks", checks);
	}
	return NULL;
}

/* whether rec's checks are due: never run, or run longer than its interval ago */
static bool due(const json_t *facts, const struct node_health *h)
{
	int64_t now = cairn_now_realtime_ms();

	for (size_t i = 0; i < h->n; i++) {
		char *name = xasprintf("check.%s", h->checks[i].name);
		const char *at = cairn_json_str(json_object_get(facts, name), "checked_at");
		struct tm tm = { 0 };
		bool stale = !at || !strptime(at, "%Y-%m-%dT%H:%M:%SZ", &tm) ||
			     now - (int64_t)timegm(&tm) * 1000 >= h->interval_ms - 500;

		free(name);
		if (stale)
			return true;
	}
	return false;
}

int cairn_engine_health(struct cairn_store *st, const char *kek_path, const char *stack,
			const char *const *names, size_t nnames, int parallelism, bool due_only,
			json_t **out, struct cairn_error *err)
{
	struct cairn_engine_opts opts = { .kek_path = kek_path };
	struct cairn_resource_record *recs = NULL;
	struct cairn_strmap by_addr = CAIRN_STRMAP_INIT;
	json_t *rows = NULL, *row, *facts = json_object(), *none = json_object();
	struct hrun run = { 0 };
	struct eng e;
	pthread_t *threads = NULL;
	size_t n = 0, i;
	int nthreads, started = 0, ret = -1;

	*out = json_array();
	eng_init(&e, st, stack, &opts);
	run.e = &e;
	pthread_mutex_init(&run.mu, NULL);
	if (cairn_store_resource_list(st, stack, &recs, &n, err))
		goto out;
	/* every node's checks as last recorded, in one query: --watch asks
	 * again every quarter of a second */
	if (cairn_store_fact_list(st, stack, NULL, "check.", &rows, err))
		goto out;
	json_array_foreach(rows, i, row) {
		const char *addr = cairn_json_str(row, "address");
		json_t *f = json_object_get(facts, addr);

		if (!f)
			json_object_set_new(facts, addr, f = json_object());
		json_object_set(f, cairn_json_str(row, "name"), json_object_get(row, "value"));
	}
	for (i = 0; i < n; i++)
		cairn_strmap_put(&by_addr, recs[i].address, &recs[i]);
	run.jobs = xcalloc(n ? n : 1, sizeof(*run.jobs));
	for (i = 0; i < n; i++) {
		struct cairn_resource_record *r = &recs[i];
		struct hjob *j = &run.jobs[run.n];
		char *baddr;

		if (!r->kind || strcmp(r->kind, "node") || !eng_names_node(r, names, nnames) ||
		    !json_object_get(r->desired, "health"))
			continue;
		j->rec = r;
		j->health = cairn_engine_resolve(json_object_get(r->desired, "health"), recs, n, r);
		j->facts = json_object_get(facts, r->address) ? json_object_get(facts, r->address) : none;
		if (!health_of(j->health, &j->h) || (due_only && !due(j->facts, &j->h))) {
			health_release(&j->h);
			json_decref(j->health);
			memset(j, 0, sizeof(*j));
			continue;
		}
		baddr = eng_bastion_address(r);
		j->bastion = baddr ? cairn_strmap_get(&by_addr, baddr) : NULL;
		free(baddr);
		run.n++;
	}
	if (!run.n) {
		ret = 0;
		goto out;
	}
	/* the stack's key, unless every login has a key file (static machines) */
	{
		struct cairn_error kerr = CAIRN_ERROR_INIT;

		if (kek_path && cairn_engine_stack_key(st, kek_path, stack, false, &e.key_private,
						       &e.key_public, &kerr))
			cairn_debug("stack '%s' has no key of its own: %s", stack, kerr.message);
		cairn_error_release(&kerr);
	}
	nthreads = parallelism > 0 ? parallelism : 10;
	if ((size_t)nthreads > run.n)
		nthreads = (int)run.n;
	threads = xcalloc((size_t)nthreads, sizeof(*threads));
	for (int t = 0; t < nthreads; t++)
		if (!pthread_create(&threads[t], NULL, hworker, &run))
			started++;
	if (!started)
		hworker(&run);
	for (int t = 0; t < started; t++)
		pthread_join(threads[t], NULL);
	for (i = 0; i < run.n; i++)
		if (run.jobs[i].result)
			json_array_append(*out, run.jobs[i].result);
	ret = 0;
out:
	for (i = 0; run.jobs && i < run.n; i++) {
		health_release(&run.jobs[i].h);
		json_decref(run.jobs[i].health);
		json_decref(run.jobs[i].result);
	}
	free(run.jobs);
	cairn_strmap_release(&by_addr);
	json_decref(rows);
	json_decref(facts);
	json_decref(none);
	free(threads);
	pthread_mutex_destroy(&run.mu);
	cairn_resource_record_list_free(recs, n);
	eng_release(&e);
	return ret;
}

int cairn_engine_health_show(struct cairn_store *st, const char *stack, json_t **out,
			     struct cairn_error *err)
{
	struct cairn_resource_record *recs = NULL;
	json_t *rows = NULL;
	size_t n = 0;

	*out = NULL;
	if (cairn_store_resource_list(st, stack, &recs, &n, err) ||
	    cairn_store_fact_list(st, stack, NULL, "check.", &rows, err)) {
		cairn_resource_record_list_free(recs, n);
		return -1;
	}
	*out = json_array();
	for (size_t i = 0; i < n; i++) {
		json_t *checks = json_array(), *row;
		size_t k;

		if (!recs[i].kind || strcmp(recs[i].kind, "node") || !json_object_get(recs[i].desired, "health")) {
			json_decref(checks);
			continue;
		}
		json_array_foreach(rows, k, row)
			if (!strcmp(cairn_json_str(row, "address"), recs[i].address)) {
				json_t *v = json_deep_copy(json_object_get(row, "value"));

				json_object_set_new(v, "check", json_string(cairn_json_str(row, "name") + 6));
				json_array_append_new(checks, v);
			}
		json_array_append_new(*out, json_pack("{s:s, s:s?, s:s, s:o}", "address", recs[i].address,
						      "name", cairn_json_str(recs[i].desired, "name"),
						      "state", json_array_size(checks) ? node_state(checks) : "pending",
						      "checks", checks));
	}
	json_decref(rows);
	cairn_resource_record_list_free(recs, n);
	return 0;
}
