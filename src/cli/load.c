/*
 * load.c - what the commands that read stack files (validate, plan, graph)
 * share: their --var and --var-file options, the check of their operands,
 * and loading a stack with its diagnostics.
 */
#include "util/common.h"

#include "cli/cli.h"

/* The same source as main.c, so that -vv prints what it printed. */
CAIRN_LOG_INIT("cli");

int cli_spec_getopt(struct cairn_cli *cli, int argc, char **argv,
		    struct cli_spec_args *a, bool many)
{
	int c;

	while ((c = cli_getopt(cli, argc, argv)) == OPT_VAR || c == OPT_VAR_FILE) {
		if (c == OPT_VAR_FILE) {
			ALLOC_GROW(a->files, a->nfiles + 1, a->afiles);
			a->files[a->nfiles++] = optarg;
		} else if (strchr(optarg, '=') && optarg[0] != '=') {
			ALLOC_GROW(a->vars, a->nvars + 1, a->avars);
			a->vars[a->nvars++] = optarg;
		} else {
			cli_usage_error(cli, "--var expects NAME=VALUE, not '%s'", optarg);
			return CLI_GETOPT_USAGE;
		}
	}
	if (c != -1)
		return c;
	if (optind >= argc) {
		cli_usage_error(cli, "no stack file given");
		return CLI_GETOPT_USAGE;
	}
	if (!many && argc - optind > 1) {
		cli_usage_error(cli, "%s takes one stack file, not %d", cli->cmd->name,
				argc - optind);
		return CLI_GETOPT_USAGE;
	}
	return -1;
}

void cli_spec_args_release(struct cli_spec_args *a)
{
	free(a->vars);
	free(a->files);
	*a = (struct cli_spec_args)CLI_SPEC_ARGS_INIT;
}

/*
 * The loader reports a root file it cannot read (missing, empty, binary,
 * too large) as a diagnostic without a location; attribute those to path,
 * so that they print as one line "path: error: ...".
 */
static void attribute_diags(struct cairn_diags *d, struct cairn_sources *sources,
			    const char *path)
{
	const char *file = NULL;

	for (size_t i = 0; i < d->n; i++) {
		if (d->v[i].loc.file)
			continue;
		if (!file)
			file = cairn_sources_intern(sources, path);
		d->v[i].loc.file = file;
	}
}

struct cairn_model *cli_spec_load(const char *path, const struct cli_spec_args *a,
				  struct cairn_sources *sources,
				  struct cairn_diags *diags)
{
	const struct cairn_spec_options opt = {
		.vars = a->vars,
		.nvars = a->nvars,
		.var_files = a->files,
		.nvar_files = a->nfiles,
	};
	struct cairn_model *m = NULL;

	if (cairn_spec_load(path, &opt, sources, diags, &m) < 0)
		m = NULL;
	attribute_diags(diags, sources, path);
	return m;
}

struct cairn_model *cli_load(struct cairn_cli *cli, const char *path,
			     const struct cli_spec_args *a,
			     struct cairn_sources *sources)
{
	struct cairn_diags diags = CAIRN_DIAGS_INIT;
	struct cairn_model *m;

	cairn_debug("loading '%s'", path);
	m = cli_spec_load(path, a, sources, &diags);
	cli_diags_print(cli, &diags, sources);
	cairn_diags_release(&diags);
	return m;
}

struct cairn_model *cli_load_design(struct cairn_cli *cli, const char *stack,
				    const json_t *design, struct cairn_sources *sources)
{
	const struct cairn_spec_options opt = { .no_env = true, .canonical = true };
	struct cairn_diags diags = CAIRN_DIAGS_INIT;
	struct cairn_model *m = NULL;
	json_t *body = json_deep_copy(design);
	char *name = xasprintf("(the stored design of stack %s)", stack);
	char *text;

	/* its values are resolved in place: the variables are only a record */
	json_object_del(body, "variables");
	text = json_dumps(body, JSON_SORT_KEYS);
	if (cairn_spec_load_string(name, text, strlen(text), &opt, sources, &diags, &m) < 0)
		m = NULL;
	attribute_diags(&diags, sources, name);
	cli_diags_print(cli, &diags, sources);
	cairn_diags_release(&diags);
	free(text);
	free(name);
	json_decref(body);
	return m;
}
