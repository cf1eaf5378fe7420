/*
 * expand.c - what can only be checked once every name is known, and the
 * expansion of declarations into resources.
 *
 * Everything here is linear in the size of the stack (hash lookups, one
 * pass over the references, an iterative depth-first search for cycles and
 * Kahn's algorithm for the order): bench/plan-scale holds it to that.
 */
#include "util/common.h"

#include "model/ynode.h"
#include "spec/loader.h"
#include "util/jsonutil.h"
#include "util/units.h"


static void hint_names(struct loader *l, enum cairn_kind kind, const char *name)
{
	const struct cairn_model *m = l->m;
	const char **names = NULL;
	size_t n = 0, alloc = 0;
	const char *best;

	for (size_t i = 0; i < m->ndecls; i++)
		if (m->decls[i].kind == kind) {
			ALLOC_GROW(names, n + 2, alloc);
			names[n++] = m->decls[i].name;
		}
	if (!n) {
		spec_hint(l, "the stack declares no %s", cairn_kind_section(kind));
		return;
	}
	names[n] = NULL;
	best = cairn_did_you_mean(name, names);
	if (best)
		spec_hint(l, "did you mean '%s'?", best);
	else {
		struct cairn_buf all = CAIRN_BUF_INIT;

		for (size_t i = 0; i < n && i < 6; i++)
			cairn_buf_addf(&all, "%s%s", i ? ", " : "", names[i]);
		spec_hint(l, "declared %s: %s%s", cairn_kind_section(kind), all.s, n > 6 ? ", ..." : "");
		cairn_buf_release(&all);
	}
	free(names);
}

/* Is declaration i a second or later name of one range (web[01-03])?  Its
 * body's mistakes were reported for the first name already. */
static bool range_follower(const struct cairn_model *m, size_t i)
{
	return i > 0 && m->decls[i].yaml && m->decls[i - 1].yaml == m->decls[i].yaml &&
	       m->decls[i - 1].kind == m->decls[i].kind;
}

/* ---- references ---------------------------------------------------------- */

static void check_ref(struct loader *l, const struct cairn_ref *r)
{
	const struct cairn_model *m = l->m;
	const struct cairn_decl *origin = &m->decls[r->origin];
	const struct cairn_decl *t;

	if (r->self || range_follower(m, r->origin))
		return;
	if (r->kind == CAIRN_KIND_PROVIDER && cairn_model_decl(m, r->kind, r->name))
		return;
	t = cairn_model_decl(m, r->kind, r->name);
	if (!t) {
		if (!strcmp(r->key, "via"))
			spec_diag(l, r->loc, "bastion '%s' of %s '%s' is not a node of this stack",
			     r->name, cairn_kind_name(origin->kind), origin->name);
		else if (r->expr)
			spec_diag(l, r->loc, "reference to unknown node '%s'", r->name);
		else
			spec_diag(l, r->loc, "unknown %s '%s'", cairn_kind_name(r->kind), r->name);
		if (r->kind == CAIRN_KIND_PROVIDER)
			spec_hint(l, "declare it under 'providers:', or name a provider type (cairn explain)");
		else
			hint_names(l, r->kind, r->name);
		return;
	}
	if (!r->expr || r->kind != CAIRN_KIND_NODE)
		return;
	if (r->index >= 0 && !t->counted) {
		spec_diag(l, r->loc, "node '%s' has no count: refer to it as ${node.%s.%s}",
		     t->name, t->name, r->attr);
	} else if (r->index == CAIRN_REF_NOINDEX && t->counted) {
		spec_diag(l, r->loc, "node '%s' has %d instances: say which one", t->name, t->count);
		spec_hint(l, "write ${node.%s[0].%s} for one, ${node.%s[*].%s} for all", t->name,
		     r->attr, t->name, r->attr);
	} else if (r->index >= 0 && r->index >= t->count) {
		if (t->count)
			spec_diag(l, r->loc, "index %d out of range: node '%s' has %d instance%s (0..%d)",
			     r->index, t->name, t->count, t->count == 1 ? "" : "s", t->count - 1);
		else
			spec_diag(l, r->loc, "index %d out of range: node '%s' has no instances (count 0)",
			     r->index, t->name);
	}
}

/* ---- per-kind checks ----------------------------------------------------- */

static void check_counts(struct loader *l)
{
	struct cairn_model *m = l->m;
	size_t total = 0, limit = loader_max_resources(l);
	bool over = false;

	for (size_t i = 0; i < m->ndecls; i++) {
		struct cairn_decl *d = &m->decls[i];
		json_t *count, *scaling;
		long long min = 0, max = 100000;

		if (d->kind != CAIRN_KIND_NODE)
			continue;
		count = json_object_get(d->attrs, "count");
		scaling = json_object_get(d->attrs, "scaling");
		d->counted = count || scaling;
		if (scaling) {
			json_t *jmin = json_object_get(scaling, "min"), *jmax = json_object_get(scaling, "max");

			if (jmin && jmax) {
				min = json_integer_value(jmin);
				max = json_integer_value(jmax);
				if (min > max && !range_follower(m, i)) {
					spec_diag(l, cairn_decl_field_loc(d, "scaling.min"),
					     "scaling min %lld is above max %lld for node '%s'",
					     min, max, d->name);
					max = min;
				}
			}
		}
		if (count) {
			long long c = json_integer_value(count);

			d->count = (int)c;
			if (scaling && (c < min || c > max) && !range_follower(m, i)) {
				spec_diag(l, cairn_decl_field_loc(d, "count"),
				     "count %lld of node '%s' is outside its scaling bounds %lld..%lld",
				     c, d->name, min, max);
				spec_hint(l, "make count a value between scaling.min and scaling.max");
			}
		} else if (scaling) {
			d->count = (int)min;
		}
		total += d->counted && d->count > 0 ? (size_t)d->count : 1;
		if (total > limit && !over) {
			over = true;
			spec_diag(l, count ? cairn_decl_field_loc(d, "count")
				     : scaling ? cairn_decl_field_loc(d, "scaling.min") : d->loc,
				  "node '%s' takes the stack past %zu nodes", d->name, limit);
			spec_hint(l, "split the stack, or lower the counts");
		}
	}
}

static void check_images(struct loader *l)
{
	struct cairn_model *m = l->m;

	for (size_t i = 0; i < m->ndecls; i++) {
		const struct cairn_decl *d = &m->decls[i];
		int n;

		if (d->kind != CAIRN_KIND_IMAGE)
			continue;
		/* count what was written, not what decoded: a wrong value was
		 * reported already and is not "nothing" */
		n = !!cairn_ynode_get(d->yaml, "disk") + !!cairn_ynode_get(d->yaml, "kernel") +
		    !!cairn_ynode_get(d->yaml, "builtin");
		if (n == 0) {
			spec_diag(l, d->loc, "image '%s' says nothing to boot", d->name);
			spec_hint(l, "give one of disk: PATH, kernel: PATH (with initrd, cmdline) or builtin: tiny");
		} else if (n > 1) {
			spec_diag(l, d->loc, "image '%s' gives more than one of 'disk', 'kernel' and 'builtin'",
			     d->name);
		}
		if (!json_object_get(d->attrs, "kernel")) {
			const char *const extra[] = { "initrd", "cmdline" };

			for (size_t k = 0; k < ARRAY_SIZE(extra); k++)
				if (json_object_get(d->attrs, extra[k]))
					spec_diag(l, cairn_decl_field_loc(d, extra[k]),
					     "'%s' of image '%s' only goes with 'kernel'",
					     extra[k], d->name);
		}
	}
}

static void check_networks(struct loader *l)
{
	struct cairn_model *m = l->m;
	struct cairn_cidr *cidr = xcalloc(m->ndecls, sizeof(*cidr));
	bool *ok = xcalloc(m->ndecls, sizeof(*ok));

	for (size_t i = 0; i < m->ndecls; i++) {
		const struct cairn_decl *d = &m->decls[i];
		const char *c = cairn_json_str(d->attrs, "cidr");

		if (d->kind != CAIRN_KIND_NETWORK || !c)
			continue;
		ok[i] = !cairn_parse_cidr(c, &cidr[i], NULL);
		for (size_t j = 0; ok[i] && j < i; j++) {
			const struct cairn_decl *o = &m->decls[j];

			if (!ok[j] || !o->provider || !d->provider || strcmp(o->provider, d->provider))
				continue;
			if (cairn_cidr_overlap(&cidr[i], &cidr[j])) {
				spec_diag(l, cairn_decl_field_loc(d, "cidr"),
				     "network '%s' (%s) overlaps network '%s' (%s) on provider '%s'",
				     d->name, c, o->name, cairn_json_str(o->attrs, "cidr"), d->provider);
				spec_hint(l, "networks of one provider need disjoint address ranges");
			}
		}
	}
	free(cidr);
	free(ok);
}

/* a static provider's inventory: names and addresses name one machine each */
static void check_machines(struct loader *l)
{
	struct cairn_model *m = l->m;

	for (size_t i = 0; i < m->ndecls; i++) {
		const struct cairn_decl *d = &m->decls[i];
		const json_t *ms = json_object_get(d->attrs, "machines"), *a, *b;
		size_t k, j;

		if (d->kind != CAIRN_KIND_PROVIDER || !json_is_array(ms))
			continue;
		json_array_foreach(ms, k, a) {
			for (j = 0; j < k; j++) {
				const char *what = NULL;
				char path[48];

				b = json_array_get(ms, j);
				if (cairn_json_str(a, "name") && cairn_json_str(b, "name") &&
				    !strcmp(cairn_json_str(a, "name"), cairn_json_str(b, "name")))
					what = "name";
				else if (cairn_json_str(a, "address") && cairn_json_str(b, "address") &&
					 !strcmp(cairn_json_str(a, "address"), cairn_json_str(b, "address")) &&
					 json_integer_value(json_object_get(a, "port")) ==
					 json_integer_value(json_object_get(b, "port")))
					what = "address";
				if (!what)
					continue;
				snprintf(path, sizeof(path), "machines.%zu.%s", k, what);
				spec_diag(l, cairn_decl_field_loc(d, path),
				     "machine %zu of provider '%s' has the %s '%s' of machine %zu", k + 1,
				     d->name, what, cairn_json_str(a, what), j + 1);
				spec_hint(l, "each machine of an inventory is listed once");
				break;
			}
		}
	}
}

static void check_nodes(struct loader *l)
{
	struct cairn_model *m = l->m;
	struct cairn_strmap owner = CAIRN_STRMAP_INIT;   /* volume -> first node decl + 1 */

	for (size_t i = 0; i < m->ndecls; i++) {
		const struct cairn_decl *d = &m->decls[i];
		json_t *vols, *v;
		size_t k;
		const char *via;

		if (d->kind != CAIRN_KIND_NODE)
			continue;
		via = json_object_get(d->attrs, "ssh") ?
		      cairn_json_str(json_object_get(d->attrs, "ssh"), "via") : NULL;
		if (via && !strcmp(via, d->name) && !range_follower(m, i))
			spec_diag(l, cairn_decl_field_loc(d, "ssh.via"),
			     "node '%s' cannot be its own bastion", d->name);
		/* static nodes pick a host by labels or name one: not both */
		if (json_object_get(d->attrs, "match") && json_object_get(d->attrs, "address") &&
		    !range_follower(m, i))
			spec_diag(l, cairn_decl_field_loc(d, "address"),
			     "node '%s' gives both 'match' and 'address'", d->name);
		vols = json_object_get(d->attrs, "volumes");
		json_array_foreach(vols, k, v) {
			const char *name = json_string_value(v);
			uintptr_t prev;
			char path[32];

			if (!name || !cairn_model_decl(m, CAIRN_KIND_VOLUME, name))
				continue;
			snprintf(path, sizeof(path), "volumes.%zu", k);
			if (d->count > 1) {
				spec_diag(l, cairn_decl_field_loc(d, path),
				     "volume '%s' would be attached to all %d instances of node '%s'",
				     name, d->count, d->name);
				spec_hint(l, "a volume belongs to one instance; declare one volume per instance");
				continue;
			}
			prev = (uintptr_t)cairn_strmap_get(&owner, name);
			if (prev && prev - 1 != i) {
				spec_diag(l, cairn_decl_field_loc(d, path),
				     "volume '%s' is already attached to node '%s'",
				     name, m->decls[prev - 1].name);
				spec_hint(l, "a volume belongs to one instance");
				continue;
			}
			cairn_strmap_put(&owner, name, (void *)(uintptr_t)(i + 1));
		}
	}
	cairn_strmap_release(&owner);
}

/* ---- cycles ---------------------------------------------------------------- */

struct edge {
	size_t to;
	struct cairn_loc loc;
	const char *key;        /* the field the reference is in */
};

struct graph {
	struct edge **out;        /* per declaration */
	size_t *nout, *aout;
};

static void add_edge(struct graph *g, size_t from, size_t to, struct cairn_loc loc,
		     const char *key)
{
	for (size_t i = 0; i < g->nout[from]; i++)
		if (g->out[from][i].to == to)
			return;
	ALLOC_GROW(g->out[from], g->nout[from] + 1, g->aout[from]);
	g->out[from][g->nout[from]++] = (struct edge){ to, loc, key };
}

static void build_graph(struct loader *l, struct graph *g)
{
	const struct cairn_model *m = l->m;

	g->out = xcalloc(m->ndecls, sizeof(*g->out));
	g->nout = xcalloc(m->ndecls, sizeof(*g->nout));
	g->aout = xcalloc(m->ndecls, sizeof(*g->aout));
	for (size_t i = 0; i < l->refs.n; i++) {
		const struct cairn_ref *r = &l->refs.v[i];
		const struct cairn_decl *t;

		if (r->self || r->kind != CAIRN_KIND_NODE ||
		    m->decls[r->origin].kind != CAIRN_KIND_NODE)
			continue;
		t = cairn_model_decl(m, CAIRN_KIND_NODE, r->name);
		/* a node that is its own bastion is reported as such */
		if (t && !(t - m->decls == (ssize_t)r->origin && !strcmp(r->key, "via")))
			add_edge(g, r->origin, t - m->decls, r->loc, r->key);
	}
}

static void graph_release(struct graph *g, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(g->out[i]);
	free(g->out);
	free(g->nout);
	free(g->aout);
}

/* Iterative depth-first search; each back edge closes a cycle, reported
 * with its path.  (Recursion would overflow on a 100,000-node chain.) */
static void check_cycles(struct loader *l, struct graph *g)
{
	const struct cairn_model *m = l->m;
	size_t n = m->ndecls;
	unsigned char *color = xcalloc(n, 1);   /* 0 new, 1 on the path, 2 done */
	size_t *stack = xmalloc(n * sizeof(*stack)), *next = xcalloc(n, sizeof(*next));
	size_t *pos = xcalloc(n, sizeof(*pos));
	int reported = 0;

	for (size_t s = 0; s < n; s++) {
		size_t sp = 0;

		if (color[s] || m->decls[s].kind != CAIRN_KIND_NODE)
			continue;
		stack[sp++] = s;
		color[s] = 1;
		pos[s] = 0;
		while (sp) {
			size_t u = stack[sp - 1];

			if (next[u] < g->nout[u]) {
				const struct edge *e = &g->out[u][next[u]++];
				size_t v = e->to;

				if (color[v] == 0) {
					color[v] = 1;
					pos[v] = sp;
					stack[sp++] = v;
				} else if (color[v] == 1 && reported < 20) {
					struct cairn_buf path = CAIRN_BUF_INIT;

					for (size_t k = pos[v]; k < sp; k++)
						cairn_buf_addf(&path, "%s -> ", m->decls[stack[k]].name);
					cairn_buf_addstr(&path, m->decls[v].name);
					spec_diag(l, e->loc, "dependency cycle: %s", path.s);
					if (u == v && !strcmp(e->key, "depends_on"))
						spec_hint(l, "a node cannot depend on itself");
					else if (u == v)
						spec_hint(l, "a node refers to itself with ${self.ATTR}");
					else
						spec_hint(l, "remove one of these references or depends_on entries");
					cairn_buf_release(&path);
					reported++;
				}
			} else {
				color[u] = 2;
				sp--;
			}
		}
	}
	free(color);
	free(stack);
	free(next);
	free(pos);
}

/* ---- resources --------------------------------------------------------------- */

static void implicit_pools(struct loader *l)
{
	struct cairn_model *m = l->m;
	size_t n = m->ndecls;

	for (size_t i = 0; i < n; i++) {
		const char *pool;
		struct cairn_decl *d;
		struct cairn_loc loc;
		size_t pi;

		if (m->decls[i].kind != CAIRN_KIND_NODE)
			continue;
		pool = cairn_json_str(m->decls[i].attrs, "pool");
		if (!pool || cairn_model_decl(m, CAIRN_KIND_POOL, pool))
			continue;
		loc = cairn_decl_field_loc(&m->decls[i], "pool");
		ALLOC_GROW(m->decls, m->ndecls + 1, m->adecls);
		pi = m->ndecls++;
		d = &m->decls[pi];
		memset(d, 0, sizeof(*d));
		d->kind = CAIRN_KIND_POOL;
		d->name = xstrdup(pool);
		d->loc = loc;
		d->count = 1;
		d->attrs = json_object();
		cairn_strmap_put(&l->priv->decls[CAIRN_KIND_POOL], d->name,
				 (void *)(uintptr_t)(pi + 1));
	}
}

static size_t add_res(struct cairn_model *m, size_t di, int index)
{
	struct cairn_decl *d = &m->decls[di];
	struct cairn_resource *r;

	ALLOC_GROW(m->res, m->nres + 1, m->ares);
	r = &m->res[m->nres];
	memset(r, 0, sizeof(*r));
	r->kind = d->kind;
	r->index = index;
	r->address = cairn_address_format(d->kind, d->name, index);
	r->name = index < 0 ? xstrdup(d->name) : xasprintf("%s-%d", d->name, index);
	return m->nres++;
}

static int cmp_size(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;

	return x < y ? -1 : x > y;
}

static void add_dep(struct cairn_resource *r, size_t to)
{
	ALLOC_GROW(r->deps, r->ndeps + 1, r->adeps);
	r->deps[r->ndeps++] = to;
}

static void dep_on_decl(struct cairn_model *m, struct cairn_resource *r,
			enum cairn_kind kind, const char *name, int index)
{
	const struct cairn_decl *t = name ? cairn_model_decl(m, kind, name) : NULL;

	if (!t)
		return;
	for (size_t k = 0; k < t->nres; k++)
		if (index < 0 || (size_t)index == k)
			add_dep(r, t->first + k);
}

static json_t *resolved(const struct cairn_model *m, enum cairn_kind kind, const char *name)
{
	const struct cairn_decl *t = cairn_model_decl(m, kind, name);
	json_t *o = t ? json_copy(t->attrs) : json_object();

	json_object_set_new(o, "name", json_string(name));
	return o;
}

/*
 * Desired attributes are shallow copies: instances share the values below
 * the top level with their declaration (jansson counts references), which
 * keeps a 100,000-instance model small.  Nothing modifies them afterwards.
 */
static json_t *node_desired(const struct cairn_model *m, const struct cairn_decl *d,
			    const struct cairn_resource *r)
{
	json_t *o = json_copy(d->attrs);
	const char *k;
	json_t *v;
	void *tmp;

	json_object_foreach_safe(o, tmp, k, v) {
		const struct cairn_field *f = cairn_schema_field(CAIRN_KIND_NODE, d->type, k);

		if (f && (f->flags & CAIRN_FF_NODIFF))
			json_object_del(o, k);
	}
	json_object_set_new(o, "name", json_string(r->name));
	json_object_set_new(o, "hostname", json_string(r->name));
	if (r->index >= 0)
		json_object_set_new(o, "index", json_integer(r->index));
	if (d->type)
		json_object_set_new(o, "type", json_string(d->type->name));
	if (cairn_json_str(o, "plan"))
		json_object_set_new(o, "plan", resolved(m, CAIRN_KIND_PLAN, cairn_json_str(o, "plan")));
	if (cairn_json_str(o, "image"))
		json_object_set_new(o, "image", resolved(m, CAIRN_KIND_IMAGE, cairn_json_str(o, "image")));
	return o;
}

static void build_resources(struct loader *l)
{
	static const enum cairn_kind kinds[] = {
		CAIRN_KIND_POOL, CAIRN_KIND_NETWORK, CAIRN_KIND_VOLUME, CAIRN_KIND_NODE,
	};
	struct cairn_model *m = l->m;
	size_t *ref_first = xcalloc(m->ndecls, sizeof(size_t));
	size_t *ref_n = xcalloc(m->ndecls, sizeof(size_t));

	/* References were collected declaration by declaration: each one's
	 * are a contiguous run. */
	for (size_t i = 0; i < l->refs.n; i++) {
		size_t o = l->refs.v[i].origin;

		if (!ref_n[o])
			ref_first[o] = i;
		ref_n[o]++;
	}
	for (size_t ki = 0; ki < ARRAY_SIZE(kinds); ki++) {
		for (size_t di = 0; di < m->ndecls; di++) {
			struct cairn_decl *d = &m->decls[di];

			if (d->kind != kinds[ki])
				continue;
			d->first = m->nres;
			if (d->kind == CAIRN_KIND_NODE && d->counted) {
				for (int i = 0; i < d->count; i++)
					add_res(m, di, i);
			} else if (d->kind != CAIRN_KIND_NODE || d->count > 0) {
				add_res(m, di, -1);
			}
			d->nres = m->nres - d->first;
		}
	}
	for (size_t di = 0; di < m->ndecls; di++) {
		const struct cairn_decl *d = &m->decls[di];

		for (size_t k = 0; k < d->nres; k++) {
			struct cairn_resource *ri = &m->res[d->first + k];
			json_t *a, *v;
			size_t j;
			const char *s;

			ri->decl = d;
			if (d->kind == CAIRN_KIND_POOL) {
				ri->type = "cairn";
				ri->provider = "cairn";
				ri->desired = json_copy(d->attrs);
				json_object_set_new(ri->desired, "name", json_string(d->name));
			} else if (d->kind == CAIRN_KIND_NODE) {
				ri->type = d->type ? d->type->name : "unknown";
				ri->provider = d->provider ? d->provider : "unknown";
				ri->desired = node_desired(m, d, ri);
				a = json_object_get(d->attrs, "networks");
				json_array_foreach(a, j, v)
					dep_on_decl(m, ri, CAIRN_KIND_NETWORK, json_string_value(v), -1);
				a = json_object_get(d->attrs, "volumes");
				json_array_foreach(a, j, v)
					dep_on_decl(m, ri, CAIRN_KIND_VOLUME, json_string_value(v), -1);
				dep_on_decl(m, ri, CAIRN_KIND_POOL, cairn_json_str(d->attrs, "pool"), -1);
				a = json_object_get(d->attrs, "depends_on");
				json_array_foreach(a, j, v)
					dep_on_decl(m, ri, CAIRN_KIND_NODE, json_string_value(v), -1);
				s = json_object_get(d->attrs, "ssh") ?
				    cairn_json_str(json_object_get(d->attrs, "ssh"), "via") : NULL;
				dep_on_decl(m, ri, CAIRN_KIND_NODE, s, -1);
				for (size_t q = 0; q < ref_n[di]; q++) {
					const struct cairn_ref *rf = &l->refs.v[ref_first[di] + q];

					if (rf->expr && !rf->self && rf->kind == CAIRN_KIND_NODE)
						dep_on_decl(m, ri, CAIRN_KIND_NODE, rf->name,
							    rf->index >= 0 ? rf->index : -1);
				}
			} else {
				ri->type = d->type ? d->type->name : "unknown";
				ri->provider = d->provider ? d->provider : "unknown";
				ri->desired = json_copy(d->attrs);
				json_object_set_new(ri->desired, "name", json_string(d->name));
				if (d->type)
					json_object_set_new(ri->desired, "type", json_string(d->type->name));
			}
			cairn_json_hash(ri->desired, ri->desired_hash);
		}
	}
	/* a node may reach another several ways (depends_on and a
	 * reference): keep each dependency once, in resource order */
	for (size_t i = 0; i < m->nres; i++) {
		struct cairn_resource *r = &m->res[i];
		size_t out = 0;

		if (r->ndeps < 2)
			continue;
		qsort(r->deps, r->ndeps, sizeof(*r->deps), cmp_size);
		for (size_t k = 0; k < r->ndeps; k++)
			if (!out || r->deps[out - 1] != r->deps[k])
				r->deps[out++] = r->deps[k];
		r->ndeps = out;
	}
	free(ref_first);
	free(ref_n);
}

/* Kahn's algorithm; ties go to the earlier resource, so the order is stable. */
static void order_resources(struct loader *l)
{
	struct cairn_model *m = l->m;
	size_t n = m->nres, head = 0, tail = 0;
	size_t *indeg = xcalloc(n ? n : 1, sizeof(size_t));
	size_t *rfirst = xcalloc(n + 1, sizeof(size_t));
	size_t *rev, *fill;

	/* reverse edges in one flat array: who depends on me */
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; k < m->res[i].ndeps; k++)
			rfirst[m->res[i].deps[k] + 1]++;
	for (size_t i = 0; i < n; i++)
		rfirst[i + 1] += rfirst[i];
	rev = xmalloc((rfirst[n] ? rfirst[n] : 1) * sizeof(size_t));
	fill = xcalloc(n ? n : 1, sizeof(size_t));
	for (size_t i = 0; i < n; i++) {
		indeg[i] = m->res[i].ndeps;
		for (size_t k = 0; k < m->res[i].ndeps; k++) {
			size_t d = m->res[i].deps[k];

			rev[rfirst[d] + fill[d]++] = i;
		}
	}
	m->order = xmalloc((n ? n : 1) * sizeof(size_t));
	for (size_t i = 0; i < n; i++)
		if (!indeg[i])
			m->order[tail++] = i;
	while (head < tail) {
		size_t u = m->order[head++];

		for (size_t k = rfirst[u]; k < rfirst[u + 1]; k++)
			if (--indeg[rev[k]] == 0)
				m->order[tail++] = rev[k];
	}
	if (tail != n)
		BUG("resource graph has a cycle the declaration check missed");
	free(indeg);
	free(rfirst);
	free(rev);
	free(fill);
}

static void build_design(struct loader *l)
{
	struct cairn_model *m = l->m;
	json_t *design = json_object();

	m->variables = json_object();
	m->sensitive = json_array();
	for (size_t i = 0; i < l->nvars; i++) {
		const struct spec_var *v = &l->vars[i];

		json_object_set_new(m->variables, v->name,
				    v->value ? cairn_ynode_to_json(v->value) : json_null());
		if (v->sensitive)
			json_array_append_new(m->sensitive, json_string(v->name));
	}
	json_object_set_new(design, "stack", json_string(m->stack));
	if (m->description)
		json_object_set_new(design, "description", json_string(m->description));
	{
		json_t *vars = json_deep_copy(m->variables);
		size_t k;
		json_t *s;

		json_array_foreach(m->sensitive, k, s)
			json_object_set_new(vars, json_string_value(s), json_string("(sensitive)"));
		json_object_set_new(design, "variables", vars);
	}
	m->outputs = json_object();
	for (size_t i = 0; i < m->ndecls; i++) {
		const struct cairn_decl *d = &m->decls[i];
		const char *sec = cairn_kind_section(d->kind);
		json_t *s = json_object_get(design, sec);

		if (!s) {
			s = json_object();
			json_object_set_new(design, sec, s);
		}
		json_object_set(s, d->name, d->attrs ? d->attrs : json_null());
		if (d->kind == CAIRN_KIND_OUTPUT)
			json_object_set(m->outputs, d->name, d->attrs ? d->attrs : json_null());
	}
	m->design = design;
}

void spec_check_and_expand(struct loader *l)
{
	struct graph g;
	size_t ndecls;

	check_counts(l);
	for (size_t i = 0; i < l->refs.n; i++)
		check_ref(l, &l->refs.v[i]);
	check_images(l);
	check_networks(l);
	check_machines(l);
	check_nodes(l);
	build_graph(l, &g);
	ndecls = l->m->ndecls;
	check_cycles(l, &g);
	graph_release(&g, ndecls);
	if (loader_failed(l))
		return;
	implicit_pools(l);
	build_resources(l);
	cairn_model_index(l->m);
	order_resources(l);
	build_design(l);
}
