// Tokenizer conformance with llama.cpp's own tokenizer test suite: the vocab-only GGUF files in
// llama.cpp's models/ folder, each with an .inp file (tests separated by "\n__ggml_vocab_test__\n")
// and an .out file (one line of token ids per test, written by llama.cpp's tests/test-tokenizer-0.py
// with Hugging Face's tokenizers, add_special_tokens=False). berry must produce every id list exactly,
// as llama.cpp's tests/test-tokenizer-0 requires, and decode each back to the input's bytes.
// The files come from the npm package node-llama-cpp@3.21.1 (tests/ref/fetch_llama_cpp.sh); the
// tests skip visibly when it cannot be fetched.
#include "test.h"
#include "text/tokenizer.h"
#include "model/gguf.h"
#include <stdint.h>
#include <stdlib.h>

// The llama.cpp checkout's path (fetching it on first use), or NULL.
static const char *llama_cpp_dir(void) {
    static char dir[4096];
    if (dir[0]) return dir;
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "sh '%s' 2>/dev/null", berry_test_path("tests/ref/fetch_llama_cpp.sh"));
    FILE *p = popen(cmd, "r");
    if (!p) return NULL;
    if (!fgets(dir, sizeof dir, p)) dir[0] = 0;
    pclose(p);
    dir[strcspn(dir, "\n")] = 0;
    return dir[0] ? dir : NULL;
}

// Loads models/ggml-vocab-NAME.gguf; NULL (after SKIP or failure) when impossible.
static berry_tokenizer *load_vocab(const char *name, char *why, size_t why_size) {
    const char *dir = llama_cpp_dir();
    if (!dir) { snprintf(why, why_size, "llama.cpp's test vocabularies could not be fetched (npm registry unreachable?)"); return NULL; }
    char path[4400], err[256];
    snprintf(path, sizeof path, "%s/models/ggml-vocab-%s.gguf", dir, name);
    berry_gguf *g = berry_gguf_open(path, err, sizeof err);
    if (!g) { snprintf(why, why_size, "%.200s: %.200s", path, err); return NULL; }
    berry_tokenizer *t = berry_tokenizer_from_gguf(g, err, sizeof err);
    berry_gguf_close(g);
    if (!t) snprintf(why, why_size, "%.100s: %.200s", name, err);
    return t;
}

// Runs every .inp/.out pair of vocabulary NAME; returns the number of mismatches (printed), or -1
// when the files are unavailable (SKIP printed by the caller).
static int run_suite(const char *name, int *n_tests) {
    char why[512];
    berry_tokenizer *t = load_vocab(name, why, sizeof why);
    if (!t) {
        if (!llama_cpp_dir()) return -1;
        fprintf(stderr, "    %.500s\n", why);
        return 1000;
    }
    const char *dir = llama_cpp_dir();
    char path[4400];
    size_t ni, no;
    snprintf(path, sizeof path, "%s/models/ggml-vocab-%s.gguf.inp", dir, name);
    char *inp = berry_test_read_file(path, &ni);
    snprintf(path, sizeof path, "%s/models/ggml-vocab-%s.gguf.out", dir, name);
    char *out = berry_test_read_file(path, &no);
    if (!inp || !out) { free(inp); free(out); berry_tokenizer_free(t); fprintf(stderr, "    cannot read %s\n", path); return 1000; }
    const char *sep = "\n__ggml_vocab_test__\n";
    size_t sl = strlen(sep);
    int bad = 0, k = 0;
    char *ip = inp, *op = out;
    int32_t *ids = malloc(1 << 20);
    char *dec = malloc(1 << 20);
    for (;; k++) {
        char *next = strstr(ip, sep);
        size_t tl = next ? (size_t)(next - ip) : strlen(ip);
        if (!next && tl == 0) break;  // the file ends with the marker
        char *eol = strchr(op, '\n');
        if (!eol) { fprintf(stderr, "    %s: .out has fewer lines than .inp has tests\n", name); bad++; break; }
        *eol = 0;
        int32_t want[4096];
        int nw = 0;
        for (char *q = op; *q;) {
            char *e;
            long v = strtol(q, &e, 10);
            if (e == q) break;
            if (nw < 4096) want[nw++] = (int32_t)v;
            q = e;
        }
        op = eol + 1;
        char err[256];
        int64_t n = berry_tokenize(t, ip, tl, false, false, ids, (1 << 20) / 4, err, sizeof err);
        bool same = n == nw;
        for (int i = 0; same && i < nw; i++) same = ids[i] == want[i];
        if (!same) {
            bad++;
            fprintf(stderr, "    %s test %d ('%.*s'): got", name, k, (int)(tl < 40 ? tl : 40), ip);
            for (int64_t i = 0; i < n && i < 24; i++) fprintf(stderr, " %d", ids[i]);
            fprintf(stderr, "; expected");
            for (int i = 0; i < nw && i < 24; i++) fprintf(stderr, " %d", want[i]);
            fprintf(stderr, "\n");
        } else {
            size_t dl = berry_detokenize(t, ids, (size_t)n, false, dec, 1 << 20);
            if (dl != tl || memcmp(dec, ip, tl) != 0) {
                bad++;
                fprintf(stderr, "    %s test %d: decodes to '%.*s'\n", name, k, (int)(dl < 60 ? dl : 60), dec);
            }
        }
        if (!next) { k++; break; }
        ip = next + sl;
    }
    *n_tests = k;
    free(ids); free(dec); free(inp); free(out);
    berry_tokenizer_free(t);
    return bad;
}

#define SUITE(fn, name)                                                                   \
    TEST(fn) {                                                                            \
        int n = 0, bad = run_suite(name, &n);                                             \
        if (bad < 0) SKIP("llama.cpp's test vocabularies could not be fetched (tests/ref/fetch_llama_cpp.sh failed: npm registry unreachable?)"); \
        CHECKF(bad == 0, "%s: %d of %d tests differ from llama.cpp's .out", name, bad, n); \
        CHECKF(n >= 40, "%s: only %d tests read", name, n);                              \
        fprintf(stderr, "    %s: %d tests match\n", name, n);                          \
    }

SUITE(tokenizer_llama_cpp_llama_bpe, "llama-bpe")
SUITE(tokenizer_llama_cpp_qwen2, "qwen2")
SUITE(tokenizer_llama_cpp_gpt2, "gpt-2")
SUITE(tokenizer_llama_cpp_llama_spm, "llama-spm")
SUITE(tokenizer_llama_cpp_gemma4, "gemma-4")
