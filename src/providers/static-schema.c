/*
 * static-schema.c - the fields of the "static" provider type: machines that
 * already exist, reached over SSH, with optional power control over IPMI.
 *
 * The provider declares an inventory (machines); a node either names a
 * fixed address or gives labels (match) that the machines it may take must
 * carry.
 * "match" is deliberately a filter, not a name: it is where node definitions
 * with alternative implementations, chosen by a filter as in Occopus, fit in
 * later without changing the language.
 */
#include "util/common.h"

#include "providers/builtin.h"

static const struct cairn_field label_elem[] = {
	{ "label", CAIRN_FT_STRING, CAIRN_FF_NOREFS },
};

static const struct cairn_field ipmi_fields[] = {
	{ "address", CAIRN_FT_STRING, CAIRN_FF_REQUIRED | CAIRN_FF_NONEMPTY | CAIRN_FF_NOREFS,
	  .help = "the BMC's host name or IP address" },
	{ "user", CAIRN_FT_STRING, CAIRN_FF_NOREFS,
	  .help = "the BMC user" },
	{ "password", CAIRN_FT_STRING, CAIRN_FF_SENSITIVE | CAIRN_FF_NOREFS,
	  .help = "the BMC password; use a sensitive variable: ${var.NAME}" },
	{ "interface", CAIRN_FT_ENUM, 0, "lanplus",
	  .choices = (const char *const[]){ "lan", "lanplus", NULL },
	  .help = "IPMI 1.5 (lan) or 2.0 (lanplus)" },
	{ NULL },
};

static const struct cairn_field machine_fields[] = {
	{ "name", CAIRN_FT_NAME, CAIRN_FF_REQUIRED | CAIRN_FF_NOREFS,
	  .help = "the machine's name in the inventory, unique" },
	{ "address", CAIRN_FT_STRING, CAIRN_FF_REQUIRED | CAIRN_FF_NONEMPTY | CAIRN_FF_NOREFS,
	  .help = "host name or IP address cairn reaches it at over SSH (as its bastion sees it)" },
	{ "port", CAIRN_FT_PORT, CAIRN_FF_NOREFS,
	  .help = "its SSH port (default: the node's ssh.port, 22)" },
	{ "user", CAIRN_FT_STRING, CAIRN_FF_NONEMPTY | CAIRN_FF_NOREFS,
	  .help = "the user cairn logs in as (default: the node's ssh.user, root)" },
	{ "identity", CAIRN_FT_PATH, CAIRN_FF_NOREFS,
	  .help = "a private key file to log in with (default: the node's ssh.key, else the stack's key)" },
	{ "labels", CAIRN_FT_MAP, 0, .elem = label_elem,
	  .help = "KEY: VALUE tags that nodes select it by (match)" },
	{ "ipmi", CAIRN_FT_OBJECT, 0, .fields = ipmi_fields,
	  .help = "its BMC, for power control; without it power must be none" },
	{ NULL },
};

static const struct cairn_field machine_elem[] = {
	{ "machine", CAIRN_FT_OBJECT, 0, .fields = machine_fields },
};

static const struct cairn_field provider_fields[] = {
	{ "machines", CAIRN_FT_LIST, 0, .elem = machine_elem,
	  .help = "the inventory nodes are allocated from: [{name, address, port, user, identity, labels, ipmi}]" },
	{ "connect_timeout", CAIRN_FT_DURATION, CAIRN_FF_BOUNDED, "10s", 100, 600000,
	  .help = "how long a machine may take to answer on SSH at allocation before it is skipped" },
	{ NULL },
};

static const struct cairn_field node_fields[] = {
	{ "match", CAIRN_FT_MAP, CAIRN_FF_FORCES_NEW | CAIRN_FF_NONEMPTY, .elem = label_elem,
	  .help = "labels a machine must carry to be allocated (a filter: any free matching machine will do)" },
	{ "address", CAIRN_FT_STRING, CAIRN_FF_FORCES_NEW | CAIRN_FF_NONEMPTY | CAIRN_FF_NOREFS,
	  .help = "a fixed machine (its inventory name or address, or any address) instead of match" },
	{ "power", CAIRN_FT_ENUM, 0, "none",
	  .choices = (const char *const[]){ "on", "off", "cycle", "none", NULL },
	  .help = "what cairn does with the machine's power over IPMI when the node is created (not in this version: only none)" },
	{ "image", CAIRN_FT_REF, CAIRN_FF_UNUSED, .ref = CAIRN_KIND_IMAGE,
	  .help = "a static host is already installed: it boots no image" },
	{ "plan", CAIRN_FT_REF, CAIRN_FF_UNUSED, .ref = CAIRN_KIND_PLAN,
	  .help = "a static host has the size it has" },
	{ NULL },
};

const struct cairn_type_schema cairn_static_schema = {
	.name = "static",
	.summary = "existing machines reached over SSH, with optional IPMI power control",
	.serves = 1u << CAIRN_KIND_NODE,
	.open = false,
	.provider_fields = provider_fields,
	.node_fields = node_fields,
};
