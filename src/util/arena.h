/*
 * arena.h - many small allocations freed at once.
 *
 * The YAML tree of a stack is thousands of small nodes that all die
 * together; an arena hands them out from large blocks and frees the blocks in
 * one go.  Memory from cairn_arena_alloc() is zeroed and aligned for pointers
 * and 64-bit integers (not for long double or SIMD types); it belongs to the arena and must not be passed to free().
 */
#ifndef CAIRN_UTIL_ARENA_H
#define CAIRN_UTIL_ARENA_H

#include <stddef.h>

struct cairn_arena_block;

struct cairn_arena {
	struct cairn_arena_block *head;
	size_t used;    /* bytes handed out, for statistics */
};

#define CAIRN_ARENA_INIT { NULL, 0 }

void *cairn_arena_alloc(struct cairn_arena *a, size_t size);
char *cairn_arena_strndup(struct cairn_arena *a, const char *s, size_t n);
void cairn_arena_release(struct cairn_arena *a);

#endif
