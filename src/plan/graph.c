#include "util/common.h"

#include "cairn/plan.h"

/*
 * DOT for `cairn graph`.  The output is deterministic (resources in model
 * order, each one's dependencies in the order the model lists them), so it
 * can be compared with a golden file.
 */

/* A DOT double-quoted identifier: only '"' and '\' need escaping. */
static void put_quoted(FILE *out, const char *s)
{
	fputc('"', out);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', out);
		if (*s == '\n')
			fputs("\\n", out);
		else
			fputc(*s, out);
	}
	fputc('"', out);
}

static const char *kind_shape(enum cairn_kind k)
{
	switch (k) {
	case CAIRN_KIND_NODE:
		return "box";
	case CAIRN_KIND_NETWORK:
		return "ellipse";
	case CAIRN_KIND_VOLUME:
		return "cylinder";
	case CAIRN_KIND_POOL:
		return "folder";
	default:
		return "plaintext";
	}
}

void cairn_graph_dot(const struct cairn_model *m, FILE *out)
{
	fputs("digraph ", out);
	put_quoted(out, m->stack ? m->stack : "");
	fputs(" {\n", out);
	fputs("\t/* A -> B: A needs B, so B is created before A and deleted after it. */\n",
	      out);
	fputs("\trankdir=LR;\n", out);

	for (size_t i = 0; i < m->nres; i++) {
		const struct cairn_resource *r = &m->res[i];

		fputc('\t', out);
		put_quoted(out, r->address);
		fputs(" [label=", out);
		put_quoted(out, r->address);
		fprintf(out, ", shape=%s];\n", kind_shape(r->kind));
	}
	for (size_t i = 0; i < m->nres; i++) {
		const struct cairn_resource *r = &m->res[i];

		for (size_t d = 0; d < r->ndeps; d++) {
			if (r->deps[d] >= m->nres)
				BUG("resource '%s' depends on index %zu of %zu", r->address,
				    r->deps[d], m->nres);
			fputc('\t', out);
			put_quoted(out, r->address);
			fputs(" -> ", out);
			put_quoted(out, m->res[r->deps[d]].address);
			fputs(";\n", out);
		}
	}
	fputs("}\n", out);
}
