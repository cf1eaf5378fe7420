/*
 * cli.h - the command-line front end: one table of commands, one file per
 * command (cmd-NAME.c), and the helpers they share.
 *
 * main.c parses the global options, finds the command by unique prefix in
 * cairn_commands[] and calls it with argv starting at the command's name.
 * A command parses its own options with cli_getopt(), which also accepts the
 * global options after the command name and answers --help for it.  A
 * command that declares CMD_NEEDS_STATE may call cli_store(); the store is
 * opened on first use in the mode the table entry declares (read-only with
 * CMD_READONLY_STATE) and closed by main.c after the command returns, so a
 * command never chooses its own access mode and --help or a usage error never
 * touches the state file.  A command without CMD_NEEDS_STATE that calls
 * cli_store() is a bug.
 *
 * Ownership: struct cairn_cli belongs to main.c.  Everything a command
 * allocates it frees before returning, on every path (the tests run under
 * LeakSanitizer).  Commands return an exit status (CLI_EXIT_*).
 */
#ifndef CAIRN_CLI_CLI_H
#define CAIRN_CLI_CLI_H

#include <getopt.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "cairn/diag.h"
#include "cairn/error.h"
#include "cairn/model.h"
#include "cairn/spec.h"

struct cairn_cli;
struct cairn_store;

/* Exit statuses; see docs/cli.md and cairn(1). */
enum {
	CLI_EXIT_OK = 0,
	CLI_EXIT_FAIL = 1,        /* invalid input, a failed operation */
	CLI_EXIT_USAGE = 2,       /* wrong command line */
	CLI_EXIT_CHANGES = 2,     /* plan --detailed-exitcode: there are changes */
};

enum cairn_cmd_flags {
	CMD_NO_STATE       = 0,
	CMD_NEEDS_STATE    = 1 << 0, /* may call cli_store() */
	CMD_READONLY_STATE = 1 << 1, /* ... which opens it read-only: never written nor created */
	CMD_SUBCOMMANDS    = 1 << 2, /* options stop at the first operand, a subcommand */
	CMD_NO_TIMING      = 1 << 3, /* no "(took 0.42s)" line with -v */
};

/* Option keys that are not letters. */
enum {
	OPT_STATE = 256,
	OPT_JSON,
	OPT_NO_COLOR,
	OPT_VERSION,
	OPT_VAR,
	OPT_VAR_FILE,
	OPT_DETAILED_EXITCODE,
	OPT_NO_REFRESH,
	OPT_COMMAND_BASE = 300,   /* free for a command's own keys */
};

/* One option of a command: drives getopt_long and the --help text. */
struct cli_option {
	const char *name;         /* long name without "--"; NULL ends the table */
	int key;                  /* a letter (also the short option), or an OPT_ value */
	const char *arg;          /* the argument's name ("FILE"); NULL for a flag */
	const char *help;         /* one line */
};

/* --var and --var-file, shared by validate, plan and graph. */
#define CLI_SPEC_OPTIONS                                                        \
	{ "var", OPT_VAR, "NAME=VALUE", "set variable NAME (repeatable; wins over --var-file)" }, \
	{ "var-file", OPT_VAR_FILE, "FILE", "read variables from a YAML map (repeatable)" }

typedef int cairn_cmd_fn(struct cairn_cli *cli, int argc, char **argv);

struct cairn_cmd {
	const char *name;
	cairn_cmd_fn *fn;         /* argv[0] is the command's name */
	const char *usage;        /* after "cairn ": "plan [options] FILE" */
	const char *summary;      /* one line for the command list */
	const char *description;  /* a paragraph for --help; may be NULL */
	const struct cli_option *options;  /* may be NULL */
	unsigned flags;           /* enum cairn_cmd_flags */
	const struct cairn_cmd *sub;       /* subcommands, NULL-name-terminated */
};

struct cairn_cli {
	/* global options */
	const char *state_opt;    /* --state, borrowed from argv */
	bool json;
	bool no_color;
	bool quiet;
	int verbose;
	bool no_refresh;          /* plan, apply: --no-refresh */
	/* the running (sub)command */
	const struct cairn_cmd *cmd;
	struct cairn_store *store;
	char *state_path;         /* resolved on first use */
	int64_t start_ms;
	/* cli_getopt's tables for cmd */
	const struct cairn_cmd *opts_for;
	void *longopts;           /* struct option[] */
	char *shortopts;
};

/* The command table (main.c) and the commands (cmd-*.c). */
extern const struct cairn_cmd cairn_commands[];
extern const struct cairn_cmd cairn_global_cmd;   /* "cairn" itself: its usage and options */
extern const struct cli_option cairn_global_options[];

int cmd_validate(struct cairn_cli *cli, int argc, char **argv);
int cmd_plan(struct cairn_cli *cli, int argc, char **argv);
int cmd_apply(struct cairn_cli *cli, int argc, char **argv);
int cmd_destroy(struct cairn_cli *cli, int argc, char **argv);
int cmd_configure(struct cairn_cli *cli, int argc, char **argv);
int cmd_health(struct cairn_cli *cli, int argc, char **argv);
extern const struct cli_option cli_health_options[];
int cmd_graph(struct cairn_cli *cli, int argc, char **argv);
int cmd_state(struct cairn_cli *cli, int argc, char **argv);
int cmd_explain(struct cairn_cli *cli, int argc, char **argv);
int cmd_version(struct cairn_cli *cli, int argc, char **argv);
int cmd_help(struct cairn_cli *cli, int argc, char **argv);
int cmd_pool(struct cairn_cli *cli, int argc, char **argv);
int cmd_task(struct cairn_cli *cli, int argc, char **argv);
int cmd_provider(struct cairn_cli *cli, int argc, char **argv);
int cmd_output(struct cairn_cli *cli, int argc, char **argv);
int cmd_ssh(struct cairn_cli *cli, int argc, char **argv);
int cmd_ssh_key(struct cairn_cli *cli, int argc, char **argv);
int cmd_inventory(struct cairn_cli *cli, int argc, char **argv);
extern const struct cli_option cli_inventory_options[];
int cmd_refresh(struct cairn_cli *cli, int argc, char **argv);
int cmd_image(struct cairn_cli *cli, int argc, char **argv);
extern const struct cairn_cmd cairn_state_commands[];
extern const struct cairn_cmd cairn_pool_commands[];
extern const struct cairn_cmd cairn_image_commands[];
extern const struct cairn_cmd cairn_task_commands[];
extern const struct cairn_cmd cairn_provider_commands[];

/* ---- dispatch (main.c) -------------------------------------------------- */

/*
 * The subcommand of parent (&cairn_global_cmd for the commands) named name
 * or, failing that, the only one name is a prefix of.  Otherwise prints
 * "'frob' is not a cairn command" (with a did-you-mean) or "ambiguous
 * command 'p': plan, ..." and returns NULL.
 */
const struct cairn_cmd *cli_lookup(const struct cairn_cmd *parent, const char *name);
/* Run cmd (or its subcommand) with argv starting at its name. */
int cli_run(struct cairn_cli *cli, const struct cairn_cmd *cmd, int argc, char **argv);

/*
 * getopt_long over the running command's options and the global ones.
 * Returns the key of a command option (optarg set), -1 after the last
 * option (optind is then the first operand), or CLI_GETOPT_HELP (help
 * printed) or CLI_GETOPT_USAGE (error and usage printed); pass those two to
 * cli_getopt_status() for the exit status.
 */
enum { CLI_GETOPT_HELP = -2, CLI_GETOPT_USAGE = -3 };
int cli_getopt(struct cairn_cli *cli, int argc, char **argv);
int cli_getopt_status(int c);

/*
 * The store, opened on first use as the running command's flags say.
 * NULL with err set when it cannot be opened.
 */
struct cairn_store *cli_store(struct cairn_cli *cli, struct cairn_error *err);
/* --state, else $CAIRN_STATE, else the default location. */
const char *cli_state_path(struct cairn_cli *cli);
/* Where providers keep their files: STATE_DIR/run.  Caller frees. */
char *cli_run_dir(struct cairn_cli *cli);
/* Refresh the records of a stack from its providers (cairn_engine_refresh()),
 * as plan, apply and refresh do. */
struct cairn_refresh_result;
struct cairn_resource_record;
struct cairn_plan;
int cli_refresh(struct cairn_cli *cli, struct cairn_store *st, const struct cairn_model *m,
		const char *stack, bool write, struct cairn_resource_record **recs, size_t *n,
		struct cairn_refresh_result *rr, struct cairn_error *err);
/* Say "deleted outside cairn" in the changes of what a refresh found gone. */
void cli_mark_gone(struct cairn_plan *p, const struct cairn_refresh_result *rr);

/* The key-encryption key of the stacks' secrets: STATE.kek, beside the
 * state.  Caller frees. */
char *cli_kek_path(struct cairn_cli *cli);

/* ---- operands and subcommands (subcommand.c) ------------------------------ */

/*
 * For a command without options of its own: parse the options (only the
 * global ones), then check for min..max operands; missing is the message
 * when there are fewer ("no pool given").  Returns -1 to go on (optind is
 * the first operand), else the exit status, the error printed.
 */
int cli_operands(struct cairn_cli *cli, int argc, char **argv, int min, int max,
		 const char *missing);

/*
 * The body of a CMD_SUBCOMMANDS command ("pool", "task"): the global
 * options, then the subcommand named by the first operand, run with
 * cli_run().  names lists the subcommands for the message when none is
 * given ("list, show, create, remove").
 */
int cli_subcommand(struct cairn_cli *cli, int argc, char **argv, const char *names);

/* ---- stack files (load.c) ---------------------------------------------- */

/* --var / --var-file values collected while parsing. */
struct cli_spec_args {
	const char **vars;
	size_t nvars, avars;
	const char **files;
	size_t nfiles, afiles;
};
#define CLI_SPEC_ARGS_INIT { NULL, 0, 0, NULL, 0, 0 }

/*
 * cli_getopt() for the commands that load stack files (validate, plan,
 * graph): --var and --var-file go into a, the command's other keys are
 * returned.  After the last option it checks the operands (one stack file,
 * or with many at least one) and returns -1 when they are right, optind
 * then the first file.  A bad --var or operand is a usage error, printed:
 * CLI_GETOPT_USAGE.
 */
int cli_spec_getopt(struct cairn_cli *cli, int argc, char **argv,
		    struct cli_spec_args *a, bool many);
void cli_spec_args_release(struct cli_spec_args *a);

/*
 * Load the stack in path with a's variables, its diagnostics into diags;
 * the ones without a location (an unreadable, empty or binary file) are
 * attributed to path, so that they print as "path: error: ...".  Returns
 * the model, or NULL when it is invalid.  The sources must outlive the model.
 */
struct cairn_model *cli_spec_load(const char *path, const struct cli_spec_args *a,
				  struct cairn_sources *sources,
				  struct cairn_diags *diags);

/* cli_spec_load(), printing the diagnostics (warnings too) to stderr. */
struct cairn_model *cli_load(struct cairn_cli *cli, const char *path,
			     const struct cli_spec_args *a,
			     struct cairn_sources *sources);

/*
 * The model of a stored design (the validated stack as cairn_store_design_get
 * gives it), for the commands that act on a stack without its file (task
 * retry).  Diagnostics are printed; NULL when it does not load.
 */
struct cairn_model *cli_load_design(struct cairn_cli *cli, const char *stack,
				    const json_t *design, struct cairn_sources *sources);

/* ---- apply (cmd-apply.c) ------------------------------------------------- */

struct cairn_engine_opts;

/* The keys of the options that run the engine (apply, destroy, task retry). */
enum {
	OPT_ENGINE_PARALLELISM = OPT_COMMAND_BASE,
	OPT_ENGINE_AUTO_APPROVE,
	OPT_ENGINE_LOCK_TIMEOUT,
	OPT_ENGINE_END,           /* a command's further keys start here */
};
/*
 * Take option key c if it is one of those: -1 when it is not, 0 when it was
 * taken into o (or *auto_approve), else the exit status of its bad value,
 * the usage error printed.
 */
int cli_engine_option(struct cairn_cli *cli, int c, struct cairn_engine_opts *o,
		      bool *auto_approve);
/*
 * Plan m against the state, restricted by keep (NULL: everything; see
 * cairn_plan_restrict), show it, confirm unless auto_approve, run the engine
 * with o, report progress and the summary.  Returns the exit status.
 */
int cli_run_apply(struct cairn_cli *cli, const struct cairn_model *m,
		  const struct cairn_sources *sources, struct cairn_engine_opts *o,
		  bool auto_approve, bool (*keep)(const char *address, void *ctx), void *keep_ctx);

/* ---- output (output.c; help in cmd-help.c, version in cmd-version.c) ------ */

/* Colour on f: f is a terminal, no --no-color, NO_COLOR unset or empty, TERM not "dumb". */
bool cli_color(const struct cairn_cli *cli, FILE *f);

/* Print j (pretty, indent 2, then a newline) to f and drop the reference. */
void cli_json_print(json_t *j, FILE *f);

/*
 * A library error, to stderr: cairn_error_print() (with a location, the
 * source line and a caret; otherwise "cairn: message" and its note and
 * hint).  With --json, one JSON line {"error": {"code", "message", ...}}
 * instead.  Returns CLI_EXIT_FAIL.
 */
int cli_error(struct cairn_cli *cli, const struct cairn_error *err,
	      const struct cairn_sources *sources);
/* The same for an error the CLI itself finds. */
int cli_fail(struct cairn_cli *cli, enum cairn_errcode code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Diagnostics of a load, to stderr. */
void cli_diags_print(const struct cairn_cli *cli, const struct cairn_diags *d,
		     const struct cairn_sources *s);

/* "cairn: MESSAGE" (when fmt is not NULL) and the running command's usage
 * on stderr; returns CLI_EXIT_USAGE. */
int cli_usage_error(struct cairn_cli *cli, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* The help of a command (usage, description, options, subcommands). */
void cli_help_command(const struct cairn_cmd *cmd, FILE *out);
/* The help of cairn itself (global options, the command list). */
void cli_help_global(FILE *out);
/* "cairn 0.1.0" and, when verbose, the libraries'; or JSON. */
void cli_print_version(const struct cairn_cli *cli, FILE *out);

/* {"removed": name} with --json, else "Removed WHAT 'name'." unless --quiet. */
void cli_print_removed(const struct cairn_cli *cli, const char *what,
		       const char *name);

/* A text table with aligned columns. */
struct cli_table {
	size_t ncols;
	char **cells;             /* rows * ncols, owned */
	size_t n, alloc;          /* cells */
};
void cli_table_init(struct cli_table *t, size_t ncols);
/* Append a row of ncols strings (copied; NULL prints as "-"). */
void cli_table_row(struct cli_table *t, ...);
void cli_table_print(const struct cli_table *t, FILE *out);
void cli_table_release(struct cli_table *t);

/*
 * Print a list of n records of size bytes at v: with --json the array of
 * to_json() of each; none of them, "cairn: " and the message none on stderr
 * unless --quiet; else table t, its header and rows filled by the caller.
 * t is released.
 */
void cli_print_list(const struct cairn_cli *cli, const void *v, size_t n,
		    size_t size, json_t *(*to_json)(const void *rec),
		    struct cli_table *t, const char *none, ...)
	__attribute__((format(printf, 7, 8)));

#endif
