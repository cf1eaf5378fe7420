/*
 * keys.c - ed25519 key pairs, private key import, public key lines and
 * their fingerprints, all through libssh's pki functions and all in memory.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libssh/callbacks.h>
#include <libssh/libssh.h>
#include <sodium.h>

#include "util/common.h"
#include "ssh/keys.h"
#include "ssh/ssh-priv.h"

struct cairn_ssh_key {
	ssh_key key;
};

static pthread_once_t init_once = PTHREAD_ONCE_INIT;

static void global_init(void)
{
	/* libssh wants its threading callbacks before ssh_init(); several
	 * sessions are then safe in several threads, one thread per session. */
	ssh_threads_set_callbacks(ssh_threads_get_pthread());
	if (ssh_init() < 0)
		BUG("libssh cannot initialise");
	if (sodium_init() < 0)
		BUG("libsodium cannot initialise");
}

void cairn_ssh_global_init(void)
{
	pthread_once(&init_once, global_init);
}

/* Free a string libssh allocated that may hold key material. */
static void free_secret_string(char *s)
{
	if (!s)
		return;
	sodium_memzero(s, strlen(s));
	ssh_string_free_char(s);
}

char *cairn_ssh_pubkey_line(const ssh_key key, const char *comment)
{
	char *b64 = NULL, *line;
	const char *type;

	if (ssh_pki_export_pubkey_base64(key, &b64) != SSH_OK)
		return NULL;
	type = ssh_key_type_to_char(ssh_key_type(key));
	if (comment && *comment)
		line = xasprintf("%s %s %s", type, b64, comment);
	else
		line = xasprintf("%s %s", type, b64);
	ssh_string_free_char(b64);
	return line;
}

char *cairn_ssh_pubkey_fingerprint(const ssh_key key)
{
	unsigned char *hash = NULL;
	size_t hlen = 0;
	char *fp, *copy;

	if (ssh_get_publickey_hash(key, SSH_PUBLICKEY_HASH_SHA256, &hash, &hlen) != 0)
		return NULL;
	/* "SHA256:" and unpadded base64, exactly as OpenSSH prints it */
	fp = ssh_get_fingerprint_hash(SSH_PUBLICKEY_HASH_SHA256, hash, hlen);
	ssh_clean_pubkey_hash(&hash);
	if (!fp)
		return NULL;
	copy = xstrdup(fp);
	ssh_string_free_char(fp);
	return copy;
}

int cairn_ssh_keypair_generate(const char *comment, struct cairn_ssh_keypair *kp,
			       struct cairn_error *err)
{
	ssh_key key = NULL;
	char *pem = NULL;
	int ret = -1;

	*kp = (struct cairn_ssh_keypair)CAIRN_SSH_KEYPAIR_INIT;
	if (comment && strpbrk(comment, "\r\n"))
		return cairn_error_set(err, CAIRN_E_INVALID, "key comment '%s' holds a newline", comment);
	cairn_ssh_global_init();
	if (ssh_pki_generate(SSH_KEYTYPE_ED25519, 0, &key) != SSH_OK) {
		cairn_error_set(err, CAIRN_E_INTERNAL, "cannot generate an ed25519 key");
		goto out;
	}
	if (ssh_pki_export_privkey_base64(key, NULL, NULL, NULL, &pem) != SSH_OK) {
		cairn_error_set(err, CAIRN_E_INTERNAL, "cannot export the new private key");
		goto out;
	}
	kp->public_line = cairn_ssh_pubkey_line(key, comment);
	if (!kp->public_line) {
		cairn_error_set(err, CAIRN_E_INTERNAL, "cannot export the new public key");
		goto out;
	}
	kp->private_pem = xstrdup(pem);
	ret = 0;
out:
	free_secret_string(pem);
	ssh_key_free(key);
	return ret;
}

void cairn_ssh_keypair_release(struct cairn_ssh_keypair *kp)
{
	if (!kp)
		return;
	if (kp->private_pem) {
		sodium_memzero(kp->private_pem, strlen(kp->private_pem));
		free(kp->private_pem);
	}
	free(kp->public_line);
	*kp = (struct cairn_ssh_keypair)CAIRN_SSH_KEYPAIR_INIT;
}

struct cairn_ssh_key *cairn_ssh_key_import(const char *text, struct cairn_error *err)
{
	struct cairn_ssh_key *k;
	ssh_key key = NULL;

	cairn_ssh_global_init();
	if (!text || ssh_pki_import_privkey_base64(text, NULL, NULL, NULL, &key) != SSH_OK) {
		cairn_error_set(err, CAIRN_E_INVALID,
				"cannot read the private key: not an unencrypted OpenSSH or PEM private key");
		return NULL;
	}
	if (!ssh_key_is_private(key)) {
		ssh_key_free(key);
		cairn_error_set(err, CAIRN_E_INVALID, "cannot read the private key: it is a public key");
		return NULL;
	}
	k = xmalloc(sizeof(*k));
	k->key = key;
	return k;
}

void cairn_ssh_key_free(struct cairn_ssh_key *key)
{
	if (!key)
		return;
	ssh_key_free(key->key);   /* libssh clears the key's memory */
	free(key);
}

int cairn_ssh_key_file_read(const char *path, char **text, struct cairn_error *err)
{
	struct cairn_ssh_key *k;
	struct stat sb;
	char *buf;
	ssize_t got;
	int fd;

	*text = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return cairn_error_set(err, CAIRN_E_INVALID, "cannot read the key file '%s': %s",
				       path, strerror(errno));
	if (fstat(fd, &sb) || !S_ISREG(sb.st_mode) || sb.st_size > 64 * 1024) {
		close(fd);
		return cairn_error_set(err, CAIRN_E_INVALID, "the key file '%s' is not a regular file of at most 64 KiB",
				       path);
	}
	if (sb.st_mode & 077) {
		close(fd);
		return cairn_error_set(err, CAIRN_E_INVALID,
				       "the key file '%s' is open to others (mode %04o): a private key must be readable by its owner only (chmod 600)",
				       path, (unsigned)(sb.st_mode & 07777));
	}
	buf = sodium_init() < 0 ? NULL : sodium_malloc((size_t)sb.st_size + 1);
	if (!buf)
		abort();
	got = read(fd, buf, (size_t)sb.st_size);
	close(fd);
	if (got != sb.st_size) {
		sodium_free(buf);
		return cairn_error_set(err, CAIRN_E_INVALID, "cannot read the key file '%s'", path);
	}
	buf[got] = '\0';
	k = cairn_ssh_key_import(buf, err);
	if (!k) {
		sodium_free(buf);
		cairn_error_context(err, "in the key file '%s'", path);
		return -1;
	}
	cairn_ssh_key_free(k);
	*text = xstrdup(buf);
	sodium_free(buf);
	return 0;
}

void cairn_ssh_key_text_free(char *text)
{
	if (text) {
		sodium_memzero(text, strlen(text));
		free(text);
	}
}

ssh_key cairn_ssh_key_handle(const struct cairn_ssh_key *key)
{
	return key->key;
}

char *cairn_ssh_key_public_line(const struct cairn_ssh_key *key, const char *comment)
{
	char *line = cairn_ssh_pubkey_line(key->key, comment);

	if (!line)
		BUG("libssh cannot export the public half of a key it imported");
	return line;
}

char *cairn_ssh_key_fingerprint(const struct cairn_ssh_key *key)
{
	char *fp = cairn_ssh_pubkey_fingerprint(key->key);

	if (!fp)
		BUG("libssh cannot hash a key it imported");
	return fp;
}

ssh_key cairn_ssh_pubkey_parse(const char *line, struct cairn_error *err)
{
	static const char ws[] = " \t\r\n";
	const char *p = line ? line : "";
	char type[128];
	ssh_key key = NULL;

	cairn_ssh_global_init();
	/* Find "TYPE BASE64" anywhere in the line: authorized_keys lines may
	 * start with options, known_hosts lines with host names. */
	for (;;) {
		size_t n, m;
		enum ssh_keytypes_e kt;
		char *b64;

		p += strspn(p, ws);
		n = strcspn(p, ws);
		if (n == 0)
			break;
		if (n >= sizeof(type)) {
			p += n;
			continue;
		}
		memcpy(type, p, n);
		type[n] = '\0';
		p += n;
		kt = ssh_key_type_from_name(type);
		if (kt == SSH_KEYTYPE_UNKNOWN)
			continue;
		p += strspn(p, ws);
		m = strcspn(p, ws);
		if (m == 0)
			break;
		b64 = xstrndup(p, m);
		if (ssh_pki_import_pubkey_base64(b64, kt, &key) != SSH_OK)
			key = NULL;
		free(b64);
		if (key)
			return key;
		break;
	}
	p = line ? line : "";
	if (strstr(p, "PRIVATE KEY"))   /* never quote a private key */
		cairn_error_set(err, CAIRN_E_INVALID, "a private key was given where a public key line was expected");
	else
		cairn_error_set(err, CAIRN_E_INVALID, "'%.*s' is not a public key line",
				(int)(strcspn(p, "\r\n") < 60 ? strcspn(p, "\r\n") : 60), p);
	return NULL;
}

char *cairn_ssh_fingerprint(const char *public_line, struct cairn_error *err)
{
	ssh_key key = cairn_ssh_pubkey_parse(public_line, err);
	char *fp;

	if (!key)
		return NULL;
	fp = cairn_ssh_pubkey_fingerprint(key);
	ssh_key_free(key);
	if (!fp)
		cairn_error_set(err, CAIRN_E_INTERNAL, "cannot hash the public key");
	return fp;
}
