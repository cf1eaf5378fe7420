/*
 * command.h - running another program: one runner for every command cairn
 * starts (ansible-playbook, ssh-agent, xorriso...), after libvirt's
 * vircommand.
 *
 * A command is an argument vector, never a shell string: nothing is
 * interpreted.  It runs in a process group of its own (a Ctrl-C meant for
 * cairn is cairn's to handle), with the environment given added to ours,
 * standard input from memory (or /dev/null), and its standard output and
 * error captured into buffers whose ceilings (buf.h) bound what is kept:
 * output past a ceiling is read and dropped, never blocking the command.
 * A timeout kills the whole process group (SIGTERM, then SIGKILL after two
 * seconds).
 *
 * Threads: any number of commands may run at once from different threads.
 * Ownership: everything in struct cairn_command is borrowed for the call.
 */
#ifndef CAIRN_UTIL_COMMAND_H
#define CAIRN_UTIL_COMMAND_H

#include <stddef.h>

#include "cairn/error.h"
#include "util/buf.h"

struct cairn_command {
	const char *const *argv;    /* argv[0] is looked up in PATH when it has no '/' */
	const char *const *env;     /* "NAME=VALUE" set for it (NULL-terminated), or NULL */
	const char *dir;            /* its working directory; NULL: ours */
	const void *in;             /* its standard input; NULL: /dev/null */
	size_t in_len;
	int timeout_ms;             /* <= 0: no limit */
};

/*
 * Run c to its end.  *status receives its exit status, or 128 + N when
 * signal N ended it.  out and errout (either may be NULL to discard; the
 * same buffer twice interleaves them) receive its output, appended, up to
 * their ceilings.  Returns 0 when it ran (whatever its status); -1 with err
 * set when it could not be started (CAIRN_E_NOTFOUND: no such program) or
 * ran past its timeout (CAIRN_E_RETRYABLE, "'ansible-playbook' ran for
 * more than 60000 ms and was killed").
 */
int cairn_command_run(const struct cairn_command *c, struct cairn_buf *out, struct cairn_buf *errout,
		      int *status, struct cairn_error *err);

#endif
