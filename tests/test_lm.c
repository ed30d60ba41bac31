// Tests of the local lm (src/lm/lm_local.c): generation must equal what the forward pass and an argmax
// give when recomputed from scratch; batching, prefix reuse and forks must not change results; stop
// strings, streaming and scoring must agree with their definitions. The model is a tiny random llama
// with a byte-level vocabulary (256 byte tokens and two control tokens), so every prompt byte is one
// token and the expected token sequences are easy to state.
#include "test.h"
#include "lm/lm_local.h"
#include "model/forward.h"
#include "model/gguf.h"
#include "model/model.h"
#include "text/sampler.h"
#include "tiny_model.h"
#include <stdio.h>
#include <stdlib.h>

// A tiny random llama with the byte-level vocabulary (tests/tiny_model.h). A large std makes the
// random model's distributions peaked, so greedy text varies.
static const char *make_model(void) {
    static char path[1024];
    return berry_ttest_model("llama", 0, 0.5f, "tiny.gguf", path, sizeof path);
}

static berry_lm *open_lm(const char *path, bool no_cache) {
    char err[256];
    berry_lm_local_params p = {.model_path = path, .n_threads = 2, .n_ctx = 256, .max_batch = 64, .no_prefix_cache = no_cache};
    berry_lm *lm = berry_lm_local_open(&p, err, sizeof err);
    if (!lm) fprintf(stderr, "    open: %s\n", err);
    return lm;
}

static berry_sampling greedy(int n) { return (berry_sampling){.temperature = 0, .max_tokens = n, .want_tokens = true}; }

// Argmax of the last row of a from-scratch forward over TOKS[0..n) on a fresh context.
static int32_t argmax_fresh(const berry_model *m, const int32_t *toks, int n) {
    char err[256];
    berry_ctx_params cp = {.n_threads = 1, .max_batch = 256};
    berry_ctx *c = berry_ctx_create(m, &cp, err, sizeof err);
    if (!c) return -2;
    int seq = berry_kv_seq_new(berry_ctx_kv(c));
    int32_t *sq = malloc(sizeof(int32_t) * (size_t)n);
    uint8_t *want = calloc((size_t)n, 1);
    int nv = berry_model_hparams(m)->n_vocab;
    float *lg = malloc(sizeof(float) * (size_t)nv);
    for (int i = 0; i < n; i++) sq[i] = seq;
    want[n - 1] = 1;
    berry_batch b = {.n = n, .token = toks, .seq = sq, .logits = want};
    int32_t best = -3;
    if (berry_forward(c, &b, lg, err, sizeof err) == BERRY_OK) {
        best = 0;
        for (int v = 1; v < nv; v++) if (lg[v] > lg[best]) best = v;
    }
    free(sq); free(want); free(lg);
    berry_ctx_free(c);
    return best;
}

TEST(lm_greedy_equals_recomputed_argmax) {
    const char *path = make_model();
    CHECK(path);
    berry_lm *lm = open_lm(path, false);
    CHECK(lm);
    const char *prompt = "Two plus two is";
    berry_lm_request rq = {.prompt = prompt, .sampling = greedy(12)};
    berry_lm_output out;
    char err[256];
    CHECK(berry_lm_generate(lm, &rq, 1, &out, err, sizeof err) == BERRY_OK);
    CHECK(out.n_tokens > 0);
    // Recompute every step from scratch: prompt bytes, then the generated tokens so far.
    int np = (int)strlen(prompt);
    int32_t seqbuf[64];
    for (int i = 0; i < np; i++) seqbuf[i] = (unsigned char)prompt[i];
    for (int k = 0; k < out.n_tokens; k++) {
        int32_t want = argmax_fresh(berry_lm_local_model(lm), seqbuf, np + k);
        CHECKF(out.tokens[k] == want, "step %d: generated %d, recomputed argmax %d", k, out.tokens[k], want);
        seqbuf[np + k] = out.tokens[k];
    }
    // The text is the bytes of the tokens (no eos: the count equals the text length for byte tokens < 256).
    int bytes = 0;
    for (int k = 0; k < out.n_tokens; k++) bytes += out.tokens[k] < 256;
    CHECK_EQ_INT(out.len, bytes);
    berry_lm_output_clear(&out);
    berry_lm_free(lm);
}

TEST(lm_batch_and_prefix_reuse_do_not_change_results) {
    const char *path = make_model();
    CHECK(path);
    berry_lm *cached = open_lm(path, false), *plain = open_lm(path, true);
    CHECK(cached && plain);
    // Three prompts sharing a 40-byte prefix (more than two 16-token pages), one of them twice.
    const char *prefix = "Problem: a farmer has 12 cows and 7 pigs. ";
    char p[3][128];
    snprintf(p[0], 128, "%sHow many animals?", prefix);
    snprintf(p[1], 128, "%sHow many legs?", prefix);
    snprintf(p[2], 128, "%sHow many animals?", prefix);
    berry_lm_request rq[3];
    for (int i = 0; i < 3; i++) rq[i] = (berry_lm_request){.prompt = p[i], .sampling = greedy(10)};
    berry_lm_output a[3], b[3], one;
    char err[256];
    CHECK(berry_lm_generate(cached, rq, 3, a, err, sizeof err) == BERRY_OK);
    CHECK(berry_lm_generate(plain, rq, 3, b, err, sizeof err) == BERRY_OK);
    for (int i = 0; i < 3; i++) {
        CHECK(berry_lm_generate(plain, &rq[i], 1, &one, err, sizeof err) == BERRY_OK);
        CHECK_STR(a[i].text, one.text);
        CHECK_STR(b[i].text, one.text);
        berry_lm_output_clear(&one);
    }
    int64_t total = 0;
    for (int i = 0; i < 3; i++) total += (int64_t)strlen(p[i]);
    CHECK_EQ_INT(cached->counters.prompt_tokens, total);
    // Without the cache every prompt token of the batched call and of the 3 single calls is evaluated.
    CHECK_EQ_INT(plain->counters.prompt_tokens_evaluated, 2 * total);
    // With it: p[2] is a fork of p[0]; p[1] shares the 42-byte prefix plus "How many " (51 tokens) with
    // p[0], which is 3 whole pages of 16.
    CHECK_EQ_INT(strlen(prefix), 42);
    CHECK_EQ_INT(cached->counters.prompt_tokens_evaluated, (int64_t)strlen(p[0]) + (int64_t)strlen(p[1]) - 48);
    // A second call with the same prompt attaches its cached pages.
    int64_t before = cached->counters.prompt_tokens_evaluated;
    CHECK(berry_lm_generate(cached, &rq[0], 1, &one, err, sizeof err) == BERRY_OK);
    CHECK_STR(one.text, a[0].text);
    CHECK(cached->counters.prompt_tokens_evaluated - before < (int64_t)strlen(p[0]));
    berry_lm_output_clear(&one);
    for (int i = 0; i < 3; i++) { berry_lm_output_clear(&a[i]); berry_lm_output_clear(&b[i]); }
    berry_lm_free(cached);
    berry_lm_free(plain);
}

typedef struct { char buf[1024]; size_t len; } sink;
static void collect(void *user, int req, const char *bytes, size_t n) {
    sink *s = user;
    (void)req;
    if (s->len + n < sizeof s->buf) { memcpy(s->buf + s->len, bytes, n); s->len += n; }
}

TEST(lm_stop_strings_and_streaming) {
    const char *path = make_model();
    CHECK(path);
    berry_lm *lm = open_lm(path, false);
    CHECK(lm);
    char err[256];
    berry_lm_request rq = {.prompt = "Let x be", .sampling = greedy(24)};
    berry_lm_output full, cut;
    CHECK(berry_lm_generate(lm, &rq, 1, &full, err, sizeof err) == BERRY_OK);
    CHECK(full.len >= 6);
    // Stop at the 2 bytes found at offset 4 of the greedy text: the output is the text before their
    // first occurrence.
    char stop[3] = {full.text[4], full.text[5], 0};
    if (!stop[0] || !stop[1]) SKIP("greedy text holds a NUL byte at 4..5");
    const char *stops[1] = {stop};
    const char *first = strstr(full.text, stop);
    CHECK(first);
    sink s = {0};
    rq.sampling.stop = stops;
    rq.sampling.n_stop = 1;
    rq.stream = collect;
    rq.stream_user = &s;
    CHECK(berry_lm_generate(lm, &rq, 1, &cut, err, sizeof err) == BERRY_OK);
    CHECK_EQ_INT(cut.finish, BERRY_FINISH_STOP);
    CHECK_EQ_INT(cut.len, first - full.text);
    CHECK(memcmp(cut.text, full.text, cut.len) == 0);
    CHECK_EQ_INT(s.len, cut.len);
    CHECK(memcmp(s.buf, cut.text, cut.len) == 0);
    berry_lm_output_clear(&full);
    berry_lm_output_clear(&cut);
    berry_lm_free(lm);
}

TEST(lm_sampling_streams_are_independent_of_batching) {
    const char *path = make_model();
    CHECK(path);
    berry_lm *lm = open_lm(path, false);
    CHECK(lm);
    char err[256];
    berry_lm_request rq[4];
    for (int i = 0; i < 4; i++)
        rq[i] = (berry_lm_request){.prompt = "Seed test",
                                   .sampling = {.temperature = 1.0f, .top_p = 1, .seed = 99, .stream = (uint64_t)i, .max_tokens = 16}};
    berry_lm_output a[4], b[4], one;
    CHECK(berry_lm_generate(lm, rq, 4, a, err, sizeof err) == BERRY_OK);
    CHECK(berry_lm_generate(lm, rq, 4, b, err, sizeof err) == BERRY_OK);
    int distinct = 0;
    for (int i = 0; i < 4; i++) {
        CHECK_STR(a[i].text, b[i].text);
        distinct += i > 0 && strcmp(a[i].text, a[0].text) != 0;
    }
    // Different streams give different texts from the same prompt.
    CHECK(distinct > 0);
    // A request's numbers depend on (seed, stream) only, not on its place in the call.
    CHECK(berry_lm_generate(lm, &rq[2], 1, &one, err, sizeof err) == BERRY_OK);
    CHECK_STR(one.text, a[2].text);
    berry_lm_output_clear(&one);
    berry_lm_request two[2] = {rq[3], rq[3]};
    berry_lm_output t[2];
    CHECK(berry_lm_generate(lm, two, 2, t, err, sizeof err) == BERRY_OK);
    CHECK_STR(t[0].text, a[3].text);
    CHECK_STR(t[1].text, a[3].text);
    berry_lm_output_clear(&t[0]);
    berry_lm_output_clear(&t[1]);
    for (int i = 0; i < 4; i++) { berry_lm_output_clear(&a[i]); berry_lm_output_clear(&b[i]); }
    berry_lm_free(lm);
}

TEST(lm_score_equals_forward_logprobs) {
    const char *path = make_model();
    CHECK(path);
    berry_lm *lm = open_lm(path, false);
    CHECK(lm);
    char err[256];
    const char *prompt = "Is 7 prime?", *conts[2] = {" Yes", " No"};
    double lp[2];
    CHECK(berry_lm_score(lm, prompt, conts, 2, lp, err, sizeof err) == BERRY_OK);
    // Reference: one from-scratch forward over prompt + continuation with logits everywhere, summing
    // log softmax at the continuation's tokens.
    const berry_model *m = berry_lm_local_model(lm);
    int nv = berry_model_hparams(m)->n_vocab;
    for (int c = 0; c < 2; c++) {
        int32_t t[64];
        int n = 0;
        for (const char *q = prompt; *q; q++) t[n++] = (unsigned char)*q;
        int np = n;
        for (const char *q = conts[c]; *q; q++) t[n++] = (unsigned char)*q;
        berry_ctx_params cp = {.n_threads = 1, .max_batch = 64};
        berry_ctx *ctx = berry_ctx_create(m, &cp, err, sizeof err);
        CHECK(ctx);
        int seq = berry_kv_seq_new(berry_ctx_kv(ctx));
        int32_t sq[64];
        for (int i = 0; i < n; i++) sq[i] = seq;
        float *lg = malloc(sizeof(float) * (size_t)n * (size_t)nv);
        berry_batch b = {.n = n, .token = t, .seq = sq};
        CHECK(berry_forward(ctx, &b, lg, err, sizeof err) == BERRY_OK);
        double ref = 0;
        for (int i = np; i < n; i++) {
            const float *row = lg + (size_t)(i - 1) * nv;
            double mx = row[0], z = 0;
            for (int v = 1; v < nv; v++) if (row[v] > mx) mx = row[v];
            for (int v = 0; v < nv; v++) z += exp(row[v] - mx);
            ref += row[t[i]] - mx - log(z);
        }
        CHECK_NEAR(lp[c], ref, 1e-3 * fabs(ref) + 1e-4);
        free(lg);
        berry_ctx_free(ctx);
    }
    // A prompt longer than the context (256 here) is refused before anything is evaluated.
    char *longp = malloc(400);
    memset(longp, 'a', 399);
    longp[399] = 0;
    int64_t before = lm->counters.prompt_tokens_evaluated;
    CHECK(berry_lm_score(lm, longp, conts, 2, lp, err, sizeof err) == BERRY_ELIMIT);
    CHECK(strstr(err, "context") != NULL);
    CHECK_EQ_INT(lm->counters.prompt_tokens_evaluated, before);
    free(longp);
    berry_lm_free(lm);
}
