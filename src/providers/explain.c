/*
 * explain.c - `cairn explain`: the field tables, for people and for programs.
 *
 * Text: one section per table a type takes part in (its provider keys, then
 * the keys of what it serves), each field on one line in four aligned
 * columns - name, type, attributes, help - the way tmux lists its options.
 * Nested objects, and the objects inside lists and maps, are indented below
 * their parent.  A type's field of the same name as a common one takes the
 * common one's place; the type's other fields follow the common ones.
 *
 * JSON: every field is {"name", "type", "required", "forces_replacement",
 * "sensitive", "default", "help"}, plus "min"/"max" when bounded, "choices"
 * for enums, "ref" for references, "fields" for objects and "element" for
 * lists and maps.  "default" is the decoded value, in the units the model
 * uses (sizes in bytes, durations in milliseconds, like min and max), or
 * null.
 */
#include "util/common.h"

#include <errno.h>

#include "cairn/schema.h"
#include "util/units.h"

/* Beyond these widths a cell pushes the rest of its line over. */
#define NAME_WIDTH_MAX  26
#define TYPE_WIDTH_MAX  30
#define ATTRS_WIDTH_MAX 36

/* ---- merging a type's table into the common one ------------------------ */

/*
 * The fields of section k for type t (t may be NULL): the common ones in
 * their order, each replaced by the type's field of the same name if any,
 * then the type's own.  Returns a NULL-terminated array of borrowed fields;
 * the caller frees the array.
 */
static const struct cairn_field **merged_fields(enum cairn_kind k,
						const struct cairn_type_schema *t)
{
	return cairn_fields_merge(cairn_schema_common(k), cairn_schema_type_fields(t, k));
}

/* ---- describing one field --------------------------------------------- */

static void add_bound(struct cairn_buf *b, enum cairn_ftype type, int64_t v)
{
	char tmp[64];

	if (type == CAIRN_FT_SIZE)
		cairn_format_size((uint64_t)v, tmp, sizeof(tmp));
	else if (type == CAIRN_FT_DURATION)
		cairn_format_duration(v, tmp, sizeof(tmp));
	else
		snprintf(tmp, sizeof(tmp), "%lld", (long long)v);
	cairn_buf_addstr(b, tmp);
}

static void add_choices(struct cairn_buf *b, const char *const *choices)
{
	for (size_t i = 0; choices && choices[i]; i++) {
		if (i)
			cairn_buf_addch(b, '|');
		cairn_buf_addstr(b, choices[i]);
	}
}

/* "string", "pc|q35", "reference to images", "list of strings", ... */
static void add_type(struct cairn_buf *b, const struct cairn_field *f, bool plural)
{
	switch (f->type) {
	case CAIRN_FT_ENUM:
		add_choices(b, f->choices);
		return;
	case CAIRN_FT_REF:
		cairn_buf_addf(b, "%s to %s", plural ? "references" : "reference",
			       cairn_kind_section(f->ref));
		return;
	case CAIRN_FT_LIST:
	case CAIRN_FT_MAP:
		cairn_buf_addf(b, "%s%s of ", cairn_ftype_name(f->type), plural ? "s" : "");
		if (f->elem)
			add_type(b, f->elem, true);
		else
			cairn_buf_addstr(b, "values");
		return;
	case CAIRN_FT_CIDR:
		cairn_buf_addstr(b, plural ? "CIDRs" : "CIDR");
		return;
	case CAIRN_FT_ANY:
		cairn_buf_addstr(b, plural ? "values" : "any");
		return;
	default:
		cairn_buf_addf(b, "%s%s", cairn_ftype_name(f->type), plural ? "s" : "");
		return;
	}
}

static void add_attr(struct cairn_buf *b, const char *s)
{
	if (b->len)
		cairn_buf_addstr(b, ", ");
	cairn_buf_addstr(b, s);
}

/* "required, forces replacement, default: 30s, 1s..1d" */
static void add_attrs(struct cairn_buf *b, const struct cairn_field *f)
{
	const struct cairn_field *inner = f->type == CAIRN_FT_LIST || f->type == CAIRN_FT_MAP ? f->elem : NULL;

	if (f->flags & CAIRN_FF_REQUIRED)
		add_attr(b, "required");
	if (f->flags & CAIRN_FF_FORCES_NEW)
		add_attr(b, "forces replacement");
	if (f->flags & CAIRN_FF_SENSITIVE)
		add_attr(b, "sensitive");
	if (f->flags & CAIRN_FF_COMPUTED)
		add_attr(b, "computed");
	if (f->flags & CAIRN_FF_NONEMPTY)
		add_attr(b, "not empty");
	if (f->flags & CAIRN_FF_ONEOF)
		add_attr(b, "exactly one key");
	if (inner && (inner->flags & CAIRN_FF_ONEOF))
		add_attr(b, "exactly one key each");
	if (f->def && !(f->flags & CAIRN_FF_SENSITIVE)) {
		if (b->len)
			cairn_buf_addstr(b, ", ");
		cairn_buf_addf(b, "default: %s", f->def);
	}
	if (f->flags & CAIRN_FF_BOUNDED) {
		if (b->len)
			cairn_buf_addstr(b, ", ");
		add_bound(b, f->type, f->min);
		cairn_buf_addstr(b, "..");
		add_bound(b, f->type, f->max);
	}
}

/* ---- text ---------------------------------------------------------------- */

struct row {
	char *name;        /* indented */
	char *type;
	char *attrs;
	const char *help;
};

struct rows {
	struct row *v;
	size_t n, alloc;
};

/* The fields an object-like field shows below itself, or NULL. */
static const struct cairn_field *children(const struct cairn_field *f)
{
	if (f->type == CAIRN_FT_OBJECT)
		return f->fields;
	if ((f->type == CAIRN_FT_LIST || f->type == CAIRN_FT_MAP) && f->elem &&
	    f->elem->type == CAIRN_FT_OBJECT)
		return f->elem->fields;
	return NULL;
}

static void add_row(struct rows *rows, const struct cairn_field *f, int depth)
{
	struct cairn_buf type = CAIRN_BUF_INIT, attrs = CAIRN_BUF_INIT;
	struct row *r;
	const struct cairn_field *sub;

	add_type(&type, f, false);
	add_attrs(&attrs, f);
	ALLOC_GROW(rows->v, rows->n + 1, rows->alloc);
	r = &rows->v[rows->n++];
	r->name = xasprintf("%*s%s", 2 * depth, "", f->name);
	r->type = cairn_buf_detach(&type, NULL);
	r->attrs = cairn_buf_detach(&attrs, NULL);
	r->help = f->help ? f->help : "";
	/* Bounded by the depth check of cairn_schema_register() and by the
	 * common tables, which nest three deep at most. */
	sub = children(f);
	for (; sub && sub->name; sub++)
		add_row(rows, sub, depth + 1);
}

/* Widen *w to fit s, unless s is longer than cap. */
static void fit(size_t *w, const char *s, size_t cap)
{
	size_t len = strlen(s);

	if (len > *w && len <= cap)
		*w = len;
}

static void trim(struct cairn_buf *b)
{
	while (b->len && b->s[b->len - 1] == ' ')
		cairn_buf_truncate(b, b->len - 1);
}

static void print_rows(struct rows *rows, FILE *out)
{
	size_t wn = 0, wt = 0, wa = 0;

	for (size_t i = 0; i < rows->n; i++) {
		fit(&wn, rows->v[i].name, NAME_WIDTH_MAX);
		fit(&wt, rows->v[i].type, TYPE_WIDTH_MAX);
		fit(&wa, rows->v[i].attrs, ATTRS_WIDTH_MAX);
	}
	for (size_t i = 0; i < rows->n; i++) {
		struct row *r = &rows->v[i];
		struct cairn_buf line = CAIRN_BUF_INIT;
		size_t help_col = 2 + wn + 2 + wt + 2 + wa + 2;

		cairn_buf_addf(&line, "  %-*s  %-*s  %-*s  ", (int)wn, r->name,
			       (int)wt, r->type, (int)wa, r->attrs);
		/* A cell too wide for its column: the help goes below, aligned. */
		if (line.len > help_col && *r->help) {
			trim(&line);
			cairn_buf_addf(&line, "\n%*s", (int)help_col, "");
		}
		cairn_buf_addstr(&line, r->help);
		trim(&line);
		fprintf(out, "%s\n", line.s);
		cairn_buf_release(&line);
		free(r->name);
		free(r->type);
		free(r->attrs);
	}
	free(rows->v);
	rows->v = NULL;
	rows->n = rows->alloc = 0;
}

static void print_section(enum cairn_kind k, const struct cairn_type_schema *t, FILE *out)
{
	const struct cairn_field **v = merged_fields(k, t);
	struct rows rows = { NULL, 0, 0 };

	if (t && k == CAIRN_KIND_PROVIDER)
		fprintf(out, "\nproviders.NAME (type: %s):\n", t->name);
	else
		fprintf(out, "\n%s.NAME:\n", cairn_kind_section(k));
	for (size_t i = 0; v[i]; i++)
		add_row(&rows, v[i], 0);
	if (!rows.n)
		fprintf(out, "  (no fields)\n");
	print_rows(&rows, out);
	if (t && t->open)
		fprintf(out, "  other keys are passed to the %s as they are\n", t->name);
	free(v);
}

static const enum cairn_kind served[] = { CAIRN_KIND_NODE, CAIRN_KIND_NETWORK, CAIRN_KIND_VOLUME };

void cairn_schema_explain(const struct cairn_type_schema *t, FILE *out)
{
	const char *sep = "";

	if (!t)
		return;
	fprintf(out, "%s - %s\n", t->name, t->summary);
	fprintf(out, "serves: ");
	for (size_t i = 0; i < ARRAY_SIZE(served); i++)
		if (t->serves & 1u << served[i]) {
			fprintf(out, "%s%s", sep, cairn_kind_section(served[i]));
			sep = ", ";
		}
	fprintf(out, "\n");
	if (t->open)
		fprintf(out, "open: keys not listed here are accepted and passed to the %s\n", t->name);
	print_section(CAIRN_KIND_PROVIDER, t, out);
	for (size_t i = 0; i < ARRAY_SIZE(served); i++)
		if (t->serves & 1u << served[i])
			print_section(served[i], t, out);
}

static const char *const section_summaries[CAIRN_KIND__COUNT] = {
	[CAIRN_KIND_PROVIDER] = "the keys every provider takes; its type adds more",
	[CAIRN_KIND_PLAN] = "a node size",
	[CAIRN_KIND_IMAGE] = "what a node boots: a disk, a kernel, or a built-in image (one of them)",
	[CAIRN_KIND_NETWORK] = "a network; its provider's type may add keys",
	[CAIRN_KIND_VOLUME] = "a storage volume; its provider's type may add keys",
	[CAIRN_KIND_POOL] = "a named group of nodes",
	[CAIRN_KIND_NODE] = "a machine, container or process; its provider's type adds keys",
	[CAIRN_KIND_VARIABLE] = "a variable, long form (the short form is NAME: VALUE)",
	[CAIRN_KIND_OUTPUT] = "a value shown after apply; references allowed",
};

void cairn_schema_explain_section(enum cairn_kind k, FILE *out)
{
	if ((unsigned)k >= CAIRN_KIND__COUNT)
		return;
	fprintf(out, "%s - %s\n", cairn_kind_name(k), section_summaries[k]);
	print_section(k, NULL, out);
	if (k == CAIRN_KIND_PROVIDER || k == CAIRN_KIND_NODE ||
	    k == CAIRN_KIND_NETWORK || k == CAIRN_KIND_VOLUME) {
		size_t n;
		const struct cairn_type_schema *const *types = cairn_schema_types(&n);
		struct cairn_buf names = CAIRN_BUF_INIT;

		for (size_t i = 0; i < n; i++)
			if (k == CAIRN_KIND_PROVIDER || (types[i]->serves & 1u << k))
				cairn_buf_addf(&names, "%s%s", names.len ? ", " : "", types[i]->name);
		if (names.len)
			fprintf(out, "\nprovider types that add keys here: %s (cairn explain TYPE)\n", names.s);
		cairn_buf_release(&names);
	}
}

/* ---- JSON ----------------------------------------------------------------- */

static const char *const json_types[] = {
	[CAIRN_FT_STRING] = "string",
	[CAIRN_FT_TEXT] = "text",
	[CAIRN_FT_INT] = "integer",
	[CAIRN_FT_BOOL] = "boolean",
	[CAIRN_FT_SIZE] = "size",
	[CAIRN_FT_DURATION] = "duration",
	[CAIRN_FT_CIDR] = "cidr",
	[CAIRN_FT_NAME] = "name",
	[CAIRN_FT_ENUM] = "enum",
	[CAIRN_FT_REF] = "ref",
	[CAIRN_FT_PATH] = "path",
	[CAIRN_FT_PORT] = "port",
	[CAIRN_FT_LIST] = "list",
	[CAIRN_FT_MAP] = "map",
	[CAIRN_FT_OBJECT] = "object",
	[CAIRN_FT_ANY] = "any",
	[CAIRN_FT_MODE] = "mode",
};

/* A table's default, decoded as the model would decode it. */
static json_t *default_json(const struct cairn_field *f)
{
	struct cairn_error err = CAIRN_ERROR_INIT;

	if (!f->def)
		return json_null();
	switch (f->type) {
	case CAIRN_FT_BOOL:
		if (!strcmp(f->def, "true") || !strcmp(f->def, "yes") || !strcmp(f->def, "on"))
			return json_true();
		if (!strcmp(f->def, "false") || !strcmp(f->def, "no") || !strcmp(f->def, "off"))
			return json_false();
		break;
	case CAIRN_FT_INT:
	case CAIRN_FT_PORT: {
		char *end;
		long long v;

		errno = 0;
		v = strtoll(f->def, &end, 10);
		if (!errno && end != f->def && !*end)
			return json_integer(v);
		break;
	}
	case CAIRN_FT_SIZE: {
		uint64_t v;

		if (cairn_parse_size(f->def, &v, &err) == 0 && v <= INT64_MAX)
			return json_integer((json_int_t)v);
		break;
	}
	case CAIRN_FT_DURATION: {
		int64_t v;

		if (cairn_parse_duration(f->def, &v, &err) == 0)
			return json_integer(v);
		break;
	}
	default:
		break;
	}
	cairn_error_release(&err);
	return json_string(f->def);
}

static json_t *fields_json(const struct cairn_field *const *v, size_t n);

static json_t *field_json(const struct cairn_field *f, bool named)
{
	json_t *o = json_object();

	if (named)
		json_object_set_new(o, "name", json_string(f->name));
	json_object_set_new(o, "type", json_string((unsigned)f->type < ARRAY_SIZE(json_types) ? json_types[f->type] : "unknown"));
	json_object_set_new(o, "required", json_boolean(f->flags & CAIRN_FF_REQUIRED));
	json_object_set_new(o, "forces_replacement", json_boolean(f->flags & CAIRN_FF_FORCES_NEW));
	json_object_set_new(o, "sensitive", json_boolean(f->flags & CAIRN_FF_SENSITIVE));
	if (f->flags & CAIRN_FF_COMPUTED)
		json_object_set_new(o, "computed", json_true());
	if (f->flags & CAIRN_FF_ONEOF)
		json_object_set_new(o, "one_of", json_true());
	json_object_set_new(o, "default", (f->flags & CAIRN_FF_SENSITIVE) ? json_null() : default_json(f));
	if (f->flags & CAIRN_FF_BOUNDED) {
		json_object_set_new(o, "min", json_integer(f->min));
		json_object_set_new(o, "max", json_integer(f->max));
	}
	if (f->type == CAIRN_FT_ENUM) {
		json_t *a = json_array();

		for (size_t i = 0; f->choices && f->choices[i]; i++)
			json_array_append_new(a, json_string(f->choices[i]));
		json_object_set_new(o, "choices", a);
	}
	if (f->type == CAIRN_FT_REF)
		json_object_set_new(o, "ref", json_string(cairn_kind_name(f->ref)));
	if (f->type == CAIRN_FT_OBJECT) {
		const struct cairn_field **v;
		size_t n = 0;

		for (const struct cairn_field *g = f->fields; g && g->name; g++)
			n++;
		v = xcalloc(n + 1, sizeof(*v));
		for (size_t i = 0; i < n; i++)
			v[i] = &f->fields[i];
		json_object_set_new(o, "fields", fields_json(v, n));
		free(v);
	}
	if ((f->type == CAIRN_FT_LIST || f->type == CAIRN_FT_MAP) && f->elem)
		json_object_set_new(o, "element", field_json(f->elem, false));
	json_object_set_new(o, "help", f->help ? json_string(f->help) : json_null());
	return o;
}

static json_t *fields_json(const struct cairn_field *const *v, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; i < n && v[i]; i++)
		json_array_append_new(a, field_json(v[i], true));
	return a;
}

static json_t *section_json(enum cairn_kind k, const struct cairn_type_schema *t)
{
	const struct cairn_field **v = merged_fields(k, t);
	size_t n = 0;
	json_t *a;

	while (v[n])
		n++;
	a = fields_json(v, n);
	free(v);
	return a;
}

json_t *cairn_schema_explain_json(const struct cairn_type_schema *t)
{
	json_t *o, *serves;

	if (!t)
		return NULL;
	o = json_object();
	serves = json_array();
	json_object_set_new(o, "type", json_string(t->name));
	json_object_set_new(o, "summary", json_string(t->summary));
	json_object_set_new(o, "open", json_boolean(t->open));
	for (size_t i = 0; i < ARRAY_SIZE(served); i++)
		if (t->serves & 1u << served[i])
			json_array_append_new(serves, json_string(cairn_kind_name(served[i])));
	json_object_set_new(o, "serves", serves);
	json_object_set_new(o, "provider", section_json(CAIRN_KIND_PROVIDER, t));
	for (size_t i = 0; i < ARRAY_SIZE(served); i++)
		if (t->serves & 1u << served[i])
			json_object_set_new(o, cairn_kind_name(served[i]), section_json(served[i], t));
	return o;
}

json_t *cairn_schema_section_json(enum cairn_kind k)
{
	json_t *o;

	if ((unsigned)k >= CAIRN_KIND__COUNT)
		return NULL;
	o = json_object();
	json_object_set_new(o, "kind", json_string(cairn_kind_name(k)));
	json_object_set_new(o, "section", json_string(cairn_kind_section(k)));
	json_object_set_new(o, "summary", json_string(section_summaries[k]));
	json_object_set_new(o, "fields", section_json(k, NULL));
	return o;
}
