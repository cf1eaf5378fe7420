#include "util/common.h"

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include "util/failpoint.h"

#ifdef CAIRN_TEST_BUILD
void cairn_failpoint(const char *name)
{
	static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
	static long hits;
	const char *want = getenv("CAIRN_FAILPOINT");
	size_t n = strlen(name);
	long at = 1;

	if (!want || strncmp(want, name, n) || (want[n] && want[n] != ':'))
		return;
	if (want[n] == ':')
		at = strtol(want + n + 1, NULL, 10);
	pthread_mutex_lock(&mu);
	if (++hits == at)
		kill(getpid(), SIGKILL);
	pthread_mutex_unlock(&mu);
}
#endif
