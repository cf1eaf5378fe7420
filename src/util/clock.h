/*
 * clock.h - time for humans (UTC timestamps) and for measuring (monotonic).
 */
#ifndef CAIRN_UTIL_CLOCK_H
#define CAIRN_UTIL_CLOCK_H

#include <stdint.h>

/* Monotonic milliseconds, for elapsed times and timeouts. */
int64_t cairn_now_ms(void);
/* Wall-clock milliseconds since the epoch (CLOCK_REALTIME), for times that
 * other processes compare, such as lock leases.  It can jump. */
int64_t cairn_now_realtime_ms(void);
/* "2026-11-21T23:06:00Z" for the current time; out holds 21 bytes. */
void cairn_timestamp(char out[21]);

/* A random UUID (version 4) from libsodium; out holds 37 bytes. */
void cairn_uuid(char out[37]);

#endif
