/*
 * keys.h - SSH keys in memory: generate a pair, read a private key from its
 * text, print a public key as an authorized_keys line, fingerprint a public
 * key the way OpenSSH does.
 *
 * Ownership: a struct cairn_ssh_keypair owns its two strings; release it with
 * cairn_ssh_keypair_release(), which zeroes the private key before freeing
 * it.  A struct cairn_ssh_key (a private key with its public half, opaque) is
 * the caller's, freed with cairn_ssh_key_free() (NULL is fine).  Returned
 * char * strings are the caller's, freed with free().  Inputs are borrowed.
 *
 * No function here writes a key to disk or prints it: the private key text
 * only ever goes to the caller, who seals it (secretbox.h) before storing it.
 * Error messages never quote private key material.
 */
#ifndef CAIRN_SSH_KEYS_H
#define CAIRN_SSH_KEYS_H

#include "cairn/error.h"

struct cairn_ssh_keypair {
	char *private_pem;   /* "-----BEGIN OPENSSH PRIVATE KEY-----\n...", unencrypted */
	char *public_line;   /* "ssh-ed25519 AAAA... comment", no newline */
};

#define CAIRN_SSH_KEYPAIR_INIT { NULL, NULL }

/* An opaque private key, ready for authentication (see ssh.h). */
struct cairn_ssh_key;

/*
 * Generate an ed25519 key pair.  comment ends the public line (NULL or ""
 * for none; it must not contain a newline).  Returns 0, or -1 with err set.
 */
int cairn_ssh_keypair_generate(const char *comment, struct cairn_ssh_keypair *kp,
			       struct cairn_error *err);

/* Zero and free both strings; kp is left as CAIRN_SSH_KEYPAIR_INIT. */
void cairn_ssh_keypair_release(struct cairn_ssh_keypair *kp);

/*
 * Read an unencrypted private key from its text (OpenSSH or PEM format, as
 * cairn_ssh_keypair_generate() writes it).  NULL with err set
 * (CAIRN_E_INVALID) when it is not one.
 */
struct cairn_ssh_key *cairn_ssh_key_import(const char *text, struct cairn_error *err);
void cairn_ssh_key_free(struct cairn_ssh_key *key);

/*
 * Read a private key file (an identity: `ssh -i`) into *text, checked as
 * cairn_ssh_key_import() checks it.  Refused, as OpenSSH refuses it, when
 * the group or others may read it or it is not a regular file
 * (CAIRN_E_INVALID, with the chmod to run as a hint); the message names the
 * file and never quotes it.  *text is the caller's: cairn_ssh_key_text_free()
 * zeroes it before freeing.
 */
int cairn_ssh_key_file_read(const char *path, char **text, struct cairn_error *err);
void cairn_ssh_key_text_free(char *text);

/* The public half as an authorized_keys line ("ssh-ed25519 AAAA... comment"). */
char *cairn_ssh_key_public_line(const struct cairn_ssh_key *key, const char *comment);

/* "SHA256:..." of the key's public half, as ssh-keygen -l prints it. */
char *cairn_ssh_key_fingerprint(const struct cairn_ssh_key *key);

/*
 * The SHA256 fingerprint of a public key line, as ssh-keygen -l and ssh print
 * it: "SHA256:" and unpadded base64.  The line may be an authorized_keys line
 * (options first are skipped), a known_hosts line (host names first) or just
 * "TYPE BASE64".  NULL with err set (CAIRN_E_INVALID) when it holds no key.
 */
char *cairn_ssh_fingerprint(const char *public_line, struct cairn_error *err);

#endif
