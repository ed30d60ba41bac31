// Tests of the samplers: filtered and renormalized distributions against tests/data/sampler_ref.txt
// (written by tests/ref/sampler.py with NumPy, an independent implementation of the same definitions),
// hand-computed cases, seeded determinism, a chi-square test of sampled frequencies, and top-k / top-p
// on a 150k vocabulary against a full qsort done here.
#include "test.h"
#include "base/rng.h"
#include "text/sampler.h"
#include <stdlib.h>

// ------------------------------------------------------------ the NumPy fixture

typedef struct {
    char name[64];
    int n, top_k, m, n_lp;
    float temp, top_p, min_p;
    float *logits;
    int32_t *ids, *lp_ids;
    double *probs, *lps;
} ref_case;

static int read_cases(ref_case *cs, int max) {
    FILE *f = fopen(berry_test_path("tests/data/sampler_ref.txt"), "r");
    if (!f) return -1;
    int n = 0;
    char word[64];
    while (n < max && fscanf(f, "%63s", word) == 1) {
        if (strcmp(word, "case") != 0) break;
        ref_case *c = &cs[n];
        if (fscanf(f, "%63s %d %f %d %f %f", c->name, &c->n, &c->temp, &c->top_k, &c->top_p, &c->min_p) != 6) break;
        c->logits = malloc((size_t)c->n * sizeof *c->logits);
        c->ids = malloc((size_t)c->n * sizeof *c->ids);
        c->probs = malloc((size_t)c->n * sizeof *c->probs);
        c->lp_ids = malloc(16 * sizeof *c->lp_ids);
        c->lps = malloc(16 * sizeof *c->lps);
        if (fscanf(f, "%63s", word) != 1 || strcmp(word, "logits")) break;
        for (int i = 0; i < c->n; i++) {
            if (fscanf(f, "%63s", word) != 1) goto out;
            c->logits[i] = strtof(word, NULL);  // also reads "-inf"
        }
        if (fscanf(f, "%63s %d", word, &c->m) != 2 || strcmp(word, "dist") || c->m > c->n) break;
        for (int i = 0; i < c->m; i++)
            if (fscanf(f, "%d %lf", &c->ids[i], &c->probs[i]) != 2) goto out;
        if (fscanf(f, "%63s %d", word, &c->n_lp) != 2 || strcmp(word, "logprobs") || c->n_lp > 16) break;
        for (int i = 0; i < c->n_lp; i++)
            if (fscanf(f, "%d %lf", &c->lp_ids[i], &c->lps[i]) != 2) goto out;
        n++;
    }
out:
    fclose(f);
    return n;
}

static berry_sampler *sampler_for(const ref_case *c, uint64_t seed) {
    berry_sampler_params p = {.temperature = c->temp, .top_k = c->top_k, .top_p = c->top_p, .min_p = c->min_p,
                              .seed = seed, .logprobs = true};
    return berry_sampler_create(&p, NULL, 0);
}

TEST(sampler_distributions_match_numpy_reference) {
    static ref_case cs[32];
    int n = read_cases(cs, 32);
    if (n < 0) SKIP("tests/data/sampler_ref.txt is missing (run /usr/bin/python3 tests/ref/sampler.py)");
    CHECK_EQ_INT(n, 11);
    for (int k = 0; k < n; k++) {
        ref_case *c = &cs[k];
        berry_sampler *s = sampler_for(c, 1);
        CHECK(s);
        int32_t *ids = malloc((size_t)c->n * sizeof *ids);
        float *probs = malloc((size_t)c->n * sizeof *probs), lp;
        int m = 0;
        char err[200];
        CHECKF(berry_sampler_dist(s, c->logits, c->n, ids, probs, &m, err, sizeof err) == BERRY_OK, "%s", err);
        CHECKF(m == c->m, "case %s: %d tokens survive, NumPy keeps %d", c->name, m, c->m);
        for (int i = 0; i < m; i++) {
            CHECKF(ids[i] == c->ids[i], "case %s: rank %d is token %d, NumPy has %d", c->name, i, ids[i], c->ids[i]);
            CHECKF(fabs(probs[i] - c->probs[i]) <= 1e-6 + 1e-5 * c->probs[i], "case %s: p(%d) = %.9g, NumPy %.9g",
                   c->name, ids[i], probs[i], c->probs[i]);
        }
        for (int i = 0; i < c->n_lp; i++) {
            CHECK(berry_sampler_logprobs(c->logits, c->n, &c->lp_ids[i], 1, &lp, err, sizeof err) == BERRY_OK);
            if (isinf(c->lps[i])) CHECK(isinf(lp) && lp < 0);
            else CHECKF(fabs(lp - c->lps[i]) <= 1e-5, "case %s: logprob(%d) = %.9g, NumPy %.9g", c->name,
                        c->lp_ids[i], lp, c->lps[i]);
        }
        // Drawn tokens are among the survivors, with the reference's probability and log-softmax.
        for (int r = 0; r < 50; r++) {
            berry_sample smp;
            CHECK(berry_sampler_sample(s, c->logits, c->n, &smp, err, sizeof err) == BERRY_OK);
            int at = -1;
            for (int i = 0; i < c->m; i++)
                if (c->ids[i] == smp.token) at = i;
            CHECKF(at >= 0, "case %s: drew token %d, which NumPy filters out", c->name, smp.token);
            CHECK_NEAR(smp.logprob_sampler, log(c->probs[at]), 2e-5);
            CHECK(berry_sampler_logprobs(c->logits, c->n, &smp.token, 1, &lp, NULL, 0) == BERRY_OK);
            CHECK_NEAR(smp.logprob, lp, 1e-6);
        }
        free(ids);
        free(probs);
        berry_sampler_free(s);
    }
}

// ------------------------------------------------------------ hand-computed cases

// The distribution for PARAMS over LOGITS (n); checks it is exactly the tokens EXPECT_IDS with
// probabilities EXPECT_P (to 1e-6), in that order.
static int dist_is(const float *logits, int n, berry_sampler_params p, const int32_t *expect_ids, const double *expect_p,
                   int m_expect) {
    berry_sampler *s = berry_sampler_create(&p, NULL, 0);
    int32_t ids[16];
    float probs[16];
    int m = 0, ok = s && berry_sampler_dist(s, logits, n, ids, probs, &m, NULL, 0) == BERRY_OK && m == m_expect;
    for (int i = 0; ok && i < m; i++) ok = ids[i] == expect_ids[i] && fabs(probs[i] - expect_p[i]) < 1e-6;
    if (!ok) {
        fprintf(stderr, "    got %d tokens:", m);
        for (int i = 0; i < m; i++) fprintf(stderr, " %d:%.7f", ids[i], probs[i]);
        fprintf(stderr, "\n");
    }
    berry_sampler_free(s);
    return ok;
}

#define IDS(...) (const int32_t[]){__VA_ARGS__}
#define PS(...) (const double[]){__VA_ARGS__}

TEST(sampler_hand_computed_filters) {
    // p = (0.1, 0.4, 0.2, 0.3); sorted: token 1 (0.4), 3 (0.3), 2 (0.2), 0 (0.1).
    float l[4] = {logf(0.1f), logf(0.4f), logf(0.2f), logf(0.3f)};
    berry_sampler_params p = {.temperature = 1};
    // Filters off: the softmax itself.
    CHECK(dist_is(l, 4, p, IDS(1, 3, 2, 0), PS(0.4, 0.3, 0.2, 0.1), 4));
    // top-p 0.6: 0.4 < 0.6, 0.4 + 0.3 = 0.7 >= 0.6, so {1, 3}, renormalized 4/7, 3/7.
    p.top_p = 0.6f;
    CHECK(dist_is(l, 4, p, IDS(1, 3), PS(4.0 / 7, 3.0 / 7), 2));
    // top-p 0.75: 0.7 < 0.75 <= 0.9: three tokens, over 0.9.
    p.top_p = 0.75f;
    CHECK(dist_is(l, 4, p, IDS(1, 3, 2), PS(0.4 / 0.9, 0.3 / 0.9, 0.2 / 0.9), 3));
    // min-p 0.6: p >= 0.6 * 0.4 = 0.24 keeps 0.4 and 0.3; min-p 0.8: p >= 0.32 keeps 0.4 alone.
    p = (berry_sampler_params){.temperature = 1, .min_p = 0.6f};
    CHECK(dist_is(l, 4, p, IDS(1, 3), PS(4.0 / 7, 3.0 / 7), 2));
    p.min_p = 0.8f;
    CHECK(dist_is(l, 4, p, IDS(1), PS(1.0), 1));
    // top-k 2 at temperature 0.5: p ~ p^2 over {0.4, 0.3}: 0.16 / 0.25, 0.09 / 0.25.
    p = (berry_sampler_params){.temperature = 0.5f, .top_k = 2};
    CHECK(dist_is(l, 4, p, IDS(1, 3), PS(0.64, 0.36), 2));
    // top-p renormalizes after top-k: top-k 2 leaves (4/7, 3/7), and 4/7 = 0.571 >= 0.55 alone. Without
    // top-k, 0.4 < 0.55 and two tokens survive.
    p = (berry_sampler_params){.temperature = 1, .top_k = 2, .top_p = 0.55f};
    CHECK(dist_is(l, 4, p, IDS(1), PS(1.0), 1));
    p.top_k = 0;
    CHECK(dist_is(l, 4, p, IDS(1, 3), PS(4.0 / 7, 3.0 / 7), 2));
    // min-p after top-p: top-p 0.95 keeps all four (0.9 < 0.95), min-p 0.3 then needs p >= 0.12.
    p = (berry_sampler_params){.temperature = 1, .top_p = 0.95f, .min_p = 0.3f};
    CHECK(dist_is(l, 4, p, IDS(1, 3, 2), PS(0.4 / 0.9, 0.3 / 0.9, 0.2 / 0.9), 3));
    // Temperature comes last: top-p 0.6 at T = 4 keeps {1, 3} (decided at T = 1), then p ~ p^(1/4):
    // 0.4^0.25 = 0.795271, 0.3^0.25 = 0.740083, so 0.517964 and 0.482036. Tempering first would have
    // flattened the distribution to (0.287, 0.268, 0.242, 0.203) and kept three tokens.
    p = (berry_sampler_params){.temperature = 4, .top_p = 0.6f};
    double a = pow(0.4, 0.25), b = pow(0.3, 0.25);
    CHECK(dist_is(l, 4, p, IDS(1, 3), PS(a / (a + b), b / (a + b)), 2));
    // Tokens at -inf are never candidates.
    float li[3] = {0, -INFINITY, 0};
    p = (berry_sampler_params){.temperature = 1};
    CHECK(dist_is(li, 3, p, IDS(0, 2), PS(0.5, 0.5), 2));
}

TEST(sampler_greedy_and_logprobs_by_hand) {
    // Greedy ties break to the lowest id: tokens 1 and 2 share the maximum 3.
    float l[4] = {1, 3, 3, 2};
    berry_sampler_params p = {.temperature = 0, .logprobs = true};
    berry_sampler *s = berry_sampler_create(&p, NULL, 0);
    berry_sample out;
    CHECK(berry_sampler_sample(s, l, 4, &out, NULL, 0) == BERRY_OK);
    CHECK_EQ_INT(out.token, 1);
    CHECK_NEAR(out.logprob_sampler, 0, 0);
    // log softmax at 3: 3 - log(e + 2e^3 + e^2).
    CHECK_NEAR(out.logprob, 3 - log(exp(1) + 2 * exp(3) + exp(2)), 1e-6);
    berry_sampler_free(s);
    p.logprobs = false;
    s = berry_sampler_create(&p, NULL, 0);
    CHECK(berry_sampler_sample(s, l, 4, &out, NULL, 0) == BERRY_OK);
    CHECK(isnan(out.logprob));
    berry_sampler_free(s);
    // log-probs of given tokens: (ln 1, ln 3) gives log 1/4 and log 3/4; rows one token each.
    float two[4] = {0, logf(3), 0, 0};
    int32_t t[2] = {0, 1};
    float lp[2];
    CHECK(berry_sampler_logprobs(two, 2, t, 2, lp, NULL, 0) == BERRY_OK);
    CHECK_NEAR(lp[0], log(0.25), 1e-6);
    CHECK_NEAR(lp[1], log(0.75), 1e-6);
    // Rows: (0, ln 3) with token 1, then (0, 0) with token 0.
    CHECK(berry_sampler_logprobs_rows(two, 2, 2, IDS(1, 0), lp, NULL, 0) == BERRY_OK);
    CHECK_NEAR(lp[0], log(0.75), 1e-6);
    CHECK_NEAR(lp[1], log(0.5), 1e-6);
    // Large logits do not overflow: softmax(1000, 1000 + ln 3) = (1/4, 3/4).
    float big[2] = {1000, 1000 + logf(3)};
    CHECK(berry_sampler_logprobs(big, 2, t, 2, lp, NULL, 0) == BERRY_OK);
    CHECK_NEAR(lp[1], log(0.75), 1e-4);
}

TEST(sampler_rejects_hostile_input) {
    char err[200] = "";
    berry_sampler_params bad[] = {{.temperature = -1}, {.temperature = NAN}, {.top_k = -2}, {.top_p = 1.5f},
                                  {.min_p = -0.1f}, {.top_p = NAN}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = 0;
        CHECK(berry_sampler_create(&bad[i], err, sizeof err) == NULL);
        CHECK(err[0] != 0);
    }
    berry_sampler_params p = berry_sampler_default_params();
    berry_sampler *s = berry_sampler_create(&p, err, sizeof err);
    CHECK(s);
    berry_sample out;
    float nan_row[3] = {0, NAN, 1}, inf_row[2] = {0, INFINITY}, ninf[2] = {-INFINITY, -INFINITY}, ok[2] = {0, 1};
    CHECK(berry_sampler_sample(s, nan_row, 3, &out, err, sizeof err) == BERRY_EINVAL);
    CHECK(strstr(err, "NaN") != NULL);
    CHECK(berry_sampler_sample(s, inf_row, 2, &out, err, sizeof err) == BERRY_EINVAL);
    CHECK(berry_sampler_sample(s, ninf, 2, &out, err, sizeof err) == BERRY_EINVAL);
    CHECK(berry_sampler_sample(s, ok, 0, &out, err, sizeof err) == BERRY_EINVAL);
    CHECK(berry_sampler_sample(s, NULL, 2, &out, err, sizeof err) == BERRY_EINVAL);
    float lp;
    CHECK(berry_sampler_logprobs(ok, 2, IDS(2), 1, &lp, err, sizeof err) == BERRY_EINVAL);
    CHECK(berry_sampler_logprobs(ok, 2, IDS(-1), 1, &lp, err, sizeof err) == BERRY_EINVAL);
    CHECK(berry_sampler_sample(s, ok, 2, &out, err, sizeof err) == BERRY_OK);
    berry_sampler_free(s);
    // A temperature whose inverse overflows: only the maxima (here tokens 1 and 2, tied) can be drawn,
    // each with probability 1/2.
    p = (berry_sampler_params){.temperature = 1e-40f};
    s = berry_sampler_create(&p, err, sizeof err);
    float tied[3] = {0, 1, 1};
    for (int i = 0; i < 20; i++) {
        CHECK(berry_sampler_sample(s, tied, 3, &out, err, sizeof err) == BERRY_OK);
        CHECK(out.token == 1 || out.token == 2);
        CHECK_NEAR(out.logprob_sampler, log(0.5), 1e-6);
    }
    berry_sampler_free(s);
    berry_sampler_free(NULL);
}

// ------------------------------------------------------------ randomness

TEST(sampler_is_deterministic_for_a_seed) {
    enum { N = 1000, DRAWS = 500 };
    static float l[N];
    berry_rng r;
    berry_rng_seed(&r, 5, 0);
    for (int i = 0; i < N; i++) l[i] = 2 * berry_rng_normal(&r);
    berry_sampler_params p = {.temperature = 1.0f, .top_k = 100, .top_p = 0.98f, .seed = 7};
    berry_sampler *a = berry_sampler_create(&p, NULL, 0), *b = berry_sampler_create(&p, NULL, 0);
    p.seed = 8;
    berry_sampler *c = berry_sampler_create(&p, NULL, 0);
    static int32_t first[DRAWS];
    int differ = 0;
    for (int i = 0; i < DRAWS; i++) {
        berry_sample x, y, z;
        CHECK(berry_sampler_sample(a, l, N, &x, NULL, 0) == BERRY_OK);
        CHECK(berry_sampler_sample(b, l, N, &y, NULL, 0) == BERRY_OK);
        CHECK(berry_sampler_sample(c, l, N, &z, NULL, 0) == BERRY_OK);
        CHECK_EQ_INT(x.token, y.token);
        differ += x.token != z.token;
        first[i] = x.token;
    }
    CHECK(differ > DRAWS / 2);  // another seed gives another sequence
    berry_sampler_seed(a, 7, 0);  // restarting the stream replays it
    for (int i = 0; i < DRAWS; i++) {
        berry_sample x;
        CHECK(berry_sampler_sample(a, l, N, &x, NULL, 0) == BERRY_OK);
        CHECK_EQ_INT(x.token, first[i]);
    }
    berry_sampler_free(a);
    berry_sampler_free(b);
    berry_sampler_free(c);
}

TEST(sampler_frequencies_pass_chi_square) {
    // The "chi_square" case of the NumPy fixture: 10 logits, top-k 8, top-p 0.9, temperature 0.7 keep 7
    // tokens. 20000 draws; the statistic sum (obs - N p)^2 / (N p) against NumPy's probabilities must
    // stay below 27.86, chi-square's upper 1e-4 quantile for 6 degrees of freedom (computed with SymPy's
    // upper incomplete gamma), so a correct sampler fails with probability 1e-4 for a random seed, and
    // never for this fixed one (it measures 12.2). The same draws tested against a plausible wrong
    // distribution, the same 7 tokens without the temperature, score 522: the last CHECK keeps that
    // power visible. Measured on wrong variants of sampler.c: temperature 15% off scores 55.6, a draw
    // loop that stops at u <= 0.98 * cumulative (a small bias toward the first tokens) 135.
    static ref_case cs[32];
    int n = read_cases(cs, 32);
    if (n < 0) SKIP("tests/data/sampler_ref.txt is missing (run /usr/bin/python3 tests/ref/sampler.py)");
    ref_case *c = NULL;
    for (int i = 0; i < n; i++)
        if (!strcmp(cs[i].name, "chi_square")) c = &cs[i];
    CHECK(c && c->m == 7);
    enum { DRAWS = 20000 };
    berry_sampler *s = sampler_for(c, 99);
    int count[16] = {0};
    for (int i = 0; i < DRAWS; i++) {
        berry_sample x;
        CHECK(berry_sampler_sample(s, c->logits, c->n, &x, NULL, 0) == BERRY_OK);
        int at = -1;
        for (int j = 0; j < c->m; j++)
            if (c->ids[j] == x.token) at = j;
        CHECKF(at >= 0, "drew token %d, which the filters remove", x.token);
        count[at]++;
    }
    double chi2 = 0, chi2_wrong = 0, zw = 0;
    for (int j = 0; j < c->m; j++) zw += exp(c->logits[c->ids[j]]);
    for (int j = 0; j < c->m; j++) {
        double e = DRAWS * c->probs[j], ew = DRAWS * exp(c->logits[c->ids[j]]) / zw;
        chi2 += (count[j] - e) * (count[j] - e) / e;
        chi2_wrong += (count[j] - ew) * (count[j] - ew) / ew;
    }
    CHECKF(chi2 < 27.86, "chi-square %.2f >= 27.86 (6 degrees of freedom, p < 1e-4)", chi2);
    CHECKF(chi2_wrong > 27.86 * 4, "the wrong distribution scores only %.2f", chi2_wrong);
    berry_sampler_free(s);
}

// ------------------------------------------------------------ a large vocabulary

static int cmp_ref(const void *x, const void *y) {
    const float *a = x, *b = y;  // (logit, id) pairs stored as two floats
    if (a[0] != b[0]) return a[0] > b[0] ? -1 : 1;
    return a[1] < b[1] ? -1 : a[1] > b[1];
}

TEST(sampler_large_vocab_matches_full_sort) {
    // 150000 logits rounded to 1/8 (many ties), against qsort of all (logit desc, id asc) pairs.
    enum { N = 150000 };
    float *l = malloc(N * sizeof *l), *pairs = malloc(2 * N * sizeof *pairs), *probs = malloc(N * sizeof *probs);
    int32_t *ids = malloc(N * sizeof *ids);
    berry_rng r;
    berry_rng_seed(&r, 11, 0);
    for (int i = 0; i < N; i++) {
        l[i] = roundf(3 * berry_rng_normal(&r) * 8) / 8;
        pairs[2 * i] = l[i], pairs[2 * i + 1] = (float)i;  // ids < 2^24 are exact in float
    }
    qsort(pairs, N, 2 * sizeof(float), cmp_ref);
    // top-k 40.
    berry_sampler_params p = {.temperature = 1, .top_k = 40};
    berry_sampler *s = berry_sampler_create(&p, NULL, 0);
    int m = 0;
    CHECK(berry_sampler_dist(s, l, N, ids, probs, &m, NULL, 0) == BERRY_OK);
    CHECK_EQ_INT(m, 40);
    for (int i = 0; i < m; i++) CHECK_EQ_INT(ids[i], (int)pairs[2 * i + 1]);
    berry_sampler_free(s);
    // top-p 0.9 alone: the shortest prefix of the sorted list whose softmax mass reaches 0.9.
    double z = 0, cum = 0;
    for (int i = 0; i < N; i++) z += exp((double)pairs[2 * i] - pairs[0]);
    int L = 0;
    while (cum < 0.9f * z) cum += exp((double)pairs[2 * L++] - pairs[0]);
    CHECK(L > 1000);  // long enough to need several rounds of partial sorting
    p = (berry_sampler_params){.temperature = 1, .top_p = 0.9f};
    s = berry_sampler_create(&p, NULL, 0);
    CHECK(berry_sampler_dist(s, l, N, ids, probs, &m, NULL, 0) == BERRY_OK);
    CHECK_EQ_INT(m, L);
    for (int i = 0; i < m; i++) CHECK_EQ_INT(ids[i], (int)pairs[2 * i + 1]);
    berry_sampler_free(s);
    free(l);
    free(pairs);
    free(probs);
    free(ids);
}
