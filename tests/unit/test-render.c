/*
 * test-render.c - templates rendered by cairn_engine_render(): references
 * to nodes, instances, self and variables filled in from records; every
 * kind of missing value an error with its line and column.  The cases are
 * a table: template, expected output or expected error.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "util/common.h"

#include "cairn/store.h"
#include "engine/engine.h"
#include "util/buf.h"

static struct cairn_resource_record recs[4];
static json_t *vars;

static struct cairn_resource_record rec(const char *address, const char *desired, const char *observed)
{
	struct cairn_resource_record r = { 0 };

	r.address = (char *)address;
	r.kind = (char *)"node";
	r.cairn_id = (char *)"6f0c0a52-0000-4000-8000-000000000001";
	r.desired = json_loads(desired, 0, NULL);
	r.observed = observed ? json_loads(observed, 0, NULL) : NULL;
	assert_non_null(r.desired);
	return r;
}

static const struct cairn_resource_record *lookup(void *ctx, const char *address)
{
	(void)ctx;
	for (size_t i = 0; i < ARRAY_SIZE(recs); i++)
		if (!strcmp(recs[i].address, address))
			return &recs[i];
	return NULL;
}

static int setup(void **state)
{
	(void)state;
	recs[0] = rec("node.db[0]", "{\"name\":\"db-0\",\"labels\":{\"tier\":\"data\"}}", "{\"ip\":\"10.0.0.10\"}");
	recs[1] = rec("node.db[1]", "{\"name\":\"db-1\"}", "{\"ip\":\"10.0.0.11\"}");
	recs[2] = rec("node.web", "{\"name\":\"web\",\"pool\":\"front\"}", "{\"ip\":\"10.0.1.5\",\"mac\":\"52:54:00:aa:bb:cc\"}");
	recs[3] = rec("node.cache", "{\"name\":\"cache\"}", NULL);
	vars = json_pack("{s:s, s:i, s:[s,s]}", "greeting", "hello", "port", 8080, "list", "a", "b");
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(recs); i++) {
		json_decref(recs[i].desired);
		json_decref(recs[i].observed);
	}
	json_decref(vars);
	return 0;
}

/* template -> output (error NULL), or -> the error's message (output NULL) */
static const struct {
	const char *in, *out, *error;
} cases[] = {
	{ "plain text, no references\n", "plain text, no references\n", NULL },
	{ "listen ${self.ip}:${var.port}\n", "listen 10.0.1.5:8080\n", NULL },
	{ "${ self.name }@${self.pool}", "web@front", NULL },
	{ "db=${node.db[0].ip} mac=${self.mac}", "db=10.0.0.10 mac=52:54:00:aa:bb:cc", NULL },
	{ "backends ${node.db[*].ip}", "backends 10.0.0.10,10.0.0.11", NULL },
	{ "tier ${node.db[0].labels.tier}", "tier data", NULL },
	{ "${var.greeting} ${var.list}", "hello a,b", NULL },
	{ "literal $${self.ip} and $$ and $", "literal ${self.ip} and $$ and $", NULL },
	{ "a\nb ${node.db[0].port}\n", NULL, "2:3: ${node.db[0].port}: node.db[0] has no 'port' (yet)" },
	{ "${node.nope.ip}", NULL, "1:1: ${node.nope.ip}: the stack has no node.nope" },
	{ "x ${node.cache.ip}", NULL, "1:3: ${node.cache.ip}: node.cache has no 'ip' (yet)" },
	{ "${node.nope[*].ip}", NULL, "1:1: ${node.nope[*].ip}: the stack has no node.nope[0]" },
	{ "${var.missing}", NULL, "1:1: ${var.missing}: variable 'missing' has no value" },
	{ "\n\n  ${env.HOME}", NULL, "3:3: ${env.HOME}: 'env.HOME' is not a reference cairn knows (node., self. or var.)" },
	{ "open ${self.ip\nclosed}", NULL, "1:6: '${' without its '}'" },
};

static void test_cases(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct cairn_buf out = CAIRN_BUF_INIT;
		struct cairn_error err = CAIRN_ERROR_INIT;
		int ret = cairn_engine_render(cases[i].in, strlen(cases[i].in), lookup, NULL, &recs[2], vars,
					      &out, &err);

		if (cases[i].out) {
			if (ret)
				fail_msg("case %zu (%s): %s", i, cases[i].in, err.message);
			assert_string_equal(out.s, cases[i].out);
		} else {
			assert_int_equal(ret, -1);
			assert_int_equal(err.code, CAIRN_E_INVALID);
			assert_string_equal(err.message, cases[i].error);
		}
		cairn_buf_release(&out);
		cairn_error_release(&err);
	}
}

/* the lenient resolution of desired states leaves "" where render fails */
static void test_lenient_resolve(void **state)
{
	json_t *v = json_pack("{s:s, s:s}", "a", "${node.cache.ip}", "b", "${node.db[*].ip}");
	json_t *out = cairn_engine_resolve_with(v, lookup, NULL, &recs[2]);

	(void)state;
	assert_string_equal(json_string_value(json_object_get(out, "a")), "");
	assert_int_equal(json_array_size(json_object_get(out, "b")), 2);
	json_decref(out);
	json_decref(v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cases),
		cmocka_unit_test(test_lenient_resolve),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
