// torch_ref.c — see torch_ref.h.
#include "torch_ref.h"
#include "test.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

int berry_test_torch_forward(const char *model, const int32_t *const *seqs, const int *lens, int n_seqs,
                             const char *llama3, bool act_quant, float *ref, size_t n_ref) {
    static char cmd[65536];
    char out[600], log[600];
    snprintf(out, sizeof out, "%s/ref.bin", berry_test_tmpdir());
    snprintf(log, sizeof log, "%s/ref.log", berry_test_tmpdir());
    int k = snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s %s --out %s %s%s%s --seqs '", berry_test_path("tests/ref/forward.py"),
                     model, out, llama3 ? "--llama3 " : "", llama3 ? llama3 : "", act_quant ? " --act-quant" : "");
    for (int s = 0; s < n_seqs; s++)
        for (int i = 0; i < lens[s]; i++)
            k += snprintf(cmd + k, sizeof cmd - k, "%d%s", (int)seqs[s][i], i + 1 < lens[s] ? "," : s + 1 < n_seqs ? ";" : "");
    snprintf(cmd + k, sizeof cmd - k, "' >%s 2>&1", log);
    if (access("/usr/bin/python3", X_OK) != 0) return 77;
    int st = system(cmd);
    int rc = WIFEXITED(st) ? WEXITSTATUS(st) : 1;
    if (rc != 0) {
        FILE *f = fopen(log, "r");
        char line[512];
        while (f && fgets(line, sizeof line, f)) fprintf(stderr, "    ref: %s", line);
        if (f) fclose(f);
        return rc;
    }
    FILE *f = fopen(out, "rb");
    size_t got = f ? fread(ref, sizeof(float), n_ref, f) : 0;
    if (f) fclose(f);
    return got == n_ref ? 0 : 1;
}

double berry_test_max_abs(const float *a, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++) m = fabs(a[i]) > m ? fabs(a[i]) : m;
    return m;
}

double berry_test_max_diff(const float *a, const float *b, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        if (!(d <= m)) m = d;  // NaN counts as infinitely different
    }
    return m;
}
