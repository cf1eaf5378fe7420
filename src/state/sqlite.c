/*
 * sqlite.c - the SQLite state store backend (the embedded default).
 *
 * One connection per struct cairn_store, in WAL mode so readers never wait
 * for the writer.  Write transactions start with BEGIN IMMEDIATE: two cairn
 * processes serialise on the write lock up front (waiting up to
 * busy_timeout) instead of failing half-way with SQLITE_BUSY on an upgrade
 * from a read lock.  Statements are prepared once per connection, kept in
 * s->stmt[] and reset after every use; values are always bound, never
 * spliced into SQL.  The schema and the migration policy are described in
 * docs/internals/state.md.
 */
#include "util/common.h"

#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include "state/store-backend.h"
#include "util/clock.h"
#include "util/jsonutil.h"

CAIRN_LOG_INIT("state.sqlite");

/* PRAGMA application_id of every cairn store: "carn". */
#define CAIRN_SQLITE_APPLICATION_ID 0x6361726e

#define BUSY_TIMEOUT_MS 5000

/*
 * The migrations, in order: migrations[i] takes a store from schema version
 * i to i + 1.  Each runs in its own transaction together with the bump of
 * PRAGMA user_version, so a store is always at exactly one version.  Never
 * edit a migration that has been released; append a new one instead.
 *
 * Why no CHECK on resources.status: SQLite cannot alter a CHECK constraint
 * without rebuilding the table, and new statuses are expected; the code
 * refuses unknown names when it reads them.
 */
static const char *const migrations[] = {
	/* 1: stacks, their designs and resources; pools. */
	"CREATE TABLE stacks ("
	"  name        TEXT NOT NULL PRIMARY KEY,"
	"  lineage     TEXT NOT NULL,"
	"  serial      INTEGER NOT NULL DEFAULT 0 CHECK (serial >= 0),"
	"  created_at  TEXT NOT NULL,"
	"  updated_at  TEXT NOT NULL"
	");"
	"CREATE TABLE designs ("
	"  stack       TEXT NOT NULL REFERENCES stacks (name) ON DELETE CASCADE,"
	"  version     INTEGER NOT NULL CHECK (version > 0),"
	"  hash        TEXT NOT NULL,"
	"  body        TEXT NOT NULL CHECK (json_valid(body)),"
	"  created_at  TEXT NOT NULL,"
	"  PRIMARY KEY (stack, version)"
	");"
	"CREATE TABLE resources ("
	"  stack        TEXT NOT NULL REFERENCES stacks (name) ON DELETE CASCADE,"
	"  address      TEXT NOT NULL,"
	"  kind         TEXT NOT NULL,"
	"  type         TEXT NOT NULL,"
	"  provider     TEXT,"
	"  cairn_id     TEXT,"
	"  desired_hash TEXT NOT NULL,"
	"  desired      TEXT NOT NULL CHECK (json_valid(desired)),"
	"  observed     TEXT CHECK (observed IS NULL OR json_valid(observed)),"
	"  status       TEXT NOT NULL,"
	"  created_at   TEXT NOT NULL,"
	"  updated_at   TEXT NOT NULL,"
	"  PRIMARY KEY (stack, address)"
	");"
	"CREATE INDEX resources_cairn_id ON resources (cairn_id);"
	"CREATE INDEX resources_pool ON resources (json_extract(desired, '$.pool'));"
	"CREATE TABLE pools ("
	"  name        TEXT NOT NULL PRIMARY KEY,"
	"  description TEXT,"
	"  stack       TEXT,"
	"  created_at  TEXT NOT NULL"
	");",

	/*
	 * 2: the journal (intents), tasks, the stack lock, events, outputs,
	 * registered plugins.  AUTOINCREMENT on intents and tasks: an id the
	 * engine holds or a user typed must never come to name another row.
	 * lock_fences is not a child of stacks, so fences keep rising when a
	 * stack is deleted and made again; events are not either, so the
	 * audit trail outlives what it is about.
	 */
	"CREATE TABLE intents ("
	"  id          INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  stack       TEXT NOT NULL REFERENCES stacks (name) ON DELETE CASCADE,"
	"  address     TEXT NOT NULL,"
	"  op          TEXT NOT NULL,"
	"  kind        TEXT NOT NULL,"
	"  type        TEXT NOT NULL,"
	"  provider    TEXT,"
	"  cairn_id    TEXT,"
	"  attempt     INTEGER NOT NULL CHECK (attempt > 0),"
	"  desired     TEXT CHECK (desired IS NULL OR json_valid(desired)),"
	"  observed    TEXT CHECK (observed IS NULL OR json_valid(observed)),"
	"  created_at  TEXT NOT NULL,"
	"  closed_at   TEXT"
	");"
	"CREATE INDEX intents_stack ON intents (stack, closed_at);"
	"CREATE TABLE tasks ("
	"  id          INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  stack       TEXT NOT NULL REFERENCES stacks (name) ON DELETE CASCADE,"
	"  address     TEXT NOT NULL,"
	"  op          TEXT NOT NULL,"
	"  status      TEXT NOT NULL,"
	"  attempts    INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),"
	"  last_error  TEXT,"
	"  created_at  TEXT NOT NULL,"
	"  updated_at  TEXT NOT NULL,"
	"  UNIQUE (stack, address)"
	");"
	"CREATE TABLE locks ("
	"  stack       TEXT NOT NULL PRIMARY KEY REFERENCES stacks (name) ON DELETE CASCADE,"
	"  holder      TEXT NOT NULL,"
	"  fence       INTEGER NOT NULL CHECK (fence > 0),"
	"  acquired_ms INTEGER NOT NULL,"
	"  expires_ms  INTEGER NOT NULL"
	");"
	"CREATE TABLE lock_fences ("
	"  stack       TEXT NOT NULL PRIMARY KEY,"
	"  fence       INTEGER NOT NULL CHECK (fence > 0)"
	");"
	"CREATE TABLE events ("
	"  id          INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  stack       TEXT,"
	"  time        TEXT NOT NULL,"
	"  kind        TEXT NOT NULL,"
	"  data        TEXT CHECK (data IS NULL OR json_valid(data))"
	");"
	"CREATE INDEX events_stack ON events (stack);"
	"CREATE TABLE outputs ("
	"  stack       TEXT NOT NULL PRIMARY KEY REFERENCES stacks (name) ON DELETE CASCADE,"
	"  body        TEXT NOT NULL CHECK (json_valid(body)),"
	"  updated_at  TEXT NOT NULL"
	");"
	"CREATE TABLE plugins ("
	"  type        TEXT NOT NULL PRIMARY KEY,"
	"  path        TEXT NOT NULL,"
	"  created_at  TEXT NOT NULL"
	");",

	/*
	 * 3: stack secrets.  The value is text the caller sealed ("sb1:...");
	 * the store never sees plaintext.  A child of stacks, so deleting a
	 * stack (or an import replacing it) removes its secrets.
	 */
	"CREATE TABLE secrets ("
	"  stack       TEXT NOT NULL REFERENCES stacks (name) ON DELETE CASCADE,"
	"  name        TEXT NOT NULL,"
	"  value       TEXT NOT NULL,"
	"  updated_at  TEXT NOT NULL,"
	"  PRIMARY KEY (stack, name)"
	");",

	/*
	 * 4: facts about resources (configure steps run, health checks).  A
	 * child of stacks; a resource's facts are deleted with it by the
	 * code (resources have no row id to reference).
	 */
	"CREATE TABLE facts ("
	"  stack       TEXT NOT NULL REFERENCES stacks (name) ON DELETE CASCADE,"
	"  address     TEXT NOT NULL,"
	"  name        TEXT NOT NULL,"
	"  value       TEXT NOT NULL CHECK (json_valid(value)),"
	"  updated_at  TEXT NOT NULL,"
	"  PRIMARY KEY (stack, address, name)"
	");",
};

_Static_assert(sizeof(migrations) / sizeof(migrations[0]) == CAIRN_STORE_SCHEMA_VERSION,
	       "one migration per schema version");

enum stmt_id {
	ST_STACK_GET,
	ST_STACK_LIST,
	ST_STACK_EXISTS,
	ST_STACK_INSERT,
	ST_STACK_DELETE,
	ST_STACK_BUMP,
	ST_STACK_TOUCH,
	ST_DESIGN_LATEST,
	ST_DESIGN_LIST,
	ST_DESIGN_INSERT,
	ST_RESOURCE_GET,
	ST_RESOURCE_LIST,
	ST_RESOURCE_UPSERT,
	ST_RESOURCE_DELETE,
	ST_POOL_GET,
	ST_POOL_LIST,
	ST_POOL_PUT,
	ST_POOL_RESTORE,
	ST_POOL_DELETE,
	ST_INTENT_INSERT,
	ST_INTENT_CLOSE,
	ST_INTENT_EXISTS,
	ST_INTENT_LIST,
	ST_INTENT_LIST_ALL,
	ST_INTENT_PRUNE,
	ST_TASK_UPSERT,
	ST_TASK_ID,
	ST_TASK_GET,
	ST_TASK_LIST,
	ST_TASK_DELETE,
	ST_LOCK_GET,
	ST_LOCK_PUT,
	ST_LOCK_RENEW,
	ST_LOCK_RELEASE,
	ST_LOCK_DELETE,
	ST_FENCE_NEXT,
	ST_FENCE_GET,
	ST_EVENT_INSERT,
	ST_EVENT_LIST,
	ST_EVENT_LIST_ALL,
	ST_OUTPUTS_GET,
	ST_OUTPUTS_PUT,
	ST_OUTPUTS_DELETE,
	ST_SECRET_GET,
	ST_SECRET_PUT,
	ST_SECRET_DELETE,
	ST_FACT_PUT,
	ST_FACT_LIST,
	ST_FACT_DELETE,
	ST_PLUGIN_LIST,
	ST_PLUGIN_PUT,
	ST_PLUGIN_DELETE,
	ST__COUNT
};

#define STACK_COLUMNS \
	"SELECT s.name, s.lineage, s.serial," \
	" (SELECT coalesce(max(d.version), 0) FROM designs d WHERE d.stack = s.name)," \
	" (SELECT count(*) FROM resources r WHERE r.stack = s.name)," \
	" s.created_at, s.updated_at FROM stacks s"

#define RESOURCE_COLUMNS \
	"SELECT address, kind, type, provider, cairn_id, desired_hash, desired," \
	" observed, status, created_at, updated_at FROM resources"

/* A pool's members: resources of any stack whose desired "pool" names it. */
#define POOL_COLUMNS \
	"SELECT p.name, p.description, p.stack," \
	" (SELECT count(*) FROM resources r" \
	"   WHERE json_extract(r.desired, '$.pool') = p.name)," \
	" p.created_at FROM pools p"

#define INTENT_COLUMNS \
	"SELECT id, stack, address, op, kind, type, provider, cairn_id, attempt," \
	" desired, observed, created_at FROM intents"

#define TASK_COLUMNS \
	"SELECT id, stack, address, op, status, attempts, last_error, created_at," \
	" updated_at FROM tasks"

#define LOCK_COLUMNS \
	"SELECT stack, holder, fence, acquired_ms, expires_ms FROM locks"

#define EVENT_COLUMNS "SELECT id, stack, time, kind, data FROM events"

static const char *const stmt_sql[ST__COUNT] = {
	[ST_STACK_GET] = STACK_COLUMNS " WHERE s.name = ?1",
	[ST_STACK_LIST] = STACK_COLUMNS " ORDER BY s.name",
	[ST_STACK_EXISTS] = "SELECT 1 FROM stacks WHERE name = ?1",
	[ST_STACK_INSERT] =
		"INSERT INTO stacks (name, lineage, serial, created_at, updated_at)"
		" VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (name) DO NOTHING",
	[ST_STACK_DELETE] = "DELETE FROM stacks WHERE name = ?1",
	[ST_STACK_BUMP] =
		"UPDATE stacks SET serial = serial + 1, updated_at = ?2 WHERE name = ?1",
	[ST_STACK_TOUCH] = "UPDATE stacks SET updated_at = ?2 WHERE name = ?1",
	[ST_DESIGN_LATEST] =
		"SELECT version, hash, body, created_at FROM designs"
		" WHERE stack = ?1 ORDER BY version DESC LIMIT 1",
	[ST_DESIGN_LIST] =
		"SELECT version, hash, body, created_at FROM designs"
		" WHERE stack = ?1 ORDER BY version",
	[ST_DESIGN_INSERT] =
		"INSERT INTO designs (stack, version, hash, body, created_at)"
		" VALUES (?1, ?2, ?3, ?4, ?5)",
	[ST_RESOURCE_GET] = RESOURCE_COLUMNS " WHERE stack = ?1 AND address = ?2",
	[ST_RESOURCE_LIST] = RESOURCE_COLUMNS " WHERE stack = ?1 ORDER BY address",
	[ST_RESOURCE_UPSERT] =
		"INSERT INTO resources (stack, address, kind, type, provider,"
		" cairn_id, desired_hash, desired, observed, status, created_at,"
		" updated_at)"
		" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"
		" ON CONFLICT (stack, address) DO UPDATE SET"
		" kind = excluded.kind, type = excluded.type,"
		" provider = excluded.provider, cairn_id = excluded.cairn_id,"
		" desired_hash = excluded.desired_hash, desired = excluded.desired,"
		" observed = excluded.observed, status = excluded.status,"
		" updated_at = excluded.updated_at",
	[ST_RESOURCE_DELETE] = "DELETE FROM resources WHERE stack = ?1 AND address = ?2",
	[ST_POOL_GET] = POOL_COLUMNS " WHERE p.name = ?1",
	[ST_POOL_LIST] = POOL_COLUMNS " ORDER BY p.name",
	[ST_POOL_PUT] =
		"INSERT INTO pools (name, description, stack, created_at)"
		" VALUES (?1, ?2, ?3, ?4)"
		" ON CONFLICT (name) DO UPDATE SET description = excluded.description",
	[ST_POOL_RESTORE] =
		"INSERT INTO pools (name, description, stack, created_at)"
		" VALUES (?1, ?2, ?3, ?4)"
		" ON CONFLICT (name) DO UPDATE SET description = excluded.description,"
		" stack = excluded.stack, created_at = excluded.created_at",
	[ST_POOL_DELETE] = "DELETE FROM pools WHERE name = ?1",
	[ST_INTENT_INSERT] =
		"INSERT INTO intents (stack, address, op, kind, type, provider,"
		" cairn_id, attempt, desired, observed, created_at)"
		" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
	[ST_INTENT_CLOSE] =
		"UPDATE intents SET closed_at = ?2 WHERE id = ?1 AND closed_at IS NULL",
	[ST_INTENT_EXISTS] = "SELECT 1 FROM intents WHERE id = ?1",
	/* (stack, closed_at) then the rowid: the index gives them in order. */
	[ST_INTENT_LIST] = INTENT_COLUMNS
		" WHERE stack = ?1 AND closed_at IS NULL ORDER BY id",
	[ST_INTENT_LIST_ALL] = INTENT_COLUMNS " WHERE closed_at IS NULL ORDER BY id",
	[ST_INTENT_PRUNE] =
		"DELETE FROM intents WHERE stack = ?1 AND closed_at IS NOT NULL",
	[ST_TASK_UPSERT] =
		"INSERT INTO tasks (stack, address, op, status, attempts, last_error,"
		" created_at, updated_at)"
		" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
		" ON CONFLICT (stack, address) DO UPDATE SET op = excluded.op,"
		" status = excluded.status, attempts = excluded.attempts,"
		" last_error = excluded.last_error, updated_at = excluded.updated_at",
	[ST_TASK_ID] = "SELECT id FROM tasks WHERE stack = ?1 AND address = ?2",
	[ST_TASK_GET] = TASK_COLUMNS " WHERE id = ?1",
	/* ?1 NULL: every stack.  Tasks are few; no index needed for that. */
	[ST_TASK_LIST] = TASK_COLUMNS
		" WHERE (?1 IS NULL OR stack = ?1)"
		" AND (?2 = 0 OR status IN ('failed', 'blocked')) ORDER BY id",
	[ST_TASK_DELETE] = "DELETE FROM tasks WHERE stack = ?1 AND address = ?2",
	[ST_LOCK_GET] = LOCK_COLUMNS " WHERE stack = ?1",
	[ST_LOCK_PUT] =
		"INSERT INTO locks (stack, holder, fence, acquired_ms, expires_ms)"
		" VALUES (?1, ?2, ?3, ?4, ?5)"
		" ON CONFLICT (stack) DO UPDATE SET holder = excluded.holder,"
		" fence = excluded.fence, acquired_ms = excluded.acquired_ms,"
		" expires_ms = excluded.expires_ms",
	[ST_LOCK_RENEW] =
		"UPDATE locks SET expires_ms = ?3 WHERE stack = ?1 AND fence = ?2",
	[ST_LOCK_RELEASE] = "DELETE FROM locks WHERE stack = ?1 AND fence = ?2",
	[ST_LOCK_DELETE] = "DELETE FROM locks WHERE stack = ?1",
	[ST_FENCE_NEXT] =
		"INSERT INTO lock_fences (stack, fence) VALUES (?1, 1)"
		" ON CONFLICT (stack) DO UPDATE SET fence = fence + 1",
	[ST_FENCE_GET] = "SELECT fence FROM lock_fences WHERE stack = ?1",
	[ST_EVENT_INSERT] =
		"INSERT INTO events (stack, time, kind, data) VALUES (?1, ?2, ?3, ?4)",
	[ST_EVENT_LIST] = EVENT_COLUMNS " WHERE stack = ?1 AND id > ?2 ORDER BY id",
	[ST_EVENT_LIST_ALL] = EVENT_COLUMNS " WHERE id > ?2 ORDER BY id",
	[ST_OUTPUTS_GET] = "SELECT body FROM outputs WHERE stack = ?1",
	[ST_OUTPUTS_PUT] =
		"INSERT INTO outputs (stack, body, updated_at) VALUES (?1, ?2, ?3)"
		" ON CONFLICT (stack) DO UPDATE SET body = excluded.body,"
		" updated_at = excluded.updated_at",
	[ST_OUTPUTS_DELETE] = "DELETE FROM outputs WHERE stack = ?1",
	[ST_SECRET_GET] = "SELECT value FROM secrets WHERE stack = ?1 AND name = ?2",
	[ST_SECRET_PUT] =
		"INSERT INTO secrets (stack, name, value, updated_at) VALUES (?1, ?2, ?3, ?4)"
		" ON CONFLICT (stack, name) DO UPDATE SET value = excluded.value,"
		" updated_at = excluded.updated_at",
	[ST_SECRET_DELETE] = "DELETE FROM secrets WHERE stack = ?1 AND name = ?2",
	[ST_FACT_PUT] =
		"INSERT INTO facts (stack, address, name, value, updated_at)"
		" VALUES (?1, ?2, ?3, ?4, ?5)"
		" ON CONFLICT (stack, address, name) DO UPDATE SET value = excluded.value,"
		" updated_at = excluded.updated_at",
	/* ?2 NULL: every address; ?3 NULL: every name (a prefix otherwise) */
	[ST_FACT_LIST] =
		"SELECT address, name, value, updated_at FROM facts WHERE stack = ?1"
		" AND (?2 IS NULL OR address = ?2)"
		" AND (?3 IS NULL OR substr(name, 1, length(?3)) = ?3)"
		" ORDER BY address, name",
	[ST_FACT_DELETE] =
		"DELETE FROM facts WHERE stack = ?1 AND address = ?2"
		" AND (?3 IS NULL OR substr(name, 1, length(?3)) = ?3)",
	[ST_PLUGIN_LIST] = "SELECT type, path FROM plugins ORDER BY type",
	[ST_PLUGIN_PUT] =
		"INSERT INTO plugins (type, path, created_at) VALUES (?1, ?2, ?3)"
		" ON CONFLICT (type) DO UPDATE SET path = excluded.path",
	[ST_PLUGIN_DELETE] = "DELETE FROM plugins WHERE type = ?1",
};

struct sqlite_store {
	struct cairn_store base;       /* first: store.c hands us &base */
	sqlite3 *db;
	char *path;                    /* the file, for messages */
	sqlite3_stmt *stmt[ST__COUNT]; /* prepared on first use */
	int version;                   /* schema version of the open store */
	int depth;                     /* transaction nesting */
	bool doomed;                   /* an inner level rolled back */
	bool readonly;
};

static struct sqlite_store *to_sqlite(struct cairn_store *st)
{
	return (struct sqlite_store *)st;
}

/* ---- plumbing ------------------------------------------------------------ */

static int db_error(struct sqlite_store *s, int rc, struct cairn_error *err)
{
	const char *msg = s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc);

	switch (rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return cairn_error_set(err, CAIRN_E_CONFLICT,
				       "state store '%s' is busy: %s", s->path, msg);
	default:
		return cairn_error_set(err, CAIRN_E_STATE,
				       "state store '%s': %s", s->path, msg);
	}
}

static int exec(struct sqlite_store *s, const char *sql, struct cairn_error *err)
{
	int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);

	return rc == SQLITE_OK ? 0 : db_error(s, rc, err);
}

/*
 * Binding fails only for a wrong index or out of memory: a bug, or what
 * xmalloc would abort on anyway.
 */
static void bind_text(sqlite3_stmt *q, int i, const char *v)
{
	int rc = v ? sqlite3_bind_text(q, i, v, -1, SQLITE_TRANSIENT)
		   : sqlite3_bind_null(q, i);

	if (rc != SQLITE_OK)
		BUG("cannot bind parameter %d: %s", i, sqlite3_errstr(rc));
}

static void bind_int(sqlite3_stmt *q, int i, int64_t v)
{
	int rc = sqlite3_bind_int64(q, i, v);

	if (rc != SQLITE_OK)
		BUG("cannot bind parameter %d: %s", i, sqlite3_errstr(rc));
}

/* Bind v as canonical JSON text, or NULL. */
static void bind_json(sqlite3_stmt *q, int i, const json_t *v)
{
	char *text = v ? cairn_json_canonical(v) : NULL;

	bind_text(q, i, text);
	free(text);
}

/*
 * The cached statement id, prepared on first use, with p1 and p2 bound to
 * ?1 and ?2 unless NULL (each statement starts with its key: a name, or a
 * stack and an address); the caller binds the rest.  A parameter left
 * unbound is NULL, as stmt_done() leaves them.  NULL with err set.
 */
static sqlite3_stmt *stmt(struct sqlite_store *s, enum stmt_id id,
			  const char *p1, const char *p2, struct cairn_error *err)
{
	int rc;

	if (!s->stmt[id]) {
		rc = sqlite3_prepare_v3(s->db, stmt_sql[id], -1,
					SQLITE_PREPARE_PERSISTENT, &s->stmt[id], NULL);
		if (rc != SQLITE_OK) {
			db_error(s, rc, err);
			return NULL;
		}
	}
	if (p1)
		bind_text(s->stmt[id], 1, p1);
	if (p2)
		bind_text(s->stmt[id], 2, p2);
	return s->stmt[id];
}

/* Make q reusable; it drops the bound values too.  NULL is fine. */
static void stmt_done(sqlite3_stmt *q)
{
	if (!q)
		return;
	sqlite3_reset(q);
	sqlite3_clear_bindings(q);
}

/* 1 for a row, 0 when done, -1 with err set. */
static int step(struct sqlite_store *s, sqlite3_stmt *q, struct cairn_error *err)
{
	int rc = sqlite3_step(q);

	if (rc == SQLITE_ROW)
		return 1;
	if (rc == SQLITE_DONE)
		return 0;
	return db_error(s, rc, err);
}

/* Run a write statement already bound; *changes gets the rows it touched. */
static int run(struct sqlite_store *s, sqlite3_stmt *q, int *changes,
	       struct cairn_error *err)
{
	int rc = step(s, q, err);

	if (changes)
		*changes = rc < 0 ? 0 : sqlite3_changes(s->db);
	stmt_done(q);
	return rc < 0 ? -1 : 0;
}

/* Run write statement id with only p1 and p2 bound (see stmt()). */
static int run_keyed(struct sqlite_store *s, enum stmt_id id, const char *p1,
		     const char *p2, int *changes, struct cairn_error *err)
{
	sqlite3_stmt *q = stmt(s, id, p1, p2, err);

	return q ? run(s, q, changes, err) : -1;
}

static char *col_str(sqlite3_stmt *q, int i)
{
	const unsigned char *v = sqlite3_column_text(q, i);

	return v ? xstrdup((const char *)v) : NULL;
}

/* Column i parsed as JSON into *out (NULL for SQL NULL). */
static int col_json(struct sqlite_store *s, sqlite3_stmt *q, int i,
		    json_t **out, struct cairn_error *err)
{
	const char *text = (const char *)sqlite3_column_text(q, i);
	json_error_t jerr;

	*out = NULL;
	if (!text)
		return 0;
	*out = json_loads(text, JSON_DECODE_ANY, &jerr);
	if (!*out)
		return cairn_error_set(err, CAIRN_E_STATE,
				       "state store '%s' holds invalid JSON in column '%s': %s",
				       s->path, sqlite3_column_name(q, i), jerr.text);
	return 0;
}

/*
 * How to read one kind of record from a row: read fills the zeroed record
 * at rec from q's current row (0, or -1 with err set and what it read left
 * for release); release frees what the record holds.
 */
struct row_reader {
	size_t size;
	int (*read)(struct sqlite_store *s, sqlite3_stmt *q, void *rec,
		    struct cairn_error *err);
	void (*release)(void *rec);
};

/*
 * Step q, a statement bound by the caller, and read its first row into rec
 * with rd, or (rd NULL) only look whether there is one; q is reset.  1 for a
 * row, 0 for none, -1 with err set and nothing left in rec.
 */
static int select_row(struct sqlite_store *s, sqlite3_stmt *q,
		      const struct row_reader *rd, void *rec, struct cairn_error *err)
{
	int rc = step(s, q, err);

	if (rc > 0 && rd && rd->read(s, q, rec, err) < 0) {
		rd->release(rec);
		rc = -1;
	}
	stmt_done(q);
	return rc;
}

/* select_row() on query id with p1 and p2 bound (see stmt()). */
static int select_one(struct sqlite_store *s, enum stmt_id id, const char *p1,
		      const char *p2, const struct row_reader *rd, void *rec,
		      struct cairn_error *err)
{
	sqlite3_stmt *q = stmt(s, id, p1, p2, err);

	return q ? select_row(s, q, rd, rec, err) : -1;
}

/*
 * Every row of q, a statement bound by the caller, read with rd into a new
 * array: *out (NULL when there are none) and its length *n, untouched on
 * failure.  q is reset.
 */
static int select_rows(struct sqlite_store *s, sqlite3_stmt *q,
		       const struct row_reader *rd, void **out, size_t *n,
		       struct cairn_error *err)
{
	unsigned char *v = NULL;
	size_t nr = 0, alloc = 0;
	int rc;

	while ((rc = step(s, q, err)) > 0) {
		ALLOC_GROW(v, (nr + 1) * rd->size, alloc);
		memset(v + nr * rd->size, 0, rd->size);
		if (rd->read(s, q, v + nr++ * rd->size, err) < 0) {
			rc = -1;
			break;
		}
	}
	stmt_done(q);
	if (rc < 0) {
		for (size_t i = 0; i < nr; i++)
			rd->release(v + i * rd->size);
		free(v);
		return -1;
	}
	*out = v;
	*n = nr;
	return 0;
}

/* select_rows() on query id with p1 bound (see stmt()). */
static int select_all(struct sqlite_store *s, enum stmt_id id, const char *p1,
		      const struct row_reader *rd, void **out, size_t *n,
		      struct cairn_error *err)
{
	sqlite3_stmt *q = stmt(s, id, p1, NULL, err);

	return q ? select_rows(s, q, rd, out, n, err) : -1;
}

/*
 * Step q, a statement bound by the caller, and read the integer in the first
 * column of its first row into *out; q is reset.  1 for a row, 0 for none,
 * -1 with err set.
 */
static int select_int64(struct sqlite_store *s, sqlite3_stmt *q, int64_t *out,
			struct cairn_error *err)
{
	int rc = step(s, q, err);

	if (rc > 0)
		*out = sqlite3_column_int64(q, 0);
	stmt_done(q);
	return rc;
}

/*
 * Prepare sql (our own text without parameters: PRAGMAs, counts) into *q
 * and step it once; the caller reads the row and finalizes *q, which may be
 * NULL.  1 for a row, 0 for none, -1 with err set.
 */
static int query(struct sqlite_store *s, const char *sql, sqlite3_stmt **q,
		 struct cairn_error *err)
{
	int rc = sqlite3_prepare_v2(s->db, sql, -1, q, NULL);

	if (rc != SQLITE_OK)
		return db_error(s, rc, err);
	return step(s, *q, err);
}

/* Run a query that yields one integer. */
static int query_int(struct sqlite_store *s, const char *sql, int64_t *out,
		     struct cairn_error *err)
{
	sqlite3_stmt *q = NULL;
	int rc = query(s, sql, &q, err);

	if (rc >= 0)
		*out = rc ? sqlite3_column_int64(q, 0) : 0;
	sqlite3_finalize(q);
	return rc < 0 ? -1 : 0;
}

/* ---- transactions -------------------------------------------------------- */

/* Roll back what SQLite still has open and forget an inner rollback. */
static void abort_transaction(struct sqlite_store *s)
{
	s->doomed = false;
	if (sqlite3_get_autocommit(s->db))
		return;        /* SQLite already rolled back (I/O error, ...) */
	if (sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL) != SQLITE_OK)
		cairn_warn("cannot roll back state store '%s': %s", s->path,
			   sqlite3_errmsg(s->db));
}

static int sqlite_begin(struct cairn_store *st, struct cairn_error *err)
{
	struct sqlite_store *s = to_sqlite(st);

	if (s->doomed)
		return cairn_error_set(err, CAIRN_E_STATE,
				       "transaction on state store '%s' was rolled back",
				       s->path);
	if (s->depth > 0 && sqlite3_get_autocommit(s->db)) {
		/* SQLite ended the transaction under us after an error. */
		s->doomed = true;
		return cairn_error_set(err, CAIRN_E_STATE,
				       "transaction on state store '%s' was aborted",
				       s->path);
	}
	if (!s->depth && exec(s, s->readonly ? "BEGIN" : "BEGIN IMMEDIATE", err) < 0)
		return -1;
	s->depth++;
	return 0;
}

static int sqlite_commit(struct cairn_store *st, struct cairn_error *err)
{
	struct sqlite_store *s = to_sqlite(st);

	if (!s->depth)
		return cairn_error_set(err, CAIRN_E_INTERNAL,
				       "commit without a transaction on state store '%s'",
				       s->path);
	if (--s->depth > 0) {
		if (s->doomed)
			return cairn_error_set(err, CAIRN_E_STATE,
					       "transaction on state store '%s' was rolled back",
					       s->path);
		return 0;
	}
	if (s->doomed) {
		abort_transaction(s);
		return cairn_error_set(err, CAIRN_E_STATE,
				       "transaction on state store '%s' was rolled back",
				       s->path);
	}
	if (exec(s, "COMMIT", err) < 0) {
		abort_transaction(s);
		return -1;
	}
	return 0;
}

static void sqlite_rollback(struct cairn_store *st)
{
	struct sqlite_store *s = to_sqlite(st);

	if (!s->depth)
		return;
	if (--s->depth > 0)
		s->doomed = true;
	else
		abort_transaction(s);
}

/*
 * End the transaction a write operation opened: commit, unless the
 * operation failed after it changed something.  A refusal found before any
 * change (a missing stack, a pool in use) commits the empty level, so it
 * does not doom the caller's enclosing transaction.
 */
static int finish(struct sqlite_store *s, int ret, bool changed,
		  struct cairn_error *err)
{
	if (ret < 0 && changed) {
		sqlite_rollback(&s->base);
		return -1;
	}
	if (sqlite_commit(&s->base, err) < 0)
		return -1;
	return ret;
}

/* Set the stack's updated_at, and raise its serial when bump is set. */
static int touch_stack(struct sqlite_store *s, const char *name, bool bump,
		       struct cairn_error *err)
{
	char now[21];

	cairn_timestamp(now);
	return run_keyed(s, bump ? ST_STACK_BUMP : ST_STACK_TOUCH, name, now,
			 NULL, err);
}

/* ---- opening, migrating, closing ------------------------------------------ */

static void destroy(struct sqlite_store *s)
{
	for (size_t i = 0; i < ST__COUNT; i++)
		sqlite3_finalize(s->stmt[i]);
	if (s->db && sqlite3_close(s->db) != SQLITE_OK)
		cairn_warn("cannot close state store '%s': %s", s->path,
			   sqlite3_errmsg(s->db));
	free(s->path);
	free(s);
}

static void sqlite_close(struct cairn_store *st)
{
	struct sqlite_store *s = to_sqlite(st);

	if (s->depth) {
		cairn_warn("state store '%s' closed inside a transaction; rolling it back",
			   s->path);
		s->depth = 0;
		abort_transaction(s);
	}
	destroy(s);
}

static int sqlite_schema_version(struct cairn_store *st)
{
	return to_sqlite(st)->version;
}

/* Create the missing parent directories of path, 0700 each. */
static int make_parents(const char *path, struct cairn_error *err)
{
	char *dir = xstrdup(path);
	char *p;
	int ret = -1;

	for (p = strchr(dir + 1, '/'); p; p = strchr(p + 1, '/')) {
		*p = '\0';
		if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
			cairn_error_set(err, CAIRN_E_IO,
					"cannot create directory '%s': %s",
					dir, strerror(errno));
			goto out;
		}
		*p = '/';
	}
	ret = 0;
out:
	free(dir);
	return ret;
}

/* Create the store file 0600 ourselves: SQLite would use 0644. */
static int create_file(const char *path, struct cairn_error *err)
{
	int fd;

	if (make_parents(path, err) < 0)
		return -1;
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return cairn_error_set(err, CAIRN_E_IO,
				       "cannot create state store '%s': %s",
				       path, strerror(errno));
	close(fd);
	return 0;
}

/*
 * Read the schema version and refuse what this build cannot use: a store
 * newer than it, and a SQLite database that is not a cairn store at all.
 */
static int read_version(struct sqlite_store *s, int *version,
			struct cairn_error *err)
{
	int64_t v, app, tables;

	if (query_int(s, "PRAGMA user_version", &v, err) < 0 ||
	    query_int(s, "PRAGMA application_id", &app, err) < 0 ||
	    query_int(s, "SELECT count(*) FROM sqlite_master", &tables, err) < 0)
		return -1;
	if (app != CAIRN_SQLITE_APPLICATION_ID && (v || tables)) {
		cairn_error_set(err, CAIRN_E_STATE,
				"'%s' is a SQLite database but not a cairn state store",
				s->path);
		return -1;
	}
	if (v > CAIRN_STORE_SCHEMA_VERSION) {
		cairn_error_set(err, CAIRN_E_STATE,
				"state store '%s' has schema version %lld, newer than this cairn supports (%d)",
				s->path, (long long)v, CAIRN_STORE_SCHEMA_VERSION);
		cairn_error_hint(err, "upgrade cairn to use this store");
		return -1;
	}
	*version = (int)v;
	return 0;
}

/* Apply the migrations the store lacks, one transaction each. */
static int migrate(struct sqlite_store *s, struct cairn_error *err)
{
	char *pragma = NULL;
	bool in_txn = false;
	int v, ret = -1;

	if (read_version(s, &v, err) < 0)
		goto out;
	while (v < CAIRN_STORE_SCHEMA_VERSION) {
		if (exec(s, "BEGIN IMMEDIATE", err) < 0)
			goto out;
		in_txn = true;
		/* Another process may have migrated while we waited. */
		if (read_version(s, &v, err) < 0)
			goto out;
		if (v < CAIRN_STORE_SCHEMA_VERSION) {
			/* PRAGMAs take no parameters; these are our own integers. */
			free(pragma);
			pragma = xasprintf("PRAGMA user_version = %d; PRAGMA application_id = %d;",
					   v + 1, CAIRN_SQLITE_APPLICATION_ID);
			if (exec(s, migrations[v], err) < 0 || exec(s, pragma, err) < 0)
				goto out;
		}
		if (exec(s, "COMMIT", err) < 0)
			goto out;
		in_txn = false;
		if (v < CAIRN_STORE_SCHEMA_VERSION) {
			v++;
			cairn_info("state store '%s' migrated to schema version %d",
				   s->path, v);
		}
	}
	s->version = v;
	ret = 0;
out:
	if (in_txn) {
		if (!sqlite3_get_autocommit(s->db))
			sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
		cairn_error_context(err, "while migrating state store '%s' to schema version %d",
				    s->path, v + 1);
	}
	free(pragma);
	return ret;
}

static int open_db(struct sqlite_store *s, const char *file, int oflags,
		   bool wal, struct cairn_error *err)
{
	sqlite3_stmt *q = NULL;
	const char *mode;
	int rc, ret = -1;

	rc = sqlite3_open_v2(file, &s->db, oflags | SQLITE_OPEN_EXRESCODE, NULL);
	if (rc != SQLITE_OK) {
		cairn_error_set(err, CAIRN_E_STATE, "cannot open state store '%s': %s",
				s->path, s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
		goto out;
	}
	sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS);
	if (exec(s, "PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;", err) < 0)
		goto out;
	if (wal) {
		/* journal_mode answers with the mode now in force: WAL can be
		 * refused (some network file systems); carry on without it. */
		if ((rc = query(s, "PRAGMA journal_mode = WAL", &q, err)) < 0)
			goto out;
		mode = rc ? (const char *)sqlite3_column_text(q, 0) : NULL;
		if (!mode || strcmp(mode, "wal"))
			cairn_warn("state store '%s' cannot use WAL, journal mode is %s",
				   s->path, mode ? mode : "unknown");
	}
	ret = 0;
out:
	sqlite3_finalize(q);
	return ret;
}

/*
 * Read-only open of an existing file, without migrating.  Returns 1 when
 * the file holds no store yet (schema version 0): the caller then serves an
 * empty one from memory.
 */
static int open_readonly(struct sqlite_store *s, struct cairn_error *err)
{
	struct stat sb;

	if (stat(s->path, &sb) < 0) {
		if (errno == ENOENT)
			return 1;   /* a store never written is an empty one */
		return cairn_error_set(err, CAIRN_E_IO, "cannot open state store '%s': %s",
				       s->path, strerror(errno));
	}
	if (open_db(s, s->path, SQLITE_OPEN_READONLY, false, err) < 0 ||
	    read_version(s, &s->version, err) < 0)
		return -1;
	if (s->version == CAIRN_STORE_SCHEMA_VERSION)
		return 0;
	if (s->version) {
		cairn_error_set(err, CAIRN_E_STATE,
				"state store '%s' has schema version %d, this cairn needs %d",
				s->path, s->version, CAIRN_STORE_SCHEMA_VERSION);
		cairn_error_hint(err, "open it once without read-only to migrate it");
		return -1;
	}
	sqlite3_close(s->db);
	s->db = NULL;
	return 1;
}

/* A store in memory: ":memory:", or an empty read-only one. */
static int open_memory(struct sqlite_store *s, struct cairn_error *err)
{
	if (open_db(s, ":memory:", SQLITE_OPEN_READWRITE, false, err) < 0 ||
	    migrate(s, err) < 0)
		return -1;
	if (s->readonly)
		return exec(s, "PRAGMA query_only = ON", err);
	return 0;
}

static int sqlite_open(const char *path, unsigned flags, struct cairn_store **out,
		       struct cairn_error *err)
{
	struct sqlite_store *s = xcalloc(1, sizeof(*s));
	int rc;

	s->path = xstrdup(path);
	s->readonly = flags & CAIRN_STORE_READONLY;

	if (!strcmp(path, ":memory:")) {
		rc = open_memory(s, err);
	} else if (s->readonly) {
		rc = open_readonly(s, err);
		if (rc > 0)
			rc = open_memory(s, err);
	} else {
		rc = create_file(path, err);
		if (!rc)
			rc = open_db(s, path, SQLITE_OPEN_READWRITE, true, err);
		if (!rc)
			rc = migrate(s, err);
	}

	if (rc < 0) {
		destroy(s);
		return -1;
	}
	*out = &s->base;
	return 0;
}

/* ---- stacks ---------------------------------------------------------- */

static int read_stack(struct sqlite_store *s UNUSED, sqlite3_stmt *q, void *rec,
		      struct cairn_error *err UNUSED)
{
	struct cairn_stack_record *r = rec;

	r->name = col_str(q, 0);
	r->lineage = col_str(q, 1);
	r->serial = sqlite3_column_int64(q, 2);
	r->design_version = sqlite3_column_int64(q, 3);
	r->nresources = sqlite3_column_int64(q, 4);
	r->created_at = col_str(q, 5);
	r->updated_at = col_str(q, 6);
	return 0;
}

static void release_stack(void *rec)
{
	cairn_stack_record_release(rec);
}

static const struct row_reader stack_reader = {
	sizeof(struct cairn_stack_record), read_stack, release_stack,
};

/*
 * Read stack name into out or, with out NULL, only check that it exists:
 * CAIRN_E_NOTFOUND when it does not.
 */
static int sqlite_stack_get(struct cairn_store *st, const char *name,
			    struct cairn_stack_record *out, struct cairn_error *err)
{
	struct sqlite_store *s = to_sqlite(st);
	int rc = out ? select_one(s, ST_STACK_GET, name, NULL, &stack_reader, out, err)
		     : select_one(s, ST_STACK_EXISTS, name, NULL, NULL, NULL, err);

	if (rc == 0)
		return cairn_error_set(err, CAIRN_E_NOTFOUND,
				       "stack '%s' does not exist", name);
	return rc < 0 ? -1 : 0;
}

/* Insert a stack unless one of that name exists; *created says which. */
static int insert_stack(struct sqlite_store *s, const char *name,
			const char *lineage, int64_t serial, const char *created_at,
			const char *updated_at, bool *created, struct cairn_error *err)
{
	sqlite3_stmt *q = stmt(s, ST_STACK_INSERT, name, lineage, err);
	int changes;

	if (!q)
		return -1;
	bind_int(q, 3, serial);
	bind_text(q, 4, created_at);
	bind_text(q, 5, updated_at);
	if (run(s, q, &changes, err) < 0)
		return -1;
	*created = changes > 0;
	return 0;
}

static int sqlite_stack_ensure(struct cairn_store *st, const char *name,
			       struct cairn_stack_record *out,
			       struct cairn_error *err)
{
	struct sqlite_store *s = to_sqlite(st);
	char lineage[37], now[21];
	bool created = false;
	int ret = -1;

	if (sqlite_begin(st, err) < 0)
		return -1;
	cairn_uuid(lineage);
	cairn_timestamp(now);
	if (insert_stack(s, name, lineage, 0, now, now, &created, err) < 0 ||
	    sqlite_stack_get(st, name, out, err) < 0)
		goto out;
	if (created)
		cairn_info("stack '%s' created with lineage %s", name, lineage);
	ret = 0;
out:
	if (ret < 0)
		cairn_stack_record_release(out);
	return finish(s, ret, created, err);
}

static int sqlite_stack_list(struct cairn_store *st, struct cairn_stack_record **out,
			     size_t *n, struct cairn_error *err)
{
	void *v;

	if (select_all(to_sqlite(st), ST_STACK_LIST, NULL, &stack_reader, &v, n,
		       err) < 0)
		return -1;
	*out = v;
	return 0;
}

static int sqlite_stack_delete(struct cairn_store *st, const char *name,
			       struct cairn_error *err)
{
	struct sqlite_store *s = to_sqlite(st);
	int changes = 0, ret = -1;

	if (sqlite_begin(st, err) < 0)
		return -1;
	if (run_keyed(s, ST_STACK_DELETE, name, NULL, &changes, err) < 0)
		goto out;
	if (!changes) {
		cairn_error_set(err, CAIRN_E_NOTFOUND, "stack '%s' does not exist", name);
		goto out;
	}
	cairn_info("stack '%s' deleted", name);
	ret = 0;
out:
	return finish(s, ret, changes > 0, err);
}

static int sqlite_stack_restore(struct cairn_store *st,
				const struct cairn_stack_record *rec,
				struct cairn_error *err)
{
	struct sqlite_store *s = to_sqlite(st);
	bool created = false;
	int ret = -1;

	if (sqlite_begin(st, err) < 0)
		return -1;
	if (run_keyed(s, ST_STACK_DELETE, rec->name, NULL, NULL, err) < 0 ||
	    insert_stack(s, rec->name, rec->lineage, rec->serial, rec->created_at,
			 rec->updated_at, &created, err) < 0)
		goto out;
	if (!created)
		BUG("stack '%s' still there after its deletion", rec->name);
	ret = 0;
out:
	return finish(s, ret, true, err);
}

/* ---- designs ----------------------------------------------------------- */

static int read_design(struct sqlite_store *s, sqlite3_stmt *q, void *rec,
		       struct cairn_error *err)
{
	struct cairn_design_record *r = rec;

	r->version = sqlite3_column_int64(q, 0);
	r->hash = col_str(q, 1);
	r->created_at = col_str(q, 3);
	return col_json(s, q, 2, &r->body, err);
}

static void release_design(void *rec)
{
	cairn_design_record_release(rec);
}

static const struct row_reader design_reader = {
	sizeof(struct cairn_design_record), read_design, release_design,
};

static int insert_design(struct sqlite_store *s, const char *stack,
			 int64_t version, const char *hash, const json_t *body,
			 const char *created_at, struct cairn_error *err)
{
	sqlite3_stmt *q = stmt(s, ST_DESIGN_INSERT, stack, NULL, err);

	if (!q)
		return -1;
	bind_int(q, 2, version);
	bind_text(q, 3, hash);
	bind_json(q, 4, body);
	bind_text(q, 5, created_at);
	return run(s, q, NULL, err);
}

static int sqlite_design_put(struct cairn_store *st, const char *stack,
			     const json_t *design, int64_t *version,
			     struct cairn_error *err)
{
	struct sqlite_store *s = to_sqlite(st);
	sqlite3_stmt *q;
	char hash[CAIRN_HASH_LEN], now[21];
	int64_t latest = 0;
	bool same = false, changed = false;
	int rc, ret = -1;

	if (sqlite_begin(st, err) < 0)
		return -1;
	if (sqlite_stack_get(st, stack, NULL, err) < 0 ||
	    !(q = stmt(s, ST_DESIGN_LATEST, stack, NULL, err)))
		goto out;
	cairn_json_hash(design, hash);
	rc = step(s, q, err);
	if (rc > 0) {
		latest = sqlite3_column_int64(q, 0);
		same = !strcmp((const char *)sqlite3_column_text(q, 1), hash);
	}
	stmt_done(q);
	if (rc < 0)
		goto out;
	if (!same) {
		cairn_timestamp(now);
		changed = true;
		if (insert_design(s, stack, ++latest, hash, design, now, err) < 0 ||
		    touch_stack(s, stack, false, err) < 0)
			goto out;
		cairn_debug("stack '%s' design version %lld (%s)", stack,
			    (long long)latest, hash);
	}
	if (version)
		*version = latest;
	ret = 0;
out:
	return finish(s, ret, changed, err);
}

static int sqlite_design_get(struct cairn_store *st, const char *stack,
			     json_t **out, struct cairn_error *err)
{
	struct sqlite_store *s = to_sqlite(st);
	struct cairn_design_record rec = { 0 };
	int rc = select_one(s, ST_DESIGN_LATEST, stack, NULL, &design_reader, &rec, err);

	*out = rec.body;
	rec.body = NULL;
	cairn_design_record_release(&rec);
	if (rc)
		return rc < 0 ? -1 : 0;
	if (sqlite_stack_get(st, stack, NULL, err) < 0)
		return -1;
	return cairn_error_set(err, CAIRN_E_NOTFOUND,
			       "stack '%s' has no design yet", stack);
}

static int sqlite_design_list(struct cairn_store *st, const char *stack,
			      struct cairn_design_record **out, size_t *n,
			      struct cairn_error *err)
{
	void *v;

	if (select_all(to_sqlite(st), ST_DESIGN_LIST, stack, &design_reader, &v, n,
		       err) < 0)
		return -1;
	*out = v;
	return 0;
}

static int sqlite_design_restore(struct cairn_store *st, const char *stack,
				 const struct cairn_design_record *rec,
				 struct cairn_error *err)
{
	struct sqlite_store *s = to_sqlite(st);
	int ret;

	if (sqlite_begin(st, err) < 0)
		return -1;
	ret = insert_design(s, stack, rec->version, rec->hash, rec->body,
			    rec->created_at, err);
	return finish(s, ret, true, err);
}

/* ---- resources --------------------------------------------------------- */

static int read_resource(struct sqlite_store *s, sqlite3_stmt *q, void *rec,
			 struct cairn_error *err)
{
	struct cairn_resource_record *r = rec;
	const char *status = (const char *)sqlite3_column_text(q, 8);
	int code = cairn_resource_status_parse(status);

	r->address = col_str(q, 0);
	r->kind = col_str(q, 1);
	r->type = col_str(q, 2);
	r->provider = col_str(q, 3);
	r->cairn_id = col_str(q, 4);
	r->desired_hash = col_str(q, 5);
	r->created_at = col_str(q, 9);
	r->updated_at = col_str(q, 10);
	if (col_json(s, q, 6, &r->desired, err) < 0 ||
	    col_json(s, q, 7, &r->observed, err) < 0)
		return -1;
	if (code < 0)
		return cairn_error_set(err, CAIRN_E_STATE,
				       "state store '%s': resource '%s' has unknown status '%s'",
				       s->path, r->address, status ? status : "");
	r->status = (enum cairn_resource_status)code;
	return 0;
}

static void release_resource(void *rec)
{
	cairn_resource_record_release(rec);
}

static const struct row_reader resource_reader = {
	sizeof(struct cairn_resource_record), read_resource, release_resource,
};

static int sqlite_resource_list(struct cairn_store *st, const char *stack,
				struct cairn_resource_record **out, size_t *n,
				struct cairn_error *err)
{
	void *v;

	if (select_all(to_sqlite(st), ST_RESOURCE_LIST, stack, &resource_reader,
		       &v, n, err) < 0)
		return -1;
	*out = v;
	return 0;
}

static int sqlite_resource_each(struct cairn_store *st, const char *stack,
				cairn_store_resource_fn *fn, void *ud, struct cairn_error *err)
{
	struct sqlite_store *s = to_sqlite(st);
	sqlite3_stmt *q = stmt(s, ST_RESOURCE_LIST, stack, NULL, err);
	int rc;

	if (!q)
		return -1;
	while ((rc = step(s, q, err)) > 0) {
		struct cairn_resource_record r = { 0 };

		rc = read_resource(s, q, &r, err);
		if (!rc)
			rc = fn(ud, &r, err);
		cairn_resource_record_release(&r);
		if (rc < 0)
			break;
	}
	stmt_done(q);
	return rc < 0 ? -1 : 0;
}

static int sqlite_resource_get(struct cairn_store *st, const char *stack,
			       const char *address,
			       struct cairn_resource_record *out,
			       struct cairn_error *err)
{
	int rc = select_one(to_sqlite(st), ST_RESOURCE_GET, stack, address,
			    &resource_reader, out, err);

	if (rc == 0)
		return cairn_error_set(err, CAIRN_E_NOTFOUND,
				       "resource '%s' not found in stack '%s'",
				       address, stack);
	return rc < 0 ? -1 : 0;
}

/* Insert or replace r with the given timestamps (created_at is kept when
 * the row exists). */
static int upsert_resource(struct sqlite_store *s, const char *stack,
			   const struct cairn_resource_record *r,
			   const char *created_at, const char *updated_at,
			   struct cairn_error *err)
{
	sqlite3_stmt *q = stmt(s, ST_RESOURCE_UPSERT, stack, r->address, err);
	char hash[CAIRN_HASH_LEN];

	if (!q)
		return -1;
	if (!r->desired_hash)
		cairn_json_hash(r->desired, hash);
	bind_text(q, 3, r->kind);
	bind_text(q, 4, r->type);
	bind_text(q, 5, r->provider);
	bind_text(q, 6, r->cairn_id);
	bind_text(q, 7, r->desired_hash ? r->desired_hash : hash);
	bind_json(q, 8, r->desired);
	bind_json(q, 9, r->observed);
	bind_text(q, 10, cairn_resource_status_name(r->status));
	bind_text(q, 11, created_at);
	bind_text(q, 12, updated_at);
	return run(s, q, NULL, err);
}

static int sqlite_resource_put(struct cairn_store *st, const char *stack,
			       const struct cairn_resource_record *r,
			       struct cairn_error *err)
{
	struct sqlite_store *s = to_sqlite(st);
	char now[21];
	bool changed = false;
	int ret = -1;

	if (sqlite_begin(st, err) < 0)
		return -1;
	if (sqlite_stack_get(st, stack, NULL, err) < 0)
		goto out;
	cairn_timestamp(now);
	changed = true;
	if (upsert_resource(s, stack, r, now, now, err) < 0 ||
	    touch_stack(s, stack, true, err) < 0)
		goto out;
	ret = 0;
out:
	return finish(s, ret, changed, err);
}

static int sqlite_resource_delete(struct cairn_store *st, const char *stack,
				  const char *address, struct cairn_error *err)
{
	struct sqlite_store *s = to_sqlite(st);
	int changes = 0, ret = -1;

	if (sqlite_begin(st, err) < 0)
		return -1;
	if (run_keyed(s, ST_RESOURCE_DELETE, stack, address, &changes, err) < 0 ||
	    run_keyed(s, ST_FACT_DELETE, stack, address, NULL, err) < 0)
		goto out;
	/* Deleting nothing writes nothing: the serial stays. */
	if (changes && touch_stack(s, stack, true, err) < 0)
		goto out;
	ret = 0;
out:
	return finish(s, ret, changes > 0, err);
}

static int sqlite_resource_restore(struct cairn_store *st, const char *stack,
				   const struct cairn_resource_record *r,
				   struct cairn_error *err)
{
	struct sqlite_store *s = to_sqlite(st);
	int ret;

	if (sqlite_begin(st, err) < 0)
		return -1;
	ret = upsert_resource(s, stack, r, r->created_at, r->updated_at, err);
	return finish(s, ret, true, err);
}

/* ---- pools ------------------------------------------------------------- */

static int read_pool(struct sqlite_store *s UNUSED, sqlite3_stmt *q, void *rec,
		     struct cairn_error *err UNUSED)
{
	struct cairn_pool_record *r = rec;

	r->name = col_str(q, 0);
	r->description = col_str(q, 1);
	r->stack = col_str(q, 2);
	r->members = sqlite3_column_int64(q, 3);
	r->created_at = col_str(q, 4);
	return 0;
}

static void release_pool(void *rec)
{
	cairn_pool_record_release(rec);
}

static const struct row_reader pool_reader = {
	sizeof(struct cairn_pool_record), read_pool, release_pool,
};

static int sqlite_pool_list(struct cairn_store *st, struct cairn_pool_record **out,
			    size_t *n, struct cairn_error *err)
{
	void *v;

	if (select_all(to_sqlite(st), ST_POOL_LIST, NULL, &pool_reader, &v, n,
		       err) < 0)
		return -1;
	*out = v;
	return 0;
}

static int sqlite_pool_get(struct cairn_store *st, const char *name,
			   struct cairn_pool_record *out, struct cairn_error *err)
{
	int rc = select_one(to_sqlite(st), ST_POOL_GET, name, NULL, &pool_reader,
			    out, err);

	if (rc == 0)
		return cairn_error_set(err, CAIRN_E_NOTFOUND,
				       "pool '%s' does not exist", name);
	return rc < 0 ? -1 : 0;
}

static int write_pool(struct sqlite_store *s, enum stmt_id id, const char *name,
		      const char *description, const char *stack,
		      const char *created_at, struct cairn_error *err)
{
	sqlite3_stmt *q;
	int ret = -1;

	if (sqlite_begin(&s->base, err) < 0)
		return -1;
	if (!(q = stmt(s, id, name, description, err)))
		goto out;
	bind_text(q, 3, stack);
	bind_text(q, 4, created_at);
	ret = run(s, q, NULL, err);
out:
	return finish(s, ret, true, err);
}

static int sqlite_pool_put(struct cairn_store *st, const char *name,
			   const char *description, const char *stack,
			   struct cairn_error *err)
{
	char now[21];

	cairn_timestamp(now);
	return write_pool(to_sqlite(st), ST_POOL_PUT, name, description, stack,
			  now, err);
}

static int sqlite_pool_restore(struct cairn_store *st,
			       const struct cairn_pool_record *rec,
			       struct cairn_error *err)
{
	return write_pool(to_sqlite(st), ST_POOL_RESTORE, rec->name,
			  rec->description, rec->stack, rec->created_at, err);
}

static int sqlite_pool_delete(struct cairn_store *st, const char *name,
			      struct cairn_error *err)
{
	struct sqlite_store *s = to_sqlite(st);
	struct cairn_pool_record pool = { 0 };
	int changes = 0, ret = -1;

	if (sqlite_begin(st, err) < 0)
		return -1;
	if (sqlite_pool_get(st, name, &pool, err) < 0)
		goto out;
	if (pool.members > 0) {
		cairn_error_set(err, CAIRN_E_CONFLICT,
				"pool '%s' still has %lld member(s)",
				name, (long long)pool.members);
		cairn_error_hint(err, "destroy or move the resources in it first");
		goto out;
	}
	if (run_keyed(s, ST_POOL_DELETE, name, NULL, &changes, err) < 0)
		goto out;
	ret = 0;
out:
	cairn_pool_record_release(&pool);
	return finish(s, ret, changes > 0, err);
}

/* ---- intents (the journal) ----------------------------------------------
 *
 * intent_open runs in its own transaction like every write: outside a
 * caller's transaction that commits the row before the provider is called.
 * With synchronous = NORMAL in WAL mode the commit is in the WAL file (the
 * kernel's page cache) when it returns, so it survives the process being
 * killed; docs/internals/state.md says why that is the durability we want.
 */

static int read_intent(struct sqlite_store *s, sqlite3_stmt *q, void *rec,
		       struct cairn_error *err)
{
	struct cairn_intent_record *r = rec;

	r->id = sqlite3_column_int64(q, 0);
	r->stack = col_str(q, 1);
	r->address = col_str(q, 2);
	r->op = col_str(q, 3);
	r->kind = col_str(q, 4);
	r->type = col_str(q, 5);
	r->provider = col_str(q, 6);
	r->cairn_id = col_str(q, 7);
	r->attempt = sqlite3_column_int(q, 8);
	r->created_at = col_str(q, 11);
	if (col_json(s, q, 9, &r->desired, err) < 0 ||
	    col_json(s, q, 10, &r->observed, err) < 0)
		return -1;
	return 0;
}

static void release_intent(void *rec)
{
	cairn_intent_record_release(rec);
}

static const struct row_reader intent_reader = {
	sizeof(struct cairn_intent_record), read_intent, release_intent,
};

static int insert_intent(struct sqlite_store *s, const char *stack,
			 const struct cairn_intent_record *in, const char *created_at,
			 struct cairn_error *err)
{
	sqlite3_stmt *q = stmt(s, ST_INTENT_INSERT, stack, in->address, err);

	if (!q)
		return -1;
	bind_text(q, 3, in->op);
	bind_text(q, 4, in->kind);
	bind_text(q, 5, in->type);
	bind_text(q, 6, in->provider);
	bind_text(q, 7, in->cairn_id);
	bind_int(q, 8, in->attempt);
	bind_json(q, 9, in->desired);
	bind_json(q, 10, in->observed);
	bind_text(q, 11, created_at);
	return run(s, q, NULL, err);
}

static int sqlite_intent_open(struct cairn_store *st,
			      const struct cairn_intent_record *in, int64_t *id,
			      struct cairn_error *err)
{
	struct sqlite_store *s = to_sqlite(st);
	char now[21];
	bool changed = false;
	int ret = -1;

	if (sqlite_begin(st, err) < 0)
		return -1;
	if (sqlite_stack_get(st, in->stack, NULL, err) < 0)
		goto out;
	cairn_timestamp(now);
	changed = true;
	if (insert_intent(s, in->stack, in, now, err) < 0)
		goto out;
	*id = sqlite3_last_insert_rowid(s->db);
	ret = 0;
out:
	return finish(s, ret, changed, err);
}

static int sqlite_intent_close(struct cairn_store *st, int64_t id,
			       struct cairn_error *err)
{
	struct sqlite_store *s = to_sqlite(st);
	sqlite3_stmt *q;
	char now[21];
	int changes = 0, rc, ret = -1;

	if (sqlite_begin(st, err) < 0)
		return -1;
	if (!(q = stmt(s, ST_INTENT_CLOSE, NULL, NULL, err)))
		goto out;
	cairn_timestamp(now);
	bind_int(q, 1, id);
	bind_text(q, 2, now);
	if (run(s, q, &changes, err) < 0)
		goto out;
	if (!changes) {
		/* Closed already (a retried close is fine), or never there. */
		if (!(q = stmt(s, ST_INTENT_EXISTS, NULL, NULL, err)))
			goto out;
		bind_int(q, 1, id);
		if ((rc = select_row(s, q, NULL, NULL, err)) < 0)
			goto out;
		if (!rc) {
			cairn_error_set(err, CAIRN_E_NOTFOUND,
					"intent %lld does not exist", (long long)id);
			goto out;
		}
	}
	ret = 0;
out:
	return finish(s, ret, changes > 0, err);
}

static int sqlite_intent_list(struct cairn_store *st, const char *stack,
			      struct cairn_intent_record **out, size_t *n,
			      struct cairn_error *err)
{
	void *v;

	if (select_all(to_sqlite(st), stack ? ST_INTENT_LIST : ST_INTENT_LIST_ALL,
		       stack, &intent_reader, &v, n, err) < 0)
		return -1;
	*out = v;
	return 0;
}

static int sqlite_intent_restore(struct cairn_store *st, const char *stack,
				 const struct cairn_intent_record *rec,
				 struct cairn_error *err)
{
	struct sqlite_store *s = to_sqlite(st);
	int ret;

	if (sqlite_begin(st, err) < 0)
		return -1;
	ret = insert_intent(s, stack, rec, rec->created_at, err);
	return finish(s, ret, true, err);
}

/* ---- tasks --------------------------------------------------------------- */

static int read_task(struct sqlite_store *s UNUSED, sqlite3_stmt *q, void *rec,
		     struct cairn_error *err UNUSED)
{
	struct cairn_task_record *r = rec;

	r->id = sqlite3_column_int64(q, 0);
	r->stack = col_str(q, 1);
	r->address = col_str(q, 2);
	r->op = col_str(q, 3);
	r->status = col_str(q, 4);
	r->attempts = sqlite3_column_int(q, 5);
	r->last_error = col_str(q, 6);
	r->created_at = col_str(q, 7);
	r->updated_at = col_str(q, 8);
	return 0;
}

static void release_task(void *rec)
{
	cairn_task_record_release(rec);
}

static const struct row_reader task_reader = {
	sizeof(struct cairn_task_record), read_task, release_task,
};

/* Insert or update the task of (stack, t->address); *id gets its id. */
static int upsert_task(struct sqlite_store *s, const char *stack,
		       const struct cairn_task_record *t, const char *created_at,
		       const char *updated_at, int64_t *id, struct cairn_error *err)
{
	sqlite3_stmt *q = stmt(s, ST_TASK_UPSERT, stack, t->address, err);
	int rc;

	if (!q)
		return -1;
	bind_text(q, 3, t->op);
	bind_text(q, 4, t->status);
	bind_int(q, 5, t->attempts);
	bind_text(q, 6, t->last_error);
	bind_text(q, 7, created_at);
	bind_text(q, 8, updated_at);
	if (run(s, q, NULL, err) < 0)
		return -1;
	/* last_insert_rowid() is not set when the upsert updated: ask. */
	if (!(q = stmt(s, ST_TASK_ID, stack, t->address, err)))
		return -1;
	if (!(rc = select_int64(s, q, id, err)))
		BUG("task of '%s' missing right after its upsert", t->address);
	return rc < 0 ? -1 : 0;
}

static int sqlite_task_put(struct cairn_store *st, const struct cairn_task_record *t,
			   int64_t *id, struct cairn_error *err)
{
	struct sqlite_store *s = to_sqlite(st);
	char now[21];
	bool changed = false;
	int ret = -1;

	if (sqlite_begin(st, err) < 0)
		return -1;
	if (sqlite_stack_get(st, t->stack, NULL, err) < 0)
		goto out;
	cairn_timestamp(now);
	changed = true;
	if (upsert_task(s, t->stack, t, now, now, id, err) < 0)
		goto out;
	ret = 0;
out:
	return finish(s, ret, changed, err);
}

static int sqlite_task_get(struct cairn_store *st, int64_t id,
			   struct cairn_task_record *out, struct cairn_error *err)
{
	struct sqlite_store *s = to_sqlite(st);
	sqlite3_stmt *q = stmt(s, ST_TASK_GET, NULL, NULL, err);
	int rc;

	if (!q)
		return -1;
	bind_int(q, 1, id);
	rc = select_row(s, q, &task_reader, out, err);
	if (rc == 0)
		return cairn_error_set(err, CAIRN_E_NOTFOUND,
				       "task %lld does not exist", (long long)id);
	return rc < 0 ? -1 : 0;
}

static int sqlite_task_list(struct cairn_store *st, const char *stack,
			    bool unfinished, struct cairn_task_record **out,
			    size_t *n, struct cairn_error *err)
{
	struct sqlite_store *s = to_sqlite(st);
	sqlite3_stmt *q = stmt(s, ST_TASK_LIST, stack, NULL, err);
	void *v;

	if (!q)
		return -1;
	bind_int(q, 2, unfinished);
	if (select_rows(s, q, &task_reader, &v, n, err) < 0)
		return -1;
	*out = v;
	return 0;
}

static int sqlite_task_delete(struct cairn_store *st, const char *stack,
			      const char *address, struct cairn_error *err)
{
	struct sqlite_store *s = to_sqlite(st);
	int changes = 0, ret;

	if (sqlite_begin(st, err) < 0)
		return -1;
	ret = run_keyed(s, ST_TASK_DELETE, stack, address, &changes, err);
	return finish(s, ret, changes > 0, err);
}

static int sqlite_task_restore(struct cairn_store *st, const char *stack,
			       const struct cairn_task_record *rec,
			       struct cairn_error *err)
{
	struct sqlite_store *s = to_sqlite(st);
	int64_t id;
	int ret;

	if (sqlite_begin(st, err) < 0)
		return -1;
	ret = upsert_task(s, stack, rec, rec->created_at, rec->updated_at, &id, err);
	return finish(s, ret, true, err);
}

/* ---- events ---------------------------------------------------------------- */

static int insert_event(struct sqlite_store *s, const char *stack, const char *kind,
			const json_t *data, struct cairn_error *err)
{
	sqlite3_stmt *q = stmt(s, ST_EVENT_INSERT, stack, NULL, err);
	char now[25];

	if (!q)
		return -1;
	cairn_store_time_ms(cairn_now_realtime_ms(), now);
	bind_text(q, 2, now);
	bind_text(q, 3, kind);
	bind_json(q, 4, data);
	return run(s, q, NULL, err);
}

static int sqlite_event_add(struct cairn_store *st, const char *stack,
			    const char *kind, const json_t *data,
			    struct cairn_error *err)
{
	struct sqlite_store *s = to_sqlite(st);
	int ret;

	if (sqlite_begin(st, err) < 0)
		return -1;
	ret = insert_event(s, stack, kind, data, err);
	return finish(s, ret, true, err);
}

static int sqlite_event_list(struct cairn_store *st, const char *stack,
			     int64_t since, json_t **out, struct cairn_error *err)
{
	struct sqlite_store *s = to_sqlite(st);
	sqlite3_stmt *q = stmt(s, stack ? ST_EVENT_LIST : ST_EVENT_LIST_ALL, stack,
			       NULL, err);
	json_t *events, *data;
	int rc;

	if (!q)
		return -1;
	bind_int(q, 2, since);
	events = json_array();
	while ((rc = step(s, q, err)) > 0) {
		const char *ev_stack = (const char *)sqlite3_column_text(q, 1);

		if (col_json(s, q, 4, &data, err) < 0) {
			rc = -1;
			break;
		}
		json_array_append_new(events,
			json_pack("{s:I, s:o, s:s, s:s, s:o}",
				  "id", (json_int_t)sqlite3_column_int64(q, 0),
				  "stack", ev_stack ? json_string(ev_stack) : json_null(),
				  "time", (const char *)sqlite3_column_text(q, 2),
				  "kind", (const char *)sqlite3_column_text(q, 3),
				  "data", data ? data : json_null()));
	}
	stmt_done(q);
	if (rc < 0) {
		json_decref(events);
		return -1;
	}
	*out = events;
	return 0;
}

/* ---- the stack lock ------------------------------------------------------- */

static int read_lock(struct sqlite_store *s UNUSED, sqlite3_stmt *q, void *rec,
		     struct cairn_error *err UNUSED)
{
	struct cairn_lock_record *r = rec;

	r->stack = col_str(q, 0);
	r->holder = col_str(q, 1);
	r->fence = sqlite3_column_int64(q, 2);
	r->acquired_ms = sqlite3_column_int64(q, 3);
	r->expires_ms = sqlite3_column_int64(q, 4);
	return 0;
}

static void release_lock(void *rec)
{
	cairn_lock_record_release(rec);
}

static const struct row_reader lock_reader = {
	sizeof(struct cairn_lock_record), read_lock, release_lock,
};

/* now + lease_ms, without overflowing on an absurd lease. */
static int64_t lease_end(int64_t now, int64_t lease_ms)
{
	return lease_ms > INT64_MAX - now ? INT64_MAX : now + lease_ms;
}

/* Draw the stack's next fence: one more than any it ever had. */
static int next_fence(struct sqlite_store *s, const char *stack, int64_t *fence,
		      struct cairn_error *err)
{
	sqlite3_stmt *q;
	int rc;

	if (run_keyed(s, ST_FENCE_NEXT, stack, NULL, NULL, err) < 0 ||
	    !(q = stmt(s, ST_FENCE_GET, stack, NULL, err)))
		return -1;
	if (!(rc = select_int64(s, q, fence, err)))
		BUG("no fence for stack '%s' right after drawing one", stack);
	return rc < 0 ? -1 : 0;
}

/*
 * The whole acquisition is one BEGIN IMMEDIATE transaction (sqlite_begin()
 * at depth 0): the read of the current lease and the write of ours cannot
 * interleave with another process doing the same.
 */
static int sqlite_lock_acquire(struct cairn_store *st, const char *stack,
			       const char *holder, int64_t lease_ms,
			       struct cairn_lock_record *out, struct cairn_error *err)
{
	struct sqlite_store *s = to_sqlite(st);
	struct cairn_lock_record held = { 0 };
	sqlite3_stmt *q;
	json_t *data;
	int64_t now, fence = 0;
	bool changed = false;
	int rc, ret = -1;

	if (sqlite_begin(st, err) < 0)
		return -1;
	if (sqlite_stack_get(st, stack, NULL, err) < 0 ||
	    (rc = select_one(s, ST_LOCK_GET, stack, NULL, &lock_reader, &held, err)) < 0)
		goto out;
	now = cairn_now_realtime_ms();
	if (rc && held.expires_ms > now) {
		*out = held;
		memset(&held, 0, sizeof(held));
		cairn_store_lock_conflict(err, out);
		goto out;
	}

	changed = true;
	if (next_fence(s, stack, &fence, err) < 0 ||
	    !(q = stmt(s, ST_LOCK_PUT, stack, holder, err)))
		goto out;
	bind_int(q, 3, fence);
	bind_int(q, 4, now);
	bind_int(q, 5, lease_end(now, lease_ms));
	if (run(s, q, NULL, err) < 0)
		goto out;
	if (rc) {
		/* A lease that ran out: its holder died or hung.  Say so. */
		data = json_pack("{s:s, s:s, s:I, s:I}", "by", holder,
				 "holder", held.holder, "fence", (json_int_t)held.fence,
				 "expires_ms", (json_int_t)held.expires_ms);
		rc = insert_event(s, stack, "lock.expired", data, err);
		json_decref(data);
		if (rc < 0)
			goto out;
		cairn_info("stack '%s': took over the expired lock %lld of %s",
			   stack, (long long)held.fence, held.holder);
	}
	/* A new run begins: the previous runs' closed intents have served. */
	if (run_keyed(s, ST_INTENT_PRUNE, stack, NULL, NULL, err) < 0)
		goto out;

	out->stack = xstrdup(stack);
	out->holder = xstrdup(holder);
	out->fence = fence;
	out->acquired_ms = now;
	out->expires_ms = lease_end(now, lease_ms);
	ret = 0;
out:
	cairn_lock_record_release(&held);
	ret = finish(s, ret, changed, err);
	if (ret < 0 && changed)
		cairn_lock_record_release(out);
	return ret;
}

static int sqlite_lock_get(struct cairn_store *st, const char *stack,
			   struct cairn_lock_record *out, struct cairn_error *err)
{
	int rc = select_one(to_sqlite(st), ST_LOCK_GET, stack, NULL, &lock_reader,
			    out, err);

	if (rc)
		return rc < 0 ? -1 : 0;
	if (sqlite_stack_get(st, stack, NULL, err) < 0)
		return -1;
	return cairn_error_set(err, CAIRN_E_NOTFOUND, "stack '%s' is not locked", stack);
}

static int sqlite_lock_renew(struct cairn_store *st, const char *stack,
			     int64_t fence, int64_t lease_ms,
			     struct cairn_error *err)
{
	struct sqlite_store *s = to_sqlite(st);
	struct cairn_lock_record now = { 0 };
	sqlite3_stmt *q;
	int changes = 0, rc, ret = -1;

	if (sqlite_begin(st, err) < 0)
		return -1;
	if (!(q = stmt(s, ST_LOCK_RENEW, stack, NULL, err)))
		goto out;
	/* Our fence still there means nobody took over, even if our lease ran
	 * out meanwhile: extending it is safe. */
	bind_int(q, 2, fence);
	bind_int(q, 3, lease_end(cairn_now_realtime_ms(), lease_ms));
	if (run(s, q, &changes, err) < 0)
		goto out;
	if (!changes) {
		if ((rc = select_one(s, ST_LOCK_GET, stack, NULL, &lock_reader, &now,
				     err)) < 0)
			goto out;
		cairn_store_lock_lost(err, stack, fence, rc ? &now : NULL);
		goto out;
	}
	ret = 0;
out:
	cairn_lock_record_release(&now);
	return finish(s, ret, changes > 0, err);
}

static int sqlite_lock_release(struct cairn_store *st, const char *stack,
			       int64_t fence, struct cairn_error *err)
{
	struct sqlite_store *s = to_sqlite(st);
	struct cairn_lock_record now = { 0 };
	sqlite3_stmt *q;
	int changes = 0, rc, ret = -1;

	if (sqlite_begin(st, err) < 0)
		return -1;
	if (!(q = stmt(s, ST_LOCK_RELEASE, stack, NULL, err)))
		goto out;
	bind_int(q, 2, fence);
	if (run(s, q, &changes, err) < 0)
		goto out;
	if (!changes) {
		/* Gone already, or someone else's now: not ours to remove. */
		if ((rc = select_one(s, ST_LOCK_GET, stack, NULL, &lock_reader, &now,
				     err)) < 0)
			goto out;
		if (rc)
			cairn_info("stack '%s': lock %lld not released, %s holds lock %lld now",
				   stack, (long long)fence, now.holder, (long long)now.fence);
	}
	ret = 0;
out:
	cairn_lock_record_release(&now);
	return finish(s, ret, changes > 0, err);
}

static int sqlite_lock_force(struct cairn_store *st, const char *stack,
			     const char *by, struct cairn_error *err)
{
	struct sqlite_store *s = to_sqlite(st);
	struct cairn_lock_record held = { 0 };
	json_t *data = NULL;
	bool changed = false;
	int ret = -1;

	if (sqlite_begin(st, err) < 0)
		return -1;
	if (sqlite_lock_get(st, stack, &held, err) < 0)
		goto out;
	changed = true;
	data = json_pack("{s:s, s:s, s:I}", "by", by, "holder", held.holder,
			 "fence", (json_int_t)held.fence);
	if (run_keyed(s, ST_LOCK_DELETE, stack, NULL, NULL, err) < 0 ||
	    insert_event(s, stack, "lock.forced", data, err) < 0)
		goto out;
	cairn_info("stack '%s': lock %lld of %s removed by %s", stack,
		   (long long)held.fence, held.holder, by);
	ret = 0;
out:
	json_decref(data);
	cairn_lock_record_release(&held);
	return finish(s, ret, changed, err);
}

/* ---- outputs ---------------------------------------------------------------- */

static int sqlite_outputs_put(struct cairn_store *st, const char *stack,
			      const json_t *outputs, struct cairn_error *err)
{
	struct sqlite_store *s = to_sqlite(st);
	sqlite3_stmt *q;
	char now[21];
	bool changed = false;
	int ret = -1;

	if (sqlite_begin(st, err) < 0)
		return -1;
	if (sqlite_stack_get(st, stack, NULL, err) < 0)
		goto out;
	changed = true;
	if (!outputs) {
		ret = run_keyed(s, ST_OUTPUTS_DELETE, stack, NULL, NULL, err);
		goto out;
	}
	if (!(q = stmt(s, ST_OUTPUTS_PUT, stack, NULL, err)))
		goto out;
	cairn_timestamp(now);
	bind_json(q, 2, outputs);
	bind_text(q, 3, now);
	ret = run(s, q, NULL, err);
out:
	return finish(s, ret, changed, err);
}

static int sqlite_outputs_get(struct cairn_store *st, const char *stack,
			      json_t **out, struct cairn_error *err)
{
	struct sqlite_store *s = to_sqlite(st);
	sqlite3_stmt *q = stmt(s, ST_OUTPUTS_GET, stack, NULL, err);
	int rc;

	if (!q)
		return -1;
	if ((rc = step(s, q, err)) > 0 && col_json(s, q, 0, out, err) < 0)
		rc = -1;
	stmt_done(q);
	if (rc)
		return rc < 0 ? -1 : 0;
	return sqlite_stack_get(st, stack, NULL, err);   /* none stored: *out NULL */
}

/* ---- secrets --------------------------------------------------------------- */

/* Values are sealed text, opaque here; no message below quotes one. */
static int sqlite_secret_put(struct cairn_store *st, const char *stack,
			     const char *name, const char *value,
			     struct cairn_error *err)
{
	struct sqlite_store *s = to_sqlite(st);
	sqlite3_stmt *q;
	char now[21];
	bool changed = false;
	int ret = -1;

	if (sqlite_begin(st, err) < 0)
		return -1;
	if (sqlite_stack_get(st, stack, NULL, err) < 0)
		goto out;
	changed = true;
	if (!(q = stmt(s, ST_SECRET_PUT, stack, name, err)))
		goto out;
	cairn_timestamp(now);
	bind_text(q, 3, value);
	bind_text(q, 4, now);
	ret = run(s, q, NULL, err);
out:
	return finish(s, ret, changed, err);
}

static int sqlite_secret_get(struct cairn_store *st, const char *stack,
			     const char *name, char **value, struct cairn_error *err)
{
	struct sqlite_store *s = to_sqlite(st);
	sqlite3_stmt *q = stmt(s, ST_SECRET_GET, stack, name, err);
	int rc;

	if (!q)
		return -1;
	if ((rc = step(s, q, err)) > 0)
		*value = col_str(q, 0);
	stmt_done(q);
	if (rc)
		return rc < 0 ? -1 : 0;
	if (sqlite_stack_get(st, stack, NULL, err) < 0)
		return -1;
	return cairn_error_set(err, CAIRN_E_NOTFOUND,
			       "stack '%s' has no secret '%s'", stack, name);
}

static int sqlite_secret_delete(struct cairn_store *st, const char *stack,
				const char *name, struct cairn_error *err)
{
	struct sqlite_store *s = to_sqlite(st);
	int changes = 0, ret;

	if (sqlite_begin(st, err) < 0)
		return -1;
	ret = run_keyed(s, ST_SECRET_DELETE, stack, name, &changes, err);
	return finish(s, ret, changes > 0, err);
}

/* ---- facts ------------------------------------------------------------------ */

static int sqlite_fact_put(struct cairn_store *st, const char *stack, const char *address,
			   const char *name, const json_t *value, struct cairn_error *err)
{
	struct sqlite_store *s = to_sqlite(st);
	sqlite3_stmt *q;
	char now[21];
	bool changed = false;
	int ret = -1;

	if (sqlite_begin(st, err) < 0)
		return -1;
	if (sqlite_stack_get(st, stack, NULL, err) < 0)
		goto out;
	changed = true;
	if (!(q = stmt(s, ST_FACT_PUT, stack, address, err)))
		goto out;
	cairn_timestamp(now);
	bind_text(q, 3, name);
	bind_json(q, 4, value);
	bind_text(q, 5, now);
	ret = run(s, q, NULL, err);
out:
	return finish(s, ret, changed, err);
}

static int sqlite_fact_list(struct cairn_store *st, const char *stack, const char *address,
			    const char *prefix, json_t **out, struct cairn_error *err)
{
	struct sqlite_store *s = to_sqlite(st);
	sqlite3_stmt *q;
	json_t *rows = json_array();
	int rc;

	*out = NULL;
	if (!(q = stmt(s, ST_FACT_LIST, stack, address, err))) {
		json_decref(rows);
		return -1;
	}
	bind_text(q, 3, prefix);
	while ((rc = step(s, q, err)) > 0) {
		json_t *value;

		if (col_json(s, q, 2, &value, err) < 0) {
			rc = -1;
			break;
		}
		json_array_append_new(rows, json_pack("{s:s?, s:s?, s:o, s:s?}",
						      "address", (const char *)sqlite3_column_text(q, 0),
						      "name", (const char *)sqlite3_column_text(q, 1),
						      "value", value ? value : json_null(),
						      "updated_at", (const char *)sqlite3_column_text(q, 3)));
	}
	stmt_done(q);
	if (rc < 0) {
		json_decref(rows);
		return -1;
	}
	*out = rows;
	return 0;
}

static int sqlite_fact_delete(struct cairn_store *st, const char *stack, const char *address,
			      const char *prefix, struct cairn_error *err)
{
	struct sqlite_store *s = to_sqlite(st);
	sqlite3_stmt *q;
	int changes = 0, ret = -1;

	if (sqlite_begin(st, err) < 0)
		return -1;
	if ((q = stmt(s, ST_FACT_DELETE, stack, address, err))) {
		bind_text(q, 3, prefix);
		ret = run(s, q, &changes, err);
	}
	return finish(s, ret, changes > 0, err);
}

/* ---- registered plugins ------------------------------------------------------ */

static int sqlite_plugin_put(struct cairn_store *st, const char *type,
			     const char *path, struct cairn_error *err)
{
	struct sqlite_store *s = to_sqlite(st);
	sqlite3_stmt *q;
	char now[21];
	int ret = -1;

	if (sqlite_begin(st, err) < 0)
		return -1;
	if ((q = stmt(s, ST_PLUGIN_PUT, type, path, err))) {
		cairn_timestamp(now);
		bind_text(q, 3, now);
		ret = run(s, q, NULL, err);
	}
	return finish(s, ret, true, err);
}

static int sqlite_plugin_delete(struct cairn_store *st, const char *type,
				struct cairn_error *err)
{
	struct sqlite_store *s = to_sqlite(st);
	int changes = 0, ret;

	if (sqlite_begin(st, err) < 0)
		return -1;
	ret = run_keyed(s, ST_PLUGIN_DELETE, type, NULL, &changes, err);
	if (!ret && !changes)
		ret = cairn_error_set(err, CAIRN_E_NOTFOUND,
				      "no plugin registered for provider type '%s'", type);
	return finish(s, ret, changes > 0, err);
}

static int sqlite_plugin_list(struct cairn_store *st, json_t **out,
			      struct cairn_error *err)
{
	struct sqlite_store *s = to_sqlite(st);
	sqlite3_stmt *q = stmt(s, ST_PLUGIN_LIST, NULL, NULL, err);
	json_t *plugins;
	int rc;

	if (!q)
		return -1;
	plugins = json_object();
	while ((rc = step(s, q, err)) > 0)
		json_object_set_new(plugins, (const char *)sqlite3_column_text(q, 0),
				    json_string((const char *)sqlite3_column_text(q, 1)));
	stmt_done(q);
	if (rc < 0) {
		json_decref(plugins);
		return -1;
	}
	*out = plugins;
	return 0;
}

const struct cairn_store_backend cairn_store_backend_sqlite = {
	.name = "sqlite",

	.open = sqlite_open,
	.close = sqlite_close,
	.schema_version = sqlite_schema_version,

	.begin = sqlite_begin,
	.commit = sqlite_commit,
	.rollback = sqlite_rollback,

	.stack_get = sqlite_stack_get,
	.stack_ensure = sqlite_stack_ensure,
	.stack_list = sqlite_stack_list,
	.stack_delete = sqlite_stack_delete,
	.stack_restore = sqlite_stack_restore,

	.design_put = sqlite_design_put,
	.design_get = sqlite_design_get,
	.design_list = sqlite_design_list,
	.design_restore = sqlite_design_restore,

	.resource_list = sqlite_resource_list,
	.resource_each = sqlite_resource_each,
	.resource_get = sqlite_resource_get,
	.resource_put = sqlite_resource_put,
	.resource_delete = sqlite_resource_delete,
	.resource_restore = sqlite_resource_restore,

	.pool_list = sqlite_pool_list,
	.pool_get = sqlite_pool_get,
	.pool_put = sqlite_pool_put,
	.pool_delete = sqlite_pool_delete,
	.pool_restore = sqlite_pool_restore,

	.intent_open = sqlite_intent_open,
	.intent_close = sqlite_intent_close,
	.intent_list = sqlite_intent_list,
	.intent_restore = sqlite_intent_restore,

	.task_put = sqlite_task_put,
	.task_get = sqlite_task_get,
	.task_list = sqlite_task_list,
	.task_delete = sqlite_task_delete,
	.task_restore = sqlite_task_restore,

	.lock_acquire = sqlite_lock_acquire,
	.lock_renew = sqlite_lock_renew,
	.lock_release = sqlite_lock_release,
	.lock_get = sqlite_lock_get,
	.lock_force = sqlite_lock_force,

	.event_add = sqlite_event_add,
	.event_list = sqlite_event_list,
	.outputs_put = sqlite_outputs_put,
	.outputs_get = sqlite_outputs_get,
	.secret_put = sqlite_secret_put,
	.secret_get = sqlite_secret_get,
	.secret_delete = sqlite_secret_delete,
	.fact_put = sqlite_fact_put,
	.fact_list = sqlite_fact_list,
	.fact_delete = sqlite_fact_delete,
	.plugin_put = sqlite_plugin_put,
	.plugin_delete = sqlite_plugin_delete,
	.plugin_list = sqlite_plugin_list,
};
