// test_simde_kernels.c (its name must not contain "_avx512": the Makefile gives such files AVX-512 flags).
// The AVX-512 kernels (src/tensor/matmul_avx512.c) on any x86-64: this file compiles them once more
// against SIMDe's portable implementations of the AVX-512 intrinsics (Debian's libsimde-dev), so that
// their logic runs and is checked against the scalar reference on machines without AVX-512, such as
// the development machine, where the real ones never execute. Where the CPU has AVX-512, SIMDe maps
// the intrinsics to the instructions themselves and this checks the same code natively.
#include "test.h"
#if __has_include(<simde/x86/avx512.h>)
#define SIMDE_ENABLE_NATIVE_ALIASES
#include <simde/x86/avx512.h>
// SIMDe 0.7.4's alias of _mm512_madd_epi16 takes the masked form's four arguments.
#undef _mm512_madd_epi16
#define _mm512_madd_epi16(a, b) simde_mm512_madd_epi16(a, b)
// Intrinsics SIMDe 0.7.4 lacks, made of its 512-bit halves and the AVX2 / F16C instructions this
// build has (each half converted or summed on its own, as the 512-bit instruction does per lane).
static inline simde__m256 lo_ps(simde__m512 a) { return simde_mm512_castps512_ps256(a); }
static inline simde__m256 hi_ps(simde__m512 a) { return simde_mm256_castpd_ps(simde_mm512_extractf64x4_pd(simde_mm512_castps_pd(a), 1)); }
static inline simde__m512 join_ps(simde__m256 lo, simde__m256 hi) { return simde_mm512_insertf32x8(simde_mm512_castps256_ps512(lo), hi, 1); }
static inline simde__m512 emu_cvtepi32_ps(simde__m512i a) {
    return join_ps(_mm256_cvtepi32_ps(simde_mm512_castsi512_si256(a)), _mm256_cvtepi32_ps(simde_mm512_extracti64x4_epi64(a, 1)));
}
static inline simde__m512i emu_cvtepu16_epi32(simde__m256i h) {
    return simde_mm512_inserti64x4(simde_mm512_castsi256_si512(_mm256_cvtepu16_epi32(_mm256_castsi256_si128(h))),
                                   _mm256_cvtepu16_epi32(_mm256_extracti128_si256(h, 1)), 1);
}
static inline simde__m512 emu_cvtph_ps(simde__m256i h) {
    return join_ps(_mm256_cvtph_ps(_mm256_castsi256_si128(h)), _mm256_cvtph_ps(_mm256_extracti128_si256(h, 1)));
}
static inline float emu_reduce_add_ps(simde__m512 a) {
    float t[8];
    _mm256_storeu_ps(t, _mm256_add_ps(lo_ps(a), hi_ps(a)));
    return ((t[0] + t[1]) + (t[2] + t[3])) + ((t[4] + t[5]) + (t[6] + t[7]));
}
static inline int emu_reduce_add_epi32(simde__m512i a) {
    int32_t t[8];
    _mm256_storeu_si256((__m256i *)t, _mm256_add_epi32(simde_mm512_castsi512_si256(a), simde_mm512_extracti64x4_epi64(a, 1)));
    return ((t[0] + t[1]) + (t[2] + t[3])) + ((t[4] + t[5]) + (t[6] + t[7]));
}
#define _mm512_cvtepi32_ps emu_cvtepi32_ps
#define _mm512_cvtepu16_epi32 emu_cvtepu16_epi32
#define _mm512_cvtph_ps emu_cvtph_ps
#define _mm512_reduce_add_ps emu_reduce_add_ps
#define _mm512_reduce_add_epi32 emu_reduce_add_epi32
#define berry_kernels_avx512 berry_kernels_avx512_emulated
#include "../src/tensor/matmul_avx512.c"
#undef berry_kernels_avx512
#define HAVE_SIMDE 1
#else
#include "tensor/blocks.h"
#endif
#include "base/alloc.h"
#include "base/rng.h"
#include "tensor/quant.h"
#include "tensor/types.h"
#include <math.h>
#include <stdint.h>

// Each AVX-512 dot product against the scalar one, on lengths that leave every tail (float values past
// a multiple of 32 and of 16; an odd q8_0 / q4_0 block), activations of two magnitudes and a q8_0
// weight of -128 (the largest |w| vpabsb meets). Integer block sums are exact in both; only the float
// order differs: 1e-5 of sum |w x|.
TEST(tensor_avx512_emulated_dots_match_scalar) {
#ifndef HAVE_SIMDE
    SKIP("needs SIMDe's headers (Debian's libsimde-dev) to run the AVX-512 kernels without AVX-512");
#else
    berry_rng r;
    berry_rng_seed(&r, 41, 0);
    struct { berry_type t; berry_dot_fn got, want; } cases[] = {
        {BERRY_TYPE_F32, berry_kernels_avx512_emulated.dot_f32, berry_kernels_scalar.dot_f32},
        {BERRY_TYPE_F16, berry_kernels_avx512_emulated.dot_f16, berry_kernels_scalar.dot_f16},
        {BERRY_TYPE_BF16, berry_kernels_avx512_emulated.dot_bf16, berry_kernels_scalar.dot_bf16},
        {BERRY_TYPE_Q8_0, berry_kernels_avx512_emulated.dot_q8_0, berry_kernels_scalar.dot_q8_0},
        {BERRY_TYPE_Q4_0, berry_kernels_avx512_emulated.dot_q4_0, berry_kernels_scalar.dot_q4_0},
    };
    int64_t lens_f[] = {1, 15, 16, 17, 31, 32, 33, 48, 100, 896, 1001}, lens_q[] = {32, 64, 96, 224, 896, 4864};
    int checked = 0;
    for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
        berry_type t = cases[ci].t;
        const berry_type_info *info = berry_type_get(t);
        bool fl = info->block == 1;
        size_t nl = fl ? sizeof lens_f / sizeof lens_f[0] : sizeof lens_q / sizeof lens_q[0];
        CHECKF(cases[ci].got && cases[ci].want, "%s: no AVX-512 or scalar dot product", info->name);
        for (size_t li = 0; li < nl; li++)
            for (int mag = 0; mag < 2; mag++) {
                int64_t n = fl ? lens_f[li] : lens_q[li];
                float *wf = berry_calloc((size_t)n, 4), *x = berry_calloc((size_t)n, 4), *wd = berry_calloc((size_t)n, 4);
                float *xd = berry_calloc((size_t)n, 4);
                void *w = berry_calloc(berry_row_size(t, n), 1), *xq = berry_calloc(berry_row_size(info->vec_dot_type, n), 1);
                for (int64_t i = 0; i < n; i++) {
                    wf[i] = berry_rng_normal(&r) * 0.5f;
                    x[i] = berry_rng_normal(&r) * (mag ? 100.0f : 1.0f);
                }
                berry_quantize(t, wf, w, n);
                if (t == BERRY_TYPE_Q8_0) ((int8_t *)w)[2] = -128;
                const void *xa = x;
                if (!fl) {
                    berry_quantize(info->vec_dot_type, x, xq, n);
                    xa = xq;
                }
                berry_dequantize(t, w, wd, n);
                if (!fl) berry_dequantize(info->vec_dot_type, xq, xd, n);
                double absum = 0;
                for (int64_t i = 0; i < n; i++) absum += fabs((double)wd[i] * (fl ? x[i] : xd[i]));
                float got = NAN, want = NAN;
                cases[ci].got(n, &got, w, xa);
                cases[ci].want(n, &want, w, xa);
                CHECKF(fabs((double)got - want) <= 1e-5 * absum + 1e-30, "%s n=%lld: AVX-512 (emulated) %.9g, scalar %.9g",
                       info->name, (long long)n, got, want);
                checked++;
                berry_free(wf), berry_free(x), berry_free(wd), berry_free(xd), berry_free(w), berry_free(xq);
            }
    }
    CHECK(checked == 2 * (3 * 11 + 2 * 6));
#endif
}
