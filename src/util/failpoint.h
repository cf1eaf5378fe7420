/*
 * failpoint.h - named places where a test build can make cairn crash.
 *
 * CAIRN_FAILPOINT("apply.after_intent") does nothing in a normal build.  In
 * a test build (-Dtest_build=true) it kills the process with SIGKILL when
 * the environment variable CAIRN_FAILPOINT names it: "NAME" crashes at the
 * first pass, "NAME:N" at the Nth.  Crash tests use it to stop cairn at
 * every step of the journal protocol (docs/internals/journal.md).
 */
#ifndef CAIRN_UTIL_FAILPOINT_H
#define CAIRN_UTIL_FAILPOINT_H

#ifdef CAIRN_TEST_BUILD
void cairn_failpoint(const char *name);
#define CAIRN_FAILPOINT(name) cairn_failpoint(name)
#else
#define CAIRN_FAILPOINT(name) do { } while (0)
#endif

#endif
