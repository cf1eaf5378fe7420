/*
 * cmd-inventory.c - `cairn inventory STACK [--format table|json|csv|ansible|known_hosts]`:
 * the nodes of a stack as the state knows them, for people and for other
 * tools (an Ansible dynamic inventory; known_hosts lines of the pinned host
 * keys, which the inventory's ssh commands ask for).  Answered from the
 * state alone: no provider is asked, nothing is written.
 */
#include "util/common.h"

#include <limits.h>
#include <unistd.h>

#include "cairn/store.h"
#include "cli/cli.h"
#include "engine/engine.h"
#include "util/jsonutil.h"

enum { OPT_FORMAT = OPT_COMMAND_BASE, OPT_ANSIBLE, OPT_ALL, OPT_QUERY };

const struct cli_option cli_inventory_options[] = {
	{ "format", OPT_FORMAT, "FORMAT", "table (default), json, csv, ansible or known_hosts" },
	{ "ansible", OPT_ANSIBLE, NULL, "the same as --format ansible" },
	{ "all", OPT_ALL, NULL, "the nodes of every stack (table, json, csv)" },
	{ "query", OPT_QUERY, "EXPR", "only the nodes EXPR selects: pool=web and state=ready, labels.tier=db" },
	{ NULL, 0, NULL, NULL },
};

static const char *const formats[] = { "table", "json", "csv", "ansible", "known_hosts", NULL };

/* a CSV field, quoted when it must be (RFC 4180) */
static void csv_field(const char *s, bool last)
{
	s = s ? s : "";
	if (strpbrk(s, ",\"\r\n")) {
		putchar('"');
		for (; *s; s++) {
			if (*s == '"')
				putchar('"');
			putchar(*s);
		}
		putchar('"');
	} else {
		fputs(s, stdout);
	}
	putchar(last ? '\n' : ',');
}

static char *labels_text(const json_t *labels)
{
	struct cairn_buf b = CAIRN_BUF_INIT;
	const char *k;
	json_t *v;

	json_object_foreach((json_t *)labels, k, v)
		cairn_buf_addf(&b, "%s%s=%s", b.len ? "," : "", k, json_is_string(v) ? json_string_value(v) : "?");
	return cairn_buf_detach(&b, NULL);
}

/* how an ssh run by Ansible asks this cairn for the pins */
static char *known_hosts_command(struct cairn_cli *cli, const char *stack)
{
	char exe[PATH_MAX];
	ssize_t len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	struct cairn_buf b = CAIRN_BUF_INIT;
	const char *words[3];

	if (len <= 0)
		return NULL;
	exe[len] = '\0';
	words[0] = exe;
	words[1] = cli_state_path(cli);
	words[2] = stack;
	struct cairn_buf out = CAIRN_BUF_INIT;

	for (size_t i = 0; i < 3; i++) {
		cairn_buf_addstr(&b, i == 1 ? " --state " : i == 2 ? " inventory " : "");
		cairn_buf_add_sh_quoted(&b, words[i]);
	}
	cairn_buf_addstr(&b, " --format known_hosts");
	/* ssh expands % tokens in the command */
	for (size_t i = 0; i < b.len; i++)
		cairn_buf_addstr(&out, b.s[i] == '%' ? "%%" : (char[]){ b.s[i], '\0' });
	cairn_buf_release(&b);
	return cairn_buf_detach(&out, NULL);
}

static const char *const csv_cols[] = { "stack", "name", "address", "provider", "type",
					 "state", "pool", "ip", "machine", NULL };

static void csv_row(const json_t *row)
{
	char *l = labels_text(json_object_get(row, "labels"));

	for (size_t c = 0; csv_cols[c]; c++)
		csv_field(cairn_json_str(row, csv_cols[c]), false);
	csv_field(l, true);
	free(l);
}

struct collect {
	const char *stack;
	const struct cairn_inventory_query *q;   /* NULL: every node */
	const char *format;
	json_t *rows;                           /* table: the rows, for the widths */
	size_t printed;                         /* json, csv: rows printed as they come */
};

/* one record: its row, when the query selects it, printed (json, csv) or kept (table) */
static int collect_one(void *ud, const struct cairn_resource_record *r, struct cairn_error *err)
{
	struct collect *c = ud;
	json_t *row = cairn_engine_inventory_row(c->stack, r);

	(void)err;
	if (!row || (c->q && !cairn_engine_query_match(c->q, row))) {
		json_decref(row);
		return 0;
	}
	if (!strcmp(c->format, "json")) {
		fputs(c->printed ? ",\n  " : "[\n  ", stdout);
		json_dumpf(row, stdout, JSON_COMPACT);
	} else if (!strcmp(c->format, "csv")) {
		csv_row(row);
	} else {
		json_array_append(c->rows, row);
	}
	c->printed++;
	json_decref(row);
	return 0;
}

/* the rows of one stack that q selects; the records are read one at a
 * time, and only the table keeps its rows */
static int stack_rows(struct cairn_store *st, struct collect *c, const char *stack, struct cairn_error *err)
{
	c->stack = stack;
	return cairn_store_resource_each(st, stack, collect_one, c, err);
}

static void print_table(const struct cairn_cli *cli, const json_t *rows, bool all)
{
	size_t i;
	json_t *row;

	if (!json_array_size(rows)) {
		if (!cli->quiet)
			fprintf(stderr, "cairn: no nodes\n");
	} else {
		struct cli_table t;

		cli_table_init(&t, all ? 8 : 7);
		if (all)
			cli_table_row(&t, "STACK", "NAME", "ADDRESS", "STATE", "POOL", "IP", "PROVIDER", "LABELS");
		else
			cli_table_row(&t, "NAME", "ADDRESS", "STATE", "POOL", "IP", "PROVIDER", "LABELS");
		json_array_foreach(rows, i, row) {
			char *l = labels_text(json_object_get(row, "labels"));

			if (all)
				cli_table_row(&t, cairn_json_str(row, "stack"), cairn_json_str(row, "name"),
					      cairn_json_str(row, "address"), cairn_json_str(row, "state"),
					      cairn_json_str(row, "pool"), cairn_json_str(row, "ip"),
					      cairn_json_str(row, "provider"), *l ? l : NULL);
			else
				cli_table_row(&t, cairn_json_str(row, "name"), cairn_json_str(row, "address"),
					      cairn_json_str(row, "state"), cairn_json_str(row, "pool"),
					      cairn_json_str(row, "ip"), cairn_json_str(row, "provider"),
					      *l ? l : NULL);
			free(l);
		}
		cli_table_print(&t, stdout);
		cli_table_release(&t);
	}
}

int cmd_inventory(struct cairn_cli *cli, int argc, char **argv)
{
	struct cairn_error err = CAIRN_ERROR_INIT;
	struct cairn_resource_record *recs = NULL;
	struct cairn_stack_record s = { 0 }, *stacks = NULL;
	struct cairn_store *st;
	const char *format = NULL, *stack = NULL, *query = NULL;
	size_t n = 0, nstacks = 0, i;
	json_t *rows = NULL;
	struct cairn_inventory_query *q = NULL;
	struct collect coll = { 0 };
	bool all = false;
	int c, status = CLI_EXIT_FAIL;

	while ((c = cli_getopt(cli, argc, argv)) != -1) {
		if (c == OPT_FORMAT)
			format = optarg;
		else if (c == OPT_ANSIBLE)
			format = "ansible";
		else if (c == OPT_ALL)
			all = true;
		else if (c == OPT_QUERY)
			query = optarg;
		else
			return cli_getopt_status(c < 0 ? c : CLI_GETOPT_USAGE);
	}
	if (argc - optind > 1 || (all && argc - optind > 0))
		return cli_usage_error(cli, all ? "--all takes no stack" : "too many arguments");
	if (!all && argc - optind < 1)
		return cli_usage_error(cli, "inventory needs a stack, or --all");
	if (!format)
		format = cli->json ? "json" : "table";
	for (i = 0; formats[i] && strcmp(formats[i], format); i++)
		;
	if (!formats[i])
		return cli_usage_error(cli, "unknown format '%s' (table, json, csv, ansible, known_hosts)", format);
	if ((all || query) && (!strcmp(format, "ansible") || !strcmp(format, "known_hosts")))
		return cli_usage_error(cli, "--format %s is for one whole stack: no --all, no --query", format);
	if (query && cairn_engine_query_compile(query, &q, &err))
		goto out;
	st = cli_store(cli, &err);
	if (!st)
		goto out;
	if (!all) {
		stack = argv[optind];
		if (cairn_store_stack_get(st, stack, &s, &err) < 0) {
			if (err.code == CAIRN_E_NOTFOUND) {
				cairn_error_release(&err);
				status = cli_fail(cli, CAIRN_E_NOTFOUND, "stack '%s' not found in state %s", stack,
						  cli_state_path(cli));
			}
			goto out;
		}
	}

	if (!strcmp(format, "ansible") || !strcmp(format, "known_hosts")) {
		if (cairn_store_resource_list(st, stack, &recs, &n, &err))
			goto out;
		if (!strcmp(format, "ansible")) {
			char *cmd = known_hosts_command(cli, stack);
			json_t *inv = cairn_engine_inventory_ansible(recs, n, cmd, NULL);

			json_dumpf(inv, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
			putchar('\n');
			json_decref(inv);
			free(cmd);
		} else {
			char *text = cairn_engine_known_hosts(recs, n);

			fputs(text, stdout);
			free(text);
		}
		status = CLI_EXIT_OK;
		goto out;
	}
	rows = json_array();
	coll.q = q;
	coll.format = format;
	coll.rows = rows;
	if (!strcmp(format, "csv"))
		puts("stack,name,address,provider,type,state,pool,ip,machine,labels");
	if (all) {
		if (cairn_store_stack_list(st, &stacks, &nstacks, &err))
			goto out;
		for (i = 0; i < nstacks; i++)
			if (stack_rows(st, &coll, stacks[i].name, &err))
				goto out;
	} else if (stack_rows(st, &coll, stack, &err)) {
		goto out;
	}
	if (!strcmp(format, "json"))
		fputs(coll.printed ? "\n]\n" : "[]\n", stdout);
	else if (!strcmp(format, "table"))
		print_table(cli, rows, all);
	status = CLI_EXIT_OK;
out:
	if (cairn_error_isset(&err))
		status = cli_error(cli, &err, NULL);
	json_decref(rows);
	cairn_engine_query_free(q);
	cairn_stack_record_list_free(stacks, nstacks);
	cairn_resource_record_list_free(recs, n);
	cairn_stack_record_release(&s);
	cairn_error_release(&err);
	return status;
}
