// Tests of the search tree and every method (src/search/tree.c, search.c) through the scripted fake lm
// of tests/fake_lm.c: UCT, pruning, virtual loss, both back-propagation rules, whole SR-MCTS and MCTSr
// runs, the baselines, budgets and hostile cases. Every expected value is worked out by hand in the
// comments (c = 1.4, eps = 1e-5 unless a test says otherwise).
#include "test.h"
#include "fake_lm.h"
#include "base/json.h"
#include "search/search.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

// ---- the tree alone ----

static int add(berry_search_tree *t, int parent, double q) {
    int id = berry_search_tree_add(t, parent, "s", NULL, "1");
    t->node[id].evaluated = true;
    t->node[id].q = t->node[id].base = q;
    return id;
}

TEST(search_uct_choice_and_visits) {
    // 0 -> 1 -> {2, 3}. N(v) = 1 + nodes below: N1 = 3, N2 = N3 = 1, N0 = 3 (solutions).
    berry_search_tree t;
    CHECK(berry_search_tree_init(&t) == BERRY_OK);
    int a = add(&t, 0, 0.6), b = add(&t, a, 0.2), c = add(&t, a, 0.5);
    CHECK_EQ_INT(t.node[0].visits, 3);
    CHECK_EQ_INT(t.node[a].visits, 3);
    CHECK_EQ_INT(t.node[b].visits, 1);
    berry_search_params p = berry_search_defaults(BERRY_SEARCH_SR_MCTS);
    // UCT(1) = .6 + 1.4 sqrt(ln 4 / 3.00001) = .6 + 1.4 * .6797764 = 1.5516870
    // UCT(2) = .2 + 1.4 sqrt(ln 4 / 1.00001) = .2 + 1.4 * 1.1774041 = 1.8483657
    // UCT(3) = .5 + 1.6483657 = 2.1483657
    CHECK_NEAR(berry_search_uct(&t, a, NULL, &p), 1.5516870, 1e-6);
    CHECK_NEAR(berry_search_uct(&t, b, NULL, &p), 1.8483657, 1e-6);
    CHECK_NEAR(berry_search_uct(&t, c, NULL, &p), 2.1483657, 1e-6);
    int sel[2];
    CHECK_EQ_INT(berry_search_select(&t, &p, 1, sel), 1);
    CHECK_EQ_INT(sel[0], c);
    // With c = 0 selection is greedy on Q: node 1 (.6).
    p.c = 0;
    CHECK_EQ_INT(berry_search_select(&t, &p, 1, sel), 1);
    CHECK_EQ_INT(sel[0], a);
    berry_search_tree_free(&t);
}

TEST(search_pruning_of_fully_expanded_nodes) {
    berry_search_tree t;
    CHECK(berry_search_tree_init(&t) == BERRY_OK);
    berry_search_params p = berry_search_defaults(BERRY_SEARCH_MCTSR);
    p.max_children = 2;
    int a = add(&t, 0, 0.6);
    add(&t, a, 0.2);
    CHECK(berry_search_expandable(&t, a, NULL, &p));  // 1 child < 2
    int c = add(&t, a, 0.5);
    CHECK(berry_search_expandable(&t, a, NULL, &p));  // 2 children, but the best (.5) is below .6
    t.node[c].q = 0.6;
    CHECK(!berry_search_expandable(&t, a, NULL, &p));  // best child .6 >= .6: fully expanded, pruned
    t.node[c].q = 0.7;
    CHECK(!berry_search_expandable(&t, a, NULL, &p));
    int sel[4];
    // Only the leaves 2 and 3 remain candidates, and the problem node never is.
    int n = berry_search_select(&t, &p, 1, sel);
    CHECK_EQ_INT(n, 1);
    CHECK(sel[0] != a && sel[0] != 0);
    // An unevaluated node is never selected; node 1 is again a candidate, as no evaluated child beats it.
    t.node[2].evaluated = t.node[3].evaluated = false;
    CHECK_EQ_INT(berry_search_select(&t, &p, 2, sel), 1);
    CHECK_EQ_INT(sel[0], a);
    berry_search_tree_free(&t);
}

TEST(search_virtual_loss_spreads_a_batch) {
    // 0 -> {1 (Q .9), 2 (Q .1)}; N0 = 2, N1 = N2 = 1. First pick: UCT(1) = .9 + 1.4 sqrt(ln 3) = 2.3674 >
    // UCT(2) = 1.5674 -> 1. Second pick with node 1 pending:
    //   virtual loss 0: unchanged -> 1 again (it may take a second child).
    //   virtual loss 3: N1 = 4, N0 = 5: UCT(1) = .9 + 1.4 sqrt(ln 6 / 4) = 1.83700,
    //                   UCT(2) = .1 + 1.4 sqrt(ln 6 / 1.00001) = 1.97398 -> 2.
    //   virtual loss 1: N1 = 2, N0 = 3: UCT(1) = .9 + 1.4 sqrt(ln 4 / 2.00001) = 2.06557 > UCT(2) = 1.74837 -> 1.
    berry_search_tree t;
    CHECK(berry_search_tree_init(&t) == BERRY_OK);
    add(&t, 0, 0.9);
    add(&t, 0, 0.1);
    berry_search_params p = berry_search_defaults(BERRY_SEARCH_SR_MCTS);
    int sel[3];
    p.virtual_loss = 0;
    CHECK_EQ_INT(berry_search_select(&t, &p, 2, sel), 2);
    CHECK(sel[0] == 1 && sel[1] == 1);
    p.virtual_loss = 3;
    CHECK_EQ_INT(berry_search_select(&t, &p, 2, sel), 2);
    CHECK(sel[0] == 1 && sel[1] == 2);
    int pend[3] = {0, 1, 0};
    CHECK_NEAR(berry_search_uct(&t, 1, pend, &p), 1.8369961, 1e-6);
    CHECK_NEAR(berry_search_uct(&t, 2, pend, &p), 1.9739833, 1e-6);
    p.virtual_loss = 1;
    CHECK_NEAR(berry_search_uct(&t, 1, pend, &p), 2.0655735, 1e-6);
    // A pending expansion counts as a child: with max_children 1 node 1 takes one, node 2 the other.
    p.virtual_loss = 0;
    p.max_children = 1;
    CHECK_EQ_INT(berry_search_select(&t, &p, 3, sel), 2);
    CHECK(sel[0] == 1 && sel[1] == 2);
    berry_search_tree_free(&t);
}

TEST(search_mctsr_backpropagation) {
    // R: 1 = 40, 2 = 80 (child of 1), 3 = -20 (child of 2), 4 = 60 (child of 1).
    // Q3 = -20; Q2 = (80 + -20)/2 = 30; Q4 = 60; Q1 = (40 + max(30, 60))/2 = 50.
    berry_search_tree t;
    CHECK(berry_search_tree_init(&t) == BERRY_OK);
    int a = add(&t, 0, 40), b = add(&t, a, 80), c = add(&t, b, -20), d = add(&t, a, 60);
    berry_search_mctsr_values(&t);
    CHECK_NEAR(t.node[c].q, -20, 1e-12);
    CHECK_NEAR(t.node[b].q, 30, 1e-12);
    CHECK_NEAR(t.node[d].q, 60, 1e-12);
    CHECK_NEAR(t.node[a].q, 50, 1e-12);
    // Recomputing is idempotent: R stays the base.
    berry_search_mctsr_values(&t);
    CHECK_NEAR(t.node[a].q, 50, 1e-12);
    berry_search_tree_free(&t);
}

TEST(search_srmcts_values_and_backpropagation) {
    // 1 -> {2, 3}. P(2>1) = .8, P(3>1) = .3, P(2>3) = .6.
    // Borda: 2 beats 1, 3 (B 2); 1 beats 3 (B 1); 3: 0. Ranks 2, 1, 3 -> Q_g(2) = 1, Q_g(1) = .5, Q_g(3) = 0.
    // Q_l(1) = mean(P(1>2), P(1>3)) = (.2 + .7)/2 = .45; leaves: Q_l = Q_g.
    // alpha = .5: B1 = .5*.5 + .5*.45 = .475, B2 = 1, B3 = 0.
    // gamma = .5, replayed in creation order: node 2: Q1 = .5*.475 + .5*1 = .7375; node 3: Q1 = .5*.7375 + 0 = .36875.
    berry_search_tree t;
    CHECK(berry_search_tree_init(&t) == BERRY_OK);
    int a = add(&t, 0, 0), b = add(&t, a, 0), c = add(&t, a, 0);
    double pr[3][3] = {{0, .2, .7}, {.8, 0, .6}, {.3, .4, 0}};
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++)
            if (i != j) berry_search_set_pref(&t, i + 1, j + 1, pr[i][j]);
    berry_search_params p = berry_search_defaults(BERRY_SEARCH_SR_MCTS);
    p.alpha = 0.5;
    p.gamma = 0.5;
    CHECK(berry_search_srmcts_values(&t, &p, NULL, 0) == BERRY_OK);
    CHECK_EQ_INT(t.node[b].rank, 1);
    CHECK_EQ_INT(t.node[a].rank, 2);
    CHECK_EQ_INT(t.node[c].rank, 3);
    CHECK_NEAR(t.node[a].q_global, 0.5, 1e-12);
    CHECK_NEAR(t.node[a].q_local, 0.45, 1e-12);
    CHECK_NEAR(t.node[a].base, 0.475, 1e-12);
    CHECK_NEAR(t.node[b].q, 1.0, 1e-12);
    CHECK_NEAR(t.node[c].q, 0.0, 1e-12);
    CHECK_NEAR(t.node[a].q, 0.36875, 1e-12);
    // gamma = 0: no back-propagation, Q = B.
    p.gamma = 0;
    CHECK(berry_search_srmcts_values(&t, &p, NULL, 0) == BERRY_OK);
    CHECK_NEAR(t.node[a].q, 0.475, 1e-12);
    berry_search_tree_free(&t);
}

// ---- whole runs through the fake lm ----

// The scripted policy: a first solution answers 1 (+ the request index when VARY); each rewrite answers
// one more than the solution it rewrites; self-evaluation scores come from SCORES by answer and sample.
typedef struct {
    bool vary, never_answer, seeded;
    bool stated;               // two-step solutions and a critique that states the fix of step 2
    char rewrite_tail[256];    // with STATED: what the last rewrite prompt held after its instruction
    const char *scores[4][3];  // [answer][sample] replies to the selfeval prompt; answer 0 = no answer
} script;

static char *reply(void *user, const char *prompt, const berry_sampling *s, int index) {
    script *sc = user;
    char sol[4096];
    if (sc->never_answer) return fake_strf("Let me think about this some more.");
    if (sc->stated) {
        const char *w = strstr(prompt, "Write a correct solution.\n");
        switch (fake_role_of(prompt)) {
        case BERRY_ROLE_SOLVE: return fake_strf("Step 1: 1 + 1 = 2 apples.\nStep 2: 2 + 1 = 4 apples.\nThe answer is 4.");
        case BERRY_ROLE_CRITIQUE: return fake_strf("Step 2 is wrong: 2 + 1 is 3, not 4.");
        case BERRY_ROLE_REWRITE:
            snprintf(sc->rewrite_tail, sizeof sc->rewrite_tail, "%s", w ? w + strlen("Write a correct solution.\n") : "?");
            return fake_strf(" apples.\nThe answer is 3.");
        default: return fake_strf("?");
        }
    }
    switch (fake_role_of(prompt)) {
    case BERRY_ROLE_SOLVE:
        if (sc->seeded) return fake_strf("Step 1: guess.\nThe answer is %d.", (int)(s->seed % 1000) + index);
        return fake_strf("Step 1: guess.\nThe answer is %d.", 1 + (sc->vary ? index : 0));
    case BERRY_ROLE_CRITIQUE: return fake_strf("Step 1 is wrong: fix it.");
    case BERRY_ROLE_REWRITE:
        fake_section(prompt, "Solution:\n", sol, sizeof sol);
        return fake_strf("Step 1: better.\nThe answer is %ld.", fake_answer_of(sol, 0) + 1);
    case BERRY_ROLE_SELFEVAL: {
        fake_section(prompt, "Solution:\n", sol, sizeof sol);
        long a = fake_answer_of(sol, 0);
        const char *r = a >= 0 && a < 4 ? sc->scores[a][index % 3] : NULL;
        return fake_strf("%s", r ? r : "Score: 0");
    }
    default: return fake_strf("?");
    }
}

// The judge prefers the larger answer: P(Yes) = .8 when A's answer is larger, .2 when smaller, .5 when equal.
static double judge(void *user, const char *prompt) {
    char a[4096], b[4096];
    long x = fake_answer_of(fake_section(prompt, "Solution A:\n", a, sizeof a), -1);
    long y = fake_answer_of(fake_section(prompt, "Solution B:\n", b, sizeof b), -1);
    return x > y ? 0.8 : x < y ? 0.2 : 0.5;
}

typedef struct {
    fake_lm f;
    script sc;
    berry_lm *lm;
    berry_prompts pp;
} env;

static bool env_open(env *e) {
    memset(e, 0, sizeof *e);
    e->f.reply = reply;
    e->f.judge = judge;
    e->f.user = &e->sc;
    e->lm = fake_lm_new(&e->f);
    return e->lm && berry_prompts_init(&e->pp, BERRY_PROMPTS_EMBEDDED, NULL, 0) == BERRY_OK;
}

static void env_close(env *e) {
    berry_prompts_free(&e->pp);
    berry_lm_free(e->lm);
}

static berry_status solve(env *e, const berry_search_params *p, const char *problem, berry_search_result *r) {
    char err[256];
    berry_status s = berry_search_solve(e->lm, NULL, &e->pp, NULL, problem, p, r, err, sizeof err);
    if (s != BERRY_OK) fprintf(stderr, "    solve: %s\n", err);
    return s;
}

TEST(search_srmcts_run_by_hand) {
    // rollouts 2, batch 1, alpha = gamma = .5. Node 1 answers 1: alone, Q_g = Q_l = 1, Q1 = 1.
    // Step 1 expands 1 -> node 2 (answer 2). P(2>1) = (.8 + 1 - .2)/2 = .8. Ranks 2, 1: Q_g(2) = 1,
    //   Q_g(1) = 0, Q_l(1) = P(1>2) = .2, B1 = .1, B2 = 1, Q1 = .5*.1 + .5*1 = .55.
    // Step 2: UCT(1) = .55 + 1.4 sqrt(ln 3 / 2) = 1.5876, UCT(2) = 1 + 1.4 sqrt(ln 3 / 1) = 2.4674 -> node 2
    //   -> node 3 (answer 3), compared with 2 and 1 (P = .8 each). Ranks 3, 2, 1: Q_g = 1, .5, 0.
    //   Q_l(1) = P(1>2) = .2, Q_l(2) = P(2>3) = .2. B1 = .1, B2 = .25 + .1 = .35, B3 = 1.
    //   Replay: node 2: Q1 = .5*.1 + .5*.35 = .225; node 3: Q2 = .5*.35 + .5 = .675, Q1 = .5*.225 + .5*.675 = .45.
    // The answer is node 3's: 3. Comparisons: 2 + 4 prompts, in 4 batched score calls (each new node's
    // comparisons in one call per order: 1, 1, then 2, 2). Generate calls: solve, then critique and
    // rewrite per step: 5, one request each.
    env e;
    CHECK(env_open(&e));
    berry_search_params p = berry_search_defaults(BERRY_SEARCH_SR_MCTS);
    p.rollouts = 2;
    berry_search_result r;
    CHECK(solve(&e, &p, "What is 1 + 2?", &r) == BERRY_OK);
    CHECK_EQ_INT(r.tree.n, 4);
    CHECK_EQ_INT(r.tree.node[2].parent, 1);
    CHECK_EQ_INT(r.tree.node[3].parent, 2);
    CHECK_NEAR(r.tree.node[1].q, 0.45, 1e-12);
    CHECK_NEAR(r.tree.node[2].q, 0.675, 1e-12);
    CHECK_NEAR(r.tree.node[3].q, 1.0, 1e-12);
    CHECK_NEAR(berry_search_pref(&r.tree, 2, 1), 0.8, 1e-12);
    // The judge's answers as asked: .8 with node 2 shown first, .2 with node 1 first; never 1 against 1.
    CHECK_NEAR(berry_search_judged(&r.tree, 2, 1), 0.8, 1e-12);
    CHECK_NEAR(berry_search_judged(&r.tree, 1, 2), 0.2, 1e-12);
    CHECK(isnan(berry_search_judged(&r.tree, 1, 1)));
    CHECK_STR(r.answer, "3");
    CHECK_EQ_INT(r.chosen, 3);
    CHECK_EQ_INT(r.comparisons, 6);
    CHECK_EQ_INT(r.rollouts, 2);
    CHECK_EQ_INT(r.stop, BERRY_STOP_DONE);
    CHECK_EQ_INT(e.f.n_generate, 5);
    CHECK_EQ_INT(e.f.n_score, 6);
    CHECK_EQ_INT(e.f.n_score_batch, 4);
    CHECK_EQ_INT(e.f.score_batch[0], 1);
    CHECK_EQ_INT(e.f.score_batch[1], 1);
    CHECK_EQ_INT(e.f.score_batch[2], 2);
    CHECK_EQ_INT(e.f.score_batch[3], 2);
    CHECK_EQ_INT(r.policy.calls, 5 + 4);  // a batched score call counts once, as a generate call of many requests
    CHECK_STR(r.tree.node[2].critique, "Step 1 is wrong: fix it.");
    // Tokens are words: solve 7, each critique 6, each rewrite 7 -> 7 + 2 * 13 = 33.
    CHECK_EQ_INT(r.policy.tokens_generated, 33);
    berry_search_result_free(&r);
    env_close(&e);
}

TEST(search_mctsr_run_by_hand) {
    // The first answer (1) is scored 90, 97, 70: 97 > 95 is damped to 50, so R = (50 + 70)/2 = 60.
    // The dummy (no answer) is scored -100, unparseable, -50: R = (-100 + -75)/2 = -87.5.
    // Step 1: N1 = N2 = 1, so UCT picks the larger Q: node 1 -> node 3 (answer 2), scored 80 three times.
    // Q3 = 80, Q1 = (60 + 80)/2 = 70. The answer: the largest Q, node 3, "2".
    env e;
    CHECK(env_open(&e));
    script s = {.scores = {{"Score: -100", "I cannot score this", "Score: -50"},
                           {"Score: 90", "Score: 97", "Score: 70"},
                           {"Score: 80", "Score: 80", "Score: 80"}}};
    e.sc = s;
    berry_search_params p = berry_search_defaults(BERRY_SEARCH_MCTSR);
    p.rollouts = 1;
    berry_search_result r;
    CHECK(solve(&e, &p, "What is 1 + 1?", &r) == BERRY_OK);
    CHECK_EQ_INT(r.tree.n, 4);
    CHECK(r.tree.node[2].dummy);
    CHECK_STR(r.tree.node[2].solution, "I don't know.");
    CHECK_NEAR(r.tree.node[2].q, -87.5, 1e-12);
    CHECK_EQ_INT(r.tree.node[1].n_reward, 3);
    CHECK_NEAR(r.tree.node[1].reward[1], 50, 0);
    CHECK_NEAR(r.tree.node[1].base, 60, 1e-12);
    CHECK_NEAR(r.tree.node[3].q, 80, 1e-12);
    CHECK_NEAR(r.tree.node[1].q, 70, 1e-12);
    CHECK_EQ_INT(r.tree.node[3].parent, 1);
    CHECK_STR(r.answer, "2");
    // Calls: solve (1), both first nodes' samples (6), critique (1), rewrite (1), new node's samples (3).
    int want[] = {1, 6, 1, 1, 3};
    CHECK_EQ_INT(e.f.n_generate, 5);
    for (int i = 0; i < 5; i++) CHECK_EQ_INT(e.f.batch[i], want[i]);
    berry_search_result_free(&r);
    env_close(&e);
}

TEST(search_batched_expansions_share_calls) {
    // batch 2: step 1 can only select node 1, twice (max_children 2 leaves room for two pending
    // children); its two critiques go in one call, the two rewrites in the next.
    env e;
    CHECK(env_open(&e));
    berry_search_params p = berry_search_defaults(BERRY_SEARCH_SR_MCTS);
    p.rollouts = 4;
    p.batch = 2;
    berry_search_result r;
    CHECK(solve(&e, &p, "What is 1 + 2?", &r) == BERRY_OK);
    CHECK_EQ_INT(r.rollouts, 4);
    CHECK_EQ_INT(r.tree.n, 6);
    CHECK_EQ_INT(e.f.n_generate, 5);
    int want[] = {1, 2, 2, 2, 2};
    for (int i = 0; i < 5; i++) CHECK_EQ_INT(e.f.batch[i], want[i]);
    CHECK_EQ_INT(r.tree.node[2].parent, 1);
    CHECK_EQ_INT(r.tree.node[3].parent, 1);
    // Every pair of the 5 solutions compared once, in both orders: 2 * (5 * 4 / 2) = 20 prompts.
    CHECK_EQ_INT(r.comparisons, 20);
    berry_search_result_free(&r);
    env_close(&e);
}

TEST(search_baselines) {
    env e;
    CHECK(env_open(&e));
    berry_search_result r;
    // Greedy: one call at temperature 0.
    berry_search_params p = berry_search_defaults(BERRY_SEARCH_GREEDY);
    CHECK(solve(&e, &p, "Q", &r) == BERRY_OK);
    CHECK_STR(r.answer, "1");
    CHECK_EQ_INT(e.f.n_generate, 1);
    CHECK(e.f.temperature[0] == 0);
    berry_search_result_free(&r);
    // Refine x3: a chain 1 -> 2 -> 3 -> 4 whose last answer (4) is the result.
    p = berry_search_defaults(BERRY_SEARCH_REFINE);
    p.rollouts = 3;
    CHECK(solve(&e, &p, "Q", &r) == BERRY_OK);
    CHECK_EQ_INT(r.tree.n, 5);
    CHECK_EQ_INT(r.tree.node[4].depth, 4);
    CHECK_STR(r.answer, "4");
    berry_search_result_free(&r);
    // Best of 3 by the PPRM: answers 1, 2, 3 (VARY); the judge prefers larger answers: rank 1 is node 3.
    e.sc.vary = true;
    p = berry_search_defaults(BERRY_SEARCH_BON);
    p.rollouts = 3;
    CHECK(solve(&e, &p, "Q", &r) == BERRY_OK);
    CHECK_STR(r.answer, "3");
    CHECK_EQ_INT(r.tree.node[3].rank, 1);
    CHECK_EQ_INT(r.comparisons, 6);
    berry_search_result_free(&r);
    env_close(&e);
}

TEST(search_rewrite_starts_from_the_critique) {
    // The critique names step 2 and states its fix: the rewrite prompt ends with step 1 and the fixed
    // equation, the model goes on from there, and the new solution is the start and what it wrote.
    env e;
    CHECK(env_open(&e));
    e.sc.stated = true;
    berry_search_params p = berry_search_defaults(BERRY_SEARCH_REFINE);
    p.rollouts = 1;
    berry_search_result r;
    CHECK(solve(&e, &p, "Q", &r) == BERRY_OK);
    CHECK_EQ_INT(r.tree.n, 3);
    CHECK_STR(e.sc.rewrite_tail, "Step 1: 1 + 1 = 2 apples.\nStep 2: 2 + 1 = 3");
    CHECK_STR(r.tree.node[2].solution, "Step 1: 1 + 1 = 2 apples.\nStep 2: 2 + 1 = 3 apples.\nThe answer is 3.");
    CHECK_STR(r.answer, "3");
    berry_search_result_free(&r);
    // --rewrite-whole: the prompt ends with the instruction, and the solution is the model's text alone.
    p.rewrite_whole = true;
    CHECK(solve(&e, &p, "Q", &r) == BERRY_OK);
    CHECK_STR(e.sc.rewrite_tail, "");
    CHECK_STR(r.tree.node[2].solution, " apples.\nThe answer is 3.");
    berry_search_result_free(&r);
    // Instruct prompts have no start: the critique's format is the embedded model's.
    berry_prompts_free(&e.pp);
    CHECK(berry_prompts_init(&e.pp, BERRY_PROMPTS_INSTRUCT, NULL, 0) == BERRY_OK);
    CHECK(!e.pp.rewrite_start);
    env_close(&e);
}

static char *vote_reply(void *user, const char *prompt, const berry_sampling *s, int index) {
    static const char *const ans[] = {"3", "\\frac{1}{2}", "0.5", "2/4", "3"};
    return fake_strf("Step 1: think.\nThe answer is %s.", ans[index % 5]);
}

TEST(search_self_consistency_votes_by_equivalence) {
    // Answers 3, \frac{1}{2}, 0.5, 2/4, 3: as strings "3" leads with 2 votes; by equivalence 1/2 has 3.
    // The class's first member (node 2) is chosen. All 5 samples come from one call.
    env e;
    CHECK(env_open(&e));
    e.f.reply = vote_reply;
    berry_search_params p = berry_search_defaults(BERRY_SEARCH_SC);
    p.rollouts = 5;
    berry_search_result r;
    CHECK(solve(&e, &p, "Q", &r) == BERRY_OK);
    CHECK_EQ_INT(r.chosen, 2);
    CHECK_STR(r.answer, "\\frac{1}{2}");
    CHECK_EQ_INT(e.f.n_generate, 1);
    CHECK_EQ_INT(e.f.batch[0], 5);
    berry_search_result_free(&r);
    env_close(&e);
}

TEST(search_budget_stops) {
    env e;
    CHECK(env_open(&e));
    berry_search_result r;
    // Tokens: the solve costs 7 (< 10), the step's critique 6 more (13 >= 10): the budget is hit in the
    // middle of the expansion, which stops before the rewrite with a partial tree and the best answer so far.
    berry_search_params p = berry_search_defaults(BERRY_SEARCH_SR_MCTS);
    p.max_gen_tokens = 10;
    CHECK(solve(&e, &p, "Q", &r) == BERRY_OK);
    CHECK_EQ_INT(r.stop, BERRY_STOP_TOKENS);
    CHECK(r.partial && strstr(r.partial, "critiques"));
    CHECK_EQ_INT(r.tree.n, 2);
    CHECK_EQ_INT(r.rollouts, 0);
    CHECK_STR(r.answer, "1");
    CHECK_EQ_INT(e.f.n_generate, 2);
    berry_search_result_free(&r);
    // MCTSr: 7 (solve) + 6 scores of 2 words (first answer and dummy) = 19; step 1: + 6 (critique) = 25
    // < 30, + 7 (rewrite) = 32 >= 30, so the new node is kept but not evaluated; the answer stays the
    // evaluated first one.
    p = berry_search_defaults(BERRY_SEARCH_MCTSR);
    p.max_gen_tokens = 30;
    p.rollouts = 5;
    CHECK(solve(&e, &p, "Q", &r) == BERRY_OK);
    CHECK_EQ_INT(r.stop, BERRY_STOP_TOKENS);
    CHECK_EQ_INT(r.tree.n, 4);
    CHECK(!r.tree.node[3].evaluated);
    CHECK(r.partial != NULL);
    CHECK_STR(r.answer, "1");
    berry_search_result_free(&r);
    // Seconds: a budget already spent stops before the first call: no answer, an empty tree.
    p = berry_search_defaults(BERRY_SEARCH_SR_MCTS);
    p.max_seconds = 1e-12;
    CHECK(solve(&e, &p, "Q", &r) == BERRY_OK);
    CHECK_EQ_INT(r.stop, BERRY_STOP_SECONDS);
    CHECK_EQ_INT(r.tree.n, 1);
    CHECK(r.answer == NULL);
    berry_search_result_free(&r);
    // Self-consistency under a token budget samples BATCH at a time: 3 samples of 7 tokens pass 20.
    p = berry_search_defaults(BERRY_SEARCH_SC);
    p.rollouts = 10;
    p.max_gen_tokens = 20;
    CHECK(solve(&e, &p, "Q", &r) == BERRY_OK);
    CHECK_EQ_INT(r.rollouts, 3);
    CHECK_EQ_INT(r.stop, BERRY_STOP_TOKENS);
    berry_search_result_free(&r);
    env_close(&e);
}

// Solutions of 5000 bytes, answering 7, each with a first line of its own (a comparison shows the
// lines two solutions share once, and these share none).
static char *long_reply(void *user, const char *prompt, const berry_sampling *s, int index) {
    static int calls;
    char *t = malloc(5100);
    if (!t) return NULL;
    memset(t, 'x', 5000);
    t[0] = (char)('a' + calls++ % 26);
    strcpy(t + 5000, "\nThe answer is 7.");
    return t;
}

TEST(search_hostile_inputs) {
    env e;
    CHECK(env_open(&e));
    berry_search_result r;
    char err[256] = "";
    berry_search_params p = berry_search_defaults(BERRY_SEARCH_SR_MCTS);
    // An empty (or blank) problem is an error with a clear message, and the result is safe to free.
    CHECK(berry_search_solve(e.lm, NULL, &e.pp, NULL, " \n", &p, &r, err, sizeof err) == BERRY_EINVAL);
    CHECK(strstr(err, "empty"));
    berry_search_result_free(&r);
    // A model that never answers: every method ends with "no answer", never loops.
    e.sc.never_answer = true;
    for (int m = 0; m < BERRY_SEARCH_METHOD_COUNT; m++) {
        p = berry_search_defaults((berry_search_method)m);
        p.rollouts = 4;
        CHECK(solve(&e, &p, "Q", &r) == BERRY_OK);
        CHECKF(r.answer == NULL && r.chosen == -1, "method %s", berry_search_method_name((berry_search_method)m));
        berry_search_result_free(&r);
    }
    e.sc.never_answer = false;
    // A 100 KB problem with a model whose context holds 4 KB: the first generation ends at the context
    // with no text; every later prompt would hold the problem too, so the search stops there: no answer,
    // stop "context", no comparison attempted.
    size_t n = 100 * 1024;
    char *big = malloc(n + 1);
    CHECK(big);
    for (size_t i = 0; i < n; i++) big[i] = "0123456789 +"[i % 12];
    big[n] = 0;
    e.f.max_prompt = 4096;
    for (int m = 0; m < BERRY_SEARCH_METHOD_COUNT; m++) {
        p = berry_search_defaults((berry_search_method)m);
        p.rollouts = 3;
        e.f.n_score = 0;
        CHECK(solve(&e, &p, big, &r) == BERRY_OK);
        CHECK(r.answer == NULL);
        CHECKF(r.stop == BERRY_STOP_CONTEXT, "method %s", berry_search_method_name((berry_search_method)m));
        CHECK_EQ_INT(e.f.n_score, 0);
        berry_search_result_free(&r);
    }
    free(big);
    // A comparison that does not fit the judge's context (here: solutions of 5 KB) is left unknown, and
    // the search goes on: both solutions stay unranked by that pair, EBC ranks what it has.
    e.f.max_prompt = 0;
    e.f.reply = long_reply;
    fake_lm g = {.reply = long_reply, .judge = judge, .max_prompt = 8000};
    berry_lm *jl = fake_lm_new(&g);
    CHECK(jl);
    p = berry_search_defaults(BERRY_SEARCH_SR_MCTS);
    p.rollouts = 2;
    CHECK(berry_search_solve(e.lm, jl, &e.pp, NULL, "Q", &p, &r, err, sizeof err) == BERRY_OK);
    CHECK_EQ_INT(r.rollouts, 2);
    CHECK(isnan(berry_search_pref(&r.tree, 1, 2)));
    CHECK_EQ_INT(r.comparisons, 6);
    CHECK_EQ_INT(g.n_score, 6);
    CHECK_STR(r.answer, "7");
    berry_search_result_free(&r);
    berry_lm_free(jl);
    e.f.reply = reply;
    // Parameters out of range are refused.
    p = berry_search_defaults(BERRY_SEARCH_SR_MCTS);
    p.gamma = 2;
    CHECK(berry_search_solve(e.lm, NULL, &e.pp, NULL, "Q", &p, &r, err, sizeof err) == BERRY_EINVAL);
    berry_search_result_free(&r);
    env_close(&e);
}

static char *run_json(env *e, uint64_t seed) {
    berry_search_params p = berry_search_defaults(BERRY_SEARCH_SR_MCTS);
    p.rollouts = 3;
    p.seed = seed;
    berry_search_result r;
    if (solve(e, &p, "Q", &r) != BERRY_OK) return NULL;
    berry_json_writer w;
    berry_json_writer_init(&w);
    berry_search_result_json(&r, &w);
    berry_search_result_free(&r);
    // Wall times differ between runs: cut the JSON before the counters.
    char *s = w.data, *cut = s ? strstr(s, "\"seconds\"") : NULL, *nodes = s ? strstr(s, "\"nodes\"") : NULL;
    char *out = NULL;
    if (cut && nodes) out = fake_strf("%.*s%s", (int)(cut - s), s, nodes);
    berry_json_writer_free(&w);
    return out;
}

TEST(search_deterministic_for_a_seed) {
    // The scripted solve answers with the request's seed, so the tree records which seed was used.
    env e;
    CHECK(env_open(&e));
    e.sc.seeded = true;
    char *a = run_json(&e, 42), *b = run_json(&e, 42), *c = run_json(&e, 43);
    CHECK(a && b && c);
    CHECK(strcmp(a, b) == 0);
    CHECK(strcmp(a, c) != 0);
    free(a);
    free(b);
    free(c);
    env_close(&e);
}

TEST(search_json_and_tree_drawing) {
    env e;
    CHECK(env_open(&e));
    berry_search_params p = berry_search_defaults(BERRY_SEARCH_SR_MCTS);
    p.rollouts = 2;
    berry_search_result r;
    CHECK(solve(&e, &p, "What is 1 + 2?", &r) == BERRY_OK);
    berry_json_writer w;
    berry_json_writer_init(&w);
    berry_search_result_json(&r, &w);
    CHECK(!w.failed);
    char err[128];
    berry_json *doc = berry_json_parse(w.data, w.len, err, sizeof err);
    CHECKF(doc, "%s", err);
    const berry_json *nodes = berry_json_get(doc, "nodes");
    CHECK(nodes && nodes->n == 4);
    long long chosen = 0, gen = 0;
    CHECK(berry_json_int(berry_json_get(doc, "chosen"), &chosen) && chosen == 3);
    CHECK(berry_json_int(berry_json_get(berry_json_get(doc, "policy"), "tokens_generated"), &gen) && gen == 33);
    CHECK_STR(berry_json_str(berry_json_get(doc, "answer")), "3");
    CHECK_STR(berry_json_str(berry_json_get(berry_json_at(nodes, 0), "problem")), "What is 1 + 2?");
    const berry_json *prefs = berry_json_get(doc, "preferences");
    CHECK(prefs && prefs->n == 3);  // pairs (1,2), (1,3), (2,3)
    berry_json_free(doc);
    berry_json_writer_free(&w);
    // Drawing: the chosen path 0 -> 1 -> 2 -> 3 is starred, with N, Q and the answer on each line:
    //   *#0 N=3 problem: What is 1 + 2?
    //   └─ *#1 N=3 Q=0.450 rank=3 [1] Step 1: guess. The answer is 1.
    //      └─ *#2 N=2 Q=0.675 rank=2 [2] ...
    //         └─ *#3 N=1 Q=1.000 rank=1 [3] ...
    char *d = berry_search_tree_draw(&r, false);
    CHECK(d);
    CHECK(strstr(d, "*#0 N=3 problem: What is 1 + 2?\n"));
    CHECK(strstr(d, "└─ *#1 N=3 Q=0.450 rank=3 [1] Step 1: guess. The answer is 1.\n"));
    CHECK(strstr(d, "      └─ *#3 N=1 Q=1.000 rank=1 [3] "));
    free(d);
    d = berry_search_tree_draw(&r, true);
    CHECK(d && strstr(d, "\033[1;32m"));
    free(d);
    berry_search_result_free(&r);
    env_close(&e);
}
