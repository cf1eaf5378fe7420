/*
 * plugin-schema.c - the fields of the "plugin" provider type: an external
 * executable speaking cairn's line-delimited JSON protocol on its standard
 * input and output.  The table is open: keys it does not declare are not
 * errors but are handed to the plugin, which validates them itself.
 */
#include "util/common.h"

#include "providers/builtin.h"

static const struct cairn_field arg_elem[] = {
	{ "arg", CAIRN_FT_STRING, CAIRN_FF_NOREFS },
};

static const struct cairn_field provider_fields[] = {
	{ "command", CAIRN_FT_PATH, CAIRN_FF_REQUIRED | CAIRN_FF_FORCES_NEW,
	  .help = "the plugin executable, relative to the stack file or absolute" },
	{ "args", CAIRN_FT_LIST, CAIRN_FF_LIST_SCALAR, .elem = arg_elem,
	  .help = "arguments passed to it, never through a shell" },
	{ "timeout", CAIRN_FT_DURATION, CAIRN_FF_BOUNDED, "60s", 1000, 86400000,
	  .help = "time one request may take before the plugin is killed" },
	{ NULL },
};

const struct cairn_type_schema cairn_plugin_schema = {
	.name = "plugin",
	.summary = "an external executable speaking cairn's JSON provider protocol",
	.serves = 1u << CAIRN_KIND_NODE | 1u << CAIRN_KIND_NETWORK | 1u << CAIRN_KIND_VOLUME,
	.open = true,
	.provider_fields = provider_fields,
};
