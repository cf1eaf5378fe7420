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

struct cairn_loc cairn_ynode_loc_at(const struct cairn_ynode *y, size_t off)
{
	struct cairn_loc loc = y->loc;
	size_t start = 0;

	if (y->type != CAIRN_Y_SCALAR || off > y->len || y->inexact)
		return loc;
	if (!y->block_col && memchr(y->text, '\n', off))
		return loc;
	if (y->block_col) {
		/* a literal block: its lines are the source's lines */
		for (size_t i = 0; i < off; i++)
			if (y->text[i] == '\n') {
				loc.line++;
				start = i + 1;
			}
		loc.col = y->block_col;
	}
	if (!start && !y->block_col)
		loc.col += y->skip;
	for (size_t i = start; i < off; i++)
		if (((unsigned char)y->text[i] & 0xC0) != 0x80)
			loc.col++;
	return loc;
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
