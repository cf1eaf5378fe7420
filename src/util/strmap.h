/*
 * strmap.h - a hash map from strings to pointers.
 *
 * Open addressing with linear probing; keys are borrowed (the caller keeps
 * them alive as long as the map), values are opaque.  Used to index
 * declarations and resources by name so that a 100,000-node stack is
 * validated and planned in linear time.
 */
#ifndef CAIRN_UTIL_STRMAP_H
#define CAIRN_UTIL_STRMAP_H

#include <stdbool.h>
#include <stddef.h>

struct cairn_strmap_entry {
	const char *key;
	void *value;
	size_t hash;
};

struct cairn_strmap {
	struct cairn_strmap_entry *v;
	size_t n, cap;
};

#define CAIRN_STRMAP_INIT { NULL, 0, 0 }

/* Insert or replace; returns the old value or NULL. */
void *cairn_strmap_put(struct cairn_strmap *m, const char *key, void *value);
void *cairn_strmap_get(const struct cairn_strmap *m, const char *key);
bool cairn_strmap_has(const struct cairn_strmap *m, const char *key);
void cairn_strmap_release(struct cairn_strmap *m);

#endif
