// BPE training (src/text/bpe_train.c) against (1) a hand-worked example, (2) an independent naive
// Python implementation of the same rules (tests/ref/tokenizer_bpe_train.py, output committed as
// tests/data/tok_bpe_merges.txt), and (3) the written GGUF read back by berry's tokenizer and, for
// the keys llama.cpp requires, by gguf-py (llama.cpp's own GGUF reader).
#include "test.h"
#include "text/bpe_train.h"
#include "text/tokenizer.h"
#include "model/gguf.h"
#include <stdlib.h>

// "aaabdaaabac" is one pre-token. Pair counts: aa 4, ab 2, bd da ba ac 1. Merge "a a" -> Z:
// Z a b d Z a b a c (leftmost, non-overlapping). Now (a,b) = 2 and (Z,a) = 2 tie; (97,98) < (256,97),
// so "a b" -> Y: Z Y d Z Y a c. Then (Z,Y) = 2: "aa ab". Every other pair is seen once, below the
// minimum frequency 2, so training stops with three merges.
TEST(bpe_train_hand_example) {
    const char *text = "aaabdaaabac";
    size_t len = strlen(text);
    char err[256];
    berry_bpe_options o = {.vocab_size = 1000};
    berry_bpe *b = berry_bpe_train(&text, &len, 1, &o, err, sizeof err);
    CHECKF(b, "%s", err);
    CHECK_EQ_INT(berry_bpe_n_merges(b), 3);
    CHECK_STR(berry_bpe_merge(b, 0), "a a");
    CHECK_STR(berry_bpe_merge(b, 1), "a b");
    CHECK_STR(berry_bpe_merge(b, 2), "aa ab");
    CHECK_EQ_INT(berry_bpe_n_tokens(b), 256 + 3 + 5);
    berry_bpe_free(b);
}

TEST(bpe_train_matches_naive_reference) {
    size_t len, rl;
    char *text = berry_test_read_file(berry_test_path("tests/data/tok_bpe_corpus.txt"), &len);
    char *ref = berry_test_read_file(berry_test_path("tests/data/tok_bpe_merges.txt"), &rl);
    CHECK(text && ref);
    char err[256];
    // The reference ran with 300 merges allowed and minimum frequency 2 (it stopped at 156).
    berry_bpe_options o = {.vocab_size = 256 + 300 + 5, .min_frequency = 2};
    const char *tp = text;
    berry_bpe *b = berry_bpe_train(&tp, &len, 1, &o, err, sizeof err);
    CHECKF(b, "%s", err);
    int k = 0;
    for (char *line = strtok(ref, "\n"); line; line = strtok(NULL, "\n"), k++) {
        const char *m = berry_bpe_merge(b, k);
        CHECKF(m && strcmp(m, line) == 0, "merge %d: berry '%s', reference '%s'", k, m ? m : "(none)", line);
    }
    CHECK_EQ_INT(berry_bpe_n_merges(b), k);
    CHECK(k > 100);
    berry_bpe_free(b);
    free(text); free(ref);
}

TEST(bpe_train_gguf_roundtrip) {
    char out[4200], err[256];
    snprintf(out, sizeof out, "%s/vocab.gguf", berry_test_tmpdir());
    const char *path = berry_test_path("tests/data/tok_bpe_corpus.txt");
    berry_bpe_options o = {.vocab_size = 400};
    CHECKF(berry_bpe_train_files(&path, 1, &o, out, err, sizeof err) == BERRY_OK, "%s", err);
    berry_gguf *g = berry_gguf_open(out, err, sizeof err);
    CHECKF(g, "%s", err);
    berry_tokenizer *t = berry_tokenizer_from_gguf(g, err, sizeof err);
    berry_gguf_close(g);
    CHECKF(t, "%s", err);
    CHECK_EQ_INT(berry_tokenizer_n_vocab(t), 400);
    CHECK_STR(berry_tokenizer_text(t, berry_tokenizer_bos(t)), "<|begin_of_text|>");
    CHECK_STR(berry_tokenizer_text(t, berry_tokenizer_eos(t)), "<|end_of_text|>");
    CHECK_STR(berry_tokenizer_text(t, berry_tokenizer_eot(t)), "<|eot_id|>");
    CHECK(berry_tokenizer_adds_bos(t));
    size_t len;
    char *text = berry_test_read_file(path, &len);
    CHECK(text);
    int32_t *ids = malloc(len * sizeof *ids + 64);
    int64_t n = berry_tokenize(t, text, len, true, false, ids, (int64_t)len + 16, err, sizeof err);
    CHECKF(n > 0, "%s", err);
    CHECK_EQ_INT(ids[0], berry_tokenizer_bos(t));
    CHECKF(n < (int64_t)len / 2, "%lld tokens for %zu bytes: the merges do not compress", (long long)n, len);
    char *dec = malloc(len + 1);
    size_t dl = berry_detokenize(t, ids, (size_t)n, true, dec, len + 1);
    CHECK(dl == len && memcmp(dec, text, len) == 0);
    free(dec); free(ids); free(text);
    berry_tokenizer_free(t);

    // llama.cpp's reader (gguf-py) sees the keys llama.cpp's vocabulary loader requires, with the types
    // it requires, and llama.cpp knows the pre-tokenizer name.
    char dir[4096] = "", cmd[9000];
    snprintf(cmd, sizeof cmd, "sh '%s' 2>/dev/null", berry_test_path("tests/ref/fetch_llama_cpp.sh"));
    FILE *p = popen(cmd, "r");
    if (p) { if (!fgets(dir, sizeof dir, p)) dir[0] = 0; pclose(p); }
    dir[strcspn(dir, "\n")] = 0;
    if (!dir[0]) SKIP("llama.cpp's gguf-py could not be fetched (npm registry unreachable?)");
    snprintf(cmd, sizeof cmd,
             "/usr/bin/python3 -c \"import sys; sys.path.insert(0, '%.2000s/gguf-py'); import gguf\n"
             "r = gguf.GGUFReader('%.2000s'); f = r.fields; T = gguf.GGUFValueType\n"
             "assert f['tokenizer.ggml.model'].contents() == 'gpt2'\n"
             "assert f['tokenizer.ggml.pre'].contents() == 'llama-bpe'\n"
             "assert f['tokenizer.ggml.tokens'].types == [T.ARRAY, T.STRING] and len(f['tokenizer.ggml.tokens'].data) == 400\n"
             "assert f['tokenizer.ggml.token_type'].types == [T.ARRAY, T.INT32]\n"
             "assert f['tokenizer.ggml.merges'].types == [T.ARRAY, T.STRING] and len(f['tokenizer.ggml.merges'].data) == 400 - 256 - 5\n"
             "assert f['general.architecture'].contents() == 'llama'\n"
             "print('ok')\" 2>&1 && grep -c '\"llama-bpe\"' '%.2000s/src/llama-vocab.cpp'",
             dir, out, dir);
    char line[512] = "";
    p = popen(cmd, "r");
    CHECK(p);
    if (!fgets(line, sizeof line, p)) line[0] = 0;
    char line2[64] = "";
    if (!fgets(line2, sizeof line2, p)) line2[0] = 0;
    int rc = pclose(p);
    CHECKF(rc == 0 && !strncmp(line, "ok", 2) && atoi(line2) >= 1, "gguf-py check failed: %s", line);
}

// Trains on arithmetic lines with pre-tokenizer PRE and tokenizes "160 + 25 = 185." with the vocabulary
// read back from the GGUF; returns the number of tokens (no BOS), PIECES their texts joined by '|', and
// PRE_READ the GGUF's tokenizer.ggml.pre.
static int64_t numbers_vocab(const char *pre, char *pieces, size_t cap, char *pre_read, size_t pre_cap) {
    char text[20000], out[4200], corpus[4300], err[256];
    size_t len = 0;
    for (int i = 0; i < 200; i++)  // "160 + 25 = 185." forty times, among other sums
        len += (size_t)snprintf(text + len, sizeof text - len, "Step %d: %d + %d = %d.\n", i % 4 + 1,
                                i % 5 ? 100 + i : 160, i % 5 ? 7 + i % 13 : 25, i % 5 ? 107 + i + i % 13 : 185);
    snprintf(out, sizeof out, "%s/vocab_%s.gguf", berry_test_tmpdir(), pre);
    snprintf(corpus, sizeof corpus, "%s.txt", out);
    FILE *f = fopen(corpus, "wb");
    if (!f) return -1;
    fwrite(text, 1, len, f);
    fclose(f);
    const char *path = corpus;
    berry_bpe_options o = {.vocab_size = 600, .pre = pre};
    if (berry_bpe_train_files(&path, 1, &o, out, err, sizeof err) != BERRY_OK) return -1;
    berry_gguf *g = berry_gguf_open(out, err, sizeof err);
    if (!g) return -1;
    const char *s;
    size_t sl;
    if (berry_gguf_get_str(g, "tokenizer.ggml.pre", &s, &sl)) snprintf(pre_read, pre_cap, "%.*s", (int)sl, s);
    berry_tokenizer *t = berry_tokenizer_from_gguf(g, err, sizeof err);
    berry_gguf_close(g);
    if (!t) return -1;
    int32_t ids[64];
    const char *q = "160 + 25 = 185.";
    int64_t n = berry_tokenize(t, q, strlen(q), false, false, ids, 64, err, sizeof err);
    size_t o2 = 0;
    pieces[0] = 0;
    for (int64_t i = 0; i < n && o2 < cap; i++)
        o2 += (size_t)snprintf(pieces + o2, cap - o2, "%s%s", i ? "|" : "", berry_tokenizer_text(t, ids[i]));
    berry_tokenizer_free(t);
    return n;
}

// --pre qwen2 (berry vocab train): digits stay single tokens however often a number repeats, and the
// GGUF names the pre-tokenizer so that berry and llama.cpp split the same way; the default (Llama 3)
// learns "160" and "185" as whole tokens from the same text. The pieces are written in GPT-2's byte
// alphabet, where a space is "Ġ".
TEST(bpe_train_pre_tokenizer_option) {
    char pieces[512], pre[64] = "";
    CHECK_EQ_INT(numbers_vocab("qwen2", pieces, sizeof pieces, pre, sizeof pre), 13);
    CHECK_STR(pre, "qwen2");
    CHECK_STR(pieces, "1|6|0|Ġ+|Ġ|2|5|Ġ=|Ġ|1|8|5|.");
    pre[0] = 0;
    int64_t n = numbers_vocab("llama-bpe", pieces, sizeof pieces, pre, sizeof pre);
    CHECK_STR(pre, "llama-bpe");
    CHECKF(n >= 6 && n <= 8 && strstr(pieces, "160|") && strstr(pieces, "185"), "%lld: %s", (long long)n, pieces);
    char err[256];
    const char *text = "abc";
    size_t len = 3;
    berry_bpe_options o = {.vocab_size = 300, .pre = "gpt-2"};
    CHECK(berry_bpe_train(&text, &len, 1, &o, err, sizeof err) == NULL);
    CHECK(strstr(err, "gpt-2") != NULL);
}
