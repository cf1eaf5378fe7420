/*
 * Tests of providers/cloudinit.c: the user-data cairn writes passes
 * `cloud-init schema` (Debian's cloud-init), and a YAML parser (python3's
 * yaml) reads back exactly the strings that went in, hostile ones included
 * (quotes, backslashes, newlines, control bytes, UTF-8); the seed is an
 * ISO 9660 image labelled cidata holding both files.  Configure steps in a
 * seed: which prefix of them a seed carries (cairn_ci_seed_prefix), their
 * files (content, source, binary, mode, owner) and commands as cloud-init
 * and a YAML parser read them, sources missing or too large; the node's
 * user_data merged in or refused; and the libvirt driver (test:///default)
 * reporting "seeded_steps".
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <sodium.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/common.h"
#include "providers/cloudinit.h"
#include "providers/provider.h"
#include "util/jsonutil.h"

static const char *const keys[] = {
	"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBnLhIc2CNSbl6mi16BNDbeJDIDIOD4DS7WUSg8dn6uB cairn@demo",
};
static const char *const runcmd[] = {
	"echo \"quoted\" 'single' \\ back > /tmp/x",
	"printf 'two\nlines\ttab'",
	"echo caf\xc3\xa9 \x01 # not a comment: yes",
};
static const struct cairn_ci_file files[] = {
	{ .path = "/etc/cairn/node", .content = "name: web-0\n\"x\"\n", .len = 16, .permissions = "0640",
	  .owner = "root:root" },
	{ .path = "/etc/motd", .content = "\0binary\xff", .len = 8 },
};
static const struct cairn_ci_seed seed = {
	.instance_id = "6f1c2d3e-0000-4000-8000-000000000001", .hostname = "web-0",
	.keys = keys, .nkeys = 1, .files = files, .nfiles = 2, .runcmd = runcmd, .nrun = 3,
};

static int sh(const char *cmd)
{
	int st = system(cmd);

	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static char *write_tmp(const char *text)
{
	char *path = xstrdup("/tmp/cairn-ci-test.XXXXXX");
	int fd = mkstemp(path);
	size_t n = strlen(text);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, n), (ssize_t)n);
	close(fd);
	return path;
}

static char *user_data(const struct cairn_ci_seed *s)
{
	struct cairn_error err = CAIRN_ERROR_INIT;
	char *ud = cairn_ci_user_data(s, &err);

	if (!ud)
		fail_msg("user-data: %s", err.message);
	return ud;
}

/* `cloud-init schema` accepts ud (0 when cloud-init is not installed) */
static void check_schema(const char *ud)
{
	char *path, *cmd;

	if (sh("command -v cloud-init >/dev/null 2>&1"))
		return;
	assert_true(!strncmp(ud, "#cloud-config\n", 14));
	path = write_tmp(ud);
	cmd = xasprintf("cloud-init schema --config-file %s >/dev/null", path);
	if (sh(cmd)) {
		fprintf(stderr, "%s", ud);
		fail_msg("cloud-init schema refuses the user-data above");
	}
	free(cmd);
	unlink(path);
	free(path);
}

static void test_schema(void **state)
{
	char *ud = user_data(&seed);

	(void)state;
	if (sh("command -v cloud-init >/dev/null 2>&1"))
		skip();
	check_schema(ud);
	free(ud);
}

/* what a YAML parser reads back, as JSON */
static json_t *parse_yaml(const char *text)
{
	char *path = write_tmp(text), *out = xasprintf("%s.json", path), *cmd;
	json_error_t je;
	json_t *v;

	cmd = xasprintf("python3 -c 'import json,sys,yaml; json.dump(yaml.safe_load(open(sys.argv[1])), "
			"open(sys.argv[2], \"w\"))' %s %s", path, out);
	assert_int_equal(sh(cmd), 0);
	v = json_load_file(out, 0, &je);
	assert_non_null(v);
	unlink(path);
	unlink(out);
	free(cmd);
	free(out);
	free(path);
	return v;
}

static void test_round_trip(void **state)
{
	char *ud = user_data(&seed), *md = cairn_ci_meta_data(&seed);
	json_t *u, *m;

	(void)state;
	if (sh("python3 -c 'import yaml' 2>/dev/null"))
		skip();
	u = parse_yaml(ud);
	m = parse_yaml(md);
	assert_string_equal(json_string_value(json_object_get(u, "hostname")), "web-0");
	assert_string_equal(json_string_value(json_array_get(json_object_get(u, "ssh_authorized_keys"), 0)), keys[0]);
	for (size_t i = 0; i < 3; i++)
		assert_string_equal(json_string_value(json_array_get(json_object_get(u, "runcmd"), i)), runcmd[i]);
	{
		json_t *f = json_array_get(json_object_get(u, "write_files"), 0);

		assert_string_equal(json_string_value(json_object_get(f, "path")), "/etc/cairn/node");
		assert_string_equal(json_string_value(json_object_get(f, "encoding")), "b64");
		/* base64 of the content */
		assert_string_equal(json_string_value(json_object_get(f, "content")), "bmFtZTogd2ViLTAKIngiCg==");
		assert_string_equal(json_string_value(json_object_get(f, "permissions")), "0640");
		f = json_array_get(json_object_get(u, "write_files"), 1);
		assert_string_equal(json_string_value(json_object_get(f, "content")), "AGJpbmFyef8=");
		assert_null(json_object_get(f, "permissions"));
	}
	assert_string_equal(json_string_value(json_object_get(m, "instance-id")), seed.instance_id);
	assert_string_equal(json_string_value(json_object_get(m, "local-hostname")), "web-0");
	json_decref(u);
	json_decref(m);
	free(ud);
	free(md);
}

static void test_seed_iso(void **state)
{
	struct cairn_error err = CAIRN_ERROR_INIT;
	char path[] = "/tmp/cairn-ci-seed.XXXXXX", *cmd;
	int fd = mkstemp(path);

	(void)state;
	if (sh("command -v xorriso >/dev/null 2>&1"))
		skip();
	close(fd);
	if (cairn_ci_seed_iso(&seed, path, &err))
		fail_msg("seed: %s", err.message);
	/* the volume id and both files, as cloud-init's NoCloud looks for them */
	cmd = xasprintf("xorriso -indev %s -pvd_info 2>/dev/null | grep -q \"^Volume Id *: cidata$\" && "
			"xorriso -indev %s -find / -type f 2>/dev/null | grep -q \"'/user-data'\" && "
			"xorriso -indev %s -find / -type f 2>/dev/null | grep -q \"'/meta-data'\"", path, path, path);
	assert_int_equal(sh(cmd), 0);
	free(cmd);
	unlink(path);
	/* a path xorriso cannot write: its message comes back */
	assert_int_equal(cairn_ci_seed_iso(&seed, "/nonexistent/dir/seed.iso", &err), -1);
	assert_non_null(strstr(err.message, "xorriso failed"));
	cairn_error_release(&err);
}

/* ---- configure steps ------------------------------------------------------------- */

static json_t *json_of(const char *text)
{
	json_error_t je;
	json_t *v = json_loads(text, JSON_DECODE_ANY, &je);

	if (!v)
		fail_msg("bad test JSON %s: %s", text, je.text);
	return v;
}

static void test_seed_prefix(void **state)
{
	static const struct {
		const char *steps;
		size_t want;
	} cases[] = {
		{ "[]", 0 },
		{ "[{\"file\": {\"path\": \"/a\", \"content\": \"x\"}}, {\"file\": {\"path\": \"/b\", \"source\": \"/etc/hostname\"}},"
		  " {\"run\": \"a\"}, {\"run\": \"b\"}]", 4 },
		{ "[{\"run\": \"a\"}, {\"file\": {\"path\": \"/a\", \"content\": \"x\"}}]", 1 },
		{ "[{\"file\": {\"path\": \"/a\", \"content\": \"x\"}}, {\"template\": {\"path\": \"/t\", \"source\": \"t\"}},"
		  " {\"run\": \"a\"}]", 1 },
		{ "[{\"run\": \"a\"}, {\"ansible\": {\"playbook\": \"p.yml\"}}, {\"run\": \"b\"}]", 1 },
		/* the node's own observed values are not known before it exists */
		{ "[{\"run\": \"a\"}, {\"run\": \"echo ${self.ip}\"}, {\"run\": \"b\"}]", 1 },
		{ "[{\"file\": {\"path\": \"/a\", \"content\": \"mac=${self.mac}\"}}]", 0 },
		{ "[{\"run\": \"echo ${ self.ip }\"}]", 0 },
		{ "[{\"run\": \"echo ${self.id}\"}]", 0 },
		{ "[{\"run\": \"echo ${self.labels.role}\"}]", 0 },
		/* its name, host name and address are */
		{ "[{\"file\": {\"path\": \"/${self.name}\", \"content\": \"${self.hostname} ${self.address}\"}},"
		  " {\"run\": \"echo ${self.name}\"}]", 2 },
		/* another node's values are (it is made first), "$${" is a literal */
		{ "[{\"run\": \"echo ${node.db.ip} $${self.ip} $$${self.name}\"}]", 1 },
		{ "[{\"run\": \"echo $${self.ip} ${self.ip}\"}]", 0 },
		/* file steps cloud-init would not write as the configurer does */
		{ "[{\"file\": {\"path\": \"etc/a\", \"content\": \"x\"}}]", 0 },
		{ "[{\"file\": {\"path\": \"/a\", \"content\": \"x\", \"source\": \"/b\"}}]", 0 },
		{ "[{\"file\": {\"path\": \"/a\", \"mode\": \"rw\"}}]", 0 },
		{ "[{\"file\": {\"path\": \"/a\", \"owner\": \"a b\"}}]", 0 },
		{ "[{\"file\": {\"path\": \"/a\", \"owner\": \"a:b:c\"}}]", 0 },
		{ "[{\"file\": {\"path\": \"/a\", \"owner\": \"app:app\", \"mode\": \"01777\"}},"
		  " {\"file\": {\"path\": \"/b\", \"owner\": \"1000\"}}]", 2 },
		{ "[{\"run\": \"\"}]", 0 },
		{ "[{\"what\": 1}, {\"run\": \"a\"}]", 0 },
	};

	(void)state;
	assert_int_equal(cairn_ci_seed_prefix(NULL), 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *steps = json_of(cases[i].steps);
		size_t got = cairn_ci_seed_prefix(steps);

		if (got != cases[i].want)
			fail_msg("%s: %zu steps, not %zu", cases[i].steps, got, cases[i].want);
		json_decref(steps);
	}
}

/* the bytes of write_files[i] as a YAML parser reads the user-data u */
static void check_file(json_t *u, size_t i, const char *path, const void *content, size_t len,
		       const char *perm, const char *owner)
{
	json_t *f = json_array_get(json_object_get(u, "write_files"), i);
	const char *b64 = cairn_json_str(f, "content");
	unsigned char *bin = xmalloc(len + 1);
	size_t n = 0;

	assert_non_null(b64);
	assert_string_equal(cairn_json_str(f, "path"), path);
	assert_string_equal(cairn_json_str(f, "encoding"), "b64");
	assert_int_equal(sodium_base642bin(bin, len + 1, b64, strlen(b64), NULL, &n, NULL,
					   sodium_base64_VARIANT_ORIGINAL), 0);
	assert_int_equal(n, len);
	assert_memory_equal(bin, content, len);
	if (perm)
		assert_string_equal(cairn_json_str(f, "permissions"), perm);
	else
		assert_null(json_object_get(f, "permissions"));
	if (owner)
		assert_string_equal(cairn_json_str(f, "owner"), owner);
	else
		assert_null(json_object_get(f, "owner"));
	free(bin);
}

static const char hostile[] = "say \"hi\" 'there' \\ back\nline two\t\xc3\xa9\xe2\x98\x83 \xc2\x85nel"
			      " \xc2\x9f c1 \xe2\x80\xa8ls \xef\xbb\xbf\x01 # not a comment: yes\n";
static const unsigned char binary[] = { 0, 1, 'b', 'i', 'n', 0xff, 0xfe, '\n', 0x80, 0 };

static void test_steps_files(void **state)
{
	struct cairn_ci_steps st = CAIRN_CI_STEPS_INIT;
	struct cairn_error err = CAIRN_ERROR_INIT;
	char src[] = "/tmp/cairn-ci-src.XXXXXX";
	int fd = mkstemp(src);
	json_t *steps, *u, *hv = json_string(hostile);
	struct cairn_ci_seed s = seed;
	char *ud;

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(write(fd, binary, sizeof(binary)), (ssize_t)sizeof(binary));
	close(fd);
	steps = json_pack("[{s:{s:s, s:O, s:s, s:s}}, {s:{s:s, s:s, s:s}}, {s:{s:s, s:s, s:s}},"
			  " {s:{s:s, s:s}}, {s:s}, {s:O}, {s:s}, {s:{s:s, s:s}}]",
			  "file", "path", "/etc/app/hostile.conf", "content", hv, "mode", "0640", "owner", "root:root",
			  "file", "path", "/usr/local/bin/blob", "source", src, "mode", "0755",
			  "file", "path", "/etc/app/nobody", "content", "x", "owner", "nobody",
			  "file", "path", "/etc/app/empty", "mode", "0600",
			  "run", "echo one >/tmp/one",
			  "run", hv,
			  "run", "for i in 1 2; do\n  echo \"$i\"\ndone | tee /tmp/two",
			  "template", "path", "/etc/t", "source", "t");
	assert_int_equal(cairn_ci_seed_prefix(steps), 7);
	if (cairn_ci_steps_read(&st, steps, 7, &err))
		fail_msg("steps: %s", err.message);
	assert_int_equal(st.nsteps, 7);
	assert_int_equal(st.nfiles, 4);
	assert_int_equal(st.nrun, 3);
	s.files = st.files;
	s.nfiles = st.nfiles;
	s.runcmd = st.runcmd;
	s.nrun = st.nrun;
	ud = user_data(&s);
	check_schema(ud);
	if (!sh("python3 -c 'import yaml' 2>/dev/null")) {
		u = parse_yaml(ud);
		check_file(u, 0, "/etc/app/hostile.conf", hostile, strlen(hostile), "0640", "root:root");
		check_file(u, 1, "/usr/local/bin/blob", binary, sizeof(binary), "0755", NULL);
		check_file(u, 2, "/etc/app/nobody", "x", 1, NULL, "nobody");
		check_file(u, 3, "/etc/app/empty", "", 0, "0600", NULL);
		assert_int_equal(json_array_size(json_object_get(u, "runcmd")), 3);
		assert_string_equal(json_string_value(json_array_get(json_object_get(u, "runcmd"), 0)),
				    "echo one >/tmp/one");
		assert_string_equal(json_string_value(json_array_get(json_object_get(u, "runcmd"), 1)), hostile);
		assert_string_equal(json_string_value(json_array_get(json_object_get(u, "runcmd"), 2)),
				    "for i in 1 2; do\n  echo \"$i\"\ndone | tee /tmp/two");
		json_decref(u);
	}
	/* fewer than the prefix: the first n */
	cairn_ci_steps_release(&st);
	assert_int_equal(cairn_ci_steps_read(&st, steps, 2, &err), 0);
	assert_int_equal(st.nsteps, 2);
	assert_int_equal(st.nfiles, 2);
	assert_int_equal(st.nrun, 0);
	cairn_ci_steps_release(&st);
	/* more than the prefix is a caller's bug */
	assert_int_equal(cairn_ci_steps_read(&st, steps, 8, &err), -1);
	assert_int_equal(err.code, CAIRN_E_INTERNAL);
	assert_int_equal(st.nsteps, 0);
	cairn_error_release(&err);
	cairn_ci_steps_release(&st);
	free(ud);
	unlink(src);
	json_decref(hv);
	json_decref(steps);
}

static void test_steps_sources(void **state)
{
	struct cairn_ci_steps st = CAIRN_CI_STEPS_INIT;
	struct cairn_error err = CAIRN_ERROR_INIT;
	char big[] = "/tmp/cairn-ci-big.XXXXXX", mib[] = "/tmp/cairn-ci-mib.XXXXXX";
	int fd;
	json_t *steps;

	(void)state;
	/* a source that is not there: the file and the step are named */
	steps = json_pack("[{s:s}, {s:{s:s, s:s}}]", "run", "true", "file", "path", "/etc/x", "source",
			  "/nonexistent/cairn/backup.sh");
	assert_int_equal(cairn_ci_seed_prefix(steps), 1);     /* a file after a run */
	json_array_remove(steps, 0);
	assert_int_equal(cairn_ci_steps_read(&st, steps, 1, &err), -1);
	assert_non_null(strstr(err.message, "'/nonexistent/cairn/backup.sh'"));
	assert_non_null(strstr(err.message, "No such file"));
	assert_non_null(strstr(err.context, "configure step 1 (file '/etc/x')"));
	assert_int_equal(err.code, CAIRN_E_PERMANENT);
	assert_int_equal(st.nsteps, 0);
	cairn_error_release(&err);
	cairn_ci_steps_release(&st);
	json_decref(steps);
	/* a relative one is read from the current directory, and says so */
	steps = json_pack("[{s:{s:s, s:s}}]", "file", "path", "/etc/x", "source", "no/such/file");
	assert_int_equal(cairn_ci_steps_read(&st, steps, 1, &err), -1);
	assert_non_null(strstr(err.message, "'no/such/file'"));
	assert_non_null(strstr(err.hint, "directory cairn runs in"));
	cairn_error_release(&err);
	cairn_ci_steps_release(&st);
	json_decref(steps);

	/* too large for a seed: that step and those after it stay out */
	fd = mkstemp(big);
	assert_true(fd >= 0 && !ftruncate(fd, CAIRN_CI_FILE_MAX + 1));
	close(fd);
	fd = mkstemp(mib);
	assert_true(fd >= 0 && !ftruncate(fd, CAIRN_CI_FILE_MAX));
	close(fd);
	steps = json_pack("[{s:{s:s, s:s}}, {s:{s:s, s:s}}, {s:s}]", "file", "path", "/a", "content", "x",
			  "file", "path", "/big", "source", big, "run", "true");
	assert_int_equal(cairn_ci_steps_read(&st, steps, 3, &err), 0);
	assert_int_equal(st.nsteps, 1);
	assert_int_equal(st.nfiles, 1);
	assert_int_equal(st.nrun, 0);
	cairn_ci_steps_release(&st);
	json_decref(steps);
	/* all files together: four of the largest fit, not a fifth */
	steps = json_array();
	for (int i = 0; i < 5; i++)
		json_array_append_new(steps, json_pack("{s:{s:s, s:s}}", "file", "path", "/m", "source", mib));
	assert_int_equal(cairn_ci_steps_read(&st, steps, 5, &err), 0);
	assert_int_equal(st.nsteps, 4);
	assert_int_equal(st.files[3].len, CAIRN_CI_FILE_MAX);
	cairn_ci_steps_release(&st);
	json_decref(steps);
	unlink(big);
	unlink(mib);
}

/* ---- the node's user_data -------------------------------------------------------------- */

static void test_user_data_merge(void **state)
{
	static const char mine[] =
		"#cloud-config\n"
		"# the user's own\n"
		"packages: [nginx]\n"
		"timezone: Europe/Paris\n"
		"runcmd:\n"
		"- echo user one\n"
		"- [ls, -l, /]\n"
		"write_files:\n"
		"    # indented more than cairn's\n"
		"    - path: /etc/user\n"
		"      content: |\n"
		"        from the user\n"
		"\n"
		"ssh_authorized_keys:\n"
		"  - ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBnLhIc2CNSbl6mi16BNDbeJDIDIOD4DS7WUSg8dn6uB user@x\n"
		"bootcmd:\n"
		"  - echo early";             /* no newline at the end */
	struct cairn_ci_seed s = seed;
	json_t *u, *l;
	char *ud;

	(void)state;
	s.user_data = mine;
	ud = user_data(&s);
	check_schema(ud);
	if (!sh("python3 -c 'import yaml' 2>/dev/null")) {
		u = parse_yaml(ud);
		assert_string_equal(cairn_json_str(u, "hostname"), "web-0");
		assert_string_equal(cairn_json_str(u, "timezone"), "Europe/Paris");
		assert_string_equal(json_string_value(json_array_get(json_object_get(u, "packages"), 0)), "nginx");
		/* cairn's items first, then the user's */
		l = json_object_get(u, "runcmd");
		assert_int_equal(json_array_size(l), 5);
		assert_string_equal(json_string_value(json_array_get(l, 0)), runcmd[0]);
		assert_string_equal(json_string_value(json_array_get(l, 3)), "echo user one");
		assert_string_equal(json_string_value(json_array_get(json_array_get(l, 4), 1)), "-l");
		l = json_object_get(u, "write_files");
		assert_int_equal(json_array_size(l), 3);
		assert_string_equal(cairn_json_str(json_array_get(l, 0), "path"), "/etc/cairn/node");
		assert_string_equal(cairn_json_str(json_array_get(l, 2), "content"), "from the user\n");
		l = json_object_get(u, "ssh_authorized_keys");
		assert_int_equal(json_array_size(l), 2);
		assert_string_equal(json_string_value(json_array_get(l, 0)), keys[0]);
		assert_string_equal(json_string_value(json_array_get(json_object_get(u, "bootcmd"), 0)),
				    "echo early");
		json_decref(u);
	}
	free(ud);

	/* a list cairn does not write is copied as it is, flow style too;
	 * so is user_data that holds nothing but the header */
	s = (struct cairn_ci_seed){ .instance_id = seed.instance_id, .hostname = "db",
				    .user_data = "#cloud-config\r\nruncmd: [[ls, /], \"echo a, b\"]\r\n" };
	ud = user_data(&s);
	check_schema(ud);
	free(ud);
	s.user_data = "#cloud-config\n";
	ud = user_data(&s);
	check_schema(ud);
	assert_null(strstr(ud, "user_data"));
	free(ud);
	s.user_data = "";
	ud = user_data(&s);
	free(ud);
}

static void test_user_data_refused(void **state)
{
	static const struct {
		const char *text;
		const char *want;
	} cases[] = {
		{ "#!/bin/sh\necho hi\n", "it is not a #cloud-config document" },
		{ "#cloud-configx\n", "it is not a #cloud-config document" },
		{ "packages: [a]\n", "it is not a #cloud-config document" },
		{ "#cloud-config\nhostname: other\n", "line 2 sets 'hostname', which cairn writes" },
		{ "#cloud-config\ntimezone: UTC\ndisable_root: true\n", "line 3 sets 'disable_root'" },
		{ "#cloud-config\nruncmd: [ls]\n", "'runcmd' on line 2 is not a block list" },
		{ "#cloud-config\nwrite_files:\n  path: /x\n", "'write_files' on line 2 is not a block list" },
		{ "#cloud-config\npackages: [a]\n\npackages: [b]\n", "line 4 gives 'packages' again (first on line 2)" },
		{ "#cloud-config\n\tpackages: [a]\n", "line 2 is indented with a tab" },
		{ "#cloud-config\n  - x\n", "line 2 is not under a top-level key" },
		{ "#cloud-config\n---\npackages: [a]\n", "line 2: document markers" },
		{ "#cloud-config\n\"packages\": [a]\n", "line 2 is not a plain top-level key" },
		{ "#cloud-config\npackages:[a]\n", "line 2 is not a plain top-level key" },
		{ "#cloud-config\n{packages: [a]}\n", "line 2 is not a plain top-level key" },
	};
	struct cairn_error err = CAIRN_ERROR_INIT;
	struct cairn_ci_seed s = seed;
	char path[] = "/tmp/cairn-ci-seed.XXXXXX";
	int fd = mkstemp(path);

	(void)state;
	close(fd);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		s.user_data = cases[i].text;
		assert_null(cairn_ci_user_data(&s, &err));
		if (!strstr(err.message, cases[i].want))
			fail_msg("%s: '%s' does not say '%s'", cases[i].text, err.message, cases[i].want);
		assert_int_equal(err.code, CAIRN_E_INVALID);
		cairn_error_release(&err);
		/* the seed is not made either */
		assert_int_equal(cairn_ci_seed_iso(&s, path, &err), -1);
		assert_non_null(strstr(err.message, cases[i].want));
		cairn_error_release(&err);
	}
	unlink(path);
}

/* ---- the libvirt driver: "seeded_steps" ------------------------------------------------------ */

#define NODE_ID "11111111-2222-4333-8444-0000000000c1"

static json_t *node_desired(const char *kernel, json_t *configure, const char *user_data)
{
	json_t *d = json_pack("{s:s, s:s, s:{s:i, s:I, s:I, s:s}, s:{s:s, s:s, s:s}, s:[], s:[], "
			      "s:s, s:s, s:b, s:b, s:s}",
			      "name", "web", "hostname", "web",
			      "plan", "cpus", 1, "memory", (json_int_t)256 << 20, "disk", (json_int_t)1 << 30,
			      "name", "small",
			      "image", "kernel", kernel, "cmdline", "console=ttyS0", "name", "k",
			      "networks", "volumes",
			      "machine", "pc", "firmware", "bios", "console", 1, "autostart", 0,
			      "cpu_mode", "maximum");

	if (configure)
		json_object_set_new(d, "configure", configure);
	if (user_data)
		json_object_set_new(d, "user_data", json_string(user_data));
	return d;
}

static size_t listed(struct cairn_provider *p)
{
	struct cairn_error err = CAIRN_ERROR_INIT;
	json_t *objs = NULL;
	size_t n;

	assert_int_equal(cairn_provider_list(p, "ci", &objs, &err), 0);
	n = json_array_size(objs);
	json_decref(objs);
	return n;
}

static void test_driver_seeded_steps(void **state)
{
	json_t *cfg = json_pack("{s:s}", "uri", "test:///default");
	struct cairn_provider_config c = { .stack = "ci", .name = "kvm", .type = "libvirt", .config = cfg,
					   .ssh_public_key = keys[0] };
	struct cairn_error err = CAIRN_ERROR_INIT;
	struct cairn_provider *p = NULL;
	char kernel[] = "/tmp/cairn-ci-kernel.XXXXXX";
	int fd = mkstemp(kernel);
	json_t *d, *o = NULL;
	struct cairn_provider_req r = { .stack = "ci", .address = "node.web", .kind = CAIRN_KIND_NODE,
					.cairn_id = NODE_ID };

	(void)state;
	if (sh("command -v xorriso >/dev/null 2>&1"))
		skip();
	assert_true(fd >= 0 && write(fd, "not a kernel\n", 13) == 13);
	close(fd);
	if (cairn_provider_open(&c, &p, &err))
		fail_msg("open: %s", err.message);

	/* file, run, run go in the seed; the template and what follows do not */
	d = node_desired(kernel, json_of("[{\"file\": {\"path\": \"/etc/a\", \"content\": \"a\\n\", \"mode\": \"0600\"}},"
					 " {\"run\": \"echo 1\"}, {\"run\": \"echo 2\"},"
					 " {\"template\": {\"path\": \"/etc/t\", \"source\": \"/t\"}}, {\"run\": \"echo 3\"}]"),
			 "#cloud-config\npackages: [nginx]\n");
	r.desired = d;
	if (cairn_provider_create(p, &r, &o, &err))
		fail_msg("create: %s", err.message);
	assert_int_equal(json_integer_value(json_object_get(o, "seeded_steps")), 3);
	json_decref(o);
	/* made already: the same count */
	assert_int_equal(cairn_provider_create(p, &r, &o, &err), 0);
	assert_int_equal(json_integer_value(json_object_get(o, "seeded_steps")), 3);
	json_decref(o);
	assert_int_equal(cairn_provider_delete(p, &r, &err), 0);
	json_decref(d);

	/* none: no "seeded_steps" */
	d = node_desired(kernel, json_of("[{\"ansible\": {\"playbook\": \"/p.yml\"}}, {\"run\": \"echo 1\"}]"), NULL);
	r.desired = d;
	assert_int_equal(cairn_provider_create(p, &r, &o, &err), 0);
	assert_null(json_object_get(o, "seeded_steps"));
	json_decref(o);
	assert_int_equal(cairn_provider_delete(p, &r, &err), 0);
	json_decref(d);

	/* refused before anything is made: a source that is not there, user_data
	 * that cannot be merged */
	d = node_desired(kernel, json_of("[{\"file\": {\"path\": \"/etc/a\", \"source\": \"/nonexistent/a.conf\"}}]"),
			 NULL);
	r.desired = d;
	o = NULL;
	assert_int_equal(cairn_provider_create(p, &r, &o, &err), -1);
	assert_null(o);
	assert_non_null(strstr(err.message, "'/nonexistent/a.conf'"));
	assert_int_equal(err.code, CAIRN_E_PERMANENT);
	cairn_error_release(&err);
	assert_int_equal(listed(p), 0);
	json_decref(d);
	d = node_desired(kernel, NULL, "#cloud-config\nhostname: x\n");
	r.desired = d;
	assert_int_equal(cairn_provider_create(p, &r, &o, &err), -1);
	assert_non_null(strstr(err.message, "sets 'hostname'"));
	cairn_error_release(&err);
	assert_int_equal(listed(p), 0);
	json_decref(d);

	cairn_provider_close(p);
	json_decref(cfg);
	unlink(kernel);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_schema),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_seed_iso),
		cmocka_unit_test(test_seed_prefix),
		cmocka_unit_test(test_steps_files),
		cmocka_unit_test(test_steps_sources),
		cmocka_unit_test(test_user_data_merge),
		cmocka_unit_test(test_user_data_refused),
		cmocka_unit_test(test_driver_seeded_steps),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
