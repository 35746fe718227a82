/*
 * strbuf.h - a growable byte buffer, shared by the daemons (the api's request bodies, SSE
 * queues and metrics text; the chat sink's array parameters).
 */
#ifndef WORKERS_STRBUF_H
#define WORKERS_STRBUF_H

#include <stddef.h>

typedef struct {
    char *data; /* always NUL-terminated when non-NULL */
    size_t len;
    size_t cap;
} strbuf;

/* All return 0, or -1 on allocation failure (the buffer is left unchanged). */
int sb_append(strbuf *b, const char *data, size_t len);
int sb_appends(strbuf *b, const char *s);
int sb_appendf(strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Removes the first n bytes (what a reader already consumed). */
void sb_consume(strbuf *b, size_t n);
void sb_free(strbuf *b);

#endif
