/*
 * load.c - reading a stack: files and includes, variables, sections,
 * declarations decoded against the field tables.
 *
 * The order matters and is the order of the functions below: parse every
 * file (the root first, then its includes, depth first), learn the
 * variables and substitute them everywhere, check the top level, declare
 * every name, then decode each declaration.  Cross-references are checked
 * only once every name is known (expand.c).
 */
#include "util/common.h"

#include <ctype.h>
#include <limits.h>

#include "spec/loader.h"
#include "spec/yaml.h"
#include "util/units.h"

static const struct cairn_yaml_limits limits = {
	CAIRN_SPEC_MAX_DEPTH, CAIRN_SPEC_MAX_NODES,
};


void spec_diag(struct loader *l, struct cairn_loc loc, const char *fmt, ...)
{
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	msg = xvasprintf(fmt, ap);
	va_end(ap);
	cairn_diag_add(l->diags, CAIRN_SEV_ERROR, loc, "%s", msg);
	free(msg);
}

/* ---- files ------------------------------------------------------------ */

/* Parse text (owned by the sources from now on) as the file path. */
static struct cairn_ynode *parse_text(struct loader *l, const char *path, char *text,
				      size_t len)
{
	struct cairn_source *src = cairn_sources_add(l->sources, path, text, len);
	struct cairn_ynode *root = NULL;
	struct cairn_loc whole = { src->path, 0, 0 };

	if (cairn_yaml_check_text(src->path, text, len, l->diags))
		return NULL;
	if (cairn_yaml_parse(&l->priv->arena, src->path, text, len, &limits,
			     l->diags, &root))
		return NULL;
	if (root->type == CAIRN_Y_SCALAR && root->null) {
		spec_diag(l, whole, "empty stack file: no YAML document in it");
		return NULL;
	}
	if (root->type != CAIRN_Y_MAP) {
		spec_diag(l, root->loc, "a stack file must be a mapping of sections, not %s",
		     cairn_ynode_describe(root));
		spec_hint(l, "start with 'stack: NAME', then sections such as 'nodes:'");
		return NULL;
	}
	return root;
}

static struct cairn_ynode *read_and_parse(struct loader *l, const char *path,
					  struct cairn_loc from, const char **interned)
{
	struct cairn_buf b = CAIRN_BUF_INIT;
	struct cairn_error err = CAIRN_ERROR_INIT;
	size_t max = l->opt && l->opt->max_bytes ? l->opt->max_bytes : CAIRN_SPEC_MAX_BYTES;
	struct cairn_ynode *root;
	size_t len;
	char *text;

	if (cairn_buf_read_file(&b, path, max, &err)) {
		cairn_diag_add(l->diags, CAIRN_SEV_ERROR, from, "%s", err.message);
		cairn_error_release(&err);
		cairn_buf_release(&b);
		l->parse_failed = true;
		return NULL;
	}
	len = b.len;
	text = cairn_buf_detach(&b, NULL);
	root = parse_text(l, path, text, len);
	if (!root)
		l->parse_failed = true;
	*interned = l->sources->v[l->sources->n - 1]->path;
	return root;
}

static char *dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? xstrndup(path, slash - path + 1) : xstrdup("");
}

static void add_file(struct loader *l, const char *path, char *dir,
		     struct cairn_ynode *root, int depth)
{
	ALLOC_GROW(l->files, l->nfiles + 1, l->afiles);
	l->files[l->nfiles++] = (struct spec_file){ path, dir, root, depth };
}

static void load_includes(struct loader *l, size_t fi)
{
	const struct cairn_ynode *inc = cairn_ynode_get(l->files[fi].root, "include");
	int depth = l->files[fi].depth;

	if (!inc || (inc->type == CAIRN_Y_SCALAR && inc->null))
		return;
	if (inc->type == CAIRN_Y_MAP) {
		spec_diag(l, inc->loc, "'include' must be a list of files, not a mapping");
		return;
	}
	for (size_t i = 0; i < (inc->type == CAIRN_Y_SEQ ? inc->n : 1); i++) {
		const struct cairn_ynode *y = inc->type == CAIRN_Y_SEQ ? inc->items[i] : inc;
		const char *interned = NULL;
		struct cairn_ynode *root;
		char *path, *dir;
		bool cycle = false;

		if (y->type != CAIRN_Y_SCALAR || !y->len) {
			spec_diag(l, y->loc, "an include must be a file name, not %s",
			     cairn_ynode_describe(y));
			continue;
		}
		if (depth + 1 > CAIRN_SPEC_MAX_INCLUDE_DEPTH) {
			spec_diag(l, y->loc, "includes nested deeper than %d levels",
			     CAIRN_SPEC_MAX_INCLUDE_DEPTH);
			return;
		}
		path = y->text[0] == '/' ? xstrdup(y->text)
					 : xasprintf("%s%s", l->files[fi].dir, y->text);
		for (size_t k = 0; k < l->nfiles; k++) {
			char *a = realpath(path, NULL), *b = realpath(l->files[k].path, NULL);

			if (a && b && !strcmp(a, b))
				cycle = true;
			free(a);
			free(b);
		}
		if (cycle) {
			spec_diag(l, y->loc, "'%s' is included more than once (or includes itself)", y->text);
			free(path);
			continue;
		}
		root = read_and_parse(l, path, y->loc, &interned);
		if (!root) {
			free(path);
			continue;
		}
		dir = dir_of(interned);
		free(path);
		add_file(l, interned, dir, root, depth + 1);
		load_includes(l, l->nfiles - 1);
	}
}

/* ---- variables -------------------------------------------------------- */

static struct spec_var *var_get(struct loader *l, const char *name)
{
	uintptr_t i = (uintptr_t)cairn_strmap_get(&l->varmap, name);

	return i ? &l->vars[i - 1] : NULL;
}

/*
 * NAME: {default: V, ...} is the long form as soon as one key is one of its
 * keys; the others are then checked (a typo such as 'defualt' is reported
 * instead of silently making the whole mapping the value).  A map value
 * whose keys include those words is written in the long form.
 */
static bool is_long_form(const struct cairn_ynode *v)
{
	if (v->type != CAIRN_Y_MAP || !v->n)
		return false;
	for (size_t i = 0; i < v->n; i++)
		if (cairn_field_find(cairn_variable_fields, v->pairs[i].key->text))
			return true;
	return false;
}

/* Does a variable's value fit its declared type? */
static void check_var_type(struct loader *l, const struct spec_var *v)
{
	const struct cairn_ynode *y = v->value;
	bool ok = true;

	if (!v->type || !y)
		return;
	if (!strcmp(v->type, "list"))
		ok = y->type == CAIRN_Y_SEQ;
	else if (!strcmp(v->type, "map"))
		ok = y->type == CAIRN_Y_MAP;
	else if (y->type != CAIRN_Y_SCALAR)
		ok = false;
	else if (!strcmp(v->type, "number")) {
		char *end;

		strtod(y->text, &end);
		ok = y->len && !*end && !y->quoted;
	} else if (!strcmp(v->type, "bool")) {
		static const char *const words[] = { "true", "false", "yes", "no", "on", "off", NULL };

		ok = false;
		for (const char *const *w = words; *w; w++)
			if (!strcmp(y->text, *w))
				ok = true;
	}
	if (ok)
		return;
	if (y->type == CAIRN_Y_SCALAR)
		spec_diag(l, y->loc, "variable '%s' must be a %s, not '%s'", v->name, v->type, y->text);
	else
		spec_diag(l, y->loc, "variable '%s' must be a %s, not %s", v->name, v->type,
		     cairn_ynode_describe(y));
	spec_hint(l, "variable '%s' is declared with 'type: %s'", v->name, v->type);
}

/* Values of variables are plain data: no ${var...} inside them. */
static void check_var_value(struct loader *l, const struct cairn_ynode *y, int depth)
{
	if (!y || depth > CAIRN_SPEC_MAX_DEPTH)
		return;
	if (y->type == CAIRN_Y_SCALAR) {
		const char *p = y->text;

		/* the first ${ that is not the escape $${ */
		while ((p = strstr(p, "${")) != NULL && p > y->text && p[-1] == '$')
			p += 2;
		if (p) {
			spec_diag(l, cairn_ynode_loc_at(y, p - y->text),
			     "a variable's value cannot hold references");
			spec_hint(l, "compose values where they are used: \"${var.a}-${node.db.ip}\"; write $${ for a literal ${");
		}
		return;
	}
	for (size_t i = 0; i < y->n; i++)
		check_var_value(l, y->type == CAIRN_Y_SEQ ? y->items[i] : y->pairs[i].value,
				depth + 1);
}

static void collect_vars(struct loader *l)
{
	for (size_t fi = 0; fi < l->nfiles; fi++) {
		const struct cairn_ynode *sec = cairn_ynode_get(l->files[fi].root, "variables");

		if (!sec || (sec->type == CAIRN_Y_SCALAR && sec->null))
			continue;
		if (sec->type != CAIRN_Y_MAP) {
			spec_diag(l, sec->loc, "'variables' must be a mapping of NAME: VALUE, not %s",
			     cairn_ynode_describe(sec));
			continue;
		}
		for (size_t i = 0; i < sec->n; i++) {
			const struct cairn_ypair *p = &sec->pairs[i];
			struct spec_var v = { p->key->text, p->key->loc, p->value, false, NULL };
			const char *why;
			struct spec_var *old = var_get(l, v.name);

			if (!cairn_name_valid(v.name, &why) &&
			    !(strchr(v.name, '_') && isalpha((unsigned char)v.name[0]))) {
				spec_diag(l, p->key->loc, "invalid variable name '%s': %s", v.name, why);
				continue;
			}
			if (old) {
				spec_diag(l, p->key->loc, "variable '%s' is declared twice", v.name);
				spec_hint(l, "first declared at %s:%d:%d", old->loc.file, old->loc.line,
				     old->loc.col);
				continue;
			}
			if (is_long_form(p->value)) {
				const struct cairn_ynode *d = cairn_ynode_get(p->value, "default");
				const struct cairn_ynode *s = cairn_ynode_get(p->value, "sensitive");
				const struct cairn_ynode *t = cairn_ynode_get(p->value, "type");
				char *what = xasprintf("variable '%s'", v.name);
				struct cairn_decoder dc = { .diags = l->diags, .canonical = l->opt && l->opt->canonical, .what = what,
							    .no_refs = true };
				json_t *chk;

				chk = cairn_decode_object(&dc, p->value, cairn_variable_fields, NULL,
							  false, p->key->loc);
				json_decref(chk);
				free(what);
				v.value = d;
				v.sensitive = s && s->type == CAIRN_Y_SCALAR &&
					      (!strcmp(s->text, "true") || !strcmp(s->text, "yes"));
				v.type = t && t->type == CAIRN_Y_SCALAR ? t->text : NULL;
			} else if (p->value->type == CAIRN_Y_SCALAR && p->value->null) {
				v.value = NULL;
			}
			check_var_value(l, v.value, 0);
			ALLOC_GROW(l->vars, l->nvars + 1, l->avars);
			l->vars[l->nvars++] = v;
			cairn_strmap_put(&l->varmap, v.name, (void *)(uintptr_t)l->nvars);
		}
	}
}

static struct cairn_ynode *plain_scalar(struct loader *l, const char *text,
					struct cairn_loc loc)
{
	struct cairn_ynode *y = cairn_arena_alloc(&l->priv->arena, sizeof(*y));

	y->type = CAIRN_Y_SCALAR;
	y->loc = loc;
	y->weight = 1;
	y->len = strlen(text);
	y->text = cairn_arena_strndup(&l->priv->arena, text, y->len);
	return y;
}

static void set_var(struct loader *l, const char *name, const struct cairn_ynode *value,
		    struct cairn_loc loc, const char *how, bool must_exist)
{
	struct spec_var *v = var_get(l, name);

	if (!v) {
		const char **names;
		const char *m;

		if (!must_exist)
			return;
		spec_diag(l, loc, "unknown variable '%s' given %s", name, how);
		names = xcalloc(l->nvars + 1, sizeof(*names));
		for (size_t i = 0; i < l->nvars; i++)
			names[i] = l->vars[i].name;
		m = cairn_did_you_mean(name, names);
		if (m)
			spec_hint(l, "did you mean '%s'?", m);
		else if (l->nvars)
			spec_hint(l, "the stack declares %zu variables; see its 'variables' section", l->nvars);
		else
			spec_hint(l, "the stack declares no variables");
		free(names);
		return;
	}
	v->value = value;
}

/* Precedence, lowest first: default, CAIRN_VAR_NAME, --var-file, --var. */
static void apply_overrides(struct loader *l)
{
	extern char **environ;
	const struct cairn_spec_options *opt = l->opt;
	const char *cmdline = cairn_sources_intern(l->sources, "<command line>");
	const char *env = cairn_sources_intern(l->sources, "<environment>");

	if (!opt || !opt->no_env) {
		for (char **e = environ; e && *e; e++) {
			const char *eq;
			char *name;

			if (strncmp(*e, "CAIRN_VAR_", 10) || !(eq = strchr(*e, '=')))
				continue;
			name = xstrndup(*e + 10, eq - *e - 10);
			if (var_get(l, name))
				set_var(l, var_get(l, name)->name,
					plain_scalar(l, eq + 1, (struct cairn_loc){ env, 0, 0 }),
					(struct cairn_loc){ env, 0, 0 }, "in the environment", false);
			free(name);
		}
	}
	for (size_t i = 0; opt && i < opt->nvar_files; i++) {
		const char *interned = NULL;
		struct cairn_ynode *root;
		struct cairn_buf b = CAIRN_BUF_INIT;
		struct cairn_error err = CAIRN_ERROR_INIT;
		size_t len;
		char *text;

		if (cairn_buf_read_file(&b, opt->var_files[i], CAIRN_SPEC_MAX_BYTES, &err)) {
			spec_diag(l, (struct cairn_loc){ cmdline, 0, 0 }, "%s", err.message);
			cairn_error_release(&err);
			cairn_buf_release(&b);
			continue;
		}
		len = b.len;
		text = cairn_buf_detach(&b, NULL);
		cairn_sources_add(l->sources, opt->var_files[i], text, len);
		interned = l->sources->v[l->sources->n - 1]->path;
		if (cairn_yaml_check_text(interned, text, len, l->diags) ||
		    cairn_yaml_parse(&l->priv->arena, interned, text, len, &limits,
				     l->diags, &root))
			continue;
		if (root->type == CAIRN_Y_SCALAR && root->null)
			continue;
		if (root->type != CAIRN_Y_MAP) {
			spec_diag(l, root->loc, "a variables file must be a mapping of NAME: VALUE");
			continue;
		}
		for (size_t k = 0; k < root->n; k++)
			set_var(l, root->pairs[k].key->text, root->pairs[k].value,
				root->pairs[k].key->loc, "in a variables file", true);
	}
	for (size_t i = 0; opt && i < opt->nvars; i++) {
		const char *eq = strchr(opt->vars[i], '=');
		char *name;

		if (!eq || eq == opt->vars[i]) {
			spec_diag(l, (struct cairn_loc){ cmdline, 0, 0 },
			     "malformed --var '%s': expected NAME=VALUE", opt->vars[i]);
			continue;
		}
		name = xstrndup(opt->vars[i], eq - opt->vars[i]);
		set_var(l, name, plain_scalar(l, eq + 1, (struct cairn_loc){ cmdline, 0, 0 }),
			(struct cairn_loc){ cmdline, 0, 0 }, "with --var", true);
		free(name);
	}
	for (size_t i = 0; i < l->nvars; i++) {
		struct spec_var *v = &l->vars[i];

		if (v->value && v->sensitive)
			((struct cairn_ynode *)v->value)->sensitive = true;
		check_var_type(l, v);
		if (!v->value) {
			spec_diag(l, v->loc, "variable '%s' has no value", v->name);
			spec_hint(l, "give it a default, or set it with --var %s=VALUE, --var-file or CAIRN_VAR_%s",
			     v->name, v->name);
		}
	}
}

/* Escape ${ as $${ so that a substituted value is never read as a reference. */
static void add_escaped(struct cairn_buf *b, const char *s)
{
	for (; *s; s++) {
		if (s[0] == '$' && s[1] == '$' && s[2] == '{') {
			cairn_buf_addstr(b, "$${");   /* already escaped */
			s += 2;
			continue;
		}
		if (s[0] == '$' && s[1] == '{')
			cairn_buf_addch(b, '$');
		cairn_buf_addch(b, *s);
	}
}

static const char *const var_words[] = { "var.", "stack.name", NULL };

static bool wants_subst(const char *s)
{
	const char *p = s;

	while ((p = strstr(p, "${")) != NULL) {
		const char *q = p + 2;

		if (p > s && p[-1] == '$') {
			p += 2;
			continue;
		}
		while (isspace((unsigned char)*q))
			q++;
		for (const char *const *w = var_words; *w; w++)
			if (!strncmp(q, *w, strlen(*w)))
				return true;
		p += 2;
	}
	return false;
}

static void substitute(struct loader *l, struct cairn_ynode *y);

static void substitute_scalar(struct loader *l, struct cairn_ynode *y)
{
	struct cairn_buf out = CAIRN_BUF_INIT;
	const char *s = y->text, *p = s;
	bool whole = false;
	const struct cairn_ynode *whole_value = NULL;

	while (*p) {
		const char *end, *a, *b;
		char *expr;

		if (p[0] != '$' || p[1] != '{') {
			cairn_buf_addch(&out, *p++);
			continue;
		}
		if (p > s && p[-1] == '$') {   /* $${: leave for later stages */
			cairn_buf_addstr(&out, "${");
			p += 2;
			continue;
		}
		end = strchr(p, '}');
		if (!end) {
			cairn_buf_addstr(&out, p);
			break;
		}
		for (a = p + 2; isspace((unsigned char)*a); a++)
			;
		for (b = end; b > a && isspace((unsigned char)b[-1]); b--)
			;
		expr = xstrndup(a, b - a);
		if (!strcmp(expr, "stack.name")) {
			const struct cairn_ynode *st = cairn_ynode_get(l->files[0].root, "stack");

			add_escaped(&out, st && st->type == CAIRN_Y_SCALAR ? st->text : "");
		} else if (!strncmp(expr, "var.", 4)) {
			struct spec_var *v = var_get(l, expr + 4);

			if (!v) {
				const char **names = xcalloc(l->nvars + 1, sizeof(*names));
				const char *m;

				for (size_t i = 0; i < l->nvars; i++)
					names[i] = l->vars[i].name;
				spec_diag(l, cairn_ynode_loc_at(y, p - s), "unknown variable '%s'", expr + 4);
				m = cairn_did_you_mean(expr + 4, names);
				if (m)
					spec_hint(l, "did you mean '%s'?", m);
				else
					spec_hint(l, "declare it under 'variables:'");
				free(names);
			} else if (!v->value) {
				/* reported once, at the declaration */
			} else if (v->value->type == CAIRN_Y_SCALAR) {
				add_escaped(&out, v->value->text);
				if (v->sensitive)
					y->sensitive = true;
				if (p == s && end[1] == '\0')
					whole_value = v->value;
			} else if (p == s && end[1] == '\0') {
				whole_value = v->value;
			} else {
				spec_diag(l, cairn_ynode_loc_at(y, p - s),
				     "variable '%s' is %s and cannot be part of a string",
				     v->name, cairn_ynode_describe(v->value));
			}
		} else {
			/* a node or self reference: kept for apply */
			cairn_buf_add(&out, p, end + 1 - p);
		}
		free(expr);
		p = end + 1;
	}
	whole = whole_value != NULL;
	if (whole && whole_value->type != CAIRN_Y_SCALAR) {
		struct cairn_loc at = y->loc;
		bool sensitive = y->sensitive || whole_value->sensitive;

		*y = *whole_value;
		y->loc = at;
		y->sensitive = sensitive;
	} else if (whole) {
		/* the value as it was typed: "4" stays a number, quoted stays a string */
		bool quoted = whole_value->quoted;

		y->text = cairn_arena_strndup(&l->priv->arena, out.s, out.len);
		y->len = out.len;
		y->quoted = quoted;
		y->null = whole_value->null;
	} else {
		y->text = cairn_arena_strndup(&l->priv->arena, out.s, out.len);
		y->len = out.len;
		y->null = false;
	}
	cairn_buf_release(&out);
}

static void substitute(struct loader *l, struct cairn_ynode *y)
{
	switch (y->type) {
	case CAIRN_Y_SCALAR:
		if (wants_subst(y->text))
			substitute_scalar(l, y);
		break;
	case CAIRN_Y_SEQ:
		for (size_t i = 0; i < y->n; i++)
			substitute(l, y->items[i]);
		break;
	case CAIRN_Y_MAP:
		for (size_t i = 0; i < y->n; i++) {
			if (wants_subst(y->pairs[i].key->text)) {
				spec_diag(l, y->pairs[i].key->loc, "a key cannot hold a reference");
				continue;
			}
			substitute(l, y->pairs[i].value);
		}
		break;
	}
}

/* ---- the top level ---------------------------------------------------- */

static void check_top(struct loader *l)
{
	const char **names = cairn_field_names(cairn_stack_fields, NULL);

	for (size_t fi = 0; fi < l->nfiles; fi++) {
		const struct cairn_ynode *root = l->files[fi].root;

		for (size_t i = 0; i < root->n; i++) {
			const struct cairn_ypair *p = &root->pairs[i];
			const char *key = p->key->text;
			const char *m;

			if (!cairn_field_find(cairn_stack_fields, key)) {
				spec_diag(l, p->key->loc, "unknown section '%s'", key);
				m = cairn_did_you_mean(key, names);
				if (m)
					spec_hint(l, "did you mean '%s'?", m);
				else
					spec_hint(l, "sections are stack, description, include, variables, providers, plans, images, networks, volumes, pools, nodes, outputs");
				continue;
			}
			if (fi > 0 && (!strcmp(key, "stack") || !strcmp(key, "description"))) {
				spec_diag(l, p->key->loc, "'%s' may only be set in the root stack file", key);
				spec_hint(l, "this file is included by another");
				continue;
			}
		}
	}
	free(names);
}

static void check_stack_name(struct loader *l)
{
	const struct cairn_ynode *root = l->files[0].root;
	const struct cairn_ynode *st = cairn_ynode_get(root, "stack");
	const struct cairn_ynode *desc = cairn_ynode_get(root, "description");
	const char *why = NULL;

	if (!st) {
		spec_diag(l, root->loc, "the stack has no name: 'stack' is missing");
		spec_hint(l, "add 'stack: NAME' at the top, e.g. 'stack: demo'");
		return;
	}
	if (st->type != CAIRN_Y_SCALAR || st->null) {
		spec_diag(l, st->loc, "'stack' must be a name, not %s", cairn_ynode_describe(st));
		return;
	}
	if (!cairn_name_valid(st->text, &why)) {
		spec_diag(l, st->loc, "invalid stack name '%s': %s", st->text, why);
		return;
	}
	l->m->stack = xstrdup(st->text);
	if (desc && desc->type == CAIRN_Y_SCALAR && !desc->null)
		l->m->description = xstrdup(desc->text);
	else if (desc && desc->type != CAIRN_Y_SCALAR)
		spec_diag(l, desc->loc, "'description' must be text, not %s", cairn_ynode_describe(desc));
}

/* ---- declarations ------------------------------------------------------- */

static bool holds_sensitive(const struct cairn_ynode *y, int depth)
{
	if (y->sensitive)
		return true;
	if (depth > CAIRN_SPEC_MAX_DEPTH)
		return false;
	for (size_t i = 0; i < y->n; i++)
		if (holds_sensitive(y->type == CAIRN_Y_SEQ ? y->items[i] : y->pairs[i].value,
				    depth + 1))
			return true;
	return false;
}

/* Remember which keys of a declaration hold a sensitive variable's value,
 * so that plans print them as (sensitive). */
static void note_sensitive(struct cairn_decl *d)
{
	if (!d->yaml || d->yaml->type != CAIRN_Y_MAP)
		return;
	for (size_t i = 0; i < d->yaml->n; i++)
		if (holds_sensitive(d->yaml->pairs[i].value, 0)) {
			if (!d->sensitive)
				d->sensitive = json_array();
			json_array_append_new(d->sensitive, json_string(d->yaml->pairs[i].key->text));
		}
}

static const enum cairn_kind section_order[] = {
	CAIRN_KIND_PROVIDER, CAIRN_KIND_PLAN, CAIRN_KIND_IMAGE, CAIRN_KIND_POOL,
	CAIRN_KIND_NETWORK, CAIRN_KIND_VOLUME, CAIRN_KIND_NODE, CAIRN_KIND_OUTPUT,
};

static size_t add_decl(struct loader *l, enum cairn_kind kind, const char *name,
		       struct cairn_loc loc, const struct cairn_ynode *y)
{
	struct cairn_model *m = l->m;
	uintptr_t old = (uintptr_t)cairn_strmap_get(&l->priv->decls[kind], name);
	struct cairn_decl *d;

	if (old) {
		const struct cairn_decl *o = &m->decls[old - 1];

		spec_diag(l, loc, "%s '%s' is declared twice", cairn_kind_name(kind), name);
		spec_hint(l, "first declared at %s:%d:%d", o->loc.file, o->loc.line, o->loc.col);
		return SIZE_MAX;
	}
	ALLOC_GROW(m->decls, m->ndecls + 1, m->adecls);
	d = &m->decls[m->ndecls];
	memset(d, 0, sizeof(*d));
	d->kind = kind;
	d->name = xstrdup(name);
	d->loc = loc;
	d->yaml = y;
	d->count = 1;
	/* the map keys the name stored in the decl; decls may move, names not */
	cairn_strmap_put(&l->priv->decls[kind], d->name, (void *)(uintptr_t)(m->ndecls + 1));
	return m->ndecls++;
}

/* "web[01-05]": a range of names.  Returns 0 when key is not a range, the
 * count when it is (with prefix, start and width set), -1 when malformed,
 * -2 when it runs backwards. */
static long parse_range(const char *key, char **prefix, long *start, int *width)
{
	const char *br = strchr(key, '['), *dash, *end;
	char *e1, *e2;
	long a, b;

	if (!br)
		return 0;
	dash = strchr(br, '-');
	end = strchr(br, ']');
	if (!dash || !end || dash > end || end[1] || !isdigit((unsigned char)br[1]) ||
	    !isdigit((unsigned char)dash[1]))
		return -1;
	a = strtol(br + 1, &e1, 10);
	b = strtol(dash + 1, &e2, 10);
	if (e1 != dash || e2 != end || b - a >= 100000)
		return -1;
	if (b < a)
		return -2;
	*prefix = xstrndup(key, br - key);
	*start = a;
	*width = (br[1] == '0' && dash - br - 1 > 1) ? (int)(dash - br - 1) : 0;
	return b - a + 1;
}

static void declare_entry(struct loader *l, enum cairn_kind kind, const struct cairn_ypair *p)
{
	const char *key = p->key->text;
	const char *why = NULL;
	char *prefix = NULL;
	long start = 0, n;
	int width = 0;

	if (kind == CAIRN_KIND_OUTPUT) {
		if (!cairn_name_valid(key, &why) && !strchr(key, '_')) {
			spec_diag(l, p->key->loc, "invalid output name '%s': %s", key, why);
			return;
		}
		add_decl(l, kind, key, p->key->loc, p->value);
		return;
	}
	n = kind == CAIRN_KIND_NODE ? parse_range(key, &prefix, &start, &width) : 0;
	if (n == -2) {
		spec_diag(l, p->key->loc, "range '%s' runs backwards", key);
		spec_hint(l, "write the lower number first, e.g. web[01-05]");
		return;
	}
	if (n < 0 || (n == 0 && strchr(key, '['))) {
		spec_diag(l, p->key->loc, "malformed %s name '%s'", cairn_kind_name(kind), key);
		spec_hint(l, kind == CAIRN_KIND_NODE ? "a range is written NAME[FIRST-LAST], e.g. web[01-05]"
						: "names are [a-z][a-z0-9-]*; only nodes take ranges");
		return;
	}
	if (n == 0) {
		if (!cairn_name_valid(key, &why)) {
			spec_diag(l, p->key->loc, "invalid %s name '%s': %s", cairn_kind_name(kind), key, why);
			spec_hint(l, "names are lowercase letters, digits and '-', starting with a letter, at most 63 long");
			return;
		}
		add_decl(l, kind, key, p->key->loc, p->value);
		return;
	}
	if (l->m->ndecls + (size_t)n > loader_max_resources(l)) {
		spec_diag(l, p->key->loc, "range '%s' makes the stack larger than %zu declarations",
			  key, loader_max_resources(l));
		spec_hint(l, "split the stack, or give one node a count instead of many names");
		free(prefix);
		return;
	}
	for (long i = 0; i < n; i++) {
		char *name = xasprintf("%s%0*ld", prefix, width, start + i);

		if (!cairn_name_valid(name, &why)) {
			spec_diag(l, p->key->loc, "invalid node name '%s' in range '%s': %s", name, key, why);
			free(name);
			break;
		}
		add_decl(l, kind, name, p->key->loc, p->value);
		free(name);
	}
	free(prefix);
}

static void declare_all(struct loader *l)
{
	for (size_t s = 0; s < ARRAY_SIZE(section_order); s++) {
		enum cairn_kind kind = section_order[s];

		for (size_t fi = 0; fi < l->nfiles; fi++) {
			const struct cairn_ynode *sec =
				cairn_ynode_get(l->files[fi].root, cairn_kind_section(kind));

			if (!sec || (sec->type == CAIRN_Y_SCALAR && sec->null))
				continue;
			if (sec->type != CAIRN_Y_MAP) {
				spec_diag(l, sec->loc, "'%s' must be a mapping of NAME: {...}, not %s",
				     cairn_kind_section(kind), cairn_ynode_describe(sec));
				continue;
			}
			for (size_t i = 0; i < sec->n; i++)
				declare_entry(l, kind, &sec->pairs[i]);
		}
	}
}

/* The file a declaration's YAML came from, for relative paths. */
static const char *dir_for(const struct loader *l, const struct cairn_decl *d)
{
	const char *root = l->files[0].dir;

	for (size_t fi = 1; fi < l->nfiles; fi++)
		if (l->files[fi].path == d->loc.file)
			return strncmp(l->files[fi].dir, root, strlen(root)) ? l->files[fi].dir
					: l->files[fi].dir + strlen(root);
	return "";
}

/* Find a provider for a network, volume or node declaration. */
static ssize_t resolve_provider(struct loader *l, size_t di)
{
	struct cairn_model *m = l->m;
	struct cairn_decl *d = &m->decls[di];
	const struct cairn_ynode *py = cairn_ynode_get(d->yaml, "provider");
	const struct cairn_decl *pd;
	ssize_t found = -1;
	size_t candidates = 0;

	if (py && py->type == CAIRN_Y_SCALAR && !py->null) {
		const struct cairn_type_schema *t;

		pd = cairn_model_decl(m, CAIRN_KIND_PROVIDER, py->text);
		if (pd)
			return pd - m->decls;
		t = cairn_schema_lookup(py->text);
		if (t) {
			/* "provider: libvirt" without a providers entry: an
			 * implicit provider of that type, with defaults. */
			size_t pi = add_decl(l, CAIRN_KIND_PROVIDER, py->text, py->loc, NULL);
			struct cairn_decoder dc = { .diags = l->diags, .canonical = l->opt && l->opt->canonical, .what = "provider" };
			struct cairn_ynode *map = cairn_arena_alloc(&l->priv->arena, sizeof(*map));

			map->type = CAIRN_Y_MAP;
			map->loc = py->loc;
			map->n = 1;
			map->pairs = cairn_arena_alloc(&l->priv->arena, sizeof(*map->pairs));
			map->pairs[0].key = plain_scalar(l, "type", py->loc);
			map->pairs[0].value = plain_scalar(l, t->name, py->loc);
			m->decls[pi].yaml = map;
			ALLOC_GROW(l->providers, l->nproviders + 1, l->aproviders);
			l->providers[l->nproviders++] = pi;
			m->decls[pi].attrs = cairn_decode_object(&dc, map, cairn_provider_fields,
								 t->provider_fields, t->open,
								 py->loc);
			m->decls[pi].type = t;
			return pi;
		}
		return -1;   /* reported as an unknown reference when decoding */
	}
	if (d->kind == CAIRN_KIND_NODE &&
	    (pd = cairn_model_decl(m, CAIRN_KIND_PROVIDER, d->name)) && pd->type &&
	    (pd->type->serves & (1u << CAIRN_KIND_NODE)))
		return pd - m->decls;
	/* the providers, not every declaration: this runs once per node */
	for (size_t k = 0; k < l->nproviders; k++) {
		pd = &m->decls[l->providers[k]];
		if (pd->type && (pd->type->serves & (1u << d->kind))) {
			candidates++;
			found = l->providers[k];
		}
	}
	if (candidates == 1)
		return found;
	spec_diag(l, d->loc, "%s '%s' needs a provider", cairn_kind_name(d->kind), d->name);
	if (candidates)
		spec_hint(l, "several providers could create it: set 'provider: NAME'");
	else
		spec_hint(l, d->kind == CAIRN_KIND_NODE ?
			"declare one under 'providers:' (e.g. 'local: {type: process}'), or write 'provider: TYPE'" :
			"declare a provider whose type creates %ss (e.g. 'kvm: {type: libvirt}'), or write 'provider: TYPE'",
		     cairn_kind_name(d->kind));
	return -1;
}

static void decode_provider(struct loader *l, size_t di)
{
	struct cairn_decl *d = &l->m->decls[di];
	const struct cairn_ynode *ty = cairn_ynode_get(d->yaml, "type");
	const struct cairn_type_schema *t = NULL;
	char *what = xasprintf("provider '%s'", d->name);
	struct cairn_decoder dc = { .diags = l->diags, .canonical = l->opt && l->opt->canonical, .refs = &l->refs, .origin = di,
				    .what = what, .dir = dir_for(l, d) };

	if (d->yaml && d->yaml->type != CAIRN_Y_MAP) {
		spec_diag(l, d->yaml->loc, "%s must be a mapping with at least 'type', not %s",
		     what, cairn_ynode_describe(d->yaml));
		goto out;
	}
	if (ty && ty->type == CAIRN_Y_SCALAR && !ty->null) {
		t = cairn_schema_lookup(ty->text);
		if (!t) {
			const char *m = cairn_did_you_mean(ty->text, cairn_schema_type_names());

			spec_diag(l, ty->loc, "unknown provider type '%s'", ty->text);
			if (m)
				spec_hint(l, "did you mean '%s'?", m);
			else
				spec_hint(l, "cairn explain lists the provider types");
		}
	}
	d->type = t;
	d->attrs = cairn_decode_object(&dc, d->yaml, cairn_provider_fields,
				       t ? t->provider_fields : NULL, t ? t->open : true,
				       d->loc);
out:
	free(what);
}

static void decode_decl(struct loader *l, size_t di)
{
	struct cairn_model *m = l->m;
	struct cairn_decl *d = &m->decls[di];
	const struct cairn_type_schema *t = NULL;
	const struct cairn_field *common = cairn_schema_common(d->kind);
	char *what = xasprintf("%s '%s'", cairn_kind_name(d->kind), d->name);
	struct cairn_diags quiet = CAIRN_DIAGS_INIT;
	struct cairn_decoder dc = { .diags = l->diags, .canonical = l->opt && l->opt->canonical, .refs = &l->refs, .origin = di,
				    .what = what, .dir = dir_for(l, d),
				    .in_node = d->kind == CAIRN_KIND_NODE };
	bool unsure = false;

	/* web[01-05] is one body behind five declarations: its mistakes are
	 * reported for the first one only */
	struct cairn_diags *loud = l->diags;

	if (di > 0 && d->yaml && m->decls[di - 1].yaml == d->yaml &&
	    m->decls[di - 1].kind == d->kind)
		l->diags = dc.diags = &quiet;

	if (d->kind == CAIRN_KIND_OUTPUT) {
		static const struct cairn_field out_field = { "output", CAIRN_FT_ANY };

		d->attrs = cairn_decode_value(&dc, d->yaml, &out_field);
		goto out;
	}
	if (d->kind == CAIRN_KIND_NETWORK || d->kind == CAIRN_KIND_VOLUME ||
	    d->kind == CAIRN_KIND_NODE) {
		ssize_t pi = resolve_provider(l, di);

		/* Without a known type its keys cannot be judged: accept them
		 * rather than report each as unknown. */
		unsure = pi < 0 || !m->decls[pi].type;
		d = &m->decls[di];    /* an implicit provider may have moved it */
		if (pi >= 0) {
			t = m->decls[pi].type;
			d->provider = m->decls[pi].name;
			d->type = t;
			if (t && !(t->serves & (1u << d->kind))) {
				const struct cairn_ynode *py = cairn_ynode_get(d->yaml, "provider");

				spec_diag(l, py ? py->loc : d->loc,
				     "provider '%s' (type %s) cannot create %ss",
				     d->provider, t->name, cairn_kind_name(d->kind));
				t = NULL;
				unsure = true;
			}
		}
	}
	d->attrs = cairn_decode_object(&dc, d->yaml, common,
				       cairn_schema_type_fields(t, d->kind),
				       t ? t->open : unsure, d->loc);
	if (d->provider && !json_object_get(d->attrs, "provider"))
		json_object_set_new(d->attrs, "provider", json_string(d->provider));
	if (t && t->no_login && d->kind == CAIRN_KIND_NODE) {
		const struct cairn_ypair *cmd = cairn_ynode_pair(cairn_ynode_get(d->yaml, "health"), "command");

		if (cmd) {
			spec_diag(l, cmd->key->loc, "a 'command' health check does not apply to node '%s'", d->name);
			spec_hint(l, "it runs over SSH, and %s nodes are not machines to log in to: "
				  "check a port (tcp) or a URL (http)", t->name);
		}
	}
	note_sensitive(d);
out:
	l->diags = loud;
	cairn_diags_release(&quiet);
	free(what);
}

static void decode_all(struct loader *l)
{
	size_t n = l->m->ndecls;

	for (size_t i = 0; i < n; i++)
		if (l->m->decls[i].kind == CAIRN_KIND_PROVIDER) {
			decode_provider(l, i);
			ALLOC_GROW(l->providers, l->nproviders + 1, l->aproviders);
			l->providers[l->nproviders++] = i;
		}
	for (size_t s = 1; s < ARRAY_SIZE(section_order); s++)
		for (size_t i = 0; i < n; i++)
			if (l->m->decls[i].kind == section_order[s])
				decode_decl(l, i);
}

/* ---- entry points --------------------------------------------------------- */

static int finish(struct loader *l, struct cairn_model **out)
{
	size_t before;
	int ret = -1;

	/* A file that did not parse stops everything; after that each stage
	 * runs as long as the ones it builds on were sound, so that one run
	 * reports as many independent mistakes as it can. */
	if (l->parse_failed || !l->nfiles)
		goto out;
	before = l->diags->nerrors;
	collect_vars(l);
	if (l->diags->nerrors == before)
		apply_overrides(l);
	if (l->diags->nerrors == before)
		for (size_t fi = 0; fi < l->nfiles; fi++)
			for (size_t i = 0; i < l->files[fi].root->n; i++)
				if (strcmp(l->files[fi].root->pairs[i].key->text, "variables"))
					substitute(l, l->files[fi].root->pairs[i].value);
	if (l->diags->nerrors != before)
		goto out;
	check_top(l);
	check_stack_name(l);
	declare_all(l);
	decode_all(l);
	cairn_model_index(l->m);
	spec_check_and_expand(l);
	if (!loader_failed(l)) {
		*out = l->m;
		l->m = NULL;
		ret = 0;
	}
out:
	cairn_diags_sort(l->diags, l->sources);
	cairn_model_free(l->m);
	for (size_t i = 0; i < l->nfiles; i++)
		free(l->files[i].dir);
	free(l->files);
	free(l->vars);
	free(l->providers);
	cairn_strmap_release(&l->varmap);
	cairn_refs_release(&l->refs);
	return ret;
}

static void loader_init(struct loader *l, const struct cairn_spec_options *opt,
			struct cairn_sources *sources, struct cairn_diags *diags)
{
	memset(l, 0, sizeof(*l));
	l->opt = opt;
	l->sources = sources;
	l->diags = diags;
	l->errors_at_start = diags->nerrors;
	l->m = xcalloc(1, sizeof(*l->m));
	l->priv = cairn_model_priv(l->m);
	cairn_schema_init();
}

int cairn_spec_load(const char *path, const struct cairn_spec_options *opt,
		    struct cairn_sources *sources, struct cairn_diags *diags,
		    struct cairn_model **out)
{
	struct loader l;
	struct cairn_ynode *root;
	const char *interned = NULL;

	*out = NULL;
	loader_init(&l, opt, sources, diags);
	root = read_and_parse(&l, path, CAIRN_LOC_NONE, &interned);
	if (root) {
		add_file(&l, interned, dir_of(interned), root, 0);
		l.m->path = interned;
		load_includes(&l, 0);
	}
	return finish(&l, out);
}

int cairn_spec_load_string(const char *name, const char *text, size_t len,
			   const struct cairn_spec_options *opt,
			   struct cairn_sources *sources, struct cairn_diags *diags,
			   struct cairn_model **out)
{
	struct loader l;
	struct cairn_ynode *root;
	size_t max = opt && opt->max_bytes ? opt->max_bytes : CAIRN_SPEC_MAX_BYTES;
	char *copy;

	*out = NULL;
	loader_init(&l, opt, sources, diags);
	if (len > max) {
		spec_diag(&l, (struct cairn_loc){ cairn_sources_intern(sources, name), 0, 0 },
		     "too large (%zu bytes; the limit is %zu)", len, max);
		l.parse_failed = true;
		return finish(&l, out);
	}
	copy = xmalloc(len + 1);
	memcpy(copy, text, len);
	copy[len] = '\0';
	root = parse_text(&l, name, copy, len);
	l.parse_failed = !root;
	if (root) {
		const char *interned = sources->v[sources->n - 1]->path;

		add_file(&l, interned, xstrdup(""), root, 0);
		l.m->path = interned;
		load_includes(&l, 0);
	}
	return finish(&l, out);
}
