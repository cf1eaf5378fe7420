/*
 * ssh-probe - drive src/ssh from the command line, for tests/ssh/sshd.sh.
 *
 *   ssh-probe --kek FILE --keygen PRIV PUB [--comment C]
 *       generate an ed25519 pair: PRIV gets the private key sealed under the
 *       KEK (created if absent), PUB the authorized_keys line
 *   ssh-probe --fingerprint LINE
 *   ssh-probe --key FILE [--kek FILE] --host H [--port P] [--user U]
 *             [--bastion H:P] [--known LINE]... [--bastion-known LINE]...
 *             [--timeout MS] [--cmd-timeout MS] [--wait MS] [--parallel N]
 *             [--stdin FILE] [--print-host-key] [--put PATH --mode OCTAL]
 *             [-v] [-- CMD]
 *
 * Runs CMD on the node, prints its standard output and error and exits with
 * its status; --put writes the --stdin file to PATH instead.  --parallel N
 * runs N sessions at once, one thread each, each running CMD three times,
 * and checks that all of them print the same.  A failure prints
 * "ssh-probe: error (CODE): MESSAGE" and exits 255.
 */
#include <getopt.h>
#include <pthread.h>
#include <string.h>
#include <sys/stat.h>

#include "util/common.h"
#include "util/clock.h"
#include "ssh/keys.h"
#include "ssh/secretbox.h"
#include "ssh/ssh.h"

struct probe {
	struct cairn_ssh_target target, bastion;
	struct cairn_ssh_options opts;
	const char *command;
	struct cairn_buf in;
	int cmd_timeout, wait_ms;
};

struct job {
	struct probe *p;
	pthread_t thread;
	struct cairn_error err;
	struct cairn_buf out;
	int status;
};

static int fail(const struct cairn_error *err)
{
	fprintf(stderr, "ssh-probe: error (%s): %s\n", cairn_errcode_name(err->code), err->message);
	if (err->context)
		fprintf(stderr, "ssh-probe: %s\n", err->context);
	if (err->hint)
		fprintf(stderr, "ssh-probe: hint: %s\n", err->hint);
	return 255;
}

static void usage(void)
{
	fputs("usage: ssh-probe --key FILE [--kek FILE] --host H [--port P] [--bastion H:P] [--known LINE] -- CMD\n"
	      "       ssh-probe --kek FILE --keygen PRIV PUB | --fingerprint LINE\n", stderr);
	exit(2);
}

static void push(const char ***v, size_t *n, const char *s)
{
	*v = xreallocarray(*v, *n + 2, sizeof(**v));
	(*v)[(*n)++] = s;
	(*v)[*n] = NULL;
}

static int write_file(const char *path, const char *text, int mode)
{
	FILE *f = fopen(path, "w");

	if (!f || fputs(text, f) < 0 || fputc('\n', f) < 0 || fclose(f) != 0) {
		perror(path);
		return -1;
	}
	return chmod(path, (mode_t)mode);
}

static struct cairn_ssh_session *open_session(struct probe *p, struct cairn_error *err)
{
	if (p->wait_ms > 0)
		return cairn_ssh_wait_ready(&p->target, &p->opts, cairn_now_ms() + p->wait_ms, err);
	return cairn_ssh_connect(&p->target, &p->opts, err);
}

static void *run_job(void *arg)
{
	struct job *j = arg;
	struct cairn_ssh_session *s = open_session(j->p, &j->err);

	if (!s)
		return NULL;
	for (int i = 0; i < 3; i++) {
		cairn_buf_reset(&j->out);
		if (cairn_ssh_run(s, j->p->command, j->p->in.s, j->p->in.len, &j->out, NULL, &j->status,
				  j->p->cmd_timeout, &j->err) < 0 || j->status != 0)
			break;
	}
	cairn_ssh_close(s);
	return NULL;
}

static int parallel(struct probe *p, int n)
{
	struct job *jobs = xcalloc((size_t)n, sizeof(*jobs));
	int bad = 0;

	for (int i = 0; i < n; i++) {
		jobs[i].p = p;
		jobs[i].err = (struct cairn_error)CAIRN_ERROR_INIT;
		jobs[i].out = (struct cairn_buf)CAIRN_BUF_INIT;
		jobs[i].status = -1;
		if (pthread_create(&jobs[i].thread, NULL, run_job, &jobs[i]) != 0) {
			fprintf(stderr, "ssh-probe: cannot start thread %d\n", i);
			exit(255);
		}
	}
	for (int i = 0; i < n; i++)
		pthread_join(jobs[i].thread, NULL);
	for (int i = 0; i < n; i++) {
		if (cairn_error_isset(&jobs[i].err)) {
			fprintf(stderr, "session %d: ", i);
			fail(&jobs[i].err);
			bad++;
		} else if (jobs[i].status != 0) {
			fprintf(stderr, "session %d: exit status %d\n", i, jobs[i].status);
			bad++;
		} else if (strcmp(jobs[i].out.s, jobs[0].out.s) != 0) {
			fprintf(stderr, "session %d printed something else than session 0\n", i);
			bad++;
		}
	}
	if (!bad)
		printf("%d sessions ok: %s", n, jobs[0].out.s);
	for (int i = 0; i < n; i++) {
		cairn_error_release(&jobs[i].err);
		cairn_buf_release(&jobs[i].out);
	}
	free(jobs);
	return bad ? 1 : 0;
}

/* "host:port" into a target. */
static void parse_hostport(const char *arg, struct cairn_ssh_target *t)
{
	const char *colon = strrchr(arg, ':');
	char *end;

	if (!colon) {
		t->host = xstrdup(arg);
		t->port = 22;
		return;
	}
	t->host = xstrndup(arg, (size_t)(colon - arg));
	t->port = (int)strtol(colon + 1, &end, 10);
	if (*end || t->port <= 0)
		usage();
}

int main(int argc, char **argv)
{
	enum { O_KEY = 256, O_KEK, O_KEYGEN, O_COMMENT, O_FP, O_HOST, O_PORT, O_USER, O_BASTION, O_KNOWN,
	       O_BKNOWN, O_TIMEOUT, O_CTIMEOUT, O_WAIT, O_PARALLEL, O_STDIN, O_PRINTHK, O_PUT, O_MODE };
	static const struct option longopts[] = {
		{ "key", required_argument, NULL, O_KEY },
		{ "kek", required_argument, NULL, O_KEK },
		{ "keygen", required_argument, NULL, O_KEYGEN },
		{ "comment", required_argument, NULL, O_COMMENT },
		{ "fingerprint", required_argument, NULL, O_FP },
		{ "host", required_argument, NULL, O_HOST },
		{ "port", required_argument, NULL, O_PORT },
		{ "user", required_argument, NULL, O_USER },
		{ "bastion", required_argument, NULL, O_BASTION },
		{ "known", required_argument, NULL, O_KNOWN },
		{ "bastion-known", required_argument, NULL, O_BKNOWN },
		{ "timeout", required_argument, NULL, O_TIMEOUT },
		{ "cmd-timeout", required_argument, NULL, O_CTIMEOUT },
		{ "wait", required_argument, NULL, O_WAIT },
		{ "parallel", required_argument, NULL, O_PARALLEL },
		{ "stdin", required_argument, NULL, O_STDIN },
		{ "print-host-key", no_argument, NULL, O_PRINTHK },
		{ "put", required_argument, NULL, O_PUT },
		{ "mode", required_argument, NULL, O_MODE },
		{ NULL, 0, NULL, 0 },
	};
	struct cairn_error err = CAIRN_ERROR_INIT;
	struct probe p = { .in = CAIRN_BUF_INIT };
	struct cairn_buf keytext = CAIRN_BUF_INIT, out = CAIRN_BUF_INIT, errout = CAIRN_BUF_INIT;
	struct cairn_secret secret = CAIRN_SECRET_INIT;
	struct cairn_kek *kek = NULL;
	struct cairn_ssh_session *s = NULL;
	const char *keyfile = NULL, *kekfile = NULL, *keygen = NULL, *comment = "cairn-test", *put = NULL;
	const char **known = NULL, **bknown = NULL;
	size_t nknown = 0, nbknown = 0;
	int c, nparallel = 0, print_hk = 0, status = -1, rc = 255;
	unsigned mode = 0644;

	while ((c = getopt_long(argc, argv, "v", longopts, NULL)) != -1) {
		switch (c) {
		case 'v': cairn_log_set_level(CAIRN_LOG_DEBUG); break;
		case O_KEY: keyfile = optarg; break;
		case O_KEK: kekfile = optarg; break;
		case O_KEYGEN: keygen = optarg; break;
		case O_COMMENT: comment = optarg; break;
		case O_FP: {
			char *fp = cairn_ssh_fingerprint(optarg, &err);

			if (!fp)
				return fail(&err);
			puts(fp);
			free(fp);
			return 0;
		}
		case O_HOST: p.target.host = optarg; break;
		case O_PORT: p.target.port = (int)strtol(optarg, NULL, 10); break;
		case O_USER: p.target.user = optarg; p.bastion.user = optarg; break;
		case O_BASTION: parse_hostport(optarg, &p.bastion); p.opts.bastion = &p.bastion; break;
		case O_KNOWN: push(&known, &nknown, optarg); break;
		case O_BKNOWN: push(&bknown, &nbknown, optarg); break;
		case O_TIMEOUT: p.opts.connect_timeout_ms = (int)strtol(optarg, NULL, 10); break;
		case O_CTIMEOUT: p.cmd_timeout = (int)strtol(optarg, NULL, 10); break;
		case O_WAIT: p.wait_ms = (int)strtol(optarg, NULL, 10); break;
		case O_PARALLEL: nparallel = (int)strtol(optarg, NULL, 10); break;
		case O_STDIN:
			if (cairn_buf_read_file(&p.in, optarg, 64u << 20, &err) < 0)
				return fail(&err);
			break;
		case O_PRINTHK: print_hk = 1; break;
		case O_PUT: put = optarg; break;
		case O_MODE: mode = (unsigned)strtoul(optarg, NULL, 8); break;
		default: usage();
		}
	}
	if (kekfile && !(kek = cairn_kek_load(kekfile, &err)))
		return fail(&err);

	if (keygen) {
		struct cairn_ssh_keypair kp = CAIRN_SSH_KEYPAIR_INIT;
		char *sealed;

		if (!kek || optind >= argc)
			usage();
		if (cairn_ssh_keypair_generate(comment, &kp, &err) < 0)
			return fail(&err);
		/* the private key reaches the disk sealed, never in clear */
		sealed = cairn_secret_seal(kek, kp.private_pem, strlen(kp.private_pem));
		if (write_file(keygen, sealed, 0600) < 0 || write_file(argv[optind], kp.public_line, 0644) < 0)
			return 255;
		free(sealed);
		cairn_ssh_keypair_release(&kp);
		cairn_kek_free(kek);
		return 0;
	}

	if (!keyfile || !p.target.host)
		usage();
	if (optind < argc)
		p.command = argv[optind];
	if (!p.command && !put && !print_hk)
		usage();
	if (cairn_buf_read_file(&keytext, keyfile, 1 << 20, &err) < 0) {
		rc = fail(&err);
		goto out;
	}
	while (keytext.len && keytext.s[keytext.len - 1] == '\n')
		cairn_buf_truncate(&keytext, keytext.len - 1);
	if (strncmp(keytext.s, CAIRN_SECRET_PREFIX, strlen(CAIRN_SECRET_PREFIX)) == 0) {
		if (!kek) {
			fputs("ssh-probe: the key is sealed: give --kek\n", stderr);
			rc = 2;
			goto out;
		}
		if (cairn_secret_open(kek, keytext.s, &secret, &err) < 0) {
			rc = fail(&err);
			goto out;
		}
		p.opts.private_key = secret.data;
	} else {
		p.opts.private_key = keytext.s;
	}
	p.opts.host_keys = known;
	p.opts.bastion_host_keys = bknown;

	if (nparallel > 0) {
		rc = parallel(&p, nparallel);
		goto out;
	}
	s = open_session(&p, &err);
	if (!s) {
		rc = fail(&err);
		goto out;
	}
	if (print_hk) {
		printf("%s\n", cairn_ssh_host_key(s));
		if (cairn_ssh_bastion_host_key(s))
			printf("bastion: %s\n", cairn_ssh_bastion_host_key(s));
	}
	if (put) {
		if (cairn_ssh_put_file(s, put, p.in.s, p.in.len, mode, &err) < 0) {
			rc = fail(&err);
			goto out;
		}
		rc = 0;
	}
	if (p.command) {
		if (cairn_ssh_run(s, p.command, p.in.s, p.in.len, &out, &errout, &status, p.cmd_timeout,
				  &err) < 0) {
			rc = fail(&err);
			goto out;
		}
		fwrite(out.s, 1, out.len, stdout);
		fwrite(errout.s, 1, errout.len, stderr);
		rc = status < 0 ? 254 : status;
	} else if (!put) {
		rc = 0;
	}
out:
	cairn_ssh_close(s);
	cairn_error_release(&err);
	cairn_secret_release(&secret);
	if (keytext.len)
		explicit_bzero(keytext.s, keytext.len);
	cairn_buf_release(&keytext);
	cairn_buf_release(&out);
	cairn_buf_release(&errout);
	cairn_buf_release(&p.in);
	cairn_kek_free(kek);
	free(known);
	free(bknown);
	if (p.opts.bastion)
		free((char *)p.bastion.host);
	return rc;
}
