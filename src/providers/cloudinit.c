/*
 * cloudinit.c - NoCloud meta-data, user-data and the cidata ISO.
 */
#include "util/common.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "providers/cloudinit.h"
#include "util/fileio.h"

extern char **environ;

/* s as a YAML double-quoted scalar (the escapes YAML and JSON share) */
static void quoted(struct cairn_buf *b, const char *s)
{
	cairn_buf_addch(b, '"');
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			cairn_buf_addf(b, "\\%c", *p);
		else if (*p == '\n')
			cairn_buf_addstr(b, "\\n");
		else if (*p == '\t')
			cairn_buf_addstr(b, "\\t");
		else if (*p < 0x20 || *p == 0x7f)
			cairn_buf_addf(b, "\\x%02x", *p);
		else
			cairn_buf_addch(b, *p);
	}
	cairn_buf_addch(b, '"');
}

char *cairn_ci_meta_data(const struct cairn_ci_seed *s)
{
	struct cairn_buf b;

	cairn_buf_init(&b, 0);
	cairn_buf_addstr(&b, "instance-id: ");
	quoted(&b, s->instance_id);
	cairn_buf_addstr(&b, "\nlocal-hostname: ");
	quoted(&b, s->hostname);
	cairn_buf_addch(&b, '\n');
	return cairn_buf_detach(&b, NULL);
}

char *cairn_ci_user_data(const struct cairn_ci_seed *s)
{
	struct cairn_buf b;

	cairn_buf_init(&b, 0);
	cairn_buf_addstr(&b, "#cloud-config\n# written by cairn\nhostname: ");
	quoted(&b, s->hostname);
	cairn_buf_addstr(&b, "\nfqdn: ");
	quoted(&b, s->hostname);
	cairn_buf_addstr(&b, "\ndisable_root: false\n");
	if (s->nkeys) {
		cairn_buf_addstr(&b, "ssh_authorized_keys:\n");
		for (size_t i = 0; i < s->nkeys; i++) {
			cairn_buf_addstr(&b, "  - ");
			quoted(&b, s->keys[i]);
			cairn_buf_addch(&b, '\n');
		}
	}
	if (s->nfiles) {
		cairn_buf_addstr(&b, "write_files:\n");
		for (size_t i = 0; i < s->nfiles; i++) {
			const struct cairn_ci_file *f = &s->files[i];
			size_t n = sodium_base64_encoded_len(f->len, sodium_base64_VARIANT_ORIGINAL);
			char *b64 = xmalloc(n);

			sodium_bin2base64(b64, n, f->content, f->len, sodium_base64_VARIANT_ORIGINAL);
			cairn_buf_addstr(&b, "  - path: ");
			quoted(&b, f->path);
			cairn_buf_addstr(&b, "\n    encoding: b64\n    content: ");
			quoted(&b, b64);
			if (f->permissions) {
				cairn_buf_addstr(&b, "\n    permissions: ");
				quoted(&b, f->permissions);
			}
			if (f->owner) {
				cairn_buf_addstr(&b, "\n    owner: ");
				quoted(&b, f->owner);
			}
			cairn_buf_addch(&b, '\n');
			free(b64);
		}
	}
	if (s->nrun) {
		cairn_buf_addstr(&b, "runcmd:\n");
		for (size_t i = 0; i < s->nrun; i++) {
			cairn_buf_addstr(&b, "  - ");
			quoted(&b, s->runcmd[i]);
			cairn_buf_addch(&b, '\n');
		}
	}
	return cairn_buf_detach(&b, NULL);
}

static int write_file(const char *path, const char *text, struct cairn_error *err)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd < 0)
		return cairn_error_set(err, CAIRN_E_IO, "cannot create '%s': %s", path, strerror(errno));
	if (cairn_write_all(fd, text, strlen(text)) < 0) {
		cairn_error_set(err, CAIRN_E_IO, "cannot write '%s': %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	if (close(fd) < 0)
		return cairn_error_set(err, CAIRN_E_IO, "cannot write '%s': %s", path, strerror(errno));
	return 0;
}

/* Run argv, its stdout and stderr into log; 0 when it exits 0. */
static int run(char *const argv[], const char *log, struct cairn_error *err)
{
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int status, rc;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	posix_spawn_file_actions_adddup2(&fa, 1, 2);
	rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (rc)
		return cairn_error_set(err, CAIRN_E_PERMANENT, "cannot run %s: %s", argv[0], strerror(rc));
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return cairn_error_set(err, CAIRN_E_INTERNAL, "waitpid: %s", strerror(errno));
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		struct cairn_buf b;

		cairn_buf_init(&b, 0);
		cairn_buf_read_file(&b, log, 4096, NULL);
		while (b.len && b.s[b.len - 1] == '\n')
			cairn_buf_truncate(&b, b.len - 1);
		cairn_error_set(err, CAIRN_E_PERMANENT, "%s failed: %s", argv[0],
				b.len ? b.s : "(no message)");
		cairn_buf_release(&b);
		return -1;
	}
	return 0;
}

int cairn_ci_seed_iso(const struct cairn_ci_seed *s, const char *path, struct cairn_error *err)
{
	char dir[] = "/tmp/cairn-seed.XXXXXX";
	char *ud = NULL, *md = NULL, *udp = NULL, *mdp = NULL, *log = NULL;
	int ret = -1;

	if (!mkdtemp(dir))
		return cairn_error_set(err, CAIRN_E_IO, "cannot make a directory for the seed: %s",
				       strerror(errno));
	ud = cairn_ci_user_data(s);
	md = cairn_ci_meta_data(s);
	udp = xasprintf("%s/user-data", dir);
	mdp = xasprintf("%s/meta-data", dir);
	log = xasprintf("%s/xorriso.log", dir);
	if (!write_file(udp, ud, err) && !write_file(mdp, md, err)) {
		char *argv[] = { "xorriso", "-as", "mkisofs", "-quiet", "-output", (char *)path,
				 "-volid", "cidata", "-joliet", "-rock", udp, mdp, NULL };

		ret = run(argv, log, err);
	}
	unlink(udp);
	unlink(mdp);
	unlink(log);
	rmdir(dir);
	free(ud);
	free(md);
	free(udp);
	free(mdp);
	free(log);
	return ret;
}
