// Tests of the pairwise judge (src/search/judge.c) through the fake lm: the embedded judge scores A's
// and B's check lines and the instruct judge Yes / No, both giving P(A better) as the first's share;
// a comparison too long for the context is left unknown, and the others in its batch are still judged.
#include "test.h"
#include "fake_lm.h"
#include "search/judge.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

// P(Yes) = .9 when A's answer (the number after "The answer is ") is 5, else .3.
static double judge5(void *user, const char *prompt) {
    (void)user;
    char a[256];
    return fake_answer_of(fake_section(prompt, "Solution A:\n", a, sizeof a), -1) == 5 ? 0.9 : 0.3;
}

TEST(search_judge_embedded_scores_both_lines) {
    fake_lm f = {.judge = judge5, .max_prompt = 400};
    berry_lm *lm = fake_lm_new(&f);
    berry_prompts p;
    CHECK(lm && berry_prompts_init(&p, BERRY_PROMPTS_EMBEDDED, NULL, 0) == BERRY_OK);
    const char *good = "Step 1: 2 + 3 = 5 apples.\nThe answer is 5.", *bad = "Step 1: 2 + 3 = 6 apples.\nThe answer is 6.";
    char big[600];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = 0;
    const char *sa[3] = {good, bad, big}, *sb[3] = {bad, good, good};
    char *prompts[3], *checks[6];
    for (int i = 0; i < 3; i++) {
        berry_role_args a = {.question = "Q", .solution = sa[i], .other = sb[i]};
        prompts[i] = berry_prompts_render(&p, lm, BERRY_ROLE_COMPARE, &a);
        for (int k = 0; k < 2; k++) checks[2 * i + k] = berry_role_compare_check_dup(sa[i], sb[i], k == 0);
    }
    CHECK_STR(checks[0], "Check: Step 1: 2 + 3 = 5 apples.");
    CHECK_STR(checks[1], "Check: Step 1: 2 + 3 = 6 apples.");
    double py[3];
    berry_status st[3];
    char err[128] = "";
    CHECKF(berry_judge(lm, &p, prompts, checks, 3, py, st, err, sizeof err) == BERRY_OK, "%s", err);
    CHECK(st[0] == BERRY_OK && st[1] == BERRY_OK);
    CHECK_NEAR(py[0], 0.9, 1e-12);  // the share of A's line: .9 / (.9 + .1)
    CHECK_NEAR(py[1], 0.3, 1e-12);
    // The words both lines begin with are scored once, as the end of the prompt: the lines' rests
    // (of the second comparison, the last that fit).
    CHECK_STR(f.last_conts[0], " 6 apples.");
    CHECK_STR(f.last_conts[1], " 5 apples.");
    CHECK(st[2] == BERRY_ELIMIT && isnan(py[2]));  // too long: unknown, and the batch went on
    CHECK_EQ_INT(f.n_score_batch, 1);
    CHECK_EQ_INT(f.n_generate, 0);  // nothing generated: both lines are scored
    // The fake refuses check lines that are not the prompt's A and B, in order: swapped, the call fails.
    char *swapped[2] = {checks[1], checks[0]};
    CHECK(berry_judge(lm, &p, prompts, swapped, 1, py, st, err, sizeof err) != BERRY_OK);
    for (int i = 0; i < 3; i++) free(prompts[i]);
    for (int i = 0; i < 6; i++) free(checks[i]);
    berry_prompts_free(&p);
    berry_lm_free(lm);
}

TEST(search_judge_instruct_scores_yes_and_no) {
    fake_lm f = {.judge = judge5};
    berry_lm *lm = fake_lm_new(&f);
    berry_prompts p;
    CHECK(lm && berry_prompts_init(&p, BERRY_PROMPTS_INSTRUCT, NULL, 0) == BERRY_OK);
    CHECK(!p.check);
    berry_role_args a = {.question = "Q", .solution = "The answer is 5.", .other = "The answer is 6."};
    char *prompt = berry_prompts_render(&p, lm, BERRY_ROLE_COMPARE, &a);
    CHECK(prompt && strstr(prompt, "Solution A:\nThe answer is 5."));
    double py = 0;
    berry_status st = BERRY_EIO;
    char err[128] = "";
    CHECKF(berry_judge(lm, &p, &prompt, NULL, 1, &py, &st, err, sizeof err) == BERRY_OK, "%s", err);
    CHECK(st == BERRY_OK);
    CHECK_NEAR(py, 0.9, 1e-12);
    // Nothing to judge is no call.
    CHECK(berry_judge(lm, &p, NULL, NULL, 0, &py, &st, err, sizeof err) == BERRY_OK);
    CHECK_EQ_INT(f.n_score_batch, 1);
    free(prompt);
    berry_prompts_free(&p);
    berry_lm_free(lm);
}
