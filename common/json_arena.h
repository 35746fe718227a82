/* json_arena.h - scope jansson's allocations to one validation (see json_arena.c). */
#ifndef VC_JSON_ARENA_H
#define VC_JSON_ARENA_H

#include <stddef.h>

/* From here on, on this thread, jansson allocates from a reusable block. */
void vc_json_arena_begin(void);
/* Every json_t made since begin must be released already; the block is reused. */
void vc_json_arena_end(void);
/* Bytes taken from the block since begin (tests). */
size_t vc_json_arena_used(void);

#endif
