/*
 * yaml.c - libfyaml events to a located tree.
 *
 * We build our own tree instead of using libfyaml's document API because we
 * need three things it does not give us cheaply: every duplicate key
 * reported (not just the first), alias expansion counted against a budget
 * before any memory is spent on it, and nodes small enough for a
 * 100,000-node stack.
 */
#include "util/common.h"

#include <libfyaml.h>

#include "spec/yaml.h"
#include "util/strmap.h"

struct frame {
	struct cairn_ynode *node;
	size_t start;           /* first child in the scratch stack */
	size_t weight;
	const char *anchor;     /* its anchor's name, or NULL */
};

struct builder {
	struct cairn_arena *arena;
	const char *file;
	const char *text;
	size_t len;
	const struct cairn_yaml_limits *lim;
	struct cairn_diags *diags;
	struct frame *frames;
	size_t nframes, aframes;
	struct cairn_ynode **scratch;
	size_t nscratch, ascratch;
	struct cairn_strmap anchors;
	size_t total;           /* nodes repeated by aliases so far */
	struct cairn_ynode *root;
	int ndocs;
	bool failed;
};

/* A libfyaml mark (0-based line, byte offset) as a 1-based line and a
 * column counted in characters. */
static struct cairn_loc mark_loc(const struct builder *b, const struct fy_mark *m)
{
	struct cairn_loc loc = { b->file, 1, 1 };
	size_t pos, start;
	int col = 1;

	if (!m)
		return loc;
	pos = m->input_pos <= b->len ? m->input_pos : b->len;
	for (start = pos; start > 0 && b->text[start - 1] != '\n'; start--)
		;
	/* a byte-order mark takes no column */
	if (start == 0 && b->len >= 3 && !memcmp(b->text, "\xEF\xBB\xBF", 3))
		start = 3 < pos ? 3 : pos;
	for (size_t i = start; i < pos; i++)
		if (((unsigned char)b->text[i] & 0xC0) != 0x80)
			col++;
	loc.line = m->line + 1;
	loc.col = col;
	return loc;
}

/* The column where a block scalar's content starts: the indentation of the
 * first non-empty line after its indicator. */
static int block_content_col(const struct builder *b, const struct fy_mark *m)
{
	size_t pos = m && m->input_pos <= b->len ? m->input_pos : b->len;
	size_t start = pos;
	const char *nl;

	/* the mark may be on the content's own line (only blanks before it) */
	while (start > 0 && b->text[start - 1] == ' ')
		start--;
	if (start == 0 || b->text[start - 1] == '\n') {
		int col = 1;

		while (start < b->len && b->text[start] == ' ') {
			start++;
			col++;
		}
		if (start < b->len && b->text[start] != '\n')
			return col;
	}
	nl = memchr(b->text + pos, '\n', b->len - pos);

	while (nl) {
		const char *p = nl + 1;
		int col = 1;

		while (p < b->text + b->len && *p == ' ') {
			p++;
			col++;
		}
		if (p < b->text + b->len && *p != '\n')
			return col;
		nl = p < b->text + b->len ? p : NULL;
	}
	return 0;
}

static void push_child(struct builder *b, struct cairn_ynode *y)
{
	ALLOC_GROW(b->scratch, b->nscratch + 1, b->ascratch);
	b->scratch[b->nscratch++] = y;
	if (b->nframes)
		b->frames[b->nframes - 1].weight += y->weight;
	else if (!b->root)
		b->root = y;
}

static bool is_null_text(const char *s, size_t n)
{
	return n == 0 || (n == 1 && s[0] == '~') ||
	       (n == 4 && (!memcmp(s, "null", 4) || !memcmp(s, "Null", 4) ||
			   !memcmp(s, "NULL", 4)));
}

/* Register an anchor; returns its name (in the arena) or NULL. */
static const char *remember_anchor(struct builder *b, struct fy_token *anchor,
				   struct cairn_ynode *y)
{
	size_t n;
	const char *name;
	char *copy;

	if (!anchor)
		return NULL;
	name = fy_token_get_text(anchor, &n);
	if (!name)
		return NULL;
	/* A later anchor of the same name wins, as YAML says. */
	copy = cairn_arena_strndup(b->arena, name, n);
	cairn_strmap_put(&b->anchors, copy, y);
	return copy;
}

static int count_nodes(struct builder *b, size_t add, struct cairn_loc loc)
{
	/* Written nodes are bounded by the file's size; what aliases add is
	 * not, and is what this budget is for. */
	b->total += add;
	if (b->total > b->lim->max_nodes) {
		cairn_diag_add(b->diags, CAIRN_SEV_ERROR, loc,
			       "document too large: aliases expand it by more than %zu nodes",
			       b->lim->max_nodes);
		cairn_diag_hint(b->diags, "aliases (*name) multiply the size of what they repeat");
		return -1;
	}
	return 0;
}

/*
 * Check a finished mapping: keys are scalars and unique.  A duplicate is
 * reported and dropped (the first one stays), so that later stages see a
 * proper mapping and go on finding other mistakes.
 */
static void check_keys(struct builder *b, struct cairn_ynode *map)
{
	struct cairn_strmap seen = CAIRN_STRMAP_INIT;
	bool big = map->n > 16;
	size_t out = 0;

	for (size_t i = 0; i < map->n; i++) {
		struct cairn_ynode *k = map->pairs[i].key;
		const struct cairn_ynode *first = NULL;

		if (k->type != CAIRN_Y_SCALAR) {
			cairn_diag_add(b->diags, CAIRN_SEV_ERROR, k->loc,
				       "a key must be a string, not %s", cairn_ynode_describe(k));
			continue;
		}
		if (big) {
			first = cairn_strmap_get(&seen, k->text);
			if (!first)
				cairn_strmap_put(&seen, k->text, k);
		} else {
			for (size_t j = 0; j < out; j++)
				if (!strcmp(map->pairs[j].key->text, k->text)) {
					first = map->pairs[j].key;
					break;
				}
		}
		if (first) {
			cairn_diag_add(b->diags, CAIRN_SEV_ERROR, k->loc,
				       "duplicate key '%s'", k->text);
			cairn_diag_hint(b->diags, "first defined at line %d", first->loc.line);
			continue;
		}
		map->pairs[out++] = map->pairs[i];
	}
	map->n = out;
	cairn_strmap_release(&seen);
}

static int open_node(struct builder *b, enum cairn_ytype type, struct cairn_loc loc,
		     struct fy_token *anchor)
{
	struct cairn_ynode *y;

	if ((int)b->nframes >= b->lim->max_depth) {
		cairn_diag_add(b->diags, CAIRN_SEV_ERROR, loc,
			       "nesting deeper than %d levels", b->lim->max_depth);
		return -1;
	}
	y = cairn_arena_alloc(b->arena, sizeof(*y));
	y->type = type;
	y->loc = loc;
	ALLOC_GROW(b->frames, b->nframes + 1, b->aframes);
	/* An anchor names the node from its start (as "in progress": an
	 * alias to it from inside itself is a recursion, refused when met);
	 * close_node() points it at the finished node. */
	b->frames[b->nframes++] = (struct frame){ y, b->nscratch, 1,
						  remember_anchor(b, anchor, NULL) };
	return 0;
}

static void close_node(struct builder *b)
{
	struct frame f = b->frames[--b->nframes];
	struct cairn_ynode *y = f.node;
	size_t n = b->nscratch - f.start;
	/* scratch is still NULL when the first collection to close is empty */
	struct cairn_ynode **kids = b->scratch ? b->scratch + f.start : NULL;

	y->weight = f.weight;
	if (y->type == CAIRN_Y_SEQ) {
		y->n = n;
		y->items = cairn_arena_alloc(b->arena, n * sizeof(*y->items));
		if (n)
			memcpy(y->items, kids, n * sizeof(*kids));
	} else {
		y->n = n / 2;
		y->pairs = cairn_arena_alloc(b->arena, y->n * sizeof(*y->pairs));
		for (size_t i = 0; i < y->n; i++) {
			y->pairs[i].key = kids[2 * i];
			y->pairs[i].value = kids[2 * i + 1];
		}
		check_keys(b, y);
	}
	b->nscratch = f.start;
	if (f.anchor)
		cairn_strmap_put(&b->anchors, f.anchor, y);
	push_child(b, y);
}

static int on_scalar(struct builder *b, struct fy_event *ev)
{
	struct fy_token *tok = ev->scalar.value;
	const struct fy_mark *mark = fy_event_start_mark(ev);
	struct cairn_loc loc = mark_loc(b, mark);
	struct cairn_ynode *y;
	const char *s;
	size_t n = 0;

	s = tok ? fy_token_get_text(tok, &n) : "";
	if (!s)
		s = "";
	y = cairn_arena_alloc(b->arena, sizeof(*y));
	y->type = CAIRN_Y_SCALAR;
	y->weight = 1;
	y->quoted = tok && fy_token_scalar_style(tok) != FYSS_PLAIN;
	/* a quoted scalar is marked at its text: point at the quote */
	if (mark && mark->input_pos > 0 && mark->input_pos <= b->len &&
	    (b->text[mark->input_pos - 1] == '"' || b->text[mark->input_pos - 1] == '\'') &&
	    tok && (fy_token_scalar_style(tok) == FYSS_SINGLE_QUOTED ||
		    fy_token_scalar_style(tok) == FYSS_DOUBLE_QUOTED) && loc.col > 1) {
		loc.col--;
		y->skip = 1;
	}
	/* an empty value ("key:") has no mark: point at its key */
	if ((!mark || !tok || (!n && !y->quoted)) && b->nframes &&
	    b->frames[b->nframes - 1].node->type == CAIRN_Y_MAP &&
	    (b->nscratch - b->frames[b->nframes - 1].start) % 2 == 1)
		loc = b->scratch[b->nscratch - 1]->loc;
	else if ((!mark || !tok || (!n && !y->quoted)) && b->nframes &&
		 b->frames[b->nframes - 1].node->type == CAIRN_Y_SEQ && loc.line == 1 &&
		 loc.col == 1)
		loc = b->frames[b->nframes - 1].node->loc;
	/* literal blocks keep their lines, so positions inside them can be
	 * told; folded ones join lines and cannot */
	if (tok && fy_token_scalar_style(tok) == FYSS_LITERAL) {
		y->block_col = block_content_col(b, mark);
	} else if (tok && fy_token_scalar_style(tok) == FYSS_FOLDED) {
		y->inexact = true;
	} else if (tok && mark) {
		/* a flow scalar whose source is not its text plus quotes was
		 * escaped or folded across lines */
		const struct fy_mark *end = fy_event_end_mark(ev);

		y->inexact = !end || end->line != mark->line ||
			     end->input_pos - mark->input_pos != n;
	}
	if ((y->block_col || (tok && fy_token_scalar_style(tok) == FYSS_FOLDED)) &&
	    loc.col == 1) {
		int col = block_content_col(b, mark);

		if (col)
			loc.col = col;
	}
	y->loc = loc;
	y->null = !y->quoted && is_null_text(s, n);
	y->text = cairn_arena_strndup(b->arena, s, n);
	y->len = n;
	if (memchr(s, '\0', n)) {
		cairn_diag_add(b->diags, CAIRN_SEV_ERROR, loc, "a string must not contain a NUL character");
		y->len = strlen(y->text);
	}
	remember_anchor(b, ev->scalar.anchor, y);
	push_child(b, y);
	return 0;
}

static int on_alias(struct builder *b, struct fy_event *ev)
{
	struct cairn_loc loc = mark_loc(b, fy_event_start_mark(ev));
	const char *name;
	size_t n = 0;
	char *key;

	/* libfyaml marks the alias's name; point at its '*' */
	if (loc.col > 1)
		loc.col--;
	struct cairn_ynode *target;
	bool known;

	name = fy_token_get_text(ev->alias.anchor, &n);
	key = xstrndup(name ? name : "", n);
	known = cairn_strmap_has(&b->anchors, key);
	target = cairn_strmap_get(&b->anchors, key);
	if (!target) {
		if (known)
			cairn_diag_add(b->diags, CAIRN_SEV_ERROR, loc,
				       "alias '*%s' refers to the node that contains it", key);
		else
			cairn_diag_add(b->diags, CAIRN_SEV_ERROR, loc,
				       "unknown anchor '&%s'", key);
		free(key);
		return -1;
	}
	free(key);
	if (count_nodes(b, target->weight, loc))
		return -1;
	push_child(b, target);
	return 0;
}

static void report_parser_errors(struct builder *b, struct fy_diag *diag)
{
	void *iter = NULL;
	struct fy_diag_error *e;
	int n = 0;

	while (diag && (e = fy_diag_errors_iterate(diag, &iter)) != NULL) {
		/* libfyaml's collected errors are already 1-based */
		struct cairn_loc loc = { b->file, e->line > 0 ? e->line : 1,
					 e->column > 0 ? e->column : 1 };

		/* libfyaml reports follow-up errors for one mistake; the
		 * first says it best. */
		if (n++ == 0)
			cairn_diag_add(b->diags, CAIRN_SEV_ERROR, loc, "invalid YAML: %s", e->msg);
	}
	if (!n)
		cairn_diag_add(b->diags, CAIRN_SEV_ERROR,
			       (struct cairn_loc){ b->file, 0, 0 }, "invalid YAML");
}

static void silent(struct fy_diag *diag, void *user, const char *buf, size_t len)
{
	(void)diag; (void)user; (void)buf; (void)len;
}

int cairn_yaml_parse(struct cairn_arena *arena, const char *file,
		     const char *text, size_t len,
		     const struct cairn_yaml_limits *limits,
		     struct cairn_diags *diags, struct cairn_ynode **out)
{
	static const struct cairn_yaml_limits deflim = { 64, 1000000 };
	struct builder b = { .arena = arena, .file = file, .text = text, .len = len,
			     .lim = limits ? limits : &deflim, .diags = diags };
	struct fy_diag_cfg dcfg;
	struct fy_diag *diag = NULL;
	struct fy_parse_cfg cfg = { 0 };
	struct fy_parser *fyp = NULL;
	struct fy_event *ev;
	int ret = -1;

	fy_diag_cfg_default(&dcfg);
	dcfg.fp = NULL;
	dcfg.output_fn = silent;
	dcfg.colorize = false;
	diag = fy_diag_create(&dcfg);
	if (!diag)
		BUG("fy_diag_create failed");
	fy_diag_set_collect_errors(diag, true);
	cfg.flags = FYPCF_QUIET | FYPCF_COLLECT_DIAG | FYPCF_DISABLE_RECYCLING;
	cfg.diag = diag;
	fyp = fy_parser_create(&cfg);
	if (!fyp || fy_parser_set_string(fyp, text, len)) {
		cairn_diag_add(diags, CAIRN_SEV_ERROR, (struct cairn_loc){ file, 0, 0 },
			       "cannot start the YAML parser");
		goto out;
	}
	while ((ev = fy_parser_parse(fyp)) != NULL) {
		int r = 0;

		switch (ev->type) {
		case FYET_DOCUMENT_START:
			if (++b.ndocs > 1) {
				cairn_diag_add(diags, CAIRN_SEV_ERROR,
					       mark_loc(&b, fy_event_start_mark(ev)),
					       "a stack file holds one YAML document, this is the second");
				r = -1;
			}
			break;
		case FYET_MAPPING_START:
			r = open_node(&b, CAIRN_Y_MAP, mark_loc(&b, fy_event_start_mark(ev)),
				      ev->mapping_start.anchor);
			if (!r)
				b.frames[b.nframes - 1].node->quoted = false;
			break;
		case FYET_SEQUENCE_START:
			r = open_node(&b, CAIRN_Y_SEQ, mark_loc(&b, fy_event_start_mark(ev)),
				      ev->sequence_start.anchor);
			break;
		case FYET_MAPPING_END:
			close_node(&b);
			break;
		case FYET_SEQUENCE_END:
			close_node(&b);
			break;
		case FYET_SCALAR:
			r = on_scalar(&b, ev);
			break;
		case FYET_ALIAS:
			r = on_alias(&b, ev);
			break;
		default:
			break;
		}
		fy_parser_event_free(fyp, ev);
		if (r) {
			b.failed = true;
			break;
		}
	}
	if (!b.failed && fy_parser_get_stream_error(fyp)) {
		report_parser_errors(&b, diag);
		b.failed = true;
	}
	if (b.failed)
		goto out;
	if (!b.root) {
		struct cairn_ynode *y = cairn_arena_alloc(arena, sizeof(*y));

		y->type = CAIRN_Y_SCALAR;
		y->null = true;
		y->text = cairn_arena_strndup(arena, "", 0);
		y->loc = (struct cairn_loc){ file, 1, 1 };
		y->weight = 1;
		b.root = y;
	}
	/* Duplicate and non-string keys were reported and dropped: the tree
	 * is sound, and the caller may go on looking for more mistakes. */
	*out = b.root;
	ret = 0;
out:
	if (fyp)
		fy_parser_destroy(fyp);
	/* destroy, not unref: only destroy frees the collected errors */
	fy_diag_destroy(diag);
	free(b.frames);
	free(b.scratch);
	cairn_strmap_release(&b.anchors);
	return ret;
}

/* Length of the valid UTF-8 sequence at s (at most n bytes), 0 if invalid. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	size_t need;
	unsigned cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xC2 && s[0] <= 0xDF) { need = 2; cp = s[0] & 0x1F; }
	else if (s[0] >= 0xE0 && s[0] <= 0xEF) { need = 3; cp = s[0] & 0x0F; }
	else if (s[0] >= 0xF0 && s[0] <= 0xF4) { need = 4; cp = s[0] & 0x07; }
	else return 0;
	if (n < need)
		return 0;
	for (size_t i = 1; i < need; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3F);
	}
	if ((need == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
	    (need == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
		return 0;
	return need;
}

int cairn_yaml_check_text(const char *file, const char *text, size_t len,
			  struct cairn_diags *diags)
{
	const unsigned char *s = (const unsigned char *)text;
	struct cairn_loc loc = { file, 0, 0 };
	int line = 1;

	if (memchr(text, '\0', len)) {
		cairn_diag_add(diags, CAIRN_SEV_ERROR, loc,
			       "not a text file: it contains NUL bytes");
		return -1;
	}
	for (size_t i = 0; i < len;) {
		size_t k;

		if (s[i] == '\n')
			line++;
		k = utf8_len(s + i, len - i);
		if (!k) {
			cairn_diag_add(diags, CAIRN_SEV_ERROR, loc,
				       "not UTF-8 text: invalid byte 0x%02x on line %d",
				       s[i], line);
			return -1;
		}
		i += k;
	}
	return 0;
}
