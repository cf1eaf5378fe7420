/*
 * store.h - where cairn keeps what it knows: stacks, their designs, the
 * resources that exist, pools; and (from part 2 on) intents, tasks, locks,
 * events, secrets and API tokens.  One interface, several backends: SQLite
 * (embedded default, src/state/sqlite.c) and later PostgreSQL.
 *
 * Ownership: a struct cairn_store is opened by cairn_store_open() and freed
 * by cairn_store_close().  Records returned through out-parameters belong to
 * the caller and are released with the matching _release() / _list_free().
 * Strings and JSON passed in are borrowed.
 *
 * Serial and lineage: every stack has a lineage (a UUID fixed when the stack
 * first enters the store) and a serial that rises by one with every write to
 * its resources (put or delete).  A saved plan records both; apply refuses a
 * plan whose serial or lineage no longer match.
 *
 * All functions return 0 on success and -1 with err set on failure.
 * A missing stack or resource is CAIRN_E_NOTFOUND.
 */
#ifndef CAIRN_STORE_H
#define CAIRN_STORE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cairn/error.h"

struct cairn_store;

enum cairn_store_flags {
	CAIRN_STORE_READONLY = 1 << 0,   /* never write, never create */
};

/*
 * Open the store at location: a file path for SQLite ("sqlite:" prefix
 * optional), later "postgresql://..." for PostgreSQL.  A SQLite file and its
 * parent directories are created (0700 directories, 0600 file) unless
 * READONLY; then migrations are applied.  A READONLY open of a missing file
 * succeeds and behaves as an empty store.
 */
int cairn_store_open(const char *location, unsigned flags,
		     struct cairn_store **out, struct cairn_error *err);
void cairn_store_close(struct cairn_store *st);

/* Default location: $CAIRN_STATE, else $XDG_STATE_HOME/cairn/state.db, else
 * $HOME/.local/state/cairn/state.db.  Caller frees. */
char *cairn_store_default_location(void);

/* The schema version this build writes, and the one the open store has. */
int cairn_store_schema_version(struct cairn_store *st);

/* Transactions nest by counting: only the outermost commit commits. */
int cairn_store_begin(struct cairn_store *st, struct cairn_error *err);
int cairn_store_commit(struct cairn_store *st, struct cairn_error *err);
void cairn_store_rollback(struct cairn_store *st);

/* ---- stacks ---------------------------------------------------------- */

struct cairn_stack_record {
	char *name;
	char *lineage;          /* UUID */
	int64_t serial;
	int64_t design_version; /* 0 when no design stored */
	int64_t nresources;
	char *created_at;       /* UTC, "2026-11-21T23:06:00Z" */
	char *updated_at;
};

void cairn_stack_record_release(struct cairn_stack_record *r);

/* Look a stack up; CAIRN_E_NOTFOUND if absent. */
int cairn_store_stack_get(struct cairn_store *st, const char *name,
			  struct cairn_stack_record *out, struct cairn_error *err);
/* Look up, creating the stack (new lineage, serial 0) if absent. */
int cairn_store_stack_ensure(struct cairn_store *st, const char *name,
			     struct cairn_stack_record *out, struct cairn_error *err);
int cairn_store_stack_list(struct cairn_store *st, struct cairn_stack_record **out,
			   size_t *n, struct cairn_error *err);
void cairn_stack_record_list_free(struct cairn_stack_record *v, size_t n);
/* Remove a stack with everything it owns (resources, designs, intents,
 * tasks, its lock, outputs, secrets); its events stay. */
int cairn_store_stack_delete(struct cairn_store *st, const char *name,
			     struct cairn_error *err);

/*
 * Record a design (the validated stack as canonical JSON) as the stack's
 * newest version, unless its hash equals the newest one's.  *version (may be
 * NULL) receives the version number now current.
 */
int cairn_store_design_put(struct cairn_store *st, const char *stack,
			   const json_t *design, int64_t *version,
			   struct cairn_error *err);
/* The newest design, or CAIRN_E_NOTFOUND.  Caller json_decref()s *out. */
int cairn_store_design_get(struct cairn_store *st, const char *stack,
			   json_t **out, struct cairn_error *err);

/* ---- resources -------------------------------------------------------- */

enum cairn_resource_status {
	CAIRN_RS_READY = 0,     /* exists and matches the recorded desired state */
	CAIRN_RS_TAINTED,       /* exists but must be replaced (failed configure, forced) */
	CAIRN_RS_FAILED,        /* the last operation on it failed */
	CAIRN_RS_GONE,          /* recorded, but the provider no longer has it (drift) */
};

const char *cairn_resource_status_name(enum cairn_resource_status s);
/* Returns -1 for an unknown name. */
int cairn_resource_status_parse(const char *name);

struct cairn_resource_record {
	char *address;          /* "node.web[2]", "network.lan" */
	char *kind;             /* "node", "network", "volume", "pool" */
	char *type;             /* provider type: "libvirt", "process", "cairn" */
	char *provider;         /* provider instance name in the stack */
	char *cairn_id;         /* UUID stamped on the real object */
	char *desired_hash;     /* cairn_json_hash() of desired */
	json_t *desired;        /* canonical desired attributes; owned reference */
	json_t *observed;       /* what the provider reported; owned reference, may be NULL */
	enum cairn_resource_status status;
	char *created_at;
	char *updated_at;
};

void cairn_resource_record_release(struct cairn_resource_record *r);
void cairn_resource_record_list_free(struct cairn_resource_record *v, size_t n);

/* All resources of a stack, ordered by address.  An unknown stack gives 0. */
int cairn_store_resource_list(struct cairn_store *st, const char *stack,
			      struct cairn_resource_record **out, size_t *n,
			      struct cairn_error *err);
/*
 * The same records one at a time, in the same order, without holding them
 * all: fn(ud, rec) for each (rec is the store's, valid during the call); fn
 * returns 0 to go on, -1 (with err set) to stop, and that is returned.
 */
typedef int cairn_store_resource_fn(void *ud, const struct cairn_resource_record *rec,
				    struct cairn_error *err);
int cairn_store_resource_each(struct cairn_store *st, const char *stack,
			      cairn_store_resource_fn *fn, void *ud, struct cairn_error *err);
int cairn_store_resource_get(struct cairn_store *st, const char *stack,
			     const char *address, struct cairn_resource_record *out,
			     struct cairn_error *err);
/* Insert or replace by (stack, address); the stack must exist.  Bumps serial. */
int cairn_store_resource_put(struct cairn_store *st, const char *stack,
			     const struct cairn_resource_record *r,
			     struct cairn_error *err);
/* Delete by (stack, address); deleting a missing one is not an error.  Bumps serial. */
int cairn_store_resource_delete(struct cairn_store *st, const char *stack,
				const char *address, struct cairn_error *err);

/* ---- pools ------------------------------------------------------------ */

struct cairn_pool_record {
	char *name;
	char *description;      /* may be NULL */
	char *stack;            /* stack that created it, NULL if made by hand */
	int64_t members;        /* resources associated with it */
	char *created_at;
};

void cairn_pool_record_release(struct cairn_pool_record *r);
void cairn_pool_record_list_free(struct cairn_pool_record *v, size_t n);
int cairn_store_pool_list(struct cairn_store *st, struct cairn_pool_record **out,
			  size_t *n, struct cairn_error *err);
int cairn_store_pool_get(struct cairn_store *st, const char *name,
			 struct cairn_pool_record *out, struct cairn_error *err);
/* Create or update description; CAIRN_E_EXISTS never raised. */
int cairn_store_pool_put(struct cairn_store *st, const char *name,
			 const char *description, const char *stack,
			 struct cairn_error *err);
/* Refused with CAIRN_E_CONFLICT while members > 0. */
int cairn_store_pool_delete(struct cairn_store *st, const char *name,
			    struct cairn_error *err);

/* ---- export / import ----------------------------------------------------- */

/*
 * The whole state of one stack (or of every stack when stack is NULL) as one
 * JSON document: {"format": "cairn-state", "version": 1, "stacks": [...],
 * "pools": [...]}.  Each stack carries its designs, resources, outputs,
 * tasks and open intents; locks, secrets, events, closed intents and
 * plugins stay behind.  Secrets stay because they are sealed with a
 * key-encryption key kept beside this store, not in it: anywhere else they
 * could not be opened.  See docs/internals/state.md.
 */
int cairn_store_export(struct cairn_store *st, const char *stack, json_t **out,
		       struct cairn_error *err);
/*
 * Load such a document: each stack in it replaces the stored one of that
 * name (lineage and serial included; its lock and its secrets are dropped
 * as by cairn_store_stack_delete()) inside one transaction.
 */
int cairn_store_import(struct cairn_store *st, const json_t *doc,
		       struct cairn_error *err);

/* ---- the journal: intents (part 2) --------------------------------------
 *
 * Before every provider call the engine opens an intent (committed at once);
 * after it, it writes the result and closes the intent.  Intents still open
 * when a run starts are what a crash left behind: the engine asks the
 * provider about each cairn id and adopts or forgets (docs/internals/journal.md).
 *
 * Durability: a committed intent survives the process being killed at any
 * moment (kill -9); after a power loss or an OS crash the last commits may
 * be missing, never half there (docs/internals/state.md, "Durability").
 * Closed intents are kept, for inspection, until the stack's lock is next
 * acquired, which deletes them.
 */

struct cairn_intent_record {
	int64_t id;             /* assigned by intent_open */
	char *stack;
	char *address;
	char *op;               /* "create", "update", "delete" */
	char *kind, *type, *provider;
	char *cairn_id;
	int attempt;            /* 1 for the first try */
	json_t *desired;        /* create/update: what was asked; may be NULL */
	json_t *observed;       /* delete/update: what was known before; may be NULL */
	char *created_at;
};

void cairn_intent_record_release(struct cairn_intent_record *r);
void cairn_intent_record_list_free(struct cairn_intent_record *v, size_t n);
/*
 * Record an intent (in->stack must exist, else CAIRN_E_NOTFOUND); *id (may
 * be NULL) receives its number, never one used before.  address, op, kind
 * and type are required, attempt >= 1 (CAIRN_E_INVALID); provider,
 * cairn_id, desired and observed may be NULL; in->id and in->created_at are
 * ignored.  Outside a transaction of the caller it is committed before this
 * returns; inside one, with that transaction.
 */
int cairn_store_intent_open(struct cairn_store *st, const struct cairn_intent_record *in,
			    int64_t *id, struct cairn_error *err);
/* Close it: the call's outcome is recorded (or known not to matter).
 * Closing a closed intent is not an error; an unknown id is CAIRN_E_NOTFOUND. */
int cairn_store_intent_close(struct cairn_store *st, int64_t id, struct cairn_error *err);
/* The open intents of a stack (every stack when NULL), oldest first (by
 * id).  An unknown stack gives 0. */
int cairn_store_intent_list(struct cairn_store *st, const char *stack,
			    struct cairn_intent_record **out, size_t *n,
			    struct cairn_error *err);

/* ---- tasks: work that failed, to retry ------------------------------------ */

struct cairn_task_record {
	int64_t id;
	char *stack;
	char *address;
	char *op;               /* "create", "update", "replace", "delete" */
	char *status;           /* "failed", "blocked" (a dependency failed), "done" */
	int attempts;
	char *last_error;       /* may be NULL */
	char *created_at, *updated_at;
};

void cairn_task_record_release(struct cairn_task_record *r);
void cairn_task_record_list_free(struct cairn_task_record *v, size_t n);
/*
 * Insert or update by (stack, address): one task per resource, whose id and
 * created_at stay when it is updated; t->id and the timestamps are ignored.
 * *id may be NULL.  The stack must exist (CAIRN_E_NOTFOUND); status must be
 * one of the three above and attempts >= 0 (CAIRN_E_INVALID).  Task ids are
 * never reused.
 */
int cairn_store_task_put(struct cairn_store *st, const struct cairn_task_record *t,
			 int64_t *id, struct cairn_error *err);
/* CAIRN_E_NOTFOUND for an unknown id. */
int cairn_store_task_get(struct cairn_store *st, int64_t id, struct cairn_task_record *out,
			 struct cairn_error *err);
/* Tasks of a stack (all stacks when NULL), by id; only "failed"/"blocked" ones
 * when unfinished is true. */
int cairn_store_task_list(struct cairn_store *st, const char *stack, bool unfinished,
			  struct cairn_task_record **out, size_t *n, struct cairn_error *err);
/* Forget the task of (stack, address); a missing one is not an error. */
int cairn_store_task_delete(struct cairn_store *st, const char *stack, const char *address,
			    struct cairn_error *err);

/* ---- the stack lock ------------------------------------------------------------
 *
 * One apply or destroy per stack: a lease with a holder, a fencing counter
 * that rises on every acquisition, and an expiry the holder renews.  An
 * expired lease may be taken by anyone.  Times are milliseconds since the
 * epoch (CLOCK_REALTIME of the store's host: cairn_now_realtime_ms()).
 *
 * Fences of a stack only ever rise: across releases, forced unlocks,
 * expiries, and deleting and re-creating the stack.  A live lease is a
 * conflict whoever asks, its own holder included (renew instead).
 */

struct cairn_lock_record {
	char *stack;
	char *holder;           /* "user@host pid 1234" */
	int64_t fence;          /* rises by one on every acquisition */
	int64_t acquired_ms;
	int64_t expires_ms;
};

void cairn_lock_record_release(struct cairn_lock_record *r);
/*
 * Take the stack's lock for lease_ms > 0 (the stack must exist): *out (may
 * be NULL) receives our lock, with its new fence.  Held and not expired:
 * CAIRN_E_CONFLICT "stack 'demo' is locked by root@host pid 123 since
 * 2026-11-22T04:00:00Z" (with a hint), and *out describes the holder's
 * lock.  Taking over an expired lease records an event "lock.expired"
 * {"by", "holder", "fence", "expires_ms"}.  Acquiring also deletes the
 * stack's closed intents (those of earlier runs).
 */
int cairn_store_lock_acquire(struct cairn_store *st, const char *stack, const char *holder,
			     int64_t lease_ms, struct cairn_lock_record *out,
			     struct cairn_error *err);
/* Extend our lease to lease_ms from now; CAIRN_E_CONFLICT when the fence
 * moved (we lost it: taken over, released or forced).  A lease that ran out
 * but was not taken over is still ours and renews. */
int cairn_store_lock_renew(struct cairn_store *st, const char *stack, int64_t fence,
			   int64_t lease_ms, struct cairn_error *err);
/* Give it back (only if the fence is still ours).  A lock already gone, or
 * someone else's now, is left alone and is not an error. */
int cairn_store_lock_release(struct cairn_store *st, const char *stack, int64_t fence,
			     struct cairn_error *err);
/* The current lock, even an expired one (compare expires_ms), or
 * CAIRN_E_NOTFOUND when the stack is not locked or does not exist. */
int cairn_store_lock_get(struct cairn_store *st, const char *stack,
			 struct cairn_lock_record *out, struct cairn_error *err);
/* Remove whatever lock the stack has (cairn state unlock); recorded as an
 * event "lock.forced" {"by", "holder", "fence"}.  by is required.
 * CAIRN_E_NOTFOUND when the stack is not locked. */
int cairn_store_lock_force(struct cairn_store *st, const char *stack, const char *by,
			   struct cairn_error *err);

/* ---- events and outputs ------------------------------------------------------ */

/* Append an event (audit trail, live stream): kind "apply.start", "lock.forced"...
 * stack need not exist (events outlive their stack) and may be NULL for an
 * event of the whole store; data (any JSON) may be NULL. */
int cairn_store_event_add(struct cairn_store *st, const char *stack, const char *kind,
			  const json_t *data, struct cairn_error *err);
/* Events of a stack (every stack when NULL) after id since, oldest first:
 * [{"id", "stack", "time", "kind", "data"}], time as
 * "2026-11-22T04:00:00.123Z", stack and data null when absent.  Caller
 * json_decref()s *out. */
int cairn_store_event_list(struct cairn_store *st, const char *stack, int64_t since,
			   json_t **out, struct cairn_error *err);
/* The stack's evaluated outputs (an object), replaced as a whole; NULL
 * removes them.  The stack must exist.  Outputs leave the serial alone. */
int cairn_store_outputs_put(struct cairn_store *st, const char *stack, const json_t *outputs,
			    struct cairn_error *err);
/* The stored outputs, {} when none were stored; CAIRN_E_NOTFOUND without
 * the stack.  Caller json_decref()s *out. */
int cairn_store_outputs_get(struct cairn_store *st, const char *stack, json_t **out,
			    struct cairn_error *err);

/* ---- stack secrets ------------------------------------------------------------
 *
 * Named values a stack keeps, such as the SSH private key cairn made for its
 * nodes.  The caller seals a value before putting it ("sb1:...", see
 * src/ssh/secretbox.h) and opens it after getting it: the store holds opaque
 * text, never plaintext, and does no cryptography.  No message of the store
 * quotes a value.  Secret names are non-empty and made of [a-z0-9._-]
 * (CAIRN_E_INVALID otherwise).  Secrets leave the serial alone, are removed
 * with their stack, and are not exported (see cairn_store_export()).
 */

/* Insert or replace the stack's secret name with value (a non-empty string,
 * CAIRN_E_INVALID otherwise).  The stack must exist (CAIRN_E_NOTFOUND). */
int cairn_store_secret_put(struct cairn_store *st, const char *stack, const char *name,
			   const char *value, struct cairn_error *err);
/* The stored value; caller frees *value (NULL on failure).  CAIRN_E_NOTFOUND
 * when the stack or the secret does not exist. */
int cairn_store_secret_get(struct cairn_store *st, const char *stack, const char *name,
			   char **value, struct cairn_error *err);
/* Forget the secret; a missing one (or a missing stack) is not an error. */
int cairn_store_secret_delete(struct cairn_store *st, const char *stack, const char *name,
			      struct cairn_error *err);

/* ---- facts about resources (part 4) -------------------------------------------
 *
 * What cairn learns about a resource besides what its provider observed:
 * the configure steps it ran on a node ("step.0", "step.1", ...: the step's
 * hash, outcome and output) and the node's health checks ("check.tcp:22"
 * ...: state, failures in a row, when).  Each fact is a JSON value named
 * within (stack, address).  Facts leave the serial alone (they are not the
 * desired state), go with their resource when it is deleted and with their
 * stack, and are not exported.  Names are non-empty, without control
 * characters (CAIRN_E_INVALID).
 */

/* Insert or replace the fact name of (stack, address) with value (any JSON,
 * borrowed); the stack must exist (CAIRN_E_NOTFOUND). */
int cairn_store_fact_put(struct cairn_store *st, const char *stack, const char *address,
			 const char *name, const json_t *value, struct cairn_error *err);
/* The facts of a stack, of one address when address is not NULL, of names
 * starting with prefix when prefix is not NULL, ordered by address and
 * name: *out is [{"address", "name", "value", "updated_at"}].  An unknown
 * stack gives []. */
int cairn_store_fact_list(struct cairn_store *st, const char *stack, const char *address,
			  const char *prefix, json_t **out, struct cairn_error *err);
/* Forget the facts of (stack, address) whose names start with prefix (all
 * of them when prefix is NULL); none is not an error. */
int cairn_store_fact_delete(struct cairn_store *st, const char *stack, const char *address,
			    const char *prefix, struct cairn_error *err);

/* ---- registered plugins ------------------------------------------------------- */

/* cairn provider add NAME PATH: a plugin type and its executable (stored
 * as given: the caller makes it absolute).  Putting a type again replaces
 * its path. */
int cairn_store_plugin_put(struct cairn_store *st, const char *type, const char *path,
			   struct cairn_error *err);
/* CAIRN_E_NOTFOUND when no plugin of that type is registered. */
int cairn_store_plugin_delete(struct cairn_store *st, const char *type, struct cairn_error *err);
/* {"TYPE": "PATH", ...}; caller json_decref()s *out. */
int cairn_store_plugin_list(struct cairn_store *st, json_t **out, struct cairn_error *err);

#endif
