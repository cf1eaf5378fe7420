/*
 * Tests of the libvirt driver (providers/libvirt.c) through the provider
 * dispatch layer, against libvirt's in-process test driver
 * (test:///default): networks, volumes and nodes made, found again by
 * cairn id, listed by stack, deleted twice; and the bad inputs the driver
 * must refuse before it makes anything (a CIDR that collides with another
 * libvirt network, an image file that does not exist, a plan larger than
 * the host, a network that does not exist), leaving nothing behind.
 *
 * The test driver boots nothing, so what needs a real guest (the DHCP
 * lease, the upload of files into the pool) is the end-to-end tests' job
 * (the shell tests of tests/libvirt, with a real libvirtd).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <libvirt/libvirt.h>
#include <unistd.h>

#include "util/common.h"
#include "providers/provider.h"
#include "util/jsonutil.h"

#define STACK "drv"
#define NET_ID "11111111-2222-4333-8444-000000000001"
#define VOL_ID "11111111-2222-4333-8444-000000000002"
#define NODE_ID "11111111-2222-4333-8444-000000000003"

static char kernel[] = "/tmp/cairn-test-kernel.XXXXXX";

static struct cairn_provider *open_provider(const char *stack)
{
	json_t *cfg = json_pack("{s:s, s:s}", "uri", "test:///default", "domain_type", "auto");
	struct cairn_provider_config c = { .stack = stack, .name = "kvm", .type = "libvirt",
					   .config = cfg,
					   .ssh_public_key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBnLhIc2CNSbl6mi16BNDbeJDIDIOD4DS7WUSg8dn6uB cairn" };
	struct cairn_error err = CAIRN_ERROR_INIT;
	struct cairn_provider *p = NULL;

	if (cairn_provider_open(&c, &p, &err))
		fail_msg("open: %s", err.message);
	json_decref(cfg);
	return p;
}

static json_t *node_desired(const char *name, json_int_t memory, const char *kernel_path,
			    const char *network)
{
	return json_pack("{s:s, s:s, s:{s:i, s:I, s:I, s:s}, s:{s:s, s:s, s:s}, s:[s], s:[], "
			 "s:s, s:s, s:b, s:b, s:s}",
			 "name", name, "hostname", name,
			 "plan", "cpus", 1, "memory", memory, "disk", (json_int_t)1 << 30, "name", "small",
			 "image", "kernel", kernel_path, "cmdline", "console=ttyS0", "name", "k",
			 "networks", network, "volumes",
			 "machine", "pc", "firmware", "bios", "console", 1, "autostart", 0,
			 "cpu_mode", "maximum");
}

static size_t count_kind(json_t *objs, const char *kind)
{
	size_t i, n = 0;
	json_t *o;

	json_array_foreach(objs, i, o)
		n += !strcmp(cairn_json_str(o, "kind"), kind);
	return n;
}

static json_t *list(struct cairn_provider *p, const char *stack)
{
	struct cairn_error err = CAIRN_ERROR_INIT;
	json_t *objs = NULL;

	assert_int_equal(cairn_provider_list(p, stack, &objs, &err), 0);
	if (getenv("CAIRN_TEST_DEBUG")) {
		char *t = json_dumps(objs, JSON_COMPACT);

		fprintf(stderr, "list %s: %s\n", stack, t);
		free(t);
	}
	return objs;
}

static void test_network_volume_node(void **state)
{
	struct cairn_provider *p = open_provider(STACK);
	struct cairn_error err = CAIRN_ERROR_INIT;
	json_t *nd = json_pack("{s:s, s:s, s:s, s:b}", "name", "lan", "cidr", "10.77.0.0/24", "mode",
			       "isolated", "dhcp", 1);
	json_t *vd = json_pack("{s:s, s:I, s:s}", "name", "data", "size", (json_int_t)1 << 30, "format",
			       "qcow2");
	json_t *node = node_desired("web", 256 << 20, kernel, "lan"), *o = NULL, *o2 = NULL, *objs;
	struct cairn_provider_req net = { .stack = STACK, .address = "network.lan", .kind = CAIRN_KIND_NETWORK,
					  .cairn_id = NET_ID, .desired = nd };
	struct cairn_provider_req vol = { .stack = STACK, .address = "volume.data", .kind = CAIRN_KIND_VOLUME,
					  .cairn_id = VOL_ID, .desired = vd };
	struct cairn_provider_req nr = { .stack = STACK, .address = "node.web", .kind = CAIRN_KIND_NODE,
					 .cairn_id = NODE_ID, .desired = node };

	(void)state;
	json_array_append_new(json_object_get(node, "volumes"), json_string("data"));
	assert_int_equal(cairn_provider_create(p, &net, &o, &err), 0);
	assert_string_equal(cairn_json_str(o, "name"), "drv-lan");
	json_decref(o);
	/* idempotent: the same cairn id gives the same network */
	assert_int_equal(cairn_provider_create(p, &net, &o, &err), 0);
	json_decref(o);
	assert_int_equal(cairn_provider_create(p, &vol, &o, &err), 0);
	assert_string_equal(cairn_json_str(o, "name"), "drv-data." VOL_ID ".qcow2");
	json_decref(o);

	if (cairn_provider_create(p, &nr, &o, &err))
		fail_msg("node create: %s", err.message);
	assert_string_equal(cairn_json_str(o, "domain"), "drv-web");
	assert_string_equal(cairn_json_str(o, "state"), "running");
	assert_string_equal(cairn_json_str(o, "domain_type"), "test");
	assert_int_equal(json_array_size(json_object_get(o, "nics")), 1);
	assert_string_equal(cairn_json_str(json_array_get(json_object_get(o, "nics"), 0), "network"), "lan");
	/* again: the same domain, not a second one */
	assert_int_equal(cairn_provider_create(p, &nr, &o2, &err), 0);
	assert_string_equal(cairn_json_str(o2, "uuid"), cairn_json_str(o, "uuid"));
	json_decref(o2);

	/* the domain's XML holds what the node asked for */
	{
		virConnectPtr c = virConnectOpen("test:///default");
		virDomainPtr d = virDomainLookupByName(c, "drv-web");
		char *xml = virDomainGetXMLDesc(d, 0);

		assert_non_null(strstr(xml, "drv-web." NODE_ID ".disk"));
		assert_non_null(strstr(xml, "drv-web." NODE_ID ".seed"));
		assert_non_null(strstr(xml, "drv-data." VOL_ID ".qcow2"));
		assert_non_null(strstr(xml, "console=ttyS0"));
		assert_non_null(strstr(xml, "<readonly/>"));
		free(xml);
		virDomainFree(d);
		virConnectClose(c);
	}

	/* read by cairn id, with only the last observed state */
	nr.desired = NULL;
	nr.observed = o;
	assert_int_equal(cairn_provider_read(p, &nr, &o2, &err), 0);
	assert_string_equal(cairn_json_str(o2, "uuid"), cairn_json_str(o, "uuid"));
	json_decref(o2);

	objs = list(p, STACK);
	assert_int_equal(count_kind(objs, "network"), 1);
	assert_int_equal(count_kind(objs, "volume"), 1);
	assert_int_equal(count_kind(objs, "node"), 1);
	json_decref(objs);
	/* another stack sees none of it */
	objs = list(p, "other");
	assert_int_equal(json_array_size(objs), 0);
	json_decref(objs);

	/* delete, twice; then read says not found and nothing is listed */
	if (cairn_provider_delete(p, &nr, &err))
		fail_msg("delete: %s", err.message);
	assert_int_equal(cairn_provider_delete(p, &nr, &err), 0);
	assert_int_equal(cairn_provider_read(p, &nr, &o2, &err), -1);
	assert_int_equal(err.code, CAIRN_E_NOTFOUND);
	cairn_error_release(&err);
	assert_int_equal(cairn_provider_delete(p, &vol, &err), 0);
	assert_int_equal(cairn_provider_delete(p, &net, &err), 0);
	assert_int_equal(cairn_provider_delete(p, &net, &err), 0);
	objs = list(p, STACK);
	assert_int_equal(json_array_size(objs), 0);
	json_decref(objs);

	json_decref(o);
	json_decref(nd);
	json_decref(vd);
	json_decref(node);
	cairn_provider_close(p);
}

/* a node's files without their domain (a crash between the two) are
 * listed as the node; read() says it is not there, delete() removes them */
static void test_orphan_files(void **state)
{
	struct cairn_provider *p = open_provider(STACK);
	struct cairn_error err = CAIRN_ERROR_INIT;
	virConnectPtr c = virConnectOpen("test:///default");
	virStoragePoolPtr pool = virStoragePoolLookupByName(c, "default-pool");
	virStorageVolPtr v;
	struct cairn_provider_req nr = { .stack = STACK, .address = "node.lost", .kind = CAIRN_KIND_NODE,
					 .cairn_id = NODE_ID };
	json_t *objs, *o = NULL;

	(void)state;
	assert_non_null(pool);
	v = virStorageVolCreateXML(pool, "<volume><name>drv-lost." NODE_ID ".disk</name>"
					 "<capacity>1048576</capacity></volume>", 0);
	assert_non_null(v);
	virStorageVolFree(v);
	objs = list(p, STACK);
	assert_int_equal(json_array_size(objs), 1);
	assert_string_equal(cairn_json_str(json_array_get(objs, 0), "address"), "node.lost");
	assert_string_equal(cairn_json_str(json_array_get(objs, 0), "cairn_id"), NODE_ID);
	json_decref(objs);
	assert_int_equal(cairn_provider_read(p, &nr, &o, &err), -1);
	assert_int_equal(err.code, CAIRN_E_NOTFOUND);
	cairn_error_release(&err);
	objs = list(p, STACK);
	assert_int_equal(json_array_size(objs), 1);
	json_decref(objs);
	assert_int_equal(cairn_provider_delete(p, &nr, &err), 0);
	objs = list(p, STACK);
	assert_int_equal(json_array_size(objs), 0);
	json_decref(objs);
	virStoragePoolFree(pool);
	virConnectClose(c);
	cairn_provider_close(p);
}

/* create fails with err's message containing want; nothing is left */
static void refused(struct cairn_provider *p, struct cairn_provider_req *r, const char *want)
{
	struct cairn_error err = CAIRN_ERROR_INIT;
	json_t *o = NULL, *objs;

	assert_int_equal(cairn_provider_create(p, r, &o, &err), -1);
	assert_null(o);
	if (!strstr(err.message, want))
		fail_msg("error '%s' does not say '%s'", err.message, want);
	assert_int_equal(err.code, CAIRN_E_PERMANENT);
	cairn_error_release(&err);
	objs = list(p, STACK);
	assert_int_equal(json_array_size(objs), 0);
	json_decref(objs);
}

static void test_bad_input(void **state)
{
	struct cairn_provider *p = open_provider(STACK);
	/* the test driver's own network "default" holds 192.168.122.0/24 */
	json_t *nd = json_pack("{s:s, s:s}", "name", "clash", "cidr", "192.168.122.128/25");
	json_t *big = node_desired("big", (json_int_t)1 << 50, kernel, "default");
	json_t *noimg = node_desired("noimg", 256 << 20, "/nonexistent/vmlinuz", "default");
	json_t *nonet = node_desired("nonet", 256 << 20, kernel, "nowhere");
	struct cairn_provider_req r = { .stack = STACK, .address = "network.clash", .kind = CAIRN_KIND_NETWORK,
					.cairn_id = NET_ID, .desired = nd };

	(void)state;
	refused(p, &r, "overlaps libvirt network 'default' (192.168.122.0/24)");
	r = (struct cairn_provider_req){ .stack = STACK, .address = "node.big", .kind = CAIRN_KIND_NODE,
					 .cairn_id = NODE_ID, .desired = big };
	refused(p, &r, "of memory; the libvirt host has");
	r.address = "node.noimg";
	r.desired = noimg;
	refused(p, &r, "kernel '/nonexistent/vmlinuz': No such file or directory");
	r.address = "node.nonet";
	r.desired = nonet;
	refused(p, &r, "network 'nowhere' (libvirt network 'drv-nowhere') does not exist");
	json_decref(nd);
	json_decref(big);
	json_decref(noimg);
	json_decref(nonet);
	cairn_provider_close(p);
}

/* a builtin image that was not built: the error says how to build it */
static void test_builtin_missing(void **state)
{
	struct cairn_provider *p = open_provider(STACK);
	struct cairn_error err = CAIRN_ERROR_INIT;
	json_t *d = node_desired("tiny", 256 << 20, kernel, "default"), *o = NULL;
	struct cairn_provider_req r = { .stack = STACK, .address = "node.tiny", .kind = CAIRN_KIND_NODE,
					.cairn_id = NODE_ID, .desired = d };

	(void)state;
	json_object_set_new(d, "image", json_pack("{s:s, s:s}", "builtin", "tiny", "name", "tiny"));
	setenv("CAIRN_IMAGE_DIR", "/nonexistent/images", 1);
	assert_int_equal(cairn_provider_create(p, &r, &o, &err), -1);
	assert_non_null(strstr(err.message, "/nonexistent/images/tiny/vmlinuz"));
	assert_non_null(err.hint);
	assert_non_null(strstr(err.hint, "cairn image build tiny"));
	cairn_error_release(&err);
	unsetenv("CAIRN_IMAGE_DIR");
	json_decref(d);
	cairn_provider_close(p);
}

static int setup(void **state)
{
	int fd = mkstemp(kernel);

	(void)state;
	if (fd < 0 || write(fd, "not a kernel\n", 13) != 13)
		return -1;
	close(fd);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unlink(kernel);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_network_volume_node),
		cmocka_unit_test(test_orphan_files),
		cmocka_unit_test(test_bad_input),
		cmocka_unit_test(test_builtin_missing),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
