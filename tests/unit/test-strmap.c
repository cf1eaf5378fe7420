/*
 * Unit tests for util/strmap.c and util/arena.c: the hash map that indexes
 * declarations and resources, and the arena the YAML trees live in.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "util/common.h"
#include "util/arena.h"
#include "util/strmap.h"

/* ---- strmap ---------------------------------------------------------------- */

static void test_strmap_empty(void **state)
{
	struct cairn_strmap m = CAIRN_STRMAP_INIT;

	(void)state;
	assert_null(cairn_strmap_get(&m, "a"));
	assert_false(cairn_strmap_has(&m, "a"));
	assert_false(cairn_strmap_has(&m, ""));
	cairn_strmap_release(&m);
	/* released twice is fine, and leaves an empty map */
	cairn_strmap_release(&m);
	assert_int_equal(m.n, 0);
	assert_null(m.v);
}

static void test_strmap_put_get_replace(void **state)
{
	static const char *const keys[] = { "web", "db", "", "network.lan", "node.web[2]", "Web" };
	struct cairn_strmap m = CAIRN_STRMAP_INIT;
	int vals[ARRAY_SIZE(keys)], other = 0;
	char probe[32];

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
		assert_null(cairn_strmap_put(&m, keys[i], &vals[i]));
	assert_int_equal(m.n, ARRAY_SIZE(keys));
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		/* lookups compare text, not pointers */
		snprintf(probe, sizeof(probe), "%s", keys[i]);
		assert_ptr_equal(cairn_strmap_get(&m, probe), &vals[i]);
		assert_true(cairn_strmap_has(&m, probe));
	}
	assert_null(cairn_strmap_get(&m, "we"));
	assert_null(cairn_strmap_get(&m, "webb"));
	assert_false(cairn_strmap_has(&m, "WEB"));

	/* replacing returns the old value and keeps the count */
	assert_ptr_equal(cairn_strmap_put(&m, "db", &other), &vals[1]);
	assert_int_equal(m.n, ARRAY_SIZE(keys));
	assert_ptr_equal(cairn_strmap_get(&m, "db"), &other);

	/* a NULL value is stored: has() tells it from absence */
	assert_ptr_equal(cairn_strmap_put(&m, "web", NULL), &vals[0]);
	assert_null(cairn_strmap_get(&m, "web"));
	assert_true(cairn_strmap_has(&m, "web"));
	cairn_strmap_release(&m);
}

/* Grows from empty to 100,000 keys; every key stays reachable and keeps its
 * value, and the load factor stays below 3/4. */
static void test_strmap_growth(void **state)
{
	enum { N = 100000 };
	struct cairn_strmap m = CAIRN_STRMAP_INIT;
	char **keys = xcalloc(N, sizeof(*keys));

	(void)state;
	for (size_t i = 0; i < N; i++) {
		keys[i] = xasprintf("node.web-%zu[%zu]", i % 977, i);
		assert_null(cairn_strmap_put(&m, keys[i], (void *)(uintptr_t)(i + 1)));
	}
	assert_int_equal(m.n, N);
	assert_true(m.n * 4 <= m.cap * 3);
	assert_int_equal(m.cap & (m.cap - 1), 0);   /* a power of two */
	for (size_t i = 0; i < N; i++) {
		char probe[64];

		snprintf(probe, sizeof(probe), "node.web-%zu[%zu]", i % 977, i);
		assert_int_equal((uintptr_t)cairn_strmap_get(&m, probe), i + 1);
	}
	assert_null(cairn_strmap_get(&m, "node.web-0[100000]"));
	/* replace every other one after growth */
	for (size_t i = 0; i < N; i += 2)
		assert_int_equal((uintptr_t)cairn_strmap_put(&m, keys[i], (void *)(uintptr_t)7), i + 1);
	assert_int_equal(m.n, N);
	for (size_t i = 0; i < N; i++)
		assert_int_equal((uintptr_t)cairn_strmap_get(&m, keys[i]), i % 2 ? i + 1 : 7);
	cairn_strmap_release(&m);
	for (size_t i = 0; i < N; i++)
		free(keys[i]);
	free(keys);
}

/* ---- arena -------------------------------------------------------------------- */

static void test_arena_alignment_and_zeroing(void **state)
{
	static const size_t sizes[] = { 1, 3, 7, 8, 15, 16, 17, 31, 33, 100, 0, 1, 4095, 5 };
	struct cairn_arena a = CAIRN_ARENA_INIT;
	size_t asked = 0;

	(void)state;
	for (int round = 0; round < 200; round++) {
		for (size_t i = 0; i < ARRAY_SIZE(sizes); i++) {
			unsigned char *p = cairn_arena_alloc(&a, sizes[i]);

			asked += sizes[i];

			assert_non_null(p);
			assert_int_equal((uintptr_t)p % sizeof(void *), 0);
			for (size_t k = 0; k < sizes[i]; k++)
				assert_int_equal(p[k], 0);
			/* dirty it, so a reused byte would show up as non-zero */
			memset(p, 0xA5, sizes[i]);
		}
	}
	assert_true(a.used >= asked);
	cairn_arena_release(&a);
	assert_null(a.head);
	assert_int_equal(a.used, 0);
	/* usable again after release */
	assert_non_null(cairn_arena_alloc(&a, 10));
	cairn_arena_release(&a);
}

/* Allocations do not overlap: each one keeps what was written into it. */
static void test_arena_no_overlap(void **state)
{
	enum { N = 20000 };
	struct cairn_arena a = CAIRN_ARENA_INIT;
	unsigned char **p = xcalloc(N, sizeof(*p));

	(void)state;
	for (size_t i = 0; i < N; i++) {
		size_t n = 1 + i % 61;

		p[i] = cairn_arena_alloc(&a, n);
		memset(p[i], (int)(i & 0xFF), n);
	}
	for (size_t i = 0; i < N; i++)
		for (size_t k = 0; k < 1 + i % 61; k++)
			assert_int_equal(p[i][k], i & 0xFF);
	free(p);
	cairn_arena_release(&a);
}

/* Big allocations (larger than a block) get their own block and do not
 * waste the current one: small allocations before and after stay valid. */
static void test_arena_large(void **state)
{
	static const size_t big[] = { 16 * 1024 + 1, 64 * 1024, 64 * 1024 + 1, 1 << 20, 10 << 20 };
	struct cairn_arena a = CAIRN_ARENA_INIT;
	char *small1, *small2;

	(void)state;
	small1 = cairn_arena_strndup(&a, "before", 6);
	for (size_t i = 0; i < ARRAY_SIZE(big); i++) {
		unsigned char *p = cairn_arena_alloc(&a, big[i]);

		assert_int_equal((uintptr_t)p % sizeof(void *), 0);
		assert_int_equal(p[0], 0);
		assert_int_equal(p[big[i] - 1], 0);
		assert_int_equal(p[big[i] / 2], 0);
		memset(p, 0xFF, big[i]);
	}
	small2 = cairn_arena_strndup(&a, "after", 5);
	assert_string_equal(small1, "before");
	assert_string_equal(small2, "after");
	assert_true(a.used >= (10 << 20) + (1 << 20));
	/* a big one as the very first allocation */
	{
		struct cairn_arena b = CAIRN_ARENA_INIT;
		unsigned char *p = cairn_arena_alloc(&b, 1 << 20);

		assert_int_equal(p[(1 << 20) - 1], 0);
		assert_string_equal(cairn_arena_strndup(&b, "x", 1), "x");
		cairn_arena_release(&b);
	}
	cairn_arena_release(&a);
}

static void test_arena_strndup(void **state)
{
	struct cairn_arena a = CAIRN_ARENA_INIT;
	const char text[] = "hello, world";
	char *s;

	(void)state;
	s = cairn_arena_strndup(&a, text, 5);
	assert_string_equal(s, "hello");
	s = cairn_arena_strndup(&a, text, 0);
	assert_string_equal(s, "");
	/* embedded NUL: n bytes are copied, then a terminator */
	s = cairn_arena_strndup(&a, "a\0b", 3);
	assert_int_equal(s[0], 'a');
	assert_int_equal(s[1], '\0');
	assert_int_equal(s[2], 'b');
	assert_int_equal(s[3], '\0');
	cairn_arena_release(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_strmap_empty),
		cmocka_unit_test(test_strmap_put_get_replace),
		cmocka_unit_test(test_strmap_growth),
		cmocka_unit_test(test_arena_alignment_and_zeroing),
		cmocka_unit_test(test_arena_no_overlap),
		cmocka_unit_test(test_arena_large),
		cmocka_unit_test(test_arena_strndup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
