#include "util/common.h"

#include <jansson.h>
#include <libfyaml.h>
#include <sqlite3.h>

#include "cli/cli.h"

#ifndef CAIRN_VERSION
#define CAIRN_VERSION "unknown"
#endif

void cli_print_version(const struct cairn_cli *cli, FILE *out)
{
	if (cli->json) {
		cli_json_print(json_pack("{s:s, s:{s:s, s:s, s:s}}",
					 "version", CAIRN_VERSION,
					 "libraries",
					 "libfyaml", fy_library_version(),
					 "jansson", jansson_version_str(),
					 "sqlite", sqlite3_libversion()),
			       out);
		return;
	}
	fprintf(out, "cairn %s\n", CAIRN_VERSION);
	if (cli->verbose) {
		fprintf(out, "libfyaml %s\n", fy_library_version());
		fprintf(out, "jansson %s\n", jansson_version_str());
		fprintf(out, "sqlite %s\n", sqlite3_libversion());
	}
}

int cmd_version(struct cairn_cli *cli, int argc, char **argv)
{
	int c;

	if ((c = cli_getopt(cli, argc, argv)) != -1)
		return cli_getopt_status(c);
	if (optind < argc)
		return cli_usage_error(cli, "'version' takes no arguments");
	cli_print_version(cli, stdout);
	return CLI_EXIT_OK;
}
