/*
 * libvirt-xml.c - domain, network and volume XML for the libvirt driver,
 * written with libxml2's xmlTextWriter (which escapes every value), and the
 * cairn stamp read back with libxml2's parser.
 */
#include "util/common.h"

#include <arpa/inet.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlwriter.h>

#include "providers/libvirt-xml.h"

/* ---- writing ----------------------------------------------------------------- */

struct w {
	xmlBufferPtr buf;
	xmlTextWriterPtr tw;
};

static void w_open(struct w *w)
{
	w->buf = xmlBufferCreate();
	if (!w->buf)
		BUG("out of memory for an XML buffer");
	w->tw = xmlNewTextWriterMemory(w->buf, 0);
	if (!w->tw)
		BUG("cannot make an XML writer");
	xmlTextWriterSetIndent(w->tw, 1);
	xmlTextWriterSetIndentString(w->tw, BAD_CAST "  ");
}

static char *w_close(struct w *w)
{
	char *out;

	xmlTextWriterEndDocument(w->tw);
	xmlFreeTextWriter(w->tw);
	out = xstrdup((const char *)xmlBufferContent(w->buf));
	xmlBufferFree(w->buf);
	return out;
}

static void start(struct w *w, const char *name)
{
	xmlTextWriterStartElement(w->tw, BAD_CAST name);
}

static void end(struct w *w)
{
	xmlTextWriterEndElement(w->tw);
}

static void attr(struct w *w, const char *name, const char *value)
{
	if (value)
		xmlTextWriterWriteAttribute(w->tw, BAD_CAST name, BAD_CAST value);
}

static void attrf(struct w *w, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void attrf(struct w *w, const char *name, const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	s = xvasprintf(fmt, ap);
	va_end(ap);
	attr(w, name, s);
	free(s);
}

/* <name>text</name>, skipped when text is NULL */
static void elem(struct w *w, const char *name, const char *text)
{
	if (text)
		xmlTextWriterWriteElement(w->tw, BAD_CAST name, BAD_CAST text);
}

/* an element with no content but attributes: <name a="v"/> */
static void empty(struct w *w, const char *name, const char *a1, const char *v1,
		  const char *a2, const char *v2)
{
	start(w, name);
	if (a1)
		attr(w, a1, v1);
	if (a2)
		attr(w, a2, v2);
	end(w);
}

/* <number unit="unit">n</number>; without a unit, <number>n</number> */
static void elem_u64(struct w *w, const char *name, const char *unit, uint64_t n)
{
	char v[24];

	snprintf(v, sizeof(v), "%llu", (unsigned long long)n);
	start(w, name);
	attr(w, "unit", unit);
	xmlTextWriterWriteString(w->tw, BAD_CAST v);
	end(w);
}

/* The stamp element; in cairn's namespace inside a domain's <metadata>,
 * without one as virDomainSetMetadata() takes it. */
static void write_stamp(struct w *w, const struct lv_stamp *st, bool with_ns)
{
	const xmlChar *pfx = with_ns ? BAD_CAST LV_META_PREFIX : NULL;

	xmlTextWriterStartElementNS(w->tw, pfx, BAD_CAST "instance", with_ns ? BAD_CAST LV_META_NS : NULL);
	xmlTextWriterWriteElementNS(w->tw, pfx, BAD_CAST "stack", NULL, BAD_CAST st->stack);
	xmlTextWriterWriteElementNS(w->tw, pfx, BAD_CAST "address", NULL, BAD_CAST st->address);
	xmlTextWriterWriteElementNS(w->tw, pfx, BAD_CAST "id", NULL, BAD_CAST st->cairn_id);
	end(w);
}

char *lv_stamp_xml(const struct lv_stamp *st)
{
	struct w w;

	w_open(&w);
	write_stamp(&w, st, false);
	return w_close(&w);
}

char *lv_domain_xml(const struct lv_domain_spec *s)
{
	struct w w;

	w_open(&w);
	start(&w, "domain");
	attr(&w, "type", s->type);
	elem(&w, "name", s->name);
	elem(&w, "title", s->title);
	start(&w, "metadata");
	write_stamp(&w, &s->stamp, true);
	end(&w);
	elem_u64(&w, "memory", "KiB", s->memory_kib);
	elem_u64(&w, "vcpu", NULL, s->vcpus ? s->vcpus : 1);
	start(&w, "os");
	if (s->firmware && !strcmp(s->firmware, "uefi"))
		attr(&w, "firmware", "efi");
	start(&w, "type");
	attr(&w, "arch", s->arch ? s->arch : "x86_64");
	attr(&w, "machine", s->machine);
	xmlTextWriterWriteString(w.tw, BAD_CAST "hvm");
	end(&w);
	if (s->kernel) {
		elem(&w, "kernel", s->kernel);
		elem(&w, "initrd", s->initrd);
		elem(&w, "cmdline", s->cmdline);
	} else {
		empty(&w, "boot", "dev", "hd", NULL, NULL);
	}
	end(&w);
	start(&w, "features");
	empty(&w, "acpi", NULL, NULL, NULL, NULL);
	empty(&w, "apic", NULL, NULL, NULL, NULL);
	end(&w);
	if (s->cpu_mode)
		empty(&w, "cpu", "mode", s->cpu_mode, NULL, NULL);
	elem(&w, "on_poweroff", "destroy");
	elem(&w, "on_reboot", "restart");
	elem(&w, "on_crash", "destroy");
	start(&w, "devices");
	for (size_t i = 0; i < s->ndisks; i++) {
		const struct lv_disk *d = &s->disks[i];

		start(&w, "disk");
		attr(&w, "type", "volume");
		attr(&w, "device", "disk");
		empty(&w, "driver", "name", "qemu", "type", d->format ? d->format : "raw");
		empty(&w, "source", "pool", d->pool, "volume", d->volume);
		empty(&w, "target", "dev", d->target, "bus", "virtio");
		if (d->readonly)
			empty(&w, "readonly", NULL, NULL, NULL, NULL);
		end(&w);
	}
	for (size_t i = 0; i < s->nnics; i++) {
		start(&w, "interface");
		attr(&w, "type", "network");
		if (s->nics[i].mac)
			empty(&w, "mac", "address", s->nics[i].mac, NULL, NULL);
		empty(&w, "source", "network", s->nics[i].network, NULL, NULL);
		empty(&w, "model", "type", "virtio", NULL, NULL);
		end(&w);
	}
	if (s->console) {
		start(&w, "serial");
		attr(&w, "type", "pty");
		empty(&w, "target", "port", "0", NULL, NULL);
		end(&w);
		start(&w, "console");
		attr(&w, "type", "pty");
		empty(&w, "target", "type", "serial", "port", "0");
		end(&w);
	}
	start(&w, "rng");
	attr(&w, "model", "virtio");
	start(&w, "backend");
	attr(&w, "model", "random");
	xmlTextWriterWriteString(w.tw, BAD_CAST "/dev/urandom");
	end(&w);
	end(&w);
	empty(&w, "memballoon", "model", "none", NULL, NULL);
	end(&w);    /* devices */
	end(&w);    /* domain */
	return w_close(&w);
}

char *lv_network_xml(const struct lv_network_spec *s)
{
	struct w w;

	w_open(&w);
	start(&w, "network");
	elem(&w, "name", s->name);
	if (s->mode && strcmp(s->mode, "isolated"))
		empty(&w, "forward", "mode", s->mode, NULL, NULL);
	if (s->bridge) {
		start(&w, "bridge");
		attr(&w, "name", s->bridge);
		attr(&w, "stp", "on");
		attr(&w, "delay", "0");
		end(&w);
	}
	if (s->domain)
		empty(&w, "domain", "name", s->domain, "localOnly", "yes");
	start(&w, "dns");
	start(&w, "txt");
	attr(&w, "name", LV_TXT_NAME);
	attrf(&w, "value", "v=1;stack=%s;address=%s;id=%s", s->stamp.stack, s->stamp.address,
	      s->stamp.cairn_id);
	end(&w);
	end(&w);
	start(&w, "ip");
	attr(&w, "address", s->address);
	attrf(&w, "prefix", "%u", s->prefix);
	if (s->dhcp_start && s->dhcp_end) {
		start(&w, "dhcp");
		empty(&w, "range", "start", s->dhcp_start, "end", s->dhcp_end);
		end(&w);
	}
	end(&w);
	end(&w);
	return w_close(&w);
}

char *lv_volume_xml(const struct lv_volume_spec *s)
{
	struct w w;

	w_open(&w);
	start(&w, "volume");
	elem(&w, "name", s->name);
	elem_u64(&w, "capacity", "bytes", s->capacity);
	start(&w, "target");
	empty(&w, "format", "type", s->format ? s->format : "raw", NULL, NULL);
	end(&w);
	if (s->backing) {
		start(&w, "backingStore");
		elem(&w, "path", s->backing);
		empty(&w, "format", "type", s->backing_format ? s->backing_format : "qcow2", NULL, NULL);
		end(&w);
	}
	end(&w);
	return w_close(&w);
}

/* ---- reading ------------------------------------------------------------------ */

void lv_found_release(struct lv_found *f)
{
	free(f->stack);
	free(f->address);
	free(f->cairn_id);
	memset(f, 0, sizeof(*f));
}

static xmlDocPtr parse(const char *xml)
{
	return xml ? xmlReadMemory(xml, (int)strlen(xml), "libvirt.xml", NULL,
				   XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING)
		   : NULL;
}

static char *text_of(xmlNodePtr n)
{
	xmlChar *c = xmlNodeGetContent(n);
	char *s = c ? xstrdup((const char *)c) : NULL;

	xmlFree(c);
	return s;
}

static xmlNodePtr child(xmlNodePtr n, const char *name)
{
	for (xmlNodePtr c = n ? n->children : NULL; c; c = c->next)
		if (c->type == XML_ELEMENT_NODE && !strcmp((const char *)c->name, name))
			return c;
	return NULL;
}

static char *prop(xmlNodePtr n, const char *name)
{
	xmlChar *v = n ? xmlGetProp(n, BAD_CAST name) : NULL;
	char *s = v ? xstrdup((const char *)v) : NULL;

	xmlFree(v);
	return s;
}

int lv_stamp_parse(const char *xml, struct lv_found *out)
{
	xmlDocPtr doc = parse(xml);
	xmlNodePtr root = doc ? xmlDocGetRootElement(doc) : NULL;
	int ret = -1;

	memset(out, 0, sizeof(*out));
	if (root && !strcmp((const char *)root->name, "instance")) {
		out->stack = text_of(child(root, "stack"));
		out->address = text_of(child(root, "address"));
		out->cairn_id = text_of(child(root, "id"));
		if (out->stack && out->address && out->cairn_id)
			ret = 0;
		else
			lv_found_release(out);
	}
	xmlFreeDoc(doc);
	return ret;
}

/* "v=1;stack=S;address=A;id=ID" */
static int parse_txt(const char *v, struct lv_found *out)
{
	char *copy = xstrdup(v), *save = NULL;
	bool v1 = false;

	for (char *tok = strtok_r(copy, ";", &save); tok; tok = strtok_r(NULL, ";", &save)) {
		if (!strcmp(tok, "v=1"))
			v1 = true;
		else if (!strncmp(tok, "stack=", 6))
			out->stack = xstrdup(tok + 6);
		else if (!strncmp(tok, "address=", 8))
			out->address = xstrdup(tok + 8);
		else if (!strncmp(tok, "id=", 3))
			out->cairn_id = xstrdup(tok + 3);
	}
	free(copy);
	if (v1 && out->stack && out->address && out->cairn_id)
		return 0;
	lv_found_release(out);
	return -1;
}

int lv_network_stamp(const char *xml, struct lv_found *out)
{
	xmlDocPtr doc = parse(xml);
	xmlNodePtr dns = child(doc ? xmlDocGetRootElement(doc) : NULL, "dns");
	int ret = -1;

	memset(out, 0, sizeof(*out));
	for (xmlNodePtr c = dns ? dns->children : NULL; c && ret; c = c->next) {
		char *name, *value;

		if (c->type != XML_ELEMENT_NODE || strcmp((const char *)c->name, "txt"))
			continue;
		name = prop(c, "name");
		value = prop(c, "value");
		if (name && value && !strcmp(name, LV_TXT_NAME))
			ret = parse_txt(value, out);
		free(name);
		free(value);
	}
	xmlFreeDoc(doc);
	return ret;
}

int lv_network_range(const char *xml, uint32_t *net, unsigned *prefix)
{
	xmlDocPtr doc = parse(xml);
	xmlNodePtr root = doc ? xmlDocGetRootElement(doc) : NULL;
	int ret = -1;

	for (xmlNodePtr c = root ? root->children : NULL; c && ret; c = c->next) {
		char *fam, *addr, *pfx, *mask;
		struct in_addr a;

		if (c->type != XML_ELEMENT_NODE || strcmp((const char *)c->name, "ip"))
			continue;
		fam = prop(c, "family");
		addr = prop(c, "address");
		pfx = prop(c, "prefix");
		mask = prop(c, "netmask");
		if ((!fam || !strcmp(fam, "ipv4")) && addr && inet_pton(AF_INET, addr, &a) == 1) {
			unsigned p = 24;
			struct in_addr m;

			if (pfx)
				p = (unsigned)strtoul(pfx, NULL, 10);
			else if (mask && inet_pton(AF_INET, mask, &m) == 1)
				p = (unsigned)__builtin_popcount(m.s_addr);
			if (p <= 32) {
				uint32_t h = ntohl(a.s_addr);

				*prefix = p;
				*net = p ? h & (0xffffffffu << (32 - p)) : 0;
				ret = 0;
			}
		}
		free(fam);
		free(addr);
		free(pfx);
		free(mask);
	}
	xmlFreeDoc(doc);
	return ret;
}

size_t lv_domain_nics(const char *xml, char (*macs)[18], char (*networks)[256], size_t max)
{
	xmlDocPtr doc = parse(xml);
	xmlNodePtr devices = child(doc ? xmlDocGetRootElement(doc) : NULL, "devices");
	size_t n = 0;

	for (xmlNodePtr c = devices ? devices->children : NULL; c && n < max; c = c->next) {
		char *type, *mac, *net;

		if (c->type != XML_ELEMENT_NODE || strcmp((const char *)c->name, "interface"))
			continue;
		type = prop(c, "type");
		mac = prop(child(c, "mac"), "address");
		net = prop(child(c, "source"), "network");
		if (type && !strcmp(type, "network")) {
			snprintf(macs[n], 18, "%s", mac ? mac : "");
			snprintf(networks[n], 256, "%s", net ? net : "");
			n++;
		}
		free(type);
		free(mac);
		free(net);
	}
	xmlFreeDoc(doc);
	return n;
}
