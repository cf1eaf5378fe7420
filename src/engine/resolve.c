/*
 * resolve.c - ${node...} and ${self...} references, filled in from what
 * the store knows about the stack's resources.
 */
#include "util/common.h"

#include <ctype.h>
#include <stdarg.h>

#include "engine/engine.h"
#include "util/jsonutil.h"

struct ctx {
	const struct cairn_resource_record *recs;
	size_t n;
	cairn_engine_lookup_fn *lookup;
	void *lookup_ctx;
	const struct cairn_resource_record *self;
	const json_t *vars;             /* ${var.NAME}: only when rendering */
	bool strict;                    /* a missing value is an error, not "" */
	char *missing;                  /* strict: why the last eval gave NULL */
};

static int cmp_addr(const void *key, const void *elem)
{
	return strcmp(key, ((const struct cairn_resource_record *)elem)->address);
}

static const struct cairn_resource_record *find(struct ctx *c, const char *address)
{
	if (c->lookup)
		return c->lookup(c->lookup_ctx, address);
	{
	/* records come from the store sorted by address; fall back to a scan */
	const struct cairn_resource_record *r =
		bsearch(address, c->recs, c->n, sizeof(*c->recs), cmp_addr);

	if (r)
		return r;
	for (size_t i = 0; i < c->n; i++)
		if (!strcmp(c->recs[i].address, address))
			return &c->recs[i];
	return NULL;
	}
}

/* One attribute of a record as JSON (a new reference), or NULL when the
 * record has no such attribute (yet). */
static json_t *attr_of(const struct cairn_resource_record *r, const char *name)
{
	json_t *v = NULL;

	if (!strcmp(name, "id")) {
		v = json_object_get(r->observed, "id");
		if (!v)
			return json_string(r->cairn_id ? r->cairn_id : "");
	} else if (!strcmp(name, "ip") || !strcmp(name, "mac")) {
		v = json_object_get(r->observed, name);
	} else if (!strcmp(name, "provider")) {
		return json_string(r->provider ? r->provider : "");
	} else if (!strcmp(name, "type")) {
		return json_string(r->type ? r->type : "");
	} else if (!strncmp(name, "labels.", 7)) {
		v = json_object_get(json_object_get(r->desired, "labels"), name + 7);
	} else {
		v = json_object_get(r->desired, name);
		if (!v)
			v = json_object_get(r->observed, name);
	}
	return v && !json_is_null(v) ? json_incref(v) : NULL;
}

/* Say why the value being evaluated is missing (strict); returns NULL. */
static json_t *miss(struct ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static json_t *miss(struct ctx *c, const char *fmt, ...)
{
	struct cairn_buf b = CAIRN_BUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	cairn_buf_vaddf(&b, fmt, ap);
	va_end(ap);
	free(c->missing);
	c->missing = cairn_buf_detach(&b, NULL);
	return NULL;
}

/* The same for eval: "" for what is missing, or (strict) NULL and why. */
static json_t *attr(struct ctx *c, const struct cairn_resource_record *r,
		    const char *address, const char *name)
{
	json_t *v;

	if (!r)
		return c->strict ? miss(c, "the stack has no %s", address) : json_string("");
	v = attr_of(r, name);
	if (v || !c->strict)
		return v ? v : json_string("");
	return *name ? miss(c, "%s has no '%s' (yet)", r->address, name)
		     : miss(c, "it names %s but none of its attributes", r->address);
}

static void add_text(struct cairn_buf *b, const json_t *v)
{
	if (json_is_string(v)) {
		cairn_buf_addstr(b, json_string_value(v));
	} else if (json_is_array(v)) {
		size_t i;
		json_t *e;

		json_array_foreach(v, i, e) {
			if (i)
				cairn_buf_addch(b, ',');
			add_text(b, e);
		}
	} else {
		char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);

		cairn_buf_addstr(b, s ? s : "");
		free(s);
	}
}

/* The value of one expression: "node.web[2].ip", "node.web[*].ip", "self.name". */
static json_t *eval(struct ctx *c, const char *expr)
{
	const char *p, *br, *dot;
	char *name, *address;
	json_t *out;

	if (!strncmp(expr, "self.", 5))
		return attr(c, c->self, "self", expr + 5);
	if (c->vars && !strncmp(expr, "var.", 4)) {
		json_t *v = json_object_get(c->vars, expr + 4);

		if (v && !json_is_null(v))
			return json_incref(v);
		return miss(c, "variable '%s' has no value", expr + 4);
	}
	if (strncmp(expr, "node.", 5))
		return c->strict ? miss(c, "'%s' is not a reference cairn knows (node., self. or var.)", expr)
				 : json_string("");
	p = expr + 5;
	for (br = p; *br && *br != '[' && *br != '.'; br++)
		;
	name = xstrndup(p, br - p);
	if (*br == '[' && br[1] == '*') {
		char *prefix = xasprintf("node.%s[", name);

		dot = strchr(br, '.');
		out = json_array();
		/* instances in index order, whatever the byte order of addresses */
		for (long i = 0;; i++) {
			char *a = xasprintf("%s%ld]", prefix, i);
			const struct cairn_resource_record *r = find(c, a);
			json_t *v = r ? attr(c, r, a, dot ? dot + 1 : "") : NULL;

			free(a);
			if (!v)
				break;
			json_array_append_new(out, v);
		}
		if (c->strict && !json_array_size(out) && !c->missing)
			miss(c, "the stack has no node.%s[0]", name);
		free(prefix);
		free(name);
		if (c->strict && (c->missing || !json_array_size(out))) {
			json_decref(out);
			return NULL;
		}
		return out;
	}
	dot = strchr(br, '.');
	if (*br == '[') {
		const char *close = strchr(br, ']');

		address = xasprintf("node.%s%.*s", name, close ? (int)(close - br + 1) : 0, br);
	} else {
		address = xasprintf("node.%s", name);
	}
	out = attr(c, find(c, address), address, dot ? dot + 1 : "");
	free(address);
	free(name);
	return out;
}

static json_t *resolve_string(struct ctx *c, const char *s)
{
	struct cairn_buf b = CAIRN_BUF_INIT;
	const char *p = s;
	json_t *out;

	/* a string that is exactly one reference takes its value's type:
	 * "${node.web[*].ip}" is a list */
	if (!strncmp(s, "${", 2) && strchr(s, '}') == s + strlen(s) - 1 &&
	    !strstr(s + 2, "${")) {
		char *expr = xstrndup(s + 2, strlen(s) - 3);
		char *a = expr, *e;

		while (isspace((unsigned char)*a))
			a++;
		for (e = a + strlen(a); e > a && isspace((unsigned char)e[-1]); e--)
			;
		*e = '\0';
		out = eval(c, a);
		free(expr);
		return out;
	}
	while (*p) {
		if (p[0] == '$' && p[1] == '$' && p[2] == '{') {
			cairn_buf_addstr(&b, "${");
			p += 3;
			continue;
		}
		if (p[0] == '$' && p[1] == '{') {
			const char *end = strchr(p, '}');
			char *expr, *a, *e;
			json_t *v;

			if (!end) {
				cairn_buf_addstr(&b, p);
				break;
			}
			expr = xstrndup(p + 2, end - p - 2);
			for (a = expr; isspace((unsigned char)*a); a++)
				;
			for (e = a + strlen(a); e > a && isspace((unsigned char)e[-1]); e--)
				;
			*e = '\0';
			v = eval(c, a);
			add_text(&b, v);
			json_decref(v);
			free(expr);
			p = end + 1;
			continue;
		}
		cairn_buf_addch(&b, *p++);
	}
	out = json_stringn(b.s, b.len);
	cairn_buf_release(&b);
	return out;
}

static json_t *resolve(struct ctx *c, const json_t *v, int depth)
{
	json_t *out;

	if (depth > 64)
		return json_incref((json_t *)v);
	if (json_is_string(v))
		return strchr(json_string_value(v), '$') ? resolve_string(c, json_string_value(v))
							  : json_incref((json_t *)v);
	if (json_is_array(v)) {
		size_t i;
		json_t *e;

		out = json_array();
		json_array_foreach(v, i, e)
			json_array_append_new(out, resolve(c, e, depth + 1));
		return out;
	}
	if (json_is_object(v)) {
		const char *k;
		json_t *e;

		out = json_object();
		json_object_foreach((json_t *)v, k, e)
			json_object_set_new(out, k, resolve(c, e, depth + 1));
		return out;
	}
	return json_incref((json_t *)v);
}

json_t *cairn_engine_resolve(const json_t *v, const struct cairn_resource_record *recs,
			     size_t nrecs, const struct cairn_resource_record *self)
{
	struct ctx c = { recs, nrecs, NULL, NULL, self, NULL, false, NULL };

	return v ? resolve(&c, v, 0) : NULL;
}

json_t *cairn_engine_resolve_with(const json_t *v, cairn_engine_lookup_fn *lookup, void *ctx,
				  const struct cairn_resource_record *self)
{
	struct ctx c = { NULL, 0, lookup, ctx, self, NULL, false, NULL };

	return v ? resolve(&c, v, 0) : NULL;
}

/* line:col (from 1) of offset off in text */
static void line_col(const char *text, size_t off, int *line, int *col)
{
	*line = 1;
	*col = 1;
	for (size_t i = 0; i < off; i++) {
		if (text[i] == '\n') {
			(*line)++;
			*col = 1;
		} else {
			(*col)++;
		}
	}
}

int cairn_engine_render(const char *text, size_t len, cairn_engine_lookup_fn *lookup, void *lctx,
			const struct cairn_resource_record *self, const json_t *vars,
			struct cairn_buf *out, struct cairn_error *err)
{
	struct ctx c = { NULL, 0, lookup, lctx, self, vars, true, NULL };
	size_t i = 0;
	int line, col;

	while (i < len) {
		const char *end;
		char *expr, *a, *e;
		json_t *v;

		if (text[i] == '$' && i + 2 < len && text[i + 1] == '$' && text[i + 2] == '{') {
			cairn_buf_addstr(out, "${");
			i += 3;
			continue;
		}
		if (text[i] != '$' || i + 1 >= len || text[i + 1] != '{') {
			cairn_buf_addch(out, text[i++]);
			continue;
		}
		end = memchr(text + i, '}', len - i);
		if (!end || memchr(text + i, '\n', (size_t)(end - text) - i)) {
			line_col(text, i, &line, &col);
			return cairn_error_set(err, CAIRN_E_INVALID, "%d:%d: '${' without its '}'", line, col);
		}
		expr = xstrndup(text + i + 2, (size_t)(end - text) - i - 2);
		for (a = expr; isspace((unsigned char)*a); a++)
			;
		for (e = a + strlen(a); e > a && isspace((unsigned char)e[-1]); e--)
			;
		*e = '\0';
		v = eval(&c, a);
		if (!v) {
			line_col(text, i, &line, &col);
			cairn_error_set(err, CAIRN_E_INVALID, "%d:%d: ${%s}: %s", line, col, a,
					c.missing ? c.missing : "no value");
			free(c.missing);
			free(expr);
			return -1;
		}
		add_text(out, v);
		json_decref(v);
		free(expr);
		i = (size_t)(end - text) + 1;
	}
	free(c.missing);
	return 0;
}
