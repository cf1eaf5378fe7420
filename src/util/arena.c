#include "util/common.h"

#include "util/arena.h"

#define BLOCK_SIZE (64 * 1024)

struct cairn_arena_block {
	struct cairn_arena_block *next;
	size_t used, size;
	max_align_t data[];
};

void *cairn_arena_alloc(struct cairn_arena *a, size_t size)
{
	struct cairn_arena_block *b = a->head;
	/* pointer alignment is all the tree needs; 16 would waste a
	 * quarter of a small node */
	size_t align = sizeof(void *);
	char *p;

	size = (size + align - 1) / align * align;
	if (!size)
		size = align;
	if (!b || b->size - b->used < size) {
		size_t cap = size > BLOCK_SIZE / 4 ? size : BLOCK_SIZE;

		b = xmalloc(sizeof(*b) + cap);
		b->size = cap;
		b->used = 0;
		if (size > BLOCK_SIZE / 4 && a->head) {
			/* A big one gets its own block behind the current one,
			 * so the current block's free space is not wasted. */
			b->next = a->head->next;
			a->head->next = b;
		} else {
			b->next = a->head;
			a->head = b;
		}
	}
	p = (char *)b->data + b->used;
	b->used += size;
	a->used += size;
	memset(p, 0, size);
	return p;
}

char *cairn_arena_strndup(struct cairn_arena *a, const char *s, size_t n)
{
	char *p = cairn_arena_alloc(a, n + 1);

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

void cairn_arena_release(struct cairn_arena *a)
{
	struct cairn_arena_block *b = a->head;

	while (b) {
		struct cairn_arena_block *next = b->next;

		free(b);
		b = next;
	}
	a->head = NULL;
	a->used = 0;
}
