// Tests of src/data/results: metrics against hand calculation, and result records written, reloaded
// and resumed after a simulated kill.
#include "test.h"
#include "data/results.h"
#include <stdlib.h>

TEST(results_wilson_interval_by_hand) {
    // 8 of 10, z = 1.959964: z²/n = 0.3841459; center = (0.8 + 0.1920729) / 1.3841459 = 0.7167403;
    // half = z·sqrt(0.016 + 0.0096036) / 1.3841459 = 0.2265779 -> [0.490162, 0.943318] (the formula
    // evaluated in Python's double precision gives 0.4901625, 0.9433178).
    double lo, hi;
    berry_wilson(8, 10, &lo, &hi);
    CHECK_NEAR(lo, 0.4901625, 1e-6);
    CHECK_NEAR(hi, 0.9433178, 1e-6);
    // 0 of 20: lo = 0, hi = z²/n / (1 + z²/n) = 0.192073 / 1.192073 = 0.161125.
    berry_wilson(0, 20, &lo, &hi);
    CHECK_NEAR(lo, 0.0, 1e-12);
    CHECK_NEAR(hi, 0.161125, 2e-6);
    berry_wilson(0, 0, &lo, &hi);
    CHECK(lo == 0 && hi == 1);
}

TEST(results_pass_at_k_and_majority) {
    CHECK_NEAR(berry_pass_at_k(5, 2, 2), 1.0 - 3.0 / 10.0, 1e-12);  // 1 - C(3,2)/C(5,2)
    CHECK_NEAR(berry_pass_at_k(4, 1, 1), 0.25, 1e-12);
    CHECK_NEAR(berry_pass_at_k(4, 3, 2), 1.0, 1e-12);               // C(1,2) = 0
    CHECK_NEAR(berry_pass_at_k(4, 0, 2), 0.0, 1e-12);
    const char *a[] = {"3", "\\frac12", "0.5", NULL, "3", "1/2"};
    CHECK_EQ_INT(berry_majority(a, 6, NULL), 1);  // {1/2, 0.5, 1/2} has 3 votes, {3} has 2
    const char *b[] = {"3", "\\frac12", "0.5", "3"};
    CHECK_EQ_INT(berry_majority(b, 4, NULL), 0);  // a tie goes to the class seen first
    const char *c[] = {NULL, NULL};
    CHECK_EQ_INT(berry_majority(c, 2, NULL), -1);
}

TEST(results_records_roundtrip_and_resume) {
    char path[512];
    snprintf(path, sizeof path, "%s/r.jsonl", berry_test_tmpdir());
    berry_result *rs;
    size_t n;
    char err[256];
    CHECK(berry_results_load(path, &rs, &n, err, sizeof err) == BERRY_OK && n == 0);  // fresh run
    FILE *f = fopen(path, "w");
    CHECK(f);
    char *outs[3] = {"so \\boxed{2}", "\\boxed{3}", "\"quoted\"\n"};
    char *ans[3] = {"2", "3", NULL};
    bool cor1[3] = {true, false, false}, cor2[3] = {false, true, true};
    berry_result r1 = {"p1", "What is 1+1?", "2", 3, outs, ans, cor1, 120, 3, 1.5};
    berry_result r2 = {"p2", "Q2", "3", 3, outs, ans, cor2, 80, 3, 0.5};
    CHECK(berry_result_append(f, &r1, err, sizeof err) == BERRY_OK);
    CHECK(berry_result_append(f, &r2, err, sizeof err) == BERRY_OK);
    fputs("{\"id\":\"p3\",\"outp", f);  // killed mid-write
    fclose(f);
    CHECKF(berry_results_load(path, &rs, &n, err, sizeof err) == BERRY_OK, "%s", err);
    CHECK_EQ_INT(n, 2);
    CHECK_STR(rs[0].id, "p1");
    CHECK_STR(rs[0].outputs[2], "\"quoted\"\n");
    CHECK(rs[0].answers[2] == NULL);
    CHECK(rs[1].correct[1] && !rs[1].correct[0]);
    berry_summary s;
    berry_summarize(rs, n, NULL, &s);
    // First sample: 1 of 2. maj@3: p1 votes {2, 3} tie -> "2" (correct); p2 the same answers -> "2"
    // (sample 0, incorrect) -> 1/2. pass@3: both have a correct sample -> 1.
    CHECK_EQ_INT(s.first_correct, 1);
    CHECK_NEAR(s.acc, 0.5, 1e-12);
    CHECK_EQ_INT(s.k, 3);
    CHECK_NEAR(s.maj_at_k, 0.5, 1e-12);
    CHECK_NEAR(s.pass_at_k, 1.0, 1e-12);
    CHECK_EQ_INT(s.tokens, 200);
    CHECK_NEAR(s.seconds, 2.0, 1e-12);
    berry_results_free(rs, n);
    // A malformed complete line is an error, not silently skipped.
    f = fopen(path, "a");
    fputs("\nnot json\n", f);
    fclose(f);
    CHECK(berry_results_load(path, &rs, &n, err, sizeof err) != BERRY_OK);
    CHECK(strstr(err, "r.jsonl:3") != NULL);
}
