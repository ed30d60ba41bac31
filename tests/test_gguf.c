// Tests of the GGUF reader and writer (src/model/gguf.c) against references berry did not produce:
// - tests/data/gguf_ref.gguf, written by llama.cpp's gguf-py (tests/ref/gguf_write.py); the expected
//   contents are written out by hand below;
// - files assembled byte by byte here from the GGUF specification (valid ones and hostile ones);
// - gguf-py's reader (tests/ref/gguf_read.py) parsing a file berry wrote, its dump compared with text
//   written out by hand below.
#include "test.h"
#include "base/clock.h"
#include "model/gguf.h"
#include "tensor/types.h"
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

// ---- a byte builder for files assembled by hand from the specification --------------------------

typedef struct { uint8_t *p; size_t n, cap; } bb;

static void put(bb *b, const void *p, size_t n) {
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
    }
    memcpy(b->p + b->n, p, n);
    b->n += n;
}
static void u8(bb *b, uint8_t v) { put(b, &v, 1); }
static void u32(bb *b, uint32_t v) { put(b, &v, 4); }
static void u64(bb *b, uint64_t v) { put(b, &v, 8); }
static void strn(bb *b, const char *s, size_t n) { u64(b, n); put(b, s, n); }
static void str(bb *b, const char *s) { strn(b, s, strlen(s)); }
static void zeros(bb *b, size_t n) { while (n--) u8(b, 0); }
static void pad(bb *b, size_t align) { while (b->n % align) u8(b, 0); }
static void header(bb *b, uint32_t version, uint64_t n_tensors, uint64_t n_kv) {
    put(b, "GGUF", 4);
    u32(b, version);
    u64(b, n_tensors);
    u64(b, n_kv);
}
static void kv_u32(bb *b, const char *key, uint32_t v) { str(b, key); u32(b, BERRY_GGUF_UINT32); u32(b, v); }
static void tinfo(bb *b, const char *name, uint32_t n_dims, const uint64_t *ne, uint32_t type, uint64_t off) {
    str(b, name);
    u32(b, n_dims);
    for (uint32_t d = 0; d < n_dims; d++) u64(b, ne[d]);
    u32(b, type);
    u64(b, off);
}

// Opens an exact-size heap copy, so that AddressSanitizer sees any read past the end.
static bool open_copy(const uint8_t *p, size_t n, char *err, size_t err_size) {
    uint8_t *c = malloc(n ? n : 1);
    memcpy(c, p, n);
    berry_gguf *g = berry_gguf_open_memory(c, n, err, err_size);
    berry_gguf_close(g);
    free(c);
    return g != NULL;
}

// Opens B and expects a failure whose message is one non-empty line containing WANT.
static int expect_reject(const bb *b, const char *want, const char *what) {
    char err[512] = "";
    if (open_copy(b->p, b->n, err, sizeof err)) { berry_test_fail(__FILE__, __LINE__, "%s: accepted", what); return 0; }
    if (!err[0] || strchr(err, '\n') || !strstr(err, want)) {
        berry_test_fail(__FILE__, __LINE__, "%s: error \"%s\", expected one line containing \"%s\"", what, err, want);
        return 0;
    }
    if (getenv("BERRY_TEST_VERBOSE")) fprintf(stderr, "    %-28s -> %s\n", what, err);
    return 1;
}

static uint8_t *read_file(const char *path, size_t *n) {
    *n = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *p = malloc(len > 0 ? (size_t)len : 1);
    *n = fread(p, 1, (size_t)len, f);
    fclose(f);
    return p;
}

// ---- the fixture written by gguf-py ----------------------------------------------------------------

// Expected contents of tests/data/gguf_ref.gguf, as tests/ref/gguf_write.py writes them.
TEST(gguf_reads_gguf_py_fixture) {
    char err[512] = "";
    berry_gguf *g = berry_gguf_open(berry_test_path("tests/data/gguf_ref.gguf"), err, sizeof err);
    CHECKF(g, "open: %s", err);
    CHECK_EQ_INT(berry_gguf_version(g), 3);
    CHECK_EQ_INT(berry_gguf_alignment(g), 64);
    CHECK_EQ_INT(berry_gguf_n_kv(g), 28);
    CHECK_EQ_INT(berry_gguf_n_tensors(g), 4);
    CHECK_STR(berry_gguf_key(g, 0), "general.architecture");
    CHECK_STR(berry_gguf_key(g, 1), "general.alignment");
    CHECK_STR(berry_gguf_key(g, 2), "t.u8");
    CHECK_STR(berry_gguf_key(g, 27), "a.str");

    const char *s;
    size_t len;
    uint32_t u;
    uint64_t u64v;
    int64_t i;
    float f;
    double d;
    bool b;
    CHECK(berry_gguf_get_str(g, "general.architecture", &s, &len) && len == 5 && strcmp(s, "llama") == 0);
    CHECK(berry_gguf_get_u32(g, "t.u8", &u) && u == 200);
    CHECK(berry_gguf_kv_type(g, berry_gguf_find_key(g, "t.u8")) == BERRY_GGUF_UINT8);
    CHECK(berry_gguf_get_i64(g, "t.i8", &i) && i == -100);
    CHECK(!berry_gguf_get_u32(g, "t.i8", &u));  // negative does not fit
    CHECK(berry_gguf_get_u32(g, "t.u16", &u) && u == 60000);
    CHECK(berry_gguf_get_i64(g, "t.i16", &i) && i == -30000);
    CHECK(berry_gguf_get_u32(g, "t.u32", &u) && u == 4000000000u);
    CHECK(berry_gguf_get_i64(g, "t.i32", &i) && i == -2000000000);
    CHECK(berry_gguf_get_f32(g, "t.f32", &f) && f == 0.15625f);
    CHECK(berry_gguf_get_bool(g, "t.bool", &b) && b);
    CHECK(!berry_gguf_get_bool(g, "t.u8", &b));
    CHECK(berry_gguf_get_str(g, "t.str", &s, &len) && len == 17 && strcmp(s, "h\xC3\xA9llo w\xC3\xB6rld \xE2\x88\x91") == 0);
    CHECK(berry_gguf_get_u64(g, "t.u64", &u64v) && u64v == UINT64_MAX);
    CHECK(!berry_gguf_get_i64(g, "t.u64", &i));  // does not fit
    CHECK(!berry_gguf_get_u32(g, "t.u64", &u));
    CHECK(berry_gguf_get_i64(g, "t.i64", &i) && i == INT64_MIN);
    CHECK(berry_gguf_get_f64(g, "t.f64", &d) && d == 3.141592653589793);
    CHECK(berry_gguf_get_str(g, "t.str_nul", &s, &len) && len == 3 && memcmp(s, "a\0b", 4) == 0);
    CHECK(berry_gguf_get_str(g, "t.str_empty", &s, &len) && len == 0 && s[0] == 0);
    CHECK(!berry_gguf_get_str(g, "t.u8", &s, &len));
    CHECK(!berry_gguf_get_u32(g, "no.such.key", &u));
    CHECK_EQ_INT(berry_gguf_find_key(g, "no.such.key"), -1);

    int64_t k;
#define ARR(key, T, etype, ...)                                                            \
    do {                                                                                   \
        static const T want[] = {__VA_ARGS__};                                             \
        k = berry_gguf_find_key(g, key);                                                   \
        CHECKF(k >= 0, "key %s missing", key);                                             \
        CHECK(berry_gguf_kv_type(g, k) == BERRY_GGUF_ARRAY);                               \
        CHECK(berry_gguf_arr_type(g, k) == etype);                                         \
        CHECK_EQ_INT(berry_gguf_arr_len(g, k), sizeof want / sizeof want[0]);              \
        const T *got = berry_gguf_arr_data(g, k);                                          \
        CHECK(got && (uintptr_t)got % _Alignof(T) == 0);                                   \
        for (size_t j = 0; j < sizeof want / sizeof want[0]; j++)                          \
            CHECKF(got[j] == want[j], "%s[%zu] differs", key, j);                          \
    } while (0)
    ARR("a.u8", uint8_t, BERRY_GGUF_UINT8, 1, 2, 255);
    ARR("a.i8", int8_t, BERRY_GGUF_INT8, -128, 0, 127);
    ARR("a.u16", uint16_t, BERRY_GGUF_UINT16, 0, 65535);
    ARR("a.i16", int16_t, BERRY_GGUF_INT16, -32768, 32767);
    ARR("a.u32", uint32_t, BERRY_GGUF_UINT32, 7, 4294967295u);
    ARR("a.i32", int32_t, BERRY_GGUF_INT32, INT32_MIN, 5);
    ARR("a.f32", float, BERRY_GGUF_FLOAT32, 0.5f, -1.25f, 1024.0f);
    ARR("a.bool", uint8_t, BERRY_GGUF_BOOL, 1, 0, 1);
    ARR("a.u64", uint64_t, BERRY_GGUF_UINT64, UINT64_MAX, 0);
    ARR("a.i64", int64_t, BERRY_GGUF_INT64, INT64_MIN, INT64_MAX);
    ARR("a.f64", double, BERRY_GGUF_FLOAT64, 0.1, -2.5);
#undef ARR
    k = berry_gguf_find_key(g, "a.str");
    CHECK(berry_gguf_arr_type(g, k) == BERRY_GGUF_STRING && berry_gguf_arr_len(g, k) == 4);
    CHECK(berry_gguf_arr_data(g, k) == NULL);
    const char *want_s[] = {"a", "", "\xC3\xBC", "x y"};
    for (int j = 0; j < 4; j++) {
        s = berry_gguf_arr_str(g, k, (uint64_t)j, &len);
        CHECK_STR(s, want_s[j]);
        CHECK_EQ_INT(len, strlen(want_s[j]));
    }
    CHECK(berry_gguf_arr_str(g, k, 4, &len) == NULL);
    CHECK(berry_gguf_arr_type(g, berry_gguf_find_key(g, "t.u8")) == BERRY_GGUF_ARRAY);  // "not an array"
    CHECK(berry_gguf_arr_len(g, berry_gguf_find_key(g, "t.u8")) == 0);

    // Tensors: gguf-py writes ne reversed from numpy's shape; offsets are 64-aligned in insertion order
    // (24 bytes at 0, 8 at 64, 68 at 128, 96 at 256).
    static const struct { const char *name; int type, n_dims; int64_t ne[4]; size_t bytes, off; } tw[] = {
        {"w.f32", BERRY_TYPE_F32, 2, {3, 2, 1, 1}, 24, 0},
        {"w.f16", BERRY_TYPE_F16, 1, {4, 1, 1, 1}, 8, 64},
        {"w.q8_0", BERRY_TYPE_Q8_0, 2, {32, 2, 1, 1}, 68, 128},
        {"w.4d", BERRY_TYPE_F32, 4, {2, 2, 3, 2}, 96, 256},
    };
    CHECK(berry_gguf_data_offset(g) % 64 == 0);
    for (int t = 0; t < 4; t++) {
        int64_t ti = berry_gguf_find_tensor(g, tw[t].name);
        CHECK_EQ_INT(ti, t);
        CHECK_STR(berry_gguf_tensor_name(g, ti), tw[t].name);
        CHECK_EQ_INT(berry_gguf_tensor_type(g, ti), tw[t].type);
        CHECK_EQ_INT(berry_gguf_tensor_n_dims(g, ti), tw[t].n_dims);
        int64_t ne[4];
        berry_gguf_tensor_shape(g, ti, ne);
        for (int dd = 0; dd < 4; dd++) CHECK_EQ_INT(ne[dd], tw[t].ne[dd]);
        CHECK_EQ_INT(berry_gguf_tensor_bytes(g, ti), tw[t].bytes);
        CHECK_EQ_INT(berry_gguf_tensor_offset(g, ti) - berry_gguf_data_offset(g), tw[t].off);
    }
    const float *wf = berry_gguf_tensor_data(g, 0);
    for (int j = 0; j < 6; j++) CHECK(wf[j] == 0.5f * (float)j);
    // f16 bits of 1, -2, 0.5, 65504: 0x3C00, 0xC000, 0x3800, 0x7BFF.
    const uint16_t *wh = berry_gguf_tensor_data(g, 1);
    CHECK(wh[0] == 0x3C00 && wh[1] == 0xC000 && wh[2] == 0x3800 && wh[3] == 0x7BFF);
    const uint8_t *wq = berry_gguf_tensor_data(g, 2);
    for (int j = 0; j < 68; j++) CHECK(wq[j] == (uint8_t)((j * 7 + 3) % 256));
    const float *w4 = berry_gguf_tensor_data(g, 3);
    for (int j = 0; j < 24; j++) CHECK(w4[j] == (float)(j - 12));
    CHECK_EQ_INT(berry_gguf_find_tensor(g, "w.nope"), -1);
    berry_gguf_close(g);
}

// A file assembled here from the specification: version 2 (same layout as 3), default alignment.
TEST(gguf_reads_hand_built_v2_file) {
    bb b = {0};
    header(&b, 2, 2, 2);
    kv_u32(&b, "n", 42);
    str(&b, "s");
    u32(&b, BERRY_GGUF_STRING);
    str(&b, "hi");
    uint64_t ne1[] = {2}, ne2[] = {1, 3};
    tinfo(&b, "x", 1, ne1, BERRY_TYPE_F32, 32);  // stored second in the data section
    tinfo(&b, "y", 2, ne2, BERRY_TYPE_F32, 0);
    pad(&b, 32);
    size_t data = b.n;
    float y[3] = {1, 2, 3}, x[2] = {-1, -2};
    put(&b, y, 12);
    zeros(&b, 20);
    put(&b, x, 8);
    char err[256] = "";
    berry_gguf *g = berry_gguf_open_memory(b.p, b.n, err, sizeof err);
    CHECKF(g, "%s", err);
    CHECK_EQ_INT(berry_gguf_version(g), 2);
    CHECK_EQ_INT(berry_gguf_alignment(g), 32);
    CHECK_EQ_INT(berry_gguf_data_offset(g), data);
    uint32_t n;
    const char *s;
    CHECK(berry_gguf_get_u32(g, "n", &n) && n == 42);
    CHECK(berry_gguf_get_str(g, "s", &s, NULL) && strcmp(s, "hi") == 0);
    CHECK(berry_gguf_tensor_data(g, 0) == b.p + data + 32);
    CHECK(berry_gguf_tensor_data(g, 1) == b.p + data);
    CHECK(((const float *)berry_gguf_tensor_data(g, 0))[1] == -2);
    berry_gguf_close(g);
    free(b.p);
}

// ---- berry's writer: a sample file with every value type -------------------------------------------

// Tensor k's byte j is pat(k, j); the sample's tensors, with their offsets at alignment 32 computed by
// hand: 24 bytes at 0, 8 at 32, 34 at 64, 144 at 128, 16 at 288 (128+144=272 -> 288), 16 at 320.
static uint8_t pat(int k, size_t j) { return (uint8_t)(j * 13 + (size_t)k * 31 + 1); }
static const struct { const char *name; int type, n_dims; int64_t ne[4]; size_t bytes, off; } sample_t[] = {
    {"t.f32", BERRY_TYPE_F32, 2, {3, 2, 1, 1}, 24, 0},
    {"t.f16", BERRY_TYPE_F16, 1, {4, 1, 1, 1}, 8, 32},
    {"t.q8_0", BERRY_TYPE_Q8_0, 1, {32, 1, 1, 1}, 34, 64},
    {"t.q4_K", BERRY_TYPE_Q4_K, 1, {256, 1, 1, 1}, 144, 128},
    {"t.bf16", BERRY_TYPE_BF16, 3, {2, 2, 2, 1}, 16, 288},
    {"t.4d", BERRY_TYPE_F32, 4, {1, 2, 1, 2}, 16, 320},
};
#define SAMPLE_NT 6
#define SAMPLE_SIZE_AFTER_DATA 352  // 320 + 16, padded to 32
static uint8_t sample_data[SAMPLE_NT][144];

static const uint8_t a_u8[] = {0, 255};
static const int8_t a_i8[] = {-1};
static const uint16_t a_u16[] = {1, 2, 3};
static const int16_t a_i16[] = {-2};
static const uint32_t a_u32[] = {123456789};
static const int32_t a_i32[] = {-5, 5};
static const float a_f32[] = {0.25f, -8.0f};
static const uint8_t a_bool[] = {1, 0};
static const uint64_t a_u64[] = {1ull << 63};
static const int64_t a_i64[] = {-1};
static const double a_f64[] = {2.5};
static const char *const a_str[] = {"one", "", "thr\xC3\xA9"};

static berry_status sample_writer(berry_gguf_writer *w) {
    berry_status s = BERRY_OK;
#define S(call) do { if ((s = (call)) != BERRY_OK) return s; } while (0)
    S(berry_gguf_set_str(w, "general.architecture", "llama"));
    S(berry_gguf_set_u8(w, "s.u8", 7));
    S(berry_gguf_set_i8(w, "s.i8", -7));
    S(berry_gguf_set_u16(w, "s.u16", 65535));
    S(berry_gguf_set_i16(w, "s.i16", -32768));
    S(berry_gguf_set_u32(w, "s.u32", 1));  // replaced below; keeps this position
    S(berry_gguf_set_i32(w, "s.i32", INT32_MIN));
    S(berry_gguf_set_u64(w, "s.u64", UINT64_MAX));
    S(berry_gguf_set_i64(w, "s.i64", INT64_MIN));
    S(berry_gguf_set_f32(w, "s.f32", -0.375f));
    S(berry_gguf_set_f64(w, "s.f64", 0.1));
    S(berry_gguf_set_bool(w, "s.bool", false));
    S(berry_gguf_set_str(w, "s.str", "\xCF\x80\xE2\x89\x88" "3.14"));
    S(berry_gguf_set_str_n(w, "s.str_nul", "x\0y", 3));
    S(berry_gguf_set_arr(w, "a.u8", BERRY_GGUF_UINT8, a_u8, 2));
    S(berry_gguf_set_arr(w, "a.i8", BERRY_GGUF_INT8, a_i8, 1));
    S(berry_gguf_set_arr(w, "a.u16", BERRY_GGUF_UINT16, a_u16, 3));
    S(berry_gguf_set_arr(w, "a.i16", BERRY_GGUF_INT16, a_i16, 1));
    S(berry_gguf_set_arr(w, "a.u32", BERRY_GGUF_UINT32, a_u32, 1));
    S(berry_gguf_set_arr(w, "a.i32", BERRY_GGUF_INT32, a_i32, 2));
    S(berry_gguf_set_arr(w, "a.f32", BERRY_GGUF_FLOAT32, a_f32, 2));
    S(berry_gguf_set_arr(w, "a.bool", BERRY_GGUF_BOOL, a_bool, 2));
    S(berry_gguf_set_arr(w, "a.u64", BERRY_GGUF_UINT64, a_u64, 1));
    S(berry_gguf_set_arr(w, "a.i64", BERRY_GGUF_INT64, a_i64, 1));
    S(berry_gguf_set_arr(w, "a.f64", BERRY_GGUF_FLOAT64, a_f64, 1));
    S(berry_gguf_set_arr_str(w, "a.str", a_str, 3));
    S(berry_gguf_set_arr(w, "a.empty", BERRY_GGUF_UINT32, NULL, 0));
    S(berry_gguf_set_u32(w, "s.u32", 4294967295u));
    for (int k = 0; k < SAMPLE_NT; k++) {
        for (size_t j = 0; j < sample_t[k].bytes; j++) sample_data[k][j] = pat(k, j);
        S(berry_gguf_add_tensor(w, sample_t[k].name, sample_t[k].type, sample_t[k].n_dims, sample_t[k].ne,
                                sample_data[k], sample_t[k].bytes));
    }
#undef S
    return s;
}
#define SAMPLE_NKV 27

static int write_sample(const char *path) {
    berry_gguf_writer *w = berry_gguf_writer_new();
    char err[256] = "";
    berry_status s = sample_writer(w);
    if (s == BERRY_OK) s = berry_gguf_write(w, path, err, sizeof err);
    berry_gguf_writer_free(w);
    if (s != BERRY_OK) berry_test_fail(__FILE__, __LINE__, "writing the sample: %s (%s)", berry_status_name(s), err);
    return s == BERRY_OK;
}

// Checks everything sample_writer put into G.
static void check_sample(const berry_gguf *g) {
    static const char *keys[SAMPLE_NKV] = {
        "general.architecture", "s.u8", "s.i8", "s.u16", "s.i16", "s.u32", "s.i32", "s.u64", "s.i64",
        "s.f32", "s.f64", "s.bool", "s.str", "s.str_nul", "a.u8", "a.i8", "a.u16", "a.i16", "a.u32",
        "a.i32", "a.f32", "a.bool", "a.u64", "a.i64", "a.f64", "a.str", "a.empty"};
    CHECK_EQ_INT(berry_gguf_version(g), 3);
    CHECK_EQ_INT(berry_gguf_alignment(g), 32);
    CHECK_EQ_INT(berry_gguf_n_kv(g), SAMPLE_NKV);
    for (int i = 0; i < SAMPLE_NKV; i++) {
        CHECK_STR(berry_gguf_key(g, i), keys[i]);
        CHECK_EQ_INT(berry_gguf_find_key(g, keys[i]), i);
    }
    uint8_t v8; int8_t i8; uint16_t v16; int16_t i16; uint32_t v32; int32_t i32; uint64_t v64; int64_t i64;
    float f; double d; bool b; const char *s; size_t len;
    CHECK(berry_gguf_get_scalar(g, 1, &v8) && v8 == 7);
    CHECK(berry_gguf_get_scalar(g, 2, &i8) && i8 == -7);
    CHECK(berry_gguf_get_scalar(g, 3, &v16) && v16 == 65535);
    CHECK(berry_gguf_get_scalar(g, 4, &i16) && i16 == -32768);
    CHECK(berry_gguf_get_scalar(g, 5, &v32) && v32 == 4294967295u);
    CHECK(berry_gguf_get_scalar(g, 6, &i32) && i32 == INT32_MIN);
    CHECK(berry_gguf_get_scalar(g, 7, &v64) && v64 == UINT64_MAX);
    CHECK(berry_gguf_get_scalar(g, 8, &i64) && i64 == INT64_MIN);
    CHECK(berry_gguf_get_scalar(g, 9, &f) && f == -0.375f);
    CHECK(berry_gguf_get_scalar(g, 10, &d) && d == 0.1);
    CHECK(berry_gguf_get_scalar(g, 11, &v8) && v8 == 0);
    CHECK(!berry_gguf_get_scalar(g, 12, &v64));  // a string
    static const berry_gguf_type types[SAMPLE_NKV] = {
        BERRY_GGUF_STRING, BERRY_GGUF_UINT8, BERRY_GGUF_INT8, BERRY_GGUF_UINT16, BERRY_GGUF_INT16,
        BERRY_GGUF_UINT32, BERRY_GGUF_INT32, BERRY_GGUF_UINT64, BERRY_GGUF_INT64, BERRY_GGUF_FLOAT32,
        BERRY_GGUF_FLOAT64, BERRY_GGUF_BOOL, BERRY_GGUF_STRING, BERRY_GGUF_STRING};
    for (int i = 0; i < 14; i++) CHECK_EQ_INT(berry_gguf_kv_type(g, i), types[i]);
    CHECK(berry_gguf_get_u32(g, "s.u32", &v32) && v32 == 4294967295u);
    CHECK(berry_gguf_get_i64(g, "s.i16", &i64) && i64 == -32768);
    CHECK(berry_gguf_get_f32(g, "s.u16", &f) && f == 65535.0f);  // integers convert
    CHECK(berry_gguf_get_f64(g, "s.i8", &d) && d == -7.0);
    CHECK(berry_gguf_get_bool(g, "s.bool", &b) && !b);
    CHECK(berry_gguf_get_str(g, "s.str", &s, &len) && len == 9 && strcmp(s, "\xCF\x80\xE2\x89\x88" "3.14") == 0);
    CHECK(berry_gguf_get_str(g, "s.str_nul", &s, &len) && len == 3 && memcmp(s, "x\0y", 4) == 0);

    struct { const char *key; berry_gguf_type t; const void *data; uint64_t n; size_t es; } arrs[] = {
        {"a.u8", BERRY_GGUF_UINT8, a_u8, 2, 1},       {"a.i8", BERRY_GGUF_INT8, a_i8, 1, 1},
        {"a.u16", BERRY_GGUF_UINT16, a_u16, 3, 2},    {"a.i16", BERRY_GGUF_INT16, a_i16, 1, 2},
        {"a.u32", BERRY_GGUF_UINT32, a_u32, 1, 4},    {"a.i32", BERRY_GGUF_INT32, a_i32, 2, 4},
        {"a.f32", BERRY_GGUF_FLOAT32, a_f32, 2, 4},   {"a.bool", BERRY_GGUF_BOOL, a_bool, 2, 1},
        {"a.u64", BERRY_GGUF_UINT64, a_u64, 1, 8},    {"a.i64", BERRY_GGUF_INT64, a_i64, 1, 8},
        {"a.f64", BERRY_GGUF_FLOAT64, a_f64, 1, 8},   {"a.empty", BERRY_GGUF_UINT32, NULL, 0, 4},
    };
    for (size_t a = 0; a < sizeof arrs / sizeof arrs[0]; a++) {
        int64_t k = berry_gguf_find_key(g, arrs[a].key);
        CHECK(berry_gguf_kv_type(g, k) == BERRY_GGUF_ARRAY);
        CHECK_EQ_INT(berry_gguf_arr_type(g, k), arrs[a].t);
        CHECK_EQ_INT(berry_gguf_arr_len(g, k), arrs[a].n);
        const void *p = berry_gguf_arr_data(g, k);
        CHECK(p && (uintptr_t)p % arrs[a].es == 0);
        if (arrs[a].n) CHECKF(memcmp(p, arrs[a].data, arrs[a].n * arrs[a].es) == 0, "%s differs", arrs[a].key);
    }
    int64_t k = berry_gguf_find_key(g, "a.str");
    CHECK(berry_gguf_arr_type(g, k) == BERRY_GGUF_STRING && berry_gguf_arr_len(g, k) == 3);
    for (int j = 0; j < 3; j++) {
        CHECK_STR(berry_gguf_arr_str(g, k, (uint64_t)j, &len), a_str[j]);
        CHECK_EQ_INT(len, strlen(a_str[j]));
    }

    CHECK_EQ_INT(berry_gguf_n_tensors(g), SAMPLE_NT);
    for (int t = 0; t < SAMPLE_NT; t++) {
        CHECK_EQ_INT(berry_gguf_find_tensor(g, sample_t[t].name), t);
        CHECK_STR(berry_gguf_tensor_name(g, t), sample_t[t].name);
        CHECK_EQ_INT(berry_gguf_tensor_type(g, t), sample_t[t].type);
        CHECK_EQ_INT(berry_gguf_tensor_n_dims(g, t), sample_t[t].n_dims);
        int64_t ne[4];
        berry_gguf_tensor_shape(g, t, ne);
        for (int dd = 0; dd < 4; dd++) CHECK_EQ_INT(ne[dd], sample_t[t].ne[dd]);
        CHECK_EQ_INT(berry_gguf_tensor_bytes(g, t), sample_t[t].bytes);
        CHECK_EQ_INT(berry_gguf_tensor_offset(g, t) - berry_gguf_data_offset(g), sample_t[t].off);
        const uint8_t *p = berry_gguf_tensor_data(g, t);
        for (size_t j = 0; j < sample_t[t].bytes; j++) CHECKF(p[j] == pat(t, j), "tensor %d byte %zu", t, j);
    }
}

TEST(gguf_round_trip_every_type) {
    char path[512];
    snprintf(path, sizeof path, "%s/sample.gguf", berry_test_tmpdir());
    if (!write_sample(path)) return;
    char err[256] = "";
    berry_gguf *g = berry_gguf_open(path, err, sizeof err);
    CHECKF(g, "%s", err);
    check_sample(g);
    // The file ends at the padded end of the last tensor, and every padding byte between tensors is 0.
    size_t n;
    uint8_t *bytes = read_file(path, &n);
    size_t data = berry_gguf_data_offset(g);
    CHECK(data % 32 == 0);
    CHECK_EQ_INT(n, data + SAMPLE_SIZE_AFTER_DATA);
    for (int t = 0; t < SAMPLE_NT; t++) {
        size_t end = data + sample_t[t].off + sample_t[t].bytes;
        size_t next = t + 1 < SAMPLE_NT ? data + sample_t[t + 1].off : n;
        for (size_t j = end; j < next; j++) CHECK(bytes[j] == 0);
    }
    // Reading it back from memory gives the same.
    berry_gguf *m = berry_gguf_open_memory(bytes, n, err, sizeof err);
    CHECKF(m, "%s", err);
    check_sample(m);
    berry_gguf_close(m);
    free(bytes);
    berry_gguf_close(g);
}

// Copying every key (string arrays included) and every tensor of a file reproduces it byte for byte.
TEST(gguf_copy_kv_reproduces_file) {
    char a[512], b[512], err[256] = "";
    snprintf(a, sizeof a, "%s/a.gguf", berry_test_tmpdir());
    snprintf(b, sizeof b, "%s/b.gguf", berry_test_tmpdir());
    if (!write_sample(a)) return;
    berry_gguf *g = berry_gguf_open(a, err, sizeof err);
    CHECKF(g, "%s", err);
    berry_gguf_writer *w = berry_gguf_writer_new();
    for (int64_t i = 0; i < berry_gguf_n_kv(g); i++) CHECK(berry_gguf_copy_kv(w, g, i) == BERRY_OK);
    for (int64_t t = 0; t < berry_gguf_n_tensors(g); t++) {
        int64_t ne[4];
        berry_gguf_tensor_shape(g, t, ne);
        CHECK(berry_gguf_add_tensor(w, berry_gguf_tensor_name(g, t), berry_gguf_tensor_type(g, t),
                                    berry_gguf_tensor_n_dims(g, t), ne, berry_gguf_tensor_data(g, t),
                                    berry_gguf_tensor_bytes(g, t)) == BERRY_OK);
    }
    CHECK(berry_gguf_copy_kv(w, g, berry_gguf_n_kv(g)) == BERRY_EINVAL);
    CHECKF(berry_gguf_write(w, b, err, sizeof err) == BERRY_OK, "%s", err);
    berry_gguf_writer_free(w);
    berry_gguf_close(g);
    size_t na, nb;
    uint8_t *pa = read_file(a, &na), *pb = read_file(b, &nb);
    CHECK(pa && pb && na == nb && memcmp(pa, pb, na) == 0);
    free(pa);
    free(pb);
}

// A custom alignment set in the writer moves every tensor to a multiple of it.
TEST(gguf_writer_custom_alignment) {
    char path[512], err[256] = "";
    snprintf(path, sizeof path, "%s/al.gguf", berry_test_tmpdir());
    berry_gguf_writer *w = berry_gguf_writer_new();
    float x[3] = {1, 2, 3};
    int64_t ne[1] = {3};
    CHECK(berry_gguf_set_u32(w, "general.alignment", 48) == BERRY_OK);
    CHECK(berry_gguf_add_tensor(w, "a", BERRY_TYPE_F32, 1, ne, x, 12) == BERRY_OK);
    CHECK(berry_gguf_add_tensor(w, "b", BERRY_TYPE_F32, 1, ne, x, 12) == BERRY_OK);
    CHECK(berry_gguf_write(w, path, err, sizeof err) == BERRY_EINVAL);  // 48 is not a power of two
    CHECK(err[0] && access(path, F_OK) != 0);
    CHECK(berry_gguf_set_u32(w, "general.alignment", 128) == BERRY_OK);
    CHECKF(berry_gguf_write(w, path, err, sizeof err) == BERRY_OK, "%s", err);
    berry_gguf_writer_free(w);
    berry_gguf *g = berry_gguf_open(path, err, sizeof err);
    CHECKF(g, "%s", err);
    CHECK_EQ_INT(berry_gguf_alignment(g), 128);
    CHECK(berry_gguf_data_offset(g) % 128 == 0);
    CHECK_EQ_INT(berry_gguf_tensor_offset(g, 1) - berry_gguf_data_offset(g), 128);
    CHECK(memcmp(berry_gguf_tensor_data(g, 1), x, 12) == 0);
    berry_gguf_close(g);
}

TEST(gguf_writer_rejects_bad_arguments) {
    berry_gguf_writer *w = berry_gguf_writer_new();
    float x[64] = {0};
    int64_t ne[4] = {4, 1, 1, 1}, bad0[1] = {0}, q31[1] = {31}, q32[1] = {32};
    CHECK(berry_gguf_set_u32(w, "", 1) == BERRY_EINVAL);
    CHECK(berry_gguf_set_u32(w, "\xFF", 1) == BERRY_EINVAL);  // not UTF-8
    CHECK(berry_gguf_set_u32(w, NULL, 1) == BERRY_EINVAL);
    CHECK(berry_gguf_set_str(w, "k", NULL) == BERRY_EINVAL);
    uint8_t bools[2] = {1, 2};
    CHECK(berry_gguf_set_arr(w, "k", BERRY_GGUF_BOOL, bools, 2) == BERRY_EINVAL);
    CHECK(berry_gguf_set_arr(w, "k", BERRY_GGUF_STRING, bools, 2) == BERRY_EINVAL);
    CHECK(berry_gguf_set_arr(w, "k", BERRY_GGUF_ARRAY, bools, 2) == BERRY_EINVAL);
    CHECK(berry_gguf_add_tensor(w, "t", BERRY_TYPE_F32, 1, ne, x, 16) == BERRY_OK);
    CHECK(berry_gguf_add_tensor(w, "t", BERRY_TYPE_F32, 1, ne, x, 16) == BERRY_EINVAL);   // duplicate
    CHECK(berry_gguf_add_tensor(w, "u", BERRY_TYPE_F32, 1, ne, x, 12) == BERRY_EINVAL);   // wrong size
    CHECK(berry_gguf_add_tensor(w, "u", 99, 1, ne, x, 16) == BERRY_EINVAL);               // unknown type
    CHECK(berry_gguf_add_tensor(w, "u", BERRY_TYPE_F32, 0, ne, x, 16) == BERRY_EINVAL);
    CHECK(berry_gguf_add_tensor(w, "u", BERRY_TYPE_F32, 5, ne, x, 16) == BERRY_EINVAL);
    CHECK(berry_gguf_add_tensor(w, "u", BERRY_TYPE_F32, 1, bad0, x, 0) == BERRY_EINVAL);
    CHECK(berry_gguf_add_tensor(w, "u", BERRY_TYPE_Q8_0, 1, q31, x, 34) == BERRY_EINVAL); // 31 % 32
    CHECK(berry_gguf_add_tensor(w, "u", BERRY_TYPE_Q8_0, 1, q32, x, 34) == BERRY_OK);
    CHECK(berry_gguf_add_tensor(w, "0123456789012345678901234567890123456789012345678901234567890123",
                                BERRY_TYPE_F32, 1, ne, x, 16) == BERRY_EINVAL);             // 64 bytes
    CHECK(berry_gguf_add_tensor(w, "v", BERRY_TYPE_F32, 1, ne, NULL, 16) == BERRY_EINVAL);
    berry_gguf_writer_free(w);
}

// ---- gguf-py reads berry's file --------------------------------------------------------------------

// Appends the hex of tensor k's bytes.
static void hex_pat(char *dst, int k, size_t n) {
    size_t o = strlen(dst);
    for (size_t j = 0; j < n; j++) o += (size_t)sprintf(dst + o, "%02x", pat(k, j));
}

TEST(gguf_py_reads_berry_file) {
    if (access("/usr/bin/python3", X_OK) != 0) SKIP("/usr/bin/python3 is missing");
    char path[512], out[600], cmd[2048];
    snprintf(path, sizeof path, "%s/sample.gguf", berry_test_tmpdir());
    snprintf(out, sizeof out, "%s/dump.txt", berry_test_tmpdir());
    if (!write_sample(path)) return;
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s %s > %s 2> %s.err", berry_test_path("tests/ref/gguf_read.py"), path, out, out);
    int rc = system(cmd);
    if (WIFEXITED(rc) && WEXITSTATUS(rc) == 2) SKIP("llama.cpp's gguf-py is not available (tests/ref/fetch_llama_cpp.sh failed)");
    size_t n;
    if (!WIFEXITED(rc) || WEXITSTATUS(rc) != 0) {
        char errpath[700];
        snprintf(errpath, sizeof errpath, "%s.err", out);
        char *msg = (char *)read_file(errpath, &n);
        CHECKF(0, "gguf_read.py failed: %s\n%.*s", cmd, msg ? (int)n : 0, msg ? msg : "");
    }
    char *got = (char *)read_file(out, &n);
    CHECK(got);
    got = realloc(got, n + 1);
    got[n] = 0;
    // Written by hand from sample_writer: Python's repr of each float, strings as hex bytes.
    static char want[8192];
    strcpy(want,
           "version 3\n"
           "n_tensors 6\n"
           "n_kv 27\n"
           "alignment 32\n"
           "kv general.architecture string 6c6c616d61\n"
           "kv s.u8 uint8 7\n"
           "kv s.i8 int8 -7\n"
           "kv s.u16 uint16 65535\n"
           "kv s.i16 int16 -32768\n"
           "kv s.u32 uint32 4294967295\n"
           "kv s.i32 int32 -2147483648\n"
           "kv s.u64 uint64 18446744073709551615\n"
           "kv s.i64 int64 -9223372036854775808\n"
           "kv s.f32 float32 -0.375\n"
           "kv s.f64 float64 0.1\n"
           "kv s.bool bool false\n"
           "kv s.str string cf80e28988332e3134\n"
           "kv s.str_nul string 780079\n"
           "kv a.u8 array[uint8] 2 0,255\n"
           "kv a.i8 array[int8] 1 -1\n"
           "kv a.u16 array[uint16] 3 1,2,3\n"
           "kv a.i16 array[int16] 1 -2\n"
           "kv a.u32 array[uint32] 1 123456789\n"
           "kv a.i32 array[int32] 2 -5,5\n"
           "kv a.f32 array[float32] 2 0.25,-8.0\n"
           "kv a.bool array[bool] 2 true,false\n"
           "kv a.u64 array[uint64] 1 9223372036854775808\n"
           "kv a.i64 array[int64] 1 -1\n"
           "kv a.f64 array[float64] 1 2.5\n"
           "kv a.str array[string] 3 6f6e65,,746872c3a9\n"
           "kv a.empty array[uint32] 0 \n");
    // gguf-py prints the dims as stored (ne[0] first).
    static const char *dims[SAMPLE_NT] = {"3,2", "4", "32", "256", "2,2,2", "1,2,1,2"};
    for (int t = 0; t < SAMPLE_NT; t++) {
        sprintf(want + strlen(want), "tensor %s %d %s %zu %zu ", sample_t[t].name, sample_t[t].type, dims[t],
                sample_t[t].bytes, sample_t[t].off);
        hex_pat(want, t, sample_t[t].bytes);
        strcat(want, "\n");
    }
    if (strcmp(got, want) != 0) {
        // Report the first differing line.
        const char *a = got, *b = want;
        while (*a && *a == *b) a++, b++;
        while (a > got && a[-1] != '\n') a--, b--;
        CHECKF(0, "gguf-py's dump differs at:\n      got:  %.200s\n      want: %.200s", a, b);
    }
    free(got);
}

// ---- hostile input -----------------------------------------------------------------------------------

// Every proper prefix of a valid file is rejected with one line (the last tensor ends at the file's end).
TEST(gguf_rejects_every_truncation) {
    char path[512];
    snprintf(path, sizeof path, "%s/sample.gguf", berry_test_tmpdir());
    if (!write_sample(path)) return;
    size_t n;
    uint8_t *p = read_file(path, &n);
    CHECK(p);
    // The file ends with padding after the last tensor (336 -> 352), which may be cut without harm.
    size_t must = n - (SAMPLE_SIZE_AFTER_DATA - 336);
    for (size_t cut = 0; cut < must; cut++) {
        char err[512] = "";
        CHECKF(!open_copy(p, cut, err, sizeof err), "prefix of %zu bytes accepted", cut);
        CHECKF(err[0] && !strchr(err, '\n'), "prefix of %zu bytes: error \"%s\"", cut, err);
    }
    char err[512] = "";
    CHECK(open_copy(p, must, err, sizeof err));
    free(p);
}

// Builds the standard small valid file of the hostile tests into B, with hooks for what to spoil.
typedef struct {
    uint32_t version, n_dims, type, arr_type, value_type;
    uint64_t n_tensors, n_kv, key_len, dim0, dim1, off0, off1, arr_len, str_len;
    const char *key, *name0, *name1;
    size_t truncate;  // drop this many bytes at the end
} spec;

static spec base_spec(void) {
    return (spec){.version = 3, .n_dims = 2, .type = BERRY_TYPE_F32, .arr_type = BERRY_GGUF_UINT32,
                  .value_type = BERRY_GGUF_ARRAY, .n_tensors = 2, .n_kv = 3, .key_len = 1, .dim0 = 4,
                  .dim1 = 2, .off0 = 0, .off1 = 32, .arr_len = 2, .str_len = 2, .key = "k", .name0 = "w0",
                  .name1 = "w1"};
}

// Keys: "k" = array of 2 u32 (or VALUE_TYPE/ARR_TYPE spoiled), "s" = string "hi", "b" = bool 1.
// Tensors w0 (n_dims, dim0 x dim1, type, off0) and w1 (f32 [8] at off1); 64 data bytes.
static void build(bb *b, spec s) {
    b->n = 0;
    header(b, s.version, s.n_tensors, s.n_kv);
    u64(b, s.key_len);
    put(b, s.key, strlen(s.key));
    u32(b, s.value_type);
    if (s.value_type == BERRY_GGUF_ARRAY) {
        u32(b, s.arr_type);
        u64(b, s.arr_len);
        if (s.arr_type == BERRY_GGUF_STRING) { str(b, "ab"); str(b, "c"); }
        else if (s.arr_type == BERRY_GGUF_ARRAY) { u32(b, BERRY_GGUF_UINT8); u64(b, 1); u8(b, 1); u32(b, BERRY_GGUF_UINT8); u64(b, 0); }
        else { u32(b, 1); u32(b, 2); }
    } else {
        u32(b, 5);
    }
    str(b, "s");
    u32(b, BERRY_GGUF_STRING);
    u64(b, s.str_len);
    put(b, "hi", 2);
    str(b, "b");
    u32(b, BERRY_GGUF_BOOL);
    u8(b, 1);
    uint64_t ne0[8] = {s.dim0, s.dim1, 1, 1, 1, 1, 1, 1}, ne1[1] = {8};
    tinfo(b, s.name0, s.n_dims, ne0, s.type, s.off0);
    tinfo(b, s.name1, 1, ne1, BERRY_TYPE_F32, s.off1);
    pad(b, 32);
    for (int j = 0; j < 64; j++) u8(b, (uint8_t)j);
    b->n -= s.truncate;
}

TEST(gguf_rejects_hostile_files) {
    bb b = {0};
    spec s = base_spec();
    build(&b, s);
    char err[512] = "";
    berry_gguf *g = berry_gguf_open_memory(b.p, b.n, err, sizeof err);
    CHECKF(g, "the base file must be valid: %s", err);
    berry_gguf_close(g);

#define BAD(field, value, want)                              \
    do {                                                     \
        s = base_spec();                                     \
        s.field = value;                                     \
        build(&b, s);                                        \
        if (!expect_reject(&b, want, #field " = " #value)) return; \
    } while (0)
    BAD(version, 1, "version 1 is not supported");
    BAD(version, 4, "unsupported GGUF version 4");
    BAD(version, 0x03000000, "big-endian");
    BAD(n_kv, UINT64_MAX, "claims");
    BAD(n_kv, 1ull << 40, "claims");
    BAD(n_tensors, UINT64_MAX / 2, "claims");
    BAD(n_kv, 4, "");             // one more pair than present: reads into the tensor infos
    BAD(n_tensors, 3, "");        // one more tensor than present
    BAD(key_len, UINT64_MAX, "claims");
    BAD(key_len, 60000, "needs");
    BAD(key_len, 0, "empty");
    BAD(key, "\xFF", "UTF-8");
    BAD(key, "\xC0\x80", "UTF-8");          // overlong NUL
    BAD(key, "\xED\xA0\x80", "UTF-8");      // surrogate
    BAD(value_type, 13, "unknown value type 13");
    BAD(value_type, 0xFFFFFFFF, "unknown value type");
    BAD(arr_type, BERRY_GGUF_ARRAY, "nested arrays");
    BAD(arr_type, 77, "unknown array element type 77");
    BAD(arr_len, 1ull << 61, "needs");
    BAD(arr_len, UINT64_MAX, "needs");
    BAD(arr_len, 1000, "needs");
    BAD(str_len, UINT64_MAX, "needs");
    BAD(str_len, 1ull << 40, "needs");
    BAD(n_dims, 0, "n_dims is 0");
    BAD(n_dims, 5, "n_dims is 5");
    BAD(dim0, 0, "dimension 0 is 0");
    BAD(dim1, 0, "dimension 1 is 0");
    BAD(dim0, (uint64_t)-4, "dimension 0 is");   // -4 as int64
    BAD(dim1, 1ull << 62, "overflows");
    BAD(type, 4, "unknown ggml type 4");         // q4_2: removed from ggml, unknown to berry
    BAD(type, 0x80000000u, "unknown ggml type");
    BAD(type, BERRY_TYPE_Q8_0, "multiple of the q8_0 block size 32");
    BAD(off0, 16, "not a multiple of the alignment 32");
    BAD(off0, 1ull << 40, "data ends at byte");
    BAD(off0, UINT64_MAX - 31, "overflows");
    BAD(off1, 64, "data ends at byte");
    BAD(off1, 0, "overlaps");
    BAD(dim1, 3, "overlaps");                    // w0 grows to 48 bytes, into w1 at 32
    BAD(dim1, 1000, "data ends at byte");
    BAD(name1, "w0", "duplicate tensor name");
    BAD(name0, "", "empty");
    BAD(key, "s", "duplicate key");
    BAD(truncate, 1, "data ends at byte");
    // The exact message the design asks for.
    BAD(dim1, 1000, "tensor 'w0': data ends at byte");

    // A string array whose element lengths lie; a string array count that cannot fit.
    s = base_spec();
    s.arr_type = BERRY_GGUF_STRING;
    build(&b, s);
    g = berry_gguf_open_memory(b.p, b.n, err, sizeof err);
    CHECKF(g, "string-array variant must be valid: %s", err);
    berry_gguf_close(g);
    BAD(arr_len, 3, "");                       // the third "string" is the next key's bytes
    s.arr_type = BERRY_GGUF_STRING;
    s.arr_len = 1ull << 60;
    build(&b, s);
    if (!expect_reject(&b, "cannot fit", "string array count")) return;

    // Bool values other than 0/1, as a scalar and in an array.
    s = base_spec();
    build(&b, s);
    // The bool is the last byte before the tensor infos: find "b" key then type 7 then value.
    for (size_t j = 0; j + 13 < b.n; j++) {
        if (memcmp(b.p + j, "\x01\0\0\0\0\0\0\0b\x07\0\0\0\x01", 14) == 0) { b.p[j + 13] = 2; break; }
    }
    if (!expect_reject(&b, "bool value is 2", "bool 2")) return;
    bb c = {0};
    header(&c, 3, 0, 1);
    str(&c, "bools");
    u32(&c, BERRY_GGUF_ARRAY);
    u32(&c, BERRY_GGUF_BOOL);
    u64(&c, 3);
    u8(&c, 1);
    u8(&c, 0);
    u8(&c, 255);
    if (!expect_reject(&c, "bool element 2 is 255", "bool array")) return;

    // general.alignment: not a power of two, zero, wrong type.
    uint32_t aligns[] = {0, 3, 48};
    for (int a = 0; a < 3; a++) {
        c.n = 0;
        header(&c, 3, 0, 1);
        kv_u32(&c, "general.alignment", aligns[a]);
        if (!expect_reject(&c, "not a power of two", "alignment")) return;
    }
    c.n = 0;
    header(&c, 3, 0, 1);
    str(&c, "general.alignment");
    u32(&c, BERRY_GGUF_UINT64);
    u64(&c, 32);
    if (!expect_reject(&c, "not uint32", "alignment u64")) return;

    // A key with a NUL byte inside.
    c.n = 0;
    header(&c, 3, 0, 1);
    strn(&c, "a\0b", 3);
    u32(&c, BERRY_GGUF_UINT8);
    u8(&c, 1);
    if (!expect_reject(&c, "NUL", "NUL in key")) return;

    // Names from the file are quoted so that the message stays one line.
    c.n = 0;
    header(&c, 3, 0, 2);
    kv_u32(&c, "x\ny", 1);
    kv_u32(&c, "x\ny", 2);
    if (!expect_reject(&c, "key 'x\\x0Ay': duplicate key", "newline in key")) return;

    // Not GGUF at all; too short for a header.
    c.n = 0;
    put(&c, "GGUX", 4);
    zeros(&c, 20);
    if (!expect_reject(&c, "not a GGUF file", "magic")) return;
    c.n = 2;
    if (!expect_reject(&c, "too few", "2 bytes")) return;
    c.n = 0;
    if (!expect_reject(&c, "too few", "0 bytes")) return;
#undef BAD
    free(b.p);
    free(c.p);
}

TEST(gguf_open_errors_name_the_file) {
    char err[512] = "", path[512];
    CHECK(!berry_gguf_open("/nonexistent/x.gguf", err, sizeof err));
    CHECK(strstr(err, "/nonexistent/x.gguf") && !strchr(err, '\n'));
    CHECK(!berry_gguf_open(berry_test_tmpdir(), err, sizeof err));
    CHECK(strstr(err, "not a regular file"));
    snprintf(path, sizeof path, "%s/empty.gguf", berry_test_tmpdir());
    FILE *f = fopen(path, "wb");
    fclose(f);
    CHECK(!berry_gguf_open(path, err, sizeof err));
    CHECK(strstr(err, "empty"));
    CHECK(!berry_gguf_open(path, NULL, 0));  // no buffer: still just NULL
}

// Random byte mutations of a valid file: each either opens (and every value can be walked) or fails
// with one line; AddressSanitizer/UBSan watch every read.
static uint64_t xs(uint64_t *s) { *s ^= *s << 13; *s ^= *s >> 7; *s ^= *s << 17; return *s; }

TEST(gguf_survives_random_mutations) {
    char path[512];
    snprintf(path, sizeof path, "%s/sample.gguf", berry_test_tmpdir());
    if (!write_sample(path)) return;
    size_t n;
    uint8_t *orig = read_file(path, &n);
    size_t data = n - SAMPLE_SIZE_AFTER_DATA;  // mutate only the header and metadata
    uint8_t *p = malloc(n);
    uint64_t seed = 0x9E3779B97F4A7C15ull;
    int opened = 0;
    for (int it = 0; it < 3000; it++) {
        memcpy(p, orig, n);
        int flips = 1 + (int)(xs(&seed) % 4);
        for (int f = 0; f < flips; f++) {
            size_t at = xs(&seed) % data;
            uint64_t r = xs(&seed);
            if (r % 3 == 0) p[at] = (uint8_t)(r >> 8);
            else if (r % 3 == 1) p[at] ^= (uint8_t)(1u << ((r >> 8) % 8));
            else if (at + 8 <= data) { uint64_t v = r >> 2; memcpy(p + at, &v, (r >> 1) % 2 ? 8 : 4); }
        }
        char err[512] = "";
        berry_gguf *g = berry_gguf_open_memory(p, n, err, sizeof err);
        if (!g) {
            CHECKF(err[0] && !strchr(err, '\n'), "mutation %d: error \"%s\"", it, err);
            continue;
        }
        opened++;
        volatile uint64_t sink = 0;
        for (int64_t i = 0; i < berry_gguf_n_kv(g); i++) {
            sink += strlen(berry_gguf_key(g, i));
            uint64_t len = berry_gguf_arr_len(g, i);
            for (uint64_t j = 0; j < len; j++) {
                const char *s = berry_gguf_arr_str(g, i, j, NULL);
                if (s) sink += (uint8_t)s[0];
            }
        }
        for (int64_t t = 0; t < berry_gguf_n_tensors(g); t++) {
            const uint8_t *d = berry_gguf_tensor_data(g, t);
            size_t bytes = berry_gguf_tensor_bytes(g, t);
            sink += d[0] + d[bytes - 1];
        }
        (void)sink;
        berry_gguf_close(g);
    }
    CHECK(opened > 0 && opened < 3000);  // some mutations hit values only, most hit structure
    free(p);
    free(orig);
}

// ---- atomic writing ----------------------------------------------------------------------------------

TEST(gguf_write_is_atomic) {
    char err[512] = "", path[512], tmp[600];
    // A missing directory: a clean error, no file.
    snprintf(path, sizeof path, "%s/no/such/dir/x.gguf", berry_test_tmpdir());
    berry_gguf_writer *w = berry_gguf_writer_new();
    CHECK(berry_gguf_set_u32(w, "a", 1) == BERRY_OK);
    CHECK(berry_gguf_write(w, path, err, sizeof err) == BERRY_EIO);
    CHECK(err[0] && !strchr(err, '\n') && strstr(err, "no/such/dir"));
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    CHECK(access(path, F_OK) != 0 && access(tmp, F_OK) != 0);
    berry_gguf_writer_free(w);

    // Over an existing, larger file: replaced whole (no tail of the old file left), no temporary left.
    snprintf(path, sizeof path, "%s/x.gguf", berry_test_tmpdir());
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(path, "wb");
    for (int j = 0; j < 100000; j++) fputc('z', f);
    fclose(f);
    w = berry_gguf_writer_new();
    CHECK(berry_gguf_set_str(w, "a", "b") == BERRY_OK);
    CHECKF(berry_gguf_write(w, path, err, sizeof err) == BERRY_OK, "%s", err);
    berry_gguf_writer_free(w);
    size_t n;
    uint8_t *p = read_file(path, &n);
    // Hand count: magic 4 + version 4 + counts 16 + key (8 + 1) + type 4 + string (8 + 1) = 46, then
    // padding to 32 -> 64 (the writer pads the end of the metadata even without tensors).
    CHECK_EQ_INT(n, 64);
    CHECK(memcmp(p, "GGUF\3\0\0\0", 8) == 0);
    for (size_t j = 46; j < 64; j++) CHECK(p[j] == 0);
    CHECK(access(tmp, F_OK) != 0);
    free(p);
    berry_gguf *g = berry_gguf_open(path, err, sizeof err);
    CHECKF(g, "%s", err);
    berry_gguf_close(g);

    // A file that cannot be renamed over (PATH is a non-empty directory): the temporary is removed.
    snprintf(path, sizeof path, "%s/dir.gguf", berry_test_tmpdir());
    snprintf(tmp, sizeof tmp, "%s/dir.gguf/inner", berry_test_tmpdir());
    CHECK(mkdir(path, 0755) == 0);
    f = fopen(tmp, "wb");
    fclose(f);
    w = berry_gguf_writer_new();
    CHECK(berry_gguf_write(w, path, err, sizeof err) == BERRY_EIO);
    CHECK(strstr(err, "renaming"));
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    CHECK(access(tmp, F_OK) != 0);
    berry_gguf_writer_free(w);
}

// ---- speed -------------------------------------------------------------------------------------------

// A 150k-token vocabulary (the size of qwen2's) must open in milliseconds; 1 s is a loose bound that
// holds under AddressSanitizer. BERRY_TEST_VERBOSE=1 prints the time.
TEST(gguf_opens_150k_vocab_fast) {
    enum { N = 150000 };
    char path[512], err[256] = "";
    snprintf(path, sizeof path, "%s/vocab.gguf", berry_test_tmpdir());
    char *blob = malloc((size_t)N * 16);
    const char **strs = malloc(N * sizeof *strs);
    float *scores = malloc(N * sizeof *scores);
    for (int i = 0; i < N; i++) {
        snprintf(blob + (size_t)i * 16, 16, "tok%d", i);
        strs[i] = blob + (size_t)i * 16;
        scores[i] = (float)-i;
    }
    berry_gguf_writer *w = berry_gguf_writer_new();
    CHECK(berry_gguf_set_arr_str(w, "tokenizer.ggml.tokens", strs, N) == BERRY_OK);
    CHECK(berry_gguf_set_arr(w, "tokenizer.ggml.scores", BERRY_GGUF_FLOAT32, scores, N) == BERRY_OK);
    // Thousands of keys too, as adapters have.
    for (int i = 0; i < 5000; i++) {
        char k[64];
        snprintf(k, sizeof k, "adapter.key.%d", i);
        CHECK(berry_gguf_set_u32(w, k, (uint32_t)i) == BERRY_OK);
    }
    CHECKF(berry_gguf_write(w, path, err, sizeof err) == BERRY_OK, "%s", err);
    berry_gguf_writer_free(w);
    double t0 = berry_now();
    berry_gguf *g = berry_gguf_open(path, err, sizeof err);
    double dt = berry_now() - t0;
    CHECKF(g, "%s", err);
    if (getenv("BERRY_TEST_VERBOSE")) fprintf(stderr, "    opened 150k strings + 5k keys in %.2f ms\n", dt * 1e3);
    CHECKF(dt < 1.0, "open took %.3f s", dt);
    int64_t k = berry_gguf_find_key(g, "tokenizer.ggml.tokens");
    CHECK_EQ_INT(berry_gguf_arr_len(g, k), N);
    size_t len;
    CHECK_STR(berry_gguf_arr_str(g, k, 149999, &len), "tok149999");
    CHECK_EQ_INT(len, 9);
    uint32_t v;
    CHECK(berry_gguf_get_u32(g, "adapter.key.4321", &v) && v == 4321);
    CHECK(((const float *)berry_gguf_arr_data(g, berry_gguf_find_key(g, "tokenizer.ggml.scores")))[7] == -7.0f);
    berry_gguf_close(g);
    free(blob);
    free(strs);
    free(scores);
}
