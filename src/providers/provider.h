/*
 * provider.h - the interface every provider driver implements, and the one
 * the engine calls.
 *
 * A driver is a table of operations (struct cairn_provider_driver), after
 * libvirt's driver-hypervisor.h: each operation a named function-pointer
 * type, documented below, then the table, then which members are
 * mandatory.  Drivers register once (cairn_provider_driver_register());
 * the engine never calls a table member itself but goes through the
 * dispatch functions at the end of this file, which check arguments, answer
 * CAIRN_E_UNSUPPORTED for empty optional slots and finalise errors.
 *
 * Every call about a resource is keyed by a cairn id, a UUID chosen by cairn
 * before the call (and journalled) that the driver stamps on the real object,
 * so the object can always be found again: by read() after a crash, by list()
 * when looking for orphans.  Calls are idempotent: create() of an existing
 * cairn id returns the existing object; delete() of an absent one succeeds.
 *
 * Errors: a driver sets err with CAIRN_E_RETRYABLE for failures worth
 * retrying (timeouts, locks, a plugin that died), CAIRN_E_PERMANENT for the
 * rest, CAIRN_E_NOTFOUND from read() for an object that does not exist.
 *
 * Threads: the engine calls one open provider from several threads at once
 * (up to its parallelism); a driver serialises internally if it must.
 *
 * Ownership: requests and their JSON are borrowed for the call; JSON a call
 * returns (*observed, *objects) belongs to the caller.
 */
#ifndef CAIRN_PROVIDERS_PROVIDER_H
#define CAIRN_PROVIDERS_PROVIDER_H

#include <jansson.h>
#include <stdbool.h>

#include "cairn/error.h"
#include "cairn/schema.h"

/* How a provider instance of a stack is opened. */
struct cairn_provider_config {
	const char *stack;          /* stack name */
	const char *name;           /* provider instance name: "local" */
	const char *type;           /* provider type: "process" */
	const json_t *config;       /* the providers.NAME attributes (decoded) */
	const char *state_dir;      /* a directory the driver may keep files in */
	const char *plugin_path;    /* external drivers: the executable */
	const char *ssh_public_key; /* the stack's key (an authorized_keys line) for
				     * the nodes to trust; NULL: none */
	const char *ssh_private_key;/* its private half, for built-in drivers that
				     * log in to machines themselves (static);
				     * never handed to a plugin.  NULL: none */
	const json_t *known;        /* what the state holds of this instance: an
				     * array of {"cairn_id", "address", "kind",
				     * "observed"}, for drivers that keep their
				     * objects in the state (static); else NULL */
};

/* What one call is about. */
struct cairn_provider_req {
	const char *stack;
	const char *address;        /* "node.web[2]" */
	enum cairn_kind kind;
	const char *cairn_id;
	const json_t *desired;      /* create, update; else NULL */
	const json_t *observed;     /* read, update, delete: the last known, may be NULL */
	const json_t *via;          /* create of a node behind a bastion: how to reach
				     * the bastion, {"host", "port", "user",
				     * "host_key", "identity"}; else NULL */
};

/* Start talking to the provider; *priv is handed to every later call. */
typedef int cairn_provider_open_fn(const struct cairn_provider_config *cfg, void **priv,
				   struct cairn_error *err);
/* Release what open() made (stop a plugin process).  Never fails. */
typedef void cairn_provider_close_fn(void *priv);
/* Make the object; *observed describes it. */
typedef int cairn_provider_create_fn(void *priv, const struct cairn_provider_req *req,
				     json_t **observed, struct cairn_error *err);
/* Look the object up by cairn id: *observed, or CAIRN_E_NOTFOUND. */
typedef int cairn_provider_read_fn(void *priv, const struct cairn_provider_req *req,
				   json_t **observed, struct cairn_error *err);
/* Change the object in place (optional: without it, changes replace). */
typedef int cairn_provider_update_fn(void *priv, const struct cairn_provider_req *req,
				     json_t **observed, struct cairn_error *err);
/* Remove the object; an absent one is success. */
typedef int cairn_provider_delete_fn(void *priv, const struct cairn_provider_req *req,
				     struct cairn_error *err);
/* Every object carrying the stack's tag: a JSON array of
 * {"cairn_id", "address", "kind", "observed"}.  Parts of an object that a
 * crash left without the object itself (a domain's disks, no domain) are
 * listed with "partial": true in observed: they are not the object, and
 * delete() of that cairn id removes them. */
typedef int cairn_provider_list_fn(void *priv, const char *stack, json_t **objects,
				   struct cairn_error *err);
/* Whether update() works for this open instance (an external plugin says so
 * in its handshake).  Optional: without it, a driver with update() can. */
typedef bool cairn_provider_can_update_fn(void *priv);
/* Fail every call in flight at once (cairn was interrupted twice); what they
 * did is the journal's to find out.  Optional: without it, calls run to
 * their end or their timeout. */
typedef void cairn_provider_abort_fn(void *priv);

struct cairn_provider_driver {
	const char *name;                   /* the type it serves: "process", "test" */
	cairn_provider_open_fn *open;       /* mandatory */
	cairn_provider_close_fn *close;     /* mandatory */
	cairn_provider_create_fn *create;   /* mandatory */
	cairn_provider_read_fn *read;       /* mandatory */
	cairn_provider_update_fn *update;   /* optional */
	cairn_provider_delete_fn *delete;   /* mandatory */
	cairn_provider_list_fn *list;       /* mandatory */
	cairn_provider_can_update_fn *can_update;  /* optional */
	cairn_provider_abort_fn *abort;     /* optional */
};

/* Refuses a second driver of one name and a table missing a mandatory member. */
int cairn_provider_driver_register(const struct cairn_provider_driver *d,
				   struct cairn_error *err);
/* The driver for a type, or NULL.  The external-plugin driver ("exec") serves
 * every type that resolves to a plugin executable (cairn_plugin_find()). */
const struct cairn_provider_driver *cairn_provider_driver_lookup(const char *type);

/* The built-in drivers, registered by the registry itself on first use:
 * "exec" (exec.c), the client of docs/plugin-protocol.md. */
int cairn_provider_exec_register(struct cairn_error *err);
/* "libvirt" (libvirt.c): domains, networks and volumes. */
int cairn_provider_libvirt_register(struct cairn_error *err);
/* "static" (static.c): machines that exist, allocated to nodes. */
int cairn_provider_static_register(struct cairn_error *err);

/*
 * Where the executable of a plugin type is: a registered path (cairn provider
 * add, see cairn_plugin_set_path()), $CAIRN_PLUGIN_PATH (colon-separated
 * directories holding cairn-provider-TYPE), the build tree's plugins/ next to
 * the running binary (DIR/plugins and DIR/../plugins, where DIR holds
 * /proc/self/exe; in each, cairn-provider-TYPE or TYPE/cairn-provider-TYPE),
 * then LIBEXECDIR/cairn.  Only an executable regular file counts.  TYPE is
 * [a-z0-9_-]+; any other name finds nothing.  Caller frees; NULL when none.
 */
char *cairn_plugin_find(const char *type);

/*
 * Register the executable of a plugin type in this process (the engine fills
 * this from the store's plugins at start-up); it wins over every directory
 * cairn_plugin_find() searches.  path is copied; NULL forgets the type.
 * Fails (CAIRN_E_INVALID) for a type cairn_plugin_find() would refuse.
 * Thread-safe.
 */
int cairn_plugin_set_path(const char *type, const char *path, struct cairn_error *err);

/* ---- dispatch: what the engine calls ------------------------------------ */

/*
 * cairn_provider_open() finds the driver of cfg->type (CAIRN_E_NOTFOUND when
 * there is none; with cfg->plugin_path set, the exec driver) and opens it;
 * cairn_provider_close() accepts NULL.  The calls check their arguments
 * (CAIRN_E_INTERNAL for a missing cairn id, address, desired...), answer
 * CAIRN_E_UNSUPPORTED for update() when cairn_provider_can_update() is
 * false, turn a NOTFOUND from delete() into success, and add one line of
 * context to a driver's error: "while creating node.web[2] with provider
 * 'local'".  *observed and *objects are NULL on failure; on success
 * *observed is an object and *objects an array of objects that each have a
 * string "cairn_id" (anything else a driver returns is a CAIRN_E_PERMANENT
 * error).  Safe to call from several threads at once.
 */

struct cairn_provider;      /* an open provider instance */

int cairn_provider_open(const struct cairn_provider_config *cfg,
			struct cairn_provider **out, struct cairn_error *err);
void cairn_provider_close(struct cairn_provider *p);
const char *cairn_provider_name(const struct cairn_provider *p);
bool cairn_provider_can_update(const struct cairn_provider *p);
/* The driver's abort, when it has one (thread-safe; calls in flight fail). */
void cairn_provider_abort(struct cairn_provider *p);

int cairn_provider_create(struct cairn_provider *p, const struct cairn_provider_req *req,
			  json_t **observed, struct cairn_error *err);
int cairn_provider_read(struct cairn_provider *p, const struct cairn_provider_req *req,
			json_t **observed, struct cairn_error *err);
int cairn_provider_update(struct cairn_provider *p, const struct cairn_provider_req *req,
			  json_t **observed, struct cairn_error *err);
int cairn_provider_delete(struct cairn_provider *p, const struct cairn_provider_req *req,
			  struct cairn_error *err);
int cairn_provider_list(struct cairn_provider *p, const char *stack, json_t **objects,
			struct cairn_error *err);

#endif
