/*
 * Tests of providers/libvirt-xml.c: the generated XML against golden files
 * (tests/libvirt/golden/; CAIRN_UPDATE_GOLDEN=1 rewrites them), escaping of
 * hostile values, and round trips through libvirt's own parser on the
 * in-process test driver (test:///default): what cairn writes, libvirt
 * accepts, and the stamp cairn reads back is the one it wrote.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "util/common.h"
#include "providers/libvirt-xml.h"

static const struct lv_disk disks[] = {
	{ .pool = "default", .volume = "web-cluster-web-0.6f1c2d3e-0000-4000-8000-000000000001.disk",
	  .format = "qcow2", .target = "vda" },
	{ .pool = "default", .volume = "web-cluster-web-0.6f1c2d3e-0000-4000-8000-000000000001.seed",
	  .format = "raw", .target = "vdb", .readonly = true },
};
static const struct lv_nic nics[] = { { .network = "web-cluster-lan" } };

static const struct lv_domain_spec web0 = {
	.type = "qemu", .name = "web-cluster-web-0", .title = "node.web[0] of stack web-cluster",
	.stamp = { "web-cluster", "node.web[0]", "6f1c2d3e-0000-4000-8000-000000000001" },
	.vcpus = 1, .memory_kib = 262144, .machine = "pc", .firmware = "bios",
	.cpu_mode = "maximum", .console = true,
	.kernel = "/var/lib/libvirt/images/web-cluster-web-0.6f1c2d3e-0000-4000-8000-000000000001.kernel",
	.initrd = "/var/lib/libvirt/images/web-cluster-web-0.6f1c2d3e-0000-4000-8000-000000000001.initrd",
	.cmdline = "console=ttyS0 quiet",
	.disks = disks, .ndisks = 2, .nics = nics, .nnics = 1,
};

static const struct lv_network_spec lan = {
	.name = "web-cluster-lan",
	.stamp = { "web-cluster", "network.lan", "6f1c2d3e-0000-4000-8000-000000000002" },
	.mode = "nat", .domain = "cluster.test", .address = "10.42.0.1", .prefix = 24,
	.dhcp_start = "10.42.0.2", .dhcp_end = "10.42.0.254",
};

static const struct lv_volume_spec dbdata = {
	.name = "web-cluster-dbdata.6f1c2d3e-0000-4000-8000-000000000003.qcow2",
	.format = "qcow2", .capacity = 2147483648ULL,
};

static char *slurp(const char *path)
{
	struct cairn_buf b = CAIRN_BUF_INIT;
	struct cairn_error err = CAIRN_ERROR_INIT;

	if (cairn_buf_read_file(&b, path, 1 << 20, &err) < 0) {
		cairn_error_release(&err);
		cairn_buf_release(&b);
		return NULL;
	}
	return cairn_buf_detach(&b, NULL);
}

static void golden(const char *name, const char *got)
{
	const char *src = getenv("CAIRN_SRCDIR");
	char *path = xasprintf("%s/tests/libvirt/golden/%s", src ? src : ".", name);
	char *want;

	if (getenv("CAIRN_UPDATE_GOLDEN")) {
		FILE *f = fopen(path, "w");

		assert_non_null(f);
		fputs(got, f);
		fclose(f);
	}
	want = slurp(path);
	if (!want)
		fail_msg("no golden file %s (run with CAIRN_UPDATE_GOLDEN=1)", path);
	if (strcmp(want, got))
		fail_msg("%s differs from what was generated:\n%s", path, got);
	free(want);
	free(path);
}

static void test_domain_golden(void **state)
{
	char *x = lv_domain_xml(&web0);

	(void)state;
	golden("domain-kernel.xml", x);
	free(x);
}

static void test_domain_disk_boot_golden(void **state)
{
	struct lv_domain_spec s = web0;
	char *x;

	(void)state;
	s.kernel = s.initrd = s.cmdline = NULL;
	s.machine = "q35";
	s.firmware = "uefi";
	s.console = false;
	s.cpu_mode = NULL;
	s.type = "kvm";
	s.vcpus = 4;
	s.memory_kib = 8 << 20;
	s.ndisks = 1;
	x = lv_domain_xml(&s);
	golden("domain-disk.xml", x);
	free(x);
}

static void test_network_golden(void **state)
{
	struct lv_network_spec iso = lan;
	char *x = lv_network_xml(&lan);

	(void)state;
	golden("network-nat.xml", x);
	free(x);
	iso.mode = "isolated";
	iso.domain = NULL;
	iso.bridge = "virbr42";
	iso.dhcp_start = iso.dhcp_end = NULL;
	x = lv_network_xml(&iso);
	golden("network-isolated.xml", x);
	free(x);
}

static void test_volume_golden(void **state)
{
	struct lv_volume_spec v = dbdata;
	char *x = lv_volume_xml(&dbdata);

	(void)state;
	golden("volume.xml", x);
	free(x);
	v.backing = "/var/lib/libvirt/images/base <debian>.qcow2";
	x = lv_volume_xml(&v);
	golden("volume-backed.xml", x);
	free(x);
}

/* Values a user controls (titles, addresses, commands) cannot break out. */
static void test_escaping(void **state)
{
	struct lv_domain_spec s = web0;
	struct lv_found f;
	char *x, *stamp;

	(void)state;
	s.title = "a</title><devices><hostdev/></devices><title>";
	s.cmdline = "console=ttyS0 x=\"'&<>";
	s.stamp.address = "node.x&<y>";
	x = lv_domain_xml(&s);
	assert_null(strstr(x, "<hostdev"));
	assert_non_null(strstr(x, "a&lt;/title&gt;&lt;devices&gt;"));
	assert_non_null(strstr(x, "<cmdline>console=ttyS0 x=&quot;'&amp;&lt;&gt;</cmdline>"));
	free(x);
	stamp = lv_stamp_xml(&s.stamp);
	assert_int_equal(lv_stamp_parse(stamp, &f), 0);
	assert_string_equal(f.address, "node.x&<y>");
	lv_found_release(&f);
	free(stamp);
	assert_int_equal(lv_stamp_parse("<other/>", &f), -1);
	assert_int_equal(lv_stamp_parse("not xml", &f), -1);
	assert_int_equal(lv_stamp_parse("<instance><stack>s</stack></instance>", &f), -1);
}

static void quiet(void *ud, virErrorPtr e)
{
	(void)ud;
	(void)e;
}

/* libvirt's test driver parses what cairn wrote, and gives the stamp back. */
static void test_test_driver_round_trip(void **state)
{
	virConnectPtr c;
	virDomainPtr d;
	virNetworkPtr n;
	struct lv_domain_spec s = web0;
	struct lv_found f;
	struct lv_network_spec ns = lan;
	char *x, *meta, *desc, macs[4][18], nets[4][256];
	uint32_t net;
	unsigned prefix;

	(void)state;
	virSetErrorFunc(NULL, quiet);
	c = virConnectOpen("test:///default");
	assert_non_null(c);
	s.type = "test";
	s.name = "cairn-unit-web-0";
	/* the test driver's pool is "default-pool" and it has no such volumes:
	 * boot from the kernel, no disks */
	s.ndisks = 0;
	ns.name = "cairn-unit-lan";
	ns.address = "10.77.0.1";
	ns.dhcp_start = "10.77.0.2";
	ns.dhcp_end = "10.77.0.9";
	x = lv_network_xml(&ns);
	n = virNetworkDefineXML(c, x);
	free(x);
	assert_non_null(n);
	assert_int_equal(virNetworkCreate(n), 0);
	desc = virNetworkGetXMLDesc(n, 0);
	assert_int_equal(lv_network_stamp(desc, &f), 0);
	assert_string_equal(f.stack, "web-cluster");
	assert_string_equal(f.address, "network.lan");
	assert_string_equal(f.cairn_id, "6f1c2d3e-0000-4000-8000-000000000002");
	lv_found_release(&f);
	assert_int_equal(lv_network_range(desc, &net, &prefix), 0);
	assert_int_equal(net, 0x0a4d0000u);
	assert_int_equal(prefix, 24);
	free(desc);

	{
		struct lv_nic nic = { .network = "cairn-unit-lan" };

		s.nics = &nic;
		x = lv_domain_xml(&s);
	}
	d = virDomainDefineXML(c, x);
	free(x);
	assert_non_null(d);
	meta = virDomainGetMetadata(d, VIR_DOMAIN_METADATA_ELEMENT, LV_META_NS, 0);
	assert_non_null(meta);
	assert_int_equal(lv_stamp_parse(meta, &f), 0);
	assert_string_equal(f.stack, "web-cluster");
	assert_string_equal(f.address, "node.web[0]");
	assert_string_equal(f.cairn_id, "6f1c2d3e-0000-4000-8000-000000000001");
	lv_found_release(&f);
	free(meta);
	assert_int_equal(virDomainCreate(d), 0);
	desc = virDomainGetXMLDesc(d, 0);
	assert_int_equal(lv_domain_nics(desc, macs, nets, 4), 1);
	assert_string_equal(nets[0], "cairn-unit-lan");
	assert_int_equal(strlen(macs[0]), 17);     /* libvirt chose one */
	free(desc);

	assert_int_equal(virDomainDestroy(d), 0);
	assert_int_equal(virDomainUndefine(d), 0);
	virDomainFree(d);
	assert_int_equal(virNetworkDestroy(n), 0);
	assert_int_equal(virNetworkUndefine(n), 0);
	virNetworkFree(n);
	virConnectClose(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_domain_golden),
		cmocka_unit_test(test_domain_disk_boot_golden),
		cmocka_unit_test(test_network_golden),
		cmocka_unit_test(test_volume_golden),
		cmocka_unit_test(test_escaping),
		cmocka_unit_test(test_test_driver_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
