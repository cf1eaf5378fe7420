/*
 * model.h - a validated stack, expanded into the resources it asks for.
 *
 * The spec layer (spec.h) builds a struct cairn_model from YAML; everything
 * after it (plan, engine, daemon) reads the model and never the YAML.  The
 * model owns all it points to except the source texts, which live in the
 * struct cairn_sources the caller passed to the loader (locations point into
 * it): free the model first, then the sources.
 *
 * Declarations are what the user wrote (one per name, ranges already
 * expanded: "web[01-03]" gives web01, web02, web03).  Resources are what
 * exists at apply time: a counted node "web" with count 3 gives node.web[0],
 * node.web[1], node.web[2]; networks, volumes and pools give one each.
 * Plans, images, providers, variables and outputs are declarations only.
 */
#ifndef CAIRN_MODEL_H
#define CAIRN_MODEL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "cairn/error.h"
#include "cairn/schema.h"

struct cairn_ynode;   /* the YAML a declaration came from (src/spec/yaml.h) */

struct cairn_decl {
	enum cairn_kind kind;
	char *name;                     /* "web", "lan", "small" */
	struct cairn_loc loc;           /* of its key in the stack */
	json_t *attrs;                  /* decoded, defaults filled; owned */
	json_t *sensitive;              /* top-level keys holding a sensitive variable's value
	                                   (array of strings, may be NULL); owned */
	const struct cairn_ynode *yaml; /* for field locations; may be NULL */
	/* nodes only */
	bool counted;                   /* count or scaling given: indexed addresses */
	int count;                      /* instances to create */
	const struct cairn_type_schema *type;  /* provider type (nodes, networks, volumes) */
	const char *provider;           /* provider name (points into attrs) */
	size_t first, nres;             /* its resources: model->res[first .. first+nres) */
};

struct cairn_resource {
	char *address;                  /* "node.web[2]", "network.lan", "pool.db" */
	enum cairn_kind kind;           /* NODE, NETWORK, VOLUME or POOL */
	const struct cairn_decl *decl;
	int index;                      /* -1 when the declaration is not counted */
	char *name;                     /* instance name: "web-2", "lan" */
	const char *type;               /* provider type: "libvirt"; "cairn" for pools */
	const char *provider;           /* provider name in the stack; "cairn" for pools */
	json_t *desired;                /* canonical desired attributes; owned */
	char desired_hash[40];          /* cairn_json_hash(desired) */
	size_t *deps;                   /* indices into model->res it needs first */
	size_t ndeps, adeps;
};

struct cairn_model {
	char *stack;                    /* stack name */
	char *description;              /* may be NULL */
	const char *path;               /* root file (points into the sources) */
	struct cairn_decl *decls;       /* every declaration, in source order per kind */
	size_t ndecls, adecls;
	struct cairn_resource *res;     /* every resource, declaration order */
	size_t nres, ares;
	size_t *order;                  /* res indices in a topological order */
	json_t *variables;              /* name -> resolved value */
	json_t *sensitive;              /* names of sensitive variables (array) */
	json_t *outputs;                /* name -> value (node refs unresolved) */
	json_t *design;                 /* the whole validated stack, canonical */
	void *priv;                     /* the loader's (YAML arena); do not touch */
};

void cairn_model_free(struct cairn_model *m);

/* Declarations and resources by name / address; NULL if absent. */
const struct cairn_decl *cairn_model_decl(const struct cairn_model *m,
					  enum cairn_kind kind, const char *name);
const struct cairn_resource *cairn_model_resource(const struct cairn_model *m,
						  const char *address);
ssize_t cairn_model_resource_index(const struct cairn_model *m, const char *address);

/*
 * Where in the user's text a field of a declaration is: path is a dotted key
 * path ("plan", "ssh.via", "configure.2.run").  Falls back to the nearest
 * enclosing node, then to the declaration itself.
 */
struct cairn_loc cairn_decl_field_loc(const struct cairn_decl *d, const char *path);

/*
 * Addresses.  cairn_address_parse() splits "node.web[2]" into kind, name and
 * index (-1 when absent); returns -1 with err for malformed text.
 */
char *cairn_address_format(enum cairn_kind kind, const char *name, int index);
int cairn_address_parse(const char *address, enum cairn_kind *kind, char **name,
			int *index, struct cairn_error *err);

#endif
