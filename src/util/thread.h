/*
 * thread.h - background threads and signals.
 */
#ifndef CAIRN_UTIL_THREAD_H
#define CAIRN_UTIL_THREAD_H

#include <pthread.h>
#include <stdbool.h>

/*
 * Start a background thread (detached or joinable) that takes no
 * asynchronous signal: SIGINT, SIGTERM, SIGCHLD, SIGPIPE and the others
 * are for the threads that wait for them.  Faults (SIGSEGV, SIGBUS, SIGFPE,
 * SIGILL, SIGABRT) stay deliverable: blocked, a crash in the thread would
 * kill the process without a word, past the sanitizers' reports.  Returns
 * pthread_create's result (0 or an errno value).
 */
int cairn_thread_start(pthread_t *t, bool detached, void *(*fn)(void *), void *arg);

#endif
