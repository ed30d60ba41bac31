// gguf.h — read and write GGUF v3 files (the format of llama.cpp and ggml).
//
// The reader maps the file with mmap, validates every count, string, offset and size before anything
// is used, and copies the metadata into owned memory (strings NUL-terminated, arrays aligned); tensor
// data stays in the mapping. A corrupt, truncated or hostile file gives NULL and one line in ERR.
// The writer collects metadata and tensors and writes the file atomically (temporary file, fsync,
// rename), so that a crash never leaves a half-written model behind.
#ifndef BERRY_GGUF_H
#define BERRY_GGUF_H
#include "base/err.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

// Metadata value types, numbered as in the GGUF specification.
typedef enum {
    BERRY_GGUF_UINT8 = 0, BERRY_GGUF_INT8 = 1, BERRY_GGUF_UINT16 = 2, BERRY_GGUF_INT16 = 3,
    BERRY_GGUF_UINT32 = 4, BERRY_GGUF_INT32 = 5, BERRY_GGUF_FLOAT32 = 6, BERRY_GGUF_BOOL = 7,
    BERRY_GGUF_STRING = 8, BERRY_GGUF_ARRAY = 9, BERRY_GGUF_UINT64 = 10, BERRY_GGUF_INT64 = 11,
    BERRY_GGUF_FLOAT64 = 12,
} berry_gguf_type;

#define BERRY_GGUF_MAX_DIMS 4
#define BERRY_GGUF_DEFAULT_ALIGNMENT 32

typedef struct berry_gguf berry_gguf;  // opaque

// ---- reading -------------------------------------------------------------------------------------
berry_gguf *berry_gguf_open(const char *path, char *err, size_t err_size);
// Parses a file image already in memory (fuzzing, tests). DATA must outlive the handle.
berry_gguf *berry_gguf_open_memory(const void *data, size_t size, char *err, size_t err_size);
void berry_gguf_close(berry_gguf *g);

uint32_t berry_gguf_version(const berry_gguf *g);
size_t   berry_gguf_alignment(const berry_gguf *g);

// Byte offset of the data section in the file (tensor offsets are relative to it).
size_t   berry_gguf_data_offset(const berry_gguf *g);

// Key/value pairs, in file order. berry_gguf_find_key returns the index or -1.
int64_t         berry_gguf_n_kv(const berry_gguf *g);
int64_t         berry_gguf_find_key(const berry_gguf *g, const char *key);
const char     *berry_gguf_key(const berry_gguf *g, int64_t i);
berry_gguf_type berry_gguf_kv_type(const berry_gguf *g, int64_t i);
// The value of scalar key I (any numeric type or BOOL) copied to OUT in its own type (1 to 8 bytes);
// false for strings, arrays and bad indices.
bool berry_gguf_get_scalar(const berry_gguf *g, int64_t i, void *out);

// Typed getters by key. They return false when the key is missing or has an incompatible type.
// Integer getters accept any integer type whose value fits; berry_gguf_get_f32 accepts FLOAT32,
// FLOAT64 and integers.
bool berry_gguf_get_u32(const berry_gguf *g, const char *key, uint32_t *out);
bool berry_gguf_get_i64(const berry_gguf *g, const char *key, int64_t *out);
bool berry_gguf_get_u64(const berry_gguf *g, const char *key, uint64_t *out);  // integers >= 0
bool berry_gguf_get_f64(const berry_gguf *g, const char *key, double *out);    // floats and integers
bool berry_gguf_get_f32(const berry_gguf *g, const char *key, float *out);
bool berry_gguf_get_bool(const berry_gguf *g, const char *key, bool *out);
// STR is NUL-terminated and owned by G; LEN (may be NULL) is its byte length (it may hold NULs).
bool berry_gguf_get_str(const berry_gguf *g, const char *key, const char **str, size_t *len);

// Arrays by key index. The element type is never ARRAY (nested arrays are rejected at open), so
// berry_gguf_arr_type returns ARRAY for a key that is not an array (and arr_len 0, arr_data NULL).
berry_gguf_type berry_gguf_arr_type(const berry_gguf *g, int64_t i);
uint64_t        berry_gguf_arr_len(const berry_gguf *g, int64_t i);
// Numeric arrays: a pointer to LEN elements of the element type, aligned for it, owned by G.
const void     *berry_gguf_arr_data(const berry_gguf *g, int64_t i);
// String arrays: element J, NUL-terminated, owned by G; LEN (may be NULL) is its byte length.
const char     *berry_gguf_arr_str(const berry_gguf *g, int64_t i, uint64_t j, size_t *len);

// Tensors. Types are ggml type ids (see tensor/types.h); ne[0] is the fastest-varying dimension.
int64_t     berry_gguf_n_tensors(const berry_gguf *g);
int64_t     berry_gguf_find_tensor(const berry_gguf *g, const char *name);
const char *berry_gguf_tensor_name(const berry_gguf *g, int64_t i);
int         berry_gguf_tensor_type(const berry_gguf *g, int64_t i);
int         berry_gguf_tensor_n_dims(const berry_gguf *g, int64_t i);
// Fills ne[0..3] (unused dimensions are 1).
void        berry_gguf_tensor_shape(const berry_gguf *g, int64_t i, int64_t ne[BERRY_GGUF_MAX_DIMS]);
const void *berry_gguf_tensor_data(const berry_gguf *g, int64_t i);
size_t      berry_gguf_tensor_bytes(const berry_gguf *g, int64_t i);
// Byte offset of tensor I's data in the file.
size_t      berry_gguf_tensor_offset(const berry_gguf *g, int64_t i);

// ---- writing -------------------------------------------------------------------------------------
typedef struct berry_gguf_writer berry_gguf_writer;  // opaque

berry_gguf_writer *berry_gguf_writer_new(void);
void berry_gguf_writer_free(berry_gguf_writer *w);

// Setting a key that is already set replaces its value, keeping the key's position. Keys and strings are
// copied. Keys must be non-empty UTF-8 (at most 64 KiB); bad arguments give BERRY_EINVAL. A BOOL
// array's bytes must be 0 or 1.
berry_status berry_gguf_set_u32(berry_gguf_writer *w, const char *key, uint32_t v);
berry_status berry_gguf_set_i32(berry_gguf_writer *w, const char *key, int32_t v);
berry_status berry_gguf_set_u64(berry_gguf_writer *w, const char *key, uint64_t v);
berry_status berry_gguf_set_f32(berry_gguf_writer *w, const char *key, float v);
berry_status berry_gguf_set_bool(berry_gguf_writer *w, const char *key, bool v);
berry_status berry_gguf_set_u8(berry_gguf_writer *w, const char *key, uint8_t v);
berry_status berry_gguf_set_i8(berry_gguf_writer *w, const char *key, int8_t v);
berry_status berry_gguf_set_u16(berry_gguf_writer *w, const char *key, uint16_t v);
berry_status berry_gguf_set_i16(berry_gguf_writer *w, const char *key, int16_t v);
berry_status berry_gguf_set_i64(berry_gguf_writer *w, const char *key, int64_t v);
berry_status berry_gguf_set_f64(berry_gguf_writer *w, const char *key, double v);
berry_status berry_gguf_set_str(berry_gguf_writer *w, const char *key, const char *v);
// A string of LEN bytes that may contain NULs.
berry_status berry_gguf_set_str_n(berry_gguf_writer *w, const char *key, const char *v, size_t len);
// A numeric array of N elements of ELEM_TYPE (not STRING or ARRAY), copied from DATA.
berry_status berry_gguf_set_arr(berry_gguf_writer *w, const char *key, berry_gguf_type elem_type,
                                const void *data, uint64_t n);
berry_status berry_gguf_set_arr_str(berry_gguf_writer *w, const char *key, const char *const *strs, uint64_t n);
// The same with explicit lengths (strings may contain NULs); LENS NULL means strlen of each.
berry_status berry_gguf_set_arr_str_n(berry_gguf_writer *w, const char *key, const char *const *strs,
                                      const size_t *lens, uint64_t n);
// Copies key I of G (any type, arrays included) into W under the same key.
berry_status berry_gguf_copy_kv(berry_gguf_writer *w, const berry_gguf *g, int64_t i);

// Adds a tensor. DATA (NBYTES, which must equal the size TYPE and NE imply) is referenced, not copied,
// and must stay valid until berry_gguf_write returns. Names are UTF-8 of 1 to 63 bytes (llama.cpp's
// limit) and unique; the row length ne[0] must be a multiple of the type's block size.
berry_status berry_gguf_add_tensor(berry_gguf_writer *w, const char *name, int type, int n_dims,
                                   const int64_t *ne, const void *data, size_t nbytes);

// Writes PATH atomically (PATH.tmp, fsync, rename; the temporary is removed on failure). Keys are written
// in insertion order, tensors too, each at an offset aligned to general.alignment (if set, else 32).
berry_status berry_gguf_write(berry_gguf_writer *w, const char *path, char *err, size_t err_size);

#endif
