// alloc.h — allocation helpers: 64-byte aligned buffers for SIMD, and size arithmetic that reports
// overflow instead of wrapping (every size computed from a file goes through these).
#ifndef BERRY_ALLOC_H
#define BERRY_ALLOC_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

// Aligned to 64 bytes, zero-filled. Returns NULL on failure or when N * SIZE overflows.
void *berry_calloc(size_t n, size_t size);
void berry_free(void *p);

// A large zero-filled buffer (model-sized: repacked weights) mapped on its own and, where the kernel
// allows it, backed by 2 MiB transparent huge pages: streaming hundreds of MiB through 4 KiB pages costs a
// TLB miss every 4 KiB, which decode, reading each weight once per token, pays in full. Free it with
// berry_free_big and the same size. NULL on failure.
void *berry_alloc_big(size_t size);
void berry_free_big(void *p, size_t size);

// *OUT = A * B or A + B; false on overflow.
static inline bool berry_mul_ok(size_t a, size_t b, size_t *out) { return !__builtin_mul_overflow(a, b, out); }
static inline bool berry_add_ok(size_t a, size_t b, size_t *out) { return !__builtin_add_overflow(a, b, out); }

// Grows the malloc'd array *P (capacity *CAP elements of ELEM bytes) to hold at least NEED elements,
// doubling; false (with *P untouched) when memory runs out or the size overflows.
bool berry_grow(void **p, size_t *cap, size_t need, size_t elem);

// strdup that returns NULL on failure (C11 has none).
char *berry_strdup(const char *s);
char *berry_strndup(const char *s, size_t n);
// A followed by B in a new string (NULL reads as ""); NULL on failure.
char *berry_strjoin(const char *a, const char *b);

#endif
