// Prefix reuse during a search, on the embedded model (models/berry-tiny.gguf; skips visibly without it).
// A recording wrapper around the local lm tokenizes every prompt the search sends and keeps every
// sequence the KV cache holds afterwards (prompts, and prompts followed by their generated tokens). From
// those alone it computes, per prompt, the longest prefix shared with anything computed before (L):
//   - no prefix cache can evaluate fewer than n - min(L, n - 1) tokens of an n-token prompt (the last
//     token is always computed, for its logits), and an identical prompt earlier in the same generate
//     call costs nothing (it is forked);
//   - berry's cache reuses whole pages of P tokens, so it must evaluate at most n - P*floor(min(L, n-1)/P).
// The test checks the counted tokens against both bounds (a cache that missed a page would exceed the
// second), that without the cache every prompt token is evaluated, and that the cache changes no text.
#include "test.h"
#include "base/alloc.h"
#include "lm/lm.h"
#include "lm/lm_local.h"
#include "model/forward.h"
#include "model/kvcache.h"
#include "search/search.h"
#include "text/tokenizer.h"
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct {
    int32_t *t;
    int n;
} tseq;

typedef struct {
    berry_lm *inner;
    const berry_tokenizer *tok;
    int page;
    tseq *held;          // sequences the cache holds after the calls so far
    int n_held, cap_held;
    int64_t lower, upper;  // the bounds above, summed over prompts (plus continuation tokens of scores)
    int64_t submitted;     // prompt tokens submitted
    int64_t cont_extra;    // continuation tokens of scores evaluated beyond the prompt
    int batches;           // batched score calls
} recorder;

static tseq tokenize(const recorder *r, const char *text) {
    size_t len = strlen(text);
    tseq s = {malloc((len + 8) * sizeof(int32_t)), 0};
    char err[128];
    int64_t n = s.t ? berry_tokenize(r->tok, text, len, true, true, s.t, (int64_t)len + 8, err, sizeof err) : -1;
    s.n = n > 0 && n <= (int64_t)len + 8 ? (int)n : 0;
    return s;
}

static int lcp(const tseq *a, const tseq *b) {
    int m = 0, lim = a->n < b->n ? a->n : b->n;
    while (m < lim && a->t[m] == b->t[m]) m++;
    return m;
}

static void hold(recorder *r, tseq s) {
    if (r->n_held == r->cap_held) {
        r->cap_held = r->cap_held ? 2 * r->cap_held : 256;
        r->held = realloc(r->held, (size_t)r->cap_held * sizeof *r->held);
    }
    r->held[r->n_held++] = s;
}

// Adds the bounds of prompt P, given the EXTRA sequences of the same call (earlier prompts) that also
// count as shared; FORK: identical to one of them.
static void bound(recorder *r, const tseq *p, const tseq *extra, int n_extra) {
    r->submitted += p->n;  // the lm counts a forked prompt's tokens as submitted too
    int L = 0;
    for (int i = 0; i < r->n_held; i++) { int m = lcp(p, &r->held[i]); L = m > L ? m : L; }
    for (int i = 0; i < n_extra; i++) {
        if (extra[i].n == p->n && lcp(p, &extra[i]) == p->n) return;  // forked: nothing evaluated
        int m = lcp(p, &extra[i]);
        L = m > L ? m : L;
    }
    int reuse = L < p->n - 1 ? L : p->n - 1;
    r->lower += p->n - reuse;
    r->upper += p->n - reuse / r->page * r->page;
}

static recorder *R(berry_lm *lm) { return lm->impl; }

static berry_status rec_generate(berry_lm *lm, const berry_lm_request *reqs, int n, berry_lm_output *out, char *err,
                                 size_t err_size) {
    recorder *r = R(lm);
    tseq *ps = calloc((size_t)n + 1, sizeof *ps);
    berry_lm_request *rq = calloc((size_t)n + 1, sizeof *rq);
    for (int i = 0; i < n; i++) {
        ps[i] = tokenize(r, reqs[i].prompt);
        bound(r, &ps[i], ps, i);
        rq[i] = reqs[i];
        rq[i].sampling.want_tokens = true;  // to know the generated positions the cache keeps
    }
    berry_status s = berry_lm_generate(r->inner, rq, n, out, err, err_size);
    lm->counters = r->inner->counters;
    for (int i = 0; i < n; i++) {
        if (s == BERRY_OK && out[i].n_tokens > 1) {
            // The last generated token is never fed back: the cache holds prompt + the others.
            tseq g = {malloc(((size_t)ps[i].n + (size_t)out[i].n_tokens) * sizeof(int32_t)), ps[i].n + out[i].n_tokens - 1};
            memcpy(g.t, ps[i].t, (size_t)ps[i].n * sizeof(int32_t));
            memcpy(g.t + ps[i].n, out[i].tokens, (size_t)(out[i].n_tokens - 1) * sizeof(int32_t));
            hold(r, g);
        }
        hold(r, ps[i]);
        if (s == BERRY_OK && !reqs[i].sampling.want_tokens) {
            free(out[i].tokens);
            free(out[i].token_logprobs);
            out[i].tokens = NULL;
            out[i].token_logprobs = NULL;
        }
    }
    free(ps);
    free(rq);
    return s;
}

// The bounds of one scored prompt: it reuses from everything computed before it (not forked even when
// identical to an earlier prompt: its last token is evaluated again, for its logits).
static void bound_score(recorder *r, const char *prompt, const char *const *conts, int n) {
    tseq p = tokenize(r, prompt);
    bound(r, &p, NULL, 0);
    // Continuations of more than one token run on a fork of the prompt, every token but the last.
    for (int i = 0; i < n; i++) {
        char e[128];
        int32_t buf[64];
        int64_t nc = berry_tokenize(r->tok, conts[i], strlen(conts[i]), false, true, buf, 64, e, sizeof e);
        if (nc > 1) { r->lower += nc - 1; r->upper += nc - 1; r->cont_extra += nc - 1; }
    }
    hold(r, p);
}

static berry_status rec_score(berry_lm *lm, const char *prompt, const char *const *conts, int n, double *logprob,
                              char *err, size_t err_size) {
    recorder *r = R(lm);
    bound_score(r, prompt, conts, n);
    berry_status s = berry_lm_score(r->inner, prompt, conts, n, logprob, err, err_size);
    lm->counters = r->inner->counters;
    return s;
}

// A batched call has the bounds of its prompts scored one after another in its order: each reuses from
// the cache and from the prompts before it, which the batch evaluates in one forward per level of their
// shared prefixes but must not evaluate more (upper bound) or less (lower bound) of than sequential calls.
static berry_status rec_score_batch(berry_lm *lm, const berry_lm_score_request *reqs, int n, berry_status *status,
                                    char *err, size_t err_size) {
    recorder *r = R(lm);
    for (int i = 0; i < n; i++) bound_score(r, reqs[i].prompt, reqs[i].conts, reqs[i].n_conts);
    r->batches++;
    berry_status s = berry_lm_score_batch(r->inner, reqs, n, status, err, err_size);
    lm->counters = r->inner->counters;
    return s;
}

static char *rec_chat(berry_lm *lm, const berry_chat_msg *msgs, int n, bool add) { return berry_lm_chat(R(lm)->inner, msgs, n, add); }
static void rec_free(berry_lm *lm) { (void)lm; }
static const berry_lm_vtable rec_vt = {.generate = rec_generate, .score = rec_score, .chat = rec_chat, .free = rec_free,
                                       .score_batch = rec_score_batch};

static void recorder_clear(recorder *r) {
    for (int i = 0; i < r->n_held; i++) free(r->held[i].t);
    free(r->held);
}

static const char *model_path(void) {
    const char *p = berry_test_path("models/berry-tiny.gguf");
    struct stat st;
    return p && stat(p, &st) == 0 ? p : NULL;
}

// A level-2 problem in the curriculum's wording (not from the test split).
static const char *const PROBLEM =
    "Nora has 14 stickers. She buys 9 more stickers. Then she gives 6 stickers to Leo. How many stickers does Nora have now?";

TEST(search_prefix_reuse_meets_the_page_bounds) {
    const char *path = model_path();
    if (!path) SKIP("models/berry-tiny.gguf is missing (make model SHIP=1 builds it)");
    char err[256];
    berry_prompts pp;
    CHECK(berry_prompts_init(&pp, BERRY_PROMPTS_EMBEDDED, err, sizeof err) == BERRY_OK);
    berry_search_params sp = berry_search_defaults(BERRY_SEARCH_SR_MCTS);
    sp.rollouts = 8;
    sp.seed = 3;
    sp.solve.max_tokens = sp.critique.max_tokens = sp.rewrite.max_tokens = 96;
    berry_search_result res[2];
    recorder rec[2];
    int64_t evaluated[2], prompt[2];
    for (int k = 0; k < 2; k++) {  // k = 0: with the prefix cache; 1: without
        berry_lm_local_params lp = {.model_path = path, .n_threads = 1, .n_ctx = 512, .no_prefix_cache = k == 1};
        berry_lm *inner = berry_lm_local_open(&lp, err, sizeof err);
        CHECKF(inner, "%s", err);
        berry_kv *kv = berry_ctx_kv(berry_lm_local_ctx(inner));
        rec[k] = (recorder){.inner = inner, .tok = berry_lm_local_tokenizer(inner), .page = berry_kv_page_tokens(kv)};
        berry_lm wrap = {.vt = &rec_vt, .impl = &rec[k]};
        CHECKF(berry_search_solve(&wrap, NULL, &pp, NULL, PROBLEM, &sp, &res[k], err, sizeof err) == BERRY_OK, "%s", err);
        evaluated[k] = inner->counters.prompt_tokens_evaluated;
        prompt[k] = inner->counters.prompt_tokens;
        berry_kv_stats st;
        berry_kv_get_stats(kv, &st);
        CHECK_EQ_INT(st.pages_evicted, 0);  // the bound assumes nothing was evicted
        if (k == 0) CHECK_EQ_INT(rec[k].page, 4);  // lm_local's default page
        berry_lm_free(inner);
    }
    CHECK_EQ_INT(res[0].rollouts, 8);
    CHECK_EQ_INT(res[0].comparisons, 72);  // 9 solutions, every pair in both orders: 9 * 8
    CHECK_EQ_INT(rec[0].batches, 16);       // in one batched call per new solution and order: 8 * 2
    // The recorder saw every prompt token the lm counted.
    CHECK_EQ_INT(rec[0].submitted, prompt[0]);
    CHECK_EQ_INT(rec[1].submitted, prompt[1]);
    // Without the cache every prompt token is evaluated (and the Yes/No continuations' extra tokens).
    CHECK_EQ_INT(evaluated[1], prompt[1] + rec[1].cont_extra);
    CHECKF(evaluated[0] >= rec[0].lower && evaluated[0] <= rec[0].upper,
           "evaluated %lld, bounds [%lld, %lld] of %lld submitted", (long long)evaluated[0], (long long)rec[0].lower,
           (long long)rec[0].upper, (long long)prompt[0]);
    // The cache changes no text: the same tree, node by node.
    CHECK_EQ_INT(res[0].tree.n, res[1].tree.n);
    for (int i = 1; i < res[0].tree.n && i < res[1].tree.n; i++)
        CHECKF(!strcmp(res[0].tree.node[i].solution, res[1].tree.node[i].solution), "node %d differs", i);
    fprintf(stderr, "    evaluated %lld within [%lld, %lld] of %lld submitted (%.2fx fewer)\n", (long long)evaluated[0],
            (long long)rec[0].lower, (long long)rec[0].upper, (long long)prompt[0], (double)prompt[0] / (double)evaluated[0]);
    // The saving, for the record (docs/search.md has the figures over the test split): at least 2x here,
    // since every comparison prompt repeats the question and solution A.
    CHECKF(prompt[0] >= 2 * evaluated[0], "%lld of %lld", (long long)evaluated[0], (long long)prompt[0]);
    for (int k = 0; k < 2; k++) { berry_search_result_free(&res[k]); recorder_clear(&rec[k]); }
    berry_prompts_free(&pp);
}
