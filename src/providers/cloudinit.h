/*
 * cloudinit.h - cloud-init NoCloud seeds: the meta-data and #cloud-config
 * user-data cairn gives a node, and the `cidata` ISO that carries them.
 *
 * The user-data uses a small part of cloud-config (hostname,
 * ssh_authorized_keys, write_files with base64 content, runcmd), written one
 * key per line with every string double-quoted, so that it passes
 * `cloud-init schema` and the tiny image's parser reads it as well
 * (docs/internals/tiny-image.md).
 */
#ifndef CAIRN_PROVIDERS_CLOUDINIT_H
#define CAIRN_PROVIDERS_CLOUDINIT_H

#include <stddef.h>

#include "cairn/error.h"

struct cairn_ci_file {
	const char *path;
	const void *content;
	size_t len;
	const char *permissions;    /* "0644"; NULL: cloud-init's default */
	const char *owner;          /* "root:root"; NULL: default */
};

struct cairn_ci_seed {
	const char *instance_id;    /* the cairn id */
	const char *hostname;
	const char *const *keys;    /* authorized_keys lines for root */
	size_t nkeys;
	const struct cairn_ci_file *files;
	size_t nfiles;
	const char *const *runcmd;  /* shell command lines */
	size_t nrun;
};

char *cairn_ci_meta_data(const struct cairn_ci_seed *s);
char *cairn_ci_user_data(const struct cairn_ci_seed *s);

/* Write the seed as an ISO 9660 image labelled cidata at path (with
 * xorriso); the error carries xorriso's message when it fails. */
int cairn_ci_seed_iso(const struct cairn_ci_seed *s, const char *path, struct cairn_error *err);

#endif
