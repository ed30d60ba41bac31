// Tokenizer throughput on 10 MB of LaTeX-heavy math text (generated problems and solutions with
// numbers of all lengths, plus tests/data/tok_corpus.txt's mixed scripts and emoji), with the
// Llama 3 and Qwen2 vocabularies of llama.cpp's test set (tests/ref/fetch_llama_cpp.sh). Prints MB/s
// of one thread for the whole tokenizer and, as the ceiling it runs against, for the regex
// pre-tokenizer alone (PCRE2 JIT), plus tokens/s and bytes per token.
#include "bench.h"
#include "base/clock.h"
#include "model/gguf.h"
#include "text/tokenizer.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

// CPU seconds of this thread: on a shared machine wall time also counts other processes' turns.
static double cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static size_t add(char *buf, size_t n, size_t cap, const char *s) {
    size_t l = strlen(s);
    if (n + l > cap) l = cap - n;
    memcpy(buf + n, s, l);
    return n + l;
}

// Deterministic 10 MB of math text.
static char *make_text(size_t cap, size_t *len) {
    char *buf = malloc(cap);
    if (!buf) return NULL;
    char *corpus = NULL;
    FILE *f = fopen("tests/data/tok_corpus.txt", "rb");
    if (f) {
        corpus = calloc(1, 1 << 16);
        if (corpus && fread(corpus, 1, (1 << 16) - 1, f) == 0) corpus[0] = 0;
        fclose(f);
    }
    uint64_t x = 42;
    size_t n = 0;
    char line[2048];
    for (int i = 0; n < cap; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        unsigned a = (unsigned)(x >> 33) % 1000, b = (unsigned)(x >> 45) % 97 + 2, c = (unsigned)(x >> 20) % 100000;
        snprintf(line, sizeof line,
                 "Problem %d. Let $f(x) = \\frac{%u x^2 + %u}{x - %u}$ and $g(n) = \\sum_{k=1}^{n} k^{%u}$. "
                 "Compute $f(%u) + g(%u)$, given that $\\sqrt{%u} \\approx %u.%03u$.\n"
                 "Solution. \\begin{align*}\n  f(%u) &= \\frac{%u \\cdot %u^2 + %u}{%u - %u} \\\\\n"
                 "  &= %llu, \\quad g(%u) = %llu.\n\\end{align*}\nSo the answer is $\\boxed{%llu}$. "
                 "We check: %u * %u = %u, and %u + %u = %u.  \n\n",
                 i, a, b, b + 1, b % 5 + 1, a, b, c, (unsigned)(x >> 50) % 320, (unsigned)(x >> 12) % 1000,
                 a, a, a, b, a, b + 1, (unsigned long long)a * a * a + b, b, (unsigned long long)b * b * b,
                 (unsigned long long)x % 1000000007ull, a, b, a * b, c, a, c + a);
        n = add(buf, n, cap, line);
        if (corpus && i % 50 == 0) n = add(buf, n, cap, corpus);
    }
    free(corpus);
    *len = n;
    return buf;
}

static void count_word(void *ctx, const char *w, size_t n) { (void)w; (void)n; ++*(size_t *)ctx; }

static void run(const char *name, const char *pre, const char *text, size_t len) {
    char dir[4096] = "", path[4400], err[256];
    FILE *p = popen("sh tests/ref/fetch_llama_cpp.sh 2>/dev/null", "r");
    if (p) { if (!fgets(dir, sizeof dir, p)) dir[0] = 0; pclose(p); }
    dir[strcspn(dir, "\n")] = 0;
    if (!dir[0]) { printf("tokenizer %s: skipped (llama.cpp's test vocabularies unavailable)\n", name); return; }
    snprintf(path, sizeof path, "%s/models/ggml-vocab-%s.gguf", dir, name);
    berry_gguf *g = berry_gguf_open(path, err, sizeof err);
    berry_tokenizer *t = g ? berry_tokenizer_from_gguf(g, err, sizeof err) : NULL;
    berry_gguf_close(g);
    if (!t) { printf("tokenizer %s: skipped (%s)\n", name, err); return; }
    int32_t *ids = malloc(len * sizeof *ids);
    double best = 1e30, best_wall = 1e30;
    int64_t n = 0;
    for (int r = 0; r < 3; r++) {
        double t0 = cpu_now(), w0 = berry_now();
        n = berry_tokenize(t, text, len, false, false, ids, (int64_t)len, err, sizeof err);
        double dt = cpu_now() - t0, dw = berry_now() - w0;
        if (dt < best) best = dt;
        if (dw < best_wall) best_wall = dw;
    }
    double best_pre = 1e30;
    size_t words = 0;
    for (int r = 0; r < 3; r++) {
        words = 0;
        double t0 = cpu_now();
        berry_pretokenize(pre, text, len, count_word, &words, err, sizeof err);
        double dt = cpu_now() - t0;
        if (dt < best_pre) best_pre = dt;
    }
    double mb = (double)len / 1e6;
    printf("tokenizer %-9s %.1f MB: %6.1f MB/s of CPU time (%.1f MB/s wall), %5.2f M tokens/s, %.2f bytes/token "
           "(pre-tokenizer alone %.1f MB/s, %zu pre-tokens; tokenizer at %.0f%% of it)\n",
           name, mb, mb / best, mb / best_wall, (double)n / best / 1e6, (double)len / (double)n, mb / best_pre, words,
           100.0 * best_pre / best);
    free(ids);
    berry_tokenizer_free(t);
}

BENCH(tokenizer_throughput) {
    size_t len;
    char *text = make_text(10u << 20, &len);
    if (!text) return;
    run("llama-bpe", "llama-bpe", text, len);
    run("qwen2", "qwen2", text, len);
    free(text);
}
