/*
 * schema.h - the fields of every section of a stack, as data.
 *
 * A field table is an array of struct cairn_field ended by an entry whose
 * name is NULL.  Validation (src/spec/decode.c), the planner's diff
 * (FORCES_NEW), `cairn explain` and docs/stack.md all read the same tables
 * (after tmux's options-table.c).  Tables are static const data; nothing here
 * allocates except the explain renderers, whose output the caller frees.
 *
 * The sections common to every stack (top level, plans, images, networks,
 * volumes, pools, nodes, outputs) are declared in src/model/schema.c.  Each
 * provider type (libvirt, lxc, static, process, plugin) declares its own
 * table in src/providers/<type>-schema.c and registers it once with
 * cairn_schema_register(); a type's node/network/volume fields are added to
 * the common ones of that section (a type field of the same name overrides
 * the common one).
 */
#ifndef CAIRN_SCHEMA_H
#define CAIRN_SCHEMA_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "cairn/error.h"

/* What a declaration or a resource is.  The names are those of addresses. */
enum cairn_kind {
	CAIRN_KIND_PROVIDER = 0,   /* "provider" */
	CAIRN_KIND_PLAN,           /* "plan"     (a size: cpus, memory, disk) */
	CAIRN_KIND_IMAGE,          /* "image" */
	CAIRN_KIND_NETWORK,        /* "network" */
	CAIRN_KIND_VOLUME,         /* "volume" */
	CAIRN_KIND_POOL,           /* "pool" */
	CAIRN_KIND_NODE,           /* "node" */
	CAIRN_KIND_VARIABLE,       /* "var" */
	CAIRN_KIND_OUTPUT,         /* "output" */
	CAIRN_KIND__COUNT,
};

const char *cairn_kind_name(enum cairn_kind k);
/* The section of the stack that declares k: "nodes", "plans", ... */
const char *cairn_kind_section(enum cairn_kind k);
/* Returns -1 for an unknown name; accepts "var" and "variable". */
int cairn_kind_parse(const char *name);

enum cairn_ftype {
	CAIRN_FT_STRING = 0,  /* one-line text; ${...} references allowed */
	CAIRN_FT_TEXT,        /* any text, multi-line; references allowed */
	CAIRN_FT_INT,         /* integer within [min, max] when bounded */
	CAIRN_FT_BOOL,        /* true/false (also yes/no, on/off) */
	CAIRN_FT_SIZE,        /* "256MiB" -> bytes (an integer in JSON) */
	CAIRN_FT_DURATION,    /* "30s" -> milliseconds (an integer in JSON) */
	CAIRN_FT_CIDR,        /* "10.0.0.0/24", host bits zero */
	CAIRN_FT_NAME,        /* [a-z][a-z0-9-]*, at most 63 */
	CAIRN_FT_ENUM,        /* one of .choices */
	CAIRN_FT_REF,         /* the name of a declaration of kind .ref */
	CAIRN_FT_PATH,        /* a local file path, relative to the stack file */
	CAIRN_FT_PORT,        /* 1..65535 */
	CAIRN_FT_LIST,        /* a sequence of .elem (a scalar also accepted for .elem) when LIST_SCALAR */
	CAIRN_FT_MAP,         /* string keys -> .elem */
	CAIRN_FT_OBJECT,      /* fixed keys: .fields */
	CAIRN_FT_ANY,         /* any YAML value, kept as JSON */
	CAIRN_FT_MODE,        /* file permissions in octal: "0644" (kept as that text) */
};

const char *cairn_ftype_name(enum cairn_ftype t);

enum cairn_field_flags {
	CAIRN_FF_REQUIRED    = 1 << 0,  /* must be present */
	CAIRN_FF_FORCES_NEW  = 1 << 1,  /* a change replaces the resource */
	CAIRN_FF_SENSITIVE   = 1 << 2,  /* never printed: plan shows (sensitive) */
	CAIRN_FF_COMPUTED    = 1 << 3,  /* set by cairn, not by the user */
	CAIRN_FF_ONEOF       = 1 << 4,  /* OBJECT: exactly one of .fields is given */
	CAIRN_FF_BOUNDED     = 1 << 5,  /* INT/SIZE/DURATION: check [min, max] */
	CAIRN_FF_LIST_SCALAR = 1 << 6,  /* LIST: a lone scalar means a list of one */
	CAIRN_FF_NOREFS      = 1 << 7,  /* STRING/TEXT: ${node...} not allowed here */
	CAIRN_FF_NONEMPTY    = 1 << 8,  /* STRING/LIST/MAP: must not be empty */
	CAIRN_FF_NODIFF      = 1 << 9,  /* not part of the desired state (e.g. count) */
	CAIRN_FF_UNUSED      = 1 << 10, /* in a type's table: this common key does not apply */
	CAIRN_FF_LOCAL       = 1 << 11, /* cairn's own (configure, health): a change calls no provider */
};

struct cairn_field {
	const char *name;
	enum cairn_ftype type;
	unsigned flags;
	const char *def;                  /* default, as YAML text; NULL: none */
	int64_t min, max;                 /* with CAIRN_FF_BOUNDED (bytes, ms) */
	const char *const *choices;       /* ENUM: NULL-terminated */
	enum cairn_kind ref;              /* REF: what the name must declare */
	const struct cairn_field *fields; /* OBJECT: NULL-name-terminated */
	const struct cairn_field *elem;   /* LIST, MAP: the element (its name is unused) */
	const char *help;                 /* one line, for explain and docs */
};

/* A provider type: its own keys, and the keys it adds to what it serves. */
struct cairn_type_schema {
	const char *name;                         /* "libvirt" */
	const char *summary;                      /* one line */
	unsigned serves;                          /* 1 << CAIRN_KIND_NODE | ... */
	bool open;                                /* unknown keys accepted (plugins) */
	bool no_login;                            /* its nodes are not machines to log in to:
						     a 'command' health check is refused */
	const struct cairn_field *provider_fields;/* providers.NAME keys besides type */
	const struct cairn_field *node_fields;    /* added to nodes.NAME */
	const struct cairn_field *network_fields; /* added to networks.NAME */
	const struct cairn_field *volume_fields;  /* added to volumes.NAME */
};

/*
 * The registry.  Registering refuses a second type of the same name and a
 * table without name or summary.  cairn_schema_init() registers the built-in
 * types once (it is idempotent and thread-safe); every lookup calls it.
 */
int cairn_schema_register(const struct cairn_type_schema *t, struct cairn_error *err);
void cairn_schema_init(void);
const struct cairn_type_schema *cairn_schema_lookup(const char *type);
/* Registered types in registration order; *n receives the count. */
const struct cairn_type_schema *const *cairn_schema_types(size_t *n);
/* Names of registered types, NULL-terminated, for did-you-mean. */
const char *const *cairn_schema_type_names(void);

/* The common tables (src/model/schema.c). */
extern const struct cairn_field cairn_stack_fields[];    /* the top level */
extern const struct cairn_field cairn_provider_fields[]; /* providers.NAME common keys */
extern const struct cairn_field cairn_plan_fields[];
extern const struct cairn_field cairn_image_fields[];
extern const struct cairn_field cairn_network_fields[];
extern const struct cairn_field cairn_volume_fields[];
extern const struct cairn_field cairn_pool_fields[];
extern const struct cairn_field cairn_node_fields[];
extern const struct cairn_field cairn_variable_fields[]; /* the long form {default, ...} */

/* The common table of a section, or NULL for kinds without one. */
const struct cairn_field *cairn_schema_common(enum cairn_kind k);
/* The table a type adds to a section, or NULL. */
const struct cairn_field *cairn_schema_type_fields(const struct cairn_type_schema *t,
						   enum cairn_kind k);

/* Find a field by name in a table; NULL if absent. */
const struct cairn_field *cairn_field_find(const struct cairn_field *table,
					   const char *name);
/*
 * The field that governs key of a resource of kind k served by type t (t
 * may be NULL): the type's own field first, then the common one.
 */
const struct cairn_field *cairn_schema_field(enum cairn_kind k,
					     const struct cairn_type_schema *t,
					     const char *key);
/*
 * Two tables as one: a's fields in order, each replaced by b's of the same
 * name, then b's own; a key either marks UNUSED is left out.  NULL-
 * terminated; the caller frees the array (not the fields).
 */
const struct cairn_field **cairn_fields_merge(const struct cairn_field *a,
					     const struct cairn_field *b);
/* The names of cairn_fields_merge(a, b), for did-you-mean and hints.
 * Caller frees the array (not the strings). */
const char **cairn_field_names(const struct cairn_field *a, const struct cairn_field *b);

/* `cairn explain TYPE` as text and as JSON (src/providers/explain.c). */
void cairn_schema_explain(const struct cairn_type_schema *t, FILE *out);
json_t *cairn_schema_explain_json(const struct cairn_type_schema *t);
/* The same for a common section: `cairn explain node`. */
void cairn_schema_explain_section(enum cairn_kind k, FILE *out);
json_t *cairn_schema_section_json(enum cairn_kind k);

#endif
