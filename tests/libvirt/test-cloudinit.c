/*
 * Tests of providers/cloudinit.c: the user-data cairn writes passes
 * `cloud-init schema` (Debian's cloud-init), and a YAML parser (python3's
 * yaml) reads back exactly the strings that went in, hostile ones included
 * (quotes, backslashes, newlines, control bytes, UTF-8); the seed is an
 * ISO 9660 image labelled cidata holding both files.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/common.h"
#include "providers/cloudinit.h"

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

static void test_schema(void **state)
{
	char *ud = cairn_ci_user_data(&seed), *path, *cmd;

	(void)state;
	if (sh("command -v cloud-init >/dev/null 2>&1"))
		skip();
	assert_true(!strncmp(ud, "#cloud-config\n", 14));
	path = write_tmp(ud);
	cmd = xasprintf("cloud-init schema --config-file %s >/dev/null", path);
	assert_int_equal(sh(cmd), 0);
	free(cmd);
	unlink(path);
	free(path);
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
	char *ud = cairn_ci_user_data(&seed), *md = cairn_ci_meta_data(&seed);
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_schema),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_seed_iso),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
