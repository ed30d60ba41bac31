// Tests of Enhanced Borda Count (src/search/ebc.c) on preference matrices whose rankings are worked
// out by hand in the comments: a complete acyclic matrix, a preference cycle, pairs never compared
// (filled by the transitive closure), exact ties, and the probability helpers.
#include "test.h"
#include "search/ebc.h"
#include <math.h>

// Builds the full (n, n) matrix from the upper triangle U (P(i > j) for i < j, row by row); the lower
// triangle is 1 - P, NaN stays NaN.
static void full(double *p, int n, const double *u) {
    int k = 0;
    for (int i = 0; i < n; i++) {
        p[i * n + i] = NAN;
        for (int j = i + 1; j < n; j++, k++) {
            p[i * n + j] = u[k];
            p[j * n + i] = isnan(u[k]) ? NAN : 1 - u[k];
        }
    }
}

TEST(ebc_complete_acyclic_matrix) {
    // P(0>1)=.9 P(0>2)=.3 P(0>3)=.6 P(1>2)=.2 P(1>3)=.45 P(2>3)=.7
    // Wins: 0 beats 1,3 (B=2); 1 beats none (B=0); 2 beats 0,1,3 (B=3); 3 beats 1 (B=1).
    // Ranks: 2 -> 1, 0 -> 2, 3 -> 3, 1 -> 4. S: 0: .9+.3+.6=1.8, 1: .1+.2+.45=.75, 2: .7+.8+.7=2.2, 3: .4+.55+.3=1.25.
    double u[] = {.9, .3, .6, .2, .45, .7}, p[16];
    full(p, 4, u);
    berry_ebc e;
    char err[128];
    CHECK(berry_ebc_rank(p, 4, &e, err, sizeof err) == BERRY_OK);
    int want_rank[] = {2, 4, 1, 3}, want_b[] = {2, 0, 3, 1}, want_order[] = {2, 0, 3, 1};
    double want_s[] = {1.8, .75, 2.2, 1.25};
    for (int i = 0; i < 4; i++) {
        CHECK_EQ_INT(e.rank[i], want_rank[i]);
        CHECK_EQ_INT(e.borda[i], want_b[i]);
        CHECK_EQ_INT(e.order[i], want_order[i]);
        CHECK_NEAR(e.psum[i], want_s[i], 1e-12);
    }
    // Q_g = 1 - (rank - 1)/(4 - 1): ranks 1..4 -> 1, 2/3, 1/3, 0.
    CHECK_NEAR(berry_ebc_global_value(e.rank[2], 4), 1.0, 1e-12);
    CHECK_NEAR(berry_ebc_global_value(e.rank[0], 4), 2.0 / 3, 1e-12);
    CHECK_NEAR(berry_ebc_global_value(e.rank[3], 4), 1.0 / 3, 1e-12);
    CHECK_NEAR(berry_ebc_global_value(e.rank[1], 4), 0.0, 1e-12);
    berry_ebc_free(&e);
}

TEST(ebc_cycle_is_closed_and_broken_by_probability_sums) {
    // A cycle 0 > 1 (.8), 1 > 2 (.7), 2 > 0 (P(0>2) = .1); all three beat 3: P(0>3)=.6 P(1>3)=.9 P(2>3)=.7.
    // Before the closure each of 0,1,2 has B = 2; after it each beats the two others and 3: B = 3, 3 has 0.
    // Ties by S: S0 = .8+.1+.6 = 1.5, S1 = .2+.7+.9 = 1.8, S2 = .9+.3+.7 = 1.9 -> order 2, 1, 0, then 3.
    double u[] = {.8, .1, .6, .7, .9, .7}, p[16];
    full(p, 4, u);
    berry_ebc e;
    CHECK(berry_ebc_rank(p, 4, &e, NULL, 0) == BERRY_OK);
    int want_b[] = {3, 3, 3, 0}, want_order[] = {2, 1, 0, 3};
    for (int i = 0; i < 4; i++) {
        CHECK_EQ_INT(e.borda[i], want_b[i]);
        CHECK_EQ_INT(e.order[i], want_order[i]);
    }
    berry_ebc_free(&e);
}

TEST(ebc_transitive_closure_fills_pairs_never_compared) {
    // Only a chain was compared: P(0>1)=.55, P(1>2)=.9, P(2>3)=.95; the other pairs are unknown.
    // Without the closure B would be 1,1,1,0 and S (0: .55, 1: .45+.9=1.35, 2: .1+.95=1.05) would order
    // 1, 2, 0, 3. With it, 0 beats 1,2,3 (B=3), 1 beats 2,3 (B=2), 2 beats 3 (B=1): order 0, 1, 2, 3.
    double u[] = {.55, NAN, NAN, .9, NAN, .95}, p[16];
    full(p, 4, u);
    berry_ebc e;
    CHECK(berry_ebc_rank(p, 4, &e, NULL, 0) == BERRY_OK);
    for (int i = 0; i < 4; i++) {
        CHECK_EQ_INT(e.borda[i], 3 - i);
        CHECK_EQ_INT(e.rank[i], i + 1);
    }
    CHECK_NEAR(e.psum[1], 1.35, 1e-12);
    berry_ebc_free(&e);
}

TEST(ebc_exact_ties) {
    // P(0>1) = .5 exactly: each prefers the other (both get a point). P(0>2)=.8, P(1>2)=.6.
    // B0 = 2, B1 = 2, B2 = 0; S0 = .5+.8 = 1.3 > S1 = .5+.6 = 1.1, so 0 ranks first.
    double u[] = {.5, .8, .6}, p[9];
    full(p, 3, u);
    berry_ebc e;
    CHECK(berry_ebc_rank(p, 3, &e, NULL, 0) == BERRY_OK);
    CHECK_EQ_INT(e.borda[0], 2);
    CHECK_EQ_INT(e.borda[1], 2);
    CHECK_EQ_INT(e.borda[2], 0);
    CHECK_EQ_INT(e.rank[0], 1);
    CHECK_EQ_INT(e.rank[1], 2);
    berry_ebc_free(&e);
    // A complete tie (equal counts and sums) falls back to the index.
    double q[4] = {NAN, .5, .5, NAN};
    CHECK(berry_ebc_rank(q, 2, &e, NULL, 0) == BERRY_OK);
    CHECK_EQ_INT(e.rank[0], 1);
    CHECK_EQ_INT(e.rank[1], 2);
    berry_ebc_free(&e);
    // Nothing to rank, and one solution (Q_g = 1 by convention).
    CHECK(berry_ebc_rank(NULL, 0, &e, NULL, 0) == BERRY_OK);
    berry_ebc_free(&e);
    CHECK_NEAR(berry_ebc_global_value(1, 1), 1.0, 0);
    // Five solutions: ranks 1..5 -> 1, .75, .5, .25, 0.
    for (int r = 1; r <= 5; r++) CHECK_NEAR(berry_ebc_global_value(r, 5), 1.0 - 0.25 * (r - 1), 1e-12);
}

TEST(ebc_yes_no_probabilities_and_both_orders) {
    // P(Yes) = e^ly / (e^ly + e^ln): log .8 and log .2 give .8; 1000 and 999 give 1/(1+e^-1) without overflow.
    CHECK_NEAR(berry_ebc_p_yes(log(0.8), log(0.2)), 0.8, 1e-12);
    CHECK_NEAR(berry_ebc_p_yes(1000, 999), 0.7310585786300049, 1e-12);
    CHECK_NEAR(berry_ebc_p_yes(0, -INFINITY), 1.0, 0);
    CHECK_NEAR(berry_ebc_p_yes(-INFINITY, -INFINITY), 0.5, 0);
    // Both orders: (P_yes(a,b) + 1 - P_yes(b,a)) / 2: (.8 + .6)/2 = .7. A judge that always says Yes with
    // .9 whatever the order is pure position bias: (.9 + .1)/2 = .5.
    CHECK_NEAR(berry_ebc_both_orders(0.8, 0.4), 0.7, 1e-12);
    CHECK_NEAR(berry_ebc_both_orders(0.9, 0.9), 0.5, 1e-12);
}
