/*
 * fileio.h - small things about files every layer needs.
 */
#ifndef CAIRN_UTIL_FILEIO_H
#define CAIRN_UTIL_FILEIO_H

#include <stddef.h>

/* Write all n bytes to fd, again after EINTR and short writes; 0, or -1
 * with errno set. */
int cairn_write_all(int fd, const void *p, size_t n);

/* The user's home directory: $HOME, else the password database's; NULL
 * when neither says (borrowed). */
const char *cairn_home_dir(void);

#endif
