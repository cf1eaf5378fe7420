/*
 * decode.c - checking YAML against field tables.
 */
#include "util/common.h"

#include <ctype.h>
#include <errno.h>
#include <sys/socket.h>

#include "spec/decode.h"
#include "util/units.h"

void cairn_refs_release(struct cairn_refs *r)
{
	for (size_t i = 0; i < r->n; i++) {
		free(r->v[i].name);
		free(r->v[i].attr);
	}
	free(r->v);
	r->v = NULL;
	r->n = r->alloc = 0;
}

/* a canonical integer: digits only, short enough for an int64 */
static bool all_digits(const char *s)
{
	size_t n = strspn(s, "0123456789");

	return n > 0 && n < 19 && !s[n];
}

static void derror(struct cairn_decoder *dc, struct cairn_loc loc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void derror(struct cairn_decoder *dc, struct cairn_loc loc, const char *fmt, ...)
{
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	msg = xvasprintf(fmt, ap);
	va_end(ap);
	cairn_diag_add(dc->diags, CAIRN_SEV_ERROR, loc, "%s", msg);
	free(msg);
}

static void error_from(struct cairn_decoder *dc, struct cairn_loc loc,
		       struct cairn_error *err)
{
	cairn_diag_add(dc->diags, CAIRN_SEV_ERROR, loc, "%s", err->message);
	if (err->hint)
		cairn_diag_hint(dc->diags, "%s", err->hint);
	cairn_error_release(err);
}

/* Text of a scalar for quoting in a message, cut short if long. */
static char *shown(const struct cairn_ynode *y)
{
	if (y->type != CAIRN_Y_SCALAR)
		return xstrdup(cairn_ynode_describe(y));
	if (y->len > 40)
		return xasprintf("'%.37s...'", y->text);
	return xasprintf("'%s'", y->text);
}

static bool want_scalar(struct cairn_decoder *dc, const struct cairn_ynode *y,
			const struct cairn_field *f, const char *what)
{
	if (y->type == CAIRN_Y_SCALAR)
		return true;
	derror(dc, y->loc, "'%s' must be %s, not %s", f->name, what, cairn_ynode_describe(y));
	return false;
}

static bool has_node_ref(const struct cairn_ynode *y)
{
	return y->type == CAIRN_Y_SCALAR && strstr(y->text, "${");
}

static bool no_ref_here(struct cairn_decoder *dc, const struct cairn_ynode *y,
			const struct cairn_field *f)
{
	const char *p = y->type == CAIRN_Y_SCALAR ? strstr(y->text, "${") : NULL;

	if (!p || (p > y->text && p[-1] == '$'))
		return true;
	derror(dc, y->loc, "'%s' cannot hold a reference: it must be known before apply",
	      f->name);
	cairn_diag_hint(dc->diags, "only ${var.NAME} and ${stack.name} are known at plan time; references to nodes belong in strings");
	return false;
}

static int parse_int(const char *s, long long *out)
{
	char *end;

	if (!*s || isspace((unsigned char)*s))
		return -1;
	errno = 0;
	*out = strtoll(s, &end, 10);
	if (errno || *end)
		return -1;
	return 0;
}

static int parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = { "true", "True", "TRUE", "yes", "Yes", "on", "On", NULL };
	static const char *const no[] = { "false", "False", "FALSE", "no", "No", "off", "Off", NULL };

	for (const char *const *p = yes; *p; p++)
		if (!strcmp(s, *p))
			return *out = true, 0;
	for (const char *const *p = no; *p; p++)
		if (!strcmp(s, *p))
			return *out = false, 0;
	return -1;
}

static json_t *check_bounds(struct cairn_decoder *dc, const struct cairn_ynode *y,
			    const struct cairn_field *f, long long v)
{
	char lo[32], hi[32];

	if (!(f->flags & CAIRN_FF_BOUNDED) || (v >= f->min && v <= f->max))
		return json_integer(v);
	if (f->type == CAIRN_FT_SIZE) {
		cairn_format_size(f->min, lo, sizeof(lo));
		cairn_format_size(f->max, hi, sizeof(hi));
	} else if (f->type == CAIRN_FT_DURATION) {
		cairn_format_duration(f->min, lo, sizeof(lo));
		cairn_format_duration(f->max, hi, sizeof(hi));
	} else {
		snprintf(lo, sizeof(lo), "%lld", (long long)f->min);
		snprintf(hi, sizeof(hi), "%lld", (long long)f->max);
	}
	derror(dc, y->loc, "'%s' must be between %s and %s, not %s", f->name, lo, hi, y->text);
	return NULL;
}

static void refs_add(struct cairn_decoder *dc, const struct cairn_ref *r)
{
	if (!dc->refs) {
		free(r->name);
		free(r->attr);
		return;
	}
	ALLOC_GROW(dc->refs->v, dc->refs->n + 1, dc->refs->alloc);
	dc->refs->v[dc->refs->n] = *r;
	dc->refs->v[dc->refs->n].origin = dc->origin;
	dc->refs->n++;
}

static const char *const node_attrs[] = {
	"id", "name", "hostname", "ip", "mac", "pool", "index", "provider", "type", NULL,
};

/* Parse the inside of one ${...}: "node.web[2].ip", "self.ip", "var.x". */
static __attribute__((noinline)) int parse_ref(struct cairn_decoder *dc, const char *expr, struct cairn_loc loc,
		     const char *key)
{
	struct cairn_ref r = { .index = CAIRN_REF_NOINDEX, .expr = true, .key = key, .loc = loc };
	const char *p = expr, *q;
	char *name = NULL;

	if (!strncmp(p, "var.", 4) || !strcmp(p, "stack.name")) {
		/* Substituted before decoding: a survivor is unknown. */
		derror(dc, loc, "unknown variable in '${%s}'", expr);
		return 1;
	}
	if (!strncmp(p, "self.", 5)) {
		if (!dc->in_node) {
			derror(dc, loc, "'${%s}' is only valid inside a node", expr);
			return 1;
		}
		r.self = true;
		r.kind = CAIRN_KIND_NODE;
		p += 5;
		goto attr;
	}
	if (strncmp(p, "node.", 5)) {
		/* gcc 12 with -fsanitize=undefined wrongly sees p as NULL here
		 * (-Wformat-overflow); going through a local keeps it quiet. */
		const char *shown_expr = expr[0] ? expr : "";

		derror(dc, loc, "unknown reference '${%s}'", shown_expr);
		if (!strncmp(p, "nodes.", 6))
			cairn_diag_hint(dc->diags, "did you mean '${node.%s}'?", p + 6);
		else if (!strncmp(p, "stack.", 6))
			cairn_diag_hint(dc->diags, "the stack has one attribute: ${stack.name}");
		else
			cairn_diag_hint(dc->diags, "references are ${var.NAME}, ${node.NAME.ATTR}, ${node.NAME[i].ATTR}, ${node.NAME[*].ATTR}, ${self.ATTR} and ${stack.name}");
		return 1;
	}
	p += 5;
	for (q = p; *q && *q != '.' && *q != '['; q++)
		;
	if (q == p)
		goto bad;
	name = xstrndup(p, q - p);
	r.kind = CAIRN_KIND_NODE;
	if (*q == '[') {
		if (q[1] == '*' && q[2] == ']') {
			r.index = CAIRN_REF_STAR;
			q += 3;
		} else {
			char *end;
			long i;

			if (!isdigit((unsigned char)q[1]))
				goto bad;
			i = strtol(q + 1, &end, 10);
			if (*end != ']' || i > 1000000)
				goto bad;
			r.index = (int)i;
			q = end + 1;
		}
	}
	if (*q != '.')
		goto bad;
	p = q + 1;
	r.name = name;
	name = NULL;
attr:
	if (!*p)
		goto bad;
	{
		bool known = false;

		for (const char *const *a = node_attrs; *a; a++)
			if (!strcmp(*a, p))
				known = true;
		if (!strncmp(p, "labels.", 7) && p[7])
			known = true;
		if (!known) {
			const char *m = cairn_did_you_mean(p, node_attrs);

			derror(dc, loc, "unknown node attribute '%s' in '${%s}'", p, expr);
			if (m)
				cairn_diag_hint(dc->diags, "did you mean '%s'?", m);
			else
				cairn_diag_hint(dc->diags, "node attributes are id, name, hostname, ip, mac, pool, index, provider, type and labels.KEY");
			free(r.name);
			return 1;
		}
	}
	r.attr = xstrdup(p);
	refs_add(dc, &r);
	return 0;
bad:
	free(name);
	free(r.name);
	derror(dc, loc, "malformed reference '${%s}'", expr);
	cairn_diag_hint(dc->diags, "write ${node.NAME.ATTR}, ${node.NAME[i].ATTR} or ${node.NAME[*].ATTR}");
	return 1;
}

int cairn_scan_refs(struct cairn_decoder *dc, const struct cairn_ynode *y, const char *key)
{
	const char *s = y->text, *p = s;
	int problems = 0;

	while ((p = strstr(p, "${")) != NULL) {
		const char *end;
		char *expr, *a, *b;

		if (p > s && p[-1] == '$') {     /* $${ is a literal ${ */
			p += 2;
			continue;
		}
		end = strchr(p + 2, '}');
		if (!end) {
			derror(dc, cairn_ynode_loc_at(y, p - s), "unterminated reference: '${' without '}'");
			cairn_diag_hint(dc->diags, "write $${ for a literal ${");
			return problems + 1;
		}
		expr = xstrndup(p + 2, end - p - 2);
		for (a = expr; isspace((unsigned char)*a); a++)
			;
		for (b = a + strlen(a); b > a && isspace((unsigned char)b[-1]); b--)
			;
		*b = '\0';
		problems += parse_ref(dc, a, cairn_ynode_loc_at(y, p - s), key);
		free(expr);
		p = end + 1;
	}
	return problems;
}

json_t *cairn_ynode_to_json(const struct cairn_ynode *y)
{
	json_t *j;

	switch (y->type) {
	case CAIRN_Y_SCALAR: {
		long long i;
		bool b;
		char *end;
		double d;

		if (y->quoted)
			return json_stringn(y->text, y->len);
		if (y->null)
			return json_null();
		if (!parse_int(y->text, &i))
			return json_integer(i);
		if (!parse_bool(y->text, &b))
			return json_boolean(b);
		errno = 0;
		d = strtod(y->text, &end);
		if (!*end && !errno && y->len && isdigit((unsigned char)y->text[y->len - 1]))
			return json_real(d);
		return json_stringn(y->text, y->len);
	}
	case CAIRN_Y_SEQ:
		j = json_array();
		for (size_t i = 0; i < y->n; i++)
			json_array_append_new(j, cairn_ynode_to_json(y->items[i]));
		return j;
	case CAIRN_Y_MAP:
		j = json_object();
		for (size_t i = 0; i < y->n; i++)
			json_object_set_new(j, y->pairs[i].key->text,
					    cairn_ynode_to_json(y->pairs[i].value));
		return j;
	}
	return json_null();
}

static json_t *decode_list(struct cairn_decoder *dc, const struct cairn_ynode *y,
			   const struct cairn_field *f)
{
	json_t *a = json_array();
	struct cairn_field elem = *f->elem;

	elem.name = f->name;
	if (y->type == CAIRN_Y_SCALAR && (f->flags & CAIRN_FF_LIST_SCALAR)) {
		json_t *v = cairn_decode_value(dc, y, &elem);

		if (v)
			json_array_append_new(a, v);
		return a;
	}
	if (y->type != CAIRN_Y_SEQ) {
		derror(dc, y->loc, "'%s' must be a list, not %s", f->name, cairn_ynode_describe(y));
		json_decref(a);
		return NULL;
	}
	for (size_t i = 0; i < y->n; i++) {
		json_t *v = cairn_decode_value(dc, y->items[i], &elem);

		json_array_append_new(a, v ? v : json_null());
	}
	if ((f->flags & CAIRN_FF_NONEMPTY) && !y->n)
		derror(dc, y->loc, "'%s' must not be empty", f->name);
	return a;
}

static json_t *decode_map(struct cairn_decoder *dc, const struct cairn_ynode *y,
			  const struct cairn_field *f)
{
	static const struct cairn_field any = { "value", CAIRN_FT_ANY };
	json_t *o;

	if (y->type != CAIRN_Y_MAP) {
		derror(dc, y->loc, "'%s' must be a mapping, not %s", f->name, cairn_ynode_describe(y));
		return NULL;
	}
	o = json_object();
	for (size_t i = 0; i < y->n; i++) {
		struct cairn_field elem = f->elem ? *f->elem : any;
		json_t *v;

		elem.name = y->pairs[i].key->text;
		v = cairn_decode_value(dc, y->pairs[i].value, &elem);
		json_object_set_new(o, y->pairs[i].key->text, v ? v : json_null());
	}
	return o;
}

static json_t *decode_scalar_text(struct cairn_decoder *dc, const struct cairn_ynode *y,
				  const struct cairn_field *f)
{
	if (!want_scalar(dc, y, f, "a string"))
		return NULL;
	if (f->type == CAIRN_FT_STRING && memchr(y->text, '\n', y->len)) {
		derror(dc, y->loc, "'%s' must be one line", f->name);
		return NULL;
	}
	if ((f->flags & CAIRN_FF_NONEMPTY) && !y->len) {
		derror(dc, y->loc, "'%s' must not be empty", f->name);
		return NULL;
	}
	if (f->flags & CAIRN_FF_NOREFS) {
		if (!no_ref_here(dc, y, f))
			return NULL;
	} else if (has_node_ref(y) && cairn_scan_refs(dc, y, f->name)) {
		return NULL;
	}
	return json_stringn(y->text, y->len);
}

json_t *cairn_decode_value(struct cairn_decoder *dc, const struct cairn_ynode *y,
			   const struct cairn_field *f)
{
	struct cairn_error err = CAIRN_ERROR_INIT;
	long long i;
	bool b;

	switch (f->type) {
	case CAIRN_FT_STRING:
	case CAIRN_FT_TEXT:
		return decode_scalar_text(dc, y, f);
	case CAIRN_FT_INT:
	case CAIRN_FT_PORT:
		if (!want_scalar(dc, y, f, "an integer") || !no_ref_here(dc, y, f))
			return NULL;
		if (parse_int(y->text, &i)) {
			char *s = shown(y);

			derror(dc, y->loc, "'%s' must be an integer, not %s", f->name, s);
			free(s);
			return NULL;
		}
		if (f->type == CAIRN_FT_PORT && (i < 1 || i > 65535)) {
			derror(dc, y->loc, "'%s' must be a port between 1 and 65535, not %lld",
			      f->name, i);
			return NULL;
		}
		return check_bounds(dc, y, f, i);
	case CAIRN_FT_BOOL:
		if (!want_scalar(dc, y, f, "true or false") || !no_ref_here(dc, y, f))
			return NULL;
		if (parse_bool(y->text, &b)) {
			char *s = shown(y);

			derror(dc, y->loc, "'%s' must be true or false, not %s", f->name, s);
			free(s);
			return NULL;
		}
		return json_boolean(b);
	case CAIRN_FT_SIZE: {
		uint64_t v;

		if (!want_scalar(dc, y, f, "a size") || !no_ref_here(dc, y, f))
			return NULL;
		if (dc->canonical && all_digits(y->text))
			return check_bounds(dc, y, f, strtoll(y->text, NULL, 10));
		if (cairn_parse_size(y->text, &v, &err)) {
			error_from(dc, y->loc, &err);
			return NULL;
		}
		if (v > INT64_MAX)
			v = INT64_MAX;
		return check_bounds(dc, y, f, (long long)v);
	}
	case CAIRN_FT_DURATION: {
		int64_t ms;

		if (!want_scalar(dc, y, f, "a duration") || !no_ref_here(dc, y, f))
			return NULL;
		if (dc->canonical && all_digits(y->text))
			return check_bounds(dc, y, f, strtoll(y->text, NULL, 10));
		if (cairn_parse_duration(y->text, &ms, &err)) {
			error_from(dc, y->loc, &err);
			return NULL;
		}
		return check_bounds(dc, y, f, ms);
	}
	case CAIRN_FT_CIDR: {
		struct cairn_cidr c;

		if (!want_scalar(dc, y, f, "a CIDR") || !no_ref_here(dc, y, f))
			return NULL;
		if (cairn_parse_cidr(y->text, &c, &err)) {
			error_from(dc, y->loc, &err);
			return NULL;
		}
		return json_string(y->text);
	}
	case CAIRN_FT_NAME:
	case CAIRN_FT_REF: {
		const char *why = NULL;

		if (!want_scalar(dc, y, f, "a name") || !no_ref_here(dc, y, f))
			return NULL;
		if (!cairn_name_valid(y->text, &why)) {
			char *s = shown(y);

			derror(dc, y->loc, "invalid name %s for '%s': %s", s, f->name, why);
			free(s);
			return NULL;
		}
		if (f->type == CAIRN_FT_REF) {
			struct cairn_ref r = { .kind = f->ref, .name = xstrdup(y->text),
					       .index = CAIRN_REF_NOINDEX, .key = f->name,
					       .loc = y->loc };

			refs_add(dc, &r);
		}
		return json_string(y->text);
	}
	case CAIRN_FT_ENUM: {
		const char *m;
		struct cairn_buf all = CAIRN_BUF_INIT;

		if (!want_scalar(dc, y, f, "a string") || !no_ref_here(dc, y, f))
			return NULL;
		for (const char *const *c = f->choices; *c; c++)
			if (!strcmp(*c, y->text))
				return json_string(y->text);
		for (const char *const *c = f->choices; *c; c++)
			cairn_buf_addf(&all, "%s%s", c == f->choices ? "" : ", ", *c);
		derror(dc, y->loc, "'%s' must be one of %s, not '%s'", f->name, all.s, y->text);
		cairn_buf_release(&all);
		m = cairn_did_you_mean(y->text, f->choices);
		if (m)
			cairn_diag_hint(dc->diags, "did you mean '%s'?", m);
		return NULL;
	}
	case CAIRN_FT_PATH: {
		if (!want_scalar(dc, y, f, "a path") || !no_ref_here(dc, y, f))
			return NULL;
		if (!y->len) {
			derror(dc, y->loc, "'%s' must not be empty", f->name);
			return NULL;
		}
		if (y->text[0] == '/' || !dc->dir || !*dc->dir)
			return json_string(y->text);
		return json_pack("s++", dc->dir, "", y->text);
	}
	case CAIRN_FT_LIST:
		return decode_list(dc, y, f);
	case CAIRN_FT_MAP:
		return decode_map(dc, y, f);
	case CAIRN_FT_OBJECT: {
		json_t *o;
		size_t errors;

		if (y->type != CAIRN_Y_MAP) {
			derror(dc, y->loc, "'%s' must be a mapping, not %s", f->name,
			      cairn_ynode_describe(y));
			if (f->flags & CAIRN_FF_ONEOF) {
				const char **names = cairn_field_names(f->fields, NULL);
				struct cairn_buf all = CAIRN_BUF_INIT;

				for (size_t k = 0; names[k]; k++)
					cairn_buf_addf(&all, "%s%s: ...", k ? ", " : "", names[k]);
				cairn_diag_hint(dc->diags, "write one of %s", all.s);
				cairn_buf_release(&all);
				free(names);
			}
			return NULL;
		}
		if (f->flags & CAIRN_FF_ONEOF) {
			size_t given = 0;

			for (size_t k = 0; k < y->n; k++)
				if (cairn_field_find(f->fields, y->pairs[k].key->text))
					given++;
			if (given > 1) {
				derror(dc, y->loc, "a '%s' entry takes exactly one of its keys, this one has %zu",
				      f->name, given);
				return NULL;
			}
		}
		{
			/* messages inside say where: "'ssh' of node 'web'" */
			struct cairn_decoder inner = *dc;
			char *what = xasprintf("'%s' of %s", f->name, dc->what);

			inner.what = what;
			errors = dc->diags->nerrors;
			o = cairn_decode_object(&inner, y, f->fields, NULL, false, y->loc);
			free(what);
		}
		/* "- run:" with nothing is an entry that says nothing */
		if ((f->flags & CAIRN_FF_ONEOF) && !json_object_size(o) &&
		    dc->diags->nerrors == errors) {
			const char **names = cairn_field_names(f->fields, NULL);
			struct cairn_buf all = CAIRN_BUF_INIT;

			derror(dc, y->loc, "empty '%s' entry", f->name);
			for (size_t k = 0; names[k]; k++)
				cairn_buf_addf(&all, "%s%s", k ? ", " : "", names[k]);
			cairn_diag_hint(dc->diags, "an entry is one of %s", all.s);
			cairn_buf_release(&all);
			free(names);
		}
		return o;
	}
	case CAIRN_FT_MODE: {
		const char *t;
		size_t n;

		if (!want_scalar(dc, y, f, "an octal mode") || !no_ref_here(dc, y, f))
			return NULL;
		t = y->text;
		n = strspn(t, "01234567");
		if (n != y->len || n < 3 || n > 5 || (n == 5 && t[0] != '0')) {
			char *s = shown(y);

			derror(dc, y->loc, "'%s' must be octal permissions such as \"0644\", not %s",
			       f->name, s);
			free(s);
			return NULL;
		}
		return json_string(n == 3 ? (char[5]){ '0', t[0], t[1], t[2], 0 } : t);
	}
	case CAIRN_FT_ANY:
		if (dc->no_refs)
			return cairn_ynode_to_json(y);
		if (has_node_ref(y))
			cairn_scan_refs(dc, y, f->name);
		if (y->type != CAIRN_Y_SCALAR) {
			/* references deeper down are checked too */
			for (size_t k = 0; k < y->n; k++) {
				const struct cairn_ynode *c = y->type == CAIRN_Y_SEQ ?
					y->items[k] : y->pairs[k].value;
				struct cairn_field any = *f;

				if (has_node_ref(c))
					cairn_scan_refs(dc, c, any.name);
			}
		}
		return cairn_ynode_to_json(y);
	}
	BUG("unhandled field type %d", f->type);
}

/* The default of f as JSON, or NULL. */
static json_t *default_value(struct cairn_decoder *dc, const struct cairn_field *f)
{
	struct cairn_ynode y = { .type = CAIRN_Y_SCALAR, .loc = CAIRN_LOC_NONE };
	struct cairn_decoder quiet = *dc;
	struct cairn_diags none = CAIRN_DIAGS_INIT;
	json_t *v;

	if (!f->def)
		return NULL;
	y.text = (char *)f->def;
	y.len = strlen(f->def);
	quiet.diags = &none;
	quiet.refs = NULL;
	v = cairn_decode_value(&quiet, &y, f);
	if (none.nerrors)
		BUG("bad default '%s' for field '%s'", f->def, f->name);
	cairn_diags_release(&none);
	return v;
}

json_t *cairn_decode_object(struct cairn_decoder *dc, const struct cairn_ynode *y,
			    const struct cairn_field *a, const struct cairn_field *b,
			    bool open, struct cairn_loc loc)
{
	json_t *o = json_object();
	const char **names = NULL;
	const char *suggested[8] = { NULL };
	size_t nsuggested = 0;

	if (y && y->type != CAIRN_Y_MAP && !(y->type == CAIRN_Y_SCALAR && y->null)) {
		derror(dc, y->loc, "%s must be a mapping, not %s", dc->what, cairn_ynode_describe(y));
		return o;
	}
	for (size_t i = 0; y && y->type == CAIRN_Y_MAP && i < y->n; i++) {
		const struct cairn_ypair *p = &y->pairs[i];
		const char *key = p->key->text;
		const struct cairn_field *f = cairn_field_find(b, key);
		json_t *v;

		if (!f)
			f = cairn_field_find(a, key);
		if (!f) {
			const char *m;

			if (open) {
				json_object_set_new(o, key, cairn_ynode_to_json(p->value));
				continue;
			}
			if (!names)
				names = cairn_field_names(b, a);
			derror(dc, p->key->loc, "unknown key '%s' in %s", key, dc->what);
			m = cairn_did_you_mean(key, names);
			if (m) {
				cairn_diag_hint(dc->diags, "did you mean '%s'?", m);
				if (nsuggested < ARRAY_SIZE(suggested))
					suggested[nsuggested++] = m;
			} else {
				struct cairn_buf all = CAIRN_BUF_INIT;

				for (size_t k = 0; names[k]; k++)
					cairn_buf_addf(&all, "%s%s", k ? ", " : "", names[k]);
				cairn_diag_hint(dc->diags, "valid keys: %s", all.s);
				cairn_buf_release(&all);
			}
			continue;
		}
		if (f->flags & CAIRN_FF_UNUSED) {
			derror(dc, p->key->loc, "'%s' does not apply to %s", key, dc->what);
			if (f->help)
				cairn_diag_hint(dc->diags, "%s", f->help);
			continue;
		}
		if (f->flags & CAIRN_FF_COMPUTED) {
			derror(dc, p->key->loc, "'%s' is set by cairn and cannot be given", key);
			continue;
		}
		if (p->value->type == CAIRN_Y_SCALAR && p->value->null && f->type != CAIRN_FT_ANY) {
			/* "key:" with nothing is as if the key were absent, but a
			 * required one is reported here, once */
			if (f->flags & CAIRN_FF_REQUIRED) {
				derror(dc, p->value->loc, "'%s' in %s has no value", key, dc->what);
				json_object_set_new(o, key, json_null());
			}
			continue;
		}
		v = cairn_decode_value(dc, p->value, f);
		if (v)
			json_object_set_new(o, key, v);
		else
			json_object_set_new(o, key, json_null());
	}
	free(names);
	/* Required keys, then defaults, over both tables. */
	for (int t = 0; t < 2; t++) {
		const struct cairn_field *tab = t ? a : b;

		for (const struct cairn_field *f = tab; f && f->name; f++) {
			json_t *d;

			if (t && cairn_field_find(b, f->name))
				continue;   /* overridden by the type */
			if (json_object_get(o, f->name))
				continue;
			if (f->flags & CAIRN_FF_REQUIRED) {
				bool typo = false;

				/* "memroy" was already reported with "did you
				 * mean 'memory'?": do not say it again */
				for (size_t k = 0; k < nsuggested; k++)
					if (!strcmp(suggested[k], f->name))
						typo = true;
				if (typo)
					continue;
				derror(dc, loc, "%s is missing '%s'", dc->what, f->name);
				if (f->help)
					cairn_diag_hint(dc->diags, "%s: %s", f->name, f->help);
				continue;
			}
			d = default_value(dc, f);
			if (d)
				json_object_set_new(o, f->name, d);
		}
	}
	/* Nulls stood in for wrong values; drop them. */
	{
		const char *k;
		json_t *v;
		void *tmp;

		json_object_foreach_safe(o, tmp, k, v)
			if (json_is_null(v))
				json_object_del(o, k);
	}
	return o;
}
