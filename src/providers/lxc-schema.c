/*
 * lxc-schema.c - the fields of the "lxc" provider type: system containers
 * created from an LXC template.  A container has no image: the template
 * builds its root file system; a plan, when given, becomes its memory and
 * CPU limits.
 */
#include "util/common.h"

#include "providers/builtin.h"

static const struct cairn_field provider_fields[] = {
	{ "lxcpath", CAIRN_FT_PATH, CAIRN_FF_FORCES_NEW, "/var/lib/lxc",
	  .help = "where the containers live (lxc.lxcpath)" },
	{ "bridge", CAIRN_FT_NAME, 0,
	  .help = "host bridge for containers not on a stack network (e.g. lxcbr0)" },
	{ NULL },
};

static const struct cairn_field node_fields[] = {
	{ "template", CAIRN_FT_STRING, CAIRN_FF_FORCES_NEW | CAIRN_FF_NONEMPTY | CAIRN_FF_NOREFS, "busybox",
	  .help = "the LXC template that builds its root file system" },
	{ "plan", CAIRN_FT_REF, 0, .ref = CAIRN_KIND_PLAN,
	  .help = "optional: memory and CPU limits, from plans" },
	{ "autostart", CAIRN_FT_BOOL, 0, "false",
	  .help = "started again when the host boots (lxc.start.auto)" },
	{ "image", CAIRN_FT_REF, CAIRN_FF_UNUSED, .ref = CAIRN_KIND_IMAGE,
	  .help = "a container is built by its template, not booted from an image" },
	{ NULL },
};

const struct cairn_type_schema cairn_lxc_schema = {
	.name = "lxc",
	.summary = "system containers created from LXC templates",
	.serves = 1u << CAIRN_KIND_NODE,
	.open = false,
	.provider_fields = provider_fields,
	.node_fields = node_fields,
};
