/*
 * cmd-refresh.c - refreshing what the state knows from the providers: the
 * step plan and apply take first (unless --no-refresh), and
 * `cairn refresh STACK`, which also writes what it found.
 */
#include "util/common.h"

#include "cairn/store.h"
#include "cli/cli.h"
#include "engine/engine.h"

int cli_refresh(struct cairn_cli *cli, struct cairn_store *st, const struct cairn_model *m,
		const char *stack, bool write, struct cairn_resource_record **recs, size_t *n,
		struct cairn_refresh_result *rr, struct cairn_error *err)
{
	struct cairn_engine_opts o = { 0 };
	char *dir = cli_run_dir(cli);
	int ret;

	o.state_dir = dir;
	ret = cairn_engine_refresh(st, m, stack, &o, write, recs, n, rr, err);
	free(dir);
	return ret;
}

void cli_mark_gone(struct cairn_plan *p, const struct cairn_refresh_result *rr)
{
	if (!rr->gone || !json_array_size(rr->gone))
		return;
	for (size_t i = 0; i < p->n; i++) {
		struct cairn_change *c = &p->v[i];

		if (!cairn_refresh_gone(rr, c->address))
			continue;
		free(c->reason);
		c->reason = xstrdup(c->action == CAIRN_ACTION_DELETE ? "already deleted outside cairn"
								     : "deleted outside cairn");
	}
}

int cmd_refresh(struct cairn_cli *cli, int argc, char **argv)
{
	struct cairn_error err = CAIRN_ERROR_INIT;
	struct cairn_stack_record s = { 0 };
	struct cairn_resource_record *recs = NULL;
	struct cairn_refresh_result rr = { 0 };
	struct cairn_store *st;
	size_t n = 0;
	int status = cli_operands(cli, argc, argv, 1, 1, "no stack given");

	if (status >= 0)
		return status;
	status = CLI_EXIT_FAIL;
	st = cli_store(cli, &err);
	if (!st)
		goto out;
	if (cairn_store_stack_get(st, argv[optind], &s, &err) < 0) {
		if (err.code == CAIRN_E_NOTFOUND) {
			cairn_error_release(&err);
			status = cli_fail(cli, CAIRN_E_NOTFOUND, "stack '%s' not found in state %s", argv[optind],
					  cli_state_path(cli));
		}
		goto out;
	}
	if (cairn_store_resource_list(st, argv[optind], &recs, &n, &err) ||
	    cli_refresh(cli, st, NULL, argv[optind], true, &recs, &n, &rr, &err))
		goto out;
	if (cli->json) {
		cli_json_print(json_pack("{s:s, s:I, s:I, s:O}", "stack", argv[optind], "checked",
					 (json_int_t)rr.checked, "changed", (json_int_t)rr.changed, "gone", rr.gone),
			       stdout);
	} else if (!cli->quiet) {
		size_t i;
		json_t *v;

		printf("Refreshed %zu objects of stack '%s': %zu changed, %zu gone.\n", rr.checked,
		       argv[optind], rr.changed, json_array_size(rr.gone));
		json_array_foreach(rr.gone, i, v)
			printf("  %s: deleted outside cairn (the next apply re-creates it)\n", json_string_value(v));
	}
	status = CLI_EXIT_OK;
out:
	if (cairn_error_isset(&err))
		status = cli_error(cli, &err, NULL);
	cairn_refresh_result_release(&rr);
	cairn_resource_record_list_free(recs, n);
	cairn_stack_record_release(&s);
	cairn_error_release(&err);
	return status;
}
