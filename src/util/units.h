/*
 * units.h - the value syntaxes of the stack language: sizes, durations,
 * CIDRs and names.  Parsers take a NUL-terminated string, store the result
 * through the out pointer and return 0, or set err (no location: the caller
 * knows where the text came from) and return -1.
 */
#ifndef CAIRN_UTIL_UNITS_H
#define CAIRN_UTIL_UNITS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cairn/error.h"

/*
 * Sizes: a number with a unit, "256MiB", "2GiB", "1.5G", "100MB".  K, M, G, T
 * and KiB, MiB, GiB, TiB are powers of 1024; KB, MB, GB, TB powers of 1000;
 * "B" is bytes.  A bare number is refused (except 0): "512" is ambiguous.
 */
int cairn_parse_size(const char *s, uint64_t *bytes, struct cairn_error *err);
/* Print a size the shortest exact way: "256MiB", "1536MiB", "3B". */
void cairn_format_size(uint64_t bytes, char *out, size_t outsz);

/* Durations: "500ms", "30s", "10m", "1h", "1h30m", "2d"; result in ms. */
int cairn_parse_duration(const char *s, int64_t *ms, struct cairn_error *err);
void cairn_format_duration(int64_t ms, char *out, size_t outsz);

struct cairn_cidr {
	int family;                 /* AF_INET or AF_INET6 */
	unsigned char addr[16];     /* network address, host bits zero */
	int prefix;
};

/* "10.0.0.0/24", "fd00::/64".  Host bits must be zero. */
int cairn_parse_cidr(const char *s, struct cairn_cidr *out, struct cairn_error *err);
bool cairn_cidr_overlap(const struct cairn_cidr *a, const struct cairn_cidr *b);
/* Number of addresses, saturated at UINT64_MAX. */
uint64_t cairn_cidr_size(const struct cairn_cidr *c);

/*
 * Names of stacks, nodes, networks...: [a-z][a-z0-9-]*, at most 63
 * characters, not ending in '-'.  Returns true when valid; otherwise, if why
 * is not NULL, points it at a static explanation.
 */
bool cairn_name_valid(const char *s, const char **why);

/*
 * The candidate closest to word by edit distance, when close enough to be a
 * likely typo; NULL otherwise.  candidates ends with NULL.
 */
const char *cairn_did_you_mean(const char *word, const char *const *candidates);
size_t cairn_edit_distance(const char *a, const char *b);

#endif
