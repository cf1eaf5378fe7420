#include "util/common.h"

#include "cli/cli.h"

/* Load one file; report it as text (stderr/stdout) or add it to files. */
static bool validate_one(struct cairn_cli *cli, const char *path,
			 const struct cli_spec_args *va, json_t *files)
{
	struct cairn_sources sources = CAIRN_SOURCES_INIT;
	struct cairn_diags diags = CAIRN_DIAGS_INIT;
	struct cairn_model *m = cli_spec_load(path, va, &sources, &diags);
	bool valid = m != NULL;

	if (files) {
		json_array_append_new(files, json_pack("{s:s, s:b, s:I, s:o}",
			"file", path,
			"valid", valid,
			"resources", (json_int_t)(valid ? m->nres : 0),
			"diagnostics", cairn_diags_to_json(&diags)));
	} else {
		cli_diags_print(cli, &diags, &sources);
		if (valid && !cli->quiet)
			printf("%s: valid (%zu resource%s)\n", path, m->nres,
			       m->nres == 1 ? "" : "s");
	}
	cairn_model_free(m);
	cairn_diags_release(&diags);
	cairn_sources_release(&sources);
	return valid;
}

int cmd_validate(struct cairn_cli *cli, int argc, char **argv)
{
	struct cli_spec_args va = CLI_SPEC_ARGS_INIT;
	json_t *files = NULL;
	bool all_valid = true;
	int c, status;

	if ((c = cli_spec_getopt(cli, argc, argv, &va, true)) != -1) {
		status = cli_getopt_status(c);
		goto out;
	}
	if (cli->json)
		files = json_array();
	for (int i = optind; i < argc; i++)
		if (!validate_one(cli, argv[i], &va, files))
			all_valid = false;
	if (files)
		cli_json_print(json_pack("{s:o}", "files", files), stdout);
	status = all_valid ? CLI_EXIT_OK : CLI_EXIT_FAIL;
out:
	cli_spec_args_release(&va);
	return status;
}
