// test_embedded.c — the shipped embedded model, models/berry-tiny.gguf (built by scripts/make_model.sh):
// it is a standard llama GGUF within the 8 MB budget, it solves easy word problems greedily, and as
// the PPRM it prefers the correct one of a clear (correct, flawed) pair in both presentation orders.
// The problems below are written here (not drawn from berry synth) in the curriculum's wording, and
// their answers are worked out by hand beside them. Skips visibly when the model is not there.
#include "test.h"
#include "data/roles.h"
#include "lm/lm.h"
#include "lm/lm_local.h"
#include "math/extract.h"
#include "math/grade.h"
#include "model/gguf.h"
#include "model/model.h"
#include <stdlib.h>
#include <sys/stat.h>

static const char *model_path(void) {
    static char path[4096];
    const char *p = berry_test_path("models/berry-tiny.gguf");
    struct stat st;
    if (!p || stat(p, &st) != 0) return NULL;
    snprintf(path, sizeof path, "%s", p);
    return path;
}

static berry_lm *open_model(void) {
    const char *path = model_path();
    if (!path) return NULL;
    char err[256];
    berry_lm_local_params p = {.model_path = path, .n_threads = 2, .n_ctx = 512, .max_batch = 256};
    berry_lm *lm = berry_lm_local_open(&p, err, sizeof err);
    if (!lm) fprintf(stderr, "    open %s: %s\n", path, err);
    return lm;
}

// llama.cpp loads a llama GGUF by these names: the file must use them, nothing of berry's own.
TEST(embedded_model_is_a_small_standard_llama_gguf) {
    const char *path = model_path();
    if (!path) SKIP("models/berry-tiny.gguf is missing (make model SHIP=1 builds it)");
    struct stat st;
    CHECK(stat(path, &st) == 0);
    CHECKF(st.st_size <= 8 * 1000 * 1000, "the shipped model is %lld bytes, over the 8 MB budget", (long long)st.st_size);
    char err[256];
    berry_gguf *g = berry_gguf_open(path, err, sizeof err);
    CHECKF(g, "%s", err);
    const char *s = NULL;
    size_t n = 0;
    bool ok = berry_gguf_get_str(g, "general.architecture", &s, &n) && n == 5 && !memcmp(s, "llama", 5);
    ok = ok && berry_gguf_get_str(g, "tokenizer.ggml.model", &s, &n) && n == 4 && !memcmp(s, "gpt2", 4);
    const char *names[] = {"token_embd.weight", "output_norm.weight", "output.weight", "blk.0.attn_q.weight",
                           "blk.0.attn_k.weight", "blk.0.attn_v.weight", "blk.0.attn_output.weight",
                           "blk.0.ffn_gate.weight", "blk.0.ffn_up.weight", "blk.0.ffn_down.weight",
                           "blk.0.attn_norm.weight", "blk.0.ffn_norm.weight"};
    for (size_t i = 0; ok && i < sizeof names / sizeof *names; i++) ok = berry_gguf_find_tensor(g, names[i]) >= 0;
    berry_gguf_close(g);
    CHECKF(ok, "%s lacks llama.cpp's architecture, tokenizer or tensor names", path);
    berry_model *m = berry_model_load(path, err, sizeof err);
    CHECKF(m, "%s", err);
    int64_t np = berry_model_n_params(m);
    berry_model_free(m);
    CHECKF(np >= 1000000 && np <= 8000000, "%lld parameters: the embedded model is a few million", (long long)np);
}

typedef struct { const char *q, *answer; } easy;

// Level-1 problems in the curriculum's families, with the solutions worked by hand.
static const easy EASY[] = {
    // 3 * 12 = 36 apples, 36 - 7 = 29
    {"Tom has 3 boxes with 12 apples in each. He gives 7 apples to Mia. How many apples does Tom have now?", "29"},
    // 4 * 6 = 24 dollars, 30 - 24 = 6
    {"Nina buys 4 books. Each book costs $6. She pays with a $30 bill. How much change does Nina get?", "6"},
    // 9 * 5 = 45 pages, 60 - 45 = 15
    {"Sam reads 9 pages a day for 5 days. The book has 60 pages. How many pages are left to read?", "15"},
    // 7 + 2 = 9 marbles, 9 * 2 = 18
    {"Lily has 7 marbles. Then she buys 2 more marbles. Later she ends up with 2 times as many marbles as before. How many marbles does Lily have now?", "18"},
    // x + 4 - 3 = 8: 8 + 3 = 11, 11 - 4 = 7
    {"Ben thinks of a number. He adds 4, then subtracts 3, and gets 8. What is the number?", "7"},
    // 6 * 2 = 12 shells, 12 + 5 = 17
    {"Emma has 6 shells. A week later she has 2 times as many shells. She finds 5 more shells. How many shells does Emma have at the end?", "17"},
};
#define N_EASY (int)(sizeof EASY / sizeof *EASY)

TEST(embedded_model_solves_easy_problems_greedily) {
    berry_lm *lm = open_model();
    if (!lm) SKIP("models/berry-tiny.gguf is missing or does not load (make model SHIP=1 builds it)");
    char prompts[N_EASY][512];
    berry_lm_request rq[N_EASY];
    berry_lm_output out[N_EASY];
    memset(out, 0, sizeof out);
    for (int i = 0; i < N_EASY; i++) {
        berry_role_args a = {.question = EASY[i].q};
        berry_role_prompt(prompts[i], sizeof prompts[i], BERRY_ROLE_SOLVE, &a);
        rq[i] = (berry_lm_request){.prompt = prompts[i], .sampling = {.temperature = 0, .top_p = 1, .max_tokens = 120}};
    }
    char err[256];
    berry_status st = berry_lm_generate(lm, rq, N_EASY, out, err, sizeof err);
    berry_lm_free(lm);
    CHECKF(st == BERRY_OK, "%s", err);
    int good = 0, formatted = 0;
    berry_grade_opts o = berry_grade_defaults();
    for (int i = 0; i < N_EASY; i++) {
        char *ans = berry_math_extract(out[i].text, out[i].len, BERRY_EXTRACT_MARKED);
        bool ok = ans && berry_math_equal(ans, EASY[i].answer, &o);
        good += ok;
        formatted += ans && !strncmp(out[i].text, "Step 1: ", 8) && strstr(out[i].text, "\nStep 2: ");
        if (!ok) fprintf(stderr, "    missed (want %s): %s\n", EASY[i].answer, out[i].text);
        free(ans);
        berry_lm_output_clear(&out[i]);
    }
    // Every answer comes in the curriculum's format: steps, then "The answer is N."
    CHECKF(formatted == N_EASY, "%d of %d outputs are step-by-step solutions with a final answer", formatted, N_EASY);
    // The shipped model is weak (43% greedy on level 1, models/README.md; it solves 2 of these): a floor,
    // not a goal. A random or broken model solves none of these.
    CHECKF(good >= 2, "solved %d of %d easy problems", good, N_EASY);
}

// The arithmetic a level 1-2 step looks up, in the drill format of make_model.sh ("Compute:" then
// "a op b = c" lines): equations written here, results worked by hand. The shipped model gets 7 of
// these 12 right (the one before the drill got about half of its solutions' steps right, models/README.md);
// a model that only learned the format gets almost none.
TEST(embedded_model_does_the_steps_arithmetic) {
    static const struct { const char *eq; long want; } EQ[] = {
        {"7 * 8", 56}, {"12 + 9", 21}, {"45 - 17", 28}, {"6 * 14", 84}, {"72 / 8", 9}, {"13 + 28", 41},
        {"100 - 36", 64}, {"9 * 11", 99}, {"56 / 4", 14}, {"18 * 3", 54}, {"150 - 64", 86}, {"35 + 47", 82},
    };
    enum { N = sizeof EQ / sizeof *EQ };
    berry_lm *lm = open_model();
    if (!lm) SKIP("models/berry-tiny.gguf is missing or does not load (make model SHIP=1 builds it)");
    char prompts[N][64], err[256];
    berry_lm_request rq[N];
    berry_lm_output out[N];
    memset(out, 0, sizeof out);
    for (int i = 0; i < N; i++) {
        snprintf(prompts[i], sizeof prompts[i], "Compute:\n%s =", EQ[i].eq);
        rq[i] = (berry_lm_request){.prompt = prompts[i], .sampling = {.temperature = 0, .top_p = 1, .max_tokens = 3}};
    }
    berry_status st = berry_lm_generate(lm, rq, N, out, err, sizeof err);
    berry_lm_free(lm);
    CHECKF(st == BERRY_OK, "%s", err);
    int good = 0;
    for (int i = 0; i < N; i++) {
        char *end = NULL;
        long v = out[i].text ? strtol(out[i].text, &end, 10) : 0;
        bool ok = end && end != out[i].text && v == EQ[i].want;
        good += ok;
        if (!ok) fprintf(stderr, "    %s = %ld, model: '%s'\n", EQ[i].eq, EQ[i].want, out[i].text ? out[i].text : "");
        berry_lm_output_clear(&out[i]);
    }
    CHECKF(good >= 6, "%d of %d equations right", good, N);
}

// The compare role answers Yes or No, and P(correct one better) read as SR-MCTS reads it, from the
// Yes/No logits of both presentation orders averaged (which cancels position bias), is above 1/2.
TEST(embedded_pprm_answers_yes_no_and_prefers_the_correct_solution) {
    berry_lm *lm = open_model();
    if (!lm) SKIP("models/berry-tiny.gguf is missing or does not load (make model SHIP=1 builds it)");
    const char *q = "Sam reads 9 pages a day for 5 days. The book has 60 pages. How many pages are left to read?";
    // Right: 9 * 5 = 45, 60 - 45 = 15. Flawed: a slip in step 1 (9 * 5 is 45, not 40) carried into step 2.
    const char *good = "Step 1: 9 * 5 = 45 pages read.\nStep 2: 60 - 45 = 15 pages still to go.\nThe answer is 15.";
    const char *bad = "Step 1: 9 * 5 = 40 pages read.\nStep 2: 60 - 40 = 20 pages still to go.\nThe answer is 20.";
    const char *conts[2] = {BERRY_ROLE_YES, BERRY_ROLE_NO};
    double lp[2][2];
    char prompt[2][1024], err[256];
    int said[2] = {-1, -1};
    berry_status st = BERRY_OK;
    for (int order = 0; order < 2 && !st; order++) {
        berry_role_args a = {.question = q, .solution = order ? bad : good, .other = order ? good : bad};
        berry_role_prompt(prompt[order], sizeof prompt[order], BERRY_ROLE_COMPARE, &a);
        st = berry_lm_score(lm, prompt[order], conts, 2, lp[order], err, sizeof err);
        berry_lm_request rq = {.prompt = prompt[order], .sampling = {.temperature = 0, .top_p = 1, .max_tokens = 4}};
        berry_lm_output out = {0};
        if (!st) st = berry_lm_generate(lm, &rq, 1, &out, err, sizeof err);
        if (!st) said[order] = berry_role_parse_yes_no(out.text);
        berry_lm_output_clear(&out);
    }
    berry_lm_free(lm);
    CHECKF(st == BERRY_OK, "%s", err);
    CHECKF(said[0] >= 0 && said[1] >= 0, "the compare role answered neither Yes nor No");
    // P(Yes) normalized over the two answers; the correct solution is A in order 0 and B in order 1.
    double p0 = 1 / (1 + exp(lp[0][1] - lp[0][0])), p1 = 1 / (1 + exp(lp[1][1] - lp[1][0]));
    double pref = (p0 + (1 - p1)) / 2;
    fprintf(stderr, "    P(Yes | correct first) %.3f, P(Yes | correct second) %.3f, averaged preference %.3f\n", p0, p1, pref);
    CHECKF(pref > 0.5, "the averaged PPRM preference for the correct solution is %.3f", pref);
}
