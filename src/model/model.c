/*
 * model.c - owning and looking up the parts of a struct cairn_model.
 */
#include "util/common.h"

#include <ctype.h>

#include "cairn/model.h"
#include "model/model-priv.h"
#include "model/ynode.h"
#include "util/units.h"

struct cairn_model_priv *cairn_model_priv(struct cairn_model *m)
{
	if (!m->priv)
		m->priv = xcalloc(1, sizeof(struct cairn_model_priv));
	return m->priv;
}

void cairn_model_index(struct cairn_model *m)
{
	struct cairn_model_priv *p = cairn_model_priv(m);

	for (int k = 0; k < CAIRN_KIND__COUNT; k++)
		cairn_strmap_release(&p->decls[k]);
	cairn_strmap_release(&p->res);
	for (size_t i = 0; i < m->ndecls; i++)
		cairn_strmap_put(&p->decls[m->decls[i].kind], m->decls[i].name,
				 (void *)(uintptr_t)(i + 1));
	for (size_t i = 0; i < m->nres; i++)
		cairn_strmap_put(&p->res, m->res[i].address, (void *)(uintptr_t)(i + 1));
}

void cairn_model_free(struct cairn_model *m)
{
	struct cairn_model_priv *p;

	if (!m)
		return;
	for (size_t i = 0; i < m->ndecls; i++) {
		free(m->decls[i].name);
		json_decref(m->decls[i].attrs);
		json_decref(m->decls[i].sensitive);
	}
	free(m->decls);
	for (size_t i = 0; i < m->nres; i++) {
		free(m->res[i].address);
		free(m->res[i].name);
		json_decref(m->res[i].desired);
		free(m->res[i].deps);
	}
	free(m->res);
	free(m->order);
	free(m->stack);
	free(m->description);
	json_decref(m->variables);
	json_decref(m->sensitive);
	json_decref(m->outputs);
	json_decref(m->design);
	p = m->priv;
	if (p) {
		for (int k = 0; k < CAIRN_KIND__COUNT; k++)
			cairn_strmap_release(&p->decls[k]);
		cairn_strmap_release(&p->res);
		cairn_arena_release(&p->arena);
		free(p);
	}
	free(m);
}

const struct cairn_decl *cairn_model_decl(const struct cairn_model *m,
					  enum cairn_kind kind, const char *name)
{
	const struct cairn_model_priv *p = m->priv;
	uintptr_t i;

	if ((unsigned)kind >= CAIRN_KIND__COUNT)
		return NULL;
	if (p) {
		i = (uintptr_t)cairn_strmap_get(&p->decls[kind], name);
		return i ? &m->decls[i - 1] : NULL;
	}
	for (size_t j = 0; j < m->ndecls; j++)
		if (m->decls[j].kind == kind && !strcmp(m->decls[j].name, name))
			return &m->decls[j];
	return NULL;
}

ssize_t cairn_model_resource_index(const struct cairn_model *m, const char *address)
{
	const struct cairn_model_priv *p = m->priv;

	if (p) {
		uintptr_t i = (uintptr_t)cairn_strmap_get(&p->res, address);

		return i ? (ssize_t)(i - 1) : -1;
	}
	for (size_t j = 0; j < m->nres; j++)
		if (!strcmp(m->res[j].address, address))
			return (ssize_t)j;
	return -1;
}

const struct cairn_resource *cairn_model_resource(const struct cairn_model *m,
						  const char *address)
{
	ssize_t i = cairn_model_resource_index(m, address);

	return i < 0 ? NULL : &m->res[i];
}

struct cairn_loc cairn_decl_field_loc(const struct cairn_decl *d, const char *path)
{
	const struct cairn_ynode *y = d->yaml;
	struct cairn_loc loc = d->loc;
	char *copy, *part, *save = NULL;

	if (!y || !path || !*path)
		return loc;
	copy = xstrdup(path);
	for (part = copy; part; part = save) {
		save = strchr(part, '.');
		if (save)
			*save++ = '\0';
		if (y->type == CAIRN_Y_MAP) {
			const struct cairn_ypair *pair = cairn_ynode_pair(y, part);

			if (!pair)
				break;
			loc = pair->key->loc;
			y = pair->value;
		} else if (y->type == CAIRN_Y_SEQ) {
			char *end;
			unsigned long i = strtoul(part, &end, 10);

			if (*end || i >= y->n)
				break;
			y = y->items[i];
			loc = y->loc;
		} else {
			break;
		}
	}
	free(copy);
	return loc;
}

char *cairn_address_format(enum cairn_kind kind, const char *name, int index)
{
	if (index < 0)
		return xasprintf("%s.%s", cairn_kind_name(kind), name);
	return xasprintf("%s.%s[%d]", cairn_kind_name(kind), name, index);
}

int cairn_address_parse(const char *address, enum cairn_kind *kind, char **name,
			int *index, struct cairn_error *err)
{
	const char *dot = strchr(address, '.'), *br, *nm;
	char *k;
	int kk;
	long idx = -1;

	if (!dot)
		goto bad;
	k = xstrndup(address, dot - address);
	kk = cairn_kind_parse(k);
	free(k);
	if (kk < 0)
		goto bad;
	nm = dot + 1;
	br = strchr(nm, '[');
	if (br) {
		char *end;

		if (!isdigit((unsigned char)br[1]))
			goto bad;
		idx = strtol(br + 1, &end, 10);
		if (*end != ']' || end[1] || idx > 1000000)
			goto bad;
	} else {
		br = nm + strlen(nm);
	}
	if (br == nm)
		goto bad;
	{
		char *n = xstrndup(nm, br - nm);
		bool ok = cairn_name_valid(n, NULL);

		free(n);
		if (!ok)
			goto bad;
	}
	*kind = kk;
	*name = xstrndup(nm, br - nm);
	*index = (int)idx;
	return 0;
bad:
	return cairn_error_set(err, CAIRN_E_INVALID, "malformed address '%s'", address);
}
