/*
 * store-backend.h - the table a state store backend fills in.
 *
 * include/cairn/store.h is what the rest of cairn sees; src/state/store.c
 * implements it by checking arguments and calling one of these tables, so a
 * backend never has to repeat the argument checks, the read-only refusals or
 * export/import (which store.c builds on the primitives below).  Today there
 * is one backend, SQLite (sqlite.c); PostgreSQL will be postgres.c with the
 * same table.
 *
 * A backend allocates its own handle with a struct cairn_store as its first
 * member (git's struct ref_store / ref_storage_be), so it can cast the
 * struct cairn_store * it is handed back to its own type.
 *
 * Common rules for every operation:
 *   - Arguments have been checked by store.c: the store is not NULL, names
 *     and addresses are non-empty strings, out-parameters are not NULL and
 *     have been zeroed, and write operations are never called on a store
 *     opened CAIRN_STORE_READONLY.
 *   - Return 0 on success, or -1 with err set (CAIRN_E_NOTFOUND for a missing
 *     stack or resource, CAIRN_E_CONFLICT when the store is busy,
 *     CAIRN_E_STATE for anything the store itself got wrong).
 *   - Records written through out-parameters belong to the caller, who
 *     releases them with the functions of store.h.
 *   - A write operation is atomic: it runs in its own (possibly nested)
 *     transaction.  One that fails after it changed something rolls that
 *     transaction back, which dooms any enclosing one (see begin below).
 */
#ifndef CAIRN_STATE_STORE_BACKEND_H
#define CAIRN_STATE_STORE_BACKEND_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "cairn/store.h"

struct cairn_store_backend;

/* The part of every store handle that store.c owns and reads. */
struct cairn_store {
	const struct cairn_store_backend *be;
	char *location;      /* as given to cairn_store_open(), for messages */
	unsigned flags;      /* enum cairn_store_flags */
};

/* One stored version of a stack's design (export and import only). */
struct cairn_design_record {
	int64_t version;     /* 1, 2, ... */
	char *hash;          /* cairn_json_hash() of body */
	json_t *body;        /* owned reference */
	char *created_at;
};

void cairn_design_record_release(struct cairn_design_record *r);
void cairn_design_record_list_free(struct cairn_design_record *v, size_t n);

/* ---- lifecycle ------------------------------------------------------- */

/*
 * Open the store at path (the location with its scheme prefix removed) and
 * bring its schema up to date, unless flags has CAIRN_STORE_READONLY.
 * *out receives a handle whose embedded struct cairn_store store.c fills in.
 */
typedef int cairn_store_open_fn(const char *path, unsigned flags,
				struct cairn_store **out,
				struct cairn_error *err);

/* Release everything the backend holds, including the handle itself.  An
 * open transaction is rolled back. */
typedef void cairn_store_close_fn(struct cairn_store *st);

/* The schema version of the open store. */
typedef int cairn_store_schema_version_fn(struct cairn_store *st);

/* ---- transactions ------------------------------------------------------ */

/*
 * Transactions nest by counting.  begin at depth 0 starts a transaction that
 * excludes other writers (a read-only store takes a read snapshot instead);
 * deeper begins only count.  commit always closes one level, even when it
 * fails; only the outermost one commits.  rollback closes one level too; an
 * inner rollback dooms the whole transaction: every later begin and commit
 * fails until the outermost level closes, and then nothing is committed.
 */
typedef int cairn_store_begin_fn(struct cairn_store *st, struct cairn_error *err);
typedef int cairn_store_commit_fn(struct cairn_store *st, struct cairn_error *err);
typedef void cairn_store_rollback_fn(struct cairn_store *st);

/* ---- stacks ---------------------------------------------------------- */

/* Fill *out with the named stack, or CAIRN_E_NOTFOUND. */
typedef int cairn_store_stack_get_fn(struct cairn_store *st, const char *name,
				     struct cairn_stack_record *out,
				     struct cairn_error *err);
/* As get, but create the stack first (fresh lineage, serial 0) if absent. */
typedef int cairn_store_stack_ensure_fn(struct cairn_store *st, const char *name,
					struct cairn_stack_record *out,
					struct cairn_error *err);
/* Every stack, ordered by name; *out is NULL when *n is 0. */
typedef int cairn_store_stack_list_fn(struct cairn_store *st,
				      struct cairn_stack_record **out, size_t *n,
				      struct cairn_error *err);
/* Remove a stack with its designs and resources; CAIRN_E_NOTFOUND if absent. */
typedef int cairn_store_stack_delete_fn(struct cairn_store *st, const char *name,
					struct cairn_error *err);
/*
 * Import: drop the stack named rec->name if present (with everything it
 * owns), then create it with exactly rec's lineage, serial, created_at and
 * updated_at.  design_version and nresources are ignored.
 */
typedef int cairn_store_stack_restore_fn(struct cairn_store *st,
					 const struct cairn_stack_record *rec,
					 struct cairn_error *err);

/* ---- designs ----------------------------------------------------------- */

/* See cairn_store_design_put(); the stack must exist.  version may be NULL. */
typedef int cairn_store_design_put_fn(struct cairn_store *st, const char *stack,
				      const json_t *design, int64_t *version,
				      struct cairn_error *err);
/* The newest design; CAIRN_E_NOTFOUND without stack or without design. */
typedef int cairn_store_design_get_fn(struct cairn_store *st, const char *stack,
				      json_t **out, struct cairn_error *err);
/* Every design of a stack, oldest first; an unknown stack gives 0. */
typedef int cairn_store_design_list_fn(struct cairn_store *st, const char *stack,
				       struct cairn_design_record **out,
				       size_t *n, struct cairn_error *err);
/* Import: store rec as version rec->version of the stack, as it is (the
 * hash is rec->hash; store.c has checked it). */
typedef int cairn_store_design_restore_fn(struct cairn_store *st,
					  const char *stack,
					  const struct cairn_design_record *rec,
					  struct cairn_error *err);

/* ---- resources --------------------------------------------------------- */

typedef int cairn_store_resource_list_fn(struct cairn_store *st, const char *stack,
					 struct cairn_resource_record **out,
					 size_t *n, struct cairn_error *err);
/* Optional: without it, store.c walks resource_list()'s array. */
typedef int cairn_store_resource_each_fn(struct cairn_store *st, const char *stack,
					 cairn_store_resource_fn *fn, void *ud,
					 struct cairn_error *err);
typedef int cairn_store_resource_get_fn(struct cairn_store *st, const char *stack,
					const char *address,
					struct cairn_resource_record *out,
					struct cairn_error *err);
/* Insert or replace; r->desired_hash may be NULL (then computed).  Keeps the
 * created_at of a replaced record; bumps the stack's serial. */
typedef int cairn_store_resource_put_fn(struct cairn_store *st, const char *stack,
					const struct cairn_resource_record *r,
					struct cairn_error *err);
/* Delete if present; bumps the serial only when something was deleted. */
typedef int cairn_store_resource_delete_fn(struct cairn_store *st,
					   const char *stack, const char *address,
					   struct cairn_error *err);
/* Import: store r exactly as given (timestamps included) without touching
 * the stack's serial. */
typedef int cairn_store_resource_restore_fn(struct cairn_store *st,
					    const char *stack,
					    const struct cairn_resource_record *r,
					    struct cairn_error *err);

/* ---- pools ------------------------------------------------------------- */

typedef int cairn_store_pool_list_fn(struct cairn_store *st,
				     struct cairn_pool_record **out, size_t *n,
				     struct cairn_error *err);
typedef int cairn_store_pool_get_fn(struct cairn_store *st, const char *name,
				    struct cairn_pool_record *out,
				    struct cairn_error *err);
typedef int cairn_store_pool_put_fn(struct cairn_store *st, const char *name,
				    const char *description, const char *stack,
				    struct cairn_error *err);
typedef int cairn_store_pool_delete_fn(struct cairn_store *st, const char *name,
				       struct cairn_error *err);
/* Import: create or overwrite the pool with rec's description, stack and
 * created_at (members is ignored: it is always computed). */
typedef int cairn_store_pool_restore_fn(struct cairn_store *st,
					const struct cairn_pool_record *rec,
					struct cairn_error *err);

/* ---- intents (the journal) ---------------------------------------------- */

/*
 * Record in as a new open intent of in->stack (CAIRN_E_NOTFOUND when the
 * stack does not exist); in->id and in->created_at are ignored, *id receives
 * the new id.  Committed before returning unless the caller has a
 * transaction open.  store.c has checked stack, address, op, kind and type
 * are non-empty and attempt >= 1.
 */
typedef int cairn_store_intent_open_fn(struct cairn_store *st,
				       const struct cairn_intent_record *in,
				       int64_t *id, struct cairn_error *err);
/* Mark intent id closed.  Closing a closed one changes nothing;
 * CAIRN_E_NOTFOUND for an id that does not exist (any more). */
typedef int cairn_store_intent_close_fn(struct cairn_store *st, int64_t id,
					struct cairn_error *err);
/* The open intents of stack (every stack when NULL), by id; *out is NULL
 * when *n is 0.  An unknown stack gives 0. */
typedef int cairn_store_intent_list_fn(struct cairn_store *st, const char *stack,
				       struct cairn_intent_record **out, size_t *n,
				       struct cairn_error *err);
/* Import: record rec as an open intent of stack with rec->created_at (a new
 * id is drawn; rec->id is ignored). */
typedef int cairn_store_intent_restore_fn(struct cairn_store *st, const char *stack,
					  const struct cairn_intent_record *rec,
					  struct cairn_error *err);

/* ---- tasks ------------------------------------------------------------- */

/* Insert or update the task of (t->stack, t->address), keeping its id and
 * created_at; CAIRN_E_NOTFOUND without the stack.  *id may be NULL.
 * store.c has checked the strings and that status is a known one. */
typedef int cairn_store_task_put_fn(struct cairn_store *st,
				    const struct cairn_task_record *t,
				    int64_t *id, struct cairn_error *err);
typedef int cairn_store_task_get_fn(struct cairn_store *st, int64_t id,
				    struct cairn_task_record *out,
				    struct cairn_error *err);
/* Tasks of stack (all when NULL) by id; only "failed" and "blocked" ones
 * when unfinished. */
typedef int cairn_store_task_list_fn(struct cairn_store *st, const char *stack,
				     bool unfinished, struct cairn_task_record **out,
				     size_t *n, struct cairn_error *err);
/* Delete if present. */
typedef int cairn_store_task_delete_fn(struct cairn_store *st, const char *stack,
				       const char *address, struct cairn_error *err);
/* Import: store rec as a task of stack, timestamps as given (a new id is
 * drawn). */
typedef int cairn_store_task_restore_fn(struct cairn_store *st, const char *stack,
					const struct cairn_task_record *rec,
					struct cairn_error *err);

/* ---- the stack lock ------------------------------------------------------ */

/*
 * The lock operations of store.h; the backend reads its own clock (SQLite:
 * cairn_now_realtime_ms(); a server database would use the server's, so
 * that hosts with skewed clocks agree).  Fences are per stack name and only
 * ever rise, across releases, forced unlocks and even deleting the stack.
 * A live lease held by anyone is CAIRN_E_CONFLICT, set with
 * cairn_store_lock_conflict(); renew on a fence that is no longer the
 * holder's is CAIRN_E_CONFLICT set with cairn_store_lock_lost().
 */
typedef int cairn_store_lock_acquire_fn(struct cairn_store *st, const char *stack,
					const char *holder, int64_t lease_ms,
					struct cairn_lock_record *out,
					struct cairn_error *err);
typedef int cairn_store_lock_renew_fn(struct cairn_store *st, const char *stack,
				      int64_t fence, int64_t lease_ms,
				      struct cairn_error *err);
typedef int cairn_store_lock_release_fn(struct cairn_store *st, const char *stack,
					int64_t fence, struct cairn_error *err);
typedef int cairn_store_lock_get_fn(struct cairn_store *st, const char *stack,
				    struct cairn_lock_record *out,
				    struct cairn_error *err);
typedef int cairn_store_lock_force_fn(struct cairn_store *st, const char *stack,
				      const char *by, struct cairn_error *err);

/* ---- events, outputs, secrets, plugins ----------------------------------- */

/* Append an event; stack may be NULL (a store-wide event) and need not
 * exist; data may be NULL. */
typedef int cairn_store_event_add_fn(struct cairn_store *st, const char *stack,
				     const char *kind, const json_t *data,
				     struct cairn_error *err);
/* Events with id > since of stack (all when NULL), by id, as the JSON
 * array described in store.h. */
typedef int cairn_store_event_list_fn(struct cairn_store *st, const char *stack,
				      int64_t since, json_t **out,
				      struct cairn_error *err);
/* Replace the stack's outputs with outputs (an object), or remove them when
 * outputs is NULL; CAIRN_E_NOTFOUND without the stack. */
typedef int cairn_store_outputs_put_fn(struct cairn_store *st, const char *stack,
				       const json_t *outputs,
				       struct cairn_error *err);
/* The stored outputs, or *out NULL when the stack has none stored;
 * CAIRN_E_NOTFOUND without the stack. */
typedef int cairn_store_outputs_get_fn(struct cairn_store *st, const char *stack,
				       json_t **out, struct cairn_error *err);
/* Insert or replace the secret (stack, name); CAIRN_E_NOTFOUND without the
 * stack.  store.c has checked the name's characters and that value is a
 * non-empty string.  Never quote value in a message. */
typedef int cairn_store_secret_put_fn(struct cairn_store *st, const char *stack,
				      const char *name, const char *value,
				      struct cairn_error *err);
/* *value receives a copy of the stored value; CAIRN_E_NOTFOUND without the
 * stack or without the secret. */
typedef int cairn_store_secret_get_fn(struct cairn_store *st, const char *stack,
				      const char *name, char **value,
				      struct cairn_error *err);
/* Delete if present. */
typedef int cairn_store_secret_delete_fn(struct cairn_store *st, const char *stack,
					 const char *name, struct cairn_error *err);
/* Facts (store.h): store.c has checked stack, address and name. */
typedef int cairn_store_fact_put_fn(struct cairn_store *st, const char *stack,
				    const char *address, const char *name,
				    const json_t *value, struct cairn_error *err);
typedef int cairn_store_fact_list_fn(struct cairn_store *st, const char *stack,
				     const char *address, const char *prefix,
				     json_t **out, struct cairn_error *err);
typedef int cairn_store_fact_delete_fn(struct cairn_store *st, const char *stack,
				       const char *address, const char *prefix,
				       struct cairn_error *err);
typedef int cairn_store_plugin_put_fn(struct cairn_store *st, const char *type,
				      const char *path, struct cairn_error *err);
/* CAIRN_E_NOTFOUND when no plugin of that type is registered. */
typedef int cairn_store_plugin_delete_fn(struct cairn_store *st, const char *type,
					 struct cairn_error *err);
typedef int cairn_store_plugin_list_fn(struct cairn_store *st, json_t **out,
				       struct cairn_error *err);

/*
 * The table.  Every member is mandatory: store.c refuses to open through a
 * backend that leaves one NULL (it is checked once, at open).
 */
struct cairn_store_backend {
	const char *name;                    /* "sqlite", "postgresql" */

	cairn_store_open_fn *open;
	cairn_store_close_fn *close;
	cairn_store_schema_version_fn *schema_version;

	cairn_store_begin_fn *begin;
	cairn_store_commit_fn *commit;
	cairn_store_rollback_fn *rollback;

	cairn_store_stack_get_fn *stack_get;
	cairn_store_stack_ensure_fn *stack_ensure;
	cairn_store_stack_list_fn *stack_list;
	cairn_store_stack_delete_fn *stack_delete;
	cairn_store_stack_restore_fn *stack_restore;

	cairn_store_design_put_fn *design_put;
	cairn_store_design_get_fn *design_get;
	cairn_store_design_list_fn *design_list;
	cairn_store_design_restore_fn *design_restore;

	cairn_store_resource_list_fn *resource_list;
	cairn_store_resource_each_fn *resource_each;   /* optional */
	cairn_store_resource_get_fn *resource_get;
	cairn_store_resource_put_fn *resource_put;
	cairn_store_resource_delete_fn *resource_delete;
	cairn_store_resource_restore_fn *resource_restore;

	cairn_store_pool_list_fn *pool_list;
	cairn_store_pool_get_fn *pool_get;
	cairn_store_pool_put_fn *pool_put;
	cairn_store_pool_delete_fn *pool_delete;
	cairn_store_pool_restore_fn *pool_restore;

	cairn_store_intent_open_fn *intent_open;
	cairn_store_intent_close_fn *intent_close;
	cairn_store_intent_list_fn *intent_list;
	cairn_store_intent_restore_fn *intent_restore;

	cairn_store_task_put_fn *task_put;
	cairn_store_task_get_fn *task_get;
	cairn_store_task_list_fn *task_list;
	cairn_store_task_delete_fn *task_delete;
	cairn_store_task_restore_fn *task_restore;

	cairn_store_lock_acquire_fn *lock_acquire;
	cairn_store_lock_renew_fn *lock_renew;
	cairn_store_lock_release_fn *lock_release;
	cairn_store_lock_get_fn *lock_get;
	cairn_store_lock_force_fn *lock_force;

	cairn_store_event_add_fn *event_add;
	cairn_store_event_list_fn *event_list;
	cairn_store_outputs_put_fn *outputs_put;
	cairn_store_outputs_get_fn *outputs_get;
	cairn_store_secret_put_fn *secret_put;
	cairn_store_secret_get_fn *secret_get;
	cairn_store_secret_delete_fn *secret_delete;
	cairn_store_fact_put_fn *fact_put;
	cairn_store_fact_list_fn *fact_list;
	cairn_store_fact_delete_fn *fact_delete;
	cairn_store_plugin_put_fn *plugin_put;
	cairn_store_plugin_delete_fn *plugin_delete;
	cairn_store_plugin_list_fn *plugin_list;
};

/* ---- helpers store.c offers every backend -------------------------------- */

/* "2026-11-22T04:00:00.123Z" for ms since the epoch (event times). */
void cairn_store_time_ms(int64_t ms, char out[25]);
/* Set err to the CAIRN_E_CONFLICT of a lock held by another: "stack 'demo'
 * is locked by root@host pid 123 since 2026-11-22T04:00:00Z"; returns -1. */
int cairn_store_lock_conflict(struct cairn_error *err,
			      const struct cairn_lock_record *held);
/* Set err to the CAIRN_E_CONFLICT of a renewal whose fence is no longer
 * the lock's; now is the lock there is instead, or NULL.  Returns -1. */
int cairn_store_lock_lost(struct cairn_error *err, const char *stack, int64_t fence,
			  const struct cairn_lock_record *now);

/*
 * The schema version this build writes.  Versions are shared by every
 * backend: migration N means the same tables and columns in SQLite and in
 * PostgreSQL, so an export/import between them never needs translating.
 */
#define CAIRN_STORE_SCHEMA_VERSION 4

extern const struct cairn_store_backend cairn_store_backend_sqlite;

#endif
