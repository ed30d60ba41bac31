// Benchmarks of the tensor layer: the matrix products on Qwen2.5-0.5B's shapes (hidden 896, FFN 4864, 14
// query heads and 2 KV heads of 64, vocabulary 151936, 24 layers) for rows = 1 (decode), 16 (batched
// decode) and 256 (prefill), printed beside this machine's measured memory read bandwidth and its f32
// FMA and int8 multiply-add peaks. Each product goes the way the forward pass sends it (use_packed in
// src/model/forward.c): repacked weights through berry_matmul_packed, the stored blocks through
// berry_matmul.
#include "bench.h"
#include "machine.h"
#include "base/alloc.h"
#include "base/clock.h"
#include "base/pool.h"
#include "base/rng.h"
#include "tensor/matmul.h"
#include "tensor/quant.h"
#include <stdint.h>
#include <string.h>

// ---- matmul -----------------------------------------------------------------------------------------

typedef struct { const char *name; int64_t k, m; int per_layer; } shape;
// Per layer: q and o (896 -> 896), k and v (896 -> 128), gate and up (896 -> 4864), down (4864 -> 896).
static const shape shapes[] = {
    {"ffn_up 896->4864", 896, 4864, 2}, {"ffn_down 4864->896", 4864, 896, 1}, {"attn_q/o 896->896", 896, 896, 2},
    {"attn_k/v 896->128", 896, 128, 2}, {"output 896->151936", 896, 151936, 0},
};
#define N_SHAPES (int)(sizeof shapes / sizeof shapes[0])
static const int row_counts[] = {1, 16, 256};

// Seconds per call: the best of repeated calls after a warm-up, at least 0.3 s of measuring.
static double time_matmul(berry_pool *pool, berry_type t, const void *w, const void *wp, const float *x, float *y,
                          int rows, int64_t k, int64_t m, void *scratch) {
#define MM() (wp ? berry_matmul_packed(pool, t, wp, x, y, rows, k, m, scratch) : berry_matmul(pool, t, w, x, y, rows, k, m, scratch))
    MM();
    double best = 1e30, total = 0;
    for (int rep = 0; rep < 1000 && (total < 0.3 || rep < 3); rep++) {
        double t0 = berry_now();
        MM();
        double dt = berry_now() - t0;
        total += dt;
        if (dt < best) best = dt;
        if (total > 2.0) break;
    }
#undef MM
    return best;
}

// Weights of type T for (M, K): 64 quantized random rows repeated (the values do not matter for speed).
static void *make_weights(berry_rng *r, berry_type t, int64_t k, int64_t m) {
    size_t rs = berry_row_size(t, k);
    uint8_t *w = berry_calloc(rs, (size_t)m);
    float *src = berry_calloc((size_t)k, 4);
    if (!w || !src) { berry_free(w); berry_free(src); return NULL; }
    for (int64_t c = 0; c < m; c++) {
        if (c < 64) {
            for (int64_t i = 0; i < k; i++) src[i] = berry_rng_normal(r) * 0.05f;
            berry_quantize(t, src, w + (size_t)c * rs, k);
        } else {
            memcpy(w + (size_t)c * rs, w + (size_t)(c % 64) * rs, rs);
        }
    }
    berry_free(src);
    return w;
}

BENCH(bench_tensor_matmul_qwen05b) {
    int nt = berry_bench_threads();
    berry_pool *pool = berry_pool_create(nt);
    if (!pool) { printf("cannot create a pool of %d threads\n", nt); return; }
    // Other processes on the same cores skew every figure below; say how busy the machine was.
    double load = berry_bench_load();
    if (load >= 0) printf("load average %.1f%s\n", load, load > 0.5 ? " (other work is running: figures are low)" : "");
    // Two operations per multiply-add, as the GFLOP/s column counts them.
    double bw = berry_bench_read_bandwidth(pool) / 1e9;
    double fpeak = 2e-9 * berry_bench_peak_macs(pool, BERRY_PEAK_F32_FMA), ipeak = 2e-9 * berry_bench_peak_macs(pool, BERRY_PEAK_Q8);
    printf("machine (%d threads, %s kernels): memory read %.1f GB/s, f32 FMA peak %.0f GFLOP/s, "
           "int8 (q8_0's vpsignb + vpmaddubsw + vpmaddwd) peak %.0f GOP/s\n", nt, berry_simd_name(berry_simd_level()), bw,
           fpeak, ipeak);
    printf("%-6s %-20s %5s %10s %9s %8s %7s %7s  (R: repacked weights)\n", "type", "shape", "rows", "ms", "GFLOP/s",
           "GB/s", "%bw", "%peak");
    berry_type types[] = {BERRY_TYPE_F32, BERRY_TYPE_F16, BERRY_TYPE_BF16, BERRY_TYPE_Q8_0, BERRY_TYPE_Q4_0,
                          BERRY_TYPE_Q4_1, BERRY_TYPE_Q5_0, BERRY_TYPE_Q5_1,
                          BERRY_TYPE_Q4_K, BERRY_TYPE_Q5_K, BERRY_TYPE_Q6_K};
    berry_rng r;
    berry_rng_seed(&r, 1, 0);
    int max_rows = 256;
    int64_t max_k = 4864, max_m = 151936;
    float *x = berry_calloc((size_t)max_rows * max_k, 4);
    float *y = berry_calloc((size_t)max_rows * max_m, 4);
    for (size_t i = 0; i < (size_t)max_rows * max_k; i++) x[i] = berry_rng_normal(&r);
    for (size_t ti = 0; ti < sizeof types / sizeof types[0]; ti++) {
        berry_type t = types[ti];
        const berry_type_info *info = berry_type_get(t);
        bool fl = t == BERRY_TYPE_F32 || t == BERRY_TYPE_F16 || t == BERRY_TYPE_BF16;
        double layer_s[3] = {0}, head_s[3] = {0};
        bool complete = true;
        for (int si = 0; si < N_SHAPES; si++) {
            const shape *s = &shapes[si];
            if (s->k % info->block) {
                printf("%-6s %-20s   (K = %lld is not a multiple of %d)\n", info->name, s->name, (long long)s->k, info->block);
                complete = false;
                continue;
            }
            void *w = make_weights(&r, t, s->k, s->m);
            void *scratch = berry_calloc(berry_matmul_scratch_size(t, max_rows, s->k) + 64, 1);
            if (!w || !scratch) { printf("out of memory\n"); berry_free(w); berry_free(scratch); continue; }
            size_t pk = berry_repack_size(t, s->k, s->m);
            void *wp = pk ? berry_alloc_big(pk) : NULL;
            if (wp) berry_repack(pool, t, w, s->k, s->m, wp);
            double wbytes = (double)berry_row_size(t, s->k) * (double)s->m;
            for (int ri = 0; ri < 3; ri++) {
                int rows = row_counts[ri];
                // As forward.c's use_packed: q4_0, q5_0 and q8_0 prefill packs the stored blocks per call.
                bool packed = wp && (rows < 64 || t == BERRY_TYPE_F16 || t == BERRY_TYPE_Q4_K || t == BERRY_TYPE_Q6_K);
                double sec = time_matmul(pool, t, w, packed ? wp : NULL, x, y, rows, s->k, s->m, scratch);
                double gflops = 2.0 * rows * (double)s->k * (double)s->m / sec / 1e9, gbs = wbytes / sec / 1e9;
                double peak = fl ? fpeak : ipeak;
                printf("%-6s %-20s %5d %10.3f %9.1f %8.1f %6.0f%% %6.0f%%%s\n", info->name, s->name, rows, sec * 1e3,
                       gflops, gbs, 100 * gbs / bw, 100 * gflops / peak, packed ? "  R" : "");
                if (s->per_layer) layer_s[ri] += s->per_layer * sec;
                else head_s[ri] = sec;
            }
            berry_free(w);
            berry_free(scratch);
            if (wp) berry_free_big(wp, pk);
        }
        // Matmuls only (no attention, norms or sampling), 24 layers; prefill computes logits for the
        // last token only, as llama.cpp does.
        if (complete)
            printf("%-6s  matmul-only estimate: decode %.0f tok/s, 16-sequence decode %.0f tok/s, prefill-256 "
                   "%.0f tok/s\n", info->name, 1 / (24 * layer_s[0] + head_s[0]), 16 / (24 * layer_s[1] + head_s[1]),
                   256 / (24 * layer_s[2] + head_s[0]));
        fflush(stdout);
    }
    printf("llama.cpp on this machine (whole model, 2 threads): decode 41 (f16), 54 (q8_0), 84 (q4_0) tok/s; "
           "prefill-256 210 (f16), 280 (q8_0), 307 (q4_0) tok/s\n");
    berry_free(x);
    berry_free(y);
    berry_pool_free(pool);
}
