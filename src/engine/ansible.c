/*
 * ansible.c - the ansible configure step: ansible-playbook against one node,
 * with an inventory cairn writes for the run.
 *
 * The inventory is the one `cairn inventory --ansible` prints (inventory.c),
 * limited to the node and its bastion, with the step's vars as host vars,
 * written as a static YAML inventory (in its JSON form) into a private
 * directory removed afterwards.  Host keys are checked against cairn's pins
 * through a known_hosts file beside it (StrictHostKeyChecking=yes: nothing
 * is trusted on first use).  The stack's private key never touches the
 * disk: ansible-playbook runs under an ssh-agent of its own that takes the
 * key on standard input (`ssh-agent sh -c 'ssh-add - && exec
 * ansible-playbook ...'`), and the agent ends with it.
 *
 * Results come from Ansible's json stdout callback: the node's recap (ok,
 * changed, failures, unreachable) and, for a failed play, the message of
 * each failed task, the first of which becomes the step's error.
 */
#include "util/common.h"

#include <errno.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/engine-priv.h"
#include "util/command.h"
#include "util/fileio.h"
#include "util/jsonutil.h"

CAIRN_LOG_INIT("engine.ansible");

#define ANSIBLE_TIMEOUT_MS (60 * 60 * 1000)
#define ANSIBLE_OUTPUT_MAX ((size_t)16 << 20)

/* The dynamic inventory (hosts, groups, _meta.hostvars) as a static one:
 * {"all": {"hosts": {NAME: VARS}, "children": {GROUP: {"hosts": {NAME: null}}}}} */
static json_t *static_inventory(const json_t *dyn)
{
	json_t *hosts = json_object(), *children = json_object(), *g, *h;
	const json_t *hostvars = json_object_get(json_object_get(dyn, "_meta"), "hostvars");
	const char *name;
	size_t i;

	json_object_foreach((json_t *)hostvars, name, h)
		json_object_set(hosts, name, h);
	json_object_foreach((json_t *)dyn, name, g) {
		json_t *members = json_object(), *m;

		if (!strcmp(name, "_meta") || !strcmp(name, "all")) {
			json_decref(members);
			continue;
		}
		json_array_foreach(json_object_get(g, "hosts"), i, m)
			json_object_set_new(members, json_string_value(m), json_null());
		json_object_set_new(children, name, json_pack("{s:o}", "hosts", members));
	}
	return json_pack("{s:{s:o, s:o}}", "all", "hosts", hosts, "children", children);
}

/* Add to output what Ansible's json callback says of host; *first_failure
 * (may stay NULL) the message of its first failed task. */
static void summarize(const char *json, size_t len, const char *host, struct cairn_buf *output,
		      char **first_failure)
{
	json_t *doc = json_loadb(json, len, 0, NULL), *plays, *play, *tasks, *task, *stats;
	size_t i, k;

	*first_failure = NULL;
	if (!doc)
		return;
	stats = json_object_get(json_object_get(doc, "stats"), host);
	if (stats)
		cairn_buf_addf(output, "%s: ok=%lld changed=%lld unreachable=%lld failed=%lld skipped=%lld\n", host,
			       (long long)json_integer_value(json_object_get(stats, "ok")),
			       (long long)json_integer_value(json_object_get(stats, "changed")),
			       (long long)json_integer_value(json_object_get(stats, "unreachable")),
			       (long long)json_integer_value(json_object_get(stats, "failures")),
			       (long long)json_integer_value(json_object_get(stats, "skipped")));
	plays = json_object_get(doc, "plays");
	json_array_foreach(plays, i, play) {
		tasks = json_object_get(play, "tasks");
		json_array_foreach(tasks, k, task) {
			const json_t *r = json_object_get(json_object_get(task, "hosts"), host);
			const char *tname = cairn_json_str(json_object_get(task, "task"), "name");
			const char *msg = cairn_json_str(r, "msg");

			if (!json_is_true(json_object_get(r, "failed")) &&
			    !json_is_true(json_object_get(r, "unreachable")))
				continue;
			if (!msg)
				msg = cairn_json_str(r, "stderr");
			cairn_buf_addf(output, "task '%s': %s\n", tname ? tname : "?", msg ? msg : "failed");
			if (!*first_failure)
				*first_failure = xasprintf("task '%s': %s", tname ? tname : "?",
							   msg ? msg : "failed");
		}
	}
	json_decref(doc);
}

static int remove_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)ftw;
	if ((flag == FTW_DP ? rmdir(path) : unlink(path)) && errno != ENOENT)
		cairn_warn("cannot remove '%s': %s", path, strerror(errno));
	return 0;
}

/* The run's directory and what Ansible left in it. */
static void remove_dir(const char *dir)
{
	nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

int eng_ansible_step(struct eng *e, const struct cairn_resource_record *rec,
		     const struct cairn_resource_record *bastion, const json_t *step,
		     struct cairn_buf *output, int *exit_status, struct cairn_error *err)
{
	struct cairn_resource_record recs[2];
	char dir[] = "/tmp/cairn-ansible.XXXXXX", *inv_path = NULL, *kh_path = NULL, *kh, *text;
	char *local_tmp = NULL, *cp_dir = NULL, *first_failure = NULL;
	const char *name = cairn_json_str(rec->desired, "name"), *playbook = cairn_json_str(step, "playbook");
	json_t *dyn, *inv, *vars;
	struct cairn_buf out, errout;
	bool agent;
	int ret = -1;

	*exit_status = -1;
	if (!name)
		name = rec->address;
	if (!mkdtemp(dir))
		return cairn_error_set(err, CAIRN_E_IO, "cannot make a directory for Ansible: %s", strerror(errno));
	recs[0] = *rec;
	if (bastion)
		recs[1] = *bastion;
	/* the node, with the step's vars, and the bastion it is reached through */
	inv_path = xasprintf("%s/inventory.json", dir);
	kh_path = xasprintf("%s/known_hosts", dir);
	dyn = cairn_engine_inventory_ansible(recs, bastion ? 2 : 1, NULL, kh_path);
	vars = json_object_get(json_object_get(json_object_get(dyn, "_meta"), "hostvars"), name);
	if (!vars) {
		cairn_error_set(err, CAIRN_E_PERMANENT, "%s has no address for Ansible to reach it at",
				rec->address);
		json_decref(dyn);
		goto out;
	}
	if (json_is_object(json_object_get(step, "vars")))
		json_object_update(vars, json_object_get(step, "vars"));
	inv = static_inventory(dyn);
	json_decref(dyn);
	text = json_dumps(inv, JSON_INDENT(1) | JSON_SORT_KEYS);
	json_decref(inv);
	ret = cairn_write_file(inv_path, text, err);
	free(text);
	if (ret)
		goto out;
	kh = cairn_engine_known_hosts(recs, bastion ? 2 : 1);
	ret = cairn_write_file(kh_path, kh, err);
	free(kh);
	if (ret)
		goto out;
	local_tmp = xasprintf("ANSIBLE_LOCAL_TEMP=%s/tmp", dir);
	cp_dir = xasprintf("ANSIBLE_SSH_CONTROL_PATH_DIR=%s/cp", dir);

	/* the stack's key goes to an agent unless both logins use key files */
	agent = e->key_private && (!cairn_json_str(rec->observed, "ssh_identity") &&
				   !cairn_json_str(json_object_get(rec->desired, "ssh"), "key"));
	if (e->key_private && bastion && !cairn_json_str(bastion->observed, "ssh_identity") &&
	    !cairn_json_str(json_object_get(bastion->desired, "ssh"), "key"))
		agent = true;
	{
		const char *play[] = { "ansible-playbook", "-i", inv_path, "--limit", name, playbook, NULL };
		const char *with_agent[] = { "ssh-agent", "sh", "-c", "ssh-add -q - && exec \"$@\"", "sh",
					     "ansible-playbook", "-i", inv_path, "--limit", name, playbook, NULL };
		const char *env[] = { "ANSIBLE_STDOUT_CALLBACK=json", "ANSIBLE_NOCOLOR=1",
				      "ANSIBLE_HOST_KEY_CHECKING=True", "ANSIBLE_RETRY_FILES_ENABLED=0",
				      "ANSIBLE_PYTHON_INTERPRETER=auto_silent",
				      "ANSIBLE_LOCALHOST_WARNING=0", "ANSIBLE_INVENTORY_UNPARSED_WARNING=0",
				      "ANSIBLE_DEPRECATION_WARNINGS=0", "ANSIBLE_COMMAND_WARNINGS=0",
				      "ANSIBLE_INVENTORY_ENABLED=yaml", local_tmp, cp_dir, NULL };
		struct cairn_command c = { .argv = agent ? with_agent : play, .env = env,
					   .timeout_ms = ANSIBLE_TIMEOUT_MS };

		if (agent) {
			c.in = e->key_private;
			c.in_len = strlen(e->key_private);
		}
		cairn_buf_init(&out, ANSIBLE_OUTPUT_MAX);
		cairn_buf_init(&errout, ANSIBLE_OUTPUT_MAX);
		ret = cairn_command_run(&c, &out, &errout, exit_status, err);
		if (ret)
			cairn_error_context(err, "ansible-playbook '%s'", playbook);
	}
	if (!ret) {
		summarize(out.s, out.len, name, output, &first_failure);
		if (*exit_status && !first_failure && errout.len) {
			/* Ansible could not start the play: its message is on stderr */
			size_t skip = errout.len > 4096 ? errout.len - 4096 : 0;

			cairn_buf_add(output, errout.s + skip, errout.len - skip);
		} else if (first_failure) {
			/* the line an error message quotes */
			cairn_buf_addf(output, "%s\n", first_failure);
		}
	}
	cairn_debug("%s: ansible-playbook %s exited with %d", rec->address, playbook, *exit_status);
	cairn_buf_release(&out);
	cairn_buf_release(&errout);
out:
	if (!getenv("CAIRN_KEEP_ANSIBLE"))
		remove_dir(dir);
	free(first_failure);
	free(local_tmp);
	free(cp_dir);
	free(inv_path);
	free(kh_path);
	return ret;
}
