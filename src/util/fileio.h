/*
 * fileio.h - small things about files every layer needs.
 */
#ifndef CAIRN_UTIL_FILEIO_H
#define CAIRN_UTIL_FILEIO_H

#include <stddef.h>

#include "cairn/error.h"

/* Write all n bytes to fd, again after EINTR and short writes; 0, or -1
 * with errno set. */
int cairn_write_all(int fd, const void *p, size_t n);

/* Create or truncate path (mode 0600 when created) and write text to it;
 * -1 with err naming the file on failure. */
int cairn_write_file(const char *path, const char *text, struct cairn_error *err);

/* The user's home directory: $HOME, else the password database's; NULL
 * when neither says (borrowed). */
const char *cairn_home_dir(void);

#endif
