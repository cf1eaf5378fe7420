#include "util/common.h"

#include "util/strmap.h"

static size_t hash_str(const char *s)
{
	size_t h = 1469598103934665603ULL;   /* FNV-1a */

	while (*s) {
		h ^= (unsigned char)*s++;
		h *= 1099511628211ULL;
	}
	return h ? h : 1;
}

static void grow(struct cairn_strmap *m)
{
	struct cairn_strmap_entry *old = m->v;
	size_t oldcap = m->cap;

	m->cap = oldcap ? oldcap * 2 : 16;
	m->v = xcalloc(m->cap, sizeof(*m->v));
	for (size_t i = 0; i < oldcap; i++) {
		size_t j;

		if (!old[i].key)
			continue;
		for (j = old[i].hash & (m->cap - 1); m->v[j].key; j = (j + 1) & (m->cap - 1))
			;
		m->v[j] = old[i];
	}
	free(old);
}

static struct cairn_strmap_entry *find(const struct cairn_strmap *m, const char *key,
				       size_t h)
{
	if (!m->cap)
		return NULL;
	for (size_t j = h & (m->cap - 1);; j = (j + 1) & (m->cap - 1)) {
		struct cairn_strmap_entry *e = &m->v[j];

		if (!e->key || (e->hash == h && !strcmp(e->key, key)))
			return e;
	}
}

void *cairn_strmap_put(struct cairn_strmap *m, const char *key, void *value)
{
	size_t h = hash_str(key);
	struct cairn_strmap_entry *e;
	void *old;

	if ((m->n + 1) * 4 > m->cap * 3)
		grow(m);
	e = find(m, key, h);
	if (e->key) {
		old = e->value;
		e->value = value;
		return old;
	}
	e->key = key;
	e->hash = h;
	e->value = value;
	m->n++;
	return NULL;
}

void *cairn_strmap_get(const struct cairn_strmap *m, const char *key)
{
	struct cairn_strmap_entry *e = find(m, key, hash_str(key));

	return e && e->key ? e->value : NULL;
}

bool cairn_strmap_has(const struct cairn_strmap *m, const char *key)
{
	struct cairn_strmap_entry *e = find(m, key, hash_str(key));

	return e && e->key;
}

void cairn_strmap_release(struct cairn_strmap *m)
{
	free(m->v);
	m->v = NULL;
	m->n = m->cap = 0;
}
