/*
 * cmd-apply.c - the commands that run the engine: cairn apply, cairn
 * destroy and cairn configure.  Show, confirm, run, report progress.
 */
#include "util/common.h"

#include <signal.h>
#include <unistd.h>

#include "cairn/plan.h"
#include "cairn/store.h"
#include "cli/cli.h"
#include "engine/engine.h"
#include "util/clock.h"
#include "util/units.h"

CAIRN_LOG_INIT("cli.apply");

enum { OPT_TARGET = OPT_ENGINE_END, OPT_REPLACE };

/* --target and --replace: addresses, "node.web" also matching its instances */
struct addrs {
	const char **v;
	size_t n, alloc;
};

static bool addr_matches(const char *pattern, const char *address)
{
	size_t n = strlen(pattern);

	return !strncmp(pattern, address, n) && (!address[n] || address[n] == '[');
}

static bool in_addrs(const char *address, void *ctx)
{
	const struct addrs *a = ctx;

	for (size_t i = 0; i < a->n; i++)
		if (addr_matches(a->v[i], address))
			return true;
	return false;
}

static volatile sig_atomic_t interrupted;

static void on_interrupt(int sig)
{
	(void)sig;
	if (interrupted < 2)
		interrupted++;
}

struct progress {
	struct cairn_cli *cli;
	bool tty;
	bool color;
};

static const struct { const char *op, *ing, *ed; } verbs[] = {
	{ "create", "creating", "created" },
	{ "update", "updating", "updated" },
	{ "replace", "replacing", "replaced" },
	{ "delete", "deleting", "deleted" },
	{ "configure", "configuring", "configured" },
};

/* "creating" (ed false) or "created" (ed true) for an operation */
static const char *verb(const char *op, bool ed)
{
	for (size_t i = 0; op && i < ARRAY_SIZE(verbs); i++)
		if (!strcmp(op, verbs[i].op))
			return ed ? verbs[i].ed : verbs[i].ing;
	return op ? op : "";
}

/* Called by the engine, one event at a time. */
static void on_event(void *ctx, const json_t *ev)
{
	struct progress *pg = ctx;
	const char *kind = json_string_value(json_object_get(ev, "event"));
	const char *addr = json_string_value(json_object_get(ev, "address"));
	const char *op = json_string_value(json_object_get(ev, "op"));
	double secs = json_integer_value(json_object_get(ev, "elapsed_ms")) / 1000.0;

	if (!kind)
		return;
	if (pg->cli->json) {
		json_dumpf(ev, stdout, JSON_COMPACT);
		fputc('\n', stdout);
		fflush(stdout);
		return;
	}
	if (pg->cli->quiet || !strcmp(kind, "summary"))
		return;
	if (!strcmp(kind, "start")) {
		if (pg->tty)
			printf("%s: %s...\n", addr, verb(op, false));
	} else if (!strcmp(kind, "done")) {
		printf("%s: %s (%.1fs)\n", addr, verb(op, true), secs);
	} else if (!strcmp(kind, "working")) {
		printf("%s: still %s... (%.0fs)\n", addr, verb(op, false), secs);
	} else if (!strcmp(kind, "retry")) {
		printf("%s: retrying %s (attempt %lld): %s\n", addr, op,
		       (long long)json_integer_value(json_object_get(ev, "attempt")),
		       json_string_value(json_object_get(ev, "error")));
	} else if (!strcmp(kind, "failed")) {
		printf("%s%s: %s failed%s: %s\n", pg->color ? "\033[1;31m" : "", addr, op,
		       pg->color ? "\033[0m" : "", json_string_value(json_object_get(ev, "error")));
	} else if (!strcmp(kind, "blocked")) {
		printf("%s: not %s: a resource it depends on failed\n", addr, verb(op, true));
	} else if (!strcmp(kind, "step")) {
		const char *st = json_string_value(json_object_get(ev, "status"));
		long long idx = json_integer_value(json_object_get(ev, "index")) + 1;
		const char *sk = json_string_value(json_object_get(ev, "kind"));

		if (!st || (!strcmp(st, "skipped") && pg->cli->verbose <= 0))
			return;
		if (!strcmp(st, "failed"))
			printf("%s%s: step %lld (%s) failed%s: %s\n", pg->color ? "\033[1;31m" : "", addr,
			       idx, sk, pg->color ? "\033[0m" : "",
			       json_string_value(json_object_get(ev, "error")));
		else if (!strcmp(st, "seeded"))
			printf("%s: step %lld (%s) ran at first boot (cloud-init)\n", addr, idx, sk);
		else if (!strcmp(st, "skipped"))
			printf("%s: step %lld (%s) unchanged\n", addr, idx, sk);
		else
			printf("%s: step %lld (%s) done (%.1fs)\n", addr, idx, sk, secs);
	}
	fflush(stdout);
}

static bool confirm(struct cairn_cli *cli, const char *what, bool auto_approve,
		    struct cairn_error *err)
{
	char line[64];

	if (auto_approve)
		return true;
	if (!isatty(STDIN_FILENO) || cli->json) {
		cairn_error_set(err, CAIRN_E_USAGE, "refusing to %s without --auto-approve: not on a terminal",
				what);
		return false;
	}
	printf("\nDo you want to %s? Only 'yes' is accepted: ", what);
	fflush(stdout);
	if (!fgets(line, sizeof(line), stdin) || strcmp(line, "yes\n")) {
		cairn_error_set(err, CAIRN_E_USAGE, "%s cancelled", what);
		return false;
	}
	return true;
}

static void summary(struct cairn_cli *cli, const char *what,
		    const struct cairn_engine_result *r, int ret)
{
	size_t any = r->created + r->updated + r->replaced + r->deleted + r->failed + r->blocked;

	/* a run that failed before it started (the lock) has nothing to sum up */
	if (cli->json || cli->quiet || (ret && !any && !r->interrupted))
		return;
	printf("\n%s %s: %zu created, %zu updated, %zu replaced, %zu deleted, %zu failed in %.1fs\n",
	       what, r->interrupted ? "interrupted" : (r->failed || r->blocked) ? "failed" : "complete",
	       r->created, r->updated, r->replaced, r->deleted, r->failed + r->blocked,
	       r->elapsed_ms / 1000.0);
	if (r->steps_ran || r->steps_seeded || r->steps_failed)
		printf("Configure steps: %zu ran, %zu unchanged, %zu at first boot, %zu failed.\n",
		       r->steps_ran - r->steps_failed, r->steps_skipped, r->steps_seeded, r->steps_failed);
}

int cli_engine_option(struct cairn_cli *cli, int c, struct cairn_engine_opts *o,
		      bool *auto_approve)
{
	struct cairn_error err = CAIRN_ERROR_INIT;
	int status;

	switch (c) {
	case OPT_ENGINE_PARALLELISM: {
		char *end;
		long n = strtol(optarg, &end, 10);

		if (*end || n < 1 || n > 1024)
			return cli_usage_error(cli, "--parallelism takes a number from 1 to 1024, not '%s'",
					       optarg);
		o->parallelism = (int)n;
		return 0;
	}
	case OPT_ENGINE_AUTO_APPROVE:
		if (!auto_approve)
			return -1;
		*auto_approve = true;
		return 0;
	case OPT_ENGINE_LOCK_TIMEOUT:
		if (!cairn_parse_duration(optarg, &o->lock_timeout_ms, &err))
			return 0;
		status = cli_usage_error(cli, "%s", err.message);
		cairn_error_release(&err);
		return status;
	}
	return -1;
}

/* Resolve open intents first, unless someone holds the lock (then the
 * engine's lock refuses us with the holder's name anyway). */
static int recover_if_free(struct cairn_store *st, const char *stack,
			   const struct cairn_engine_opts *o, struct cairn_error *err)
{
	struct cairn_lock_record lk = { 0 };
	struct cairn_error lerr = CAIRN_ERROR_INIT;
	size_t n = 0;
	int ret = 0;

	if (!cairn_store_lock_get(st, stack, &lk, &lerr) && lk.expires_ms > cairn_now_realtime_ms()) {
		cairn_lock_record_release(&lk);
		return 0;
	}
	cairn_lock_record_release(&lk);
	cairn_error_release(&lerr);
	ret = cairn_engine_recover(st, stack, o, &n, err);
	if (n)
		cairn_info("resolved %zu open intents of stack '%s'", n, stack);
	return ret;
}

/* The lock's lease: 30 s, or $CAIRN_LOCK_LEASE (a duration; tests shorten it
 * so that a killed holder's lock expires quickly). */
static int64_t lease_ms(void)
{
	const char *s = getenv("CAIRN_LOCK_LEASE");
	int64_t ms = 0;

	if (s && !cairn_parse_duration(s, &ms, NULL) && ms > 0)
		return ms;
	return 30000;
}

static void install_handlers(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_interrupt;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

static int exit_status(const struct cairn_engine_result *r, int ret)
{
	if (r->interrupted)
		return 130;
	return ret ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}

/* The exit status of an engine run that returned ret; an error that is not
 * about resources (the lock, the store) is printed in full, else only its
 * one-line summary, the failures having been printed as they came. */
static int run_status(struct cairn_cli *cli, const struct cairn_engine_result *r, int ret,
		      const struct cairn_error *err, const struct cairn_sources *sources)
{
	if (ret && !r->failed && !r->blocked && !r->interrupted)
		return cli_error(cli, err, sources);
	if (ret && !cli->json && !cli->quiet)
		fprintf(stderr, "cairn: %s\n", err->message);
	return exit_status(r, ret);
}

/* Point o at the progress printer and the signal handlers, for a run. */
static void prepare_run(struct cairn_engine_opts *o, struct progress *pg)
{
	o->interrupt = &interrupted;
	o->event = on_event;
	o->event_ctx = pg;
	o->lease_ms = lease_ms();
	install_handlers();
}

static int run_apply(struct cairn_cli *cli, const struct cairn_model *m, struct cairn_plan *saved,
		     const struct cairn_sources *sources, struct cairn_engine_opts *o,
		     bool auto_approve, bool (*keep)(const char *address, void *ctx), void *keep_ctx,
		     const struct addrs *replace);

int cli_run_apply(struct cairn_cli *cli, const struct cairn_model *m,
		  const struct cairn_sources *sources, struct cairn_engine_opts *o,
		  bool auto_approve, bool (*keep)(const char *address, void *ctx), void *keep_ctx)
{
	return run_apply(cli, m, NULL, sources, o, auto_approve, keep, keep_ctx, NULL);
}

/* --replace: what exists and matches is replaced, changed or not */
static int force_replace(struct cairn_plan *p, const struct addrs *replace, struct cairn_error *err)
{
	for (size_t k = 0; k < replace->n; k++) {
		bool found = false;

		for (size_t i = 0; i < p->n; i++) {
			struct cairn_change *c = &p->v[i];

			if (!addr_matches(replace->v[k], c->address))
				continue;
			found = true;
			if (c->action != CAIRN_ACTION_NOOP && c->action != CAIRN_ACTION_UPDATE)
				continue;
			p->count[c->action]--;
			p->count[CAIRN_ACTION_REPLACE]++;
			c->action = CAIRN_ACTION_REPLACE;
			free(c->reason);
			c->reason = xstrdup("replacement requested (--replace)");
		}
		if (!found)
			return cairn_error_set(err, CAIRN_E_NOTFOUND, "--replace %s: no such resource in the plan",
					       replace->v[k]);
	}
	return 0;
}

/* Apply m, planned here (saved NULL) or as saved (then never planned again:
 * a saved plan made against another state is refused). */
static int run_apply(struct cairn_cli *cli, const struct cairn_model *m, struct cairn_plan *saved,
		     const struct cairn_sources *sources, struct cairn_engine_opts *o,
		     bool auto_approve, bool (*keep)(const char *address, void *ctx), void *keep_ctx,
		     const struct addrs *replace)
{
	struct cairn_error err = CAIRN_ERROR_INIT;
	struct cairn_stack_record stack = { 0 };
	struct cairn_resource_record *recs = NULL;
	struct cairn_engine_result r = { 0 };
	struct progress pg = { cli, isatty(STDOUT_FILENO), cli_color(cli, stdout) };
	struct cairn_plan *p = NULL;
	struct cairn_refresh_result rr = { 0 };
	struct cairn_store *st;
	bool stored = false;
	char *dir = NULL, *kek = NULL;
	size_t nrecs = 0;
	int status = CLI_EXIT_FAIL, ret;

	st = cli_store(cli, &err);
	if (!st || recover_if_free(st, m->stack, o, &err))
		goto fail;
	for (int round = 0;; round++) {
		if (saved) {
			p = saved;
		} else if (cairn_store_stack_get(st, m->stack, &stack, &err) == 0) {
			stored = true;
			if (cairn_store_resource_list(st, m->stack, &recs, &nrecs, &err) < 0)
				goto fail;
			cairn_refresh_result_release(&rr);
			if (!cli->no_refresh &&
			    cli_refresh(cli, st, m, m->stack, false, &recs, &nrecs, &rr, &err) < 0)
				goto fail;
			/* files that configured nodes read (templates, sources, playbooks) */
			cairn_engine_check_sources(recs, nrecs);
		} else if (err.code == CAIRN_E_NOTFOUND) {
			cairn_error_release(&err);
		} else {
			goto fail;
		}
		if (!saved && cairn_plan_build(m, recs, nrecs, stored ? stack.lineage : NULL,
					       stored ? stack.serial : 0, &p, &err) < 0)
			goto fail;
		if (!saved && replace && force_replace(p, replace, &err) < 0)
			goto fail;
		if (!saved)
			cli_mark_gone(p, &rr);
		if (keep)
			cairn_plan_restrict(p, m, keep, keep_ctx);
		if (!cli->json && !round)
			cairn_plan_render(p, stdout, cli_color(cli, stdout), cli->verbose > 0);
		if (!cairn_plan_has_changes(p)) {
			status = CLI_EXIT_OK;
			goto out;
		}
		if (!round && !confirm(cli, "apply these changes", auto_approve, &err))
			goto fail;
		prepare_run(o, &pg);
		if (!dir)
			o->state_dir = dir = cli_run_dir(cli);
		if (!kek)
			o->kek_path = kek = cli_kek_path(cli);
		ret = cairn_engine_apply(st, m, p, o, &r, &err);
		/*
		 * The state moved between our plan and the lock (a crashed
		 * run's intents were resolved, typically): the plan from FILE
		 * is made again against it, once or twice, and shown if it
		 * changed.
		 */
		if (!r.stale_plan || round >= 2 || saved)
			break;
		cairn_plan_free(p);
		p = NULL;
		cairn_resource_record_list_free(recs, nrecs);
		recs = NULL;
		nrecs = 0;
		cairn_stack_record_release(&stack);
		memset(&stack, 0, sizeof(stack));
		cairn_error_release(&err);
		if (!cli->quiet && !cli->json)
			printf("The state changed while waiting for the lock: planning again.\n");
	}
	if (saved && r.stale_plan)
		goto fail;
	summary(cli, "Apply", &r, ret);
	status = run_status(cli, &r, ret, &err, sources);
	goto out;
fail:
	status = cli_error(cli, &err, sources);
out:
	o->state_dir = NULL;
	o->kek_path = NULL;
	free(dir);
	free(kek);
	cairn_refresh_result_release(&rr);
	if (p != saved)
		cairn_plan_free(p);
	cairn_resource_record_list_free(recs, nrecs);
	cairn_stack_record_release(&stack);
	cairn_error_release(&err);
	return status;
}

/*
 * FILE is a saved plan when it reads as one (*out set); a stack file when
 * it is not JSON or not a plan (*out NULL).  A file named *.json that
 * reads as JSON but not as a plan (another version, a broken change) is
 * an error.
 */
static int load_plan(const char *path, struct cairn_plan **out, struct cairn_error *err)
{
	size_t len = strlen(path);
	struct cairn_error perr = CAIRN_ERROR_INIT;

	*out = NULL;
	if (!strcmp(path, "-"))
		return 0;
	if (!cairn_plan_load(path, out, &perr))
		return 0;
	if (len > 5 && !strcmp(path + len - 5, ".json") && !strstr(perr.message, "not JSON") &&
	    !strstr(perr.message, "not a cairn plan")) {
		cairn_error_move(err, &perr);
		return -1;
	}
	cairn_error_release(&perr);
	return 0;
}

int cmd_apply(struct cairn_cli *cli, int argc, char **argv)
{
	struct cli_spec_args va = CLI_SPEC_ARGS_INIT;
	struct cairn_sources sources = CAIRN_SOURCES_INIT;
	struct cairn_error err = CAIRN_ERROR_INIT;
	struct cairn_engine_opts o = { 0 };
	struct cairn_model *m = NULL;
	struct cairn_plan *saved = NULL;
	struct addrs targets = { 0 }, replace = { 0 };
	bool auto_approve = false;
	int c, status = CLI_EXIT_FAIL;

	while ((c = cli_spec_getopt(cli, argc, argv, &va, false)) != -1) {
		int k;

		if (c == OPT_NO_REFRESH) {
			cli->no_refresh = true;
			continue;
		}
		if (c == OPT_TARGET || c == OPT_REPLACE) {
			struct addrs *a = c == OPT_TARGET ? &targets : &replace;

			ALLOC_GROW(a->v, a->n + 1, a->alloc);
			a->v[a->n++] = optarg;
			continue;
		}
		if ((k = cli_engine_option(cli, c, &o, &auto_approve))) {
			status = k < 0 ? cli_getopt_status(c) : k;
			goto out;
		}
	}
	if (load_plan(argv[optind], &saved, &err) < 0) {
		status = cli_error(cli, &err, NULL);
		goto out;
	}
	if (saved) {
		if (va.nvars || va.nfiles || targets.n || replace.n) {
			status = cli_usage_error(cli, "a saved plan applies as it was made: no --var, --var-file, --target or --replace");
			goto out;
		}
		m = cli_load_design(cli, saved->stack, saved->design, &sources);
		if (!m)
			goto out;
		if (cairn_plan_bind(saved, m, &err) < 0) {
			cairn_error_context(&err, "while reading plan '%s'", argv[optind]);
			status = cli_error(cli, &err, NULL);
			goto out;
		}
	} else {
		m = cli_load(cli, argv[optind], &va, &sources);
	}
	if (m)
		status = run_apply(cli, m, saved, &sources, &o, auto_approve,
				   targets.n ? in_addrs : NULL, &targets, &replace);
out:
	free(targets.v);
	free(replace.v);
	cairn_plan_free(saved);
	cairn_model_free(m);
	cairn_sources_release(&sources);
	cairn_error_release(&err);
	cli_spec_args_release(&va);
	return status;
}

int cmd_destroy(struct cairn_cli *cli, int argc, char **argv)
{
	struct cairn_error err = CAIRN_ERROR_INIT;
	struct cairn_resource_record *recs = NULL;
	struct cairn_engine_opts o = { 0 };
	struct cairn_engine_result r = { 0 };
	struct progress pg = { cli, isatty(STDOUT_FILENO), cli_color(cli, stdout) };
	struct cairn_store *st;
	bool auto_approve = false;
	char *dir = NULL;
	size_t nrecs = 0;
	const char *stack;
	int c, status = CLI_EXIT_FAIL, ret;

	while ((c = cli_getopt(cli, argc, argv)) != -1) {
		int k = cli_engine_option(cli, c, &o, &auto_approve);

		if (k) {
			status = k < 0 ? cli_getopt_status(c) : k;
			goto out;
		}
	}
	if (optind != argc - 1) {
		status = cli_usage_error(cli, "destroy takes one stack name");
		goto out;
	}
	stack = argv[optind];
	st = cli_store(cli, &err);
	if (!st || recover_if_free(st, stack, &o, &err))
		goto fail;
	if (cairn_store_resource_list(st, stack, &recs, &nrecs, &err))
		goto fail;
	if (!cli->json) {
		for (size_t i = 0; i < nrecs; i++)
			printf("  - %s  (delete)\n", recs[i].address);
		printf("\nPlan: 0 to create, 0 to update, 0 to replace, %zu to delete.\n", nrecs);
	}
	if (!nrecs) {
		status = CLI_EXIT_OK;
		goto out;
	}
	if (!confirm(cli, "destroy every resource of this stack", auto_approve, &err))
		goto fail;
	prepare_run(&o, &pg);
	o.state_dir = dir = cli_run_dir(cli);
	ret = cairn_engine_destroy(st, stack, &o, &r, &err);
	summary(cli, "Destroy", &r, ret);
	status = run_status(cli, &r, ret, &err, NULL);
	goto out;
fail:
	status = cli_error(cli, &err, NULL);
out:
	free(dir);
	cairn_resource_record_list_free(recs, nrecs);
	cairn_error_release(&err);
	return status;
}

/* ---- configure -------------------------------------------------------------------- */

int cmd_configure(struct cairn_cli *cli, int argc, char **argv)
{
	struct cairn_sources sources = CAIRN_SOURCES_INIT;
	struct cairn_error err = CAIRN_ERROR_INIT;
	struct cairn_engine_opts o = { 0 };
	struct cairn_engine_result r = { 0 };
	struct progress pg = { cli, isatty(STDOUT_FILENO), cli_color(cli, stdout) };
	struct cairn_model *m = NULL;
	struct cairn_store *st;
	json_t *design = NULL;
	char *dir = NULL, *kek = NULL;
	const char *stack;
	int c, status = CLI_EXIT_FAIL, ret;

	while ((c = cli_getopt(cli, argc, argv)) != -1) {
		int k;

		if (c == OPT_ENGINE_END) {
			o.force_steps = true;
			continue;
		}
		if ((k = cli_engine_option(cli, c, &o, NULL)))
			return k < 0 ? cli_getopt_status(c < 0 ? c : CLI_GETOPT_USAGE) : k;
	}
	if (optind >= argc)
		return cli_usage_error(cli, "no stack given");
	stack = argv[optind];
	st = cli_store(cli, &err);
	if (!st || recover_if_free(st, stack, &o, &err))
		goto fail;
	if (cairn_store_design_get(st, stack, &design, &err) < 0) {
		if (err.code != CAIRN_E_NOTFOUND)
			goto fail;
		cairn_error_release(&err);
		status = cli_fail(cli, CAIRN_E_NOTFOUND, "stack '%s' is not in state %s (apply it first)",
				  stack, cli_state_path(cli));
		goto out;
	}
	m = cli_load_design(cli, stack, design, &sources);
	if (!m)
		goto out;
	{
		/* templates may use the variables the design recorded; a
		 * sensitive one was not recorded, and stays unknown */
		const char *k;
		json_t *v;

		json_object_foreach(json_object_get(design, "variables"), k, v)
			if (!json_is_string(v) || strcmp(json_string_value(v), "(sensitive)"))
				json_object_set(m->variables, k, v);
	}
	prepare_run(&o, &pg);
	o.state_dir = dir = cli_run_dir(cli);
	o.kek_path = kek = cli_kek_path(cli);
	ret = cairn_engine_configure(st, m, (const char *const *)argv + optind + 1,
				     (size_t)(argc - optind - 1), &o, &r, &err);
	if (!cli->json && !cli->quiet && (r.configured || r.failed || r.blocked || r.interrupted))
		printf("\nConfigure %s: %zu nodes configured, %zu failed; steps: %zu ran, %zu unchanged, %zu failed in %.1fs\n",
		       r.interrupted ? "interrupted" : (r.failed || r.blocked) ? "failed" : "complete",
		       r.configured, r.failed + r.blocked, r.steps_ran - r.steps_failed, r.steps_skipped,
		       r.steps_failed, r.elapsed_ms / 1000.0);
	status = run_status(cli, &r, ret, &err, NULL);
	goto out;
fail:
	status = cli_error(cli, &err, NULL);
out:
	free(dir);
	free(kek);
	cairn_model_free(m);
	json_decref(design);
	cairn_sources_release(&sources);
	cairn_error_release(&err);
	return status;
}
