/* json_arena.c - a bump allocator for jansson while one request body is validated.
 *
 * Parsing a small vote with json_loadb() costs about ten malloc/free pairs (the
 * object, its hashtable, every key and string, the lexer's buffer), which were
 * ~5% of the edge worker's time per vote. Between vc_json_arena_begin() and
 * vc_json_arena_end() jansson's allocations come from one per-thread block and
 * its frees are no-ops; the whole block is reused by the next validation.
 *
 * Outside an arena, and when a parse outgrows the block (large or hostile
 * bodies), allocations fall back to malloc()/free(), so the two kinds mix
 * safely: free() tells them apart by address. Nothing allocated inside an
 * arena may outlive vc_json_arena_end(); the validator only keeps its own
 * copies (vc_msg). Sanitizer builds define VC_NO_JSON_ARENA so that
 * AddressSanitizer and valgrind still see every jansson allocation. */
#include "json_arena.h"

#include <jansson.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#define ARENA_SIZE (64 * 1024)
#define ARENA_ALIGN 16

typedef struct {
    unsigned char *buf;
    size_t used;
    int active;
} vc_arena;

static __thread vc_arena arena;
static pthread_once_t arena_once = PTHREAD_ONCE_INIT;

static int in_arena(const void *p)
{
    const unsigned char *c = p;
    return arena.buf != NULL && c >= arena.buf && c < arena.buf + ARENA_SIZE;
}

static void *arena_malloc(size_t n)
{
    size_t need = (n + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);

    if (arena.active && need >= n && ARENA_SIZE - arena.used >= need) {
        void *p = arena.buf + arena.used;
        arena.used += need;
        return p;
    }
    return malloc(n);
}

static void arena_free(void *p)
{
    if (p != NULL && !in_arena(p)) {
        free(p);
    }
}

static void arena_install(void) { json_set_alloc_funcs(arena_malloc, arena_free); }

void vc_json_arena_begin(void)
{
#ifndef VC_NO_JSON_ARENA
    if (pthread_once(&arena_once, arena_install) != 0) {
        return; /* plain malloc, still correct */
    }
    if (arena.buf == NULL && (arena.buf = malloc(ARENA_SIZE)) == NULL) {
        return;
    }
    arena.used = 0;
    arena.active = 1;
#endif
}

void vc_json_arena_end(void)
{
    arena.active = 0;
    arena.used = 0;
}

size_t vc_json_arena_used(void) { return arena.used; }
