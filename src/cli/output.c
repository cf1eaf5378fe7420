#include "util/common.h"

#include <stdarg.h>
#include <unistd.h>

#include "cli/cli.h"

bool cli_color(const struct cairn_cli *cli, FILE *f)
{
	const char *no_color = getenv("NO_COLOR");
	const char *term = getenv("TERM");

	/* no-color.org: any non-empty NO_COLOR turns colour off. */
	if (cli->no_color || (no_color && *no_color))
		return false;
	if (term && !strcmp(term, "dumb"))
		return false;
	return isatty(fileno(f)) == 1;
}

void cli_json_print(json_t *j, FILE *f)
{
	if (!j)
		BUG("no JSON to print");
	json_dumpf(j, f, JSON_INDENT(2) | JSON_ENCODE_ANY);
	fputc('\n', f);
	json_decref(j);
}

void cli_print_removed(const struct cairn_cli *cli, const char *what,
		       const char *name)
{
	if (cli->json)
		cli_json_print(json_pack("{s:s}", "removed", name), stdout);
	else if (!cli->quiet)
		fprintf(stderr, "Removed %s '%s'.\n", what, name);
}

void cli_print_list(const struct cairn_cli *cli, const void *v, size_t n,
		    size_t size, json_t *(*to_json)(const void *rec),
		    struct cli_table *t, const char *none, ...)
{
	va_list ap;

	if (cli->json) {
		json_t *a = json_array();

		for (size_t i = 0; i < n; i++)
			json_array_append_new(a, to_json((const char *)v + i * size));
		cli_json_print(a, stdout);
	} else if (n == 0) {
		if (!cli->quiet) {
			fputs("cairn: ", stderr);
			va_start(ap, none);
			vfprintf(stderr, none, ap);
			va_end(ap);
			fputc('\n', stderr);
		}
	} else {
		cli_table_print(t, stdout);
	}
	cli_table_release(t);
}

static void error_json(const struct cairn_error *err)
{
	json_t *e = json_object(), *doc;
	char *s;

	json_object_set_new(e, "code", json_string(cairn_errcode_name(err->code)));
	json_object_set_new(e, "message", json_string(err->message ? err->message : ""));
	if (err->hint)
		json_object_set_new(e, "hint", json_string(err->hint));
	if (err->context)
		json_object_set_new(e, "context", json_string(err->context));
	if (err->loc.file) {
		json_object_set_new(e, "file", json_string(err->loc.file));
		json_object_set_new(e, "line", json_integer(err->loc.line));
		json_object_set_new(e, "column", json_integer(err->loc.col));
	}
	doc = json_pack("{s:o}", "error", e);
	s = json_dumps(doc, JSON_COMPACT);
	fprintf(stderr, "%s\n", s);
	free(s);
	json_decref(doc);
}

int cli_error(struct cairn_cli *cli, const struct cairn_error *err,
	      const struct cairn_sources *sources)
{
	static const struct cairn_sources none = CAIRN_SOURCES_INIT;

	if (!cairn_error_isset(err))
		BUG("reporting an error that is not set");
	if (cli->json)
		error_json(err);
	else
		cairn_error_print(err, sources ? sources : &none, stderr,
				  cli_color(cli, stderr));
	return CLI_EXIT_FAIL;
}

int cli_fail(struct cairn_cli *cli, enum cairn_errcode code, const char *fmt, ...)
{
	struct cairn_error err = CAIRN_ERROR_INIT;
	va_list ap;

	va_start(ap, fmt);
	cairn_error_setv(&err, code, CAIRN_LOC_NONE, fmt, ap);
	va_end(ap);
	cli_error(cli, &err, NULL);
	cairn_error_release(&err);
	return CLI_EXIT_FAIL;
}

void cli_diags_print(const struct cairn_cli *cli, const struct cairn_diags *d,
		     const struct cairn_sources *s)
{
	if (d->n)
		cairn_diags_print(d, s, stderr, cli_color(cli, stderr));
}

int cli_usage_error(struct cairn_cli *cli, const char *fmt, ...)
{
	va_list ap;

	if (fmt) {
		fputs("cairn: ", stderr);
		va_start(ap, fmt);
		vfprintf(stderr, fmt, ap);
		va_end(ap);
		fputc('\n', stderr);
	}
	fprintf(stderr, "usage: cairn %s\n", cli->cmd->usage);
	if (cli->cmd == &cairn_global_cmd) {
		fputs("See 'cairn --help'.\n", stderr);
	} else {
		/* The command's words lead its usage: "state show STACK". */
		const char *u = cli->cmd->usage;
		size_t n = 0;

		while (u[n] && (u[n] == ' ' || (u[n] >= 'a' && u[n] <= 'z')))
			n++;
		while (n && u[n - 1] == ' ')
			n--;
		fprintf(stderr, "See 'cairn help %.*s'.\n", (int)n, u);
	}
	return CLI_EXIT_USAGE;
}

/* ---- tables ----------------------------------------------------------------- */

void cli_table_init(struct cli_table *t, size_t ncols)
{
	*t = (struct cli_table){ .ncols = ncols };
}

void cli_table_row(struct cli_table *t, ...)
{
	va_list ap;

	ALLOC_GROW(t->cells, t->n + t->ncols, t->alloc);
	va_start(ap, t);
	for (size_t i = 0; i < t->ncols; i++) {
		const char *s = va_arg(ap, const char *);

		t->cells[t->n++] = xstrdup(s ? s : "-");
	}
	va_end(ap);
}

void cli_table_print(const struct cli_table *t, FILE *out)
{
	size_t *w = xcalloc(t->ncols ? t->ncols : 1, sizeof(*w));

	for (size_t i = 0; i < t->n; i++) {
		size_t len = strlen(t->cells[i]);

		if (len > w[i % t->ncols])
			w[i % t->ncols] = len;
	}
	for (size_t i = 0; i < t->n; i++) {
		size_t col = i % t->ncols;

		if (col + 1 == t->ncols)
			fprintf(out, "%s\n", t->cells[i]);
		else
			fprintf(out, "%-*s  ", (int)w[col], t->cells[i]);
	}
	free(w);
}

void cli_table_release(struct cli_table *t)
{
	for (size_t i = 0; i < t->n; i++)
		free(t->cells[i]);
	free(t->cells);
	cli_table_init(t, t->ncols);
}
