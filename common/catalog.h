/*
 * catalog.h - the poll catalog (stack/polls.json, docs/CONTRACT.md):
 *   {"polls":[{"id":"...","title":"...","choices":["..."],"attrs":["..."]}]}
 *
 * Loaded by the edge module (vote validation, reloaded with nginx reload), the
 * vote sink (poison check) and the api daemon (GET /api/polls).  The loaded
 * catalog is immutable and malloc-owned; free it with vc_catalog_free().
 */
#ifndef VC_CATALOG_H
#define VC_CATALOG_H

#include <stddef.h>

#define VC_POLL_ID_MAX 64
#define VC_CHOICE_MAX 64
#define VC_ATTR_NAME_MAX 64
#define VC_POLL_ATTRS_MAX 16

typedef struct {
    char *id;
    char *title;
    char **choices;
    size_t nchoices;
    char **attrs; /* required attribute names, exactly this set */
    size_t nattrs;
} vc_poll;

typedef struct {
    vc_poll *polls;
    size_t n;
} vc_catalog;

/* Load and check a catalog file.  Returns NULL and a message in err on error
 * (missing fields, duplicate poll ids or choices, too long names...). */
vc_catalog *vc_catalog_load(const char *path, char *err, size_t errlen);

/* Same, from memory. */
vc_catalog *vc_catalog_parse(const char *buf, size_t len, char *err, size_t errlen);

void vc_catalog_free(vc_catalog *cat);

/* Lookups by (pointer, length), so callers need not NUL-terminate. */
const vc_poll *vc_catalog_find(const vc_catalog *cat, const char *id, size_t len);
int vc_poll_has_choice(const vc_poll *p, const char *choice, size_t len);
/* index of attribute name in p->attrs, or -1 */
int vc_poll_attr_index(const vc_poll *p, const char *name, size_t len);

#endif
