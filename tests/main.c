// The test runner: runs each registered test in a forked child (a crash or sanitizer report fails that
// test alone), prints one line per test and a last line "N passed, N failed, N skipped".
// Usage: tests [SUBSTRING...]   runs the tests whose name or file contains any SUBSTRING.
#include "test.h"
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

typedef struct { const char *name, *file; berry_test_fn fn; } test_entry;
static test_entry tests[4096];
static int n_tests;

// Shared with the child through an anonymous mapping: 0 = passed, 1 = failed, 2 = skipped.
static volatile int *verdict;
static char root[PATH_MAX];
static char tmpdir[PATH_MAX];

void berry_test_register(const char *name, const char *file, berry_test_fn fn) {
    if (n_tests < (int)(sizeof tests / sizeof tests[0])) tests[n_tests++] = (test_entry){name, file, fn};
}

void berry_test_fail(const char *file, int line, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "    %s:%d: ", file, line);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    *verdict = 1;
}

void berry_test_skip(const char *why) {
    fprintf(stderr, "    skipped: %s\n", why);
    if (*verdict == 0) *verdict = 2;
}

const char *berry_test_path(const char *rel) {
    static char buf[8][PATH_MAX];
    static int k;
    char *b = buf[k++ & 7];
    snprintf(b, PATH_MAX, "%.2000s/%.2000s", root, rel);
    return b;
}

const char *berry_test_tmpdir(void) { return tmpdir; }

char *berry_test_read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 4096, n = 0;
    char *s = malloc(cap);
    for (size_t k; s && (k = fread(s + n, 1, cap - n - 1, f)) > 0;) {
        n += k;
        if (n + 1 == cap) {
            char *t = realloc(s, cap *= 2);
            if (!t) free(s);
            s = t;
        }
    }
    fclose(f);
    if (!s) return NULL;
    s[n] = 0;
    if (len) *len = n;
    return s;
}

static int rm_entry(const char *p, const struct stat *s, int flag, struct FTW *f) {
    (void)s; (void)flag; (void)f;
    return remove(p);
}

static int cmp_entry(const void *a, const void *b) {
    const test_entry *x = a, *y = b;
    int c = strcmp(x->file, y->file);
    return c ? c : strcmp(x->name, y->name);
}

int main(int argc, char **argv) {
    // The root is the directory that holds tests/ (the runner is started from it by make).
    const char *env = getenv("BERRY_ROOT");
    if (env) snprintf(root, sizeof root, "%s", env);
    else if (!getcwd(root, sizeof root)) { perror("getcwd"); return 2; }
    verdict = mmap(NULL, sizeof(int), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (verdict == MAP_FAILED) { perror("mmap"); return 2; }
    qsort(tests, n_tests, sizeof tests[0], cmp_entry);
    int passed = 0, failed = 0, skipped = 0;
    for (int i = 0; i < n_tests; i++) {
        if (argc > 1) {
            int match = 0;
            for (int a = 1; a < argc; a++)
                if (strstr(tests[i].name, argv[a]) || strstr(tests[i].file, argv[a])) match = 1;
            if (!match) continue;
        }
        snprintf(tmpdir, sizeof tmpdir, "/tmp/berry-test-XXXXXX");
        if (!mkdtemp(tmpdir)) { perror("mkdtemp"); return 2; }
        *verdict = 0;
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        fflush(stdout);
        fflush(stderr);
        // BERRY_TEST_NOFORK=1 runs tests in-process, for debuggers.
        pid_t pid = getenv("BERRY_TEST_NOFORK") ? 0 : fork();
        if (pid == 0 && getenv("BERRY_TEST_NOFORK")) {
            tests[i].fn();
            pid = -1;
        } else if (pid == 0) {
            tests[i].fn();
            fflush(stdout);
            fflush(stderr);
            _exit(0);
        }
        int st = 0;
        while (pid > 0 && waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double dt = (t1.tv_sec - t0.tv_sec) + 1e-9 * (t1.tv_nsec - t0.tv_nsec);
        int v = *verdict;
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            if (WIFSIGNALED(st)) fprintf(stderr, "    killed by signal %d\n", WTERMSIG(st));
            else fprintf(stderr, "    exited with status %d\n", WEXITSTATUS(st));
            v = 1;
        }
        const char *word = v == 0 ? "ok" : v == 1 ? "FAILED" : "skipped";
        printf("%-48s %-8s %6.2fs  (%s)\n", tests[i].name, word, dt, tests[i].file);
        fflush(stdout);
        if (v == 0) passed++;
        else if (v == 1) failed++;
        else skipped++;
        nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    }
    printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped);
    return failed ? 1 : 0;
}
