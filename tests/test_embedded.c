// test_embedded.c — the shipped embedded model, models/berry-tiny.gguf, and its PPRM,
// models/berry-tiny-prm.gguf (both built by scripts/make_model.sh): they are standard llama GGUFs within
// the 8 MB budget together, the policy solves easy word problems greedily, and the PPRM prefers the
// correct one of hand-written (correct, flawed) pairs in both presentation orders.
// The problems below are written here (not drawn from berry synth) in the curriculum's wording, and
// their answers are worked out by hand beside them. Skips visibly when the model is not there.
#include "test.h"
#include "search/roles.h"
#include "lm/lm.h"
#include "lm/lm_local.h"
#include "math/extract.h"
#include "math/grade.h"
#include "model/gguf.h"
#include "model/model.h"
#include "search/judge.h"
#include <stdlib.h>
#include <sys/stat.h>

static const char *shipped_path(const char *rel, char *path, size_t size) {
    const char *p = berry_test_path(rel);
    struct stat st;
    if (!p || stat(p, &st) != 0) return NULL;
    snprintf(path, size, "%s", p);
    return path;
}

static const char *model_path(void) {
    static char path[4096];
    return shipped_path("models/berry-tiny.gguf", path, sizeof path);
}

static const char *prm_path(void) {
    static char path[4096];
    return shipped_path("models/berry-tiny-prm.gguf", path, sizeof path);
}

static berry_lm *open_path(const char *path) {
    if (!path) return NULL;
    char err[256];
    berry_lm_local_params p = {.model_path = path, .n_threads = 2, .n_ctx = 512, .max_batch = 256};
    berry_lm *lm = berry_lm_local_open(&p, err, sizeof err);
    if (!lm) fprintf(stderr, "    open %s: %s\n", path, err);
    return lm;
}

static berry_lm *open_model(void) { return open_path(model_path()); }

// llama.cpp loads a llama GGUF by these names: a shipped file must use them, nothing of berry's own.
// Returns NULL, or what is wrong with PATH.
static const char *not_standard_llama(const char *path, char *why, size_t size) {
    char err[256];
    berry_gguf *g = berry_gguf_open(path, err, sizeof err);
    if (!g) return snprintf(why, size, "%s", err), why;
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
    if (!ok) return snprintf(why, size, "%s lacks llama.cpp's architecture, tokenizer or tensor names", path), why;
    berry_model *m = berry_model_load(path, err, sizeof err);
    if (!m) return snprintf(why, size, "%s", err), why;
    int64_t np = berry_model_n_params(m);
    berry_model_free(m);
    if (np < 1000000 || np > 8000000)
        return snprintf(why, size, "%s: %lld parameters, the embedded model is a few million", path, (long long)np), why;
    return NULL;
}

TEST(embedded_model_is_a_small_standard_llama_gguf) {
    const char *path = model_path();
    if (!path) SKIP("models/berry-tiny.gguf is missing (make model SHIP=1 builds it)");
    struct stat st;
    CHECK(stat(path, &st) == 0);
    CHECKF(st.st_size <= 8 * 1000 * 1000, "the shipped model is %lld bytes, over the 8 MB budget", (long long)st.st_size);
    char why[512];
    const char *bad = not_standard_llama(path, why, sizeof why);
    CHECKF(!bad, "%s", bad);
}

// The PPRM is a second file of the same kind; the 8 MB budget holds both files together.
TEST(embedded_prm_is_a_standard_llama_gguf_and_both_fit_8mb) {
    const char *path = prm_path(), *policy = model_path();
    if (!path || !policy) SKIP("models/berry-tiny-prm.gguf or berry-tiny.gguf is missing (make model SHIP=1 builds them)");
    struct stat a, b;
    CHECK(stat(path, &a) == 0 && stat(policy, &b) == 0);
    CHECKF(a.st_size + b.st_size <= 8 * 1000 * 1000, "the shipped files are %lld + %lld bytes, over the 8 MB budget",
           (long long)b.st_size, (long long)a.st_size);
    char why[512];
    const char *bad = not_standard_llama(path, why, sizeof why);
    CHECKF(!bad, "%s", bad);
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
    // The embedded model is weak (run 8, for which this floor was set: 43% greedy on level 1, and 2 of
    // these; run 15, shipped now, solves 60% of level 1, models/README.md): a floor, not a goal. A
    // random or broken model solves none of these.
    CHECKF(good >= 2, "solved %d of %d easy problems", good, N_EASY);
}

// The arithmetic a level 1-2 step looks up, in the drill format of make_model.sh ("Compute:" then
// "a op b = c" lines): equations written here, results worked by hand. Run 8, for which the floor was set,
// got 7 of these 12 right (the one before the drill got about half of its solutions' steps right, models/README.md);
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

// Hand-written (correct, flawed) pairs, one or two of each of the curriculum's flaw types, in its wording
// but not drawn from berry synth; the arithmetic is worked by hand in the comments.
typedef struct { const char *flaw, *q, *good, *bad; } pair;
static const pair PAIRS[] = {
    // 9 * 5 = 45, 60 - 45 = 15; the flawed one slips in step 1 (40) and carries it.
    {"slip", "Sam reads 9 pages a day for 5 days. The book has 60 pages. How many pages are left to read?",
     "Step 1: 9 * 5 = 45 pages read.\nStep 2: 60 - 45 = 15 pages still to go.\nThe answer is 15.",
     "Step 1: 9 * 5 = 40 pages read.\nStep 2: 60 - 40 = 20 pages still to go.\nThe answer is 20."},
    // 7 + 2 = 9, 9 * 2 = 18; the flawed one slips in step 2 (16).
    {"slip", "Lily has 7 marbles. Then she buys 2 more marbles. Later she ends up with 2 times as many marbles as before. How many marbles does Lily have now?",
     "Step 1: 7 + 2 = 9 marbles now.\nStep 2: 9 * 2 = 18 marbles now.\nThe answer is 18.",
     "Step 1: 7 + 2 = 9 marbles now.\nStep 2: 9 * 2 = 16 marbles now.\nThe answer is 16."},
    // 4 * 6 = 24, 30 - 24 = 6; the flawed one adds the price to the count (4 + 6 = 10, 30 - 10 = 20).
    {"wrong_op", "Nina buys 4 books. Each book costs $6. She pays with a $30 bill. How much change does Nina get?",
     "Step 1: 4 * 6 = 24 dollars for the books.\nStep 2: 30 - 24 = 6 dollars in change.\nThe answer is 6.",
     "Step 1: 4 + 6 = 10 dollars for the books.\nStep 2: 30 - 10 = 20 dollars in change.\nThe answer is 20."},
    // 18 - 5 = 13, 13 - 4 = 9; the flawed one adds the lost marbles (18 + 5 = 23, 23 - 4 = 19).
    {"wrong_op", "Hana has 18 marbles. She loses 5 marbles. She gives 4 marbles to Nora. How many marbles does Hana have now?",
     "Step 1: 18 - 5 = 13 marbles left.\nStep 2: 13 - 4 = 9 marbles left.\nThe answer is 9.",
     "Step 1: 18 + 5 = 23 marbles left.\nStep 2: 23 - 4 = 19 marbles left.\nThe answer is 19."},
    // 3 * 12 = 36, 36 - 7 = 29; the flawed one drops the boxes step (12 - 7 = 5).
    {"dropped", "Tom has 3 boxes with 12 apples in each. He gives 7 apples to Mia. How many apples does Tom have now?",
     "Step 1: 3 * 12 = 36 apples in the boxes.\nStep 2: 36 - 7 = 29 apples now.\nThe answer is 29.",
     "Step 1: 12 - 7 = 5 apples now.\nThe answer is 5."},
    // 6 * 2 = 12, 12 + 5 = 17; the flawed one adds the 5 found shells twice (17 + 5 = 22).
    {"repeated", "Emma has 6 shells. A week later she has 2 times as many shells. She finds 5 more shells. How many shells does Emma have at the end?",
     "Step 1: 6 * 2 = 12 shells now.\nStep 2: 12 + 5 = 17 shells now.\nThe answer is 17.",
     "Step 1: 6 * 2 = 12 shells now.\nStep 2: 12 + 5 = 17 shells now.\nStep 3: 17 + 5 = 22 shells now.\nThe answer is 22."},
    // 42 / 6 = 7, 7 * 4 = 28; the flawed one misreads 6 minutes as 7 (42 / 7 = 6, 6 * 4 = 24).
    {"misread", "Leo's machine makes 42 toys in 6 minutes. At the same rate, how many toys is that in 4 minutes?",
     "Step 1: 42 / 6 = 7 toys per minute.\nStep 2: 7 * 4 = 28 toys in 4 minutes.\nThe answer is 28.",
     "Step 1: 42 / 7 = 6 toys per minute.\nStep 2: 6 * 4 = 24 toys in 4 minutes.\nThe answer is 24."},
    // 5 * 7 = 35, 50 - 35 = 15; the flawed one misreads $7 as $9 (5 * 9 = 45, 50 - 45 = 5).
    {"misread", "Omar buys 5 pens. Each pen costs $7. He pays with a $50 bill. How much change does Omar get?",
     "Step 1: 5 * 7 = 35 dollars for the pens.\nStep 2: 50 - 35 = 15 dollars in change.\nThe answer is 15.",
     "Step 1: 5 * 9 = 45 dollars for the pens.\nStep 2: 50 - 45 = 5 dollars in change.\nThe answer is 5."},
};
#define N_PAIRS (int)(sizeof PAIRS / sizeof *PAIRS)
#define PRM_MIN_BOTH 5
#define PRM_MIN_AVG 6

// P(Yes) of the compare prompt (normalized over Yes and No, as SR-MCTS reads it) for the pair in both
// orders: P[i][0] with the correct solution first, P[i][1] with it second. Returns false on an error.
static bool pprm_probs(berry_lm *lm, double (*p)[2], int said[2]) {
    char err[256];
    berry_prompts jp;
    if (berry_prompts_init(&jp, BERRY_PROMPTS_EMBEDDED, err, sizeof err) != BERRY_OK) return false;
    bool ok = true;
    for (int i = 0; i < N_PAIRS && ok; i++)
        for (int order = 0; order < 2 && ok; order++) {
            const pair *x = &PAIRS[i];
            const char *sa = order ? x->bad : x->good, *sb = order ? x->good : x->bad;
            berry_role_args a = {.question = x->q, .solution = sa, .other = sb};
            berry_status st = BERRY_OK;
            ok = berry_judge_pairs(lm, &jp, &a, 1, &p[i][order], &st, err, sizeof err) == BERRY_OK && st == BERRY_OK;
            if (!ok) fprintf(stderr, "    %s\n", err);
            if (ok && i == 0) {  // what it writes is a check line
                char *prompt = berry_prompts_render(&jp, lm, BERRY_ROLE_COMPARE, &a);
                berry_lm_request rq = {.prompt = prompt, .sampling = {.temperature = 0, .top_p = 1, .max_tokens = 12}};
                berry_lm_output out = {0};
                ok = prompt && berry_lm_generate(lm, &rq, 1, &out, err, sizeof err) == BERRY_OK;
                said[order] = ok && !strncmp(out.text, BERRY_ROLE_CHECK, strlen(BERRY_ROLE_CHECK));
                berry_lm_output_clear(&out);
                free(prompt);
            }
        }
    berry_prompts_free(&jp);
    return ok;
}

// The shipped PPRM, asked as SR-MCTS asks it (src/search/judge.h: A's line against B's), is right in
// both presentation orders (P(A better) > 1/2 with the correct solution first, < 1/2 with it second) on
// some hand-written pairs, and its preference averaged over the two orders favours the correct solution
// on most. The floors are run 17's judge's 7 and 7 of 8 (it misses one misread number) less a margin;
// run 8's Yes / No PPRM got 2 and 6 (the dropped and repeated steps in both orders; models/README.md).
TEST(embedded_prm_prefers_the_correct_solution_of_hand_written_pairs) {
    berry_lm *lm = open_path(prm_path());
    if (!lm) SKIP("models/berry-tiny-prm.gguf is missing or does not load (make model SHIP=1 builds it)");
    double p[N_PAIRS][2];
    int said[2] = {-1, -1};
    bool ok = pprm_probs(lm, p, said);
    berry_lm_free(lm);
    CHECK(ok);
    CHECKF(said[0] == 1 && said[1] == 1, "the compare role did not answer with a check line");
    int both = 0, avg = 0;
    for (int i = 0; i < N_PAIRS; i++) {
        bool b = p[i][0] > 0.5 && p[i][1] < 0.5, a = (p[i][0] + 1 - p[i][1]) / 2 > 0.5;
        both += b, avg += a;
        fprintf(stderr, "    %-8s P(A | correct first) %.3f, P(A | correct second) %.3f%s\n", PAIRS[i].flaw, p[i][0],
                p[i][1], b ? "" : a ? "  (right on average only)" : "  (wrong)");
    }
    fprintf(stderr, "    both orders right on %d of %d pairs, averaged preference right on %d\n", both, N_PAIRS, avg);
    CHECKF(both >= PRM_MIN_BOTH, "right in both orders on %d of %d pairs (floor %d)", both, N_PAIRS, PRM_MIN_BOTH);
    CHECKF(avg >= PRM_MIN_AVG, "averaged preference right on %d of %d pairs (floor %d)", avg, N_PAIRS, PRM_MIN_AVG);
}
