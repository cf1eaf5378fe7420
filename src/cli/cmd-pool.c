#include "util/common.h"

#include "cairn/store.h"
#include "cli/cli.h"

static int pool_list(struct cairn_cli *cli, int argc, char **argv);
static int pool_show(struct cairn_cli *cli, int argc, char **argv);
static int pool_create(struct cairn_cli *cli, int argc, char **argv);
static int pool_remove(struct cairn_cli *cli, int argc, char **argv);

enum { OPT_DESCRIPTION = OPT_COMMAND_BASE };

const struct cairn_cmd cairn_pool_commands[] = {
	{
		.name = "list",
		.fn = pool_list,
		.usage = "pool list",
		.summary = "list the pools (name, members, creating stack, description)",
		.description =
			"List the pools in the state store: name, number of members (the\n"
			"resources of every stack whose pool is that name), the stack that\n"
			"created it (\"-\" for one made by hand), description and creation\n"
			"time.  A missing store has no pools (and is not created).",
		.flags = CMD_NEEDS_STATE | CMD_READONLY_STATE,
	},
	{
		.name = "show",
		.fn = pool_show,
		.usage = "pool show NAME",
		.summary = "show a pool and the resources in it",
		.description =
			"Show pool NAME: description, the stack that created it, creation\n"
			"time, and its members (stack and address of every resource whose\n"
			"pool is NAME).  An unknown pool exits 1.",
		.flags = CMD_NEEDS_STATE | CMD_READONLY_STATE,
	},
	{
		.name = "create",
		.fn = pool_create,
		.usage = "pool create [--description TEXT] NAME",
		.summary = "create an empty pool",
		.description =
			"Create pool NAME, made by hand (no creating stack).  Stacks that\n"
			"name the pool then add their resources to it.  A pool that already\n"
			"exists exits 1.",
		.options = (const struct cli_option[]){
			{ "description", OPT_DESCRIPTION, "TEXT", "what the pool is for" },
			{ NULL, 0, NULL, NULL },
		},
		.flags = CMD_NEEDS_STATE,
	},
	{
		.name = "remove",
		.fn = pool_remove,
		.usage = "pool remove NAME",
		.summary = "remove an empty pool",
		.description =
			"Remove pool NAME.  Refused (exit 1) while any resource of any stack\n"
			"is in it: apply or destroy those stacks first ('cairn pool show NAME'\n"
			"lists them).",
		.flags = CMD_NEEDS_STATE,
	},
	{ .name = NULL },
};

int cmd_pool(struct cairn_cli *cli, int argc, char **argv)
{
	return cli_subcommand(cli, argc, argv, "list, show, create, remove");
}

/* Read pool name into *p; -1 with the error printed ("not found" for a missing one). */
static int get_pool(struct cairn_cli *cli, struct cairn_store *st, const char *name,
		    struct cairn_pool_record *p)
{
	struct cairn_error err = CAIRN_ERROR_INIT;
	int ret = 0;

	if (cairn_store_pool_get(st, name, p, &err) < 0) {
		if (err.code == CAIRN_E_NOTFOUND)
			cli_fail(cli, CAIRN_E_NOTFOUND, "pool '%s' not found in state %s",
				 name, cli_state_path(cli));
		else
			cli_error(cli, &err, NULL);
		ret = -1;
	}
	cairn_error_release(&err);
	return ret;
}

static json_t *pool_json(const void *rec)
{
	const struct cairn_pool_record *p = rec;

	return json_pack("{s:s, s:s?, s:s?, s:I, s:s?}",
			 "name", p->name,
			 "description", p->description,
			 "stack", p->stack,
			 "members", (json_int_t)p->members,
			 "created_at", p->created_at);
}

static int pool_list(struct cairn_cli *cli, int argc, char **argv)
{
	struct cairn_error err = CAIRN_ERROR_INIT;
	struct cairn_pool_record *v = NULL;
	struct cairn_store *st;
	struct cli_table t;
	size_t n = 0;
	int status = cli_operands(cli, argc, argv, 0, 0, NULL);

	if (status >= 0)
		return status;
	st = cli_store(cli, &err);
	if (!st || cairn_store_pool_list(st, &v, &n, &err) < 0) {
		status = cli_error(cli, &err, NULL);
		goto out;
	}
	cli_table_init(&t, 5);
	cli_table_row(&t, "NAME", "MEMBERS", "STACK", "CREATED", "DESCRIPTION");
	for (size_t i = 0; i < n; i++) {
		char members[24];

		snprintf(members, sizeof(members), "%lld", (long long)v[i].members);
		cli_table_row(&t, v[i].name, members, v[i].stack, v[i].created_at,
			      v[i].description ? v[i].description : "");
	}
	cli_print_list(cli, v, n, sizeof(*v), pool_json, &t, "no pools in state %s",
		       cli_state_path(cli));
	status = CLI_EXIT_OK;
out:
	cairn_pool_record_list_free(v, n);
	cairn_error_release(&err);
	return status;
}

/*
 * The members of pool name as [{"stack", "address"}], by stack then address:
 * the resources whose desired "pool" is name, as the store counts them.
 * One pass over every stack's resources, which is what a person asking
 * about a pool wants to see, and cheap next to an apply.
 */
static json_t *pool_members(struct cairn_store *st, const char *name, struct cairn_error *err)
{
	struct cairn_stack_record *stacks = NULL;
	size_t nstacks = 0;
	json_t *a = json_array();

	if (cairn_store_stack_list(st, &stacks, &nstacks, err) < 0)
		goto fail;
	for (size_t i = 0; i < nstacks; i++) {
		struct cairn_resource_record *r = NULL;
		size_t nr = 0;

		if (cairn_store_resource_list(st, stacks[i].name, &r, &nr, err) < 0)
			goto fail;
		for (size_t j = 0; j < nr; j++) {
			const char *pool = json_string_value(json_object_get(r[j].desired, "pool"));

			if (pool && !strcmp(pool, name))
				json_array_append_new(a, json_pack("{s:s, s:s}", "stack",
								   stacks[i].name, "address",
								   r[j].address));
		}
		cairn_resource_record_list_free(r, nr);
	}
	cairn_stack_record_list_free(stacks, nstacks);
	return a;
fail:
	cairn_stack_record_list_free(stacks, nstacks);
	json_decref(a);
	return NULL;
}

static int pool_show(struct cairn_cli *cli, int argc, char **argv)
{
	struct cairn_error err = CAIRN_ERROR_INIT;
	struct cairn_pool_record p = { 0 };
	struct cairn_store *st;
	json_t *members = NULL;
	int status = cli_operands(cli, argc, argv, 1, 1, "no pool given");

	if (status >= 0)
		return status;
	status = CLI_EXIT_FAIL;
	st = cli_store(cli, &err);
	if (!st || get_pool(cli, st, argv[optind], &p) < 0)
		goto out;
	members = pool_members(st, p.name, &err);
	if (!members)
		goto out;
	if (cli->json) {
		json_t *j = pool_json(&p);

		json_object_set(j, "resources", members);
		cli_json_print(j, stdout);
	} else {
		size_t i;
		json_t *m;

		printf("pool:         %s\ndescription:  %s\nstack:        %s\n"
		       "created:      %s\nmembers:      %lld\n",
		       p.name, p.description ? p.description : "-", p.stack ? p.stack : "-",
		       p.created_at ? p.created_at : "-", (long long)p.members);
		if (json_array_size(members)) {
			struct cli_table t;

			fputc('\n', stdout);
			cli_table_init(&t, 2);
			cli_table_row(&t, "STACK", "ADDRESS");
			json_array_foreach(members, i, m)
				cli_table_row(&t, json_string_value(json_object_get(m, "stack")),
					      json_string_value(json_object_get(m, "address")));
			cli_table_print(&t, stdout);
			cli_table_release(&t);
		}
	}
	status = CLI_EXIT_OK;
out:
	if (cairn_error_isset(&err))
		status = cli_error(cli, &err, NULL);
	json_decref(members);
	cairn_pool_record_release(&p);
	cairn_error_release(&err);
	return status;
}

static int pool_create(struct cairn_cli *cli, int argc, char **argv)
{
	struct cairn_error err = CAIRN_ERROR_INIT;
	struct cairn_pool_record p = { 0 };
	struct cairn_store *st;
	const char *name, *description = NULL;
	bool in_tx = false;
	int c, status = CLI_EXIT_FAIL;

	while ((c = cli_getopt(cli, argc, argv)) != -1) {
		if (c != OPT_DESCRIPTION)
			return cli_getopt_status(c < 0 ? c : CLI_GETOPT_USAGE);
		description = optarg;
	}
	if (optind >= argc)
		return cli_usage_error(cli, "no pool given");
	if (argc - optind > 1)
		return cli_usage_error(cli, "too many arguments");
	name = argv[optind];
	st = cli_store(cli, &err);
	if (!st || cairn_store_begin(st, &err) < 0)
		goto out;
	in_tx = true;
	/* pool_put() also updates: look first, inside the transaction, so that
	 * create never silently rewrites an existing pool. */
	if (cairn_store_pool_get(st, name, &p, &err) == 0) {
		status = cli_fail(cli, CAIRN_E_EXISTS, "pool '%s' already exists", name);
		goto out;
	}
	if (err.code != CAIRN_E_NOTFOUND)
		goto out;
	cairn_error_release(&err);
	if (cairn_store_pool_put(st, name, description, NULL, &err) < 0 ||
	    cairn_store_pool_get(st, name, &p, &err) < 0)
		goto out;
	in_tx = false;
	if (cairn_store_commit(st, &err) < 0)
		goto out;
	if (cli->json)
		cli_json_print(pool_json(&p), stdout);
	else if (!cli->quiet)
		fprintf(stderr, "Created pool '%s'.\n", name);
	status = CLI_EXIT_OK;
out:
	if (in_tx)
		cairn_store_rollback(st);
	if (cairn_error_isset(&err))
		status = cli_error(cli, &err, NULL);
	cairn_pool_record_release(&p);
	cairn_error_release(&err);
	return status;
}

static int pool_remove(struct cairn_cli *cli, int argc, char **argv)
{
	struct cairn_error err = CAIRN_ERROR_INIT;
	struct cairn_pool_record p = { 0 };
	struct cairn_store *st;
	const char *name;
	int status = cli_operands(cli, argc, argv, 1, 1, "no pool given");

	if (status >= 0)
		return status;
	status = CLI_EXIT_FAIL;
	name = argv[optind];
	st = cli_store(cli, &err);
	if (!st || get_pool(cli, st, name, &p) < 0)
		goto out;
	if (p.members > 0) {
		struct cairn_error e = CAIRN_ERROR_INIT;

		cairn_error_set(&e, CAIRN_E_CONFLICT, "pool '%s' still holds %lld resource%s",
				name, (long long)p.members, p.members == 1 ? "" : "s");
		cairn_error_hint(&e, "'cairn pool show %s' lists them", name);
		status = cli_error(cli, &e, NULL);
		cairn_error_release(&e);
		goto out;
	}
	/* A member added since the look is refused by the store itself. */
	if (cairn_store_pool_delete(st, name, &err) < 0)
		goto out;
	cli_print_removed(cli, "pool", name);
	status = CLI_EXIT_OK;
out:
	if (cairn_error_isset(&err))
		status = cli_error(cli, &err, NULL);
	cairn_pool_record_release(&p);
	cairn_error_release(&err);
	return status;
}
