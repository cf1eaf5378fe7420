#include "util/common.h"

#include "model/ynode.h"

const struct cairn_ypair *cairn_ynode_pair(const struct cairn_ynode *map, const char *key)
{
	if (!map || map->type != CAIRN_Y_MAP)
		return NULL;
	for (size_t i = 0; i < map->n; i++)
		if (!strcmp(map->pairs[i].key->text, key))
			return &map->pairs[i];
	return NULL;
}

const struct cairn_ynode *cairn_ynode_get(const struct cairn_ynode *map, const char *key)
{
	const struct cairn_ypair *p = cairn_ynode_pair(map, key);

	return p ? p->value : NULL;
}

const char *cairn_ynode_describe(const struct cairn_ynode *y)
{
	if (!y)
		return "nothing";
	switch (y->type) {
	case CAIRN_Y_MAP: return "a mapping";
	case CAIRN_Y_SEQ: return "a list";
	case CAIRN_Y_SCALAR:
		if (y->null)
			return "null";
		return y->quoted ? "a string" : "a scalar";
	}
	return "a value";
}
