/*
 * plugin-path.c - where the executable of a plugin type is
 * (cairn_plugin_find() in provider.h documents the order).
 *
 * The registered paths are a small table under a mutex: the engine fills it
 * from the store once at start-up, drivers read it when they open.
 */
#include "util/common.h"

#include <limits.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include "providers/provider.h"

CAIRN_LOG_INIT("providers.path");

#ifndef CAIRN_LIBEXECDIR
#define CAIRN_LIBEXECDIR "/usr/local/libexec"
#endif

struct registered {
	char *type;
	char *path;
};

static struct registered *registered;
static size_t nregistered, registered_alloc;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

/* A type names a file: no slashes, no dots, nothing a shell would mind. */
static bool valid_type(const char *type)
{
	if (!type || !*type || strlen(type) > 64)
		return false;
	for (const char *c = type; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '-' || *c == '_'))
			return false;
	return true;
}

int cairn_plugin_set_path(const char *type, const char *path, struct cairn_error *err)
{
	size_t i;

	if (!valid_type(type))
		return cairn_error_set(err, CAIRN_E_INVALID, "'%s' is not a plugin type name: use lowercase letters, digits, '-' and '_'",
				       type ? type : "");
	pthread_mutex_lock(&lock);
	for (i = 0; i < nregistered; i++)
		if (!strcmp(registered[i].type, type))
			break;
	if (i < nregistered) {
		free(registered[i].path);
		if (path) {
			registered[i].path = xstrdup(path);
		} else {
			free(registered[i].type);
			registered[i] = registered[--nregistered];
		}
	} else if (path) {
		ALLOC_GROW(registered, nregistered + 1, registered_alloc);
		registered[nregistered].type = xstrdup(type);
		registered[nregistered].path = xstrdup(path);
		nregistered++;
	}
	pthread_mutex_unlock(&lock);
	return 0;
}

static char *registered_path(const char *type)
{
	char *path = NULL;

	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < nregistered && !path; i++)
		if (!strcmp(registered[i].type, type))
			path = xstrdup(registered[i].path);
	pthread_mutex_unlock(&lock);
	return path;
}

static bool is_executable(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

/* DIR/cairn-provider-TYPE, then DIR/TYPE/cairn-provider-TYPE (a build tree). */
static char *in_dir(const char *dir, size_t len, const char *type, bool subdir)
{
	char *path;

	if (!len)
		return NULL;
	path = xasprintf("%.*s/cairn-provider-%s", (int)len, dir, type);
	if (is_executable(path))
		return path;
	free(path);
	if (!subdir)
		return NULL;
	path = xasprintf("%.*s/%s/cairn-provider-%s", (int)len, dir, type, type);
	if (is_executable(path))
		return path;
	free(path);
	return NULL;
}

static char *next_to_binary(const char *type)
{
	char exe[PATH_MAX], *slash, *found = NULL;
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	if (n <= 0)
		return NULL;
	exe[n] = '\0';
	slash = strrchr(exe, '/');
	if (!slash)
		return NULL;
	*slash = '\0';
	for (int up = 0; up < 2 && !found; up++) {
		char *dir = xasprintf("%s%s/plugins", exe, up ? "/.." : "");

		found = in_dir(dir, strlen(dir), type, true);
		free(dir);
	}
	return found;
}

char *cairn_plugin_find(const char *type)
{
	const char *env, *p;
	char *path;

	if (!valid_type(type))
		return NULL;
	path = registered_path(type);
	if (path)
		return path;

	env = getenv("CAIRN_PLUGIN_PATH");
	for (p = env; p && *p;) {
		size_t len = strcspn(p, ":");

		path = in_dir(p, len, type, false);
		if (path)
			return path;
		p += len;
		if (*p == ':')
			p++;
	}

	path = next_to_binary(type);
	if (path)
		return path;
	path = in_dir(CAIRN_LIBEXECDIR "/cairn", strlen(CAIRN_LIBEXECDIR "/cairn"), type, false);
	if (!path)
		cairn_debug("no plugin executable for type '%s'", type);
	return path;
}
