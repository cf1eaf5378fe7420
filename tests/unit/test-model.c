/*
 * Unit tests for src/model/model.c: addresses, lookups of declarations and
 * resources, and where in the user's text a field of a declaration is.
 * Models come from the spec loader (a small stack in this file) or are
 * built by hand.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "util/common.h"

#include "cairn/model.h"
#include "cairn/spec.h"

/* ---- addresses ---------------------------------------------------------------- */

static void test_address_round_trip(void **state)
{
	static const struct {
		enum cairn_kind kind;
		const char *name;
		int index;
		const char *text;
	} cases[] = {
		{ CAIRN_KIND_NODE, "web", 2, "node.web[2]" },
		{ CAIRN_KIND_NODE, "web", 0, "node.web[0]" },
		{ CAIRN_KIND_NODE, "db", -1, "node.db" },
		{ CAIRN_KIND_NODE, "web-01", 1000000, "node.web-01[1000000]" },
		{ CAIRN_KIND_NETWORK, "lan", -1, "network.lan" },
		{ CAIRN_KIND_VOLUME, "data", -1, "volume.data" },
		{ CAIRN_KIND_POOL, "db", -1, "pool.db" },
		{ CAIRN_KIND_PROVIDER, "kvm", -1, "provider.kvm" },
		{ CAIRN_KIND_PLAN, "small", -1, "plan.small" },
		{ CAIRN_KIND_IMAGE, "debian", -1, "image.debian" },
		{ CAIRN_KIND_VARIABLE, "n", -1, "var.n" },
		{ CAIRN_KIND_OUTPUT, "ips", -1, "output.ips" },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct cairn_error err = CAIRN_ERROR_INIT;
		char *text = cairn_address_format(cases[i].kind, cases[i].name, cases[i].index);
		enum cairn_kind kind = CAIRN_KIND__COUNT;
		char *name = NULL;
		int index = 42;

		assert_string_equal(text, cases[i].text);
		assert_int_equal(cairn_address_parse(text, &kind, &name, &index, &err), 0);
		assert_false(cairn_error_isset(&err));
		assert_int_equal(kind, cases[i].kind);
		assert_string_equal(name, cases[i].name);
		assert_int_equal(index, cases[i].index);
		free(name);
		free(text);
	}
}

/* Other spellings the parser takes: the section name for the kind, and
 * "variable". */
static void test_address_parse_aliases(void **state)
{
	static const struct {
		const char *text;
		enum cairn_kind kind;
		const char *name;
		int index;
	} cases[] = {
		{ "nodes.web[3]", CAIRN_KIND_NODE, "web", 3 },
		{ "networks.lan", CAIRN_KIND_NETWORK, "lan", -1 },
		{ "variable.n", CAIRN_KIND_VARIABLE, "n", -1 },
		{ "variables.n", CAIRN_KIND_VARIABLE, "n", -1 },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct cairn_error err = CAIRN_ERROR_INIT;
		enum cairn_kind kind;
		char *name = NULL;
		int index;

		assert_int_equal(cairn_address_parse(cases[i].text, &kind, &name, &index, &err), 0);
		assert_int_equal(kind, cases[i].kind);
		assert_string_equal(name, cases[i].name);
		assert_int_equal(index, cases[i].index);
		free(name);
	}
}

static void test_address_malformed(void **state)
{
	static const char *const bad[] = {
		"", "node", "web", ".web", "node.", "nodes.", "bogus.web", "Node.web",
		"node.[1]", "node.web[", "node.web[]", "node.web[x]", "node.web[-1]",
		"node.web[ 1]", "node.web[+1]", "node.web[2", "node.web[2]x", "node.web[2][3]",
		"node.web[1000001]", "node.web[99999999999999999999]", "node.we[b]",
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct cairn_error err = CAIRN_ERROR_INIT;
		enum cairn_kind kind = CAIRN_KIND__COUNT;
		char *name = NULL;
		int index = 42;
		char want[128];

		if (cairn_address_parse(bad[i], &kind, &name, &index, &err) != -1)
			fail_msg("'%s' was accepted: kind %d, name '%s', index %d", bad[i], kind,
				 name, index);
		assert_null(name);
		assert_int_equal(err.code, CAIRN_E_INVALID);
		snprintf(want, sizeof(want), "malformed address '%s'", bad[i]);
		assert_string_equal(err.message, want);
		cairn_error_release(&err);
	}
}

/*
 * An address names what a declaration can be called ([a-z][a-z0-9-]*):
 * "node.web]", "node.a b", "node.web.x", "node.." and "node.Web" are
 * malformed.
 */
static void test_address_malformed_names(void **state)
{
	static const char *const bad[] = { "node.web]", "node.a b", "node.web.x", "node..", "node.Web",
					   "node.web-", "node.1web", "node.web[1]x" };

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct cairn_error err = CAIRN_ERROR_INIT;
		enum cairn_kind kind;
		char *name = NULL;
		int index;
		char want[128];

		if (cairn_address_parse(bad[i], &kind, &name, &index, &err) != -1)
			fail_msg("'%s' was accepted as name '%s'", bad[i], name);
		assert_null(name);
		assert_int_equal(err.code, CAIRN_E_INVALID);
		snprintf(want, sizeof(want), "malformed address '%s'", bad[i]);
		assert_string_equal(err.message, want);
		cairn_error_release(&err);
	}
}

/* ---- a loaded model ------------------------------------------------------------- */

static const char stack_text[] =
	"stack: m\n"                                   /* 1 */
	"providers:\n"                                 /* 2 */
	"  local: {type: static}\n"                    /* 3 */
	"nodes:\n"                                     /* 4 */
	"  bastion:\n"                                 /* 5 */
	"    address: 10.0.0.9\n"                     /* 6 */
	"  web:\n"                                     /* 7 */
	"    match: {rack: a}\n"                      /* 8 */
	"    count: 2\n"                               /* 9 */
	"    ssh:\n"                                   /* 10 */
	"      user: admin\n"                          /* 11 */
	"      via: bastion\n"                         /* 12 */
	"    configure:\n"                             /* 13 */
	"      - run: echo one\n"                      /* 14 */
	"      - run: echo two\n"                      /* 15 */
	"      - file: {path: /etc/x, content: hi}\n"  /* 16 */
	"    labels: {role: web}\n";                   /* 17 */

struct loaded {
	struct cairn_sources sources;
	struct cairn_diags diags;
	struct cairn_model *m;
};

static int load_setup(void **state)
{
	struct loaded *l = xcalloc(1, sizeof(*l));
	struct cairn_spec_options opt = { .no_env = true };

	if (cairn_spec_load_string("m.yml", stack_text, strlen(stack_text), &opt,
				   &l->sources, &l->diags, &l->m)) {
		cairn_diags_print(&l->diags, &l->sources, stderr, false);
		return -1;
	}
	*state = l;
	return 0;
}

static int load_teardown(void **state)
{
	struct loaded *l = *state;

	cairn_model_free(l->m);
	cairn_diags_release(&l->diags);
	cairn_sources_release(&l->sources);
	free(l);
	return 0;
}

static void test_lookups(void **state)
{
	struct loaded *l = *state;
	const struct cairn_model *m = l->m;
	const struct cairn_decl *web, *local;
	const struct cairn_resource *r;

	web = cairn_model_decl(m, CAIRN_KIND_NODE, "web");
	assert_non_null(web);
	assert_string_equal(web->name, "web");
	assert_int_equal(web->kind, CAIRN_KIND_NODE);
	assert_int_equal(web->nres, 2);
	local = cairn_model_decl(m, CAIRN_KIND_PROVIDER, "local");
	assert_non_null(local);
	assert_string_equal(local->type->name, "static");
	/* by kind: a node name is not a provider name */
	assert_null(cairn_model_decl(m, CAIRN_KIND_PROVIDER, "web"));
	assert_null(cairn_model_decl(m, CAIRN_KIND_NODE, "local"));
	assert_null(cairn_model_decl(m, CAIRN_KIND_NODE, "nope"));
	assert_null(cairn_model_decl(m, CAIRN_KIND_NODE, ""));
	assert_null(cairn_model_decl(m, CAIRN_KIND__COUNT, "web"));
	assert_null(cairn_model_decl(m, (enum cairn_kind)-1, "web"));

	r = cairn_model_resource(m, "node.web[1]");
	assert_non_null(r);
	assert_string_equal(r->address, "node.web[1]");
	assert_string_equal(r->name, "web-1");
	assert_int_equal(r->index, 1);
	assert_ptr_equal(r->decl, web);
	assert_ptr_equal(r, &m->res[web->first + 1]);
	assert_int_equal(cairn_model_resource_index(m, "node.web[1]"), web->first + 1);
	r = cairn_model_resource(m, "node.bastion");
	assert_non_null(r);
	assert_int_equal(r->index, -1);
	assert_null(cairn_model_resource(m, "node.web"));
	assert_null(cairn_model_resource(m, "node.web[2]"));
	assert_null(cairn_model_resource(m, "node.bastion[0]"));
	assert_null(cairn_model_resource(m, "provider.local"));
	assert_int_equal(cairn_model_resource_index(m, "node.web[2]"), -1);
	/* every resource is found under its own address */
	for (size_t i = 0; i < m->nres; i++)
		assert_int_equal(cairn_model_resource_index(m, m->res[i].address), (ssize_t)i);
}

static void test_field_loc(void **state)
{
	static const struct {
		const char *decl, *path;
		int line, col;
	} cases[] = {
		{ "web", "match", 8, 5 },
		{ "web", "ssh", 10, 5 },
		{ "web", "ssh.via", 12, 7 },
		{ "web", "ssh.user", 11, 7 },
		{ "web", "configure", 13, 5 },
		{ "web", "configure.0", 14, 9 },
		{ "web", "configure.1.run", 15, 9 },
		{ "web", "configure.2.file.path", 16, 16 },
		{ "web", "configure.2.file.content", 16, 30 },
		{ "web", "labels.role", 17, 14 },
		/* missing parts: the nearest enclosing node that exists */
		{ "web", "ssh.port", 10, 5 },
		{ "web", "configure.9.run", 13, 5 },
		{ "web", "configure.x", 13, 5 },
		{ "web", "configure.1.file", 15, 9 },
		{ "web", "match.deeper", 8, 5 },
		/* missing altogether: the declaration */
		{ "web", "health", 7, 3 },
		{ "web", "health.interval", 7, 3 },
		{ "web", "", 7, 3 },
		{ "bastion", "ssh.via", 5, 3 },
	};
	struct loaded *l = *state;

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		const struct cairn_decl *d = cairn_model_decl(l->m, CAIRN_KIND_NODE, cases[i].decl);
		struct cairn_loc loc;

		assert_non_null(d);
		loc = cairn_decl_field_loc(d, cases[i].path);
		if (loc.line != cases[i].line || loc.col != cases[i].col)
			fail_msg("%s '%s': got %d:%d, want %d:%d", cases[i].decl, cases[i].path,
				 loc.line, loc.col, cases[i].line, cases[i].col);
		assert_string_equal(loc.file, "m.yml");
	}
	/* a NULL path is the declaration, as is a declaration without YAML */
	{
		const struct cairn_decl *d = cairn_model_decl(l->m, CAIRN_KIND_NODE, "web");
		struct cairn_decl copy = *d;
		struct cairn_loc loc = cairn_decl_field_loc(d, NULL);

		assert_int_equal(loc.line, 7);
		copy.yaml = NULL;
		loc = cairn_decl_field_loc(&copy, "ssh.via");
		assert_int_equal(loc.line, 7);
		assert_int_equal(loc.col, 3);
	}
}

/* A model built by hand (no index behind priv) is searched linearly. */
static void test_lookups_without_index(void **state)
{
	struct cairn_model *m = xcalloc(1, sizeof(*m));
	struct cairn_decl *d;
	struct cairn_resource *r;

	(void)state;
	m->decls = xcalloc(2, sizeof(*m->decls));
	m->ndecls = m->adecls = 2;
	d = &m->decls[0];
	d->kind = CAIRN_KIND_NETWORK;
	d->name = xstrdup("lan");
	d = &m->decls[1];
	d->kind = CAIRN_KIND_NODE;
	d->name = xstrdup("lan");
	m->res = xcalloc(1, sizeof(*m->res));
	m->nres = m->ares = 1;
	r = &m->res[0];
	r->address = cairn_address_format(CAIRN_KIND_NETWORK, "lan", -1);
	r->name = xstrdup("lan");
	r->kind = CAIRN_KIND_NETWORK;
	r->index = -1;

	assert_null(m->priv);
	assert_ptr_equal(cairn_model_decl(m, CAIRN_KIND_NETWORK, "lan"), &m->decls[0]);
	assert_ptr_equal(cairn_model_decl(m, CAIRN_KIND_NODE, "lan"), &m->decls[1]);
	assert_null(cairn_model_decl(m, CAIRN_KIND_VOLUME, "lan"));
	assert_ptr_equal(cairn_model_resource(m, "network.lan"), r);
	assert_int_equal(cairn_model_resource_index(m, "network.lan"), 0);
	assert_null(cairn_model_resource(m, "node.lan"));
	assert_null(m->priv);
	cairn_model_free(m);
	cairn_model_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_address_round_trip),
		cmocka_unit_test(test_address_parse_aliases),
		cmocka_unit_test(test_address_malformed),
		cmocka_unit_test(test_address_malformed_names),
		cmocka_unit_test_setup_teardown(test_lookups, load_setup, load_teardown),
		cmocka_unit_test_setup_teardown(test_field_loc, load_setup, load_teardown),
		cmocka_unit_test(test_lookups_without_index),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
