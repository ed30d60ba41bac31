// libFuzzer target for the tokenizers: any bytes tokenize without a sanitizer report, the count is
// the same with and without an output buffer, and decoding gives back the input's exact bytes. The
// vocabularies are built at start-up, so the target needs no files: a byte-level BPE vocabulary
// trained by berry (llama-bpe pre-tokenizer) and a small SentencePiece one with byte fallback.
// The first input byte picks the vocabulary and the flags; the rest is the text.
#include "model/gguf.h"
#include "text/bpe_train.h"
#include "text/tokenizer.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static berry_tokenizer *tok[2];

static berry_tokenizer *load(const char *path) {
    char err[256];
    berry_gguf *g = berry_gguf_open(path, err, sizeof err);
    if (!g) { fprintf(stderr, "%s\n", err); abort(); }
    berry_tokenizer *t = berry_tokenizer_from_gguf(g, err, sizeof err);
    berry_gguf_close(g);
    if (!t) { fprintf(stderr, "%s\n", err); abort(); }
    return t;
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc; (void)argv;
    char err[256], path[64];
    snprintf(path, sizeof path, "/tmp/berry-fuzz-tok-%d.gguf", (int)getpid());
    // Byte-level BPE from a little mixed text.
    const char *text = "The answer is $\\frac{19}{12}$. Let's check: 3 * 12 = 36 apples; 36 - 7 = 29.\n"
                       "Привет мир 你好 🦙 naïve café  \t\n\n  x^2 + y^2 = z^2 I'm you're they'll";
    size_t len = strlen(text);
    berry_bpe_options o = {.vocab_size = 330};
    berry_bpe *b = berry_bpe_train(&text, &len, 1, &o, err, sizeof err);
    berry_gguf_writer *w = berry_gguf_writer_new();
    if (!b || !w || berry_bpe_write(b, w, err, sizeof err) || berry_gguf_write(w, path, err, sizeof err)) { fprintf(stderr, "%s\n", err); abort(); }
    berry_bpe_free(b);
    berry_gguf_writer_free(w);
    tok[0] = load(path);
    // SentencePiece: <unk> <s> </s>, the 256 byte tokens, a few pieces with scores.
    const char *pieces[] = {"▁", "▁t", "he", "▁the", "an", "▁an", "sw", "er", "▁answer", "▁is", "12", "▁<"};
    const char *toks[3 + 256 + 12];
    char bytes[256][8];
    int32_t types[3 + 256 + 12];
    float scores[3 + 256 + 12];
    int n = 0;
    toks[n] = "<unk>"; types[n] = 2; scores[n++] = 0;
    toks[n] = "<s>"; types[n] = 3; scores[n++] = 0;
    toks[n] = "</s>"; types[n] = 3; scores[n++] = 0;
    for (int i = 0; i < 256; i++) { snprintf(bytes[i], 8, "<0x%02X>", i); toks[n] = bytes[i]; types[n] = 6; scores[n++] = 0; }
    for (int i = 0; i < 12; i++) { toks[n] = pieces[i]; types[n] = 1; scores[n++] = -(float)i; }
    w = berry_gguf_writer_new();
    berry_gguf_set_str(w, "tokenizer.ggml.model", "llama");
    berry_gguf_set_arr_str(w, "tokenizer.ggml.tokens", toks, (uint64_t)n);
    berry_gguf_set_arr(w, "tokenizer.ggml.token_type", BERRY_GGUF_INT32, types, (uint64_t)n);
    berry_gguf_set_arr(w, "tokenizer.ggml.scores", BERRY_GGUF_FLOAT32, scores, (uint64_t)n);
    if (berry_gguf_write(w, path, err, sizeof err)) { fprintf(stderr, "%s\n", err); abort(); }
    berry_gguf_writer_free(w);
    tok[1] = load(path);
    unlink(path);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0) return 0;
    uint8_t mode = data[0];
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    const berry_tokenizer *t = tok[mode & 1];
    bool bos = mode & 2, special = mode & 4;
    char err[256];
    int64_t n = berry_tokenize(t, text, len, bos, special, NULL, 0, err, sizeof err);
    if (n < 0) abort();  // no input is an error for a valid vocabulary
    int32_t *ids = malloc((size_t)(n + 1) * sizeof *ids);
    if (berry_tokenize(t, text, len, bos, special, ids, n, err, sizeof err) != n) abort();
    char *dec = malloc(len + 1);
    // Without parse_special, the text decodes to itself (special tokens only come from parsing);
    // for SentencePiece, a "▁" already in the text comes back as the space it stands for.
    size_t dl = berry_detokenize(t, ids, (size_t)n, true, dec, len + 1);
    char *want = malloc(len + 1);
    size_t wl = 0;
    for (size_t i = 0; i < len; i++) {
        if ((mode & 1) && i + 3 <= len && !memcmp(text + i, "\xe2\x96\x81", 3)) { want[wl++] = ' '; i += 2; }
        else want[wl++] = text[i];
    }
    if (!special && (dl != wl || memcmp(dec, want, wl) != 0)) abort();
    free(want);
    berry_detok *d = berry_detok_new(t, false);
    size_t total = 0, l;
    for (int64_t i = 0; i < n; i++) { if (!berry_detok_push(d, ids[i], &l)) abort(); total += l; }
    berry_detok_flush(d, &l);
    berry_detok_free(d);
    free(dec);
    free(ids);
    (void)total;
    return 0;
}
