/*
 * refresh.c - what became of a stack's objects: each provider is asked once
 * for every object carrying the stack's tag (list()), and about each record
 * its list did not show (read(), which is the authority: an object is gone
 * only when read() says CAIRN_E_NOTFOUND).
 *
 * Plan and apply refresh in memory: a record whose object is gone is
 * marked tainted, so the plan replaces it (deleting what may be left of it,
 * then creating it again), or deletes it when the stack no longer declares
 * it.  `cairn refresh` also writes what it found, under the stack's lock.
 */
#include "util/common.h"

#include "engine/engine-priv.h"
#include "util/jsonutil.h"

CAIRN_LOG_INIT("engine.refresh");

/* the provider's objects of the stack by cairn id, or NULL when list() fails */
static json_t *listed(struct eng *e, struct eprov *p)
{
	struct cairn_error err = CAIRN_ERROR_INIT;
	json_t *objs = NULL, *byid, *o;
	size_t i;

	if (cairn_provider_list(p->p, e->stack, &objs, &err)) {
		cairn_debug("provider '%s' cannot list (%s): reading each object", p->name, err.message);
		cairn_error_release(&err);
		return NULL;
	}
	byid = json_object();
	json_array_foreach(objs, i, o)
		json_object_set(byid, cairn_json_str(o, "cairn_id"), json_object_get(o, "observed") ?
				json_object_get(o, "observed") : json_null());
	json_decref(objs);
	return byid;
}

/* 1: gone, 0: there (*seen: what the provider says), -1: cannot tell */
static int look(struct eng *e, struct eprov *p, json_t *byid, const struct cairn_resource_record *r,
		json_t **seen)
{
	struct cairn_error err = CAIRN_ERROR_INIT;
	int kindi = cairn_kind_parse(r->kind ? r->kind : "node");
	struct cairn_provider_req req = { .stack = e->stack, .address = r->address,
					  .kind = kindi < 0 ? CAIRN_KIND_NODE : (enum cairn_kind)kindi,
					  .cairn_id = r->cairn_id, .observed = r->observed };
	json_t *o = byid ? json_object_get(byid, r->cairn_id) : NULL;

	*seen = NULL;
	/* parts of an object are not the object: read() decides */
	if (o && !json_is_true(json_object_get(o, "partial"))) {
		*seen = json_incref(o);
		return 0;
	}
	if (!cairn_provider_read(p->p, &req, seen, &err))
		return 0;
	if (err.code == CAIRN_E_NOTFOUND) {
		cairn_error_release(&err);
		return 1;
	}
	cairn_warn("cannot refresh %s: %s", r->address, err.message);
	cairn_error_release(&err);
	return -1;
}

int cairn_engine_refresh(struct cairn_store *st, const struct cairn_model *m, const char *stack,
			 const struct cairn_engine_opts *opts, bool write,
			 struct cairn_resource_record **recs, size_t *n,
			 struct cairn_refresh_result *res, struct cairn_error *err)
{
	struct cairn_engine_opts none = { 0 };
	struct eng e;
	json_t **byid = NULL;
	size_t keep = 0;
	bool failed = false;
	int ret = -1;

	memset(res, 0, sizeof(*res));
	res->gone = json_array();
	if (!*n)
		return 0;               /* nothing recorded: no provider to ask */
	eng_init(&e, st, stack, opts ? opts : &none);
	if (write && eng_begin(&e, NULL, err))
		goto out;
	if (eng_open_providers(&e, m, *recs, *n, err))
		goto out;
	byid = xcalloc(e.nprovs, sizeof(*byid));
	for (size_t i = 0; i < e.nprovs; i++)
		if (e.provs[i].p)
			byid[i] = listed(&e, &e.provs[i]);
	for (size_t i = 0; i < *n; i++) {
		struct cairn_resource_record *r = &(*recs)[i];
		struct eprov *p = r->provider ? eng_provider(&e, r->provider) : NULL;
		json_t *seen = NULL;
		int gone = -1;

		/* after a failed write the rest is kept as it is */
		if (!failed && p && p->p && r->cairn_id) {
			res->checked++;
			gone = look(&e, p, byid[p - e.provs], r, &seen);
		}
		if (gone == 1) {
			/* the record stays, tainted: the plan replaces it (a delete of
			 * nothing, which takes any parts left, then a create), or deletes
			 * it when the stack no longer declares it */
			cairn_info("%s is gone: deleted outside cairn", r->address);
			json_array_append_new(res->gone, json_string(r->address));
			r->status = CAIRN_RS_TAINTED;
			if (write && cairn_store_resource_put(st, stack, r, err))
				failed = true;
		} else if (gone == 0 && json_is_object(seen)) {
			/* what cairn learnt itself (a host key) stays */
			json_t *merged = json_is_object(r->observed) ? json_deep_copy(r->observed) : json_object();

			json_object_update(merged, seen);
			if (!json_equal(merged, r->observed)) {
				res->changed++;
				json_decref(r->observed);
				r->observed = json_incref(merged);
				if (write && cairn_store_resource_put(st, stack, r, err))
					failed = true;
			}
			json_decref(merged);
		}
		json_decref(seen);
		(*recs)[keep++] = *r;
	}
	*n = keep;
	ret = failed ? -1 : 0;
out:
	for (size_t i = 0; byid && i < e.nprovs; i++)
		json_decref(byid[i]);
	free(byid);
	eng_release(&e);
	return ret;
}

bool cairn_refresh_gone(const struct cairn_refresh_result *res, const char *address)
{
	size_t i;
	json_t *v;

	json_array_foreach(res->gone, i, v)
		if (!strcmp(json_string_value(v), address))
			return true;
	return false;
}

void cairn_refresh_result_release(struct cairn_refresh_result *res)
{
	json_decref(res->gone);
	res->gone = NULL;
}
