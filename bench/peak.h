// peak.h — the arithmetic peaks of this machine's threads, measured, for benchmarks to print their
// figures against: on a shared or virtual machine the peak moves (two vCPUs may be two hyperthreads of
// one core, or two cores), so it is measured in the same run as the figures it bounds.
#ifndef BERRY_BENCH_PEAK_H
#define BERRY_BENCH_PEAK_H
#include "base/pool.h"

typedef enum {
    BERRY_PEAK_F32_FMA,   // 8-wide f32 fused multiply-adds (f16 and f32 weights)
    BERRY_PEAK_Q8,        // q8_0 x q8_0 on AVX2: unsigned-by-signed byte products summed to int16 pairs,
                          // then to int32 (vpmaddubsw + vpmaddwd), as the q8_0 kernels do
    BERRY_PEAK_Q4,        // q4_0 x q8_0: the byte products summed in int16 (vpmaddubsw + add), as q4_0 does
} berry_peak_kind;

// Multiply-accumulates per second of all the pool's threads running KIND's instruction sequence at
// once (best of 3 runs of about 0.1 s), or 0 where this build has no such instructions.
double berry_bench_peak_macs(berry_pool *pool, berry_peak_kind kind);

#endif
