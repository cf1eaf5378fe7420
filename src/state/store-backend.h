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
	cairn_store_resource_get_fn *resource_get;
	cairn_store_resource_put_fn *resource_put;
	cairn_store_resource_delete_fn *resource_delete;
	cairn_store_resource_restore_fn *resource_restore;

	cairn_store_pool_list_fn *pool_list;
	cairn_store_pool_get_fn *pool_get;
	cairn_store_pool_put_fn *pool_put;
	cairn_store_pool_delete_fn *pool_delete;
	cairn_store_pool_restore_fn *pool_restore;
};

/*
 * The schema version this build writes.  Versions are shared by every
 * backend: migration N means the same tables and columns in SQLite and in
 * PostgreSQL, so an export/import between them never needs translating.
 */
#define CAIRN_STORE_SCHEMA_VERSION 1

extern const struct cairn_store_backend cairn_store_backend_sqlite;

#endif
