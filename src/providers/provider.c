/*
 * provider.c - the registry of provider drivers and the dispatch layer the
 * engine calls (after libvirt's libvirt-domain.c): every cairn_provider_*()
 * call checks its arguments, fills in what an optional slot leaves empty,
 * checks what the driver hands back and adds one line of context to its
 * error, so that no driver has to repeat any of it.
 *
 * The registry is append-only, like the type registry in registry.c: a
 * driver, once registered, stays until exit, so the pointers lookups hand
 * out never dangle.
 */
#include "util/common.h"

#include <pthread.h>
#include <stdatomic.h>

#include "providers/provider.h"
#include "util/jsonutil.h"

CAIRN_LOG_INIT("providers");

#define MAX_DRIVERS 32

static const struct cairn_provider_driver *drivers[MAX_DRIVERS];
static size_t ndrivers;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

struct cairn_provider {
	const struct cairn_provider_driver *d;
	void *priv;
	char *name;     /* the instance: "local" */
	char *type;     /* "process" */
};

static int register_locked(const struct cairn_provider_driver *d, struct cairn_error *err)
{
	const char *missing;

	if (!d || !d->name || !*d->name)
		return cairn_error_set(err, CAIRN_E_INVALID, "cannot register a provider driver without a name");
	missing = !d->open ? "open" : !d->close ? "close" : !d->create ? "create" :
		  !d->read ? "read" : !d->delete ? "delete" : !d->list ? "list" : NULL;
	if (missing)
		return cairn_error_set(err, CAIRN_E_INVALID, "cannot register provider driver '%s': it has no '%s' operation",
				       d->name, missing);
	for (size_t i = 0; i < ndrivers; i++)
		if (!strcmp(drivers[i]->name, d->name))
			return cairn_error_set(err, CAIRN_E_EXISTS, "provider driver '%s' is already registered",
					       d->name);
	if (ndrivers == MAX_DRIVERS)
		return cairn_error_set(err, CAIRN_E_INVALID, "cannot register provider driver '%s': already %d drivers",
				       d->name, MAX_DRIVERS);
	drivers[ndrivers++] = d;
	cairn_debug("registered provider driver '%s'", d->name);
	return 0;
}

/*
 * The built-in drivers register on first use of the registry.  Their
 * register functions come back through cairn_provider_driver_register(), so
 * the guard is a recursive mutex and a flag saying the work is under way.
 */
static void ensure_builtins(void)
{
	static pthread_mutex_t init_lock = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;
	static atomic_bool done;
	static bool running;
	struct cairn_error err = CAIRN_ERROR_INIT;

	if (atomic_load_explicit(&done, memory_order_acquire))
		return;
	pthread_mutex_lock(&init_lock);
	if (!running) {
		running = true;
		if (cairn_provider_exec_register(&err) < 0 || cairn_provider_libvirt_register(&err) < 0 ||
		    cairn_provider_static_register(&err) < 0)
			BUG("built-in provider driver: %s", err.message);
		atomic_store_explicit(&done, true, memory_order_release);
	}
	pthread_mutex_unlock(&init_lock);
}

int cairn_provider_driver_register(const struct cairn_provider_driver *d,
				   struct cairn_error *err)
{
	int ret;

	ensure_builtins();
	pthread_mutex_lock(&lock);
	ret = register_locked(d, err);
	pthread_mutex_unlock(&lock);
	return ret;
}

static const struct cairn_provider_driver *lookup_name(const char *name)
{
	const struct cairn_provider_driver *d = NULL;

	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < ndrivers && !d; i++)
		if (!strcmp(drivers[i]->name, name))
			d = drivers[i];
	pthread_mutex_unlock(&lock);
	return d;
}

const struct cairn_provider_driver *cairn_provider_driver_lookup(const char *type)
{
	const struct cairn_provider_driver *d;
	char *path;

	if (!type || !*type)
		return NULL;
	ensure_builtins();
	d = lookup_name(type);
	if (d)
		return d;
	path = cairn_plugin_find(type);
	if (!path)
		return NULL;
	free(path);
	return lookup_name("exec");
}

/* ---- dispatch ------------------------------------------------------------ */

int cairn_provider_open(const struct cairn_provider_config *cfg,
			struct cairn_provider **out, struct cairn_error *err)
{
	const struct cairn_provider_driver *d;
	struct cairn_provider *p;
	void *priv = NULL;

	if (!out)
		BUG("cairn_provider_open() without an out pointer");
	*out = NULL;
	if (!cfg || !cfg->name || !*cfg->name || !cfg->type || !*cfg->type)
		return cairn_error_set(err, CAIRN_E_INTERNAL, "cannot open a provider without a name and a type");
	d = cfg->plugin_path ? cairn_provider_driver_lookup("exec")
			     : cairn_provider_driver_lookup(cfg->type);
	if (!d) {
		cairn_error_set(err, CAIRN_E_NOTFOUND, "no provider of type '%s': no driver and no plugin 'cairn-provider-%s'",
				cfg->type, cfg->type);
		cairn_error_hint(err, "register a plugin with 'cairn provider add %s PATH' or list its directory in CAIRN_PLUGIN_PATH",
				 cfg->type);
		return -1;
	}
	if (d->open(cfg, &priv, err) < 0) {
		if (!cairn_error_isset(err))
			cairn_error_set(err, CAIRN_E_INTERNAL, "provider driver '%s' failed to open without saying why",
					d->name);
		cairn_error_context(err, "while opening provider '%s' of type '%s'", cfg->name, cfg->type);
		return -1;
	}
	p = xcalloc(1, sizeof(*p));
	p->d = d;
	p->priv = priv;
	p->name = xstrdup(cfg->name);
	p->type = xstrdup(cfg->type);
	*out = p;
	return 0;
}

void cairn_provider_close(struct cairn_provider *p)
{
	if (!p)
		return;
	p->d->close(p->priv);
	free(p->name);
	free(p->type);
	free(p);
}

const char *cairn_provider_name(const struct cairn_provider *p)
{
	return p ? p->name : NULL;
}

bool cairn_provider_can_update(const struct cairn_provider *p)
{
	if (!p || !p->d->update)
		return false;
	return p->d->can_update ? p->d->can_update(p->priv) : true;
}

void cairn_provider_abort(struct cairn_provider *p)
{
	if (p && p->d->abort)
		p->d->abort(p->priv);
}

enum op { OP_CREATE, OP_READ, OP_UPDATE, OP_DELETE };

static const char *const op_name[] = {
	[OP_CREATE] = "create", [OP_READ] = "read", [OP_UPDATE] = "update", [OP_DELETE] = "delete",
};

/* The arguments every resource call needs; a failure here is the engine's bug. */
static int check_req(const struct cairn_provider *p, enum op op,
		     const struct cairn_provider_req *req, json_t **observed,
		     struct cairn_error *err)
{
	const char *what = NULL;

	if (observed)
		*observed = NULL;
	if (!p)
		what = "the provider";
	else if (!req)
		what = "the request";
	else if (!req->stack || !*req->stack)
		what = "the stack";
	else if (!req->address || !*req->address)
		what = "the address";
	else if (!req->cairn_id || !*req->cairn_id)
		what = "the cairn id";
	else if ((unsigned)req->kind >= CAIRN_KIND__COUNT)
		what = "a valid kind";
	else if ((op == OP_CREATE || op == OP_UPDATE) && !json_is_object(req->desired))
		what = "the desired object";
	else if (op != OP_DELETE && !observed)
		what = "somewhere to put what it observes";
	if (!what)
		return 0;
	return cairn_error_set(err, CAIRN_E_INTERNAL, "provider call '%s' without %s", op_name[op], what);
}

/* The driver failed: make sure err says so, and say what the call was. */
static int finish_error(const struct cairn_provider *p, enum op op,
			const struct cairn_provider_req *req, struct cairn_error *err)
{
	static const char *const verb[] = {
		[OP_CREATE] = "creating", [OP_READ] = "reading",
		[OP_UPDATE] = "updating", [OP_DELETE] = "deleting",
	};

	if (!cairn_error_isset(err))
		cairn_error_set(err, CAIRN_E_INTERNAL, "provider '%s' failed '%s' without saying why",
				p->name, op_name[op]);
	cairn_error_context(err, "while %s %s with provider '%s'", verb[op], req->address, p->name);
	return -1;
}

/* A driver's success must come with an object. */
static int check_observed(const struct cairn_provider *p, enum op op,
			  const struct cairn_provider_req *req, json_t **observed,
			  struct cairn_error *err)
{
	if (json_is_object(*observed))
		return 0;
	json_decref(*observed);
	*observed = NULL;
	cairn_error_set(err, CAIRN_E_PERMANENT, "provider '%s' answered '%s' without an observed object",
			p->name, op_name[op]);
	return finish_error(p, op, req, err);
}

int cairn_provider_create(struct cairn_provider *p, const struct cairn_provider_req *req,
			  json_t **observed, struct cairn_error *err)
{
	if (check_req(p, OP_CREATE, req, observed, err) < 0)
		return -1;
	if (p->d->create(p->priv, req, observed, err) < 0) {
		json_decref(*observed);
		*observed = NULL;
		return finish_error(p, OP_CREATE, req, err);
	}
	return check_observed(p, OP_CREATE, req, observed, err);
}

int cairn_provider_read(struct cairn_provider *p, const struct cairn_provider_req *req,
			json_t **observed, struct cairn_error *err)
{
	if (check_req(p, OP_READ, req, observed, err) < 0)
		return -1;
	if (p->d->read(p->priv, req, observed, err) < 0) {
		json_decref(*observed);
		*observed = NULL;
		return finish_error(p, OP_READ, req, err);
	}
	return check_observed(p, OP_READ, req, observed, err);
}

int cairn_provider_update(struct cairn_provider *p, const struct cairn_provider_req *req,
			  json_t **observed, struct cairn_error *err)
{
	if (check_req(p, OP_UPDATE, req, observed, err) < 0)
		return -1;
	if (!cairn_provider_can_update(p)) {
		cairn_error_set(err, CAIRN_E_UNSUPPORTED, "provider '%s' of type '%s' cannot change a resource in place",
				p->name, p->type);
		return finish_error(p, OP_UPDATE, req, err);
	}
	if (p->d->update(p->priv, req, observed, err) < 0) {
		json_decref(*observed);
		*observed = NULL;
		return finish_error(p, OP_UPDATE, req, err);
	}
	return check_observed(p, OP_UPDATE, req, observed, err);
}

int cairn_provider_delete(struct cairn_provider *p, const struct cairn_provider_req *req,
			  struct cairn_error *err)
{
	struct cairn_error derr = CAIRN_ERROR_INIT;

	if (check_req(p, OP_DELETE, req, NULL, err) < 0)
		return -1;
	if (p->d->delete(p->priv, req, &derr) == 0)
		return 0;
	/* Deleting what is not there is what the caller wanted. */
	if (derr.code == CAIRN_E_NOTFOUND) {
		cairn_debug("%s (%s) was already gone", req->address, req->cairn_id);
		cairn_error_release(&derr);
		return 0;
	}
	if (cairn_error_isset(&derr))
		cairn_error_move(err, &derr);
	cairn_error_release(&derr);
	return finish_error(p, OP_DELETE, req, err);
}

/* Each element an object with a string cairn_id: what the engine relies on. */
static const char *bad_objects(const json_t *objects)
{
	size_t i;
	json_t *o;

	if (!json_is_array(objects))
		return "a list that is not an array";
	json_array_foreach(objects, i, o) {
		if (!json_is_object(o))
			return "a list element that is not an object";
		if (!cairn_json_str(o, "cairn_id"))
			return "a list element without a string 'cairn_id'";
	}
	return NULL;
}

int cairn_provider_list(struct cairn_provider *p, const char *stack, json_t **objects,
			struct cairn_error *err)
{
	const char *bad;

	if (!objects)
		return cairn_error_set(err, CAIRN_E_INTERNAL, "provider call 'list' without somewhere to put the objects");
	*objects = NULL;
	if (!p || !stack || !*stack)
		return cairn_error_set(err, CAIRN_E_INTERNAL, "provider call 'list' without %s",
				       p ? "the stack" : "the provider");
	if (p->d->list(p->priv, stack, objects, err) < 0) {
		json_decref(*objects);
		*objects = NULL;
		if (!cairn_error_isset(err))
			cairn_error_set(err, CAIRN_E_INTERNAL, "provider '%s' failed 'list' without saying why",
					p->name);
		cairn_error_context(err, "while listing the objects of stack '%s' with provider '%s'",
				    stack, p->name);
		return -1;
	}
	bad = bad_objects(*objects);
	if (!bad)
		return 0;
	json_decref(*objects);
	*objects = NULL;
	cairn_error_set(err, CAIRN_E_PERMANENT, "provider '%s' answered 'list' with %s", p->name, bad);
	cairn_error_context(err, "while listing the objects of stack '%s' with provider '%s'",
			    stack, p->name);
	return -1;
}
