/*
 * libvirt.c - the "libvirt" driver: networks, storage volumes and domains
 * through the libvirt C API (qemu:///system, qemu+ssh://HOST/system,
 * test:///default).
 * docs/internals/libvirt.md tells the whole of it.
 *
 * Names: everything is named PREFIX + NAME (PREFIX: the provider's `prefix`,
 * else STACK-).  The cairn stamp: a domain carries it in <metadata>, a
 * network in a DNS TXT record (libvirt 9.0 networks have no metadata), a
 * volume in its name: PREFIX + NAME + "." + CAIRN_ID + "." + FORMAT for a
 * volume resource, PREFIX + NODE + "." + CAIRN_ID + "." + ROLE for the files
 * of a node (disk, seed, kernel, initrd), which go with the node.
 */
#include "util/common.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <linux/kvm.h>
#include <signal.h>
#include <pthread.h>
#include <stdatomic.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "providers/cloudinit.h"
#include "providers/image.h"
#include "providers/libvirt-xml.h"
#include "providers/provider.h"
#include "util/clock.h"
#include "util/thread.h"
#include "util/jsonutil.h"
#include "util/units.h"

CAIRN_LOG_INIT("providers.libvirt");

struct lv {
	virConnectPtr conn;
	char *uri;
	char *stack;
	char *prefix;
	char *pool;
	char *domain_type;          /* "kvm", "qemu", "test" (never freed before close:
				     * a fallback to TCG only swaps the pointer) */
	char *domain_type_was;      /* the one swapped out, freed at close */
	bool kvm_probed;            /* "kvm" came from the probe, not the config */
	char *ssh_key;              /* the stack's public key, for the seeds */
	int64_t create_timeout_ms;  /* for a node's DHCP lease */
	bool test_driver;
	atomic_bool abort;          /* cairn was interrupted twice: stop waiting */
	atomic_bool deleted;        /* something was deleted: the pool may be empty */
	pthread_mutex_t mu;         /* name checks + define, per instance */
};

/* ---- errors ------------------------------------------------------------------ */

static void quiet(void *ud, virErrorPtr e)
{
	(void)ud;
	(void)e;
}

/* libvirt's last error of this thread, as a cairn error */
static int lv_error(struct cairn_error *err, const char *what)
{
	virErrorPtr e = virGetLastError();
	enum cairn_errcode code = CAIRN_E_PERMANENT;

	if (e && (e->code == VIR_ERR_SYSTEM_ERROR || e->code == VIR_ERR_RPC ||
		  e->code == VIR_ERR_OPERATION_TIMEOUT || e->code == VIR_ERR_AGENT_UNRESPONSIVE ||
		  e->code == VIR_ERR_NO_CONNECT || e->code == VIR_ERR_INTERNAL_ERROR))
		code = CAIRN_E_RETRYABLE;
	return cairn_error_set(err, code, "%s: %s", what, e && e->message ? e->message : "libvirt failed");
}

static bool lv_no_object(void)
{
	virErrorPtr e = virGetLastError();

	return e && (e->code == VIR_ERR_NO_DOMAIN || e->code == VIR_ERR_NO_NETWORK ||
		     e->code == VIR_ERR_NO_STORAGE_VOL);
}

/* ---- the domain type: does /dev/kvm run guests here? ---------------------------- */

/*
 * Run one HLT in a real-mode guest.  /dev/kvm can exist and open while
 * guests cannot run (nested virtualisation switched off, a sandbox), so
 * only a guest that ran counts.
 *
 * NOT ENOUGH YET: on the development machine this passes (and qemu -accel
 * kvm starts, warning about missing CPUID features) although Linux guests
 * do not boot under KVM there.  The probe must boot something closer to a
 * real guest (long mode, the CPUID leaves a kernel needs), or fall back to
 * TCG when a KVM domain fails to come up.
 */
static bool kvm_runs_guests(void)
{
	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC), vm = -1, vcpu = -1;
	struct kvm_userspace_memory_region region = { 0 };
	struct kvm_sregs sregs;
	struct kvm_regs regs = { 0 };
	struct kvm_run *run = MAP_FAILED;
	void *mem = MAP_FAILED;
	long run_size;
	bool ok = false;

	if (kvm < 0 || ioctl(kvm, KVM_GET_API_VERSION, 0) != 12)
		goto out;
	if ((vm = ioctl(kvm, KVM_CREATE_VM, 0)) < 0)
		goto out;
	mem = mmap(NULL, 0x1000, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		goto out;
	((unsigned char *)mem)[0] = 0xf4;          /* hlt */
	region.guest_phys_addr = 0x1000;
	region.memory_size = 0x1000;
	region.userspace_addr = (uint64_t)(uintptr_t)mem;
	if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region) < 0)
		goto out;
	if ((vcpu = ioctl(vm, KVM_CREATE_VCPU, 0)) < 0)
		goto out;
	run_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (run_size <= 0)
		goto out;
	run = mmap(NULL, (size_t)run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
	if (run == MAP_FAILED || ioctl(vcpu, KVM_GET_SREGS, &sregs) < 0)
		goto out;
	sregs.cs.base = 0;
	sregs.cs.selector = 0;
	regs.rip = 0x1000;
	regs.rflags = 0x2;
	if (ioctl(vcpu, KVM_SET_SREGS, &sregs) < 0 || ioctl(vcpu, KVM_SET_REGS, &regs) < 0)
		goto out;
	ok = ioctl(vcpu, KVM_RUN, 0) == 0 && run->exit_reason == KVM_EXIT_HLT;
out:
	if (run != MAP_FAILED)
		munmap(run, (size_t)run_size);
	if (mem != MAP_FAILED)
		munmap(mem, 0x1000);
	if (vcpu >= 0)
		close(vcpu);
	if (vm >= 0)
		close(vm);
	if (kvm >= 0)
		close(kvm);
	return ok;
}

/* "kvm" where the host offers it (and, locally, really runs guests), else "qemu" */
static char *probe_domain_type(struct lv *l)
{
	char *caps;
	bool kvm, local;

	if (l->test_driver)
		return xstrdup("test");
	caps = virConnectGetCapabilities(l->conn);
	kvm = caps && strstr(caps, "<domain type='kvm'");
	free(caps);
	local = !strncmp(l->uri, "qemu:///", 8);
	if (kvm && local)
		kvm = kvm_runs_guests();
	cairn_debug("libvirt '%s': domains of type %s", l->uri, kvm ? "kvm" : "qemu");
	return xstrdup(kvm ? "kvm" : "qemu");
}

/* ---- open / close ------------------------------------------------------------------ */

static int ensure_pool(struct lv *l, struct cairn_error *err)
{
	virStoragePoolPtr p = virStoragePoolLookupByName(l->conn, l->pool);
	char *xml;

	if (!p && l->test_driver && !strcmp(l->pool, "default")) {
		free(l->pool);
		l->pool = xstrdup("default-pool");
		p = virStoragePoolLookupByName(l->conn, l->pool);
	}
	if (!p) {
		/* a directory pool under libvirt's images directory */
		xml = xasprintf("<pool type='dir'><name>%s</name><target><path>/var/lib/libvirt/images%s%s</path></target></pool>",
				l->pool, strcmp(l->pool, "default") ? "/" : "",
				strcmp(l->pool, "default") ? l->pool : "");
		p = virStoragePoolDefineXML(l->conn, xml, 0);
		free(xml);
		if (!p)
			return lv_error(err, "cannot define storage pool");
		if (virStoragePoolBuild(p, 0) < 0 || virStoragePoolSetAutostart(p, 1) < 0) {
			virStoragePoolFree(p);
			return lv_error(err, "cannot build storage pool");
		}
		cairn_info("created libvirt storage pool '%s'", l->pool);
	}
	if (!virStoragePoolIsActive(p) && virStoragePoolCreate(p, 0) < 0) {
		virStoragePoolFree(p);
		return lv_error(err, "cannot start storage pool");
	}
	virStoragePoolFree(p);
	return 0;
}

/*
 * A pool whose name starts with the prefix is the stack's: made for it by
 * ensure_pool(), and removed when it holds nothing any more (after a
 * destroy), so that nothing of the stack stays behind.
 */
static void drop_empty_pool(struct lv *l)
{
	virStoragePoolPtr p;
	int n;

	if (l->test_driver || strncmp(l->pool, l->prefix, strlen(l->prefix)))
		return;
	p = virStoragePoolLookupByName(l->conn, l->pool);
	if (!p)
		return;
	virStoragePoolRefresh(p, 0);
	n = virStoragePoolNumOfVolumes(p);
	if (n == 0) {
		virStoragePoolDestroy(p);
		if (virStoragePoolDelete(p, 0) < 0 || virStoragePoolUndefine(p) < 0)
			cairn_warn("cannot remove the empty storage pool '%s': %s", l->pool,
				   virGetLastErrorMessage());
		else
			cairn_info("removed the empty storage pool '%s'", l->pool);
	}
	virStoragePoolFree(p);
}

static void event_loop_put(void);

static void lv_close(void *priv)
{
	struct lv *l = priv;

	if (!l)
		return;
	if (l->conn && l->deleted)
		drop_empty_pool(l);
	if (l->conn)
		virConnectClose(l->conn);
	free(l->uri);
	free(l->stack);
	free(l->prefix);
	free(l->pool);
	free(l->domain_type);
	free(l->domain_type_was);
	free(l->ssh_key);
	pthread_mutex_destroy(&l->mu);
	free(l);
	event_loop_put();
}

/*
 * libvirt's event loop, run by a thread of its own while a connection is
 * open, as virsh runs it.  Remote connections need it: without one, a call
 * over qemu+ssh:// or qemu+libssh:// waits for its reply forever (seen
 * with libvirt 9.0: virConnectGetCapabilities never returned).  It must be
 * registered before the first connection is opened.
 *
 * The thread is stopped and joined when the last connection is closed.  A
 * closed connection's socket watch is freed by the loop afterwards, and a
 * loop still running while the process exits then used libssh after its
 * destructor had run: a SIGSEGV after a successful `cairn plan` over
 * qemu+libssh:// (1 run in 10).  So lv_close's virConnectClose is followed
 * by one more round of the loop (a 0 ms timer wakes it), which frees what
 * the connection left, and then by the thread's end.  The thread takes no
 * asynchronous signal (cairn_thread_start).
 */
static pthread_once_t event_loop_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t loop_mu = PTHREAD_MUTEX_INITIALIZER;
static bool loop_registered;
static int loop_users;              /* open connections */
static bool loop_running;
static atomic_bool loop_quit;
static pthread_t loop_thread;

static void *event_loop(void *arg)
{
	(void)arg;
	while (!atomic_load(&loop_quit))
		if (virEventRunDefaultImpl() < 0)
			cairn_debug("libvirt's event loop: %s", virGetLastErrorMessage());
	return NULL;
}

static void event_loop_register(void)
{
	loop_registered = virEventRegisterDefaultImpl() == 0;
	if (!loop_registered)
		cairn_warn("cannot register libvirt's event loop: %s", virGetLastErrorMessage());
}

/* A connection is about to be opened: the loop runs. */
static void event_loop_get(void)
{
	pthread_once(&event_loop_once, event_loop_register);
	pthread_mutex_lock(&loop_mu);
	if (loop_users++ == 0 && loop_registered) {
		atomic_store(&loop_quit, false);
		loop_running = cairn_thread_start(&loop_thread, false, event_loop, NULL) == 0;
		if (!loop_running)
			cairn_warn("cannot start libvirt's event loop: remote connections may hang");
	}
	pthread_mutex_unlock(&loop_mu);
}

static void wake(int timer, void *opaque)
{
	(void)timer;
	(void)opaque;
}

/* A connection was closed: the last one stops the loop, after a round
 * that frees what the connections left to it. */
static void event_loop_put(void)
{
	pthread_mutex_lock(&loop_mu);
	if (--loop_users == 0 && loop_running) {
		int timer;

		atomic_store(&loop_quit, true);
		timer = virEventAddTimeout(0, wake, NULL, NULL);
		if (timer < 0) {
			/* cannot wake it: leave it to the exit */
			cairn_debug("cannot stop libvirt's event loop: %s", virGetLastErrorMessage());
			pthread_detach(loop_thread);
		} else {
			pthread_join(loop_thread, NULL);
			virEventRemoveTimeout(timer);
		}
		loop_running = false;
	}
	pthread_mutex_unlock(&loop_mu);
}

static int lv_open(const struct cairn_provider_config *cfg, void **priv, struct cairn_error *err)
{
	const char *uri = cairn_json_str(cfg->config, "uri");
	const char *prefix = cairn_json_str(cfg->config, "prefix");
	const char *pool = cairn_json_str(cfg->config, "pool");
	const char *dt = cairn_json_str(cfg->config, "domain_type");
	struct lv *l = xcalloc(1, sizeof(*l));

	virSetErrorFunc(NULL, quiet);
	event_loop_get();
	pthread_mutex_init(&l->mu, NULL);
	l->uri = xstrdup(uri ? uri : "qemu:///system");
	l->stack = xstrdup(cfg->stack);
	l->prefix = prefix ? xstrdup(prefix) : xasprintf("%s-", cfg->stack);
	l->pool = xstrdup(pool ? pool : "default");
	{
		const json_t *t = json_object_get(cfg->config, "create_timeout");

		l->create_timeout_ms = json_is_integer(t) && json_integer_value(t) > 0 ?
				       (int64_t)json_integer_value(t) : 300000;
	}
	l->ssh_key = cfg->ssh_public_key ? xstrdup(cfg->ssh_public_key) : NULL;
	l->test_driver = !strncmp(l->uri, "test:", 5);
	l->conn = virConnectOpenAuth(l->uri, virConnectAuthPtrDefault, 0);
	if (!l->conn) {
		lv_error(err, "cannot connect to libvirt");
		cairn_error_context(err, "with URI '%s'", l->uri);
		lv_close(l);
		return -1;
	}
	if (ensure_pool(l, err)) {
		lv_close(l);
		return -1;
	}
	l->domain_type = dt && strcmp(dt, "auto") ? xstrdup(dt) : probe_domain_type(l);
	l->kvm_probed = !(dt && strcmp(dt, "auto")) && !strcmp(l->domain_type, "kvm");
	*priv = l;
	return 0;
}

/* ---- names -------------------------------------------------------------------------- */

static const char *res_name(const struct cairn_provider_req *req)
{
	const char *n = req->desired ? cairn_json_str(req->desired, "name") : NULL;
	const char *dot = strchr(req->address, '.');

	return n ? n : dot ? dot + 1 : req->address;
}

/* the libvirt name of the object: as last observed (key), else PREFIX + NAME */
static char *libvirt_name(struct lv *l, const struct cairn_provider_req *req, const char *key)
{
	const char *known = req->observed ? cairn_json_str(req->observed, key) : NULL;

	return known ? xstrdup(known) : xasprintf("%s%s", l->prefix, res_name(req));
}

/* ---- networks ------------------------------------------------------------------------- */

static json_t *network_observed(virNetworkPtr n)
{
	char *bridge = virNetworkGetBridgeName(n);
	json_t *o = json_pack("{s:s, s:s?, s:b}", "name", virNetworkGetName(n), "bridge", bridge,
			      "active", virNetworkIsActive(n) == 1);

	free(bridge);
	return o;
}

/* the network of name carrying cairn_id, or NULL */
static virNetworkPtr find_network(struct lv *l, const char *name, const char *cairn_id)
{
	virNetworkPtr n = virNetworkLookupByName(l->conn, name);
	struct lv_found f;
	char *xml;
	bool ours;

	if (!n)
		return NULL;
	xml = virNetworkGetXMLDesc(n, 0);
	ours = !lv_network_stamp(xml, &f) && !strcmp(f.cairn_id, cairn_id);
	if (ours)
		lv_found_release(&f);
	free(xml);
	if (!ours) {
		virNetworkFree(n);
		return NULL;
	}
	return n;
}

/* refuse a range that overlaps one of the host's libvirt networks */
static int check_collision(struct lv *l, const char *name, const struct cairn_cidr *want,
			   struct cairn_error *err)
{
	virNetworkPtr *nets = NULL;
	int n = virConnectListAllNetworks(l->conn, &nets, 0), ret = 0;

	if (n < 0)
		return lv_error(err, "cannot list libvirt networks");
	for (int i = 0; i < n; i++) {
		char *xml = virNetworkGetXMLDesc(nets[i], 0);
		uint32_t net;
		unsigned prefix;

		if (!ret && strcmp(virNetworkGetName(nets[i]), name) &&
		    !lv_network_range(xml, &net, &prefix)) {
			struct cairn_cidr have = { .family = AF_INET, .prefix = (int)prefix };
			uint32_t be = htonl(net);

			memcpy(have.addr, &be, 4);
			if (cairn_cidr_overlap(want, &have)) {
				char buf[INET_ADDRSTRLEN];

				inet_ntop(AF_INET, &be, buf, sizeof(buf));
				ret = cairn_error_set(err, CAIRN_E_PERMANENT,
						      "the range overlaps libvirt network '%s' (%s/%u)",
						      virNetworkGetName(nets[i]), buf, prefix);
			}
		}
		free(xml);
		virNetworkFree(nets[i]);
	}
	free(nets);
	return ret;
}

static int network_create(struct lv *l, const struct cairn_provider_req *req, json_t **observed,
			  struct cairn_error *err)
{
	const json_t *d = req->desired;
	const char *cidr = cairn_json_str(d, "cidr");
	const json_t *dhcp = json_object_get(d, "dhcp");
	char *name = xasprintf("%s%s", l->prefix, res_name(req));
	char host[INET_ADDRSTRLEN], first[INET_ADDRSTRLEN], last[INET_ADDRSTRLEN];
	struct cairn_cidr c;
	struct lv_network_spec s = { .name = name, .stamp = { req->stack, req->address, req->cairn_id },
				     .mode = cairn_json_str(d, "mode"), .bridge = cairn_json_str(d, "bridge"),
				     .domain = cairn_json_str(d, "domain") };
	virNetworkPtr n;
	char *xml;
	int ret = -1;

	pthread_mutex_lock(&l->mu);
	if ((n = find_network(l, name, req->cairn_id)))
		goto started;           /* made already: idempotent */
	if ((n = virNetworkLookupByName(l->conn, name))) {
		virNetworkFree(n);
		cairn_error_set(err, CAIRN_E_PERMANENT, "libvirt network '%s' exists and is not this resource's", name);
		goto out;
	}
	if (!cidr || cairn_parse_cidr(cidr, &c, err) || c.family != AF_INET || c.prefix > 30) {
		cairn_error_set(err, CAIRN_E_PERMANENT, "network needs an IPv4 'cidr' of at most /30");
		goto out;
	}
	if (check_collision(l, name, &c, err))
		goto out;
	{
		uint32_t base = ntohl(*(uint32_t *)c.addr), size = 1u << (32 - c.prefix);
		struct in_addr a;

		a.s_addr = htonl(base + 1);
		inet_ntop(AF_INET, &a, host, sizeof(host));
		a.s_addr = htonl(base + 2);
		inet_ntop(AF_INET, &a, first, sizeof(first));
		a.s_addr = htonl(base + size - 2);
		inet_ntop(AF_INET, &a, last, sizeof(last));
	}
	s.address = host;
	s.prefix = (unsigned)c.prefix;
	if (!dhcp || json_is_true(dhcp)) {
		s.dhcp_start = first;
		s.dhcp_end = last;
	}
	xml = lv_network_xml(&s);
	n = virNetworkDefineXML(l->conn, xml);
	free(xml);
	if (!n) {
		lv_error(err, "cannot define the network");
		goto out;
	}
started:
	if (virNetworkIsActive(n) != 1 && virNetworkCreate(n) < 0) {
		lv_error(err, "cannot start the network");
		virNetworkUndefine(n);
		virNetworkFree(n);
		goto out;
	}
	virNetworkSetAutostart(n, 1);
	*observed = network_observed(n);
	virNetworkFree(n);
	ret = 0;
out:
	pthread_mutex_unlock(&l->mu);
	free(name);
	return ret;
}

/* ---- volumes --------------------------------------------------------------------------- */

/* PREFIX + NAME + "." + CAIRN_ID + "." + FORMAT */
static char *volume_name(struct lv *l, const char *name, const char *cairn_id, const char *format)
{
	return xasprintf("%s%s.%s.%s", l->prefix, name, cairn_id, format ? format : "qcow2");
}

/* the pool's volume whose name holds cairn_id, or NULL */
static virStorageVolPtr find_volume(struct lv *l, const char *cairn_id)
{
	virStoragePoolPtr p = virStoragePoolLookupByName(l->conn, l->pool);
	virStorageVolPtr *vols = NULL, found = NULL;
	int n;

	if (!p)
		return NULL;
	virStoragePoolRefresh(p, 0);
	n = virStoragePoolListAllVolumes(p, &vols, 0);
	for (int i = 0; i < n; i++) {
		const char *name = virStorageVolGetName(vols[i]);
		char *mid = xasprintf(".%s.", cairn_id);

		if (!found && !strncmp(name, l->prefix, strlen(l->prefix)) && strstr(name, mid) &&
		    (strstr(name, ".qcow2") || strstr(name, ".raw")))
			found = vols[i];
		else
			virStorageVolFree(vols[i]);
		free(mid);
	}
	free(vols);
	virStoragePoolFree(p);
	return found;
}

static json_t *volume_observed(virStorageVolPtr v)
{
	virStorageVolInfo info;
	char *path = virStorageVolGetPath(v);
	json_t *o = json_pack("{s:s, s:s?}", "name", virStorageVolGetName(v), "path", path);

	if (!virStorageVolGetInfo(v, &info))
		json_object_set_new(o, "capacity", json_integer((json_int_t)info.capacity));
	free(path);
	return o;
}

static int volume_create(struct lv *l, const struct cairn_provider_req *req, json_t **observed,
			 struct cairn_error *err)
{
	const char *format = cairn_json_str(req->desired, "format");
	const json_t *size = json_object_get(req->desired, "size");
	virStorageVolPtr v = find_volume(l, req->cairn_id);
	virStoragePoolPtr p;
	struct lv_volume_spec s = { .format = format ? format : "qcow2" };
	char *xml;

	if (v)
		goto done;              /* made already: idempotent */
	if (!json_is_integer(size) || json_integer_value(size) <= 0)
		return cairn_error_set(err, CAIRN_E_PERMANENT, "a volume needs a 'size'");
	s.capacity = (uint64_t)json_integer_value(size);
	s.name = volume_name(l, res_name(req), req->cairn_id, s.format);
	p = virStoragePoolLookupByName(l->conn, l->pool);
	if (!p) {
		free((char *)s.name);
		return lv_error(err, "cannot find the storage pool");
	}
	xml = lv_volume_xml(&s);
	v = virStorageVolCreateXML(p, xml, 0);
	free(xml);
	free((char *)s.name);
	virStoragePoolFree(p);
	if (!v)
		return lv_error(err, "cannot create the volume");
done:
	*observed = volume_observed(v);
	virStorageVolFree(v);
	return 0;
}

/* ---- nodes ------------------------------------------------------------------------------ */

/*
 * A node is a domain named PREFIX + NAME with the stamp in its <metadata>,
 * and its files in the pool: PREFIX + NAME + "." + CAIRN_ID + "." + ROLE
 * with ROLE one of disk (the root disk: a copy-on-write layer over a disk
 * image, or blank for a kernel boot), seed (the NoCloud ISO), kernel and
 * initrd (copies of a kernel image, uploaded so that a remote host or
 * qemu's own user can read them).  The files carry the cairn id, so that
 * files a crash left without their domain are found and removed.
 */

static const char *const node_roles[] = { "disk", "seed", "kernel", "initrd", NULL };
/* root disk, up to 8 volumes, the seed */
static const char *const vd_targets[] = { "vda", "vdb", "vdc", "vdd", "vde", "vdf", "vdg", "vdh",
					  "vdi", "vdj" };

static char *node_file(struct lv *l, const char *name, const char *cairn_id, const char *role)
{
	return xasprintf("%s%s.%s.%s", l->prefix, name, cairn_id, role);
}

/* the stamp of a domain, or -1 when it has none */
static int domain_stamp(virDomainPtr d, struct lv_found *f)
{
	char *xml = virDomainGetMetadata(d, VIR_DOMAIN_METADATA_ELEMENT, LV_META_NS, 0);
	int ret = xml ? lv_stamp_parse(xml, f) : -1;

	free(xml);
	return ret;
}

/* the domain carrying cairn_id (looked up by its name first), or NULL */
static virDomainPtr find_domain(struct lv *l, const char *name, const char *cairn_id)
{
	virDomainPtr d = name ? virDomainLookupByName(l->conn, name) : NULL;
	virDomainPtr *all = NULL, found = NULL;
	struct lv_found f;
	int n;

	if (d) {
		bool ours = !domain_stamp(d, &f) && !strcmp(f.cairn_id, cairn_id);

		if (ours) {
			lv_found_release(&f);
			return d;
		}
		virDomainFree(d);
	}
	/* renamed, or the name is not known (a read with no desired) */
	n = virConnectListAllDomains(l->conn, &all, 0);
	for (int i = 0; i < n; i++) {
		if (!found && !domain_stamp(all[i], &f)) {
			if (!strcmp(f.cairn_id, cairn_id))
				found = all[i];
			lv_found_release(&f);
		}
		if (found != all[i])
			virDomainFree(all[i]);
	}
	free(all);
	return found;
}

/* Remove the pool's files of a node: every volume whose name holds
 * ".CAIRN_ID." and ends in a node role. */
static int delete_node_files(struct lv *l, const char *cairn_id, struct cairn_error *err)
{
	virStoragePoolPtr p = virStoragePoolLookupByName(l->conn, l->pool);
	virStorageVolPtr *vols = NULL;
	char *mid = xasprintf(".%s.", cairn_id);
	int n, ret = 0;

	if (!p) {
		free(mid);
		return lv_error(err, "cannot find the storage pool");
	}
	virStoragePoolRefresh(p, 0);
	n = virStoragePoolListAllVolumes(p, &vols, 0);
	for (int i = 0; i < n; i++) {
		const char *vn = virStorageVolGetName(vols[i]);
		const char *at = strstr(vn, mid);

		if (at && !strncmp(vn, l->prefix, strlen(l->prefix)))
			for (size_t r = 0; node_roles[r]; r++)
				if (!strcmp(at + strlen(mid), node_roles[r]) &&
				    virStorageVolDelete(vols[i], 0) < 0 && !lv_no_object() && !ret)
					ret = lv_error(err, "cannot delete a file of the node");
		virStorageVolFree(vols[i]);
	}
	free(vols);
	free(mid);
	virStoragePoolFree(p);
	return ret;
}

static const char *domain_state_name(int state)
{
	switch (state) {
	case VIR_DOMAIN_RUNNING: return "running";
	case VIR_DOMAIN_BLOCKED: return "blocked";
	case VIR_DOMAIN_PAUSED: return "paused";
	case VIR_DOMAIN_SHUTDOWN: return "shutting-down";
	case VIR_DOMAIN_SHUTOFF: return "shut-off";
	case VIR_DOMAIN_CRASHED: return "crashed";
	case VIR_DOMAIN_PMSUSPENDED: return "suspended";
	default: return "unknown";
	}
}

/* the IPv4 addresses of a domain's NICs from DHCP leases (or the guest
 * agent): an array in NIC order, one string or null per NIC */
static json_t *domain_addresses(virDomainPtr d, char (*macs)[18], size_t nmacs)
{
	virDomainInterfacePtr *ifs = NULL;
	json_t *out = json_array();
	int n = virDomainInterfaceAddresses(d, &ifs, VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_LEASE, 0);

	if (n <= 0) {
		virResetLastError();
		n = virDomainInterfaceAddresses(d, &ifs, VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_AGENT, 0);
		if (n < 0) {
			virResetLastError();
			n = 0;
		}
	}
	for (size_t m = 0; m < nmacs; m++) {
		const char *ip = NULL;

		for (int i = 0; i < n && !ip; i++)
			if (ifs[i]->hwaddr && !strcasecmp(ifs[i]->hwaddr, macs[m]))
				for (unsigned a = 0; a < ifs[i]->naddrs && !ip; a++)
					if (ifs[i]->addrs[a].type == VIR_IP_ADDR_TYPE_IPV4)
						ip = ifs[i]->addrs[a].addr;
		json_array_append_new(out, ip ? json_string(ip) : json_null());
	}
	for (int i = 0; i < n; i++)
		virDomainInterfaceFree(ifs[i]);
	free(ifs);
	return out;
}

#define LV_MAX_NICS 16

static json_t *node_observed(struct lv *l, virDomainPtr d)
{
	char *xml = virDomainGetXMLDesc(d, 0);
	char macs[LV_MAX_NICS][18], nets[LV_MAX_NICS][256];
	size_t nnics = xml ? lv_domain_nics(xml, macs, nets, LV_MAX_NICS) : 0;
	char uuid[VIR_UUID_STRING_BUFLEN] = "";
	int state = VIR_DOMAIN_NOSTATE, reason;
	json_t *ips = domain_addresses(d, macs, nnics), *nics = json_array(), *o;
	const char *ip = NULL;

	virDomainGetUUIDString(d, uuid);
	if (virDomainGetState(d, &state, &reason, 0) < 0)
		virResetLastError();
	for (size_t i = 0; i < nnics; i++) {
		const json_t *a = json_array_get(ips, i);
		const char *net = nets[i];

		if (!strncmp(net, l->prefix, strlen(l->prefix)))
			net += strlen(l->prefix);
		if (!ip && json_is_string(a))
			ip = json_string_value(a);
		json_array_append_new(nics, json_pack("{s:s, s:s, s:O}", "mac", macs[i], "network", net,
						      "ip", a ? a : json_null()));
	}
	o = json_pack("{s:s, s:s, s:s, s:s, s:o}", "domain", virDomainGetName(d), "uuid", uuid,
		      "state", domain_state_name(state), "domain_type", l->domain_type, "nics", nics);
	if (ip)
		json_object_set_new(o, "ip", json_string(ip));
	json_decref(ips);
	free(xml);
	return o;
}

/* ---- node files: create, upload ---- */

struct upload {
	int fd;
};

static int upload_source(virStreamPtr st, char *data, size_t nbytes, void *opaque)
{
	struct upload *u = opaque;
	ssize_t n;

	(void)st;
	do
		n = read(u->fd, data, nbytes);
	while (n < 0 && errno == EINTR);
	return (int)n;
}

/* A raw volume of the pool holding a copy of the local file path. */
static virStorageVolPtr upload_file(struct lv *l, virStoragePoolPtr pool, const char *name,
				    const char *path, struct cairn_error *err)
{
	struct lv_volume_spec s = { .name = name, .format = "raw" };
	struct upload u = { .fd = open(path, O_RDONLY | O_CLOEXEC) };
	virStorageVolPtr v = NULL;
	virStreamPtr st = NULL;
	struct stat sb;
	char *xml;

	if (u.fd < 0 || fstat(u.fd, &sb) < 0) {
		cairn_error_set(err, CAIRN_E_PERMANENT, "cannot read '%s': %s", path, strerror(errno));
		goto out;
	}
	s.capacity = (uint64_t)sb.st_size;
	xml = lv_volume_xml(&s);
	v = virStorageVolCreateXML(pool, xml, 0);
	free(xml);
	if (!v) {
		lv_error(err, "cannot create a volume to upload into");
		goto out;
	}
	if (l->test_driver)
		goto out;               /* the test driver keeps no content */
	st = virStreamNew(l->conn, 0);
	if (!st || virStorageVolUpload(v, st, 0, (unsigned long long)sb.st_size, 0) < 0 ||
	    virStreamSendAll(st, upload_source, &u) < 0 || virStreamFinish(st) < 0) {
		lv_error(err, "cannot upload");
		cairn_error_context(err, "while uploading '%s' into volume '%s'", path, name);
		if (st)
			virStreamAbort(st);
		virStorageVolDelete(v, 0);
		virStorageVolFree(v);
		v = NULL;
	}
out:
	if (st)
		virStreamFree(st);
	if (u.fd >= 0)
		close(u.fd);
	return v;
}

/* the format of a disk image, from its first bytes */
static const char *image_format(const char *path)
{
	unsigned char magic[4] = { 0 };
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, magic, 4) : -1;

	if (fd >= 0)
		close(fd);
	return n == 4 && !memcmp(magic, "QFI\xfb", 4) ? "qcow2" : "raw";
}

/* the libvirt name of volume resource vname of this stack, or NULL */
static char *attached_volume(struct lv *l, const char *vname)
{
	virStoragePoolPtr p = virStoragePoolLookupByName(l->conn, l->pool);
	virStorageVolPtr *vols = NULL;
	char *want = xasprintf("%s%s.", l->prefix, vname), *found = NULL;
	int n = p ? virStoragePoolListAllVolumes(p, &vols, 0) : 0;

	for (int i = 0; i < n; i++) {
		const char *name = virStorageVolGetName(vols[i]);
		const char *rest = name + strlen(want);

		/* PREFIX NAME . CAIRN_ID(36) . FORMAT */
		if (!found && !strncmp(name, want, strlen(want)) && strlen(rest) > 37 && rest[36] == '.' &&
		    (!strcmp(rest + 37, "qcow2") || !strcmp(rest + 37, "raw")))
			found = xstrdup(name);
		virStorageVolFree(vols[i]);
	}
	free(vols);
	free(want);
	if (p)
		virStoragePoolFree(p);
	return found;
}

struct node_build {
	struct cairn_image img;
	char *name;                 /* the domain's */
	char *disk, *seed, *kernel, *initrd;    /* volume names made */
	char *kernel_path, *initrd_path;
	struct lv_disk disks[10];
	size_t ndisks;
	struct lv_nic nics[LV_MAX_NICS];
	char *netnames[LV_MAX_NICS];
	size_t nnics;
	char *volnames[8];
	size_t nvols;
	size_t seeded;              /* configure steps in the seed */
};

static void node_build_release(struct node_build *b)
{
	cairn_image_release(&b->img);
	free(b->name);
	free(b->disk);
	free(b->seed);
	free(b->kernel);
	free(b->initrd);
	free(b->kernel_path);
	free(b->initrd_path);
	for (size_t i = 0; i < b->nnics; i++)
		free(b->netnames[i]);
	for (size_t i = 0; i < b->nvols; i++)
		free(b->volnames[i]);
}

/* What must hold before anything is made: memory, image files, networks,
 * volumes.  Fills b. */
static int node_check(struct lv *l, const struct cairn_provider_req *req, struct node_build *b,
		      struct cairn_error *err)
{
	const json_t *d = req->desired, *plan = json_object_get(d, "plan"), *v;
	json_int_t memory = json_integer_value(json_object_get(plan, "memory"));
	virNodeInfo info;
	size_t i;

	if (memory <= 0)
		return cairn_error_set(err, CAIRN_E_PERMANENT, "the node's plan gives no memory");
	if (!virNodeGetInfo(l->conn, &info) && (uint64_t)memory / 1024 > info.memory) {
		char want[32], have[32];

		cairn_format_size((uint64_t)memory, want, sizeof(want));
		snprintf(have, sizeof(have), "%.1fGiB", info.memory / 1048576.0);
		cairn_error_set(err, CAIRN_E_PERMANENT, "plan '%s' asks for %s of memory; the libvirt host has %s",
				cairn_json_str(plan, "name") ? cairn_json_str(plan, "name") : "?", want, have);
		cairn_error_hint(err, "choose a smaller plan");
		return -1;
	}
	if (cairn_image_resolve(json_object_get(d, "image"), &b->img, err))
		return -1;
	json_array_foreach(json_object_get(d, "networks"), i, v) {
		virNetworkPtr n;

		if (b->nnics == LV_MAX_NICS)
			return cairn_error_set(err, CAIRN_E_PERMANENT, "a node joins at most %d networks", LV_MAX_NICS);
		b->netnames[b->nnics] = xasprintf("%s%s", l->prefix, json_string_value(v));
		b->nics[b->nnics].network = b->netnames[b->nnics];
		n = virNetworkLookupByName(l->conn, b->netnames[b->nnics++]);
		if (!n)
			return cairn_error_set(err, CAIRN_E_PERMANENT, "network '%s' (libvirt network '%s') does not exist",
					       json_string_value(v), b->netnames[b->nnics - 1]);
		virNetworkFree(n);
	}
	json_array_foreach(json_object_get(d, "volumes"), i, v) {
		if (b->nvols == 8)
			return cairn_error_set(err, CAIRN_E_PERMANENT, "a node has at most 8 volumes");
		b->volnames[b->nvols] = attached_volume(l, json_string_value(v));
		if (!b->volnames[b->nvols])
			return cairn_error_set(err, CAIRN_E_PERMANENT, "volume '%s' does not exist", json_string_value(v));
		b->nvols++;
	}
	return 0;
}

/*
 * The configure steps the seed of req carries: the engine hands the driver
 * only those a seed may carry, resolved, and the driver still takes no more
 * than cairn_ci_seed_prefix() allows, so that a step handed by mistake
 * (a template, a file after a run) is left for the configurer, not run out
 * of order.  st->nsteps may be fewer than handed (a file too large for a
 * seed): the create reports it as observed "seeded_steps".
 */
static int seed_steps(const struct cairn_provider_req *req, struct cairn_ci_steps *st,
		      struct cairn_error *err)
{
	const json_t *steps = json_object_get(req->desired, "configure");

	return cairn_ci_steps_read(st, steps, cairn_ci_seed_prefix(steps), err);
}

/* the root disk, seed, kernel and initrd in the pool */
static int node_files(struct lv *l, const struct cairn_provider_req *req, struct node_build *b,
		      struct cairn_error *err)
{
	const json_t *plan = json_object_get(req->desired, "plan");
	const char *name = res_name(req), *host = cairn_json_str(req->desired, "hostname");
	virStoragePoolPtr pool = virStoragePoolLookupByName(l->conn, l->pool);
	struct lv_volume_spec vs = { .format = "qcow2" };
	struct cairn_ci_steps st = CAIRN_CI_STEPS_INIT;
	virStorageVolPtr v;
	char seed_path[] = "/tmp/cairn-seed-iso.XXXXXX";
	bool seed_file = false;
	int fd, ret = -1;
	char *xml;

	if (!pool)
		return lv_error(err, "cannot find the storage pool");
	/*
	 * The NoCloud seed first, so that what is wrong in it (a source that
	 * cannot be read, user_data that cannot be merged) stops the create
	 * before anything is made.
	 */
	fd = mkstemp(seed_path);
	if (fd < 0) {
		cairn_error_set(err, CAIRN_E_IO, "cannot make a file for the seed: %s", strerror(errno));
		goto out;
	}
	close(fd);
	seed_file = true;
	if (seed_steps(req, &st, err))
		goto out;
	{
		const char *keys[1] = { l->ssh_key };
		struct cairn_ci_seed seed = {
			.instance_id = req->cairn_id, .hostname = host ? host : name,
			.keys = keys, .nkeys = l->ssh_key ? 1 : 0,
			.files = st.files, .nfiles = st.nfiles, .runcmd = st.runcmd, .nrun = st.nrun,
			.user_data = cairn_json_str(req->desired, "user_data"),
		};

		if (cairn_ci_seed_iso(&seed, seed_path, err))
			goto out;
		b->seeded = st.nsteps;
	}
	/* root disk */
	b->disk = node_file(l, name, req->cairn_id, "disk");
	vs.name = b->disk;
	vs.capacity = (uint64_t)json_integer_value(json_object_get(plan, "disk"));
	if (!vs.capacity)
		vs.capacity = 1u << 30;
	if (b->img.disk && !l->test_driver) {
		vs.backing = b->img.disk;
		vs.backing_format = image_format(b->img.disk);
	}
	xml = lv_volume_xml(&vs);
	v = virStorageVolCreateXML(pool, xml, 0);
	free(xml);
	if (!v) {
		lv_error(err, "cannot create the node's disk");
		goto out;
	}
	virStorageVolFree(v);
	b->disks[b->ndisks++] = (struct lv_disk){ .pool = l->pool, .volume = b->disk, .format = "qcow2",
						  .target = "vda" };
	/* volumes */
	for (size_t i = 0; i < b->nvols; i++) {
		const char *fmt = strrchr(b->volnames[i], '.') + 1;

		b->disks[b->ndisks++] = (struct lv_disk){ .pool = l->pool, .volume = b->volnames[i],
							  .format = fmt, .target = vd_targets[1 + i] };
	}
	/* the seed, uploaded */
	b->seed = node_file(l, name, req->cairn_id, "seed");
	v = upload_file(l, pool, b->seed, seed_path, err);
	if (!v)
		goto out;
	virStorageVolFree(v);
	b->disks[b->ndisks++] = (struct lv_disk){ .pool = l->pool, .volume = b->seed, .format = "raw",
						  .target = vd_targets[1 + b->nvols], .readonly = true };
	/* kernel and initrd */
	if (b->img.kernel) {
		b->kernel = node_file(l, name, req->cairn_id, "kernel");
		v = upload_file(l, pool, b->kernel, b->img.kernel, err);
		if (!v)
			goto out;
		b->kernel_path = virStorageVolGetPath(v);
		virStorageVolFree(v);
	}
	if (b->img.initrd) {
		b->initrd = node_file(l, name, req->cairn_id, "initrd");
		v = upload_file(l, pool, b->initrd, b->img.initrd, err);
		if (!v)
			goto out;
		b->initrd_path = virStorageVolGetPath(v);
		virStorageVolFree(v);
	}
	ret = 0;
out:
	if (seed_file)
		unlink(seed_path);
	cairn_ci_steps_release(&st);
	virStoragePoolFree(pool);
	return ret;
}

static bool aborted(struct lv *l)
{
	return atomic_load(&l->abort);
}

/* Wait for the first NIC's DHCP lease; *observed describes the domain. */
static int wait_address(struct lv *l, virDomainPtr d, int64_t timeout_ms, json_t **observed,
			struct cairn_error *err)
{
	int64_t until = cairn_now_ms() + timeout_ms;

	for (;;) {
		json_t *o = node_observed(l, d);
		int state = VIR_DOMAIN_NOSTATE, reason;

		if (l->test_driver || json_object_get(o, "ip") ||
		    !json_array_size(json_object_get(o, "nics"))) {
			*observed = o;
			return 0;
		}
		json_decref(o);
		if (virDomainGetState(d, &state, &reason, 0) == 0 && state != VIR_DOMAIN_RUNNING &&
		    state != VIR_DOMAIN_BLOCKED)
			return cairn_error_set(err, CAIRN_E_PERMANENT, "domain '%s' stopped while booting (%s)",
					       virDomainGetName(d), domain_state_name(state));
		if (aborted(l))
			return cairn_error_set(err, CAIRN_E_RETRYABLE, "interrupted");
		if (cairn_now_ms() >= until) {
			char t[32];

			cairn_format_duration(timeout_ms, t, sizeof(t));
			return cairn_error_set(err, CAIRN_E_RETRYABLE,
					       "domain '%s' got no DHCP lease within %s", virDomainGetName(d), t);
		}
		usleep(200 * 1000);
	}
}

/* undefine with what a domain may have beside it (drivers that know no
 * such things refuse the flags: then plainly) */
static int undefine(virDomainPtr d)
{
	virErrorPtr e;

	if (!virDomainUndefineFlags(d, VIR_DOMAIN_UNDEFINE_MANAGED_SAVE |
				       VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA | VIR_DOMAIN_UNDEFINE_NVRAM))
		return 0;
	e = virGetLastError();
	if (e && (e->code == VIR_ERR_INVALID_ARG || e->code == VIR_ERR_NO_SUPPORT))
		return virDomainUndefine(d);
	return -1;
}

static int node_create(struct lv *l, const struct cairn_provider_req *req, json_t **observed,
		       struct cairn_error *err)
{
	const json_t *d = req->desired, *plan = json_object_get(d, "plan");
	const char *name = res_name(req);
	struct node_build b = { 0 };
	struct lv_domain_spec s = { 0 };
	virDomainPtr dom;
	char *xml, *title;
	int ret = -1;

	b.name = xasprintf("%s%s", l->prefix, name);
	if ((dom = find_domain(l, b.name, req->cairn_id))) {
		/* made already (idempotent): its seed held what the same steps give */
		struct cairn_ci_steps st = CAIRN_CI_STEPS_INIT;
		struct cairn_error serr = CAIRN_ERROR_INIT;

		if (seed_steps(req, &st, &serr))
			cairn_warn("%s: cannot tell which configure steps its seed holds: %s", req->address,
				   serr.message);
		b.seeded = st.nsteps;
		cairn_ci_steps_release(&st);
		cairn_error_release(&serr);
		goto started;
	}
	if ((dom = virDomainLookupByName(l->conn, b.name))) {
		virDomainFree(dom);
		cairn_error_set(err, CAIRN_E_PERMANENT, "libvirt domain '%s' exists and is not this node's", b.name);
		goto out;
	}
	virResetLastError();
	if (node_check(l, req, &b, err))
		goto out;
	/* files a crash left for this cairn id go first */
	if (delete_node_files(l, req->cairn_id, err) || node_files(l, req, &b, err))
		goto undo;
	title = xasprintf("%s of stack %s", req->address, req->stack);
	s = (struct lv_domain_spec){
		.type = l->domain_type, .name = b.name, .title = title,
		.stamp = { req->stack, req->address, req->cairn_id },
		.vcpus = (unsigned)json_integer_value(json_object_get(plan, "cpus")),
		.memory_kib = (uint64_t)json_integer_value(json_object_get(plan, "memory")) / 1024,
		.machine = cairn_json_str(d, "machine"), .firmware = cairn_json_str(d, "firmware"),
		.cpu_mode = l->test_driver ? NULL : cairn_json_str(d, "cpu_mode"),
		.console = !json_is_false(json_object_get(d, "console")),
		.kernel = b.kernel_path, .initrd = b.initrd_path,
		.cmdline = b.kernel_path ? b.img.cmdline : NULL,
		.disks = b.disks, .ndisks = b.ndisks, .nics = b.nics, .nnics = b.nnics,
	};
	if (!s.vcpus)
		s.vcpus = 1;
	xml = lv_domain_xml(&s);
	pthread_mutex_lock(&l->mu);
	dom = virDomainDefineXML(l->conn, xml);
	pthread_mutex_unlock(&l->mu);
	free(xml);
	if (!dom) {
		free(title);
		lv_error(err, "cannot define the domain");
		goto undo;
	}
	/*
	 * /dev/kvm can run the probe's guest and still fail a real one (seen:
	 * qemu aborting on an MSR the host's KVM refuses).  When KVM came from
	 * the probe and the domain does not start, this host is TCG from now on.
	 */
	if (l->kvm_probed && virDomainCreate(dom) < 0) {
		cairn_warn("a KVM domain does not start on %s (%s): using qemu (TCG) from now on", l->uri,
			   virGetLastErrorMessage());
		undefine(dom);
		virDomainFree(dom);
		pthread_mutex_lock(&l->mu);
		if (l->kvm_probed) {
			l->kvm_probed = false;
			l->domain_type_was = l->domain_type;
			l->domain_type = xstrdup("qemu");
		}
		pthread_mutex_unlock(&l->mu);
		s.type = "qemu";
		xml = lv_domain_xml(&s);
		dom = virDomainDefineXML(l->conn, xml);
		free(xml);
		if (!dom) {
			free(title);
			lv_error(err, "cannot define the domain");
			goto undo;
		}
	}
	free(title);
	if (json_is_true(json_object_get(d, "autostart")))
		virDomainSetAutostart(dom, 1);
started:
	if (virDomainIsActive(dom) != 1 && virDomainCreate(dom) < 0) {
		lv_error(err, "cannot start the domain");
		undefine(dom);
		virDomainFree(dom);
		goto undo;
	}
	ret = wait_address(l, dom, l->create_timeout_ms, observed, err);
	virDomainFree(dom);
	/* the first configure steps happen at first boot, from the seed: the
	 * configurer starts after them */
	if (!ret && b.seeded)
		json_object_set_new(*observed, "seeded_steps", json_integer((json_int_t)b.seeded));
	goto out;
undo:
	{
		struct cairn_error derr = CAIRN_ERROR_INIT;

		if (delete_node_files(l, req->cairn_id, &derr))
			cairn_warn("cannot remove the files of %s: %s", req->address, derr.message);
		cairn_error_release(&derr);
	}
out:
	node_build_release(&b);
	return ret;
}

static int node_read(struct lv *l, const struct cairn_provider_req *req, json_t **observed,
		     struct cairn_error *err)
{
	char *name = libvirt_name(l, req, "domain");
	virDomainPtr d = find_domain(l, name, req->cairn_id);

	free(name);
	/* files without their domain stay: a create may be under way, and
	 * delete() removes them (recovery calls it after an unfinished create) */
	if (!d)
		return cairn_error_set(err, CAIRN_E_NOTFOUND, "no libvirt domain carries %s", req->cairn_id);
	*observed = node_observed(l, d);
	virDomainFree(d);
	return 0;
}

static int node_delete(struct lv *l, const struct cairn_provider_req *req, struct cairn_error *err)
{
	char *name = libvirt_name(l, req, "domain");
	virDomainPtr d = find_domain(l, name, req->cairn_id);
	int ret = 0;

	free(name);
	if (d) {
		if (virDomainIsActive(d) == 1 && virDomainDestroy(d) < 0 && !lv_no_object())
			ret = lv_error(err, "cannot stop the domain");
		if (!ret && undefine(d) < 0 && !lv_no_object())
			ret = lv_error(err, "cannot undefine the domain");
		virDomainFree(d);
	}
	if (!ret)
		ret = delete_node_files(l, req->cairn_id, err);
	return ret;
}

/* ---- the driver ------------------------------------------------------------------------ */

static int lv_create(void *priv, const struct cairn_provider_req *req, json_t **observed,
		     struct cairn_error *err)
{
	struct lv *l = priv;

	switch (req->kind) {
	case CAIRN_KIND_NETWORK: return network_create(l, req, observed, err);
	case CAIRN_KIND_VOLUME: return volume_create(l, req, observed, err);
	case CAIRN_KIND_NODE: return node_create(l, req, observed, err);
	default:
		return cairn_error_set(err, CAIRN_E_UNSUPPORTED, "the libvirt driver makes no %ss",
				       cairn_kind_name(req->kind));
	}
}

static int lv_read(void *priv, const struct cairn_provider_req *req, json_t **observed,
		   struct cairn_error *err)
{
	struct lv *l = priv;

	if (req->kind == CAIRN_KIND_NETWORK) {
		char *name = libvirt_name(l, req, "name");
		virNetworkPtr n = find_network(l, name, req->cairn_id);

		free(name);
		if (!n)
			return cairn_error_set(err, CAIRN_E_NOTFOUND, "no libvirt network carries %s", req->cairn_id);
		*observed = network_observed(n);
		virNetworkFree(n);
		return 0;
	}
	if (req->kind == CAIRN_KIND_VOLUME) {
		virStorageVolPtr v = find_volume(l, req->cairn_id);

		if (!v)
			return cairn_error_set(err, CAIRN_E_NOTFOUND, "no libvirt volume carries %s", req->cairn_id);
		*observed = volume_observed(v);
		virStorageVolFree(v);
		return 0;
	}
	if (req->kind == CAIRN_KIND_NODE)
		return node_read(l, req, observed, err);
	return cairn_error_set(err, CAIRN_E_NOTFOUND, "the libvirt driver makes no %ss",
			       cairn_kind_name(req->kind));
}

static int lv_delete(void *priv, const struct cairn_provider_req *req, struct cairn_error *err)
{
	struct lv *l = priv;

	atomic_store(&l->deleted, true);
	if (req->kind == CAIRN_KIND_NETWORK) {
		char *name = libvirt_name(l, req, "name");
		virNetworkPtr n = find_network(l, name, req->cairn_id);
		int ret = 0;

		free(name);
		if (!n)
			return 0;
		if (virNetworkIsActive(n) == 1 && virNetworkDestroy(n) < 0 && !lv_no_object())
			ret = lv_error(err, "cannot stop the network");
		if (!ret && virNetworkUndefine(n) < 0 && !lv_no_object())
			ret = lv_error(err, "cannot undefine the network");
		virNetworkFree(n);
		return ret;
	}
	if (req->kind == CAIRN_KIND_VOLUME) {
		virStorageVolPtr v = find_volume(l, req->cairn_id);
		int ret = 0;

		if (v && virStorageVolDelete(v, 0) < 0 && !lv_no_object())
			ret = lv_error(err, "cannot delete the volume");
		if (v)
			virStorageVolFree(v);
		return ret;
	}
	if (req->kind == CAIRN_KIND_NODE)
		return node_delete(l, req, err);
	return 0;
}

static void list_add(json_t *out, const char *cairn_id, const char *address, const char *kind,
		     json_t *observed)
{
	json_array_append_new(out, json_pack("{s:s, s:s, s:s, s:o}", "cairn_id", cairn_id,
					     "address", address, "kind", kind, "observed", observed));
}

static void list_networks(struct lv *l, const char *stack, json_t *out)
{
	virNetworkPtr *nets = NULL;
	int n = virConnectListAllNetworks(l->conn, &nets, 0);

	for (int i = 0; i < n; i++) {
		char *xml = virNetworkGetXMLDesc(nets[i], 0);
		struct lv_found f;

		if (xml && !lv_network_stamp(xml, &f)) {
			if (!strcmp(f.stack, stack))
				list_add(out, f.cairn_id, f.address, "network", network_observed(nets[i]));
			lv_found_release(&f);
		}
		free(xml);
		virNetworkFree(nets[i]);
	}
	free(nets);
}

/* domains of the stack; *ids receives their cairn ids */
static void list_domains(struct lv *l, const char *stack, json_t *out, json_t *ids)
{
	virDomainPtr *doms = NULL;
	int n = virConnectListAllDomains(l->conn, &doms, 0);
	struct lv_found f;

	for (int i = 0; i < n; i++) {
		if (!domain_stamp(doms[i], &f)) {
			if (!strcmp(f.stack, stack)) {
				list_add(out, f.cairn_id, f.address, "node", node_observed(l, doms[i]));
				json_object_set_new(ids, f.cairn_id, json_true());
			}
			lv_found_release(&f);
		}
		virDomainFree(doms[i]);
	}
	free(doms);
}

/*
 * Volumes of the prefix: volume resources (PREFIX NAME.ID.FORMAT) and the
 * files of nodes whose domain is gone (PREFIX NODE.ID.ROLE), reported as
 * the node, so that deleting that cairn id removes them.
 */
static void list_volumes(struct lv *l, json_t *out, json_t *ids)
{
	virStoragePoolPtr p = virStoragePoolLookupByName(l->conn, l->pool);
	virStorageVolPtr *vols = NULL;
	size_t plen = strlen(l->prefix);
	int n = p ? virStoragePoolListAllVolumes(p, &vols, 0) : 0;

	for (int i = 0; i < n; i++) {
		const char *vn = virStorageVolGetName(vols[i]);
		const char *last = strrchr(vn, '.'), *id;
		char *base;

		if (strncmp(vn, l->prefix, plen) || !last || last - vn < (ptrdiff_t)(plen + 38) ||
		    last[-37] != '.') {
			virStorageVolFree(vols[i]);
			continue;
		}
		id = last - 36;
		base = xstrndup(vn + plen, (size_t)(last - 37 - vn - (ptrdiff_t)plen));
		{
			char cid[37], *address;
			bool role = false;

			memcpy(cid, id, 36);
			cid[36] = '\0';
			for (size_t r = 0; node_roles[r]; r++)
				role |= !strcmp(last + 1, node_roles[r]);
			if (!strcmp(last + 1, "qcow2") || !strcmp(last + 1, "raw")) {
				address = xasprintf("volume.%s", base);
				list_add(out, cid, address, "volume", volume_observed(vols[i]));
				free(address);
			} else if (role && !json_object_get(ids, cid)) {
				address = xasprintf("node.%s", base);
				list_add(out, cid, address, "node", json_pack("{s:s, s:b}", "orphan_file", vn,
									      "partial", 1));
				json_object_set_new(ids, cid, json_true());
				free(address);
			}
		}
		free(base);
		virStorageVolFree(vols[i]);
	}
	free(vols);
	if (p)
		virStoragePoolFree(p);
}

static int lv_list(void *priv, const char *stack, json_t **objects, struct cairn_error *err)
{
	struct lv *l = priv;
	json_t *out = json_array(), *ids = json_object();

	(void)err;
	list_networks(l, stack, out);
	list_domains(l, stack, out, ids);
	/* volumes are known by the prefix, which is this instance's stack's */
	if (!strcmp(stack, l->stack))
		list_volumes(l, out, ids);
	json_decref(ids);
	*objects = out;
	return 0;
}

static void lv_abort(void *priv)
{
	struct lv *l = priv;

	atomic_store(&l->abort, true);
}

static const struct cairn_provider_driver libvirt_driver = {
	.name = "libvirt",
	.open = lv_open,
	.close = lv_close,
	.create = lv_create,
	.read = lv_read,
	.delete = lv_delete,
	.list = lv_list,
	.abort = lv_abort,
};

int cairn_provider_libvirt_register(struct cairn_error *err)
{
	return cairn_provider_driver_register(&libvirt_driver, err);
}
