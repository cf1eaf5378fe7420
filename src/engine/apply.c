/*
 * apply.c - the executor: a parallel walk of the plan's graph with a
 * journal entry around every provider call.
 *
 * The main thread holds the stack lock and renews it; workers take ready
 * jobs from a queue (respecting each provider's parallelism), run them and
 * release their dependents.  A job that fails blocks only its dependents.
 * Every provider call is bracketed by an intent in the store (see
 * journal.c): opened before, closed together with the result after.
 */
#include "util/common.h"

#include <errno.h>
#include <pthread.h>
#include <time.h>
#include <unistd.h>

#include "engine/engine-priv.h"
#include "providers/cloudinit.h"
#include "util/clock.h"
#include "util/failpoint.h"
#include "util/jsonutil.h"
#include "util/strmap.h"

CAIRN_LOG_INIT("engine.apply");

enum job_state { JOB_WAITING, JOB_READY, JOB_RUNNING, JOB_DONE, JOB_FAILED, JOB_BLOCKED,
		 JOB_SKIPPED };

struct job {
	enum cairn_action action;
	char *address;
	enum cairn_kind kind;
	const char *type, *provider;
	json_t *desired;                    /* the model's (unresolved); NULL for delete */
	const char *desired_hash;
	struct cairn_resource_record *old;  /* the stored record, or NULL */
	struct eprov *prov;
	size_t *dependents, ndependents, adependents;
	size_t pending;                     /* dependencies not done yet */
	enum job_state state;
	int64_t started_ms;
	bool working_said;
	bool local;                         /* an update of cairn's own fields only: no provider call */
	bool configure_only;                /* cairn configure: its steps, as recorded */
};

/* Ready jobs of one provider, first in first out. */
struct jqueue {
	size_t *v, head, n, alloc;          /* v[head..n) are queued */
};

struct engine {
	struct eng base;                    /* store, opts, providers (engine-priv.h) */
	pthread_mutex_t mu;
	pthread_cond_t work, done;
	struct job *jobs;
	size_t njobs;
	/* one queue per provider (base.provs[i]), the last for jobs without
	 * one: a worker looks at the heads only, so taking a job costs
	 * O(providers) however many are ready */
	struct jqueue *queues;
	size_t nqueues, rr;                 /* rr: the queue to look at first */
	size_t remaining, running;
	size_t skipped;                     /* not started because of an interrupt */
	bool stop;
	struct cairn_engine_result *res;
	const json_t *vars;                 /* the stack's variables (templates) */
};

/* ---- the live index of records (for references) ------------------------- */

static const struct cairn_resource_record *lookup(void *ctx, const char *address)
{
	struct eng *e = ctx;

	return cairn_strmap_get(&e->known, address);
}

/* ---- jobs ----------------------------------------------------------------- */

static void emit_job(struct engine *en, const char *event, const struct job *j,
		     const char *error, int attempt)
{
	json_t *ev;

	if (!en->base.opts->event)
		return;
	ev = json_pack("{s:s, s:s, s:s}", "event", event, "address", j->address,
		       "op", j->configure_only ? "configure" : cairn_action_name(j->action));
	if (j->started_ms)
		json_object_set_new(ev, "elapsed_ms", json_integer(cairn_now_ms() - j->started_ms));
	if (error)
		json_object_set_new(ev, "error", json_string(error));
	if (attempt)
		json_object_set_new(ev, "attempt", json_integer(attempt));
	eng_emit(&en->base, ev);
	json_decref(ev);
}

/* relative paths in desired, made absolute against the stack's directory:
 * step sources and playbooks, image files */
static void absolute_paths(const struct eng *e, json_t *desired)
{
	static const char *const image_keys[] = { "disk", "kernel", "initrd", NULL };
	json_t *image = json_object_get(desired, "image"), *step;
	size_t i;

	for (size_t k = 0; json_is_object(image) && image_keys[k]; k++) {
		char *p = eng_path(e, cairn_json_str(image, image_keys[k]));

		if (p)
			json_object_set_new(image, image_keys[k], json_string(p));
		free(p);
	}
	json_array_foreach(json_object_get(desired, "configure"), i, step) {
		const char *kind;
		json_t *body;

		json_object_foreach(step, kind, body) {
			const char *key = !strcmp(kind, "ansible") ? "playbook" : "source";
			char *p = eng_path(e, cairn_json_str(body, key));

			if (p)
				json_object_set_new(body, key, json_string(p));
			free(p);
		}
	}
}

/*
 * The desired attributes with references filled in from what exists now,
 * as a provider is given them.  Of the configure steps it sees only those a
 * cloud-init seed can carry (cairn_ci_seed_prefix()); the engine runs the
 * others, and these too when the provider does not report them seeded.
 */
static json_t *resolved_desired(struct engine *en, const struct job *j)
{
	struct cairn_resource_record self = { .address = j->address, .desired = j->desired };
	const json_t *steps = json_object_get(j->desired, "configure");
	json_t *out;

	pthread_mutex_lock(&en->mu);
	out = cairn_engine_resolve_with(j->desired, lookup, &en->base, &self);
	pthread_mutex_unlock(&en->mu);
	if (steps) {
		size_t k = cairn_ci_seed_prefix(steps);
		json_t *all = json_object_get(out, "configure");

		while (json_array_size(all) > k)
			json_array_remove(all, json_array_size(all) - 1);
		if (!k)
			json_object_del(out, "configure");
	}
	absolute_paths(&en->base, out);
	return out;
}

/* Remember a record for later references (under en->mu). */
static void remember(struct engine *en, const struct cairn_resource_record *r)
{
	struct cairn_resource_record *copy = xcalloc(1, sizeof(*copy));

	copy->address = xstrdup(r->address);
	copy->kind = r->kind ? xstrdup(r->kind) : NULL;
	copy->type = r->type ? xstrdup(r->type) : NULL;
	copy->provider = r->provider ? xstrdup(r->provider) : NULL;
	copy->cairn_id = r->cairn_id ? xstrdup(r->cairn_id) : NULL;
	copy->desired = json_incref(r->desired);
	copy->observed = json_incref(r->observed);
	eng_known_put(&en->base, copy);
}

/* A copy of the record of the bastion of a node (desired: want), or NULL
 * when it has none; -1 when it has one the run does not know. */
static int bastion_of(struct engine *en, const struct cairn_resource_record *rec, const json_t *want,
		      struct cairn_resource_record **out, struct cairn_error *err)
{
	struct cairn_resource_record node = *rec;
	const struct cairn_resource_record *b;
	char *baddr;

	*out = NULL;
	node.desired = (json_t *)want;
	baddr = eng_bastion_address(&node);
	if (!baddr)
		return 0;
	pthread_mutex_lock(&en->mu);
	b = lookup(&en->base, baddr);
	if (b) {
		*out = xcalloc(1, sizeof(**out));
		(*out)->address = xstrdup(b->address);
		(*out)->kind = xstrdup("node");
		(*out)->cairn_id = b->cairn_id ? xstrdup(b->cairn_id) : NULL;
		(*out)->desired = json_incref(b->desired);
		(*out)->observed = json_incref(b->observed);
	}
	pthread_mutex_unlock(&en->mu);
	free(baddr);
	if (!*out)
		return cairn_error_set(err, CAIRN_E_PERMANENT, "%s: its bastion is not known", rec->address);
	return 0;
}

static void bastion_free(struct cairn_resource_record *b)
{
	if (b) {
		cairn_resource_record_release(b);
		free(b);
	}
}

/*
 * A new node's dependents start once it answers on SSH with the stack's
 * key (through its bastion): the host key it shows then is recorded.  A
 * node that does not answer in time stays recorded (it exists) and its job
 * fails, so its dependents are blocked.
 */
static int wait_ready(struct engine *en, struct job *j, struct cairn_resource_record *rec,
		      const json_t *want, const struct cairn_resource_record *bastion, const char *op,
		      struct cairn_error *err)
{
	struct cairn_resource_record node = *rec;
	int ret;

	node.desired = (json_t *)want;
	ret = eng_node_ready(&en->base, &node, bastion, j->prov->ready_ms, rec->observed, err);
	if (!ret) {
		rec->status = CAIRN_RS_READY;
		ret = eng_put_record(&en->base, rec, err);
	}
	if (ret)
		eng_task(&en->base, rec->address, op, "failed", 1, err->message);
	return ret;
}

static bool has_steps(const struct job *j)
{
	return j->kind == CAIRN_KIND_NODE && json_array_size(json_object_get(j->desired, "configure"));
}

/* Run the node's configure steps and store the record with their outcome. */
static int configure(struct engine *en, struct cairn_resource_record *rec,
		     const struct cairn_resource_record *bastion, const char *op,
		     struct cairn_error *err)
{
	struct eng_refs refs = { lookup, &en->base, &en->mu, en->vars };
	struct eng_configure_stats st = { 0 };
	struct cairn_error serr = CAIRN_ERROR_INIT;
	int ret;

	ret = eng_configure(&en->base, rec, bastion, &refs, &st, err);
	pthread_mutex_lock(&en->mu);
	en->res->steps_ran += st.ran;
	en->res->steps_skipped += st.skipped;
	en->res->steps_seeded += st.seeded;
	en->res->steps_failed += st.failed;
	pthread_mutex_unlock(&en->mu);
	/* the record says how far configuration got, whatever happened */
	if (eng_settle(&en->base, rec, ret == 0, &serr)) {
		if (!ret)
			cairn_error_move(err, &serr);
		ret = -1;
	}
	cairn_error_release(&serr);
	if (ret)
		eng_task(&en->base, rec->address, op, "failed", 1, err->message);
	return ret;
}

/*
 * A node's dependents wait for its health checks to pass.  A new node that
 * never passes them is tainted, as Terraform taints what its provisioners
 * failed on: the next apply replaces it.
 */
static int gate(struct engine *en, struct cairn_resource_record *rec,
		const struct cairn_resource_record *bastion, const char *op, struct cairn_error *err)
{
	json_t *health;
	int ret;

	pthread_mutex_lock(&en->mu);
	health = cairn_engine_resolve_with(json_object_get(rec->desired, "health"), lookup, &en->base, rec);
	pthread_mutex_unlock(&en->mu);
	ret = eng_health_gate(&en->base, rec, bastion, health, err);
	json_decref(health);
	if (ret && !strcmp(op, "create")) {
		struct cairn_error perr = CAIRN_ERROR_INIT;

		rec->status = CAIRN_RS_TAINTED;
		if (eng_put_record(&en->base, rec, &perr))
			cairn_warn("cannot mark %s tainted: %s", rec->address, perr.message);
		cairn_error_release(&perr);
	}
	if (ret)
		eng_task(&en->base, rec->address, op, "failed", 1, err->message);
	return ret;
}

/* create or update rec through the journal, with references resolved, and
 * remember the outcome for later references; then configure a node and
 * wait for its health checks */
static int run_put(struct engine *en, struct job *j, const char *op,
		   struct cairn_resource_record *rec, const json_t *before,
		   struct cairn_error *err)
{
	json_t *want = resolved_desired(en, j), *via = NULL;
	struct cairn_resource_record *bastion = NULL;
	int ret = 0;

	rec->desired = j->desired;
	rec->desired_hash = (char *)j->desired_hash;
	rec->observed = NULL;
	if (j->kind == CAIRN_KIND_NODE &&
	    ((j->prov && (j->prov->ssh_ready || j->prov->route)) || has_steps(j))) {
		ret = bastion_of(en, rec, want, &bastion, err);
		if (ret)
			eng_task(&en->base, rec->address, op, "failed", 1, err->message);
		via = bastion && j->prov && j->prov->route ? eng_ssh_route(bastion) : NULL;
	}
	if (!ret && j->local) {
		/* only cairn's own fields changed: nothing to ask the provider */
		rec->observed = before ? json_deep_copy(before) : json_object();
		if (!has_steps(j)) {
			ret = eng_settle(&en->base, rec, true, err);
			if (ret)
				eng_task(&en->base, rec->address, op, "failed", 1, err->message);
		}
	} else if (!ret) {
		ret = eng_call(&en->base, j->prov, op, rec, want, before, via, &rec->observed, err);
	}
	if (!ret && j->kind == CAIRN_KIND_NODE && j->prov && j->prov->ssh_ready && !j->local &&
	    cairn_json_str(rec->observed, "ip") && !cairn_json_str(rec->observed, "host_key"))
		ret = wait_ready(en, j, rec, want, bastion, op, err);
	if (!ret && has_steps(j))
		ret = configure(en, rec, bastion, op, err);
	if (!ret && j->kind == CAIRN_KIND_NODE && json_object_get(j->desired, "health"))
		ret = gate(en, rec, bastion, op, err);
	json_decref(via);
	bastion_free(bastion);
	if (!ret) {
		pthread_mutex_lock(&en->mu);
		remember(en, rec);
		pthread_mutex_unlock(&en->mu);
	}
	json_decref(rec->observed);
	json_decref(want);
	return ret;
}

static int run_create(struct engine *en, struct job *j, struct cairn_error *err)
{
	struct cairn_resource_record rec = { 0 };
	char id[37];

	cairn_uuid(id);
	rec.address = j->address;
	rec.kind = (char *)cairn_kind_name(j->kind);
	rec.type = (char *)j->type;
	rec.provider = (char *)j->provider;
	rec.cairn_id = id;
	return run_put(en, j, "create", &rec, NULL, err);
}

static int run_delete(struct engine *en, struct job *j, struct cairn_error *err)
{
	return eng_call(&en->base, j->prov, "delete", j->old, NULL, j->old->observed, NULL, NULL, err);
}

static int run_update(struct engine *en, struct job *j, struct cairn_error *err)
{
	struct cairn_resource_record rec = *j->old;

	return run_put(en, j, "update", &rec, j->old->observed, err);
}

static int run_job(struct engine *en, struct job *j, struct cairn_error *err)
{
	switch (j->action) {
	case CAIRN_ACTION_CREATE:
		return run_create(en, j, err);
	case CAIRN_ACTION_UPDATE:
		if (j->local || (j->prov && eng_can_update(j->prov)))
			return run_update(en, j, err);
		/* no update in place: replace */
		/* fall through */
	case CAIRN_ACTION_REPLACE:
		if (j->old && run_delete(en, j, err))
			return -1;
		return run_create(en, j, err);
	case CAIRN_ACTION_DELETE:
		return run_delete(en, j, err);
	default:
		return 0;
	}
}

/* ---- scheduling -------------------------------------------------------------- */

static void block_dependents(struct engine *en, size_t ji)
{
	struct job *j = &en->jobs[ji];

	for (size_t k = 0; k < j->ndependents; k++) {
		struct job *d = &en->jobs[j->dependents[k]];

		if (d->state != JOB_WAITING && d->state != JOB_READY)
			continue;
		d->state = JOB_BLOCKED;
		en->remaining--;
		en->res->blocked++;
		eng_task(&en->base, d->address, cairn_action_name(d->action), "blocked", 0,
			 "a resource it depends on failed");
		emit_job(en, "blocked", d, NULL, 0);
		block_dependents(en, j->dependents[k]);
	}
}

static void count_done(struct engine *en, const struct job *j)
{
	if (j->configure_only) {
		en->res->configured++;
		return;
	}
	switch (j->action) {
	case CAIRN_ACTION_CREATE: en->res->created++; break;
	case CAIRN_ACTION_UPDATE: en->res->updated++; break;
	case CAIRN_ACTION_REPLACE: en->res->replaced++; break;
	case CAIRN_ACTION_DELETE: en->res->deleted++; break;
	default: break;
	}
}

static struct jqueue *queue_of(struct engine *en, const struct job *j)
{
	return &en->queues[j->prov ? (size_t)(j->prov - en->base.provs) : en->nqueues - 1];
}

/* Make job ji ready and wake one worker for it (under en->mu). */
static void make_ready(struct engine *en, size_t ji)
{
	struct jqueue *q = queue_of(en, &en->jobs[ji]);

	en->jobs[ji].state = JOB_READY;
	if (q->head && q->head == q->n)
		q->head = q->n = 0;
	ALLOC_GROW(q->v, q->n + 1, q->alloc);
	q->v[q->n++] = ji;
	pthread_cond_signal(&en->work);
}

/* Take the oldest ready job of a provider with room, looking at the
 * providers in turn (under en->mu). */
static ssize_t take_job(struct engine *en)
{
	for (size_t k = 0; k < en->nqueues; k++) {
		size_t qi = (en->rr + k) % en->nqueues;
		struct jqueue *q = &en->queues[qi];
		const struct eprov *p = qi + 1 < en->nqueues ? &en->base.provs[qi] : NULL;

		if (q->head == q->n || (p && p->running >= p->limit))
			continue;
		en->rr = qi + 1;
		return (ssize_t)q->v[q->head++];
	}
	return -1;
}

static void *worker(void *arg)
{
	struct engine *en = arg;
	const struct cairn_engine_opts *o = en->base.opts;

	pthread_mutex_lock(&en->mu);
	for (;;) {
		ssize_t ji = -1;
		struct job *j;
		struct cairn_error err = CAIRN_ERROR_INIT;
		int r;

		while (!en->stop && (ji = take_job(en)) < 0)
			pthread_cond_wait(&en->work, &en->mu);
		if (en->stop)
			break;
		j = &en->jobs[ji];
		j->state = JOB_RUNNING;
		j->started_ms = cairn_now_ms();
		if (j->prov)
			j->prov->running++;
		en->running++;
		pthread_mutex_unlock(&en->mu);

		emit_job(en, "start", j, NULL, 0);
		r = run_job(en, j, &err);

		pthread_mutex_lock(&en->mu);
		if (j->prov)
			j->prov->running--;
		en->running--;
		en->remaining--;
		if (r && o->interrupt && *o->interrupt >= 2) {
			/* abandoned (its intent stays open): neither failed nor done */
			j->state = JOB_SKIPPED;
			en->skipped++;
		} else if (r) {
			j->state = JOB_FAILED;
			en->res->failed++;
			pthread_mutex_unlock(&en->mu);
			emit_job(en, "failed", j, err.message, 0);
			pthread_mutex_lock(&en->mu);
			block_dependents(en, ji);
		} else {
			j->state = JOB_DONE;
			count_done(en, j);
			for (size_t k = 0; k < j->ndependents; k++) {
				struct job *d = &en->jobs[j->dependents[k]];

				if (d->state == JOB_WAITING && --d->pending == 0)
					make_ready(en, j->dependents[k]);
			}
			pthread_mutex_unlock(&en->mu);
			emit_job(en, "done", j, NULL, 0);
			pthread_mutex_lock(&en->mu);
		}
		cairn_error_release(&err);
		/* its provider has room again: one more worker may go on */
		pthread_cond_signal(&en->work);
		if (!en->remaining)
			pthread_cond_signal(&en->done);
	}
	pthread_mutex_unlock(&en->mu);
	return NULL;
}

static void add_dep(struct engine *en, size_t from, size_t to)
{
	struct job *t = &en->jobs[to];

	/* from needs to; to's completion releases from */
	ALLOC_GROW(t->dependents, t->ndependents + 1, t->adependents);
	t->dependents[t->ndependents++] = from;
	en->jobs[from].pending++;
}

/* Run the jobs; returns 0 when all succeeded. */
static int run_all(struct engine *en, struct cairn_error *err)
{
	const struct cairn_engine_opts *o = en->base.opts;
	int nworkers = o->parallelism > 0 ? o->parallelism : 10;
	pthread_t *threads;
	int started = 0;
	bool abandoned = false;
	int64_t last_renew = cairn_now_ms(), last_scan = last_renew;

	if ((size_t)nworkers > en->njobs)
		nworkers = en->njobs ? (int)en->njobs : 1;
	en->nqueues = en->base.nprovs + 1;
	en->queues = xcalloc(en->nqueues, sizeof(*en->queues));
	en->remaining = 0;
	for (size_t i = 0; i < en->njobs; i++) {
		if (en->jobs[i].state == JOB_SKIPPED)
			continue;
		en->remaining++;
		if (!en->jobs[i].pending)
			make_ready(en, i);
	}
	threads = xcalloc(nworkers, sizeof(*threads));
	for (int i = 0; i < nworkers; i++) {
		if (pthread_create(&threads[i], NULL, worker, en))
			break;
		started++;
	}
	pthread_mutex_lock(&en->mu);
	while (en->remaining) {
		struct timespec ts;
		int64_t now;

		if (o->interrupt && *o->interrupt >= 2) {
			abandoned = true;
			break;
		}
		if (o->interrupt && *o->interrupt == 1 && !en->res->interrupted) {
			/* start nothing new: what is queued or waiting is skipped
			 * (a skipped job is never made ready by its dependencies) */
			for (size_t i = 0; i < en->njobs; i++)
				if (en->jobs[i].state == JOB_READY || en->jobs[i].state == JOB_WAITING) {
					en->jobs[i].state = JOB_SKIPPED;
					en->remaining--;
					en->skipped++;
				}
			for (size_t q = 0; q < en->nqueues; q++)
				en->queues[q].head = en->queues[q].n = 0;
			en->res->interrupted = true;
			continue;
		}
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 200 * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&en->done, &en->mu, &ts);
		now = cairn_now_ms();
		if (now - last_renew > en->base.lease_ms / 3) {
			pthread_mutex_unlock(&en->mu);
			eng_renew_lock(&en->base);
			pthread_mutex_lock(&en->mu);
			last_renew = now;
		}
		if (now - last_scan < 200)
			continue;
		last_scan = now;
		for (size_t i = 0; i < en->njobs; i++) {
			struct job *j = &en->jobs[i];

			if (j->state == JOB_RUNNING && !j->working_said &&
			    now - j->started_ms > (o->working_ms ? o->working_ms : 10000)) {
				j->working_said = true;
				emit_job(en, "working", j, NULL, 0);
			}
		}
	}
	en->stop = true;
	pthread_cond_broadcast(&en->work);
	pthread_mutex_unlock(&en->mu);
	/* abandoning: the calls in flight fail now, their intents left open */
	for (size_t i = 0; abandoned && i < en->base.nprovs; i++)
		cairn_provider_abort(en->base.provs[i].p);
	for (int i = 0; i < started; i++)
		pthread_join(threads[i], NULL);
	free(threads);
	if (abandoned) {
		en->res->interrupted = true;
		return cairn_error_set(err, CAIRN_E_CONFLICT,
				       "interrupted: calls in flight were abandoned; their intents stay open for the next run");
	}
	if (en->res->interrupted)
		return cairn_error_set(err, CAIRN_E_CONFLICT, "interrupted: %zu changes not made",
				       en->skipped);
	if (en->res->failed || en->res->blocked)
		return cairn_error_set(err, CAIRN_E_PERMANENT,
				       "%zu resources failed, %zu not attempted because a dependency failed",
				       en->res->failed, en->res->blocked);
	return 0;
}

static void engine_release(struct engine *en)
{
	for (size_t i = 0; i < en->njobs; i++) {
		free(en->jobs[i].address);
		json_decref(en->jobs[i].desired);
		if (en->jobs[i].old) {
			cairn_resource_record_release(en->jobs[i].old);
			free(en->jobs[i].old);
		}
		free(en->jobs[i].dependents);
	}
	free(en->jobs);
	for (size_t q = 0; q < en->nqueues; q++)
		free(en->queues[q].v);
	free(en->queues);
	pthread_mutex_destroy(&en->mu);
	pthread_cond_destroy(&en->work);
	pthread_cond_destroy(&en->done);
	eng_release(&en->base);
}

static void engine_init(struct engine *en, struct cairn_store *st, const char *stack,
			const struct cairn_engine_opts *opts, struct cairn_engine_result *res)
{
	memset(en, 0, sizeof(*en));
	eng_init(&en->base, st, stack, opts);
	pthread_mutex_init(&en->mu, NULL);
	pthread_cond_init(&en->work, NULL);
	pthread_cond_init(&en->done, NULL);
	memset(res, 0, sizeof(*res));
	en->res = res;
}

static struct cairn_resource_record *copy_record(const struct cairn_resource_record *r)
{
	struct cairn_resource_record *c = xcalloc(1, sizeof(*c));

	c->address = xstrdup(r->address);
	c->kind = r->kind ? xstrdup(r->kind) : NULL;
	c->type = r->type ? xstrdup(r->type) : NULL;
	c->provider = r->provider ? xstrdup(r->provider) : NULL;
	c->cairn_id = r->cairn_id ? xstrdup(r->cairn_id) : NULL;
	c->desired_hash = r->desired_hash ? xstrdup(r->desired_hash) : NULL;
	c->desired = json_incref(r->desired);
	c->observed = json_incref(r->observed);
	c->status = r->status;
	return c;
}

/* Deletes wait for the deletes of what may depend on them: nodes first,
 * then volumes, networks, pools (kinds later in this list wait). */
static int delete_rank(enum cairn_kind k)
{
	switch (k) {
	case CAIRN_KIND_NODE: return 0;
	case CAIRN_KIND_VOLUME: return 1;
	case CAIRN_KIND_NETWORK: return 2;
	case CAIRN_KIND_POOL: return 3;
	default: return 0;
	}
}

static void order_deletes(struct engine *en)
{
	enum { NRANK = 4 };
	size_t *byrank[NRANK] = { 0 }, n[NRANK] = { 0 }, alloc[NRANK] = { 0 };

	for (size_t a = 0; a < en->njobs; a++) {
		int r = delete_rank(en->jobs[a].kind);

		if (en->jobs[a].action != CAIRN_ACTION_DELETE)
			continue;
		ALLOC_GROW(byrank[r], n[r] + 1, alloc[r]);
		byrank[r][n[r]++] = a;
	}
	/* each rank waits for the nearest lower one that has deletes (the
	 * lower ones wait in turn) */
	for (int r = 1, below = n[0] ? 0 : -1; r < NRANK; r++) {
		if (!n[r])
			continue;
		for (size_t a = 0; below >= 0 && a < n[r]; a++)
			for (size_t b = 0; b < n[below]; b++)
				add_dep(en, byrank[r][a], byrank[below][b]);
		below = r;
	}
	for (int r = 0; r < NRANK; r++)
		free(byrank[r]);
}

static int finish(struct engine *en, int ret)
{
	json_t *ev;

	en->res->elapsed_ms = cairn_now_ms() - en->base.t0;
	ev = json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:b}", "event", "summary",
		       "created", (json_int_t)en->res->created, "updated", (json_int_t)en->res->updated,
		       "replaced", (json_int_t)en->res->replaced, "deleted", (json_int_t)en->res->deleted,
		       "failed", (json_int_t)en->res->failed, "blocked", (json_int_t)en->res->blocked,
		       "unchanged", (json_int_t)en->res->unchanged,
		       "elapsed_ms", (json_int_t)en->res->elapsed_ms,
		       "interrupted", en->res->interrupted);
	if (en->res->configured || en->res->steps_ran || en->res->steps_skipped || en->res->steps_seeded)
		json_object_update_new(ev, json_pack("{s:I, s:{s:I, s:I, s:I, s:I}}",
						     "configured", (json_int_t)en->res->configured,
						     "steps", "ran", (json_int_t)en->res->steps_ran,
						     "skipped", (json_int_t)en->res->steps_skipped,
						     "seeded", (json_int_t)en->res->steps_seeded,
						     "failed", (json_int_t)en->res->steps_failed));
	eng_emit(&en->base, ev);
	json_decref(ev);
	return ret;
}

int cairn_engine_apply(struct cairn_store *st, const struct cairn_model *m,
		       const struct cairn_plan *p, const struct cairn_engine_opts *opts,
		       struct cairn_engine_result *res, struct cairn_error *err)
{
	struct engine en;
	struct cairn_resource_record *recs = NULL;
	size_t nrecs = 0, *job_of = NULL;
	struct cairn_strmap rec_of = CAIRN_STRMAP_INIT;
	int ret = -1;

	engine_init(&en, st, m->stack, opts, res);
	en.vars = m->variables;
	if (eng_begin(&en.base, m->design, err))
		goto out;
	eng_stack_dir(&en.base, m);
	if (cairn_plan_check_state(p, m->stack, en.base.lineage, en.base.serial, err)) {
		res->stale_plan = true;
		goto out;
	}
	if (eng_records(&en.base, &recs, &nrecs, err))
		goto out;
	for (size_t i = 0; i < nrecs; i++)
		cairn_strmap_put(&rec_of, recs[i].address, &recs[i]);
	if (eng_open_providers(&en.base, m, recs, nrecs, err))
		goto out;

	/* one job per change that does something */
	en.jobs = xcalloc(p->n ? p->n : 1, sizeof(*en.jobs));
	job_of = xcalloc(m->nres ? m->nres : 1, sizeof(*job_of));
	for (size_t i = 0; i < m->nres; i++)
		job_of[i] = SIZE_MAX;
	for (size_t i = 0; i < p->n; i++) {
		const struct cairn_change *c = &p->v[i];
		const struct cairn_resource_record *old = cairn_strmap_get(&rec_of, c->address);
		struct job *j;

		if (c->action == CAIRN_ACTION_NOOP) {
			res->unchanged++;
			continue;
		}
		j = &en.jobs[en.njobs];
		j->action = c->action;
		j->address = xstrdup(c->address);
		j->kind = c->kind;
		j->type = c->res ? c->res->type : (old ? old->type : c->type);
		j->provider = c->res ? c->res->provider : (old ? old->provider : c->provider);
		j->desired = c->res ? json_incref(c->res->desired) : NULL;
		j->desired_hash = c->res ? c->res->desired_hash : NULL;
		j->old = old ? copy_record(old) : NULL;
		j->prov = eng_provider(&en.base, j->provider);
		j->local = c->action == CAIRN_ACTION_UPDATE && cairn_change_is_local(c);
		if (c->res)
			job_of[c->res - m->res] = en.njobs;
		if ((c->action == CAIRN_ACTION_DELETE || c->action == CAIRN_ACTION_REPLACE ||
		     c->action == CAIRN_ACTION_UPDATE) && !j->old) {
			/* the plan was made against records that are gone now */
			if (c->action == CAIRN_ACTION_DELETE) {
				free(j->address);
				json_decref(j->desired);
				memset(j, 0, sizeof(*j));
				continue;
			}
			j->action = CAIRN_ACTION_CREATE;
		}
		en.njobs++;
	}
	/* creates and updates wait for what they depend on */
	for (size_t i = 0; i < m->nres; i++) {
		if (job_of[i] == SIZE_MAX)
			continue;
		for (size_t k = 0; k < m->res[i].ndeps; k++) {
			size_t d = job_of[m->res[i].deps[k]];

			if (d != SIZE_MAX)
				add_dep(&en, job_of[i], d);
		}
	}
	order_deletes(&en);
	ret = run_all(&en, err);
	if (!ret || !res->interrupted)
		eng_outputs(&en.base, m->outputs);
out:
	ret = finish(&en, ret);
	cairn_strmap_release(&rec_of);
	free(job_of);
	cairn_resource_record_list_free(recs, nrecs);
	engine_release(&en);
	return ret;
}

int cairn_engine_destroy(struct cairn_store *st, const char *stack,
			 const struct cairn_engine_opts *opts,
			 struct cairn_engine_result *res, struct cairn_error *err)
{
	struct engine en;
	struct cairn_resource_record *recs = NULL;
	size_t nrecs = 0;
	int ret = -1;

	engine_init(&en, st, stack, opts, res);
	if (eng_begin(&en.base, NULL, err))
		goto out;
	if (eng_records(&en.base, &recs, &nrecs, err))
		goto out;
	if (eng_open_providers(&en.base, NULL, recs, nrecs, err))
		goto out;
	en.jobs = xcalloc(nrecs ? nrecs : 1, sizeof(*en.jobs));
	for (size_t i = 0; i < nrecs; i++) {
		struct job *j = &en.jobs[en.njobs++];
		int k = cairn_kind_parse(recs[i].kind ? recs[i].kind : "node");

		j->action = CAIRN_ACTION_DELETE;
		j->address = xstrdup(recs[i].address);
		j->kind = k < 0 ? CAIRN_KIND_NODE : (enum cairn_kind)k;
		j->old = copy_record(&recs[i]);
		j->type = j->old->type;
		j->provider = j->old->provider;
		j->prov = eng_provider(&en.base, j->provider);
	}
	order_deletes(&en);
	ret = run_all(&en, err);
	if (!ret)
		eng_outputs(&en.base, NULL);
out:
	ret = finish(&en, ret);
	cairn_resource_record_list_free(recs, nrecs);
	engine_release(&en);
	return ret;
}

int cairn_engine_configure(struct cairn_store *st, const struct cairn_model *m,
			   const char *const *names, size_t nnames,
			   const struct cairn_engine_opts *opts,
			   struct cairn_engine_result *res, struct cairn_error *err)
{
	struct engine en;
	struct cairn_resource_record *recs = NULL;
	struct cairn_strmap job_at = CAIRN_STRMAP_INIT;
	bool *matched = xcalloc(nnames ? nnames : 1, sizeof(*matched));
	size_t nrecs = 0;
	int ret = -1;

	engine_init(&en, st, m->stack, opts, res);
	en.vars = m->variables;
	if (eng_begin(&en.base, NULL, err) || eng_records(&en.base, &recs, &nrecs, err) ||
	    eng_stack_key(&en.base, err))
		goto out;
	eng_stack_dir(&en.base, m);
	en.jobs = xcalloc(nrecs ? nrecs : 1, sizeof(*en.jobs));
	for (size_t i = 0; i < nrecs; i++) {
		const struct cairn_resource_record *r = &recs[i];
		struct job *j;

		if (!r->kind || strcmp(r->kind, "node") || !eng_names_node(r, names, nnames))
			continue;
		for (size_t k = 0; k < nnames; k++)
			matched[k] = matched[k] || eng_names_node(r, &names[k], 1);
		if (r->status != CAIRN_RS_READY) {
			cairn_warn("%s is %s: not configured", r->address, cairn_resource_status_name(r->status));
			continue;
		}
		j = &en.jobs[en.njobs];
		j->action = CAIRN_ACTION_UPDATE;
		j->local = j->configure_only = true;
		j->address = xstrdup(r->address);
		j->kind = CAIRN_KIND_NODE;
		j->old = copy_record(r);
		j->type = j->old->type;
		j->provider = j->old->provider;
		j->desired = json_incref(j->old->desired);
		j->desired_hash = j->old->desired_hash;
		cairn_strmap_put(&job_at, r->address, (void *)(uintptr_t)(en.njobs + 1));
		en.njobs++;
	}
	for (size_t k = 0; k < nnames; k++)
		if (!matched[k]) {
			cairn_error_set(err, CAIRN_E_NOTFOUND, "stack '%s' has no node '%s'", m->stack, names[k]);
			goto out;
		}
	/* the order of the design: what a node depends on is configured first */
	for (size_t i = 0; i < m->nres; i++) {
		uintptr_t a = (uintptr_t)cairn_strmap_get(&job_at, m->res[i].address);

		for (size_t k = 0; a && k < m->res[i].ndeps; k++) {
			uintptr_t b = (uintptr_t)cairn_strmap_get(&job_at, m->res[m->res[i].deps[k]].address);

			if (b)
				add_dep(&en, a - 1, b - 1);
		}
	}
	ret = run_all(&en, err);
out:
	ret = finish(&en, ret);
	cairn_strmap_release(&job_at);
	free(matched);
	cairn_resource_record_list_free(recs, nrecs);
	engine_release(&en);
	return ret;
}
