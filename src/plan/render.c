#include "util/common.h"

#include "cairn/plan.h"
#include "util/jsonutil.h"
#include "util/units.h"

/*
 * The human view of a plan.  Its text is compared byte for byte by golden
 * tests, so everything here iterates in a fixed order (keys sorted) and
 * prints nothing that depends on time or on the machine.
 */

#define C_RESET "\033[0m"
#define C_RED "\033[31m"

static const char *const symbols[CAIRN_ACTION__COUNT] = {
	[CAIRN_ACTION_NOOP] = "  =",
	[CAIRN_ACTION_CREATE] = "  +",
	[CAIRN_ACTION_UPDATE] = "  ~",
	[CAIRN_ACTION_REPLACE] = "-/+",
	[CAIRN_ACTION_DELETE] = "  -",
};

static const char *const colours[CAIRN_ACTION__COUNT] = {
	[CAIRN_ACTION_NOOP] = "",
	[CAIRN_ACTION_CREATE] = "\033[32m",
	[CAIRN_ACTION_UPDATE] = "\033[33m",
	[CAIRN_ACTION_REPLACE] = "\033[35m",
	[CAIRN_ACTION_DELETE] = C_RED,
};

/* The field that governs key of the changed resource, for its flags. */
static const struct cairn_field *change_field(const struct cairn_change *c,
					      const char *key)
{
	const struct cairn_type_schema *t = NULL;

	if (c->res && c->res->decl)
		t = c->res->decl->type;
	else if (c->type)
		t = cairn_schema_lookup(c->type);
	return cairn_schema_field(c->kind, t, key);
}

static bool forces_new(const struct cairn_change *c, const char *key,
		       const struct cairn_field *f)
{
	if (c->forced_by && !strcmp(c->forced_by, key))
		return true;
	return c->action == CAIRN_ACTION_REPLACE && f && (f->flags & CAIRN_FF_FORCES_NEW);
}

/*
 * One value as the user would write it: sizes and durations with their
 * units, everything else as compact JSON (strings quoted, so that an empty
 * string or trailing blanks stay visible).  Caller frees.
 */
static bool is_sensitive(const struct cairn_change *c, const struct cairn_field *f,
			 const char *key)
{
	size_t i;
	json_t *k;

	if (f && (f->flags & CAIRN_FF_SENSITIVE))
		return true;
	json_array_foreach(c->sensitive, i, k)
		if (!strcmp(json_string_value(k), key))
			return true;
	return false;
}

static char *format_value(const struct cairn_field *f, const json_t *v, bool hidden)
{
	char tmp[64];

	if (hidden)
		return xstrdup("(sensitive)");
	if (!v || json_is_null(v))
		return xstrdup("null");
	if (f && json_is_integer(v) && json_integer_value(v) >= 0) {
		if (f->type == CAIRN_FT_SIZE) {
			cairn_format_size((uint64_t)json_integer_value(v), tmp, sizeof(tmp));
			return xstrdup(tmp);
		}
		if (f->type == CAIRN_FT_DURATION) {
			cairn_format_duration(json_integer_value(v), tmp, sizeof(tmp));
			return xstrdup(tmp);
		}
	}
	return cairn_json_canonical(v);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The keys of an object with a non-null value, sorted; *n gets the count. */
static const char **sorted_keys(const json_t *obj, size_t *n)
{
	const char **keys = xcalloc(json_object_size(obj) + 1, sizeof(*keys));
	const char *key;
	json_t *v;

	*n = 0;
	json_object_foreach((json_t *)obj, key, v) {
		if (!json_is_null(v))
			keys[(*n)++] = key;
	}
	if (*n)
		qsort(keys, *n, sizeof(*keys), cmp_str);
	return keys;
}

static void render_header(const struct cairn_change *c, FILE *out, bool color)
{
	const char *action = cairn_action_name(c->action);

	if (color)
		fprintf(out, "%s%s%s ", colours[c->action], symbols[c->action], C_RESET);
	else
		fprintf(out, "%s ", symbols[c->action]);
	if (c->action == CAIRN_ACTION_NOOP)
		fprintf(out, "%s  (no change)\n", c->address);
	else if (!c->reason || (c->action == CAIRN_ACTION_CREATE && !strcmp(c->reason, "new")))
		fprintf(out, "%s  (%s)\n", c->address, action);
	else
		fprintf(out, "%s  (%s: %s)\n", c->address, action, c->reason);
}

static void render_attributes(const struct cairn_change *c, FILE *out)
{
	size_t n, width = 0;
	const char **keys = sorted_keys(c->after, &n);

	for (size_t i = 0; i < n; i++)
		if (strlen(keys[i]) > width)
			width = strlen(keys[i]);
	for (size_t i = 0; i < n; i++) {
		const struct cairn_field *f = change_field(c, keys[i]);
		char *v = format_value(f, json_object_get(c->after, keys[i]),
				       is_sensitive(c, f, keys[i]));

		fprintf(out, "      %-*s = %s\n", (int)width, keys[i], v);
		free(v);
	}
	free(keys);
}

static void render_differences(const struct cairn_change *c, FILE *out, bool color)
{
	for (size_t i = 0; c->fields && c->fields[i]; i++) {
		const char *key = c->fields[i];
		const struct cairn_field *f = change_field(c, key);
		bool hidden = is_sensitive(c, f, key);
		char *old = format_value(f, json_object_get(c->before, key), hidden);
		char *new = format_value(f, json_object_get(c->after, key), hidden);

		fprintf(out, "      %s: %s -> %s", key, old, new);
		if (forces_new(c, key, f))
			fprintf(out, "  %s# forces replacement%s", color ? C_RED : "",
				color ? C_RESET : "");
		fputc('\n', out);
		free(old);
		free(new);
	}
}

void cairn_plan_render(const struct cairn_plan *p, FILE *out, bool color, bool verbose)
{
	size_t shown = 0;

	for (size_t i = 0; i < p->n; i++) {
		const struct cairn_change *c = &p->v[i];

		if (c->action == CAIRN_ACTION_NOOP && !verbose)
			continue;
		render_header(c, out, color);
		shown++;
		switch (c->action) {
		case CAIRN_ACTION_CREATE:
			render_attributes(c, out);
			break;
		case CAIRN_ACTION_UPDATE:
		case CAIRN_ACTION_REPLACE:
			render_differences(c, out, color);
			break;
		default:
			break;
		}
	}
	if (shown)
		fputc('\n', out);
	if (cairn_plan_has_changes(p)) {
		char *summary = cairn_plan_summary(p);

		fprintf(out, "%s\n", summary);
		free(summary);
	} else {
		fprintf(out, "No changes. The stack matches the recorded state.\n");
	}
}
