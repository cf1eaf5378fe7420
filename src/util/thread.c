/*
 * thread.c - background threads that leave asynchronous signals to others.
 */
#include "util/common.h"

#include <signal.h>

#include "util/thread.h"

int cairn_thread_start(pthread_t *t, bool detached, void *(*fn)(void *), void *arg)
{
	static const int faults[] = { SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT };
	pthread_attr_t attr;
	sigset_t async, old;
	int rc;

	sigfillset(&async);
	for (size_t i = 0; i < ARRAY_SIZE(faults); i++)
		sigdelset(&async, faults[i]);
	/* the new thread inherits the mask of the one that creates it */
	pthread_sigmask(SIG_SETMASK, &async, &old);
	pthread_attr_init(&attr);
	if (detached)
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	rc = pthread_create(t, &attr, fn, arg);
	pthread_attr_destroy(&attr);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return rc;
}
