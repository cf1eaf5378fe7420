/*
 * store.c - the backend-independent half of the state store: choosing a
 * backend by location, argument checks, read-only refusals, record
 * lifecycles, and export/import built on the backend primitives.
 */
#include "util/common.h"

#include <limits.h>
#include <pwd.h>
#include <time.h>
#include <unistd.h>

#include "cairn/store.h"
#include "state/store-backend.h"
#include "util/jsonutil.h"
#include "util/fileio.h"

CAIRN_LOG_INIT("state.store");

#define STATE_FORMAT "cairn-state"
#define STATE_FORMAT_VERSION 1

/* ---- opening ------------------------------------------------------------ */

static int backend_complete(const struct cairn_store_backend *be)
{
	return be->name && be->open && be->close && be->schema_version &&
	       be->begin && be->commit && be->rollback &&
	       be->stack_get && be->stack_ensure && be->stack_list &&
	       be->stack_delete && be->stack_restore &&
	       be->design_put && be->design_get && be->design_list &&
	       be->design_restore &&
	       be->resource_list && be->resource_get && be->resource_put &&
	       be->resource_delete && be->resource_restore &&
	       be->pool_list && be->pool_get && be->pool_put &&
	       be->pool_delete && be->pool_restore &&
	       be->intent_open && be->intent_close && be->intent_list &&
	       be->intent_restore &&
	       be->task_put && be->task_get && be->task_list &&
	       be->task_delete && be->task_restore &&
	       be->lock_acquire && be->lock_renew && be->lock_release &&
	       be->lock_get && be->lock_force &&
	       be->event_add && be->event_list &&
	       be->outputs_put && be->outputs_get &&
	       be->secret_put && be->secret_get && be->secret_delete &&
	       be->fact_put && be->fact_list && be->fact_delete &&
	       be->plugin_put && be->plugin_delete && be->plugin_list;
}

/*
 * Split location into a backend and the string handed to it.  "sqlite:PATH"
 * and "sqlite://PATH" (URL form, so "sqlite:///var/x.db" is absolute) name
 * SQLite, as does anything without a scheme.
 */
static int pick_backend(const char *location,
			const struct cairn_store_backend **be,
			const char **rest, struct cairn_error *err)
{
	const char *sep;

	if (!strncmp(location, "postgresql://", 13) ||
	    !strncmp(location, "postgres://", 11))
		return cairn_error_set(err, CAIRN_E_UNSUPPORTED,
				       "postgresql backend not built yet");
	if (!strncmp(location, "sqlite:", 7)) {
		*rest = location + 7;
		if (!strncmp(*rest, "//", 2))
			*rest += 2;
		*be = &cairn_store_backend_sqlite;
		return 0;
	}
	sep = strstr(location, "://");
	if (sep && !memchr(location, '/', (size_t)(sep - location)))
		return cairn_error_set(err, CAIRN_E_UNSUPPORTED,
				       "unknown state store scheme '%.*s'",
				       (int)(sep - location), location);
	*rest = location;
	*be = &cairn_store_backend_sqlite;
	return 0;
}

int cairn_store_open(const char *location, unsigned flags,
		     struct cairn_store **out, struct cairn_error *err)
{
	const struct cairn_store_backend *be = NULL;
	const char *rest = NULL;
	struct cairn_store *st = NULL;
	char *deflt = NULL;
	int ret = -1;

	*out = NULL;
	if (!location)
		location = deflt = cairn_store_default_location();
	if (pick_backend(location, &be, &rest, err) < 0)
		goto out;
	if (!*rest) {
		cairn_error_set(err, CAIRN_E_INVALID,
				"empty state store location '%s'", location);
		goto out;
	}
	if (!backend_complete(be))
		BUG("state store backend '%s' is incomplete", be->name);
	if (be->open(rest, flags, &st, err) < 0)
		goto out;
	st->be = be;
	st->location = xstrdup(location);
	st->flags = flags;
	cairn_debug("opened %s store '%s'%s", be->name, location,
		    (flags & CAIRN_STORE_READONLY) ? " read-only" : "");
	*out = st;
	ret = 0;
out:
	free(deflt);
	return ret;
}

void cairn_store_close(struct cairn_store *st)
{
	if (!st)
		return;
	free(st->location);
	st->location = NULL;
	st->be->close(st);
}

char *cairn_store_default_location(void)
{
	const char *env;

	env = getenv("CAIRN_STATE");
	if (env && *env)
		return xstrdup(env);
	env = getenv("XDG_STATE_HOME");
	if (env && *env == '/')     /* the XDG spec ignores relative values */
		return xasprintf("%s/cairn/state.db", env);
	env = cairn_home_dir();
	if (env)
		return xasprintf("%s/.local/state/cairn/state.db", env);
	return xstrdup("cairn-state.db");
}

int cairn_store_schema_version(struct cairn_store *st)
{
	if (!st)
		return CAIRN_STORE_SCHEMA_VERSION;
	return st->be->schema_version(st);
}

/* ---- argument checks ----------------------------------------------------- */

static int check_name(const char *what, const char *name, struct cairn_error *err)
{
	if (!name || !*name)
		return cairn_error_set(err, CAIRN_E_INVALID, "empty %s name", what);
	return 0;
}

/* A string argument that is not a name: a holder, a path, a kind. */
static int check_text(const char *what, const char *v, struct cairn_error *err)
{
	if (!v || !*v)
		return cairn_error_set(err, CAIRN_E_INVALID, "empty %s", what);
	return 0;
}

static int check_writable(struct cairn_store *st, struct cairn_error *err)
{
	if (st->flags & CAIRN_STORE_READONLY)
		return cairn_error_set(err, CAIRN_E_STATE,
				       "state store '%s' is open read-only",
				       st->location);
	return 0;
}

/* Hand e, a failure of ours, to the caller's err (which may be NULL). */
static int pass_error(struct cairn_error *err, struct cairn_error *e)
{
	if (err)
		cairn_error_move(err, e);
	cairn_error_release(e);
	return -1;
}

/* ---- transactions -------------------------------------------------------- */

int cairn_store_begin(struct cairn_store *st, struct cairn_error *err)
{
	return st->be->begin(st, err);
}

int cairn_store_commit(struct cairn_store *st, struct cairn_error *err)
{
	return st->be->commit(st, err);
}

void cairn_store_rollback(struct cairn_store *st)
{
	st->be->rollback(st);
}

/* ---- stacks ---------------------------------------------------------- */

void cairn_stack_record_release(struct cairn_stack_record *r)
{
	if (!r)
		return;
	free(r->name);
	free(r->lineage);
	free(r->created_at);
	free(r->updated_at);
	memset(r, 0, sizeof(*r));
}

void cairn_stack_record_list_free(struct cairn_stack_record *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		cairn_stack_record_release(&v[i]);
	free(v);
}

int cairn_store_stack_get(struct cairn_store *st, const char *name,
			  struct cairn_stack_record *out, struct cairn_error *err)
{
	memset(out, 0, sizeof(*out));
	if (check_name("stack", name, err) < 0)
		return -1;
	return st->be->stack_get(st, name, out, err);
}

int cairn_store_stack_ensure(struct cairn_store *st, const char *name,
			     struct cairn_stack_record *out, struct cairn_error *err)
{
	struct cairn_error e = CAIRN_ERROR_INIT;

	memset(out, 0, sizeof(*out));
	if (check_name("stack", name, err) < 0)
		return -1;
	if (!(st->flags & CAIRN_STORE_READONLY))
		return st->be->stack_ensure(st, name, out, err);

	/* Read-only: an existing stack is fine, a missing one cannot be made. */
	if (!st->be->stack_get(st, name, out, &e))
		return 0;
	if (e.code != CAIRN_E_NOTFOUND)
		return pass_error(err, &e);
	cairn_error_release(&e);
	return cairn_error_set(err, CAIRN_E_STATE,
			       "cannot create stack '%s': state store '%s' is open read-only",
			       name, st->location);
}

int cairn_store_stack_list(struct cairn_store *st, struct cairn_stack_record **out,
			   size_t *n, struct cairn_error *err)
{
	*out = NULL;
	*n = 0;
	return st->be->stack_list(st, out, n, err);
}

int cairn_store_stack_delete(struct cairn_store *st, const char *name,
			     struct cairn_error *err)
{
	if (check_name("stack", name, err) < 0 || check_writable(st, err) < 0)
		return -1;
	return st->be->stack_delete(st, name, err);
}

/* ---- designs ----------------------------------------------------------- */

void cairn_design_record_release(struct cairn_design_record *r)
{
	if (!r)
		return;
	free(r->hash);
	json_decref(r->body);
	free(r->created_at);
	memset(r, 0, sizeof(*r));
}

void cairn_design_record_list_free(struct cairn_design_record *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		cairn_design_record_release(&v[i]);
	free(v);
}

int cairn_store_design_put(struct cairn_store *st, const char *stack,
			   const json_t *design, int64_t *version,
			   struct cairn_error *err)
{
	if (version)
		*version = 0;
	if (check_name("stack", stack, err) < 0 || check_writable(st, err) < 0)
		return -1;
	if (!design)
		return cairn_error_set(err, CAIRN_E_INVALID,
				       "no design given for stack '%s'", stack);
	return st->be->design_put(st, stack, design, version, err);
}

int cairn_store_design_get(struct cairn_store *st, const char *stack,
			   json_t **out, struct cairn_error *err)
{
	*out = NULL;
	if (check_name("stack", stack, err) < 0)
		return -1;
	return st->be->design_get(st, stack, out, err);
}

/* ---- resources --------------------------------------------------------- */

static const char *const status_names[] = {
	[CAIRN_RS_READY] = "ready",
	[CAIRN_RS_TAINTED] = "tainted",
	[CAIRN_RS_FAILED] = "failed",
	[CAIRN_RS_GONE] = "gone",
};

const char *cairn_resource_status_name(enum cairn_resource_status s)
{
	if ((size_t)s < ARRAY_SIZE(status_names) && status_names[s])
		return status_names[s];
	return "unknown";
}

int cairn_resource_status_parse(const char *name)
{
	for (size_t i = 0; name && i < ARRAY_SIZE(status_names); i++)
		if (status_names[i] && !strcmp(name, status_names[i]))
			return (int)i;
	return -1;
}

void cairn_resource_record_release(struct cairn_resource_record *r)
{
	if (!r)
		return;
	free(r->address);
	free(r->kind);
	free(r->type);
	free(r->provider);
	free(r->cairn_id);
	free(r->desired_hash);
	json_decref(r->desired);
	json_decref(r->observed);
	free(r->created_at);
	free(r->updated_at);
	memset(r, 0, sizeof(*r));
}

void cairn_resource_record_list_free(struct cairn_resource_record *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		cairn_resource_record_release(&v[i]);
	free(v);
}

int cairn_store_resource_list(struct cairn_store *st, const char *stack,
			      struct cairn_resource_record **out, size_t *n,
			      struct cairn_error *err)
{
	*out = NULL;
	*n = 0;
	if (check_name("stack", stack, err) < 0)
		return -1;
	return st->be->resource_list(st, stack, out, n, err);
}

int cairn_store_resource_each(struct cairn_store *st, const char *stack,
			      cairn_store_resource_fn *fn, void *ud, struct cairn_error *err)
{
	struct cairn_resource_record *v = NULL;
	size_t n = 0;
	int ret = 0;

	if (check_name("stack", stack, err) < 0)
		return -1;
	if (st->be->resource_each)
		return st->be->resource_each(st, stack, fn, ud, err);
	if (st->be->resource_list(st, stack, &v, &n, err) < 0)
		return -1;
	for (size_t i = 0; i < n && !ret; i++)
		ret = fn(ud, &v[i], err);
	cairn_resource_record_list_free(v, n);
	return ret;
}

int cairn_store_resource_get(struct cairn_store *st, const char *stack,
			     const char *address, struct cairn_resource_record *out,
			     struct cairn_error *err)
{
	memset(out, 0, sizeof(*out));
	if (check_name("stack", stack, err) < 0 ||
	    check_name("resource", address, err) < 0)
		return -1;
	return st->be->resource_get(st, stack, address, out, err);
}

/* What every stored resource must have, whoever wrote it. */
static int check_resource(const struct cairn_resource_record *r,
			  struct cairn_error *err)
{
	if (!r || !r->address || !*r->address)
		return cairn_error_set(err, CAIRN_E_INVALID, "resource without address");
	if (!r->kind || !*r->kind)
		return cairn_error_set(err, CAIRN_E_INVALID,
				       "resource '%s' has no kind", r->address);
	if (!r->type || !*r->type)
		return cairn_error_set(err, CAIRN_E_INVALID,
				       "resource '%s' has no type", r->address);
	if (!r->desired)
		return cairn_error_set(err, CAIRN_E_INVALID,
				       "resource '%s' has no desired state", r->address);
	if (!strcmp(cairn_resource_status_name(r->status), "unknown"))
		return cairn_error_set(err, CAIRN_E_INVALID,
				       "resource '%s' has an unknown status %d",
				       r->address, (int)r->status);
	return 0;
}

int cairn_store_resource_put(struct cairn_store *st, const char *stack,
			     const struct cairn_resource_record *r,
			     struct cairn_error *err)
{
	if (check_name("stack", stack, err) < 0 || check_writable(st, err) < 0 ||
	    check_resource(r, err) < 0)
		return -1;
	return st->be->resource_put(st, stack, r, err);
}

int cairn_store_resource_delete(struct cairn_store *st, const char *stack,
				const char *address, struct cairn_error *err)
{
	if (check_name("stack", stack, err) < 0 ||
	    check_name("resource", address, err) < 0 ||
	    check_writable(st, err) < 0)
		return -1;
	return st->be->resource_delete(st, stack, address, err);
}

/* ---- pools ------------------------------------------------------------- */

void cairn_pool_record_release(struct cairn_pool_record *r)
{
	if (!r)
		return;
	free(r->name);
	free(r->description);
	free(r->stack);
	free(r->created_at);
	memset(r, 0, sizeof(*r));
}

void cairn_pool_record_list_free(struct cairn_pool_record *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		cairn_pool_record_release(&v[i]);
	free(v);
}

int cairn_store_pool_list(struct cairn_store *st, struct cairn_pool_record **out,
			  size_t *n, struct cairn_error *err)
{
	*out = NULL;
	*n = 0;
	return st->be->pool_list(st, out, n, err);
}

int cairn_store_pool_get(struct cairn_store *st, const char *name,
			 struct cairn_pool_record *out, struct cairn_error *err)
{
	memset(out, 0, sizeof(*out));
	if (check_name("pool", name, err) < 0)
		return -1;
	return st->be->pool_get(st, name, out, err);
}

int cairn_store_pool_put(struct cairn_store *st, const char *name,
			 const char *description, const char *stack,
			 struct cairn_error *err)
{
	if (check_name("pool", name, err) < 0 || check_writable(st, err) < 0)
		return -1;
	if (stack && !*stack)
		stack = NULL;
	return st->be->pool_put(st, name, description, stack, err);
}

int cairn_store_pool_delete(struct cairn_store *st, const char *name,
			    struct cairn_error *err)
{
	if (check_name("pool", name, err) < 0 || check_writable(st, err) < 0)
		return -1;
	return st->be->pool_delete(st, name, err);
}

/* ---- intents ------------------------------------------------------------ */

void cairn_intent_record_release(struct cairn_intent_record *r)
{
	if (!r)
		return;
	free(r->stack);
	free(r->address);
	free(r->op);
	free(r->kind);
	free(r->type);
	free(r->provider);
	free(r->cairn_id);
	json_decref(r->desired);
	json_decref(r->observed);
	free(r->created_at);
	memset(r, 0, sizeof(*r));
}

void cairn_intent_record_list_free(struct cairn_intent_record *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		cairn_intent_record_release(&v[i]);
	free(v);
}

/* What every intent must say, whoever writes it (open or import). */
static int check_intent(const struct cairn_intent_record *in, struct cairn_error *err)
{
	if (!in || !in->address || !*in->address)
		return cairn_error_set(err, CAIRN_E_INVALID, "intent without address");
	if (!in->op || !*in->op)
		return cairn_error_set(err, CAIRN_E_INVALID,
				       "intent for '%s' has no operation", in->address);
	if (!in->kind || !*in->kind || !in->type || !*in->type)
		return cairn_error_set(err, CAIRN_E_INVALID,
				       "intent for '%s' has no kind or type", in->address);
	if (in->attempt < 1)
		return cairn_error_set(err, CAIRN_E_INVALID,
				       "intent for '%s' has attempt %d (the first is 1)",
				       in->address, in->attempt);
	return 0;
}

int cairn_store_intent_open(struct cairn_store *st, const struct cairn_intent_record *in,
			    int64_t *id, struct cairn_error *err)
{
	int64_t ignored;

	if (!id)
		id = &ignored;
	*id = 0;
	if (check_intent(in, err) < 0 || check_name("stack", in->stack, err) < 0 ||
	    check_writable(st, err) < 0)
		return -1;
	return st->be->intent_open(st, in, id, err);
}

int cairn_store_intent_close(struct cairn_store *st, int64_t id, struct cairn_error *err)
{
	if (check_writable(st, err) < 0)
		return -1;
	if (id <= 0)
		return cairn_error_set(err, CAIRN_E_NOTFOUND,
				       "intent %lld does not exist", (long long)id);
	return st->be->intent_close(st, id, err);
}

int cairn_store_intent_list(struct cairn_store *st, const char *stack,
			    struct cairn_intent_record **out, size_t *n,
			    struct cairn_error *err)
{
	*out = NULL;
	*n = 0;
	if (stack && check_name("stack", stack, err) < 0)
		return -1;
	return st->be->intent_list(st, stack, out, n, err);
}

/* ---- tasks --------------------------------------------------------------- */

static const char *const task_statuses[] = { "failed", "blocked", "done" };

static bool task_status_known(const char *status)
{
	for (size_t i = 0; status && i < ARRAY_SIZE(task_statuses); i++)
		if (!strcmp(status, task_statuses[i]))
			return true;
	return false;
}

void cairn_task_record_release(struct cairn_task_record *r)
{
	if (!r)
		return;
	free(r->stack);
	free(r->address);
	free(r->op);
	free(r->status);
	free(r->last_error);
	free(r->created_at);
	free(r->updated_at);
	memset(r, 0, sizeof(*r));
}

void cairn_task_record_list_free(struct cairn_task_record *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		cairn_task_record_release(&v[i]);
	free(v);
}

/* What every task must say, whoever writes it (put or import). */
static int check_task(const struct cairn_task_record *t, struct cairn_error *err)
{
	if (!t || !t->address || !*t->address)
		return cairn_error_set(err, CAIRN_E_INVALID, "task without address");
	if (!t->op || !*t->op)
		return cairn_error_set(err, CAIRN_E_INVALID,
				       "task for '%s' has no operation", t->address);
	if (!task_status_known(t->status))
		return cairn_error_set(err, CAIRN_E_INVALID,
				       "task for '%s' has unknown status '%s'", t->address,
				       t->status ? t->status : "");
	if (t->attempts < 0)
		return cairn_error_set(err, CAIRN_E_INVALID,
				       "task for '%s' has %d attempts", t->address,
				       t->attempts);
	return 0;
}

int cairn_store_task_put(struct cairn_store *st, const struct cairn_task_record *t,
			 int64_t *id, struct cairn_error *err)
{
	int64_t ignored;

	if (!id)
		id = &ignored;
	*id = 0;
	if (check_task(t, err) < 0 || check_name("stack", t->stack, err) < 0 ||
	    check_writable(st, err) < 0)
		return -1;
	return st->be->task_put(st, t, id, err);
}

int cairn_store_task_get(struct cairn_store *st, int64_t id, struct cairn_task_record *out,
			 struct cairn_error *err)
{
	memset(out, 0, sizeof(*out));
	return st->be->task_get(st, id, out, err);
}

int cairn_store_task_list(struct cairn_store *st, const char *stack, bool unfinished,
			  struct cairn_task_record **out, size_t *n, struct cairn_error *err)
{
	*out = NULL;
	*n = 0;
	if (stack && check_name("stack", stack, err) < 0)
		return -1;
	return st->be->task_list(st, stack, unfinished, out, n, err);
}

int cairn_store_task_delete(struct cairn_store *st, const char *stack, const char *address,
			    struct cairn_error *err)
{
	if (check_name("stack", stack, err) < 0 ||
	    check_name("resource", address, err) < 0 ||
	    check_writable(st, err) < 0)
		return -1;
	return st->be->task_delete(st, stack, address, err);
}

/* ---- the stack lock ------------------------------------------------------- */

void cairn_store_time_ms(int64_t ms, char out[25])
{
	time_t t = (time_t)(ms / 1000);
	unsigned frac = (unsigned)((ms % 1000 + 1000) % 1000);
	struct tm tm;

	gmtime_r(&t, &tm);
	if (strftime(out, 25, "%Y-%m-%dT%H:%M:%S", &tm) != 19)
		BUG("time %lld ms out of range", (long long)ms);
	out[19] = '.';
	out[20] = (char)('0' + frac / 100);
	out[21] = (char)('0' + frac / 10 % 10);
	out[22] = (char)('0' + frac % 10);
	out[23] = 'Z';
	out[24] = '\0';
}

/* "2026-11-22T04:00:00Z": lock times in messages, to the second. */
static void time_s(int64_t ms, char out[21])
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 21, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int cairn_store_lock_conflict(struct cairn_error *err,
			      const struct cairn_lock_record *held)
{
	char since[21], until[21];

	time_s(held->acquired_ms, since);
	time_s(held->expires_ms, until);
	cairn_error_set(err, CAIRN_E_CONFLICT, "stack '%s' is locked by %s since %s",
			held->stack, held->holder, since);
	cairn_error_hint(err, "its lease runs until %s unless renewed; if its holder is gone, 'cairn state unlock %s' removes it",
			 until, held->stack);
	return -1;
}

int cairn_store_lock_lost(struct cairn_error *err, const char *stack, int64_t fence,
			  const struct cairn_lock_record *now)
{
	char since[21];

	if (!now)
		return cairn_error_set(err, CAIRN_E_CONFLICT,
				       "lock %lld of stack '%s' was released or forced",
				       (long long)fence, stack);
	time_s(now->acquired_ms, since);
	return cairn_error_set(err, CAIRN_E_CONFLICT,
			       "lock %lld of stack '%s' was taken over: held by %s (lock %lld) since %s",
			       (long long)fence, stack, now->holder,
			       (long long)now->fence, since);
}

void cairn_lock_record_release(struct cairn_lock_record *r)
{
	if (!r)
		return;
	free(r->stack);
	free(r->holder);
	memset(r, 0, sizeof(*r));
}

static int check_lease(int64_t lease_ms, struct cairn_error *err)
{
	if (lease_ms <= 0)
		return cairn_error_set(err, CAIRN_E_INVALID,
				       "lock lease of %lld ms is not positive",
				       (long long)lease_ms);
	return 0;
}

static int check_fence(int64_t fence, struct cairn_error *err)
{
	if (fence <= 0)
		return cairn_error_set(err, CAIRN_E_INVALID,
				       "lock fence %lld is not positive", (long long)fence);
	return 0;
}

int cairn_store_lock_acquire(struct cairn_store *st, const char *stack, const char *holder,
			     int64_t lease_ms, struct cairn_lock_record *out,
			     struct cairn_error *err)
{
	struct cairn_lock_record ignored = { 0 };
	int ret;

	if (out)
		memset(out, 0, sizeof(*out));
	if (check_name("stack", stack, err) < 0 || check_text("lock holder", holder, err) < 0 ||
	    check_lease(lease_ms, err) < 0 || check_writable(st, err) < 0)
		return -1;
	ret = st->be->lock_acquire(st, stack, holder, lease_ms, out ? out : &ignored, err);
	cairn_lock_record_release(&ignored);
	return ret;
}

int cairn_store_lock_renew(struct cairn_store *st, const char *stack, int64_t fence,
			   int64_t lease_ms, struct cairn_error *err)
{
	if (check_name("stack", stack, err) < 0 || check_fence(fence, err) < 0 ||
	    check_lease(lease_ms, err) < 0 || check_writable(st, err) < 0)
		return -1;
	return st->be->lock_renew(st, stack, fence, lease_ms, err);
}

int cairn_store_lock_release(struct cairn_store *st, const char *stack, int64_t fence,
			     struct cairn_error *err)
{
	if (check_name("stack", stack, err) < 0 || check_fence(fence, err) < 0 ||
	    check_writable(st, err) < 0)
		return -1;
	return st->be->lock_release(st, stack, fence, err);
}

int cairn_store_lock_get(struct cairn_store *st, const char *stack,
			 struct cairn_lock_record *out, struct cairn_error *err)
{
	memset(out, 0, sizeof(*out));
	if (check_name("stack", stack, err) < 0)
		return -1;
	return st->be->lock_get(st, stack, out, err);
}

int cairn_store_lock_force(struct cairn_store *st, const char *stack, const char *by,
			   struct cairn_error *err)
{
	if (check_name("stack", stack, err) < 0 || check_text("unlocker", by, err) < 0 ||
	    check_writable(st, err) < 0)
		return -1;
	return st->be->lock_force(st, stack, by, err);
}

/* ---- events and outputs --------------------------------------------------- */

int cairn_store_event_add(struct cairn_store *st, const char *stack, const char *kind,
			  const json_t *data, struct cairn_error *err)
{
	if ((stack && check_name("stack", stack, err) < 0) ||
	    check_text("event kind", kind, err) < 0 || check_writable(st, err) < 0)
		return -1;
	return st->be->event_add(st, stack, kind, data, err);
}

int cairn_store_event_list(struct cairn_store *st, const char *stack, int64_t since,
			   json_t **out, struct cairn_error *err)
{
	*out = NULL;
	if (stack && check_name("stack", stack, err) < 0)
		return -1;
	return st->be->event_list(st, stack, since < 0 ? 0 : since, out, err);
}

int cairn_store_outputs_put(struct cairn_store *st, const char *stack, const json_t *outputs,
			    struct cairn_error *err)
{
	if (check_name("stack", stack, err) < 0 || check_writable(st, err) < 0)
		return -1;
	if (outputs && !json_is_object(outputs))
		return cairn_error_set(err, CAIRN_E_INVALID,
				       "outputs of stack '%s' are not an object", stack);
	return st->be->outputs_put(st, stack, outputs, err);
}

int cairn_store_outputs_get(struct cairn_store *st, const char *stack, json_t **out,
			    struct cairn_error *err)
{
	*out = NULL;
	if (check_name("stack", stack, err) < 0 ||
	    st->be->outputs_get(st, stack, out, err) < 0)
		return -1;
	if (!*out)
		*out = json_object();   /* none stored yet: no outputs */
	return 0;
}

/* ---- facts ---------------------------------------------------------------- */

static int check_fact_name(const char *name, struct cairn_error *err)
{
	if (!name || !*name)
		return cairn_error_set(err, CAIRN_E_INVALID, "empty fact name");
	for (const char *c = name; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			return cairn_error_set(err, CAIRN_E_INVALID,
					       "fact name with a control character");
	return 0;
}

int cairn_store_fact_put(struct cairn_store *st, const char *stack, const char *address,
			 const char *name, const json_t *value, struct cairn_error *err)
{
	if (check_name("stack", stack, err) < 0 || check_fact_name(name, err) < 0 ||
	    check_writable(st, err) < 0)
		return -1;
	if (!address || !*address)
		return cairn_error_set(err, CAIRN_E_INVALID, "fact '%s' without an address", name);
	if (!value)
		return cairn_error_set(err, CAIRN_E_INVALID, "fact '%s' of %s without a value",
				       name, address);
	return st->be->fact_put(st, stack, address, name, value, err);
}

int cairn_store_fact_list(struct cairn_store *st, const char *stack, const char *address,
			  const char *prefix, json_t **out, struct cairn_error *err)
{
	*out = NULL;
	if (check_name("stack", stack, err) < 0)
		return -1;
	return st->be->fact_list(st, stack, address, prefix, out, err);
}

int cairn_store_fact_delete(struct cairn_store *st, const char *stack, const char *address,
			    const char *prefix, struct cairn_error *err)
{
	if (check_name("stack", stack, err) < 0 || check_writable(st, err) < 0)
		return -1;
	if (!address || !*address)
		return cairn_error_set(err, CAIRN_E_INVALID, "facts without an address");
	return st->be->fact_delete(st, stack, address, prefix, err);
}

/* ---- secrets ------------------------------------------------------------- */

/* A secret's name: non-empty, [a-z0-9._-] only (it may end up in a file
 * name or a command line; it is never a value). */
static int check_secret_name(const char *name, struct cairn_error *err)
{
	if (!name || !*name)
		return cairn_error_set(err, CAIRN_E_INVALID, "empty secret name");
	for (const char *p = name; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
		      *p == '.' || *p == '_' || *p == '-')) {
			cairn_error_set(err, CAIRN_E_INVALID,
					"invalid secret name '%s'", name);
			cairn_error_hint(err, "secret names use a-z, 0-9, '.', '_' and '-'");
			return -1;
		}
	return 0;
}

int cairn_store_secret_put(struct cairn_store *st, const char *stack, const char *name,
			   const char *value, struct cairn_error *err)
{
	if (check_name("stack", stack, err) < 0 || check_secret_name(name, err) < 0 ||
	    check_writable(st, err) < 0)
		return -1;
	/* The value is never quoted: it is sealed, but still not for logs. */
	if (!value || !*value)
		return cairn_error_set(err, CAIRN_E_INVALID,
				       "empty value for secret '%s' of stack '%s'",
				       name, stack);
	return st->be->secret_put(st, stack, name, value, err);
}

int cairn_store_secret_get(struct cairn_store *st, const char *stack, const char *name,
			   char **value, struct cairn_error *err)
{
	*value = NULL;
	if (check_name("stack", stack, err) < 0 || check_secret_name(name, err) < 0)
		return -1;
	return st->be->secret_get(st, stack, name, value, err);
}

int cairn_store_secret_delete(struct cairn_store *st, const char *stack, const char *name,
			      struct cairn_error *err)
{
	if (check_name("stack", stack, err) < 0 || check_secret_name(name, err) < 0 ||
	    check_writable(st, err) < 0)
		return -1;
	return st->be->secret_delete(st, stack, name, err);
}

/* ---- plugins ------------------------------------------------------------- */

int cairn_store_plugin_put(struct cairn_store *st, const char *type, const char *path,
			   struct cairn_error *err)
{
	if (check_text("plugin type", type, err) < 0 ||
	    check_text("plugin path", path, err) < 0 || check_writable(st, err) < 0)
		return -1;
	return st->be->plugin_put(st, type, path, err);
}

int cairn_store_plugin_delete(struct cairn_store *st, const char *type, struct cairn_error *err)
{
	if (check_text("plugin type", type, err) < 0 || check_writable(st, err) < 0)
		return -1;
	return st->be->plugin_delete(st, type, err);
}

int cairn_store_plugin_list(struct cairn_store *st, json_t **out, struct cairn_error *err)
{
	*out = NULL;
	return st->be->plugin_list(st, out, err);
}

/* ---- export ------------------------------------------------------------ */

/* json_string() of a possibly NULL string: NULL becomes JSON null. */
static json_t *str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

static json_t *export_resource(const struct cairn_resource_record *r)
{
	json_t *o = json_pack("{s:s, s:s, s:s, s:o, s:o, s:s, s:O, s:o, s:s, s:s, s:s}",
			 "address", r->address,
			 "kind", r->kind,
			 "type", r->type,
			 "provider", str_or_null(r->provider),
			 "cairn_id", str_or_null(r->cairn_id),
			 "desired_hash", r->desired_hash,
			 "desired", r->desired,
			 "observed", r->observed ? json_incref(r->observed) : json_null(),
			 "status", cairn_resource_status_name(r->status),
			 "created_at", r->created_at,
			 "updated_at", r->updated_at);

	if (!o)
		BUG("cannot build the export of resource '%s'", r->address);
	return o;
}

/* Open intents travel without their id, which is local to a store. */
static json_t *export_intent(const struct cairn_intent_record *in)
{
	json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:o, s:o, s:i, s:o, s:o, s:s}",
			 "address", in->address,
			 "op", in->op,
			 "kind", in->kind,
			 "type", in->type,
			 "provider", str_or_null(in->provider),
			 "cairn_id", str_or_null(in->cairn_id),
			 "attempt", in->attempt,
			 "desired", in->desired ? json_incref(in->desired) : json_null(),
			 "observed", in->observed ? json_incref(in->observed) : json_null(),
			 "created_at", in->created_at);

	if (!o)
		BUG("cannot build the export of the intent for '%s'", in->address);
	return o;
}

/* Tasks travel without their id too: one task per (stack, address). */
static json_t *export_task(const struct cairn_task_record *t)
{
	json_t *o = json_pack("{s:s, s:s, s:s, s:i, s:o, s:s, s:s}",
			 "address", t->address,
			 "op", t->op,
			 "status", t->status,
			 "attempts", t->attempts,
			 "last_error", str_or_null(t->last_error),
			 "created_at", t->created_at,
			 "updated_at", t->updated_at);

	if (!o)
		BUG("cannot build the export of the task for '%s'", t->address);
	return o;
}

/*
 * One stack as an export entry.  Pools its resources belong to are added
 * to *pools (names, as keys) so a one-stack export can carry them along.
 */
static int export_stack(struct cairn_store *st, const struct cairn_stack_record *s,
			json_t *pools, json_t **out, struct cairn_error *err)
{
	struct cairn_design_record *dv = NULL;
	struct cairn_resource_record *rv = NULL;
	struct cairn_task_record *tv = NULL;
	struct cairn_intent_record *iv = NULL;
	size_t nd = 0, nr = 0, nt = 0, ni = 0;
	json_t *designs, *resources, *tasks, *intents, *outputs = NULL, *o = NULL;
	int ret = -1;

	if (st->be->design_list(st, s->name, &dv, &nd, err) < 0 ||
	    st->be->resource_list(st, s->name, &rv, &nr, err) < 0 ||
	    st->be->task_list(st, s->name, false, &tv, &nt, err) < 0 ||
	    st->be->intent_list(st, s->name, &iv, &ni, err) < 0 ||
	    st->be->outputs_get(st, s->name, &outputs, err) < 0)
		goto out;

	designs = json_array();
	for (size_t i = 0; i < nd; i++)
		json_array_append_new(designs,
			json_pack("{s:I, s:s, s:s, s:O}",
				  "version", (json_int_t)dv[i].version,
				  "hash", dv[i].hash,
				  "created_at", dv[i].created_at,
				  "body", dv[i].body));
	resources = json_array();
	for (size_t i = 0; i < nr; i++) {
		const char *pool = cairn_json_str(rv[i].desired, "pool");

		if (pool)
			json_object_set_new(pools, pool, json_true());
		json_array_append_new(resources, export_resource(&rv[i]));
	}
	tasks = json_array();
	for (size_t i = 0; i < nt; i++)
		json_array_append_new(tasks, export_task(&tv[i]));
	intents = json_array();
	for (size_t i = 0; i < ni; i++)
		json_array_append_new(intents, export_intent(&iv[i]));
	o = json_pack("{s:s, s:s, s:I, s:s, s:s, s:o, s:o, s:o, s:o, s:o}",
		      "name", s->name,
		      "lineage", s->lineage,
		      "serial", (json_int_t)s->serial,
		      "created_at", s->created_at,
		      "updated_at", s->updated_at,
		      "designs", designs,
		      "resources", resources,
		      "outputs", outputs ? outputs : json_null(),
		      "tasks", tasks,
		      "intents", intents);
	outputs = NULL;     /* "o" took it */
	if (!o)
		BUG("cannot build the export of stack '%s'", s->name);
	*out = o;
	ret = 0;
out:
	json_decref(outputs);
	cairn_design_record_list_free(dv, nd);
	cairn_resource_record_list_free(rv, nr);
	cairn_task_record_list_free(tv, nt);
	cairn_intent_record_list_free(iv, ni);
	return ret;
}

int cairn_store_export(struct cairn_store *st, const char *stack, json_t **out,
		       struct cairn_error *err)
{
	struct cairn_stack_record *sv = NULL;
	struct cairn_pool_record *pv = NULL;
	size_t ns = 0, np = 0;
	json_t *doc = NULL, *stacks, *pools, *used = json_object();
	bool in_txn = false;
	int ret = -1;

	*out = NULL;
	if (stack && check_name("stack", stack, err) < 0)
		goto out;
	/* One transaction, so the document is one consistent snapshot. */
	if (cairn_store_begin(st, err) < 0)
		goto out;
	in_txn = true;

	if (stack) {
		sv = xcalloc(1, sizeof(*sv));
		ns = 1;
		if (st->be->stack_get(st, stack, sv, err) < 0)
			goto out;
	} else if (st->be->stack_list(st, &sv, &ns, err) < 0) {
		goto out;
	}
	if (st->be->pool_list(st, &pv, &np, err) < 0)
		goto out;

	doc = json_pack("{s:s, s:i, s:[], s:[]}", "format", STATE_FORMAT,
			"version", STATE_FORMAT_VERSION, "stacks", "pools");
	stacks = json_object_get(doc, "stacks");
	pools = json_object_get(doc, "pools");
	for (size_t i = 0; i < ns; i++) {
		json_t *s;

		if (export_stack(st, &sv[i], used, &s, err) < 0)
			goto out;
		json_array_append_new(stacks, s);
	}
	for (size_t i = 0; i < np; i++) {
		/* A one-stack export takes the pools that stack made or uses. */
		if (stack && !(pv[i].stack && !strcmp(pv[i].stack, stack)) &&
		    !json_object_get(used, pv[i].name))
			continue;
		json_array_append_new(pools,
			json_pack("{s:s, s:o, s:o, s:s}",
				  "name", pv[i].name,
				  "description", str_or_null(pv[i].description),
				  "stack", str_or_null(pv[i].stack),
				  "created_at", pv[i].created_at));
	}
	in_txn = false;     /* commit closes the level, failing or not */
	if (cairn_store_commit(st, err) < 0)
		goto out;
	*out = doc;
	doc = NULL;
	ret = 0;
out:
	if (in_txn)
		cairn_store_rollback(st);
	json_decref(doc);
	json_decref(used);
	cairn_stack_record_list_free(sv, ns);
	cairn_pool_record_list_free(pv, np);
	return ret;
}

/* ---- import ------------------------------------------------------------ */

/*
 * The document is untrusted input: every member is checked before anything
 * is written, and every message names the thing it is about.
 */

static int check_object(const json_t *v, const char *what, struct cairn_error *err)
{
	if (!json_is_object(v))
		return cairn_error_set(err, CAIRN_E_INVALID,
				       "invalid state document: %s is not an object", what);
	return 0;
}

static const char *member_str(const json_t *o, const char *key, bool optional,
			      const char *what, struct cairn_error *err)
{
	const json_t *v = json_object_get(o, key);

	if ((!v || json_is_null(v)) && optional)
		return NULL;
	if (!json_is_string(v) || !*json_string_value(v)) {
		cairn_error_set(err, CAIRN_E_INVALID,
				"invalid state document: %s has no string '%s'",
				what, key);
		return NULL;
	}
	return json_string_value(v);
}

static int member_int(const json_t *o, const char *key, int64_t min,
		      const char *what, int64_t *out, struct cairn_error *err)
{
	const json_t *v = json_object_get(o, key);

	if (!json_is_integer(v) || json_integer_value(v) < min)
		return cairn_error_set(err, CAIRN_E_INVALID,
				       "invalid state document: %s has no integer '%s' of at least %lld",
				       what, key, (long long)min);
	*out = json_integer_value(v);
	return 0;
}

static const json_t *member_array(const json_t *o, const char *key,
				  const char *what, struct cairn_error *err)
{
	const json_t *v = json_object_get(o, key);

	if (!v)
		return NULL;    /* absent: as empty */
	if (!json_is_array(v)) {
		cairn_error_set(err, CAIRN_E_INVALID,
				"invalid state document: '%s' of %s is not an array",
				key, what);
		return NULL;
	}
	return v;
}

static int import_design(struct cairn_store *st, const char *stack,
			 const json_t *d, struct cairn_error *err)
{
	struct cairn_design_record rec = { 0 };
	const json_t *body = json_object_get(d, "body");
	char hash[CAIRN_HASH_LEN];
	char *what = xasprintf("a design of stack '%s'", stack);
	const char *doc_hash, *created;
	int ret = -1;

	if (check_object(d, what, err) < 0 ||
	    member_int(d, "version", 1, what, &rec.version, err) < 0 ||
	    !(doc_hash = member_str(d, "hash", false, what, err)) ||
	    !(created = member_str(d, "created_at", false, what, err)))
		goto out;
	if (!body) {
		cairn_error_set(err, CAIRN_E_INVALID,
				"invalid state document: design %lld of stack '%s' has no body",
				(long long)rec.version, stack);
		goto out;
	}
	cairn_json_hash(body, hash);
	if (strcmp(hash, doc_hash)) {
		cairn_error_set(err, CAIRN_E_INVALID,
				"invalid state document: design %lld of stack '%s' does not match its hash",
				(long long)rec.version, stack);
		goto out;
	}
	rec.hash = hash;
	rec.body = (json_t *)body;
	rec.created_at = (char *)created;
	ret = st->be->design_restore(st, stack, &rec, err);
out:
	free(what);
	return ret;
}

static int import_resource(struct cairn_store *st, const char *stack,
			   const json_t *r, struct cairn_error *err)
{
	struct cairn_resource_record rec = { 0 };
	const json_t *observed = json_object_get(r, "observed");
	char *what = xasprintf("a resource of stack '%s'", stack);
	const char *status;
	int code, ret = -1;

	if (check_object(r, what, err) < 0 ||
	    !(rec.address = (char *)member_str(r, "address", false, what, err)))
		goto out;
	free(what);
	what = xasprintf("resource '%s' of stack '%s'", rec.address, stack);
	if (!(rec.kind = (char *)member_str(r, "kind", false, what, err)) ||
	    !(rec.type = (char *)member_str(r, "type", false, what, err)) ||
	    !(rec.desired_hash = (char *)member_str(r, "desired_hash", false, what, err)) ||
	    !(status = member_str(r, "status", false, what, err)) ||
	    !(rec.created_at = (char *)member_str(r, "created_at", false, what, err)) ||
	    !(rec.updated_at = (char *)member_str(r, "updated_at", false, what, err)))
		goto out;
	rec.provider = (char *)member_str(r, "provider", true, what, err);
	rec.cairn_id = (char *)member_str(r, "cairn_id", true, what, err);
	if (cairn_error_isset(err))
		goto out;
	if ((code = cairn_resource_status_parse(status)) < 0) {
		cairn_error_set(err, CAIRN_E_INVALID,
				"invalid state document: %s has unknown status '%s'",
				what, status);
		goto out;
	}
	rec.status = (enum cairn_resource_status)code;
	rec.desired = json_object_get(r, "desired");
	if (!rec.desired) {
		cairn_error_set(err, CAIRN_E_INVALID,
				"invalid state document: %s has no desired state", what);
		goto out;
	}
	rec.observed = json_is_null(observed) ? NULL : (json_t *)observed;
	ret = st->be->resource_restore(st, stack, &rec, err);
out:
	free(what);
	return ret;
}

static int import_task(struct cairn_store *st, const char *stack,
		       const json_t *t, struct cairn_error *err)
{
	struct cairn_task_record rec = { 0 };
	char *what = xasprintf("a task of stack '%s'", stack);
	int64_t attempts = 0;
	int ret = -1;

	if (check_object(t, what, err) < 0 ||
	    !(rec.address = (char *)member_str(t, "address", false, what, err)))
		goto out;
	free(what);
	what = xasprintf("the task for '%s' of stack '%s'", rec.address, stack);
	if (!(rec.op = (char *)member_str(t, "op", false, what, err)) ||
	    !(rec.status = (char *)member_str(t, "status", false, what, err)) ||
	    member_int(t, "attempts", 0, what, &attempts, err) < 0 ||
	    !(rec.created_at = (char *)member_str(t, "created_at", false, what, err)) ||
	    !(rec.updated_at = (char *)member_str(t, "updated_at", false, what, err)))
		goto out;
	rec.last_error = (char *)member_str(t, "last_error", true, what, err);
	if (cairn_error_isset(err))
		goto out;
	if (attempts > INT_MAX) {
		cairn_error_set(err, CAIRN_E_INVALID,
				"invalid state document: %s has too many attempts", what);
		goto out;
	}
	rec.attempts = (int)attempts;
	if (check_task(&rec, err) < 0) {
		cairn_error_context(err, "while importing %s", what);
		goto out;
	}
	ret = st->be->task_restore(st, stack, &rec, err);
out:
	free(what);
	return ret;
}

static int import_intent(struct cairn_store *st, const char *stack,
			 const json_t *in, struct cairn_error *err)
{
	struct cairn_intent_record rec = { 0 };
	const json_t *desired = json_object_get(in, "desired");
	const json_t *observed = json_object_get(in, "observed");
	char *what = xasprintf("an intent of stack '%s'", stack);
	int64_t attempt = 0;
	int ret = -1;

	if (check_object(in, what, err) < 0 ||
	    !(rec.address = (char *)member_str(in, "address", false, what, err)))
		goto out;
	free(what);
	what = xasprintf("the intent for '%s' of stack '%s'", rec.address, stack);
	if (!(rec.op = (char *)member_str(in, "op", false, what, err)) ||
	    !(rec.kind = (char *)member_str(in, "kind", false, what, err)) ||
	    !(rec.type = (char *)member_str(in, "type", false, what, err)) ||
	    member_int(in, "attempt", 1, what, &attempt, err) < 0 ||
	    !(rec.created_at = (char *)member_str(in, "created_at", false, what, err)))
		goto out;
	rec.provider = (char *)member_str(in, "provider", true, what, err);
	rec.cairn_id = (char *)member_str(in, "cairn_id", true, what, err);
	if (cairn_error_isset(err))
		goto out;
	if (attempt > INT_MAX) {
		cairn_error_set(err, CAIRN_E_INVALID,
				"invalid state document: %s has too many attempts", what);
		goto out;
	}
	rec.attempt = (int)attempt;
	rec.desired = json_is_null(desired) ? NULL : (json_t *)desired;
	rec.observed = json_is_null(observed) ? NULL : (json_t *)observed;
	if (check_intent(&rec, err) < 0) {
		cairn_error_context(err, "while importing %s", what);
		goto out;
	}
	ret = st->be->intent_restore(st, stack, &rec, err);
out:
	free(what);
	return ret;
}

static int import_stack(struct cairn_store *st, const json_t *s, size_t idx,
			struct cairn_error *err)
{
	struct cairn_stack_record rec = { 0 };
	char *what = xasprintf("stack %zu", idx + 1);
	const json_t *designs, *resources, *tasks, *intents, *outputs, *v;
	size_t i;
	int ret = -1;

	if (check_object(s, what, err) < 0 ||
	    !(rec.name = (char *)member_str(s, "name", false, what, err)))
		goto out;
	free(what);
	what = xasprintf("stack '%s'", rec.name);
	if (!(rec.lineage = (char *)member_str(s, "lineage", false, what, err)) ||
	    member_int(s, "serial", 0, what, &rec.serial, err) < 0 ||
	    !(rec.created_at = (char *)member_str(s, "created_at", false, what, err)) ||
	    !(rec.updated_at = (char *)member_str(s, "updated_at", false, what, err)))
		goto out;
	designs = member_array(s, "designs", what, err);
	resources = member_array(s, "resources", what, err);
	tasks = member_array(s, "tasks", what, err);
	intents = member_array(s, "intents", what, err);
	outputs = json_object_get(s, "outputs");
	if (cairn_error_isset(err))
		goto out;
	if (json_is_null(outputs))
		outputs = NULL;
	if (outputs && !json_is_object(outputs)) {
		cairn_error_set(err, CAIRN_E_INVALID,
				"invalid state document: 'outputs' of %s is not an object", what);
		goto out;
	}

	if (st->be->stack_restore(st, &rec, err) < 0)
		goto out;
	json_array_foreach(designs, i, v)
		if (import_design(st, rec.name, v, err) < 0)
			goto out;
	json_array_foreach(resources, i, v)
		if (import_resource(st, rec.name, v, err) < 0)
			goto out;
	json_array_foreach(tasks, i, v)
		if (import_task(st, rec.name, v, err) < 0)
			goto out;
	json_array_foreach(intents, i, v)
		if (import_intent(st, rec.name, v, err) < 0)
			goto out;
	if (outputs && st->be->outputs_put(st, rec.name, outputs, err) < 0)
		goto out;
	ret = 0;
out:
	free(what);
	return ret;
}

static int import_pool(struct cairn_store *st, const json_t *p, size_t idx,
		       struct cairn_error *err)
{
	struct cairn_pool_record rec = { 0 };
	char *what = xasprintf("pool %zu", idx + 1);
	int ret = -1;

	if (check_object(p, what, err) < 0 ||
	    !(rec.name = (char *)member_str(p, "name", false, what, err)))
		goto out;
	free(what);
	what = xasprintf("pool '%s'", rec.name);
	if (!(rec.created_at = (char *)member_str(p, "created_at", false, what, err)))
		goto out;
	rec.description = (char *)member_str(p, "description", true, what, err);
	rec.stack = (char *)member_str(p, "stack", true, what, err);
	if (cairn_error_isset(err))
		goto out;
	ret = st->be->pool_restore(st, &rec, err);
out:
	free(what);
	return ret;
}

static int import_doc(struct cairn_store *st, const json_t *doc,
		      struct cairn_error *err)
{
	const json_t *stacks, *pools, *v;
	const char *format;
	json_int_t version;
	size_t i;

	format = json_is_object(doc) ? cairn_json_str(doc, "format") : NULL;
	if (!format || strcmp(format, STATE_FORMAT))
		return cairn_error_set(err, CAIRN_E_INVALID,
				       "not a cairn state document (no \"format\": \"%s\")",
				       STATE_FORMAT);
	version = json_integer_value(json_object_get(doc, "version"));
	if (version != STATE_FORMAT_VERSION)
		return cairn_error_set(err, CAIRN_E_INVALID,
				       "unsupported state document version %lld (this cairn reads %d)",
				       (long long)version, STATE_FORMAT_VERSION);
	stacks = member_array(doc, "stacks", "the document", err);
	pools = member_array(doc, "pools", "the document", err);
	if (cairn_error_isset(err))
		return -1;

	if (cairn_store_begin(st, err) < 0)
		return -1;
	json_array_foreach(stacks, i, v)
		if (import_stack(st, v, i, err) < 0)
			goto fail;
	json_array_foreach(pools, i, v)
		if (import_pool(st, v, i, err) < 0)
			goto fail;
	return cairn_store_commit(st, err);
fail:
	cairn_store_rollback(st);
	return -1;
}

int cairn_store_import(struct cairn_store *st, const json_t *doc,
		       struct cairn_error *err)
{
	/* The checks above test whether an error was set: never let them see
	 * a NULL err. */
	struct cairn_error e = CAIRN_ERROR_INIT;

	if (check_writable(st, err) < 0)
		return -1;
	if (!import_doc(st, doc, &e))
		return 0;
	return pass_error(err, &e);
}
