/*
 * cloudinit.h - cloud-init NoCloud seeds: the meta-data and #cloud-config
 * user-data cairn gives a node, and the `cidata` ISO that carries them.
 *
 * The user-data uses a small part of cloud-config (hostname,
 * ssh_authorized_keys, write_files with base64 content, runcmd), written one
 * key per line with every string double-quoted, so that it passes
 * `cloud-init schema` and the tiny image's parser reads it as well
 * (docs/internals/tiny-image.md).  A node's leading `file` and `run`
 * configure steps can travel in it (write_files, runcmd), so that they
 * happen at first boot without SSH; docs/internals/libvirt.md has the rules.
 *
 * Ownership: a struct cairn_ci_seed only points at what its caller keeps
 * alive; struct cairn_ci_steps owns its arrays and the contents it read from
 * files, and borrows every other string from the JSON steps it was read
 * from.  Text returned as char * is the caller's to free.
 */
#ifndef CAIRN_PROVIDERS_CLOUDINIT_H
#define CAIRN_PROVIDERS_CLOUDINIT_H

#include <jansson.h>
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
	const char *user_data;      /* the node's own #cloud-config, merged after
				     * cairn's (see cairn_ci_user_data); NULL: none */
};

char *cairn_ci_meta_data(const struct cairn_ci_seed *s);

/*
 * The #cloud-config user-data of s.  s->user_data, when set, must be a
 * #cloud-config document whose top level is a block mapping with plain keys;
 * its keys are added after cairn's, and its block lists under runcmd,
 * write_files and ssh_authorized_keys are appended to cairn's lists of the
 * same name.  It may not set hostname, fqdn or disable_root (cairn's), nor
 * give a key twice.  The text is not parsed further: its YAML is the user's.
 * NULL, with err set (CAIRN_E_INVALID, naming the line), when it cannot be
 * merged.
 */
char *cairn_ci_user_data(const struct cairn_ci_seed *s, struct cairn_error *err);

/* Write the seed as an ISO 9660 image labelled cidata at path (with
 * xorriso); the error carries xorriso's message when it fails, or
 * cairn_ci_user_data()'s. */
int cairn_ci_seed_iso(const struct cairn_ci_seed *s, const char *path, struct cairn_error *err);

/* ---- configure steps in a seed ---- */

/* The most content one file step puts in a seed, and all of them together;
 * the file step that would pass either ends the seeded steps. */
#define CAIRN_CI_FILE_MAX (1u << 20)
#define CAIRN_CI_FILES_MAX (4u << 20)

/*
 * How many leading configure steps a seed can carry: the longest prefix of
 * file steps followed by run steps (cloud-init writes files before it runs
 * commands, so a file after a run ends it), ending at the first template or
 * ansible step, and at the first step whose text still refers to the node's
 * own observed values ("${self." other than ${self.name} / ${self.hostname} /
 * ${self.address}), which are not known before it exists.  A file step also
 * ends it when it is not one cloud-init writes as the configurer would: a
 * path that is not absolute, both content and source, a mode that is not
 * octal, an owner that is not user or user:group.  "$${" is a literal, not
 * a reference.  steps is the node's "configure" array as written
 * (references unresolved); NULL: 0.
 */
size_t cairn_ci_seed_prefix(const json_t *steps);

/* The files and commands of seeded configure steps. */
struct cairn_ci_steps {
	struct cairn_ci_file *files;
	size_t nfiles;
	const char **runcmd;
	size_t nrun;
	size_t nsteps;              /* how many configure steps they are */
	char **read;                /* owned: the contents read from sources */
	size_t nread;
};

#define CAIRN_CI_STEPS_INIT { NULL, 0, NULL, 0, 0, NULL, 0 }

/*
 * Fill st (initialised with CAIRN_CI_STEPS_INIT) with the files and commands
 * of steps[0..n), which must be seedable (n no more than
 * cairn_ci_seed_prefix() counts; references resolved).  A file step's
 * content is its `content`, or the bytes of the local file `source` (a
 * relative source is relative to the current directory), its mode and owner
 * become permissions and owner.  The file step whose content would pass
 * CAIRN_CI_FILE_MAX or CAIRN_CI_FILES_MAX ends the list early: st->nsteps
 * says how many steps st holds, and the rest are for the configurer.  -1
 * with err set when a source cannot be read (naming the file and the step)
 * or a step is not seedable; st is then empty.  Release st with
 * cairn_ci_steps_release() in any case; steps must outlive st.
 */
int cairn_ci_steps_read(struct cairn_ci_steps *st, const json_t *steps, size_t n,
			struct cairn_error *err);
void cairn_ci_steps_release(struct cairn_ci_steps *st);

#endif
