// bench.h — berry's benchmarks: each registers itself with BENCH(name) { ... } and prints its own
// lines to stdout. `berry-bench [SUBSTRING...]` runs those whose name or file contains a SUBSTRING.
// Benchmarks report figures beside the machine's limits; they never pass or fail.
#ifndef BERRY_BENCH_H
#define BERRY_BENCH_H
#include <stdio.h>

typedef void (*berry_bench_fn)(void);
void berry_bench_register(const char *name, const char *file, berry_bench_fn fn);
// Threads the benchmarks should use (-t N, default 2).
int berry_bench_threads(void);

#define BENCH(name)                                                                 \
    static void name(void);                                                         \
    __attribute__((constructor)) static void berry_breg_##name(void) {              \
        berry_bench_register(#name, __FILE__, name);                                \
    }                                                                               \
    static void name(void)

#endif
