/*
 * test-inventory.c - the inventory of engine/inventory.c: rows and queries
 * over them, the Ansible inventory's groups and host vars, known_hosts
 * lines, from records built here (no store).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "util/common.h"

#include "cairn/store.h"
#include "engine/engine.h"
#include "util/jsonutil.h"

static struct cairn_resource_record rec(const char *address, const char *desired, const char *observed)
{
	struct cairn_resource_record r = { 0 };

	r.address = (char *)address;
	r.kind = (char *)"node";
	r.type = (char *)"static";
	r.provider = (char *)"rack";
	r.desired = json_loads(desired, 0, NULL);
	r.observed = observed ? json_loads(observed, 0, NULL) : NULL;
	assert_non_null(r.desired);
	return r;
}

static struct cairn_resource_record recs[4];

static int setup(void **state)
{
	(void)state;
	recs[0] = rec("node.bastion", "{\"name\":\"bastion\"}",
		      "{\"ip\":\"10.0.0.2\",\"ssh_user\":\"ops\",\"ssh_port\":2222,\"host_key\":\"ssh-ed25519 AAAAB\",\"machine\":\"gw\",\"labels\":{\"role\":\"bastion\"}}");
	recs[1] = rec("node.web[0]", "{\"name\":\"web-0\",\"pool\":\"web\",\"labels\":{\"tier\":\"front\"},\"ssh\":{\"via\":\"bastion\",\"user\":\"root\",\"port\":22}}",
		      "{\"ip\":\"10.0.1.5\",\"ssh_identity\":\"/keys/it's\",\"host_key\":\"ssh-ed25519 AAAAC\",\"labels\":{\"role\":\"app\",\"tier\":\"back\"}}");
	recs[2] = rec("node.web[1]", "{\"name\":\"web-1\",\"pool\":\"web\",\"ssh\":{\"via\":\"bastion\"},\"configure\":[{\"ansible\":{\"playbook\":\"p.yml\",\"groups\":[\"db-servers\"]}}]}",
		      "{\"ip\":\"10.0.1.6\"}");
	recs[2].status = CAIRN_RS_FAILED;
	recs[3] = rec("node.db", "{\"name\":\"db\",\"pool\":\"data\",\"labels\":{\"tier\":\"db\"}}", NULL);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	for (size_t i = 0; i < 4; i++) {
		json_decref(recs[i].desired);
		json_decref(recs[i].observed);
	}
	return 0;
}

/* the names the query selects, space-separated; NULL when it does not parse */
static char *names(const char *expr, struct cairn_error *err)
{
	json_t *rows = cairn_engine_inventory_rows("s", recs, 4), *row;
	struct cairn_inventory_query *q;
	struct cairn_buf b = CAIRN_BUF_INIT;
	size_t i;

	if (cairn_engine_query_compile(expr, &q, err)) {
		json_decref(rows);
		return NULL;
	}
	json_array_foreach(rows, i, row)
		if (cairn_engine_query_match(q, row))
			cairn_buf_addf(&b, "%s%s", b.len ? " " : "", cairn_json_str(row, "name"));
	cairn_engine_query_free(q);
	json_decref(rows);
	return cairn_buf_detach(&b, NULL);
}

static void expect(const char *expr, const char *want)
{
	struct cairn_error err = CAIRN_ERROR_INIT;
	char *got = names(expr, &err);

	if (!got)
		fail_msg("query '%s': %s", expr, err.message);
	if (strcmp(got, want))
		fail_msg("query '%s' selects '%s', not '%s'", expr, got, want);
	free(got);
}

static void expect_error(const char *expr, const char *message)
{
	struct cairn_error err = CAIRN_ERROR_INIT;
	char *got = names(expr, &err);

	if (got)
		fail_msg("query '%s' parses (selects '%s')", expr, got);
	assert_int_equal(err.code, CAIRN_E_INVALID);
	if (!strstr(err.message, message))
		fail_msg("query '%s': '%s' does not say '%s'", expr, err.message, message);
	cairn_error_release(&err);
}

static void test_rows(void **state)
{
	json_t *rows = cairn_engine_inventory_rows("s", recs, 4), *r;

	(void)state;
	assert_int_equal(json_array_size(rows), 4);
	r = json_array_get(rows, 1);
	assert_string_equal(cairn_json_str(r, "ip"), "10.0.1.5");
	assert_string_equal(cairn_json_str(r, "pool"), "web");
	/* the node's labels win over its machine's */
	assert_string_equal(cairn_json_str(json_object_get(r, "labels"), "tier"), "front");
	assert_string_equal(cairn_json_str(json_object_get(r, "labels"), "role"), "app");
	assert_string_equal(cairn_json_str(json_array_get(rows, 2), "state"), "failed");
	assert_null(cairn_json_str(json_array_get(rows, 3), "ip"));
	json_decref(rows);
}

static void test_query(void **state)
{
	(void)state;
	expect("pool=web", "web-0 web-1");
	expect("pool=web and state=ready", "web-0");
	expect("pool = web", "web-0 web-1");     /* blanks around = are not a value */
	expect("labels.tier=db", "db");
	expect("labels.role=app or labels.tier=db", "web-0 db");
	expect("pool=web and state=failed or name=bastion", "bastion web-1");
	expect("name!=db and pool!=web", "bastion");
	expect("machine=gw", "bastion");
	expect("labels.missing=x", "");
	expect("name=\"web-0\"", "web-0");
	expect("stack=s and provider=rack and type=static and address=node.db", "db");
	expect("ip==10.0.1.6", "web-1");
	expect_error("", "empty");
	expect_error("colour=red", "unknown key 'colour'");
	expect_error("labels.=x", "unknown key");
	expect_error("pool", "needs = or !=");
	expect_error("pool=", "has no value");
	expect_error("pool=web nor name=x", "expected 'and' or 'or'");
	expect_error("pool=web and", "a term must follow");
	expect_error("name=\"web", "has no value");
}

static void test_ansible(void **state)
{
	json_t *inv = cairn_engine_inventory_ansible(recs, 4, "cairn 'x' --format known_hosts", NULL);
	json_t *hv = json_object_get(json_object_get(inv, "_meta"), "hostvars"), *v;
	const char *args;

	(void)state;
	assert_int_equal(json_object_size(hv), 3);          /* db has no address */
	assert_null(json_object_get(hv, "db"));
	v = json_object_get(hv, "bastion");
	assert_string_equal(cairn_json_str(v, "ansible_user"), "ops");
	assert_int_equal(json_integer_value(json_object_get(v, "ansible_port")), 2222);
	v = json_object_get(hv, "web-0");
	assert_string_equal(cairn_json_str(v, "ansible_host"), "10.0.1.5");
	assert_string_equal(cairn_json_str(v, "ansible_ssh_private_key_file"), "/keys/it's");
	args = cairn_json_str(v, "ansible_ssh_common_args");
	assert_non_null(strstr(args, "-o StrictHostKeyChecking=yes -o UserKnownHostsFile=/dev/null"));
	assert_non_null(strstr(args, "ProxyCommand=ssh"));
	assert_non_null(strstr(args, "-p 2222 -W %h:%p"));
	assert_string_equal(cairn_json_str(v, "cairn_bastion"), "node.bastion");
	/* groups: pools, labels as KEY_VALUE, the groups of ansible steps */
	assert_int_equal(json_array_size(json_object_get(json_object_get(inv, "web"), "hosts")), 2);
	assert_int_equal(json_array_size(json_object_get(json_object_get(inv, "tier_front"), "hosts")), 1);
	assert_int_equal(json_array_size(json_object_get(json_object_get(inv, "role_bastion"), "hosts")), 1);
	assert_string_equal(json_string_value(json_array_get(json_object_get(json_object_get(inv, "db_servers"),
										  "hosts"), 0)), "web-1");
	json_decref(inv);
}

static void test_known_hosts(void **state)
{
	char *text = cairn_engine_known_hosts(recs, 4);

	(void)state;
	assert_string_equal(text, "[10.0.0.2]:2222 ssh-ed25519 AAAAB\n10.0.1.5 ssh-ed25519 AAAAC\n");
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rows),
		cmocka_unit_test(test_query),
		cmocka_unit_test(test_ansible),
		cmocka_unit_test(test_known_hosts),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
