// matmul.c — run-time kernel dispatch, the scalar reference kernels, and the matmul driver that
// converts activations once and splits weight rows over the thread pool.
#include "tensor/matmul.h"
#include "tensor/blocks.h"
#include "tensor/quant.h"
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

// ---- scalar reference kernels ------------------------------------------------------------------

// Float types: accumulated in double, so the reference is more accurate than any SIMD path.
static void dot_f32(int64_t n, float *out, const void *w, const void *x) {
    const float *a = w, *b = x;
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += (double)a[i] * b[i];
    *out = (float)s;
}

static void dot_f16(int64_t n, float *out, const void *w, const void *x) {
    const uint16_t *a = w;
    const float *b = x;
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += (double)berry_f16_to_f32(a[i]) * b[i];
    *out = (float)s;
}

static void dot_bf16(int64_t n, float *out, const void *w, const void *x) {
    const uint16_t *a = w;
    const float *b = x;
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += (double)berry_bf16_to_f32(a[i]) * b[i];
    *out = (float)s;
}

// Quantized types: exact integer sums per block, then one float multiply-add per block (as ggml).
static void dot_q8_0(int64_t n, float *out, const void *w, const void *x) {
    const berry_block_q8_0 *a = w, *b = x;
    float s = 0;
    for (int64_t i = 0; i < n / 32; i++) {
        int si = 0;
        for (int l = 0; l < 32; l++) si += a[i].qs[l] * b[i].qs[l];
        s += (float)si * (berry_f16_load(&a[i].d) * berry_f16_load(&b[i].d));
    }
    *out = s;
}

static void dot_q4_0(int64_t n, float *out, const void *w, const void *x) {
    const berry_block_q4_0 *a = w;
    const berry_block_q8_0 *b = x;
    float s = 0;
    for (int64_t i = 0; i < n / 32; i++) {
        int si = 0;
        for (int l = 0; l < 16; l++)
            si += ((a[i].qs[l] & 0xF) - 8) * b[i].qs[l] + ((a[i].qs[l] >> 4) - 8) * b[i].qs[l + 16];
        s += (float)si * (berry_f16_load(&a[i].d) * berry_f16_load(&b[i].d));
    }
    *out = s;
}

// q4_1, q5_0, q5_1 against q8_0 (no q8_1: the activation block's sum is computed here). With q the
// unsigned values and sx the sum of the activation block: q5_0 d dx (q . x - 16 sx); q4_1 / q5_1
// d dx (q . x) + m dx sx.
static void dot_q45(berry_type t, int64_t n, float *out, const uint8_t *w, const berry_block_q8_0 *b) {
    size_t bs = berry_type_get(t)->block_bytes;
    float s = 0;
    for (int64_t i = 0; i < n / 32; i++) {
        const uint8_t *blk = w + (size_t)i * bs;
        uint8_t q[32];
        berry_unpack_q45(t, blk, q);
        int isum = 0, xsum = 0;
        for (int l = 0; l < 32; l++) { isum += q[l] * b[i].qs[l]; xsum += b[i].qs[l]; }
        float d = berry_f16_load((const uint16_t *)blk), dx = berry_f16_load(&b[i].d);
        if (t == BERRY_TYPE_Q5_0) s += (float)(isum - 16 * xsum) * (d * dx);
        else s += (float)isum * (d * dx) + (float)xsum * (berry_f16_load((const uint16_t *)blk + 1) * dx);
    }
    *out = s;
}
static void dot_q4_1(int64_t n, float *out, const void *w, const void *x) { dot_q45(BERRY_TYPE_Q4_1, n, out, w, x); }
static void dot_q5_0(int64_t n, float *out, const void *w, const void *x) { dot_q45(BERRY_TYPE_Q5_0, n, out, w, x); }
static void dot_q5_1(int64_t n, float *out, const void *w, const void *x) { dot_q45(BERRY_TYPE_Q5_1, n, out, w, x); }

// q4_K / q5_K: sum_j d sc_j (q . x)_j - dmin m_j (sum x)_j, all times the activation's d.
static void dot_q45_K(int64_t n, float *out, const uint8_t *w, const void *x, int five) {
    const berry_block_q8_K *b = x;
    size_t bsize = five ? sizeof(berry_block_q5_K) : sizeof(berry_block_q4_K);
    float s = 0;
    for (int64_t i = 0; i < n / 256; i++) {
        const berry_block_q4_K *a4 = (const berry_block_q4_K *)(w + (size_t)i * bsize);
        const berry_block_q5_K *a5 = (const berry_block_q5_K *)(w + (size_t)i * bsize);
        const uint8_t *qs = five ? a5->qs : a4->qs;
        int sumi = 0, summ = 0;
        for (int j = 0; j < 8; j++) {
            uint8_t sc, m;
            berry_k4_scale_min(j, a4->scales, &sc, &m);
            int c = j / 2, h = j % 2, isum = 0;
            for (int l = 0; l < 32; l++) {
                int q = (qs[32 * c + l] >> (4 * h)) & 0xF;
                if (five) q |= ((a5->qh[l] >> j) & 1) << 4;
                isum += q * b[i].qs[32 * j + l];
            }
            sumi += sc * isum;
            summ += m * (b[i].bsums[2 * j] + b[i].bsums[2 * j + 1]);
        }
        float d = berry_f16_load(&a4->d) * b[i].d, dmin = berry_f16_load(&a4->dmin) * b[i].d;
        s += d * (float)sumi - dmin * (float)summ;
    }
    *out = s;
}
static void dot_q4_K(int64_t n, float *out, const void *w, const void *x) { dot_q45_K(n, out, w, x, 0); }
static void dot_q5_K(int64_t n, float *out, const void *w, const void *x) { dot_q45_K(n, out, w, x, 1); }

static void dot_q6_K(int64_t n, float *out, const void *w, const void *x) {
    const berry_block_q6_K *a = w;
    const berry_block_q8_K *b = x;
    float s = 0;
    for (int64_t i = 0; i < n / 256; i++) {
        int sumi = 0;
        for (int j = 0; j < 16; j++) {
            int half = j / 8, isum = 0;
            for (int l = 0; l < 16; l++) {
                int e = 16 * (j % 8) + l;        // index within the 128-value half
                int quarter = e / 32, li = e % 32;
                uint8_t ql = a[i].ql[64 * half + li + (quarter & 1) * 32];
                int lo = quarter < 2 ? ql & 0xF : ql >> 4;
                int hi = (a[i].qh[32 * half + li] >> (2 * quarter)) & 3;
                isum += ((lo | (hi << 4)) - 32) * b[i].qs[16 * j + l];
            }
            sumi += a[i].scales[j] * isum;
        }
        s += berry_f16_load(&a[i].d) * b[i].d * (float)sumi;
    }
    *out = s;
}

static void dot_q8_K(int64_t n, float *out, const void *w, const void *x) {
    const berry_block_q8_K *a = w, *b = x;
    float s = 0;
    for (int64_t i = 0; i < n / 256; i++) {
        int si = 0;
        for (int l = 0; l < 256; l++) si += a[i].qs[l] * b[i].qs[l];
        s += (float)si * (a[i].d * b[i].d);
    }
    *out = s;
}

static void f16_to_f32(const uint16_t *src, float *dst, int64_t n) {
    for (int64_t i = 0; i < n; i++) dst[i] = berry_f16_to_f32(src[i]);
}
static void f32_to_f16(const float *src, uint16_t *dst, int64_t n) {
    for (int64_t i = 0; i < n; i++) dst[i] = berry_f32_to_f16(src[i]);
}

// Repacked q4_0 / q8_0 panels (blocks.h), element by element.
static void panel_pk_ref(int q4, const uint8_t *p, int nc, int64_t b0, int nbs, const berry_act_q8 *x, int r0,
                         int r1, float *y, size_t ldy, int add) {
    size_t pb = BERRY_PK_BYTES(q4);
    for (int r = r0; r < r1; r++)
        for (int c = 0; c < nc; c++) {
            float s = 0;
            for (int64_t b = b0; b < b0 + nbs; b++) {
                const uint8_t *B = p + (size_t)b * pb;
                const int8_t *xq = ((const berry_block_q8_0 *)(x->q + (size_t)r * x->stride) + b)->qs;
                int isum = 0;
                for (int j = 0; j < 32; j++) {
                    int wv;
                    if (q4) {
                        uint8_t byte = B[16 + 32 * ((j % 16) / 4) + 4 * c + j % 4];
                        wv = (j < 16 ? byte & 0xF : byte >> 4) - 8;
                        if (q4 == 2) {
                            uint32_t hw;
                            memcpy(&hw, B + 16 + 128 + 4 * (4 * (j / 16) + (j % 16) / 4), 4);
                            wv += (int)((hw >> (4 * c + j % 4)) & 1) * 16 - 8;
                        }
                    } else {
                        wv = (int8_t)B[16 + 32 * (j / 4) + 4 * c + j % 4];
                    }
                    isum += wv * xq[j];
                }
                uint16_t h;
                memcpy(&h, B + 2 * c, 2);
                s += berry_f16_to_f32(h) * x->d[(size_t)r * (size_t)x->nb + (size_t)b] * (float)isum;
            }
            y[(size_t)r * ldy + c] = add ? y[(size_t)r * ldy + c] + s : s;
        }
}

// One super-block of row C of a repacked q4_K (SIX 0, blocks.h BERRY_PK4K_BYTES) or q6_K (SIX 1,
// BERRY_PK6K_BYTES) panel against activation block XB, element by element, with the AVX2 kernels'
// integer sums: q4_K d * dx * (sum of scaled products) - dmin * dx * (sum of mins times the activations'
// sub-block sums); q6_K d * dx * (sum over sub-blocks of scale * (products - 32 * the activation sum)).
static float kq_ref_block(int six, const uint8_t *B, const berry_block_q8_K *xb, int c) {
    int isum = 0, msum = 0;
    uint16_t hd, hm = 0;
    memcpy(&hd, B + 2 * c, 2);
    if (six) {
        for (int j = 0; j < 16; j++) {
            int sub = 0;
            for (int l = 0; l < 16; l++) sub += B[272 + 128 * j + 32 * (l / 4) + 4 * c + l % 4] * xb->qs[16 * j + l];
            isum += (int8_t)B[16 + 16 * j + 2 * c] * (sub - 32 * xb->bsums[j]);
        }
    } else {
        memcpy(&hm, B + 16 + 2 * c, 2);
        for (int j = 0; j < 8; j++) {
            int sub = 0;
            for (int l = 0; l < 32; l++) {
                uint8_t byte = B[160 + 128 * j + 32 * ((l % 16) / 4) + 4 * c + l % 4];
                sub += (l < 16 ? byte & 0xF : byte >> 4) * xb->qs[32 * j + l];
            }
            isum += B[32 + 8 * j + c] * sub;
            msum += B[96 + 8 * j + c] * (xb->bsums[2 * j] + xb->bsums[2 * j + 1]);
        }
    }
    return berry_f16_to_f32(hd) * xb->d * (float)isum - berry_f16_to_f32(hm) * xb->d * (float)msum;
}

static void panel_kq_ref(int six, const uint8_t *p, int nc, int64_t b0, int nbs, const uint8_t *x, size_t xs, int r0,
                         int r1, float *y, size_t ldy, int add) {
    size_t pb = six ? BERRY_PK6K_BYTES : BERRY_PK4K_BYTES;
    for (int r = r0; r < r1; r++)
        for (int c = 0; c < nc; c++) {
            float s = 0;
            for (int64_t b = b0; b < b0 + nbs; b++)
                s += kq_ref_block(six, p + (size_t)b * pb, (const berry_block_q8_K *)(x + (size_t)r * xs) + b, c);
            y[(size_t)r * ldy + c] = add ? y[(size_t)r * ldy + c] + s : s;
        }
}
static void panel_q4k_ref(const uint8_t *p, int nc, int64_t b0, int nbs, const uint8_t *x, size_t xs, int r0, int r1,
                          float *y, size_t ldy, int add) {
    panel_kq_ref(0, p, nc, b0, nbs, x, xs, r0, r1, y, ldy, add);
}
static void panel_q6k_ref(const uint8_t *p, int nc, int64_t b0, int nbs, const uint8_t *x, size_t xs, int r0, int r1,
                          float *y, size_t ldy, int add) {
    panel_kq_ref(1, p, nc, b0, nbs, x, xs, r0, r1, y, ldy, add);
}

static void panel_fpk_ref(const uint8_t *p, int nc, int64_t k0, int nk, const float *x, size_t xs, int r0, int r1,
                          float *y, size_t ldy, int add) {
    for (int r = r0; r < r1; r++)
        for (int c = 0; c < nc; c++) {
            double s = 0;
            for (int64_t k = k0; k < k0 + nk; k++) {
                uint16_t h;
                memcpy(&h, p + (size_t)k * 32 + 2 * (size_t)c, 2);
                s += (double)berry_f16_to_f32(h) * x[(size_t)r * xs + (size_t)k];
            }
            y[(size_t)r * ldy + c] = add ? y[(size_t)r * ldy + c] + (float)s : (float)s;
        }
}

const berry_kernels berry_kernels_scalar = {
    .panel_pk = panel_pk_ref, .panel_fpk = panel_fpk_ref, .panel_q4k = panel_q4k_ref, .panel_q6k = panel_q6k_ref,
    .f16_to_f32 = f16_to_f32, .f32_to_f16 = f32_to_f16,
    .dot_f32 = dot_f32, .dot_f16 = dot_f16, .dot_bf16 = dot_bf16, .dot_q4_0 = dot_q4_0,
    .dot_q8_0 = dot_q8_0, .dot_q4_K = dot_q4_K, .dot_q5_K = dot_q5_K, .dot_q6_K = dot_q6_K,
    .dot_q8_K = dot_q8_K, .dot_q4_1 = dot_q4_1, .dot_q5_0 = dot_q5_0, .dot_q5_1 = dot_q5_1,
    .quant_q8_0 = berry_quant_q8_0_ref, .quant_q8_K = berry_quant_q8_K_ref,
    .f_rows = 1, .f_cols = 1, .q_rows = 1, .q_cols = 1, .k_rows = 1, .k_cols = 1,
};

// ---- dispatch ----------------------------------------------------------------------------------

static berry_simd cpu_level(void) {
    static _Atomic int cached = -1;
    int c = atomic_load_explicit(&cached, memory_order_relaxed);
    if (c >= 0) return (berry_simd)c;
    __builtin_cpu_init();
    berry_simd s = BERRY_SIMD_SCALAR;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        // F16C has no __builtin_cpu_supports name in older gcc; every AVX2 CPU made has it.
        s = BERRY_SIMD_AVX2;
        if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
            __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq"))
            s = BERRY_SIMD_AVX512;
    }
    const char *env = getenv("BERRY_SIMD");
    if (env) {
        berry_simd want = strcmp(env, "scalar") == 0 ? BERRY_SIMD_SCALAR
                        : strcmp(env, "avx2") == 0   ? BERRY_SIMD_AVX2
                                                     : BERRY_SIMD_AVX512;
        if (want < s) s = want;
    }
    atomic_store_explicit(&cached, (int)s, memory_order_relaxed);
    return s;
}

// The forced level; -1 when none. Process-wide, like the CPU it describes.
static _Atomic int forced = -1;

berry_simd berry_simd_level(void) {
    int f = atomic_load_explicit(&forced, memory_order_relaxed);
    return f >= 0 ? (berry_simd)f : cpu_level();
}

// Never above what the CPU has: forcing AVX-512 on an AVX2 machine gives AVX2.
berry_simd berry_simd_force(berry_simd s) {
    berry_simd prev = berry_simd_level();
    __builtin_cpu_init();
    berry_simd max = BERRY_SIMD_SCALAR;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) max = BERRY_SIMD_AVX2;
    if (max == BERRY_SIMD_AVX2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq"))
        max = BERRY_SIMD_AVX512;
    if ((int)s < 0) s = BERRY_SIMD_SCALAR;
    if (s > max) s = max;
    atomic_store_explicit(&forced, (int)s, memory_order_relaxed);
    return prev;
}

const char *berry_simd_name(berry_simd s) {
    switch (s) {
    case BERRY_SIMD_SCALAR: return "scalar";
    case BERRY_SIMD_AVX2: return "avx2";
    case BERRY_SIMD_AVX512: return "avx512";
    }
    return "unknown";
}

static const berry_kernels *level_table(int lv) {
    return lv >= 2 ? &berry_kernels_avx512 : lv == 1 ? &berry_kernels_avx2 : &berry_kernels_scalar;
}

// The kernels of the current level for type T, each falling back to lower levels where a level has
// none.
typedef struct {
    berry_dot_fn dot;
    berry_tile_fn tile;
    berry_quant_fn quant;
    berry_panel_fn panel;
    berry_panel_f_fn panel_f;
    berry_matvec_fn matvec;
    int mv_kind;
    berry_panel_pk_fn panel_pk;
    berry_panel_fpk_fn panel_fpk;
    berry_fpk_streams_fn fpk_streams;
    berry_pk_streams_fn pk_streams;
    berry_panel_q4k_fn panel_kq;        // repacked q4_K or q6_K (the weight's type)
    berry_q4k_streams_fn kq_streams;
    int tr, tc;
} kernel_set;

static kernel_set pick(berry_type t) {
    kernel_set k = {0};
    for (int lv = (int)berry_simd_level(); lv >= 0; lv--) {
        const berry_kernels *K = level_table(lv);
        berry_dot_fn d = NULL;
        berry_tile_fn tl = NULL;
        switch (t) {
        case BERRY_TYPE_F32: d = K->dot_f32; tl = K->tile_f32; break;
        case BERRY_TYPE_F16: d = K->dot_f16; tl = K->tile_f16; break;
        case BERRY_TYPE_BF16: d = K->dot_bf16; tl = K->tile_bf16; break;
        case BERRY_TYPE_Q4_0: d = K->dot_q4_0; tl = K->tile_q4_0; break;
        case BERRY_TYPE_Q8_0: d = K->dot_q8_0; tl = K->tile_q8_0; break;
        case BERRY_TYPE_Q4_1: d = K->dot_q4_1; tl = K->tile_q4_1; break;
        case BERRY_TYPE_Q5_0: d = K->dot_q5_0; tl = K->tile_q5_0; break;
        case BERRY_TYPE_Q5_1: d = K->dot_q5_1; tl = K->tile_q5_1; break;
        case BERRY_TYPE_Q4_K: d = K->dot_q4_K; tl = K->tile_q4_K; break;
        case BERRY_TYPE_Q5_K: d = K->dot_q5_K; tl = K->tile_q5_K; break;
        case BERRY_TYPE_Q6_K: d = K->dot_q6_K; tl = K->tile_q6_K; break;
        case BERRY_TYPE_Q8_K: d = K->dot_q8_K; break;
        }
        berry_type_info const *ti = berry_type_get(t);
        berry_quant_fn q = ti && ti->vec_dot_type == BERRY_TYPE_Q8_0 ? K->quant_q8_0
                         : ti && ti->vec_dot_type == BERRY_TYPE_Q8_K ? K->quant_q8_K : NULL;
        if (!k.dot) k.dot = d;
        if (!k.tile && tl) {
            int fl = t == BERRY_TYPE_F32 || t == BERRY_TYPE_F16 || t == BERRY_TYPE_BF16;
            int kq = t == BERRY_TYPE_Q4_K || t == BERRY_TYPE_Q5_K || t == BERRY_TYPE_Q6_K;
            k.tile = tl;
            int q45 = t == BERRY_TYPE_Q4_1 || t == BERRY_TYPE_Q5_0 || t == BERRY_TYPE_Q5_1;
            k.tr = fl ? K->f_rows : kq ? K->k_rows : q45 ? K->q45_rows : K->q_rows;
            k.tc = fl ? K->f_cols : kq ? K->k_cols : q45 ? K->q45_cols : K->q_cols;
        }
        if (!k.quant) k.quant = q;
        if (!k.panel && (t == BERRY_TYPE_Q4_0 || t == BERRY_TYPE_Q5_0 || t == BERRY_TYPE_Q8_0)) k.panel = K->panel_q8;
        if (!k.panel_f && (t == BERRY_TYPE_F32 || t == BERRY_TYPE_F16 || t == BERRY_TYPE_BF16)) k.panel_f = K->panel_f;
        if (!k.panel_pk && (t == BERRY_TYPE_Q8_0 || t == BERRY_TYPE_Q4_0 || t == BERRY_TYPE_Q5_0)) k.panel_pk = K->panel_pk;
        if (!k.pk_streams && (t == BERRY_TYPE_Q8_0 || t == BERRY_TYPE_Q4_0 || t == BERRY_TYPE_Q5_0)) k.pk_streams = K->pk_streams;
        if (!k.panel_kq) k.panel_kq = t == BERRY_TYPE_Q4_K ? K->panel_q4k : t == BERRY_TYPE_Q6_K ? K->panel_q6k : NULL;
        if (!k.kq_streams) k.kq_streams = t == BERRY_TYPE_Q4_K ? K->q4k_streams : t == BERRY_TYPE_Q6_K ? K->q6k_streams : NULL;
        if (!k.panel_fpk && t == BERRY_TYPE_F16) k.panel_fpk = K->panel_fpk;
        if (!k.fpk_streams && t == BERRY_TYPE_F16) k.fpk_streams = K->fpk_streams;
        if (!k.matvec && (t == BERRY_TYPE_Q8_0 || t == BERRY_TYPE_Q4_0 || t == BERRY_TYPE_Q5_0)) {
            k.matvec = K->matvec_q8;
            k.mv_kind = t == BERRY_TYPE_Q4_0 ? 1 : t == BERRY_TYPE_Q5_0 ? 2 : 0;
        }
        if (!k.matvec && K->matvec_kq && (t == BERRY_TYPE_Q4_K || t == BERRY_TYPE_Q5_K || t == BERRY_TYPE_Q6_K)) {
            k.matvec = K->matvec_kq;
            k.mv_kind = t == BERRY_TYPE_Q4_K ? 0 : t == BERRY_TYPE_Q5_K ? 1 : 2;
        }
        if (!k.matvec && (t == BERRY_TYPE_F32 || t == BERRY_TYPE_F16 || t == BERRY_TYPE_BF16)) {
            k.matvec = K->matvec_f;
            k.mv_kind = t == BERRY_TYPE_F32 ? 0 : t == BERRY_TYPE_F16 ? 1 : 2;
        }
    }
    return k;
}

void berry_f16_to_f32_row(const uint16_t *src, float *dst, int64_t n) {
    for (int lv = (int)berry_simd_level(); lv >= 0; lv--)
        if (level_table(lv)->f16_to_f32) { level_table(lv)->f16_to_f32(src, dst, n); return; }
}

void berry_f32_to_f16_row(const float *src, uint16_t *dst, int64_t n) {
    for (int lv = (int)berry_simd_level(); lv >= 0; lv--)
        if (level_table(lv)->f32_to_f16) { level_table(lv)->f32_to_f16(src, dst, n); return; }
}

void berry_vec_dot(berry_type t, int64_t n, float *out, const void *w_row, const void *x) {
    const berry_type_info *ti = berry_type_get(t);
    if (!ti || n <= 0 || n % ti->block) { *out = 0; return; }
    pick(t).dot(n, out, w_row, x);
}

// ---- matmul ------------------------------------------------------------------------------------

size_t berry_matmul_scratch_size(berry_type t, int rows, int64_t k) {
    const berry_type_info *ti = berry_type_get(t);
    if (!ti || rows <= 0) return 0;
    size_t row = berry_row_size(ti->vec_dot_type, k), total;
    if (!row || __builtin_mul_overflow(row, (size_t)rows, &total)) return 0;
    if (ti->vec_dot_type == BERRY_TYPE_Q8_0) {
        // Then, 64-byte aligned, the packed GEMM's per-block f32 scales and 8 * block sums.
        size_t extra = (size_t)rows * (size_t)(k / 32) * 8;
        total = (total + 63) / 64 * 64;
        if (__builtin_add_overflow(total, extra, &total)) return 0;
    }
    return total;
}

typedef struct {
    kernel_set ks;
    const uint8_t *w;
    size_t wstride;      // bytes per weight row
    const float *x;      // (rows, K) f32 input
    const uint8_t *xa;   // (rows, K) activations in vec_dot_type, xstride bytes per row
    size_t xstride;
    uint8_t *scratch;
    berry_act_q8 act;    // the packed GEMM's view of q8_0 activations (when packed)
    int packed, q4;      // packed: 1 q8_0 GEMM, 2 float GEMM, 3 repacked weights, 4 repacked f16, 5 repacked
                         // q4_K / q6_K; q4: 1 q4_0 weights, 2 q5_0 (packed 5: 5 q4_K, 6 q6_K)
    int kind;            // float weights: 0 f32, 1 f16, 2 bf16
    float *y;            // (rows, M)
    int rows;
    int64_t k, m;
} mm_job;

static void convert_rows(void *ctx, int ith, int nth) {
    mm_job *j = ctx;
    int b, e;
    berry_split(j->rows, ith, nth, &b, &e);
    for (int r = b; r < e; r++) {
        uint8_t *q = j->scratch + (size_t)r * j->xstride;
        j->ks.quant(j->x + (size_t)r * j->k, q, j->k);
        if (j->packed != 1 && j->packed != 3) continue;   // only the q8_0 panels read d and s8
        int64_t nb = j->k / 32;
        float *d = (float *)j->act.d + (size_t)r * (size_t)nb;
        int32_t *s8 = (int32_t *)j->act.s8 + (size_t)r * (size_t)nb;
        for (int64_t i = 0; i < nb; i++) {
            const berry_block_q8_0 *blk = (const berry_block_q8_0 *)q + i;
            int sum = 0;
            for (int l = 0; l < 32; l++) sum += blk->qs[l];
            d[i] = berry_f16_to_f32(blk->d);
            s8[i] = 8 * sum;
        }
    }
}

// Decode over a thread's weight rows [c_begin, c_end) in panels of PR rows, PANEL bytes apart: the
// panels are cut into BERRY_STREAMS contiguous parts walked side by side (blocks.h
// berry_fpk_streams_fn), and FN gets one panel of each part at a time.
typedef void (*mm_streams_fn)(const mm_job *j, int cnt, const uint8_t *const *p, const int *nc, float *const *y);
static void mm_streams(const mm_job *j, int64_t c_begin, int64_t c_end, int pr, size_t panel, mm_streams_fn fn) {
    int64_t u0 = c_begin / pr, n = (c_end - c_begin + pr - 1) / pr, h = (n + BERRY_STREAMS - 1) / BERRY_STREAMS;
    for (int64_t i = 0; i < h; i++) {
        const uint8_t *p[BERRY_STREAMS];
        int nc[BERRY_STREAMS], cnt = 0;
        float *y[BERRY_STREAMS];
        for (int64_t u = u0 + i; u < u0 + n; u += h) {
            int64_t c = u * pr;
            p[cnt] = j->w + (size_t)u * panel;
            nc[cnt] = (int)(c_end - c < pr ? c_end - c : pr);
            y[cnt++] = j->y + c;
        }
        fn(j, cnt, p, nc, y);
    }
}

static void streams_pk(const mm_job *j, int cnt, const uint8_t *const *p, const int *nc, float *const *y) {
    j->ks.pk_streams(j->q4, cnt, p, nc, j->k / 32, &j->act, y);
}
static void streams_fpk(const mm_job *j, int cnt, const uint8_t *const *p, const int *nc, float *const *y) {
    j->ks.fpk_streams(cnt, p, nc, j->k, j->x, y);
}
static void streams_kq(const mm_job *j, int cnt, const uint8_t *const *p, const int *nc, float *const *y) {
    j->ks.kq_streams(cnt, p, nc, j->k / 256, j->xa, y);
}

// The panel paths: thread ITH takes whole panels of 8 weight rows; activation rows are walked in
// chunks that stay in L2, a K slice at a time so that the slice of a panel stays in L1 while the
// chunk's rows use it. Stored blocks (REPACKED 0) are packed once per chunk and slice by the kernel;
// repacked weights are read as they are, and one activation row (decode) takes all of K at once.
static void mm_run_panels(mm_job *j, int ith, int nth, int repacked) {
    int64_t units = (j->m + 7) / 8, per = (units + nth - 1) / nth;
    int64_t c_begin = per * ith * 8, c_end = per * (ith + 1) * 8;
    if (c_end > j->m) c_end = j->m;
    // Blocks of 32 values and q8_0 activations; repacked q4_K / q6_K (REPACKED 2): super-blocks of 256
    // and q8_K activations, four super-blocks of a panel (4.6 / 9.1 KiB) a slice.
    bool kq = repacked == 2;
    int64_t nb = j->k / (kq ? 256 : 32), max_slice = kq ? 4 : BERRY_PANEL_BLOCKS;
    size_t pb = !repacked ? 0 : !kq ? BERRY_PK_BYTES(j->q4) : j->q4 == 6 ? BERRY_PK6K_BYTES : BERRY_PK4K_BYTES;
    size_t panel = (size_t)nb * pb, xblock = kq ? sizeof(berry_block_q8_K) : sizeof(berry_block_q8_0);
    int64_t slice = repacked && j->rows == 1 ? nb : nb < max_slice ? nb : max_slice;
    if (repacked && j->rows == 1 && c_begin < c_end && (kq ? j->ks.kq_streams != NULL : j->ks.pk_streams != NULL)) {
        mm_streams(j, c_begin, c_end, 8, panel, kq ? streams_kq : streams_pk);
        return;
    }
    int64_t step = kq ? 4 : 12, chunk = (256 * 1024) / (slice * (int64_t)xblock);
    chunk = chunk < step ? step : chunk / step * step;
    for (int64_t r0 = 0; r0 < j->rows; r0 += chunk) {
        int r1 = (int)(r0 + chunk < j->rows ? r0 + chunk : j->rows);
        for (int64_t c = c_begin; c < c_end; c += 8) {
            int nc = (int)(c_end - c < 8 ? c_end - c : 8);
            for (int64_t b0 = 0; b0 < nb; b0 += slice) {
                int nbs = (int)(nb - b0 < slice ? nb - b0 : slice);
                if (kq)
                    j->ks.panel_kq(j->w + (size_t)(c / 8) * panel, nc, b0, nbs, j->xa, j->xstride, (int)r0, r1, j->y + c,
                                   (size_t)j->m, b0 > 0);
                else if (repacked)
                    j->ks.panel_pk(j->q4, j->w + (size_t)(c / 8) * panel, nc, b0, nbs, &j->act, (int)r0, r1, j->y + c,
                                   (size_t)j->m, b0 > 0);
                else
                    j->ks.panel(j->q4, j->w + (size_t)c * j->wstride, j->wstride, nc, b0, nbs, &j->act, (int)r0, r1,
                                j->y + c, (size_t)j->m, b0 > 0);
            }
        }
    }
}

// Thread ITH takes a contiguous range of weight rows (whole tiles). Activations are walked in chunks
// that stay in L2 while this thread's weight rows stream past them; within a chunk each group of
// tile_cols weight rows stays in L1 while every tile of activation rows uses it.
// The packed float path: panels of 16 weight rows, K in slices of BERRY_PANEL_FLOATS values, the
// activation chunk's slice kept in L2.
static void mm_run_packed_f(mm_job *j, int ith, int nth) {
    int64_t units = (j->m + 15) / 16, per = (units + nth - 1) / nth;
    int64_t c_begin = per * ith * 16, c_end = per * (ith + 1) * 16;
    if (c_end > j->m) c_end = j->m;
    int64_t kmain = j->k / 8 * 8;   // the panel takes multiples of 8; a tail of < 8 values is added below
    int64_t chunk = 192;
    int kind = j->kind;
    for (int64_t r0 = 0; r0 < j->rows; r0 += chunk) {
        int r1 = (int)(r0 + chunk < j->rows ? r0 + chunk : j->rows);
        for (int64_t c = c_begin; c < c_end; c += 16) {
            int nc = (int)(c_end - c < 16 ? c_end - c : 16);
            for (int64_t k0 = 0; k0 < kmain; k0 += BERRY_PANEL_FLOATS) {
                int nk = (int)(kmain - k0 < BERRY_PANEL_FLOATS ? kmain - k0 : BERRY_PANEL_FLOATS);
                j->ks.panel_f(kind, j->w + (size_t)c * j->wstride, j->wstride, nc, k0, nk, j->x, (size_t)j->k,
                              (int)r0, r1, j->y + c, (size_t)j->m, k0 > 0);
            }
            for (int64_t r = r0; r < r1; r++)
                for (int cc = 0; cc < nc; cc++) {
                    const uint8_t *wr = j->w + (size_t)(c + cc) * j->wstride;
                    float s = kmain ? j->y[(size_t)r * (size_t)j->m + (size_t)(c + cc)] : 0;
                    for (int64_t i = kmain; i < j->k; i++) {
                        uint16_t h;
                        float wv;
                        if (kind == 0) memcpy(&wv, wr + 4 * i, 4);
                        else {
                            memcpy(&h, wr + 2 * i, 2);
                            wv = kind == 1 ? berry_f16_to_f32(h) : berry_bf16_to_f32(h);
                        }
                        s += wv * j->x[(size_t)r * (size_t)j->k + (size_t)i];
                    }
                    j->y[(size_t)r * (size_t)j->m + (size_t)(c + cc)] = s;
                }
        }
    }
}

// Decode: thread ITH takes a contiguous range of weight rows (whole cache lines of Y apart) in one call.
static void mm_run_matvec(mm_job *j, int ith, int nth) {
    int64_t units = (j->m + 15) / 16, per = (units + nth - 1) / nth;
    int64_t c_begin = per * ith * 16, c_end = per * (ith + 1) * 16;
    if (c_end > j->m) c_end = j->m;
    if (c_begin >= c_end) return;
    j->ks.matvec(j->ks.mv_kind, j->k, j->w + (size_t)c_begin * j->wstride, j->wstride, (int)(c_end - c_begin), j->xa,
                 j->y + c_begin);
}

// Repacked f16 weights: thread ITH takes whole panels of 16 rows; several activation rows go through
// a panel in K slices of BERRY_PANEL_FLOATS (8 KiB of the panel, in L1) and chunks of rows.
// Decode takes several panels at once (berry_fpk_streams_fn): the thread's panels are cut into
// BERRY_STREAMS contiguous parts, walked side by side.
static void mm_run_repacked_f(mm_job *j, int ith, int nth) {
    int64_t units = (j->m + 15) / 16, per = (units + nth - 1) / nth;
    int64_t c_begin = per * ith * 16, c_end = per * (ith + 1) * 16;
    if (c_end > j->m) c_end = j->m;
    size_t panel = BERRY_PKF_BYTES(j->k);
    if (j->rows == 1 && j->ks.fpk_streams && c_begin < c_end) {
        mm_streams(j, c_begin, c_end, 16, panel, streams_fpk);
        return;
    }
    int64_t slice = j->rows == 1 ? j->k : BERRY_PANEL_FLOATS, chunk = 192;
    for (int64_t r0 = 0; r0 < j->rows; r0 += chunk) {
        int r1 = (int)(r0 + chunk < j->rows ? r0 + chunk : j->rows);
        for (int64_t c = c_begin; c < c_end; c += 16) {
            int nc = (int)(c_end - c < 16 ? c_end - c : 16);
            for (int64_t k0 = 0; k0 < j->k; k0 += slice) {
                int nk = (int)(j->k - k0 < slice ? j->k - k0 : slice);
                j->ks.panel_fpk(j->w + (size_t)(c / 16) * panel, nc, k0, nk, j->x, (size_t)j->k, (int)r0, r1, j->y + c,
                                (size_t)j->m, k0 > 0);
            }
        }
    }
}

static void mm_run(void *ctx, int ith, int nth) {
    mm_job *j = ctx;
    if (j->packed == 5) { mm_run_panels(j, ith, nth, 2); return; }
    if (j->packed == 4) { mm_run_repacked_f(j, ith, nth); return; }
    if (j->packed == 3) { mm_run_panels(j, ith, nth, 1); return; }
    if (j->packed == 1) { mm_run_panels(j, ith, nth, 0); return; }
    if (j->packed == 2) { mm_run_packed_f(j, ith, nth); return; }
    if (j->rows == 1 && j->ks.matvec) { mm_run_matvec(j, ith, nth); return; }
    int64_t tc = j->ks.tile ? j->ks.tc : 1, tr = j->ks.tile ? j->ks.tr : 1;
    int64_t units = (j->m + tc - 1) / tc, per = (units + nth - 1) / nth;
    int64_t c_begin = per * ith * tc, c_end = per * (ith + 1) * tc;
    if (c_end > j->m) c_end = j->m;
    if (c_begin >= c_end) return;
    int64_t chunk = (int64_t)((256 * 1024) / (j->xstride ? j->xstride : 1));
    chunk = chunk < tr ? tr : chunk / tr * tr;
    for (int64_t r0 = 0; r0 < j->rows; r0 += chunk) {
        int64_t r1 = r0 + chunk < j->rows ? r0 + chunk : j->rows;
        for (int64_t c = c_begin; c < c_end; c += tc) {
            int nc = (int)(c_end - c < tc ? c_end - c : tc);
            const uint8_t *wc = j->w + (size_t)c * j->wstride;
            for (int64_t r = r0; r < r1; r += tr) {
                int nr = (int)(r1 - r < tr ? r1 - r : tr);
                const uint8_t *xr = j->xa + (size_t)r * j->xstride;
                float *yr = j->y + (size_t)r * (size_t)j->m + (size_t)c;
                if (j->ks.tile) {
                    j->ks.tile(j->k, wc, j->wstride, xr, j->xstride, yr, (size_t)j->m, nr, nc);
                } else {
                    for (int a = 0; a < nr; a++)
                        for (int b = 0; b < nc; b++)
                            j->ks.dot(j->k, yr + (size_t)a * (size_t)j->m + b, wc + (size_t)b * j->wstride,
                                      xr + (size_t)a * j->xstride);
                }
            }
        }
    }
}

void berry_matmul(berry_pool *pool, berry_type t, const void *w, const float *x, float *y, int rows,
                  int64_t k, int64_t m, void *scratch) {
    const berry_type_info *ti = berry_type_get(t);
    if (!ti || t == BERRY_TYPE_Q8_K || rows <= 0 || m <= 0 || k <= 0 || k % ti->block) return;
    mm_job j = {.ks = pick(t), .w = w, .wstride = berry_row_size(t, k), .x = x, .scratch = scratch,
                .y = y, .rows = rows, .k = k, .m = m};
    if (ti->vec_dot_type == BERRY_TYPE_F32) {
        j.xa = (const uint8_t *)x;
        j.xstride = (size_t)k * sizeof(float);
        if (j.ks.panel_f && rows >= 16) {
            j.packed = 2;
            j.kind = t == BERRY_TYPE_F32 ? 0 : t == BERRY_TYPE_F16 ? 1 : 2;
        }
    } else {
        j.xa = scratch;
        j.xstride = berry_row_size(ti->vec_dot_type, k);
        // Several activation rows: the packed GEMM, which needs f32 scales and block sums.
        if (j.ks.panel && rows >= 4) {
            int64_t nb = k / 32;
            size_t off = ((size_t)rows * j.xstride + 63) / 64 * 64;
            j.packed = 1;
            j.q4 = t == BERRY_TYPE_Q4_0 ? 1 : t == BERRY_TYPE_Q5_0 ? 2 : 0;
            j.act = (berry_act_q8){.q = scratch, .stride = j.xstride, .d = (const float *)((uint8_t *)scratch + off),
                                   .s8 = (const int32_t *)((uint8_t *)scratch + off + (size_t)rows * (size_t)nb * 4),
                                   .nb = nb};
        }
        // Converting is O(rows K); worth a second dispatch only when there are several rows.
        if (rows >= 4 && pool) berry_pool_run(pool, convert_rows, &j);
        else convert_rows(&j, 0, 1);
    }
    berry_pool_run(pool, mm_run, &j);
}

// ---- repacked weights ----------------------------------------------------------------------------

// The repacked layout's kind (blocks.h BERRY_PK_BYTES): 0 q8_0, 1 q4_0, 2 q5_0.
static int pk_kind(berry_type t) { return t == BERRY_TYPE_Q4_0 ? 1 : t == BERRY_TYPE_Q5_0 ? 2 : 0; }

size_t berry_repack_size(berry_type t, int64_t k, int64_t m) {
    if (t == BERRY_TYPE_F16 && k > 0 && m > 0) {
        size_t total;
        if (__builtin_mul_overflow((size_t)((m + 15) / 16), BERRY_PKF_BYTES(k), &total)) return 0;
        return total;
    }
    if ((t == BERRY_TYPE_Q4_K || t == BERRY_TYPE_Q6_K) && k > 0 && m > 0 && k % 256 == 0) {
        size_t total, per = t == BERRY_TYPE_Q6_K ? BERRY_PK6K_BYTES : BERRY_PK4K_BYTES;
        if (__builtin_mul_overflow((size_t)((m + 7) / 8), (size_t)(k / 256) * per, &total)) return 0;
        return total;
    }
    if ((t != BERRY_TYPE_Q4_0 && t != BERRY_TYPE_Q5_0 && t != BERRY_TYPE_Q8_0) || k <= 0 || m <= 0 || k % 32) return 0;
    size_t panels = (size_t)((m + 7) / 8), per = (size_t)(k / 32) * BERRY_PK_BYTES(pk_kind(t)), total;
    if (__builtin_mul_overflow(panels, per, &total)) return 0;
    return total;
}

typedef struct { berry_type t; const uint8_t *w; int64_t k, m; uint8_t *dst; } repack_job;

// f16: panel p, k, row c at 2 * (16 k + c) bytes.
static void repack_panels_f16(repack_job *j, int ith, int nth) {
    int b, e;
    berry_split((int)((j->m + 15) / 16), ith, nth, &b, &e);
    size_t ws = (size_t)j->k * 2;
    for (int p = b; p < e; p++) {
        uint16_t *P = (uint16_t *)(j->dst + (size_t)p * BERRY_PKF_BYTES(j->k));
        memset(P, 0, BERRY_PKF_BYTES(j->k));
        for (int c = 0; c < 16 && (int64_t)p * 16 + c < j->m; c++) {
            const uint8_t *row = j->w + (size_t)((int64_t)p * 16 + c) * ws;
            for (int64_t k = 0; k < j->k; k++) memcpy(P + (size_t)k * 16 + (size_t)c, row + 2 * (size_t)k, 2);
        }
    }
}

// K-quant panels: every panel's super-blocks, PB bytes each, zeroed (rows past M keep zero scales and
// values), then FN writes row C's part from its GGUF block BLK.
typedef void (*kq_pack_fn)(const uint8_t *blk, uint8_t *B, int c);
static void repack_kq(repack_job *j, int ith, int nth, size_t bsize, size_t pb, kq_pack_fn fn) {
    int64_t nb = j->k / 256;
    size_t ws = (size_t)nb * bsize;
    int b, e;
    berry_split((int)((j->m + 7) / 8), ith, nth, &b, &e);
    for (int p = b; p < e; p++)
        for (int64_t i = 0; i < nb; i++) {
            uint8_t *B = j->dst + ((size_t)p * (size_t)nb + (size_t)i) * pb;
            memset(B, 0, pb);
            for (int c = 0; c < 8 && (int64_t)p * 8 + c < j->m; c++)
                fn(j->w + (size_t)((int64_t)p * 8 + c) * ws + (size_t)i * bsize, B, c);
        }
}

// q4_K: blocks.h BERRY_PK4K_BYTES.
static void pack_q4k_row(const uint8_t *blk, uint8_t *B, int c) {
    const berry_block_q4_K *a = (const berry_block_q4_K *)blk;
    memcpy(B + 2 * c, &a->d, 2);
    memcpy(B + 16 + 2 * c, &a->dmin, 2);
    for (int sb = 0; sb < 8; sb++) {
        berry_k4_scale_min(sb, a->scales, &B[32 + 8 * sb + c], &B[96 + 8 * sb + c]);
        // Value l of sub-block sb is nibble sb % 2 of qs[32 (sb / 2) + l].
        for (int bb = 0; bb < 16; bb++) {
            int sh = 4 * (sb % 2);
            uint8_t v0 = (uint8_t)((a->qs[32 * (sb / 2) + bb] >> sh) & 0xF);
            uint8_t v1 = (uint8_t)((a->qs[32 * (sb / 2) + 16 + bb] >> sh) & 0xF);
            B[160 + 128 * sb + 32 * (bb / 4) + 4 * c + bb % 4] = (uint8_t)(v0 | v1 << 4);
        }
    }
}

// q6_K: blocks.h BERRY_PK6K_BYTES. Value e of a block (0..255): sub-block j = e / 16 lies in half
// j / 8; within the half, e' = e % 128 has its low 4 bits in ql[64 half + e' % 32 + 32 ((e' / 32) & 1)]
// (the low nibble for e' < 64) and its top 2 bits at bit 2 (e' / 32) of qh[32 half + e' % 32].
static void pack_q6k_row(const uint8_t *blk, uint8_t *B, int c) {
    const berry_block_q6_K *a = (const berry_block_q6_K *)blk;
    memcpy(B + 2 * c, &a->d, 2);
    for (int sb = 0; sb < 16; sb++) {
        B[16 + 16 * sb + 2 * c] = B[16 + 16 * sb + 2 * c + 1] = (uint8_t)a->scales[sb];
        for (int l = 0; l < 16; l++) {
            int ev = 16 * sb + l, half = ev / 128, e2 = ev % 128, quarter = e2 / 32, li = e2 % 32;
            uint8_t ql = a->ql[64 * half + li + 32 * (quarter & 1)];
            int lo = quarter < 2 ? ql & 0xF : ql >> 4, hi = (a->qh[32 * half + li] >> (2 * quarter)) & 3;
            B[272 + 128 * sb + 32 * (l / 4) + 4 * c + l % 4] = (uint8_t)(lo | hi << 4);
        }
    }
}

static void repack_panels(void *ctx, int ith, int nth) {
    repack_job *j = ctx;
    if (j->t == BERRY_TYPE_F16) { repack_panels_f16(j, ith, nth); return; }
    if (j->t == BERRY_TYPE_Q4_K) { repack_kq(j, ith, nth, sizeof(berry_block_q4_K), BERRY_PK4K_BYTES, pack_q4k_row); return; }
    if (j->t == BERRY_TYPE_Q6_K) { repack_kq(j, ith, nth, sizeof(berry_block_q6_K), BERRY_PK6K_BYTES, pack_q6k_row); return; }
    int kind = pk_kind(j->t), q4 = kind != 0;
    int64_t nb = j->k / 32;
    size_t bs = kind == 2 ? sizeof(berry_block_q5_0) : q4 ? sizeof(berry_block_q4_0) : sizeof(berry_block_q8_0);
    size_t ws = (size_t)nb * bs, pb = BERRY_PK_BYTES(kind), nq = q4 ? 16 : 32;
    size_t qs = kind == 2 ? 6 : 2;   // the values' offset in a block: after d (and q5_0's 4 bytes of fifth bits)
    int b, e;
    berry_split((int)((j->m + 7) / 8), ith, nth, &b, &e);
    for (int p = b; p < e; p++) {
        uint8_t *P = j->dst + (size_t)p * (size_t)nb * pb;
        for (int64_t blk = 0; blk < nb; blk++) {
            uint8_t *B = P + (size_t)blk * pb;
            memset(B, 0, pb);   // rows past M: scale 0, values 0
            for (int c = 0; c < 8; c++) {
                int64_t row = (int64_t)p * 8 + c;
                if (row >= j->m) break;
                const uint8_t *src = j->w + (size_t)row * ws + (size_t)blk * bs;
                memcpy(B + 2 * c, src, 2);
                for (size_t g = 0; g < nq / 4; g++) memcpy(B + 16 + 32 * g + 4 * (size_t)c, src + qs + 4 * g, 4);
                if (kind == 2) {
                    uint32_t qh, w;
                    memcpy(&qh, src + 2, 4);
                    for (int h = 0; h < 2; h++)
                        for (int v = 0; v < 4; v++) {
                            uint8_t *word = B + 16 + 128 + 4 * (4 * h + v);
                            memcpy(&w, word, 4);
                            w |= ((qh >> (16 * h + 4 * v)) & 0xFu) << (4 * c);
                            memcpy(word, &w, 4);
                        }
                }
            }
        }
    }
}

void berry_repack(berry_pool *pool, berry_type t, const void *w, int64_t k, int64_t m, void *dst) {
    if (!berry_repack_size(t, k, m)) return;
    repack_job j = {t, w, k, m, dst};
    berry_pool_run(pool, repack_panels, &j);
}

typedef struct { mm_job j[BERRY_MATMUL_MAX_N]; int n; } mm_multi;

static void mm_run_multi(void *ctx, int ith, int nth) {
    mm_multi *mj = ctx;
    for (int i = 0; i < mj->n; i++) mm_run(&mj->j[i], ith, nth);
}

void berry_matmul_packed_n(berry_pool *pool, int n, const berry_mm_w *ws, const float *x, int rows, int64_t k,
                           void *scratch) {
    if (n <= 0 || n > BERRY_MATMUL_MAX_N || rows <= 0) return;
    mm_multi mj = {.n = n};
    bool quantized = false, q8k = false;
    for (int i = 0; i < n; i++) {
        if (!berry_repack_size(ws[i].type, k, ws[i].m)) return;
        bool kq = ws[i].type == BERRY_TYPE_Q4_K || ws[i].type == BERRY_TYPE_Q6_K;
        quantized |= ws[i].type != BERRY_TYPE_F16 && !kq;
        q8k |= kq;
    }
    // q4_K and q6_K read q8_K activations, the others q8_0: a mix is run one weight at a time.
    if (q8k && quantized) {
        for (int i = 0; i < n; i++) berry_matmul_packed_n(pool, 1, &ws[i], x, rows, k, scratch);
        return;
    }
    quantized |= q8k;
    // q4_0 and q8_0 take the same q8_0 activations: quantized once, for all of them.
    int64_t nb = k / 32;
    size_t xstride = berry_row_size(BERRY_TYPE_Q8_0, k), off = ((size_t)rows * xstride + 63) / 64 * 64;
    berry_act_q8 act = {.q = scratch, .stride = xstride, .d = (const float *)((uint8_t *)scratch + off),
                        .s8 = (const int32_t *)((uint8_t *)scratch + off + (size_t)rows * (size_t)nb * 4), .nb = nb};
    for (int i = 0; i < n; i++) {
        berry_type t = ws[i].type;
        mj.j[i] = (mm_job){.ks = pick(t), .w = ws[i].wp, .x = x, .scratch = scratch, .y = ws[i].y, .rows = rows,
                           .k = k, .m = ws[i].m};
        if (t == BERRY_TYPE_F16) { mj.j[i].packed = 4; continue; }
        if (t == BERRY_TYPE_Q4_K || t == BERRY_TYPE_Q6_K) {
            mj.j[i].xa = scratch;
            mj.j[i].xstride = berry_row_size(BERRY_TYPE_Q8_K, k);
            mj.j[i].packed = 5;
            mj.j[i].q4 = t == BERRY_TYPE_Q6_K ? 6 : 5;
            continue;
        }
        mj.j[i].xa = scratch;
        mj.j[i].xstride = xstride;
        mj.j[i].packed = 3;
        mj.j[i].q4 = pk_kind(t);
        mj.j[i].act = act;
    }
    if (quantized) {
        int qi = 0;
        while (mj.j[qi].packed != 3 && mj.j[qi].packed != 5) qi++;
        if (rows >= 4 && pool) berry_pool_run(pool, convert_rows, &mj.j[qi]);
        else convert_rows(&mj.j[qi], 0, 1);
    }
    berry_pool_run(pool, mm_run_multi, &mj);
}

void berry_matmul_packed(berry_pool *pool, berry_type t, const void *wp, const float *x, float *y, int rows,
                         int64_t k, int64_t m, void *scratch) {
    berry_mm_w w = {.type = t, .wp = wp, .m = m, .y = y};
    berry_matmul_packed_n(pool, 1, &w, x, rows, k, scratch);
}
