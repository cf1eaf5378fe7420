/*
 * libvirt-xml.h - the XML documents the libvirt driver gives libvirt:
 * domains, networks and storage volumes, written with libxml2's text writer
 * (so every value is escaped), and the cairn stamp read back from them.
 *
 * These are pure functions of their specs, so tests compare their output
 * with golden files (tests/libvirt/golden/).  Strings a spec points to are
 * borrowed; the returned XML is the caller's to free.
 */
#ifndef CAIRN_PROVIDERS_LIBVIRT_XML_H
#define CAIRN_PROVIDERS_LIBVIRT_XML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The namespace of cairn's element in a domain's <metadata>. */
#define LV_META_NS "https://cairn.invalid/xmlns/instance/1"
#define LV_META_PREFIX "cairn"
/* The DNS TXT record that stamps a network (networks of libvirt 9.0 have no
 * <metadata>): "v=1;stack=S;address=A;id=ID". */
#define LV_TXT_NAME "cairn-instance"

/* Who an object belongs to. */
struct lv_stamp {
	const char *stack;
	const char *address;
	const char *cairn_id;
};

struct lv_disk {
	const char *pool, *volume;  /* a volume of a storage pool */
	const char *format;         /* "qcow2", "raw" */
	const char *target;         /* "vda" */
	bool readonly;
};

struct lv_nic {
	const char *network;        /* libvirt network name */
	const char *mac;            /* NULL: libvirt picks one */
};

struct lv_domain_spec {
	const char *type;           /* "kvm", "qemu", "test" */
	const char *name, *title;
	struct lv_stamp stamp;
	unsigned vcpus;
	uint64_t memory_kib;
	const char *arch;           /* "x86_64" */
	const char *machine;        /* "pc", "q35" */
	const char *firmware;       /* "bios", "uefi" */
	const char *cpu_mode;       /* "maximum", "host-model", "host-passthrough"; NULL: none */
	bool console;
	const char *kernel, *initrd, *cmdline;   /* direct boot; NULL: from the first disk */
	const struct lv_disk *disks;
	size_t ndisks;
	const struct lv_nic *nics;
	size_t nnics;
};

struct lv_network_spec {
	const char *name;
	struct lv_stamp stamp;
	const char *mode;           /* "nat", "isolated", "route" */
	const char *bridge;         /* NULL: libvirt picks virbrN */
	const char *domain;         /* DNS domain, or NULL */
	const char *address;        /* the host's address on it: "10.42.0.1" */
	unsigned prefix;            /* 24 */
	const char *dhcp_start, *dhcp_end;   /* NULL: no DHCP */
};

struct lv_volume_spec {
	const char *name;
	const char *format;         /* "qcow2", "raw" */
	uint64_t capacity;          /* bytes */
	const char *backing;        /* a backing file's path, or NULL */
	const char *backing_format;
};

char *lv_domain_xml(const struct lv_domain_spec *s);
char *lv_network_xml(const struct lv_network_spec *s);
char *lv_volume_xml(const struct lv_volume_spec *s);
/* The element that goes in <metadata> (as virDomainSetMetadata() takes it). */
char *lv_stamp_xml(const struct lv_stamp *st);

/* A stamp read back (strings owned). */
struct lv_found {
	char *stack, *address, *cairn_id;
};
void lv_found_release(struct lv_found *f);
/* From the element virDomainGetMetadata() returns; -1 if it is not one. */
int lv_stamp_parse(const char *xml, struct lv_found *out);
/* From a network's XML (its TXT record); -1 when it carries none. */
int lv_network_stamp(const char *xml, struct lv_found *out);
/* A network's first IPv4 range from its XML ("10.42.0.1", 24); -1: none. */
int lv_network_range(const char *xml, uint32_t *net, unsigned *prefix);
/* The MAC address and network of each <interface type='network'> of a
 * domain's XML, in order; returns how many (at most max). */
size_t lv_domain_nics(const char *xml, char (*macs)[18], char (*networks)[256], size_t max);

#endif
