/*
 * model-priv.h - what a struct cairn_model keeps behind its priv pointer:
 * the YAML trees (in an arena) and the indexes used for lookups.  Filled by
 * the spec loader, freed by cairn_model_free().
 */
#ifndef CAIRN_MODEL_PRIV_H
#define CAIRN_MODEL_PRIV_H

#include "util/arena.h"
#include "util/strmap.h"

struct cairn_model_priv {
	struct cairn_arena arena;                    /* the YAML trees */
	struct cairn_strmap decls[CAIRN_KIND__COUNT];/* name -> decl index + 1 */
	struct cairn_strmap res;                     /* address -> res index + 1 */
};

struct cairn_model_priv *cairn_model_priv(struct cairn_model *m);
/* (Re)build the name and address indexes after decls/res changed. */
void cairn_model_index(struct cairn_model *m);

#endif
