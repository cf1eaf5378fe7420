#include "util/common.h"

#include "cairn/plan.h"
#include "cairn/store.h"
#include "cli/cli.h"
#include "engine/engine.h"

CAIRN_LOG_INIT("cli.plan");

int cmd_plan(struct cairn_cli *cli, int argc, char **argv)
{
	struct cli_spec_args va = CLI_SPEC_ARGS_INIT;
	struct cairn_sources sources = CAIRN_SOURCES_INIT;
	struct cairn_error err = CAIRN_ERROR_INIT;
	struct cairn_stack_record stack = { 0 };
	struct cairn_resource_record *recs = NULL;
	struct cairn_model *m = NULL;
	struct cairn_plan *p = NULL;
	struct cairn_refresh_result rr = { 0 };
	struct cairn_store *st;
	const char *out_path = NULL;
	bool detailed = false, stored = false;
	size_t nrecs = 0;
	int c, status = CLI_EXIT_FAIL;

	while ((c = cli_spec_getopt(cli, argc, argv, &va, false)) != -1) {
		switch (c) {
		case 'o':
			out_path = optarg;
			break;
		case OPT_DETAILED_EXITCODE:
			detailed = true;
			break;
		case OPT_NO_REFRESH:
			cli->no_refresh = true;
			break;
		default:
			status = cli_getopt_status(c);
			goto out;
		}
	}

	m = cli_load(cli, argv[optind], &va, &sources);
	if (!m)
		goto out;
	st = cli_store(cli, &err);
	if (!st)
		goto fail;
	if (cairn_store_stack_get(st, m->stack, &stack, &err) == 0) {
		stored = true;
		if (cairn_store_resource_list(st, m->stack, &recs, &nrecs, &err) < 0)
			goto fail;
		if (!cli->no_refresh &&
		    cli_refresh(cli, st, m, m->stack, false, &recs, &nrecs, &rr, &err) < 0)
			goto fail;
		/* files that configured nodes read (templates, sources, playbooks) */
		cairn_engine_check_sources(recs, nrecs);
	} else if (err.code == CAIRN_E_NOTFOUND) {
		cairn_debug("stack '%s' is not in the state yet", m->stack);
		cairn_error_release(&err);
	} else {
		goto fail;
	}
	if (cairn_plan_build(m, recs, nrecs, stored ? stack.lineage : NULL,
			     stored ? stack.serial : 0, &p, &err) < 0)
		goto fail;
	cli_mark_gone(p, &rr);

	/* Save first: a plan that could not be saved is not shown as done. */
	if (out_path && cairn_plan_save(p, out_path, &err) < 0)
		goto fail;
	if (cli->json)
		cli_json_print(cairn_plan_to_json(p), stdout);
	else
		cairn_plan_render(p, stdout, cli_color(cli, stdout), cli->verbose > 0);
	if (out_path && !cli->quiet && !cli->json)
		fprintf(stderr, "Saved the plan to '%s'.\n", out_path);
	status = detailed && cairn_plan_has_changes(p) ? CLI_EXIT_CHANGES : CLI_EXIT_OK;
	goto out;

fail:
	status = cli_error(cli, &err, &sources);
out:
	cairn_plan_free(p);
	cairn_refresh_result_release(&rr);
	cairn_resource_record_list_free(recs, nrecs);
	cairn_stack_record_release(&stack);
	cairn_model_free(m);
	cairn_sources_release(&sources);
	cairn_error_release(&err);
	cli_spec_args_release(&va);
	return status;
}
