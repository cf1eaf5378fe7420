/*
 * registry.c - the provider types cairn knows, by name.
 *
 * The registry is append-only: a type, once registered, stays until exit, so
 * the pointers lookups hand out never dangle and readers need no lock.
 * Writers serialise on a mutex; they fill a slot, then publish the new count
 * with a release store that readers pair with an acquire load.  The names
 * array is kept NULL-terminated for did-you-mean; a reader that walks it to
 * the NULL while a type is being registered sees the new name or not, never
 * a torn one (types are registered at start-up in practice).
 */
#include "util/common.h"

#include <pthread.h>
#include <stdatomic.h>

#include "cairn/schema.h"
#include "providers/builtin.h"
#include "util/units.h"

/* Far more than cairn will ever ship: an external plugin is an instance of
 * the one type "plugin", not a type of its own. */
#define MAX_TYPES 64

static const struct cairn_type_schema *types[MAX_TYPES];
static const char *names[MAX_TYPES + 1];   /* NULL-terminated at names[ntypes] */
static atomic_size_t ntypes;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static const struct cairn_type_schema *const builtins[] = {
	&cairn_libvirt_schema,
	&cairn_lxc_schema,
	&cairn_static_schema,
	&cairn_process_schema,
	&cairn_plugin_schema,
	&cairn_test_schema,
};

static const unsigned served_kinds =
	1u << CAIRN_KIND_NODE | 1u << CAIRN_KIND_NETWORK | 1u << CAIRN_KIND_VOLUME;

static int check_fields(const char *type, const char *section, const char *parent,
			const struct cairn_field *table, int depth,
			struct cairn_error *err);

/*
 * One field descriptor, path its dotted name for messages ("hosts[].ipmi"):
 * what each field type needs for validation and explain to make sense of it.
 * Tables are compiled in, so a failure here is a programming mistake, but a
 * clear message beats a crash in the loader.
 */
static int check_field(const char *type, const char *section, const char *path,
		       const struct cairn_field *f, int depth, struct cairn_error *err)
{
	if (depth > 8)
		return cairn_error_set(err, CAIRN_E_INVALID, "cannot register provider type '%s': %s field '%s' nests too deep",
				       type, section, path);
	if ((unsigned)f->type > CAIRN_FT_ANY)
		return cairn_error_set(err, CAIRN_E_INVALID, "cannot register provider type '%s': %s field '%s' has an unknown type",
				       type, section, path);
	if ((f->flags & CAIRN_FF_BOUNDED) && f->min > f->max)
		return cairn_error_set(err, CAIRN_E_INVALID, "cannot register provider type '%s': %s field '%s' has bounds %lld..%lld",
				       type, section, path, (long long)f->min, (long long)f->max);
	/* a common key the type says does not apply is never decoded */
	if (f->flags & CAIRN_FF_UNUSED) {
		if (!f->help || !*f->help)
			return cairn_error_set(err, CAIRN_E_INVALID, "cannot register provider type '%s': %s field '%s' does not apply but does not say why",
					       type, section, path);
		return 0;
	}
	switch (f->type) {
	case CAIRN_FT_ENUM:
		if (!f->choices || !f->choices[0])
			return cairn_error_set(err, CAIRN_E_INVALID, "cannot register provider type '%s': %s field '%s' is an enum without choices",
					       type, section, path);
		if (f->def) {
			size_t i;

			for (i = 0; f->choices[i]; i++)
				if (!strcmp(f->choices[i], f->def))
					break;
			if (!f->choices[i])
				return cairn_error_set(err, CAIRN_E_INVALID, "cannot register provider type '%s': %s field '%s' defaults to '%s', which is not one of its choices",
						       type, section, path, f->def);
		}
		return 0;
	case CAIRN_FT_REF:
		if ((unsigned)f->ref >= CAIRN_KIND__COUNT)
			return cairn_error_set(err, CAIRN_E_INVALID, "cannot register provider type '%s': %s field '%s' refers to an unknown kind",
					       type, section, path);
		return 0;
	case CAIRN_FT_LIST:
	case CAIRN_FT_MAP: {
		char *sub;
		int rc;

		if (!f->elem)
			return cairn_error_set(err, CAIRN_E_INVALID, "cannot register provider type '%s': %s field '%s' is a %s without an element",
					       type, section, path, cairn_ftype_name(f->type));
		sub = xasprintf("%s[]", path);
		rc = check_field(type, section, sub, f->elem, depth + 1, err);
		free(sub);
		return rc;
	}
	case CAIRN_FT_OBJECT: {
		char *prefix;
		int rc;

		if (!f->fields || !f->fields[0].name)
			return cairn_error_set(err, CAIRN_E_INVALID, "cannot register provider type '%s': %s field '%s' is an object without fields",
					       type, section, path);
		prefix = xasprintf("%s.", path);
		rc = check_fields(type, section, prefix, f->fields, depth + 1, err);
		free(prefix);
		return rc;
	}
	default:
		return 0;
	}
}

static int check_fields(const char *type, const char *section, const char *parent,
			const struct cairn_field *table, int depth,
			struct cairn_error *err)
{
	for (const struct cairn_field *f = table; f && f->name; f++) {
		char *path;
		int rc;

		if (!*f->name)
			return cairn_error_set(err, CAIRN_E_INVALID, "cannot register provider type '%s': a %s field under '%s' has an empty name",
					       type, section, parent);
		for (const struct cairn_field *g = table; g < f; g++)
			if (!strcmp(g->name, f->name))
				return cairn_error_set(err, CAIRN_E_INVALID, "cannot register provider type '%s': %s field '%s%s' is declared twice",
						       type, section, parent, f->name);
		path = xasprintf("%s%s", parent, f->name);
		rc = check_field(type, section, path, f, depth, err);
		free(path);
		if (rc < 0)
			return -1;
	}
	return 0;
}

static int check_type(const struct cairn_type_schema *t, struct cairn_error *err)
{
	static const enum cairn_kind kinds[] = { CAIRN_KIND_NODE, CAIRN_KIND_NETWORK, CAIRN_KIND_VOLUME };
	const char *why;

	if (!t)
		return cairn_error_set(err, CAIRN_E_INVALID, "cannot register a provider type without a table");
	if (!t->name || !*t->name)
		return cairn_error_set(err, CAIRN_E_INVALID, "cannot register a provider type without a name");
	if (!cairn_name_valid(t->name, &why))
		return cairn_error_set(err, CAIRN_E_INVALID, "cannot register provider type '%s': invalid name: %s",
				       t->name, why);
	if (!t->summary || !*t->summary)
		return cairn_error_set(err, CAIRN_E_INVALID, "cannot register provider type '%s': it has no summary",
				       t->name);
	if (!t->serves || (t->serves & ~served_kinds))
		return cairn_error_set(err, CAIRN_E_INVALID, "cannot register provider type '%s': it must serve nodes, networks or volumes, and nothing else",
				       t->name);
	if (check_fields(t->name, "provider", "", t->provider_fields, 0, err) < 0)
		return -1;
	for (size_t i = 0; i < ARRAY_SIZE(kinds); i++) {
		const struct cairn_field *table = cairn_schema_type_fields(t, kinds[i]);

		if (table && !(t->serves & 1u << kinds[i]))
			return cairn_error_set(err, CAIRN_E_INVALID, "cannot register provider type '%s': it has %s fields but does not serve %s",
					       t->name, cairn_kind_name(kinds[i]), cairn_kind_section(kinds[i]));
		if (check_fields(t->name, cairn_kind_name(kinds[i]), "", table, 0, err) < 0)
			return -1;
	}
	return 0;
}

static const struct cairn_type_schema *find(const char *name)
{
	size_t n = atomic_load_explicit(&ntypes, memory_order_acquire);

	for (size_t i = 0; i < n; i++)
		if (!strcmp(types[i]->name, name))
			return types[i];
	return NULL;
}

static int do_register(const struct cairn_type_schema *t, struct cairn_error *err)
{
	size_t n;
	int rc = -1;

	if (check_type(t, err) < 0)
		return -1;
	pthread_mutex_lock(&lock);
	n = atomic_load_explicit(&ntypes, memory_order_relaxed);
	if (find(t->name)) {
		cairn_error_set(err, CAIRN_E_EXISTS, "provider type '%s' is already registered", t->name);
		goto out;
	}
	if (n == MAX_TYPES) {
		cairn_error_set(err, CAIRN_E_INVALID, "cannot register provider type '%s': there are already %d types",
				t->name, MAX_TYPES);
		goto out;
	}
	types[n] = t;
	names[n] = t->name;
	names[n + 1] = NULL;
	atomic_store_explicit(&ntypes, n + 1, memory_order_release);
	rc = 0;
out:
	pthread_mutex_unlock(&lock);
	return rc;
}

static void register_builtins(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(builtins); i++) {
		struct cairn_error err = CAIRN_ERROR_INIT;

		if (do_register(builtins[i], &err) < 0)
			BUG("built-in provider type: %s", err.message);
	}
}

void cairn_schema_init(void)
{
	pthread_once(&once, register_builtins);
}

int cairn_schema_register(const struct cairn_type_schema *t, struct cairn_error *err)
{
	cairn_schema_init();
	return do_register(t, err);
}

const struct cairn_type_schema *cairn_schema_lookup(const char *type)
{
	cairn_schema_init();
	return type ? find(type) : NULL;
}

const struct cairn_type_schema *const *cairn_schema_types(size_t *n)
{
	cairn_schema_init();
	if (n)
		*n = atomic_load_explicit(&ntypes, memory_order_acquire);
	return types;
}

const char *const *cairn_schema_type_names(void)
{
	cairn_schema_init();
	return names;
}
