/*
 * diag.c - collecting and rendering diagnostics against source texts.
 */
#include "util/common.h"

#include "cairn/diag.h"

struct cairn_source *cairn_sources_add(struct cairn_sources *s, const char *path,
				       char *text, size_t len)
{
	struct cairn_source *src = xcalloc(1, sizeof(*src));

	src->path = xstrdup(path);
	src->text = text;
	src->len = len;
	ALLOC_GROW(s->v, s->n + 1, s->alloc);
	s->v[s->n++] = src;
	return src;
}

const char *cairn_sources_intern(struct cairn_sources *s, const char *name)
{
	for (size_t i = 0; i < s->n; i++)
		if (!strcmp(s->v[i]->path, name))
			return s->v[i]->path;
	return cairn_sources_add(s, name, NULL, 0)->path;
}

const struct cairn_source *cairn_sources_find(const struct cairn_sources *s,
					      const char *path)
{
	if (!s || !path)
		return NULL;
	/* Locations carry the very pointer we handed out: compare it first. */
	for (size_t i = 0; i < s->n; i++)
		if (s->v[i]->path == path)
			return s->v[i];
	for (size_t i = 0; i < s->n; i++)
		if (!strcmp(s->v[i]->path, path))
			return s->v[i];
	return NULL;
}

void cairn_sources_release(struct cairn_sources *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->v[i]->path);
		free(s->v[i]->text);
		free(s->v[i]);
	}
	free(s->v);
	s->v = NULL;
	s->n = s->alloc = 0;
}

void cairn_diag_add(struct cairn_diags *d, enum cairn_severity sev,
		    struct cairn_loc loc, const char *fmt, ...)
{
	size_t max = d->max ? d->max : 1000;
	struct cairn_diag *g;
	va_list ap;

	if (sev == CAIRN_SEV_ERROR)
		d->nerrors++;
	d->dropped = d->n >= max;
	if (d->dropped) {
		if (sev == CAIRN_SEV_ERROR)
			d->nerrors_dropped++;
		return;
	}
	ALLOC_GROW(d->v, d->n + 1, d->alloc);
	g = &d->v[d->n++];
	g->severity = sev;
	g->loc = loc;
	g->hint = NULL;
	va_start(ap, fmt);
	g->message = xvasprintf(fmt, ap);
	va_end(ap);
}

void cairn_diag_hint(struct cairn_diags *d, const char *fmt, ...)
{
	struct cairn_diag *g;
	va_list ap;

	if (!d->n || d->dropped)
		return;
	g = &d->v[d->n - 1];
	free(g->hint);
	va_start(ap, fmt);
	g->hint = xvasprintf(fmt, ap);
	va_end(ap);
}

void cairn_diag_add_error(struct cairn_diags *d, const struct cairn_error *err)
{
	if (!cairn_error_isset(err))
		return;
	cairn_diag_add(d, CAIRN_SEV_ERROR, err->loc, "%s", err->message);
	if (err->hint)
		cairn_diag_hint(d, "%s", err->hint);
}

static const struct cairn_sources *sort_sources;

static size_t source_rank(const char *file)
{
	if (!file)
		return 0;
	for (size_t i = 0; sort_sources && i < sort_sources->n; i++)
		if (sort_sources->v[i]->path == file || !strcmp(sort_sources->v[i]->path, file))
			return i + 1;
	return SIZE_MAX;
}

struct sortable {
	struct cairn_diag d;
	size_t rank, seq;
};

static int cmp_diag(const void *a, const void *b)
{
	const struct sortable *x = a, *y = b;

	if (x->rank != y->rank)
		return x->rank < y->rank ? -1 : 1;
	if (x->d.loc.line != y->d.loc.line)
		return x->d.loc.line < y->d.loc.line ? -1 : 1;
	if (x->d.loc.col != y->d.loc.col)
		return x->d.loc.col < y->d.loc.col ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

void cairn_diags_sort(struct cairn_diags *d, const struct cairn_sources *s)
{
	struct sortable *v;

	if (d->n < 2)
		return;
	v = xcalloc(d->n, sizeof(*v));
	sort_sources = s;
	for (size_t i = 0; i < d->n; i++) {
		v[i].d = d->v[i];
		v[i].rank = source_rank(d->v[i].loc.file);
		v[i].seq = i;
	}
	qsort(v, d->n, sizeof(*v), cmp_diag);
	sort_sources = s;
	/* One YAML body can stand for several declarations (web[01-05]):
	 * its mistakes are reported once. */
	{
		size_t out = 0;

		for (size_t i = 0; i < d->n; i++) {
			bool dup = false;

			for (size_t k = out; k > 0; k--) {
				struct cairn_diag *prev = &d->v[k - 1];

				if (prev->loc.line != v[i].d.loc.line ||
				    prev->loc.col != v[i].d.loc.col ||
				    source_rank(prev->loc.file) != v[i].rank)
					break;
				if (!strcmp(prev->message, v[i].d.message))
					dup = true;
			}
			if (dup) {
				free(v[i].d.message);
				free(v[i].d.hint);
				if (v[i].d.severity == CAIRN_SEV_ERROR)
					d->nerrors--;
				continue;
			}
			d->v[out++] = v[i].d;
		}
		d->n = out;
	}
	sort_sources = NULL;
	free(v);
}

void cairn_diags_release(struct cairn_diags *d)
{
	for (size_t i = 0; i < d->n; i++) {
		free(d->v[i].message);
		free(d->v[i].hint);
	}
	free(d->v);
	d->v = NULL;
	d->n = d->alloc = d->nerrors = d->nerrors_dropped = 0;
	d->dropped = false;
}

/* The text of line (1-based) in src, and its length; NULL if none. */
static const char *source_line(const struct cairn_source *src, int line, size_t *len)
{
	const char *p, *end, *nl;

	if (!src || !src->text || line < 1)
		return NULL;
	p = src->text;
	end = src->text + src->len;
	for (int i = 1; i < line; i++) {
		nl = memchr(p, '\n', end - p);
		if (!nl)
			return NULL;
		p = nl + 1;
	}
	nl = memchr(p, '\n', end - p);
	*len = (nl ? nl : end) - p;
	if (*len && p[*len - 1] == '\r')
		(*len)--;
	return p;
}

#define C_RED "\033[1;31m"
#define C_YEL "\033[1;33m"
#define C_BLU "\033[1;34m"
#define C_CYA "\033[1;36m"
#define C_BOLD "\033[1m"
#define C_OFF "\033[0m"

static void print_one(const struct cairn_sources *s, enum cairn_severity sev,
		      struct cairn_loc loc, const char *message, const char *hint,
		      const char *context, FILE *out, bool color)
{
	const char *sevname = sev == CAIRN_SEV_ERROR ? "error" : "warning";
	const char *sevcolor = sev == CAIRN_SEV_ERROR ? C_RED : C_YEL;
	const char *text = NULL;
	size_t len = 0;
	int gutter;

	if (color)
		fputs(C_BOLD, out);
	if (loc.file && loc.line > 0)
		fprintf(out, "%s:%d:%d: ", loc.file, loc.line, loc.col);
	else if (loc.file)
		fprintf(out, "%s: ", loc.file);
	if (color)
		fprintf(out, "%s%s:" C_OFF C_BOLD " %s" C_OFF "\n", sevcolor, sevname, message);
	else
		fprintf(out, "%s: %s\n", sevname, message);

	if (loc.line > 0)
		text = source_line(cairn_sources_find(s, loc.file), loc.line, &len);
	gutter = snprintf(NULL, 0, "%d", loc.line) + 1;
	if (gutter < 4)
		gutter = 4;
	if (text) {
		size_t col = 0;

		fprintf(out, "%s%*d |%s %.*s\n", color ? C_BLU : "", gutter, loc.line,
			color ? C_OFF : "", (int)len, text);
		fprintf(out, "%s%*s |%s ", color ? C_BLU : "", gutter, "", color ? C_OFF : "");
		/* Columns count characters: skip UTF-8 continuation bytes,
		 * keep tabs so the caret lines up under them. */
		for (size_t i = 0; i < len && col + 1 < (size_t)loc.col; i++) {
			unsigned char c = text[i];

			if ((c & 0xC0) == 0x80)
				continue;
			fputc(c == '\t' ? '\t' : ' ', out);
			col++;
		}
		fprintf(out, "%s^%s\n", color ? sevcolor : "", color ? C_OFF : "");
	}
	if (context)
		fprintf(out, "%*s = %snote:%s %s\n", gutter, "", color ? C_BOLD : "",
			color ? C_OFF : "", context);
	if (hint)
		fprintf(out, "%*s = %shint:%s %s\n", gutter, "", color ? C_CYA : "",
			color ? C_OFF : "", hint);
}

void cairn_diags_print(const struct cairn_diags *d, const struct cairn_sources *s,
		       FILE *out, bool color)
{
	for (size_t i = 0; i < d->n; i++)
		print_one(s, d->v[i].severity, d->v[i].loc, d->v[i].message,
			  d->v[i].hint, NULL, out, color);
	if (d->nerrors_dropped)
		fprintf(out, "... and %zu more error%s\n", d->nerrors_dropped,
			d->nerrors_dropped == 1 ? "" : "s");
}

void cairn_error_print(const struct cairn_error *err, const struct cairn_sources *s,
		       FILE *out, bool color)
{
	if (!cairn_error_isset(err))
		return;
	if (!err->loc.file) {
		fprintf(out, "cairn: %s\n", err->message);
		if (err->context)
			fprintf(out, "  note: %s\n", err->context);
		if (err->hint)
			fprintf(out, "  hint: %s\n", err->hint);
		return;
	}
	print_one(s, CAIRN_SEV_ERROR, err->loc, err->message, err->hint,
		  err->context, out, color);
}

json_t *cairn_diags_to_json(const struct cairn_diags *d)
{
	json_t *a = json_array();

	for (size_t i = 0; i < d->n; i++) {
		const struct cairn_diag *g = &d->v[i];
		json_t *o = json_object();

		json_object_set_new(o, "severity",
			json_string(g->severity == CAIRN_SEV_ERROR ? "error" : "warning"));
		json_object_set_new(o, "file", g->loc.file ? json_string(g->loc.file) : json_null());
		json_object_set_new(o, "line", json_integer(g->loc.line));
		json_object_set_new(o, "column", json_integer(g->loc.col));
		json_object_set_new(o, "message", json_string(g->message));
		json_object_set_new(o, "hint", g->hint ? json_string(g->hint) : json_null());
		json_array_append_new(a, o);
	}
	return a;
}
