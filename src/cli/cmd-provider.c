#include "util/common.h"

#include <dirent.h>
#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cairn/schema.h"
#include "cairn/store.h"
#include "cli/cli.h"
#include "providers/provider.h"

static int provider_add(struct cairn_cli *cli, int argc, char **argv);
static int provider_list(struct cairn_cli *cli, int argc, char **argv);
static int provider_remove(struct cairn_cli *cli, int argc, char **argv);

const struct cairn_cmd cairn_provider_commands[] = {
	{
		.name = "add",
		.fn = provider_add,
		.usage = "provider add NAME PATH",
		.summary = "register the executable of an external provider type",
		.description =
			"Register PATH, an executable speaking cairn's plugin protocol\n"
			"(docs/plugin-protocol.md), as provider type NAME: stacks may then\n"
			"declare providers of 'type: NAME'.  PATH is stored absolute; a\n"
			"registered path wins over every plugin directory.  Adding a NAME\n"
			"again replaces its path.",
		.flags = CMD_NEEDS_STATE,
	},
	{
		.name = "list",
		.fn = provider_list,
		.usage = "provider list",
		.summary = "list the registered and the discovered provider plugins",
		.description =
			"List the plugin provider types cairn can run: those registered with\n"
			"'cairn provider add' (source 'registered') and those found in\n"
			"$CAIRN_PLUGIN_PATH, next to the cairn binary or in cairn's libexec\n"
			"directory (source 'found'), such as the reference plugin 'process'.",
		.flags = CMD_NEEDS_STATE | CMD_READONLY_STATE,
	},
	{
		.name = "remove",
		.fn = provider_remove,
		.usage = "provider remove NAME",
		.summary = "forget a registered provider type",
		.description =
			"Forget the executable registered for provider type NAME.  A plugin\n"
			"that is also found by search (a built-in one) stays usable.  An\n"
			"unregistered NAME exits 1.",
		.flags = CMD_NEEDS_STATE,
	},
	{ .name = NULL },
};

int cmd_provider(struct cairn_cli *cli, int argc, char **argv)
{
	return cli_subcommand(cli, argc, argv, "add, list, remove");
}

/* What cairn_plugin_find() accepts as a type: it names a file. */
static bool valid_name(const char *name)
{
	if (!*name || strlen(name) > 64)
		return false;
	for (const char *c = name; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '-' || *c == '_'))
			return false;
	return true;
}

static bool is_executable(const char *path)
{
	struct stat sb;

	return stat(path, &sb) == 0 && S_ISREG(sb.st_mode) && access(path, X_OK) == 0;
}

/*
 * path made absolute: its directory resolved (so "./bin/../plug" reads
 * well), its last component kept, so that a symlink registered is followed
 * at every run rather than frozen to today's target.  NULL with errno set.
 */
static char *absolute(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *dir, *real, *abs;

	if (slash && !slash[1]) {        /* "plug/": not a file name */
		errno = EISDIR;
		return NULL;
	}
	dir = slash ? xstrndup(path, slash == path ? 1 : (size_t)(slash - path)) : xstrdup(".");
	real = realpath(dir, NULL);
	free(dir);
	if (!real)
		return NULL;
	abs = xasprintf("%s%s%s", real, strcmp(real, "/") ? "/" : "", slash ? slash + 1 : path);
	free(real);
	return abs;
}

/* The registered plugins, {"TYPE": "PATH"}; NULL with err set. */
static json_t *registered(struct cairn_store *st, struct cairn_error *err)
{
	json_t *r = NULL;

	if (cairn_store_plugin_list(st, &r, err) < 0)
		return NULL;
	if (!json_is_object(r)) {
		json_decref(r);
		cairn_error_set(err, CAIRN_E_STATE, "the registered plugins are not a JSON object");
		return NULL;
	}
	return r;
}

static int provider_add(struct cairn_cli *cli, int argc, char **argv)
{
	struct cairn_error err = CAIRN_ERROR_INIT;
	struct cairn_store *st;
	struct stat sb;
	const char *name, *path, *old;
	char *abs = NULL;
	json_t *reg = NULL;
	char *was = NULL;
	int status = cli_operands(cli, argc, argv, 1, 2, "no provider name given");

	if (status >= 0)
		return status;
	if (argc - optind < 2)
		return cli_usage_error(cli, "no executable given");
	status = CLI_EXIT_FAIL;
	name = argv[optind];
	path = argv[optind + 1];
	if (!valid_name(name)) {
		cairn_error_set(&err, CAIRN_E_INVALID, "'%s' is not a provider type name", name);
		cairn_error_hint(&err, "use lowercase letters, digits, '-' and '_' (at most 64)");
		goto out;
	}
	if (!(abs = absolute(path))) {
		cairn_error_set(&err, CAIRN_E_INVALID, "cannot use '%s': %s", path, strerror(errno));
		goto out;
	}
	if (stat(abs, &sb) < 0) {
		cairn_error_set(&err, CAIRN_E_INVALID, "cannot use '%s': %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(sb.st_mode)) {
		cairn_error_set(&err, CAIRN_E_INVALID, "'%s' is not a regular file", path);
		goto out;
	}
	if (access(abs, X_OK) < 0) {
		cairn_error_set(&err, CAIRN_E_INVALID, "'%s' is not executable", path);
		cairn_error_hint(&err, "chmod +x '%s'", path);
		goto out;
	}
	st = cli_store(cli, &err);
	if (!st || !(reg = registered(st, &err)))
		goto out;
	old = json_string_value(json_object_get(reg, name));
	if (old && strcmp(old, abs))
		was = xstrdup(old);
	if (cairn_store_plugin_put(st, name, abs, &err) < 0)
		goto out;
	if (cli->json)
		cli_json_print(json_pack("{s:s, s:s, s:s?}", "name", name, "path", abs,
					 "replaced", was), stdout);
	else if (!cli->quiet && was)
		fprintf(stderr, "Registered provider '%s': %s (was %s).\n", name, abs, was);
	else if (!cli->quiet)
		fprintf(stderr, "Registered provider '%s': %s.\n", name, abs);
	status = CLI_EXIT_OK;
out:
	if (cairn_error_isset(&err))
		status = cli_error(cli, &err, NULL);
	free(was);
	free(abs);
	json_decref(reg);
	cairn_error_release(&err);
	return status;
}

/* Add to names (an object used as a set) the TYPE of every DIR/cairn-provider-TYPE
 * in the directories of $CAIRN_PLUGIN_PATH. */
static void plugin_path_names(json_t *names)
{
	const char *env = getenv("CAIRN_PLUGIN_PATH");
	static const char prefix[] = "cairn-provider-";

	for (const char *p = env; p && *p;) {
		size_t len = strcspn(p, ":");
		char *dir = xstrndup(p, len);
		DIR *d = len ? opendir(dir) : NULL;
		struct dirent *de;

		while (d && (de = readdir(d)))
			if (!strncmp(de->d_name, prefix, sizeof(prefix) - 1) &&
			    valid_name(de->d_name + sizeof(prefix) - 1))
				json_object_set_new(names, de->d_name + sizeof(prefix) - 1, json_true());
		if (d)
			closedir(d);
		free(dir);
		p += len;
		if (*p == ':')
			p++;
	}
}

static int cmp_entry(const void *a, const void *b)
{
	const json_t *x = *(const json_t *const *)a, *y = *(const json_t *const *)b;

	return strcmp(json_string_value(json_object_get(x, "name")),
		      json_string_value(json_object_get(y, "name")));
}

/*
 * [{"name", "source", "path", "executable"}] by name: the registered ones,
 * then every type cairn_plugin_find() resolves that is not registered.  The
 * candidates for the search are the known provider types and the names of
 * the files in $CAIRN_PLUGIN_PATH; the search itself decides.
 */
static json_t *provider_entries(const json_t *reg)
{
	json_t *names = json_object(), *a = json_array(), *v, *sorted;
	const json_t **vec;
	const char *k;
	size_t ntypes, i, n = 0;
	const struct cairn_type_schema *const *types = cairn_schema_types(&ntypes);

	json_object_foreach((json_t *)reg, k, v) {
		const char *path = json_string_value(v);

		json_array_append_new(a, json_pack("{s:s, s:s, s:s?, s:b}", "name", k,
						   "source", "registered", "path", path,
						   "executable", path && is_executable(path)));
	}
	for (i = 0; i < ntypes; i++)
		json_object_set_new(names, types[i]->name, json_true());
	plugin_path_names(names);
	json_object_foreach(names, k, v) {
		char *path;

		if (json_object_get(reg, k))
			continue;
		path = cairn_plugin_find(k);
		if (path)
			json_array_append_new(a, json_pack("{s:s, s:s, s:s, s:b}", "name", k,
							   "source", "found", "path", path,
							   "executable", true));
		free(path);
	}
	json_decref(names);

	vec = xcalloc(json_array_size(a) + 1, sizeof(*vec));
	json_array_foreach(a, i, v)
		vec[n++] = v;
	qsort(vec, n, sizeof(*vec), cmp_entry);
	sorted = json_array();
	for (i = 0; i < n; i++)
		json_array_append(sorted, (json_t *)vec[i]);
	free(vec);
	json_decref(a);
	return sorted;
}

static int provider_list(struct cairn_cli *cli, int argc, char **argv)
{
	struct cairn_error err = CAIRN_ERROR_INIT;
	struct cairn_store *st;
	json_t *reg = NULL, *entries = NULL;
	int status = cli_operands(cli, argc, argv, 0, 0, NULL);

	if (status >= 0)
		return status;
	status = CLI_EXIT_FAIL;
	st = cli_store(cli, &err);
	if (!st || !(reg = registered(st, &err)))
		goto out;
	entries = provider_entries(reg);
	if (cli->json) {
		cli_json_print(json_incref(entries), stdout);
	} else if (json_array_size(entries) == 0) {
		if (!cli->quiet)
			fprintf(stderr, "cairn: no provider plugins registered or found\n");
	} else {
		struct cli_table t;
		size_t i;
		json_t *e;

		cli_table_init(&t, 4);
		cli_table_row(&t, "NAME", "SOURCE", "STATUS", "PATH");
		json_array_foreach(entries, i, e)
			cli_table_row(&t, json_string_value(json_object_get(e, "name")),
				      json_string_value(json_object_get(e, "source")),
				      json_is_true(json_object_get(e, "executable"))
					      ? "ok" : "not executable",
				      json_string_value(json_object_get(e, "path")));
		cli_table_print(&t, stdout);
		cli_table_release(&t);
	}
	status = CLI_EXIT_OK;
out:
	if (cairn_error_isset(&err))
		status = cli_error(cli, &err, NULL);
	json_decref(entries);
	json_decref(reg);
	cairn_error_release(&err);
	return status;
}

static int provider_remove(struct cairn_cli *cli, int argc, char **argv)
{
	struct cairn_error err = CAIRN_ERROR_INIT;
	struct cairn_store *st;
	const char *name;
	json_t *reg = NULL;
	int status = cli_operands(cli, argc, argv, 1, 1, "no provider name given");

	if (status >= 0)
		return status;
	status = CLI_EXIT_FAIL;
	name = argv[optind];
	st = cli_store(cli, &err);
	if (!st || !(reg = registered(st, &err)))
		goto out;
	if (!json_object_get(reg, name)) {
		char *found = valid_name(name) ? cairn_plugin_find(name) : NULL;

		cairn_error_set(&err, CAIRN_E_NOTFOUND, "provider '%s' is not registered", name);
		if (found)
			cairn_error_hint(&err, "'%s' is found at %s, not registered: remove or move that file instead",
					 name, found);
		free(found);
		goto out;
	}
	if (cairn_store_plugin_delete(st, name, &err) < 0)
		goto out;
	cli_print_removed(cli, "provider", name);
	status = CLI_EXIT_OK;
out:
	if (cairn_error_isset(&err))
		status = cli_error(cli, &err, NULL);
	json_decref(reg);
	cairn_error_release(&err);
	return status;
}
