#include "util/common.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>

#include "cairn/store.h"
#include "cli/cli.h"
#include "util/clock.h"
#include "util/units.h"

CAIRN_LOG_INIT("cli");

/* Global options: accepted before the command and after it. */
const struct cli_option cairn_global_options[] = {
	{ "state", OPT_STATE, "PATH", "the state store (default: $CAIRN_STATE, else $XDG_STATE_HOME/cairn/state.db)" },
	{ "json", OPT_JSON, NULL, "print results as JSON" },
	{ "no-color", OPT_NO_COLOR, NULL, "never colour the output (also NO_COLOR=1)" },
	{ "quiet", 'q', NULL, "print only results and errors" },
	{ "verbose", 'v', NULL, "say more; repeat for debug output" },
	{ "help", 'h', NULL, "show the help of cairn or of the command" },
	{ NULL, 0, NULL, NULL },
};

static const struct cli_option version_option[] = {
	{ "version", OPT_VERSION, NULL, "print the version and exit" },
	{ NULL, 0, NULL, NULL },
};

const struct cairn_cmd cairn_global_cmd = {
	.name = "cairn",
	.usage = "[--state PATH] [--json] [--no-color] [-q] [-v] COMMAND [ARGS]",
	.summary = "an infrastructure orchestrator",
	.options = version_option,
	.flags = CMD_SUBCOMMANDS,
	.sub = cairn_commands,
};

/*
 * The commands, in the order `cairn --help` lists them.  Keep names so that
 * the common ones stay reachable by short unique prefixes.
 */
const struct cairn_cmd cairn_commands[] = {
	{
		.name = "validate",
		.fn = cmd_validate,
		.usage = "validate [--var NAME=VALUE]... [--var-file FILE]... FILE...",
		.summary = "check stack files and report every problem",
		.description =
			"Load each FILE with its includes and variables, check it against the\n"
			"field tables of its providers, and print every problem found as\n"
			"file:line:col: error: message, with the source line and a hint.\n"
			"Never touches the state store.",
		.options = (const struct cli_option[]){
			CLI_SPEC_OPTIONS,
			{ NULL, 0, NULL, NULL },
		},
		.flags = CMD_NO_STATE,
	},
	{
		.name = "apply",
		.fn = cmd_apply,
		.usage = "apply [--var NAME=VALUE]... [--var-file FILE]... [--parallelism N] [--auto-approve] [--lock-timeout D] [--target ADDR]... [--replace ADDR]... FILE | PLAN.json",
		.summary = "make the stack exist as FILE describes it",
		.description =
			"Plan the stack in FILE against its stored state, show the plan, ask\n"
			"(on a terminal; elsewhere --auto-approve is needed) and carry it out:\n"
			"resources in dependency order, in parallel, every provider call\n"
			"journalled so that an interrupted or killed apply is finished by the\n"
			"next one.  A plan saved by 'cairn plan -o PLAN.json' is applied as it\n"
			"was reviewed, and refused if the state changed since (serial or\n"
			"lineage).  --target limits the changes to ADDR (node.web or\n"
			"node.web[2]) and what it depends on; --replace re-creates ADDR even\n"
			"when nothing changed.  Exit 0 when every change succeeded, 1 when\n"
			"some failed (see cairn task list), 130 when interrupted.",
		.options = (const struct cli_option[]){
			CLI_SPEC_OPTIONS,
			{ "parallelism", OPT_ENGINE_PARALLELISM, "N", "provider calls running at once (default 10)" },
			{ "auto-approve", OPT_ENGINE_AUTO_APPROVE, NULL, "do not ask" },
			{ "lock-timeout", OPT_ENGINE_LOCK_TIMEOUT, "DURATION", "wait this long for the stack's lock (default: fail at once)" },
			{ "target", OPT_ENGINE_END, "ADDR", "only ADDR and what it depends on (repeatable)" },
			{ "replace", OPT_ENGINE_END + 1, "ADDR", "re-create ADDR (repeatable)" },
			{ "no-refresh", OPT_NO_REFRESH, NULL, "plan against the stored state without asking the providers" },
			{ NULL, 0, NULL, NULL },
		},
		.flags = CMD_NEEDS_STATE,
	},
	{
		.name = "destroy",
		.fn = cmd_destroy,
		.usage = "destroy [--parallelism N] [--auto-approve] [--lock-timeout D] STACK",
		.summary = "delete every resource of a stack",
		.description =
			"Delete every resource the state records for STACK, dependents first,\n"
			"journalled like apply.  Asks on a terminal; elsewhere --auto-approve\n"
			"is needed.",
		.options = (const struct cli_option[]){
			{ "parallelism", OPT_ENGINE_PARALLELISM, "N", "provider calls running at once (default 10)" },
			{ "auto-approve", OPT_ENGINE_AUTO_APPROVE, NULL, "do not ask" },
			{ "lock-timeout", OPT_ENGINE_LOCK_TIMEOUT, "DURATION", "wait this long for the stack's lock (default: fail at once)" },
			{ NULL, 0, NULL, NULL },
		},
		.flags = CMD_NEEDS_STATE,
	},
	{
		.name = "configure",
		.fn = cmd_configure,
		.usage = "configure [--force] [--parallelism N] [--lock-timeout D] STACK [NODE]...",
		.summary = "run the configure steps of a stack's nodes again",
		.description =
			"Run the configure steps (run, file, template, ansible) of every node\n"
			"of STACK, or of the NODEs named (web-0, node.web[0], or web for all\n"
			"its instances), as the stack's last apply recorded them, over SSH\n"
			"through their bastions, many nodes at once and what a node depends\n"
			"on first.  A step whose command, file content (a template rendered\n"
			"again) or playbook is unchanged since it last succeeded on the node\n"
			"is skipped; the others run in order, and a node's first failure stops\n"
			"it; --force runs every step.  No provider is called.  Exit 0 when\n"
			"every node's steps hold, 1 when some failed, 130 when interrupted.",
		.options = (const struct cli_option[]){
			{ "force", OPT_ENGINE_END, NULL, "run every step, changed or not" },
			{ "parallelism", OPT_ENGINE_PARALLELISM, "N", "nodes configured at once (default 10)" },
			{ "lock-timeout", OPT_ENGINE_LOCK_TIMEOUT, "DURATION", "wait this long for the stack's lock (default: fail at once)" },
			{ NULL, 0, NULL, NULL },
		},
		.flags = CMD_NEEDS_STATE,
	},
	{
		.name = "health",
		.fn = cmd_health,
		.usage = "health [--watch] [--no-check] [--parallelism N] STACK [NODE]...",
		.summary = "check the health of a stack's nodes",
		.description =
			"Run the health checks of STACK's nodes (or of the NODEs named) once\n"
			"and show each node's state (ready, pending or failed) and each\n"
			"check's: ping, tcp ports, http URLs (2xx or 3xx) and a command over\n"
			"SSH, through the node's bastion.  A check is pending until it first\n"
			"passes and failed once it failed 'retries' times in a row; what it\n"
			"saw is kept in the state.  --watch checks each node again as its\n"
			"interval passes and prints every change of state with its time, until\n"
			"Ctrl-C.  --no-check shows what was last recorded.  Exit 0 when every\n"
			"node shown is ready, 1 otherwise.",
		.options = cli_health_options,
		.flags = CMD_NEEDS_STATE,
	},
	{
		.name = "plan",
		.fn = cmd_plan,
		.usage = "plan [--var NAME=VALUE]... [--var-file FILE]... [-o FILE] [--detailed-exitcode] FILE",
		.summary = "show what apply would change",
		.description =
			"Compare the stack in FILE with its stored state and show, per\n"
			"resource, whether apply would create, update, replace or delete it,\n"
			"and why.  Reads the state store and never writes it: a missing store\n"
			"is an empty one.",
		.options = (const struct cli_option[]){
			CLI_SPEC_OPTIONS,
			{ "out", 'o', "FILE", "also save the plan (JSON, with the state's lineage and serial)" },
			{ "detailed-exitcode", OPT_DETAILED_EXITCODE, NULL,
			  "exit 0 when nothing changes, 2 when something does, 1 on error" },
			{ "no-refresh", OPT_NO_REFRESH, NULL, "plan against the stored state without asking the providers" },
			{ NULL, 0, NULL, NULL },
		},
		.flags = CMD_NEEDS_STATE | CMD_READONLY_STATE,
	},
	{
		.name = "graph",
		.fn = cmd_graph,
		.usage = "graph [--var NAME=VALUE]... [--var-file FILE]... FILE",
		.summary = "print the dependency graph of a stack (DOT)",
		.description =
			"Print the resources of the stack in FILE and their dependencies as a\n"
			"Graphviz DOT graph (cairn graph stack.yml | dot -Tsvg > stack.svg).\n"
			"With --json: {\"nodes\", \"edges\": [[from, to]], \"order\"}.",
		.options = (const struct cli_option[]){
			CLI_SPEC_OPTIONS,
			{ NULL, 0, NULL, NULL },
		},
		.flags = CMD_NO_STATE,
	},
	{
		.name = "refresh",
		.fn = cmd_refresh,
		.usage = "refresh STACK",
		.summary = "update the state from what the providers report",
		.description =
			"Ask the providers of STACK about every object in its state: record\n"
			"what they report (power state, addresses) and forget objects deleted\n"
			"outside cairn, so that the next apply re-creates them.  Takes the\n"
			"stack's lock.  plan and apply do the same in memory first, unless\n"
			"--no-refresh.",
		.flags = CMD_NEEDS_STATE,
	},
	{
		.name = "ssh",
		.fn = cmd_ssh,
		.usage = "ssh STACK NODE [-- COMMAND...]",
		.summary = "open a shell on a node, or run a command there",
		.description =
			"Log in to NODE of STACK (its name, web-0, or its address,\n"
			"node.web[0]) as cairn does: at the address it observed, as the\n"
			"node's ssh user, through its ssh.via bastion, with the stack's key and\n"
			"the host keys taken when the node was created (a node that offers\n"
			"another key is refused).  With COMMAND (after --), run it and exit\n"
			"with its exit status; without, an interactive shell.",
		.flags = CMD_NEEDS_STATE | CMD_READONLY_STATE | CMD_NO_TIMING,
	},
	{
		.name = "ssh-key",
		.fn = cmd_ssh_key,
		.usage = "ssh-key STACK",
		.summary = "print the stack's SSH public key, making the key pair if needed",
		.description =
			"Print the public half of the key pair cairn logs in to the nodes of\n"
			"STACK with (an authorized_keys line), generating the pair first when\n"
			"the stack has none yet, as apply would (a stack not applied yet is\n"
			"added to the state, empty): install it on the machines of\n"
			"a static provider that give no identity.  The private half stays in\n"
			"the state, sealed, and is never printed.",
		.flags = CMD_NEEDS_STATE | CMD_NO_TIMING,
	},
	{
		.name = "inventory",
		.fn = cmd_inventory,
		.usage = "inventory [--format table|json|csv|ansible|known_hosts] [--ansible] [--query EXPR] (STACK | --all)",
		.summary = "list a stack's nodes, or print them as an Ansible inventory",
		.description =
			"List the nodes of STACK as the state knows them: name, address,\n"
			"state, pool, IP address, provider and labels (--json or --format\n"
			"json, csv: every field).  --ansible prints a dynamic inventory\n"
			"(JSON with _meta.hostvars: groups from pools, labels as KEY_VALUE\n"
			"and the groups of ansible steps; nodes behind a bastion reached\n"
			"through it; host keys checked against cairn's pins), for a script\n"
			"that ansible-inventory -i runs.  --format known_hosts prints those\n"
			"pins.  --all lists every stack's nodes; --query keeps those EXPR\n"
			"selects: KEY=VALUE and KEY!=VALUE terms joined by 'and' and 'or'\n"
			"(KEY: stack, name, address, provider, type, state, pool, ip,\n"
			"machine, labels.KEY), e.g. 'pool=web and state=ready'.  Answered\n"
			"from the state: no provider is asked.",
		.options = cli_inventory_options,
		.flags = CMD_NEEDS_STATE | CMD_READONLY_STATE | CMD_NO_TIMING,
	},
	{
		.name = "image",
		.fn = cmd_image,
		.usage = "image COMMAND [ARGS]",
		.summary = "build and list the builtin guest images",
		.description =
			"Builtin images are built here from the host's Debian packages and\n"
			"named by stacks as images: {NAME: {builtin: NAME}}.",
		.flags = CMD_SUBCOMMANDS,
		.sub = cairn_image_commands,
	},
	{
		.name = "output",
		.fn = cmd_output,
		.usage = "output STACK [NAME]",
		.summary = "print the outputs of an applied stack",
		.description =
			"Print the outputs apply evaluated for STACK, one NAME = VALUE line\n"
			"each (values as JSON); with NAME, that value alone, a string\n"
			"without quotes (for scripts: ip=$(cairn output demo ip)).\n"
			"With --json: the object of all outputs, or the one value as JSON.",
		.flags = CMD_NEEDS_STATE | CMD_READONLY_STATE,
	},
	{
		.name = "state",
		.fn = cmd_state,
		.usage = "state COMMAND [ARGS]",
		.summary = "list, show, export, import or unlock stored state",
		.description = "Inspect the state store (see --state).",
		.flags = CMD_SUBCOMMANDS,
		.sub = cairn_state_commands,
	},
	{
		.name = "pool",
		.fn = cmd_pool,
		.usage = "pool COMMAND [ARGS]",
		.summary = "list, show, create or remove pools",
		.description =
			"Pools group resources across stacks: a resource is in pool P when\n"
			"its stack says 'pool: P'.  Apply creates the pools a stack names.",
		.flags = CMD_SUBCOMMANDS,
		.sub = cairn_pool_commands,
	},
	{
		.name = "task",
		.fn = cmd_task,
		.usage = "task COMMAND [ARGS]",
		.summary = "list and show failed work",
		.description =
			"Apply and destroy record a task for every resource whose operation\n"
			"failed or was blocked by a failed dependency, with its last error.",
		.flags = CMD_SUBCOMMANDS,
		.sub = cairn_task_commands,
	},
	{
		.name = "provider",
		.fn = cmd_provider,
		.usage = "provider COMMAND [ARGS]",
		.summary = "add, list or remove provider plugins",
		.description =
			"External providers are executables speaking cairn's plugin protocol\n"
			"(docs/plugin-protocol.md); a stack uses one as 'type: NAME'.",
		.flags = CMD_SUBCOMMANDS,
		.sub = cairn_provider_commands,
	},
	{
		.name = "explain",
		.fn = cmd_explain,
		.usage = "explain [TYPE | SECTION]",
		.summary = "describe provider types and stack sections",
		.description =
			"Without an argument, list the provider types and the sections of a\n"
			"stack.  With a provider type (libvirt, process, ...) print its fields;\n"
			"with a section (node, network, volume, plan, image, pool, provider)\n"
			"print the fields every stack may use there.",
		.flags = CMD_NO_STATE | CMD_NO_TIMING,
	},
	{
		.name = "version",
		.fn = cmd_version,
		.usage = "version",
		.summary = "print the version (with -v, the libraries' too)",
		.description =
			"Print \"cairn VERSION\"; with -v, also the versions of libfyaml,\n"
			"jansson and SQLite it runs with.  Same as 'cairn --version'.",
		.flags = CMD_NO_STATE | CMD_NO_TIMING,
	},
	{
		.name = "help",
		.fn = cmd_help,
		.usage = "help [COMMAND [SUBCOMMAND]]",
		.summary = "show the help of cairn or of a command",
		.description =
			"Show the help of cairn, of COMMAND, or of a subcommand\n"
			"('cairn help state export').  Same as 'cairn COMMAND --help'.",
		.flags = CMD_NO_STATE | CMD_NO_TIMING,
	},
	{ .name = NULL },
};

/* ---- lookup --------------------------------------------------------------- */

const struct cairn_cmd *cli_lookup(const struct cairn_cmd *parent, const char *name)
{
	const struct cairn_cmd *table = parent->sub, *found = NULL;
	const char **names = NULL;
	size_t nnames = 0, anames = 0, nmatch = 0, len = strlen(name);
	bool top = parent == &cairn_global_cmd;
	const char *guess;

	for (const struct cairn_cmd *c = table; c->name; c++)
		if (!strcmp(c->name, name))
			return c;
	for (const struct cairn_cmd *c = table; len && c->name; c++) {
		if (!strncmp(c->name, name, len)) {
			found = c;
			nmatch++;
		}
	}
	if (nmatch == 1)
		return found;
	if (nmatch > 1) {
		struct cairn_buf b = CAIRN_BUF_INIT;

		for (const struct cairn_cmd *c = table; c->name; c++)
			if (!strncmp(c->name, name, len))
				cairn_buf_addf(&b, "%s%s", b.len ? ", " : "", c->name);
		if (top)
			fprintf(stderr, "cairn: ambiguous command '%s': %s\n", name, b.s);
		else
			fprintf(stderr, "cairn: ambiguous command '%s %s': %s\n",
				parent->name, name, b.s);
		cairn_buf_release(&b);
		return NULL;
	}
	for (const struct cairn_cmd *c = table; c->name; c++) {
		ALLOC_GROW(names, nnames + 2, anames);
		names[nnames++] = c->name;
	}
	ALLOC_GROW(names, nnames + 1, anames);
	names[nnames] = NULL;
	guess = cairn_did_you_mean(name, names);
	if (top)
		fprintf(stderr, "cairn: '%s' is not a cairn command. See 'cairn --help'.\n", name);
	else
		fprintf(stderr, "cairn: '%s' is not a 'cairn %s' command. See 'cairn help %s'.\n",
			name, parent->name, parent->name);
	if (guess)
		fprintf(stderr, "  hint: did you mean '%s'?\n", guess);
	free(names);
	return NULL;
}

/* ---- options --------------------------------------------------------------- */

static void drop_getopt_tables(struct cairn_cli *cli)
{
	free(cli->longopts);
	free(cli->shortopts);
	cli->longopts = NULL;
	cli->shortopts = NULL;
	cli->opts_for = NULL;
}

static void add_options(struct option **lo, size_t *n, size_t *alloc,
			struct cairn_buf *so, const struct cli_option *opts)
{
	for (const struct cli_option *o = opts; o && o->name; o++) {
		ALLOC_GROW(*lo, *n + 1, *alloc);
		(*lo)[(*n)++] = (struct option){ o->name,
			o->arg ? required_argument : no_argument, NULL, o->key };
		if (o->key > 0 && o->key < 128) {
			cairn_buf_addch(so, o->key);
			if (o->arg)
				cairn_buf_addch(so, ':');
		}
	}
}

/* Build getopt_long's tables for the running command; restart scanning. */
static void build_getopt_tables(struct cairn_cli *cli)
{
	struct option *lo = NULL;
	size_t n = 0, alloc = 0;
	struct cairn_buf so = CAIRN_BUF_INIT;

	drop_getopt_tables(cli);
	/* "+": stop at the first operand (the subcommand); ":": report a
	 * missing argument as ':' so that we word the message ourselves. */
	cairn_buf_addstr(&so, (cli->cmd->flags & CMD_SUBCOMMANDS) ? "+:" : ":");
	add_options(&lo, &n, &alloc, &so, cli->cmd->options);
	add_options(&lo, &n, &alloc, &so, cairn_global_options);
	ALLOC_GROW(lo, n + 1, alloc);
	lo[n] = (struct option){ NULL, 0, NULL, 0 };
	cli->longopts = lo;
	cli->shortopts = cairn_buf_detach(&so, NULL);
	cli->opts_for = cli->cmd;
	optind = 0;   /* glibc: a full re-initialisation */
	opterr = 0;
}

/* The option text as the user wrote it, for messages. */
static char *bad_option(int argc, char **argv)
{
	const char *arg = optind - 1 < argc && optind >= 1 ? argv[optind - 1] : NULL;

	if (arg && !strncmp(arg, "--", 2))
		return xstrndup(arg, strcspn(arg, "="));
	if (optopt > 0 && optopt < 128)
		return xasprintf("-%c", optopt);
	return xstrdup(arg ? arg : "?");
}

int cli_getopt(struct cairn_cli *cli, int argc, char **argv)
{
	int c;

	if (cli->opts_for != cli->cmd)
		build_getopt_tables(cli);
	for (;;) {
		c = getopt_long(argc, argv, cli->shortopts, cli->longopts, NULL);
		switch (c) {
		case OPT_STATE:
			cli->state_opt = optarg;
			free(cli->state_path);
			cli->state_path = NULL;
			break;
		case OPT_JSON:
			cli->json = true;
			break;
		case OPT_NO_COLOR:
			cli->no_color = true;
			break;
		case 'q':
			cli->quiet = true;
			cairn_log_set_level(CAIRN_LOG_ERROR);
			break;
		case 'v':
			cli->verbose++;
			cli->quiet = false;
			cairn_log_set_level(cli->verbose > 1 ? CAIRN_LOG_DEBUG : CAIRN_LOG_INFO);
			break;
		case 'h':
			if (cli->cmd == &cairn_global_cmd)
				cli_help_global(stdout);
			else
				cli_help_command(cli->cmd, stdout);
			return CLI_GETOPT_HELP;
		case '?': {
			char *bad = bad_option(argc, argv);

			cli_usage_error(cli, "unknown option '%s'", bad);
			free(bad);
			return CLI_GETOPT_USAGE;
		}
		case ':': {
			char *bad = bad_option(argc, argv);

			cli_usage_error(cli, "option '%s' requires an argument", bad);
			free(bad);
			return CLI_GETOPT_USAGE;
		}
		default:
			return c;
		}
	}
}

int cli_getopt_status(int c)
{
	return c == CLI_GETOPT_HELP ? CLI_EXIT_OK : CLI_EXIT_USAGE;
}

/* ---- the store ----------------------------------------------------------- */

const char *cli_state_path(struct cairn_cli *cli)
{
	if (!cli->state_path)
		cli->state_path = cli->state_opt ? xstrdup(cli->state_opt)
						 : cairn_store_default_location();
	return cli->state_path;
}

/* The stacks' secrets are sealed with STATE.kek, beside the state. */
char *cli_kek_path(struct cairn_cli *cli)
{
	return xasprintf("%s.kek", cli_state_path(cli));
}


/* Providers keep their files next to the state: STATE_DIR/run. */
char *cli_run_dir(struct cairn_cli *cli)
{
	const char *path = cli_state_path(cli);
	const char *slash = path ? strrchr(path, '/') : NULL;

	if (!slash)
		return xstrdup("run");
	return xasprintf("%.*s/run", (int)(slash - path), path);
}


struct cairn_store *cli_store(struct cairn_cli *cli, struct cairn_error *err)
{
	unsigned flags;

	if (!(cli->cmd->flags & CMD_NEEDS_STATE))
		BUG("command '%s' opens the store without CMD_NEEDS_STATE", cli->cmd->name);
	if (cli->store)
		return cli->store;
	flags = (cli->cmd->flags & CMD_READONLY_STATE) ? CAIRN_STORE_READONLY : 0;
	cairn_debug("opening state '%s'%s", cli_state_path(cli),
		    flags ? " read-only" : "");
	if (cairn_store_open(cli_state_path(cli), flags, &cli->store, err) < 0) {
		cli->store = NULL;
		return NULL;
	}
	return cli->store;
}

/* ---- running a command ------------------------------------------------------ */

int cli_run(struct cairn_cli *cli, const struct cairn_cmd *cmd, int argc, char **argv)
{
	int status;

	cli->cmd = cmd;
	status = cmd->fn(cli, argc, argv);
	if (cli->store) {
		cairn_store_close(cli->store);
		cli->store = NULL;
	}
	return status;
}

static int run(struct cairn_cli *cli, int argc, char **argv)
{
	const struct cairn_cmd *cmd;
	bool version = false;
	int c;

	cli->cmd = &cairn_global_cmd;
	while ((c = cli_getopt(cli, argc, argv)) != -1) {
		switch (c) {
		case OPT_VERSION:
			version = true;
			break;
		default:
			return cli_getopt_status(c);
		}
	}
	if (version) {
		cli_print_version(cli, stdout);
		return CLI_EXIT_OK;
	}
	if (optind >= argc) {
		cli_help_global(stderr);
		return CLI_EXIT_USAGE;
	}
	cmd = cli_lookup(&cairn_global_cmd, argv[optind]);
	if (!cmd)
		return CLI_EXIT_USAGE;
	argc -= optind;
	argv += optind;
	return cli_run(cli, cmd, argc, argv);
}

/*
 * Output that could not be written is an error, except for a closed pipe
 * (`cairn graph x | head -1`): then we leave as quietly as SIGPIPE would.
 */
static int finish_stdout(int status)
{
	if (fflush(stdout) == 0 && !ferror(stdout))
		return status;
	if (errno == EPIPE)
		return status;
	fprintf(stderr, "cairn: cannot write to standard output: %s\n", strerror(errno));
	return CLI_EXIT_FAIL;
}

int main(int argc, char **argv)
{
	struct cairn_cli cli = { 0 };
	int status;

	/* Die quietly on a closed pipe, whatever our parent ignored. */
	signal(SIGPIPE, SIG_DFL);
	cli.start_ms = cairn_now_ms();
	status = run(&cli, argc, argv);
	if (cli.verbose && cli.cmd && cli.cmd != &cairn_global_cmd &&
	    !(cli.cmd->flags & CMD_NO_TIMING)) {
		int64_t ms = cairn_now_ms() - cli.start_ms;

		fprintf(stderr, "(took %lld.%02llds)\n", (long long)(ms / 1000),
			(long long)(ms % 1000 / 10));
	}
	status = finish_stdout(status);
	if (cli.store)
		cairn_store_close(cli.store);
	drop_getopt_tables(&cli);
	free(cli.state_path);
	return status;
}
