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

// The requests of the batched-scoring test: comparison-like prompts (a question, solution A, solution
// B, a closing question) whose prefixes branch at several depths, as SR-MCTS's do.
typedef struct {
    char text[80][320];
    berry_lm_score_request rq[80];
    double lp[80][3];
    int n;
} score_set;

static void score_add(score_set *s, const char *const *conts, int n_conts, const char *fmt, const char *a, const char *b) {
    snprintf(s->text[s->n], sizeof s->text[0], fmt, a, b);
    s->rq[s->n] = (berry_lm_score_request){.prompt = s->text[s->n], .conts = conts, .n_conts = n_conts, .logprob = s->lp[s->n]};
    s->n++;
}

// Scores SET on REF one request at a time with berry_lm_score (the reference) and on LM with one
// berry_lm_score_batch call; log-probabilities must agree to float rounding (the batch packs the prompts
// into other forwards) and the statuses must be the same.
static void score_both(berry_lm *ref, berry_lm *lm, score_set *set) {
    char err[256];
    berry_status st[80], want[80];
    double ref_lp[80][3];
    for (int i = 0; i < set->n; i++)
        want[i] = berry_lm_score(ref, set->rq[i].prompt, set->rq[i].conts, set->rq[i].n_conts, ref_lp[i], err, sizeof err);
    CHECKF(berry_lm_score_batch(lm, set->rq, set->n, st, err, sizeof err) == BERRY_OK, "%s", err);
    for (int i = 0; i < set->n; i++) {
        CHECKF(st[i] == want[i], "request %d: status %d, sequential %d", i, st[i], want[i]);
        for (int c = 0; want[i] == BERRY_OK && c < set->rq[i].n_conts; c++)
            CHECKF(fabs(set->lp[i][c] - ref_lp[i][c]) <= 1e-5 * fabs(ref_lp[i][c]) + 1e-5,
                   "request %d, continuation %d: batched %.9g, sequential %.9g", i, c, set->lp[i][c], ref_lp[i][c]);
    }
}

// Batched scoring against the unbatched call, on two lms of the same model (the reference scores one
// request at a time, in order) and on a third whose vtable lacks score_batch (the default: one score call
// per request). Beyond equal log-probabilities, the counted prompt tokens and evaluated tokens must be
// those of the sequential calls: a batched request reuses the cache and the prompts before it exactly as
// it would one call after another. The sets: a new solution X compared with 10 others as A (the prompts
// share (question, X) and some B's share their starts, so the prefix branches at several depths), then
// as B (each prefix (question, other) cached by the first set), 70 requests (more than a group of 64
// sequences, more forks than one chunk of 32), and refusals among them. Continuations: " Yes" and " No"
// are several byte tokens (forks), "" is empty (log p = 0).
TEST(lm_score_batch_equals_sequential_scores) {
    const char *path = make_model();
    CHECK(path);
    for (int no_cache = 0; no_cache < 2; no_cache++) {
        berry_lm *ref = open_lm(path, no_cache), *lm = open_lm(path, no_cache), *dflt_inner = open_lm(path, no_cache);
        CHECK(ref && lm && dflt_inner);
        berry_lm_vtable vt = *dflt_inner->vt;
        vt.score_batch = NULL;
        berry_lm dflt = {.vt = &vt, .impl = dflt_inner->impl};
        static const char *const conts[3] = {" Yes", " No", ""};
        const char *fmt = "Question: Ann has 3 bags of 4 apples and eats 5. How many are left?\nA: %s\nB: %s\nIs A better?\n";
        const char *x = "3 * 4 = 12. 12 - 5 = 7. The answer is 7.";
        const char *others[10] = {"3 * 4 = 12. 12 - 5 = 7. The answer is 7.",  // identical to X: equal prompts
                                  "3 * 4 = 12. 12 - 5 = 8. The answer is 8.", "3 * 4 = 12. 12 + 5 = 17. The answer is 17.",
                                  "3 + 4 = 7. 7 - 5 = 2. The answer is 2.",   "3 * 4 = 12. 12 - 5 = 7. The answer is 7.",
                                  "12 - 5 = 7. The answer is 7.",            "The answer is 7.",
                                  "",                                        "3 * 4 = 13. 13 - 5 = 8. The answer is 8.",
                                  "3 * 5 = 15. 15 - 5 = 10. The answer is 10."};
        static score_set s1, s2;
        memset(&s1, 0, sizeof s1);
        memset(&s2, 0, sizeof s2);
        for (int i = 0; i < 10; i++) score_add(&s1, conts, 3, fmt, x, others[i]);
        score_add(&s1, conts, 2, "%s%s", "Question: Ann has 3 bags", "");  // a prefix of the others
        score_add(&s1, conts, 2, "%s%s", "", "");                          // empty: refused alone
        char longp[300];
        memset(longp, 'x', 299);
        longp[299] = 0;
        score_add(&s1, conts, 2, "%s%s", longp, "");  // longer than the context (256): refused
        longp[253] = 0;
        score_add(&s1, conts, 2, "%s%s", longp, "");  // fits, but not with " Yes": refused
        for (int i = 0; i < 10; i++) score_add(&s2, conts, 2, fmt, others[i], x);
        score_both(ref, lm, &s1);
        score_both(ref, lm, &s2);
        // Nothing counts the refused requests; the counters of the fits add up the same.
        CHECK_EQ_INT(lm->counters.prompt_tokens, ref->counters.prompt_tokens);
        CHECK_EQ_INT(lm->counters.prompt_tokens_evaluated, ref->counters.prompt_tokens_evaluated);
        CHECK_EQ_INT(lm->counters.calls, 2);
        CHECK(lm->counters.prompt_tokens_evaluated < lm->counters.prompt_tokens || no_cache);
        // 70 requests: solutions A and B from a small grid of numbers.
        int64_t ev0 = lm->counters.prompt_tokens_evaluated, rev0 = ref->counters.prompt_tokens_evaluated;
        static score_set s3;
        memset(&s3, 0, sizeof s3);
        for (int i = 0; i < 70; i++) {
            char a[48], b[48];
            snprintf(a, sizeof a, "%d * 4 = %d. The answer is %d.", i % 7, 4 * (i % 7), 4 * (i % 7) - 5);
            snprintf(b, sizeof b, "%d - 5 = %d. The answer is %d.", i, i - 5, i - 5);
            score_add(&s3, conts, 3, fmt, a, b);
        }
        score_both(ref, lm, &s3);
        CHECK_EQ_INT(lm->counters.prompt_tokens_evaluated - ev0, ref->counters.prompt_tokens_evaluated - rev0);
        // The default (one score call per request) gives the same, and counts one call per batch.
        char err[256];
        score_both(ref, &dflt, &s1);
        CHECK_EQ_INT(dflt.counters.calls, 1);
        // Every sequence was released and the cache is consistent.
        berry_kv *kv = berry_ctx_kv(berry_lm_local_ctx(lm));
        berry_kv_stats ks;
        berry_kv_get_stats(kv, &ks);
        CHECK_EQ_INT(ks.pages_used, 0);
        CHECKF(berry_kv_check(kv, err, sizeof err) == BERRY_OK, "%s", err);
        berry_lm_free(ref);
        berry_lm_free(lm);
        berry_lm_free(dflt_inner);
    }
}
