/*
 * Unit tests for src/spec/yaml.c: the located YAML tree, the limits that
 * protect it from hostile input, and the text check that runs before it.
 *
 * Most tests are tables: a YAML text, a path into the tree ("b.c.1": key b,
 * key c, item 1) and what is expected there, or a YAML text and the one
 * diagnostic it must produce, written "LINE:COL: message".
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "util/common.h"

#include "spec/yaml.h"

static const char test_file[] = "test.yml";

struct parsed {
	struct cairn_arena arena;
	struct cairn_diags diags;
	struct cairn_ynode *root;
	int rc;
};

static void parse_n(struct parsed *p, const char *text, size_t len,
		    const struct cairn_yaml_limits *lim)
{
	memset(p, 0, sizeof(*p));
	p->rc = cairn_yaml_parse(&p->arena, test_file, text, len, lim, &p->diags, &p->root);
}

static void parse(struct parsed *p, const char *text)
{
	parse_n(p, text, strlen(text), NULL);
}

static void parsed_release(struct parsed *p)
{
	cairn_diags_release(&p->diags);
	cairn_arena_release(&p->arena);
}

/* "LINE:COL: message" of diagnostic i, in a static buffer. */
static const char *diag_at(const struct cairn_diags *d, size_t i)
{
	static char buf[512];

	assert_true(i < d->n);
	assert_ptr_equal(d->v[i].loc.file, test_file);
	snprintf(buf, sizeof(buf), "%d:%d: %s", d->v[i].loc.line, d->v[i].loc.col,
		 d->v[i].message);
	return buf;
}

/*
 * The node at path: map keys and sequence indexes separated by dots.  A
 * trailing "=key" part ("a.b=key") returns the key node of the last pair
 * instead of its value.
 */
static const struct cairn_ynode *node_at(const struct cairn_ynode *y, const char *path)
{
	char *copy = xstrdup(path), *part, *save = NULL;
	bool want_key = false;
	char *eq = strchr(copy, '=');

	if (eq) {
		*eq = '\0';
		want_key = true;
	}
	for (part = strtok_r(copy, ".", &save); part && y; part = strtok_r(NULL, ".", &save)) {
		if (y->type == CAIRN_Y_MAP) {
			const struct cairn_ypair *pr = cairn_ynode_pair(y, part);
			bool last = !save || !*save;

			y = !pr ? NULL : (want_key && last) ? pr->key : pr->value;
		} else if (y->type == CAIRN_Y_SEQ) {
			size_t i = strtoul(part, NULL, 10);

			y = i < y->n ? y->items[i] : NULL;
		} else {
			y = NULL;
		}
	}
	free(copy);
	if (!y)
		fail_msg("no node at '%s'", path);
	return y;
}

/* ---- where things are ------------------------------------------------------- */

static void test_locations(void **state)
{
	static const struct {
		const char *yaml, *path;
		int line, col;
	} cases[] = {
		{ "a: 1\n", "a=key", 1, 1 },
		{ "a: 1\n", "a", 1, 4 },
		{ "a:\n  b: x\n", "a", 2, 3 },
		{ "a:\n  b: x\n", "a.b=key", 2, 3 },
		{ "a:\n  b: x\n", "a.b", 2, 6 },
		{ "a:\n- x\n- y\n", "a.1", 3, 3 },
		{ "a:\n  - x\n  - y\n", "a", 2, 3 },
		{ "list: [x, y, z]\n", "list.2", 1, 14 },
		{ "m: {a: 1, bb: 22}\n", "m.bb=key", 1, 11 },
		{ "m: {a: 1, bb: 22}\n", "m.bb", 1, 15 },
		{ "\n\n# comment\n  \nk: v\n", "k", 5, 4 },
		/* columns count characters, not bytes */
		{ "é: ü\n", "é", 1, 4 },
		{ "name: héllo\nx: [ä, b]\n", "x.1", 2, 8 },
		{ "日本語: [値, 値2]\n", "日本語.1", 1, 10 },
		{ "a: \xF0\x9D\x84\x9E\nb: [\xF0\x9D\x84\x9E, c]\n", "b.1", 2, 8 },
		/* a tab is one character too */
		{ "a: [\tx,\ty]\n", "a.1", 1, 9 },
		/* CRLF line ends */
		{ "a: 1\r\nb: 2\r\n", "b", 2, 4 },
		/* after a directive and a document marker */
		{ "%YAML 1.2\n---\na: 1\n", "a", 3, 4 },
		/* anchored and tagged values: where the value itself starts */
		{ "a: &x 1\n", "a", 1, 7 },
		{ "a: !!str 1\n", "a", 1, 10 },
		/* quoted scalars: at the opening quote */
		{ "a: \"x\"\n", "a", 1, 4 },
		{ "a: 'x'\n", "a", 1, 4 },
		{ "a:\n  \"b\": 1\n", "a.b=key", 2, 3 },
		{ "l: [\"x\", 'y']\n", "l.1", 1, 10 },
		{ "a: \"\"\n", "a", 1, 4 },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct parsed p;
		const struct cairn_ynode *y;

		parse(&p, cases[i].yaml);
		assert_int_equal(p.rc, 0);
		assert_int_equal(p.diags.n, 0);
		y = node_at(p.root, cases[i].path);
		if (y->loc.line != cases[i].line || y->loc.col != cases[i].col)
			fail_msg("case %zu '%s' at %s: got %d:%d, want %d:%d", i, cases[i].yaml,
				 cases[i].path, y->loc.line, y->loc.col, cases[i].line, cases[i].col);
		assert_ptr_equal(y->loc.file, test_file);
		parsed_release(&p);
	}
}

/*
 * BUG: a node's location is "the first character of the node" (ynode.h), but
 * a block scalar is located at column 1 of the line after its '|' or '>',
 * in the indentation (its indicator, or its content's first character,
 * would do): "'user' must be one line" for "user: |" points at the margin
 * of the next line.  And a byte-order mark counts as a column on line 1, so
 * every position on line 1 of a file with a BOM is one column right of what
 * an editor shows, and cairn's own caret under the source line lands one
 * column right of the key.  (Quoted scalars, once part of this test, are
 * now located at their opening quote: see test_locations.)
 */
static void test_locations_bug(void **state)
{
	static const struct {
		const char *yaml, *path;
		int line, col;
		int line2, col2;      /* another acceptable place, or 0 */
	} cases[] = {
		{ "a: |\n  text\n", "a", 1, 4, 2, 3 },
		{ "a: >-\n  folded\n", "a", 1, 4, 2, 3 },
		{ "\xEF\xBB\xBF" "a: 1\n", "a", 1, 4, 0, 0 },
	};
	int wrong = 0;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct parsed p;
		const struct cairn_ynode *y;

		parse(&p, cases[i].yaml);
		assert_int_equal(p.rc, 0);
		y = node_at(p.root, cases[i].path);
		if ((y->loc.line != cases[i].line || y->loc.col != cases[i].col) &&
		    (y->loc.line != cases[i].line2 || y->loc.col != cases[i].col2)) {
			fprintf(stderr, "case %zu '%s' at %s: got %d:%d, want %d:%d\n", i, cases[i].yaml,
				cases[i].path, y->loc.line, y->loc.col, cases[i].line, cases[i].col);
			wrong++;
		}
		parsed_release(&p);
	}
	if (wrong)
		fail_msg("%d cases wrong (above)", wrong);
}

/* An empty value ("key:" with nothing after it) has no mark in libfyaml's
 * event: it is located at its key. */
static void test_empty_value_location(void **state)
{
	static const struct {
		const char *yaml, *path;
		int line, col;
	} cases[] = {
		{ "a: 1\nb:\n", "b", 2, 1 },
		{ "x: 1\nm: {k: }\n", "m.k", 2, 5 },
		{ "x: 1\nm:\n  ? k\n", "m.k", 3, 5 },
		{ "x: 1\nl:\n  - a\n  - k:\n", "l.1.k", 4, 5 },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct parsed p;
		const struct cairn_ynode *y;

		parse(&p, cases[i].yaml);
		assert_int_equal(p.rc, 0);
		y = node_at(p.root, cases[i].path);
		assert_true(y->null);
		if (y->loc.line != cases[i].line || y->loc.col != cases[i].col)
			fail_msg("case %zu: empty value at %d:%d, want %d:%d", i, y->loc.line,
				 y->loc.col, cases[i].line, cases[i].col);
		parsed_release(&p);
	}
}

/*
 * An empty sequence item ("-" with nothing after it) has no mark in
 * libfyaml's event; it is located at its sequence (line 3 here) rather
 * than at the start of the file.  Its own '-' (line 4) would be better.
 */
static void test_empty_item_location(void **state)
{
	static const struct {
		const char *yaml, *path;
		int line;
	} cases[] = {
		{ "x: 1\nl:\n  - a\n  -\n", "l.1", 4 },
		/* (libfyaml 0.7 refuses "-" alone between items at column 1) */
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct parsed p;
		const struct cairn_ynode *y;

		parse(&p, cases[i].yaml);
		assert_int_equal(p.rc, 0);
		y = node_at(p.root, cases[i].path);
		assert_true(y->null);
		if (y->loc.line != cases[i].line && y->loc.line != 3)
			fail_msg("case %zu: empty item at %d:%d, want line %d", i, y->loc.line,
				 y->loc.col, cases[i].line);
		parsed_release(&p);
	}
}

/* ---- scalars ------------------------------------------------------------------ */

static void test_scalar_flags(void **state)
{
	static const struct {
		const char *yaml;     /* the value of key v */
		bool quoted, null;
		const char *text;
	} cases[] = {
		{ "v: x", false, false, "x" },
		{ "v: ~", false, true, "~" },
		{ "v: null", false, true, "null" },
		{ "v: Null", false, true, "Null" },
		{ "v: NULL", false, true, "NULL" },
		{ "v: nULL", false, false, "nULL" },
		{ "v:", false, true, "" },
		{ "v: ''", true, false, "" },
		{ "v: \"\"", true, false, "" },
		{ "v: \"null\"", true, false, "null" },
		{ "v: '~'", true, false, "~" },
		{ "v: 'it''s'", true, false, "it's" },
		{ "v: \"tab\\there\"", true, false, "tab\there" },
		{ "v: \"\\u00e9\"", true, false, "é" },
		{ "v: |\n  line\n", true, false, "line\n" },
		{ "v: |-\n  a\n  b\n", true, false, "a\nb" },
		{ "v: >\n  folded\n  text\n", true, false, "folded text\n" },
		{ "v: 0644", false, false, "0644" },
		{ "v: 1.5G", false, false, "1.5G" },
		{ "v: a b  c", false, false, "a b  c" },
		{ "v: multi\n  line plain\n", false, false, "multi line plain" },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct parsed p;
		const struct cairn_ynode *y;

		parse(&p, cases[i].yaml);
		assert_int_equal(p.rc, 0);
		assert_int_equal(p.diags.n, 0);
		y = node_at(p.root, "v");
		assert_int_equal(y->type, CAIRN_Y_SCALAR);
		if (y->quoted != cases[i].quoted || y->null != cases[i].null ||
		    strcmp(y->text, cases[i].text))
			fail_msg("case %zu '%s': quoted=%d null=%d text='%s'", i, cases[i].yaml,
				 y->quoted, y->null, y->text);
		assert_int_equal(y->len, strlen(cases[i].text));
		assert_int_equal(y->weight, 1);
		parsed_release(&p);
	}
}

/* A string holding NUL ("\0" escape) is reported; the text stops there. */
static void test_nul_in_string(void **state)
{
	struct parsed p;
	const struct cairn_ynode *y;

	(void)state;
	parse(&p, "key: \"x\\0y\"\nother: 1\n");
	assert_int_equal(p.rc, 0);
	assert_int_equal(p.diags.n, 1);
	assert_int_equal(p.diags.nerrors, 1);
	assert_string_equal(p.diags.v[0].message, "a string must not contain a NUL character");
	assert_int_equal(p.diags.v[0].loc.line, 1);
	y = node_at(p.root, "key");
	assert_string_equal(y->text, "x");
	assert_int_equal(y->len, 1);
	assert_string_equal(node_at(p.root, "other")->text, "1");
	parsed_release(&p);
}

/* Documents with nothing in them give a null scalar root at 1:1. */
static void test_empty_documents(void **state)
{
	static const char *const texts[] = { "", "\n\n", "# only a comment\n", "---\n", "--- \n...\n" };

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(texts); i++) {
		struct parsed p;

		parse(&p, texts[i]);
		assert_int_equal(p.rc, 0);
		assert_int_equal(p.diags.n, 0);
		assert_int_equal(p.root->type, CAIRN_Y_SCALAR);
		assert_true(p.root->null);
		assert_int_equal(p.root->loc.line, 1);
		assert_int_equal(p.root->loc.col, 1);
		parsed_release(&p);
	}
}

/* The shape of the tree: counts, order, weights. */
static void test_tree_shape(void **state)
{
	struct parsed p;
	const struct cairn_ynode *r, *l;

	(void)state;
	parse(&p, "b: 1\na: [x, {k: v}, []]\nc: {}\n");
	assert_int_equal(p.rc, 0);
	r = p.root;
	assert_int_equal(r->type, CAIRN_Y_MAP);
	assert_int_equal(r->n, 3);
	/* source order is kept */
	assert_string_equal(r->pairs[0].key->text, "b");
	assert_string_equal(r->pairs[1].key->text, "a");
	assert_string_equal(r->pairs[2].key->text, "c");
	l = node_at(r, "a");
	assert_int_equal(l->type, CAIRN_Y_SEQ);
	assert_int_equal(l->n, 3);
	assert_int_equal(l->items[1]->type, CAIRN_Y_MAP);
	assert_int_equal(l->items[2]->n, 0);
	assert_int_equal(node_at(r, "c")->type, CAIRN_Y_MAP);
	assert_int_equal(node_at(r, "c")->n, 0);
	/* root + b,1 + a + [ + x + {k: v} (3) + [] + c + {} */
	assert_int_equal(l->weight, 1 + 1 + 3 + 1);
	assert_int_equal(r->weight, 1 + 2 + 1 + 6 + 2);
	parsed_release(&p);
}

/* ---- keys ------------------------------------------------------------------------ */

static void test_duplicate_keys(void **state)
{
	struct parsed p;

	(void)state;
	/* reported (each one), dropped, the first kept, and parsing succeeds */
	parse(&p, "a: 1\nb: 2\na: 3\nc:\n  x: 1\n  x: 2\na: 4\n");
	assert_int_equal(p.rc, 0);
	assert_int_equal(p.diags.n, 3);
	assert_int_equal(p.diags.nerrors, 3);
	assert_string_equal(diag_at(&p.diags, 0), "6:3: duplicate key 'x'");
	assert_string_equal(p.diags.v[0].hint, "first defined at line 5");
	assert_string_equal(diag_at(&p.diags, 1), "3:1: duplicate key 'a'");
	assert_string_equal(p.diags.v[1].hint, "first defined at line 1");
	assert_string_equal(diag_at(&p.diags, 2), "7:1: duplicate key 'a'");
	assert_int_equal(p.root->n, 3);
	assert_string_equal(node_at(p.root, "a")->text, "1");
	assert_string_equal(node_at(p.root, "b")->text, "2");
	assert_int_equal(node_at(p.root, "c")->n, 1);
	assert_string_equal(node_at(p.root, "c.x")->text, "1");
	parsed_release(&p);

	/* the same key spelled differently is the same key */
	parse(&p, "a: 1\n\"a\": 2\n'a': 3\n? a\n: 4\n");
	assert_int_equal(p.rc, 0);
	assert_int_equal(p.diags.n, 3);
	assert_string_equal(p.diags.v[0].message, "duplicate key 'a'");
	assert_int_equal(p.diags.v[0].loc.line, 2);
	assert_int_equal(p.diags.v[2].loc.line, 4);
	assert_int_equal(p.root->n, 1);
	assert_string_equal(node_at(p.root, "a")->text, "1");
	parsed_release(&p);

	/* in a flow mapping, and through an alias used as a key */
	parse(&p, "m: {k: 1, j: 2, k: 3}\nn:\n  &a x: 1\n  *a : 2\n");
	assert_int_equal(p.rc, 0);
	assert_int_equal(p.diags.n, 2);
	assert_string_equal(diag_at(&p.diags, 0), "1:17: duplicate key 'k'");
	assert_int_equal(node_at(p.root, "m")->n, 2);
	assert_string_equal(p.diags.v[1].message, "duplicate key 'x'");
	assert_int_equal(node_at(p.root, "n")->n, 1);
	parsed_release(&p);
}

/* Mappings of more than 16 pairs use a hash map to find duplicates; the
 * result must be the same. */
static void test_duplicate_keys_big_map(void **state)
{
	struct cairn_buf b = CAIRN_BUF_INIT;
	struct parsed p;

	(void)state;
	for (int i = 0; i < 40; i++)
		cairn_buf_addf(&b, "k%d: %d\n", i, i);
	cairn_buf_addstr(&b, "k7: dup\nk39: dup\nk7: again\n");
	parse(&p, b.s);
	assert_int_equal(p.rc, 0);
	assert_int_equal(p.diags.n, 3);
	assert_string_equal(diag_at(&p.diags, 0), "41:1: duplicate key 'k7'");
	assert_string_equal(p.diags.v[0].hint, "first defined at line 8");
	assert_string_equal(diag_at(&p.diags, 1), "42:1: duplicate key 'k39'");
	assert_string_equal(p.diags.v[1].hint, "first defined at line 40");
	assert_string_equal(diag_at(&p.diags, 2), "43:1: duplicate key 'k7'");
	assert_string_equal(p.diags.v[2].hint, "first defined at line 8");
	assert_int_equal(p.root->n, 40);
	assert_string_equal(node_at(p.root, "k7")->text, "7");
	assert_string_equal(node_at(p.root, "k39")->text, "39");
	for (int i = 0; i < 40; i++) {
		char k[8];

		snprintf(k, sizeof(k), "k%d", i);
		assert_string_equal(p.root->pairs[i].key->text, k);
	}
	parsed_release(&p);
	cairn_buf_release(&b);
}

static void test_non_string_keys(void **state)
{
	static const struct {
		const char *yaml;
		const char *diag;
		size_t left;         /* pairs left in the root */
	} cases[] = {
		{ "? [1, 2]\n: x\nb: y\n", "1:3: a key must be a string, not a list", 1 },
		{ "? {a: 1}\n: x\nb: y\n", "1:3: a key must be a string, not a mapping", 1 },
		{ "{[a]: 1, b: 2, {c: 3}: 4}\n", "1:2: a key must be a string, not a list", 1 },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct parsed p;

		parse(&p, cases[i].yaml);
		assert_int_equal(p.rc, 0);
		assert_true(p.diags.n >= 1);
		assert_string_equal(diag_at(&p.diags, 0), cases[i].diag);
		assert_int_equal(p.root->n, cases[i].left);
		for (size_t k = 0; k < p.root->n; k++)
			assert_int_equal(p.root->pairs[k].key->type, CAIRN_Y_SCALAR);
		parsed_release(&p);
	}
}

/* ---- aliases ------------------------------------------------------------------- */

static void test_aliases_shared(void **state)
{
	struct parsed p;
	const struct cairn_ynode *a, *b, *c;

	(void)state;
	parse(&p, "a: &x {p: 1, q: [2, 3]}\nb: *x\nc: [*x, *x]\ns: &s str\nt: *s\n");
	assert_int_equal(p.rc, 0);
	assert_int_equal(p.diags.n, 0);
	a = node_at(p.root, "a");
	b = node_at(p.root, "b");
	c = node_at(p.root, "c");
	/* the same subtree, not a copy */
	assert_ptr_equal(a, b);
	assert_ptr_equal(c->items[0], a);
	assert_ptr_equal(c->items[1], a);
	assert_ptr_equal(node_at(p.root, "s"), node_at(p.root, "t"));
	assert_string_equal(node_at(p.root, "t")->text, "str");
	/* it keeps the location of its definition */
	assert_int_equal(b->loc.line, 1);
	assert_int_equal(b->loc.col, 7);
	/* weights count the expansion: {p: 1, q: [2, 3]} is 1 + 2 + 1 + 3 = 7 */
	assert_int_equal(a->weight, 7);
	assert_int_equal(c->weight, 1 + 7 + 7);
	assert_int_equal(p.root->weight, 1 + (1 + 7) + (1 + 7) + (1 + 15) + 2 + 2);
	parsed_release(&p);
}

/* The node budget counts what aliases add: each alias adds the nodes of
 * what it repeats.  Written nodes are bounded by the file's size and do not
 * count.  Exactly max_nodes passes, one more fails. */
static void test_alias_budget(void **state)
{
	/* *l and *l add [x, y] (3 nodes) each: 6; the whole tree is 13 */
	static const char text[] = "a: &l [x, y]\nb: *l\nc: *l\n";
	static const char plain[] = "a: [x, y, z]\nb: {c: d, e: f}\n";
	struct cairn_yaml_limits lim = { 64, 6 };
	struct parsed p;

	(void)state;
	parse_n(&p, text, strlen(text), &lim);
	assert_int_equal(p.rc, 0);
	assert_int_equal(p.root->weight, 13);
	parsed_release(&p);

	lim.max_nodes = 5;
	parse_n(&p, text, strlen(text), &lim);
	assert_int_equal(p.rc, -1);
	assert_int_equal(p.diags.n, 1);
	assert_string_equal(p.diags.v[0].message,
			    "document too large: aliases expand it by more than 5 nodes");
	/* at the '*' of the alias that goes over */
	assert_int_equal(p.diags.v[0].loc.line, 3);
	assert_int_equal(p.diags.v[0].loc.col, 4);
	assert_string_equal(p.diags.v[0].hint,
			    "aliases (*name) multiply the size of what they repeat");
	parsed_release(&p);

	/* a document without aliases is not limited by the budget */
	lim.max_nodes = 1;
	parse_n(&p, plain, strlen(plain), &lim);
	assert_int_equal(p.rc, 0);
	assert_int_equal(p.root->weight, 12);
	parsed_release(&p);
}

/* Nine levels of nine aliases: 9^9 strings.  Refused after a few hundred
 * events, having allocated almost nothing (the arena's size, not a timing,
 * shows nothing was expanded). */
static void test_billion_laughs(void **state)
{
	struct cairn_buf b = CAIRN_BUF_INIT;
	struct parsed p;

	(void)state;
	cairn_buf_addstr(&b, "l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
	for (int i = 1; i < 10; i++) {
		cairn_buf_addf(&b, "l%d: &l%d [", i, i);
		for (int k = 0; k < 9; k++)
			cairn_buf_addf(&b, "%s*l%d", k ? ", " : "", i - 1);
		cairn_buf_addstr(&b, "]\n");
	}
	parse(&p, b.s);
	assert_int_equal(p.rc, -1);
	assert_int_equal(p.diags.n, 1);
	assert_string_equal(p.diags.v[0].message,
			    "document too large: aliases expand it by more than 1000000 nodes");
	assert_true(p.diags.v[0].loc.line >= 2 && p.diags.v[0].loc.line <= 10);
	assert_true(p.arena.used < 64 * 1024);
	parsed_release(&p);

	/* the same with a small budget stops even earlier */
	{
		struct cairn_yaml_limits lim = { 64, 1000 };

		parse_n(&p, b.s, b.len, &lim);
		assert_int_equal(p.rc, -1);
		assert_string_equal(p.diags.v[0].message,
				    "document too large: aliases expand it by more than 1000 nodes");
		/* l0 is 10 nodes, l1 91, l2 820; the aliases of l1 add 90, those
		 * of l2 819 (909 in all): the first *l2 passes 1000 */
		assert_int_equal(p.diags.v[0].loc.line, 4);
		parsed_release(&p);
	}
	cairn_buf_release(&b);
}

/* Fatal problems: parsing stops with -1 and one diagnostic. */
static void test_fatal_errors(void **state)
{
	static const struct {
		const char *yaml;
		const char *diag;
	} cases[] = {
		{ "a: &x\n  b: *x\n", "alias '*x' refers to the node that contains it" },
		{ "a: &x [1, *x]\n", "alias '*x' refers to the node that contains it" },
		{ "a: &x 1\nb: &x [*x]\n", "alias '*x' refers to the node that contains it" },
		{ "a: *nope\n", "unknown anchor '&nope'" },
		{ "a: *later\nb: &later 1\n", "unknown anchor '&later'" },
		{ "a: 1\n---\nb: 2\n", "2:1: a stack file holds one YAML document, this is the second" },
		{ "--- a\n--- b\n", "2:1: a stack file holds one YAML document, this is the second" },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct parsed p;
		const char *got;

		parse(&p, cases[i].yaml);
		assert_int_equal(p.rc, -1);
		assert_int_equal(p.diags.n, 1);
		assert_int_equal(p.diags.nerrors, 1);
		got = diag_at(&p.diags, 0);
		if (!strstr(got, cases[i].diag))
			fail_msg("case %zu: got '%s', want '%s'", i, got, cases[i].diag);
		assert_true(p.diags.v[0].loc.line > 0);
		parsed_release(&p);
	}
}

/* An alias error is located at the '*' that starts the alias. */
static void test_alias_error_column(void **state)
{
	static const struct {
		const char *yaml;
		const char *diag;
	} cases[] = {
		{ "a: *nope\n", "1:4: unknown anchor '&nope'" },
		{ "a: &x\n  b: *x\n", "2:6: alias '*x' refers to the node that contains it" },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct parsed p;

		parse(&p, cases[i].yaml);
		assert_int_equal(p.rc, -1);
		assert_string_equal(diag_at(&p.diags, 0), cases[i].diag);
		parsed_release(&p);
	}
}

static void test_depth_limit(void **state)
{
	struct cairn_buf ok = CAIRN_BUF_INIT, deep = CAIRN_BUF_INIT;
	struct cairn_yaml_limits lim = { 3, 1000 };
	struct parsed p;

	(void)state;
	/* the default: 64 levels pass, 65 do not */
	for (int i = 0; i < 64; i++)
		cairn_buf_addch(&ok, '[');
	cairn_buf_addch(&ok, 'x');
	for (int i = 0; i < 64; i++)
		cairn_buf_addch(&ok, ']');
	cairn_buf_addf(&deep, "[%s]", ok.s);
	parse(&p, ok.s);
	assert_int_equal(p.rc, 0);
	assert_int_equal(p.root->weight, 65);
	parsed_release(&p);
	parse(&p, deep.s);
	assert_int_equal(p.rc, -1);
	assert_string_equal(diag_at(&p.diags, 0), "1:65: nesting deeper than 64 levels");
	parsed_release(&p);

	/* a custom limit, with block mappings */
	parse_n(&p, "a:\n  b:\n    c: 1\n", strlen("a:\n  b:\n    c: 1\n"), &lim);
	assert_int_equal(p.rc, 0);
	parsed_release(&p);
	parse_n(&p, "a:\n  b:\n    c:\n      d: 1\n",
		strlen("a:\n  b:\n    c:\n      d: 1\n"), &lim);
	assert_int_equal(p.rc, -1);
	assert_int_equal(p.diags.n, 1);
	assert_string_equal(diag_at(&p.diags, 0), "4:7: nesting deeper than 3 levels");
	parsed_release(&p);

	/* deep input far beyond the limit is refused without trouble */
	{
		size_t n = 100000;
		char *s = xmalloc(2 * n + 1);

		memset(s, '[', n);
		memset(s + n, ']', n);
		s[2 * n] = '\0';
		parse_n(&p, s, 2 * n, NULL);
		assert_int_equal(p.rc, -1);
		assert_string_equal(p.diags.v[0].message, "nesting deeper than 64 levels");
		parsed_release(&p);
		free(s);
	}
	cairn_buf_release(&ok);
	cairn_buf_release(&deep);
}

/*
 * Parse errors from libfyaml keep its message and its position (libfyaml's
 * collected errors are 1-based already), and nothing libfyaml collected is
 * leaked (LeakSanitizer checks).
 */
static void test_parse_errors(void **state)
{
	static const struct {
		const char *yaml;
		const char *diag;
	} cases[] = {
		{ "a: b: c\n", "1:5: invalid YAML: " },
		{ "ééé: b: c\n", "1:7: invalid YAML: " },
		{ "x:\n  ééé: b: c\n", "2:9: invalid YAML: " },
		{ "a: \"unterminated\n", "1:" },
		{ "a: @x\n", "1:4: invalid YAML: plain scalar cannot start with '@'" },
		{ "é: [é, @]\n", "1:8: invalid YAML: plain scalar cannot start with '@'" },
		{ "a: [1,\t@]\n", "1:8: invalid YAML: plain scalar cannot start with '@'" },
		{ "a: {x: 1}}\n", "1:10: invalid YAML: " },
	};
	int wrong = 0;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct parsed p;
		const char *got;

		parse(&p, cases[i].yaml);
		assert_int_equal(p.rc, -1);
		assert_int_equal(p.diags.n, 1);
		got = diag_at(&p.diags, 0);
		if (strncmp(got, cases[i].diag, strlen(cases[i].diag))) {
			fprintf(stderr, "case %zu: got '%s', want '%s...'\n", i, got, cases[i].diag);
			wrong++;
		}
		parsed_release(&p);
	}
	if (wrong)
		fail_msg("%d cases wrong (above)", wrong);
}

/* Errors at the end of the input still have a line (that of the end). */
static void test_parse_errors_have_lines(void **state)
{
	(void)state;
	{
		static const char *const texts[] = { "a: [1, 2\n", "{a: 1", "a:\n  - 1\n b: 2\n" };

		for (size_t i = 0; i < ARRAY_SIZE(texts); i++) {
			struct parsed p;

			parse(&p, texts[i]);
			assert_int_equal(p.rc, -1);
			assert_int_equal(p.diags.n, 1);
			assert_non_null(strstr(p.diags.v[0].message, "invalid YAML: "));
			assert_true(p.diags.v[0].loc.line >= 1);
			assert_true(p.diags.v[0].loc.col >= 1);
			parsed_release(&p);
		}
	}
}

/*
 * An empty sequence opened before any scalar ("[]" as the document,
 * "[[[]]]") is built without touching the never-allocated scratch stack
 * (memcpy from NULL was undefined behaviour: UBSan, which this build lets
 * recover, reported "null pointer passed as argument 2").
 */
static void test_empty_sequence_root(void **state)
{
	struct parsed p;

	(void)state;
	parse(&p, "[]\n");
	assert_int_equal(p.rc, 0);
	assert_int_equal(p.root->type, CAIRN_Y_SEQ);
	assert_int_equal(p.root->n, 0);
	parsed_release(&p);
	parse(&p, "[[[]]]\n");
	assert_int_equal(p.rc, 0);
	assert_int_equal(p.root->weight, 3);
	parsed_release(&p);
}

/* ---- cairn_yaml_check_text --------------------------------------------------- */

#define T(s) s, sizeof(s) - 1

static void test_check_text(void **state)
{
	static const struct {
		const char *text;
		size_t len;
		const char *message;   /* NULL: accepted */
	} cases[] = {
		{ T("a: 1\n"), NULL },
		{ T(""), NULL },
		{ T("é€𝄞\n"), NULL },
		{ T("\xEF\xBB\xBF" "a: 1\n"), NULL },                     /* BOM */
		{ T("\xF4\x8F\xBF\xBF"), NULL },                           /* U+10FFFF */
		{ T("\xED\x9F\xBF"), NULL },                               /* U+D7FF */
		{ T("\xEE\x80\x80"), NULL },                               /* U+E000 */
		{ T("a: 1\nb\0c\n"), "not a text file: it contains NUL bytes" },
		{ T("\0"), "not a text file: it contains NUL bytes" },
		{ T("a: \xC0\xAF\n"), "not UTF-8 text: invalid byte 0xc0 on line 1" }, /* overlong '/' */
		{ T("a\nb\n\xC1\xBF"), "not UTF-8 text: invalid byte 0xc1 on line 3" },
		{ T("x\n\xE0\x80\xAF"), "not UTF-8 text: invalid byte 0xe0 on line 2" }, /* overlong, 3 bytes */
		{ T("\xF0\x80\x80\xAF"), "not UTF-8 text: invalid byte 0xf0 on line 1" }, /* overlong, 4 bytes */
		{ T("s: \xED\xA0\x80\n"), "not UTF-8 text: invalid byte 0xed on line 1" }, /* surrogate D800 */
		{ T("\xED\xBF\xBF"), "not UTF-8 text: invalid byte 0xed on line 1" },   /* surrogate DFFF */
		{ T("\xF4\x90\x80\x80"), "not UTF-8 text: invalid byte 0xf4 on line 1" }, /* > U+10FFFF */
		{ T("\xF5\x80\x80\x80"), "not UTF-8 text: invalid byte 0xf5 on line 1" },
		{ T("\xFF"), "not UTF-8 text: invalid byte 0xff on line 1" },
		{ T("a\x80"), "not UTF-8 text: invalid byte 0x80 on line 1" },      /* lone continuation */
		{ T("a: \xE2\x82"), "not UTF-8 text: invalid byte 0xe2 on line 1" }, /* truncated at the end */
		{ T("\xE2\x82\n"), "not UTF-8 text: invalid byte 0xe2 on line 1" },  /* truncated by a newline */
		{ T("\xF0\x9D\x84"), "not UTF-8 text: invalid byte 0xf0 on line 1" },
		{ T("\xC3"), "not UTF-8 text: invalid byte 0xc3 on line 1" },
		{ T("ok\n\nlatin-1: caf\xE9\n"), "not UTF-8 text: invalid byte 0xe9 on line 3" },
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct cairn_diags d = CAIRN_DIAGS_INIT;
		int rc = cairn_yaml_check_text(test_file, cases[i].text, cases[i].len, &d);

		if (!cases[i].message) {
			if (rc != 0)
				fail_msg("case %zu refused: %s", i, d.n ? d.v[0].message : "?");
			assert_int_equal(d.n, 0);
		} else {
			assert_int_equal(rc, -1);
			assert_int_equal(d.n, 1);
			assert_int_equal(d.nerrors, 1);
			if (strcmp(d.v[0].message, cases[i].message))
				fail_msg("case %zu: got '%s', want '%s'", i, d.v[0].message,
					 cases[i].message);
			/* the whole file is the problem: a file, no line */
			assert_ptr_equal(d.v[0].loc.file, test_file);
			assert_int_equal(d.v[0].loc.line, 0);
		}
		cairn_diags_release(&d);
	}
}
#undef T

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_locations),
		cmocka_unit_test(test_locations_bug),
		cmocka_unit_test(test_empty_value_location),
		cmocka_unit_test(test_empty_item_location),
		cmocka_unit_test(test_scalar_flags),
		cmocka_unit_test(test_nul_in_string),
		cmocka_unit_test(test_empty_documents),
		cmocka_unit_test(test_tree_shape),
		cmocka_unit_test(test_duplicate_keys),
		cmocka_unit_test(test_duplicate_keys_big_map),
		cmocka_unit_test(test_non_string_keys),
		cmocka_unit_test(test_aliases_shared),
		cmocka_unit_test(test_alias_budget),
		cmocka_unit_test(test_billion_laughs),
		cmocka_unit_test(test_fatal_errors),
		cmocka_unit_test(test_alias_error_column),
		cmocka_unit_test(test_depth_limit),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_parse_errors_have_lines),
		cmocka_unit_test(test_empty_sequence_root),
		cmocka_unit_test(test_check_text),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
