// Tests of the evaluation harness (src/data/eval.h) with the scripted fake berry_lm of tests/fake_lm.h:
// records and verdicts of canned outputs, resume after a simulated kill (a torn last line, a model that
// fails midway), metrics computed by hand, and the report's exact table text. Expected values are
// written out here from the canned texts (tokens are whitespace-separated words in the fake).
#include "base/json.h"
#include "data/eval.h"
#include "data/results.h"
#include "fake_lm.h"
#include "test.h"
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

// Five problems in the generic format. The canned replies below answer p1, p3 and p4 right (p3 as
// \frac{1}{2} against 0.5), p2 wrong, p5 without a marked answer.
static const char *const DATA =
    "{\"id\":\"p1\",\"problem\":\"What is 2 + 3?\",\"answer\":\"5\"}\n"
    "{\"id\":\"p2\",\"problem\":\"What is 4 * 6?\",\"answer\":\"24\"}\n"
    "{\"id\":\"p3\",\"problem\":\"Half of one?\",\"answer\":\"0.5\"}\n"
    "{\"id\":\"p4\",\"problem\":\"What is 10 - 7?\",\"answer\":\"3\"}\n"
    "{\"id\":\"p5\",\"problem\":\"What is 9 / 3?\",\"answer\":\"3\"}\n";

typedef struct {
    int requests;            // generate requests seen
    int fail_on;             // fail the call holding this problem's request (0: never)
    char seen[64][8];        // problem ids of the requests, in order
} script;

static const char *id_in(const char *prompt) {
    if (strstr(prompt, "2 + 3")) return "p1";
    if (strstr(prompt, "4 * 6")) return "p2";
    if (strstr(prompt, "Half of one")) return "p3";
    if (strstr(prompt, "10 - 7")) return "p4";
    if (strstr(prompt, "9 / 3")) return "p5";
    return "?";
}

static char *reply(void *user, const char *prompt, const berry_sampling *s, int index) {
    (void)s;
    (void)index;
    script *sc = user;
    const char *id = id_in(prompt);
    if (sc->requests < 64) snprintf(sc->seen[sc->requests], 8, "%s", id);
    sc->requests++;
    if (!strcmp(id, "p1")) return fake_strf("Step 1: 2 + 3 = 5.\nThe answer is 5.");  // 11 words
    if (!strcmp(id, "p2")) return fake_strf("4 * 6 = 26.\nThe answer is 26.");        // 9 words
    if (!strcmp(id, "p3")) return fake_strf("So \\boxed{\\frac{1}{2}}");               // 2 words
    if (!strcmp(id, "p4")) return fake_strf("The answer is 3.");                     // 4 words
    if (!strcmp(id, "p5")) return fake_strf("I am not sure.");                       // 4 words
    return NULL;
}

// A fake whose generate fails when a request of problem FAIL_ON comes (a crash of the model process).
static berry_status failing_generate(berry_lm *lm, const berry_lm_request *reqs, int n, berry_lm_output *out,
                                     char *err, size_t err_size);
static const berry_lm_vtable *real_vt;
static berry_lm_vtable fail_vt;
static const char *fail_id;

static berry_status failing_generate(berry_lm *lm, const berry_lm_request *reqs, int n, berry_lm_output *out,
                                     char *err, size_t err_size) {
    for (int i = 0; i < n; i++)
        if (!strcmp(id_in(reqs[i].prompt), fail_id)) return berry_errf(err, err_size, BERRY_EIO, "fake: the model died");
    return real_vt->generate(lm, reqs, n, out, err, err_size);
}

static berry_dataset *load_data(void) {
    char err[256];
    berry_dataset *d = berry_dataset_parse(DATA, strlen(DATA), "data", err, sizeof err);
    if (!d) fprintf(stderr, "    %s\n", err);
    return d;
}

static const char *results_path(const char *name) {
    static char buf[4][4096];
    static int k;
    char *b = buf[k++ & 3];
    snprintf(b, 4096, "%s/%s", berry_test_tmpdir(), name);
    return b;
}

// The embedded prompts: "Question: {q}\nSolve step by step.\n".
static berry_eval_run_params greedy_params(berry_prompts *pp) {
    berry_eval_run_params rp = berry_eval_run_defaults();
    rp.method = berry_eval_method_find("greedy");
    rp.opts.prompts = pp;
    rp.batch = 2;
    rp.model_name = "fake";
    rp.data_name = "five";
    return rp;
}

// What most tests here share: a dataset (the five problems unless told), the scripted fake lm replying
// through REPLY (the canned replies and their script unless told), a prompt set, and greedy run
// parameters over them. The fake points into the fixture, so a fixture stays where it was opened.
typedef struct {
    berry_dataset *d;
    script sc;
    fake_lm f;
    berry_lm *lm;
    berry_prompts pp;
    berry_eval_run_params rp;
    char err[256];
} fixture;

// Opens FX: DATA (NULL: the five problems), prompts of KIND, replies from REPLY_FN with USER (NULL: the
// canned replies with FX's script). False, with a line on stderr, when a part cannot be made.
static bool fixture_open(fixture *fx, const char *data, berry_prompts_kind kind, fake_reply_fn reply_fn, void *user) {
    memset(fx, 0, sizeof *fx);
    fx->d = data ? berry_dataset_parse(data, strlen(data), "data", fx->err, sizeof fx->err) : load_data();
    fx->f = (fake_lm){.reply = reply_fn ? reply_fn : reply, .user = reply_fn ? user : &fx->sc};
    fx->lm = fake_lm_new(&fx->f);
    bool prompts = berry_prompts_init(&fx->pp, kind, fx->err, sizeof fx->err) == BERRY_OK;
    if (!fx->d || !fx->lm || !prompts) {
        fprintf(stderr, "    fixture: %s\n", fx->err[0] ? fx->err : "out of memory");
        return false;
    }
    fx->rp = greedy_params(&fx->pp);
    return true;
}

static void fixture_close(fixture *fx) {
    berry_prompts_free(&fx->pp);
    berry_lm_free(fx->lm);
    berry_dataset_free(fx->d);
}

TEST(eval_greedy_records_and_verdicts) {
    fixture fx;
    CHECK(fixture_open(&fx, NULL, BERRY_PROMPTS_EMBEDDED, NULL, NULL));
    CHECK_EQ_INT(fx.d->n, 5);
    const char *path = results_path("greedy.jsonl");
    berry_eval_run_stats st;
    CHECK(berry_eval_run(fx.lm, fx.d, &fx.rp, path, &st, fx.err, sizeof fx.err) == BERRY_OK);
    CHECK_EQ_INT(st.evaluated, 5);
    CHECK_EQ_INT(st.skipped, 0);
    // Batches of 2 problems: calls of 2, 2 and 1 requests, greedy.
    CHECK_EQ_INT(fx.f.n_generate, 3);
    CHECK_EQ_INT(fx.f.batch[0], 2);
    CHECK_EQ_INT(fx.f.batch[2], 1);
    CHECK(fx.f.temperature[0] == 0.0f);

    berry_result *r;
    size_t n;
    long good;
    CHECK(berry_results_load(path, &r, &n, &good, fx.err, sizeof fx.err) == BERRY_OK);
    CHECK_EQ_INT(n, 5);
    static const char *const ids[] = {"p1", "p2", "p3", "p4", "p5"};
    static const char *const answers[] = {"5", "26", "\\frac{1}{2}", "3", NULL};
    static const bool right[] = {true, false, true, true, false};
    static const long tokens[] = {11, 9, 2, 4, 4};
    long calls = 0;
    for (int i = 0; i < 5; i++) {
        CHECK_STR(r[i].id, ids[i]);
        CHECK_STR(r[i].method, "greedy");
        CHECK_EQ_INT(r[i].budget, 1);
        CHECK_EQ_INT(r[i].n, 1);
        if (answers[i]) CHECK_STR(r[i].answers[0], answers[i]);
        else CHECK(r[i].answers[0] == NULL);
        CHECKF(r[i].correct[0] == right[i], "verdict of %s", ids[i]);
        CHECK_EQ_INT(r[i].pick, answers[i] ? 0 : -1);
        CHECK_EQ_INT(r[i].tokens, tokens[i]);
        CHECK_STR(r[i].model, "fake");
        calls += r[i].model_calls;
    }
    CHECK_STR(r[0].prompt, "Question: What is 2 + 3?\nSolve step by step.\n");
    CHECK_STR(r[0].outputs[0], "Step 1: 2 + 3 = 5.\nThe answer is 5.");
    CHECK_STR(r[2].reference, "0.5");
    // Shares of a call split over its problems sum to the calls made; prompt tokens likewise: each prompt
    // is "Question: <q>\nSolve step by step.\n" = 1 + words of q + 4: 10, 10, 8, 10, 10 = 48.
    CHECK_EQ_INT(calls, 3);
    CHECK_EQ_INT(r[0].batch, 2);
    CHECK_EQ_INT(r[4].batch, 1);
    long pt = 0;
    for (int i = 0; i < 5; i++) pt += r[i].prompt_tokens_evaluated;
    CHECK_EQ_INT(pt, 48);

    // Summary by hand: 3 of 5 right; 30 tokens; one sample each, so no maj@k / pass@k lines.
    berry_eval_summary s;
    berry_eval_summarize(r, n, &s);
    CHECK_EQ_INT(s.correct, 3);
    CHECK_NEAR(s.acc, 0.6, 1e-12);
    CHECK_EQ_INT(s.tokens, 30);
    CHECK_EQ_INT(s.model_calls, 3);
    CHECK_EQ_INT(s.k, 1);
    CHECK(!s.mixed);
    char *text = berry_eval_summary_text(&s, false);
    CHECK(text && strstr(text, "accuracy   60.0%  (3/5)") && !strstr(text, "pass@"));
    free(text);
    text = berry_eval_summary_text(&s, true);
    berry_json *js = text ? berry_json_parse(text, strlen(text), fx.err, sizeof fx.err) : NULL;
    CHECK(js);
    double acc = 0;
    CHECK(berry_json_num(berry_json_get(js, "accuracy"), &acc) && acc == 0.6);
    berry_json_free(js);
    free(text);
    berry_results_free(r, n);
    fixture_close(&fx);
}

TEST(eval_resume_after_torn_line) {
    fixture fx;
    CHECK(fixture_open(&fx, NULL, BERRY_PROMPTS_EMBEDDED, NULL, NULL));
    fx.rp.batch = 1;
    fx.rp.limit = 3;
    const char *path = results_path("resume.jsonl");
    berry_eval_run_stats st;
    CHECK(berry_eval_run(fx.lm, fx.d, &fx.rp, path, &st, fx.err, sizeof fx.err) == BERRY_OK);
    CHECK_EQ_INT(fx.sc.requests, 3);
    // A kill while p4's record was being written: half a line, no newline.
    FILE *fp = fopen(path, "ab");
    CHECK(fp);
    fputs("{\"id\":\"p4\",\"method\":\"greedy\",\"budget\":1,\"outp", fp);
    fclose(fp);
    berry_result *r;
    size_t n;
    long good;
    CHECK(berry_results_load(path, &r, &n, &good, fx.err, sizeof fx.err) == BERRY_OK);
    CHECK_EQ_INT(n, 3);
    berry_results_free(r, n);
    // The rerun over everything redoes p4 (torn) and p5 only, and cuts the torn line off.
    fx.rp.limit = 0;
    fx.sc.requests = 0;
    CHECK(berry_eval_run(fx.lm, fx.d, &fx.rp, path, &st, fx.err, sizeof fx.err) == BERRY_OK);
    CHECK_EQ_INT(st.skipped, 3);
    CHECK_EQ_INT(st.evaluated, 2);
    CHECK_EQ_INT(fx.sc.requests, 2);
    CHECK_STR(fx.sc.seen[0], "p4");
    CHECK_STR(fx.sc.seen[1], "p5");
    CHECK(berry_results_load(path, &r, &n, &good, fx.err, sizeof fx.err) == BERRY_OK);
    CHECK_EQ_INT(n, 5);
    for (int i = 0; i < 5; i++) {
        char id[16];
        snprintf(id, sizeof id, "p%d", i + 1);
        CHECK_STR(r[i].id, id);
    }
    berry_results_free(r, n);
    // A third run has nothing to do.
    fx.sc.requests = 0;
    CHECK(berry_eval_run(fx.lm, fx.d, &fx.rp, path, &st, fx.err, sizeof fx.err) == BERRY_OK);
    CHECK_EQ_INT(fx.sc.requests, 0);
    CHECK_EQ_INT(st.skipped, 5);
    // Another method into the same file is refused, naming both.
    berry_eval_run_params other = fx.rp;
    other.method = berry_eval_method_find("sample");
    other.opts.k = 4;
    CHECK(berry_eval_run(fx.lm, fx.d, &other, path, &st, fx.err, sizeof fx.err) == BERRY_EINVAL);
    CHECK(strstr(fx.err, "greedy") && strstr(fx.err, "sample"));
    fixture_close(&fx);
}

TEST(eval_resume_after_model_failure) {
    fixture fx;
    CHECK(fixture_open(&fx, NULL, BERRY_PROMPTS_EMBEDDED, NULL, NULL));
    real_vt = fx.lm->vt;
    fail_vt = *fx.lm->vt;
    fail_vt.generate = failing_generate;
    fail_id = "p4";
    fx.lm->vt = &fail_vt;
    fx.rp.batch = 1;
    const char *path = results_path("fail.jsonl");
    berry_eval_run_stats st;
    CHECK(berry_eval_run(fx.lm, fx.d, &fx.rp, path, &st, fx.err, sizeof fx.err) == BERRY_EIO);
    CHECK(strstr(fx.err, "the model died"));
    CHECK_EQ_INT(st.evaluated, 3);
    berry_result *r;
    size_t n;
    CHECK(berry_results_load(path, &r, &n, NULL, fx.err, sizeof fx.err) == BERRY_OK);
    CHECK_EQ_INT(n, 3);
    berry_results_free(r, n);
    fx.lm->vt = real_vt;
    fx.sc.requests = 0;
    CHECK(berry_eval_run(fx.lm, fx.d, &fx.rp, path, &st, fx.err, sizeof fx.err) == BERRY_OK);
    CHECK_EQ_INT(fx.sc.requests, 2);
    CHECK(berry_results_load(path, &r, &n, NULL, fx.err, sizeof fx.err) == BERRY_OK);
    CHECK_EQ_INT(n, 5);
    berry_results_free(r, n);
    fixture_close(&fx);
}

// A fake whose generate kills its own process (SIGKILL, as kill -9 would) when p4's request comes.
static berry_status dying_generate(berry_lm *lm, const berry_lm_request *reqs, int n, berry_lm_output *out, char *err,
                                   size_t err_size) {
    for (int i = 0; i < n; i++)
        if (!strcmp(id_in(reqs[i].prompt), "p4")) raise(SIGKILL);
    return real_vt->generate(lm, reqs, n, out, err, err_size);
}

// A real kill -9 in the middle of a run: a child process evaluates until the model call of p4 kills it;
// the three records written before survive (each was flushed and fsync'd), and a rerun in this process
// does p4 and p5 only and leaves the five records in dataset order.
TEST(eval_resume_after_kill_9) {
    fixture fx;
    CHECK(fixture_open(&fx, NULL, BERRY_PROMPTS_EMBEDDED, NULL, NULL));
    fx.rp.batch = 1;
    const char *path = results_path("kill9.jsonl");
    unlink(path);
    fflush(NULL);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        real_vt = fx.lm->vt;
        fail_vt = *fx.lm->vt;
        fail_vt.generate = dying_generate;
        fx.lm->vt = &fail_vt;
        berry_eval_run(fx.lm, fx.d, &fx.rp, path, NULL, fx.err, sizeof fx.err);
        _exit(0);  // not reached: p4 kills the process
    }
    int status = 0;
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECKF(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "child status %d", status);
    berry_result *r;
    size_t n;
    CHECK(berry_results_load(path, &r, &n, NULL, fx.err, sizeof fx.err) == BERRY_OK);
    CHECK_EQ_INT(n, 3);
    berry_results_free(r, n);
    // The child's fake and script were its own copies: this process's fixture has seen no request.
    CHECK_EQ_INT(fx.sc.requests, 0);
    berry_eval_run_stats st;
    CHECK(berry_eval_run(fx.lm, fx.d, &fx.rp, path, &st, fx.err, sizeof fx.err) == BERRY_OK);
    CHECK_EQ_INT(st.skipped, 3);
    CHECK_EQ_INT(st.evaluated, 2);
    CHECK_STR(fx.sc.seen[0], "p4");
    CHECK_STR(fx.sc.seen[1], "p5");
    CHECK(berry_results_load(path, &r, &n, NULL, fx.err, sizeof fx.err) == BERRY_OK);
    CHECK_EQ_INT(n, 5);
    for (size_t i = 0; i < n; i++) {
        char id[32];
        snprintf(id, sizeof id, "p%d", (int)i + 1);
        CHECK_STR(r[i].id, id);
    }
    CHECK(r[3].correct[0] && !r[4].correct[0]);  // p4 answers 3 (right), p5 has no answer
    berry_results_free(r, n);
    fixture_close(&fx);
}

// Sample: three samples per problem, answers 7, 7, 3 whatever the problem; the reference of "q" is 3.
static char *reply_773(void *user, const char *prompt, const berry_sampling *s, int index) {
    (void)prompt;
    int *count = user;
    static const char *const ans[] = {"The answer is 7.", "\\boxed{7.0}", "The answer is 3."};
    (void)s;
    (void)index;
    return fake_strf("%s", ans[(*count)++ % 3]);
}

TEST(eval_sample_majority_is_not_an_oracle) {
    static const char *text = "{\"id\":\"q\",\"problem\":\"Pick a number.\",\"answer\":\"3\"}\n";
    int count = 0;
    fixture fx;
    CHECK(fixture_open(&fx, text, BERRY_PROMPTS_EMBEDDED, reply_773, &count));
    fx.rp.method = berry_eval_method_find("sample");
    fx.rp.opts.k = 3;
    const char *path = results_path("sample.jsonl");
    CHECK(berry_eval_run(fx.lm, fx.d, &fx.rp, path, NULL, fx.err, sizeof fx.err) == BERRY_OK);
    CHECK_EQ_INT(fx.f.n_generate, 1);
    CHECK_EQ_INT(fx.f.batch[0], 3);
    CHECK(fx.f.temperature[0] == 0.8f);
    berry_result *r;
    size_t n;
    CHECK(berry_results_load(path, &r, &n, NULL, fx.err, sizeof fx.err) == BERRY_OK);
    CHECK_EQ_INT(n, 1);
    // 7 and 7.0 are one answer with two votes: the majority is sample 0, which is wrong; sample 2 is
    // right, so pass@3 (the oracle) is 1 while the method's accuracy and maj@3 are 0.
    CHECK_EQ_INT(r[0].n, 3);
    CHECK_EQ_INT(r[0].pick, 0);
    CHECK_EQ_INT(r[0].majority, 0);
    CHECK(!r[0].correct[0] && !r[0].correct[1] && r[0].correct[2]);
    berry_eval_summary s;
    berry_eval_summarize(r, n, &s);
    CHECK_NEAR(s.acc, 0, 0);
    CHECK_NEAR(s.maj_at_k, 0, 0);
    CHECK_NEAR(s.pass_at_k, 1, 0);
    char *t = berry_eval_summary_text(&s, false);
    CHECK(t && strstr(t, "pass@3     100.0%  ORACLE"));
    free(t);
    berry_results_free(r, n);
    fixture_close(&fx);
}

// Records built by hand; every figure below is computed in the comments.
static berry_result hand(const char *id, int n, const bool *correct, int pick, int majority, long tokens) {
    berry_result r = {.id = strdup(id), .method = strdup("sample"), .budget = 4, .n = n, .pick = pick,
                           .majority = majority, .tokens = tokens, .model_calls = 1, .seconds = 0.5, .batch = 1};
    r.outputs = calloc((size_t)n, sizeof *r.outputs);
    r.answers = calloc((size_t)n, sizeof *r.answers);
    r.correct = calloc((size_t)n, sizeof *r.correct);
    for (int i = 0; i < n; i++) r.correct[i] = correct[i];
    return r;
}

TEST(eval_metrics_by_hand) {
    // a: 4 samples, 1 right (sample 0), majority wrong     pass@2 = 1 - C(3,2)/C(4,2) = 1 - 3/6 = 0.5
    // b: 4 samples, 2 right, majority right (sample 1)     pass@2 = 1 - C(2,2)/C(4,2) = 1 - 1/6 = 5/6
    // c: 4 samples, none right                             pass@2 = 0
    // d: 2 samples, both right, majority sample 0          pass@2 = 1
    // k = the fewest samples = 2; picks are the majorities; d has n = k so its majority counts,
    // a..c have n = 4 > k, so maj@2 counts their first sample: a right, b wrong, c wrong -> (1+0+0+1)/4.
    const bool a[] = {1, 0, 0, 0}, b[] = {0, 1, 1, 0}, c[] = {0, 0, 0, 0}, dd[] = {1, 1};
    berry_result r[4] = {hand("a", 4, a, 2, 2, 100), hand("b", 4, b, 1, 1, 50), hand("c", 4, c, 0, 0, 30),
                              hand("d", 2, dd, 0, 0, 20)};
    berry_eval_summary s;
    berry_eval_summarize(r, 4, &s);
    CHECK_EQ_INT(s.k, 2);
    CHECK_EQ_INT(s.correct, 2);  // b and d
    CHECK_NEAR(s.acc, 0.5, 1e-12);
    // Wilson, 2 of 4, z = 1.959964: center = (1/2 + z^2/8) / (1 + z^2/4) = 1/2 (symmetric);
    // half = z sqrt(1/16 + z^2/64) / (1 + z^2/4) = 1.959964 * sqrt(0.0625 + 0.0600228) / 1.9603648
    //      = 1.959964 * 0.3500326 / 1.9603648 = 0.6860513 / 1.9603648 = 0.3499610 -> [0.1500390, 0.8499610].
    CHECK_NEAR(s.acc_lo, 0.1500390, 2e-7);
    CHECK_NEAR(s.acc_hi, 0.8499610, 2e-7);
    CHECK_EQ_INT(s.first_correct, 2);  // a and d
    CHECK_NEAR(s.maj_at_k, 0.5, 1e-12);
    CHECK_NEAR(s.pass_at_k, (0.5 + 5.0 / 6 + 0 + 1) / 4, 1e-12);
    CHECK_EQ_INT(s.tokens, 200);
    CHECK_EQ_INT(s.model_calls, 4);
    CHECK_NEAR(s.seconds, 2.0, 1e-12);
    CHECK(!s.mixed);
    free(r[3].method);
    r[3].method = strdup("greedy");
    berry_eval_summarize(r, 4, &s);
    CHECK(s.mixed);
    for (int i = 0; i < 4; i++) berry_result_clear(&r[i]);
}

TEST(eval_report_table_text) {
    berry_eval_summary s[2] = {
        {.method = "greedy", .budget = 1, .data = "gsm8k/test.jsonl", .problems = 20, .correct = 5, .acc = 0.25,
         .acc_lo = 0.111862, .acc_hi = 0.468701, .k = 1, .tokens = 2000, .prompt_tokens_evaluated = 1000,
         .model_calls = 5, .seconds = 10},
        {.method = "sample", .budget = 8, .data = "gsm8k/test.jsonl", .problems = 20, .correct = 8, .acc = 0.4,
         .acc_lo = 0.2188, .acc_hi = 0.6134, .k = 8, .maj_at_k = 0.4, .pass_at_k = 0.65, .tokens = 16000,
         .prompt_tokens_evaluated = 1000, .model_calls = 20, .seconds = 50},
    };
    char *t = berry_eval_report_table(s, 2);
    CHECK(t);
    const char *want =
        "| method | budget | data | problems | accuracy % | 95% interval | maj@k % | pass@k % (ORACLE) | "
        "tokens / problem | prompt evaluated / problem | calls / problem | s / problem |\n"
        "|---|---:|---|---:|---:|---|---:|---:|---:|---:|---:|---:|\n"
        "| greedy | 1 | gsm8k/test.jsonl | 20 | 25.0 | [11.2, 46.9] | - | - | 100.0 | 50.0 | 0.25 | 0.50 |\n"
        "| sample | 8 | gsm8k/test.jsonl | 20 | 40.0 | [21.9, 61.3] | 40.0 (k=8) | 65.0 (k=8) | 800.0 | 50.0 | 1.00 | 2.50 |\n";
    CHECKF(!strncmp(t, want, strlen(want)), "table:\n%s", t);
    CHECK(strstr(t, "ORACLE"));
    free(t);
    // The plot: one point per summary with its interval, two series, names escaped.
    s[1].method = "<sc&>";
    char *svg = berry_eval_report_svg(s, 2, "t");
    CHECK(svg && !strncmp(svg, "<svg ", 5) && strstr(svg, "</svg>\n"));
    int circles = 0;
    for (const char *p = svg; (p = strstr(p, "<circle")); p++) circles++;
    CHECK_EQ_INT(circles, 2);
    CHECK(strstr(svg, "&lt;sc&amp;&gt;") && !strstr(svg, "<sc&>"));
    // 100 and 800 tokens per problem span less than 10x: a linear axis.
    CHECK(!strstr(svg, "log scale"));
    free(svg);
}

TEST(eval_records_reject_malformed_lines) {
    const char *path = results_path("bad.jsonl");
    FILE *f = fopen(path, "wb");
    CHECK(f);
    fputs("{\"id\":\"a\",\"correct\":[true],\"answers\":[\"1\"],\"outputs\":[\"x\"],\"pick\":0}\n", f);
    fputs("{\"id\":\"b\",\"correct\":[true],\"pick\":3}\n", f);
    fclose(f);
    berry_result *r;
    size_t n;
    char err[256];
    CHECK(berry_results_load(path, &r, &n, NULL, err, sizeof err) == BERRY_EFORMAT);
    CHECKF(strstr(err, "bad.jsonl:2:") && strstr(err, "pick"), "%s", err);
    f = fopen(path, "wb");
    fputs("not json\n{\"id\":\"a\",\"correct\":[]}\n", f);
    fclose(f);
    CHECK(berry_results_load(path, &r, &n, NULL, err, sizeof err) == BERRY_EFORMAT);
    CHECK(strstr(err, "bad.jsonl:1:"));
    // A missing file is a fresh run.
    CHECK(berry_results_load(results_path("none.jsonl"), &r, &n, NULL, err, sizeof err) == BERRY_OK);
    CHECK_EQ_INT(n, 0);
}

TEST(eval_prompt_set_by_model_name) {
    CHECK(berry_eval_prompts_for("berry-tiny") == BERRY_PROMPTS_EMBEDDED);
    CHECK(berry_eval_prompts_for("berry-tiny-rl") == BERRY_PROMPTS_EMBEDDED);
    CHECK(berry_eval_prompts_for("Qwen2.5 0.5B Instruct") == BERRY_PROMPTS_INSTRUCT);
    CHECK(berry_eval_prompts_for("berry-bpe") == BERRY_PROMPTS_INSTRUCT);
    CHECK(berry_eval_prompts_for(NULL) == BERRY_PROMPTS_INSTRUCT);
}

TEST(eval_instruct_prompt_goes_through_chat) {
    fixture fx;
    CHECK(fixture_open(&fx, NULL, BERRY_PROMPTS_INSTRUCT, NULL, NULL));
    fx.rp.limit = 1;
    const char *path = results_path("instruct.jsonl");
    CHECK(berry_eval_run(fx.lm, fx.d, &fx.rp, path, NULL, fx.err, sizeof fx.err) == BERRY_OK);
    berry_result *r;
    size_t n;
    CHECK(berry_results_load(path, &r, &n, NULL, fx.err, sizeof fx.err) == BERRY_OK);
    CHECK_EQ_INT(n, 1);
    // The fake's chat format: <system>...</><user>...</><assistant>.
    CHECK(r[0].prompt && !strncmp(r[0].prompt, "<system>", 8) && strstr(r[0].prompt, "\\boxed{}") &&
          strstr(r[0].prompt, "What is 2 + 3?"));
    CHECK(r[0].correct[0]);
    berry_results_free(r, n);
    fixture_close(&fx);
}

// Self-consistency through the search module: each sample answers from a cycle 5, 5, 6, so the vote is 5.
static char *reply_sc(void *user, const char *prompt, const berry_sampling *s, int index) {
    (void)prompt;
    (void)s;
    (void)index;
    int *count = user;
    static const char *const ans[] = {"The answer is 5.", "The answer is 5.", "The answer is 6."};
    return fake_strf("%s", ans[(*count)++ % 3]);
}

TEST(eval_search_method_sc) {
    const berry_eval_method *m = berry_eval_method_find("sc");
    if (!m) SKIP("no search methods registered");
    int count = 0;
    fixture fx;
    CHECK(fixture_open(&fx, NULL, BERRY_PROMPTS_EMBEDDED, reply_sc, &count));
    fx.rp.method = m;
    fx.rp.opts.k = 3;
    fx.rp.limit = 1;
    const char *path = results_path("sc.jsonl");
    CHECKF(berry_eval_run(fx.lm, fx.d, &fx.rp, path, NULL, fx.err, sizeof fx.err) == BERRY_OK, "%s", fx.err);
    berry_result *r;
    size_t n;
    CHECK(berry_results_load(path, &r, &n, NULL, fx.err, sizeof fx.err) == BERRY_OK);
    CHECK_EQ_INT(n, 1);
    CHECK_STR(r[0].method, "sc");
    CHECK_EQ_INT(r[0].budget, 3);
    CHECK_EQ_INT(r[0].n, 1);
    CHECK_STR(r[0].answers[0], "5");
    CHECK(r[0].correct[0]);  // p1's reference is 5
    CHECK_EQ_INT(r[0].nodes, 3);
    CHECK_EQ_INT(r[0].tokens, 12);  // three samples of 4 words
    CHECK_EQ_INT(count, 3);
    berry_results_free(r, n);
    fixture_close(&fx);
}

TEST(eval_offset_and_limit_pick_the_range) {
    fixture fx;
    CHECK(fixture_open(&fx, NULL, BERRY_PROMPTS_EMBEDDED, NULL, NULL));
    fx.rp.offset = 1;
    fx.rp.limit = 3;
    fx.rp.batch = 8;
    const char *path = results_path("range.jsonl");
    berry_eval_run_stats st;
    CHECK(berry_eval_run(fx.lm, fx.d, &fx.rp, path, &st, fx.err, sizeof fx.err) == BERRY_OK);
    // p2, p3, p4 in one call of three requests.
    CHECK_EQ_INT(fx.f.n_generate, 1);
    CHECK_EQ_INT(fx.f.batch[0], 3);
    CHECK_STR(fx.sc.seen[0], "p2");
    CHECK_STR(fx.sc.seen[2], "p4");
    // An offset past the end evaluates nothing and is not an error.
    fx.rp.offset = 99;
    CHECK(berry_eval_run(fx.lm, fx.d, &fx.rp, path, &st, fx.err, sizeof fx.err) == BERRY_OK);
    CHECK_EQ_INT(st.evaluated, 0);
    fixture_close(&fx);
}
