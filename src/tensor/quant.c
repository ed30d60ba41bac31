// quant.c — dequantization of every type (bit-exact with ggml's reference: the same float operations
// in the same order, no fused multiply-add), and quantization: round-to-nearest for f16, bf16, q8_0,
// q4_0 (as ggml's reference quantizers), q8_K for activations, and a small scale search for the
// K-quants.
#include "tensor/quant.h"
#include "tensor/blocks.h"
#include <math.h>

// ---- dequantization --------------------------------------------------------------------------------

static void deq_q4_0(const berry_block_q4_0 *b, float *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, y += 32) {
        float d = berry_f16_load(&b[i].d);
        for (int l = 0; l < 16; l++) {
            y[l] = d * (float)((b[i].qs[l] & 0xF) - 8);
            y[l + 16] = d * (float)((b[i].qs[l] >> 4) - 8);
        }
    }
}

// q4_1, q5_0, q5_1: gguf-py's order of operations, d * q + m and d * (q - 16).
static void deq_q45(berry_type t, const uint8_t *blocks, float *y, int64_t nb) {
    size_t bs = berry_type_get(t)->block_bytes;
    for (int64_t i = 0; i < nb; i++, y += 32) {
        const uint8_t *blk = blocks + (size_t)i * bs;
        uint8_t q[32];
        berry_unpack_q45(t, blk, q);
        float d = berry_f16_load((const uint16_t *)blk);
        if (t == BERRY_TYPE_Q5_0) {
            for (int l = 0; l < 32; l++) y[l] = d * (float)(q[l] - 16);
        } else {
            float m = berry_f16_load((const uint16_t *)blk + 1);
            for (int l = 0; l < 32; l++) y[l] = d * (float)q[l] + m;
        }
    }
}

static void deq_q8_0(const berry_block_q8_0 *b, float *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, y += 32) {
        float d = berry_f16_load(&b[i].d);
        for (int l = 0; l < 32; l++) y[l] = d * (float)b[i].qs[l];
    }
}

// q4_K and q5_K: 4 chunks of 64 values; a chunk's low nibbles are sub-block 2c, high nibbles 2c+1,
// and q5_K's fifth bit of sub-block s is bit s of qh[l].
static void deq_q45_K(const uint8_t *blocks, size_t bsize, int five, float *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++) {
        const berry_block_q5_K *b5 = (const berry_block_q5_K *)(blocks + (size_t)i * bsize);
        const berry_block_q4_K *b4 = (const berry_block_q4_K *)(blocks + (size_t)i * bsize);
        float d = berry_f16_load(&b4->d), dmin = berry_f16_load(&b4->dmin);
        const uint8_t *qs = five ? b5->qs : b4->qs;
        for (int c = 0; c < 4; c++, y += 64) {
            for (int h = 0; h < 2; h++) {
                uint8_t sc, m;
                berry_k4_scale_min(2 * c + h, b4->scales, &sc, &m);
                float d1 = d * sc, m1 = dmin * m;
                for (int l = 0; l < 32; l++) {
                    int q = (qs[32 * c + l] >> (4 * h)) & 0xF;
                    if (five) q |= ((b5->qh[l] >> (2 * c + h)) & 1) << 4;
                    y[32 * h + l] = d1 * (float)q - m1;
                }
            }
        }
    }
}

static void deq_q6_K(const berry_block_q6_K *b, float *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++) {
        float d = berry_f16_load(&b[i].d);
        const uint8_t *ql = b[i].ql, *qh = b[i].qh;
        const int8_t *sc = b[i].scales;
        for (int n = 0; n < 256; n += 128, y += 128, ql += 64, qh += 32, sc += 8) {
            for (int l = 0; l < 32; l++) {
                int is = l / 16;
                int q1 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
                int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
                int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
                int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
                y[l] = d * (float)sc[is] * (float)q1;
                y[l + 32] = d * (float)sc[is + 2] * (float)q2;
                y[l + 64] = d * (float)sc[is + 4] * (float)q3;
                y[l + 96] = d * (float)sc[is + 6] * (float)q4;
            }
        }
    }
}

static void deq_q8_K(const berry_block_q8_K *b, float *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, y += 256)
        for (int l = 0; l < 256; l++) y[l] = b[i].d * (float)b[i].qs[l];
}

void berry_dequantize(berry_type t, const void *src, float *dst, int64_t n) {
    const berry_type_info *ti = berry_type_get(t);
    if (!ti || n <= 0 || n % ti->block) return;
    int64_t nb = n / ti->block;
    switch (t) {
    case BERRY_TYPE_F32: memcpy(dst, src, (size_t)n * 4); break;
    case BERRY_TYPE_F16: berry_f16_to_f32_row(src, dst, n); break;
    case BERRY_TYPE_BF16:
        for (int64_t i = 0; i < n; i++) dst[i] = berry_bf16_to_f32(((const uint16_t *)src)[i]);
        break;
    case BERRY_TYPE_Q4_0: deq_q4_0(src, dst, nb); break;
    case BERRY_TYPE_Q8_0: deq_q8_0(src, dst, nb); break;
    case BERRY_TYPE_Q4_1:
    case BERRY_TYPE_Q5_0:
    case BERRY_TYPE_Q5_1: deq_q45(t, src, dst, nb); break;
    case BERRY_TYPE_Q4_K: deq_q45_K(src, sizeof(berry_block_q4_K), 0, dst, nb); break;
    case BERRY_TYPE_Q5_K: deq_q45_K(src, sizeof(berry_block_q5_K), 1, dst, nb); break;
    case BERRY_TYPE_Q6_K: deq_q6_K(src, dst, nb); break;
    case BERRY_TYPE_Q8_K: deq_q8_K(src, dst, nb); break;
    }
}

// ---- round-to-nearest quantizers -------------------------------------------------------------------

// ggml's quantize_row_q8_0_ref: d = amax / 127, q = roundf(x / d) (half away from zero).
void berry_quant_q8_0_ref(const float *x, void *dst, int64_t n) {
    berry_block_q8_0 *b = dst;
    for (int64_t i = 0; i < n / 32; i++, x += 32) {
        float amax = 0;
        for (int l = 0; l < 32; l++) amax = fmaxf(amax, fabsf(x[l]));
        float d = amax / 127, id = d ? 1.0f / d : 0.0f;
        b[i].d = berry_f32_to_f16(d);
        for (int l = 0; l < 32; l++) b[i].qs[l] = (int8_t)roundf(x[l] * id);
    }
}

// ggml's quantize_row_q4_0_ref: the value of largest magnitude maps to -8; q = min(15, (int8)(x/d + 8.5)).
static void quant_q4_0(const float *x, berry_block_q4_0 *b, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, x += 32) {
        float amax = 0, max = 0;
        for (int l = 0; l < 32; l++)
            if (amax < fabsf(x[l])) { amax = fabsf(x[l]); max = x[l]; }
        float d = max / -8, id = d ? 1.0f / d : 0.0f;
        b[i].d = berry_f32_to_f16(d);
        for (int l = 0; l < 16; l++) {
            int q0 = (int8_t)(x[l] * id + 8.5f), q1 = (int8_t)(x[l + 16] * id + 8.5f);
            q0 = q0 < 15 ? q0 : 15;
            q1 = q1 < 15 ? q1 : 15;
            b[i].qs[l] = (uint8_t)(q0 | (q1 << 4));
        }
    }
}

// V truncated toward zero and clamped to [0, MAX]: ggml's (int8_t) / (uint8_t) cast followed by MIN,
// and gguf-py's trunc + clip, for every V they can produce; NaN (a block with inf in it) gives 0
// instead of undefined behaviour.
static inline int trunc_clamp(float v, int max) { return v >= (float)max ? max : v > 0 ? (int)v : 0; }

// Packs 32 values q (0..31) as 16 bytes of nibbles (low nibbles = elements 0..15) and, when QH is not
// NULL, their fifth bits (bit j = element j, little endian).
static void pack_q45(const uint8_t q[32], uint8_t *qs, uint8_t *qh) {
    uint32_t h = 0;
    for (int l = 0; l < 16; l++) {
        qs[l] = (uint8_t)((q[l] & 0xF) | ((q[l + 16] & 0xF) << 4));
        h |= (uint32_t)(q[l] >> 4) << l | (uint32_t)(q[l + 16] >> 4) << (l + 16);
    }
    if (qh) memcpy(qh, &h, 4);
}

// ggml's quantize_row_q4_1_ref / q5_1_ref: d = (max - min) / NMAX, m = min, q = (x - min) / d + 0.5
// truncated. Q5_1 when NMAX is 31.
static void quant_q45_1(const float *x, uint8_t *dst, int64_t nb, int nmax) {
    for (int64_t i = 0; i < nb; i++, x += 32) {
        float lo = x[0], hi = x[0];
        for (int l = 1; l < 32; l++) { lo = x[l] < lo ? x[l] : lo; hi = x[l] > hi ? x[l] : hi; }
        float d = (hi - lo) / (float)nmax, id = d ? 1.0f / d : 0.0f;
        uint8_t q[32];
        for (int l = 0; l < 32; l++) q[l] = (uint8_t)trunc_clamp((x[l] - lo) * id + 0.5f, nmax);
        if (nmax == 15) {
            berry_block_q4_1 *b = (berry_block_q4_1 *)dst + i;
            b->d = berry_f32_to_f16(d);
            b->m = berry_f32_to_f16(lo);
            pack_q45(q, b->qs, NULL);
        } else {
            berry_block_q5_1 *b = (berry_block_q5_1 *)dst + i;
            b->d = berry_f32_to_f16(d);
            b->m = berry_f32_to_f16(lo);
            pack_q45(q, b->qs, b->qh);
        }
    }
}

// ggml's quantize_row_q5_0_ref: the value of largest magnitude maps to -16; q = (x / d + 16.5)
// truncated, at most 31.
static void quant_q5_0(const float *x, berry_block_q5_0 *b, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, x += 32) {
        float amax = 0, max = 0;
        for (int l = 0; l < 32; l++)
            if (amax < fabsf(x[l])) { amax = fabsf(x[l]); max = x[l]; }
        float d = max / -16, id = d ? 1.0f / d : 0.0f;
        uint8_t q[32];
        for (int l = 0; l < 32; l++) q[l] = (uint8_t)trunc_clamp(x[l] * id + 16.5f, 31);
        b[i].d = berry_f32_to_f16(d);
        pack_q45(q, b[i].qs, b[i].qh);
    }
}

// Activations for the K-quants: symmetric, d = amax / 127, q = rint(x / d) (nearest even), with the
// 16-value block sums the K-quant dot products use for their mins and offsets.
void berry_quant_q8_K_ref(const float *x, void *dst, int64_t n) {
    berry_block_q8_K *b = dst;
    for (int64_t i = 0; i < n / 256; i++, x += 256) {
        float amax = 0;
        for (int l = 0; l < 256; l++) amax = fmaxf(amax, fabsf(x[l]));
        float d = amax / 127, id = d ? 1.0f / d : 0.0f;
        b[i].d = d;
        for (int l = 0; l < 256; l++) b[i].qs[l] = (int8_t)rintf(x[l] * id);
        for (int j = 0; j < 16; j++) {
            int s = 0;
            for (int l = 0; l < 16; l++) s += b[i].qs[16 * j + l];
            b[i].bsums[j] = (int16_t)s;
        }
    }
}

// ---- K-quants: scale search ------------------------------------------------------------------------

static inline int clampi(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

// Fits x ≈ s * q - m with q in [0, nmax], s >= 0, m >= 0 (N values): tries a range of scales around
// (max - min) / nmax, refits (s, m) by least squares for each rounding, keeps the lowest squared error.
static void fit_affine(const float *x, int n, int nmax, float *s_out, float *m_out) {
    float lo = x[0], hi = x[0];
    for (int i = 1; i < n; i++) { lo = fminf(lo, x[i]); hi = fmaxf(hi, x[i]); }
    if (lo > 0) lo = 0;
    if (hi <= lo) { *s_out = 0; *m_out = -lo; return; }
    float best_s = (hi - lo) / nmax, best_m = -lo;
    double best_err = INFINITY;
    for (int step = -8; step <= 8; step++) {
        float iscale = (nmax + 0.1f * step) / (hi - lo);
        if (iscale <= 0) continue;
        // Round with this scale, then solve the 2x2 least-squares problem for (s, m).
        double sq = 0, sqq = 0, sx = 0, sqx = 0;
        int qv[256];
        for (int i = 0; i < n; i++) {
            qv[i] = clampi((int)lrintf(iscale * (x[i] - lo)), 0, nmax);
            sq += qv[i]; sqq += (double)qv[i] * qv[i]; sx += x[i]; sqx += (double)qv[i] * x[i];
        }
        double det = n * sqq - sq * sq;
        float s, m;
        if (det > 0) {
            s = (float)((n * sqx - sq * sx) / det);
            m = (float)((s * sq - sx) / n);   // x ≈ s q - m, so m = (s sum q - sum x) / n
        } else {
            s = 1 / iscale; m = -lo;
        }
        if (m < 0) {  // the offset must be non-negative: refit s alone with m = 0
            m = 0;
            s = sqq > 0 ? (float)(sqx / sqq) : 0;
        }
        if (s < 0) s = 0;
        double err = 0;
        for (int i = 0; i < n; i++) {
            int q = s > 0 ? clampi((int)lrintf((x[i] + m) / s), 0, nmax) : 0;
            double e = (double)s * q - m - x[i];
            err += e * e;
        }
        if (err < best_err) { best_err = err; best_s = s; best_m = m; }
    }
    *s_out = best_s;
    *m_out = best_m;
}

// Packs 8 six-bit scales and mins into 12 bytes (the inverse of berry_k4_scale_min).
static void pack_k4_scales(const uint8_t *sc, const uint8_t *m, uint8_t *out) {
    memset(out, 0, 12);
    for (int j = 0; j < 8; j++) {
        if (j < 4) {
            out[j] |= sc[j] & 63;
            out[j + 4] |= m[j] & 63;
        } else {
            out[j + 4] = (uint8_t)((sc[j] & 0xF) | ((m[j] & 0xF) << 4));
            out[j - 4] |= (uint8_t)((sc[j] >> 4) << 6);
            out[j] |= (uint8_t)((m[j] >> 4) << 6);
        }
    }
}

// q4_K (NMAX 15) and q5_K (NMAX 31): per-sub-block affine fits, their scales and mins quantized to
// 6 bits against the super-block's d and dmin, then every value re-rounded with the final scales.
static void quant_q45_K(const float *x, uint8_t *blocks, int64_t nb, int five) {
    int nmax = five ? 31 : 15;
    size_t bsize = five ? sizeof(berry_block_q5_K) : sizeof(berry_block_q4_K);
    for (int64_t i = 0; i < nb; i++, x += 256) {
        berry_block_q4_K *b4 = (berry_block_q4_K *)(blocks + (size_t)i * bsize);
        berry_block_q5_K *b5 = (berry_block_q5_K *)(blocks + (size_t)i * bsize);
        float s[8], mn[8], smax = 0, mmax = 0;
        for (int j = 0; j < 8; j++) {
            fit_affine(x + 32 * j, 32, nmax, &s[j], &mn[j]);
            smax = fmaxf(smax, s[j]);
            mmax = fmaxf(mmax, mn[j]);
        }
        uint16_t dh = berry_f32_to_f16(smax / 63), mh = berry_f32_to_f16(mmax / 63);
        float d = berry_f16_to_f32(dh), dmin = berry_f16_to_f32(mh);
        uint8_t sc[8], m[8];
        for (int j = 0; j < 8; j++) {
            sc[j] = (uint8_t)(d > 0 ? clampi((int)lrintf(s[j] / d), 0, 63) : 0);
            m[j] = (uint8_t)(dmin > 0 ? clampi((int)lrintf(mn[j] / dmin), 0, 63) : 0);
        }
        b4->d = dh;
        b4->dmin = mh;
        pack_k4_scales(sc, m, b4->scales);
        uint8_t q[256];
        for (int j = 0; j < 8; j++) {
            float ds = d * sc[j], dm = dmin * m[j];
            for (int l = 0; l < 32; l++)
                q[32 * j + l] = (uint8_t)(ds > 0 ? clampi((int)lrintf((x[32 * j + l] + dm) / ds), 0, nmax) : 0);
        }
        uint8_t *qs = five ? b5->qs : b4->qs;
        if (five) memset(b5->qh, 0, 32);
        for (int c = 0; c < 4; c++)
            for (int l = 0; l < 32; l++) {
                uint8_t lo = q[64 * c + l], hi = q[64 * c + 32 + l];
                qs[32 * c + l] = (uint8_t)((lo & 0xF) | ((hi & 0xF) << 4));
                if (five) b5->qh[l] |= (uint8_t)(((lo >> 4) << (2 * c)) | ((hi >> 4) << (2 * c + 1)));
            }
    }
}

// Symmetric fit x ≈ s * q, q in [-32, 31], for N values: the largest-magnitude value maps to -32 or
// near it; a few scales are tried and the lowest squared error kept.
static float fit_sym6(const float *x, int n) {
    float amax = 0, max = 0;
    for (int i = 0; i < n; i++)
        if (fabsf(x[i]) > amax) { amax = fabsf(x[i]); max = x[i]; }
    if (amax == 0) return 0;
    float best = max / -32;
    double best_err = INFINITY;
    for (int step = -6; step <= 6; step++) {
        float s = max / (-32 + 0.25f * step);
        double err = 0;
        for (int i = 0; i < n; i++) {
            int q = clampi((int)lrintf(x[i] / s), -32, 31);
            double e = (double)s * q - x[i];
            err += e * e;
        }
        if (err < best_err) { best_err = err; best = s; }
    }
    return best;
}

static void quant_q6_K(const float *x, berry_block_q6_K *b, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, x += 256) {
        float s[16], amax = 0;
        for (int j = 0; j < 16; j++) {
            s[j] = fit_sym6(x + 16 * j, 16);
            amax = fmaxf(amax, fabsf(s[j]));
        }
        uint16_t dh = berry_f32_to_f16(amax / 127);
        float d = berry_f16_to_f32(dh);
        b[i].d = dh;
        uint8_t q[256];
        for (int j = 0; j < 16; j++) {
            int sc = d > 0 ? clampi((int)lrintf(s[j] / d), -127, 127) : 0;
            b[i].scales[j] = (int8_t)sc;
            float ds = d * sc;
            for (int l = 0; l < 16; l++)
                q[16 * j + l] = (uint8_t)(ds != 0 ? clampi((int)lrintf(x[16 * j + l] / ds), -32, 31) + 32 : 32);
        }
        for (int n = 0; n < 256; n += 128) {
            uint8_t *ql = b[i].ql + n / 2, *qh = b[i].qh + n / 4;
            const uint8_t *qq = q + n;
            for (int l = 0; l < 32; l++) {
                ql[l] = (uint8_t)((qq[l] & 0xF) | ((qq[l + 64] & 0xF) << 4));
                ql[l + 32] = (uint8_t)((qq[l + 32] & 0xF) | ((qq[l + 96] & 0xF) << 4));
                qh[l] = (uint8_t)((qq[l] >> 4) | ((qq[l + 32] >> 4) << 2) | ((qq[l + 64] >> 4) << 4) |
                                  ((qq[l + 96] >> 4) << 6));
            }
        }
    }
}

size_t berry_quantize(berry_type t, const float *src, void *dst, int64_t n) {
    size_t bytes = berry_row_size(t, n);
    if (!bytes || n <= 0) return 0;
    int64_t nb = n / berry_type_get(t)->block;
    switch (t) {
    case BERRY_TYPE_F32: memcpy(dst, src, bytes); break;
    case BERRY_TYPE_F16: berry_f32_to_f16_row(src, dst, n); break;
    case BERRY_TYPE_BF16:
        for (int64_t i = 0; i < n; i++) ((uint16_t *)dst)[i] = berry_f32_to_bf16(src[i]);
        break;
    case BERRY_TYPE_Q4_0: quant_q4_0(src, dst, nb); break;
    case BERRY_TYPE_Q8_0: berry_quant_q8_0_ref(src, dst, n); break;
    case BERRY_TYPE_Q4_1: quant_q45_1(src, dst, nb, 15); break;
    case BERRY_TYPE_Q5_0: quant_q5_0(src, dst, nb); break;
    case BERRY_TYPE_Q5_1: quant_q45_1(src, dst, nb, 31); break;
    case BERRY_TYPE_Q8_K: berry_quant_q8_K_ref(src, dst, n); break;
    case BERRY_TYPE_Q4_K: quant_q45_K(src, dst, nb, 0); break;
    case BERRY_TYPE_Q5_K: quant_q45_K(src, dst, nb, 1); break;
    case BERRY_TYPE_Q6_K: quant_q6_K(src, dst, nb); break;
    default: return 0;
    }
    return bytes;
}
