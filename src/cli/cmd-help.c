#include "util/common.h"

#include "cli/cli.h"

/* "  -o, --out FILE" */
static char *option_left(const struct cli_option *o)
{
	if (o->key > 0 && o->key < 128)
		return xasprintf("  -%c, --%s%s%s", o->key, o->name,
				 o->arg ? " " : "", o->arg ? o->arg : "");
	return xasprintf("      --%s%s%s", o->name, o->arg ? " " : "",
			 o->arg ? o->arg : "");
}

static void print_options(const char *title, const struct cli_option *opts, FILE *out)
{
	size_t width = 0;

	if (!opts || !opts->name)
		return;
	for (const struct cli_option *o = opts; o->name; o++) {
		char *l = option_left(o);

		if (strlen(l) > width)
			width = strlen(l);
		free(l);
	}
	if (width > 30)
		width = 30;
	fprintf(out, "\n%s:\n", title);
	for (const struct cli_option *o = opts; o->name; o++) {
		char *l = option_left(o);

		if (strlen(l) > width)
			fprintf(out, "%s\n%*s  %s\n", l, (int)width, "", o->help);
		else
			fprintf(out, "%-*s  %s\n", (int)width, l, o->help);
		free(l);
	}
}

static void print_commands(const char *title, const struct cairn_cmd *table, FILE *out)
{
	size_t width = 0;

	for (const struct cairn_cmd *c = table; c->name; c++)
		if (strlen(c->name) > width)
			width = strlen(c->name);
	fprintf(out, "\n%s:\n", title);
	for (const struct cairn_cmd *c = table; c->name; c++)
		fprintf(out, "  %-*s  %s\n", (int)width, c->name, c->summary);
}

void cli_help_command(const struct cairn_cmd *cmd, FILE *out)
{
	fprintf(out, "usage: cairn %s\n", cmd->usage);
	fprintf(out, "\n%s\n", cmd->description ? cmd->description : cmd->summary);
	print_options("Options", cmd->options, out);
	if (cmd->sub) {
		print_commands("Commands", cmd->sub, out);
		fprintf(out, "\nSee 'cairn help %s COMMAND' for the options of each.\n",
			cmd->name);
	}
	fputs("\nGlobal options (before or after the command): --state PATH, --json,\n"
	      "--no-color, -q, -v; see 'cairn --help'.\n", out);
}

void cli_help_global(FILE *out)
{
	fprintf(out, "usage: cairn %s\n", cairn_global_cmd.usage);
	fputs("\ncairn validates, plans and applies stacks of nodes, networks and volumes\n"
	      "described in YAML.\n", out);
	print_commands("Commands", cairn_commands, out);
	print_options("Global options", cairn_global_options, out);
	print_options("Only before the command", cairn_global_cmd.options, out);
	fputs("\nA command may be abbreviated to any unique prefix ('cairn val').\n"
	      "See 'cairn help COMMAND' for the options of a command, cairn(1) for more.\n",
	      out);
}

int cmd_help(struct cairn_cli *cli, int argc, char **argv)
{
	const struct cairn_cmd *cmd;
	int c;

	if ((c = cli_getopt(cli, argc, argv)) != -1)
		return cli_getopt_status(c);
	argc -= optind;
	argv += optind;
	if (argc == 0) {
		cli_help_global(stdout);
		return CLI_EXIT_OK;
	}
	if (argc > 2)
		return cli_usage_error(cli, "too many arguments");
	cmd = cli_lookup(&cairn_global_cmd, argv[0]);
	if (!cmd)
		return CLI_EXIT_USAGE;
	if (argc == 2) {
		if (!cmd->sub)
			return cli_usage_error(cli, "'%s' has no subcommands", cmd->name);
		cmd = cli_lookup(cmd, argv[1]);
		if (!cmd)
			return CLI_EXIT_USAGE;
	}
	cli_help_command(cmd, stdout);
	return CLI_EXIT_OK;
}
