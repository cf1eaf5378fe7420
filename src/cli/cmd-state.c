#include "util/common.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cairn/store.h"
#include "cli/cli.h"

/* A state document to import may be large, but not unbounded. */
#define STATE_IMPORT_MAX ((size_t)1 << 30)

static int state_list(struct cairn_cli *cli, int argc, char **argv);
static int state_show(struct cairn_cli *cli, int argc, char **argv);
static int state_export(struct cairn_cli *cli, int argc, char **argv);
static int state_import(struct cairn_cli *cli, int argc, char **argv);
static int state_unlock(struct cairn_cli *cli, int argc, char **argv);

const struct cairn_cmd cairn_state_commands[] = {
	{
		.name = "list",
		.fn = state_list,
		.usage = "state list",
		.summary = "list the stacks in the state (name, serial, resources, updated)",
		.description =
			"List the stacks in the state store: name, serial, number of\n"
			"resources, last update.  A missing store has no stacks (and is\n"
			"not created).",
		.flags = CMD_NEEDS_STATE | CMD_READONLY_STATE,
	},
	{
		.name = "show",
		.fn = state_show,
		.usage = "state show STACK [ADDRESS]",
		.summary = "show the resources of a stack, or one resource in full",
		.description =
			"Without ADDRESS, list the resources of STACK (address, type, status,\n"
			"last update).  With ADDRESS (node.web[2], network.lan, ...), print\n"
			"that resource's whole record as JSON.",
		.flags = CMD_NEEDS_STATE | CMD_READONLY_STATE,
	},
	{
		.name = "export",
		.fn = state_export,
		.usage = "state export [-o FILE] [STACK]",
		.summary = "write the state (of one stack, or all) as a JSON document",
		.description =
			"Write the state of STACK, or of every stack, as one cairn-state JSON\n"
			"document (see docs/internals/state.md) to standard output or FILE\n"
			"(created with mode 0600, replaced atomically).",
		.options = (const struct cli_option[]){
			{ "out", 'o', "FILE", "write to FILE instead of standard output" },
			{ NULL, 0, NULL, NULL },
		},
		.flags = CMD_NEEDS_STATE | CMD_READONLY_STATE,
	},
	{
		.name = "import",
		.fn = state_import,
		.usage = "state import FILE",
		.summary = "load a JSON document made by 'state export'",
		.description =
			"Load a cairn-state document (\"-\" reads standard input).  Each stack\n"
			"in it replaces the stored stack of that name, lineage and serial\n"
			"included, in one transaction.",
		.flags = CMD_NEEDS_STATE,
	},
	{
		.name = "unlock",
		.fn = state_unlock,
		.usage = "state unlock STACK",
		.summary = "force the lock of a stack free",
		.description =
			"Remove the lock an apply or destroy holds on STACK, whoever holds\n"
			"it, and record who did (a 'lock.forced' event).  Meant for a holder\n"
			"that is gone before its lease expired: forcing the lock of a live\n"
			"apply lets a second one run beside it.  A stack that is not locked\n"
			"exits 1.",
		.flags = CMD_NEEDS_STATE,
	},
	{ .name = NULL },
};

int cmd_state(struct cairn_cli *cli, int argc, char **argv)
{
	const struct cairn_cmd *sub;
	int c;

	if ((c = cli_getopt(cli, argc, argv)) != -1)
		return cli_getopt_status(c);
	if (optind >= argc)
		return cli_usage_error(cli, "no state command given (list, show, export, import, unlock)");
	sub = cli_lookup(cli->cmd, argv[optind]);
	if (!sub)
		return CLI_EXIT_USAGE;
	return cli_run(cli, sub, argc - optind, argv + optind);
}

/*
 * Options, then min..max operands (missing names the first one missing);
 * returns -1 to go on, else the exit status.
 */
static int parse_plain(struct cairn_cli *cli, int argc, char **argv, int min, int max,
		       const char *missing)
{
	int c = cli_getopt(cli, argc, argv);

	if (c != -1)
		return cli_getopt_status(c < 0 ? c : CLI_GETOPT_USAGE);
	if (argc - optind < min)
		return cli_usage_error(cli, "%s", missing ? missing : "missing argument");
	if (argc - optind > max)
		return cli_usage_error(cli, "too many arguments");
	return -1;
}

/* Read stack into *s; -1 with the error printed, "not found" for a missing one. */
static int get_stack(struct cairn_cli *cli, struct cairn_store *st, const char *stack,
		     struct cairn_stack_record *s)
{
	struct cairn_error err = CAIRN_ERROR_INIT;
	int ret = 0;

	if (cairn_store_stack_get(st, stack, s, &err) < 0) {
		if (err.code == CAIRN_E_NOTFOUND)
			cli_fail(cli, CAIRN_E_NOTFOUND, "stack '%s' not found in state %s",
				 stack, cli_state_path(cli));
		else
			cli_error(cli, &err, NULL);
		ret = -1;
	}
	cairn_error_release(&err);
	return ret;
}

static json_t *stack_json(const void *rec)
{
	const struct cairn_stack_record *s = rec;

	return json_pack("{s:s, s:s?, s:I, s:I, s:I, s:s?, s:s?}",
			 "name", s->name,
			 "lineage", s->lineage,
			 "serial", (json_int_t)s->serial,
			 "resources", (json_int_t)s->nresources,
			 "design_version", (json_int_t)s->design_version,
			 "created_at", s->created_at,
			 "updated_at", s->updated_at);
}

static json_t *resource_json(const struct cairn_resource_record *r)
{
	return json_pack("{s:s, s:s?, s:s?, s:s?, s:s?, s:s, s:s?, s:O?, s:O?, s:s?, s:s?}",
			 "address", r->address,
			 "kind", r->kind,
			 "type", r->type,
			 "provider", r->provider,
			 "cairn_id", r->cairn_id,
			 "status", cairn_resource_status_name(r->status),
			 "desired_hash", r->desired_hash,
			 "desired", r->desired,
			 "observed", r->observed,
			 "created_at", r->created_at,
			 "updated_at", r->updated_at);
}

static int state_list(struct cairn_cli *cli, int argc, char **argv)
{
	struct cairn_error err = CAIRN_ERROR_INIT;
	struct cairn_stack_record *v = NULL;
	struct cairn_store *st;
	struct cli_table t;
	size_t n = 0;
	int status = parse_plain(cli, argc, argv, 0, 0, NULL);

	if (status >= 0)
		return status;
	st = cli_store(cli, &err);
	if (!st || cairn_store_stack_list(st, &v, &n, &err) < 0) {
		status = cli_error(cli, &err, NULL);
		goto out;
	}
	cli_table_init(&t, 4);
	cli_table_row(&t, "NAME", "SERIAL", "RESOURCES", "UPDATED");
	for (size_t i = 0; i < n; i++) {
		char serial[24], nres[24];

		snprintf(serial, sizeof(serial), "%lld", (long long)v[i].serial);
		snprintf(nres, sizeof(nres), "%lld", (long long)v[i].nresources);
		cli_table_row(&t, v[i].name, serial, nres, v[i].updated_at);
	}
	cli_print_list(cli, v, n, sizeof(*v), stack_json, &t, "no stacks in state %s",
		       cli_state_path(cli));
	status = CLI_EXIT_OK;
out:
	cairn_stack_record_list_free(v, n);
	cairn_error_release(&err);
	return status;
}

static int show_resource(struct cairn_cli *cli, struct cairn_store *st,
			 const char *stack, const char *address)
{
	struct cairn_error err = CAIRN_ERROR_INIT;
	struct cairn_resource_record r = { 0 };
	int status;

	if (cairn_store_resource_get(st, stack, address, &r, &err) < 0) {
		if (err.code == CAIRN_E_NOTFOUND)
			status = cli_fail(cli, CAIRN_E_NOTFOUND,
					  "resource '%s' not found in stack '%s'", address, stack);
		else
			status = cli_error(cli, &err, NULL);
	} else {
		cli_json_print(resource_json(&r), stdout);
		status = CLI_EXIT_OK;
	}
	cairn_resource_record_release(&r);
	cairn_error_release(&err);
	return status;
}

static int state_show(struct cairn_cli *cli, int argc, char **argv)
{
	struct cairn_error err = CAIRN_ERROR_INIT;
	struct cairn_stack_record s = { 0 };
	struct cairn_resource_record *v = NULL;
	struct cairn_store *st;
	const char *stack;
	size_t n = 0;
	int status = parse_plain(cli, argc, argv, 1, 2, "no stack given");

	if (status >= 0)
		return status;
	status = CLI_EXIT_FAIL;
	stack = argv[optind];
	st = cli_store(cli, &err);
	if (!st || get_stack(cli, st, stack, &s) < 0)
		goto out;
	if (optind + 1 < argc) {
		status = show_resource(cli, st, stack, argv[optind + 1]);
		goto out;
	}
	if (cairn_store_resource_list(st, stack, &v, &n, &err) < 0)
		goto out;
	if (cli->json) {
		json_t *a = json_array();

		for (size_t i = 0; i < n; i++)
			json_array_append_new(a, resource_json(&v[i]));
		cli_json_print(json_pack("{s:o, s:o}", "stack", stack_json(&s),
					 "resources", a), stdout);
	} else {
		struct cli_table t;

		printf("stack:    %s\nlineage:  %s\nserial:   %lld\nupdated:  %s\n",
		       s.name, s.lineage ? s.lineage : "-", (long long)s.serial,
		       s.updated_at ? s.updated_at : "-");
		if (n) {
			fputc('\n', stdout);
			cli_table_init(&t, 4);
			cli_table_row(&t, "ADDRESS", "TYPE", "STATUS", "UPDATED");
			for (size_t i = 0; i < n; i++)
				cli_table_row(&t, v[i].address, v[i].type,
					      cairn_resource_status_name(v[i].status),
					      v[i].updated_at);
			cli_table_print(&t, stdout);
			cli_table_release(&t);
		} else {
			printf("\n(no resources)\n");
		}
	}
	status = CLI_EXIT_OK;
out:
	if (cairn_error_isset(&err))
		status = cli_error(cli, &err, NULL);
	cairn_resource_record_list_free(v, n);
	cairn_stack_record_release(&s);
	cairn_error_release(&err);
	return status;
}

/* Write j to path with mode 0600, atomically (temporary file, rename). */
static int write_json_file(const char *path, json_t *j, struct cairn_error *err)
{
	char *tmp = xasprintf("%s.tmp-XXXXXX", path);
	FILE *f;
	int fd, saved, ret = -1;

	fd = mkstemp(tmp);
	if (fd < 0) {
		cairn_error_set(err, CAIRN_E_IO, "cannot create '%s': %s", path, strerror(errno));
		goto out;
	}
	f = fdopen(fd, "w");
	if (!f) {
		close(fd);
	} else if (json_dumpf(j, f, JSON_INDENT(2)) < 0 || fputc('\n', f) == EOF ||
		   fflush(f) != 0 || fsync(fileno(f)) != 0) {
		saved = errno;      /* the message says why writing failed */
		fclose(f);
		errno = saved;
	} else if (fclose(f) == 0 && rename(tmp, path) == 0) {
		ret = 0;
	}
	if (ret < 0) {
		cairn_error_set(err, CAIRN_E_IO, "cannot write '%s': %s", path, strerror(errno));
		unlink(tmp);
	}
out:
	free(tmp);
	return ret;
}

static int state_export(struct cairn_cli *cli, int argc, char **argv)
{
	struct cairn_error err = CAIRN_ERROR_INIT;
	struct cairn_stack_record s = { 0 };
	struct cairn_store *st;
	const char *stack = NULL, *out_path = NULL;
	json_t *doc = NULL;
	int c, status = CLI_EXIT_FAIL;

	while ((c = cli_getopt(cli, argc, argv)) != -1) {
		if (c != 'o')
			return cli_getopt_status(c < 0 ? c : CLI_GETOPT_USAGE);
		out_path = optarg;
	}
	if (argc - optind > 1)
		return cli_usage_error(cli, "too many arguments");
	if (optind < argc)
		stack = argv[optind];
	st = cli_store(cli, &err);
	if (!st || (stack && get_stack(cli, st, stack, &s) < 0) ||
	    cairn_store_export(st, stack, &doc, &err) < 0)
		goto out;
	if (out_path && strcmp(out_path, "-")) {
		if (write_json_file(out_path, doc, &err) < 0)
			goto out;
		if (!cli->quiet)
			fprintf(stderr, "Exported %s to '%s'.\n",
				stack ? "the stack" : "the state", out_path);
	} else {
		cli_json_print(json_incref(doc), stdout);
	}
	status = CLI_EXIT_OK;
out:
	if (cairn_error_isset(&err))
		status = cli_error(cli, &err, NULL);
	json_decref(doc);
	cairn_stack_record_release(&s);
	cairn_error_release(&err);
	return status;
}

static int state_import(struct cairn_cli *cli, int argc, char **argv)
{
	struct cairn_error err = CAIRN_ERROR_INIT;
	struct cairn_buf b = CAIRN_BUF_INIT;
	struct cairn_store *st;
	json_error_t jerr;
	json_t *doc = NULL;
	const char *path;
	int status = parse_plain(cli, argc, argv, 1, 1, "no file given");

	if (status >= 0)
		return status;
	status = CLI_EXIT_FAIL;
	path = argv[optind];
	if (cairn_buf_read_file(&b, path, STATE_IMPORT_MAX, &err) < 0)
		goto out;
	doc = json_loadb(b.s, b.len, JSON_REJECT_DUPLICATES, &jerr);
	if (!doc) {
		cairn_error_set(&err, CAIRN_E_INVALID, "%s:%d:%d: invalid JSON: %s", path,
				jerr.line, jerr.column, jerr.text);
		goto out;
	}
	st = cli_store(cli, &err);
	if (!st || cairn_store_import(st, doc, &err) < 0)
		goto out;
	if (!cli->quiet) {
		size_t n = json_array_size(json_object_get(doc, "stacks"));

		fprintf(stderr, "Imported %zu stack%s into %s.\n", n, n == 1 ? "" : "s",
			cli_state_path(cli));
	}
	status = CLI_EXIT_OK;
out:
	if (cairn_error_isset(&err))
		status = cli_error(cli, &err, NULL);
	json_decref(doc);
	cairn_buf_release(&b);
	cairn_error_release(&err);
	return status;
}

/* "user@host": who forced a lock, for the record. */
static char *whoami(void)
{
	char host[256] = "localhost";
	struct passwd *pw = getpwuid(getuid());
	const char *user = pw ? pw->pw_name : getenv("USER");

	if (gethostname(host, sizeof(host)) < 0)
		snprintf(host, sizeof(host), "localhost");
	host[sizeof(host) - 1] = '\0';
	return xasprintf("%s@%s", user ? user : "?", host);
}

/* Milliseconds since the epoch as "2026-11-21T23:06:00Z". */
static void format_ms(int64_t ms, char out[32])
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	if (ms <= 0 || !gmtime_r(&t, &tm) || !strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(out, 32, "-");
}

static int state_unlock(struct cairn_cli *cli, int argc, char **argv)
{
	struct cairn_error err = CAIRN_ERROR_INIT;
	struct cairn_stack_record s = { 0 };
	struct cairn_lock_record lk = { 0 };
	struct cairn_store *st;
	const char *stack;
	char since[32], expires[32], *by = NULL;
	bool in_tx = false;
	int status = parse_plain(cli, argc, argv, 1, 1, "no stack given");

	if (status >= 0)
		return status;
	status = CLI_EXIT_FAIL;
	stack = argv[optind];
	st = cli_store(cli, &err);
	if (!st || get_stack(cli, st, stack, &s) < 0)
		goto out;
	/* One transaction, so that the holder we name is the one we removed. */
	if (cairn_store_begin(st, &err) < 0)
		goto out;
	in_tx = true;
	by = whoami();
	if (cairn_store_lock_get(st, stack, &lk, &err) < 0 ||
	    cairn_store_lock_force(st, stack, by, &err) < 0) {
		if (err.code == CAIRN_E_NOTFOUND) {
			cairn_error_release(&err);
			status = cli_fail(cli, CAIRN_E_NOTFOUND, "stack '%s' is not locked", stack);
		}
		goto out;
	}
	in_tx = false;
	if (cairn_store_commit(st, &err) < 0)
		goto out;
	format_ms(lk.acquired_ms, since);
	format_ms(lk.expires_ms, expires);
	if (cli->json)
		cli_json_print(json_pack("{s:s, s:s?, s:I, s:s, s:s, s:s}",
					 "stack", stack, "holder", lk.holder,
					 "fence", (json_int_t)lk.fence, "since", since,
					 "expires", expires, "forced_by", by), stdout);
	else if (!cli->quiet)
		fprintf(stderr, "Unlocked stack '%s' (was held by %s since %s).\n", stack,
			lk.holder ? lk.holder : "?", since);
	status = CLI_EXIT_OK;
out:
	if (in_tx)
		cairn_store_rollback(st);
	if (cairn_error_isset(&err))
		status = cli_error(cli, &err, NULL);
	free(by);
	cairn_lock_record_release(&lk);
	cairn_stack_record_release(&s);
	cairn_error_release(&err);
	return status;
}
