/*
 * engine-priv.h - what apply.c and journal.c share: one run's context, the
 * open providers, and the journalled call.
 */
#ifndef CAIRN_ENGINE_PRIV_H
#define CAIRN_ENGINE_PRIV_H

#include <pthread.h>

#include "engine/engine.h"
#include "providers/provider.h"
#include "util/strmap.h"

struct eprov {
	char *name;
	char *type;
	struct cairn_provider *p;     /* NULL for cairn's own pools ("cairn") */
	int limit, running;
	int attempts;
	int64_t base_ms, cap_ms;
	bool ssh_ready;               /* its new nodes are waited for on SSH */
	int64_t ready_ms;             /* for at most this long */
	bool route;                   /* its creates are told how to reach a bastion */
};

struct eng {
	struct cairn_store *st;
	pthread_mutex_t store_mu;     /* one thread at a time in the store */
	const struct cairn_engine_opts *opts;
	struct cairn_engine_opts defaults;
	char *stack;
	char *lineage;                /* as found before this run (NULL: new) */
	int64_t serial;
	int64_t fence;                /* our lock, 0 when not held */
	int64_t lease_ms;
	int64_t t0;
	char *state_dir;
	char *dir;                    /* the stack file's directory: relative paths start there; NULL: ours */
	char *key_private, *key_public;   /* the stack's SSH key (access.c), or NULL */
	struct eprov *provs;
	size_t nprovs, aprovs;
	struct cairn_strmap known;    /* address -> struct cairn_resource_record * (owned) */
	pthread_mutex_t emit_mu;
	/* the group commit (journal.c) */
	pthread_mutex_t gc_mu;
	struct gwrite *gc_head, **gc_tail;   /* queued writes, under gc_mu */
	bool gc_busy;                        /* a leader is committing */
};

void eng_init(struct eng *e, struct cairn_store *st, const char *stack,
	      const struct cairn_engine_opts *opts);
void eng_release(struct eng *e);
/* Lock the stack (waiting up to lock_timeout), note lineage and serial,
 * resolve open intents, store the design when given. */
int eng_begin(struct eng *e, const json_t *design, struct cairn_error *err);
void eng_renew_lock(struct eng *e);
/* The stack's records, sorted by address; also fills the live index. */
int eng_records(struct eng *e, struct cairn_resource_record **recs, size_t *n,
		struct cairn_error *err);
/* Open every provider the model (or, without one, the stored design) and the
 * records name. */
int eng_open_providers(struct eng *e, const struct cairn_model *m,
		       const struct cairn_resource_record *recs, size_t n,
		       struct cairn_error *err);
struct eprov *eng_provider(struct eng *e, const char *name);
bool eng_can_update(const struct eprov *p);
/*
 * One provider call in the journal: open an intent, call (retrying what is
 * retryable with back-off), record the outcome and close the intent in one
 * transaction.  rec names the resource (its cairn_id, desired, hash);
 * want is what the provider is given (references resolved); before is the
 * last observed state; via, for a node behind a bastion, how to reach the
 * bastion (eng_ssh_route(), or NULL).  On success of create/update,
 * *observed (may be NULL) receives the new observed state.
 */
int eng_call(struct eng *e, struct eprov *p, const char *op,
	     const struct cairn_resource_record *rec, const json_t *want,
	     const json_t *before, const json_t *via, json_t **observed,
	     struct cairn_error *err);
/*
 * A write to the store (fn(e, arg, err) inside a transaction), committed
 * together with whatever other threads write at the same moment; returns
 * once it is committed, with fn's result.  fn may run twice (alone, when a
 * write it shared a transaction with failed), so it changes nothing but
 * the store and its arg.
 */
typedef int eng_write_fn(struct eng *e, void *arg, struct cairn_error *err);
int eng_write(struct eng *e, eng_write_fn *fn, void *arg, struct cairn_error *err);
void eng_task(struct eng *e, const char *address, const char *op, const char *status,
	      int attempts, const char *error);
void eng_emit(struct eng *e, const json_t *event);
void eng_known_put(struct eng *e, struct cairn_resource_record *r);
/* Store a record as it now is (its observed state changed after the call). */
int eng_put_record(struct eng *e, const struct cairn_resource_record *rec, struct cairn_error *err);
/* The same, and when ok forget the resource's task, in one transaction:
 * work done without a provider call (configuration, a local update). */
int eng_settle(struct eng *e, const struct cairn_resource_record *rec, bool ok, struct cairn_error *err);

/* access.c: the stack's key pair into e (once; nothing without a KEK path) */
int eng_stack_key(struct eng *e, struct cairn_error *err);
/* the address of a node's bastion ("node.NAME"), or NULL; caller frees */
char *eng_bastion_address(const struct cairn_resource_record *r);
/* How cairn logs in to a recorded node: {"host", "port", "user", "host_key",
 * "identity"} (what its provider observed wins over its ssh settings);
 * NULL when it has no address.  Caller frees (json_decref). */
json_t *eng_ssh_route(const struct cairn_resource_record *r);
/* Wait until a new node (observed: what its create returned) accepts the
 * stack's key on SSH, through bastion when not NULL; adds "host_key" and
 * "ready_ms" to observed.  No key: nothing to wait for. */
int eng_node_ready(struct eng *e, const struct cairn_resource_record *node,
		   const struct cairn_resource_record *bastion, int64_t timeout_ms,
		   json_t *observed, struct cairn_error *err);

/* Whether node record r is one of names: its address ("node.web[0]"), its
 * name ("web-0"), or "web" / "node.web" for every instance of web; NULL or
 * none: every node is. */
bool eng_names_node(const struct cairn_resource_record *r, const char *const *names, size_t n);

/* A session to a recorded node as cairn reaches it (its observed address,
 * through bastion when not NULL, the stack's key unless it has a key file),
 * its host key pinned when recorded.  NULL with err set. */
struct cairn_ssh_session *eng_ssh_connect(struct eng *e, const struct cairn_resource_record *node,
					  const struct cairn_resource_record *bastion,
					  struct cairn_error *err);

/* A stream to host:port through node via's sshd (cairn_ssh_forward_open()
 * with via's login and pinned key); NULL with err set. */
struct cairn_ssh_forward *eng_forward(struct eng *e, const struct cairn_resource_record *via,
				      const char *host, int port, int timeout_ms, int *fd,
				      struct cairn_error *err);
/* Run command on node (through bastion when not NULL) within timeout_ms:
 * its output (both streams) into out, its exit status into *status. */
int eng_run_on(struct eng *e, const struct cairn_resource_record *node,
	       const struct cairn_resource_record *bastion, const char *command, int timeout_ms,
	       struct cairn_buf *out, int *status, struct cairn_error *err);
/* health.c: hold a new node until its health checks (health: the resolved
 * section) pass, for at most retries x interval; -1 with err saying which
 * failed.  No checks: 0 at once. */
int eng_health_gate(struct eng *e, const struct cairn_resource_record *rec,
		    const struct cairn_resource_record *bastion, const json_t *health,
		    struct cairn_error *err);

/* configure.c: how references are filled in while a run goes on */
struct eng_refs {
	cairn_engine_lookup_fn *lookup;
	void *ctx;
	pthread_mutex_t *mu;          /* held around lookups; NULL: none needed */
	const json_t *vars;           /* the stack's variables, for templates; may be NULL */
};
struct eng_configure_stats {
	size_t ran, skipped, seeded, failed;
};
/*
 * Run the configure steps of node rec (its desired "configure") over SSH,
 * through bastion when not NULL: steps done before with the same hash (the
 * facts "step.N") are skipped, those a provider seeded are recorded, the
 * first failure stops the node.  rec->observed (made when NULL) gets
 * "configured" ({status, steps, failed_step, error, at}) and, at first
 * contact, "host_key"; the caller stores the record.  stats (may be NULL)
 * is added to.  Returns 0 when every step is done.
 */
int eng_configure(struct eng *e, struct cairn_resource_record *rec,
		  const struct cairn_resource_record *bastion, const struct eng_refs *refs,
		  struct eng_configure_stats *stats, struct cairn_error *err);
/* ansible.c: run one ansible step (resolved: {playbook, groups, vars})
 * against rec; output gets the recap and failures, *exit_status
 * ansible-playbook's.  0 when it ran, whatever its status. */
int eng_ansible_step(struct eng *e, const struct cairn_resource_record *rec,
		     const struct cairn_resource_record *bastion, const json_t *step,
		     struct cairn_buf *output, int *exit_status, struct cairn_error *err);

/*
 * The stack file's directory, which relative paths (sources, playbooks,
 * images) are relative to: m's file's, remembered in the store (the fact
 * "dir" of address "stack"); when m was not loaded from a file (a stored
 * design, a saved plan), the one remembered.  Sets e->dir (NULL: unknown).
 */
void eng_stack_dir(struct eng *e, const struct cairn_model *m);
/* path made absolute against e->dir (a new string; NULL for NULL) */
char *eng_path(const struct eng *e, const char *path);

/* Evaluate outputs (NULL: clear them) against the stack's records and store them. */
void eng_outputs(struct eng *e, const json_t *outputs);

#endif
