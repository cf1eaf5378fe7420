/*
 * Unit tests for src/ssh/keys.c and src/ssh/secretbox.c: key pairs, public
 * key lines and their fingerprints; the KEK file and sealed secrets.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/common.h"
#include "ssh/keys.h"
#include "ssh/secretbox.h"

/* A key and its fingerprint as OpenSSH 9.2 prints it (ssh-keygen -lf). */
#define KNOWN_KEY "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEO3pBrHwKqZ5WTVEa9XskdKXIe3Xch7BDqjhwJ1meKm"
#define KNOWN_FP  "SHA256:k6roTT1eJttZ2wrUi+R+sU9hnIf0aS/fv4XuU7u6yeA"

static char tmpdir[64];

static int setup_dir(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/cairn-test-ssh-XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path);
}

static int teardown_dir(void **state)
{
	(void)state;
	return nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static char *tmp_path(const char *name)
{
	return xasprintf("%s/%s", tmpdir, name);
}

static void expect_error(struct cairn_error *err, enum cairn_errcode code, const char *part)
{
	assert_true(cairn_error_isset(err));
	if (err->code != code || !strstr(err->message, part))
		fail_msg("expected %s error with '%s', got %s: %s", cairn_errcode_name(code), part,
			 cairn_errcode_name(err->code), err->message);
	cairn_error_release(err);
}

/* ---- keys ------------------------------------------------------------------ */

static void test_keypair_round_trip(void **state)
{
	struct cairn_ssh_keypair kp = CAIRN_SSH_KEYPAIR_INIT;
	struct cairn_error err = CAIRN_ERROR_INIT;
	struct cairn_ssh_key *key;
	char *line, *fp1, *fp2;

	(void)state;
	assert_int_equal(cairn_ssh_keypair_generate("cairn@web-1", &kp, &err), 0);
	assert_non_null(strstr(kp.private_pem, "-----BEGIN OPENSSH PRIVATE KEY-----"));
	assert_non_null(strstr(kp.private_pem, "-----END OPENSSH PRIVATE KEY-----"));
	assert_true(strncmp(kp.public_line, "ssh-ed25519 AAAA", 16) == 0);
	assert_null(strchr(kp.public_line, '\n'));
	assert_non_null(strstr(kp.public_line, " cairn@web-1"));

	/* the private key reads back, and its public half is the line's */
	key = cairn_ssh_key_import(kp.private_pem, &err);
	assert_non_null(key);
	line = cairn_ssh_key_public_line(key, "cairn@web-1");
	assert_string_equal(line, kp.public_line);
	fp1 = cairn_ssh_key_fingerprint(key);
	fp2 = cairn_ssh_fingerprint(kp.public_line, &err);
	assert_non_null(fp2);
	assert_string_equal(fp1, fp2);
	assert_true(strncmp(fp1, "SHA256:", 7) == 0);
	assert_int_equal(strlen(fp1), 7 + 43);   /* 32 bytes, unpadded base64 */
	free(line);
	free(fp1);
	free(fp2);
	cairn_ssh_key_free(key);

	/* without a comment, no trailing space */
	cairn_ssh_keypair_release(&kp);
	assert_null(kp.private_pem);
	assert_int_equal(cairn_ssh_keypair_generate(NULL, &kp, &err), 0);
	assert_int_equal(strlen(kp.public_line), strlen(KNOWN_KEY));
	cairn_ssh_keypair_release(&kp);
	cairn_ssh_keypair_release(&kp);   /* twice is fine */

	/* two pairs differ */
	{
		struct cairn_ssh_keypair a = CAIRN_SSH_KEYPAIR_INIT, b = CAIRN_SSH_KEYPAIR_INIT;

		assert_int_equal(cairn_ssh_keypair_generate("x", &a, &err), 0);
		assert_int_equal(cairn_ssh_keypair_generate("x", &b, &err), 0);
		assert_string_not_equal(a.public_line, b.public_line);
		cairn_ssh_keypair_release(&a);
		cairn_ssh_keypair_release(&b);
	}
}

static void test_keypair_refusals(void **state)
{
	struct cairn_ssh_keypair kp = CAIRN_SSH_KEYPAIR_INIT;
	struct cairn_error err = CAIRN_ERROR_INIT;

	(void)state;
	assert_int_equal(cairn_ssh_keypair_generate("a\nb", &kp, &err), -1);
	expect_error(&err, CAIRN_E_INVALID, "newline");
	assert_null(kp.private_pem);

	assert_null(cairn_ssh_key_import("not a key", &err));
	expect_error(&err, CAIRN_E_INVALID, "cannot read the private key");
	assert_null(cairn_ssh_key_import(KNOWN_KEY, &err));
	expect_error(&err, CAIRN_E_INVALID, "cannot read the private key");
	assert_null(cairn_ssh_key_import(NULL, &err));
	expect_error(&err, CAIRN_E_INVALID, "cannot read the private key");
	cairn_ssh_key_free(NULL);
}

static void test_fingerprint_like_openssh(void **state)
{
	static const char *const lines[] = {
		KNOWN_KEY,
		KNOWN_KEY " some comment",
		"  " KNOWN_KEY "\n",
		/* authorized_keys options, known_hosts host names */
		"restrict,command=\"uptime\" " KNOWN_KEY " c",
		"10.0.0.1,web-1 " KNOWN_KEY,
		"[10.0.0.1]:2222 " KNOWN_KEY,
	};
	struct cairn_error err = CAIRN_ERROR_INIT;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(lines); i++) {
		char *fp = cairn_ssh_fingerprint(lines[i], &err);

		if (!fp)
			fail_msg("line %zu: %s", i, err.message);
		assert_string_equal(fp, KNOWN_FP);
		free(fp);
	}
}

static void test_fingerprint_refusals(void **state)
{
	struct cairn_ssh_keypair kp = CAIRN_SSH_KEYPAIR_INIT;
	struct cairn_error err = CAIRN_ERROR_INIT;
	static const char *const bad[] = {
		"", "   ", "ssh-ed25519", "ssh-ed25519 !!!notbase64", "hello world",
		"ssh-ed25519 AAAAB3NzaC1yc2EAAAADAQABAAABAQC",   /* truncated */
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		assert_null(cairn_ssh_fingerprint(bad[i], &err));
		expect_error(&err, CAIRN_E_INVALID, "is not a public key line");
	}
	assert_null(cairn_ssh_fingerprint(NULL, &err));
	expect_error(&err, CAIRN_E_INVALID, "is not a public key line");

	/* a private key by mistake: refused, and none of it quoted */
	assert_int_equal(cairn_ssh_keypair_generate(NULL, &kp, &err), 0);
	assert_null(cairn_ssh_fingerprint(kp.private_pem, &err));
	assert_true(cairn_error_isset(&err));
	assert_null(strstr(err.message, "BEGIN"));
	assert_null(strstr(err.message, kp.private_pem + 40));
	expect_error(&err, CAIRN_E_INVALID, "private key");
	cairn_ssh_keypair_release(&kp);
}

/* ---- secretbox ------------------------------------------------------------- */

static struct cairn_kek *load_ok(const char *path)
{
	struct cairn_error err = CAIRN_ERROR_INIT;
	struct cairn_kek *kek = cairn_kek_load(path, &err);

	if (!kek)
		fail_msg("cairn_kek_load('%s'): %s", path, err.message);
	return kek;
}

static void test_kek_file_created(void **state)
{
	char *path = tmp_path("kek-created");
	struct cairn_error err = CAIRN_ERROR_INIT;
	struct cairn_secret sec = CAIRN_SECRET_INIT;
	struct cairn_kek *a, *b;
	struct stat st;
	char *sealed;

	(void)state;
	a = load_ok(path);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(st.st_size, CAIRN_KEK_BYTES);
	/* no temporary file is left beside it */
	{
		DIR *d = opendir(tmpdir);
		struct dirent *de;

		assert_non_null(d);
		while ((de = readdir(d)))
			assert_null(strstr(de->d_name, "kek-created.tmp-"));
		closedir(d);
	}
	/* loading again gives the same key: what a seals, b opens */
	b = load_ok(path);
	sealed = cairn_secret_seal(a, "hello", 5);
	assert_int_equal(cairn_secret_open(b, sealed, &sec, &err), 0);
	assert_int_equal(sec.len, 5);
	assert_string_equal(sec.data, "hello");
	cairn_secret_release(&sec);
	free(sealed);
	cairn_kek_free(a);
	cairn_kek_free(b);
	cairn_kek_free(NULL);
	free(path);
}

struct race {
	const char *path;
	struct cairn_kek *kek;
};

static void *race_load(void *arg)
{
	struct race *r = arg;
	struct cairn_error err = CAIRN_ERROR_INIT;

	r->kek = cairn_kek_load(r->path, &err);
	cairn_error_release(&err);
	return NULL;
}

/* Eight threads create the same file at once: they all end up with one key. */
static void test_kek_creation_race(void **state)
{
	enum { N = 8 };
	char *path = tmp_path("kek-race");
	struct race r[N];
	pthread_t t[N];
	char *sealed;

	(void)state;
	for (int i = 0; i < N; i++) {
		r[i].path = path;
		r[i].kek = NULL;
		assert_int_equal(pthread_create(&t[i], NULL, race_load, &r[i]), 0);
	}
	for (int i = 0; i < N; i++)
		pthread_join(t[i], NULL);
	sealed = cairn_secret_seal(r[0].kek, "x", 1);
	for (int i = 0; i < N; i++) {
		struct cairn_error err = CAIRN_ERROR_INIT;
		struct cairn_secret sec = CAIRN_SECRET_INIT;

		assert_non_null(r[i].kek);
		assert_int_equal(cairn_secret_open(r[i].kek, sealed, &sec, &err), 0);
		cairn_secret_release(&sec);
		cairn_kek_free(r[i].kek);
	}
	free(sealed);
	free(path);
}

static void write_bytes(const char *path, const void *data, size_t n, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, n), (ssize_t)n);
	close(fd);
	assert_int_equal(chmod(path, mode), 0);
}

static void test_kek_file_refused(void **state)
{
	static const mode_t loose[] = { 0640, 0604, 0660, 0644, 0601, 0620, 0700 };
	unsigned char key[CAIRN_KEK_BYTES] = { 1, 2, 3 };
	struct cairn_error err = CAIRN_ERROR_INIT;
	char *path = tmp_path("kek-refused"), *expect;
	struct stat st;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(loose); i++) {
		write_bytes(path, key, sizeof(key), loose[i]);
		if ((loose[i] & 077) == 0) {
			/* 0700: owner-only, accepted */
			cairn_kek_free(load_ok(path));
			continue;
		}
		assert_null(cairn_kek_load(path, &err));
		expect = xasprintf("has mode %04o", (unsigned)loose[i]);
		assert_non_null(err.hint);
		assert_non_null(strstr(err.hint, "chmod 600"));
		assert_non_null(strstr(err.message, path));
		expect_error(&err, CAIRN_E_PERMANENT, expect);
		free(expect);
		/* and the file is left alone */
		assert_int_equal(stat(path, &st), 0);
		assert_int_equal(st.st_mode & 07777, loose[i]);
		assert_int_equal(st.st_size, CAIRN_KEK_BYTES);
	}

	/* the wrong size, either way */
	write_bytes(path, key, 31, 0600);
	assert_null(cairn_kek_load(path, &err));
	expect_error(&err, CAIRN_E_PERMANENT, "holds 31 bytes, not 32");
	write_bytes(path, "0123456789abcdef0123456789abcdef\n", 33, 0600);
	assert_null(cairn_kek_load(path, &err));
	expect_error(&err, CAIRN_E_PERMANENT, "holds 33 bytes, not 32");
	write_bytes(path, "", 0, 0600);
	assert_null(cairn_kek_load(path, &err));
	expect_error(&err, CAIRN_E_PERMANENT, "holds 0 bytes");

	/* not a file */
	free(path);
	path = tmp_path("kek-dir");
	assert_int_equal(mkdir(path, 0700), 0);
	assert_null(cairn_kek_load(path, &err));
	expect_error(&err, CAIRN_E_PERMANENT, "is not a regular file");
	free(path);

	/* a directory that does not exist */
	path = tmp_path("no/such/kek");
	assert_null(cairn_kek_load(path, &err));
	expect_error(&err, CAIRN_E_IO, "cannot create key file");
	free(path);
}

static void test_seal_round_trip(void **state)
{
	unsigned char k[CAIRN_KEK_BYTES];
	struct cairn_kek *kek;
	struct cairn_error err = CAIRN_ERROR_INIT;
	static const char binary[] = "a\0b\0\xff\x01";
	struct { const void *data; size_t len; } cases[] = {
		{ "", 0 },
		{ "x", 1 },
		{ binary, sizeof(binary) },
		{ NULL, 100000 },
	};
	char *big = xmalloc(100000), *s1, *s2;

	(void)state;
	for (size_t i = 0; i < sizeof(k); i++)
		k[i] = (unsigned char)i;
	for (size_t i = 0; i < 100000; i++)
		big[i] = (char)(i * 7);
	cases[3].data = big;
	kek = cairn_kek_from_bytes(k);
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct cairn_secret sec = CAIRN_SECRET_INIT;
		char *sealed = cairn_secret_seal(kek, cases[i].data, cases[i].len);

		assert_true(strncmp(sealed, "sb1:", 4) == 0);
		assert_null(strpbrk(sealed, " \n"));
		assert_int_equal(cairn_secret_open(kek, sealed, &sec, &err), 0);
		assert_int_equal(sec.len, cases[i].len);
		assert_memory_equal(sec.data, cases[i].data, cases[i].len);
		assert_int_equal(sec.data[sec.len], '\0');
		cairn_secret_release(&sec);
		assert_null(sec.data);
		free(sealed);
	}
	/* a fresh nonce each time: the same plaintext seals differently */
	s1 = cairn_secret_seal(kek, "same", 4);
	s2 = cairn_secret_seal(kek, "same", 4);
	assert_string_not_equal(s1, s2);
	free(s1);
	free(s2);
	cairn_secret_release(NULL);
	cairn_kek_free(kek);
	free(big);
}

static void test_seal_tampered(void **state)
{
	unsigned char k[CAIRN_KEK_BYTES] = { 9 };
	struct cairn_kek *kek = cairn_kek_from_bytes(k);
	struct cairn_error err = CAIRN_ERROR_INIT;
	struct cairn_secret sec = CAIRN_SECRET_INIT;
	char *sealed = cairn_secret_seal(kek, "the private key", 15);
	size_t n = strlen(sealed);
	int refused = 0;

	(void)state;
	/* change each character of the base64 (to another valid one) */
	for (size_t i = 4; i < n; i++) {
		char *t = xstrdup(sealed);

		if (t[i] == '=') {
			free(t);
			continue;
		}
		t[i] = t[i] == 'A' ? 'B' : 'A';
		assert_int_equal(cairn_secret_open(kek, t, &sec, &err), -1);
		assert_null(sec.data);
		assert_true(err.code == CAIRN_E_PERMANENT || err.code == CAIRN_E_INVALID);
		refused += err.code == CAIRN_E_PERMANENT;
		cairn_error_release(&err);
		free(t);
	}
	assert_true(refused > 30);

	/* the message, once */
	sealed[10] = sealed[10] == 'A' ? 'B' : 'A';
	assert_int_equal(cairn_secret_open(kek, sealed, &sec, &err), -1);
	expect_error(&err, CAIRN_E_PERMANENT, "wrong key, or the secret was altered");

	/* cut short, malformed, not sealed at all */
	assert_int_equal(cairn_secret_open(kek, "sb1:AAAA", &sec, &err), -1);
	expect_error(&err, CAIRN_E_INVALID, "too short");
	assert_int_equal(cairn_secret_open(kek, "sb1:not base64!", &sec, &err), -1);
	expect_error(&err, CAIRN_E_INVALID, "bad base64");
	assert_int_equal(cairn_secret_open(kek, "-----BEGIN OPENSSH PRIVATE KEY-----", &sec, &err), -1);
	expect_error(&err, CAIRN_E_INVALID, "does not start with 'sb1:'");
	assert_int_equal(cairn_secret_open(kek, "", &sec, &err), -1);
	expect_error(&err, CAIRN_E_INVALID, "not a sealed secret");
	assert_int_equal(cairn_secret_open(kek, NULL, &sec, &err), -1);
	expect_error(&err, CAIRN_E_INVALID, "not a sealed secret");
	free(sealed);
	cairn_kek_free(kek);
}

static void test_seal_wrong_key(void **state)
{
	char *pa = tmp_path("kek-a"), *pb = tmp_path("kek-b");
	struct cairn_kek *a = load_ok(pa), *b = load_ok(pb);
	struct cairn_error err = CAIRN_ERROR_INIT;
	struct cairn_secret sec = CAIRN_SECRET_INIT;
	char *sealed = cairn_secret_seal(a, "secret", 6);

	(void)state;
	assert_int_equal(cairn_secret_open(b, sealed, &sec, &err), -1);
	assert_null(sec.data);
	expect_error(&err, CAIRN_E_PERMANENT, "wrong key");
	assert_int_equal(cairn_secret_open(a, sealed, &sec, &err), 0);
	assert_string_equal(sec.data, "secret");
	cairn_secret_release(&sec);
	free(sealed);
	cairn_kek_free(a);
	cairn_kek_free(b);
	free(pa);
	free(pb);
}

/* The whole path a private key takes: generated, sealed, stored, opened, used. */
static void test_sealed_private_key(void **state)
{
	char *path = tmp_path("kek-pk");
	struct cairn_kek *kek = load_ok(path);
	struct cairn_ssh_keypair kp = CAIRN_SSH_KEYPAIR_INIT;
	struct cairn_error err = CAIRN_ERROR_INIT;
	struct cairn_secret sec = CAIRN_SECRET_INIT;
	struct cairn_ssh_key *key;
	char *sealed, *line;

	(void)state;
	assert_int_equal(cairn_ssh_keypair_generate("n", &kp, &err), 0);
	sealed = cairn_secret_seal(kek, kp.private_pem, strlen(kp.private_pem));
	assert_null(strstr(sealed, "PRIVATE KEY"));
	assert_int_equal(cairn_secret_open(kek, sealed, &sec, &err), 0);
	key = cairn_ssh_key_import(sec.data, &err);
	assert_non_null(key);
	line = cairn_ssh_key_public_line(key, "n");
	assert_string_equal(line, kp.public_line);
	free(line);
	cairn_ssh_key_free(key);
	cairn_secret_release(&sec);
	cairn_ssh_keypair_release(&kp);
	free(sealed);
	cairn_kek_free(kek);
	free(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keypair_round_trip),
		cmocka_unit_test(test_keypair_refusals),
		cmocka_unit_test(test_fingerprint_like_openssh),
		cmocka_unit_test(test_fingerprint_refusals),
		cmocka_unit_test(test_kek_file_created),
		cmocka_unit_test(test_kek_creation_race),
		cmocka_unit_test(test_kek_file_refused),
		cmocka_unit_test(test_seal_round_trip),
		cmocka_unit_test(test_seal_tampered),
		cmocka_unit_test(test_seal_wrong_key),
		cmocka_unit_test(test_sealed_private_key),
	};

	return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
