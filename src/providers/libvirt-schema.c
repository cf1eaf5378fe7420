/*
 * libvirt-schema.c - the fields of the "libvirt" provider type: virtual
 * machines, networks and storage volumes on a libvirt host (qemu/KVM, or
 * qemu/TCG where there is no KVM).
 *
 * These tables are what validate, plan and `cairn explain libvirt` read;
 * the driver is libvirt.c.
 */
#include "util/common.h"

#include "providers/builtin.h"

static const struct cairn_field provider_fields[] = {
	{ "uri", CAIRN_FT_STRING, CAIRN_FF_FORCES_NEW | CAIRN_FF_NONEMPTY | CAIRN_FF_NOREFS, "qemu:///system",
	  .help = "the libvirt connection URI" },
	{ "pool", CAIRN_FT_STRING, CAIRN_FF_FORCES_NEW | CAIRN_FF_NONEMPTY | CAIRN_FF_NOREFS, "default",
	  .help = "the libvirt storage pool that holds disks and volumes (not a cairn pool)" },
	{ "prefix", CAIRN_FT_STRING, CAIRN_FF_FORCES_NEW | CAIRN_FF_NOREFS,
	  .help = "prepended to the names of created domains, networks and volumes (default: the stack name and '-')" },
	{ "domain_type", CAIRN_FT_ENUM, CAIRN_FF_NOREFS, "auto",
	  .choices = (const char *const[]){ "auto", "kvm", "qemu", NULL },
	  .help = "kvm (hardware virtualisation) or qemu (TCG emulation); auto: kvm where /dev/kvm runs guests" },
	{ "create_timeout", CAIRN_FT_DURATION, CAIRN_FF_BOUNDED | CAIRN_FF_NOREFS, "5m", 1000, 86400000,
	  .help = "how long each new node may take to get an address and answer on SSH" },
	{ NULL },
};

static const struct cairn_field node_fields[] = {
	{ "plan", CAIRN_FT_REF, CAIRN_FF_REQUIRED, .ref = CAIRN_KIND_PLAN,
	  .help = "its size (cpus, memory, disk), from plans" },
	{ "image", CAIRN_FT_REF, CAIRN_FF_REQUIRED | CAIRN_FF_FORCES_NEW, .ref = CAIRN_KIND_IMAGE,
	  .help = "what it boots, from images" },
	{ "machine", CAIRN_FT_ENUM, CAIRN_FF_FORCES_NEW, "pc",
	  .choices = (const char *const[]){ "pc", "q35", NULL },
	  .help = "the emulated chipset" },
	{ "firmware", CAIRN_FT_ENUM, CAIRN_FF_FORCES_NEW, "bios",
	  .choices = (const char *const[]){ "bios", "uefi", NULL },
	  .help = "SeaBIOS or OVMF (UEFI)" },
	{ "console", CAIRN_FT_BOOL, 0, "true",
	  .help = "a serial console on a pty, its output logged by libvirt" },
	{ "autostart", CAIRN_FT_BOOL, 0, "false",
	  .help = "started again when the libvirt host boots" },
	{ "cpu_mode", CAIRN_FT_ENUM, 0, "maximum",
	  .choices = (const char *const[]){ "maximum", "host-model", "host-passthrough", NULL },
	  .help = "the CPU model shown to the guest; host-* need KVM" },
	{ NULL },
};

static const struct cairn_field network_fields[] = {
	{ "mode", CAIRN_FT_ENUM, CAIRN_FF_FORCES_NEW, "nat",
	  .choices = (const char *const[]){ "nat", "isolated", "route", NULL },
	  .help = "how the network reaches the outside: NAT, not at all, or routed" },
	{ "bridge", CAIRN_FT_NAME, CAIRN_FF_FORCES_NEW,
	  .help = "the host bridge device to create (default: chosen by libvirt, virbrN)" },
	{ "domain", CAIRN_FT_STRING, CAIRN_FF_NOREFS,
	  .help = "DNS domain served to the guests; names resolve as NAME.DOMAIN" },
	{ NULL },
};

static const struct cairn_field volume_fields[] = {
	{ "format", CAIRN_FT_ENUM, CAIRN_FF_FORCES_NEW, "qcow2",
	  .choices = (const char *const[]){ "qcow2", "raw", NULL },
	  .help = "the on-disk format of the volume" },
	{ NULL },
};

const struct cairn_type_schema cairn_libvirt_schema = {
	.name = "libvirt",
	.summary = "virtual machines, networks and volumes on a libvirt host (qemu/KVM)",
	.serves = 1u << CAIRN_KIND_NODE | 1u << CAIRN_KIND_NETWORK | 1u << CAIRN_KIND_VOLUME,
	.open = false,
	.provider_fields = provider_fields,
	.node_fields = node_fields,
	.network_fields = network_fields,
	.volume_fields = volume_fields,
};
