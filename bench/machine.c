// machine.c — the machine's limits (bench/machine.h). For the arithmetic peaks each thread runs
// independent chains of one instruction sequence, enough of them to hide the instructions' latency
// and with distinct operands (identical ones get merged by the compiler), so that the figure is the
// throughput of the execution units the threads share.
#include "machine.h"
#include "base/alloc.h"
#include "base/clock.h"
#include "tensor/blocks.h"
#include <stdio.h>

double berry_bench_load(void) {
    double load = -1;
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (fscanf(f, "%lf", &load) != 1) load = -1;
        fclose(f);
    }
    return load;
}

// Wall seconds of the fastest of REPS runs of FN on the pool.
static double best_run(berry_pool *pool, berry_pool_fn fn, void *ctx, int reps) {
    double best = 1e30;
    for (int r = 0; r < reps; r++) {
        double t0 = berry_now();
        berry_pool_run(pool, fn, ctx);
        double dt = berry_now() - t0;
        if (dt < best) best = dt;
    }
    return best;
}

typedef struct { const float *a; size_t n; double sum[64]; } bw_job;

// Each thread reads its share as BERRY_STREAMS parts side by side, as decode reads its weights
// (tensor/blocks.h): one stream a thread drew 41-46 GB/s on the development machine where four drew
// 59-60, so a single stream would understate the bound. Sixteen partial sums a part, so that the loop
// vectorizes without reassociating a float sum.
static void bw_read(void *arg, int ith, int nth) {
    bw_job *J = arg;
    size_t per = J->n / (size_t)nth, b = per * (size_t)ith, part = per / BERRY_STREAMS / 16 * 16;
    float s[BERRY_STREAMS][16] = {{0}};
    for (size_t i = 0; i < part; i += 16)
        for (int p = 0; p < BERRY_STREAMS; p++)
            for (int k = 0; k < 16; k++) s[p][k] += J->a[b + (size_t)p * part + i + k];
    double t = 0;
    for (int p = 0; p < BERRY_STREAMS; p++)
        for (int k = 0; k < 16; k++) t += s[p][k];
    J->sum[ith & 63] = t;
}

double berry_bench_read_bandwidth(berry_pool *pool) {
    size_t n = (size_t)64 << 20;
    float *a = berry_calloc(n, sizeof(float));
    if (!a) return 0;
    for (size_t i = 0; i < n; i++) a[i] = (float)(i & 7);
    bw_job J = {a, n, {0}};
    double best = best_run(pool, bw_read, &J, 3);
    berry_free(a);
    // The bytes the threads read (each share cut into whole parts).
    int nth = berry_pool_size(pool);
    size_t read = (size_t)nth * (n / (size_t)nth / BERRY_STREAMS / 16 * 16) * BERRY_STREAMS;
    return (double)read * sizeof(float) / best;
}
#ifdef __AVX2__
#include <immintrin.h>
#endif

typedef struct { berry_peak_kind kind; long iters; int sink[64]; } peak_job;

#ifdef __AVX2__
// The empty asm statements make the operands opaque, so that the compiler can neither hoist the
// loop-invariant products out of the loop nor fold the chains.
static int peak_fma(long n) {
    __m256 x = _mm256_set1_ps(1.0001f), y = _mm256_set1_ps(0.9999f), z = _mm256_setzero_ps();
    __m256 a0 = z, a1 = z, a2 = z, a3 = z, a4 = z, a5 = z, a6 = z, a7 = z, a8 = z, a9 = z;
    for (long i = 0; i < n; i++) {
        __asm__ volatile("" : "+x"(x), "+x"(y));
        a0 = _mm256_fmadd_ps(x, y, a0); a1 = _mm256_fmadd_ps(x, y, a1); a2 = _mm256_fmadd_ps(x, y, a2);
        a3 = _mm256_fmadd_ps(x, y, a3); a4 = _mm256_fmadd_ps(x, y, a4); a5 = _mm256_fmadd_ps(x, y, a5);
        a6 = _mm256_fmadd_ps(x, y, a6); a7 = _mm256_fmadd_ps(x, y, a7); a8 = _mm256_fmadd_ps(x, y, a8);
        a9 = _mm256_fmadd_ps(x, y, a9);
    }
    __m256 s = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)),
                             _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(a4, a5), _mm256_add_ps(a6, a7)), _mm256_add_ps(a8, a9)));
    return (int)_mm256_cvtss_f32(s);
}

static int peak_int8(long n, int q8) {
    __m256i b0 = _mm256_set1_epi8(3), b1 = _mm256_set1_epi8(4), b2 = _mm256_set1_epi8(5), b3 = _mm256_set1_epi8(6);
    __m256i c = _mm256_set1_epi8(7), ones = _mm256_set1_epi16(1), z = _mm256_setzero_si256();
    __m256i a0 = z, a1 = z, a2 = z, a3 = z, a4 = z, a5 = z, a6 = z, a7 = z;
// q8_0's sequence includes the vpsignb that gives x the sign of w (w is the unsigned operand as |w|):
// on the development machine it costs a fifth of the sequence's throughput (80 against 99 G
// multiply-adds/s a core without it).
#define P(a, u, v) a = q8 ? _mm256_add_epi32(a, _mm256_madd_epi16(_mm256_maddubs_epi16(u, _mm256_sign_epi8(v, u)), ones)) \
                          : _mm256_add_epi16(a, _mm256_maddubs_epi16(u, v))
    for (long i = 0; i < n; i++) {
        __asm__ volatile("" : "+x"(b0), "+x"(b1), "+x"(b2), "+x"(b3));
        P(a0, b0, c); P(a1, b1, c); P(a2, b2, c); P(a3, b3, c);
        P(a4, c, b0); P(a5, c, b1); P(a6, c, b2); P(a7, c, b3);
    }
#undef P
    __m256i s = _mm256_add_epi32(_mm256_add_epi32(_mm256_add_epi32(a0, a1), _mm256_add_epi32(a2, a3)),
                                 _mm256_add_epi32(_mm256_add_epi32(a4, a5), _mm256_add_epi32(a6, a7)));
    return _mm256_extract_epi32(s, 0);
}
#endif

static void peak_run(void *arg, int ith, int nth) {
    (void)nth;
    peak_job *J = arg;
    int r = 0;
#ifdef __AVX2__
    if (J->kind == BERRY_PEAK_F32_FMA) r = peak_fma(J->iters);
    else r = peak_int8(J->iters, J->kind == BERRY_PEAK_Q8);
#endif
    J->sink[ith & 63] = r;
}

double berry_bench_peak_macs(berry_pool *pool, berry_peak_kind kind) {
#ifndef __AVX2__
    (void)pool, (void)kind;
    return 0;
#else
    // Per iteration: 10 FMAs of 8 lanes, or 8 byte-product instructions of 32 lanes.
    double macs_per_iter = kind == BERRY_PEAK_F32_FMA ? 80 : 256;
    peak_job J = {.kind = kind, .iters = kind == BERRY_PEAK_F32_FMA ? 40000000 : 15000000};
    return macs_per_iter * (double)J.iters * berry_pool_size(pool) / best_run(pool, peak_run, &J, 3);
#endif
}
