/*
 * test-schema.c - the fields of the "test" provider type: the fault-injecting
 * plugin cairn-provider-test (tests/plugins/test/), used by the test suite
 * and the benchmarks.  It keeps its objects in a file and fails, hangs,
 * crashes or loses answers as a scenario file says (docs/plugins.md).  The
 * table is open: the plugin takes any node, network or volume key.
 */
#include "util/common.h"

#include "providers/builtin.h"

static const struct cairn_field provider_fields[] = {
	{ "dir", CAIRN_FT_PATH, 0,
	  .help = "where it keeps its objects and its call log (default: the state's run directory)" },
	{ "scenario", CAIRN_FT_PATH, 0,
	  .help = "a JSON file of latencies and faults, re-read at every call" },
	{ "timeout", CAIRN_FT_DURATION, CAIRN_FF_BOUNDED, "60s", 100, 86400000,
	  .help = "time one request may take before the plugin is killed" },
	{ "retry_attempts", CAIRN_FT_INT, CAIRN_FF_BOUNDED, NULL, 1, 100,
	  .help = "tries of a retryable call" },
	{ "retry_base", CAIRN_FT_DURATION, CAIRN_FF_BOUNDED, NULL, 1, 3600000,
	  .help = "first back-off between tries" },
	{ "retry_cap", CAIRN_FT_DURATION, CAIRN_FF_BOUNDED, NULL, 1, 3600000,
	  .help = "longest back-off between tries" },
	{ NULL },
};

/* Its nodes are records with made-up addresses: nothing to log in to or
 * check, and nothing cairn may send a packet to. */
static const struct cairn_field node_fields[] = {
	{ "configure", CAIRN_FT_LIST, CAIRN_FF_UNUSED,
	  .help = "the test plugin's nodes are records, not machines: nothing to log in to" },
	{ "health", CAIRN_FT_OBJECT, CAIRN_FF_UNUSED,
	  .help = "the test plugin's nodes are records with made-up addresses: nothing to check" },
	{ NULL },
};

const struct cairn_type_schema cairn_test_schema = {
	.name = "test",
	.summary = "a fault-injecting provider for tests and benchmarks (cairn-provider-test)",
	.serves = 1u << CAIRN_KIND_NODE | 1u << CAIRN_KIND_NETWORK | 1u << CAIRN_KIND_VOLUME,
	.open = true,
	.provider_fields = provider_fields,
	.node_fields = node_fields,
};
