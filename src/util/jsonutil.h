/*
 * jsonutil.h - jansson helpers shared by the planner, the state store and
 * the CLI.
 */
#ifndef CAIRN_UTIL_JSONUTIL_H
#define CAIRN_UTIL_JSONUTIL_H

#include <jansson.h>
#include <stddef.h>

/* Canonical text of v: compact, keys sorted.  Caller frees. */
char *cairn_json_canonical(const json_t *v);

/*
 * A content hash of v's canonical text: "b2:" and 32 hex digits of
 * BLAKE2b-128 (libsodium).  out must hold CAIRN_HASH_LEN bytes.
 */
#define CAIRN_HASH_LEN 36
void cairn_json_hash(const json_t *v, char out[CAIRN_HASH_LEN]);
void cairn_hash_bytes(const void *data, size_t len, char out[CAIRN_HASH_LEN]);

/* json_object_get() that returns the string, or NULL if absent or not one. */
const char *cairn_json_str(const json_t *obj, const char *key);

#endif
