/*
 * Unit tests for util/diag.c: source texts, collecting diagnostics, sorting
 * them, and rendering them as text (with the source line and a caret) and
 * as JSON; cairn_error_print() for errors outside validation.
 *
 * The rendering tests are tables: a source text, a location, a message and a
 * hint, and the exact text expected on the output.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "util/common.h"

#include "cairn/diag.h"

/* Everything fn writes to a FILE, as a malloc'ed string. */
struct capture {
	char *s;
	size_t len;
	FILE *f;
};

static FILE *capture_start(struct capture *c)
{
	c->s = NULL;
	c->len = 0;
	c->f = open_memstream(&c->s, &c->len);
	assert_non_null(c->f);
	return c->f;
}

static char *capture_end(struct capture *c)
{
	fclose(c->f);
	return c->s;
}

static const struct cairn_source *add_source(struct cairn_sources *s, const char *path,
					     const char *text)
{
	return cairn_sources_add(s, path, xstrdup(text), strlen(text));
}

/* ---- sources ---------------------------------------------------------------- */

static void test_sources(void **state)
{
	struct cairn_sources s = CAIRN_SOURCES_INIT;
	const struct cairn_source *a, *b;
	const char *cmd, *cmd2;
	char name[16];

	(void)state;
	a = add_source(&s, "a.yml", "stack: a\n");
	b = add_source(&s, "sub/b.yml", "x: 1\n");
	assert_int_equal(s.n, 2);
	assert_string_equal(a->path, "a.yml");
	assert_string_equal(a->text, "stack: a\n");
	assert_int_equal(a->len, 9);
	/* found by the very pointer, and by an equal name */
	assert_ptr_equal(cairn_sources_find(&s, a->path), a);
	snprintf(name, sizeof(name), "sub/b.yml");
	assert_ptr_equal(cairn_sources_find(&s, name), b);
	assert_null(cairn_sources_find(&s, "c.yml"));
	assert_null(cairn_sources_find(&s, NULL));
	assert_null(cairn_sources_find(NULL, "a.yml"));
	/* interning: one pointer per name, no text; known names are reused */
	cmd = cairn_sources_intern(&s, "<command line>");
	cmd2 = cairn_sources_intern(&s, "<command line>");
	assert_ptr_equal(cmd, cmd2);
	assert_string_equal(cmd, "<command line>");
	assert_int_equal(s.n, 3);
	assert_null(cairn_sources_find(&s, cmd)->text);
	assert_ptr_equal(cairn_sources_intern(&s, "a.yml"), a->path);
	assert_int_equal(s.n, 3);
	cairn_sources_release(&s);
	assert_int_equal(s.n, 0);
	assert_null(s.v);
	cairn_sources_release(&s);
}

/* ---- collecting ---------------------------------------------------------------- */

static void test_add_and_hint(void **state)
{
	struct cairn_diags d = CAIRN_DIAGS_INIT;
	struct cairn_loc loc = { "x.yml", 3, 7 };
	struct cairn_error err = CAIRN_ERROR_INIT;

	(void)state;
	/* a hint with nothing to attach to is ignored */
	cairn_diag_hint(&d, "lost");
	assert_int_equal(d.n, 0);

	cairn_diag_add(&d, CAIRN_SEV_ERROR, loc, "unknown key '%s' in %s", "memroy", "plan 'small'");
	cairn_diag_add(&d, CAIRN_SEV_WARNING, CAIRN_LOC_NONE, "%d things", 3);
	assert_int_equal(d.n, 2);
	assert_int_equal(d.nerrors, 1);
	assert_string_equal(d.v[0].message, "unknown key 'memroy' in plan 'small'");
	assert_null(d.v[0].hint);
	assert_int_equal(d.v[0].loc.line, 3);
	assert_int_equal(d.v[0].loc.col, 7);
	assert_int_equal(d.v[1].severity, CAIRN_SEV_WARNING);
	/* the hint goes to the last one; a second hint replaces the first */
	cairn_diag_hint(&d, "first");
	cairn_diag_hint(&d, "did you mean '%s'?", "memory");
	assert_null(d.v[0].hint);
	assert_string_equal(d.v[1].hint, "did you mean 'memory'?");

	/* an error object becomes a diagnostic: message, hint, location */
	cairn_diag_add_error(&d, &err);            /* not set: nothing */
	assert_int_equal(d.n, 2);
	cairn_error_set_at(&err, CAIRN_E_INVALID, loc, "bad size '%s'", "5XB");
	cairn_error_hint(&err, "units are B, KiB, MiB");
	cairn_diag_add_error(&d, &err);
	assert_int_equal(d.n, 3);
	assert_int_equal(d.nerrors, 2);
	assert_string_equal(d.v[2].message, "bad size '5XB'");
	assert_string_equal(d.v[2].hint, "units are B, KiB, MiB");
	assert_ptr_equal(d.v[2].loc.file, loc.file);
	assert_int_equal(d.v[2].loc.line, 3);
	cairn_error_release(&err);

	cairn_diags_release(&d);
	assert_int_equal(d.n, 0);
	assert_int_equal(d.nerrors, 0);
	cairn_diags_release(&d);
}

/* ---- rendering --------------------------------------------------------------------- */

static void test_print(void **state)
{
	static const struct {
		const char *text;       /* of "stack.yml" */
		int line, col;
		enum cairn_severity sev;
		const char *message, *hint;
		const char *want;
	} cases[] = {
		/* the example of diag.h */
		{ "stack: demo\nplans:\n  small:\n    memroy: 1GiB\n", 4, 5, CAIRN_SEV_ERROR,
		  "unknown key 'memroy' in plan 'small'", "did you mean 'memory'?",
		  "stack.yml:4:5: error: unknown key 'memroy' in plan 'small'\n"
		  "   4 |     memroy: 1GiB\n"
		  "     |     ^\n"
		  "     = hint: did you mean 'memory'?\n" },
		/* no hint; column 1 */
		{ "a: 1\n", 1, 1, CAIRN_SEV_ERROR, "the stack has no name", NULL,
		  "stack.yml:1:1: error: the stack has no name\n"
		  "   1 | a: 1\n"
		  "     | ^\n" },
		/* a warning */
		{ "a: 1\n", 1, 4, CAIRN_SEV_WARNING, "odd value", NULL,
		  "stack.yml:1:4: warning: odd value\n"
		  "   1 | a: 1\n"
		  "     |    ^\n" },
		/* tabs before the column are kept, so the caret lines up */
		{ "x:\n\tkey:\tvalue\n", 2, 7, CAIRN_SEV_ERROR, "bad", NULL,
		  "stack.yml:2:7: error: bad\n"
		  "   2 | \tkey:\tvalue\n"
		  "     | \t    \t^\n" },
		/* columns are characters: UTF-8 before the column counts once */
		{ "é: ü\n", 1, 4, CAIRN_SEV_ERROR, "bad", NULL,
		  "stack.yml:1:4: error: bad\n"
		  "   1 | é: ü\n"
		  "     |    ^\n" },
		{ "名前: [値, x]\n", 1, 9, CAIRN_SEV_ERROR, "bad", NULL,
		  "stack.yml:1:9: error: bad\n"
		  "   1 | 名前: [値, x]\n"
		  "     |         ^\n" },
		/* CRLF: the carriage return is not shown */
		{ "a: 1\r\nb: x\r\n", 2, 4, CAIRN_SEV_ERROR, "bad", NULL,
		  "stack.yml:2:4: error: bad\n"
		  "   2 | b: x\n"
		  "     |    ^\n" },
		/* a column past the end of the line: the caret after the text */
		{ "ab\n", 1, 9, CAIRN_SEV_ERROR, "bad", NULL,
		  "stack.yml:1:9: error: bad\n"
		  "   1 | ab\n"
		  "     |   ^\n" },
		/* the last line without a newline */
		{ "a: 1\nlast", 2, 2, CAIRN_SEV_ERROR, "bad", NULL,
		  "stack.yml:2:2: error: bad\n"
		  "   2 | last\n"
		  "     |  ^\n" },
		/* an empty line */
		{ "a: 1\n\nb: 2\n", 2, 1, CAIRN_SEV_ERROR, "bad", NULL,
		  "stack.yml:2:1: error: bad\n"
		  "   2 | \n"
		  "     | ^\n" },
		/* a line past the end of the text: no source line, no caret */
		{ "a: 1\n", 9, 1, CAIRN_SEV_ERROR, "bad", "try again",
		  "stack.yml:9:1: error: bad\n"
		  "     = hint: try again\n" },
		/* line 0: the whole file, one line */
		{ "a: 1\n", 0, 0, CAIRN_SEV_ERROR, "not a text file: it contains NUL bytes", NULL,
		  "stack.yml: error: not a text file: it contains NUL bytes\n" },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct cairn_sources s = CAIRN_SOURCES_INIT;
		struct cairn_diags d = CAIRN_DIAGS_INIT;
		const struct cairn_source *src = add_source(&s, "stack.yml", cases[i].text);
		struct cairn_loc loc = { src->path, cases[i].line, cases[i].col };
		struct capture c;
		char *out;

		cairn_diag_add(&d, cases[i].sev, loc, "%s", cases[i].message);
		if (cases[i].hint)
			cairn_diag_hint(&d, "%s", cases[i].hint);
		cairn_diags_print(&d, &s, capture_start(&c), false);
		out = capture_end(&c);
		if (strcmp(out, cases[i].want))
			fail_msg("case %zu:\n--- got\n%s--- want\n%s", i, out, cases[i].want);
		free(out);
		cairn_diags_release(&d);
		cairn_sources_release(&s);
	}
}

/* The gutter grows with the line number. */
static void test_print_wide_gutter(void **state)
{
	struct cairn_sources s = CAIRN_SOURCES_INIT;
	struct cairn_diags d = CAIRN_DIAGS_INIT;
	struct cairn_buf text = CAIRN_BUF_INIT;
	const struct cairn_source *src;
	struct capture c;
	size_t len;
	char *out, *t;

	(void)state;
	for (int i = 1; i <= 12345; i++)
		cairn_buf_addf(&text, "k%d: %d\n", i, i);
	t = cairn_buf_detach(&text, &len);
	src = cairn_sources_add(&s, "big.yml", t, len);
	cairn_diag_add(&d, CAIRN_SEV_ERROR, (struct cairn_loc){ src->path, 12345, 9 }, "bad");
	cairn_diag_hint(&d, "h");
	cairn_diag_add(&d, CAIRN_SEV_ERROR, (struct cairn_loc){ src->path, 99, 1 }, "bad");
	cairn_diags_print(&d, &s, capture_start(&c), false);
	out = capture_end(&c);
	assert_string_equal(out,
		"big.yml:12345:9: error: bad\n"
		" 12345 | k12345: 12345\n"
		"       |         ^\n"
		"       = hint: h\n"
		"big.yml:99:1: error: bad\n"
		"  99 | k99: 99\n"
		"     | ^\n");
	free(out);
	cairn_diags_release(&d);
	cairn_sources_release(&s);
}

/* Without a location a diagnostic is one line; a location naming a file
 * that is not among the sources shows no source line. */
static void test_print_without_source(void **state)
{
	static const struct {
		struct cairn_loc loc;
		const char *hint;
		const char *want;
	} cases[] = {
		{ { NULL, 0, 0 }, NULL, "error: no stack file given\n" },
		{ { NULL, 0, 0 }, "try 'cairn help'", "error: no stack file given\n     = hint: try 'cairn help'\n" },
		{ { "<command line>", 0, 0 }, NULL, "<command line>: error: no stack file given\n" },
		{ { "gone.yml", 3, 4 }, NULL, "gone.yml:3:4: error: no stack file given\n" },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct cairn_sources s = CAIRN_SOURCES_INIT;
		struct cairn_diags d = CAIRN_DIAGS_INIT;
		struct capture c;
		char *out;

		add_source(&s, "stack.yml", "a: 1\nb: 2\nc: 3\n");
		cairn_diag_add(&d, CAIRN_SEV_ERROR, cases[i].loc, "no stack file given");
		if (cases[i].hint)
			cairn_diag_hint(&d, "%s", cases[i].hint);
		cairn_diags_print(&d, &s, capture_start(&c), false);
		out = capture_end(&c);
		if (strcmp(out, cases[i].want))
			fail_msg("case %zu:\n--- got\n%s--- want\n%s", i, out, cases[i].want);
		free(out);
		/* with no sources at all, the same */
		cairn_diags_print(&d, NULL, capture_start(&c), false);
		out = capture_end(&c);
		assert_string_equal(out, cases[i].want);
		free(out);
		cairn_diags_release(&d);
		cairn_sources_release(&s);
	}
}

static void test_print_color(void **state)
{
	struct cairn_sources s = CAIRN_SOURCES_INIT;
	struct cairn_diags d = CAIRN_DIAGS_INIT;
	const struct cairn_source *src = add_source(&s, "stack.yml", "a: 1\n");
	struct capture c;
	char *plain, *color;

	(void)state;
	cairn_diag_add(&d, CAIRN_SEV_ERROR, (struct cairn_loc){ src->path, 1, 4 }, "bad value");
	cairn_diag_hint(&d, "a hint");
	cairn_diag_add(&d, CAIRN_SEV_WARNING, (struct cairn_loc){ src->path, 1, 1 }, "odd key");
	cairn_diags_print(&d, &s, capture_start(&c), false);
	plain = capture_end(&c);
	cairn_diags_print(&d, &s, capture_start(&c), true);
	color = capture_end(&c);

	assert_null(strchr(plain, '\033'));
	assert_non_null(strchr(color, '\033'));
	/* error in red, warning in yellow, the caret in the severity's colour,
	 * every escape closed */
	assert_non_null(strstr(color, "\033[1;31merror:\033[0m"));
	assert_non_null(strstr(color, "\033[1;33mwarning:\033[0m"));
	assert_non_null(strstr(color, "\033[1;31m^\033[0m"));
	assert_non_null(strstr(color, "\033[1;33m^\033[0m"));
	assert_non_null(strstr(color, "hint:\033[0m a hint"));
	assert_non_null(strstr(color, "bad value\033[0m\n"));
	/* the same text once the escapes are taken out */
	{
		struct cairn_buf b = CAIRN_BUF_INIT;

		for (const char *p = color; *p; p++) {
			if (*p == '\033') {
				while (*p && *p != 'm')
					p++;
				continue;
			}
			cairn_buf_addch(&b, *p);
		}
		assert_string_equal(b.s, plain);
		cairn_buf_release(&b);
	}
	free(plain);
	free(color);
	cairn_diags_release(&d);
	cairn_sources_release(&s);
}

static void test_to_json(void **state)
{
	struct cairn_diags d = CAIRN_DIAGS_INIT;
	json_t *j, *o;
	char *text;

	(void)state;
	cairn_diag_add(&d, CAIRN_SEV_ERROR, (struct cairn_loc){ "s.yml", 4, 5 },
		       "unknown key 'memroy'");
	cairn_diag_hint(&d, "did you mean 'memory'?");
	cairn_diag_add(&d, CAIRN_SEV_WARNING, CAIRN_LOC_NONE, "quote \"this\"");
	j = cairn_diags_to_json(&d);
	assert_true(json_is_array(j));
	assert_int_equal(json_array_size(j), 2);
	o = json_array_get(j, 0);
	assert_int_equal(json_object_size(o), 6);
	assert_string_equal(json_string_value(json_object_get(o, "severity")), "error");
	assert_string_equal(json_string_value(json_object_get(o, "file")), "s.yml");
	assert_int_equal(json_integer_value(json_object_get(o, "line")), 4);
	assert_int_equal(json_integer_value(json_object_get(o, "column")), 5);
	assert_string_equal(json_string_value(json_object_get(o, "message")), "unknown key 'memroy'");
	assert_string_equal(json_string_value(json_object_get(o, "hint")), "did you mean 'memory'?");
	o = json_array_get(j, 1);
	assert_string_equal(json_string_value(json_object_get(o, "severity")), "warning");
	assert_true(json_is_null(json_object_get(o, "file")));
	assert_int_equal(json_integer_value(json_object_get(o, "line")), 0);
	assert_true(json_is_null(json_object_get(o, "hint")));
	text = json_dumps(o, JSON_SORT_KEYS | JSON_COMPACT);
	assert_string_equal(text, "{\"column\":0,\"file\":null,\"hint\":null,\"line\":0,"
			    "\"message\":\"quote \\\"this\\\"\",\"severity\":\"warning\"}");
	free(text);
	json_decref(j);
	/* none: an empty array */
	cairn_diags_release(&d);
	j = cairn_diags_to_json(&d);
	assert_int_equal(json_array_size(j), 0);
	json_decref(j);
}

/* ---- sorting ------------------------------------------------------------------------ */

static void test_sort(void **state)
{
	struct cairn_sources s = CAIRN_SOURCES_INIT;
	struct cairn_diags d = CAIRN_DIAGS_INIT;
	const char *a = add_source(&s, "root.yml", "x\n")->path;
	const char *b = add_source(&s, "inc.yml", "y\n")->path;
	char a_copy[16];
	static const char *const want[] = {
		"(none):0:0: without a file",
		"root.yml:1:1: a1",
		"root.yml:2:3: a2 first",
		"root.yml:2:3: a2 second",
		"root.yml:2:9: a2 later",
		"root.yml:10:1: a10",
		"inc.yml:1:1: b1",
		"inc.yml:5:2: b5",
		"other.yml:1:1: not a source",
	};

	(void)state;
	/* the same file by another pointer: ranked the same */
	snprintf(a_copy, sizeof(a_copy), "root.yml");
	cairn_diag_add(&d, CAIRN_SEV_ERROR, (struct cairn_loc){ b, 5, 2 }, "b5");
	cairn_diag_add(&d, CAIRN_SEV_ERROR, (struct cairn_loc){ "other.yml", 1, 1 }, "not a source");
	cairn_diag_add(&d, CAIRN_SEV_ERROR, (struct cairn_loc){ a, 10, 1 }, "a10");
	cairn_diag_add(&d, CAIRN_SEV_ERROR, (struct cairn_loc){ a, 2, 3 }, "a2 first");
	cairn_diag_add(&d, CAIRN_SEV_WARNING, (struct cairn_loc){ b, 1, 1 }, "b1");
	cairn_diag_add(&d, CAIRN_SEV_ERROR, (struct cairn_loc){ a_copy, 2, 9 }, "a2 later");
	cairn_diag_hint(&d, "hint of a2 later");
	cairn_diag_add(&d, CAIRN_SEV_ERROR, (struct cairn_loc){ a, 2, 3 }, "a2 second");
	cairn_diag_add(&d, CAIRN_SEV_ERROR, CAIRN_LOC_NONE, "without a file");
	cairn_diag_add(&d, CAIRN_SEV_ERROR, (struct cairn_loc){ a, 1, 1 }, "a1");
	assert_int_equal(d.nerrors, 8);
	cairn_diags_sort(&d, &s);
	assert_int_equal(d.n, ARRAY_SIZE(want));
	for (size_t i = 0; i < d.n; i++) {
		char got[128];

		snprintf(got, sizeof(got), "%s:%d:%d: %s", d.v[i].loc.file ? d.v[i].loc.file : "(none)",
			 d.v[i].loc.line, d.v[i].loc.col, d.v[i].message);
		if (strcmp(got, want[i]))
			fail_msg("position %zu: got '%s', want '%s'", i, got, want[i]);
	}
	/* hints travel with their diagnostic */
	assert_string_equal(d.v[4].hint, "hint of a2 later");
	assert_null(d.v[3].hint);
	assert_int_equal(d.nerrors, 8);
	cairn_diags_release(&d);
	cairn_sources_release(&s);
}

/* The same message at the same place is reported once (one YAML body can
 * stand for several declarations); the error count follows. */
static void test_sort_drops_duplicates(void **state)
{
	struct cairn_sources s = CAIRN_SOURCES_INIT;
	struct cairn_diags d = CAIRN_DIAGS_INIT;
	const char *a = add_source(&s, "root.yml", "x\n")->path;

	(void)state;
	for (int i = 0; i < 3; i++) {
		cairn_diag_add(&d, CAIRN_SEV_ERROR, (struct cairn_loc){ a, 4, 3 }, "unknown key 'x'");
		cairn_diag_add(&d, CAIRN_SEV_ERROR, (struct cairn_loc){ a, 4, 3 }, "other message");
		cairn_diag_add(&d, CAIRN_SEV_ERROR, (struct cairn_loc){ a, 4, 4 }, "unknown key 'x'");
		cairn_diag_add(&d, CAIRN_SEV_WARNING, (struct cairn_loc){ a, 1, 1 }, "a warning");
	}
	assert_int_equal(d.n, 12);
	assert_int_equal(d.nerrors, 9);
	cairn_diags_sort(&d, &s);
	assert_int_equal(d.n, 4);
	assert_int_equal(d.nerrors, 3);
	assert_string_equal(d.v[0].message, "a warning");
	assert_string_equal(d.v[1].message, "unknown key 'x'");
	assert_int_equal(d.v[1].loc.col, 3);
	assert_string_equal(d.v[2].message, "other message");
	assert_string_equal(d.v[3].message, "unknown key 'x'");
	assert_int_equal(d.v[3].loc.col, 4);
	/* sorting again changes nothing */
	cairn_diags_sort(&d, &s);
	assert_int_equal(d.n, 4);
	assert_int_equal(d.nerrors, 3);
	cairn_diags_release(&d);
	cairn_sources_release(&s);
}

/* ---- the cap ---------------------------------------------------------------------------- */

static void test_max(void **state)
{
	struct cairn_sources s = CAIRN_SOURCES_INIT;
	struct cairn_diags d = CAIRN_DIAGS_INIT;
	struct capture c;
	char *out;

	(void)state;
	d.max = 3;
	for (int i = 1; i <= 7; i++)
		cairn_diag_add(&d, CAIRN_SEV_ERROR, CAIRN_LOC_NONE, "error %d", i);
	assert_int_equal(d.n, 3);
	assert_int_equal(d.nerrors, 7);
	cairn_diags_print(&d, &s, capture_start(&c), false);
	out = capture_end(&c);
	assert_string_equal(out, "error: error 1\nerror: error 2\nerror: error 3\n"
				 "... and 4 more errors\n");
	free(out);
	cairn_diags_release(&d);

	/* the cap is configuration: release keeps it */
	assert_int_equal(d.max, 3);

	/* the default cap is 1000 */
	d.max = 0;
	for (int i = 0; i < 1500; i++)
		cairn_diag_add(&d, CAIRN_SEV_ERROR, CAIRN_LOC_NONE, "e");
	assert_int_equal(d.n, 1000);
	assert_int_equal(d.nerrors, 1500);
	cairn_diags_print(&d, &s, capture_start(&c), false);
	out = capture_end(&c);
	assert_non_null(strstr(out, "\n... and 500 more errors\n"));
	free(out);
	cairn_diags_release(&d);
}

/* Past the cap, the hint of a dropped diagnostic is dropped with it: it
 * does not replace the hint of the last one recorded. */
static void test_max_hint(void **state)
{
	struct cairn_diags d = CAIRN_DIAGS_INIT;

	(void)state;
	d.max = 1;
	cairn_diag_add(&d, CAIRN_SEV_ERROR, CAIRN_LOC_NONE, "unknown key 'memroy'");
	cairn_diag_hint(&d, "did you mean 'memory'?");
	cairn_diag_add(&d, CAIRN_SEV_ERROR, CAIRN_LOC_NONE, "unknown plan 'smal'");
	cairn_diag_hint(&d, "did you mean 'small'?");
	assert_int_equal(d.n, 1);
	assert_string_equal(d.v[0].hint, "did you mean 'memory'?");
	cairn_diags_release(&d);
}

/* "... and N more errors" counts the errors left out, not warnings, and
 * not the errors recorded; one is "1 more error". */
static void test_max_count(void **state)
{
	struct cairn_diags d = CAIRN_DIAGS_INIT;
	struct capture c;
	char *out;

	(void)state;
	d.max = 2;
	cairn_diag_add(&d, CAIRN_SEV_WARNING, CAIRN_LOC_NONE, "w1");
	cairn_diag_add(&d, CAIRN_SEV_WARNING, CAIRN_LOC_NONE, "w2");
	for (int i = 0; i < 3; i++)
		cairn_diag_add(&d, CAIRN_SEV_ERROR, CAIRN_LOC_NONE, "e%d", i);
	cairn_diags_print(&d, NULL, capture_start(&c), false);
	out = capture_end(&c);
	assert_string_equal(out, "warning: w1\nwarning: w2\n... and 3 more errors\n");
	free(out);
	cairn_diags_release(&d);

	/* one left out: singular */
	d.max = 2;
	cairn_diag_add(&d, CAIRN_SEV_ERROR, CAIRN_LOC_NONE, "e1");
	cairn_diag_add(&d, CAIRN_SEV_WARNING, CAIRN_LOC_NONE, "w1");
	cairn_diag_add(&d, CAIRN_SEV_ERROR, CAIRN_LOC_NONE, "e2");
	cairn_diags_print(&d, NULL, capture_start(&c), false);
	out = capture_end(&c);
	assert_string_equal(out, "error: e1\nwarning: w1\n... and 1 more error\n");
	free(out);
	cairn_diags_release(&d);

	/* only warnings left out: no line about errors */
	d.max = 1;
	cairn_diag_add(&d, CAIRN_SEV_ERROR, CAIRN_LOC_NONE, "e1");
	cairn_diag_add(&d, CAIRN_SEV_WARNING, CAIRN_LOC_NONE, "w1");
	cairn_diags_print(&d, NULL, capture_start(&c), false);
	out = capture_end(&c);
	assert_string_equal(out, "error: e1\n");
	free(out);
	cairn_diags_release(&d);
}

/* ---- cairn_error_print -------------------------------------------------------------------- */

static void test_error_print(void **state)
{
	struct cairn_sources s = CAIRN_SOURCES_INIT;
	const struct cairn_source *src = add_source(&s, "stack.yml", "nodes:\n  web:\n    plan: big\n");
	struct cairn_error err = CAIRN_ERROR_INIT;
	struct capture c;
	char *out;

	(void)state;
	/* not set: nothing */
	cairn_error_print(&err, &s, capture_start(&c), false);
	out = capture_end(&c);
	assert_string_equal(out, "");
	free(out);

	/* no location: "cairn: " and the message, then note and hint */
	cairn_error_set(&err, CAIRN_E_IO, "cannot open '%s': %s", "x.yml", "No such file or directory");
	cairn_error_print(&err, &s, capture_start(&c), false);
	out = capture_end(&c);
	assert_string_equal(out, "cairn: cannot open 'x.yml': No such file or directory\n");
	free(out);
	cairn_error_context(&err, "while reading the stack");
	cairn_error_hint(&err, "check the path");
	cairn_error_print(&err, &s, capture_start(&c), true);
	out = capture_end(&c);
	assert_string_equal(out, "cairn: cannot open 'x.yml': No such file or directory\n"
				 "  note: while reading the stack\n"
				 "  hint: check the path\n");
	free(out);
	cairn_error_release(&err);

	/* with a location: as a diagnostic, the context as a note */
	cairn_error_set_at(&err, CAIRN_E_PERMANENT, (struct cairn_loc){ src->path, 3, 11 },
			   "the provider refused plan '%s'", "big");
	cairn_error_context(&err, "while creating node 'web'");
	cairn_error_context(&err, "ignored: only the first context is kept");
	cairn_error_hint(&err, "pick a smaller plan");
	cairn_error_print(&err, &s, capture_start(&c), false);
	out = capture_end(&c);
	assert_string_equal(out, "stack.yml:3:11: error: the provider refused plan 'big'\n"
				 "   3 |     plan: big\n"
				 "     |           ^\n"
				 "     = note: while creating node 'web'\n"
				 "     = hint: pick a smaller plan\n");
	free(out);
	cairn_error_print(&err, &s, capture_start(&c), true);
	out = capture_end(&c);
	assert_non_null(strstr(out, "\033[1;31merror:"));
	assert_non_null(strstr(out, "note:\033[0m while creating node 'web'"));
	free(out);
	cairn_error_release(&err);
	cairn_sources_release(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sources),
		cmocka_unit_test(test_add_and_hint),
		cmocka_unit_test(test_print),
		cmocka_unit_test(test_print_wide_gutter),
		cmocka_unit_test(test_print_without_source),
		cmocka_unit_test(test_print_color),
		cmocka_unit_test(test_to_json),
		cmocka_unit_test(test_sort),
		cmocka_unit_test(test_sort_drops_duplicates),
		cmocka_unit_test(test_max),
		cmocka_unit_test(test_max_hint),
		cmocka_unit_test(test_max_count),
		cmocka_unit_test(test_error_print),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
