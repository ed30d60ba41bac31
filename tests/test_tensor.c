// Tests of the tensor layer. References berry did not produce: llama.cpp's gguf-py NumPy dequantizers
// and quantizers and NumPy's float16 conversion (fixtures tests/data/quant_*.bin written by
// tests/ref/quants.py), ggml's published block sizes, half-precision values computed by hand with
// ldexp, and double-precision dot products of dequantized values. SIMD kernels are compared with the
// scalar reference (berry_simd_force).
#include "test.h"
#include "base/alloc.h"
#include "base/pool.h"
#include "base/rng.h"
#include "tensor/matmul.h"
#include "tensor/quant.h"
#include "tensor/types.h"
#include "tensor/vec.h"
#include <stdint.h>
#include <stdlib.h>

static uint32_t fbits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
static float bitsf(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }

// ---- types ------------------------------------------------------------------------------------

// ggml's ids, block sizes and block bytes (ggml.h / gguf-py constants.py GGML_QUANT_SIZES).
TEST(tensor_type_table_matches_ggml) {
    struct { int id; const char *name; int block; size_t bytes; } want[] = {
        {0, "f32", 1, 4}, {1, "f16", 1, 2}, {2, "q4_0", 32, 18}, {3, "q4_1", 32, 20}, {6, "q5_0", 32, 22},
        {7, "q5_1", 32, 24}, {8, "q8_0", 32, 34},
        {12, "q4_K", 256, 144}, {13, "q5_K", 256, 176}, {14, "q6_K", 256, 210}, {15, "q8_K", 256, 292},
        {30, "bf16", 1, 2},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const berry_type_info *t = berry_type_get(want[i].id);
        CHECKF(t, "type %d missing", want[i].id);
        CHECK_STR(t->name, want[i].name);
        CHECK_EQ_INT(t->block, want[i].block);
        CHECK_EQ_INT(t->block_bytes, want[i].bytes);
        CHECK_EQ_INT(berry_type_from_name(want[i].name), want[i].id);
    }
    CHECK(berry_type_get(4) == NULL);     // q4_2: removed from ggml
    CHECK(berry_type_get(16) == NULL);    // iq2_xxs: not supported
    CHECK(berry_type_get(-1) == NULL);
    CHECK(berry_type_get(1000) == NULL);
    CHECK_EQ_INT(berry_type_from_name("iq2_xxs"), -1);
    CHECK_EQ_INT(berry_row_size(BERRY_TYPE_Q5_0, 896), 896 / 32 * 22);   // Qwen2.5-0.5B's rows
    CHECK_EQ_INT(berry_type_from_name(NULL), -1);
    CHECK_EQ_INT(berry_row_size(BERRY_TYPE_Q4_0, 4096), 4096 / 32 * 18);
    CHECK_EQ_INT(berry_row_size(BERRY_TYPE_Q6_K, 512), 420);
    CHECK_EQ_INT(berry_row_size(BERRY_TYPE_Q4_0, 33), 0);       // not a whole block
    CHECK_EQ_INT(berry_row_size(BERRY_TYPE_F32, -4), 0);
    CHECK_EQ_INT(berry_row_size(BERRY_TYPE_F32, INT64_MAX), 0);   // overflows
    CHECK_EQ_INT(berry_row_size((berry_type)5, 32), 0);
}

// Every f16 against the IEEE formula evaluated with ldexp: (-1)^s 2^(e-15) (1 + m/1024), subnormals
// m 2^-24. NaNs keep sign and payload with the quiet bit set (what F16C does).
TEST(tensor_f16_to_f32_every_value) {
    for (uint32_t h = 0; h < 65536; h++) {
        int s = h >> 15, e = (h >> 10) & 31, m = h & 1023;
        float got = berry_f16_to_f32((uint16_t)h);
        if (e == 31 && m) {
            uint32_t want = (s ? 0x80000000u : 0) | 0x7fc00000u | ((uint32_t)m << 13);
            CHECKF(fbits(got) == want, "f16 %04x -> %08x, expected %08x", h, fbits(got), want);
            continue;
        }
        double v = e == 31 ? INFINITY : e == 0 ? ldexp(m, -24) : ldexp(1.0 + m / 1024.0, e - 15);
        if (s) v = -v;
        CHECKF(fbits(got) == fbits((float)v), "f16 %04x -> %g, expected %g", h, got, v);
    }
}

// f32 -> f16 must give the nearest f16 (ties to even) among the neighbours of its answer; checked
// against the (exhaustively verified) f16 -> f32 for random and boundary bit patterns.
TEST(tensor_f32_to_f16_rounds_to_nearest_even) {
    berry_rng r;
    berry_rng_seed(&r, 7, 0);
    for (int i = 0; i < 200000; i++) {
        uint32_t u = (uint32_t)berry_rng_u64(&r);
        if (i < 65536) u = ((uint32_t)i << 13) ^ (uint32_t)(berry_rng_u64(&r) & 0x1fff);   // near every f16
        float f = bitsf(u);
        if (isnan(f)) continue;
        uint16_t h = berry_f32_to_f16(f);
        double v = berry_f16_to_f32(h), err = fabs((double)f - v);
        if (isinf(v)) {   // overflow only at or beyond 65520 (halfway to 2^16, ties to even -> inf)
            CHECKF(fabs((double)f) >= 65520.0, "%g rounded to inf", f);
            continue;
        }
        CHECKF(fabs((double)f) < 65520.0, "%g did not overflow", f);
        uint16_t mag = h & 0x7fff;
        for (int dlt = -1; dlt <= 1; dlt += 2) {
            int nm = mag + dlt;
            if (nm < 0 || nm > 0x7bff) continue;
            double nv = berry_f16_to_f32((uint16_t)((h & 0x8000) | nm));
            double nerr = fabs((double)f - nv);
            CHECKF(err < nerr || (err == nerr && (mag & 1) == 0), "%a -> %04x not nearest-even", f, h);
        }
    }
    uint16_t nan = berry_f32_to_f16(bitsf(0x7fa00000u));
    CHECK_EQ_INT(nan, 0x7f00);   // quiet, top payload bits kept
    CHECK_EQ_INT(berry_f32_to_f16(-0.0f), 0x8000);
}

// Reads a fixture of tests/ref/quants.py: bytes then floats. Returns false when it is missing.
typedef struct { uint8_t *raw; size_t n_raw; float *f; size_t n_f; } fixture;
static bool load_fixture(const char *name, fixture *fx) {
    FILE *f = fopen(berry_test_path(name), "rb");
    if (!f) return false;
    uint32_t n;
    bool ok = fread(&n, 4, 1, f) == 1;
    fx->n_raw = n;
    fx->raw = ok ? berry_calloc(n + 64, 1) : NULL;
    ok = ok && fx->raw && fread(fx->raw, 1, n, f) == n && fread(&n, 4, 1, f) == 1;
    fx->n_f = n;
    fx->f = ok ? berry_calloc((size_t)n + 16, 4) : NULL;
    ok = ok && fx->f && fread(fx->f, 4, n, f) == n;
    fclose(f);
    return ok;
}
static void free_fixture(fixture *fx) { berry_free(fx->raw); berry_free(fx->f); }

#define NEED_FIXTURE(name, fx)                                                                       \
    if (!load_fixture(name, fx))                                                                     \
        SKIP("missing " name ": run PYTHONPATH=$(sh tests/ref/fetch_llama_cpp.sh)/gguf-py "          \
             "/usr/bin/python3 tests/ref/quants.py tests/data")

// ---- dequantization, bit for bit against gguf-py --------------------------------------------------

static void check_dequant(const char *file, berry_type t) {
    fixture fx;
    if (!load_fixture(file, &fx)) {
        berry_test_skip("missing quant fixture: run PYTHONPATH=$(sh tests/ref/fetch_llama_cpp.sh)/gguf-py "
                        "/usr/bin/python3 tests/ref/quants.py tests/data");
        return;
    }
    int64_t n = (int64_t)fx.n_f;
    CHECKF(berry_row_size(t, n) == fx.n_raw, "%s: %zu bytes for %lld values", file, fx.n_raw, (long long)n);
    float *y = berry_calloc((size_t)n, 4);
    berry_dequantize(t, fx.raw, y, n);
    int bad = 0;
    for (int64_t i = 0; i < n && bad < 5; i++)
        if (fbits(y[i]) != fbits(fx.f[i])) {
            fprintf(stderr, "    %s[%lld] = %a, gguf-py %a\n", file, (long long)i, y[i], fx.f[i]);
            bad++;
        }
    berry_free(y);
    free_fixture(&fx);
    CHECKF(bad == 0, "%s: dequantization differs from gguf-py", file);
}

TEST(tensor_dequant_q4_0_gguf_py) { check_dequant("tests/data/quant_q4_0.bin", BERRY_TYPE_Q4_0); }
TEST(tensor_dequant_q4_1_gguf_py) { check_dequant("tests/data/quant_q4_1.bin", BERRY_TYPE_Q4_1); }
TEST(tensor_dequant_q5_0_gguf_py) { check_dequant("tests/data/quant_q5_0.bin", BERRY_TYPE_Q5_0); }
TEST(tensor_dequant_q5_1_gguf_py) { check_dequant("tests/data/quant_q5_1.bin", BERRY_TYPE_Q5_1); }
TEST(tensor_dequant_q8_0_gguf_py) { check_dequant("tests/data/quant_q8_0.bin", BERRY_TYPE_Q8_0); }
TEST(tensor_dequant_q4_K_gguf_py) { check_dequant("tests/data/quant_q4_K.bin", BERRY_TYPE_Q4_K); }
TEST(tensor_dequant_q5_K_gguf_py) { check_dequant("tests/data/quant_q5_K.bin", BERRY_TYPE_Q5_K); }
TEST(tensor_dequant_q6_K_gguf_py) { check_dequant("tests/data/quant_q6_K.bin", BERRY_TYPE_Q6_K); }
TEST(tensor_dequant_bf16_gguf_py) { check_dequant("tests/data/quant_bf16.bin", BERRY_TYPE_BF16); }
TEST(tensor_dequant_f16_numpy) {
    check_dequant("tests/data/quant_f16.bin", BERRY_TYPE_F16);
    berry_simd prev = berry_simd_force(BERRY_SIMD_SCALAR);
    check_dequant("tests/data/quant_f16.bin", BERRY_TYPE_F16);
    berry_simd_force(prev);
}

// q8_K (no gguf-py dequantizer): d * q, by hand for one block.
TEST(tensor_dequant_q8_K_by_hand) {
    uint8_t blk[292] = {0};
    float d = 0.5f;
    memcpy(blk, &d, 4);
    blk[4] = 3;
    blk[5] = (uint8_t)-128;
    blk[4 + 255] = 127;
    float y[256];
    berry_dequantize(BERRY_TYPE_Q8_K, blk, y, 256);
    CHECK(y[0] == 1.5f && y[1] == -64.0f && y[2] == 0.0f && y[255] == 63.5f);
}

// ---- quantization, bit for bit against gguf-py where it has a quantizer ---------------------------

static void check_quant(const char *file, berry_type t) {
    fixture fx;
    if (!load_fixture(file, &fx)) {
        berry_test_skip("missing quant fixture: run PYTHONPATH=$(sh tests/ref/fetch_llama_cpp.sh)/gguf-py "
                        "/usr/bin/python3 tests/ref/quants.py tests/data");
        return;
    }
    int64_t n = (int64_t)fx.n_f;
    size_t bytes = berry_row_size(t, n);
    CHECKF(bytes == fx.n_raw, "%s: %zu bytes for %lld values", file, fx.n_raw, (long long)n);
    uint8_t *q = berry_calloc(bytes, 1);
    CHECK_EQ_INT(berry_quantize(t, fx.f, q, n), bytes);
    size_t first = bytes;
    for (size_t i = 0; i < bytes; i++)
        if (q[i] != fx.raw[i]) { first = i; break; }
    if (first < bytes) fprintf(stderr, "    %s: byte %zu is %02x, gguf-py %02x\n", file, first, q[first], fx.raw[first]);
    berry_free(q);
    free_fixture(&fx);
    CHECKF(first == bytes, "%s: quantization differs from the reference", file);
}

TEST(tensor_quant_q8_0_gguf_py) { check_quant("tests/data/quant_q8_0_q.bin", BERRY_TYPE_Q8_0); }
TEST(tensor_quant_q4_0_gguf_py) { check_quant("tests/data/quant_q4_0_q.bin", BERRY_TYPE_Q4_0); }
TEST(tensor_quant_q4_1_gguf_py) { check_quant("tests/data/quant_q4_1_q.bin", BERRY_TYPE_Q4_1); }
TEST(tensor_quant_q5_0_gguf_py) { check_quant("tests/data/quant_q5_0_q.bin", BERRY_TYPE_Q5_0); }
TEST(tensor_quant_q5_1_gguf_py) { check_quant("tests/data/quant_q5_1_q.bin", BERRY_TYPE_Q5_1); }
// Non-finite and huge inputs (a diverged model being quantized) give blocks, never undefined casts:
// every value index stays in range, and a finite block next to them is unaffected (checked against
// gguf-py's fixture rounding rule by hand: 0..31 step 1 -> q = x, d = 1, m = 0 for q5_1).
TEST(tensor_quant_q45_hostile_floats) {
    float x[96];
    for (int i = 0; i < 32; i++) x[i] = i % 4 == 0 ? INFINITY : i % 4 == 1 ? -INFINITY : i % 4 == 2 ? NAN : 3e38f;
    for (int i = 32; i < 64; i++) x[i] = i % 2 ? 3.4e38f : -3.4e38f;   // max - min overflows to inf
    for (int i = 64; i < 96; i++) x[i] = (float)(i - 64);
    berry_type ts[] = {BERRY_TYPE_Q4_1, BERRY_TYPE_Q5_0, BERRY_TYPE_Q5_1};
    for (int k = 0; k < 3; k++) {
        uint8_t q[3 * 24];
        float y[96];
        CHECK_EQ_INT(berry_quantize(ts[k], x, q, 96), berry_row_size(ts[k], 96));
        berry_dequantize(ts[k], q, y, 96);
        if (ts[k] == BERRY_TYPE_Q5_1)
            for (int i = 64; i < 96; i++) CHECKF(y[i] == x[i], "q5_1 y[%d] = %g, expected %g", i, y[i], x[i]);
    }
}

TEST(tensor_quant_bf16_gguf_py) { check_quant("tests/data/quant_bf16_q.bin", BERRY_TYPE_BF16); }
TEST(tensor_quant_f16_numpy) {
    check_quant("tests/data/quant_f16_q.bin", BERRY_TYPE_F16);
    berry_simd prev = berry_simd_force(BERRY_SIMD_SCALAR);
    check_quant("tests/data/quant_f16_q.bin", BERRY_TYPE_F16);
    berry_simd_force(prev);
}

// F16C row conversions against the scalar ones: every f16, and f32 patterns around every f16.
TEST(tensor_f16_rows_simd_equal_scalar) {
    uint16_t *h = berry_calloc(65536, 2), *h2 = berry_calloc(65536, 2), *h3 = berry_calloc(65536, 2);
    float *a = berry_calloc(65536, 4), *b = berry_calloc(65536, 4);
    for (int i = 0; i < 65536; i++) h[i] = (uint16_t)i;
    berry_simd prev = berry_simd_force(BERRY_SIMD_SCALAR);
    berry_f16_to_f32_row(h, a, 65536);
    berry_simd_force(prev);
    berry_f16_to_f32_row(h, b, 65536);
    for (int i = 0; i < 65536; i++) CHECKF(fbits(a[i]) == fbits(b[i]), "f16 %04x: %08x vs %08x", i, fbits(a[i]), fbits(b[i]));
    berry_rng r;
    berry_rng_seed(&r, 3, 0);
    for (int i = 0; i < 65536; i++) a[i] = bitsf(((uint32_t)i << 16) ^ (uint32_t)(berry_rng_u64(&r) & 0x1ffff));
    berry_simd_force(BERRY_SIMD_SCALAR);
    berry_f32_to_f16_row(a, h2, 65535);
    berry_simd_force(prev);
    berry_f32_to_f16_row(a, h3, 65535);
    for (int i = 0; i < 65535; i++) CHECKF(h2[i] == h3[i], "f32 %08x: %04x vs %04x", fbits(a[i]), h2[i], h3[i]);
    berry_free(h); berry_free(h2); berry_free(h3); berry_free(a); berry_free(b);
}

// q8_K by hand: amax 254 -> d = 2, q = rint(x / 2) with ties to even; block sums of 16.
TEST(tensor_quant_q8_K_by_hand) {
    float x[256] = {0};
    x[0] = 254; x[1] = -3; x[2] = 5; x[3] = 1; x[17] = -254;
    uint8_t blk[292];
    CHECK_EQ_INT(berry_quantize(BERRY_TYPE_Q8_K, x, blk, 256), 292);
    float d;
    memcpy(&d, blk, 4);
    CHECK(d == 2.0f);
    int8_t *q = (int8_t *)blk + 4;
    CHECK(q[0] == 127 && q[1] == -2 && q[2] == 2 && q[3] == 0 && q[17] == -127);
    int16_t bs[16];
    memcpy(bs, blk + 260, 32);
    CHECK(bs[0] == 127 && bs[1] == -127 && bs[2] == 0);
}

// K-quants have no reference quantizer (any scale search is valid): check the round trip error of
// Gaussian data against the format's resolution. Per-block relative RMS error bounds are generous
// multiples of the uniform-rounding error of 15 / 31 / 63 levels over about +-3 sigma.
TEST(tensor_quant_kquants_round_trip) {
    berry_rng r;
    berry_rng_seed(&r, 11, 0);
    enum { N = 256 * 16 };
    float *x = berry_calloc(N, 4), *y = berry_calloc(N, 4);
    uint8_t *q = berry_calloc(N * 2, 1);
    for (int i = 0; i < N; i++) x[i] = berry_rng_normal(&r) * (i < N / 2 ? 1.0f : 0.01f) + (i % 512 < 256 ? 0 : 0.3f);
    struct { berry_type t; double max_rel; } cases[] = {{BERRY_TYPE_Q4_K, 0.12}, {BERRY_TYPE_Q5_K, 0.06},
                                                        {BERRY_TYPE_Q6_K, 0.03}, {BERRY_TYPE_Q4_0, 0.14},
                                                        {BERRY_TYPE_Q8_0, 0.01}, {BERRY_TYPE_Q4_1, 0.12},
                                                        {BERRY_TYPE_Q5_0, 0.07}, {BERRY_TYPE_Q5_1, 0.06}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        CHECK(berry_quantize(cases[c].t, x, q, N) == berry_row_size(cases[c].t, N));
        berry_dequantize(cases[c].t, q, y, N);
        double se = 0, sx = 0;
        for (int i = 0; i < N; i++) { se += (double)(y[i] - x[i]) * (y[i] - x[i]); sx += (double)x[i] * x[i]; }
        double rel = sqrt(se / sx);
        CHECKF(rel < cases[c].max_rel, "%s: relative RMS error %.4f >= %.3f", berry_type_get(cases[c].t)->name,
               rel, cases[c].max_rel);
    }
    // Zero input gives exact zeros.
    memset(x, 0, N * 4);
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        berry_quantize(cases[c].t, x, q, N);
        berry_dequantize(cases[c].t, q, y, N);
        for (int i = 0; i < N; i++) CHECK(y[i] == 0);
    }
    CHECK_EQ_INT(berry_quantize(BERRY_TYPE_Q4_0, x, q, 33), 0);
    CHECK_EQ_INT(berry_quantize((berry_type)4, x, q, 32), 0);
    berry_free(x); berry_free(y); berry_free(q);
}

// ---- dot products ---------------------------------------------------------------------------------

static const berry_type weight_types[] = {BERRY_TYPE_F32, BERRY_TYPE_F16, BERRY_TYPE_BF16, BERRY_TYPE_Q4_0,
                                          BERRY_TYPE_Q4_1, BERRY_TYPE_Q5_0, BERRY_TYPE_Q5_1, BERRY_TYPE_Q8_0,
                                          BERRY_TYPE_Q4_K, BERRY_TYPE_Q5_K, BERRY_TYPE_Q6_K};

static void random_floats(berry_rng *r, float *x, int64_t n, float scale) {
    for (int64_t i = 0; i < n; i++) x[i] = berry_rng_normal(r) * scale;
}

// Random weights of type T: quantized Gaussian data, so every field is in its natural range; q8_0
// also gets -128 (legal in files, never produced by the quantizer).
static void random_weights(berry_rng *r, berry_type t, void *w, int64_t n) {
    float *x = berry_calloc((size_t)n, 4);
    random_floats(r, x, n, 0.5f);
    berry_quantize(t, x, w, n);
    if (t == BERRY_TYPE_Q8_0) ((int8_t *)w)[2] = -128;
    berry_free(x);
}

// The scalar dot against a double dot of the dequantized weights and the original activations. The
// activation quantization error of a value is at most d/2 (d its block's scale), so the difference is
// bounded by sum_blocks d/2 sum |w| over the block, plus float rounding.
TEST(tensor_scalar_dot_matches_double_reference) {
    berry_rng r;
    berry_rng_seed(&r, 5, 0);
    berry_simd prev = berry_simd_force(BERRY_SIMD_SCALAR);
    for (size_t ti = 0; ti < sizeof weight_types / sizeof weight_types[0]; ti++) {
        berry_type t = weight_types[ti];
        const berry_type_info *info = berry_type_get(t);
        int64_t n = info->block == 1 ? 1000 : info->block * 12;
        void *w = berry_calloc(berry_row_size(t, n), 1);
        float *wd = berry_calloc((size_t)n, 4), *x = berry_calloc((size_t)n, 4), *xd = berry_calloc((size_t)n, 4);
        void *xq = berry_calloc(berry_row_size(info->vec_dot_type, n) + 4 * (size_t)n, 1);
        random_weights(&r, t, w, n);
        random_floats(&r, x, n, 1.0f);
        berry_dequantize(t, w, wd, n);
        berry_quantize(info->vec_dot_type, x, xq, n);
        berry_dequantize(info->vec_dot_type, xq, xd, n);
        double ref = 0, bound = 0, absum = 0;
        int xb = berry_type_get(info->vec_dot_type)->block;
        for (int64_t b = 0; b < n / xb; b++) {
            double amax = 0, wabs = 0;
            for (int l = 0; l < xb; l++) {
                amax = fmax(amax, fabs(x[b * xb + l]));
                wabs += fabs(wd[b * xb + l]);
                ref += (double)wd[b * xb + l] * x[b * xb + l];
                absum += fabs((double)wd[b * xb + l] * x[b * xb + l]);
            }
            // d = amax / 127, stored in f16 for q8_0 (relative error 2^-11 of amax, times 127 levels).
            if (xb > 1) bound += wabs * (amax / 127 * 0.5 + amax * 0x1p-11);
        }
        bound += absum * 1e-5;
        float got;
        berry_vec_dot(t, n, &got, w, xq);
        CHECKF(fabs(got - ref) <= bound, "%s: dot %.6g, double reference %.6g, bound %.3g", info->name, got, ref, bound);
        berry_free(w); berry_free(wd); berry_free(x); berry_free(xd); berry_free(xq);
    }
    berry_simd_force(prev);
}

// Every SIMD level this CPU has against the scalar reference, for many lengths. K-quant kernels keep
// exact integer block sums and the reference's float order: equal bit for bit. The others reorder
// float sums: relative to sum |w x|, 1e-5.
TEST(tensor_simd_dots_match_scalar) {
    berry_simd top = berry_simd_level();
    if (top == BERRY_SIMD_SCALAR) SKIP("no SIMD level to compare: this CPU has none berry uses, or BERRY_SIMD=scalar caps them");
    berry_rng r;
    berry_rng_seed(&r, 9, 0);
    for (size_t ti = 0; ti < sizeof weight_types / sizeof weight_types[0]; ti++) {
        berry_type t = weight_types[ti];
        const berry_type_info *info = berry_type_get(t);
        for (int trial = 0; trial < 24; trial++) {
            int64_t nblk = 1 + (int64_t)berry_rng_below(&r, info->block == 1 ? 700 : info->block == 32 ? 90 : 12);
            if (trial < 4) nblk = trial + 1;
            int64_t n = nblk * info->block;
            void *w = berry_calloc(berry_row_size(t, n), 1);
            float *x = berry_calloc((size_t)n, 4), *wd = berry_calloc((size_t)n, 4);
            void *xq = berry_calloc(berry_row_size(info->vec_dot_type, n), 1);
            random_weights(&r, t, w, n);
            random_floats(&r, x, n, trial % 3 == 0 ? 100.0f : 1.0f);
            berry_quantize(info->vec_dot_type, x, xq, n);
            berry_dequantize(t, w, wd, n);
            double absum = 0;
            for (int64_t i = 0; i < n; i++) absum += fabs((double)wd[i] * x[i]);
            float ref, got;
            berry_simd prev = berry_simd_force(BERRY_SIMD_SCALAR);
            berry_vec_dot(t, n, &ref, w, xq);
            for (int lv = 1; lv <= (int)top; lv++) {
                berry_simd_force((berry_simd)lv);
                berry_vec_dot(t, n, &got, w, xq);
                bool kq = t == BERRY_TYPE_Q4_K || t == BERRY_TYPE_Q5_K || t == BERRY_TYPE_Q6_K;
                if (kq && lv == 1)
                    CHECKF(fbits(got) == fbits(ref), "%s n=%lld %s: %.9g vs scalar %.9g", info->name, (long long)n,
                           berry_simd_name((berry_simd)lv), got, ref);
                else
                    CHECKF(fabs(got - ref) <= 1e-5 * absum + 1e-30, "%s n=%lld %s: %.9g vs scalar %.9g",
                           info->name, (long long)n, berry_simd_name((berry_simd)lv), got, ref);
            }
            berry_simd_force(prev);
            berry_free(w); berry_free(x); berry_free(wd); berry_free(xq);
        }
    }
}

// The SIMD activation quantizers are bit-identical to the scalar ones (ties included).
TEST(tensor_simd_activation_quant_equal_scalar) {
    if (berry_simd_level() == BERRY_SIMD_SCALAR) SKIP("no SIMD level to compare: this CPU has none berry uses, or BERRY_SIMD=scalar caps them");
    berry_rng r;
    berry_rng_seed(&r, 13, 0);
    enum { N = 256 * 8 };
    float x[N];
    random_floats(&r, x, N, 3.0f);
    for (int i = 0; i < 256; i++) x[i] = (float)(i % 64) * 0.5f - 16;   // many exact ties (amax 16 -> ...)
    x[256] = 127;
    for (int i = 257; i < 512; i++) x[i] = (float)(i % 50) - 24.5f;     // d = 1: x.5 ties
    int64_t m = 64, k = N;   // through berry_matmul's conversion, so the dispatched quantizer is used
    for (int q = 0; q < 2; q++) {
        berry_type t = q ? BERRY_TYPE_Q4_K : BERRY_TYPE_Q4_0;
        berry_type vt = berry_type_get(t)->vec_dot_type;
        size_t ss = berry_matmul_scratch_size(t, 1, k);
        uint8_t *s1 = berry_calloc(ss, 1), *s2 = berry_calloc(ss, 1), *w = berry_calloc(berry_row_size(t, k) * m, 1);
        float *y = berry_calloc((size_t)m, 4);
        berry_quantize(vt, x, s1, k);
        berry_matmul(NULL, t, w, x, y, 1, k, m, s2);
        CHECKF(memcmp(s1, s2, ss) == 0, "%s activations differ from the scalar quantizer", berry_type_get(vt)->name);
        berry_free(s1); berry_free(s2); berry_free(w); berry_free(y);
    }
}

// ---- matmul ---------------------------------------------------------------------------------------

// berry_matmul against a naive double loop over dequantized weights and dequantized (quantized)
// activations, for odd shapes and several thread counts. The only difference allowed is float
// summation order: |dy| <= 1e-5 * sum |w x| + tiny.
TEST(tensor_matmul_odd_shapes_match_naive) {
    berry_rng r;
    berry_rng_seed(&r, 17, 0);
    berry_pool *pools[3] = {NULL, berry_pool_create(2), berry_pool_create(3)};
    CHECK(pools[1] && pools[2]);
    // {1, 203}: decode over 13 f16 / 26 q8_0 panels, several walked side by side (BERRY_STREAMS), the
    // last one partial.
    int shapes[][2] = {{1, 1}, {2, 5}, {3, 7}, {4, 4}, {5, 13}, {7, 3}, {9, 17}, {16, 9}, {37, 11}, {1, 37}, {33, 6}, {1, 83}, {1, 203}, {21, 19}};
    int n_shapes = sizeof shapes / sizeof shapes[0];
    for (size_t ti = 0; ti < sizeof weight_types / sizeof weight_types[0]; ti++) {
        berry_type t = weight_types[ti];
        const berry_type_info *info = berry_type_get(t);
        berry_type vt = info->vec_dot_type;
        for (int si = 0; si < n_shapes; si++) {
            int rows = shapes[si][0];
            int64_t m = shapes[si][1];
            int64_t k = info->block == 1 ? 8 * (1 + si) + si % 3 : info->block * (1 + si % 3);
            // Long rows: several K slices of the packed GEMMs (256 floats, 32 blocks), with a tail.
            if (si == n_shapes - 1) k = info->block == 1 ? 2243 : info->block == 32 ? 32 * 70 : 256 * 9;
            size_t rs = berry_row_size(t, k);
            uint8_t *w = berry_calloc(rs * (size_t)m, 1);
            float *x = berry_calloc((size_t)rows * k, 4), *wd = berry_calloc((size_t)m * k, 4);
            float *xd = berry_calloc((size_t)rows * k, 4), *y = berry_calloc((size_t)rows * m, 4);
            uint8_t *scratch = berry_calloc(berry_matmul_scratch_size(t, rows, k) + 1, 1);
            uint8_t *xq = berry_calloc(berry_row_size(vt, k), 1);
            for (int64_t c = 0; c < m; c++) random_weights(&r, t, w + (size_t)c * rs, k);
            random_floats(&r, x, (int64_t)rows * k, 1.0f);
            berry_dequantize(t, w, wd, m * k);
            for (int a = 0; a < rows; a++) {
                if (vt == BERRY_TYPE_F32) { memcpy(xd + (size_t)a * k, x + (size_t)a * k, (size_t)k * 4); continue; }
                berry_quantize(vt, x + (size_t)a * k, xq, k);
                berry_dequantize(vt, xq, xd + (size_t)a * k, k);
            }
            // q4_0, q8_0 and f16 also repacked (berry_repack), as the model loads them.
            size_t pk_size = berry_repack_size(t, k, m);
            uint8_t *wp = pk_size ? berry_calloc(pk_size, 1) : NULL;
            if (pk_size) berry_repack(pools[1], t, w, k, m, wp);
            for (int pi = 0; pi < 3; pi++)
            for (int packed = 0; packed <= (pk_size > 0); packed++) {
                berry_simd levels[2] = {BERRY_SIMD_SCALAR, berry_simd_level()};
                for (int li = 0; li < 2; li++) {
                    berry_simd prev = berry_simd_force(levels[li]);
                    for (size_t i = 0; i < (size_t)rows * m; i++) y[i] = NAN;
                    if (packed) berry_matmul_packed(pools[pi], t, wp, x, y, rows, k, m, scratch);
                    else berry_matmul(pools[pi], t, w, x, y, rows, k, m, scratch);
                    berry_simd_force(prev);
                    for (int a = 0; a < rows; a++)
                        for (int64_t c = 0; c < m; c++) {
                            double ref = 0, abs = 0;
                            for (int64_t i = 0; i < k; i++) {
                                double p = (double)wd[c * k + i] * xd[(size_t)a * k + i];
                                ref += p;
                                abs += fabs(p);
                            }
                            float got = y[(size_t)a * m + c];
                            CHECKF(fabs(got - ref) <= 1e-5 * abs + 1e-6,
                                   "%s%s rows=%d k=%lld m=%lld threads=%d %s: y[%d][%lld] = %.7g, naive %.7g",
                                   info->name, packed ? " repacked" : "", rows, (long long)k, (long long)m,
                                   berry_pool_size(pools[pi]), berry_simd_name(levels[li]), a, (long long)c, got, ref);
                        }
                }
            }
            berry_free(w); berry_free(x); berry_free(wd); berry_free(xd); berry_free(y); berry_free(scratch); berry_free(xq);
            berry_free(wp);
        }
    }
    berry_pool_free(pools[1]);
    berry_pool_free(pools[2]);
}

// Bad arguments are ignored, never a crash; scratch sizes of impossible shapes are 0.
TEST(tensor_matmul_rejects_bad_arguments) {
    float x[64] = {0}, y[4] = {1, 2, 3, 4};
    uint8_t w[18 * 4] = {0};
    berry_matmul(NULL, BERRY_TYPE_Q4_0, w, x, y, 1, 33, 1, NULL);         // k not a whole block
    berry_matmul(NULL, (berry_type)4, w, x, y, 1, 32, 1, NULL);           // unknown type
    berry_matmul(NULL, BERRY_TYPE_Q4_0, w, x, y, 0, 32, 1, NULL);         // no rows
    CHECK(y[0] == 1 && y[3] == 4);
    CHECK_EQ_INT(berry_matmul_scratch_size(BERRY_TYPE_Q4_0, 1, 33), 0);
    CHECK_EQ_INT(berry_matmul_scratch_size((berry_type)4, 1, 32), 0);
    // 2 rows of 2 q8_0 blocks (2 * 68 bytes), rounded up to 64 bytes, then per block an f32 scale and
    // an int32 sum for the packed GEMM.
    CHECK_EQ_INT(berry_matmul_scratch_size(BERRY_TYPE_Q4_0, 2, 64), 192 + 2 * 2 * 8);
    CHECK_EQ_INT(berry_matmul_scratch_size(BERRY_TYPE_Q4_K, 3, 512), 3 * 2 * 292);
    CHECK_EQ_INT(berry_matmul_scratch_size(BERRY_TYPE_F16, 3, 10), 3 * 10 * 4);
    float out = 5;
    berry_vec_dot(BERRY_TYPE_Q4_0, 31, &out, w, x);
    CHECK(out == 0);
    // Forcing AVX-512 never goes past what the CPU has (a SIGILL otherwise).
    berry_simd_force(BERRY_SIMD_AVX512);
    __builtin_cpu_init();
    bool has512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                  __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
    CHECK((berry_simd_level() == BERRY_SIMD_AVX512) == has512);
    berry_simd_force(BERRY_SIMD_SCALAR);
    CHECK(berry_simd_level() == BERRY_SIMD_SCALAR);
    CHECK_STR(berry_simd_name(BERRY_SIMD_AVX2), "avx2");
}

// ---- element-wise kernels (tensor/vec.h) ------------------------------------------------------------

// The vectorized exponential and SiLU against double precision exp, at every SIMD level, over the
// whole range softmax and SwiGLU see (scores shifted by their maximum: x <= 0; gate values of either
// sign, far into both tails). exp within 2 ulp; silu * u within 4e-7 relative or 1e-37 absolute.
TEST(tensor_vec_exp_silu_match_double) {
    enum { N = 4099 };   // not a multiple of 8: the scalar tail runs too
    static float x[N], y[N], u[N], g[N];
    berry_rng r;
    berry_rng_seed(&r, 21, 0);
    for (int i = 0; i < N; i++) {
        x[i] = -100.0f * (float)i / N;             // 0 .. -100 (below -87.3 the result underflows)
        u[i] = (float)berry_rng_uniform(&r) * 4 - 2;
        g[i] = ((float)berry_rng_uniform(&r) - 0.5f) * 60;   // -30 .. 30
    }
    g[0] = 0; g[1] = -100; g[2] = 100; g[3] = 1e-30f;
    berry_simd top = berry_simd_level();
    for (int lv = 0; lv <= (int)top; lv++) {
        berry_simd prev = berry_simd_force((berry_simd)lv);
        memcpy(y, x, sizeof y);
        float sum = berry_vec_exp_shift(y, N, -1.5f);
        double ref_sum = 0;
        for (int i = 0; i < N; i++) {
            double ref = exp((double)x[i] + 1.5);
            ref_sum += ref;
            if (ref < 1e-37) CHECKF(y[i] >= 0 && y[i] < 2e-37, "%s: exp(%g) = %g", berry_simd_name((berry_simd)lv), x[i] + 1.5, y[i]);
            else CHECKF(fabs(y[i] - ref) <= 2.5e-7 * ref, "%s: exp(%.9g) = %.9g, double %.9g", berry_simd_name((berry_simd)lv),
                        x[i] + 1.5, y[i], ref);
        }
        CHECKF(fabs(sum - ref_sum) <= 1e-5 * ref_sum,  // a float sum of 4099 terms
               "%s: sum %.9g, double %.9g", berry_simd_name((berry_simd)lv), sum, ref_sum);
        memcpy(y, g, sizeof y);
        berry_vec_silu_mul(y, u, N);
        for (int i = 0; i < N; i++) {
            double ref = (double)g[i] / (1 + exp(-(double)g[i])) * u[i];
            CHECKF(fabs(y[i] - ref) <= 4e-7 * fabs(ref) + 1e-37, "%s: silu(%.9g) * %.9g = %.9g, double %.9g",
                   berry_simd_name((berry_simd)lv), g[i], u[i], y[i], ref);
        }
        berry_simd_force(prev);
    }
}

// Attention's scores and weighted sums against double loops, at every SIMD level, for head sizes with
// and without a tail below 8 values and row counts around the 4-row blocks.
TEST(tensor_vec_dots_wsum_match_double) {
    berry_rng r;
    berry_rng_seed(&r, 23, 0);
    int dims[] = {64, 128, 13, 8, 40};
    enum { MAXN = 19, STRIDE = 300 };
    static float q[128], k[MAXN * STRIDE], w[MAXN], acc[128], acc0[128], out[MAXN];
    for (int i = 0; i < MAXN * STRIDE; i++) k[i] = (float)berry_rng_uniform(&r) * 2 - 1;
    for (int i = 0; i < 128; i++) { q[i] = (float)berry_rng_uniform(&r) * 2 - 1; acc0[i] = (float)berry_rng_uniform(&r); }
    for (int i = 0; i < MAXN; i++) w[i] = (float)berry_rng_uniform(&r);
    for (int lv = 0; lv <= (int)berry_simd_level(); lv++) {
        berry_simd prev = berry_simd_force((berry_simd)lv);
        for (size_t di = 0; di < sizeof dims / sizeof dims[0]; di++)
            for (int n = 1; n <= MAXN; n += 3) {
                int d = dims[di];
                berry_vec_dots(out, q, k + 5, STRIDE, n, d, 0.125f);
                memcpy(acc, acc0, sizeof acc);
                berry_vec_wsum(acc, w, k + 7, STRIDE, n, d);
                for (int row = 0; row < n; row++) {
                    double s = 0, a = 0;
                    for (int i = 0; i < d; i++) {
                        s += (double)q[i] * k[row * STRIDE + 5 + i];
                        a += fabs((double)q[i] * k[row * STRIDE + 5 + i]);
                    }
                    CHECKF(fabs(out[row] - 0.125 * s) <= 0.125 * (1e-6 * a + 1e-30), "%s d=%d n=%d: score %d = %.9g, double %.9g",
                           berry_simd_name((berry_simd)lv), d, n, row, out[row], 0.125 * s);
                }
                for (int i = 0; i < d; i++) {
                    double s = acc0[i], a = fabs((double)acc0[i]);
                    for (int row = 0; row < n; row++) {
                        s += (double)w[row] * k[row * STRIDE + 7 + i];
                        a += fabs((double)w[row] * k[row * STRIDE + 7 + i]);
                    }
                    CHECKF(fabs(acc[i] - s) <= 1e-6 * a, "%s d=%d n=%d: acc[%d] = %.9g, double %.9g",
                           berry_simd_name((berry_simd)lv), d, n, i, acc[i], s);
                }
            }
        berry_simd_force(prev);
    }
}

// berry_matmul_packed_n (one activation quantization, one dispatch for several weights) gives bit for
// bit what one berry_matmul_packed per weight gives, for a mix of q4_0, q8_0, f16 and q5_0 weights of
// different heights, decode and batch rows, one and three threads.
static void packed_n_case(const berry_type *types, const int64_t *ms, int64_t k) {
    berry_rng r;
    berry_rng_seed(&r, 29, 0);
    berry_pool *pool = berry_pool_create(3);
    int rows_list[3] = {1, 5, 30};
    uint8_t *w[4], *wp[4];
    for (int i = 0; i < 4; i++) {
        size_t rs = berry_row_size(types[i], k);
        w[i] = berry_calloc(rs * (size_t)ms[i], 1);
        for (int64_t c = 0; c < ms[i]; c++) random_weights(&r, types[i], w[i] + (size_t)c * rs, k);
        wp[i] = berry_calloc(berry_repack_size(types[i], k, ms[i]), 1);
        berry_repack(NULL, types[i], w[i], k, ms[i], wp[i]);
    }
    for (int ri = 0; ri < 3; ri++)
        for (int pi = 0; pi < 2; pi++) {
            int rows = rows_list[ri];
            berry_pool *p = pi ? pool : NULL;
            float *x = berry_calloc((size_t)rows * (size_t)k, 4), *y1[4], *y2[4];
            random_floats(&r, x, rows * k, 1.0f);
            size_t ss = 0;
            for (int i = 0; i < 4; i++)
                if (berry_matmul_scratch_size(types[i], rows, k) > ss) ss = berry_matmul_scratch_size(types[i], rows, k);
            uint8_t *scratch = berry_calloc(ss, 1);
            berry_mm_w ops[4];
            for (int i = 0; i < 4; i++) {
                y1[i] = berry_calloc((size_t)rows * (size_t)ms[i], 4);
                y2[i] = berry_calloc((size_t)rows * (size_t)ms[i], 4);
                berry_matmul_packed(p, types[i], wp[i], x, y1[i], rows, k, ms[i], scratch);
                for (size_t e = 0; e < (size_t)rows * (size_t)ms[i]; e++) y2[i][e] = NAN;   // every output must be written
                ops[i] = (berry_mm_w){.type = types[i], .wp = wp[i], .m = ms[i], .y = y2[i]};
            }
            berry_matmul_packed_n(p, 4, ops, x, rows, k, scratch);
            for (int i = 0; i < 4; i++) {
                CHECKF(memcmp(y1[i], y2[i], (size_t)rows * (size_t)ms[i] * 4) == 0, "%s rows=%d threads=%d: fused differs",
                       berry_type_get(types[i])->name, rows, berry_pool_size(p));
                double norm = 0;
                for (size_t e = 0; e < (size_t)rows * (size_t)ms[i]; e++) norm += fabs(y1[i][e]);
                CHECKF(norm > 0, "%s rows=%d: the reference product is all zeros", berry_type_get(types[i])->name, rows);
                berry_free(y1[i]);
                berry_free(y2[i]);
            }
            berry_free(x);
            berry_free(scratch);
        }
    for (int i = 0; i < 4; i++) { berry_free(w[i]); berry_free(wp[i]); }
    berry_pool_free(pool);
}

TEST(tensor_matmul_packed_n_equals_one_by_one) {
    berry_type types[4] = {BERRY_TYPE_Q4_0, BERRY_TYPE_Q8_0, BERRY_TYPE_F16, BERRY_TYPE_Q5_0};
    int64_t ms[4] = {13, 8, 29, 11};
    packed_n_case(types, ms, 32 * 7);
}

// q4_K and q6_K read q8_K activations: fused with each other and f16, and a mix with q8_0-activation
// types run one by one.
TEST(tensor_matmul_packed_n_q4_K_mix) {
    berry_type types[4] = {BERRY_TYPE_Q4_K, BERRY_TYPE_F16, BERRY_TYPE_Q4_K, BERRY_TYPE_Q8_0};
    int64_t ms[4] = {19, 13, 9, 8};
    packed_n_case(types, ms, 512);
    berry_type fused[4] = {BERRY_TYPE_Q4_K, BERRY_TYPE_F16, BERRY_TYPE_Q6_K, BERRY_TYPE_F16};
    packed_n_case(fused, ms, 512);
}
