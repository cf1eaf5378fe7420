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
/* Remove a stack with everything it owns (resources, designs). */
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
 * "pools": [...]}.  See docs/internals/state.md.
 */
int cairn_store_export(struct cairn_store *st, const char *stack, json_t **out,
		       struct cairn_error *err);
/*
 * Load such a document: each stack in it replaces the stored one of that
 * name (lineage and serial included) inside one transaction.
 */
int cairn_store_import(struct cairn_store *st, const json_t *doc,
		       struct cairn_error *err);

#endif
