// Tests of src/data/results: metrics against hand calculation, and result records written, reloaded
// (every field, and lines of the first format) and resumed after a torn last line.
#include "test.h"
#include "data/results.h"
#include <stdlib.h>
#include <string.h>

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
    long good;
    char err[256];
    CHECK(berry_results_load(path, &rs, &n, &good, err, sizeof err) == BERRY_OK && n == 0 && good == 0);  // fresh run
    FILE *f = fopen(path, "w");
    CHECK(f);
    char *outs[3] = {"so \\boxed{2}", "\\boxed{3}", "\"quoted\"\n"};
    char *ans[3] = {"2", "3", NULL};
    bool cor1[3] = {true, false, false}, cor2[3] = {false, true, true};
    berry_result r1 = {.id = "p1", .method = "sr-mcts", .model = "berry-tiny", .data = "test.jsonl",
                       .prompt = "What is 1+1?", .reference = "2", .stop = "tokens", .budget = 8, .n = 3,
                       .outputs = outs, .answers = ans, .correct = cor1, .pick = 0, .majority = 0, .nodes = 9,
                       .batch = 1, .tokens = 120, .prompt_tokens = 5000, .prompt_tokens_evaluated = 1800,
                       .model_calls = 3, .seconds = 1.5};
    berry_result r2 = r1;
    r2.id = "p2";
    r2.correct = cor2;
    r2.pick = 2;  // the output without an answer
    r2.majority = -1;
    r2.stop = NULL;
    r2.nodes = 0;
    r2.tokens = 80;
    r2.seconds = 0.25;
    CHECK(berry_result_write(f, &r1, err, sizeof err) == BERRY_OK);
    CHECK(berry_result_write(f, &r2, err, sizeof err) == BERRY_OK);
    long complete = ftell(f);
    fputs("{\"id\":\"p3\",\"outp", f);  // killed mid-write
    fclose(f);
    CHECKF(berry_results_load(path, &rs, &n, &good, err, sizeof err) == BERRY_OK, "%s", err);
    CHECK_EQ_INT(n, 2);
    CHECK_EQ_INT(good, complete);  // where an appending run cuts the torn line off
    // Every field comes back as written.
    const berry_result *x = &rs[0];
    CHECK_STR(x->id, "p1");
    CHECK_STR(x->method, "sr-mcts");
    CHECK_STR(x->model, "berry-tiny");
    CHECK_STR(x->data, "test.jsonl");
    CHECK_STR(x->prompt, "What is 1+1?");
    CHECK_STR(x->reference, "2");
    CHECK_STR(x->stop, "tokens");
    CHECK_EQ_INT(x->budget, 8);
    CHECK_EQ_INT(x->n, 3);
    CHECK_STR(x->outputs[0], "so \\boxed{2}");
    CHECK_STR(x->outputs[2], "\"quoted\"\n");
    CHECK_STR(x->answers[1], "3");
    CHECK(x->answers[2] == NULL);
    CHECK(x->correct[0] && !x->correct[1] && !x->correct[2]);
    CHECK_EQ_INT(x->pick, 0);
    CHECK_EQ_INT(x->majority, 0);
    CHECK_EQ_INT(x->nodes, 9);
    CHECK_EQ_INT(x->batch, 1);
    CHECK_EQ_INT(x->tokens, 120);
    CHECK_EQ_INT(x->prompt_tokens, 5000);
    CHECK_EQ_INT(x->prompt_tokens_evaluated, 1800);
    CHECK_EQ_INT(x->model_calls, 3);
    CHECK(x->seconds == 1.5);
    x = &rs[1];
    CHECK_STR(x->id, "p2");
    CHECK(x->stop == NULL);
    CHECK_EQ_INT(x->pick, 2);
    CHECK_EQ_INT(x->majority, -1);
    CHECK_EQ_INT(x->nodes, 0);
    CHECK(x->seconds == 0.25);
    CHECK(!x->correct[0] && x->correct[1] && x->correct[2]);
    // Writing what was read gives the same bytes.
    char path2[512];
    snprintf(path2, sizeof path2, "%s/r2.jsonl", berry_test_tmpdir());
    f = fopen(path2, "w");
    for (size_t i = 0; i < n; i++) CHECK(berry_result_write(f, &rs[i], err, sizeof err) == BERRY_OK);
    fclose(f);
    size_t l1, l2;
    char *b1 = berry_test_read_file(path, &l1), *b2 = berry_test_read_file(path2, &l2);
    CHECK(b1 && b2 && l2 == (size_t)complete && !memcmp(b1, b2, l2));
    free(b1);
    free(b2);
    berry_results_free(rs, n);
    // A malformed complete line is an error, not silently skipped.
    f = fopen(path, "a");
    fputs("\nnot json\n", f);
    fclose(f);
    CHECK(berry_results_load(path, &rs, &n, NULL, err, sizeof err) != BERRY_OK);
    CHECK(strstr(err, "r.jsonl:3") != NULL);
}

// A line in the format written before the method fields existed (the keys of the first results files):
// it loads, with the first output as the pick and the budget its number of outputs.
TEST(results_records_read_the_first_format) {
    char path[512];
    snprintf(path, sizeof path, "%s/old.jsonl", berry_test_tmpdir());
    FILE *f = fopen(path, "w");
    CHECK(f);
    fputs("{\"id\":\"p1\",\"prompt\":\"What is 1+1?\",\"reference\":\"2\",\"outputs\":[\"so \\\\boxed{2}\",\"x\"],"
          "\"answers\":[\"2\",null],\"correct\":[true,false],\"tokens\":120,\"model_calls\":3,\"seconds\":1.5}\n", f);
    fclose(f);
    berry_result *rs;
    size_t n;
    char err[256];
    CHECKF(berry_results_load(path, &rs, &n, NULL, err, sizeof err) == BERRY_OK, "%s", err);
    CHECK_EQ_INT(n, 1);
    CHECK_STR(rs[0].outputs[0], "so \\boxed{2}");
    CHECK(rs[0].answers[1] == NULL && rs[0].correct[0] && !rs[0].correct[1]);
    CHECK(rs[0].method == NULL);
    CHECK_EQ_INT(rs[0].budget, 2);
    CHECK_EQ_INT(rs[0].pick, 0);
    CHECK_EQ_INT(rs[0].tokens, 120);
    CHECK_EQ_INT(rs[0].model_calls, 3);
    berry_results_free(rs, n);
}
