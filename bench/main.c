// The benchmark runner: runs the registered benchmarks in file and name order.
// Usage: berry-bench [-t THREADS] [SUBSTRING...]
#include "bench.h"
#include <stdlib.h>
#include <string.h>

typedef struct { const char *name, *file; berry_bench_fn fn; } bench_entry;
static bench_entry benches[512];
static int n_benches, n_threads = 2;

void berry_bench_register(const char *name, const char *file, berry_bench_fn fn) {
    if (n_benches < (int)(sizeof benches / sizeof benches[0])) benches[n_benches++] = (bench_entry){name, file, fn};
}

int berry_bench_threads(void) { return n_threads; }

static int cmp_entry(const void *a, const void *b) {
    const bench_entry *x = a, *y = b;
    int c = strcmp(x->file, y->file);
    return c ? c : strcmp(x->name, y->name);
}

int main(int argc, char **argv) {
    int first = 1;
    if (argc > 1 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
        printf("usage: berry-bench [-t THREADS] [SUBSTRING...]\n\nRuns the benchmarks whose name or file contains a "
               "SUBSTRING (all without one), on THREADS threads (default 2):\n");
        qsort(benches, n_benches, sizeof benches[0], cmp_entry);
        for (int i = 0; i < n_benches; i++) printf("  %-40s %s\n", benches[i].name, benches[i].file);
        return 0;
    }
    if (argc > 2 && strcmp(argv[1], "-t") == 0) {
        n_threads = atoi(argv[2]);
        if (n_threads < 1) n_threads = 1;
        first = 3;
    }
    qsort(benches, n_benches, sizeof benches[0], cmp_entry);
    for (int i = 0; i < n_benches; i++) {
        if (argc > first) {
            int match = 0;
            for (int a = first; a < argc; a++)
                if (strstr(benches[i].name, argv[a]) || strstr(benches[i].file, argv[a])) match = 1;
            if (!match) continue;
        }
        printf("== %s (%s)\n", benches[i].name, benches[i].file);
        fflush(stdout);
        benches[i].fn();
        fflush(stdout);
    }
    return 0;
}
