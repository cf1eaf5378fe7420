/*
 * static.c - the "static" driver: machines that already exist, allocated to
 * nodes from the provider's inventory, as a bare-metal allocator does.
 *
 * Allocation.  A node takes the first free machine of the inventory, in the
 * order written, that carries every label of its `match` (or the one whose
 * name or address its `address` gives; an address outside the inventory is
 * a machine of its own).  Before it is taken, a machine is logged in to over
 * SSH, through the node's bastion when it has one (req->via): one that does
 * not answer, or refuses the key, is skipped with a warning and the next
 * one is tried.  The login also takes the machine's host key, pinned from
 * then on (trust on first use), and its hostname.
 *
 * Where the allocation lives.  In the state: a node's record holds its
 * machine (observed "machine"), and open() rebuilds the table of taken
 * machines from what the state holds of the instance (cfg->known).  Nothing
 * is written on the machine, so a create cut short by a crash has nothing
 * to undo: the next run finds the machine free (read() of an unrecorded
 * cairn id is CAIRN_E_NOTFOUND) and allocates again.  delete() releases the
 * machine.  Two stacks whose inventories list the same machine do not see
 * each other's allocations (docs/internals/static.md).
 *
 * Threads: the engine creates many nodes at once.  The table is under one
 * mutex; a machine being logged in to is marked busy, so two nodes never
 * try one machine at the same time, and the login itself runs unlocked.  A
 * node that finds no free machine but a busy one it could take waits for
 * that login to end.  Which of the matching machines a node gets therefore
 * depends on the order the engine's workers come in.
 * Machines are allocated one by one and never move (an array of pointers).
 *
 * Power (IPMI) is room left for later: a node asking for power on, off or
 * cycle is refused at create, before any machine is taken.
 */
#include "util/common.h"

#include <pthread.h>

#include "providers/provider.h"
#include "ssh/keys.h"
#include "ssh/ssh.h"
#include "util/buf.h"
#include "util/jsonutil.h"

CAIRN_LOG_INIT("providers.static");

struct machine {
	char *name;
	char *address;
	char *user;          /* NULL: the node's ssh.user */
	char *identity;      /* a key file; NULL: the node's ssh.key, else the stack's key */
	int port;            /* 0: the node's ssh.port */
	json_t *labels;      /* an object, never NULL */
	bool adhoc;          /* not in the inventory: a node's own address */
	bool busy;           /* being logged in to */
	char *taken_by;      /* the cairn id of the node holding it, or NULL */
	char *taken_addr;    /* and its address */
	json_t *observed;    /* what that node's create returned */
};

struct st {
	char *name;          /* the provider instance */
	char *stack_key;     /* the stack's private key, or NULL */
	int connect_ms;
	pthread_mutex_t mu;
	pthread_cond_t done;     /* a login finished: a busy machine is busy no more */
	struct machine **m;
	size_t n, alloc;
};

static void machine_free(struct machine *m)
{
	free(m->name);
	free(m->address);
	free(m->user);
	free(m->identity);
	json_decref(m->labels);
	free(m->taken_by);
	free(m->taken_addr);
	json_decref(m->observed);
	free(m);
}

static void release(struct machine *m)
{
	free(m->taken_by);
	free(m->taken_addr);
	m->taken_by = m->taken_addr = NULL;
	json_decref(m->observed);
	m->observed = NULL;
}

static void take(struct machine *m, const char *cairn_id, const char *address, const json_t *observed)
{
	release(m);
	m->taken_by = xstrdup(cairn_id);
	m->taken_addr = xstrdup(address);
	m->observed = json_deep_copy(observed);
}

static struct machine *add_machine(struct st *s, const char *name, const char *address)
{
	struct machine *m = xcalloc(1, sizeof(*m));

	m->name = xstrdup(name);
	m->address = xstrdup(address);
	m->labels = json_object();
	ALLOC_GROW(s->m, s->n + 1, s->alloc);
	s->m[s->n++] = m;
	return m;
}

static struct machine *by_name(struct st *s, const char *name)
{
	for (size_t i = 0; name && i < s->n; i++)
		if (!strcmp(s->m[i]->name, name))
			return s->m[i];
	return NULL;
}

static struct machine *by_cairn_id(struct st *s, const char *cairn_id)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->m[i]->taken_by && !strcmp(s->m[i]->taken_by, cairn_id))
			return s->m[i];
	return NULL;
}

static void st_close(void *priv)
{
	struct st *s = priv;

	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++)
		machine_free(s->m[i]);
	free(s->m);
	free(s->name);
	cairn_ssh_key_text_free(s->stack_key);
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->done);
	free(s);
}

static int st_open(const struct cairn_provider_config *cfg, void **priv, struct cairn_error *err)
{
	const json_t *ms = json_object_get(cfg->config, "machines"), *o;
	const json_t *ct = json_object_get(cfg->config, "connect_timeout");
	struct st *s = xcalloc(1, sizeof(*s));
	size_t i;

	s->name = xstrdup(cfg->name);
	s->stack_key = cfg->ssh_private_key ? xstrdup(cfg->ssh_private_key) : NULL;
	s->connect_ms = json_is_integer(ct) ? (int)json_integer_value(ct) : 10000;
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->done, NULL);
	json_array_foreach(ms, i, o) {
		const char *name = cairn_json_str(o, "name"), *address = cairn_json_str(o, "address");
		const json_t *labels = json_object_get(o, "labels"), *port = json_object_get(o, "port");
		struct machine *m;

		if (!name || !address || by_name(s, name)) {
			st_close(s);
			return cairn_error_set(err, CAIRN_E_INVALID,
					       "machine %zu of provider '%s' has no name or address, or a name already used",
					       i + 1, cfg->name);
		}
		m = add_machine(s, name, address);
		m->user = cairn_json_str(o, "user") ? xstrdup(cairn_json_str(o, "user")) : NULL;
		m->identity = cairn_json_str(o, "identity") ? xstrdup(cairn_json_str(o, "identity")) : NULL;
		m->port = json_is_integer(port) ? (int)json_integer_value(port) : 0;
		if (json_is_object(labels))
			json_object_update(m->labels, (json_t *)labels);
	}
	/* the allocations the state holds */
	json_array_foreach(cfg->known, i, o) {
		const json_t *obs = json_object_get(o, "observed");
		const char *id = cairn_json_str(o, "cairn_id"), *addr = cairn_json_str(o, "address");
		const char *name = cairn_json_str(obs, "machine");
		struct machine *m = by_name(s, name);

		if (!id || !name)
			continue;
		if (!m && json_is_true(json_object_get(obs, "adhoc")) && cairn_json_str(obs, "ip")) {
			m = add_machine(s, name, cairn_json_str(obs, "ip"));
			m->adhoc = true;
		}
		if (!m) {
			cairn_debug("%s holds machine '%s', which provider '%s' no longer lists",
				    addr ? addr : id, name, cfg->name);
			continue;
		}
		if (m->taken_by && strcmp(m->taken_by, id)) {
			cairn_warn("machine '%s' of provider '%s' is recorded for both %s and %s",
				   name, cfg->name, m->taken_addr, addr ? addr : id);
			continue;
		}
		take(m, id, addr ? addr : id, obs);
	}
	*priv = s;
	return 0;
}

/* ---- allocation ---------------------------------------------------------------------- */

static bool labels_match(const struct machine *m, const json_t *match)
{
	const char *k;
	json_t *v;

	json_object_foreach((json_t *)match, k, v) {
		const char *have = cairn_json_str(m->labels, k);

		if (!have || !json_is_string(v) || strcmp(have, json_string_value(v)))
			return false;
	}
	return true;
}

static bool wants(const struct machine *m, const json_t *desired)
{
	const char *address = cairn_json_str(desired, "address");

	if (address)
		return !strcmp(m->address, address) || !strcmp(m->name, address);
	if (m->adhoc)
		return false;
	return labels_match(m, json_object_get(desired, "match"));
}

/* how to log in to a machine for a node: copied out of the table */
struct login {
	char *name, *host, *user, *identity;
	int port;
};

static void login_release(struct login *l)
{
	free(l->name);
	free(l->host);
	free(l->user);
	free(l->identity);
}

static void login_of(const struct machine *m, const json_t *desired, struct login *l)
{
	const json_t *ssh = json_object_get(desired, "ssh");
	const json_t *port = json_object_get(ssh, "port");
	const char *user = m->user ? m->user : cairn_json_str(ssh, "user");
	const char *identity = m->identity ? m->identity : cairn_json_str(ssh, "key");

	l->name = xstrdup(m->name);
	l->host = xstrdup(m->address);
	l->user = xstrdup(user ? user : "root");
	l->identity = identity ? xstrdup(identity) : NULL;
	l->port = m->port ? m->port : json_is_integer(port) ? (int)json_integer_value(port) : 22;
}

/* a key: the file's, else the stack's; *owned is what to free */
static const char *key_for(struct st *s, const char *identity, char **owned, struct cairn_error *err)
{
	*owned = NULL;
	if (identity) {
		if (cairn_ssh_key_file_read(identity, owned, err))
			return NULL;
		return *owned;
	}
	if (!s->stack_key)
		cairn_error_set(err, CAIRN_E_INVALID, "no key to log in with: give the machine an identity");
	return s->stack_key;
}

/* Log in (through req->via), take the host key and the hostname. */
static int probe(struct st *s, const struct cairn_provider_req *req, const struct login *l,
		 json_t **observed, struct cairn_error *err)
{
	const json_t *via = req->via;
	struct cairn_ssh_target target = { l->host, l->port, l->user }, bastion = { 0 };
	struct cairn_ssh_options opts = { .connect_timeout_ms = s->connect_ms };
	struct cairn_buf out = CAIRN_BUF_INIT;
	const char *bastion_pin[2] = { NULL, NULL };
	char *key = NULL, *bkey = NULL;
	struct cairn_ssh_session *ss = NULL;
	int status = -1, ret = -1;

	cairn_buf_init(&out, 4096);
	opts.private_key = key_for(s, l->identity, &key, err);
	if (!opts.private_key)
		goto out;
	if (via) {
		const json_t *port = json_object_get(via, "port");

		bastion.host = cairn_json_str(via, "host");
		bastion.port = json_is_integer(port) ? (int)json_integer_value(port) : 22;
		bastion.user = cairn_json_str(via, "user") ? cairn_json_str(via, "user") : "root";
		bastion_pin[0] = cairn_json_str(via, "host_key");
		if (!bastion.host) {
			cairn_error_set(err, CAIRN_E_PERMANENT, "the bastion of %s has no address", req->address);
			goto out;
		}
		opts.bastion = &bastion;
		opts.bastion_host_keys = bastion_pin[0] ? bastion_pin : NULL;
		opts.bastion_private_key = key_for(s, cairn_json_str(via, "identity"), &bkey, err);
		if (!opts.bastion_private_key)
			goto out;
	}
	ss = cairn_ssh_connect(&target, &opts, err);
	if (!ss)
		goto out;
	if (cairn_ssh_run(ss, "uname -n", NULL, 0, &out, NULL, &status, 2 * s->connect_ms, err))
		goto out;
	while (out.len && (out.s[out.len - 1] == '\n' || out.s[out.len - 1] == '\r'))
		out.s[--out.len] = '\0';
	*observed = json_pack("{s:s, s:s, s:i, s:s, s:s}", "machine", l->name, "ip", l->host,
			      "ssh_port", l->port, "ssh_user", l->user,
			      "host_key", cairn_ssh_host_key(ss));
	if (l->identity)
		json_object_set_new(*observed, "ssh_identity", json_string(l->identity));
	if (status == 0 && out.len)
		json_object_set_new(*observed, "hostname", json_string(out.s));
	ret = 0;
out:
	cairn_ssh_close(ss);
	cairn_ssh_key_text_free(key);
	cairn_ssh_key_text_free(bkey);
	cairn_buf_release(&out);
	return ret;
}

static void describe_match(struct cairn_buf *b, const json_t *desired)
{
	const char *address = cairn_json_str(desired, "address"), *k;
	json_t *v;
	bool first = true;

	if (address) {
		cairn_buf_addf(b, "address %s", address);
		return;
	}
	json_object_foreach(json_object_get(desired, "match"), k, v) {
		cairn_buf_addf(b, "%s%s=%s", first ? "match " : ",", k,
			       json_is_string(v) ? json_string_value(v) : "?");
		first = false;
	}
	if (first)
		cairn_buf_addstr(b, "any machine");
}

static int st_create(void *priv, const struct cairn_provider_req *req, json_t **observed,
		     struct cairn_error *err)
{
	struct st *s = priv;
	const json_t *d = req->desired;
	const char *power = cairn_json_str(d, "power"), *address = cairn_json_str(d, "address");
	struct cairn_buf why = CAIRN_BUF_INIT, what = CAIRN_BUF_INIT;
	bool *tried;
	size_t nmatch = 0, ntried;
	int ret = -1;

	if (req->kind != CAIRN_KIND_NODE)
		return cairn_error_set(err, CAIRN_E_PERMANENT, "provider '%s' (static) makes nodes only",
				       s->name);
	if (power && strcmp(power, "none")) {
		cairn_error_set(err, CAIRN_E_PERMANENT, "power: %s needs IPMI power control, which this version of cairn does not have",
				power);
		cairn_error_hint(err, "leave power out (none) and power the machine yourself");
		return -1;
	}
	pthread_mutex_lock(&s->mu);
	if (address) {
		bool known = false;

		for (size_t i = 0; i < s->n && !known; i++)
			known = wants(s->m[i], d);
		if (!known)
			add_machine(s, address, address)->adhoc = true;
	}
	/* machines added later (other nodes' addresses) are not for this one */
	ntried = s->n;
	tried = xcalloc(ntried + 1, sizeof(*tried));
	for (;;) {
		struct machine *m = NULL;
		struct login l = { 0 };
		struct cairn_error perr = CAIRN_ERROR_INIT;
		json_t *o = NULL;
		size_t i;

		/* a retried create first finds the machine it took */
		for (i = 0; !m && i < ntried; i++)
			if (!tried[i] && s->m[i]->taken_by && !strcmp(s->m[i]->taken_by, req->cairn_id))
				m = s->m[i];
		for (i = 0; !m && i < ntried; i++)
			if (!tried[i] && !s->m[i]->busy && !s->m[i]->taken_by && wants(s->m[i], d))
				m = s->m[i];
		if (!m) {
			/* another node is logging in to a machine this one could
			 * have: wait for the outcome (that login fails: ours to try) */
			bool busy = false;

			for (i = 0; !busy && i < ntried; i++)
				busy = !tried[i] && s->m[i]->busy && wants(s->m[i], d);
			if (!busy)
				break;
			pthread_cond_wait(&s->done, &s->mu);
			continue;
		}
		for (i = 0; s->m[i] != m; i++)
			;
		tried[i] = true;
		m->busy = true;
		login_of(m, d, &l);
		pthread_mutex_unlock(&s->mu);

		ret = probe(s, req, &l, &o, &perr);

		pthread_mutex_lock(&s->mu);
		m->busy = false;
		pthread_cond_broadcast(&s->done);
		if (!ret) {
			if (m->adhoc)
				json_object_set_new(o, "adhoc", json_true());
			json_object_set_new(o, "labels", json_deep_copy(m->labels));
			take(m, req->cairn_id, req->address, o);
			*observed = o;
			cairn_debug("%s: machine '%s' (%s)", req->address, l.name, l.host);
			login_release(&l);
			cairn_error_release(&perr);
			goto out;
		}
		if (perr.code == CAIRN_E_INVALID) {
			/* a key file that will not do: the stack's mistake, not the machine's */
			cairn_error_move(err, &perr);
			cairn_error_context(err, "while logging in to machine '%s' (%s)", l.name, l.host);
			login_release(&l);
			ret = -1;
			goto out;
		}
		cairn_warn("%s: skipping machine '%s' (%s:%d): %s", req->address, l.name, l.host, l.port,
			   perr.message);
		cairn_buf_addf(&why, "\n  %s (%s): %s", l.name, l.host, perr.message);
		nmatch++;
		login_release(&l);
		cairn_error_release(&perr);
	}
	/* nothing left: say what there was */
	for (size_t i = 0; i < ntried; i++)
		if (wants(s->m[i], d) && s->m[i]->taken_by) {
			cairn_buf_addf(&why, "\n  %s (%s): taken by %s", s->m[i]->name, s->m[i]->address,
				       s->m[i]->taken_addr);
			nmatch++;
		}
	describe_match(&what, d);
	if (!nmatch)
		cairn_error_set(err, CAIRN_E_PERMANENT, "no machine of provider '%s' has %s", s->name, what.s);
	else
		cairn_error_set(err, CAIRN_E_PERMANENT, "no free machine of provider '%s' with %s:%s",
				s->name, what.s, why.s);
	ret = -1;
out:
	pthread_mutex_unlock(&s->mu);
	free(tried);
	cairn_buf_release(&why);
	cairn_buf_release(&what);
	return ret;
}

/* ---- read, delete, list -------------------------------------------------------------- */

static int st_read(void *priv, const struct cairn_provider_req *req, json_t **observed,
		   struct cairn_error *err)
{
	struct st *s = priv;
	struct machine *m;

	pthread_mutex_lock(&s->mu);
	m = by_cairn_id(s, req->cairn_id);
	if (!m) {
		/* a record the table did not hold yet: its machine, if still free */
		m = by_name(s, cairn_json_str(req->observed, "machine"));
		if (m && !m->taken_by && req->observed)
			take(m, req->cairn_id, req->address, req->observed);
		else
			m = NULL;
	}
	if (m)
		*observed = json_deep_copy(m->observed);
	pthread_mutex_unlock(&s->mu);
	if (!m)
		return cairn_error_set(err, CAIRN_E_NOTFOUND, "no machine of provider '%s' is allocated to %s",
				       s->name, req->address);
	return 0;
}

static int st_delete(void *priv, const struct cairn_provider_req *req, struct cairn_error *err)
{
	struct st *s = priv;
	struct machine *m;

	(void)err;
	pthread_mutex_lock(&s->mu);
	m = by_cairn_id(s, req->cairn_id);
	if (m) {
		cairn_debug("%s: machine '%s' released", req->address, m->name);
		release(m);
	}
	pthread_mutex_unlock(&s->mu);
	return 0;
}

static int st_list(void *priv, const char *stack, json_t **objects, struct cairn_error *err)
{
	struct st *s = priv;

	(void)stack;
	(void)err;
	*objects = json_array();
	pthread_mutex_lock(&s->mu);
	for (size_t i = 0; i < s->n; i++)
		if (s->m[i]->taken_by)
			json_array_append_new(*objects, json_pack("{s:s, s:s, s:s, s:o}",
								  "cairn_id", s->m[i]->taken_by,
								  "address", s->m[i]->taken_addr,
								  "kind", "node",
								  "observed", json_deep_copy(s->m[i]->observed)));
	pthread_mutex_unlock(&s->mu);
	return 0;
}

static const struct cairn_provider_driver static_driver = {
	.name = "static",
	.open = st_open,
	.close = st_close,
	.create = st_create,
	.read = st_read,
	.delete = st_delete,
	.list = st_list,
};

int cairn_provider_static_register(struct cairn_error *err)
{
	return cairn_provider_driver_register(&static_driver, err);
}
