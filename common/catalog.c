/*
 * catalog.c - poll catalog loader (see catalog.h).  The catalog is checked
 * strictly at load time so that a bad file fails `nginx -t` / daemon start,
 * not the first vote.
 */
#include "catalog.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#define VC_CATALOG_FILE_MAX (16 * 1024 * 1024)

static void free_strv(char **v, size_t n)
{
    if (v == NULL) {
        return;
    }
    for (size_t i = 0; i < n; i++) {
        free(v[i]);
    }
    free(v);
}

void vc_catalog_free(vc_catalog *cat)
{
    if (cat == NULL) {
        return;
    }
    for (size_t i = 0; i < cat->n; i++) {
        vc_poll *p = &cat->polls[i];
        free(p->id);
        free(p->title);
        free_strv(p->choices, p->nchoices);
        free_strv(p->attrs, p->nattrs);
    }
    free(cat->polls);
    free(cat);
}

/* Identifier-ish strings in the catalog: non-empty, bounded, no control
 * characters (they end up in Redis keys and Prometheus labels). */
static int name_ok(const char *s, size_t len, size_t max)
{
    if (len == 0 || len > max || memchr(s, '\0', len)) {
        return 0;
    }
    for (size_t i = 0; i < len; i++) {
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) {
            return 0;
        }
    }
    return 1;
}

/* array of unique strings -> malloc'd vector */
static int load_strv(json_t *arr, size_t max, size_t maxn, char ***out, size_t *n, const char *what,
                     const char *poll, char *err, size_t errlen)
{
    size_t i, j;
    json_t *v;

    *out = NULL;
    *n = 0;
    if (!json_is_array(arr)) {
        snprintf(err, errlen, "poll \"%s\": \"%s\" must be an array of strings", poll, what);
        return -1;
    }
    if (json_array_size(arr) > maxn) {
        snprintf(err, errlen, "poll \"%s\": more than %zu %s", poll, maxn, what);
        return -1;
    }
    *out = calloc(json_array_size(arr) + 1, sizeof(char *));
    if (*out == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    json_array_foreach(arr, i, v)
    {
        if (!json_is_string(v) || !name_ok(json_string_value(v), json_string_length(v), max)) {
            snprintf(err, errlen,
                     "poll \"%s\": %s[%zu] must be a string of 1-%zu characters "
                     "without control characters",
                     poll, what, i, max);
            return -1;
        }
        for (j = 0; j < *n; j++) {
            if (strcmp((*out)[j], json_string_value(v)) == 0) {
                snprintf(err, errlen, "poll \"%s\": duplicate %s \"%s\"", poll, what, (*out)[j]);
                return -1;
            }
        }
        (*out)[*n] = strdup(json_string_value(v));
        if ((*out)[*n] == NULL) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        (*n)++;
    }
    return 0;
}

static int load_poll(json_t *jp, size_t idx, vc_poll *p, char *err, size_t errlen)
{
    json_t *id = json_object_get(jp, "id");
    json_t *title = json_object_get(jp, "title");
    json_t *attrs = json_object_get(jp, "attrs");

    if (!json_is_object(jp)) {
        snprintf(err, errlen, "polls[%zu] is not an object", idx);
        return -1;
    }
    if (!json_is_string(id) ||
        !name_ok(json_string_value(id), json_string_length(id), VC_POLL_ID_MAX) ||
        strchr(json_string_value(id), ':') || strchr(json_string_value(id), ' ')) {
        snprintf(err, errlen,
                 "polls[%zu].id must be a string of 1-%d characters without "
                 "spaces, ':' or control characters",
                 idx, VC_POLL_ID_MAX);
        return -1;
    }
    p->id = strdup(json_string_value(id));
    p->title = strdup(json_is_string(title) ? json_string_value(title) : p->id ? p->id : "");
    if (p->id == NULL || p->title == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (load_strv(json_object_get(jp, "choices"), VC_CHOICE_MAX, 4096, &p->choices, &p->nchoices,
                  "choices", p->id, err, errlen) < 0) {
        return -1;
    }
    if (p->nchoices == 0) {
        snprintf(err, errlen, "poll \"%s\": no choices", p->id);
        return -1;
    }
    if (attrs == NULL) {
        attrs = json_array(); /* absent attrs == none required */
        int rc = load_strv(attrs, VC_ATTR_NAME_MAX, VC_POLL_ATTRS_MAX, &p->attrs, &p->nattrs,
                           "attrs", p->id, err, errlen);
        json_decref(attrs);
        return rc;
    }
    return load_strv(attrs, VC_ATTR_NAME_MAX, VC_POLL_ATTRS_MAX, &p->attrs, &p->nattrs, "attrs",
                     p->id, err, errlen);
}

vc_catalog *vc_catalog_parse(const char *buf, size_t len, char *err, size_t errlen)
{
    json_error_t je;
    json_t *root, *polls, *jp;
    vc_catalog *cat;
    size_t i;

    root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
    if (root == NULL) {
        snprintf(err, errlen, "line %d: %s", je.line, je.text);
        return NULL;
    }
    polls = json_object_get(root, "polls");
    if (!json_is_array(polls) || json_array_size(polls) == 0) {
        snprintf(err, errlen, "\"polls\" must be a non-empty array");
        json_decref(root);
        return NULL;
    }
    cat = calloc(1, sizeof(*cat));
    if (cat == NULL || (cat->polls = calloc(json_array_size(polls), sizeof(vc_poll))) == NULL) {
        snprintf(err, errlen, "out of memory");
        free(cat);
        json_decref(root);
        return NULL;
    }
    json_array_foreach(polls, i, jp)
    {
        cat->n = i + 1; /* so vc_catalog_free releases the partial poll */
        if (load_poll(jp, i, &cat->polls[i], err, errlen) < 0) {
            goto fail;
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp(cat->polls[j].id, cat->polls[i].id) == 0) {
                snprintf(err, errlen, "duplicate poll id \"%s\"", cat->polls[i].id);
                goto fail;
            }
        }
    }
    json_decref(root);
    return cat;
fail:
    json_decref(root);
    vc_catalog_free(cat);
    return NULL;
}

vc_catalog *vc_catalog_load(const char *path, char *err, size_t errlen)
{
    char tmp[256];
    char *buf = NULL;
    size_t len = 0, cap = 0;
    FILE *f = fopen(path, "re");

    if (f == NULL) {
        snprintf(err, errlen, "open(\"%s\"): %s", path, strerror(errno));
        return NULL;
    }
    for (;;) {
        if (len == cap) {
            if (cap >= VC_CATALOG_FILE_MAX) {
                snprintf(err, errlen, "\"%s\" is larger than %d bytes", path, VC_CATALOG_FILE_MAX);
                goto fail;
            }
            cap = cap ? cap * 2 : 16384;
            char *nb = realloc(buf, cap);
            if (nb == NULL) {
                snprintf(err, errlen, "out of memory");
                goto fail;
            }
            buf = nb;
        }
        size_t n = fread(buf + len, 1, cap - len, f);
        len += n;
        if (n == 0) {
            break;
        }
    }
    if (ferror(f)) {
        snprintf(err, errlen, "read(\"%s\"): %s", path, strerror(errno));
        goto fail;
    }
    fclose(f);
    vc_catalog *cat = vc_catalog_parse(buf, len, tmp, sizeof(tmp));
    free(buf);
    if (cat == NULL) {
        snprintf(err, errlen, "\"%s\": %s", path, tmp);
    }
    return cat;
fail:
    fclose(f);
    free(buf);
    return NULL;
}

const vc_poll *vc_catalog_find(const vc_catalog *cat, const char *id, size_t len)
{
    for (size_t i = 0; i < cat->n; i++) {
        if (strlen(cat->polls[i].id) == len && memcmp(cat->polls[i].id, id, len) == 0) {
            return &cat->polls[i];
        }
    }
    return NULL;
}

static int strv_index(char **v, size_t n, const char *s, size_t len)
{
    for (size_t i = 0; i < n; i++) {
        if (strlen(v[i]) == len && memcmp(v[i], s, len) == 0) {
            return (int)i;
        }
    }
    return -1;
}

int vc_poll_has_choice(const vc_poll *p, const char *choice, size_t len)
{
    return strv_index(p->choices, p->nchoices, choice, len) >= 0;
}

int vc_poll_attr_index(const vc_poll *p, const char *name, size_t len)
{
    return strv_index(p->attrs, p->nattrs, name, len);
}
