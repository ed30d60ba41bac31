// alloc.c — aligned zeroed allocation and string copies.
#include "base/alloc.h"
#include <stdlib.h>
#include <string.h>

void *berry_calloc(size_t n, size_t size) {
    size_t bytes;
    if (!berry_mul_ok(n, size, &bytes)) return NULL;
    if (bytes == 0) bytes = 1;
    size_t rounded = (bytes + 63) & ~(size_t)63;
    if (rounded < bytes) return NULL;
    void *p = aligned_alloc(64, rounded);
    if (p) memset(p, 0, rounded);
    return p;
}

void berry_free(void *p) { free(p); }

bool berry_grow(void **p, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return true;
    size_t c = *cap ? *cap : 64, bytes;
    while (c < need) {
        if (c > SIZE_MAX / 2) return false;
        c *= 2;
    }
    if (!berry_mul_ok(c, elem, &bytes)) return false;
    void *q = realloc(*p, bytes);
    if (!q) return false;
    *p = q;
    *cap = c;
    return true;
}

char *berry_strndup(const char *s, size_t n) {
    char *d = malloc(n + 1);
    if (!d) return NULL;
    memcpy(d, s, n);
    d[n] = 0;
    return d;
}

char *berry_strdup(const char *s) { return berry_strndup(s, strlen(s)); }
