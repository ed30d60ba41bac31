// Grading speed: the 500 MATH-500 reference answers (../shared/data/math500/test.jsonl, or
// $BERRY_DATA/math500/test.jsonl) against rewritten equivalents, graded by berry and, on the same
// pairs in the same run, by a SymPy-based grader (tests/ref/grade_sympy_bench.py). Prints
// comparisons per second for both and the ratio; the target is berry >= 100x SymPy.
#include "bench.h"
#include "base/clock.h"
#include "data/dataset.h"
#include "math/grade.h"
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

// An equivalent rewriting of a reference answer made by text rules (not by the grader): integers n
// become \frac{2n}{2}, \frac becomes \dfrac, a space follows each comma between items, \circ is dropped, and the
// whole is wrapped in $...$.
static char *rewrite(const char *s) {
    size_t n = strlen(s);
    char *o = malloc(4 * n + 64), *p = o;
    if (!o) return NULL;
    bool integer = n > 0;
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)s[i]) && !(i == 0 && s[i] == '-' && n > 1)) integer = false;
    if (integer && n < 18) {
        long long v = atoll(s);
        sprintf(o, "$\\frac{%lld}{2}$", 2 * v);
        return o;
    }
    *p++ = '$';
    for (size_t i = 0; i < n; i++) {
        if (!strncmp(s + i, "\\frac", 5)) { p += sprintf(p, "\\dfrac"); i += 4; continue; }
        if (!strncmp(s + i, "^\\circ", 6)) { i += 5; continue; }
        *p++ = s[i];
        // (not inside a number: "58,500" is one)
        if (s[i] == ',' && i + 1 < n && s[i + 1] != '\\' && !(i > 0 && isdigit((unsigned char)s[i - 1]) && isdigit((unsigned char)s[i + 1])))
            *p++ = ' ';
    }
    *p++ = '$';
    *p = 0;
    return o;
}

BENCH(grade_math500_vs_sympy) {
    const char *root = getenv("BERRY_DATA");
    char path[1024];
    snprintf(path, sizeof path, "%s/math500/test.jsonl", root ? root : "../shared/data");
    char err[256];
    berry_dataset *d = berry_dataset_load(path, err, sizeof err);
    if (!d) { printf("skipped: %s\n", err); return; }
    size_t n = d->n;
    char **rw = calloc(n, sizeof *rw);
    if (!rw) { berry_dataset_free(d); return; }
    for (size_t i = 0; i < n; i++) rw[i] = rewrite(d->items[i].answer);
    // berry: repeat until at least a second has passed.
    int equal = 0, reps = 0;
    double t0 = berry_now(), dt;
    do {
        equal = 0;
        for (size_t i = 0; i < n; i++) equal += rw[i] && berry_math_equal(rw[i], d->items[i].answer, &d->items[i].grade);
        reps++;
        dt = berry_now() - t0;
    } while (dt < 1.0);
    double berry_rate = (double)n * reps / dt;
    printf("berry:  %zu pairs, %d judged equal, %.0f comparisons/s (%.1f us each)\n", n, equal, berry_rate, 1e6 / berry_rate);
    for (size_t i = 0; i < n && equal < (int)n; i++)
        if (rw[i] && !berry_math_equal(rw[i], d->items[i].answer, &d->items[i].grade))
            printf("  not equal: %s  vs  %s\n", rw[i], d->items[i].answer);
    // SymPy on the same pairs, through a temporary file.
    char tmp[] = "/tmp/berry-bench-grade-XXXXXX";
    int fd = mkstemp(tmp);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (f) {
        for (size_t i = 0; i < n; i++) fprintf(f, "%s\t%s\n", rw[i] ? rw[i] : "", d->items[i].answer);
        fclose(f);
        char cmd[1400];
        snprintf(cmd, sizeof cmd, "/usr/bin/python3 tests/ref/grade_sympy_bench.py %s 2>&1", tmp);
        FILE *pp = popen(cmd, "r");
        char line[512] = "";
        int pairs = 0, eq = 0;
        double secs = 0;
        bool got = false;
        while (pp && fgets(line, sizeof line, pp))
            if (sscanf(line, "sympy: %d pairs, %d equal, %lf seconds", &pairs, &eq, &secs) == 3) got = true;
            else printf("  %s", line);
        if (pp) pclose(pp);
        unlink(tmp);
        if (got && secs > 0) {
            double sympy_rate = pairs / secs;
            printf("sympy:  %d pairs, %d judged equal, %.1f comparisons/s (%.0f us each)\n", pairs, eq, sympy_rate, 1e6 / sympy_rate);
            printf("berry is %.0fx faster than SymPy (target: 100x)\n", berry_rate / sympy_rate);
        } else printf("sympy: not run (needs /usr/bin/python3 with python3-sympy, from the repository root)\n");
    }
    for (size_t i = 0; i < n; i++) free(rw[i]);
    free(rw);
    berry_dataset_free(d);
}
