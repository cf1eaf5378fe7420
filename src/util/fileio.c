/*
 * fileio.c - see fileio.h.
 */
#include "util/common.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <unistd.h>

#include "util/fileio.h"

int cairn_write_all(int fd, const void *p, size_t n)
{
	const char *s = p;

	while (n) {
		ssize_t w = write(fd, s, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		s += w;
		n -= (size_t)w;
	}
	return 0;
}

int cairn_write_file(const char *path, const char *text, struct cairn_error *err)
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

const char *cairn_home_dir(void)
{
	const char *env = getenv("HOME");
	const struct passwd *pw;

	if (env && *env)
		return env;
	pw = getpwuid(getuid());
	return pw && pw->pw_dir && *pw->pw_dir ? pw->pw_dir : NULL;
}
