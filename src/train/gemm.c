// gemm.c — blocked f32 matrix product (the BLIS loop order): for each NC-wide column block of B and
// KC-deep slice, B is packed into 16-column panels (KC x 16, stays in L1/L2), then for each MC-row
// block of A, A is packed into 6-row panels and every (6, 16) tile of C is computed by one register
// tile. Packing also absorbs the transposes, so the tile sees one layout. Threads split C by columns
// (or rows, when C is taller than wide), each with its own packing buffers.
#include "train/gemm.h"
#include <stdlib.h>
#include <string.h>

enum { MR = 6, NR = 16, MC = 144, KC = 256, NC = 2048 };

static void tile_scalar(int kc, const float *ap, const float *bp, float *c, size_t ldc, int mr, int nr, bool acc) {
    float t[MR][NR] = {{0}};
    for (int p = 0; p < kc; p++)
        for (int i = 0; i < MR; i++)
            for (int j = 0; j < NR; j++) t[i][j] += ap[p * MR + i] * bp[p * NR + j];
    for (int i = 0; i < mr; i++)
        for (int j = 0; j < nr; j++) c[(size_t)i * ldc + j] = (acc ? c[(size_t)i * ldc + j] : 0.0f) + t[i][j];
}

typedef void (*tile_fn)(int, const float *, const float *, float *, size_t, int, int, bool);

static tile_fn pick_tile(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return berry_gemm_tile_avx2;
#endif
    return tile_scalar;
}

// Packs op(A)[i0 .. i0+mc, p0 .. p0+kc) into MR-row panels: panel r holds (kc, MR), zero-padded.
static void pack_a(float *dst, bool ta, const float *a, size_t lda, int i0, int mc, int p0, int kc) {
    for (int r = 0; r < mc; r += MR) {
        int mr = mc - r < MR ? mc - r : MR;
        float *d = dst + (size_t)r * kc;
        for (int p = 0; p < kc; p++) {
            for (int i = 0; i < mr; i++) {
                size_t row = (size_t)(i0 + r + i), col = (size_t)(p0 + p);
                d[p * MR + i] = ta ? a[col * lda + row] : a[row * lda + col];
            }
            for (int i = mr; i < MR; i++) d[p * MR + i] = 0.0f;
        }
    }
}

// Packs op(B)[p0 .. p0+kc, j0 .. j0+nc) into NR-column panels: panel s holds (kc, NR), zero-padded.
static void pack_b(float *dst, bool tb, const float *b, size_t ldb, int p0, int kc, int j0, int nc) {
    for (int s = 0; s < nc; s += NR) {
        int nr = nc - s < NR ? nc - s : NR;
        float *d = dst + (size_t)s * kc;
        if (!tb) {
            for (int p = 0; p < kc; p++) {
                const float *src = b + (size_t)(p0 + p) * ldb + j0 + s;
                for (int j = 0; j < nr; j++) d[p * NR + j] = src[j];
                for (int j = nr; j < NR; j++) d[p * NR + j] = 0.0f;
            }
        } else {
            for (int j = 0; j < NR; j++) {
                if (j >= nr) { for (int p = 0; p < kc; p++) d[p * NR + j] = 0.0f; continue; }
                const float *src = b + (size_t)(j0 + s + j) * ldb + p0;
                for (int p = 0; p < kc; p++) d[p * NR + j] = src[p];
            }
        }
    }
}

typedef struct {
    bool ta, tb, acc, split_rows, failed;
    int m, n, k;
    const float *a, *b;
    size_t lda, ldb, ldc;
    float *c;
    tile_fn tile;
} job;

// C[i0.., j0..] for an (mm, nn) block, sequentially.
static bool run_block(const job *jb, int i0, int mm, int j0, int nn) {
    if (mm <= 0 || nn <= 0) return true;
    int kc_max = jb->k < KC ? jb->k : KC;
    int nc_max = nn < NC ? nn : NC, mc_max = mm < MC ? mm : MC;
    size_t nb = (size_t)kc_max * (size_t)((nc_max + NR - 1) / NR * NR);
    size_t na = (size_t)kc_max * (size_t)((mc_max + MR - 1) / MR * MR);
    float *bp = aligned_alloc(64, ((nb + na) * sizeof(float) + 63) / 64 * 64);
    if (!bp) return false;
    float *ap = bp + nb;
    for (int jc = 0; jc < nn; jc += NC) {
        int nc = nn - jc < NC ? nn - jc : NC;
        for (int pc = 0; pc < jb->k; pc += KC) {
            int kc = jb->k - pc < KC ? jb->k - pc : KC;
            bool acc = jb->acc || pc > 0;
            pack_b(bp, jb->tb, jb->b, jb->ldb, pc, kc, j0 + jc, nc);
            for (int ic = 0; ic < mm; ic += MC) {
                int mc = mm - ic < MC ? mm - ic : MC;
                pack_a(ap, jb->ta, jb->a, jb->lda, i0 + ic, mc, pc, kc);
                for (int jr = 0; jr < nc; jr += NR) {
                    int nr = nc - jr < NR ? nc - jr : NR;
                    for (int ir = 0; ir < mc; ir += MR) {
                        int mr = mc - ir < MR ? mc - ir : MR;
                        float *c = jb->c + (size_t)(i0 + ic + ir) * jb->ldc + (size_t)(j0 + jc + jr);
                        jb->tile(kc, ap + (size_t)ir * kc, bp + (size_t)jr * kc, c, jb->ldc, mr, nr, acc);
                    }
                }
            }
        }
    }
    free(bp);
    return true;
}

static void worker(void *ctx, int ith, int nth) {
    job *jb = ctx;
    bool ok;
    if (jb->split_rows) {
        int panels = (jb->m + MR - 1) / MR, b, e;
        berry_split(panels, ith, nth, &b, &e);
        int i0 = b * MR, i1 = e * MR < jb->m ? e * MR : jb->m;
        ok = run_block(jb, i0, i1 - i0, 0, jb->n);
    } else {
        int panels = (jb->n + NR - 1) / NR, b, e;
        berry_split(panels, ith, nth, &b, &e);
        int j0 = b * NR, j1 = e * NR < jb->n ? e * NR : jb->n;
        ok = run_block(jb, 0, jb->m, j0, j1 - j0);
    }
    if (!ok) jb->failed = true;  // benign race: every writer stores true
}

bool berry_gemm(berry_pool *pool, bool ta, bool tb, int m, int n, int k, const float *a, size_t lda,
                const float *b, size_t ldb, bool acc, float *c, size_t ldc) {
    if (m <= 0 || n <= 0) return true;
    if (k <= 0) {
        if (!acc) for (int i = 0; i < m; i++) memset(c + (size_t)i * ldc, 0, (size_t)n * sizeof(float));
        return true;
    }
    tile_fn tile = pick_tile();
    job jb = {.ta = ta, .tb = tb, .acc = acc, .m = m, .n = n, .k = k, .a = a, .b = b, .lda = lda,
              .ldb = ldb, .ldc = ldc, .c = c, .tile = tile};
    // Split the longer side, unless it is too short to give every thread whole tiles.
    int nth = berry_pool_size(pool);
    jb.split_rows = (m / MR >= nth && m > n) || n / NR < nth;
    if (nth == 1 || (long)m * n * k < 32768) { worker(&jb, 0, 1); return !jb.failed; }
    berry_pool_run(pool, worker, &jb);
    return !jb.failed;
}

void berry_gemm_ref(bool ta, bool tb, int m, int n, int k, const float *a, size_t lda, const float *b,
                    size_t ldb, bool acc, float *c, size_t ldc) {
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            double s = acc ? c[(size_t)i * ldc + j] : 0.0;
            for (int p = 0; p < k; p++) {
                float x = ta ? a[(size_t)p * lda + i] : a[(size_t)i * lda + p];
                float y = tb ? b[(size_t)j * ldb + p] : b[(size_t)p * ldb + j];
                s += (double)x * y;
            }
            c[(size_t)i * ldc + j] = (float)s;
        }
}
