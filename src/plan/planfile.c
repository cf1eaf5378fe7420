#include "util/common.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cairn/plan.h"
#include "util/fileio.h"

/* The saved plan; the format is described in docs/internals/planner.md. */
#define PLAN_FORMAT "cairn-plan"
#define PLAN_VERSION 1
#define PLAN_MAX_BYTES ((size_t)256 << 20)

static json_t *str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

static json_t *change_to_json(const struct cairn_change *c)
{
	json_t *j = json_object(), *fields = json_array();

	for (size_t i = 0; c->fields && c->fields[i]; i++)
		json_array_append_new(fields, json_string(c->fields[i]));
	json_object_set_new(j, "address", json_string(c->address));
	json_object_set_new(j, "action", json_string(cairn_action_name(c->action)));
	json_object_set_new(j, "kind", json_string(cairn_kind_name(c->kind)));
	json_object_set_new(j, "type", str_or_null(c->type));
	json_object_set_new(j, "provider", str_or_null(c->provider));
	json_object_set_new(j, "reason", str_or_null(c->reason));
	json_object_set_new(j, "fields", fields);
	json_object_set_new(j, "forced_by", str_or_null(c->forced_by));
	if (c->sensitive)
		json_object_set(j, "sensitive", c->sensitive);
	if (c->before)
		json_object_set(j, "before", c->before);
	if (c->after)
		json_object_set(j, "after", c->after);
	return j;
}

json_t *cairn_plan_to_json(const struct cairn_plan *p)
{
	json_t *j = json_object(), *summary = json_object(), *changes = json_array();

	for (size_t a = 0; a < CAIRN_ACTION__COUNT; a++)
		json_object_set_new(summary, cairn_action_name((enum cairn_action)a),
				    json_integer((json_int_t)p->count[a]));
	for (size_t i = 0; i < p->n; i++)
		json_array_append_new(changes, change_to_json(&p->v[i]));

	json_object_set_new(j, "format", json_string(PLAN_FORMAT));
	json_object_set_new(j, "version", json_integer(PLAN_VERSION));
	json_object_set_new(j, "stack", json_string(p->stack));
	json_object_set_new(j, "lineage", str_or_null(p->lineage));
	json_object_set_new(j, "serial", json_integer(p->serial));
	json_object_set_new(j, "design_hash", str_or_null(p->design_hash));
	json_object_set_new(j, "created_at", str_or_null(p->created_at));
	if (p->design)
		json_object_set(j, "design", p->design);
	json_object_set_new(j, "summary", summary);
	json_object_set_new(j, "changes", changes);
	return j;
}

/* ---- reading ----------------------------------------------------------------- */

/*
 * A string member: required ones must be strings, optional ones may also be
 * null or absent (*out NULL).  The copy goes to *out.
 */
static int get_str(const json_t *obj, const char *key, bool required, char **out,
		   const char *where, struct cairn_error *err)
{
	const json_t *v = json_object_get(obj, key);

	*out = NULL;
	if (json_is_string(v)) {
		*out = xstrdup(json_string_value(v));
		return 0;
	}
	if (!required && (!v || json_is_null(v)))
		return 0;
	return cairn_error_set(err, CAIRN_E_INVALID,
			       "invalid plan: %s needs a string '%s'", where, key);
}

static int change_from_json(const json_t *j, size_t i, struct cairn_change *c,
			    struct cairn_error *err)
{
	char where[64];
	const json_t *fields, *v;
	char *s = NULL;
	int a, k, ret = -1;

	snprintf(where, sizeof(where), "change %zu", i);
	if (!json_is_object(j))
		return cairn_error_set(err, CAIRN_E_INVALID,
				       "invalid plan: change %zu is not an object", i);
	if (get_str(j, "address", true, &c->address, where, err) < 0)
		goto cleanup;
	snprintf(where, sizeof(where), "change '%.40s'", c->address);

	if (get_str(j, "action", true, &s, where, err) < 0)
		goto cleanup;
	if ((a = cairn_action_parse(s)) < 0) {
		cairn_error_set(err, CAIRN_E_INVALID,
				"invalid plan: %s has an unknown action '%s'", where, s);
		goto cleanup;
	}
	c->action = (enum cairn_action)a;
	free(s);
	s = NULL;

	if (get_str(j, "kind", true, &s, where, err) < 0)
		goto cleanup;
	k = cairn_kind_parse(s);
	if (k < 0) {
		cairn_error_set(err, CAIRN_E_INVALID,
				"invalid plan: %s has an unknown kind '%s'", where, s);
		goto cleanup;
	}
	c->kind = (enum cairn_kind)k;

	if (get_str(j, "type", false, &c->type, where, err) < 0 ||
	    get_str(j, "provider", false, &c->provider, where, err) < 0 ||
	    get_str(j, "reason", false, &c->reason, where, err) < 0 ||
	    get_str(j, "forced_by", false, &c->forced_by, where, err) < 0)
		goto cleanup;

	v = json_object_get(j, "sensitive");
	if (json_is_array(v))
		c->sensitive = json_deep_copy(v);
	fields = json_object_get(j, "fields");
	if (fields && !json_is_null(fields)) {
		size_t n = json_array_size(fields);

		if (!json_is_array(fields)) {
			cairn_error_set(err, CAIRN_E_INVALID,
					"invalid plan: %s needs an array of strings 'fields'", where);
			goto cleanup;
		}
		if (n) {
			c->fields = xcalloc(n + 1, sizeof(*c->fields));
			for (size_t f = 0; f < n; f++) {
				v = json_array_get(fields, f);
				if (!json_is_string(v)) {
					cairn_error_set(err, CAIRN_E_INVALID,
							"invalid plan: %s needs an array of strings 'fields'",
							where);
					goto cleanup;
				}
				c->fields[f] = xstrdup(json_string_value(v));
			}
		}
	}

	v = json_object_get(j, "before");
	if (v && !json_is_null(v))
		c->before = json_deep_copy(v);
	v = json_object_get(j, "after");
	if (v && !json_is_null(v))
		c->after = json_deep_copy(v);
	c->loc = CAIRN_LOC_NONE;
	ret = 0;

cleanup:
	free(s);
	return ret;
}

int cairn_plan_from_json(const json_t *j, struct cairn_plan **out, struct cairn_error *err)
{
	struct cairn_plan *p = NULL;
	const json_t *v, *changes;
	int ret = -1;

	*out = NULL;
	if (!json_is_object(j) || !json_is_string(json_object_get(j, "format")) ||
	    strcmp(json_string_value(json_object_get(j, "format")), PLAN_FORMAT)) {
		return cairn_error_set(err, CAIRN_E_INVALID,
				       "not a cairn plan: no \"format\": \"%s\"", PLAN_FORMAT);
	}
	v = json_object_get(j, "version");
	if (!json_is_integer(v))
		return cairn_error_set(err, CAIRN_E_INVALID,
				       "invalid plan: 'version' is not an integer");
	if (json_integer_value(v) != PLAN_VERSION)
		return cairn_error_set(err, CAIRN_E_UNSUPPORTED,
				       "plan format version %" JSON_INTEGER_FORMAT " is not supported (this cairn reads version %d)",
				       json_integer_value(v), PLAN_VERSION);

	p = xcalloc(1, sizeof(*p));
	if (get_str(j, "stack", true, &p->stack, "the plan", err) < 0 ||
	    get_str(j, "lineage", false, &p->lineage, "the plan", err) < 0 ||
	    get_str(j, "design_hash", false, &p->design_hash, "the plan", err) < 0 ||
	    get_str(j, "created_at", false, &p->created_at, "the plan", err) < 0)
		goto cleanup;
	v = json_object_get(j, "serial");
	if (!json_is_integer(v) || json_integer_value(v) < 0) {
		cairn_error_set(err, CAIRN_E_INVALID,
				"invalid plan: 'serial' is not a non-negative integer");
		goto cleanup;
	}
	p->serial = json_integer_value(v);
	v = json_object_get(j, "design");
	if (v && !json_is_object(v)) {
		cairn_error_set(err, CAIRN_E_INVALID, "invalid plan: 'design' is not an object");
		goto cleanup;
	}
	p->design = json_incref((json_t *)v);

	changes = json_object_get(j, "changes");
	if (!json_is_array(changes)) {
		cairn_error_set(err, CAIRN_E_INVALID, "invalid plan: 'changes' is not an array");
		goto cleanup;
	}
	/* The counts are recomputed from the changes; "summary" is for readers. */
	p->alloc = json_array_size(changes);
	p->v = xcalloc(p->alloc, sizeof(*p->v));
	for (size_t i = 0; i < p->alloc; i++) {
		struct cairn_change *c = &p->v[p->n++];

		if (change_from_json(json_array_get(changes, i), i, c, err) < 0)
			goto cleanup;
		p->count[c->action]++;
	}
	*out = p;
	p = NULL;
	ret = 0;

cleanup:
	cairn_plan_free(p);
	return ret;
}

/* ---- files ------------------------------------------------------------------- */

/*
 * Write to a temporary file next to path, fsync it, then rename it over
 * path: a reader (or a crash) sees the old plan or the new one, never half
 * of one.  The file is 0600: a plan holds the desired attributes, which may
 * include values of sensitive variables.
 */
int cairn_plan_save(const struct cairn_plan *p, const char *path, struct cairn_error *err)
{
	json_t *j = cairn_plan_to_json(p);
	char *text = json_dumps(j, JSON_INDENT(2));
	char *tmp = xasprintf("%s.tmp.XXXXXX", path);
	char *dircopy = NULL;
	int fd = -1, dfd, ret = -1;

	if (!text)
		BUG("cannot encode the plan of stack '%s'", p->stack);
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		cairn_error_set(err, CAIRN_E_IO, "cannot write plan '%s': %s", path, strerror(errno));
		goto cleanup;
	}
	if (fchmod(fd, 0600) < 0 || cairn_write_all(fd, text, strlen(text)) < 0 ||
	    cairn_write_all(fd, "\n", 1) < 0 || fsync(fd) < 0) {
		cairn_error_set(err, CAIRN_E_IO, "cannot write plan '%s': %s", path, strerror(errno));
		goto cleanup;
	}
	if (close(fd) < 0) {
		fd = -1;
		cairn_error_set(err, CAIRN_E_IO, "cannot write plan '%s': %s", path, strerror(errno));
		goto cleanup;
	}
	fd = -1;
	if (rename(tmp, path) < 0) {
		cairn_error_set(err, CAIRN_E_IO, "cannot write plan '%s': %s", path, strerror(errno));
		goto cleanup;
	}
	/* Make the rename itself durable; failing here loses nothing written. */
	dircopy = xstrdup(path);
	dfd = open(dirname(dircopy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	ret = 0;

cleanup:
	if (fd >= 0)
		close(fd);
	if (ret < 0)
		unlink(tmp);
	free(dircopy);
	free(tmp);
	free(text);
	json_decref(j);
	return ret;
}

int cairn_plan_load(const char *path, struct cairn_plan **out, struct cairn_error *err)
{
	struct cairn_buf b = CAIRN_BUF_INIT;
	json_error_t jerr;
	json_t *j = NULL;
	int ret = -1;

	*out = NULL;
	if (cairn_buf_read_file(&b, path, PLAN_MAX_BYTES, err) < 0)
		goto cleanup;
	j = json_loadb(b.s, b.len, JSON_REJECT_DUPLICATES, &jerr);
	if (!j) {
		cairn_error_set(err, CAIRN_E_INVALID,
				"cannot read plan '%s': not JSON (%s at line %d, column %d)",
				path, jerr.text, jerr.line, jerr.column);
		goto cleanup;
	}
	if (cairn_plan_from_json(j, out, err) < 0) {
		cairn_error_context(err, "while reading plan '%s'", path);
		goto cleanup;
	}
	ret = 0;

cleanup:
	json_decref(j);
	cairn_buf_release(&b);
	return ret;
}

int cairn_plan_check_state(const struct cairn_plan *p, const char *stack,
			   const char *lineage, int64_t serial,
			   struct cairn_error *err)
{
	if (strcmp(p->stack, stack)) {
		cairn_error_set(err, CAIRN_E_CONFLICT, "plan is for stack '%s', not '%s'",
				p->stack, stack);
		return -1;
	}
	if (!p->lineage) {
		if (!lineage || serial == 0)
			return 0;
	} else if (!lineage || strcmp(p->lineage, lineage)) {
		cairn_error_set(err, CAIRN_E_CONFLICT,
				"plan was made against another state of stack '%s' (lineage %s, now %s)",
				stack, p->lineage, lineage ? lineage : "none");
		cairn_error_hint(err, "run 'cairn plan' again");
		return -1;
	}
	if (p->serial != serial) {
		cairn_error_set(err, CAIRN_E_CONFLICT,
				"plan is stale: the state of stack '%s' changed since it was made (serial %" PRId64 ", now %" PRId64 ")",
				stack, p->serial, serial);
		cairn_error_hint(err, "run 'cairn plan' again");
		return -1;
	}
	return 0;
}
