/*
 * resolve.c - ${node...} and ${self...} references, filled in from what
 * the store knows about the stack's resources.
 */
#include "util/common.h"

#include <ctype.h>

#include "engine/engine.h"
#include "util/jsonutil.h"

struct ctx {
	const struct cairn_resource_record *recs;
	size_t n;
	cairn_engine_lookup_fn *lookup;
	void *lookup_ctx;
	const struct cairn_resource_record *self;
};

static int cmp_addr(const void *key, const void *elem)
{
	return strcmp(key, ((const struct cairn_resource_record *)elem)->address);
}

static const struct cairn_resource_record *find(const struct ctx *c, const char *address)
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

/* One attribute of a record as JSON (a new reference). */
static json_t *attr(const struct cairn_resource_record *r, const char *name)
{
	json_t *v = NULL;

	if (!r)
		return json_string("");
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
	return v ? json_incref(v) : json_string("");
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
static json_t *eval(const struct ctx *c, const char *expr)
{
	const char *p, *br, *dot;
	char *name, *address;
	json_t *out;

	if (!strncmp(expr, "self.", 5))
		return attr(c->self, expr + 5);
	if (strncmp(expr, "node.", 5))
		return json_string("");
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

			free(a);
			if (!r)
				break;
			json_array_append_new(out, attr(r, dot ? dot + 1 : ""));
		}
		free(prefix);
		free(name);
		return out;
	}
	dot = strchr(br, '.');
	if (*br == '[') {
		const char *close = strchr(br, ']');

		address = xasprintf("node.%s%.*s", name, close ? (int)(close - br + 1) : 0, br);
	} else {
		address = xasprintf("node.%s", name);
	}
	out = attr(find(c, address), dot ? dot + 1 : "");
	free(address);
	free(name);
	return out;
}

static json_t *resolve_string(const struct ctx *c, const char *s)
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

static json_t *resolve(const struct ctx *c, const json_t *v, int depth)
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
	struct ctx c = { recs, nrecs, NULL, NULL, self };

	return v ? resolve(&c, v, 0) : NULL;
}

json_t *cairn_engine_resolve_with(const json_t *v, cairn_engine_lookup_fn *lookup, void *ctx,
				  const struct cairn_resource_record *self)
{
	struct ctx c = { NULL, 0, lookup, ctx, self };

	return v ? resolve(&c, v, 0) : NULL;
}
