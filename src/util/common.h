/*
 * common.h - what every libcairn .c file includes first.
 */
#ifndef CAIRN_UTIL_COMMON_H
#define CAIRN_UTIL_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cairn/error.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/xalloc.h"

/* A broken invariant: a bug in cairn, never a user's mistake (git's BUG()). */
#define BUG(...) cairn_bug(__FILE__, __LINE__, __VA_ARGS__)
_Noreturn void cairn_bug(const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define UNUSED __attribute__((unused))

/* Last: bans strcpy, sprintf and friends in every file that includes us. */
#include "util/banned.h"

#endif
