/*
 * engine.h - apply and destroy: walk the plan's graph, call providers in
 * parallel, journal every call, retry what is worth retrying.
 *
 * The engine owns no state of its own between runs: everything it knows is in
 * the store (resources, open intents, tasks, the lock) and in the providers
 * (objects stamped with cairn ids).  A run that dies at any moment (kill -9)
 * leaves open intents that the next run resolves first
 * (cairn_engine_recover(); docs/internals/journal.md).
 *
 * Threads: cairn_engine_apply() and cairn_engine_destroy() start up to
 * opts->parallelism workers and return when all have finished (or, after a
 * second interrupt, without waiting for the calls in flight).  The store is
 * used from one thread at a time (a mutex inside the engine).
 */
#ifndef CAIRN_ENGINE_H
#define CAIRN_ENGINE_H

#include <jansson.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "cairn/error.h"
#include "cairn/model.h"
#include "cairn/plan.h"
#include "cairn/store.h"
#include "util/buf.h"

/* Progress events, one JSON object each (docs/events.md):
 *   {"event": "start"|"done"|"failed"|"retry"|"blocked"|"working", "address",
 *    "op", "elapsed_ms", "attempt", "error"}
 *   {"event": "step", "address", "op": "configure", "index", "kind",
 *    "status": "ok"|"failed"|"skipped"|"seeded", "elapsed_ms", "error"}
 *   {"event": "summary", "created", "updated", "replaced", "deleted", "failed",
 *    "blocked", "unchanged", "elapsed_ms", "interrupted"}
 * The callback is called from several threads, one call at a time. */
typedef void cairn_engine_event_fn(void *ctx, const json_t *event);

struct cairn_engine_opts {
	int parallelism;                 /* running calls at most; 0: 10 */
	const char *state_dir;           /* for providers' files; NULL: next to the store */
	const char *kek_path;            /* the key-encryption key of the stack's SSH key
					  * (made when missing); NULL: nodes get no key */
	const char *holder;              /* lock holder text; NULL: user@host pid N */
	int64_t lock_timeout_ms;         /* wait this long for the stack lock; 0: fail at once */
	int64_t lease_ms;                /* lock lease, renewed at a third; 0: 30 s */
	int retry_attempts;              /* per call; 0: 5 */
	int64_t retry_base_ms;           /* first back-off; 0: 200 ms */
	int64_t retry_cap_ms;            /* longest back-off; 0: 10 s */
	int64_t working_ms;              /* "still working" events after; 0: 10 s */
	volatile sig_atomic_t *interrupt;/* 1: start nothing new; 2: abandon in-flight calls */
	bool force_steps;                /* configure: run every step, changed or not */
	cairn_engine_event_fn *event;
	void *event_ctx;
};

struct cairn_engine_result {
	size_t created, updated, replaced, deleted, failed, blocked, unchanged;
	size_t configured;      /* cairn configure: nodes whose steps all hold */
	size_t steps_ran, steps_skipped, steps_seeded, steps_failed;
	int64_t elapsed_ms;
	bool interrupted;
	bool stale_plan;        /* refused: the state moved since the plan (nothing done) */
};

/*
 * Apply plan p (built from m against the store's records) to stack m->stack:
 * take the lock, resolve open intents, check p's lineage and serial, store
 * the design, run the changes, evaluate and store the outputs.  Returns 0
 * when every change succeeded, -1 otherwise (err says why; per-resource
 * failures are also tasks).
 */
int cairn_engine_apply(struct cairn_store *st, const struct cairn_model *m,
		       const struct cairn_plan *p, const struct cairn_engine_opts *opts,
		       struct cairn_engine_result *res, struct cairn_error *err);

/* Delete every resource of a stack, dependents first; the stack stays in
 * the store (empty) so that its lineage continues. */
int cairn_engine_destroy(struct cairn_store *st, const char *stack,
			 const struct cairn_engine_opts *opts,
			 struct cairn_engine_result *res, struct cairn_error *err);

/*
 * Run the configure steps of the stack's nodes again (cairn configure): of
 * every node, or of those names gives (a name "web-0", an address
 * "node.web[0]", or "web" for all its instances; a name no node has is
 * CAIRN_E_NOTFOUND), as their records hold them, in the order of m (the
 * stack's stored design: what a node depends on goes first).  Steps whose
 * hash is unchanged since they succeeded are skipped.  Takes the stack's
 * lock; calls no provider.  Returns 0 when every node's steps hold.
 */
int cairn_engine_configure(struct cairn_store *st, const struct cairn_model *m,
			   const char *const *names, size_t nnames,
			   const struct cairn_engine_opts *opts,
			   struct cairn_engine_result *res, struct cairn_error *err);

/*
 * One round of the health checks of a stack's nodes (health.c): of every
 * node with a health section, or of those names gives; with due_only, only
 * of the nodes whose interval has passed since their last round.  Nodes
 * are checked in parallel (parallelism at once, 0: 10), each check once,
 * through the node's bastion; each check's state is kept in the store (the
 * fact "check.NAME": state pending|ready|failed, fails in a row, detail,
 * ms, checked_at, since, ok_at).  *out gets [{"address", "name", "state",
 * "checks": [{"check", "state", ...}]}] of the nodes checked.
 */
int cairn_engine_health(struct cairn_store *st, const char *kek_path, const char *stack,
			const char *const *names, size_t nnames, int parallelism, bool due_only,
			json_t **out, struct cairn_error *err);
/* The same shape from what the store holds, checking nothing. */
int cairn_engine_health_show(struct cairn_store *st, const char *stack, json_t **out,
			     struct cairn_error *err);

/*
 * Mark, in the records' observed states (in memory), the nodes whose
 * configuration read a local file (a template, a file step's source, a
 * playbook) that changed since: "configured" gets status "changed", which
 * the planner plans as an update that configures the node again.  Returns
 * how many.  The plan commands call it; it only reads the files.
 */
int cairn_engine_check_sources(struct cairn_resource_record *recs, size_t n);

/* Resolve the open intents of a stack (the caller holds its lock or knows
 * nobody else runs).  *resolved (may be NULL) receives how many. */
int cairn_engine_recover(struct cairn_store *st, const char *stack,
			 const struct cairn_engine_opts *opts, size_t *resolved,
			 struct cairn_error *err);

/*
 * Ask the providers what became of the stack's recorded objects
 * (refresh.c): each provider's list(), and read() for what a list did not
 * show.  recs/n (the stack's records, as the store gave them) are updated
 * in place: observed states merged with what the providers report, and
 * records whose object is gone marked CAIRN_RS_TAINTED (a plan replaces
 * them, or deletes them when m no longer declares them; the delete takes
 * whatever parts of the object are left).  With write, the stack is locked
 * and the store updated to match.  res->gone lists the addresses of the
 * objects found gone.  Nothing recorded: no provider is opened.
 */
struct cairn_refresh_result {
	json_t *gone;           /* array of addresses */
	size_t checked, changed;
};
int cairn_engine_refresh(struct cairn_store *st, const struct cairn_model *m, const char *stack,
			 const struct cairn_engine_opts *opts, bool write,
			 struct cairn_resource_record **recs, size_t *n,
			 struct cairn_refresh_result *res, struct cairn_error *err);
bool cairn_refresh_gone(const struct cairn_refresh_result *res, const char *address);
void cairn_refresh_result_release(struct cairn_refresh_result *res);

/*
 * The stack's SSH key pair (access.c): opened from the stack's secrets with
 * the key-encryption key at kek_path, or, with create, generated and stored
 * when the stack has none (CAIRN_E_NOTFOUND without create).  The caller
 * frees *private_pem with cairn_engine_key_free() (it zeroes it) and
 * *public_line with free().
 */
int cairn_engine_stack_key(struct cairn_store *st, const char *kek_path, const char *stack,
			   bool create, char **private_pem, char **public_line,
			   struct cairn_error *err);
void cairn_engine_key_free(char *private_pem);

/*
 * An SSH session to a node of a stack as cairn reaches it: the address it
 * observed, the user and port of the node's ssh:, through its ssh.via
 * bastion, with the stack's key and the host keys pinned at first contact.
 * node is a node's name ("web-0") or address ("node.web[0]").
 */
struct cairn_ssh_session;
/*
 * The inventory, from a stack's records (inventory.c): a row per node
 * ({name, address, provider, type, state, pool, labels, ip, machine}); an
 * Ansible dynamic inventory ({GROUP: {hosts}, all, _meta: {hostvars}}:
 * groups from pools, labels (KEY_VALUE) and the groups of ansible steps;
 * host vars ansible_host, _port, _user, _ssh_private_key_file and
 * _ssh_common_args, which reach a node through its bastion and check host
 * keys against the pins with known_hosts_cmd, a KnownHostsCommand, and/or
 * known_hosts_file, a file of them, when not NULL); known_hosts lines of
 * the pinned host keys.  Callers free.
 */
json_t *cairn_engine_inventory_rows(const char *stack, const struct cairn_resource_record *recs,
				    size_t n);
/* The row of one record, or NULL when it is not a node. */
json_t *cairn_engine_inventory_row(const char *stack, const struct cairn_resource_record *r);
/*
 * A query over rows: KEY=VALUE or KEY!=VALUE terms (KEY: stack, name,
 * address, provider, type, state, pool, ip, machine, or labels.KEY; a VALUE
 * with blanks in quotes) joined by "and" and "or", "and" binding tighter.
 * compile() fails with CAIRN_E_INVALID, saying what is wrong, for an
 * expression that does not parse; match() tells whether a row is selected.
 */
struct cairn_inventory_query;
int cairn_engine_query_compile(const char *expr, struct cairn_inventory_query **q,
			       struct cairn_error *err);
bool cairn_engine_query_match(const struct cairn_inventory_query *q, const json_t *row);
void cairn_engine_query_free(struct cairn_inventory_query *q);
json_t *cairn_engine_inventory_ansible(const struct cairn_resource_record *recs, size_t n,
				       const char *known_hosts_cmd, const char *known_hosts_file);
char *cairn_engine_known_hosts(const struct cairn_resource_record *recs, size_t n);

int cairn_engine_ssh_open(struct cairn_store *st, const char *kek_path, const char *stack,
			  const char *node, struct cairn_ssh_session **out, struct cairn_error *err);

/*
 * Resolve ${node...} and ${self...} references in v against the stack's
 * records (their observed attributes) and unescape $${: what a provider is
 * given and what outputs show.  self may be NULL.  Unknown attributes become
 * empty strings.  Returns a new reference.
 */
json_t *cairn_engine_resolve(const json_t *v, const struct cairn_resource_record *recs,
			     size_t nrecs, const struct cairn_resource_record *self);
/* The same with records found by a function (the engine's live index). */
typedef const struct cairn_resource_record *cairn_engine_lookup_fn(void *ctx, const char *address);
json_t *cairn_engine_resolve_with(const json_t *v, cairn_engine_lookup_fn *lookup, void *ctx,
				  const struct cairn_resource_record *self);

/*
 * Render a template: text (len bytes) with its ${node...}, ${self...} and
 * ${var.NAME} references (vars: the stack's variables; NULL: none) expanded
 * into out (appended), as cairn_engine_resolve_with() does, but strictly: a
 * node the stack does not have, an attribute a node does not have (yet), an
 * unknown variable or an unclosed "${" fails with CAIRN_E_INVALID saying
 * which and where ("3:14: ${node.db.port}: node.db has no 'port' (yet)").
 * "$${" is a literal "${".
 */
int cairn_engine_render(const char *text, size_t len, cairn_engine_lookup_fn *lookup, void *lctx,
			const struct cairn_resource_record *self, const json_t *vars,
			struct cairn_buf *out, struct cairn_error *err);

#endif
