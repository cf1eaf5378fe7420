/* Unit tests for the provider type registry, the built-in field tables and
 * `cairn explain` (src/providers/). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>

#include "util/common.h"

#include "cairn/schema.h"

static const char *const builtin_names[] = { "libvirt", "lxc", "static", "process", "plugin" };

/* ---- helpers ------------------------------------------------------------- */

static char *explain_text(const struct cairn_type_schema *t, int section)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	assert_non_null(f);
	if (t)
		cairn_schema_explain(t, f);
	else
		cairn_schema_explain_section((enum cairn_kind)section, f);
	fclose(f);
	return text;
}

/* The line of text that starts with prefix, copied; fails the test if none. */
static char *line_starting(const char *text, const char *prefix)
{
	const char *p = text;

	while (p && *p) {
		const char *eol = strchr(p, '\n');
		size_t n = eol ? (size_t)(eol - p) : strlen(p);

		if (!strncmp(p, prefix, strlen(prefix)))
			return xstrndup(p, n);
		p = eol ? eol + 1 : NULL;
	}
	fail_msg("no line starts with '%s' in:\n%s", prefix, text);
	return xstrdup("");
}

static void assert_contains(const char *hay, const char *needle)
{
	if (!hay || !strstr(hay, needle))
		fail_msg("'%s' not found in:\n%s", needle, hay ? hay : "(null)");
}

/* The element of a JSON array of fields named name. */
static json_t *json_field(json_t *fields, const char *name)
{
	size_t i;
	json_t *f;

	assert_true(json_is_array(fields));
	json_array_foreach(fields, i, f)
		if (!strcmp(json_string_value(json_object_get(f, "name")), name))
			return f;
	fail_msg("no field '%s'", name);
	return NULL;
}

/* ---- the registry ---------------------------------------------------------- */

static void *lookup_thread(void *arg)
{
	(void)arg;
	for (size_t i = 0; i < ARRAY_SIZE(builtin_names); i++)
		if (!cairn_schema_lookup(builtin_names[i]))
			return (void *)1;
	return NULL;
}

/* First, so that several threads race for the one-time initialisation. */
static void test_init_threads(void **state)
{
	pthread_t th[8];

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(th); i++)
		assert_int_equal(pthread_create(&th[i], NULL, lookup_thread, NULL), 0);
	for (size_t i = 0; i < ARRAY_SIZE(th); i++) {
		void *rc;

		assert_int_equal(pthread_join(th[i], &rc), 0);
		assert_null(rc);
	}
	cairn_schema_init();
	cairn_schema_init();
}

static void test_lookup(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(builtin_names); i++) {
		const struct cairn_type_schema *t = cairn_schema_lookup(builtin_names[i]);

		assert_non_null(t);
		assert_string_equal(t->name, builtin_names[i]);
		assert_non_null(t->summary);
		assert_true(t->serves & 1u << CAIRN_KIND_NODE);
	}
	assert_null(cairn_schema_lookup("libvirtd"));
	assert_null(cairn_schema_lookup(""));
	assert_null(cairn_schema_lookup(NULL));
	assert_true(cairn_schema_lookup("plugin")->open);
	assert_false(cairn_schema_lookup("libvirt")->open);
	assert_true(cairn_schema_lookup("libvirt")->serves & 1u << CAIRN_KIND_VOLUME);
	assert_false(cairn_schema_lookup("static")->serves & 1u << CAIRN_KIND_NETWORK);
}

static void test_type_names(void **state)
{
	const char *const *names = cairn_schema_type_names();
	size_t n, i;
	const struct cairn_type_schema *const *types = cairn_schema_types(&n);

	(void)state;
	assert_true(n >= ARRAY_SIZE(builtin_names));
	for (i = 0; names[i]; i++) {
		assert_true(i < n);
		assert_string_equal(names[i], types[i]->name);
		if (i < ARRAY_SIZE(builtin_names))
			assert_string_equal(names[i], builtin_names[i]);
	}
	assert_int_equal(i, n);
}

static const char *const ab_choices[] = { "a", "b", NULL };

static void test_register_refused(void **state)
{
	static const struct cairn_field ok_fields[] = {
		{ "x", CAIRN_FT_STRING, 0, .help = "x" },
		{ NULL },
	};
	static const struct cairn_field bad_enum[] = {
		{ "mode", CAIRN_FT_ENUM, 0, "c", .choices = ab_choices },
		{ NULL },
	};
	static const struct cairn_field no_elem[] = {
		{ "tags", CAIRN_FT_LIST, 0 },
		{ NULL },
	};
	static const struct cairn_field twice[] = {
		{ "x", CAIRN_FT_STRING, 0 },
		{ "x", CAIRN_FT_INT, 0 },
		{ NULL },
	};
	static const struct {
		struct cairn_type_schema t;
		const char *message;
	} cases[] = {
		{ { .name = "libvirt", .summary = "again", .serves = 1u << CAIRN_KIND_NODE },
		  "provider type 'libvirt' is already registered" },
		{ { .name = "nosummary", .serves = 1u << CAIRN_KIND_NODE },
		  "cannot register provider type 'nosummary': it has no summary" },
		{ { .name = "emptysummary", .summary = "", .serves = 1u << CAIRN_KIND_NODE },
		  "cannot register provider type 'emptysummary': it has no summary" },
		{ { .summary = "no name", .serves = 1u << CAIRN_KIND_NODE },
		  "cannot register a provider type without a name" },
		{ { .name = "Bad_Name", .summary = "s", .serves = 1u << CAIRN_KIND_NODE },
		  "cannot register provider type 'Bad_Name': invalid name" },
		{ { .name = "noserve", .summary = "s" },
		  "cannot register provider type 'noserve': it must serve nodes, networks or volumes, and nothing else" },
		{ { .name = "servesplans", .summary = "s", .serves = 1u << CAIRN_KIND_PLAN },
		  "it must serve nodes, networks or volumes" },
		{ { .name = "netfields", .summary = "s", .serves = 1u << CAIRN_KIND_NODE, .network_fields = ok_fields },
		  "cannot register provider type 'netfields': it has network fields but does not serve networks" },
		{ { .name = "badenum", .summary = "s", .serves = 1u << CAIRN_KIND_NODE, .node_fields = bad_enum },
		  "cannot register provider type 'badenum': node field 'mode' defaults to 'c', which is not one of its choices" },
		{ { .name = "noelem", .summary = "s", .serves = 1u << CAIRN_KIND_NODE, .provider_fields = no_elem },
		  "cannot register provider type 'noelem': provider field 'tags' is a list without an element" },
		{ { .name = "twice", .summary = "s", .serves = 1u << CAIRN_KIND_NODE, .node_fields = twice },
		  "cannot register provider type 'twice': node field 'x' is declared twice" },
	};
	size_t before, after;

	(void)state;
	cairn_schema_types(&before);
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct cairn_error err = CAIRN_ERROR_INIT;

		assert_int_equal(cairn_schema_register(&cases[i].t, &err), -1);
		assert_non_null(err.message);
		assert_contains(err.message, cases[i].message);
		cairn_error_release(&err);
	}
	{
		struct cairn_error err = CAIRN_ERROR_INIT;

		assert_int_equal(cairn_schema_register(NULL, &err), -1);
		cairn_error_release(&err);
		/* the very same table again */
		assert_int_equal(cairn_schema_register(cairn_schema_lookup("static"), &err), -1);
		assert_int_equal(err.code, CAIRN_E_EXISTS);
		cairn_error_release(&err);
	}
	cairn_schema_types(&after);
	assert_int_equal(before, after);
	assert_string_equal(cairn_schema_lookup("libvirt")->summary,
			    "virtual machines, networks and volumes on a libvirt host (qemu/KVM)");
}

static void test_register_new(void **state)
{
	static const struct cairn_field node_fields[] = {
		{ "flavour", CAIRN_FT_STRING, CAIRN_FF_REQUIRED, .help = "which one" },
		{ NULL },
	};
	static const struct cairn_type_schema t = {
		.name = "testcloud",
		.summary = "a type registered by the tests",
		.serves = 1u << CAIRN_KIND_NODE,
		.node_fields = node_fields,
	};
	struct cairn_error err = CAIRN_ERROR_INIT;
	const char *const *names;
	size_t n, i;

	(void)state;
	assert_int_equal(cairn_schema_register(&t, &err), 0);
	assert_null(err.message);
	assert_ptr_equal(cairn_schema_lookup("testcloud"), &t);
	names = cairn_schema_type_names();
	cairn_schema_types(&n);
	for (i = 0; names[i]; i++)
		;
	assert_int_equal(i, n);
	assert_string_equal(names[n - 1], "testcloud");
	assert_int_equal(cairn_schema_register(&t, &err), -1);
	assert_int_equal(err.code, CAIRN_E_EXISTS);
	cairn_error_release(&err);
}

/* ---- the tables -------------------------------------------------------------- */

static void test_fields(void **state)
{
	const struct cairn_type_schema *lv = cairn_schema_lookup("libvirt");
	const struct cairn_type_schema *lxc = cairn_schema_lookup("lxc");
	const struct cairn_type_schema *st = cairn_schema_lookup("static");
	const struct cairn_type_schema *pr = cairn_schema_lookup("process");
	const struct cairn_type_schema *pl = cairn_schema_lookup("plugin");
	const struct cairn_field *f;

	(void)state;
	f = cairn_schema_field(CAIRN_KIND_NODE, lv, "image");
	assert_non_null(f);
	assert_int_equal(f->type, CAIRN_FT_REF);
	assert_int_equal(f->ref, CAIRN_KIND_IMAGE);
	assert_int_equal(f->flags & (CAIRN_FF_REQUIRED | CAIRN_FF_FORCES_NEW),
			 CAIRN_FF_REQUIRED | CAIRN_FF_FORCES_NEW);
	f = cairn_schema_field(CAIRN_KIND_NODE, lv, "plan");
	assert_true(f->flags & CAIRN_FF_REQUIRED);
	assert_int_equal(f->ref, CAIRN_KIND_PLAN);
	/* without the type, the common field: not required */
	assert_false(cairn_schema_field(CAIRN_KIND_NODE, NULL, "image")->flags & CAIRN_FF_REQUIRED);
	assert_false(cairn_schema_field(CAIRN_KIND_NODE, lxc, "plan")->flags & CAIRN_FF_REQUIRED);

	/* the common fallback */
	f = cairn_schema_field(CAIRN_KIND_NODE, lv, "labels");
	assert_ptr_equal(f, cairn_field_find(cairn_node_fields, "labels"));
	assert_int_equal(f->type, CAIRN_FT_MAP);
	assert_non_null(cairn_schema_field(CAIRN_KIND_PROVIDER, pr, "parallelism"));
	assert_null(cairn_schema_field(CAIRN_KIND_NODE, lv, "memroy"));
	assert_null(cairn_schema_field(CAIRN_KIND_NODE, lv, "uri"));

	f = cairn_schema_field(CAIRN_KIND_NODE, lv, "machine");
	assert_int_equal(f->type, CAIRN_FT_ENUM);
	assert_string_equal(f->def, "pc");
	assert_true(f->flags & CAIRN_FF_FORCES_NEW);
	assert_string_equal(cairn_schema_field(CAIRN_KIND_NODE, lv, "cpu_mode")->def, "maximum");
	assert_string_equal(cairn_schema_field(CAIRN_KIND_PROVIDER, lv, "uri")->def, "qemu:///system");
	assert_null(cairn_schema_field(CAIRN_KIND_PROVIDER, lv, "prefix")->def);
	assert_true(cairn_schema_field(CAIRN_KIND_NETWORK, lv, "mode")->flags & CAIRN_FF_FORCES_NEW);
	assert_string_equal(cairn_schema_field(CAIRN_KIND_VOLUME, lv, "format")->def, "qcow2");
	assert_true(cairn_schema_field(CAIRN_KIND_NETWORK, lv, "cidr")->flags & CAIRN_FF_REQUIRED);

	f = cairn_schema_field(CAIRN_KIND_PROVIDER, st, "machines");
	assert_int_equal(f->type, CAIRN_FT_LIST);
	assert_true(cairn_field_find(f->elem->fields, "name")->flags & CAIRN_FF_REQUIRED);
	assert_int_equal(cairn_field_find(f->elem->fields, "identity")->type, CAIRN_FT_PATH);
	assert_int_equal(cairn_field_find(f->elem->fields, "port")->type, CAIRN_FT_PORT);
	assert_int_equal(f->elem->type, CAIRN_FT_OBJECT);
	f = cairn_field_find(f->elem->fields, "ipmi");
	assert_non_null(f);
	assert_true(cairn_field_find(f->fields, "password")->flags & CAIRN_FF_SENSITIVE);
	assert_string_equal(cairn_field_find(f->fields, "interface")->def, "lanplus");
	assert_true(cairn_schema_field(CAIRN_KIND_NODE, st, "match")->flags & CAIRN_FF_FORCES_NEW);
	assert_string_equal(cairn_schema_field(CAIRN_KIND_NODE, st, "power")->def, "none");

	f = cairn_schema_field(CAIRN_KIND_NODE, pr, "command");
	assert_int_equal(f->flags & (CAIRN_FF_REQUIRED | CAIRN_FF_FORCES_NEW),
			 CAIRN_FF_REQUIRED | CAIRN_FF_FORCES_NEW);
	f = cairn_schema_field(CAIRN_KIND_NODE, pr, "stop_timeout");
	assert_true(f->flags & CAIRN_FF_BOUNDED);
	assert_true(f->min <= 10000 && 10000 <= f->max);

	assert_string_equal(cairn_schema_field(CAIRN_KIND_NODE, lxc, "template")->def, "busybox");
	assert_string_equal(cairn_schema_field(CAIRN_KIND_PROVIDER, lxc, "lxcpath")->def, "/var/lib/lxc");

	assert_true(cairn_schema_field(CAIRN_KIND_PROVIDER, pl, "command")->flags & CAIRN_FF_REQUIRED);
	assert_string_equal(cairn_schema_field(CAIRN_KIND_PROVIDER, pl, "timeout")->def, "60s");
	assert_true(pl->serves & 1u << CAIRN_KIND_NETWORK);
}

/* Every field name the merged view offers, for did-you-mean. */
static void test_field_names(void **state)
{
	const struct cairn_type_schema *lv = cairn_schema_lookup("libvirt");
	const char **names = cairn_field_names(cairn_node_fields, lv->node_fields);
	bool image = false, machine = false;
	size_t n = 0;

	(void)state;
	for (; names[n]; n++) {
		image |= !strcmp(names[n], "image");
		machine |= !strcmp(names[n], "machine");
		for (size_t j = 0; j < n; j++)
			assert_string_not_equal(names[j], names[n]);
	}
	assert_true(image && machine);
	free(names);
}

/* ---- explain ----------------------------------------------------------------- */

static void test_explain_libvirt(void **state)
{
	char *text = explain_text(cairn_schema_lookup("libvirt"), 0);
	char *line;

	(void)state;
	assert_contains(text, "libvirt - virtual machines, networks and volumes on a libvirt host (qemu/KVM)\n");
	assert_contains(text, "serves: nodes, networks, volumes\n");
	assert_contains(text, "\nproviders.NAME (type: libvirt):\n");
	assert_contains(text, "\nnodes.NAME:\n");
	assert_contains(text, "\nnetworks.NAME:\n");
	assert_contains(text, "\nvolumes.NAME:\n");

	line = line_starting(text, "  image ");
	assert_contains(line, " reference to images ");
	assert_contains(line, " required, forces replacement ");
	assert_contains(line, " what it boots, from images");
	free(line);
	line = line_starting(text, "  machine ");
	assert_contains(line, " pc|q35 ");
	assert_contains(line, " forces replacement, default: pc ");
	free(line);
	line = line_starting(text, "  uri ");
	assert_contains(line, "default: qemu:///system");
	free(line);
	line = line_starting(text, "  parallelism ");
	assert_contains(line, " integer ");
	assert_contains(line, " default: 4, 1..256 ");
	free(line);
	/* a common field with a size bound, and nested objects */
	line = line_starting(text, "    interval ");
	assert_contains(line, "default: 30s, 1s..1d");
	free(line);
	line = line_starting(text, "  configure ");
	assert_contains(line, "list of objects");
	assert_contains(line, "exactly one key each");
	free(line);
	free(line_starting(text, "    run "));
	line = line_starting(text, "      path ");
	assert_contains(line, "required, not empty");
	free(line);
	line = line_starting(text, "  volumes ");
	assert_contains(line, "list of references to volumes");
	free(line);
	line = line_starting(text, "  size ");
	assert_contains(line, "required, 1MiB..1PiB");
	free(line);
	/* columns line up: the type column starts at the same offset */
	{
		char *a = line_starting(text, "  console "), *b = line_starting(text, "  autostart ");

		assert_int_equal(strstr(a, "boolean") - a, strstr(b, "boolean") - b);
		free(a);
		free(b);
	}
	/* no trailing blanks */
	assert_null(strstr(text, " \n"));
	free(text);
}

static void test_explain_others(void **state)
{
	char *text, *line;

	(void)state;
	text = explain_text(cairn_schema_lookup("static"), 0);
	assert_contains(text, "serves: nodes\n");
	assert_null(strstr(text, "networks.NAME"));
	line = line_starting(text, "  machines ");
	assert_contains(line, "list of objects");
	free(line);
	line = line_starting(text, "      password ");
	assert_contains(line, "sensitive");
	free(line);
	line = line_starting(text, "      interface ");
	assert_contains(line, "lan|lanplus");
	assert_contains(line, "default: lanplus");
	free(line);
	line = line_starting(text, "  power ");
	assert_contains(line, "on|off|cycle|none");
	free(line);
	free(text);

	text = explain_text(cairn_schema_lookup("process"), 0);
	line = line_starting(text, "  stop_timeout ");
	assert_contains(line, " duration ");
	assert_contains(line, "default: 10s, 100ms..1h");
	free(line);
	line = line_starting(text, "  command ");
	assert_contains(line, "required, forces replacement, not empty");
	free(line);
	free(text);

	text = explain_text(cairn_schema_lookup("plugin"), 0);
	assert_contains(text, "open: keys not listed here are accepted and passed to the plugin\n");
	assert_contains(text, "serves: nodes, networks, volumes\n");
	free(text);

	text = explain_text(cairn_schema_lookup("lxc"), 0);
	line = line_starting(text, "  template ");
	assert_contains(line, "default: busybox");
	free(line);
	free(text);
}

static void test_explain_sections(void **state)
{
	char *text, *line;

	(void)state;
	text = explain_text(NULL, CAIRN_KIND_NODE);
	assert_contains(text, "node - ");
	assert_contains(text, "\nnodes.NAME:\n");
	line = line_starting(text, "  labels ");
	assert_contains(line, "map of strings");
	free(line);
	assert_contains(text, "provider types that add keys here: libvirt, lxc, static, process, plugin");
	free(text);

	text = explain_text(NULL, CAIRN_KIND_PLAN);
	line = line_starting(text, "  memory ");
	assert_contains(line, "required, 16MiB..16TiB");
	free(line);
	assert_null(strstr(text, "provider types"));
	free(text);

	text = explain_text(NULL, CAIRN_KIND_OUTPUT);
	assert_contains(text, "(no fields)");
	free(text);

	for (int k = 0; k < CAIRN_KIND__COUNT; k++) {
		json_t *j = cairn_schema_section_json((enum cairn_kind)k);

		assert_non_null(j);
		assert_string_equal(json_string_value(json_object_get(j, "section")),
				    cairn_kind_section((enum cairn_kind)k));
		assert_true(json_is_array(json_object_get(j, "fields")));
		json_decref(j);
	}
	{
		json_t *j = cairn_schema_section_json(CAIRN_KIND_NODE);
		json_t *f = json_field(json_object_get(j, "fields"), "labels");

		assert_string_equal(json_string_value(json_object_get(f, "type")), "map");
		assert_string_equal(json_string_value(json_object_get(json_object_get(f, "element"), "type")), "string");
		json_decref(j);
	}
}

static void test_explain_json(void **state)
{
	json_t *j = cairn_schema_explain_json(cairn_schema_lookup("libvirt"));
	char *dump = json_dumps(j, JSON_SORT_KEYS);
	json_error_t jerr;
	json_t *back = json_loads(dump, 0, &jerr);
	json_t *f, *sub;

	(void)state;
	assert_non_null(back);
	assert_true(json_equal(j, back));
	assert_string_equal(json_string_value(json_object_get(back, "type")), "libvirt");
	assert_non_null(json_string_value(json_object_get(back, "summary")));
	assert_true(json_is_false(json_object_get(back, "open")));
	assert_int_equal(json_array_size(json_object_get(back, "serves")), 3);
	assert_string_equal(json_string_value(json_array_get(json_object_get(back, "serves"), 0)), "node");

	f = json_field(json_object_get(back, "node"), "image");
	assert_string_equal(json_string_value(json_object_get(f, "type")), "ref");
	assert_string_equal(json_string_value(json_object_get(f, "ref")), "image");
	assert_true(json_is_true(json_object_get(f, "required")));
	assert_true(json_is_true(json_object_get(f, "forces_replacement")));
	assert_true(json_is_false(json_object_get(f, "sensitive")));
	assert_true(json_is_null(json_object_get(f, "default")));
	assert_string_equal(json_string_value(json_object_get(f, "help")), "what it boots, from images");

	f = json_field(json_object_get(back, "node"), "machine");
	assert_string_equal(json_string_value(json_object_get(f, "default")), "pc");
	assert_int_equal(json_array_size(json_object_get(f, "choices")), 2);
	f = json_field(json_object_get(back, "node"), "console");
	assert_true(json_is_true(json_object_get(f, "default")));
	f = json_field(json_object_get(back, "node"), "configure");
	sub = json_object_get(f, "element");
	assert_true(json_is_true(json_object_get(sub, "one_of")));
	json_field(json_object_get(sub, "fields"), "ansible");
	f = json_field(json_object_get(back, "provider"), "parallelism");
	assert_int_equal(json_integer_value(json_object_get(f, "default")), 4);
	assert_int_equal(json_integer_value(json_object_get(f, "min")), 1);
	assert_int_equal(json_integer_value(json_object_get(f, "max")), 256);
	json_field(json_object_get(back, "network"), "bridge");
	json_field(json_object_get(back, "volume"), "format");
	f = json_field(json_object_get(back, "volume"), "size");
	assert_int_equal(json_integer_value(json_object_get(f, "min")), 1 << 20);
	free(dump);
	json_decref(j);
	json_decref(back);

	j = cairn_schema_explain_json(cairn_schema_lookup("process"));
	assert_null(json_object_get(j, "network"));
	f = json_field(json_object_get(j, "node"), "stop_timeout");
	assert_int_equal(json_integer_value(json_object_get(f, "default")), 10000);
	assert_string_equal(json_string_value(json_object_get(f, "type")), "duration");
	json_decref(j);

	j = cairn_schema_explain_json(cairn_schema_lookup("static"));
	f = json_field(json_object_get(j, "provider"), "machines");
	sub = json_object_get(json_object_get(f, "element"), "fields");
	sub = json_object_get(json_field(sub, "ipmi"), "fields");
	assert_true(json_is_true(json_object_get(json_field(sub, "password"), "sensitive")));
	assert_true(json_is_true(json_object_get(json_field(sub, "address"), "required")));
	json_decref(j);

	j = cairn_schema_explain_json(cairn_schema_lookup("plugin"));
	assert_true(json_is_true(json_object_get(j, "open")));
	json_decref(j);
}

/* Every registered type explains without trouble, in both forms. */
static void test_explain_all(void **state)
{
	size_t n;
	const struct cairn_type_schema *const *types = cairn_schema_types(&n);

	(void)state;
	for (size_t i = 0; i < n; i++) {
		char *text = explain_text(types[i], 0);
		json_t *j = cairn_schema_explain_json(types[i]);

		assert_true(strlen(text) > 0);
		assert_non_null(j);
		free(text);
		json_decref(j);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init_threads),
		cmocka_unit_test(test_lookup),
		cmocka_unit_test(test_type_names),
		cmocka_unit_test(test_register_refused),
		cmocka_unit_test(test_fields),
		cmocka_unit_test(test_field_names),
		cmocka_unit_test(test_explain_libvirt),
		cmocka_unit_test(test_explain_others),
		cmocka_unit_test(test_explain_sections),
		cmocka_unit_test(test_explain_json),
		cmocka_unit_test(test_register_new),
		cmocka_unit_test(test_explain_all),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
