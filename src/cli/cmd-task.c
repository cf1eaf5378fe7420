#include "util/common.h"

#include <errno.h>

#include "cairn/store.h"
#include "cli/cli.h"
#include "engine/engine.h"
#include "util/strmap.h"
#include "util/units.h"

static int task_list(struct cairn_cli *cli, int argc, char **argv);
static int task_show(struct cairn_cli *cli, int argc, char **argv);
static int task_retry(struct cairn_cli *cli, int argc, char **argv);

enum { OPT_FAILED = OPT_COMMAND_BASE, OPT_ALL = OPT_ENGINE_END };

const struct cairn_cmd cairn_task_commands[] = {
	{
		.name = "list",
		.fn = task_list,
		.usage = "task list [--failed] [STACK]",
		.summary = "list the tasks: work that failed, was blocked, or was retried",
		.description =
			"List the tasks of STACK, or of every stack: one per resource whose\n"
			"last operation failed (status 'failed'), could not start because a\n"
			"dependency failed ('blocked'), or succeeded on a retry ('done'),\n"
			"with the operation, the attempts made and the last error.",
		.options = (const struct cli_option[]){
			{ "failed", OPT_FAILED, NULL, "only the unfinished ones: failed and blocked" },
			{ NULL, 0, NULL, NULL },
		},
		.flags = CMD_NEEDS_STATE | CMD_READONLY_STATE,
	},
	{
		.name = "show",
		.fn = task_show,
		.usage = "task show ID",
		.summary = "show one task with its whole last error",
		.description =
			"Show task ID (as 'task list' numbers them): stack, address,\n"
			"operation, status, attempts, times and the full last error.",
		.flags = CMD_NEEDS_STATE | CMD_READONLY_STATE,
	},
	{
		.name = "retry",
		.fn = task_retry,
		.usage = "task retry [--parallelism N] [--lock-timeout D] (ID... | --all [STACK])",
		.summary = "do the failed work again, and what it blocked",
		.description =
			"Apply again, from the stack's stored design (the one the failed\n"
			"apply recorded), only the resources of the given tasks, the tasks\n"
			"they blocked (every blocked task of the stack) and what those\n"
			"depend on.  --all retries every unfinished task, of STACK or of\n"
			"every stack.  The work was approved when it was first applied, so\n"
			"nothing is asked; the plan is shown.  A task that succeeds is\n"
			"removed; one that fails again stays with its new error.  Exit\n"
			"status as for apply: 0 when everything was done, 1 when something\n"
			"failed, 130 when interrupted.",
		.options = (const struct cli_option[]){
			{ "all", OPT_ALL, NULL, "every unfinished task (of STACK, if given)" },
			{ "parallelism", OPT_ENGINE_PARALLELISM, "N", "run at most N provider calls at once (default 10)" },
			{ "lock-timeout", OPT_ENGINE_LOCK_TIMEOUT, "D", "wait up to D for the stack lock" },
			{ NULL, 0, NULL, NULL },
		},
		.flags = CMD_NEEDS_STATE,
	},
	{ .name = NULL },
};

int cmd_task(struct cairn_cli *cli, int argc, char **argv)
{
	return cli_subcommand(cli, argc, argv, "list, show, retry");
}

static json_t *task_json(const void *rec)
{
	const struct cairn_task_record *t = rec;

	return json_pack("{s:I, s:s?, s:s?, s:s?, s:s?, s:i, s:s?, s:s?, s:s?}",
			 "id", (json_int_t)t->id,
			 "stack", t->stack,
			 "address", t->address,
			 "op", t->op,
			 "status", t->status,
			 "attempts", t->attempts,
			 "last_error", t->last_error,
			 "created_at", t->created_at,
			 "updated_at", t->updated_at);
}

/* The first line of an error, cut to fit a table row. */
static char *error_summary(const char *e)
{
	enum { WIDTH = 72 };
	size_t len;

	if (!e)
		return NULL;
	len = strcspn(e, "\n");
	if (len > WIDTH)
		return xasprintf("%.*s...", WIDTH - 3, e);
	if (e[len])
		return xasprintf("%.*s ...", (int)len, e);
	return xstrdup(e);
}

static int task_list(struct cairn_cli *cli, int argc, char **argv)
{
	struct cairn_error err = CAIRN_ERROR_INIT;
	struct cairn_task_record *v = NULL;
	struct cairn_stack_record s = { 0 };
	struct cairn_store *st;
	struct cli_table t;
	const char *stack = NULL;
	bool unfinished = false;
	size_t n = 0;
	int c, status = CLI_EXIT_FAIL;

	while ((c = cli_getopt(cli, argc, argv)) != -1) {
		if (c != OPT_FAILED)
			return cli_getopt_status(c < 0 ? c : CLI_GETOPT_USAGE);
		unfinished = true;
	}
	if (argc - optind > 1)
		return cli_usage_error(cli, "too many arguments");
	if (optind < argc)
		stack = argv[optind];
	st = cli_store(cli, &err);
	if (!st)
		goto out;
	if (stack && cairn_store_stack_get(st, stack, &s, &err) < 0) {
		if (err.code == CAIRN_E_NOTFOUND) {
			cairn_error_release(&err);
			status = cli_fail(cli, CAIRN_E_NOTFOUND, "stack '%s' not found in state %s",
					  stack, cli_state_path(cli));
		}
		goto out;
	}
	if (cairn_store_task_list(st, stack, unfinished, &v, &n, &err) < 0)
		goto out;
	cli_table_init(&t, 7);
	cli_table_row(&t, "ID", "STACK", "ADDRESS", "OP", "STATUS", "ATTEMPTS", "LAST ERROR");
	for (size_t i = 0; i < n; i++) {
		char id[24], attempts[24], *e = error_summary(v[i].last_error);

		snprintf(id, sizeof(id), "%lld", (long long)v[i].id);
		snprintf(attempts, sizeof(attempts), "%d", v[i].attempts);
		cli_table_row(&t, id, v[i].stack, v[i].address, v[i].op, v[i].status,
			      attempts, e);
		free(e);
	}
	cli_print_list(cli, v, n, sizeof(*v), task_json, &t, "no %stasks%s%s",
		       unfinished ? "unfinished " : "", stack ? " in stack " : "",
		       stack ? stack : "");
	status = CLI_EXIT_OK;
out:
	if (cairn_error_isset(&err))
		status = cli_error(cli, &err, NULL);
	cairn_task_record_list_free(v, n);
	cairn_stack_record_release(&s);
	cairn_error_release(&err);
	return status;
}

static int task_show(struct cairn_cli *cli, int argc, char **argv)
{
	struct cairn_error err = CAIRN_ERROR_INIT;
	struct cairn_task_record t = { 0 };
	struct cairn_store *st;
	char *end;
	long long id;
	int status = cli_operands(cli, argc, argv, 1, 1, "no task given");

	if (status >= 0)
		return status;
	errno = 0;
	id = strtoll(argv[optind], &end, 10);
	if (errno || end == argv[optind] || *end || id <= 0)
		return cli_usage_error(cli, "'%s' is not a task id", argv[optind]);
	status = CLI_EXIT_FAIL;
	st = cli_store(cli, &err);
	if (!st)
		goto out;
	if (cairn_store_task_get(st, id, &t, &err) < 0) {
		if (err.code == CAIRN_E_NOTFOUND) {
			cairn_error_release(&err);
			status = cli_fail(cli, CAIRN_E_NOTFOUND, "task %lld not found in state %s",
					  id, cli_state_path(cli));
		}
		goto out;
	}
	if (cli->json) {
		cli_json_print(task_json(&t), stdout);
	} else {
		printf("task:      %lld\nstack:     %s\naddress:   %s\nop:        %s\n"
		       "status:    %s\nattempts:  %d\ncreated:   %s\nupdated:   %s\n",
		       (long long)t.id, t.stack ? t.stack : "-", t.address ? t.address : "-",
		       t.op ? t.op : "-", t.status ? t.status : "-", t.attempts,
		       t.created_at ? t.created_at : "-", t.updated_at ? t.updated_at : "-");
		if (t.last_error)
			printf("\n%s\n", t.last_error);
	}
	status = CLI_EXIT_OK;
out:
	if (cairn_error_isset(&err))
		status = cli_error(cli, &err, NULL);
	cairn_task_record_release(&t);
	cairn_error_release(&err);
	return status;
}

/* ---- retry ------------------------------------------------------------- */

static bool in_set(const char *address, void *ctx)
{
	return cairn_strmap_get(ctx, address) != NULL;
}

static int by_stack(const void *a, const void *b)
{
	const struct cairn_task_record *x = a, *y = b;

	return strcmp(x->stack, y->stack);
}

/* Retry the tasks v[0..n) of one stack. */
static int retry_stack(struct cairn_cli *cli, struct cairn_store *st, const char *stack,
		       const struct cairn_task_record *v, size_t n,
		       struct cairn_engine_opts *o)
{
	struct cairn_sources sources = CAIRN_SOURCES_INIT;
	struct cairn_strmap set = CAIRN_STRMAP_INIT;
	struct cairn_error err = CAIRN_ERROR_INIT;
	struct cairn_model *m = NULL;
	json_t *design = NULL;
	int status = CLI_EXIT_FAIL;

	if (cairn_store_design_get(st, stack, &design, &err) < 0) {
		if (err.code == CAIRN_E_NOTFOUND) {
			cairn_error_release(&err);
			status = cli_fail(cli, CAIRN_E_NOTFOUND, "stack '%s' has no stored design to retry from",
					  stack);
		} else {
			status = cli_error(cli, &err, NULL);
		}
		goto out;
	}
	m = cli_load_design(cli, stack, design, &sources);
	if (!m)
		goto out;
	for (size_t i = 0; i < n; i++)
		cairn_strmap_put(&set, v[i].address, (void *)&v[i]);
	if (!cli->quiet && !cli->json)
		printf("Retrying %zu task%s of stack %s.\n", n, n == 1 ? "" : "s", stack);
	status = cli_run_apply(cli, m, &sources, o, true, in_set, &set);
out:
	cairn_strmap_release(&set);
	cairn_model_free(m);
	json_decref(design);
	cairn_sources_release(&sources);
	cairn_error_release(&err);
	return status;
}

static bool unfinished(const struct cairn_task_record *t)
{
	return t->status && (!strcmp(t->status, "failed") || !strcmp(t->status, "blocked"));
}

static int task_retry(struct cairn_cli *cli, int argc, char **argv)
{
	struct cairn_error err = CAIRN_ERROR_INIT;
	struct cairn_engine_opts o = { 0 };
	struct cairn_task_record *v = NULL;
	struct cairn_store *st;
	bool all = false;
	size_t n = 0, a = 0;
	int c, status = CLI_EXIT_OK;

	while ((c = cli_getopt(cli, argc, argv)) != -1) {
		int k;

		if (c == OPT_ALL) {
			all = true;
			continue;
		}
		if ((k = cli_engine_option(cli, c, &o, NULL)))
			return k < 0 ? cli_getopt_status(c < 0 ? c : CLI_GETOPT_USAGE) : k;
	}
	if (all && argc - optind > 1)
		return cli_usage_error(cli, "too many arguments");
	if (!all && optind == argc)
		return cli_usage_error(cli, "no task given (a task ID, or --all)");
	st = cli_store(cli, &err);
	if (!st)
		goto fail;
	if (all) {
		if (cairn_store_task_list(st, optind < argc ? argv[optind] : NULL, true, &v, &n, &err) < 0)
			goto fail;
		a = n;
	}
	for (int i = optind; !all && i < argc; i++) {
		struct cairn_task_record t = { 0 }, *more = NULL;
		size_t nmore = 0;
		char *end;
		long long id;

		errno = 0;
		id = strtoll(argv[i], &end, 10);
		if (errno || end == argv[i] || *end || id <= 0) {
			status = cli_usage_error(cli, "'%s' is not a task id", argv[i]);
			goto done;
		}
		if (cairn_store_task_get(st, id, &t, &err) < 0) {
			if (err.code != CAIRN_E_NOTFOUND)
				goto fail;
			cairn_error_release(&err);
			status = cli_fail(cli, CAIRN_E_NOTFOUND, "task %lld not found in state %s",
					  id, cli_state_path(cli));
			goto done;
		}
		if (!unfinished(&t)) {
			status = cli_fail(cli, CAIRN_E_CONFLICT, "task %lld (%s) is %s: nothing to retry",
					  id, t.address, t.status ? t.status : "?");
			cairn_task_record_release(&t);
			goto done;
		}
		ALLOC_GROW(v, n + 1, a);
		v[n++] = t;
		/* and what it blocked */
		if (cairn_store_task_list(st, t.stack, true, &more, &nmore, &err) < 0)
			goto fail;
		for (size_t k = 0; k < nmore; k++) {
			if (strcmp(more[k].status, "blocked") || more[k].id == t.id) {
				cairn_task_record_release(&more[k]);
				continue;
			}
			ALLOC_GROW(v, n + 1, a);
			v[n++] = more[k];
		}
		free(more);
	}
	if (!n) {
		if (!cli->quiet && !cli->json)
			fprintf(stderr, "cairn: no unfinished tasks to retry\n");
		goto done;
	}
	qsort(v, n, sizeof(*v), by_stack);
	for (size_t i = 0, j; i < n; i = j) {
		int r;

		for (j = i + 1; j < n && !strcmp(v[j].stack, v[i].stack); j++)
			;
		r = retry_stack(cli, st, v[i].stack, v + i, j - i, &o);
		if (r > status)
			status = r;
		if (r == 130)
			break;
	}
	goto done;
fail:
	status = cli_error(cli, &err, NULL);
done:
	cairn_task_record_list_free(v, n);
	cairn_error_release(&err);
	return status;
}
