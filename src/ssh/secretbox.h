/*
 * secretbox.h - secrets encrypted at rest (libsodium's crypto_secretbox:
 * XSalsa20-Poly1305) under a key-encryption key (KEK) kept in a file.
 *
 * A sealed secret is text, safe to store in the state database and to show
 * in a dump: "sb1:" and the base64 (RFC 4648, padded) of a random 24-byte
 * nonce followed by the ciphertext and its 16-byte tag.  Opening it with
 * another key, or after any byte was changed, fails; nothing is decrypted
 * unauthenticated.
 *
 * The KEK file holds exactly 32 random bytes, mode 0600, owned by the user
 * running cairn; it lives beside the database (the caller picks the path).
 * cairn_kek_load() creates it when it is absent and refuses one that others
 * may read or write, or of the wrong size, or not a regular file.
 *
 * Ownership: a struct cairn_kek (opaque) lives in memory from sodium_malloc()
 * (guard pages, locked, left out of core dumps) and is freed, zeroed, by
 * cairn_kek_free() (NULL is fine).  cairn_secret_seal() returns a string
 * the caller frees with free().  A struct cairn_secret holds a plaintext the
 * caller releases with cairn_secret_release(), which zeroes it first.
 */
#ifndef CAIRN_SSH_SECRETBOX_H
#define CAIRN_SSH_SECRETBOX_H

#include <stddef.h>

#include "cairn/error.h"

#define CAIRN_KEK_BYTES 32
#define CAIRN_SECRET_PREFIX "sb1:"

struct cairn_kek;

/*
 * Load the KEK from path, creating the file (0600, 32 random bytes) if it
 * does not exist; two processes creating it at once agree on one key.
 * NULL with err set: CAIRN_E_PERMANENT for a file that is refused (the
 * message says why and what to do), CAIRN_E_IO when it cannot be read or
 * written.
 */
struct cairn_kek *cairn_kek_load(const char *path, struct cairn_error *err);

/* A KEK from 32 bytes the caller holds (tests, key rotation). */
struct cairn_kek *cairn_kek_from_bytes(const unsigned char bytes[CAIRN_KEK_BYTES]);

void cairn_kek_free(struct cairn_kek *kek);

/* Seal len bytes: "sb1:..." (never fails). */
char *cairn_secret_seal(const struct cairn_kek *kek, const void *plaintext, size_t len);

struct cairn_secret {
	char *data;   /* len bytes and a NUL after them; NULL when empty */
	size_t len;
};

#define CAIRN_SECRET_INIT { NULL, 0 }

/*
 * Open a sealed secret into *out (which must be CAIRN_SECRET_INIT or
 * released).  Returns 0, or -1 with err set: CAIRN_E_INVALID when the text
 * is not a sealed secret, CAIRN_E_PERMANENT when it does not open (wrong
 * key, or changed since it was sealed).
 */
int cairn_secret_open(const struct cairn_kek *kek, const char *sealed, struct cairn_secret *out,
		      struct cairn_error *err);

/* Zero and free the plaintext; s is left as CAIRN_SECRET_INIT.  NULL is fine. */
void cairn_secret_release(struct cairn_secret *s);

#endif
