// gguf.c — GGUF v3 (and v2, same layout) reader through mmap or memory, and an atomic writer.
//
// File layout (little-endian), as in the GGUF specification:
//   "GGUF" u32 version  u64 n_tensors  u64 n_kv
//   n_kv    x { string key, u32 value_type, value }
//   n_tensors x { string name, u32 n_dims, u64 ne[n_dims], u32 ggml_type, u64 offset }
//   zero padding to general.alignment (default 32), then the data section; each tensor's offset is
//   relative to the data section and a multiple of the alignment.
// A string is u64 length + bytes (no terminator). An array is u32 element type, u64 count, elements.
#include "model/gguf.h"
#include "base/alloc.h"
#include "tensor/types.h"
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "gguf.c copies file values as they are: it needs a little-endian host"
#endif

// Keys and tensor names longer than this are corrupt (real ones are tens of bytes; llama.cpp caps
// tensor names at 63). The limit keeps error messages and hash work bounded.
#define MAX_NAME 65536
// llama.cpp rejects tensor names of 64 bytes or more, so the writer does too.
#define MAX_TENSOR_NAME_WRITE 63

// Bytes per element of a scalar type; 0 for STRING, ARRAY and unknown ids.
static size_t elem_size(uint32_t t) {
    switch (t) {
    case BERRY_GGUF_UINT8: case BERRY_GGUF_INT8: case BERRY_GGUF_BOOL: return 1;
    case BERRY_GGUF_UINT16: case BERRY_GGUF_INT16: return 2;
    case BERRY_GGUF_UINT32: case BERRY_GGUF_INT32: case BERRY_GGUF_FLOAT32: return 4;
    case BERRY_GGUF_UINT64: case BERRY_GGUF_INT64: case BERRY_GGUF_FLOAT64: return 8;
    default: return 0;
    }
}

static bool is_pow2(uint64_t x) { return x && !(x & (x - 1)); }

// Strict UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF.
static bool utf8_ok(const uint8_t *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        if (c < 0x80) { i++; continue; }
        size_t k;
        uint32_t cp, min;
        if ((c & 0xE0) == 0xC0) { k = 1; cp = c & 0x1F; min = 0x80; }
        else if ((c & 0xF0) == 0xE0) { k = 2; cp = c & 0x0F; min = 0x800; }
        else if ((c & 0xF8) == 0xF0) { k = 3; cp = c & 0x07; min = 0x10000; }
        else return false;
        if (n - i <= k) return false;
        for (size_t j = 1; j <= k; j++) {
            if ((s[i + j] & 0xC0) != 0x80) return false;
            cp = cp << 6 | (s[i + j] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
        i += k + 1;
    }
    return true;
}

// Copies a name from a file into DST for an error message: at most ~48 bytes, control bytes and (in
// names that are not UTF-8) high bytes escaped as \xNN, so the message stays one printable line.
static void quote(char *dst, size_t cap, const uint8_t *s, size_t n) {
    bool utf8 = utf8_ok(s, n);
    size_t o = 0, i = 0;
    while (i < n && o + 8 < cap) {
        if (i >= 48) { memcpy(dst + o, "...", 3); o += 3; break; }
        uint8_t c = s[i];
        if (c < 0x20 || c == 0x7F || c == '\\' || (c >= 0x80 && !utf8)) {
            o += (size_t)snprintf(dst + o, cap - o, "\\x%02X", c);
            i++;
        } else if (c >= 0x80) {
            size_t k = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : 4;
            if (o + k + 8 >= cap) break;
            memcpy(dst + o, s + i, k);
            o += k;
            i += k;
        } else {
            dst[o++] = (char)c;
            i++;
        }
    }
    dst[o] = 0;
}

// ---- a hash index from names to positions, shared by the reader and the writer -------------------

typedef struct { const char *s; size_t len; uint64_t h; int64_t idx; } slot;  // idx < 0: empty
typedef struct { slot *slots; size_t cap, n; } htab;

static uint64_t hash(const char *s, size_t n) {  // FNV-1a, 64-bit
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) h = (h ^ (uint8_t)s[i]) * 0x100000001b3ull;
    return h;
}

static bool ht_alloc(htab *t, size_t cap) {
    t->slots = malloc(cap * sizeof *t->slots);
    if (!t->slots) return false;
    for (size_t i = 0; i < cap; i++) t->slots[i].idx = -1;
    t->cap = cap;
    t->n = 0;
    return true;
}

static int64_t ht_get(const htab *t, const char *s, size_t len) {
    if (!t->cap) return -1;
    uint64_t h = hash(s, len);
    for (size_t i = h & (t->cap - 1);; i = (i + 1) & (t->cap - 1)) {
        const slot *e = &t->slots[i];
        if (e->idx < 0) return -1;
        if (e->h == h && e->len == len && memcmp(e->s, s, len) == 0) return e->idx;
    }
}

// Adds a name that is not present yet. S must stay valid while the table lives. Load stays <= 1/2.
static bool ht_put(htab *t, const char *s, size_t len, int64_t idx) {
    if (2 * (t->n + 1) > t->cap) {
        htab bigger;
        if (!ht_alloc(&bigger, t->cap ? 2 * t->cap : 16)) return false;
        for (size_t i = 0; i < t->cap; i++) {
            slot e = t->slots[i];
            if (e.idx < 0) continue;
            size_t j = e.h & (bigger.cap - 1);
            while (bigger.slots[j].idx >= 0) j = (j + 1) & (bigger.cap - 1);
            bigger.slots[j] = e;
        }
        bigger.n = t->n;
        free(t->slots);
        *t = bigger;
    }
    uint64_t h = hash(s, len);
    size_t j = h & (t->cap - 1);
    while (t->slots[j].idx >= 0) j = (j + 1) & (t->cap - 1);
    t->slots[j] = (slot){s, len, h, idx};
    t->n++;
    return true;
}

static bool ht_reserve(htab *t, size_t n) {
    size_t cap = 16;
    while (cap < 2 * n + 2) cap *= 2;
    return ht_alloc(t, cap);
}

// ---- the reader ----------------------------------------------------------------------------------

typedef union {
    uint8_t u8; int8_t i8; uint16_t u16; int16_t i16; uint32_t u32; int32_t i32; float f32;
    uint64_t u64; int64_t i64; double f64; uint8_t raw[8];
} scalar;

typedef struct {
    char *key;
    size_t key_len;
    berry_gguf_type type;
    berry_gguf_type arr_type;  // element type when type == ARRAY
    uint64_t n;                // array length
    scalar v;                  // numeric and BOOL scalars
    char *str;                 // STRING: the value, NUL-terminated. string ARRAY: n strings, each + NUL
    size_t str_len;            // STRING: its length. string ARRAY: bytes in str
    size_t *offs;              // string ARRAY: (n + 1) offsets into str; string j is offs[j]..offs[j+1]-1
    void *arr;                 // numeric ARRAY: n elements, 64-byte aligned
} kv;

typedef struct {
    char *name;
    size_t name_len;
    int type, n_dims;
    int64_t ne[BERRY_GGUF_MAX_DIMS];
    uint64_t offset;  // relative to the data section
    size_t bytes;
} tensor;

struct berry_gguf {
    const uint8_t *base;
    size_t size;
    void *map;  // the mmap when opened from a path, else NULL
    uint32_t version;
    size_t alignment, data_off;
    int64_t n_kv, n_tensors;
    kv *kvs;
    tensor *tensors;
    htab kv_index, tensor_index;
};

static void kv_free(kv *k) {
    free(k->key);
    free(k->str);
    free(k->offs);
    berry_free(k->arr);
}

void berry_gguf_close(berry_gguf *g) {
    if (!g) return;
    for (int64_t i = 0; i < g->n_kv; i++) kv_free(&g->kvs[i]);
    for (int64_t i = 0; i < g->n_tensors; i++) free(g->tensors[i].name);
    free(g->kvs);
    free(g->tensors);
    free(g->kv_index.slots);
    free(g->tensor_index.slots);
    if (g->map) munmap(g->map, g->size);
    free(g);
}

// A cursor over the file image, with the item being read for error messages: KIND ("key", "tensor" or
// NULL), its index, and its name once known. The message is only formatted when something fails.
typedef struct {
    const uint8_t *p;
    size_t size, pos;
    char *err;
    size_t err_size;
    const char *kind, *name;
    size_t name_len;
    uint64_t idx;
} rd;

static void at(rd *r, const char *kind, uint64_t idx) {
    r->kind = kind;
    r->idx = idx;
    r->name = NULL;
}

// Writes "<item>: <message>" into the caller's error buffer; returns false for `return fail(...)`.
__attribute__((format(printf, 2, 3))) static bool fail(rd *r, const char *fmt, ...) {
    char msg[320], q[128];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (!r->kind) {
        berry_errf(r->err, r->err_size, BERRY_EFORMAT, "%s", msg);
    } else if (r->name) {
        quote(q, sizeof q, (const uint8_t *)r->name, r->name_len);
        berry_errf(r->err, r->err_size, BERRY_EFORMAT, "%s '%s': %s", r->kind, q, msg);
    } else {
        berry_errf(r->err, r->err_size, BERRY_EFORMAT, "%s #%llu: %s", r->kind, (unsigned long long)r->idx, msg);
    }
    return false;
}

static bool take(rd *r, uint64_t n, const char *what) {
    if (n > (uint64_t)(r->size - r->pos))
        return fail(r, "%s at byte %zu needs %llu bytes but the file ends at byte %zu", what, r->pos,
                    (unsigned long long)n, r->size);
    return true;
}

static bool rd_u32(rd *r, uint32_t *v, const char *what) {
    if (!take(r, 4, what)) return false;
    memcpy(v, r->p + r->pos, 4);
    r->pos += 4;
    return true;
}

static bool rd_u64(rd *r, uint64_t *v, const char *what) {
    if (!take(r, 8, what)) return false;
    memcpy(v, r->p + r->pos, 8);
    r->pos += 8;
    return true;
}

// A key or tensor name: non-empty, at most MAX_NAME bytes, UTF-8, no NUL (lookups are by C string).
static bool rd_name(rd *r, const char *what, char **out, size_t *len) {
    uint64_t n;
    if (!rd_u64(r, &n, "the name's length")) return false;
    if (n == 0) return fail(r, "the %s at byte %zu is empty", what, r->pos - 8);
    if (n > MAX_NAME)
        return fail(r, "the %s at byte %zu claims %llu bytes (the limit is %d)", what, r->pos - 8,
                    (unsigned long long)n, MAX_NAME);
    if (!take(r, n, what)) return false;
    const uint8_t *s = r->p + r->pos;
    if (memchr(s, 0, n)) return fail(r, "the %s at byte %zu contains a NUL byte", what, r->pos);
    if (!utf8_ok(s, n)) return fail(r, "the %s at byte %zu is not valid UTF-8", what, r->pos);
    *out = berry_strndup((const char *)s, n);
    if (!*out) return fail(r, "out of memory");
    *len = n;
    r->pos += n;
    return true;
}

static const char *type_name(uint32_t t) {
    static const char *names[] = {"uint8", "int8", "uint16", "int16", "uint32", "int32", "float32",
                                  "bool", "string", "array", "uint64", "int64", "float64"};
    return t < sizeof names / sizeof names[0] ? names[t] : "unknown";
}

// A string array: one pass checks every length against the file and sums them, the second copies
// all strings into one block with an offset index (150k-token vocabularies open in milliseconds).
static bool rd_str_array(rd *r, kv *k) {
    uint64_t n = k->n;
    if (n > (r->size - r->pos) / 8)
        return fail(r, "array of %llu strings at byte %zu cannot fit in the %zu bytes left",
                    (unsigned long long)n, r->pos, r->size - r->pos);
    size_t start = r->pos, total = 0;
    for (uint64_t j = 0; j < n; j++) {
        uint64_t len = 0;
        if (r->size - r->pos >= 8) memcpy(&len, r->p + r->pos, 8);
        if (r->size - r->pos < 8 || len > r->size - r->pos - 8) {
            char w[64];
            snprintf(w, sizeof w, "string %llu of the array", (unsigned long long)j);
            if (!rd_u64(r, &len, w) || !take(r, len, w)) return false;
        }
        r->pos += 8 + len;
        total += len + 1;  // cannot overflow: every len is at most the file size
    }
    k->str = malloc(total ? total : 1);
    k->offs = malloc((n + 1) * sizeof *k->offs);
    if (!k->str || !k->offs) return fail(r, "out of memory for an array of %llu strings", (unsigned long long)n);
    size_t pos = start, o = 0;
    for (uint64_t j = 0; j < n; j++) {
        uint64_t len;
        memcpy(&len, r->p + pos, 8);
        memcpy(k->str + o, r->p + pos + 8, len);
        k->offs[j] = o;
        o += len;
        k->str[o++] = 0;
        pos += 8 + len;
    }
    k->offs[n] = o;
    k->str_len = total;
    return true;
}

static bool rd_value(rd *r, kv *k) {
    if (k->type == BERRY_GGUF_STRING) {
        uint64_t len;
        if (!rd_u64(r, &len, "the string's length") || !take(r, len, "the string")) return false;
        k->str = malloc(len + 1);
        if (!k->str) return fail(r, "out of memory for a string of %llu bytes", (unsigned long long)len);
        memcpy(k->str, r->p + r->pos, len);
        k->str[len] = 0;
        k->str_len = len;
        r->pos += len;
        return true;
    }
    if (k->type == BERRY_GGUF_ARRAY) {
        uint32_t et;
        if (!rd_u32(r, &et, "the array's element type")) return false;
        if (et == BERRY_GGUF_ARRAY) return fail(r, "nested arrays are not supported (at byte %zu)", r->pos - 4);
        if (et != BERRY_GGUF_STRING && !elem_size(et))
            return fail(r, "unknown array element type %u at byte %zu", et, r->pos - 4);
        k->arr_type = (berry_gguf_type)et;
        if (!rd_u64(r, &k->n, "the array's length")) return false;
        if (et == BERRY_GGUF_STRING) return rd_str_array(r, k);
        size_t es = elem_size(et);
        if (k->n > (r->size - r->pos) / es)
            return fail(r, "array of %llu %s at byte %zu needs %llu x %zu bytes but the file ends at byte %zu",
                        (unsigned long long)k->n, type_name(et), r->pos, (unsigned long long)k->n, es, r->size);
        size_t bytes = (size_t)k->n * es;
        const uint8_t *src = r->p + r->pos;
        if (et == BERRY_GGUF_BOOL)
            for (size_t j = 0; j < bytes; j++)
                if (src[j] > 1) return fail(r, "bool element %zu is %u (must be 0 or 1)", j, src[j]);
        k->arr = berry_calloc(k->n ? k->n : 1, es);
        if (!k->arr) return fail(r, "out of memory for an array of %llu elements", (unsigned long long)k->n);
        memcpy(k->arr, src, bytes);
        r->pos += bytes;
        return true;
    }
    size_t es = elem_size(k->type);
    if (!es) return fail(r, "unknown value type %u at byte %zu", (unsigned)k->type, r->pos - 4);
    if (!take(r, es, "the value")) return false;
    memcpy(k->v.raw, r->p + r->pos, es);
    if (k->type == BERRY_GGUF_BOOL && k->v.u8 > 1) return fail(r, "bool value is %u (must be 0 or 1)", k->v.u8);
    r->pos += es;
    return true;
}

typedef struct { uint64_t off; size_t bytes; int64_t idx; } span;
static int cmp_span(const void *a, const void *b) {
    const span *x = a, *y = b;
    return x->off < y->off ? -1 : x->off > y->off;
}

static berry_gguf *parse(const uint8_t *p, size_t size, char *err, size_t err_size) {
    rd r = {.p = p, .size = size, .err = err, .err_size = err_size};
    berry_gguf *g = calloc(1, sizeof *g);
    if (!g) { berry_errf(err, err_size, BERRY_ENOMEM, "out of memory"); return NULL; }
    g->base = p;
    g->size = size;
    g->alignment = BERRY_GGUF_DEFAULT_ALIGNMENT;

    if (size < 4 || memcmp(p, "GGUF", 4) != 0) {
        fail(&r, size < 4 ? "the file has %zu bytes, too few for a GGUF header" : "not a GGUF file (%zu bytes, no \"GGUF\" magic)", size);
        goto bad;
    }
    r.pos = 4;
    uint32_t version;
    uint64_t n_tensors, n_kv;
    if (!rd_u32(&r, &version, "the version")) goto bad;
    if (version == 1) { fail(&r, "GGUF version 1 is not supported (its counts are 32-bit); convert the file to version 3"); goto bad; }
    if (version == 0x02000000 || version == 0x03000000) { fail(&r, "big-endian GGUF files are not supported"); goto bad; }
    if (version != 2 && version != 3) { fail(&r, "unsupported GGUF version %u (berry reads 2 and 3)", version); goto bad; }
    g->version = version;
    if (!rd_u64(&r, &n_tensors, "the tensor count") || !rd_u64(&r, &n_kv, "the key/value count")) goto bad;
    // The smallest key/value pair is 14 bytes (length, 1-byte key, type, uint8); the smallest tensor
    // info 33 (length, 1-byte name, n_dims, one dim, type, offset). Counts that cannot fit are lies,
    // caught here before anything is allocated from them.
    size_t left = size - r.pos;
    if (n_kv > left / 14 || n_tensors > left / 33 || n_kv * 14 + n_tensors * 33 > left) {
        fail(&r, "the header claims %llu key/value pairs and %llu tensors, more than the %zu bytes after it can hold",
             (unsigned long long)n_kv, (unsigned long long)n_tensors, left);
        goto bad;
    }

    g->kvs = calloc(n_kv ? n_kv : 1, sizeof *g->kvs);
    g->tensors = calloc(n_tensors ? n_tensors : 1, sizeof *g->tensors);
    if (!g->kvs || !g->tensors || !ht_reserve(&g->kv_index, n_kv) || !ht_reserve(&g->tensor_index, n_tensors)) {
        fail(&r, "out of memory");
        goto bad;
    }
    for (uint64_t i = 0; i < n_kv; i++) {
        kv *k = &g->kvs[i];
        g->n_kv = (int64_t)i + 1;  // so that close frees what this pair holds, even half-read
        at(&r, "key", i);
        if (!rd_name(&r, "key", &k->key, &k->key_len)) goto bad;
        r.name = k->key;
        r.name_len = k->key_len;
        int64_t prev = ht_get(&g->kv_index, k->key, k->key_len);
        if (prev >= 0) { fail(&r, "duplicate key (also key #%lld)", (long long)prev); goto bad; }
        if (!ht_put(&g->kv_index, k->key, k->key_len, (int64_t)i)) { fail(&r, "out of memory"); goto bad; }
        uint32_t t;
        if (!rd_u32(&r, &t, "the value type")) goto bad;
        k->type = (berry_gguf_type)t;
        if (t != BERRY_GGUF_STRING && t != BERRY_GGUF_ARRAY && !elem_size(t)) {
            fail(&r, "unknown value type %u at byte %zu", t, r.pos - 4);
            goto bad;
        }
        if (!rd_value(&r, k)) goto bad;
    }

    at(&r, NULL, 0);
    int64_t ai = ht_get(&g->kv_index, "general.alignment", 17);
    if (ai >= 0) {
        const kv *k = &g->kvs[ai];
        if (k->type != BERRY_GGUF_UINT32) { fail(&r, "general.alignment has type %s, not uint32", type_name(k->type)); goto bad; }
        if (!is_pow2(k->v.u32)) { fail(&r, "general.alignment is %u, not a power of two", k->v.u32); goto bad; }
        g->alignment = k->v.u32;
    }

    for (uint64_t i = 0; i < n_tensors; i++) {
        tensor *t = &g->tensors[i];
        g->n_tensors = (int64_t)i + 1;
        at(&r, "tensor", i);
        if (!rd_name(&r, "name", &t->name, &t->name_len)) goto bad;
        r.name = t->name;
        r.name_len = t->name_len;
        int64_t prev = ht_get(&g->tensor_index, t->name, t->name_len);
        if (prev >= 0) { fail(&r, "duplicate tensor name (also tensor #%lld)", (long long)prev); goto bad; }
        if (!ht_put(&g->tensor_index, t->name, t->name_len, (int64_t)i)) { fail(&r, "out of memory"); goto bad; }
        uint32_t nd;
        if (!rd_u32(&r, &nd, "n_dims")) goto bad;
        if (nd == 0 || nd > BERRY_GGUF_MAX_DIMS) { fail(&r, "n_dims is %u (berry reads 1 to %d)", nd, BERRY_GGUF_MAX_DIMS); goto bad; }
        t->n_dims = (int)nd;
        uint64_t nel = 1;
        for (int d = 0; d < BERRY_GGUF_MAX_DIMS; d++) t->ne[d] = 1;
        for (uint32_t d = 0; d < nd; d++) {
            uint64_t ne;
            if (!rd_u64(&r, &ne, "a dimension")) goto bad;
            if (ne == 0 || ne > INT64_MAX) { fail(&r, "dimension %u is %llu", d, (unsigned long long)ne); goto bad; }
            if (nel > (uint64_t)INT64_MAX / ne) { fail(&r, "the element count overflows at dimension %u (%llu)", d, (unsigned long long)ne); goto bad; }
            nel *= ne;
            t->ne[d] = (int64_t)ne;
        }
        uint32_t type;
        if (!rd_u32(&r, &type, "the type")) goto bad;
        const berry_type_info *info = type <= INT_MAX ? berry_type_get((int)type) : NULL;
        if (!info) { fail(&r, "unknown ggml type %u", type); goto bad; }
        t->type = (int)type;
        if (t->ne[0] % info->block) {
            fail(&r, "row length %lld is not a multiple of the %s block size %d", (long long)t->ne[0], info->name, info->block);
            goto bad;
        }
        if (!berry_mul_ok((size_t)(nel / (uint64_t)info->block), info->block_bytes, &t->bytes)) {
            fail(&r, "the size in bytes overflows (%llu elements of %s)", (unsigned long long)nel, info->name);
            goto bad;
        }
        if (!rd_u64(&r, &t->offset, "the data offset")) goto bad;
        if (t->offset % g->alignment) {
            fail(&r, "data offset %llu is not a multiple of the alignment %zu", (unsigned long long)t->offset, g->alignment);
            goto bad;
        }
    }

    at(&r, NULL, 0);
    // The data section starts at the first aligned byte after the tensor infos. A file without
    // tensors may end before it.
    size_t data_off;
    if (!berry_add_ok(r.pos, g->alignment - 1, &data_off)) { fail(&r, "the data section's offset overflows"); goto bad; }
    data_off &= ~(g->alignment - 1);
    g->data_off = data_off;
    for (int64_t i = 0; i < g->n_tensors; i++) {
        const tensor *t = &g->tensors[i];
        size_t start, end;
        char q[128];
        quote(q, sizeof q, (const uint8_t *)t->name, t->name_len);
        if (t->offset > SIZE_MAX || !berry_add_ok(data_off, (size_t)t->offset, &start) || !berry_add_ok(start, t->bytes, &end)) {
            berry_errf(err, err_size, BERRY_EFORMAT, "tensor '%s': data offset %llu overflows", q, (unsigned long long)t->offset);
            goto bad;
        }
        if (end > size) {
            berry_errf(err, err_size, BERRY_EFORMAT, "tensor '%s': data ends at byte %zu but the file has %zu", q, end, size);
            goto bad;
        }
    }
    if (g->n_tensors > 1) {
        span *s = malloc((size_t)g->n_tensors * sizeof *s);
        if (!s) { fail(&r, "out of memory"); goto bad; }
        for (int64_t i = 0; i < g->n_tensors; i++) s[i] = (span){g->tensors[i].offset, g->tensors[i].bytes, i};
        qsort(s, (size_t)g->n_tensors, sizeof *s, cmp_span);
        for (int64_t i = 1; i < g->n_tensors; i++) {
            if (s[i - 1].off + s[i - 1].bytes <= s[i].off) continue;
            const tensor *a = &g->tensors[s[i - 1].idx], *b = &g->tensors[s[i].idx];
            char qa[128], qb[128];
            quote(qa, sizeof qa, (const uint8_t *)a->name, a->name_len);
            quote(qb, sizeof qb, (const uint8_t *)b->name, b->name_len);
            berry_errf(err, err_size, BERRY_EFORMAT,
                       "tensor '%s': data at bytes %llu..%llu of the data section overlaps tensor '%s' at %llu..%llu", qb,
                       (unsigned long long)b->offset, (unsigned long long)(b->offset + b->bytes), qa,
                       (unsigned long long)a->offset, (unsigned long long)(a->offset + a->bytes));
            free(s);
            goto bad;
        }
        free(s);
    }
    return g;
bad:
    berry_gguf_close(g);
    return NULL;
}

berry_gguf *berry_gguf_open_memory(const void *data, size_t size, char *err, size_t err_size) {
    if (!data && size) { berry_errf(err, err_size, BERRY_EINVAL, "no data"); return NULL; }
    return parse(data, size, err, err_size);
}

berry_gguf *berry_gguf_open(const char *path, char *err, size_t err_size) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) { berry_errf(err, err_size, BERRY_EIO, "cannot open '%s': %s", path, strerror(errno)); return NULL; }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        berry_errf(err, err_size, BERRY_EIO, "'%s' is not a regular file", path);
        close(fd);
        return NULL;
    }
    size_t size = (size_t)st.st_size;
    if (size == 0) {
        berry_errf(err, err_size, BERRY_EFORMAT, "'%s' is empty", path);
        close(fd);
        return NULL;
    }
    void *map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    int e = errno;
    close(fd);
    if (map == MAP_FAILED) { berry_errf(err, err_size, BERRY_EIO, "cannot map '%s': %s", path, strerror(e)); return NULL; }
    berry_gguf *g = parse(map, size, err, err_size);
    if (!g) { munmap(map, size); return NULL; }
    g->map = map;
    return g;
}

uint32_t berry_gguf_version(const berry_gguf *g) { return g->version; }
size_t berry_gguf_alignment(const berry_gguf *g) { return g->alignment; }
size_t berry_gguf_data_offset(const berry_gguf *g) { return g->data_off; }
int64_t berry_gguf_n_kv(const berry_gguf *g) { return g->n_kv; }

int64_t berry_gguf_find_key(const berry_gguf *g, const char *key) {
    return key ? ht_get(&g->kv_index, key, strlen(key)) : -1;
}

static const kv *kv_at(const berry_gguf *g, int64_t i) { return i >= 0 && i < g->n_kv ? &g->kvs[i] : NULL; }
static const kv *kv_by(const berry_gguf *g, const char *key) { return kv_at(g, berry_gguf_find_key(g, key)); }

const char *berry_gguf_key(const berry_gguf *g, int64_t i) { const kv *k = kv_at(g, i); return k ? k->key : NULL; }
berry_gguf_type berry_gguf_kv_type(const berry_gguf *g, int64_t i) {
    const kv *k = kv_at(g, i);
    return k ? k->type : BERRY_GGUF_ARRAY;
}

// An integer scalar as sign and magnitude, so that every integer type compares without overflow.
static bool int_val(const kv *k, bool *neg, uint64_t *mag) {
    int64_t s;
    *neg = false;
    switch (k->type) {
    case BERRY_GGUF_UINT8: *mag = k->v.u8; return true;
    case BERRY_GGUF_UINT16: *mag = k->v.u16; return true;
    case BERRY_GGUF_UINT32: *mag = k->v.u32; return true;
    case BERRY_GGUF_UINT64: *mag = k->v.u64; return true;
    case BERRY_GGUF_INT8: s = k->v.i8; break;
    case BERRY_GGUF_INT16: s = k->v.i16; break;
    case BERRY_GGUF_INT32: s = k->v.i32; break;
    case BERRY_GGUF_INT64: s = k->v.i64; break;
    default: return false;
    }
    *neg = s < 0;
    *mag = s < 0 ? (uint64_t)0 - (uint64_t)s : (uint64_t)s;
    return true;
}

bool berry_gguf_get_u32(const berry_gguf *g, const char *key, uint32_t *out) {
    const kv *k = kv_by(g, key);
    bool neg;
    uint64_t m;
    if (!k || !int_val(k, &neg, &m) || neg || m > UINT32_MAX) return false;
    *out = (uint32_t)m;
    return true;
}

bool berry_gguf_get_u64(const berry_gguf *g, const char *key, uint64_t *out) {
    const kv *k = kv_by(g, key);
    bool neg;
    uint64_t m;
    if (!k || !int_val(k, &neg, &m) || neg) return false;
    *out = m;
    return true;
}

bool berry_gguf_get_i64(const berry_gguf *g, const char *key, int64_t *out) {
    const kv *k = kv_by(g, key);
    bool neg;
    uint64_t m;
    if (!k || !int_val(k, &neg, &m)) return false;
    if (neg) {
        if (m > (uint64_t)INT64_MAX + 1) return false;
        *out = m == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)m;
    } else {
        if (m > INT64_MAX) return false;
        *out = (int64_t)m;
    }
    return true;
}

bool berry_gguf_get_f64(const berry_gguf *g, const char *key, double *out) {
    const kv *k = kv_by(g, key);
    if (!k) return false;
    if (k->type == BERRY_GGUF_FLOAT32) { *out = k->v.f32; return true; }
    if (k->type == BERRY_GGUF_FLOAT64) { *out = k->v.f64; return true; }
    bool neg;
    uint64_t m;
    if (!int_val(k, &neg, &m)) return false;
    *out = neg ? -(double)m : (double)m;
    return true;
}

bool berry_gguf_get_f32(const berry_gguf *g, const char *key, float *out) {
    double d;
    if (!berry_gguf_get_f64(g, key, &d)) return false;
    *out = (float)d;
    return true;
}

bool berry_gguf_get_bool(const berry_gguf *g, const char *key, bool *out) {
    const kv *k = kv_by(g, key);
    if (!k || k->type != BERRY_GGUF_BOOL) return false;
    *out = k->v.u8 != 0;
    return true;
}

bool berry_gguf_get_str(const berry_gguf *g, const char *key, const char **str, size_t *len) {
    const kv *k = kv_by(g, key);
    if (!k || k->type != BERRY_GGUF_STRING) return false;
    *str = k->str;
    if (len) *len = k->str_len;
    return true;
}

bool berry_gguf_get_scalar(const berry_gguf *g, int64_t i, void *out) {
    const kv *k = kv_at(g, i);
    size_t es = k ? elem_size(k->type) : 0;
    if (!es) return false;
    memcpy(out, k->v.raw, es);
    return true;
}

berry_gguf_type berry_gguf_arr_type(const berry_gguf *g, int64_t i) {
    const kv *k = kv_at(g, i);
    return k && k->type == BERRY_GGUF_ARRAY ? k->arr_type : BERRY_GGUF_ARRAY;
}

uint64_t berry_gguf_arr_len(const berry_gguf *g, int64_t i) {
    const kv *k = kv_at(g, i);
    return k && k->type == BERRY_GGUF_ARRAY ? k->n : 0;
}

const void *berry_gguf_arr_data(const berry_gguf *g, int64_t i) {
    const kv *k = kv_at(g, i);
    return k && k->type == BERRY_GGUF_ARRAY ? k->arr : NULL;
}

const char *berry_gguf_arr_str(const berry_gguf *g, int64_t i, uint64_t j, size_t *len) {
    const kv *k = kv_at(g, i);
    if (!k || k->type != BERRY_GGUF_ARRAY || k->arr_type != BERRY_GGUF_STRING || j >= k->n) return NULL;
    if (len) *len = k->offs[j + 1] - k->offs[j] - 1;
    return k->str + k->offs[j];
}

int64_t berry_gguf_n_tensors(const berry_gguf *g) { return g->n_tensors; }
int64_t berry_gguf_find_tensor(const berry_gguf *g, const char *name) {
    return name ? ht_get(&g->tensor_index, name, strlen(name)) : -1;
}
static const tensor *t_at(const berry_gguf *g, int64_t i) { return i >= 0 && i < g->n_tensors ? &g->tensors[i] : NULL; }
const char *berry_gguf_tensor_name(const berry_gguf *g, int64_t i) { const tensor *t = t_at(g, i); return t ? t->name : NULL; }
int berry_gguf_tensor_type(const berry_gguf *g, int64_t i) { const tensor *t = t_at(g, i); return t ? t->type : -1; }
int berry_gguf_tensor_n_dims(const berry_gguf *g, int64_t i) { const tensor *t = t_at(g, i); return t ? t->n_dims : 0; }
void berry_gguf_tensor_shape(const berry_gguf *g, int64_t i, int64_t ne[BERRY_GGUF_MAX_DIMS]) {
    const tensor *t = t_at(g, i);
    for (int d = 0; d < BERRY_GGUF_MAX_DIMS; d++) ne[d] = t ? t->ne[d] : 1;
}
const void *berry_gguf_tensor_data(const berry_gguf *g, int64_t i) {
    const tensor *t = t_at(g, i);
    return t ? g->base + g->data_off + t->offset : NULL;
}
size_t berry_gguf_tensor_bytes(const berry_gguf *g, int64_t i) { const tensor *t = t_at(g, i); return t ? t->bytes : 0; }
size_t berry_gguf_tensor_offset(const berry_gguf *g, int64_t i) {
    const tensor *t = t_at(g, i);
    return t ? g->data_off + (size_t)t->offset : 0;
}

// ---- the writer ----------------------------------------------------------------------------------

typedef struct {
    const void *data;
    char *name;
    int type, n_dims;
    int64_t ne[BERRY_GGUF_MAX_DIMS];
    size_t bytes;
    uint64_t offset;
} wtensor;

struct berry_gguf_writer {
    kv *kvs;  // the same record as the reader's: values are owned copies
    int64_t n_kv, cap_kv;
    wtensor *ts;
    int64_t n_t, cap_t;
    htab kv_index, t_index;
};

berry_gguf_writer *berry_gguf_writer_new(void) { return calloc(1, sizeof(berry_gguf_writer)); }

void berry_gguf_writer_free(berry_gguf_writer *w) {
    if (!w) return;
    for (int64_t i = 0; i < w->n_kv; i++) kv_free(&w->kvs[i]);
    for (int64_t i = 0; i < w->n_t; i++) free(w->ts[i].name);
    free(w->kvs);
    free(w->ts);
    free(w->kv_index.slots);
    free(w->t_index.slots);
    free(w);
}

static bool name_ok(const char *s, size_t max) {
    if (!s) return false;
    size_t n = strlen(s);
    return n > 0 && n <= max && utf8_ok((const uint8_t *)s, n);
}

// Stores value V (its key field unused) under KEY, taking ownership of V's buffers (freed on error).
// A key that exists keeps its position and gets the new value.
static berry_status put(berry_gguf_writer *w, const char *key, kv v) {
    v.key = NULL;
    if (!w || !name_ok(key, MAX_NAME)) { kv_free(&v); return BERRY_EINVAL; }
    size_t len = strlen(key);
    int64_t i = ht_get(&w->kv_index, key, len);
    if (i >= 0) {
        kv *k = &w->kvs[i];
        v.key = k->key;
        v.key_len = k->key_len;
        k->key = NULL;
        kv_free(k);
        *k = v;
        return BERRY_OK;
    }
    if (w->n_kv == w->cap_kv) {
        int64_t cap = w->cap_kv ? 2 * w->cap_kv : 16;
        kv *nk = realloc(w->kvs, (size_t)cap * sizeof *nk);
        if (!nk) { kv_free(&v); return BERRY_ENOMEM; }
        w->kvs = nk;
        w->cap_kv = cap;
    }
    v.key = berry_strndup(key, len);
    v.key_len = len;
    if (!v.key || !ht_put(&w->kv_index, v.key, len, w->n_kv)) { kv_free(&v); return BERRY_ENOMEM; }
    w->kvs[w->n_kv++] = v;
    return BERRY_OK;
}

static berry_status set_scalar(berry_gguf_writer *w, const char *key, berry_gguf_type t, const void *p) {
    kv v = {.type = t};
    memcpy(v.v.raw, p, elem_size(t));
    return put(w, key, v);
}

berry_status berry_gguf_set_u8(berry_gguf_writer *w, const char *key, uint8_t v) { return set_scalar(w, key, BERRY_GGUF_UINT8, &v); }
berry_status berry_gguf_set_i8(berry_gguf_writer *w, const char *key, int8_t v) { return set_scalar(w, key, BERRY_GGUF_INT8, &v); }
berry_status berry_gguf_set_u16(berry_gguf_writer *w, const char *key, uint16_t v) { return set_scalar(w, key, BERRY_GGUF_UINT16, &v); }
berry_status berry_gguf_set_i16(berry_gguf_writer *w, const char *key, int16_t v) { return set_scalar(w, key, BERRY_GGUF_INT16, &v); }
berry_status berry_gguf_set_u32(berry_gguf_writer *w, const char *key, uint32_t v) { return set_scalar(w, key, BERRY_GGUF_UINT32, &v); }
berry_status berry_gguf_set_i32(berry_gguf_writer *w, const char *key, int32_t v) { return set_scalar(w, key, BERRY_GGUF_INT32, &v); }
berry_status berry_gguf_set_u64(berry_gguf_writer *w, const char *key, uint64_t v) { return set_scalar(w, key, BERRY_GGUF_UINT64, &v); }
berry_status berry_gguf_set_i64(berry_gguf_writer *w, const char *key, int64_t v) { return set_scalar(w, key, BERRY_GGUF_INT64, &v); }
berry_status berry_gguf_set_f32(berry_gguf_writer *w, const char *key, float v) { return set_scalar(w, key, BERRY_GGUF_FLOAT32, &v); }
berry_status berry_gguf_set_f64(berry_gguf_writer *w, const char *key, double v) { return set_scalar(w, key, BERRY_GGUF_FLOAT64, &v); }
berry_status berry_gguf_set_bool(berry_gguf_writer *w, const char *key, bool v) {
    uint8_t b = v ? 1 : 0;
    return set_scalar(w, key, BERRY_GGUF_BOOL, &b);
}

berry_status berry_gguf_set_str_n(berry_gguf_writer *w, const char *key, const char *v, size_t len) {
    if (!v && len) return BERRY_EINVAL;
    kv k = {.type = BERRY_GGUF_STRING, .str = malloc(len + 1), .str_len = len};
    if (!k.str) return BERRY_ENOMEM;
    if (len) memcpy(k.str, v, len);
    k.str[len] = 0;
    return put(w, key, k);
}

berry_status berry_gguf_set_str(berry_gguf_writer *w, const char *key, const char *v) {
    return v ? berry_gguf_set_str_n(w, key, v, strlen(v)) : BERRY_EINVAL;
}

berry_status berry_gguf_set_arr(berry_gguf_writer *w, const char *key, berry_gguf_type elem_type,
                                const void *data, uint64_t n) {
    size_t es = elem_size(elem_type), bytes;
    if (!es || n > SIZE_MAX || !berry_mul_ok((size_t)n, es, &bytes) || (!data && n)) return BERRY_EINVAL;
    if (elem_type == BERRY_GGUF_BOOL)
        for (size_t j = 0; j < bytes; j++)
            if (((const uint8_t *)data)[j] > 1) return BERRY_EINVAL;
    kv k = {.type = BERRY_GGUF_ARRAY, .arr_type = elem_type, .n = n, .arr = berry_calloc(n ? n : 1, es)};
    if (!k.arr) return BERRY_ENOMEM;
    if (bytes) memcpy(k.arr, data, bytes);
    return put(w, key, k);
}

berry_status berry_gguf_set_arr_str_n(berry_gguf_writer *w, const char *key, const char *const *strs,
                                      const size_t *lens, uint64_t n) {
    if ((!strs && n) || n >= SIZE_MAX / sizeof(size_t)) return BERRY_EINVAL;
    size_t total = 0;
    for (uint64_t j = 0; j < n; j++) {
        size_t len = lens ? lens[j] : strs[j] ? strlen(strs[j]) : 0;
        if (!strs[j] && len) return BERRY_EINVAL;
        if (!berry_add_ok(total, len, &total) || !berry_add_ok(total, 1, &total)) return BERRY_EINVAL;
    }
    kv k = {.type = BERRY_GGUF_ARRAY, .arr_type = BERRY_GGUF_STRING, .n = n, .str = malloc(total ? total : 1),
            .str_len = total, .offs = malloc(((size_t)n + 1) * sizeof(size_t))};
    if (!k.str || !k.offs) { kv_free(&k); return BERRY_ENOMEM; }
    size_t o = 0;
    for (uint64_t j = 0; j < n; j++) {
        size_t len = lens ? lens[j] : strs[j] ? strlen(strs[j]) : 0;
        k.offs[j] = o;
        if (len) memcpy(k.str + o, strs[j], len);
        o += len;
        k.str[o++] = 0;
    }
    k.offs[n] = o;
    return put(w, key, k);
}

berry_status berry_gguf_set_arr_str(berry_gguf_writer *w, const char *key, const char *const *strs, uint64_t n) {
    return berry_gguf_set_arr_str_n(w, key, strs, NULL, n);
}

berry_status berry_gguf_copy_kv(berry_gguf_writer *w, const berry_gguf *g, int64_t i) {
    const kv *s = g ? kv_at(g, i) : NULL;
    if (!s) return BERRY_EINVAL;
    kv k = {.type = s->type, .arr_type = s->arr_type, .n = s->n, .v = s->v, .str_len = s->str_len};
    if (s->str) {
        k.str = malloc(s->str_len + 1);
        if (!k.str) return BERRY_ENOMEM;
        memcpy(k.str, s->str, s->type == BERRY_GGUF_STRING ? s->str_len + 1 : s->str_len);
    }
    if (s->offs) {
        k.offs = malloc(((size_t)s->n + 1) * sizeof(size_t));
        if (!k.offs) { kv_free(&k); return BERRY_ENOMEM; }
        memcpy(k.offs, s->offs, ((size_t)s->n + 1) * sizeof(size_t));
    }
    if (s->arr) {
        size_t es = elem_size(s->arr_type);
        k.arr = berry_calloc(s->n ? s->n : 1, es);
        if (!k.arr) { kv_free(&k); return BERRY_ENOMEM; }
        memcpy(k.arr, s->arr, (size_t)s->n * es);
    }
    return put(w, s->key, k);
}

berry_status berry_gguf_add_tensor(berry_gguf_writer *w, const char *name, int type, int n_dims,
                                   const int64_t *ne, const void *data, size_t nbytes) {
    const berry_type_info *info = berry_type_get(type);
    if (!w || !name_ok(name, MAX_TENSOR_NAME_WRITE) || !info || n_dims < 1 || n_dims > BERRY_GGUF_MAX_DIMS || !ne)
        return BERRY_EINVAL;
    size_t len = strlen(name);
    if (ht_get(&w->t_index, name, len) >= 0) return BERRY_EINVAL;
    wtensor t = {.data = data, .type = type, .n_dims = n_dims, .ne = {1, 1, 1, 1}};
    size_t nel = 1;
    for (int d = 0; d < n_dims; d++) {
        if (ne[d] < 1 || !berry_mul_ok(nel, (size_t)ne[d], &nel) || nel > INT64_MAX) return BERRY_EINVAL;
        t.ne[d] = ne[d];
    }
    if (ne[0] % info->block || !berry_mul_ok(nel / (size_t)info->block, info->block_bytes, &t.bytes)) return BERRY_EINVAL;
    if (t.bytes != nbytes || !data) return BERRY_EINVAL;
    if (w->n_t == w->cap_t) {
        int64_t cap = w->cap_t ? 2 * w->cap_t : 16;
        wtensor *nt = realloc(w->ts, (size_t)cap * sizeof *nt);
        if (!nt) return BERRY_ENOMEM;
        w->ts = nt;
        w->cap_t = cap;
    }
    t.name = berry_strndup(name, len);
    if (!t.name || !ht_put(&w->t_index, t.name, len, w->n_t)) { free(t.name); return BERRY_ENOMEM; }
    w->ts[w->n_t++] = t;
    return BERRY_OK;
}

// Buffered output to a file descriptor; the first failure sticks (errno in err) and later writes
// are skipped, so the caller checks once at the end.
typedef struct { int fd, err; uint8_t *buf; size_t n; uint64_t pos; } out;
#define OUT_CAP ((size_t)1 << 20)

static void write_all(out *o, const void *p, size_t n) {
    const uint8_t *b = p;
    while (n && !o->err) {
        ssize_t k = write(o->fd, b, n < ((size_t)1 << 30) ? n : ((size_t)1 << 30));
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) { o->err = k < 0 ? errno : EIO; return; }
        b += k;
        n -= (size_t)k;
    }
}

static void out_flush(out *o) {
    write_all(o, o->buf, o->n);
    o->n = 0;
}

static void out_bytes(out *o, const void *p, size_t n) {
    o->pos += n;
    if (n > OUT_CAP - o->n) {
        out_flush(o);
        if (n >= OUT_CAP) { write_all(o, p, n); return; }
    }
    memcpy(o->buf + o->n, p, n);
    o->n += n;
}

static void out_u32(out *o, uint32_t v) { out_bytes(o, &v, 4); }
static void out_u64(out *o, uint64_t v) { out_bytes(o, &v, 8); }
static void out_str(out *o, const char *s, size_t n) { out_u64(o, n); out_bytes(o, s, n); }
static void out_pad(out *o, uint64_t to) {
    static const uint8_t zeros[256];
    while (o->pos < to) out_bytes(o, zeros, to - o->pos < sizeof zeros ? (size_t)(to - o->pos) : sizeof zeros);
}

static void out_kv(out *o, const kv *k) {
    out_str(o, k->key, k->key_len);
    out_u32(o, (uint32_t)k->type);
    if (k->type == BERRY_GGUF_STRING) { out_str(o, k->str, k->str_len); return; }
    if (k->type != BERRY_GGUF_ARRAY) { out_bytes(o, k->v.raw, elem_size(k->type)); return; }
    out_u32(o, (uint32_t)k->arr_type);
    out_u64(o, k->n);
    if (k->arr_type == BERRY_GGUF_STRING)
        for (uint64_t j = 0; j < k->n; j++) out_str(o, k->str + k->offs[j], k->offs[j + 1] - k->offs[j] - 1);
    else out_bytes(o, k->arr, (size_t)k->n * elem_size(k->arr_type));
}

berry_status berry_gguf_write(berry_gguf_writer *w, const char *path, char *err, size_t err_size) {
    if (!w || !path) return berry_errf(err, err_size, BERRY_EINVAL, "no writer or no path");
    uint64_t align = BERRY_GGUF_DEFAULT_ALIGNMENT;
    int64_t ai = ht_get(&w->kv_index, "general.alignment", 17);
    if (ai >= 0) {
        const kv *k = &w->kvs[ai];
        if (k->type != BERRY_GGUF_UINT32 || !is_pow2(k->v.u32))
            return berry_errf(err, err_size, BERRY_EINVAL, "general.alignment must be a uint32 power of two");
        align = k->v.u32;
    }
    // Each tensor starts at the next aligned offset after the one before.
    uint64_t off = 0;
    for (int64_t i = 0; i < w->n_t; i++) {
        wtensor *t = &w->ts[i];
        t->offset = off;
        if (__builtin_add_overflow(off, t->bytes, &off) || __builtin_add_overflow(off, align - 1, &off))
            return berry_errf(err, err_size, BERRY_EINVAL, "tensor '%s': data offsets overflow", t->name);
        off &= ~(align - 1);
    }

    size_t plen = strlen(path);
    char *tmp = malloc(plen + 5);
    uint8_t *buf = malloc(OUT_CAP);
    if (!tmp || !buf) { free(tmp); free(buf); return berry_errf(err, err_size, BERRY_ENOMEM, "out of memory"); }
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, ".tmp", 5);
    out o = {.fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644), .buf = buf};
    if (o.fd < 0) {
        berry_status s = berry_errf(err, err_size, BERRY_EIO, "cannot create '%s': %s", tmp, strerror(errno));
        free(tmp);
        free(buf);
        return s;
    }

    out_bytes(&o, "GGUF", 4);
    out_u32(&o, 3);
    out_u64(&o, (uint64_t)w->n_t);
    out_u64(&o, (uint64_t)w->n_kv);
    for (int64_t i = 0; i < w->n_kv; i++) out_kv(&o, &w->kvs[i]);
    for (int64_t i = 0; i < w->n_t; i++) {
        const wtensor *t = &w->ts[i];
        out_str(&o, t->name, strlen(t->name));
        out_u32(&o, (uint32_t)t->n_dims);
        for (int d = 0; d < t->n_dims; d++) out_u64(&o, (uint64_t)t->ne[d]);
        out_u32(&o, (uint32_t)t->type);
        out_u64(&o, t->offset);
    }
    // Padding after the infos and after every tensor (the last one too, as llama.cpp writes it).
    uint64_t data_off = (o.pos + align - 1) & ~(align - 1);
    out_pad(&o, data_off);
    for (int64_t i = 0; i < w->n_t; i++) {
        const wtensor *t = &w->ts[i];
        out_pad(&o, data_off + t->offset);
        out_bytes(&o, t->data, t->bytes);
    }
    out_pad(&o, data_off + off);
    out_flush(&o);

    berry_status s = BERRY_OK;
    if (o.err) s = berry_errf(err, err_size, BERRY_EIO, "writing '%s': %s", tmp, strerror(o.err));
    else if (fsync(o.fd) != 0) s = berry_errf(err, err_size, BERRY_EIO, "fsync '%s': %s", tmp, strerror(errno));
    if (close(o.fd) != 0 && s == BERRY_OK) s = berry_errf(err, err_size, BERRY_EIO, "closing '%s': %s", tmp, strerror(errno));
    if (s == BERRY_OK && rename(tmp, path) != 0)
        s = berry_errf(err, err_size, BERRY_EIO, "renaming '%s' to '%s': %s", tmp, path, strerror(errno));
    if (s != BERRY_OK) unlink(tmp);
    else {
        // Make the rename itself durable: fsync the directory (best effort; some filesystems refuse).
        const char *slash = strrchr(path, '/');
        char *dir = slash ? berry_strndup(path, slash == path ? 1 : (size_t)(slash - path)) : berry_strdup(".");
        int dfd = dir ? open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
        if (dfd >= 0) { fsync(dfd); close(dfd); }
        free(dir);
    }
    free(tmp);
    free(buf);
    return s;
}
