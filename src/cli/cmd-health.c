/*
 * cmd-health.c - `cairn health STACK [NODE...] [--watch] [--no-check]`: the
 * health of a stack's nodes, checked now (or as last recorded), once or
 * again and again.
 */
#include "util/common.h"

#include <signal.h>
#include <time.h>
#include <unistd.h>

#include "cairn/store.h"
#include "cli/cli.h"
#include "engine/engine.h"
#include "util/clock.h"
#include "util/jsonutil.h"

enum { OPT_WATCH = OPT_COMMAND_BASE, OPT_NO_CHECK, OPT_PARALLELISM };

const struct cli_option cli_health_options[] = {
	{ "watch", OPT_WATCH, NULL, "check again as each node's interval passes, printing each change of state" },
	{ "no-check", OPT_NO_CHECK, NULL, "show what was last recorded, checking nothing" },
	{ "parallelism", OPT_PARALLELISM, "N", "nodes checked at once (default 10)" },
	{ NULL, 0, NULL, NULL },
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static const char *paint(bool color, const char *state)
{
	if (!color)
		return "";
	if (!strcmp(state, "ready"))
		return "\033[32m";
	if (!strcmp(state, "failed"))
		return "\033[1;31m";
	return "\033[33m";
}

static void print_table(const struct cairn_cli *cli, const json_t *nodes)
{
	struct cli_table t;
	size_t i, k;
	json_t *node, *c;

	if (!json_array_size(nodes)) {
		if (!cli->quiet)
			fprintf(stderr, "cairn: no node has health checks\n");
		return;
	}
	cli_table_init(&t, 7);
	cli_table_row(&t, "NODE", "STATE", "CHECK", "CHECK STATE", "FAILS", "SINCE", "DETAIL");
	json_array_foreach(nodes, i, node) {
		const char *name = cairn_json_str(node, "name") ? cairn_json_str(node, "name")
								: cairn_json_str(node, "address");

		if (!json_array_size(json_object_get(node, "checks")))
			cli_table_row(&t, name, cairn_json_str(node, "state"), NULL, NULL, NULL, NULL,
				      "not checked yet");
		json_array_foreach(json_object_get(node, "checks"), k, c) {
			char fails[24];

			snprintf(fails, sizeof(fails), "%lld", (long long)json_integer_value(json_object_get(c, "fails")));
			cli_table_row(&t, k ? "" : name, k ? "" : cairn_json_str(node, "state"),
				      cairn_json_str(c, "check"), cairn_json_str(c, "state"), fails,
				      cairn_json_str(c, "since"), cairn_json_str(c, "detail"));
		}
	}
	cli_table_print(&t, stdout);
	cli_table_release(&t);
}

/* --watch: a line per change of a node's or a check's state */
static void print_changes(const struct cairn_cli *cli, json_t *seen, const json_t *nodes)
{
	bool color = cli_color(cli, stdout);
	char now[21];
	size_t i, k;
	json_t *node, *c;

	cairn_timestamp(now);
	json_array_foreach(nodes, i, node) {
		const char *addr = cairn_json_str(node, "address"), *state = cairn_json_str(node, "state");
		const char *was = cairn_json_str(seen, addr);

		if (cli->json) {
			json_dumpf(node, stdout, JSON_COMPACT);
			fputc('\n', stdout);
			continue;
		}
		json_array_foreach(json_object_get(node, "checks"), k, c) {
			char *key = xasprintf("%s %s", addr, cairn_json_str(c, "check"));
			const char *cs = cairn_json_str(c, "state"), *cwas = cairn_json_str(seen, key);

			if (!cwas || strcmp(cwas, cs))
				printf("%s  %s  %s: %s%s%s (%s)\n", now, addr, cairn_json_str(c, "check"),
				       paint(color, cs), cs, color ? "\033[0m" : "", cairn_json_str(c, "detail"));
			json_object_set_new(seen, key, json_string(cs));
			free(key);
		}
		if (!was || strcmp(was, state))
			printf("%s  %s  is %s%s%s\n", now, addr, paint(color, state), state,
			       color ? "\033[0m" : "");
		json_object_set_new(seen, addr, json_string(state));
	}
	fflush(stdout);
}

int cmd_health(struct cairn_cli *cli, int argc, char **argv)
{
	struct cairn_error err = CAIRN_ERROR_INIT;
	json_t *seen = json_object();
	struct cairn_stack_record s = { 0 };
	struct cairn_store *st;
	bool watch = false, check = true;
	int c, parallelism = 0, status = CLI_EXIT_FAIL;
	char *kek = NULL, *end;
	const char *stack;
	json_t *nodes = NULL;

	while ((c = cli_getopt(cli, argc, argv)) != -1) {
		if (c == OPT_WATCH) {
			watch = true;
		} else if (c == OPT_NO_CHECK) {
			check = false;
		} else if (c == OPT_PARALLELISM) {
			long n = strtol(optarg, &end, 10);

			if (*end || n < 1 || n > 1024)
				return cli_usage_error(cli, "--parallelism takes a number from 1 to 1024, not '%s'", optarg);
			parallelism = (int)n;
		} else {
			return cli_getopt_status(c < 0 ? c : CLI_GETOPT_USAGE);
		}
	}
	if (optind >= argc)
		return cli_usage_error(cli, "no stack given");
	if (watch && !check)
		return cli_usage_error(cli, "--watch checks: it cannot go with --no-check");
	stack = argv[optind];
	st = cli_store(cli, &err);
	if (!st)
		goto out;
	if (cairn_store_stack_get(st, stack, &s, &err)) {
		if (err.code == CAIRN_E_NOTFOUND) {
			cairn_error_release(&err);
			status = cli_fail(cli, CAIRN_E_NOTFOUND, "stack '%s' is not in state %s", stack,
					  cli_state_path(cli));
		}
		goto out;
	}
	if (!check) {
		if (cairn_engine_health_show(st, stack, &nodes, &err))
			goto out;
	} else {
		kek = cli_kek_path(cli);
		if (cairn_engine_health(st, kek, stack, (const char *const *)argv + optind + 1,
					(size_t)(argc - optind - 1), parallelism, false, &nodes, &err))
			goto out;
	}
	if (watch) {
		struct sigaction sa;

		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_signal;
		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGTERM, &sa, NULL);
		if (!cli->json && !cli->quiet)
			printf("Watching the health of stack %s (Ctrl-C to stop).\n", stack);
		print_changes(cli, seen, nodes);
		while (!stop) {
			struct timespec ts = { 0, 250 * 1000000L };

			nanosleep(&ts, NULL);
			json_decref(nodes);
			nodes = NULL;
			if (cairn_engine_health(st, kek, stack, (const char *const *)argv + optind + 1,
						(size_t)(argc - optind - 1), parallelism, true, &nodes, &err))
				goto out;
			print_changes(cli, seen, nodes);
		}
		status = CLI_EXIT_OK;
		goto out;
	}
	if (cli->json) {
		cli_json_print(json_incref(nodes), stdout);
	} else {
		print_table(cli, nodes);
	}
	/* exit 0 when every node checked is ready */
	status = CLI_EXIT_OK;
	{
		size_t i;
		json_t *node;

		json_array_foreach(nodes, i, node)
			if (strcmp(cairn_json_str(node, "state"), "ready"))
				status = CLI_EXIT_FAIL;
	}
out:
	if (cairn_error_isset(&err))
		status = cli_error(cli, &err, NULL);
	json_decref(seen);
	json_decref(nodes);
	free(kek);
	cairn_stack_record_release(&s);
	cairn_error_release(&err);
	return status;
}
