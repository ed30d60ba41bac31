// alloc.c — aligned zeroed allocation and string copies.
#include "base/alloc.h"
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

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

// Huge pages are 2 MiB on x86-64 and most arm64 kernels; the mapping is over-allocated by that much so
// that the buffer can start on a boundary, and the unused head and tail are unmapped again.
#define HUGE_PAGE ((size_t)2 << 20)

void *berry_alloc_big(size_t size) {
    if (size == 0) size = 1;
    size_t len = (size + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1), map_len;
    if (len < size || !berry_add_ok(len, HUGE_PAGE, &map_len)) return NULL;
    uint8_t *m = mmap(NULL, map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) return NULL;
    uint8_t *p = (uint8_t *)(((uintptr_t)m + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1));
    if (p > m) munmap(m, (size_t)(p - m));
    size_t tail = (size_t)(m + map_len - (p + len));
    if (tail) munmap(p + len, tail);
#ifdef MADV_HUGEPAGE
    // Advice only: a kernel without transparent huge pages leaves 4 KiB pages, which still work.
    madvise(p, len, MADV_HUGEPAGE);
#endif
    return p;  // anonymous mappings are zero-filled
}

void berry_free_big(void *p, size_t size) {
    if (!p) return;
    if (size == 0) size = 1;
    munmap(p, (size + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1));
}

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

char *berry_strjoin(const char *a, const char *b) {
    size_t na = a ? strlen(a) : 0, nb = b ? strlen(b) : 0, n;
    if (!berry_add_ok(na, nb, &n) || !berry_add_ok(n, 1, &n)) return NULL;
    char *d = malloc(n);
    if (!d) return NULL;
    if (na) memcpy(d, a, na);
    if (nb) memcpy(d + na, b, nb);
    d[na + nb] = 0;
    return d;
}
