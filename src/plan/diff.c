#include "util/common.h"

#include "cairn/plan.h"
#include "util/clock.h"
#include "util/jsonutil.h"

CAIRN_LOG_INIT("plan.diff");

/* What a plain create says; render.c prints it as "(create)". */
#define REASON_NEW "new"

static const char *const action_names[CAIRN_ACTION__COUNT] = {
	[CAIRN_ACTION_NOOP] = "no-op",
	[CAIRN_ACTION_CREATE] = "create",
	[CAIRN_ACTION_UPDATE] = "update",
	[CAIRN_ACTION_REPLACE] = "replace",
	[CAIRN_ACTION_DELETE] = "delete",
};

const char *cairn_action_name(enum cairn_action a)
{
	if ((unsigned)a < CAIRN_ACTION__COUNT)
		return action_names[a];
	return "unknown";
}

int cairn_action_parse(const char *name)
{
	if (!name)
		return -1;
	for (size_t i = 0; i < CAIRN_ACTION__COUNT; i++)
		if (!strcmp(name, action_names[i]))
			return (int)i;
	return -1;
}

/* ---- the state index ---------------------------------------------------- */

/*
 * Records are looked up by address through a sorted array of pointers and a
 * binary search: O(n log n) in all, which keeps a 100,000-resource plan well
 * clear of the quadratic trap of matching each resource by a linear scan.
 */
static int cmp_record_address(const void *a, const void *b)
{
	const struct cairn_resource_record *const *x = a;
	const struct cairn_resource_record *const *y = b;

	return strcmp((*x)->address, (*y)->address);
}

static ssize_t find_record(const struct cairn_resource_record *const *idx,
			   size_t n, const char *address)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(address, idx[mid]->address);

		if (!c)
			return (ssize_t)mid;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return -1;
}

/* ---- deletes --------------------------------------------------------------- */

/* The kind of a record: its kind column, else the prefix of its address. */
static int record_kind(const struct cairn_resource_record *r)
{
	const char *dot;
	char prefix[32];
	int k = r->kind ? cairn_kind_parse(r->kind) : -1;

	if (k >= 0)
		return k;
	dot = strchr(r->address, '.');
	if (!dot || (size_t)(dot - r->address) >= sizeof(prefix))
		return -1;
	memcpy(prefix, r->address, (size_t)(dot - r->address));
	prefix[dot - r->address] = '\0';
	return cairn_kind_parse(prefix);
}

/*
 * Deletes undo creation: what depends on something goes first.  Nodes use
 * volumes, networks and pools, so nodes go first, then volumes, networks
 * and pools; within a kind, by address.
 */
static int delete_rank(int kind)
{
	switch (kind) {
	case CAIRN_KIND_NODE:
		return 0;
	case CAIRN_KIND_VOLUME:
		return 1;
	case CAIRN_KIND_NETWORK:
		return 2;
	case CAIRN_KIND_POOL:
		return 3;
	default:
		return 4;
	}
}

struct pending_delete {
	const struct cairn_resource_record *rec;
	int kind;
};

static int cmp_delete(const void *a, const void *b)
{
	const struct pending_delete *x = a, *y = b;
	int rx = delete_rank(x->kind), ry = delete_rank(y->kind);

	if (rx != ry)
		return rx < ry ? -1 : 1;
	return strcmp(x->rec->address, y->rec->address);
}

/* ---- field diff ------------------------------------------------------------ */

/* A key that is absent and a key that is null both mean "not set". */
static bool same_value(const json_t *a, const json_t *b)
{
	bool a_unset = !a || json_is_null(a), b_unset = !b || json_is_null(b);

	if (a_unset || b_unset)
		return a_unset && b_unset;
	return json_equal(a, b);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/*
 * The top-level keys whose values differ between before and after, sorted,
 * as a NULL-terminated array (NULL when none), leaving out keys whose field
 * is not part of the desired state.  *forced_by receives the first of them
 * whose field forces replacement (borrowed from the returned array), or
 * NULL.
 */
static char **diff_fields(const json_t *before, const json_t *after,
			  const struct cairn_resource *res, const char **forced_by)
{
	const struct cairn_type_schema *t = res->decl ? res->decl->type : NULL;
	const char **keys = NULL;
	char **fields = NULL;
	size_t nkeys = 0, akeys = 0, nfields = 0, afields = 0;
	const char *key;
	json_t *v;

	*forced_by = NULL;
	json_object_foreach((json_t *)before, key, v) {
		ALLOC_GROW(keys, nkeys + 1, akeys);
		keys[nkeys++] = key;
	}
	json_object_foreach((json_t *)after, key, v) {
		if (json_object_get(before, key))
			continue;
		ALLOC_GROW(keys, nkeys + 1, akeys);
		keys[nkeys++] = key;
	}
	if (nkeys)
		qsort(keys, nkeys, sizeof(*keys), cmp_str);

	for (size_t i = 0; i < nkeys; i++) {
		const struct cairn_field *f;

		if (same_value(json_object_get(before, keys[i]),
			       json_object_get(after, keys[i])))
			continue;
		f = cairn_schema_field(res->kind, t, keys[i]);
		if (f && (f->flags & CAIRN_FF_NODIFF))
			continue;
		ALLOC_GROW(fields, nfields + 2, afields);
		fields[nfields] = xstrdup(keys[i]);
		if (!*forced_by && f && (f->flags & CAIRN_FF_FORCES_NEW))
			*forced_by = fields[nfields];
		fields[++nfields] = NULL;
	}
	free(keys);
	return fields;
}

/* "'labels', 'health' changed" */
static char *changed_list(char *const *fields)
{
	struct cairn_buf b = CAIRN_BUF_INIT;

	for (size_t i = 0; fields[i]; i++)
		cairn_buf_addf(&b, "%s'%s'", i ? ", " : "", fields[i]);
	cairn_buf_addstr(&b, " changed");
	return cairn_buf_detach(&b, NULL);
}

static bool str_differ(const char *a, const char *b)
{
	/* An unknown (NULL) value in the state is not a reason to replace. */
	return a && b && strcmp(a, b);
}

static struct cairn_loc decl_loc(const struct cairn_resource *res, const char *field)
{
	if (!res->decl)
		return CAIRN_LOC_NONE;
	if (field)
		return cairn_decl_field_loc(res->decl, field);
	return res->decl->loc;
}

/* ---- the plan ---------------------------------------------------------------- */

static struct cairn_change *add_change(struct cairn_plan *p, enum cairn_action a,
				       const char *address, enum cairn_kind kind,
				       const char *type, const char *provider)
{
	struct cairn_change *c;

	/* cairn_plan_build() sized p->v exactly: pointers stay valid. */
	if (p->n >= p->alloc)
		BUG("plan holds more changes than it was sized for");
	c = &p->v[p->n++];
	memset(c, 0, sizeof(*c));
	c->action = a;
	c->address = xstrdup(address);
	c->kind = kind;
	c->type = type ? xstrdup(type) : NULL;
	c->provider = provider ? xstrdup(provider) : NULL;
	c->loc = CAIRN_LOC_NONE;
	return c;
}

static void set_action(struct cairn_change *c, enum cairn_action a, char *reason)
{
	c->action = a;
	c->reason = reason;
}

/*
 * Why a node's configuration is not done, or NULL when it is (or it has no
 * steps): the engine records in its observed "configured" how the last
 * configuration went; a node made or changed without it being recorded
 * was cut short.
 */
static char *configuration_pending(const struct cairn_resource *res,
				   const struct cairn_resource_record *rec)
{
	const json_t *c = json_object_get(rec->observed, "configured");
	const char *status = cairn_json_str(c, "status");

	if (res->kind != CAIRN_KIND_NODE || !json_array_size(json_object_get(res->desired, "configure")))
		return NULL;
	if (status && !strcmp(status, "ok"))
		return NULL;
	if (status && !strcmp(status, "changed"))
		return xasprintf("configure: %s", cairn_json_str(c, "error") ? cairn_json_str(c, "error") : "a file changed");
	if (status && !strcmp(status, "failed"))
		return xasprintf("configuration failed at step %lld: %s",
				 (long long)json_integer_value(json_object_get(c, "failed_step")),
				 cairn_json_str(c, "error") ? cairn_json_str(c, "error") : "?");
	return xstrdup("not configured yet");
}

static void plan_resource(struct cairn_plan *p, const struct cairn_resource *res,
			  const struct cairn_resource_record *rec)
{
	char *pending;

	struct cairn_change *c = add_change(p, CAIRN_ACTION_NOOP, res->address,
					    res->kind, res->type, res->provider);
	const char *forced_by = NULL;

	c->res = res;
	c->after = json_incref(res->desired);
	if (res->decl && res->decl->sensitive)
		c->sensitive = json_incref(res->decl->sensitive);
	c->loc = decl_loc(res, NULL);

	if (!rec) {
		set_action(c, CAIRN_ACTION_CREATE, xstrdup(REASON_NEW));
	} else if (rec->status == CAIRN_RS_GONE) {
		set_action(c, CAIRN_ACTION_CREATE,
			   xstrdup("no longer exists; will be created again"));
	} else if (rec->status == CAIRN_RS_TAINTED || rec->status == CAIRN_RS_FAILED) {
		c->before = json_incref(rec->desired);
		c->fields = diff_fields(rec->desired, res->desired, res, &forced_by);
		set_action(c, CAIRN_ACTION_REPLACE,
			   xstrdup(rec->status == CAIRN_RS_TAINTED ? "tainted" :
				   "the last operation on it failed"));
	} else if (str_differ(rec->type, res->type)) {
		c->before = json_incref(rec->desired);
		c->fields = diff_fields(rec->desired, res->desired, res, &forced_by);
		c->forced_by = xstrdup("type");
		/* The type comes from the provider the declaration names. */
		c->loc = decl_loc(res, "provider");
		set_action(c, CAIRN_ACTION_REPLACE,
			   xasprintf("provider type changed from '%s' to '%s' (forces replacement)",
				     rec->type, res->type));
	} else if (str_differ(rec->provider, res->provider)) {
		c->before = json_incref(rec->desired);
		c->fields = diff_fields(rec->desired, res->desired, res, &forced_by);
		c->forced_by = xstrdup("provider");
		c->loc = decl_loc(res, "provider");
		set_action(c, CAIRN_ACTION_REPLACE,
			   xstrdup("'provider' changed (forces replacement)"));
	} else if (rec->desired_hash && !strcmp(rec->desired_hash, res->desired_hash)) {
		if ((pending = configuration_pending(res, rec))) {
			c->before = json_incref(rec->desired);
			set_action(c, CAIRN_ACTION_UPDATE, pending);
		} else {
			set_action(c, CAIRN_ACTION_NOOP, xstrdup("up to date"));
		}
	} else {
		c->fields = diff_fields(rec->desired, res->desired, res, &forced_by);
		if (!c->fields && (pending = configuration_pending(res, rec))) {
			c->before = json_incref(rec->desired);
			set_action(c, CAIRN_ACTION_UPDATE, pending);
		} else if (!c->fields) {
			/* Only the recorded hash differs: nothing to do. */
			set_action(c, CAIRN_ACTION_NOOP, xstrdup("up to date"));
		} else if (forced_by) {
			c->before = json_incref(rec->desired);
			c->forced_by = xstrdup(forced_by);
			c->loc = decl_loc(res, forced_by);
			set_action(c, CAIRN_ACTION_REPLACE,
				   xasprintf("'%s' changed (forces replacement)", forced_by));
		} else {
			c->before = json_incref(rec->desired);
			set_action(c, CAIRN_ACTION_UPDATE, changed_list(c->fields));
		}
	}
	p->count[c->action]++;
}

static void plan_delete(struct cairn_plan *p, const struct pending_delete *d)
{
	struct cairn_change *c = add_change(p, CAIRN_ACTION_DELETE, d->rec->address,
					    (enum cairn_kind)d->kind, d->rec->type,
					    d->rec->provider);

	c->before = json_incref(d->rec->desired);
	c->reason = xstrdup("no longer in the stack");
	p->count[CAIRN_ACTION_DELETE]++;
}

int cairn_plan_build(const struct cairn_model *m,
		     const struct cairn_resource_record *state, size_t nstate,
		     const char *lineage, int64_t serial,
		     struct cairn_plan **out, struct cairn_error *err)
{
	const struct cairn_resource_record **idx = NULL, **match = NULL;
	struct pending_delete *dels = NULL;
	struct cairn_plan *p = NULL;
	bool *used = NULL, *seen = NULL;
	size_t ndel = 0;
	json_t *nothing = NULL;
	char hash[CAIRN_HASH_LEN], now[21];
	int ret = -1;

	*out = NULL;
	if (!state)
		nstate = 0;

	idx = xcalloc(nstate, sizeof(*idx));
	for (size_t i = 0; i < nstate; i++) {
		if (!state[i].address) {
			cairn_error_set(err, CAIRN_E_STATE,
					"a resource of stack '%s' is recorded without an address",
					m->stack);
			goto cleanup;
		}
		idx[i] = &state[i];
	}
	if (nstate)
		qsort(idx, nstate, sizeof(*idx), cmp_record_address);
	for (size_t i = 1; i < nstate; i++) {
		if (!strcmp(idx[i - 1]->address, idx[i]->address)) {
			cairn_error_set(err, CAIRN_E_STATE,
					"resource '%s' is recorded twice in the state",
					idx[i]->address);
			goto cleanup;
		}
	}

	used = xcalloc(nstate, sizeof(*used));
	match = xcalloc(m->nres, sizeof(*match));
	for (size_t i = 0; i < m->nres; i++) {
		ssize_t pos = find_record(idx, nstate, m->res[i].address);

		if (pos >= 0) {
			match[i] = idx[pos];
			used[pos] = true;
		}
	}

	dels = xcalloc(nstate, sizeof(*dels));
	for (size_t i = 0; i < nstate; i++) {
		if (used[i])
			continue;
		dels[ndel].rec = idx[i];
		dels[ndel].kind = record_kind(idx[i]);
		if (dels[ndel].kind < 0) {
			cairn_error_set(err, CAIRN_E_STATE,
					"resource '%s' is recorded with an unknown kind '%s'",
					idx[i]->address, idx[i]->kind ? idx[i]->kind : "");
			goto cleanup;
		}
		ndel++;
	}
	if (ndel)
		qsort(dels, ndel, sizeof(*dels), cmp_delete);

	p = xcalloc(1, sizeof(*p));
	p->stack = xstrdup(m->stack);
	p->lineage = lineage ? xstrdup(lineage) : NULL;
	p->serial = serial;
	if (!m->design)
		nothing = json_null();
	cairn_json_hash(m->design ? m->design : nothing, hash);
	p->design_hash = xstrdup(hash);
	p->design = json_incref(m->design);
	cairn_timestamp(now);
	p->created_at = xstrdup(now);
	p->alloc = m->nres + ndel;
	p->v = xcalloc(p->alloc, sizeof(*p->v));

	seen = xcalloc(m->nres, sizeof(*seen));
	for (size_t k = 0; k < m->nres; k++) {
		size_t i = m->order ? m->order[k] : k;

		if (i >= m->nres || seen[i])
			BUG("the order of model '%s' is not a permutation of its resources",
			    m->stack);
		seen[i] = true;
		plan_resource(p, &m->res[i], match[i]);
	}
	for (size_t d = 0; d < ndel; d++)
		plan_delete(p, &dels[d]);

	cairn_debug("stack '%s': %zu resources against %zu records: %zu changes",
		    m->stack, m->nres, nstate, p->n - p->count[CAIRN_ACTION_NOOP]);
	*out = p;
	p = NULL;
	ret = 0;

cleanup:
	cairn_plan_free(p);
	json_decref(nothing);
	free(idx);
	free(used);
	free(match);
	free(dels);
	free(seen);
	return ret;
}

void cairn_plan_free(struct cairn_plan *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n; i++) {
		struct cairn_change *c = &p->v[i];

		free(c->address);
		free(c->type);
		free(c->provider);
		free(c->reason);
		for (size_t j = 0; c->fields && c->fields[j]; j++)
			free(c->fields[j]);
		free(c->fields);
		free(c->forced_by);
		json_decref(c->sensitive);
		json_decref(c->before);
		json_decref(c->after);
	}
	free(p->v);
	free(p->stack);
	free(p->lineage);
	free(p->design_hash);
	json_decref(p->design);
	free(p->created_at);
	free(p);
}

int cairn_plan_bind(struct cairn_plan *p, const struct cairn_model *m, struct cairn_error *err)
{
	char hash[CAIRN_HASH_LEN];

	if (!p->design)
		return cairn_error_set(err, CAIRN_E_INVALID,
				       "the plan carries no design (made by an older cairn?): run 'cairn plan -o' again");
	cairn_json_hash(p->design, hash);
	if (!p->design_hash || strcmp(p->design_hash, hash))
		return cairn_error_set(err, CAIRN_E_CONFLICT,
				       "the plan's design does not match its hash (%s, the design hashes to %s)",
				       p->design_hash ? p->design_hash : "none", hash);
	if (strcmp(p->stack, m->stack))
		return cairn_error_set(err, CAIRN_E_CONFLICT, "the plan is for stack '%s', its design for '%s'",
				       p->stack, m->stack);
	for (size_t i = 0; i < p->n; i++) {
		struct cairn_change *c = &p->v[i];

		if (c->action == CAIRN_ACTION_DELETE)
			continue;
		c->res = cairn_model_resource(m, c->address);
		if (!c->res)
			return cairn_error_set(err, CAIRN_E_CONFLICT,
					       "the plan's design has no resource %s", c->address);
		if (!c->after)
			c->after = json_incref(c->res->desired);
	}
	return 0;
}

void cairn_plan_restrict(struct cairn_plan *p, const struct cairn_model *m,
			 bool (*keep)(const char *address, void *ctx), void *ctx)
{
	bool *want = xcalloc(m->nres ? m->nres : 1, sizeof(*want));
	size_t *stack = xcalloc(m->nres ? m->nres : 1, sizeof(*stack)), top = 0;

	/* the kept resources and, transitively, what they depend on */
	for (size_t i = 0; i < m->nres; i++)
		if (keep(m->res[i].address, ctx)) {
			want[i] = true;
			stack[top++] = i;
		}
	while (top) {
		const struct cairn_resource *r = &m->res[stack[--top]];

		for (size_t k = 0; k < r->ndeps; k++)
			if (!want[r->deps[k]]) {
				want[r->deps[k]] = true;
				stack[top++] = r->deps[k];
			}
	}
	for (size_t i = 0; i < p->n; i++) {
		struct cairn_change *c = &p->v[i];
		bool wanted = c->res ? want[c->res - m->res] : keep(c->address, ctx);

		if (wanted || c->action == CAIRN_ACTION_NOOP)
			continue;
		p->count[c->action]--;
		p->count[CAIRN_ACTION_NOOP]++;
		c->action = CAIRN_ACTION_NOOP;
	}
	free(stack);
	free(want);
}

bool cairn_change_is_local(const struct cairn_change *c)
{
	const struct cairn_type_schema *t = c->res && c->res->decl ? c->res->decl->type : NULL;

	if (c->action != CAIRN_ACTION_UPDATE)
		return false;
	for (size_t i = 0; c->fields && c->fields[i]; i++) {
		const struct cairn_field *f = cairn_schema_field(c->kind, t, c->fields[i]);

		if (!f || !(f->flags & CAIRN_FF_LOCAL))
			return false;
	}
	return true;
}

bool cairn_plan_has_changes(const struct cairn_plan *p)
{
	return p && p->n > p->count[CAIRN_ACTION_NOOP];
}

char *cairn_plan_summary(const struct cairn_plan *p)
{
	return xasprintf("Plan: %zu to create, %zu to update, %zu to replace, %zu to delete.",
			 p->count[CAIRN_ACTION_CREATE], p->count[CAIRN_ACTION_UPDATE],
			 p->count[CAIRN_ACTION_REPLACE], p->count[CAIRN_ACTION_DELETE]);
}
