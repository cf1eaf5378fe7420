/*
 * Unit tests for the state store (src/state): the SQLite backend through the
 * public interface of cairn/store.h, each test in a fresh temporary
 * directory.  Raw SQLite is used only to fake what cairn never writes itself
 * (a future schema version, a foreign database).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "util/common.h"

#include <errno.h>
#include <ftw.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cairn/store.h"
#include "util/jsonutil.h"

struct fixture {
	char *dir;     /* the temporary directory */
	char *path;    /* dir/state/cairn.db: its parent does not exist yet */
};

static int setup(void **state)
{
	const char *tmp = getenv("TMPDIR");
	struct fixture *f = xcalloc(1, sizeof(*f));

	f->dir = xasprintf("%s/cairn-test-store-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(f->dir)) {
		fprintf(stderr, "mkdtemp %s: %s\n", f->dir, strerror(errno));
		free(f->dir);
		free(f);
		return -1;
	}
	f->path = xasprintf("%s/state/cairn.db", f->dir);
	*state = f;
	return 0;
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	int ret = nftw(f->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);

	free(f->dir);
	free(f->path);
	free(f);
	return ret;
}

static struct cairn_store *open_store(const char *location, unsigned flags)
{
	struct cairn_error err = CAIRN_ERROR_INIT;
	struct cairn_store *st = NULL;

	if (cairn_store_open(location, flags, &st, &err) < 0)
		fail_msg("cannot open store '%s': %s", location, err.message);
	assert_non_null(st);
	return st;
}

/* Fail the test with the store's message when a call failed. */
#define OK(call)                                                             \
	do {                                                                 \
		struct cairn_error ok_err_ = CAIRN_ERROR_INIT;               \
		if ((call) < 0) {                                            \
			fail_msg("%s: %s", #call, ok_err_.message);          \
		}                                                            \
		cairn_error_release(&ok_err_);                               \
	} while (0)
#define E (&ok_err_)

/* Expect call to fail with code; returns nothing, checks the message set. */
#define FAILS(code_, call)                                                   \
	do {                                                                 \
		struct cairn_error ok_err_ = CAIRN_ERROR_INIT;               \
		assert_int_equal((call), -1);                                \
		assert_non_null(ok_err_.message);                            \
		assert_int_equal(ok_err_.code, (code_));                     \
		cairn_error_release(&ok_err_);                               \
	} while (0)

static int64_t raw_int(const char *path, const char *sql)
{
	sqlite3 *db;
	sqlite3_stmt *q;
	int64_t v = -1;

	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &q, NULL), SQLITE_OK);
	if (sqlite3_step(q) == SQLITE_ROW)
		v = sqlite3_column_int64(q, 0);
	sqlite3_finalize(q);
	sqlite3_close(db);
	return v;
}

static void raw_exec(const char *path, const char *sql)
{
	sqlite3 *db;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

/* A resource record over borrowed strings; desired is built from a JSON
 * text and must be json_decref()ed by the caller (put_resource does). */
static void put_resource(struct cairn_store *st, const char *stack,
			 const char *address, const char *desired_json,
			 enum cairn_resource_status status)
{
	struct cairn_resource_record r = { 0 };

	r.address = (char *)address;
	r.kind = "node";
	r.type = "process";
	r.provider = "local";
	r.cairn_id = "0f8fad5b-d9cb-469f-a165-70867728950e";
	r.desired = json_loads(desired_json, 0, NULL);
	assert_non_null(r.desired);
	r.observed = json_pack("{s:i}", "pid", 42);
	r.status = status;
	OK(cairn_store_resource_put(st, stack, &r, E));
	json_decref(r.desired);
	json_decref(r.observed);
}

static int64_t serial_of(struct cairn_store *st, const char *stack)
{
	struct cairn_stack_record s;
	int64_t v;

	OK(cairn_store_stack_get(st, stack, &s, E));
	v = s.serial;
	cairn_stack_record_release(&s);
	return v;
}

/* ---- the tests ------------------------------------------------------------- */

static void test_open_creates_and_migrates(void **state)
{
	struct fixture *f = *state;
	struct cairn_store *st;
	struct stat sb;
	char *dir = xasprintf("%s/state", f->dir);
	char *loc = xasprintf("sqlite:%s", f->path);

	st = open_store(loc, 0);
	assert_int_equal(cairn_store_schema_version(st), cairn_store_schema_version(NULL));
	assert_int_equal(cairn_store_schema_version(st), 1);
	cairn_store_close(st);

	assert_int_equal(stat(dir, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0700);
	assert_int_equal(stat(f->path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);

	assert_int_equal(raw_int(f->path, "PRAGMA user_version"), 1);
	assert_int_equal(raw_int(f->path, "PRAGMA application_id"), 0x6361726e);
	assert_int_equal(raw_int(f->path,
		"SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN"
		" ('stacks', 'designs', 'resources', 'pools')"), 4);
	assert_int_equal(raw_int(f->path,
		"SELECT journal_mode = 'wal' FROM pragma_journal_mode"), 1);
	free(dir);
	free(loc);
}

static void test_reopen_keeps_data(void **state)
{
	struct fixture *f = *state;
	struct cairn_store *st = open_store(f->path, 0);
	struct cairn_stack_record a, b;

	OK(cairn_store_stack_ensure(st, "web", &a, E));
	put_resource(st, "web", "node.a", "{\"image\": \"x\"}", CAIRN_RS_READY);
	cairn_store_close(st);

	st = open_store(f->path, 0);
	OK(cairn_store_stack_get(st, "web", &b, E));
	assert_string_equal(a.lineage, b.lineage);
	assert_int_equal(b.serial, 1);
	assert_int_equal(b.nresources, 1);
	assert_int_equal(cairn_store_schema_version(st), 1);
	cairn_store_close(st);

	/* Read-only sees the same. */
	st = open_store(f->path, CAIRN_STORE_READONLY);
	cairn_stack_record_release(&b);
	OK(cairn_store_stack_get(st, "web", &b, E));
	assert_string_equal(a.lineage, b.lineage);
	FAILS(CAIRN_E_STATE, cairn_store_resource_delete(st, "web", "node.a", E));
	FAILS(CAIRN_E_STATE, cairn_store_stack_delete(st, "web", E));
	cairn_store_close(st);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM resources"), 1);

	cairn_stack_record_release(&a);
	cairn_stack_record_release(&b);
}

static void test_empty_file_is_migrated(void **state)
{
	struct fixture *f = *state;
	char *file = xasprintf("%s/empty.db", f->dir);
	struct cairn_store *st;
	struct cairn_stack_record *v = NULL;
	size_t n = 9;
	FILE *fp = fopen(file, "w");

	assert_non_null(fp);
	fclose(fp);
	/* Read-only: an empty file is an empty store, and stays empty. */
	st = open_store(file, CAIRN_STORE_READONLY);
	OK(cairn_store_stack_list(st, &v, &n, E));
	assert_int_equal(n, 0);
	cairn_store_close(st);
	assert_int_equal(raw_int(file, "PRAGMA user_version"), 0);

	st = open_store(file, 0);
	assert_int_equal(cairn_store_schema_version(st), 1);
	cairn_store_close(st);
	assert_int_equal(raw_int(file, "PRAGMA user_version"), 1);
	free(file);
}

static void test_readonly_missing_writes_nothing(void **state)
{
	struct fixture *f = *state;
	struct cairn_store *st = open_store(f->path, CAIRN_STORE_READONLY);
	struct cairn_stack_record *sv = NULL, s;
	struct cairn_resource_record *rv = NULL, r;
	struct cairn_pool_record *pv = NULL;
	char *dir = xasprintf("%s/state", f->dir);
	struct stat sb;
	json_t *doc = NULL, *design = NULL;
	size_t n = 7;

	assert_int_equal(cairn_store_schema_version(st), 1);
	OK(cairn_store_stack_list(st, &sv, &n, E));
	assert_int_equal(n, 0);
	assert_null(sv);
	OK(cairn_store_resource_list(st, "web", &rv, &n, E));
	assert_int_equal(n, 0);
	OK(cairn_store_pool_list(st, &pv, &n, E));
	assert_int_equal(n, 0);
	FAILS(CAIRN_E_NOTFOUND, cairn_store_stack_get(st, "web", &s, E));
	FAILS(CAIRN_E_NOTFOUND, cairn_store_resource_get(st, "web", "node.a", &r, E));
	FAILS(CAIRN_E_NOTFOUND, cairn_store_design_get(st, "web", &design, E));
	FAILS(CAIRN_E_STATE, cairn_store_stack_ensure(st, "web", &s, E));
	FAILS(CAIRN_E_STATE, cairn_store_pool_put(st, "gpu", NULL, NULL, E));
	OK(cairn_store_export(st, NULL, &doc, E));
	assert_int_equal(json_array_size(json_object_get(doc, "stacks")), 0);
	json_decref(doc);
	cairn_store_close(st);

	assert_int_equal(stat(dir, &sb), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(stat(f->path, &sb), -1);
	free(dir);
}

static void test_stacks(void **state)
{
	struct fixture *f = *state;
	struct cairn_store *st = open_store(f->path, 0);
	struct cairn_stack_record a, again, *v = NULL;
	size_t n = 0;

	OK(cairn_store_stack_ensure(st, "web", &a, E));
	assert_string_equal(a.name, "web");
	assert_int_equal(strlen(a.lineage), 36);
	assert_int_equal(a.lineage[14], '4');      /* a version-4 UUID */
	assert_int_equal(a.serial, 0);
	assert_int_equal(a.design_version, 0);
	assert_int_equal(a.nresources, 0);
	assert_int_equal(strlen(a.created_at), 20);
	assert_int_equal(a.created_at[19], 'Z');
	assert_string_equal(a.created_at, a.updated_at);

	/* Ensuring again changes nothing: the lineage is stable. */
	OK(cairn_store_stack_ensure(st, "web", &again, E));
	assert_string_equal(again.lineage, a.lineage);
	assert_string_equal(again.created_at, a.created_at);
	cairn_stack_record_release(&again);

	OK(cairn_store_stack_ensure(st, "db", &again, E));
	assert_string_not_equal(again.lineage, a.lineage);
	cairn_stack_record_release(&again);
	OK(cairn_store_stack_ensure(st, "cache", &again, E));
	cairn_stack_record_release(&again);

	OK(cairn_store_stack_list(st, &v, &n, E));
	assert_int_equal(n, 3);
	assert_string_equal(v[0].name, "cache");
	assert_string_equal(v[1].name, "db");
	assert_string_equal(v[2].name, "web");
	assert_string_equal(v[2].lineage, a.lineage);
	cairn_stack_record_list_free(v, n);

	OK(cairn_store_stack_get(st, "web", &again, E));
	assert_string_equal(again.lineage, a.lineage);
	cairn_stack_record_release(&again);

	FAILS(CAIRN_E_NOTFOUND, cairn_store_stack_get(st, "nope", &again, E));
	FAILS(CAIRN_E_INVALID, cairn_store_stack_get(st, "", &again, E));
	FAILS(CAIRN_E_NOTFOUND, cairn_store_stack_delete(st, "nope", E));

	/* Deleting takes resources and designs along. */
	put_resource(st, "db", "node.pg", "{\"pool\": \"fast\"}", CAIRN_RS_READY);
	json_t *d = json_pack("{s:s}", "name", "db");
	OK(cairn_store_design_put(st, "db", d, NULL, E));
	json_decref(d);
	OK(cairn_store_stack_delete(st, "db", E));
	FAILS(CAIRN_E_NOTFOUND, cairn_store_stack_get(st, "db", &again, E));
	OK(cairn_store_stack_list(st, &v, &n, E));
	assert_int_equal(n, 2);
	cairn_stack_record_list_free(v, n);
	cairn_store_close(st);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM resources"), 0);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM designs"), 0);

	/* A re-created stack gets a new lineage. */
	st = open_store(f->path, 0);
	OK(cairn_store_stack_ensure(st, "db", &again, E));
	assert_int_equal(again.serial, 0);
	cairn_stack_record_release(&again);
	OK(cairn_store_stack_get(st, "web", &again, E));
	assert_string_equal(again.lineage, a.lineage);
	cairn_stack_record_release(&again);
	cairn_store_close(st);
	cairn_stack_record_release(&a);
}

static void test_serial(void **state)
{
	struct fixture *f = *state;
	struct cairn_store *st = open_store(f->path, 0);
	struct cairn_stack_record s;
	char *lineage;

	OK(cairn_store_stack_ensure(st, "web", &s, E));
	lineage = xstrdup(s.lineage);
	cairn_stack_record_release(&s);
	assert_int_equal(serial_of(st, "web"), 0);

	put_resource(st, "web", "node.a", "{\"v\": 1}", CAIRN_RS_READY);
	assert_int_equal(serial_of(st, "web"), 1);
	put_resource(st, "web", "node.b", "{\"v\": 1}", CAIRN_RS_READY);
	assert_int_equal(serial_of(st, "web"), 2);
	put_resource(st, "web", "node.a", "{\"v\": 2}", CAIRN_RS_READY);
	assert_int_equal(serial_of(st, "web"), 3);
	OK(cairn_store_resource_delete(st, "web", "node.a", E));
	assert_int_equal(serial_of(st, "web"), 4);
	/* Deleting what is not there is no error, and no write. */
	OK(cairn_store_resource_delete(st, "web", "node.a", E));
	assert_int_equal(serial_of(st, "web"), 4);
	OK(cairn_store_resource_delete(st, "nostack", "node.a", E));

	/* Designs and other stacks do not move the serial. */
	json_t *d = json_pack("{s:i}", "nodes", 3);
	OK(cairn_store_design_put(st, "web", d, NULL, E));
	json_decref(d);
	OK(cairn_store_stack_ensure(st, "other", &s, E));
	cairn_stack_record_release(&s);
	put_resource(st, "other", "node.x", "{}", CAIRN_RS_READY);
	assert_int_equal(serial_of(st, "web"), 4);
	assert_int_equal(serial_of(st, "other"), 1);
	cairn_store_close(st);

	st = open_store(f->path, 0);
	OK(cairn_store_stack_get(st, "web", &s, E));
	assert_int_equal(s.serial, 4);
	assert_string_equal(s.lineage, lineage);
	assert_int_equal(s.nresources, 1);
	cairn_stack_record_release(&s);
	cairn_store_close(st);
	free(lineage);
}

static void test_designs(void **state)
{
	struct fixture *f = *state;
	struct cairn_store *st = open_store(f->path, 0);
	struct cairn_stack_record s;
	json_t *d1 = json_loads("{\"b\": 2, \"a\": [1, 2]}", 0, NULL);
	json_t *d1_reordered = json_loads("{\"a\": [1, 2], \"b\": 2}", 0, NULL);
	json_t *d2 = json_loads("{\"a\": [1, 2, 3], \"b\": 2}", 0, NULL);
	json_t *got = NULL;
	int64_t version = -1;

	FAILS(CAIRN_E_NOTFOUND, cairn_store_design_put(st, "web", d1, &version, E));
	FAILS(CAIRN_E_NOTFOUND, cairn_store_design_get(st, "web", &got, E));
	OK(cairn_store_stack_ensure(st, "web", &s, E));
	cairn_stack_record_release(&s);
	FAILS(CAIRN_E_NOTFOUND, cairn_store_design_get(st, "web", &got, E));
	assert_null(got);

	OK(cairn_store_design_put(st, "web", d1, &version, E));
	assert_int_equal(version, 1);
	/* Same content, other key order: same canonical hash, no new version. */
	OK(cairn_store_design_put(st, "web", d1_reordered, &version, E));
	assert_int_equal(version, 1);
	OK(cairn_store_design_put(st, "web", d2, &version, E));
	assert_int_equal(version, 2);
	OK(cairn_store_design_put(st, "web", d2, NULL, E));
	/* Going back to an older content is a new version. */
	OK(cairn_store_design_put(st, "web", d1, &version, E));
	assert_int_equal(version, 3);

	OK(cairn_store_design_get(st, "web", &got, E));
	assert_true(json_equal(got, d1));
	json_decref(got);

	OK(cairn_store_stack_get(st, "web", &s, E));
	assert_int_equal(s.design_version, 3);
	assert_int_equal(s.serial, 0);
	cairn_stack_record_release(&s);
	cairn_store_close(st);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM designs"), 3);

	json_decref(d1);
	json_decref(d1_reordered);
	json_decref(d2);
}

static void test_resources(void **state)
{
	struct fixture *f = *state;
	struct cairn_store *st = open_store(f->path, 0);
	struct cairn_stack_record s;
	struct cairn_resource_record r, *v = NULL, bad = { 0 };
	char hash[CAIRN_HASH_LEN];
	json_t *want;
	size_t n = 0;

	bad.address = "node.z";
	bad.kind = "node";
	bad.type = "process";
	bad.desired = json_object();
	FAILS(CAIRN_E_NOTFOUND, cairn_store_resource_put(st, "web", &bad, E));
	OK(cairn_store_stack_ensure(st, "web", &s, E));
	cairn_stack_record_release(&s);
	bad.kind = NULL;
	FAILS(CAIRN_E_INVALID, cairn_store_resource_put(st, "web", &bad, E));
	bad.kind = "node";
	bad.status = (enum cairn_resource_status)17;
	FAILS(CAIRN_E_INVALID, cairn_store_resource_put(st, "web", &bad, E));
	json_decref(bad.desired);

	put_resource(st, "web", "node.web[2]", "{\"memory\": 512, \"image\": \"deb\"}",
		     CAIRN_RS_READY);
	put_resource(st, "web", "network.lan", "{\"cidr\": \"10.0.0.0/24\"}",
		     CAIRN_RS_TAINTED);
	put_resource(st, "web", "node.web[10]", "{}", CAIRN_RS_FAILED);
	put_resource(st, "web", "volume.data", "[1, \"x\"]", CAIRN_RS_GONE);

	OK(cairn_store_resource_get(st, "web", "node.web[2]", &r, E));
	assert_string_equal(r.address, "node.web[2]");
	assert_string_equal(r.kind, "node");
	assert_string_equal(r.type, "process");
	assert_string_equal(r.provider, "local");
	assert_string_equal(r.cairn_id, "0f8fad5b-d9cb-469f-a165-70867728950e");
	want = json_loads("{\"image\": \"deb\", \"memory\": 512}", 0, NULL);
	assert_true(json_equal(r.desired, want));
	cairn_json_hash(want, hash);
	assert_string_equal(r.desired_hash, hash);
	json_decref(want);
	assert_int_equal(json_integer_value(json_object_get(r.observed, "pid")), 42);
	assert_int_equal(r.status, CAIRN_RS_READY);
	assert_non_null(r.created_at);
	assert_non_null(r.updated_at);

	/* Replacing keeps created_at, takes everything else; NULL observed. */
	r.status = CAIRN_RS_TAINTED;
	json_decref(r.observed);
	r.observed = NULL;
	free(r.desired_hash);
	r.desired_hash = xstrdup("b2:given-by-caller");
	OK(cairn_store_resource_put(st, "web", &r, E));
	cairn_resource_record_release(&r);
	OK(cairn_store_resource_get(st, "web", "node.web[2]", &r, E));
	assert_int_equal(r.status, CAIRN_RS_TAINTED);
	assert_null(r.observed);
	assert_string_equal(r.desired_hash, "b2:given-by-caller");
	cairn_resource_record_release(&r);

	OK(cairn_store_resource_list(st, "web", &v, &n, E));
	assert_int_equal(n, 4);
	/* By address, byte order. */
	assert_string_equal(v[0].address, "network.lan");
	assert_string_equal(v[1].address, "node.web[10]");
	assert_string_equal(v[2].address, "node.web[2]");
	assert_string_equal(v[3].address, "volume.data");
	assert_int_equal(v[0].status, CAIRN_RS_TAINTED);
	assert_int_equal(v[1].status, CAIRN_RS_FAILED);
	assert_int_equal(v[3].status, CAIRN_RS_GONE);
	assert_true(json_is_array(v[3].desired));
	cairn_resource_record_list_free(v, n);

	OK(cairn_store_resource_delete(st, "web", "node.web[10]", E));
	FAILS(CAIRN_E_NOTFOUND, cairn_store_resource_get(st, "web", "node.web[10]", &r, E));
	OK(cairn_store_resource_list(st, "web", &v, &n, E));
	assert_int_equal(n, 3);
	cairn_resource_record_list_free(v, n);

	OK(cairn_store_resource_list(st, "unknown", &v, &n, E));
	assert_int_equal(n, 0);
	assert_null(v);
	cairn_store_close(st);
}

static void test_status_names(void **state)
{
	static const char *const names[] = { "ready", "tainted", "failed", "gone" };

	(void)state;
	for (int i = CAIRN_RS_READY; i <= CAIRN_RS_GONE; i++) {
		assert_string_equal(cairn_resource_status_name(i), names[i]);
		assert_int_equal(cairn_resource_status_parse(names[i]), i);
	}
	assert_int_equal(cairn_resource_status_parse("Ready"), -1);
	assert_int_equal(cairn_resource_status_parse(""), -1);
	assert_int_equal(cairn_resource_status_parse(NULL), -1);
	assert_string_equal(cairn_resource_status_name((enum cairn_resource_status)99),
			    "unknown");
}

static void test_pools(void **state)
{
	struct fixture *f = *state;
	struct cairn_store *st = open_store(f->path, 0);
	struct cairn_stack_record s;
	struct cairn_pool_record p, *v = NULL;
	size_t n = 0;

	OK(cairn_store_pool_put(st, "fast", "NVMe hosts", "web", E));
	OK(cairn_store_pool_put(st, "bulk", NULL, NULL, E));
	OK(cairn_store_pool_get(st, "fast", &p, E));
	assert_string_equal(p.name, "fast");
	assert_string_equal(p.description, "NVMe hosts");
	assert_string_equal(p.stack, "web");
	assert_int_equal(p.members, 0);
	assert_non_null(p.created_at);
	cairn_pool_record_release(&p);

	/* Updating changes the description, never the creator. */
	OK(cairn_store_pool_put(st, "fast", "SSD hosts", "other", E));
	OK(cairn_store_pool_get(st, "fast", &p, E));
	assert_string_equal(p.description, "SSD hosts");
	assert_string_equal(p.stack, "web");
	cairn_pool_record_release(&p);

	OK(cairn_store_stack_ensure(st, "web", &s, E));
	cairn_stack_record_release(&s);
	OK(cairn_store_stack_ensure(st, "db", &s, E));
	cairn_stack_record_release(&s);
	put_resource(st, "web", "node.a", "{\"pool\": \"fast\"}", CAIRN_RS_READY);
	put_resource(st, "db", "node.b", "{\"pool\": \"fast\", \"x\": 1}", CAIRN_RS_READY);
	put_resource(st, "db", "node.c", "{\"pool\": \"fastest\"}", CAIRN_RS_READY);
	put_resource(st, "db", "node.d", "[\"fast\"]", CAIRN_RS_READY);

	OK(cairn_store_pool_list(st, &v, &n, E));
	assert_int_equal(n, 2);
	assert_string_equal(v[0].name, "bulk");
	assert_null(v[0].description);
	assert_null(v[0].stack);
	assert_int_equal(v[0].members, 0);
	assert_string_equal(v[1].name, "fast");
	assert_int_equal(v[1].members, 2);
	cairn_pool_record_list_free(v, n);

	FAILS(CAIRN_E_CONFLICT, cairn_store_pool_delete(st, "fast", E));
	FAILS(CAIRN_E_NOTFOUND, cairn_store_pool_delete(st, "nope", E));
	FAILS(CAIRN_E_NOTFOUND, cairn_store_pool_get(st, "nope", &p, E));
	OK(cairn_store_pool_delete(st, "bulk", E));

	OK(cairn_store_resource_delete(st, "web", "node.a", E));
	OK(cairn_store_pool_get(st, "fast", &p, E));
	assert_int_equal(p.members, 1);
	cairn_pool_record_release(&p);
	OK(cairn_store_stack_delete(st, "db", E));
	OK(cairn_store_pool_delete(st, "fast", E));
	OK(cairn_store_pool_list(st, &v, &n, E));
	assert_int_equal(n, 0);
	cairn_store_close(st);
}

/* A store with two stacks, designs, resources and pools, for export tests. */
static void fill(struct cairn_store *st)
{
	struct cairn_stack_record s;
	json_t *d;

	OK(cairn_store_stack_ensure(st, "web", &s, E));
	cairn_stack_record_release(&s);
	OK(cairn_store_stack_ensure(st, "db", &s, E));
	cairn_stack_record_release(&s);
	d = json_pack("{s:s, s:i}", "name", "web", "nodes", 2);
	OK(cairn_store_design_put(st, "web", d, NULL, E));
	json_decref(d);
	d = json_pack("{s:s, s:i}", "name", "web", "nodes", 3);
	OK(cairn_store_design_put(st, "web", d, NULL, E));
	json_decref(d);
	put_resource(st, "web", "node.web[0]", "{\"pool\": \"fast\", \"memory\": 512}",
		     CAIRN_RS_READY);
	put_resource(st, "web", "node.web[1]", "{\"memory\": 512}", CAIRN_RS_TAINTED);
	put_resource(st, "db", "node.pg", "{\"pool\": \"slow\"}", CAIRN_RS_FAILED);
	OK(cairn_store_resource_delete(st, "web", "node.web[1]", E));
	put_resource(st, "web", "node.web[1]", "{\"memory\": 1024}", CAIRN_RS_GONE);
	OK(cairn_store_pool_put(st, "fast", "quick ones", NULL, E));
	OK(cairn_store_pool_put(st, "slow", NULL, "db", E));
	OK(cairn_store_pool_put(st, "spare", NULL, NULL, E));
}

static void test_export_import(void **state)
{
	struct fixture *f = *state;
	struct cairn_store *st = open_store(f->path, 0);
	struct cairn_store *fresh;
	struct cairn_stack_record s;
	json_t *doc = NULL, *again = NULL, *one = NULL, *web;
	char *copy = xasprintf("%s/copy/state.db", f->dir);

	fill(st);
	OK(cairn_store_export(st, NULL, &doc, E));
	assert_string_equal(cairn_json_str(doc, "format"), "cairn-state");
	assert_int_equal(json_integer_value(json_object_get(doc, "version")), 1);
	assert_int_equal(json_array_size(json_object_get(doc, "stacks")), 2);
	assert_int_equal(json_array_size(json_object_get(doc, "pools")), 3);
	web = json_array_get(json_object_get(doc, "stacks"), 1);
	assert_string_equal(cairn_json_str(web, "name"), "web");
	assert_int_equal(json_integer_value(json_object_get(web, "serial")), 4);
	assert_int_equal(json_array_size(json_object_get(web, "designs")), 2);
	assert_int_equal(json_array_size(json_object_get(web, "resources")), 2);

	/* Into a fresh store: the same document comes back out. */
	fresh = open_store(copy, 0);
	OK(cairn_store_import(fresh, doc, E));
	OK(cairn_store_export(fresh, NULL, &again, E));
	if (!json_equal(doc, again)) {
		char *a = cairn_json_canonical(doc), *b = cairn_json_canonical(again);

		fail_msg("export differs after import:\n%s\n%s", a, b);
	}
	json_decref(again);
	OK(cairn_store_stack_get(fresh, "web", &s, E));
	assert_int_equal(s.serial, 4);
	assert_int_equal(s.design_version, 2);
	assert_string_equal(s.lineage, cairn_json_str(web, "lineage"));
	cairn_stack_record_release(&s);

	/* Importing over an existing stack replaces it whole. */
	put_resource(fresh, "web", "node.extra", "{}", CAIRN_RS_READY);
	OK(cairn_store_import(fresh, doc, E));
	OK(cairn_store_export(fresh, NULL, &again, E));
	assert_true(json_equal(doc, again));
	json_decref(again);
	cairn_store_close(fresh);

	/* One stack: its own pools and the pools it uses only. */
	OK(cairn_store_export(st, "db", &one, E));
	assert_int_equal(json_array_size(json_object_get(one, "stacks")), 1);
	assert_int_equal(json_array_size(json_object_get(one, "pools")), 1);
	assert_string_equal(cairn_json_str(json_array_get(json_object_get(one, "pools"), 0),
					   "name"), "slow");
	json_decref(one);
	OK(cairn_store_export(st, "web", &one, E));
	assert_int_equal(json_array_size(json_object_get(one, "pools")), 1);
	json_decref(one);
	FAILS(CAIRN_E_NOTFOUND, cairn_store_export(st, "nope", &one, E));
	cairn_store_close(st);

	json_decref(doc);
	free(copy);
}

static void test_import_refuses_bad_documents(void **state)
{
	struct fixture *f = *state;
	struct cairn_store *st = open_store(f->path, 0);
	struct cairn_stack_record s;
	json_t *doc = NULL, *web, *design;
	json_error_t jerr;
	size_t n = 0;
	struct cairn_stack_record *v = NULL;

	fill(st);
	OK(cairn_store_export(st, NULL, &doc, E));

	json_t *bad = json_loads("{\"format\": \"other\", \"version\": 1}", 0, &jerr);
	FAILS(CAIRN_E_INVALID, cairn_store_import(st, bad, E));
	json_decref(bad);
	bad = json_loads("{\"format\": \"cairn-state\", \"version\": 2}", 0, &jerr);
	FAILS(CAIRN_E_INVALID, cairn_store_import(st, bad, E));
	json_decref(bad);

	/* A tampered design body fails its hash, and the whole import is
	 * rolled back: "db", imported before "web" failed, is not there. */
	OK(cairn_store_stack_delete(st, "db", E));
	web = json_array_get(json_object_get(doc, "stacks"), 1);
	design = json_array_get(json_object_get(web, "designs"), 0);
	json_object_set_new(json_object_get(design, "body"), "nodes", json_integer(99));
	{
		struct cairn_error err = CAIRN_ERROR_INIT;

		assert_int_equal(cairn_store_import(st, doc, &err), -1);
		assert_int_equal(err.code, CAIRN_E_INVALID);
		assert_non_null(strstr(err.message, "does not match its hash"));
		cairn_error_release(&err);
	}
	OK(cairn_store_stack_list(st, &v, &n, E));
	assert_int_equal(n, 1);
	assert_string_equal(v[0].name, "web");
	cairn_stack_record_list_free(v, n);

	/* A bad status is refused too, with a NULL err. */
	json_object_set_new(json_object_get(design, "body"), "nodes", json_integer(2));
	json_object_set_new(json_array_get(json_object_get(web, "resources"), 0),
			    "status", json_string("sleepy"));
	assert_int_equal(cairn_store_import(st, doc, NULL), -1);
	OK(cairn_store_stack_get(st, "web", &s, E));
	assert_int_equal(s.nresources, 2);
	cairn_stack_record_release(&s);
	cairn_store_close(st);
	json_decref(doc);
}

static void test_newer_schema_refused(void **state)
{
	struct fixture *f = *state;
	struct cairn_store *st = open_store(f->path, 0);
	struct cairn_error err = CAIRN_ERROR_INIT;

	cairn_store_close(st);
	raw_exec(f->path, "PRAGMA user_version = 99");

	st = (struct cairn_store *)&err;   /* must be reset to NULL */
	assert_int_equal(cairn_store_open(f->path, 0, &st, &err), -1);
	assert_null(st);
	assert_int_equal(err.code, CAIRN_E_STATE);
	assert_non_null(strstr(err.message, "schema version 99"));
	assert_non_null(strstr(err.message, "newer"));
	assert_non_null(err.hint);
	cairn_error_release(&err);

	assert_int_equal(cairn_store_open(f->path, CAIRN_STORE_READONLY, &st, &err), -1);
	assert_int_equal(err.code, CAIRN_E_STATE);
	cairn_error_release(&err);
	/* Nothing was changed by the refusals. */
	assert_int_equal(raw_int(f->path, "PRAGMA user_version"), 99);
}

static void test_foreign_database_refused(void **state)
{
	struct fixture *f = *state;
	char *file = xasprintf("%s/other.db", f->dir);
	struct cairn_store *st = NULL;
	struct cairn_error err = CAIRN_ERROR_INIT;

	raw_exec(file, "CREATE TABLE notes (body TEXT)");
	assert_int_equal(cairn_store_open(file, 0, &st, &err), -1);
	assert_int_equal(err.code, CAIRN_E_STATE);
	assert_non_null(strstr(err.message, "not a cairn state store"));
	cairn_error_release(&err);
	assert_int_equal(raw_int(file, "SELECT count(*) FROM sqlite_master"), 1);
	free(file);
}

static void test_transactions(void **state)
{
	struct fixture *f = *state;
	struct cairn_store *st = open_store(f->path, 0);
	struct cairn_stack_record s;
	struct cairn_resource_record r;

	/* Rolled back: nothing of it remains. */
	OK(cairn_store_begin(st, E));
	OK(cairn_store_stack_ensure(st, "web", &s, E));
	cairn_stack_record_release(&s);
	put_resource(st, "web", "node.a", "{}", CAIRN_RS_READY);
	cairn_store_rollback(st);
	FAILS(CAIRN_E_NOTFOUND, cairn_store_stack_get(st, "web", &s, E));

	/* Nested: only the outer commit commits. */
	OK(cairn_store_begin(st, E));
	OK(cairn_store_stack_ensure(st, "web", &s, E));
	cairn_stack_record_release(&s);
	OK(cairn_store_begin(st, E));
	put_resource(st, "web", "node.a", "{}", CAIRN_RS_READY);
	OK(cairn_store_commit(st, E));
	cairn_store_rollback(st);
	FAILS(CAIRN_E_NOTFOUND, cairn_store_stack_get(st, "web", &s, E));

	/* An inner rollback dooms the whole transaction. */
	OK(cairn_store_begin(st, E));
	OK(cairn_store_stack_ensure(st, "web", &s, E));
	cairn_stack_record_release(&s);
	OK(cairn_store_begin(st, E));
	put_resource(st, "web", "node.a", "{}", CAIRN_RS_READY);
	cairn_store_rollback(st);
	FAILS(CAIRN_E_STATE, cairn_store_pool_put(st, "p", NULL, NULL, E));
	FAILS(CAIRN_E_STATE, cairn_store_commit(st, E));
	FAILS(CAIRN_E_NOTFOUND, cairn_store_stack_get(st, "web", &s, E));
	FAILS(CAIRN_E_INTERNAL, cairn_store_commit(st, E));

	/* A refusal inside a transaction does not doom it. */
	OK(cairn_store_begin(st, E));
	OK(cairn_store_stack_ensure(st, "web", &s, E));
	cairn_stack_record_release(&s);
	FAILS(CAIRN_E_NOTFOUND, cairn_store_stack_delete(st, "nope", E));
	put_resource(st, "web", "node.a", "{}", CAIRN_RS_READY);
	OK(cairn_store_commit(st, E));
	cairn_store_close(st);

	/* Committed means durable: visible to another connection. */
	st = open_store(f->path, CAIRN_STORE_READONLY);
	OK(cairn_store_resource_get(st, "web", "node.a", &r, E));
	assert_string_equal(r.address, "node.a");
	cairn_resource_record_release(&r);
	assert_int_equal(serial_of(st, "web"), 1);
	cairn_store_close(st);

	/* Closing inside a transaction rolls it back. */
	st = open_store(f->path, 0);
	OK(cairn_store_begin(st, E));
	OK(cairn_store_resource_delete(st, "web", "node.a", E));
	cairn_store_close(st);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM resources"), 1);
}

/* Two handles on one file: readers never wait, a second writer gives up
 * after the busy timeout (5 s) with CAIRN_E_CONFLICT. */
static void test_concurrent_handles(void **state)
{
	struct fixture *f = *state;
	struct cairn_store *a = open_store(f->path, 0);
	struct cairn_store *b = open_store(f->path, 0);
	struct cairn_store *ro;
	struct cairn_stack_record s;

	OK(cairn_store_stack_ensure(a, "web", &s, E));
	cairn_stack_record_release(&s);
	OK(cairn_store_begin(a, E));
	put_resource(a, "web", "node.a", "{}", CAIRN_RS_READY);

	/* b reads the last committed state while a holds the write lock. */
	assert_int_equal(serial_of(b, "web"), 0);
	ro = open_store(f->path, CAIRN_STORE_READONLY);
	assert_int_equal(serial_of(ro, "web"), 0);
	FAILS(CAIRN_E_CONFLICT, cairn_store_pool_put(b, "p", NULL, NULL, E));

	OK(cairn_store_commit(a, E));
	assert_int_equal(serial_of(b, "web"), 1);
	assert_int_equal(serial_of(ro, "web"), 1);
	OK(cairn_store_pool_put(b, "p", NULL, NULL, E));
	cairn_store_close(ro);
	cairn_store_close(b);
	cairn_store_close(a);
}

static void test_locations(void **state)
{
	struct fixture *f = *state;
	struct cairn_store *st = NULL;
	struct cairn_error err = CAIRN_ERROR_INIT;
	struct cairn_stack_record s;
	char *loc, *def;

	assert_int_equal(cairn_store_open("postgresql://db/cairn", 0, &st, &err), -1);
	assert_int_equal(err.code, CAIRN_E_UNSUPPORTED);
	assert_string_equal(err.message, "postgresql backend not built yet");
	cairn_error_release(&err);
	assert_int_equal(cairn_store_open("mysql://db/cairn", 0, &st, &err), -1);
	assert_int_equal(err.code, CAIRN_E_UNSUPPORTED);
	cairn_error_release(&err);
	assert_int_equal(cairn_store_open("sqlite:", 0, &st, &err), -1);
	assert_int_equal(err.code, CAIRN_E_INVALID);
	cairn_error_release(&err);

	/* URL form: sqlite:// then an absolute path. */
	loc = xasprintf("sqlite://%s", f->path);
	st = open_store(loc, 0);
	OK(cairn_store_stack_ensure(st, "web", &s, E));
	cairn_stack_record_release(&s);
	cairn_store_close(st);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM stacks"), 1);
	free(loc);

	/* In memory, for tests elsewhere. */
	st = open_store(":memory:", 0);
	OK(cairn_store_stack_ensure(st, "web", &s, E));
	assert_int_equal(s.serial, 0);
	cairn_stack_record_release(&s);
	cairn_store_close(st);

	setenv("CAIRN_STATE", "/x/state.db", 1);
	def = cairn_store_default_location();
	assert_string_equal(def, "/x/state.db");
	free(def);
	unsetenv("CAIRN_STATE");
	setenv("XDG_STATE_HOME", "/xdg", 1);
	def = cairn_store_default_location();
	assert_string_equal(def, "/xdg/cairn/state.db");
	free(def);
	unsetenv("XDG_STATE_HOME");
	setenv("HOME", "/home/u", 1);
	def = cairn_store_default_location();
	assert_string_equal(def, "/home/u/.local/state/cairn/state.db");
	free(def);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_open_creates_and_migrates),
		T(test_reopen_keeps_data),
		T(test_empty_file_is_migrated),
		T(test_readonly_missing_writes_nothing),
		T(test_stacks),
		T(test_serial),
		T(test_designs),
		T(test_resources),
		cmocka_unit_test(test_status_names),
		T(test_pools),
		T(test_export_import),
		T(test_import_refuses_bad_documents),
		T(test_newer_schema_refused),
		T(test_foreign_database_refused),
		T(test_transactions),
		T(test_concurrent_handles),
		T(test_locations),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
