/*
 * Unit tests for src/plan/: the diff rules, ordering, the summary, plan
 * files, the human view and the DOT graph.  Models and state records are
 * built by hand here (not by the spec loader), and freed here too.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/common.h"

#include "cairn/plan.h"
#include "util/jsonutil.h"

/* ---- building models and state by hand ------------------------------------- */

static const char test_file[] = "stack.yml";

static struct cairn_model *model_new(const char *stack)
{
	struct cairn_model *m = xcalloc(1, sizeof(*m));

	m->stack = xstrdup(stack);
	m->design = json_pack("{s:s}", "stack", stack);
	return m;
}

static json_t *parse(const char *text)
{
	json_error_t jerr;
	json_t *j = json_loads(text, 0, &jerr);

	if (!j)
		fail_msg("bad test JSON '%s': %s", text, jerr.text);
	return j;
}

/*
 * Add a resource with its own declaration (declared at line nres + 1 of
 * stack.yml); desired is JSON text.  Returns its index.
 */
static size_t model_add_json(struct cairn_model *m, enum cairn_kind kind,
			     const char *address, const char *type,
			     const char *provider, json_t *desired)
{
	struct cairn_decl *d = xcalloc(1, sizeof(*d));
	struct cairn_resource *r;

	d->kind = kind;
	d->name = xstrdup(address);
	d->loc = (struct cairn_loc){ test_file, (int)m->nres + 1, 3 };
	d->type = cairn_schema_lookup(type);
	ALLOC_GROW(m->res, m->nres + 1, m->ares);
	r = &m->res[m->nres];
	memset(r, 0, sizeof(*r));
	r->address = xstrdup(address);
	r->kind = kind;
	r->decl = d;
	r->index = -1;
	r->name = xstrdup(address);
	r->type = type;
	r->provider = provider;
	r->desired = desired;
	cairn_json_hash(desired, r->desired_hash);
	return m->nres++;
}

static size_t model_add(struct cairn_model *m, enum cairn_kind kind,
			const char *address, const char *desired)
{
	return model_add_json(m, kind, address, "libvirt", "kvm", parse(desired));
}

static void model_dep(struct cairn_model *m, size_t from, size_t to)
{
	struct cairn_resource *r = &m->res[from];

	ALLOC_GROW(r->deps, r->ndeps + 1, r->adeps);
	r->deps[r->ndeps++] = to;
}

/* The topological order: given, or declaration order. */
static void model_order(struct cairn_model *m, const size_t *order)
{
	m->order = xcalloc(m->nres, sizeof(*m->order));
	for (size_t i = 0; i < m->nres; i++)
		m->order[i] = order ? order[i] : i;
}

static void model_free_test(struct cairn_model *m)
{
	for (size_t i = 0; i < m->nres; i++) {
		struct cairn_decl *d = (struct cairn_decl *)m->res[i].decl;

		free(d->name);
		free(d);
		free(m->res[i].address);
		free(m->res[i].name);
		free(m->res[i].deps);
		json_decref(m->res[i].desired);
	}
	free(m->res);
	free(m->order);
	free(m->stack);
	json_decref(m->design);
	free(m);
}

struct state {
	struct cairn_resource_record *v;
	size_t n, alloc;
};

static struct cairn_resource_record *state_add_json(struct state *s, const char *address,
						    const char *kind, const char *type,
						    const char *provider, json_t *desired,
						    enum cairn_resource_status status)
{
	struct cairn_resource_record *r;
	char hash[CAIRN_HASH_LEN];

	ALLOC_GROW(s->v, s->n + 1, s->alloc);
	r = &s->v[s->n++];
	memset(r, 0, sizeof(*r));
	cairn_json_hash(desired, hash);
	r->address = xstrdup(address);
	r->kind = xstrdup(kind);
	r->type = xstrdup(type);
	r->provider = xstrdup(provider);
	r->cairn_id = xstrdup("00000000-0000-4000-8000-000000000000");
	r->desired_hash = xstrdup(hash);
	r->desired = desired;
	r->status = status;
	return r;
}

static struct cairn_resource_record *state_add(struct state *s, const char *address,
					       const char *kind, const char *desired,
					       enum cairn_resource_status status)
{
	return state_add_json(s, address, kind, "libvirt", "kvm", parse(desired), status);
}

static void state_free(struct state *s)
{
	for (size_t i = 0; i < s->n; i++) {
		struct cairn_resource_record *r = &s->v[i];

		free(r->address);
		free(r->kind);
		free(r->type);
		free(r->provider);
		free(r->cairn_id);
		free(r->desired_hash);
		json_decref(r->desired);
		json_decref(r->observed);
	}
	free(s->v);
	*s = (struct state){ NULL, 0, 0 };
}

static struct cairn_plan *build(const struct cairn_model *m, const struct state *s)
{
	struct cairn_error err = CAIRN_ERROR_INIT;
	struct cairn_plan *p = NULL;

	if (cairn_plan_build(m, s ? s->v : NULL, s ? s->n : 0, s ? "lineage-1" : NULL,
			     s ? 7 : 0, &p, &err) < 0)
		fail_msg("cairn_plan_build: %s", err.message);
	assert_non_null(p);
	return p;
}

static const struct cairn_change *find_change(const struct cairn_plan *p, const char *address)
{
	for (size_t i = 0; i < p->n; i++)
		if (!strcmp(p->v[i].address, address))
			return &p->v[i];
	fail_msg("no change for '%s'", address);
	return NULL;
}

static bool image_forces_new(void)
{
	const struct cairn_field *f = cairn_schema_field(CAIRN_KIND_NODE,
							 cairn_schema_lookup("libvirt"), "image");

	return f && (f->flags & CAIRN_FF_FORCES_NEW);
}

/* Everything the render prints to a string. */
static char *render(const struct cairn_plan *p, bool color, bool verbose)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	assert_non_null(f);
	cairn_plan_render(p, f, color, verbose);
	fclose(f);
	return text;
}

static char *summary(const struct cairn_plan *p)
{
	static char buf[128];
	char *s = cairn_plan_summary(p);

	snprintf(buf, sizeof(buf), "%s", s);
	free(s);
	return buf;
}

/* ---- the diff rules ------------------------------------------------------------ */

static void test_action_names(void **state)
{
	(void)state;
	for (int a = 0; a < CAIRN_ACTION__COUNT; a++)
		assert_int_equal(cairn_action_parse(cairn_action_name((enum cairn_action)a)), a);
	assert_string_equal(cairn_action_name(CAIRN_ACTION_NOOP), "no-op");
	assert_string_equal(cairn_action_name(CAIRN_ACTION_REPLACE), "replace");
	assert_int_equal(cairn_action_parse("destroy"), -1);
	assert_int_equal(cairn_action_parse(NULL), -1);
}

static void test_all_create(void **state)
{
	struct cairn_model *m = model_new("demo");
	struct cairn_plan *p;
	char hash[CAIRN_HASH_LEN];

	(void)state;
	model_add(m, CAIRN_KIND_NETWORK, "network.lan", "{\"cidr\": \"10.0.0.0/24\"}");
	model_add(m, CAIRN_KIND_NODE, "node.web[0]", "{\"image\": \"debian\"}");
	model_add(m, CAIRN_KIND_NODE, "node.web[1]", "{\"image\": \"debian\"}");
	model_order(m, NULL);
	p = build(m, NULL);

	assert_int_equal(p->n, 3);
	assert_int_equal(p->count[CAIRN_ACTION_CREATE], 3);
	assert_true(cairn_plan_has_changes(p));
	assert_string_equal(p->stack, "demo");
	assert_null(p->lineage);
	assert_int_equal(p->serial, 0);
	cairn_json_hash(m->design, hash);
	assert_string_equal(p->design_hash, hash);
	assert_int_equal(strlen(p->created_at), 20);
	for (size_t i = 0; i < p->n; i++) {
		const struct cairn_change *c = &p->v[i];

		assert_string_equal(c->address, m->res[i].address);
		assert_int_equal(c->action, CAIRN_ACTION_CREATE);
		assert_string_equal(c->reason, "new");
		assert_string_equal(c->type, "libvirt");
		assert_string_equal(c->provider, "kvm");
		assert_null(c->before);
		assert_ptr_equal(c->after, m->res[i].desired);
		assert_ptr_equal(c->res, &m->res[i]);
		assert_null(c->fields);
		assert_null(c->forced_by);
		assert_string_equal(c->loc.file, test_file);
		assert_int_equal(c->loc.line, (int)i + 1);
	}
	assert_string_equal(summary(p),
			    "Plan: 3 to create, 0 to update, 0 to replace, 0 to delete.");
	cairn_plan_free(p);
	model_free_test(m);
}

static void test_noop(void **state)
{
	struct cairn_model *m = model_new("demo");
	struct state s = { 0 };
	struct cairn_plan *p;

	(void)state;
	model_add(m, CAIRN_KIND_NODE, "node.a", "{\"image\": \"debian\", \"labels\": {\"x\": \"1\"}}");
	model_add(m, CAIRN_KIND_NODE, "node.b", "{\"image\": \"debian\"}");
	model_order(m, NULL);
	/* Key order does not matter: hashes are of canonical text. */
	state_add(&s, "node.b", "node", "{\"image\": \"debian\"}", CAIRN_RS_READY);
	state_add(&s, "node.a", "node", "{\"labels\": {\"x\": \"1\"}, \"image\": \"debian\"}",
		  CAIRN_RS_READY);
	p = build(m, &s);

	assert_int_equal(p->n, 2);
	assert_int_equal(p->count[CAIRN_ACTION_NOOP], 2);
	assert_false(cairn_plan_has_changes(p));
	assert_string_equal(p->lineage, "lineage-1");
	assert_int_equal(p->serial, 7);
	assert_int_equal(p->v[0].action, CAIRN_ACTION_NOOP);
	assert_string_equal(p->v[0].address, "node.a");
	assert_null(p->v[0].before);
	assert_null(p->v[0].fields);
	assert_string_equal(summary(p),
			    "Plan: 0 to create, 0 to update, 0 to replace, 0 to delete.");
	cairn_plan_free(p);
	state_free(&s);
	model_free_test(m);
}

static void test_update(void **state)
{
	struct cairn_model *m = model_new("demo");
	struct state s = { 0 };
	struct cairn_plan *p;
	const struct cairn_change *c;

	(void)state;
	model_add(m, CAIRN_KIND_NODE, "node.db",
		  "{\"image\": \"debian\", \"labels\": {\"role\": \"db\"},"
		  " \"health\": {\"ping\": true}, \"user_data\": null}");
	model_order(m, NULL);
	state_add(&s, "node.db", "node",
		  "{\"image\": \"debian\", \"labels\": {\"role\": \"old\"}}", CAIRN_RS_READY);
	p = build(m, &s);

	assert_int_equal(p->n, 1);
	c = &p->v[0];
	assert_int_equal(c->action, CAIRN_ACTION_UPDATE);
	assert_int_equal(p->count[CAIRN_ACTION_UPDATE], 1);
	/* Sorted; a null value equals an absent key. */
	assert_non_null(c->fields);
	assert_string_equal(c->fields[0], "health");
	assert_string_equal(c->fields[1], "labels");
	assert_null(c->fields[2]);
	assert_string_equal(c->reason, "'health', 'labels' changed");
	assert_null(c->forced_by);
	assert_ptr_equal(c->before, s.v[0].desired);
	assert_ptr_equal(c->after, m->res[0].desired);
	assert_int_equal(c->loc.line, 1);
	assert_string_equal(summary(p),
			    "Plan: 0 to create, 1 to update, 0 to replace, 0 to delete.");
	cairn_plan_free(p);
	state_free(&s);
	model_free_test(m);
}

/* A field that is not part of the desired state (count) changes nothing. */
static void test_nodiff_field(void **state)
{
	const struct cairn_field *f = cairn_schema_field(CAIRN_KIND_NODE, NULL, "count");
	struct cairn_model *m;
	struct state s = { 0 };
	struct cairn_plan *p;

	(void)state;
	if (!f || !(f->flags & CAIRN_FF_NODIFF))
		skip();
	m = model_new("demo");
	model_add(m, CAIRN_KIND_NODE, "node.a", "{\"image\": \"debian\", \"count\": 3}");
	model_order(m, NULL);
	state_add(&s, "node.a", "node", "{\"image\": \"debian\", \"count\": 2}", CAIRN_RS_READY);
	p = build(m, &s);
	assert_int_equal(p->v[0].action, CAIRN_ACTION_NOOP);
	cairn_plan_free(p);
	state_free(&s);
	model_free_test(m);
}

static void test_replace_type_provider(void **state)
{
	struct cairn_model *m = model_new("demo");
	struct state s = { 0 };
	struct cairn_plan *p;
	const struct cairn_change *c;

	(void)state;
	model_add(m, CAIRN_KIND_NODE, "node.a", "{\"image\": \"debian\"}");
	model_add(m, CAIRN_KIND_NODE, "node.b", "{\"image\": \"debian\"}");
	model_order(m, NULL);
	state_add_json(&s, "node.a", "node", "lxc", "kvm", parse("{\"image\": \"debian\"}"),
		       CAIRN_RS_READY);
	state_add_json(&s, "node.b", "node", "libvirt", "other",
		       parse("{\"image\": \"debian\"}"), CAIRN_RS_READY);
	p = build(m, &s);

	assert_int_equal(p->count[CAIRN_ACTION_REPLACE], 2);
	c = find_change(p, "node.a");
	assert_int_equal(c->action, CAIRN_ACTION_REPLACE);
	assert_string_equal(c->forced_by, "type");
	assert_string_equal(c->reason,
			    "provider type changed from 'lxc' to 'libvirt' (forces replacement)");
	assert_null(c->fields);
	assert_non_null(c->before);
	c = find_change(p, "node.b");
	assert_int_equal(c->action, CAIRN_ACTION_REPLACE);
	assert_string_equal(c->forced_by, "provider");
	assert_string_equal(c->reason, "'provider' changed (forces replacement)");
	assert_string_equal(c->provider, "kvm");
	assert_string_equal(summary(p),
			    "Plan: 0 to create, 0 to update, 2 to replace, 0 to delete.");
	cairn_plan_free(p);
	state_free(&s);
	model_free_test(m);
}

static void test_replace_forces_new(void **state)
{
	struct cairn_model *m;
	struct state s = { 0 };
	struct cairn_plan *p;
	const struct cairn_change *c;

	(void)state;
	if (!image_forces_new())
		skip();
	m = model_new("demo");
	model_add(m, CAIRN_KIND_NODE, "node.web[1]",
		  "{\"image\": \"debian-12\", \"labels\": {\"a\": \"b\"}}");
	model_order(m, NULL);
	state_add(&s, "node.web[1]", "node", "{\"image\": \"debian-11\"}", CAIRN_RS_READY);
	p = build(m, &s);

	c = &p->v[0];
	assert_int_equal(c->action, CAIRN_ACTION_REPLACE);
	assert_string_equal(c->forced_by, "image");
	assert_string_equal(c->reason, "'image' changed (forces replacement)");
	assert_string_equal(c->fields[0], "image");
	assert_string_equal(c->fields[1], "labels");
	assert_null(c->fields[2]);
	/* Without YAML, the field's location falls back to the declaration. */
	assert_string_equal(c->loc.file, test_file);
	assert_int_equal(c->loc.line, 1);
	cairn_plan_free(p);
	state_free(&s);
	model_free_test(m);
}

static void test_status(void **state)
{
	struct cairn_model *m = model_new("demo");
	struct state s = { 0 };
	struct cairn_plan *p;
	const struct cairn_change *c;
	static const char desired[] = "{\"image\": \"debian\"}";

	(void)state;
	model_add(m, CAIRN_KIND_NODE, "node.t", desired);
	model_add(m, CAIRN_KIND_NODE, "node.f", desired);
	model_add(m, CAIRN_KIND_NODE, "node.g", desired);
	model_add(m, CAIRN_KIND_NODE, "node.r", desired);
	model_order(m, NULL);
	state_add(&s, "node.t", "node", desired, CAIRN_RS_TAINTED);
	state_add(&s, "node.f", "node", desired, CAIRN_RS_FAILED);
	state_add(&s, "node.g", "node", desired, CAIRN_RS_GONE);
	state_add(&s, "node.r", "node", desired, CAIRN_RS_READY);
	p = build(m, &s);

	c = find_change(p, "node.t");
	assert_int_equal(c->action, CAIRN_ACTION_REPLACE);
	assert_string_equal(c->reason, "tainted");
	assert_null(c->forced_by);
	c = find_change(p, "node.f");
	assert_int_equal(c->action, CAIRN_ACTION_REPLACE);
	assert_string_equal(c->reason, "the last operation on it failed");
	c = find_change(p, "node.g");
	assert_int_equal(c->action, CAIRN_ACTION_CREATE);
	assert_string_equal(c->reason, "no longer exists; will be created again");
	assert_null(c->before);
	c = find_change(p, "node.r");
	assert_int_equal(c->action, CAIRN_ACTION_NOOP);
	assert_string_equal(summary(p),
			    "Plan: 1 to create, 0 to update, 2 to replace, 0 to delete.");
	cairn_plan_free(p);
	state_free(&s);
	model_free_test(m);
}

static void test_order_and_deletes(void **state)
{
	struct cairn_model *m = model_new("demo");
	struct state s = { 0 };
	struct cairn_plan *p;
	static const size_t order[] = { 2, 0, 1 };
	static const char *const want[] = {
		"node.app", "network.lan", "node.db",
		"node.a", "node.z[10]", "node.z[2]", "volume.data", "network.a", "network.b",
		"pool.p",
	};

	(void)state;
	model_add(m, CAIRN_KIND_NETWORK, "network.lan", "{}");
	model_add(m, CAIRN_KIND_NODE, "node.db", "{}");
	model_add(m, CAIRN_KIND_NODE, "node.app", "{}");
	model_order(m, order);
	state_add(&s, "pool.p", "pool", "{}", CAIRN_RS_READY);
	state_add(&s, "network.b", "network", "{}", CAIRN_RS_READY);
	state_add(&s, "node.z[2]", "node", "{}", CAIRN_RS_READY);
	state_add(&s, "node.db", "node", "{}", CAIRN_RS_READY);
	state_add(&s, "volume.data", "volume", "{}", CAIRN_RS_READY);
	state_add(&s, "network.a", "network", "{}", CAIRN_RS_READY);
	state_add(&s, "node.z[10]", "node", "{}", CAIRN_RS_READY);
	/* No kind column: taken from the address. */
	state_add(&s, "node.a", "node", "{}", CAIRN_RS_TAINTED);
	free(s.v[s.n - 1].kind);
	s.v[s.n - 1].kind = NULL;
	p = build(m, &s);

	assert_int_equal(p->n, ARRAY_SIZE(want));
	for (size_t i = 0; i < p->n; i++)
		assert_string_equal(p->v[i].address, want[i]);
	assert_int_equal(p->v[0].action, CAIRN_ACTION_CREATE);
	assert_int_equal(p->v[2].action, CAIRN_ACTION_NOOP);
	for (size_t i = 3; i < p->n; i++) {
		const struct cairn_change *c = &p->v[i];

		assert_int_equal(c->action, CAIRN_ACTION_DELETE);
		assert_string_equal(c->reason, "no longer in the stack");
		assert_null(c->res);
		assert_null(c->after);
		assert_non_null(c->before);
		assert_null(c->loc.file);
	}
	assert_int_equal(p->v[3].kind, CAIRN_KIND_NODE);
	assert_int_equal(p->v[6].kind, CAIRN_KIND_VOLUME);
	assert_int_equal(p->v[9].kind, CAIRN_KIND_POOL);
	assert_string_equal(summary(p),
			    "Plan: 2 to create, 0 to update, 0 to replace, 7 to delete.");
	cairn_plan_free(p);
	state_free(&s);
	model_free_test(m);
}

static void test_bad_state(void **state)
{
	struct cairn_model *m = model_new("demo");
	struct state s = { 0 };
	struct cairn_error err = CAIRN_ERROR_INIT;
	struct cairn_plan *p = (struct cairn_plan *)&p;

	(void)state;
	model_add(m, CAIRN_KIND_NODE, "node.a", "{}");
	model_order(m, NULL);
	state_add(&s, "node.b", "node", "{}", CAIRN_RS_READY);
	state_add(&s, "node.b", "node", "{}", CAIRN_RS_READY);
	assert_int_equal(cairn_plan_build(m, s.v, s.n, NULL, 0, &p, &err), -1);
	assert_null(p);
	assert_int_equal(err.code, CAIRN_E_STATE);
	assert_string_equal(err.message, "resource 'node.b' is recorded twice in the state");
	cairn_error_release(&err);
	state_free(&s);

	state_add(&s, "thing.b", "thing", "{}", CAIRN_RS_READY);
	assert_int_equal(cairn_plan_build(m, s.v, s.n, NULL, 0, &p, &err), -1);
	assert_string_equal(err.message,
			    "resource 'thing.b' is recorded with an unknown kind 'thing'");
	cairn_error_release(&err);
	state_free(&s);
	model_free_test(m);
}

/* ---- a plan with every action, for files and the human view ------------------- */

static struct cairn_model *mixed_model(struct state *s)
{
	struct cairn_model *m = model_new("demo");

	model_add(m, CAIRN_KIND_NETWORK, "network.lan",
		  "{\"cidr\": \"10.0.0.0/24\", \"dhcp\": true, \"provider\": \"kvm\", \"x\": null}");
	model_add(m, CAIRN_KIND_NODE, "node.db",
		  "{\"image\": \"debian-12\", \"labels\": {\"role\": \"db\"}}");
	model_add(m, CAIRN_KIND_NODE, "node.web[0]",
		  "{\"image\": \"debian-12\", \"labels\": {}}");
	model_add(m, CAIRN_KIND_NODE, "node.web[1]", "{\"image\": \"debian-12\"}");
	model_add(m, CAIRN_KIND_NODE, "node.cache", "{\"image\": \"debian-12\"}");
	model_dep(m, 1, 0);
	model_dep(m, 2, 0);
	model_dep(m, 2, 1);
	model_dep(m, 3, 0);
	model_order(m, NULL);
	state_add(s, "node.db", "node",
		  "{\"image\": \"debian-12\", \"labels\": {\"role\": \"old\"}}", CAIRN_RS_READY);
	state_add(s, "node.web[0]", "node",
		  "{\"image\": \"debian-11\", \"labels\": {}}", CAIRN_RS_READY);
	state_add(s, "node.web[1]", "node", "{\"image\": \"debian-12\"}", CAIRN_RS_READY);
	state_add(s, "node.cache", "node", "{\"image\": \"debian-12\"}", CAIRN_RS_TAINTED);
	state_add(s, "node.old", "node", "{\"image\": \"debian-11\"}", CAIRN_RS_READY);
	return m;
}

static const char mixed_render[] =
	"  + network.lan  (create)\n"
	"      cidr     = \"10.0.0.0/24\"\n"
	"      dhcp     = true\n"
	"      provider = \"kvm\"\n"
	"  ~ node.db  (update: 'labels' changed)\n"
	"      labels: {\"role\":\"old\"} -> {\"role\":\"db\"}\n"
	"-/+ node.web[0]  (replace: 'image' changed (forces replacement))\n"
	"      image: \"debian-11\" -> \"debian-12\"  # forces replacement\n"
	"-/+ node.cache  (replace: tainted)\n"
	"  - node.old  (delete: no longer in the stack)\n"
	"\n"
	"Plan: 1 to create, 1 to update, 2 to replace, 1 to delete.\n";

static void test_render(void **state)
{
	struct state s = { 0 };
	struct cairn_model *m;
	struct cairn_plan *p;
	char *text;

	(void)state;
	if (!image_forces_new())
		skip();
	m = mixed_model(&s);
	p = build(m, &s);

	text = render(p, false, false);
	assert_string_equal(text, mixed_render);
	free(text);

	/* Verbose adds the no-ops, in their place. */
	text = render(p, false, true);
	assert_non_null(strstr(text, "  # forces replacement\n"
				     "  = node.web[1]  (no change)\n"
				     "-/+ node.cache  (replace: tainted)\n"));
	free(text);

	text = render(p, true, false);
	assert_non_null(strstr(text, "\033[32m  +\033[0m network.lan  (create)\n"));
	assert_non_null(strstr(text, "\033[33m  ~\033[0m node.db"));
	assert_non_null(strstr(text, "\033[35m-/+\033[0m node.web[0]"));
	assert_non_null(strstr(text, "\033[31m  -\033[0m node.old"));
	assert_non_null(strstr(text, "\033[31m# forces replacement\033[0m\n"));
	free(text);

	cairn_plan_free(p);
	state_free(&s);
	model_free_test(m);
}

static void test_render_no_changes(void **state)
{
	struct cairn_model *m = model_new("demo");
	struct state s = { 0 };
	struct cairn_plan *p;
	char *text;

	(void)state;
	p = build(m, NULL);
	text = render(p, false, false);
	assert_string_equal(text, "No changes. The stack matches the recorded state.\n");
	free(text);
	cairn_plan_free(p);

	model_add(m, CAIRN_KIND_NODE, "node.a", "{}");
	model_order(m, NULL);
	state_add(&s, "node.a", "node", "{}", CAIRN_RS_READY);
	p = build(m, &s);
	text = render(p, false, false);
	assert_string_equal(text, "No changes. The stack matches the recorded state.\n");
	free(text);
	text = render(p, false, true);
	assert_string_equal(text, "  = node.a  (no change)\n\n"
			    "No changes. The stack matches the recorded state.\n");
	free(text);
	cairn_plan_free(p);
	state_free(&s);
	model_free_test(m);
}

/* A provider type of the test's own, with a sensitive field and a size. */
static const struct cairn_field secret_node_fields[] = {
	{ "password", CAIRN_FT_STRING, CAIRN_FF_SENSITIVE, .help = "a secret" },
	{ "memory", CAIRN_FT_SIZE, 0, .help = "a size" },
	{ "timeout", CAIRN_FT_DURATION, 0, .help = "a duration" },
	{ NULL },
};

static const struct cairn_type_schema secret_type = {
	.name = "test-secret",
	.summary = "a type for the planner's tests",
	.serves = 1u << CAIRN_KIND_NODE,
	.node_fields = secret_node_fields,
};

static void register_secret_type(void)
{
	struct cairn_error err = CAIRN_ERROR_INIT;

	if (cairn_schema_lookup("test-secret"))
		return;
	if (cairn_schema_register(&secret_type, &err) < 0)
		fail_msg("cannot register the test type: %s", err.message);
}

static void test_render_sensitive(void **state)
{
	struct cairn_model *m = model_new("demo");
	struct state s = { 0 };
	struct cairn_plan *p, *loaded;
	struct cairn_error err = CAIRN_ERROR_INIT;
	json_t *j;
	char *text, *text2;
	static const char want[] =
		"  + node.a  (create)\n"
		"      memory   = 1GiB\n"
		"      password = (sensitive)\n"
		"      timeout  = 30s\n"
		"  ~ node.b  (update: 'memory', 'password' changed)\n"
		"      memory: 512MiB -> 1GiB\n"
		"      password: (sensitive) -> (sensitive)\n"
		"\n"
		"Plan: 1 to create, 1 to update, 0 to replace, 0 to delete.\n";

	(void)state;
	register_secret_type();
	model_add_json(m, CAIRN_KIND_NODE, "node.a", "test-secret", "vault",
		       parse("{\"password\": \"hunter2\", \"memory\": 1073741824, \"timeout\": 30000}"));
	model_add_json(m, CAIRN_KIND_NODE, "node.b", "test-secret", "vault",
		       parse("{\"password\": \"hunter2\", \"memory\": 1073741824}"));
	model_order(m, NULL);
	state_add_json(&s, "node.b", "node", "test-secret", "vault",
		       parse("{\"password\": \"swordfish\", \"memory\": 536870912}"),
		       CAIRN_RS_READY);
	p = build(m, &s);
	text = render(p, false, false);
	assert_string_equal(text, want);
	assert_null(strstr(text, "hunter2"));
	assert_null(strstr(text, "swordfish"));

	/* A plan read back has no model: the type is found by name. */
	j = cairn_plan_to_json(p);
	assert_int_equal(cairn_plan_from_json(j, &loaded, &err), 0);
	text2 = render(loaded, false, false);
	assert_string_equal(text2, want);
	free(text2);
	free(text);
	json_decref(j);
	cairn_plan_free(loaded);
	cairn_plan_free(p);
	state_free(&s);
	model_free_test(m);
}

/* ---- plan files ----------------------------------------------------------------- */

static void test_json_round_trip(void **state)
{
	struct state s = { 0 };
	struct cairn_model *m = mixed_model(&s);
	struct cairn_plan *p = build(m, &s), *q = NULL;
	struct cairn_error err = CAIRN_ERROR_INIT;
	json_t *j, *j2, *ch;

	(void)state;
	j = cairn_plan_to_json(p);
	assert_string_equal(cairn_json_str(j, "format"), "cairn-plan");
	assert_int_equal(json_integer_value(json_object_get(j, "version")), 1);
	assert_string_equal(cairn_json_str(j, "stack"), "demo");
	assert_string_equal(cairn_json_str(j, "lineage"), "lineage-1");
	assert_int_equal(json_integer_value(json_object_get(j, "serial")), 7);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "summary"),
							    "create")), 1);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "summary"),
							    "no-op")), 1);
	ch = json_object_get(j, "changes");
	assert_int_equal(json_array_size(ch), p->n);
	/* A create has no before, a delete no after; a no-op is listed. */
	assert_null(json_object_get(json_array_get(ch, 0), "before"));
	assert_non_null(json_object_get(json_array_get(ch, 0), "after"));
	assert_string_equal(cairn_json_str(json_array_get(ch, 3), "action"), "no-op");
	assert_string_equal(cairn_json_str(json_array_get(ch, 5), "action"), "delete");
	assert_string_equal(cairn_json_str(json_array_get(ch, 5), "kind"), "node");
	assert_null(json_object_get(json_array_get(ch, 5), "after"));

	assert_int_equal(cairn_plan_from_json(j, &q, &err), 0);
	assert_int_equal(q->n, p->n);
	for (int a = 0; a < CAIRN_ACTION__COUNT; a++)
		assert_int_equal(q->count[a], p->count[a]);
	assert_null(q->v[0].res);
	j2 = cairn_plan_to_json(q);
	assert_true(json_equal(j, j2));
	json_decref(j2);
	cairn_plan_free(q);
	json_decref(j);
	cairn_plan_free(p);
	state_free(&s);
	model_free_test(m);
}

static void test_from_json_errors(void **state)
{
	static const struct { const char *json; const char *message; } cases[] = {
		{ "[]", "not a cairn plan: no \"format\": \"cairn-plan\"" },
		{ "{\"format\": \"cairn-state\", \"version\": 1}",
		  "not a cairn plan: no \"format\": \"cairn-plan\"" },
		{ "{\"format\": \"cairn-plan\"}", "invalid plan: 'version' is not an integer" },
		{ "{\"format\": \"cairn-plan\", \"version\": 2}",
		  "plan format version 2 is not supported (this cairn reads version 1)" },
		{ "{\"format\": \"cairn-plan\", \"version\": 1, \"serial\": 0, \"changes\": []}",
		  "invalid plan: the plan needs a string 'stack'" },
		{ "{\"format\": \"cairn-plan\", \"version\": 1, \"stack\": \"s\", \"serial\": -1,"
		  " \"changes\": []}",
		  "invalid plan: 'serial' is not a non-negative integer" },
		{ "{\"format\": \"cairn-plan\", \"version\": 1, \"stack\": \"s\", \"serial\": 0}",
		  "invalid plan: 'changes' is not an array" },
		{ "{\"format\": \"cairn-plan\", \"version\": 1, \"stack\": \"s\", \"serial\": 0,"
		  " \"changes\": [3]}",
		  "invalid plan: change 0 is not an object" },
		{ "{\"format\": \"cairn-plan\", \"version\": 1, \"stack\": \"s\", \"serial\": 0,"
		  " \"changes\": [{\"address\": \"node.a\", \"action\": \"destroy\", \"kind\": \"node\"}]}",
		  "invalid plan: change 'node.a' has an unknown action 'destroy'" },
		{ "{\"format\": \"cairn-plan\", \"version\": 1, \"stack\": \"s\", \"serial\": 0,"
		  " \"changes\": [{\"address\": \"node.a\", \"action\": \"create\", \"kind\": \"widget\"}]}",
		  "invalid plan: change 'node.a' has an unknown kind 'widget'" },
		{ "{\"format\": \"cairn-plan\", \"version\": 1, \"stack\": \"s\", \"serial\": 0,"
		  " \"changes\": [{\"address\": \"node.a\", \"action\": \"update\", \"kind\": \"node\","
		  " \"fields\": [1]}]}",
		  "invalid plan: change 'node.a' needs an array of strings 'fields'" },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct cairn_error err = CAIRN_ERROR_INIT;
		struct cairn_plan *p = (struct cairn_plan *)&p;
		json_t *j = parse(cases[i].json);

		assert_int_equal(cairn_plan_from_json(j, &p, &err), -1);
		assert_null(p);
		assert_string_equal(err.message, cases[i].message);
		cairn_error_release(&err);
		json_decref(j);
	}
}

static char *write_temp(const char *dir, const char *name, const char *text)
{
	char *path = xasprintf("%s/%s", dir, name);
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	return path;
}

static void test_save_load(void **state)
{
	struct state s = { 0 };
	struct cairn_model *m = mixed_model(&s);
	struct cairn_plan *p = build(m, &s), *q = NULL;
	struct cairn_error err = CAIRN_ERROR_INIT;
	char dir[] = "/tmp/cairn-test-plan-XXXXXX";
	char *path, *other, *junk, *missing, *text, *text2;
	json_t *j, *j2;
	struct stat st;

	(void)state;
	assert_non_null(mkdtemp(dir));
	path = xasprintf("%s/plan.json", dir);
	/* Over an existing file, which the rename replaces. */
	other = write_temp(dir, "plan.json", "old");
	assert_int_equal(cairn_plan_save(p, path, &err), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(cairn_plan_load(path, &q, &err), 0);
	j = cairn_plan_to_json(p);
	j2 = cairn_plan_to_json(q);
	assert_true(json_equal(j, j2));
	text = render(p, false, true);
	text2 = render(q, false, true);
	assert_string_equal(text, text2);
	free(text);
	free(text2);
	json_decref(j);
	json_decref(j2);
	cairn_plan_free(q);

	/* JSON that is not a plan, text that is not JSON, no file at all. */
	junk = write_temp(dir, "state.json", "{\"format\": \"cairn-state\", \"version\": 1}");
	assert_int_equal(cairn_plan_load(junk, &q, &err), -1);
	assert_null(q);
	assert_string_equal(err.message, "not a cairn plan: no \"format\": \"cairn-plan\"");
	assert_non_null(err.context);
	assert_non_null(strstr(err.context, "state.json"));
	cairn_error_release(&err);
	unlink(junk);
	free(junk);

	junk = write_temp(dir, "binary", "\x7f" "ELF\x01\x02");
	assert_int_equal(cairn_plan_load(junk, &q, &err), -1);
	assert_non_null(strstr(err.message, "not JSON"));
	cairn_error_release(&err);
	unlink(junk);
	free(junk);

	missing = xasprintf("%s/missing.json", dir);
	assert_int_equal(cairn_plan_load(missing, &q, &err), -1);
	assert_int_equal(err.code, CAIRN_E_NOTFOUND);
	cairn_error_release(&err);
	free(missing);

	/* A directory that does not exist: an error, and no file left behind. */
	missing = xasprintf("%s/nodir/plan.json", dir);
	assert_int_equal(cairn_plan_save(p, missing, &err), -1);
	assert_int_equal(err.code, CAIRN_E_IO);
	assert_non_null(strstr(err.message, "nodir/plan.json"));
	cairn_error_release(&err);
	free(missing);

	unlink(path);
	assert_int_equal(rmdir(dir), 0);
	free(path);
	free(other);
	cairn_plan_free(p);
	state_free(&s);
	model_free_test(m);
}

static void test_check_state(void **state)
{
	struct cairn_model *m = model_new("demo");
	struct state s = { 0 };
	struct cairn_plan *p, *fresh;
	struct cairn_error err = CAIRN_ERROR_INIT;

	(void)state;
	model_add(m, CAIRN_KIND_NODE, "node.a", "{}");
	model_order(m, NULL);
	state_add(&s, "node.b", "node", "{}", CAIRN_RS_READY);
	p = build(m, &s);          /* lineage-1, serial 7 */
	fresh = build(m, NULL);    /* no stack stored */

	assert_int_equal(cairn_plan_check_state(p, "demo", "lineage-1", 7, &err), 0);
	assert_int_equal(cairn_plan_check_state(p, "demo", "lineage-1", 8, &err), -1);
	assert_int_equal(err.code, CAIRN_E_CONFLICT);
	assert_string_equal(err.message, "plan is stale: the state of stack 'demo' changed since it was made (serial 7, now 8)");
	assert_string_equal(err.hint, "run 'cairn plan' again");
	cairn_error_release(&err);
	assert_int_equal(cairn_plan_check_state(p, "demo", "lineage-2", 7, &err), -1);
	assert_string_equal(err.message, "plan was made against another state of stack 'demo' (lineage lineage-1, now lineage-2)");
	cairn_error_release(&err);
	assert_int_equal(cairn_plan_check_state(p, "demo", NULL, 0, &err), -1);
	cairn_error_release(&err);
	assert_int_equal(cairn_plan_check_state(p, "other", "lineage-1", 7, &err), -1);
	assert_string_equal(err.message, "plan is for stack 'demo', not 'other'");
	cairn_error_release(&err);

	assert_int_equal(cairn_plan_check_state(fresh, "demo", NULL, 0, &err), 0);
	assert_int_equal(cairn_plan_check_state(fresh, "demo", "lineage-3", 0, &err), 0);
	assert_int_equal(cairn_plan_check_state(fresh, "demo", "lineage-3", 1, &err), -1);
	assert_int_equal(err.code, CAIRN_E_CONFLICT);
	cairn_error_release(&err);

	cairn_plan_free(fresh);
	cairn_plan_free(p);
	state_free(&s);
	model_free_test(m);
}

/* ---- the graph ----------------------------------------------------------------- */

static char *graph(const struct cairn_model *m)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	assert_non_null(f);
	cairn_graph_dot(m, f);
	fclose(f);
	return text;
}

static void test_graph(void **state)
{
	struct state s = { 0 };
	struct cairn_model *m = mixed_model(&s);
	char *text;
	static const char want[] =
		"digraph \"demo\" {\n"
		"\t/* A -> B: A needs B, so B is created before A and deleted after it. */\n"
		"\trankdir=LR;\n"
		"\t\"network.lan\" [label=\"network.lan\", shape=ellipse];\n"
		"\t\"node.db\" [label=\"node.db\", shape=box];\n"
		"\t\"node.web[0]\" [label=\"node.web[0]\", shape=box];\n"
		"\t\"node.web[1]\" [label=\"node.web[1]\", shape=box];\n"
		"\t\"node.cache\" [label=\"node.cache\", shape=box];\n"
		"\t\"volume.data\" [label=\"volume.data\", shape=cylinder];\n"
		"\t\"pool.p\" [label=\"pool.p\", shape=folder];\n"
		"\t\"node.db\" -> \"network.lan\";\n"
		"\t\"node.web[0]\" -> \"network.lan\";\n"
		"\t\"node.web[0]\" -> \"node.db\";\n"
		"\t\"node.web[1]\" -> \"network.lan\";\n"
		"\t\"node.cache\" -> \"volume.data\";\n"
		"}\n";

	(void)state;
	model_add(m, CAIRN_KIND_VOLUME, "volume.data", "{}");
	model_add(m, CAIRN_KIND_POOL, "pool.p", "{}");
	model_dep(m, 4, 5);
	text = graph(m);
	assert_string_equal(text, want);
	free(text);

	/* Quotes and backslashes are escaped. */
	free(m->stack);
	m->stack = xstrdup("we\"ird\\");
	text = graph(m);
	assert_true(!strncmp(text, "digraph \"we\\\"ird\\\\\" {\n",
			     strlen("digraph \"we\\\"ird\\\\\" {\n")));
	free(text);
	state_free(&s);
	model_free_test(m);
}

/* ---- scale: guards against anything quadratic ----------------------------------- */

static void test_scale(void **state)
{
	enum { N = 100000 };
	struct cairn_model *m = model_new("big");
	struct state s = { 0 };
	struct cairn_plan *p;

	(void)state;
	m->res = xcalloc(N, sizeof(*m->res));
	m->ares = N;
	for (int i = 0; i < N; i++) {
		char address[32];

		snprintf(address, sizeof(address), "node.n[%d]", i);
		model_add_json(m, CAIRN_KIND_NODE, address, "libvirt", "kvm",
			       json_pack("{s:s,s:i}", "image", "debian", "n", i));
	}
	model_order(m, NULL);

	p = build(m, NULL);
	assert_int_equal(p->n, N);
	assert_int_equal(p->count[CAIRN_ACTION_CREATE], N);
	cairn_plan_free(p);

	/* Records in reverse order, every one matching; the last one changed. */
	s.v = xcalloc(N + 1, sizeof(*s.v));
	s.alloc = N + 1;
	for (int i = N - 1; i >= 0; i--)
		state_add_json(&s, m->res[i].address, "node", "libvirt", "kvm",
			       json_incref(m->res[i].desired), CAIRN_RS_READY);
	json_decref(s.v[0].desired);
	s.v[0].desired = json_pack("{s:s,s:i}", "image", "debian", "n", -1);
	free(s.v[0].desired_hash);
	s.v[0].desired_hash = xstrdup("b2:stale");
	state_add(&s, "node.gone", "node", "{}", CAIRN_RS_READY);

	p = build(m, &s);
	assert_int_equal(p->n, N + 1);
	assert_int_equal(p->count[CAIRN_ACTION_NOOP], N - 1);
	assert_int_equal(p->count[CAIRN_ACTION_UPDATE], 1);
	assert_int_equal(p->count[CAIRN_ACTION_DELETE], 1);
	assert_string_equal(p->v[N - 1].address, "node.n[99999]");
	assert_string_equal(p->v[N - 1].reason, "'n' changed");
	assert_string_equal(p->v[N].address, "node.gone");
	cairn_plan_free(p);
	state_free(&s);
	model_free_test(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_action_names),
		cmocka_unit_test(test_all_create),
		cmocka_unit_test(test_noop),
		cmocka_unit_test(test_update),
		cmocka_unit_test(test_nodiff_field),
		cmocka_unit_test(test_replace_type_provider),
		cmocka_unit_test(test_replace_forces_new),
		cmocka_unit_test(test_status),
		cmocka_unit_test(test_order_and_deletes),
		cmocka_unit_test(test_bad_state),
		cmocka_unit_test(test_render),
		cmocka_unit_test(test_render_no_changes),
		cmocka_unit_test(test_render_sensitive),
		cmocka_unit_test(test_json_round_trip),
		cmocka_unit_test(test_from_json_errors),
		cmocka_unit_test(test_save_load),
		cmocka_unit_test(test_check_state),
		cmocka_unit_test(test_graph),
		cmocka_unit_test(test_scale),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
