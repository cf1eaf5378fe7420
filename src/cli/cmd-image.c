/*
 * cmd-image.c - `cairn image build NAME` and `cairn image list`: the builtin
 * images (providers/image.h), built by scripts/build-tiny-image.sh from the
 * host's Debian packages into cairn's image directory.
 */
#include "util/common.h"

#include <errno.h>
#include <limits.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/cli.h"
#include "providers/image.h"
#include "util/jsonutil.h"
#include "util/units.h"

#ifndef CAIRN_DATADIR
#define CAIRN_DATADIR "/usr/local/share"
#endif

static int image_build(struct cairn_cli *cli, int argc, char **argv);
static int image_list(struct cairn_cli *cli, int argc, char **argv);

const struct cairn_cmd cairn_image_commands[] = {
	{
		.name = "build",
		.fn = image_build,
		.usage = "image build NAME",
		.summary = "build a builtin image (tiny) from the host's Debian packages",
		.description =
			"Build builtin image NAME into cairn's image directory\n"
			"($CAIRN_IMAGE_DIR, else $XDG_DATA_HOME/cairn/images, else\n"
			"~/.local/share/cairn/images), replacing an older build.  'tiny' is the\n"
			"host's Debian kernel with an initramfs of busybox and OpenSSH that\n"
			"reads a NoCloud seed, takes a DHCP lease and runs sshd.  Stacks name\n"
			"it as images: {tiny: {builtin: tiny}}.",
	},
	{
		.name = "list",
		.fn = image_list,
		.usage = "image list",
		.summary = "list the builtin images and whether they are built",
	},
	{ NULL },
};

int cmd_image(struct cairn_cli *cli, int argc, char **argv)
{
	return cli_subcommand(cli, argc, argv, "build, list");
}

/* the builder script: $CAIRN_IMAGE_BUILDER, the source tree's (next to a
 * build tree's binary), the installed one */
static char *builder(void)
{
	const char *env = getenv("CAIRN_IMAGE_BUILDER");
	char exe[PATH_MAX], *slash, *p;
	ssize_t n;

	if (env && *env)
		return xstrdup(env);
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = '\0';
		slash = strrchr(exe, '/');
		if (slash) {
			*slash = '\0';
			p = xasprintf("%s/../scripts/build-tiny-image.sh", exe);
			if (!access(p, X_OK))
				return p;
			free(p);
		}
	}
	return xasprintf("%s/cairn/build-tiny-image.sh", CAIRN_DATADIR);
}

static bool known(const char *name)
{
	for (size_t i = 0; cairn_builtin_images[i]; i++)
		if (!strcmp(cairn_builtin_images[i], name))
			return true;
	return false;
}

static int image_build(struct cairn_cli *cli, int argc, char **argv)
{
	int status = cli_operands(cli, argc, argv, 1, 1, "no image given (tiny)");
	char *dir, *out, *script;
	pid_t pid;
	int ws;

	if (status >= 0)
		return status;
	if (!known(argv[optind]))
		return cli_fail(cli, CAIRN_E_INVALID, "no builtin image '%s' (there is: tiny)", argv[optind]);
	dir = cairn_image_dir();
	out = xasprintf("%s/%s", dir, argv[optind]);
	script = builder();
	if (access(script, X_OK)) {
		status = cli_fail(cli, CAIRN_E_NOTFOUND, "cannot run the image builder '%s': %s", script,
				  strerror(errno));
		goto out;
	}
	if (!cli->quiet)
		fprintf(stderr, "cairn: building image '%s' into %s\n", argv[optind], out);
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		if (cli->quiet)
			execl(script, script, "--quiet", out, (char *)NULL);
		else
			execl(script, script, out, (char *)NULL);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &ws, 0) < 0) {
		status = cli_fail(cli, CAIRN_E_IO, "cannot run '%s': %s", script, strerror(errno));
		goto out;
	}
	if (!WIFEXITED(ws) || WEXITSTATUS(ws)) {
		status = cli_fail(cli, CAIRN_E_PERMANENT, "building image '%s' failed (%s exited %d)", argv[optind],
				  script, WIFEXITED(ws) ? WEXITSTATUS(ws) : -1);
		goto out;
	}
	if (cli->json)
		cli_json_print(json_pack("{s:s, s:s}", "name", argv[optind], "path", out), stdout);
	else if (!cli->quiet)
		printf("image %s built in %s\n", argv[optind], out);
	status = CLI_EXIT_OK;
out:
	free(script);
	free(out);
	free(dir);
	return status;
}

static int image_list(struct cairn_cli *cli, int argc, char **argv)
{
	int status = cli_operands(cli, argc, argv, 0, 0, "");
	char *dir;
	json_t *all;

	if (status >= 0)
		return status;
	dir = cairn_image_dir();
	all = json_array();
	for (size_t i = 0; cairn_builtin_images[i]; i++) {
		char *path = xasprintf("%s/%s", dir, cairn_builtin_images[i]);
		char *kernel = xasprintf("%s/vmlinuz", path), *initrd = xasprintf("%s/initrd.img", path);
		struct stat k, r;
		bool built = !stat(kernel, &k) && !stat(initrd, &r);

		json_array_append_new(all, json_pack("{s:s, s:s, s:b, s:I}", "name", cairn_builtin_images[i],
						     "path", path, "built", built,
						     "bytes", built ? (json_int_t)(k.st_size + r.st_size) : 0));
		free(kernel);
		free(initrd);
		free(path);
	}
	if (cli->json) {
		cli_json_print(all, stdout);
	} else {
		size_t i;
		json_t *v;

		printf("%-8s %-6s %10s  %s\n", "NAME", "BUILT", "SIZE", "PATH");
		json_array_foreach(all, i, v) {
			char size[32] = "-";

			if (json_is_true(json_object_get(v, "built")))
				cairn_format_size((uint64_t)json_integer_value(json_object_get(v, "bytes")), size,
						  sizeof(size));
			printf("%-8s %-6s %10s  %s\n", cairn_json_str(v, "name"),
			       json_is_true(json_object_get(v, "built")) ? "yes" : "no", size, cairn_json_str(v, "path"));
		}
		json_decref(all);
	}
	free(dir);
	return CLI_EXIT_OK;
}
