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
#include <signal.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cairn/store.h"
#include "util/clock.h"
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
	assert_int_equal(cairn_store_schema_version(st), 4);
	cairn_store_close(st);

	assert_int_equal(stat(dir, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0700);
	assert_int_equal(stat(f->path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);

	assert_int_equal(raw_int(f->path, "PRAGMA user_version"), 4);
	assert_int_equal(raw_int(f->path, "PRAGMA application_id"), 0x6361726e);
	assert_int_equal(raw_int(f->path,
		"SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN"
		" ('stacks', 'designs', 'resources', 'pools', 'intents', 'tasks',"
		" 'locks', 'lock_fences', 'events', 'outputs', 'plugins', 'secrets',"
		" 'facts')"), 13);
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
	assert_int_equal(cairn_store_schema_version(st), cairn_store_schema_version(NULL));
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
	assert_int_equal(cairn_store_schema_version(st), cairn_store_schema_version(NULL));
	cairn_store_close(st);
	assert_int_equal(raw_int(file, "PRAGMA user_version"), cairn_store_schema_version(NULL));
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

	assert_int_equal(cairn_store_schema_version(st), cairn_store_schema_version(NULL));
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

/* ---- part 2: the journal, tasks, the lock, events, outputs, plugins ---------- */

static void ensure_stack(struct cairn_store *st, const char *name)
{
	struct cairn_stack_record s;

	OK(cairn_store_stack_ensure(st, name, &s, E));
	cairn_stack_record_release(&s);
}

/* An intent over borrowed strings, as the engine fills one in. */
static struct cairn_intent_record intent(const char *stack, const char *address,
					 const char *op, int attempt)
{
	struct cairn_intent_record in = { 0 };

	in.stack = (char *)stack;
	in.address = (char *)address;
	in.op = (char *)op;
	in.kind = "node";
	in.type = "process";
	in.provider = "local";
	in.cairn_id = "7c9e6679-7425-40de-944b-e07fc1f90ae7";
	in.attempt = attempt;
	return in;
}

static int64_t open_intent(struct cairn_store *st, const char *stack,
			   const char *address, const char *op)
{
	struct cairn_intent_record in = intent(stack, address, op, 1);
	int64_t id = 0;

	in.desired = json_pack("{s:i}", "memory", 512);
	OK(cairn_store_intent_open(st, &in, &id, E));
	json_decref(in.desired);
	assert_true(id > 0);
	return id;
}

static void test_intents(void **state)
{
	struct fixture *f = *state;
	struct cairn_store *st = open_store(f->path, 0);
	struct cairn_store *ro;
	struct cairn_intent_record in, *v = NULL;
	int64_t a, b, c, d, id = -1;
	size_t n = 9;

	/* The stack must exist; nothing is written when it does not. */
	in = intent("web", "node.a", "create", 1);
	FAILS(CAIRN_E_NOTFOUND, cairn_store_intent_open(st, &in, &id, E));
	assert_int_equal(id, 0);
	ensure_stack(st, "web");
	ensure_stack(st, "db");
	in.attempt = 0;
	FAILS(CAIRN_E_INVALID, cairn_store_intent_open(st, &in, &id, E));
	in.attempt = 1;
	in.op = "";
	FAILS(CAIRN_E_INVALID, cairn_store_intent_open(st, &in, &id, E));
	in.op = "create";
	in.kind = NULL;
	FAILS(CAIRN_E_INVALID, cairn_store_intent_open(st, &in, &id, E));

	OK(cairn_store_intent_list(st, "web", &v, &n, E));
	assert_int_equal(n, 0);
	assert_null(v);

	a = open_intent(st, "web", "node.b", "create");
	b = open_intent(st, "db", "node.pg", "delete");
	c = open_intent(st, "web", "node.a", "update");
	assert_true(a < b && b < c);

	/* Committed at once: another connection sees it without any commit. */
	ro = open_store(f->path, CAIRN_STORE_READONLY);
	OK(cairn_store_intent_list(ro, "web", &v, &n, E));
	assert_int_equal(n, 2);
	cairn_intent_record_list_free(v, n);
	FAILS(CAIRN_E_STATE, cairn_store_intent_close(ro, a, E));
	in = intent("web", "node.z", "create", 1);
	FAILS(CAIRN_E_STATE, cairn_store_intent_open(ro, &in, &id, E));

	/* Oldest first (by id, not by address), one stack only. */
	OK(cairn_store_intent_list(st, "web", &v, &n, E));
	assert_int_equal(n, 2);
	assert_int_equal(v[0].id, a);
	assert_string_equal(v[0].stack, "web");
	assert_string_equal(v[0].address, "node.b");
	assert_string_equal(v[0].op, "create");
	assert_string_equal(v[0].kind, "node");
	assert_string_equal(v[0].type, "process");
	assert_string_equal(v[0].provider, "local");
	assert_string_equal(v[0].cairn_id, "7c9e6679-7425-40de-944b-e07fc1f90ae7");
	assert_int_equal(v[0].attempt, 1);
	assert_int_equal(json_integer_value(json_object_get(v[0].desired, "memory")), 512);
	assert_null(v[0].observed);
	assert_int_equal(strlen(v[0].created_at), 20);
	assert_int_equal(v[1].id, c);
	assert_string_equal(v[1].address, "node.a");
	cairn_intent_record_list_free(v, n);
	OK(cairn_store_intent_list(st, NULL, &v, &n, E));
	assert_int_equal(n, 3);
	assert_int_equal(v[1].id, b);
	assert_string_equal(v[1].stack, "db");
	cairn_intent_record_list_free(v, n);
	OK(cairn_store_intent_list(st, "nope", &v, &n, E));
	assert_int_equal(n, 0);

	/* Closing: gone from the list; again is harmless; unknown ids are not. */
	OK(cairn_store_intent_close(st, a, E));
	OK(cairn_store_intent_close(st, a, E));
	FAILS(CAIRN_E_NOTFOUND, cairn_store_intent_close(st, c + 100, E));
	FAILS(CAIRN_E_NOTFOUND, cairn_store_intent_close(st, 0, E));
	OK(cairn_store_intent_list(st, "web", &v, &n, E));
	assert_int_equal(n, 1);
	assert_int_equal(v[0].id, c);
	cairn_intent_record_list_free(v, n);

	/* Inside a caller's transaction it commits with it, and only then. */
	OK(cairn_store_begin(st, E));
	d = open_intent(st, "web", "node.c", "create");
	OK(cairn_store_intent_list(ro, "web", &v, &n, E));
	assert_int_equal(n, 1);
	cairn_intent_record_list_free(v, n);
	OK(cairn_store_intent_close(st, c, E));
	OK(cairn_store_commit(st, E));
	OK(cairn_store_intent_list(ro, "web", &v, &n, E));
	assert_int_equal(n, 1);
	assert_int_equal(v[0].id, d);
	cairn_intent_record_list_free(v, n);
	cairn_store_close(ro);

	/* Closed intents stay until the stack's next lock; a stack's deletion
	 * takes all of its own. */
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM intents"), 4);
	OK(cairn_store_stack_delete(st, "db", E));
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM intents"), 3);
	OK(cairn_store_intent_list(st, NULL, &v, &n, E));
	assert_int_equal(n, 1);
	cairn_intent_record_list_free(v, n);
	/* Ids are never reused, even after the newest row went. */
	ensure_stack(st, "tmp");
	id = open_intent(st, "tmp", "node.x", "create");
	OK(cairn_store_stack_delete(st, "tmp", E));
	ensure_stack(st, "db");
	assert_true(open_intent(st, "db", "node.pg", "create") > id);
	cairn_store_close(st);
}

/* A process that opens an intent and is killed: the intent is there. */
static void test_intent_survives_kill(void **state)
{
	struct fixture *f = *state;
	struct cairn_store *st = open_store(f->path, 0);
	struct cairn_intent_record *v = NULL;
	int status = 0;
	size_t n = 0;
	pid_t pid;

	ensure_stack(st, "web");
	cairn_store_close(st);
	pid = fork();
	assert_true(pid >= 0);
	if (!pid) {
		struct cairn_intent_record in = intent("web", "node.a", "create", 1);
		struct cairn_store *cs = NULL;
		int64_t id;

		if (cairn_store_open(f->path, 0, &cs, NULL) < 0 ||
		    cairn_store_intent_open(cs, &in, &id, NULL) < 0)
			_exit(1);
		raise(SIGKILL);     /* no close, no exit handlers */
		_exit(2);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGKILL);

	st = open_store(f->path, 0);
	OK(cairn_store_intent_list(st, "web", &v, &n, E));
	assert_int_equal(n, 1);
	assert_string_equal(v[0].address, "node.a");
	cairn_intent_record_list_free(v, n);
	cairn_store_close(st);
}

static struct cairn_task_record task(const char *stack, const char *address,
				     const char *op, const char *status, int attempts,
				     const char *error)
{
	struct cairn_task_record t = { 0 };

	t.stack = (char *)stack;
	t.address = (char *)address;
	t.op = (char *)op;
	t.status = (char *)status;
	t.attempts = attempts;
	t.last_error = (char *)error;
	return t;
}

static void test_tasks(void **state)
{
	struct fixture *f = *state;
	struct cairn_store *st = open_store(f->path, 0);
	struct cairn_task_record t, got, *v = NULL;
	int64_t a = 0, b = 0, c = 0, again = 0;
	size_t n = 9;

	t = task("web", "node.a", "create", "failed", 5, "provider 'local' timed out");
	FAILS(CAIRN_E_NOTFOUND, cairn_store_task_put(st, &t, &a, E));
	ensure_stack(st, "web");
	ensure_stack(st, "db");
	t.status = "sleepy";
	FAILS(CAIRN_E_INVALID, cairn_store_task_put(st, &t, &a, E));
	t.status = NULL;
	FAILS(CAIRN_E_INVALID, cairn_store_task_put(st, &t, &a, E));
	t.status = "failed";
	t.attempts = -1;
	FAILS(CAIRN_E_INVALID, cairn_store_task_put(st, &t, &a, E));
	t.attempts = 5;

	OK(cairn_store_task_put(st, &t, &a, E));
	t = task("web", "node.b", "create", "blocked", 0, NULL);
	OK(cairn_store_task_put(st, &t, &b, E));
	t = task("db", "node.pg", "delete", "done", 1, NULL);
	OK(cairn_store_task_put(st, &t, &c, E));
	OK(cairn_store_task_put(st, &t, NULL, E));
	assert_true(a > 0 && a < b && b < c);

	OK(cairn_store_task_get(st, a, &got, E));
	assert_int_equal(got.id, a);
	assert_string_equal(got.stack, "web");
	assert_string_equal(got.address, "node.a");
	assert_string_equal(got.op, "create");
	assert_string_equal(got.status, "failed");
	assert_int_equal(got.attempts, 5);
	assert_string_equal(got.last_error, "provider 'local' timed out");
	assert_int_equal(strlen(got.created_at), 20);
	cairn_task_record_release(&got);
	FAILS(CAIRN_E_NOTFOUND, cairn_store_task_get(st, c + 1, &got, E));

	/* One task per (stack, address): a put updates it, same id. */
	t = task("web", "node.a", "replace", "failed", 7, "still failing");
	OK(cairn_store_task_put(st, &t, &again, E));
	assert_int_equal(again, a);
	OK(cairn_store_task_get(st, a, &got, E));
	assert_string_equal(got.op, "replace");
	assert_int_equal(got.attempts, 7);
	assert_string_equal(got.last_error, "still failing");
	cairn_task_record_release(&got);
	t = task("db", "node.a", "create", "failed", 1, NULL);
	OK(cairn_store_task_put(st, &t, &again, E));
	assert_true(again > c);

	OK(cairn_store_task_list(st, "web", false, &v, &n, E));
	assert_int_equal(n, 2);
	assert_int_equal(v[0].id, a);
	assert_int_equal(v[1].id, b);
	assert_null(v[1].last_error);
	cairn_task_record_list_free(v, n);
	OK(cairn_store_task_list(st, "db", true, &v, &n, E));
	assert_int_equal(n, 1);
	assert_string_equal(v[0].address, "node.a");
	cairn_task_record_list_free(v, n);
	OK(cairn_store_task_list(st, NULL, false, &v, &n, E));
	assert_int_equal(n, 4);
	cairn_task_record_list_free(v, n);
	OK(cairn_store_task_list(st, NULL, true, &v, &n, E));
	assert_int_equal(n, 3);
	assert_string_equal(v[2].stack, "db");
	cairn_task_record_list_free(v, n);
	OK(cairn_store_task_list(st, "nope", false, &v, &n, E));
	assert_int_equal(n, 0);

	OK(cairn_store_task_delete(st, "web", "node.a", E));
	OK(cairn_store_task_delete(st, "web", "node.a", E));
	OK(cairn_store_task_delete(st, "nope", "node.a", E));
	FAILS(CAIRN_E_NOTFOUND, cairn_store_task_get(st, a, &got, E));
	OK(cairn_store_task_list(st, "web", false, &v, &n, E));
	assert_int_equal(n, 1);
	cairn_task_record_list_free(v, n);
	OK(cairn_store_stack_delete(st, "db", E));
	OK(cairn_store_task_list(st, NULL, false, &v, &n, E));
	assert_int_equal(n, 1);
	cairn_task_record_list_free(v, n);
	cairn_store_close(st);

	st = open_store(f->path, CAIRN_STORE_READONLY);
	t = task("web", "node.b", "create", "failed", 1, NULL);
	FAILS(CAIRN_E_STATE, cairn_store_task_put(st, &t, NULL, E));
	FAILS(CAIRN_E_STATE, cairn_store_task_delete(st, "web", "node.b", E));
	cairn_store_close(st);
}

/* The message of a lost race, as the user sees it. */
static char *conflict_message(struct cairn_store *st, const char *stack,
			      const char *holder, struct cairn_lock_record *out)
{
	struct cairn_error err = CAIRN_ERROR_INIT;
	char *msg;

	assert_int_equal(cairn_store_lock_acquire(st, stack, holder, 30000, out, &err), -1);
	assert_int_equal(err.code, CAIRN_E_CONFLICT);
	assert_non_null(err.hint);
	msg = xstrdup(err.message);
	cairn_error_release(&err);
	return msg;
}

static void lock_event_count(struct cairn_store *st, const char *stack,
			     const char *kind, size_t want)
{
	json_t *ev = NULL, *e;
	size_t i, n = 0;

	OK(cairn_store_event_list(st, stack, 0, &ev, E));
	json_array_foreach(ev, i, e)
		if (!strcmp(cairn_json_str(e, "kind"), kind))
			n++;
	json_decref(ev);
	assert_int_equal(n, want);
}

static void test_locks(void **state)
{
	struct fixture *f = *state;
	struct cairn_store *a = open_store(f->path, 0);
	struct cairn_store *b = open_store(f->path, 0);
	struct cairn_lock_record lk, other;
	json_t *ev = NULL, *data;
	char since[21], want[128], *msg;
	int64_t t0 = cairn_now_realtime_ms();
	struct tm tm;
	time_t secs;

	FAILS(CAIRN_E_NOTFOUND, cairn_store_lock_acquire(a, "demo", "a", 30000, &lk, E));
	FAILS(CAIRN_E_NOTFOUND, cairn_store_lock_get(a, "demo", &lk, E));
	ensure_stack(a, "demo");
	FAILS(CAIRN_E_NOTFOUND, cairn_store_lock_get(a, "demo", &lk, E));
	FAILS(CAIRN_E_INVALID, cairn_store_lock_acquire(a, "demo", "", 30000, &lk, E));
	FAILS(CAIRN_E_INVALID, cairn_store_lock_acquire(a, "demo", "a", 0, &lk, E));

	OK(cairn_store_lock_acquire(a, "demo", "root@host pid 123", 30000, &lk, E));
	assert_string_equal(lk.stack, "demo");
	assert_string_equal(lk.holder, "root@host pid 123");
	assert_int_equal(lk.fence, 1);
	assert_true(lk.acquired_ms >= t0 && lk.acquired_ms <= cairn_now_realtime_ms());
	assert_int_equal(lk.expires_ms, lk.acquired_ms + 30000);

	/* The loser learns who holds it and since when. */
	msg = conflict_message(b, "demo", "other@host pid 9", &other);
	secs = (time_t)(lk.acquired_ms / 1000);
	gmtime_r(&secs, &tm);
	strftime(since, sizeof(since), "%Y-%m-%dT%H:%M:%SZ", &tm);
	snprintf(want, sizeof(want), "stack 'demo' is locked by root@host pid 123 since %s",
		 since);
	assert_string_equal(msg, want);
	free(msg);
	assert_string_equal(other.holder, "root@host pid 123");
	assert_int_equal(other.fence, 1);
	assert_int_equal(other.acquired_ms, lk.acquired_ms);
	assert_int_equal(other.expires_ms, lk.expires_ms);
	cairn_lock_record_release(&other);
	/* The same holder text is no key either: a live lease is a live lease. */
	msg = conflict_message(a, "demo", "root@host pid 123", &other);
	cairn_lock_record_release(&other);
	free(msg);

	/* Renewing moves the expiry, not the acquisition. */
	usleep(20 * 1000);
	OK(cairn_store_lock_renew(a, "demo", 1, 60000, E));
	OK(cairn_store_lock_get(b, "demo", &other, E));
	assert_int_equal(other.acquired_ms, lk.acquired_ms);
	assert_true(other.expires_ms >= lk.acquired_ms + 60000 + 20);
	cairn_lock_record_release(&other);
	FAILS(CAIRN_E_CONFLICT, cairn_store_lock_renew(b, "demo", 2, 60000, E));
	FAILS(CAIRN_E_INVALID, cairn_store_lock_renew(b, "demo", 0, 60000, E));

	/* Release with a wrong fence leaves it alone; with ours frees it. */
	OK(cairn_store_lock_release(b, "demo", 7, E));
	OK(cairn_store_lock_get(b, "demo", &other, E));
	cairn_lock_record_release(&other);
	OK(cairn_store_lock_release(a, "demo", 1, E));
	OK(cairn_store_lock_release(a, "demo", 1, E));
	FAILS(CAIRN_E_NOTFOUND, cairn_store_lock_get(a, "demo", &other, E));
	{
		struct cairn_error err = CAIRN_ERROR_INIT;

		assert_int_equal(cairn_store_lock_renew(a, "demo", 1, 1000, &err), -1);
		assert_int_equal(err.code, CAIRN_E_CONFLICT);
		assert_string_equal(err.message, "lock 1 of stack 'demo' was released or forced");
		cairn_error_release(&err);
	}
	cairn_lock_record_release(&lk);

	/* Fences rise across releases and forced unlocks. */
	OK(cairn_store_lock_acquire(b, "demo", "b", 30000, &lk, E));
	assert_int_equal(lk.fence, 2);
	FAILS(CAIRN_E_NOTFOUND, cairn_store_lock_force(a, "nope", "admin", E));
	FAILS(CAIRN_E_INVALID, cairn_store_lock_force(a, "demo", "", E));
	OK(cairn_store_lock_force(a, "demo", "admin@host pid 1", E));
	FAILS(CAIRN_E_NOTFOUND, cairn_store_lock_force(a, "demo", "admin@host pid 1", E));
	FAILS(CAIRN_E_CONFLICT, cairn_store_lock_renew(b, "demo", 2, 30000, E));
	cairn_lock_record_release(&lk);
	OK(cairn_store_lock_acquire(a, "demo", "a", 30000, &lk, E));
	assert_int_equal(lk.fence, 3);
	cairn_lock_record_release(&lk);

	/* The forced unlock is on record. */
	OK(cairn_store_event_list(a, "demo", 0, &ev, E));
	assert_int_equal(json_array_size(ev), 1);
	assert_string_equal(cairn_json_str(json_array_get(ev, 0), "kind"), "lock.forced");
	data = json_object_get(json_array_get(ev, 0), "data");
	assert_string_equal(cairn_json_str(data, "by"), "admin@host pid 1");
	assert_string_equal(cairn_json_str(data, "holder"), "b");
	assert_int_equal(json_integer_value(json_object_get(data, "fence")), 2);
	json_decref(ev);

	/* A lease that runs out is anyone's; its old holder has lost it. */
	OK(cairn_store_lock_force(a, "demo", "test", E));
	OK(cairn_store_lock_acquire(a, "demo", "short-lived", 200, &lk, E));
	assert_int_equal(lk.fence, 4);
	if (cairn_now_realtime_ms() < lk.expires_ms - 100) {   /* not on a stalled box */
		FAILS(CAIRN_E_CONFLICT,
		      cairn_store_lock_acquire(b, "demo", "b", 30000, &other, E));
		cairn_lock_record_release(&other);
	}
	while (cairn_now_realtime_ms() <= lk.expires_ms)
		usleep(20 * 1000);
	OK(cairn_store_lock_acquire(b, "demo", "b", 30000, &other, E));
	assert_int_equal(other.fence, 5);
	{
		struct cairn_error err = CAIRN_ERROR_INIT;

		assert_int_equal(cairn_store_lock_renew(a, "demo", lk.fence, 200, &err), -1);
		assert_int_equal(err.code, CAIRN_E_CONFLICT);
		assert_non_null(strstr(err.message, "lock 4 of stack 'demo' was taken over: held by b (lock 5) since "));
		cairn_error_release(&err);
	}
	OK(cairn_store_lock_release(a, "demo", lk.fence, E));
	cairn_lock_record_release(&other);
	OK(cairn_store_lock_get(a, "demo", &other, E));
	assert_int_equal(other.fence, 5);
	cairn_lock_record_release(&other);
	cairn_lock_record_release(&lk);
	lock_event_count(a, "demo", "lock.expired", 1);
	lock_event_count(a, "demo", "lock.forced", 2);

	/* Deleting the stack drops its lock, not its fence count. */
	OK(cairn_store_stack_delete(a, "demo", E));
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM locks"), 0);
	ensure_stack(a, "demo");
	OK(cairn_store_lock_acquire(a, "demo", "a", 30000, &lk, E));
	assert_int_equal(lk.fence, 6);
	cairn_lock_record_release(&lk);
	/* Stacks have their own counts. */
	ensure_stack(a, "other");
	OK(cairn_store_lock_acquire(a, "other", "a", 30000, &lk, E));
	assert_int_equal(lk.fence, 1);
	cairn_lock_record_release(&lk);
	cairn_store_close(b);
	cairn_store_close(a);

	a = open_store(f->path, CAIRN_STORE_READONLY);
	FAILS(CAIRN_E_STATE, cairn_store_lock_acquire(a, "demo", "a", 30000, &lk, E));
	FAILS(CAIRN_E_STATE, cairn_store_lock_renew(a, "demo", 6, 30000, E));
	FAILS(CAIRN_E_STATE, cairn_store_lock_release(a, "demo", 6, E));
	FAILS(CAIRN_E_STATE, cairn_store_lock_force(a, "demo", "x", E));
	OK(cairn_store_lock_get(a, "demo", &lk, E));
	assert_int_equal(lk.fence, 6);
	cairn_lock_record_release(&lk);
	cairn_store_close(a);
}

/* A new lock prunes the closed intents of the runs before it. */
static void test_lock_prunes_closed_intents(void **state)
{
	struct fixture *f = *state;
	struct cairn_store *st = open_store(f->path, 0);
	struct cairn_lock_record lk;
	int64_t a, b;

	ensure_stack(st, "web");
	ensure_stack(st, "db");
	a = open_intent(st, "web", "node.a", "create");
	b = open_intent(st, "web", "node.b", "create");
	open_intent(st, "db", "node.c", "create");
	OK(cairn_store_intent_close(st, a, E));
	OK(cairn_store_lock_acquire(st, "web", "me", 30000, &lk, E));
	OK(cairn_store_lock_release(st, "web", lk.fence, E));
	cairn_lock_record_release(&lk);
	/* a went; b (open) and db's stay. */
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM intents"), 2);
	FAILS(CAIRN_E_NOTFOUND, cairn_store_intent_close(st, a, E));
	OK(cairn_store_intent_close(st, b, E));
	cairn_store_close(st);
}

/* Read one int64 from fd, or fail the test. */
static int64_t read_i64(int fd)
{
	int64_t v = 0;

	assert_int_equal(read(fd, &v, sizeof(v)), (ssize_t)sizeof(v));
	return v;
}

/*
 * Two processes on one file: the child takes the lock with a 200 ms lease,
 * renewing it every 50 ms as a live holder does, and is killed without
 * releasing it.  The parent is refused, by name, while the child lives,
 * and takes over with a higher fence once the lease has run out.
 */
static void test_lock_across_processes(void **state)
{
	struct fixture *f = *state;
	struct cairn_store *st = open_store(f->path, 0);
	struct cairn_lock_record lk, held;
	int64_t child_fence;
	char *msg, *holder;
	int up[2], status = 0;
	pid_t pid;

	ensure_stack(st, "demo");
	/* An earlier run: the child's fence must be above it. */
	OK(cairn_store_lock_acquire(st, "demo", "earlier", 30000, &lk, E));
	OK(cairn_store_lock_release(st, "demo", lk.fence, E));
	cairn_lock_record_release(&lk);
	cairn_store_close(st);      /* no SQLite handle across fork() */

	assert_int_equal(pipe(up), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (!pid) {
		struct cairn_store *cs = NULL;
		struct cairn_lock_record mine = { 0 };
		char *who = xasprintf("child pid %ld", (long)getpid());

		close(up[0]);
		if (cairn_store_open(f->path, 0, &cs, NULL) < 0 ||
		    cairn_store_lock_acquire(cs, "demo", who, 200, &mine, NULL) < 0)
			_exit(1);
		if (write(up[1], &mine.fence, sizeof(mine.fence)) != sizeof(mine.fence))
			_exit(1);
		for (;;) {          /* until the parent kills us */
			usleep(50 * 1000);
			if (cairn_store_lock_renew(cs, "demo", mine.fence, 200, NULL) < 0)
				_exit(3);
		}
	}
	close(up[1]);
	child_fence = read_i64(up[0]);
	close(up[0]);
	assert_int_equal(child_fence, 2);

	st = open_store(f->path, 0);
	holder = xasprintf("child pid %ld", (long)pid);
	msg = conflict_message(st, "demo", "parent", &held);
	assert_non_null(strstr(msg, "stack 'demo' is locked by "));
	assert_non_null(strstr(msg, holder));
	assert_non_null(strstr(msg, " since 20"));
	assert_string_equal(held.holder, holder);
	assert_int_equal(held.fence, child_fence);
	cairn_lock_record_release(&held);
	free(msg);

	/* Still alive and renewing a while later: still refused. */
	usleep(300 * 1000);
	FAILS(CAIRN_E_CONFLICT, cairn_store_lock_acquire(st, "demo", "parent", 30000,
							 &held, E));
	cairn_lock_record_release(&held);

	/* Killed without releasing: the lease holds until it runs out. */
	assert_int_equal(kill(pid, SIGKILL), 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGKILL);
	OK(cairn_store_lock_get(st, "demo", &held, E));
	assert_int_equal(held.fence, child_fence);
	if (cairn_now_realtime_ms() < held.expires_ms - 100) {
		FAILS(CAIRN_E_CONFLICT, cairn_store_lock_acquire(st, "demo", "parent", 30000,
								 &lk, E));
		cairn_lock_record_release(&lk);
	}
	while (cairn_now_realtime_ms() <= held.expires_ms)
		usleep(20 * 1000);
	cairn_lock_record_release(&held);
	OK(cairn_store_lock_acquire(st, "demo", "parent", 30000, &lk, E));
	assert_true(lk.fence > child_fence);
	assert_string_equal(lk.holder, "parent");
	cairn_lock_record_release(&lk);
	lock_event_count(st, "demo", "lock.expired", 1);
	cairn_store_close(st);
	free(holder);
}

static void test_events(void **state)
{
	struct fixture *f = *state;
	struct cairn_store *st = open_store(f->path, 0);
	json_t *ev = NULL, *data = json_pack("{s:s, s:i}", "plan", "p1", "changes", 3);
	json_t *e;
	int64_t first;

	OK(cairn_store_event_list(st, "web", 0, &ev, E));
	assert_true(json_is_array(ev));
	assert_int_equal(json_array_size(ev), 0);
	json_decref(ev);

	/* The stack need not exist (events outlive stacks); data may be NULL. */
	OK(cairn_store_event_add(st, "web", "apply.start", data, E));
	OK(cairn_store_event_add(st, "db", "apply.start", NULL, E));
	OK(cairn_store_event_add(st, NULL, "plugin.added", NULL, E));
	OK(cairn_store_event_add(st, "web", "apply.done", NULL, E));
	FAILS(CAIRN_E_INVALID, cairn_store_event_add(st, "web", "", NULL, E));
	FAILS(CAIRN_E_INVALID, cairn_store_event_add(st, "", "x", NULL, E));

	OK(cairn_store_event_list(st, "web", 0, &ev, E));
	assert_int_equal(json_array_size(ev), 2);
	e = json_array_get(ev, 0);
	first = json_integer_value(json_object_get(e, "id"));
	assert_true(first > 0);
	assert_string_equal(cairn_json_str(e, "kind"), "apply.start");
	assert_string_equal(cairn_json_str(e, "stack"), "web");
	assert_true(json_equal(json_object_get(e, "data"), data));
	/* "2026-11-22T04:00:00.123Z" */
	assert_int_equal(strlen(cairn_json_str(e, "time")), 24);
	assert_int_equal(cairn_json_str(e, "time")[19], '.');
	e = json_array_get(ev, 1);
	assert_string_equal(cairn_json_str(e, "kind"), "apply.done");
	assert_true(json_is_null(json_object_get(e, "data")));
	json_decref(ev);

	/* After an id: what is new since then. */
	OK(cairn_store_event_list(st, "web", first, &ev, E));
	assert_int_equal(json_array_size(ev), 1);
	assert_string_equal(cairn_json_str(json_array_get(ev, 0), "kind"), "apply.done");
	json_decref(ev);
	OK(cairn_store_event_list(st, NULL, 0, &ev, E));
	assert_int_equal(json_array_size(ev), 4);
	assert_true(json_is_null(json_object_get(json_array_get(ev, 2), "stack")));
	json_decref(ev);
	OK(cairn_store_event_list(st, NULL, first + 1, &ev, E));
	assert_int_equal(json_array_size(ev), 2);
	json_decref(ev);

	/* They stay when the stack goes. */
	ensure_stack(st, "web");
	OK(cairn_store_stack_delete(st, "web", E));
	OK(cairn_store_event_list(st, "web", 0, &ev, E));
	assert_int_equal(json_array_size(ev), 2);
	json_decref(ev);
	cairn_store_close(st);

	st = open_store(f->path, CAIRN_STORE_READONLY);
	FAILS(CAIRN_E_STATE, cairn_store_event_add(st, "web", "x", NULL, E));
	OK(cairn_store_event_list(st, NULL, 0, &ev, E));
	assert_int_equal(json_array_size(ev), 4);
	json_decref(ev);
	cairn_store_close(st);
	json_decref(data);
}

static void test_outputs(void **state)
{
	struct fixture *f = *state;
	struct cairn_store *st = open_store(f->path, 0);
	json_t *o1 = json_pack("{s:s, s:[i,i]}", "url", "http://10.0.0.2", "ports", 80, 443);
	json_t *o2 = json_pack("{s:s}", "ip", "10.0.0.3");
	json_t *got = NULL, *arr = json_array();

	FAILS(CAIRN_E_NOTFOUND, cairn_store_outputs_put(st, "web", o1, E));
	FAILS(CAIRN_E_NOTFOUND, cairn_store_outputs_get(st, "web", &got, E));
	assert_null(got);
	ensure_stack(st, "web");
	ensure_stack(st, "db");

	/* None stored yet: no outputs, an empty object. */
	OK(cairn_store_outputs_get(st, "web", &got, E));
	assert_true(json_is_object(got));
	assert_int_equal(json_object_size(got), 0);
	json_decref(got);

	FAILS(CAIRN_E_INVALID, cairn_store_outputs_put(st, "web", arr, E));
	OK(cairn_store_outputs_put(st, "web", o1, E));
	OK(cairn_store_outputs_get(st, "web", &got, E));
	assert_true(json_equal(got, o1));
	json_decref(got);
	/* Replaced as a whole. */
	OK(cairn_store_outputs_put(st, "web", o2, E));
	OK(cairn_store_outputs_get(st, "web", &got, E));
	assert_true(json_equal(got, o2));
	json_decref(got);
	OK(cairn_store_outputs_get(st, "db", &got, E));
	assert_int_equal(json_object_size(got), 0);
	json_decref(got);
	/* Outputs are not resources: the serial stays. */
	assert_int_equal(serial_of(st, "web"), 0);

	OK(cairn_store_outputs_put(st, "web", NULL, E));
	OK(cairn_store_outputs_get(st, "web", &got, E));
	assert_int_equal(json_object_size(got), 0);
	json_decref(got);
	OK(cairn_store_outputs_put(st, "web", o1, E));
	OK(cairn_store_stack_delete(st, "web", E));
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM outputs"), 0);
	cairn_store_close(st);

	st = open_store(f->path, CAIRN_STORE_READONLY);
	FAILS(CAIRN_E_STATE, cairn_store_outputs_put(st, "db", o1, E));
	cairn_store_close(st);
	json_decref(o1);
	json_decref(o2);
	json_decref(arr);
}

static void test_plugins(void **state)
{
	struct fixture *f = *state;
	struct cairn_store *st = open_store(f->path, 0);
	json_t *list = NULL, *want;

	OK(cairn_store_plugin_list(st, &list, E));
	assert_true(json_is_object(list));
	assert_int_equal(json_object_size(list), 0);
	json_decref(list);

	OK(cairn_store_plugin_put(st, "process", "/usr/libexec/cairn/cairn-process", E));
	OK(cairn_store_plugin_put(st, "docker", "/opt/cairn-docker", E));
	OK(cairn_store_plugin_put(st, "docker", "/usr/local/bin/cairn-docker", E));
	FAILS(CAIRN_E_INVALID, cairn_store_plugin_put(st, "x", "", E));
	FAILS(CAIRN_E_INVALID, cairn_store_plugin_put(st, "", "/x", E));
	OK(cairn_store_plugin_list(st, &list, E));
	want = json_pack("{s:s, s:s}", "docker", "/usr/local/bin/cairn-docker",
			 "process", "/usr/libexec/cairn/cairn-process");
	assert_true(json_equal(list, want));
	json_decref(list);
	json_decref(want);

	OK(cairn_store_plugin_delete(st, "docker", E));
	FAILS(CAIRN_E_NOTFOUND, cairn_store_plugin_delete(st, "docker", E));
	cairn_store_close(st);

	st = open_store(f->path, CAIRN_STORE_READONLY);
	FAILS(CAIRN_E_STATE, cairn_store_plugin_put(st, "x", "/x", E));
	FAILS(CAIRN_E_STATE, cairn_store_plugin_delete(st, "process", E));
	OK(cairn_store_plugin_list(st, &list, E));
	assert_int_equal(json_object_size(list), 1);
	assert_string_equal(cairn_json_str(list, "process"), "/usr/libexec/cairn/cairn-process");
	json_decref(list);
	cairn_store_close(st);
}

/*
 * A store as schema version 1 left it (the tables of migration 1 only) is
 * migrated on a read-write open, its data intact.
 */
static void test_migration_from_version_1(void **state)
{
	struct fixture *f = *state;
	struct cairn_store *st = open_store(f->path, 0);
	struct cairn_stack_record s;
	struct cairn_lock_record lk;
	struct cairn_error err = CAIRN_ERROR_INIT;
	json_t *d = json_pack("{s:s}", "name", "web");
	int64_t id;
	char *lineage;

	OK(cairn_store_stack_ensure(st, "web", &s, E));
	lineage = xstrdup(s.lineage);
	cairn_stack_record_release(&s);
	OK(cairn_store_design_put(st, "web", d, NULL, E));
	put_resource(st, "web", "node.a", "{\"pool\": \"fast\"}", CAIRN_RS_READY);
	OK(cairn_store_pool_put(st, "fast", "quick", NULL, E));
	cairn_store_close(st);

	/* Back to version 1.  (sqlite_sequence, made by AUTOINCREMENT, cannot
	 * be dropped; it is SQLite's, not a table of ours.) */
	raw_exec(f->path,
		 "DROP TABLE facts; DROP TABLE secrets;"
		 " DROP TABLE intents; DROP TABLE tasks; DROP TABLE locks;"
		 " DROP TABLE lock_fences; DROP TABLE events; DROP TABLE outputs;"
		 " DROP TABLE plugins; DELETE FROM sqlite_sequence;"
		 " PRAGMA user_version = 1;");
	assert_int_equal(raw_int(f->path,
		"SELECT count(*) FROM sqlite_master WHERE type = 'table'"
		" AND name NOT IN ('stacks', 'designs', 'resources', 'pools', 'sqlite_sequence')"), 0);

	/* Read-only does not migrate: it asks for a read-write open first. */
	assert_int_equal(cairn_store_open(f->path, CAIRN_STORE_READONLY, &st, &err), -1);
	assert_int_equal(err.code, CAIRN_E_STATE);
	assert_non_null(strstr(err.message, "schema version 1"));
	assert_non_null(err.hint);
	cairn_error_release(&err);

	st = open_store(f->path, 0);
	assert_int_equal(cairn_store_schema_version(st), 4);
	assert_int_equal(raw_int(f->path, "PRAGMA user_version"), 4);
	OK(cairn_store_stack_get(st, "web", &s, E));
	assert_string_equal(s.lineage, lineage);
	assert_int_equal(s.serial, 1);
	assert_int_equal(s.design_version, 1);
	assert_int_equal(s.nresources, 1);
	cairn_stack_record_release(&s);
	{
		struct cairn_pool_record p;

		OK(cairn_store_pool_get(st, "fast", &p, E));
		assert_int_equal(p.members, 1);
		cairn_pool_record_release(&p);
	}
	/* And the new tables work. */
	id = open_intent(st, "web", "node.b", "create");
	OK(cairn_store_intent_close(st, id, E));
	OK(cairn_store_lock_acquire(st, "web", "me", 30000, &lk, E));
	assert_int_equal(lk.fence, 1);
	cairn_lock_record_release(&lk);
	OK(cairn_store_secret_put(st, "web", "ssh-key", "sb1:AAAA", E));
	cairn_store_close(st);
	json_decref(d);
	free(lineage);
}

/* Tasks, outputs and open intents travel in the export; locks, events,
 * closed intents and plugins do not. */
static void test_export_import_journal(void **state)
{
	struct fixture *f = *state;
	struct cairn_store *st = open_store(f->path, 0);
	struct cairn_store *fresh;
	struct cairn_task_record t;
	struct cairn_intent_record *iv = NULL;
	struct cairn_task_record *tv = NULL;
	struct cairn_lock_record lk;
	json_t *doc = NULL, *again = NULL, *web, *db, *outputs, *x, *old;
	char *copy = xasprintf("%s/copy/state.db", f->dir);
	int64_t closed;
	size_t n = 0;

	fill(st);
	t = task("web", "node.web[1]", "update", "failed", 3, "boom");
	OK(cairn_store_task_put(st, &t, NULL, E));
	t = task("web", "node.web[0]", "create", "blocked", 0, NULL);
	OK(cairn_store_task_put(st, &t, NULL, E));
	outputs = json_pack("{s:s}", "url", "http://web");
	OK(cairn_store_outputs_put(st, "web", outputs, E));
	closed = open_intent(st, "web", "node.web[0]", "create");
	OK(cairn_store_intent_close(st, closed, E));
	open_intent(st, "web", "node.web[2]", "create");
	{
		struct cairn_intent_record in = intent("web", "node.web[1]", "delete", 2);

		in.provider = NULL;
		in.observed = json_pack("{s:i}", "pid", 7);
		OK(cairn_store_intent_open(st, &in, NULL, E));
		json_decref(in.observed);
	}
	OK(cairn_store_lock_acquire(st, "web", "me", 30000, &lk, E));
	cairn_lock_record_release(&lk);
	OK(cairn_store_plugin_put(st, "process", "/bin/p", E));

	OK(cairn_store_export(st, NULL, &doc, E));
	assert_int_equal(json_integer_value(json_object_get(doc, "version")), 1);
	assert_null(json_object_get(doc, "plugins"));
	db = json_array_get(json_object_get(doc, "stacks"), 0);
	web = json_array_get(json_object_get(doc, "stacks"), 1);
	assert_true(json_is_null(json_object_get(db, "outputs")));
	assert_int_equal(json_array_size(json_object_get(db, "tasks")), 0);
	assert_int_equal(json_array_size(json_object_get(db, "intents")), 0);
	assert_true(json_equal(json_object_get(web, "outputs"), outputs));
	assert_null(json_object_get(web, "lock"));
	x = json_object_get(web, "tasks");
	assert_int_equal(json_array_size(x), 2);
	assert_string_equal(cairn_json_str(json_array_get(x, 0), "address"), "node.web[1]");
	assert_string_equal(cairn_json_str(json_array_get(x, 0), "last_error"), "boom");
	assert_null(json_object_get(json_array_get(x, 0), "id"));
	x = json_object_get(web, "intents");
	assert_int_equal(json_array_size(x), 2);   /* the open ones */
	assert_string_equal(cairn_json_str(json_array_get(x, 0), "address"), "node.web[2]");
	assert_string_equal(cairn_json_str(json_array_get(x, 1), "op"), "delete");
	assert_int_equal(json_integer_value(json_object_get(json_array_get(x, 1), "attempt")), 2);
	assert_true(json_is_null(json_object_get(json_array_get(x, 1), "provider")));

	/* Round trip, also over a stack that exists with other tasks. */
	fresh = open_store(copy, 0);
	ensure_stack(fresh, "web");
	t = task("web", "node.other", "create", "failed", 1, NULL);
	OK(cairn_store_task_put(fresh, &t, NULL, E));
	OK(cairn_store_import(fresh, doc, E));
	OK(cairn_store_export(fresh, NULL, &again, E));
	if (!json_equal(doc, again)) {
		char *a = cairn_json_canonical(doc), *b = cairn_json_canonical(again);

		fail_msg("export differs after import:\n%s\n%s", a, b);
	}
	json_decref(again);
	OK(cairn_store_intent_list(fresh, "web", &iv, &n, E));
	assert_int_equal(n, 2);
	assert_string_equal(iv[0].address, "node.web[2]");
	assert_true(iv[0].id < iv[1].id);
	assert_int_equal(json_integer_value(json_object_get(iv[1].observed, "pid")), 7);
	cairn_intent_record_list_free(iv, n);
	OK(cairn_store_task_list(fresh, "web", true, &tv, &n, E));
	assert_int_equal(n, 2);
	cairn_task_record_list_free(tv, n);
	FAILS(CAIRN_E_NOTFOUND, cairn_store_lock_get(fresh, "web", &lk, E));

	/* A document of before part 2 (no tasks, intents, outputs) imports. */
	old = json_deep_copy(doc);
	json_object_del(json_array_get(json_object_get(old, "stacks"), 1), "tasks");
	json_object_del(json_array_get(json_object_get(old, "stacks"), 1), "intents");
	json_object_del(json_array_get(json_object_get(old, "stacks"), 1), "outputs");
	OK(cairn_store_import(fresh, old, E));
	OK(cairn_store_task_list(fresh, "web", false, &tv, &n, E));
	assert_int_equal(n, 0);
	cairn_task_record_list_free(tv, n);

	/* Bad members are refused, and nothing is imported. */
	json_object_set_new(json_array_get(json_object_get(old, "stacks"), 1), "tasks",
			    json_pack("[{s:s, s:s, s:s, s:i, s:s, s:s}]", "address", "n",
				      "op", "create", "status", "sleepy", "attempts", 1,
				      "created_at", "x", "updated_at", "x"));
	FAILS(CAIRN_E_INVALID, cairn_store_import(fresh, old, E));
	json_object_set_new(json_array_get(json_object_get(old, "stacks"), 1), "tasks",
			    json_array());
	json_object_set_new(json_array_get(json_object_get(old, "stacks"), 1), "outputs",
			    json_string("nope"));
	FAILS(CAIRN_E_INVALID, cairn_store_import(fresh, old, E));
	json_object_set_new(json_array_get(json_object_get(old, "stacks"), 1), "outputs",
			    json_null());
	json_object_set_new(json_array_get(json_object_get(old, "stacks"), 1), "intents",
			    json_pack("[{s:s, s:s, s:s, s:s, s:i, s:s}]", "address", "n",
				      "op", "create", "kind", "node", "type", "process",
				      "attempt", 0, "created_at", "x"));
	FAILS(CAIRN_E_INVALID, cairn_store_import(fresh, old, E));
	OK(cairn_store_task_list(fresh, "web", false, &tv, &n, E));
	assert_int_equal(n, 0);
	cairn_task_record_list_free(tv, n);
	json_decref(old);
	cairn_store_close(fresh);

	cairn_store_close(st);
	json_decref(outputs);
	json_decref(doc);
	free(copy);
}

/* What a read-only open of a missing store answers for the part-2 tables. */
static void test_readonly_missing_journal(void **state)
{
	struct fixture *f = *state;
	struct cairn_store *st = open_store(f->path, CAIRN_STORE_READONLY);
	struct cairn_intent_record *iv = NULL;
	struct cairn_task_record *tv = NULL, t;
	struct cairn_lock_record lk;
	json_t *j = NULL;
	size_t n = 5;

	OK(cairn_store_intent_list(st, NULL, &iv, &n, E));
	assert_int_equal(n, 0);
	OK(cairn_store_task_list(st, NULL, false, &tv, &n, E));
	assert_int_equal(n, 0);
	FAILS(CAIRN_E_NOTFOUND, cairn_store_task_get(st, 1, &t, E));
	FAILS(CAIRN_E_NOTFOUND, cairn_store_lock_get(st, "web", &lk, E));
	FAILS(CAIRN_E_NOTFOUND, cairn_store_outputs_get(st, "web", &j, E));
	OK(cairn_store_event_list(st, NULL, 0, &j, E));
	assert_int_equal(json_array_size(j), 0);
	json_decref(j);
	OK(cairn_store_plugin_list(st, &j, E));
	assert_int_equal(json_object_size(j), 0);
	json_decref(j);
	cairn_store_close(st);
}

/* ---- secrets ----------------------------------------------------------------- */

/* A long base64 text, as a sealed key would be: every base64 character,
 * '+', '/' and '=' padding included, over several kilobytes. */
static char *long_base64(size_t len)
{
	static const char b64[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char *v = xmalloc(len + 7);

	memcpy(v, "sb1:", 4);
	for (size_t i = 0; i < len; i++)
		v[4 + i] = b64[(i * 7 + i / 64) % 64];
	memcpy(v + 4 + len, "==", 3);
	return v;
}

static void expect_secret(struct cairn_store *st, const char *stack, const char *name,
			  const char *want)
{
	char *got = NULL;

	OK(cairn_store_secret_get(st, stack, name, &got, E));
	assert_non_null(got);
	assert_string_equal(got, want);
	free(got);
}

static void test_secrets(void **state)
{
	struct fixture *f = *state;
	struct cairn_store *st = open_store(f->path, 0);
	char *big = long_base64(16384);
	char *got = (char *)"untouched";
	/* Text that is not base64 at all still round-trips byte for byte. */
	const char *odd = "sb1:\t\"quotes\" 'and' \\back\\slashes; DROP TABLE secrets;--\n"
			  "\xc3\xa9t\xc3\xa9 \xe2\x9c\x93 \x01\x7f";

	/* No stack yet. */
	FAILS(CAIRN_E_NOTFOUND, cairn_store_secret_put(st, "web", "ssh-key", "sb1:AAAA", E));
	FAILS(CAIRN_E_NOTFOUND, cairn_store_secret_get(st, "web", "ssh-key", &got, E));
	assert_null(got);
	OK(cairn_store_secret_delete(st, "web", "ssh-key", E));
	ensure_stack(st, "web");
	ensure_stack(st, "db");

	/* Put, get, replace. */
	FAILS(CAIRN_E_NOTFOUND, cairn_store_secret_get(st, "web", "ssh-key", &got, E));
	assert_null(got);
	OK(cairn_store_secret_put(st, "web", "ssh-key", "sb1:AAAA", E));
	expect_secret(st, "web", "ssh-key", "sb1:AAAA");
	OK(cairn_store_secret_put(st, "web", "ssh-key", big, E));
	expect_secret(st, "web", "ssh-key", big);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM secrets"), 1);
	OK(cairn_store_secret_put(st, "web", "odd.value_1", odd, E));
	expect_secret(st, "web", "odd.value_1", odd);
	/* Per stack: the same name in another stack is another secret. */
	FAILS(CAIRN_E_NOTFOUND, cairn_store_secret_get(st, "db", "ssh-key", &got, E));
	OK(cairn_store_secret_put(st, "db", "ssh-key", "sb1:BBBB", E));
	expect_secret(st, "db", "ssh-key", "sb1:BBBB");
	expect_secret(st, "web", "ssh-key", big);
	/* Secrets are not resources: the serial stays. */
	assert_int_equal(serial_of(st, "web"), 0);

	/* Names: [a-z0-9._-]+, checked before anything else is looked at. */
	FAILS(CAIRN_E_INVALID, cairn_store_secret_put(st, "web", "", "sb1:AAAA", E));
	FAILS(CAIRN_E_INVALID, cairn_store_secret_put(st, "web", NULL, "sb1:AAAA", E));
	FAILS(CAIRN_E_INVALID, cairn_store_secret_put(st, "web", "SSH-Key", "sb1:AAAA", E));
	FAILS(CAIRN_E_INVALID, cairn_store_secret_put(st, "web", "ssh key", "sb1:AAAA", E));
	FAILS(CAIRN_E_INVALID, cairn_store_secret_put(st, "web", "a/b", "sb1:AAAA", E));
	FAILS(CAIRN_E_INVALID, cairn_store_secret_put(st, "web", "k\xc3\xa9y", "sb1:AAAA", E));
	FAILS(CAIRN_E_INVALID, cairn_store_secret_put(st, "nope", "a:b", "sb1:AAAA", E));
	FAILS(CAIRN_E_INVALID, cairn_store_secret_get(st, "web", "SSH", &got, E));
	FAILS(CAIRN_E_INVALID, cairn_store_secret_delete(st, "web", "x y", E));
	FAILS(CAIRN_E_INVALID, cairn_store_secret_put(st, "", "ssh-key", "sb1:AAAA", E));
	OK(cairn_store_secret_put(st, "web", "a-z.0_9", "sb1:CCCC", E));
	/* Values: a non-empty string. */
	FAILS(CAIRN_E_INVALID, cairn_store_secret_put(st, "web", "ssh-key", "", E));
	FAILS(CAIRN_E_INVALID, cairn_store_secret_put(st, "web", "ssh-key", NULL, E));
	expect_secret(st, "web", "ssh-key", big);
	{
		/* No message quotes the value. */
		struct cairn_error err = CAIRN_ERROR_INIT;

		assert_int_equal(cairn_store_secret_put(st, "nope", "ssh-key", "sb1:TOPSECRET",
							&err), -1);
		assert_int_equal(err.code, CAIRN_E_NOTFOUND);
		assert_null(strstr(err.message, "TOPSECRET"));
		cairn_error_release(&err);
	}

	/* Delete, and delete what is not there. */
	OK(cairn_store_secret_delete(st, "web", "a-z.0_9", E));
	FAILS(CAIRN_E_NOTFOUND, cairn_store_secret_get(st, "web", "a-z.0_9", &got, E));
	OK(cairn_store_secret_delete(st, "web", "a-z.0_9", E));
	OK(cairn_store_secret_delete(st, "web", "never-was", E));
	expect_secret(st, "web", "ssh-key", big);

	/* Inside a caller's transaction that rolls back: nothing stays. */
	OK(cairn_store_begin(st, E));
	OK(cairn_store_secret_put(st, "web", "ssh-key", "sb1:ROLLED", E));
	OK(cairn_store_secret_delete(st, "db", "ssh-key", E));
	cairn_store_rollback(st);
	expect_secret(st, "web", "ssh-key", big);
	expect_secret(st, "db", "ssh-key", "sb1:BBBB");
	cairn_store_close(st);

	/* They survive a reopen; a read-only store reads them and refuses writes. */
	st = open_store(f->path, CAIRN_STORE_READONLY);
	expect_secret(st, "web", "ssh-key", big);
	expect_secret(st, "web", "odd.value_1", odd);
	FAILS(CAIRN_E_STATE, cairn_store_secret_put(st, "web", "ssh-key", "sb1:AAAA", E));
	FAILS(CAIRN_E_STATE, cairn_store_secret_delete(st, "web", "ssh-key", E));
	cairn_store_close(st);

	/* Deleting a stack removes its secrets, and only its. */
	st = open_store(f->path, 0);
	OK(cairn_store_stack_delete(st, "web", E));
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM secrets WHERE stack = 'web'"), 0);
	expect_secret(st, "db", "ssh-key", "sb1:BBBB");
	/* Made again under the same name, the stack starts without secrets. */
	ensure_stack(st, "web");
	FAILS(CAIRN_E_NOTFOUND, cairn_store_secret_get(st, "web", "ssh-key", &got, E));
	assert_null(got);
	cairn_store_close(st);
	free(big);
}

/* Secrets stay behind in an export; an import replacing a stack drops the
 * secrets it had (as a deletion would), and leaves other stacks' alone. */
static void test_secrets_not_exported(void **state)
{
	struct fixture *f = *state;
	struct cairn_store *st = open_store(f->path, 0);
	struct cairn_store *other;
	char *big = long_base64(4096);
	char *copy = xasprintf("%s/copy/state.db", f->dir);
	char *text, *got = NULL;
	json_t *doc = NULL, *one = NULL, *x;
	size_t i;

	fill(st);
	OK(cairn_store_secret_put(st, "web", "ssh-key", big, E));
	OK(cairn_store_secret_put(st, "db", "ssh-key", "sb1:DBDBDBDB", E));

	OK(cairn_store_export(st, NULL, &doc, E));
	OK(cairn_store_export(st, "web", &one, E));
	text = cairn_json_canonical(doc);
	assert_null(strstr(text, "sb1:"));
	assert_null(strstr(text, "ssh-key"));
	assert_null(strstr(text, "secret"));
	free(text);
	text = cairn_json_canonical(one);
	assert_null(strstr(text, "sb1:"));
	assert_null(strstr(text, "secret"));
	free(text);
	json_array_foreach(json_object_get(doc, "stacks"), i, x)
		assert_null(json_object_get(x, "secrets"));

	/* Into another store: the stacks arrive without secrets. */
	other = open_store(copy, 0);
	OK(cairn_store_import(other, doc, E));
	FAILS(CAIRN_E_NOTFOUND, cairn_store_secret_get(other, "web", "ssh-key", &got, E));
	FAILS(CAIRN_E_NOTFOUND, cairn_store_secret_get(other, "db", "ssh-key", &got, E));
	assert_null(got);
	cairn_store_close(other);

	/* Back into this store: "web" is replaced whole, its secret with it;
	 * "db", not in the document, keeps its own. */
	OK(cairn_store_import(st, one, E));
	FAILS(CAIRN_E_NOTFOUND, cairn_store_secret_get(st, "web", "ssh-key", &got, E));
	expect_secret(st, "db", "ssh-key", "sb1:DBDBDBDB");

	/* A document that carries "secrets" anyway is not read for them. */
	json_object_set_new(json_array_get(json_object_get(one, "stacks"), 0), "secrets",
			    json_pack("{s:s}", "ssh-key", "sb1:SMUGGLED"));
	OK(cairn_store_import(st, one, E));
	FAILS(CAIRN_E_NOTFOUND, cairn_store_secret_get(st, "web", "ssh-key", &got, E));
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM secrets"), 1);
	cairn_store_close(st);
	json_decref(doc);
	json_decref(one);
	free(big);
	free(copy);
}

/*
 * A store as schema version 2 left it (no secrets table) is migrated to 3
 * on a read-write open, its data intact, and takes secrets.
 */
static void test_migration_from_version_2(void **state)
{
	struct fixture *f = *state;
	struct cairn_store *st = open_store(f->path, 0);
	struct cairn_stack_record s;
	struct cairn_lock_record lk;
	struct cairn_task_record *tv = NULL, t;
	struct cairn_intent_record *iv = NULL;
	struct cairn_error err = CAIRN_ERROR_INIT;
	json_t *outputs = json_pack("{s:s}", "url", "http://web"), *got = NULL;
	char *lineage, *big = long_base64(8192);
	int64_t fence;
	size_t n = 0;

	fill(st);
	OK(cairn_store_stack_get(st, "web", &s, E));
	lineage = xstrdup(s.lineage);
	cairn_stack_record_release(&s);
	t = task("web", "node.web[1]", "update", "failed", 3, "boom");
	OK(cairn_store_task_put(st, &t, NULL, E));
	open_intent(st, "web", "node.web[2]", "create");
	OK(cairn_store_outputs_put(st, "web", outputs, E));
	OK(cairn_store_lock_acquire(st, "web", "me", 30000, &lk, E));
	fence = lk.fence;
	cairn_lock_record_release(&lk);
	cairn_store_close(st);

	/* Back to version 2: exactly the tables of migrations 1 and 2. */
	raw_exec(f->path, "DROP TABLE facts; DROP TABLE secrets; PRAGMA user_version = 2;");
	assert_int_equal(raw_int(f->path,
		"SELECT count(*) FROM sqlite_master WHERE name = 'secrets'"), 0);

	/* Read-only does not migrate. */
	assert_int_equal(cairn_store_open(f->path, CAIRN_STORE_READONLY, &st, &err), -1);
	assert_int_equal(err.code, CAIRN_E_STATE);
	assert_non_null(strstr(err.message, "schema version 2"));
	assert_non_null(err.hint);
	cairn_error_release(&err);
	assert_int_equal(raw_int(f->path, "PRAGMA user_version"), 2);

	st = open_store(f->path, 0);
	assert_int_equal(cairn_store_schema_version(st), 4);
	assert_int_equal(raw_int(f->path, "PRAGMA user_version"), 4);
	assert_int_equal(raw_int(f->path, "PRAGMA application_id"), 0x6361726e);
	OK(cairn_store_stack_get(st, "web", &s, E));
	assert_string_equal(s.lineage, lineage);
	assert_true(s.nresources > 0);
	cairn_stack_record_release(&s);
	OK(cairn_store_task_list(st, "web", true, &tv, &n, E));
	assert_int_equal(n, 1);
	assert_string_equal(tv[0].last_error, "boom");
	cairn_task_record_list_free(tv, n);
	OK(cairn_store_intent_list(st, "web", &iv, &n, E));
	assert_int_equal(n, 1);
	cairn_intent_record_list_free(iv, n);
	OK(cairn_store_outputs_get(st, "web", &got, E));
	assert_true(json_equal(got, outputs));
	json_decref(got);
	OK(cairn_store_lock_get(st, "web", &lk, E));
	assert_int_equal(lk.fence, fence);
	cairn_lock_record_release(&lk);

	/* The new table works, and cascades like the others. */
	OK(cairn_store_secret_put(st, "web", "ssh-key", big, E));
	expect_secret(st, "web", "ssh-key", big);
	cairn_store_close(st);
	st = open_store(f->path, 0);     /* opening again migrates nothing */
	assert_int_equal(cairn_store_schema_version(st), 4);
	expect_secret(st, "web", "ssh-key", big);
	OK(cairn_store_stack_delete(st, "web", E));
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM secrets"), 0);
	cairn_store_close(st);
	json_decref(outputs);
	free(lineage);
	free(big);
}

/* ---- facts ------------------------------------------------------------------- */

static json_t *fact_value(struct cairn_store *st, const char *stack, const char *address,
			  const char *name)
{
	json_t *rows, *row, *v = NULL;
	size_t i;

	OK(cairn_store_fact_list(st, stack, address, name, &rows, E));
	json_array_foreach(rows, i, row)
		if (!strcmp(json_string_value(json_object_get(row, "name")), name))
			v = json_incref(json_object_get(row, "value"));
	json_decref(rows);
	return v;
}

static void test_facts(void **state)
{
	struct fixture *f = *state;
	struct cairn_store *st = open_store(f->path, 0);
	struct cairn_stack_record s;
	struct cairn_error err = CAIRN_ERROR_INIT;
	json_t *step0 = json_pack("{s:s, s:s, s:i}", "hash", "aa", "status", "ok", "exit", 0);
	json_t *step1 = json_pack("{s:s, s:s}", "hash", "bb", "status", "failed");
	json_t *check = json_pack("{s:s, s:i}", "state", "ready", "fails", 0);
	json_t *rows, *v;
	int64_t serial;

	/* the stack must exist */
	assert_int_equal(cairn_store_fact_put(st, "web", "node.a", "step.0", step0, &err), -1);
	assert_int_equal(err.code, CAIRN_E_NOTFOUND);
	cairn_error_release(&err);
	OK(cairn_store_fact_list(st, "web", NULL, NULL, &rows, E));
	assert_int_equal(json_array_size(rows), 0);
	json_decref(rows);

	OK(cairn_store_stack_ensure(st, "web", &s, E));
	serial = s.serial;
	cairn_stack_record_release(&s);
	put_resource(st, "web", "node.a", "{}", CAIRN_RS_READY);
	put_resource(st, "web", "node.b", "{}", CAIRN_RS_READY);
	OK(cairn_store_stack_get(st, "web", &s, E));
	serial = s.serial;
	cairn_stack_record_release(&s);

	OK(cairn_store_fact_put(st, "web", "node.a", "step.0", step0, E));
	OK(cairn_store_fact_put(st, "web", "node.a", "step.1", step1, E));
	OK(cairn_store_fact_put(st, "web", "node.a", "check.tcp:22", check, E));
	OK(cairn_store_fact_put(st, "web", "node.b", "step.0", step1, E));
	/* replacing a fact */
	OK(cairn_store_fact_put(st, "web", "node.b", "step.0", step0, E));
	v = fact_value(st, "web", "node.b", "step.0");
	assert_true(json_equal(v, step0));
	json_decref(v);

	/* facts leave the serial alone */
	OK(cairn_store_stack_get(st, "web", &s, E));
	assert_int_equal(s.serial, serial);
	cairn_stack_record_release(&s);

	/* by address, by prefix, ordered */
	OK(cairn_store_fact_list(st, "web", NULL, NULL, &rows, E));
	assert_int_equal(json_array_size(rows), 4);
	assert_string_equal(json_string_value(json_object_get(json_array_get(rows, 0), "name")),
			    "check.tcp:22");
	assert_non_null(json_string_value(json_object_get(json_array_get(rows, 0), "updated_at")));
	json_decref(rows);
	OK(cairn_store_fact_list(st, "web", "node.a", "step.", &rows, E));
	assert_int_equal(json_array_size(rows), 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(rows, 1), "name")), "step.1");
	assert_true(json_equal(json_object_get(json_array_get(rows, 1), "value"), step1));
	json_decref(rows);

	/* a prefix delete */
	OK(cairn_store_fact_delete(st, "web", "node.a", "check.", E));
	OK(cairn_store_fact_list(st, "web", "node.a", NULL, &rows, E));
	assert_int_equal(json_array_size(rows), 2);
	json_decref(rows);

	/* bad names */
	assert_int_equal(cairn_store_fact_put(st, "web", "node.a", "", step0, &err), -1);
	assert_int_equal(err.code, CAIRN_E_INVALID);
	cairn_error_release(&err);
	assert_int_equal(cairn_store_fact_put(st, "web", "node.a", "a\nb", step0, &err), -1);
	assert_int_equal(err.code, CAIRN_E_INVALID);
	cairn_error_release(&err);

	/* facts go with their resource, and with their stack */
	OK(cairn_store_resource_delete(st, "web", "node.a", E));
	OK(cairn_store_fact_list(st, "web", "node.a", NULL, &rows, E));
	assert_int_equal(json_array_size(rows), 0);
	json_decref(rows);
	OK(cairn_store_fact_list(st, "web", "node.b", NULL, &rows, E));
	assert_int_equal(json_array_size(rows), 1);
	json_decref(rows);
	OK(cairn_store_stack_delete(st, "web", E));
	cairn_store_close(st);
	assert_int_equal(raw_int(f->path, "SELECT count(*) FROM facts"), 0);

	/* a read-only store serves them too */
	st = open_store(f->path, CAIRN_STORE_READONLY);
	OK(cairn_store_fact_list(st, "web", NULL, NULL, &rows, E));
	assert_int_equal(json_array_size(rows), 0);
	json_decref(rows);
	assert_int_equal(cairn_store_fact_put(st, "web", "node.a", "step.0", step0, &err), -1);
	cairn_error_release(&err);
	cairn_store_close(st);
	json_decref(step0);
	json_decref(step1);
	json_decref(check);
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
		T(test_intents),
		T(test_intent_survives_kill),
		T(test_tasks),
		T(test_locks),
		T(test_lock_prunes_closed_intents),
		T(test_lock_across_processes),
		T(test_events),
		T(test_outputs),
		T(test_plugins),
		T(test_migration_from_version_1),
		T(test_export_import_journal),
		T(test_readonly_missing_journal),
		T(test_secrets),
		T(test_secrets_not_exported),
		T(test_migration_from_version_2),
		T(test_facts),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
