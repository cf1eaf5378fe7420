#include "util/common.h"

#include "cli/cli.h"

int cli_operands(struct cairn_cli *cli, int argc, char **argv, int min, int max,
		 const char *missing)
{
	int c = cli_getopt(cli, argc, argv);

	/* The running command has no options of its own: a key returned
	 * here cannot be one. */
	if (c != -1)
		return cli_getopt_status(c < 0 ? c : CLI_GETOPT_USAGE);
	if (argc - optind < min)
		return cli_usage_error(cli, "%s", missing);
	if (argc - optind > max)
		return cli_usage_error(cli, "too many arguments");
	return -1;
}

int cli_subcommand(struct cairn_cli *cli, int argc, char **argv, const char *names)
{
	const struct cairn_cmd *sub;
	int c;

	if ((c = cli_getopt(cli, argc, argv)) != -1)
		return cli_getopt_status(c < 0 ? c : CLI_GETOPT_USAGE);
	if (optind >= argc)
		return cli_usage_error(cli, "no %s command given (%s)", cli->cmd->name, names);
	sub = cli_lookup(cli->cmd, argv[optind]);
	if (!sub)
		return CLI_EXIT_USAGE;
	return cli_run(cli, sub, argc - optind, argv + optind);
}
