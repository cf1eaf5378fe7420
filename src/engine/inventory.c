/*
 * inventory.c - what the state knows of a stack's nodes, in the shapes
 * other tools read: a row per node (cairn inventory), an Ansible dynamic
 * inventory (JSON with _meta.hostvars), and known_hosts lines of the host
 * keys cairn pinned.
 *
 * Ansible reaches the nodes with OpenSSH, so the host vars say how cairn
 * does: the address, user and port observed, the key file, and for a node
 * behind a bastion a ProxyCommand through it (an `ssh -W`, so the node's
 * session stays end to end, as cairn's own tunnel keeps it).  Host keys are
 * checked against cairn's pins: both ssh commands get
 * StrictHostKeyChecking=yes and a KnownHostsCommand that asks this cairn
 * for them (`cairn inventory STACK --format known_hosts`), so nothing is
 * trusted on first use and no known_hosts file is written.
 */
#include "util/common.h"

#include <ctype.h>

#include "engine/engine-priv.h"
#include "util/buf.h"
#include "util/jsonutil.h"
#include "util/strmap.h"

/* the node records of recs, each once (not the pools, networks...) */
static bool is_node(const struct cairn_resource_record *r)
{
	return r->kind && !strcmp(r->kind, "node");
}

static const char *node_name(const struct cairn_resource_record *r)
{
	const char *name = cairn_json_str(r->desired, "name");

	return name ? name : r->address;
}

/* the node's labels over those its machine carries (static); caller frees */
static json_t *labels_of(const struct cairn_resource_record *r)
{
	json_t *l = json_object();

	if (json_is_object(json_object_get(r->observed, "labels")))
		json_object_update(l, json_object_get(r->observed, "labels"));
	if (json_is_object(json_object_get(r->desired, "labels")))
		json_object_update(l, json_object_get(r->desired, "labels"));
	return l;
}

json_t *cairn_engine_inventory_row(const char *stack, const struct cairn_resource_record *r)
{
	json_t *route, *row, *labels;

	if (!is_node(r))
		return NULL;
	{
		route = eng_ssh_route(r);
		labels = labels_of(r);
		row = json_pack("{s:s, s:s, s:s, s:s?, s:s?, s:s, s:s?, s:o, s:O?}",
				"stack", stack, "name", node_name(r), "address", r->address,
				"provider", r->provider, "type", r->type,
				"state", cairn_resource_status_name(r->status),
				"pool", cairn_json_str(r->desired, "pool"),
				"labels", labels,
				"ip", json_object_get(route, "host"));
		if (cairn_json_str(r->observed, "machine"))
			json_object_set_new(row, "machine", json_string(cairn_json_str(r->observed, "machine")));
		json_decref(route);
	}
	return row;
}

json_t *cairn_engine_inventory_rows(const char *stack, const struct cairn_resource_record *recs, size_t n)
{
	json_t *rows = json_array(), *row;

	for (size_t i = 0; i < n; i++)
		if ((row = cairn_engine_inventory_row(stack, &recs[i])))
			json_array_append_new(rows, row);
	return rows;
}

/* an Ansible group name: letters, digits and '_' */
static char *group_name(const char *a, const char *b)
{
	char *g = b ? xasprintf("%s_%s", a, b) : xstrdup(a);

	for (char *p = g; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '_')
			*p = '_';
	if (isdigit((unsigned char)g[0])) {
		char *u = xasprintf("_%s", g);

		free(g);
		g = u;
	}
	return g;
}

static void join_group(json_t *inv, const char *group, const char *host)
{
	json_t *g = json_object_get(inv, group), *hosts, *h;

	if (!g) {
		g = json_pack("{s:[]}", "hosts");
		json_object_set_new(inv, group, g);
	}
	hosts = json_object_get(g, "hosts");
	/* a host joins all its groups before the next host: a repeat is last */
	h = json_array_get(hosts, json_array_size(hosts) - 1);
	if (h && !strcmp(json_string_value(h), host))
		return;
	json_array_append_new(hosts, json_string(host));
}

/* -o options that check host keys against cairn's pins (a shell word list) */
static void add_pins(struct cairn_buf *b, const char *known_hosts_cmd, const char *known_hosts_file)
{
	cairn_buf_addstr(b, " -o StrictHostKeyChecking=yes -o ");
	if (known_hosts_file) {
		struct cairn_buf v = CAIRN_BUF_INIT;

		cairn_buf_addf(&v, "UserKnownHostsFile=%s", known_hosts_file);
		cairn_buf_add_sh_quoted(b, v.s);
		cairn_buf_release(&v);
	} else {
		cairn_buf_addstr(b, "UserKnownHostsFile=/dev/null");
	}
	if (known_hosts_cmd) {
		struct cairn_buf v = CAIRN_BUF_INIT;

		cairn_buf_addf(&v, "KnownHostsCommand=%s", known_hosts_cmd);
		cairn_buf_addstr(b, " -o ");
		cairn_buf_add_sh_quoted(b, v.s);
		cairn_buf_release(&v);
	}
}

json_t *cairn_engine_inventory_ansible(const struct cairn_resource_record *recs, size_t n,
				       const char *known_hosts_cmd, const char *known_hosts_file)
{
	json_t *inv = json_object(), *hostvars = json_object(), *all = json_pack("{s:[]}", "hosts");
	struct cairn_strmap by_addr = CAIRN_STRMAP_INIT;

	for (size_t i = 0; i < n; i++)
		cairn_strmap_put(&by_addr, recs[i].address, (void *)&recs[i]);
	for (size_t i = 0; i < n; i++) {
		const struct cairn_resource_record *r = &recs[i];
		const char *name = node_name(r), *pool = cairn_json_str(r->desired, "pool"), *k;
		json_t *route, *vars, *v, *steps, *step, *labels;
		struct cairn_buf args = CAIRN_BUF_INIT;
		char *baddr, *g;
		size_t s;

		if (!is_node(r) || !(route = eng_ssh_route(r)))
			continue;
		vars = json_pack("{s:O, s:O, s:O, s:s, s:s}", "ansible_host", json_object_get(route, "host"),
				 "ansible_port", json_object_get(route, "port"),
				 "ansible_user", json_object_get(route, "user"),
				 "cairn_address", r->address, "cairn_name", name);
		if (json_object_get(route, "identity"))
			json_object_set(vars, "ansible_ssh_private_key_file", json_object_get(route, "identity"));
		labels = labels_of(r);
		json_object_set_new(vars, "cairn_labels", labels);
		if (pool)
			json_object_set_new(vars, "cairn_pool", json_string(pool));
		if (cairn_json_str(r->observed, "machine"))
			json_object_set_new(vars, "cairn_machine", json_string(cairn_json_str(r->observed, "machine")));
		add_pins(&args, known_hosts_cmd, known_hosts_file);
		baddr = eng_bastion_address(r);
		if (baddr) {
			const struct cairn_resource_record *b = cairn_strmap_get(&by_addr, baddr);
			json_t *broute = b ? eng_ssh_route(b) : NULL;

			if (broute) {
				struct cairn_buf pc = CAIRN_BUF_INIT;

				cairn_buf_addstr(&pc, "ProxyCommand=ssh");
				add_pins(&pc, known_hosts_cmd, known_hosts_file);
				if (cairn_json_str(broute, "identity")) {
					cairn_buf_addstr(&pc, " -i ");
					cairn_buf_add_sh_quoted(&pc, cairn_json_str(broute, "identity"));
				}
				cairn_buf_addf(&pc, " -p %lld -W %%h:%%p ",
					       (long long)json_integer_value(json_object_get(broute, "port")));
				cairn_buf_add_sh_quoted(&pc, cairn_json_str(broute, "user"));
				cairn_buf_addch(&pc, '@');
				cairn_buf_add_sh_quoted(&pc, cairn_json_str(broute, "host"));
				cairn_buf_addstr(&args, " -o ");
				cairn_buf_add_sh_quoted(&args, pc.s);
				cairn_buf_release(&pc);
				json_object_set_new(vars, "cairn_bastion", json_string(baddr));
			}
			json_decref(broute);
			free(baddr);
		}
		json_object_set_new(vars, "ansible_ssh_common_args", json_string(args.s + 1));
		cairn_buf_release(&args);
		json_object_set_new(hostvars, name, vars);
		json_array_append_new(json_object_get(all, "hosts"), json_string(name));

		/* groups: the pool, each label, the groups of ansible steps */
		if (pool) {
			g = group_name(pool, NULL);
			join_group(inv, g, name);
			free(g);
		}
		json_object_foreach(labels, k, v) {
			if (!json_is_string(v))
				continue;
			g = group_name(k, json_string_value(v));
			join_group(inv, g, name);
			free(g);
		}
		steps = json_object_get(r->desired, "configure");
		json_array_foreach(steps, s, step) {
			json_t *groups = json_object_get(json_object_get(step, "ansible"), "groups");
			size_t gi;

			json_array_foreach(groups, gi, v)
				if (json_is_string(v)) {
					g = group_name(json_string_value(v), NULL);
					join_group(inv, g, name);
					free(g);
				}
		}
		json_decref(route);
	}
	cairn_strmap_release(&by_addr);
	json_object_set_new(inv, "all", all);
	json_object_set_new(inv, "_meta", json_pack("{s:o}", "hostvars", hostvars));
	return inv;
}

char *cairn_engine_known_hosts(const struct cairn_resource_record *recs, size_t n)
{
	struct cairn_buf b = CAIRN_BUF_INIT;

	for (size_t i = 0; i < n; i++) {
		json_t *route;
		const char *key;
		long long port;

		if (!is_node(&recs[i]) || !(route = eng_ssh_route(&recs[i])))
			continue;
		key = cairn_json_str(route, "host_key");
		port = json_integer_value(json_object_get(route, "port"));
		if (key && port == 22)
			cairn_buf_addf(&b, "%s %s\n", cairn_json_str(route, "host"), key);
		else if (key)
			cairn_buf_addf(&b, "[%s]:%lld %s\n", cairn_json_str(route, "host"), port, key);
		json_decref(route);
	}
	return cairn_buf_detach(&b, NULL);
}

/* ---- queries: pool=web and state=ready, labels.tier=db or name!=x ----------------------- */

struct term {
	char *key, *value;
	bool negate;
};

static const char *const query_keys[] = {
	"stack", "name", "address", "provider", "type", "state", "pool", "ip", "machine", NULL,
};

static void terms_free(struct term *t, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(t[i].key);
		free(t[i].value);
	}
	free(t);
}

/* the next word: a run of non-blanks, or a "quoted" / 'quoted' string */
static char *word(const char **p, bool stop_at_op)
{
	const char *s = *p, *start;

	while (isspace((unsigned char)*s))
		s++;
	if (*s == '"' || *s == '\'') {
		char q = *s++;

		start = s;
		while (*s && *s != q)
			s++;
		if (!*s)
			return NULL;
		*p = s + 1;
		return xstrndup(start, (size_t)(s - start));
	}
	start = s;
	while (*s && !isspace((unsigned char)*s) && !(stop_at_op && (*s == '=' || *s == '!')))
		s++;
	*p = s;
	return s > start ? xstrndup(start, (size_t)(s - start)) : NULL;
}

static bool term_holds(const struct term *t, const json_t *row)
{
	const char *have = !strncmp(t->key, "labels.", 7) ?
			   cairn_json_str(json_object_get(row, "labels"), t->key + 7) :
			   cairn_json_str(row, t->key);
	bool eq = have && !strcmp(have, t->value);

	return t->negate ? !eq : eq;
}

struct cairn_inventory_query {
	struct term *t;
	bool *or_before;           /* term i starts a new "or" branch */
	size_t n;
};

void cairn_engine_query_free(struct cairn_inventory_query *q)
{
	if (q) {
		terms_free(q->t, q->n);
		free(q->or_before);
		free(q);
	}
}

bool cairn_engine_query_match(const struct cairn_inventory_query *q, const json_t *row)
{
	bool any = false, all = true;

	for (size_t k = 0; k < q->n && !any; k++) {
		if (q->or_before[k]) {
			any = all;
			all = true;
		}
		all = all && term_holds(&q->t[k], row);
	}
	return any || all;
}

int cairn_engine_query_compile(const char *expr, struct cairn_inventory_query **out,
			       struct cairn_error *err)
{
	struct cairn_inventory_query *q = xcalloc(1, sizeof(*q));
	size_t alloc = 0, alloc2 = 0;
	const char *p = expr;

	*out = NULL;
	for (;;) {
		struct term cur = { 0 };
		char *conj = NULL;
		bool is_or = false;
		size_t k;

		if (q->n) {
			conj = word(&p, false);
			if (!conj)
				break;
			if (!strcmp(conj, "or"))
				is_or = true;
			else if (strcmp(conj, "and")) {
				cairn_error_set(err, CAIRN_E_INVALID, "query: expected 'and' or 'or' before '%s'", conj);
				free(conj);
				goto fail;
			}
			free(conj);
		}
		cur.key = word(&p, true);
		if (!cur.key) {
			cairn_error_set(err, CAIRN_E_INVALID, q->n ? "query: a term must follow 'and' / 'or'" :
					"query: empty; write KEY=VALUE terms joined by 'and' or 'or'");
			goto fail;
		}
		for (k = 0; query_keys[k] && strcmp(query_keys[k], cur.key); k++)
			;
		if (!query_keys[k] && (strncmp(cur.key, "labels.", 7) || !cur.key[7])) {
			cairn_error_set(err, CAIRN_E_INVALID, "query: unknown key '%s'", cur.key);
			cairn_error_hint(err, "keys: stack, name, address, provider, type, state, pool, ip, machine, labels.KEY");
			free(cur.key);
			goto fail;
		}
		while (isspace((unsigned char)*p))
			p++;
		if (p[0] == '!' && p[1] == '=') {
			cur.negate = true;
			p += 2;
		} else if (p[0] == '=') {
			p += 1 + (p[1] == '=');
		} else {
			cairn_error_set(err, CAIRN_E_INVALID, "query: '%s' needs = or != and a value", cur.key);
			free(cur.key);
			goto fail;
		}
		if (!(cur.value = word(&p, false))) {
			cairn_error_set(err, CAIRN_E_INVALID, "query: '%s' has no value", cur.key);
			free(cur.key);
			goto fail;
		}
		ALLOC_GROW(q->t, q->n + 1, alloc);
		ALLOC_GROW(q->or_before, q->n + 1, alloc2);
		q->t[q->n] = cur;
		q->or_before[q->n] = is_or;
		q->n++;
	}
	*out = q;
	return 0;
fail:
	cairn_engine_query_free(q);
	return -1;
}
