/*
 * image.c - resolve a node's image to the files it boots.
 */
#include "util/common.h"

#include <errno.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "providers/image.h"
#include "util/fileio.h"
#include "util/jsonutil.h"

const char *const cairn_builtin_images[] = { "tiny", NULL };

char *cairn_image_dir(void)
{
	const char *env = getenv("CAIRN_IMAGE_DIR");
	if (env && *env)
		return xstrdup(env);
	env = getenv("XDG_DATA_HOME");
	if (env && *env == '/')     /* the XDG spec ignores relative values */
		return xasprintf("%s/cairn/images", env);
	env = cairn_home_dir();
	return xasprintf("%s/.local/share/cairn/images", env ? env : "/var/lib");
}

static int check_file(const char *what, const char *path, const char *image,
		      struct cairn_error *err)
{
	struct stat sb;

	if (stat(path, &sb) < 0)
		return cairn_error_set(err, CAIRN_E_PERMANENT, "image '%s': %s '%s': %s", image, what,
				       path, strerror(errno));
	if (!S_ISREG(sb.st_mode))
		return cairn_error_set(err, CAIRN_E_PERMANENT, "image '%s': %s '%s' is not a regular file",
				       image, what, path);
	if (access(path, R_OK) < 0)
		return cairn_error_set(err, CAIRN_E_PERMANENT, "image '%s': cannot read %s '%s': %s",
				       image, what, path, strerror(errno));
	return 0;
}

static char *read_line(const char *path)
{
	struct cairn_buf b;
	char *s;
	size_t n;

	cairn_buf_init(&b, 1 << 16);
	if (cairn_buf_read_file(&b, path, 1 << 16, NULL) < 0) {
		cairn_buf_release(&b);
		return NULL;
	}
	s = cairn_buf_detach(&b, &n);
	while (n && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' '))
		s[--n] = '\0';
	return s;
}

static int resolve_builtin(const char *builtin, struct cairn_image *out, const char *image,
			   struct cairn_error *err)
{
	char *dir = cairn_image_dir(), *sub;
	bool known = false;
	int ret;

	for (size_t i = 0; cairn_builtin_images[i]; i++)
		known |= !strcmp(cairn_builtin_images[i], builtin);
	if (!known) {
		free(dir);
		return cairn_error_set(err, CAIRN_E_PERMANENT, "image '%s': no builtin image '%s'", image,
				       builtin);
	}
	sub = xasprintf("%s/%s", dir, builtin);
	out->kernel = xasprintf("%s/vmlinuz", sub);
	out->initrd = xasprintf("%s/initrd.img", sub);
	ret = check_file("kernel", out->kernel, image, err);
	if (!ret)
		ret = check_file("initrd", out->initrd, image, err);
	if (!ret) {
		char *p = xasprintf("%s/cmdline", sub);

		out->cmdline = read_line(p);
		free(p);
	}
	if (ret)
		cairn_error_hint(err, "build it with: cairn image build %s", builtin);
	free(sub);
	free(dir);
	return ret;
}

int cairn_image_resolve(const json_t *image, struct cairn_image *out, struct cairn_error *err)
{
	const char *name = cairn_json_str(image, "name");
	const char *builtin = cairn_json_str(image, "builtin");
	const char *disk = cairn_json_str(image, "disk");
	const char *kernel = cairn_json_str(image, "kernel");
	const char *initrd = cairn_json_str(image, "initrd");
	const char *cmdline = cairn_json_str(image, "cmdline");
	const char *label = name ? name : "(unnamed)";
	int ret = 0;

	memset(out, 0, sizeof(*out));
	if (!json_is_object(image))
		return cairn_error_set(err, CAIRN_E_PERMANENT, "the node has no image");
	out->name = name ? xstrdup(name) : NULL;
	if (builtin) {
		ret = resolve_builtin(builtin, out, label, err);
	} else if (disk) {
		out->disk = xstrdup(disk);
		ret = check_file("disk", disk, label, err);
	} else if (kernel) {
		out->kernel = xstrdup(kernel);
		out->initrd = initrd ? xstrdup(initrd) : NULL;
		out->cmdline = cmdline ? xstrdup(cmdline) : NULL;
		ret = check_file("kernel", kernel, label, err);
		if (!ret && initrd)
			ret = check_file("initrd", initrd, label, err);
	} else {
		ret = cairn_error_set(err, CAIRN_E_PERMANENT, "image '%s' has no disk, kernel or builtin", label);
	}
	if (ret)
		cairn_image_release(out);
	return ret;
}

void cairn_image_release(struct cairn_image *img)
{
	if (!img)
		return;
	free(img->name);
	free(img->disk);
	free(img->kernel);
	free(img->initrd);
	free(img->cmdline);
	memset(img, 0, sizeof(*img));
}
