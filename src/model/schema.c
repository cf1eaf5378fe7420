/*
 * schema.c - the field tables of the sections every stack shares.
 *
 * Provider types add their own tables (src/providers/<type>-schema.c); see
 * schema.h for how the two are combined.
 */
#include "util/common.h"

#include "cairn/schema.h"

static const char *const kind_names[CAIRN_KIND__COUNT] = {
	[CAIRN_KIND_PROVIDER] = "provider",
	[CAIRN_KIND_PLAN] = "plan",
	[CAIRN_KIND_IMAGE] = "image",
	[CAIRN_KIND_NETWORK] = "network",
	[CAIRN_KIND_VOLUME] = "volume",
	[CAIRN_KIND_POOL] = "pool",
	[CAIRN_KIND_NODE] = "node",
	[CAIRN_KIND_VARIABLE] = "var",
	[CAIRN_KIND_OUTPUT] = "output",
};

static const char *const kind_sections[CAIRN_KIND__COUNT] = {
	[CAIRN_KIND_PROVIDER] = "providers",
	[CAIRN_KIND_PLAN] = "plans",
	[CAIRN_KIND_IMAGE] = "images",
	[CAIRN_KIND_NETWORK] = "networks",
	[CAIRN_KIND_VOLUME] = "volumes",
	[CAIRN_KIND_POOL] = "pools",
	[CAIRN_KIND_NODE] = "nodes",
	[CAIRN_KIND_VARIABLE] = "variables",
	[CAIRN_KIND_OUTPUT] = "outputs",
};

const char *cairn_kind_name(enum cairn_kind k)
{
	return (unsigned)k < CAIRN_KIND__COUNT ? kind_names[k] : "unknown";
}

const char *cairn_kind_section(enum cairn_kind k)
{
	return (unsigned)k < CAIRN_KIND__COUNT ? kind_sections[k] : "unknown";
}

int cairn_kind_parse(const char *name)
{
	for (int k = 0; k < CAIRN_KIND__COUNT; k++)
		if (!strcmp(name, kind_names[k]) || !strcmp(name, kind_sections[k]))
			return k;
	if (!strcmp(name, "variable"))
		return CAIRN_KIND_VARIABLE;
	return -1;
}

static const char *const ftype_names[] = {
	[CAIRN_FT_STRING] = "string",
	[CAIRN_FT_TEXT] = "text",
	[CAIRN_FT_INT] = "integer",
	[CAIRN_FT_BOOL] = "boolean",
	[CAIRN_FT_SIZE] = "size",
	[CAIRN_FT_DURATION] = "duration",
	[CAIRN_FT_CIDR] = "CIDR",
	[CAIRN_FT_NAME] = "name",
	[CAIRN_FT_ENUM] = "one of",
	[CAIRN_FT_REF] = "reference",
	[CAIRN_FT_PATH] = "path",
	[CAIRN_FT_PORT] = "port",
	[CAIRN_FT_LIST] = "list",
	[CAIRN_FT_MAP] = "map",
	[CAIRN_FT_OBJECT] = "object",
	[CAIRN_FT_ANY] = "any",
	[CAIRN_FT_MODE] = "file mode",
};

const char *cairn_ftype_name(enum cairn_ftype t)
{
	return (unsigned)t < ARRAY_SIZE(ftype_names) ? ftype_names[t] : "unknown";
}

/* ---- element descriptors --------------------------------------------- */

static const struct cairn_field str_elem[] = {
	{ .name = "item", .type = CAIRN_FT_STRING },
};
static const struct cairn_field node_ref_elem[] = {
	{ .name = "node", .type = CAIRN_FT_REF, .ref = CAIRN_KIND_NODE },
};
static const struct cairn_field net_ref_elem[] = {
	{ .name = "network", .type = CAIRN_FT_REF, .ref = CAIRN_KIND_NETWORK },
};
static const struct cairn_field vol_ref_elem[] = {
	{ .name = "volume", .type = CAIRN_FT_REF, .ref = CAIRN_KIND_VOLUME },
};
static const struct cairn_field port_elem[] = {
	{ .name = "port", .type = CAIRN_FT_PORT },
};
static const struct cairn_field name_elem[] = {
	{ .name = "group", .type = CAIRN_FT_NAME },
};
static const struct cairn_field any_elem[] = {
	{ .name = "value", .type = CAIRN_FT_ANY },
};

/* ---- the top level ----------------------------------------------------- */

/*
 * The sections themselves are decoded by src/spec/load.c, entry by entry
 * against the tables below; this table gives their shape for validation of
 * the top level and for `cairn explain stack`.
 */
const struct cairn_field cairn_stack_fields[] = {
	{ "stack", CAIRN_FT_NAME, CAIRN_FF_REQUIRED, .help = "the stack's name, [a-z][a-z0-9-]*" },
	{ "description", CAIRN_FT_TEXT, 0, .help = "what the stack is for" },
	{ "include", CAIRN_FT_LIST, CAIRN_FF_LIST_SCALAR, .elem = &(const struct cairn_field){ "file", CAIRN_FT_PATH }, .help = "stack files merged into this one, relative to it" },
	{ "variables", CAIRN_FT_MAP, 0, .elem = any_elem, .help = "NAME: VALUE or NAME: {default, description, sensitive}" },
	{ "providers", CAIRN_FT_MAP, 0, .help = "provider instances: NAME: {type, parallelism, ...}" },
	{ "plans", CAIRN_FT_MAP, 0, .help = "node sizes: NAME: {cpus, memory, disk}" },
	{ "images", CAIRN_FT_MAP, 0, .help = "boot images: NAME: {disk} | {kernel, initrd, cmdline} | {builtin}" },
	{ "networks", CAIRN_FT_MAP, 0, .help = "NAME: {provider, cidr, dhcp}" },
	{ "volumes", CAIRN_FT_MAP, 0, .help = "NAME: {provider, size}" },
	{ "pools", CAIRN_FT_MAP, 0, .help = "NAME: {description}" },
	{ "nodes", CAIRN_FT_MAP, 0, .help = "NAME or NAME[01-05]: {provider, plan, image, count, ...}" },
	{ "outputs", CAIRN_FT_MAP, 0, .elem = any_elem, .help = "NAME: VALUE, shown after apply" },
	{ NULL },
};

/* ---- sections ---------------------------------------------------------- */

const struct cairn_field cairn_provider_fields[] = {
	{ "type", CAIRN_FT_STRING, CAIRN_FF_REQUIRED | CAIRN_FF_FORCES_NEW | CAIRN_FF_NOREFS, .help = "provider type: libvirt, lxc, static, process, plugin" },
	{ "parallelism", CAIRN_FT_INT, CAIRN_FF_BOUNDED, "4", 1, 256, .help = "operations this provider runs at once" },
	{ NULL },
};

const struct cairn_field cairn_plan_fields[] = {
	{ "cpus", CAIRN_FT_INT, CAIRN_FF_REQUIRED | CAIRN_FF_BOUNDED, NULL, 1, 1024, .help = "virtual CPUs" },
	{ "memory", CAIRN_FT_SIZE, CAIRN_FF_REQUIRED | CAIRN_FF_BOUNDED, NULL, 16LL << 20, 16LL << 40, .help = "memory, at least 16MiB" },
	{ "disk", CAIRN_FT_SIZE, CAIRN_FF_BOUNDED, NULL, 1LL << 20, 1LL << 50, .help = "root disk size" },
	{ NULL },
};

const struct cairn_field cairn_image_fields[] = {
	{ "disk", CAIRN_FT_PATH, CAIRN_FF_NOREFS, .help = "a disk image file (qcow2 or raw)" },
	{ "kernel", CAIRN_FT_PATH, CAIRN_FF_NOREFS, .help = "a kernel to boot directly (with initrd, cmdline)" },
	{ "initrd", CAIRN_FT_PATH, CAIRN_FF_NOREFS, .help = "the initramfs for kernel" },
	{ "cmdline", CAIRN_FT_STRING, CAIRN_FF_NOREFS, .help = "the kernel command line for kernel" },
	{ "builtin", CAIRN_FT_ENUM, 0, .choices = (const char *const[]){ "tiny", NULL }, .help = "an image cairn builds from Debian packages" },
	{ NULL },
};

const struct cairn_field cairn_network_fields[] = {
	{ "provider", CAIRN_FT_REF, CAIRN_FF_FORCES_NEW, .ref = CAIRN_KIND_PROVIDER, .help = "the provider that creates it (default: the only one)" },
	{ "cidr", CAIRN_FT_CIDR, CAIRN_FF_REQUIRED | CAIRN_FF_FORCES_NEW, .help = "address range, host bits zero" },
	{ "dhcp", CAIRN_FT_BOOL, 0, "true", .help = "hand out addresses by DHCP" },
	{ NULL },
};

const struct cairn_field cairn_volume_fields[] = {
	{ "provider", CAIRN_FT_REF, CAIRN_FF_FORCES_NEW, .ref = CAIRN_KIND_PROVIDER, .help = "the provider that creates it (default: the only one)" },
	{ "size", CAIRN_FT_SIZE, CAIRN_FF_REQUIRED | CAIRN_FF_BOUNDED, NULL, 1LL << 20, 1LL << 50, .help = "capacity; growing is done in place" },
	{ NULL },
};

const struct cairn_field cairn_pool_fields[] = {
	{ "description", CAIRN_FT_TEXT, 0, .help = "what the pool holds" },
	{ NULL },
};

static const struct cairn_field ssh_fields[] = {
	{ "user", CAIRN_FT_STRING, 0, "root", .help = "login user" },
	{ "port", CAIRN_FT_PORT, 0, "22", .help = "SSH port" },
	{ "via", CAIRN_FT_REF, 0, .ref = CAIRN_KIND_NODE, .help = "a bastion node to jump through" },
	{ "key", CAIRN_FT_PATH, CAIRN_FF_SENSITIVE, .help = "private key file (default: one cairn generates)" },
	{ NULL },
};

static const struct cairn_field file_fields[] = {
	{ "path", CAIRN_FT_STRING, CAIRN_FF_REQUIRED | CAIRN_FF_NONEMPTY, .help = "where the file goes on the node" },
	{ "content", CAIRN_FT_TEXT, 0, .help = "its content (or source)" },
	{ "source", CAIRN_FT_PATH, 0, .help = "a local file to copy (or content)" },
	{ "mode", CAIRN_FT_MODE, 0, "0644", .help = "octal permissions: \"0644\", \"0755\", \"01777\"" },
	{ "owner", CAIRN_FT_STRING, 0, .help = "user[:group]" },
	{ NULL },
};

static const struct cairn_field template_fields[] = {
	{ "path", CAIRN_FT_STRING, CAIRN_FF_REQUIRED | CAIRN_FF_NONEMPTY, .help = "where the rendered file goes" },
	{ "source", CAIRN_FT_PATH, CAIRN_FF_REQUIRED, .help = "a local template; ${...} references in it are expanded" },
	{ "mode", CAIRN_FT_MODE, 0, "0644", .help = "octal permissions: \"0644\"" },
	{ NULL },
};

static const struct cairn_field ansible_fields[] = {
	{ "playbook", CAIRN_FT_PATH, CAIRN_FF_REQUIRED, .help = "a playbook file, relative to the stack" },
	{ "groups", CAIRN_FT_LIST, CAIRN_FF_LIST_SCALAR, .elem = name_elem, .help = "inventory groups this node joins" },
	{ "vars", CAIRN_FT_MAP, 0, .elem = any_elem, .help = "host variables" },
	{ NULL },
};

static const struct cairn_field configure_step_fields[] = {
	{ "run", CAIRN_FT_TEXT, CAIRN_FF_NONEMPTY, .help = "a shell command run on the node" },
	{ "file", CAIRN_FT_OBJECT, 0, .fields = file_fields, .help = "a file written on the node" },
	{ "template", CAIRN_FT_OBJECT, 0, .fields = template_fields, .help = "a rendered template written on the node" },
	{ "ansible", CAIRN_FT_OBJECT, 0, .fields = ansible_fields, .help = "an Ansible playbook run against the node" },
	{ NULL },
};

static const struct cairn_field configure_elem[] = {
	{ "step", CAIRN_FT_OBJECT, CAIRN_FF_ONEOF, .fields = configure_step_fields },
};

static const struct cairn_field health_fields[] = {
	{ "ping", CAIRN_FT_BOOL, 0, .help = "answer ICMP echo" },
	{ "tcp", CAIRN_FT_LIST, CAIRN_FF_LIST_SCALAR, .elem = port_elem, .help = "ports that accept connections" },
	{ "http", CAIRN_FT_LIST, CAIRN_FF_LIST_SCALAR, .elem = str_elem, .help = "URLs that answer 2xx or 3xx" },
	{ "command", CAIRN_FT_TEXT, 0, .help = "a command over SSH that exits 0" },
	{ "interval", CAIRN_FT_DURATION, CAIRN_FF_BOUNDED, "30s", 1000, 86400000, .help = "time between checks" },
	{ "timeout", CAIRN_FT_DURATION, CAIRN_FF_BOUNDED, "5s", 100, 3600000, .help = "time one check may take" },
	{ "retries", CAIRN_FT_INT, CAIRN_FF_BOUNDED, "3", 1, 100, .help = "failed checks in a row before the node is unhealthy" },
	{ NULL },
};

static const struct cairn_field scaling_fields[] = {
	{ "min", CAIRN_FT_INT, CAIRN_FF_REQUIRED | CAIRN_FF_BOUNDED, NULL, 0, 100000, .help = "fewest instances" },
	{ "max", CAIRN_FT_INT, CAIRN_FF_REQUIRED | CAIRN_FF_BOUNDED, NULL, 0, 100000, .help = "most instances" },
	{ NULL },
};

static const struct cairn_field label_elem[] = {
	{ "label", CAIRN_FT_STRING },
};

const struct cairn_field cairn_node_fields[] = {
	{ "provider", CAIRN_FT_REF, CAIRN_FF_FORCES_NEW, .ref = CAIRN_KIND_PROVIDER, .help = "who creates it (default: the provider named like the node, or the only one)" },
	{ "plan", CAIRN_FT_REF, 0, .ref = CAIRN_KIND_PLAN, .help = "its size, from plans" },
	{ "image", CAIRN_FT_REF, CAIRN_FF_FORCES_NEW, .ref = CAIRN_KIND_IMAGE, .help = "what it boots, from images" },
	{ "count", CAIRN_FT_INT, CAIRN_FF_BOUNDED | CAIRN_FF_NODIFF, NULL, 0, 100000, .help = "instances, addressed node.NAME[i] (default 1)" },
	{ "networks", CAIRN_FT_LIST, CAIRN_FF_FORCES_NEW | CAIRN_FF_LIST_SCALAR, .elem = net_ref_elem, .help = "networks it joins, in NIC order" },
	{ "volumes", CAIRN_FT_LIST, CAIRN_FF_LIST_SCALAR, .elem = vol_ref_elem, .help = "volumes attached to it" },
	{ "pool", CAIRN_FT_NAME, CAIRN_FF_LOCAL, .help = "the pool it belongs to; created at apply when unknown" },
	{ "labels", CAIRN_FT_MAP, CAIRN_FF_LOCAL, .elem = label_elem, .help = "free-form KEY: VALUE tags" },
	{ "depends_on", CAIRN_FT_LIST, CAIRN_FF_LIST_SCALAR | CAIRN_FF_NODIFF, .elem = node_ref_elem, .help = "nodes created and configured before this one" },
	{ "ssh", CAIRN_FT_OBJECT, 0, .fields = ssh_fields, .help = "how cairn logs in" },
	{ "configure", CAIRN_FT_LIST, CAIRN_FF_LOCAL, .elem = configure_elem, .help = "steps run in order after creation: run, file, template, ansible" },
	{ "health", CAIRN_FT_OBJECT, CAIRN_FF_LOCAL, .fields = health_fields, .help = "checks of its health: they gate its dependents at apply; cairn health and the daemon run them" },
	{ "scaling", CAIRN_FT_OBJECT, CAIRN_FF_NODIFF, .fields = scaling_fields, .help = "bounds the daemon keeps the count between" },
	{ "user_data", CAIRN_FT_TEXT, 0, .help = "extra cloud-init user-data merged into the generated one" },
	{ NULL },
};

const struct cairn_field cairn_variable_fields[] = {
	{ "default", CAIRN_FT_ANY, 0, .help = "value when no --var, --var-file or CAIRN_VAR_NAME sets it" },
	{ "description", CAIRN_FT_TEXT, 0, .help = "what it means" },
	{ "sensitive", CAIRN_FT_BOOL, 0, "false", .help = "never print its value" },
	{ "type", CAIRN_FT_ENUM, 0, .choices = (const char *const[]){ "string", "number", "bool", "list", "map", NULL }, .help = "the value's type, checked" },
	{ NULL },
};

const struct cairn_field *cairn_schema_common(enum cairn_kind k)
{
	switch (k) {
	case CAIRN_KIND_PROVIDER: return cairn_provider_fields;
	case CAIRN_KIND_PLAN: return cairn_plan_fields;
	case CAIRN_KIND_IMAGE: return cairn_image_fields;
	case CAIRN_KIND_NETWORK: return cairn_network_fields;
	case CAIRN_KIND_VOLUME: return cairn_volume_fields;
	case CAIRN_KIND_POOL: return cairn_pool_fields;
	case CAIRN_KIND_NODE: return cairn_node_fields;
	case CAIRN_KIND_VARIABLE: return cairn_variable_fields;
	default: return NULL;
	}
}

const struct cairn_field *cairn_schema_type_fields(const struct cairn_type_schema *t,
						   enum cairn_kind k)
{
	if (!t)
		return NULL;
	switch (k) {
	case CAIRN_KIND_PROVIDER: return t->provider_fields;
	case CAIRN_KIND_NODE: return t->node_fields;
	case CAIRN_KIND_NETWORK: return t->network_fields;
	case CAIRN_KIND_VOLUME: return t->volume_fields;
	default: return NULL;
	}
}

const struct cairn_field *cairn_field_find(const struct cairn_field *table,
					   const char *name)
{
	for (; table && table->name; table++)
		if (!strcmp(table->name, name))
			return table;
	return NULL;
}

const struct cairn_field *cairn_schema_field(enum cairn_kind k,
					     const struct cairn_type_schema *t,
					     const char *key)
{
	const struct cairn_field *f = cairn_field_find(cairn_schema_type_fields(t, k), key);

	return f ? f : cairn_field_find(cairn_schema_common(k), key);
}

const struct cairn_field **cairn_fields_merge(const struct cairn_field *a,
					     const struct cairn_field *b)
{
	size_t n = 0, i = 0;
	const struct cairn_field **v;

	for (const struct cairn_field *f = a; f && f->name; f++)
		n++;
	for (const struct cairn_field *f = b; f && f->name; f++)
		n++;
	v = xcalloc(n + 1, sizeof(*v));
	/* a key either table marks UNUSED is left out */
	for (const struct cairn_field *f = a; f && f->name; f++) {
		const struct cairn_field *o = cairn_field_find(b, f->name);

		if (!(f->flags & CAIRN_FF_UNUSED) && !(o && (o->flags & CAIRN_FF_UNUSED)))
			v[i++] = o ? o : f;
	}
	for (const struct cairn_field *f = b; f && f->name; f++)
		if (!cairn_field_find(a, f->name) && !(f->flags & CAIRN_FF_UNUSED))
			v[i++] = f;
	v[i] = NULL;
	return v;
}

const char **cairn_field_names(const struct cairn_field *a, const struct cairn_field *b)
{
	const struct cairn_field **f = cairn_fields_merge(a, b);
	const char **v;
	size_t n = 0;

	while (f[n])
		n++;
	v = xcalloc(n + 1, sizeof(*v));
	for (size_t i = 0; i < n; i++)
		v[i] = f[i]->name;
	free(f);
	return v;
}
