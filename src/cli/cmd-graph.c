#include "util/common.h"

#include "cairn/plan.h"
#include "cli/cli.h"

/* {"nodes": [address], "edges": [[from, to]], "order": [address]}; an edge
 * goes from a resource to one it depends on, as in the DOT output. */
static json_t *graph_json(const struct cairn_model *m)
{
	json_t *nodes = json_array(), *edges = json_array(), *order = json_array();

	for (size_t i = 0; i < m->nres; i++) {
		const struct cairn_resource *r = &m->res[i];

		json_array_append_new(nodes, json_string(r->address));
		for (size_t d = 0; d < r->ndeps; d++)
			json_array_append_new(edges, json_pack("[s, s]", r->address,
							       m->res[r->deps[d]].address));
	}
	for (size_t i = 0; m->order && i < m->nres; i++)
		json_array_append_new(order, json_string(m->res[m->order[i]].address));
	return json_pack("{s:o, s:o, s:o}", "nodes", nodes, "edges", edges, "order", order);
}

int cmd_graph(struct cairn_cli *cli, int argc, char **argv)
{
	struct cli_spec_args va = CLI_SPEC_ARGS_INIT;
	struct cairn_sources sources = CAIRN_SOURCES_INIT;
	struct cairn_model *m = NULL;
	int c, status = CLI_EXIT_FAIL;

	if ((c = cli_spec_getopt(cli, argc, argv, &va, false)) != -1) {
		status = cli_getopt_status(c);
		goto out;
	}
	m = cli_load(cli, argv[optind], &va, &sources);
	if (!m)
		goto out;
	if (cli->json)
		cli_json_print(graph_json(m), stdout);
	else
		cairn_graph_dot(m, stdout);
	status = CLI_EXIT_OK;
out:
	cairn_model_free(m);
	cairn_sources_release(&sources);
	cli_spec_args_release(&va);
	return status;
}
