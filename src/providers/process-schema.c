/*
 * process-schema.c - the fields of the "process" provider type: a local
 * process, supervised by cairn, standing in for a machine.  Cheap and fast,
 * it is what the tests and the demo use when a real VM is not the point.
 */
#include "util/common.h"

#include "providers/builtin.h"

static const struct cairn_field env_elem[] = {
	{ "value", CAIRN_FT_STRING },
};

static const struct cairn_field provider_fields[] = {
	{ "root", CAIRN_FT_PATH, CAIRN_FF_FORCES_NEW,
	  .help = "directory for pid files and logs (default: under the state directory)" },
	{ NULL },
};

static const struct cairn_field node_fields[] = {
	{ "command", CAIRN_FT_TEXT, CAIRN_FF_REQUIRED | CAIRN_FF_FORCES_NEW | CAIRN_FF_NONEMPTY,
	  .help = "the command to run, with /bin/sh -c" },
	{ "env", CAIRN_FT_MAP, 0, .elem = env_elem,
	  .help = "NAME: VALUE added to its environment" },
	{ "workdir", CAIRN_FT_PATH, 0,
	  .help = "its working directory (default: the provider's root)" },
	{ "restart", CAIRN_FT_ENUM, 0, "on-failure",
	  .choices = (const char *const[]){ "always", "on-failure", "never", NULL },
	  .help = "when cairn starts it again after it exits" },
	{ "stop_timeout", CAIRN_FT_DURATION, CAIRN_FF_BOUNDED, "10s", 100, 3600000,
	  .help = "time between SIGTERM and SIGKILL when it is stopped" },
	{ "image", CAIRN_FT_REF, CAIRN_FF_UNUSED, .ref = CAIRN_KIND_IMAGE,
	  .help = "a process runs on this machine: it boots no image" },
	{ "plan", CAIRN_FT_REF, CAIRN_FF_UNUSED, .ref = CAIRN_KIND_PLAN,
	  .help = "a process takes no size" },
	{ "configure", CAIRN_FT_LIST, CAIRN_FF_UNUSED,
	  .help = "a process is not a machine to log in to: put its set-up in its command" },
	{ NULL },
};

const struct cairn_type_schema cairn_process_schema = {
	.name = "process",
	.summary = "local processes supervised as nodes, for tests and demos",
	.serves = 1u << CAIRN_KIND_NODE,
	.open = false,
	.no_login = true,
	.provider_fields = provider_fields,
	.node_fields = node_fields,
};
