#include "util/common.h"

#include "cairn/schema.h"
#include "cli/cli.h"
#include "util/units.h"

/* The sections `cairn explain` describes, in the order a stack uses them. */
static const enum cairn_kind sections[] = {
	CAIRN_KIND_NODE, CAIRN_KIND_NETWORK, CAIRN_KIND_VOLUME, CAIRN_KIND_PLAN,
	CAIRN_KIND_IMAGE, CAIRN_KIND_POOL, CAIRN_KIND_PROVIDER,
};

static bool is_section(int k)
{
	for (size_t i = 0; i < ARRAY_SIZE(sections); i++)
		if ((int)sections[i] == k)
			return true;
	return false;
}

static int explain_list(struct cairn_cli *cli)
{
	const struct cairn_type_schema *const *types;
	size_t n, width = 8;

	types = cairn_schema_types(&n);
	if (cli->json) {
		json_t *t = json_array(), *s = json_array();

		for (size_t i = 0; i < n; i++)
			json_array_append_new(t, json_pack("{s:s, s:s}", "name", types[i]->name,
							   "summary", types[i]->summary));
		for (size_t i = 0; i < ARRAY_SIZE(sections); i++)
			json_array_append_new(s, json_string(cairn_kind_name(sections[i])));
		cli_json_print(json_pack("{s:o, s:o}", "types", t, "sections", s), stdout);
		return CLI_EXIT_OK;
	}
	for (size_t i = 0; i < n; i++)
		if (strlen(types[i]->name) > width)
			width = strlen(types[i]->name);
	printf("Provider types (cairn explain TYPE):\n");
	for (size_t i = 0; i < n; i++)
		printf("  %-*s  %s\n", (int)width, types[i]->name, types[i]->summary);
	printf("\nSections of a stack (cairn explain SECTION):\n ");
	for (size_t i = 0; i < ARRAY_SIZE(sections); i++)
		printf(" %s", cairn_kind_name(sections[i]));
	printf("\n");
	return CLI_EXIT_OK;
}

static int explain_unknown(struct cairn_cli *cli, const char *what)
{
	struct cairn_error err = CAIRN_ERROR_INIT;
	const char *const *types = cairn_schema_type_names();
	const char **names = NULL, *guess;
	size_t n = 0, alloc = 0;

	for (const char *const *t = types; t && *t; t++) {
		ALLOC_GROW(names, n + 1, alloc);
		names[n++] = *t;
	}
	for (size_t i = 0; i < ARRAY_SIZE(sections); i++) {
		ALLOC_GROW(names, n + 1, alloc);
		names[n++] = cairn_kind_name(sections[i]);
	}
	ALLOC_GROW(names, n + 1, alloc);
	names[n] = NULL;
	guess = cairn_did_you_mean(what, names);
	cairn_error_set(&err, CAIRN_E_NOTFOUND,
			"'%s' is neither a provider type nor a section of a stack", what);
	if (guess)
		cairn_error_hint(&err, "did you mean '%s'?", guess);
	else
		cairn_error_hint(&err, "'cairn explain' lists them");
	cli_error(cli, &err, NULL);
	cairn_error_release(&err);
	free(names);
	return CLI_EXIT_FAIL;
}

int cmd_explain(struct cairn_cli *cli, int argc, char **argv)
{
	const struct cairn_type_schema *t;
	const char *what;
	int c, k;

	if ((c = cli_getopt(cli, argc, argv)) != -1)
		return cli_getopt_status(c < 0 ? c : CLI_GETOPT_USAGE);
	if (argc - optind > 1)
		return cli_usage_error(cli, "too many arguments");
	cairn_schema_init();
	if (optind == argc)
		return explain_list(cli);
	what = argv[optind];
	t = cairn_schema_lookup(what);
	if (t) {
		if (cli->json)
			cli_json_print(cairn_schema_explain_json(t), stdout);
		else
			cairn_schema_explain(t, stdout);
		return CLI_EXIT_OK;
	}
	k = cairn_kind_parse(what);
	if (k < 0 && strlen(what) > 1 && what[strlen(what) - 1] == 's') {
		/* "nodes", as the section is spelled in a stack */
		char *singular = xstrndup(what, strlen(what) - 1);

		k = cairn_kind_parse(singular);
		free(singular);
	}
	if (k < 0 || !is_section(k))
		return explain_unknown(cli, what);
	if (cli->json)
		cli_json_print(cairn_schema_section_json((enum cairn_kind)k), stdout);
	else
		cairn_schema_explain_section((enum cairn_kind)k, stdout);
	return CLI_EXIT_OK;
}
