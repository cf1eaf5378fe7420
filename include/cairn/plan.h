/*
 * plan.h - what apply would do: the difference between a model (what the
 * stack asks for) and the stored state (what exists), resource by resource.
 *
 * cairn_plan_build() compares each resource's desired attributes with the
 * stored record of the same address, first match wins:
 *   - no record                     -> create ("new")
 *   - record GONE                   -> create ("no longer exists; will be created again")
 *   - record TAINTED or FAILED      -> replace ("tainted", "the last operation on it failed")
 *   - another provider type or provider name -> replace (forced_by "type" or "provider")
 *   - same desired hash             -> no change
 *   - a differing field that FORCES_NEW -> replace, naming the field
 *     ("'image' changed (forces replacement)")
 *   - other differing fields        -> update in place, naming them
 *     ("'health', 'labels' changed")
 *   - a record with no resource     -> delete ("no longer in the stack")
 * Fields are the top-level keys of the desired objects, compared with
 * json_equal(), in name order; an absent key equals null, and NODIFF fields
 * never count.  Changes come in apply order: creates/updates/replaces/no-ops
 * in the model's topological order, then deletes: nodes, volumes, networks,
 * pools, by address within a kind.  Records are indexed by address (sorted,
 * binary search), so planning is O(n log n).
 *
 * A plan owns everything it points to except change->res, which points into
 * the model it was built from (NULL for deletes and for plans read from a
 * file).  A saved plan (JSON, see docs/internals/planner.md) records the
 * stack, lineage and serial it was made against; apply refuses it when they
 * no longer match the store.
 */
#ifndef CAIRN_PLAN_H
#define CAIRN_PLAN_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "cairn/error.h"
#include "cairn/model.h"
#include "cairn/store.h"

enum cairn_action {
	CAIRN_ACTION_NOOP = 0,
	CAIRN_ACTION_CREATE,
	CAIRN_ACTION_UPDATE,
	CAIRN_ACTION_REPLACE,
	CAIRN_ACTION_DELETE,
	CAIRN_ACTION__COUNT,
};

/* "no-op", "create", "update", "replace", "delete" */
const char *cairn_action_name(enum cairn_action a);
int cairn_action_parse(const char *name);

struct cairn_change {
	enum cairn_action action;
	char *address;
	enum cairn_kind kind;
	char *type;                 /* provider type */
	char *provider;             /* provider name */
	char *reason;               /* "'image' changed (forces replacement)", "new" */
	char **fields;              /* top-level fields that differ; NULL-terminated, may be NULL */
	char *forced_by;            /* REPLACE because of a field: its name; else NULL */
	json_t *sensitive;          /* keys whose values come from sensitive variables (array), or NULL */
	json_t *before;             /* stored desired attributes; NULL for create, no-op */
	json_t *after;              /* desired attributes; NULL for delete */
	const struct cairn_resource *res; /* into the model; NULL for delete */
	struct cairn_loc loc;       /* the declaration (or the forcing field) */
};

struct cairn_plan {
	char *stack;
	char *lineage;              /* of the state it was made against; NULL: stack not stored */
	int64_t serial;
	char *design_hash;          /* cairn_json_hash of the model's design */
	json_t *design;             /* the model's design (saved with the plan), or NULL */
	char *created_at;
	struct cairn_change *v;
	size_t n, alloc;
	size_t count[CAIRN_ACTION__COUNT];
};

/*
 * Diff m against the records of its stack (state may be NULL with nstate 0);
 * lineage/serial are those of the stack record (NULL/0 when absent).  The
 * records are borrowed (the plan takes its own JSON references).  Fails with
 * CAIRN_E_STATE when the records are inconsistent: an address recorded
 * twice, or a record whose kind is unknown.
 */
int cairn_plan_build(const struct cairn_model *m,
		     const struct cairn_resource_record *state, size_t nstate,
		     const char *lineage, int64_t serial,
		     struct cairn_plan **out, struct cairn_error *err);
void cairn_plan_free(struct cairn_plan *p);

/*
 * Keep only the changes of the resources keep() accepts and of what they
 * depend on (transitively, in m, the model p was built from); the others
 * become no-ops.  A delete (no resource in m) is kept when keep() accepts
 * its address.
 */
void cairn_plan_restrict(struct cairn_plan *p, const struct cairn_model *m,
			 bool (*keep)(const char *address, void *ctx), void *ctx);

/*
 * Tie a plan read from a file to m, the model loaded from the plan's own
 * design: every change gets its resource (res; after when missing).  Fails
 * when the plan has no design, when its design does not hash to its
 * design_hash (an edited file), or when m lacks a resource the plan creates
 * or changes.
 */
int cairn_plan_bind(struct cairn_plan *p, const struct cairn_model *m, struct cairn_error *err);

/* Does the plan change anything? */
bool cairn_plan_has_changes(const struct cairn_plan *p);
/* An update that changes only cairn's own fields (CAIRN_FF_LOCAL:
 * configure, health, labels, pool), or only finishes a node's
 * configuration: the engine does it without calling the provider. */
bool cairn_change_is_local(const struct cairn_change *c);

/* "Plan: 5 to create, 1 to update, 1 to replace, 0 to delete."  Caller frees. */
char *cairn_plan_summary(const struct cairn_plan *p);

/*
 * The human view: one block per change ("+ create", "~ update", "-/+
 * replace", "- delete") with the attributes that matter and the reason, then
 * the summary, or "No changes. The stack matches the recorded state."
 * No-ops are listed only with verbose.  Sensitive values print as
 * (sensitive); sizes and durations with their units.  color adds ANSI
 * colours.  The text is stable (keys sorted, no time): golden-testable.
 */
void cairn_plan_render(const struct cairn_plan *p, FILE *out, bool color, bool verbose);

/*
 * The JSON form (also the saved plan file) and back.  from_json refuses a
 * document without {"format": "cairn-plan", "version": 1}; a plan read back
 * has res NULL and no locations.  save writes a temporary file, fsyncs and
 * renames it over path (mode 0600); load refuses files over 256 MiB.
 */
json_t *cairn_plan_to_json(const struct cairn_plan *p);
int cairn_plan_from_json(const json_t *j, struct cairn_plan **out, struct cairn_error *err);
int cairn_plan_save(const struct cairn_plan *p, const char *path, struct cairn_error *err);
int cairn_plan_load(const char *path, struct cairn_plan **out, struct cairn_error *err);

/*
 * May a saved plan still be applied?  stack, lineage and serial are the
 * stack record's now (lineage NULL, serial 0 when the stack is not stored).
 * Refused (CAIRN_E_CONFLICT) when the plan is of another stack, of another
 * lineage, or of another serial: the state moved since the plan was made.
 * A plan made before the stack was stored still fits a stack whose serial
 * is 0 (created, nothing written yet).
 */
int cairn_plan_check_state(const struct cairn_plan *p, const char *stack,
			   const char *lineage, int64_t serial,
			   struct cairn_error *err);

/*
 * The dependency graph of the model as DOT (src/plan/graph.c): one vertex
 * per resource, an edge A -> B when A needs B.  Deterministic.
 */
void cairn_graph_dot(const struct cairn_model *m, FILE *out);

#endif
