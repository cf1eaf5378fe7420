/*
 * journal.c - a run's context: the stack lock, the providers, and every
 * provider call bracketed by an intent in the store.
 *
 * The protocol (docs/internals/journal.md):
 *   1. commit an intent (stack, address, op, cairn id, attempt);
 *   2. call the provider (the object carries the cairn id);
 *   3. in one transaction: write the outcome (resource put or delete) and
 *      close the intent.
 * A crash between 1 and 3 leaves the intent open; cairn_engine_recover()
 * then asks the provider about the cairn id and adopts what exists or
 * forgets what does not, so no object is ever unknown to the state.
 */
#include "util/common.h"

#include <sys/stat.h>

#include <pwd.h>
#include <time.h>
#include <unistd.h>

#include "engine/engine-priv.h"
#include "util/clock.h"
#include "util/failpoint.h"
#include "util/jsonutil.h"

CAIRN_LOG_INIT("engine.journal");

/* ---- context ----------------------------------------------------------------- */

void eng_init(struct eng *e, struct cairn_store *st, const char *stack,
	      const struct cairn_engine_opts *opts)
{
	memset(e, 0, sizeof(*e));
	e->st = st;
	e->opts = opts ? opts : &e->defaults;
	e->stack = xstrdup(stack);
	e->lease_ms = e->opts->lease_ms > 0 ? e->opts->lease_ms : 30000;
	e->t0 = cairn_now_ms();
	pthread_mutex_init(&e->store_mu, NULL);
	pthread_mutex_init(&e->emit_mu, NULL);
	pthread_mutex_init(&e->gc_mu, NULL);
	e->gc_tail = &e->gc_head;
}

static void release_lock(struct eng *e)
{
	struct cairn_error err = CAIRN_ERROR_INIT;

	if (!e->fence)
		return;
	if (cairn_store_lock_release(e->st, e->stack, e->fence, &err))
		cairn_warn("cannot release the lock of stack '%s': %s", e->stack, err.message);
	cairn_error_release(&err);
	e->fence = 0;
}

void eng_release(struct eng *e)
{
	struct cairn_strmap_entry *v = e->known.v;

	release_lock(e);
	for (size_t i = 0; i < e->nprovs; i++) {
		cairn_provider_close(e->provs[i].p);
		free(e->provs[i].name);
		free(e->provs[i].type);
	}
	free(e->provs);
	for (size_t i = 0; v && i < e->known.cap; i++)
		if (v[i].key) {
			struct cairn_resource_record *r = v[i].value;

			cairn_resource_record_release(r);
			free(r);
		}
	cairn_strmap_release(&e->known);
	free(e->stack);
	free(e->lineage);
	free(e->state_dir);
	free(e->dir);
	cairn_engine_key_free(e->key_private);
	free(e->key_public);
	pthread_mutex_destroy(&e->store_mu);
	pthread_mutex_destroy(&e->emit_mu);
	pthread_mutex_destroy(&e->gc_mu);
}

void eng_emit(struct eng *e, const json_t *event)
{
	if (!e->opts->event)
		return;
	pthread_mutex_lock(&e->emit_mu);
	e->opts->event(e->opts->event_ctx, event);
	pthread_mutex_unlock(&e->emit_mu);
}

void eng_known_put(struct eng *e, struct cairn_resource_record *r)
{
	struct cairn_resource_record *old = cairn_strmap_get(&e->known, r->address);

	/* the map's key is the old record's address string: replace the
	 * record in place and keep that string, which the map points at */
	if (old) {
		char *key = old->address;

		old->address = NULL;
		cairn_resource_record_release(old);
		free(r->address);
		*old = *r;
		old->address = key;
		free(r);
		return;
	}
	cairn_strmap_put(&e->known, r->address, r);
}

static char *default_holder(void)
{
	char host[256] = "localhost";
	struct passwd *pw = getpwuid(getuid());

	gethostname(host, sizeof(host) - 1);
	return xasprintf("%s@%s pid %ld", pw ? pw->pw_name : "?", host, (long)getpid());
}

static int take_lock(struct eng *e, struct cairn_error *err)
{
	char *holder = e->opts->holder ? xstrdup(e->opts->holder) : default_holder();
	int64_t deadline = cairn_now_ms() + e->opts->lock_timeout_ms;
	int ret;

	for (;;) {
		struct cairn_lock_record lk = { 0 };
		struct cairn_error lerr = CAIRN_ERROR_INIT;

		ret = cairn_store_lock_acquire(e->st, e->stack, holder, e->lease_ms, &lk, &lerr);
		if (!ret)
			e->fence = lk.fence;
		cairn_lock_record_release(&lk);
		if (!ret || lerr.code != CAIRN_E_CONFLICT || cairn_now_ms() >= deadline) {
			if (ret)
				cairn_error_move(err, &lerr);
			cairn_error_release(&lerr);
			break;
		}
		cairn_error_release(&lerr);
		usleep(100 * 1000);
	}
	free(holder);
	return ret;
}

void eng_renew_lock(struct eng *e)
{
	struct cairn_error err = CAIRN_ERROR_INIT;

	pthread_mutex_lock(&e->store_mu);
	if (e->fence && cairn_store_lock_renew(e->st, e->stack, e->fence, e->lease_ms, &err))
		cairn_warn("lost the lock of stack '%s': %s", e->stack, err.message);
	pthread_mutex_unlock(&e->store_mu);
	cairn_error_release(&err);
}

int eng_begin(struct eng *e, const json_t *design, struct cairn_error *err)
{
	struct cairn_stack_record rec = { 0 };
	struct cairn_error nf = CAIRN_ERROR_INIT;

	if (!cairn_store_stack_get(e->st, e->stack, &rec, &nf)) {
		e->lineage = xstrdup(rec.lineage);
		e->serial = rec.serial;
	} else if (nf.code != CAIRN_E_NOTFOUND) {
		cairn_error_move(err, &nf);
		return -1;
	} else if (!design) {
		cairn_error_release(&nf);
		return cairn_error_set(err, CAIRN_E_NOTFOUND, "stack '%s' is not in the state",
				       e->stack);
	}
	cairn_error_release(&nf);
	cairn_stack_record_release(&rec);
	if (cairn_store_stack_ensure(e->st, e->stack, &rec, err))
		return -1;
	cairn_stack_record_release(&rec);
	if (take_lock(e, err))
		return -1;
	if (cairn_engine_recover(e->st, e->stack, e->opts, NULL, err))
		return -1;
	/* what a plan is checked against: the state after recovery */
	if (cairn_store_stack_get(e->st, e->stack, &rec, err))
		return -1;
	if (e->lineage && strcmp(e->lineage, rec.lineage))
		cairn_warn("stack '%s' changed lineage while we waited", e->stack);
	e->serial = rec.serial;
	cairn_stack_record_release(&rec);
	if (design && cairn_store_design_put(e->st, e->stack, design, NULL, err))
		return -1;
	return 0;
}

int eng_records(struct eng *e, struct cairn_resource_record **recs, size_t *n,
		struct cairn_error *err)
{
	if (cairn_store_resource_list(e->st, e->stack, recs, n, err))
		return -1;
	for (size_t i = 0; i < *n; i++) {
		struct cairn_resource_record *r = xcalloc(1, sizeof(*r)), *s = &(*recs)[i];

		r->address = xstrdup(s->address);
		r->kind = s->kind ? xstrdup(s->kind) : NULL;
		r->type = s->type ? xstrdup(s->type) : NULL;
		r->provider = s->provider ? xstrdup(s->provider) : NULL;
		r->cairn_id = s->cairn_id ? xstrdup(s->cairn_id) : NULL;
		r->desired = json_incref(s->desired);
		r->observed = json_incref(s->observed);
		eng_known_put(e, r);
	}
	return 0;
}

/* ---- providers ------------------------------------------------------------------ */

struct eprov *eng_provider(struct eng *e, const char *name)
{
	for (size_t i = 0; name && i < e->nprovs; i++)
		if (!strcmp(e->provs[i].name, name))
			return &e->provs[i];
	return NULL;
}

bool eng_can_update(const struct eprov *p)
{
	return p->p && cairn_provider_can_update(p->p);
}

static int64_t config_int(const json_t *config, const char *key, int64_t def)
{
	json_t *v = json_object_get(config, key);

	return json_is_integer(v) ? json_integer_value(v) : def;
}

static int open_one(struct eng *e, const char *name, const char *type, const json_t *config,
		    const struct cairn_resource_record *recs, size_t n, struct cairn_error *err)
{
	struct cairn_provider_config cfg = { .stack = e->stack, .name = name, .type = type,
					     .config = config, .state_dir = e->state_dir };
	json_t *known = NULL;
	int ret;
	struct eprov *p;

	if (eng_provider(e, name))
		return 0;
	ALLOC_GROW(e->provs, e->nprovs + 1, e->aprovs);
	p = &e->provs[e->nprovs];
	memset(p, 0, sizeof(*p));
	p->name = xstrdup(name);
	p->type = xstrdup(type);
	p->limit = (int)config_int(config, "parallelism", 4);
	p->attempts = (int)config_int(config, "retry_attempts",
				     e->opts->retry_attempts > 0 ? e->opts->retry_attempts : 5);
	p->base_ms = config_int(config, "retry_base", e->opts->retry_base_ms > 0 ?
				e->opts->retry_base_ms : 200);
	p->cap_ms = config_int(config, "retry_cap", e->opts->retry_cap_ms > 0 ?
			       e->opts->retry_cap_ms : 10000);
	if (p->limit < 1)
		p->limit = 1;
	e->nprovs++;
	if (!strcmp(type, "cairn")) {
		p->limit = 1 << 20;    /* pools are rows in the store */
		return 0;
	}
	/* nodes that boot from cairn's seed trust the stack's key */
	if (!strcmp(type, "libvirt")) {
		if (eng_stack_key(e, err)) {
			cairn_error_context(err, "while opening provider '%s' (type %s)", name, type);
			return -1;
		}
		cfg.ssh_public_key = e->key_public;
		p->ssh_ready = e->key_private != NULL;
		p->ready_ms = config_int(config, "create_timeout", 300000);
	}
	/* existing machines: the driver logs in itself, and keeps its
	 * allocations in the records */
	if (!strcmp(type, "static")) {
		if (eng_stack_key(e, err)) {
			cairn_error_context(err, "while opening provider '%s' (type %s)", name, type);
			return -1;
		}
		cfg.ssh_public_key = e->key_public;
		cfg.ssh_private_key = e->key_private;
		p->route = true;
		known = json_array();
		for (size_t i = 0; i < n; i++)
			if (recs[i].provider && !strcmp(recs[i].provider, name) && recs[i].cairn_id)
				json_array_append_new(known, json_pack("{s:s, s:s, s:s, s:O?}",
								       "cairn_id", recs[i].cairn_id,
								       "address", recs[i].address,
								       "kind", recs[i].kind ? recs[i].kind : "node",
								       "observed", recs[i].observed));
		cfg.known = known;
	}

	ret = cairn_provider_open(&cfg, &p->p, err);
	json_decref(known);
	if (ret) {
		cairn_error_context(err, "while opening provider '%s' (type %s)", name, type);
		return -1;
	}
	return 0;
}

int eng_open_providers(struct eng *e, const struct cairn_model *m,
		       const struct cairn_resource_record *recs, size_t n,
		       struct cairn_error *err)
{
	json_t *design = NULL, *provs;
	struct cairn_error nf = CAIRN_ERROR_INIT;
	int ret = -1;

	if (!e->state_dir) {
		const char *d = e->opts->state_dir;

		e->state_dir = d ? xstrdup(d) : xasprintf("/tmp/cairn-%ld", (long)getuid());
	}
	if (open_one(e, "cairn", "cairn", NULL, NULL, 0, err))
		return -1;
	/* plugins registered with cairn provider add win over the search path */
	{
		json_t *plugins = NULL;
		struct cairn_error perr = CAIRN_ERROR_INIT;
		const char *type;
		json_t *path;

		if (!cairn_store_plugin_list(e->st, &plugins, &perr))
			json_object_foreach(plugins, type, path)
				if (json_is_string(path) &&
				    cairn_plugin_set_path(type, json_string_value(path), &perr)) {
					cairn_warn("ignoring plugin '%s': %s", type, perr.message);
					cairn_error_release(&perr);
				}
		cairn_error_release(&perr);
		json_decref(plugins);
	}
	if (m) {
		for (size_t i = 0; i < m->ndecls; i++) {
			const struct cairn_decl *d = &m->decls[i];

			if (d->kind != CAIRN_KIND_PROVIDER)
				continue;
			/* only providers something uses are started */
			for (size_t r = 0; r < m->nres; r++)
				if (m->res[r].provider && !strcmp(m->res[r].provider, d->name)) {
					if (open_one(e, d->name, cairn_json_str(d->attrs, "type"),
						     d->attrs, recs, n, err))
						goto out;
					break;
				}
		}
	}
	/* records of providers the model no longer names: from the stored design */
	for (size_t i = 0; i < n; i++) {
		const json_t *cfg;

		if (!recs[i].provider || eng_provider(e, recs[i].provider))
			continue;
		if (!design && cairn_store_design_get(e->st, e->stack, &design, &nf)) {
			cairn_error_release(&nf);
			design = json_object();
		}
		provs = json_object_get(design, "providers");
		cfg = json_object_get(provs, recs[i].provider);
		if (open_one(e, recs[i].provider, recs[i].type ? recs[i].type : "unknown",
			     cfg, recs, n, err))
			goto out;
	}
	ret = 0;
out:
	json_decref(design);
	return ret;
}

/* ---- the journalled call ------------------------------------------------------- */

static int write_record(struct eng *e, void *arg, struct cairn_error *err)
{
	return cairn_store_resource_put(e->st, e->stack, arg, err);
}

int eng_put_record(struct eng *e, const struct cairn_resource_record *rec, struct cairn_error *err)
{
	return eng_write(e, write_record, (void *)rec, err);
}

struct settle {
	const struct cairn_resource_record *rec;
	bool ok;
};

static int write_settled(struct eng *e, void *arg, struct cairn_error *err)
{
	const struct settle *s = arg;

	if (cairn_store_resource_put(e->st, e->stack, s->rec, err))
		return -1;
	return s->ok ? cairn_store_task_delete(e->st, e->stack, s->rec->address, err) : 0;
}

int eng_settle(struct eng *e, const struct cairn_resource_record *rec, bool ok, struct cairn_error *err)
{
	struct settle s = { rec, ok };

	return eng_write(e, write_settled, &s, err);
}

void eng_stack_dir(struct eng *e, const struct cairn_model *m)
{
	struct cairn_error err = CAIRN_ERROR_INIT;
	char *real = m && m->path ? realpath(m->path, NULL) : NULL;
	struct stat sb;
	json_t *rows = NULL;

	free(e->dir);
	e->dir = NULL;
	if (real && !stat(real, &sb) && S_ISREG(sb.st_mode)) {
		json_t *v;

		*strrchr(real, '/') = '\0';
		e->dir = xstrdup(*real ? real : "/");
		v = json_string(e->dir);
		pthread_mutex_lock(&e->store_mu);
		if (cairn_store_fact_put(e->st, e->stack, "stack", "dir", v, &err))
			cairn_warn("cannot remember the directory of stack '%s': %s", e->stack, err.message);
		pthread_mutex_unlock(&e->store_mu);
		json_decref(v);
	} else {
		pthread_mutex_lock(&e->store_mu);
		if (!cairn_store_fact_list(e->st, e->stack, "stack", "dir", &rows, &err) &&
		    json_array_size(rows))
			e->dir = xstrdup(cairn_json_str(json_array_get(rows, 0), "value") ?
					 cairn_json_str(json_array_get(rows, 0), "value") : "/");
		pthread_mutex_unlock(&e->store_mu);
		json_decref(rows);
	}
	cairn_error_release(&err);
	free(real);
}

char *eng_path(const struct eng *e, const char *path)
{
	if (!path)
		return NULL;
	if (path[0] == '/' || !e->dir)
		return xstrdup(path);
	return xasprintf("%s/%s", e->dir, path);
}

void eng_task(struct eng *e, const char *address, const char *op, const char *status,
	      int attempts, const char *error)
{
	struct cairn_task_record t = { .stack = e->stack, .address = (char *)address,
				       .op = (char *)op, .status = (char *)status,
				       .attempts = attempts, .last_error = (char *)error };
	struct cairn_error err = CAIRN_ERROR_INIT;

	pthread_mutex_lock(&e->store_mu);
	cairn_store_task_put(e->st, &t, NULL, &err);
	pthread_mutex_unlock(&e->store_mu);
	if (cairn_error_isset(&err))
		cairn_warn("cannot record the task of %s: %s", address, err.message);
	cairn_error_release(&err);
}

static int64_t backoff_ms(const struct eprov *p, int attempt)
{
	int64_t d = p->base_ms;

	for (int i = 1; i < attempt && d < p->cap_ms; i++)
		d *= 2;
	if (d > p->cap_ms)
		d = p->cap_ms;
	/* full jitter: anywhere between half and all of it */
	return d / 2 + (d > 1 ? (int64_t)(random() % (d / 2 + 1)) : 0);
}

/* The provider call itself; pools are cairn's own. */
static int do_call(struct eng *e, struct eprov *p, const char *op,
		   const struct cairn_provider_req *req, json_t **observed,
		   struct cairn_error *err)
{
	if (!p->p) {
		const char *name = strrchr(req->address, '.');
		int r = 0;

		name = name ? name + 1 : req->address;
		pthread_mutex_lock(&e->store_mu);
		if (!strcmp(op, "create") || !strcmp(op, "update")) {
			r = cairn_store_pool_put(e->st, name, cairn_json_str(req->desired, "description"),
						 e->stack, err);
			if (!r && observed)
				*observed = json_pack("{s:s}", "id", name);
		} else if (!strcmp(op, "delete")) {
			struct cairn_error busy = CAIRN_ERROR_INIT;

			/* a pool still holding other stacks' resources stays */
			if (cairn_store_pool_delete(e->st, name, &busy) &&
			    busy.code != CAIRN_E_CONFLICT && busy.code != CAIRN_E_NOTFOUND) {
				cairn_error_move(err, &busy);
				r = -1;
			}
			cairn_error_release(&busy);
		}
		pthread_mutex_unlock(&e->store_mu);
		return r;
	}
	if (!strcmp(op, "create"))
		return cairn_provider_create(p->p, req, observed, err);
	if (!strcmp(op, "update"))
		return cairn_provider_update(p->p, req, observed, err);
	if (!strcmp(op, "read"))
		return cairn_provider_read(p->p, req, observed, err);
	return cairn_provider_delete(p->p, req, err);
}

/* ---- the group commit ---------------------------------------------------------- */

/*
 * Journal writes from many workers share transactions: a writer queues its
 * write; if no commit is under way it leads one, committing everything queued
 * (its own write and the others'), otherwise it sleeps until a leader has
 * committed its write.  Each write is committed before its writer goes on,
 * as with a transaction of its own, but N waiting writers cost one BEGIN,
 * one WAL commit and one set of file locks instead of N.
 */
struct gwrite {
	struct gwrite *next;
	eng_write_fn *fn;
	void *arg;
	pthread_cond_t cond;
	bool done;
	int ret;
	struct cairn_error err;
};

/* Run ws in one transaction; false if that failed (all rolled back). */
static bool commit_together(struct eng *e, struct gwrite *ws)
{
	struct cairn_error err = CAIRN_ERROR_INIT;
	struct gwrite *w = NULL;

	if (!cairn_store_begin(e->st, &err)) {
		for (w = ws; w; w = w->next)
			if ((w->ret = w->fn(e, w->arg, &w->err)))
				break;
		if (!w && !cairn_store_commit(e->st, &err))
			return true;
		if (w)
			cairn_store_rollback(e->st);
	}
	for (w = ws; w; w = w->next) {
		if (!cairn_error_isset(&w->err))
			cairn_error_set(&w->err, err.message ? err.code : CAIRN_E_STATE, "%s",
					err.message ? err.message
						    : "the journal's transaction was rolled back");
		w->ret = -1;
	}
	cairn_error_release(&err);
	return false;
}

static void commit_batch(struct eng *e, struct gwrite *batch)
{
	pthread_mutex_lock(&e->store_mu);
	if (!commit_together(e, batch) && batch->next) {
		/* one write failed and took the others with it: each on its own */
		for (struct gwrite *w = batch; w; w = w->next) {
			struct gwrite *next = w->next;

			cairn_error_release(&w->err);
			w->ret = 0;
			w->next = NULL;
			commit_together(e, w);
			w->next = next;
		}
	}
	pthread_mutex_unlock(&e->store_mu);
}

int eng_write(struct eng *e, eng_write_fn *fn, void *arg, struct cairn_error *err)
{
	struct gwrite w = { .fn = fn, .arg = arg, .err = CAIRN_ERROR_INIT };

	pthread_cond_init(&w.cond, NULL);
	pthread_mutex_lock(&e->gc_mu);
	*e->gc_tail = &w;
	e->gc_tail = &w.next;
	while (!w.done) {
		struct gwrite *batch;

		if (e->gc_busy) {
			pthread_cond_wait(&w.cond, &e->gc_mu);
			continue;
		}
		/* lead: commit what is queued, this write among it */
		batch = e->gc_head;
		e->gc_head = NULL;
		e->gc_tail = &e->gc_head;
		e->gc_busy = true;
		pthread_mutex_unlock(&e->gc_mu);
		commit_batch(e, batch);
		pthread_mutex_lock(&e->gc_mu);
		e->gc_busy = false;
		while (batch) {
			struct gwrite *next = batch->next;   /* batch is its writer's once done */

			batch->done = true;
			if (batch != &w)
				pthread_cond_signal(&batch->cond);
			batch = next;
		}
		/* who queued meanwhile leads the next commit */
		if (e->gc_head)
			pthread_cond_signal(&e->gc_head->cond);
	}
	pthread_mutex_unlock(&e->gc_mu);
	pthread_cond_destroy(&w.cond);
	if (w.ret)
		cairn_error_move(err, &w.err);
	cairn_error_release(&w.err);
	return w.ret;
}

/* ---- the journalled call --------------------------------------------------------- */

struct intent_write {
	const struct cairn_intent_record *in;
	int64_t id;
};

static int write_intent(struct eng *e, void *arg, struct cairn_error *err)
{
	struct intent_write *iw = arg;

	return cairn_store_intent_open(e->st, iw->in, &iw->id, err);
}

/* What a call came to, for the transaction that records it. */
struct outcome {
	const char *op;
	const struct cairn_resource_record *rec;
	bool ok;
	json_t *got;        /* observed after a create or update */
	json_t *seen;       /* what a failed create left, if anything */
	int64_t intent;
};

static int write_outcome(struct eng *e, void *arg, struct cairn_error *err)
{
	struct outcome *o = arg;
	struct cairn_resource_record r = *o->rec;
	struct cairn_error cerr = CAIRN_ERROR_INIT;

	if (o->ok && strcmp(o->op, "delete")) {
		r.observed = o->got;
		r.status = CAIRN_RS_READY;
		if (cairn_store_resource_put(e->st, e->stack, &r, err))
			return -1;
	} else if (o->ok) {
		if (cairn_store_resource_delete(e->st, e->stack, r.address, err))
			return -1;
	} else if (o->seen) {
		/* a failed create may have left something: keep it known */
		r.observed = o->seen;
		r.status = CAIRN_RS_FAILED;
		if (cairn_store_resource_put(e->st, e->stack, &r, &cerr))
			cairn_warn("cannot record what the failed create of %s left: %s", r.address,
				   cerr.message);
		cairn_error_release(&cerr);
	}
	if (cairn_store_intent_close(e->st, o->intent, &cerr)) {
		if (o->ok) {
			cairn_error_move(err, &cerr);
			return -1;
		}
		cairn_error_release(&cerr);
	}
	/* a success settles the resource's task, in the same transaction */
	if (o->ok && cairn_store_task_delete(e->st, e->stack, r.address, err))
		return -1;
	return 0;
}

int eng_call(struct eng *e, struct eprov *p, const char *op,
	     const struct cairn_resource_record *rec, const json_t *want,
	     const json_t *before, const json_t *via, json_t **observed,
	     struct cairn_error *err)
{
	struct cairn_intent_record in = { .stack = e->stack, .address = rec->address,
					  .op = (char *)op, .kind = rec->kind, .type = rec->type,
					  .provider = rec->provider, .cairn_id = rec->cairn_id,
					  .attempt = 1, .desired = rec->desired,
					  .observed = (json_t *)before };
	int kindi = cairn_kind_parse(rec->kind ? rec->kind : "node");
	struct cairn_provider_req req = { .stack = e->stack, .address = rec->address,
					  .kind = kindi < 0 ? CAIRN_KIND_NODE : (enum cairn_kind)kindi,
					  .cairn_id = rec->cairn_id, .desired = want,
					  .observed = before, .via = via };
	struct intent_write iw = { .in = &in };
	struct outcome o = { .op = op, .rec = rec };
	int attempt = 1, ret;

	if (!p)
		return cairn_error_set(err, CAIRN_E_PERMANENT, "%s has no provider '%s'",
				       rec->address, rec->provider ? rec->provider : "?");
	if (eng_write(e, write_intent, &iw, err))
		return -1;
	o.intent = iw.id;
	CAIRN_FAILPOINT("apply.after_intent");
	for (;;) {
		struct cairn_error cerr = CAIRN_ERROR_INIT;

		ret = do_call(e, p, op, &req, &o.got, &cerr);
		if (!ret || (cerr.code == CAIRN_E_NOTFOUND && !strcmp(op, "delete"))) {
			ret = 0;
			cairn_error_release(&cerr);
			break;
		}
		if (cerr.code != CAIRN_E_RETRYABLE || attempt >= p->attempts ||
		    (e->opts->interrupt && *e->opts->interrupt >= 2)) {
			cairn_error_move(err, &cerr);
			break;
		}
		{
			json_t *ev = json_pack("{s:s, s:s, s:s, s:i, s:s}", "event", "retry",
					       "address", rec->address, "op", op,
					       "attempt", attempt + 1, "error", cerr.message);

			eng_emit(e, ev);
			json_decref(ev);
		}
		cairn_error_release(&cerr);
		usleep((useconds_t)backoff_ms(p, attempt) * 1000);
		attempt++;
	}
	if (ret && e->opts->interrupt && *e->opts->interrupt >= 2) {
		/* abandoned: the call may yet have done its work, so the intent
		 * stays open for the next run to resolve */
		json_decref(o.got);
		return -1;
	}
	CAIRN_FAILPOINT("apply.after_call");

	o.ok = !ret;
	if (ret && !strcmp(op, "create") && p->p) {
		struct cairn_error rerr = CAIRN_ERROR_INIT;

		if (cairn_provider_read(p->p, &req, &o.seen, &rerr))
			o.seen = NULL;
		cairn_error_release(&rerr);
	}
	{
		struct cairn_error werr = CAIRN_ERROR_INIT;
		int wr = eng_write(e, write_outcome, &o, &werr);

		json_decref(o.seen);
		if (wr) {
			/* the intent stays open: the next run resolves it */
			json_decref(o.got);
			if (!ret)
				cairn_error_move(err, &werr);
			else
				cairn_warn("cannot record the failed %s of %s: %s", op, rec->address,
					   werr.message);
			cairn_error_release(&werr);
			return -1;
		}
	}
	CAIRN_FAILPOINT("apply.after_commit");
	if (ret)
		eng_task(e, rec->address, op, "failed", attempt, err->message);
	if (!ret && observed)
		*observed = o.got;
	else
		json_decref(o.got);
	return ret;
}

/* ---- recovery --------------------------------------------------------------------- */

/* Resolve one open intent: ask the provider what became of its cairn id. */
static int resolve_intent(struct eng *e, const struct cairn_intent_record *in,
			  struct cairn_error *err)
{
	struct eprov *p = eng_provider(e, in->provider);
	int kindi = cairn_kind_parse(in->kind ? in->kind : "node");
	struct cairn_provider_req req = { .stack = e->stack, .address = in->address,
					  .kind = kindi < 0 ? CAIRN_KIND_NODE : (enum cairn_kind)kindi,
					  .cairn_id = in->cairn_id, .observed = in->observed };
	struct cairn_resource_record cur = { 0 };
	struct cairn_error rerr = CAIRN_ERROR_INIT;
	json_t *seen = NULL;
	bool exists = false, have_record;
	int ret = -1;

	if (!p)
		return cairn_error_set(err, CAIRN_E_STATE,
				       "open intent %lld for %s names unknown provider '%s'",
				       (long long)in->id, in->address, in->provider);
	if (p->p) {
		if (!cairn_provider_read(p->p, &req, &seen, &rerr))
			exists = true;
		else if (rerr.code != CAIRN_E_NOTFOUND) {
			cairn_error_move(err, &rerr);
			cairn_error_context(err, "while resolving the open intent for %s", in->address);
			return -1;
		}
	} else {
		struct cairn_pool_record pr = { 0 };
		const char *name = strrchr(in->address, '.');

		exists = !cairn_store_pool_get(e->st, name ? name + 1 : in->address, &pr, &rerr);
		cairn_pool_record_release(&pr);
		if (exists)
			seen = json_pack("{s:s}", "id", name ? name + 1 : in->address);
	}
	cairn_error_release(&rerr);
	CAIRN_FAILPOINT("recover.after_read");
	have_record = !cairn_store_resource_get(e->st, e->stack, in->address, &cur, &rerr);
	cairn_error_release(&rerr);

	if (!strcmp(in->op, "delete") && exists) {
		/* finish the half-done delete */
		struct cairn_error derr = CAIRN_ERROR_INIT;

		if (p->p && cairn_provider_delete(p->p, &req, &derr) && derr.code != CAIRN_E_NOTFOUND) {
			cairn_error_move(err, &derr);
			goto out;
		}
		cairn_error_release(&derr);
		exists = false;
		CAIRN_FAILPOINT("recover.after_delete");
	} else if (!strcmp(in->op, "create") && !exists && p->p) {
		/* a create cut short may have made parts of the object (a
		 * domain's disks before the domain): delete() takes what it
		 * finds of the cairn id, and an absent object is success */
		struct cairn_error derr = CAIRN_ERROR_INIT;

		if (cairn_provider_delete(p->p, &req, &derr) && derr.code != CAIRN_E_NOTFOUND) {
			cairn_error_move(err, &derr);
			goto out;
		}
		cairn_error_release(&derr);
	}
	if (cairn_store_begin(e->st, err))
		goto out;
	if (exists) {
		/* adopt: the object is real, the state must say so */
		struct cairn_resource_record r = { 0 };
		char hash[CAIRN_HASH_LEN];

		r.address = in->address;
		r.kind = in->kind;
		r.type = in->type;
		r.provider = in->provider;
		r.cairn_id = in->cairn_id;
		json_t *empty = json_object();
		int pr;

		r.desired = in->desired ? in->desired : (have_record && cur.desired ? cur.desired : empty);
		cairn_json_hash(r.desired, hash);
		r.desired_hash = hash;
		r.observed = seen;
		/*
		 * A create or an update cut short may have left the object half
		 * made (a domain defined but never started, or of a type that
		 * cannot start): it is adopted tainted, as Terraform taints a
		 * resource whose create was interrupted, and the next plan
		 * replaces it.  A create that had finished is replaced too: a
		 * cost paid only after a crash, for an object known to be whole.
		 */
		r.status = CAIRN_RS_TAINTED;
		pr = cairn_store_resource_put(e->st, e->stack, &r, err);
		json_decref(empty);
		if (pr)
			goto rollback;
	} else if (have_record && cur.cairn_id && !strcmp(cur.cairn_id, in->cairn_id)) {
		/* forget: the object is gone */
		if (cairn_store_resource_delete(e->st, e->stack, in->address, err))
			goto rollback;
	}
	if (cairn_store_intent_close(e->st, in->id, err))
		goto rollback;
	if (cairn_store_commit(e->st, err))
		goto out;
	CAIRN_FAILPOINT("recover.after_commit");
	cairn_info("resolved the open %s of %s: %s", in->op, in->address,
		   exists ? "adopted" : "forgotten");
	ret = 0;
	goto out;
rollback:
	cairn_store_rollback(e->st);
out:
	json_decref(seen);
	cairn_resource_record_release(&cur);
	return ret;
}

int cairn_engine_recover(struct cairn_store *st, const char *stack,
			 const struct cairn_engine_opts *opts, size_t *resolved,
			 struct cairn_error *err)
{
	struct cairn_intent_record *v = NULL;
	struct cairn_resource_record *recs = NULL;
	size_t n = 0, nrecs = 0, done = 0;
	struct eng e;
	int ret = -1;

	if (resolved)
		*resolved = 0;
	if (cairn_store_intent_list(st, stack, &v, &n, err))
		return -1;
	if (!n) {
		cairn_intent_record_list_free(v, n);
		return 0;
	}
	/* the caller holds the stack's lock (eng_begin()) or knows no run is on */
	eng_init(&e, st, stack, opts);
	if (cairn_store_resource_list(st, stack, &recs, &nrecs, err))
		goto out;
	/* the providers the intents name, configured from the stored design */
	{
		struct cairn_resource_record *pv = xcalloc(n, sizeof(*pv));

		for (size_t i = 0; i < n; i++) {
			pv[i].provider = v[i].provider;
			pv[i].type = v[i].type;
		}
		ret = eng_open_providers(&e, NULL, pv, n, err);
		free(pv);
		if (ret)
			goto out;
		ret = -1;
	}
	for (size_t i = 0; i < n; i++) {
		if (resolve_intent(&e, &v[i], err))
			goto out;
		done++;
	}
	ret = 0;
out:
	if (resolved)
		*resolved = done;
	cairn_resource_record_list_free(recs, nrecs);
	cairn_intent_record_list_free(v, n);
	eng_release(&e);
	return ret;
}

/* ---- outputs -------------------------------------------------------------------------- */

void eng_outputs(struct eng *e, const json_t *outputs)
{
	struct cairn_resource_record *recs = NULL;
	size_t n = 0;
	struct cairn_error err = CAIRN_ERROR_INIT;
	json_t *values;

	pthread_mutex_lock(&e->store_mu);
	if (!outputs) {
		values = json_object();
	} else if (cairn_store_resource_list(e->st, e->stack, &recs, &n, &err)) {
		values = NULL;
	} else {
		values = cairn_engine_resolve(outputs, recs, n, NULL);
	}
	if (values && cairn_store_outputs_put(e->st, e->stack, values, &err))
		cairn_warn("cannot store the outputs of '%s': %s", e->stack, err.message);
	pthread_mutex_unlock(&e->store_mu);
	cairn_error_release(&err);
	json_decref(values);
	cairn_resource_record_list_free(recs, n);
}
