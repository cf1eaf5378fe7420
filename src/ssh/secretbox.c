/*
 * secretbox.c - the KEK file and crypto_secretbox_easy() around it.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "util/common.h"
#include "ssh/secretbox.h"
#include "util/fileio.h"

CAIRN_LOG_INIT("ssh.secretbox");

_Static_assert(CAIRN_KEK_BYTES == crypto_secretbox_KEYBYTES, "the KEK is a secretbox key");

struct cairn_kek {
	unsigned char key[CAIRN_KEK_BYTES];
};

static void init_sodium(void)
{
	/* idempotent and thread-safe */
	if (sodium_init() < 0)
		BUG("libsodium cannot initialise");
}

static struct cairn_kek *kek_alloc(void)
{
	struct cairn_kek *kek;

	init_sodium();
	kek = sodium_malloc(sizeof(*kek));
	if (!kek) {
		fputs("cairn: out of memory\n", stderr);
		abort();
	}
	return kek;
}

void cairn_kek_free(struct cairn_kek *kek)
{
	if (kek)
		sodium_free(kek);   /* zeroes it */
}

struct cairn_kek *cairn_kek_from_bytes(const unsigned char bytes[CAIRN_KEK_BYTES])
{
	struct cairn_kek *kek = kek_alloc();

	memcpy(kek->key, bytes, CAIRN_KEK_BYTES);
	return kek;
}

/* Check an open KEK file and read it; -1 with err set when refused. */
static int read_kek(int fd, const char *path, struct cairn_kek *kek, struct cairn_error *err)
{
	struct stat st;
	size_t got = 0;

	if (fstat(fd, &st) < 0)
		return cairn_error_set(err, CAIRN_E_IO, "cannot stat key file '%s': %s", path, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return cairn_error_set(err, CAIRN_E_PERMANENT, "key file '%s' is not a regular file", path);
	if (st.st_uid != geteuid())
		return cairn_error_set(err, CAIRN_E_PERMANENT,
				       "key file '%s' belongs to uid %u, not to the user running cairn (uid %u)",
				       path, (unsigned)st.st_uid, (unsigned)geteuid());
	if (st.st_mode & 077) {
		cairn_error_set(err, CAIRN_E_PERMANENT,
				"key file '%s' has mode %04o: group or others may use it, it must be 0600",
				path, (unsigned)(st.st_mode & 07777));
		cairn_error_hint(err, "if no one else could have read it, run: chmod 600 '%s'", path);
		return -1;
	}
	if (st.st_size != CAIRN_KEK_BYTES)
		return cairn_error_set(err, CAIRN_E_PERMANENT,
				       "key file '%s' holds %lld bytes, not %d: it is not a cairn key file",
				       path, (long long)st.st_size, CAIRN_KEK_BYTES);
	while (got < CAIRN_KEK_BYTES) {
		ssize_t n = read(fd, kek->key + got, CAIRN_KEK_BYTES - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return cairn_error_set(err, CAIRN_E_IO, "cannot read key file '%s': %s", path, strerror(errno));
		if (n == 0)
			return cairn_error_set(err, CAIRN_E_IO, "key file '%s' shrank while being read", path);
		got += (size_t)n;
	}
	return 0;
}

/*
 * Create the KEK file: the key is written to a temporary file beside it and
 * linked into place, so the file never exists half written and, of two
 * processes creating it at once, one wins (link() refuses to replace) and the
 * other reads the winner's key.  Returns 0, 1 when someone else created it
 * first, or -1 with err set.
 */
static int create_kek(const char *path, struct cairn_kek *kek, struct cairn_error *err)
{
	char *tmp = xasprintf("%s.tmp-XXXXXX", path);
	char *dir, *slash;
	int fd, ret = -1;

	fd = mkostemp(tmp, O_CLOEXEC);   /* mode 0600 */
	if (fd < 0) {
		cairn_error_set(err, CAIRN_E_IO, "cannot create key file '%s': %s", path, strerror(errno));
		free(tmp);
		return -1;
	}
	randombytes_buf(kek->key, CAIRN_KEK_BYTES);
	if (fchmod(fd, 0600) < 0 || cairn_write_all(fd, kek->key, CAIRN_KEK_BYTES) < 0 || fsync(fd) < 0) {
		cairn_error_set(err, CAIRN_E_IO, "cannot write key file '%s': %s", path, strerror(errno));
		close(fd);
		goto out;
	}
	if (close(fd) < 0) {
		cairn_error_set(err, CAIRN_E_IO, "cannot write key file '%s': %s", path, strerror(errno));
		goto out;
	}
	if (link(tmp, path) < 0) {
		if (errno == EEXIST)
			ret = 1;
		else
			cairn_error_set(err, CAIRN_E_IO, "cannot create key file '%s': %s", path, strerror(errno));
		goto out;
	}
	/* make the new name durable too */
	dir = xstrdup(path);
	slash = strrchr(dir, '/');
	if (slash)
		slash[slash == dir ? 1 : 0] = '\0';
	fd = open(slash ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
	free(dir);
	cairn_info("created key file '%s'", path);
	ret = 0;
out:
	unlink(tmp);
	free(tmp);
	if (ret != 0)
		sodium_memzero(kek->key, CAIRN_KEK_BYTES);
	return ret;
}

struct cairn_kek *cairn_kek_load(const char *path, struct cairn_error *err)
{
	struct cairn_kek *kek = kek_alloc();

	for (int attempt = 0; attempt < 3; attempt++) {
		int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY), rc;

		if (fd >= 0) {
			rc = read_kek(fd, path, kek, err);
			close(fd);
			if (rc < 0)
				break;
			return kek;
		}
		if (errno != ENOENT) {
			cairn_error_set(err, CAIRN_E_IO, "cannot open key file '%s': %s", path, strerror(errno));
			break;
		}
		rc = create_kek(path, kek, err);
		if (rc == 0)
			return kek;
		if (rc < 0)
			break;
		/* lost the race: read the winner's key */
	}
	if (!cairn_error_isset(err))
		cairn_error_set(err, CAIRN_E_IO, "cannot create key file '%s': it keeps vanishing", path);
	cairn_kek_free(kek);
	return NULL;
}

char *cairn_secret_seal(const struct cairn_kek *kek, const void *plaintext, size_t len)
{
	size_t blen = crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + len;
	size_t b64len = sodium_base64_ENCODED_LEN(blen, sodium_base64_VARIANT_ORIGINAL);
	size_t plen = strlen(CAIRN_SECRET_PREFIX);
	unsigned char *box;
	char *out;

	init_sodium();
	if (len > SIZE_MAX / 2)
		BUG("secret of %zu bytes", len);
	box = xmalloc(blen);
	randombytes_buf(box, crypto_secretbox_NONCEBYTES);
	crypto_secretbox_easy(box + crypto_secretbox_NONCEBYTES, plaintext, len, box, kek->key);
	out = xmalloc(plen + b64len);
	memcpy(out, CAIRN_SECRET_PREFIX, plen);
	sodium_bin2base64(out + plen, b64len, box, blen, sodium_base64_VARIANT_ORIGINAL);
	free(box);   /* nonce and ciphertext: nothing secret */
	return out;
}

int cairn_secret_open(const struct cairn_kek *kek, const char *sealed, struct cairn_secret *out,
		      struct cairn_error *err)
{
	size_t plen = strlen(CAIRN_SECRET_PREFIX), b64len, maxlen, blen = 0;
	const char *b64, *end = NULL;
	unsigned char *box = NULL;
	char *data;
	size_t len;
	int ret = -1;

	*out = (struct cairn_secret)CAIRN_SECRET_INIT;
	init_sodium();
	if (!sealed || strncmp(sealed, CAIRN_SECRET_PREFIX, plen) != 0)
		return cairn_error_set(err, CAIRN_E_INVALID, "not a sealed secret: it does not start with '%s'",
				       CAIRN_SECRET_PREFIX);
	b64 = sealed + plen;
	b64len = strlen(b64);
	maxlen = b64len / 4 * 3 + 3;
	box = xmalloc(maxlen ? maxlen : 1);
	if (sodium_base642bin(box, maxlen, b64, b64len, NULL, &blen, &end,
			      sodium_base64_VARIANT_ORIGINAL) != 0 || end != b64 + b64len) {
		cairn_error_set(err, CAIRN_E_INVALID, "not a sealed secret: bad base64 after '%s'", CAIRN_SECRET_PREFIX);
		goto out;
	}
	if (blen < crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES) {
		cairn_error_set(err, CAIRN_E_INVALID, "not a sealed secret: %zu bytes is too short", blen);
		goto out;
	}
	len = blen - crypto_secretbox_NONCEBYTES - crypto_secretbox_MACBYTES;
	data = xmalloc(len + 1);
	if (crypto_secretbox_open_easy((unsigned char *)data, box + crypto_secretbox_NONCEBYTES,
				       blen - crypto_secretbox_NONCEBYTES, box, kek->key) != 0) {
		sodium_memzero(data, len + 1);
		free(data);
		cairn_error_set(err, CAIRN_E_PERMANENT,
				"cannot open the sealed secret: wrong key, or the secret was altered");
		goto out;
	}
	data[len] = '\0';
	out->data = data;
	out->len = len;
	ret = 0;
out:
	free(box);
	return ret;
}

void cairn_secret_release(struct cairn_secret *s)
{
	if (!s)
		return;
	if (s->data) {
		sodium_memzero(s->data, s->len + 1);
		free(s->data);
	}
	*s = (struct cairn_secret)CAIRN_SECRET_INIT;
}
