/* Unit tests for util/units.c: sizes, durations, CIDRs, names, typos. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sys/socket.h>

#include "util/common.h"
#include "util/units.h"
#include "util/jsonutil.h"

static void test_sizes(void **state)
{
	static const struct { const char *in; uint64_t want; } ok[] = {
		{ "256MiB", 268435456ULL }, { "2GiB", 2147483648ULL },
		{ "1.5G", 1610612736ULL }, { "100MB", 100000000ULL },
		{ "0", 0 }, { "512B", 512 }, { "4K", 4096 }, { "1TiB", 1099511627776ULL },
	};
	static const char *const bad[] = {
		"", "512", "MiB", "1.2.3G", "12 GiB", "5XB", "-1G", "1.0000001B", "99999999999PiB",
	};
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(ok); i++) {
		struct cairn_error err = CAIRN_ERROR_INIT;
		uint64_t v = 1;

		assert_int_equal(cairn_parse_size(ok[i].in, &v, &err), 0);
		assert_int_equal(v, ok[i].want);
	}
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct cairn_error err = CAIRN_ERROR_INIT;
		uint64_t v;

		assert_int_equal(cairn_parse_size(bad[i], &v, &err), -1);
		assert_non_null(err.message);
		cairn_error_release(&err);
	}
}

static void test_size_hint(void **state)
{
	struct cairn_error err = CAIRN_ERROR_INIT;
	uint64_t v;

	(void)state;
	assert_int_equal(cairn_parse_size("2GIB", &v, &err), -1);
	assert_string_equal(err.message, "invalid size '2GIB': unknown unit 'GIB'");
	assert_string_equal(err.hint, "did you mean 'GiB'?");
	cairn_error_release(&err);
}

static void test_format_size(void **state)
{
	char buf[32];

	(void)state;
	cairn_format_size(268435456ULL, buf, sizeof(buf));
	assert_string_equal(buf, "256MiB");
	cairn_format_size(1610612736ULL, buf, sizeof(buf));
	assert_string_equal(buf, "1536MiB");
	cairn_format_size(3, buf, sizeof(buf));
	assert_string_equal(buf, "3B");
}

static void test_durations(void **state)
{
	static const struct { const char *in; int64_t want; } ok[] = {
		{ "30s", 30000 }, { "10m", 600000 }, { "1h", 3600000 },
		{ "1h30m", 5400000 }, { "500ms", 500 }, { "0", 0 }, { "1.5s", 1500 }, { "2d", 172800000 },
	};
	static const char *const bad[] = { "", "30", "10x", "s", "1h 30m", "-5s" };
	char buf[32];

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(ok); i++) {
		struct cairn_error err = CAIRN_ERROR_INIT;
		int64_t v = -1;

		assert_int_equal(cairn_parse_duration(ok[i].in, &v, &err), 0);
		assert_int_equal(v, ok[i].want);
	}
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct cairn_error err = CAIRN_ERROR_INIT;
		int64_t v;

		assert_int_equal(cairn_parse_duration(bad[i], &v, &err), -1);
		cairn_error_release(&err);
	}
	cairn_format_duration(5400000, buf, sizeof(buf));
	assert_string_equal(buf, "90m");
	cairn_format_duration(1500, buf, sizeof(buf));
	assert_string_equal(buf, "1500ms");
}

static void test_cidr(void **state)
{
	struct cairn_cidr a, b, c, d;
	struct cairn_error err = CAIRN_ERROR_INIT;

	(void)state;
	assert_int_equal(cairn_parse_cidr("10.0.0.0/24", &a, &err), 0);
	assert_int_equal(a.family, AF_INET);
	assert_int_equal(a.prefix, 24);
	assert_int_equal(cairn_cidr_size(&a), 256);
	assert_int_equal(cairn_parse_cidr("10.0.0.128/25", &b, &err), 0);
	assert_int_equal(cairn_parse_cidr("10.0.1.0/24", &c, &err), 0);
	assert_int_equal(cairn_parse_cidr("fd00::/64", &d, &err), 0);
	assert_true(cairn_cidr_overlap(&a, &b));
	assert_false(cairn_cidr_overlap(&a, &c));
	assert_false(cairn_cidr_overlap(&a, &d));

	assert_int_equal(cairn_parse_cidr("10.0.0.1/24", &a, &err), -1);
	assert_string_equal(err.hint, "did you mean '10.0.0.0/24'?");
	cairn_error_release(&err);
	assert_int_equal(cairn_parse_cidr("10.0.0.0", &a, &err), -1);
	cairn_error_release(&err);
	assert_int_equal(cairn_parse_cidr("10.0.0.0/33", &a, &err), -1);
	cairn_error_release(&err);
	assert_int_equal(cairn_parse_cidr("10.0.300.0/24", &a, &err), -1);
	cairn_error_release(&err);
	assert_int_equal(cairn_parse_cidr("10.0.0.0/", &a, &err), -1);
	cairn_error_release(&err);
}

static void test_names(void **state)
{
	const char *why;

	(void)state;
	assert_true(cairn_name_valid("web", NULL));
	assert_true(cairn_name_valid("web-01", NULL));
	assert_false(cairn_name_valid("Web", &why));
	assert_false(cairn_name_valid("1web", &why));
	assert_false(cairn_name_valid("web_1", &why));
	assert_false(cairn_name_valid("web-", &why));
	assert_false(cairn_name_valid("", &why));
}

static void test_did_you_mean(void **state)
{
	static const char *const keys[] = { "cpus", "memory", "disk", NULL };

	(void)state;
	assert_string_equal(cairn_did_you_mean("memroy", keys), "memory");
	assert_string_equal(cairn_did_you_mean("cpu", keys), "cpus");
	assert_null(cairn_did_you_mean("network", keys));
	assert_int_equal(cairn_edit_distance("abc", "acb"), 1);
}

/* The streamed hash is the hash of the canonical text, whatever the key order. */
static void test_json_hash(void **state)
{
	json_t *a = json_pack("{s:i, s:[s, {s:b}], s:s}", "z", 1, "a", "x", "k", 1, "m", "\u00e9${x}");
	json_t *b = json_pack("{s:s, s:[s, {s:b}], s:i}", "m", "\u00e9${x}", "a", "x", "k", 1, "z", 1);
	char ha[CAIRN_HASH_LEN], hb[CAIRN_HASH_LEN], hc[CAIRN_HASH_LEN];
	char *canon = cairn_json_canonical(a);

	(void)state;
	cairn_json_hash(a, ha);
	cairn_json_hash(b, hb);
	cairn_hash_bytes(canon, strlen(canon), hc);
	assert_string_equal(ha, hb);
	assert_string_equal(ha, hc);
	assert_int_equal(strncmp(ha, "b2:", 3), 0);
	assert_int_equal(strlen(ha), CAIRN_HASH_LEN - 1);
	json_object_set_new(b, "z", json_integer(2));
	cairn_json_hash(b, hb);
	assert_string_not_equal(ha, hb);
	free(canon);
	json_decref(a);
	json_decref(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sizes),
		cmocka_unit_test(test_size_hint),
		cmocka_unit_test(test_format_size),
		cmocka_unit_test(test_durations),
		cmocka_unit_test(test_cidr),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_did_you_mean),
		cmocka_unit_test(test_json_hash),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
