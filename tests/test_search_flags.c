// The search constants as flags (src/search/flags.h), shared by berry solve and berry eval: each flag
// lands in its field, bad values are refused with a message, and berry eval's search methods run with
// the parsed constants and the separate reward model (the scripted fake lm of tests/fake_lm.h counts
// what each model was asked).
#include "test.h"
#include "data/eval.h"
#include "fake_lm.h"
#include "search/flags.h"
#include <stdlib.h>
#include <string.h>

// Parses ARGV (argv[0] is skipped) into O; returns the index of the first argument that is not a
// search flag (argc when all are), or -1 on an error.
static int parse(berry_search_flags *o, int argc, char **argv, char *err, size_t err_size) {
    for (int i = 1; i < argc; i++) {
        int r = berry_search_flag(o, argc, argv, &i, err, err_size);
        if (r < 0) return -1;
        if (r == 0) return i;
    }
    return argc;
}

TEST(search_flags_land_in_their_fields) {
    char *argv[] = {"x", "--rollouts", "5", "--tokens", "900", "--seconds", "2.5", "--expand-batch", "3",
                    "--children", "4", "--uct-c", "0.7", "--eps", "0.01", "--virtual-loss", "2", "--init", "2",
                    "--alpha", "0.25", "--gamma", "0.75", "--one-order", "--compare-max", "6",
                    "--reward-samples", "5", "--damp-above", "90", "--damp-to", "40", "--no-dummy", "--rewrite-whole", "--pick", "rank",
                    "--critique-temp", "0.1", "--eval-temp", "0", "--prm", "judge.gguf", "--no-prefix-cache",
                    "--kv-page", "8", "--temp"};
    int argc = (int)(sizeof argv / sizeof argv[0]);
    berry_search_flags o;
    berry_search_flags_init(&o, BERRY_SEARCH_MCTSR);
    char err[160];
    CHECK_EQ_INT(parse(&o, argc, argv, err, sizeof err), argc - 1);  // --temp is the command's own
    const berry_search_params *p = &o.sp;
    CHECK_EQ_INT(p->method, BERRY_SEARCH_MCTSR);
    CHECK(o.rollouts_set);
    CHECK_EQ_INT(p->rollouts, 5);
    CHECK_EQ_INT(p->max_gen_tokens, 900);
    CHECK(p->max_seconds == 2.5);
    CHECK_EQ_INT(p->batch, 3);
    CHECK_EQ_INT(p->max_children, 4);
    CHECK(p->c == 0.7 && p->eps == 0.01 && p->virtual_loss == 2);
    CHECK_EQ_INT(p->init, 2);
    CHECK(p->alpha == 0.25 && p->gamma == 0.75);
    CHECK(p->one_order);
    CHECK_EQ_INT(p->compare_max, 6);
    CHECK_EQ_INT(p->reward_samples, 5);
    CHECK(p->damp_above == 90 && p->damp_to == 40);
    CHECK(!p->dummy);
    CHECK(p->rewrite_whole);
    CHECK_EQ_INT(p->pick, BERRY_PICK_RANK);
    CHECK_STR(o.prm_path, "judge.gguf");
    CHECK(o.no_prefix_cache);
    CHECK_EQ_INT(o.kv_page, 8);
    // A global temperature first, then the per-role ones win; the others keep the global one.
    berry_search_flags_temperature(&o, 1.5);
    berry_search_flags_finish(&o);
    CHECK(p->critique.temperature == 0.1f && p->eval.temperature == 0.0f);
    CHECK(p->solve.temperature == 1.5f && p->rewrite.temperature == 1.5f);

    // Untouched constants keep the method's defaults.
    berry_search_flags_init(&o, BERRY_SEARCH_SC);
    char *few[] = {"x", "--alpha", "1"};
    CHECK_EQ_INT(parse(&o, 3, few, err, sizeof err), 3);
    berry_search_params d = berry_search_defaults(BERRY_SEARCH_SC);
    CHECK_EQ_INT(o.sp.pick, BERRY_PICK_VOTE);
    CHECK_EQ_INT(o.sp.rollouts, d.rollouts);
    CHECK(!o.rollouts_set && o.sp.c == d.c && o.sp.gamma == d.gamma && !o.sp.rewrite_whole);
    // --batch is a search flag only where the command says so (solve); eval's --batch is its own.
    char *b[] = {"x", "--batch", "2"};
    CHECK_EQ_INT(parse(&o, 3, b, err, sizeof err), 1);
    o.batch_flag = true;
    CHECK_EQ_INT(parse(&o, 3, b, err, sizeof err), 3);
    CHECK_EQ_INT(o.sp.batch, 2);
}

TEST(search_flags_refuse_bad_values) {
    static char *bad[][3] = {{"x", "--alpha", "1.5"}, {"x", "--rollouts", "-1"}, {"x", "--uct-c", "abc"},
                             {"x", "--pick", "best"}, {"x", "--children", "2x"}, {"x", "--eps", "0"}};
    static const char *says[] = {"--alpha", "--rollouts", "--uct-c", "--pick", "--children", "--eps"};
    for (int k = 0; k < 6; k++) {
        berry_search_flags o;
        berry_search_flags_init(&o, BERRY_SEARCH_SR_MCTS);
        char err[160] = "";
        CHECKF(parse(&o, 3, bad[k], err, sizeof err) == -1, "%s %s accepted", bad[k][1], bad[k][2]);
        CHECKF(strstr(err, says[k]) && strstr(err, bad[k][2]), "message: %s", err);
    }
    berry_search_flags o;
    berry_search_flags_init(&o, BERRY_SEARCH_SR_MCTS);
    char *last[] = {"x", "--gamma"};
    char err[160];
    CHECK_EQ_INT(parse(&o, 2, last, err, sizeof err), -1);
    CHECK(strstr(err, "--gamma needs a value"));
}

// The policy: a solution answering 5, a critique, a rewrite answering 5, a self-evaluation score.
typedef struct {
    int selfeval, other;
} calls;

static char *policy_reply(void *user, const char *prompt, const berry_sampling *s, int index) {
    (void)s;
    (void)index;
    calls *c = user;
    switch (fake_role_of(prompt)) {
    case BERRY_ROLE_SELFEVAL: c->selfeval++; return fake_strf("Score: 40");
    case BERRY_ROLE_CRITIQUE: c->other++; return fake_strf("Step 1 is wrong: fix it.");
    default: c->other++; return fake_strf("Step 1: 2 + 3 = 5.\nThe answer is 5.");
    }
}

static double judge_yes(void *user, const char *prompt) {
    (void)prompt;
    (*(int *)user)++;
    return 0.7;
}

static double policy_judge(void *user, const char *prompt) {
    (void)user;
    (void)prompt;
    return 0.5;
}

TEST(search_flags_reach_berry_eval) {
    static const char *data = "{\"id\":\"p1\",\"problem\":\"What is 2 + 3?\",\"answer\":\"5\"}\n";
    char err[256];
    berry_dataset *d = berry_dataset_parse(data, strlen(data), "one", err, sizeof err);
    CHECK(d);
    calls c = {0};
    int judged = 0;
    fake_lm fp = {.reply = policy_reply, .judge = policy_judge, .user = &c}, fj = {.judge = judge_yes, .user = &judged};
    berry_lm *lm = fake_lm_new(&fp), *prm = fake_lm_new(&fj);
    berry_prompts pp;
    CHECK(berry_prompts_init(&pp, BERRY_PROMPTS_EMBEDDED, err, sizeof err) == BERRY_OK);

    // MCTSr, 2 rollouts, --reward-samples 2 (default 3): every evaluated node gets 2 self-evaluations.
    // Nodes: the first solution, the dummy, two rewrites = 4, so 8 self-evaluation requests.
    berry_search_flags o;
    berry_search_flags_init(&o, BERRY_SEARCH_MCTSR);
    char *a1[] = {"x", "--reward-samples", "2"};
    CHECK_EQ_INT(parse(&o, 3, a1, err, sizeof err), 3);
    berry_search_flags_finish(&o);
    berry_eval_run_params rp = berry_eval_run_defaults();
    rp.method = berry_eval_method_find("mctsr");
    rp.opts.prompts = &pp;
    rp.opts.k = 2;
    rp.opts.search = &o.sp;
    char path[512];
    snprintf(path, sizeof path, "%s/flags_mctsr.jsonl", berry_test_tmpdir());
    CHECKF(berry_eval_run(lm, d, &rp, path, NULL, err, sizeof err) == BERRY_OK, "%s", err);
    berry_result *r;
    size_t n;
    CHECK(berry_results_load(path, &r, &n, NULL, err, sizeof err) == BERRY_OK && n == 1);
    CHECK_EQ_INT(r[0].nodes, 4);
    CHECK_EQ_INT(c.selfeval, 8);
    berry_results_free(r, n);

    // SR-MCTS, 3 rollouts, --one-order, with the reward model: 4 solutions, 6 pairs, each asked once,
    // all of the judge and none of the policy; the record's calls count both models.
    berry_search_flags_init(&o, BERRY_SEARCH_SR_MCTS);
    char *a2[] = {"x", "--one-order", "--alpha", "0.3"};
    CHECK_EQ_INT(parse(&o, 4, a2, err, sizeof err), 4);
    rp.method = berry_eval_method_find("sr-mcts");
    rp.opts.k = 3;
    rp.opts.search = &o.sp;
    rp.opts.prm = prm;
    int64_t policy_calls0 = lm->counters.calls;
    snprintf(path, sizeof path, "%s/flags_srmcts.jsonl", berry_test_tmpdir());
    CHECKF(berry_eval_run(lm, d, &rp, path, NULL, err, sizeof err) == BERRY_OK, "%s", err);
    CHECK(berry_results_load(path, &r, &n, NULL, err, sizeof err) == BERRY_OK && n == 1);
    CHECK_EQ_INT(r[0].nodes, 4);
    CHECK_EQ_INT(judged, 6);
    CHECK_EQ_INT(fj.n_score, 6);
    CHECK_EQ_INT(fp.n_score, 0);
    // Policy: the solve, then a critique and a rewrite per rollout = 7 generate calls; judge: 6 prompts
    // scored in 3 batched calls (each new solution's comparisons in one).
    CHECK_EQ_INT(lm->counters.calls - policy_calls0, 7);
    CHECK_EQ_INT(fj.n_score_batch, 3);
    CHECK_EQ_INT(r[0].model_calls, 7 + 3);
    CHECK(r[0].correct[0]);
    berry_results_free(r, n);
    // Without --one-order the same run asks every pair in both orders: 12.
    berry_search_flags_init(&o, BERRY_SEARCH_SR_MCTS);
    judged = 0;
    snprintf(path, sizeof path, "%s/flags_srmcts2.jsonl", berry_test_tmpdir());
    CHECKF(berry_eval_run(lm, d, &rp, path, NULL, err, sizeof err) == BERRY_OK, "%s", err);
    CHECK_EQ_INT(judged, 12);
    berry_prompts_free(&pp);
    berry_lm_free(lm);
    berry_lm_free(prm);
    berry_dataset_free(d);
}
