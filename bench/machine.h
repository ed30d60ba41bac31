// machine.h — the machine's limits, measured in the run whose figures are printed against them: the
// load average, the read bandwidth and the arithmetic peaks of a pool's threads. On a shared or
// virtual machine they move (two vCPUs may be two hyperthreads of one core, or two cores), so every
// benchmark measures them beside its figures rather than quoting a constant.
#ifndef BERRY_BENCH_MACHINE_H
#define BERRY_BENCH_MACHINE_H
#include "base/pool.h"

// The 1-minute load average (other work running beside a benchmark lowers its figures), or -1.
double berry_bench_load(void);
// Bytes per second that the pool's threads read together from 256 MiB of memory (best of 3 passes).
double berry_bench_read_bandwidth(berry_pool *pool);

typedef enum {
    BERRY_PEAK_F32_FMA,   // 8-wide f32 fused multiply-adds (f16 and f32 weights)
    BERRY_PEAK_Q8,        // q8_0 x q8_0 on AVX2: x signed by w (vpsignb), unsigned-by-signed byte products
                          // summed to int16 pairs, then to int32 (vpmaddubsw + vpmaddwd), as the q8_0 kernels do
    BERRY_PEAK_Q4,        // q4_0 x q8_0: the byte products summed in int16 (vpmaddubsw + add), as q4_0 does
} berry_peak_kind;

// Multiply-accumulates per second of all the pool's threads running KIND's instruction sequence at
// once (best of 3 runs of about 0.1 s), or 0 where this build has no such instructions.
double berry_bench_peak_macs(berry_pool *pool, berry_peak_kind kind);

#endif
