// split.h — the fuzz targets' input: DATA copied into a NUL-terminated buffer and split at its first
// NUL byte into two texts, so that one input can carry two strings (an answer and a reference, two
// solutions). Returns the buffer to free (NULL when too long or out of memory).
#ifndef BERRY_FUZZ_SPLIT_H
#define BERRY_FUZZ_SPLIT_H
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static inline char *fuzz_split(const uint8_t *data, size_t size, const char **first, const char **second) {
    if (size > 4096) return NULL;
    char *buf = malloc(size + 2);
    if (!buf) return NULL;
    memcpy(buf, data, size);
    buf[size] = 0;
    buf[size + 1] = 0;
    *first = buf;
    *second = buf + strlen(buf) + 1;
    if (*second > buf + size) *second = buf + size;
    return buf;
}

#endif
