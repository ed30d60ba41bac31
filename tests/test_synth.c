// Tests of the synthetic curriculum (data/synth.h) and the role prompts (search/roles.h).
//
// References: the hand-built problem's solutions, flaws, critiques and scores are worked out by hand in
// the comments. Every generated solution is re-parsed from its text ("Step k: a op b = c ...", "The
// answer is N.") and its arithmetic recomputed with GMP's exact rationals, independently of the
// generator's own numbers; each given operand must appear in the question's text. Determinism and
// split disjointness are checked on the written JSONL files, read back with the JSON parser.
#include "test.h"
#include "base/json.h"
#include "search/critique.h"
#include "search/roles.h"
#include "data/synth.h"
#include <ctype.h>
#include <gmp.h>
#include <stdlib.h>
#include <sys/stat.h>

// ---- an independent checker of solution text ----

// Reads a number at *S: "12", "3/4" or "25%" (= 1/4). The token's text goes to TOK.
static bool read_num(const char **s, mpq_t out, char *tok, size_t tok_size) {
    const char *p = *s;
    char buf[64];
    size_t n = 0;
    if (!isdigit((unsigned char)*p)) return false;
    while (isdigit((unsigned char)*p) && n < 40) buf[n++] = *p++;
    if (*p == '/' && isdigit((unsigned char)p[1])) {
        buf[n++] = *p++;
        while (isdigit((unsigned char)*p) && n < 60) buf[n++] = *p++;
    }
    buf[n] = 0;
    if (mpq_set_str(out, buf, 10) != 0 || mpz_sgn(mpq_denref(out)) == 0) return false;
    mpq_canonicalize(out);
    bool pct = *p == '%';
    if (pct) {
        mpq_t h;
        mpq_init(h);
        mpq_set_ui(h, 100, 1);
        mpq_div(out, out, h);
        mpq_clear(h);
        p++;
    }
    snprintf(tok, tok_size, "%s%s", buf, pct ? "%" : "");
    *s = p;
    return true;
}

// Whether the question contains TOK as a whole number token (not inside a longer number).
static bool in_question(const char *q, const char *tok) {
    size_t n = strlen(tok);
    for (const char *p = strstr(q, tok); p; p = strstr(p + 1, tok)) {
        bool left = p == q || !(isdigit((unsigned char)p[-1]) || p[-1] == '/');
        char r = p[n];
        bool right = !(isdigit((unsigned char)r) || r == '%' || (r == '/' && isdigit((unsigned char)p[n + 1])));
        if (left && right) return true;
    }
    return false;
}

typedef struct {
    int lines;
    int errors;         // lines whose a op b != c
    int first_error;    // 1-based, 0 when none
    bool givens_ok;     // every operand is an earlier result or a number in the question
    mpq_t answer;
} check;

// Parses TEXT line by line; returns false (and says why) when the format is broken.
static bool check_text(const char *text, const char *question, check *c, char *why, size_t why_size) {
    mpq_t a, b, r, want, res[16];
    mpq_inits(a, b, r, want, NULL);
    for (int i = 0; i < 16; i++) mpq_init(res[i]);
    c->lines = c->errors = c->first_error = 0;
    c->givens_ok = true;
    bool ok = false;
    const char *p = text;
    for (;;) {
        char head[32], ta[72], tb[72], tc[72];
        snprintf(head, sizeof head, "Step %d: ", c->lines + 1);
        if (strncmp(p, head, strlen(head)) != 0) break;
        p += strlen(head);
        if (!read_num(&p, a, ta, sizeof ta)) { snprintf(why, why_size, "line %d: no first operand", c->lines + 1); goto out; }
        if (p[0] != ' ' || !strchr("+-*/", p[1]) || p[2] != ' ') { snprintf(why, why_size, "line %d: no operator", c->lines + 1); goto out; }
        char op = p[1];
        p += 3;
        if (!read_num(&p, b, tb, sizeof tb)) { snprintf(why, why_size, "line %d: no second operand", c->lines + 1); goto out; }
        if (strncmp(p, " = ", 3) != 0) { snprintf(why, why_size, "line %d: no ' = '", c->lines + 1); goto out; }
        p += 3;
        if (!read_num(&p, r, tc, sizeof tc)) { snprintf(why, why_size, "line %d: no result", c->lines + 1); goto out; }
        if (c->lines >= 16) { snprintf(why, why_size, "too many lines"); goto out; }
        switch (op) {
        case '+': mpq_add(want, a, b); break;
        case '-': mpq_sub(want, a, b); break;
        case '*': mpq_mul(want, a, b); break;
        default:
            if (mpq_sgn(b) == 0) { snprintf(why, why_size, "line %d divides by zero", c->lines + 1); goto out; }
            mpq_div(want, a, b);
        }
        if (!mpq_equal(want, r)) {
            c->errors++;
            if (!c->first_error) c->first_error = c->lines + 1;
        }
        // Operands: an earlier line's result, or a number the question states.
        const char *toks[2] = {ta, tb};
        mpq_ptr vals[2] = {a, b};
        for (int k = 0; k < 2; k++) {
            bool found = in_question(question, toks[k]);
            for (int i = 0; i < c->lines && !found; i++) found = mpq_equal(res[i], vals[k]);
            if (!found) c->givens_ok = false;
        }
        mpq_set(res[c->lines++], r);
        const char *e = strchr(p, '\n');
        if (!e) { snprintf(why, why_size, "no answer line"); goto out; }
        p = e + 1;
    }
    if (c->lines == 0) { snprintf(why, why_size, "no step lines"); goto out; }
    if (strncmp(p, "The answer is ", 14) != 0) { snprintf(why, why_size, "no 'The answer is'"); goto out; }
    p += 14;
    char tok[72];
    if (!read_num(&p, c->answer, tok, sizeof tok) || strcmp(p, ".") != 0) { snprintf(why, why_size, "bad answer line"); goto out; }
    if (!mpq_equal(c->answer, res[c->lines - 1])) { snprintf(why, why_size, "the answer is not the last result"); goto out; }
    ok = true;
out:
    mpq_clears(a, b, r, want, NULL);
    for (int i = 0; i < 16; i++) mpq_clear(res[i]);
    return ok;
}

// ---- a problem built by hand ----

// "Tom has 3 boxes with 12 apples in each. He gives away 7 apples. How many apples does he have left?"
// Step 1: 3 * 12 = 36; step 2: 36 - 7 = 29.
static void tom(berry_synth_problem *p) {
    memset(p, 0, sizeof *p);
    snprintf(p->question, sizeof p->question,
             "Tom has 3 boxes with 12 apples in each. He gives away 7 apples. How many apples does he have left?");
    p->family = "inventory";
    p->level = 1;
    p->n_steps = 2;
    p->steps[0] = (berry_synth_step){'*', {{-1, {3, 1}, false}, {-1, {12, 1}, false}}, 1, false, " apples in the boxes", "each of the 3 boxes holds 12 apples"};
    p->steps[1] = (berry_synth_step){'-', {{0, {0, 1}, false}, {-1, {7, 1}, false}}, 0, false, " apples left", "Tom gives away 7 apples"};
}

TEST(synth_hand_built_problem_and_its_flaws) {
    berry_synth_problem p;
    tom(&p);
    CHECK(berry_synth_finish(&p));
    CHECK(p.answer.num == 29 && p.answer.den == 1);
    berry_synth_solution s;
    char text[2048];
    berry_synth_solve(&p, &s);
    berry_synth_render(text, sizeof text, &p, &s);
    CHECK_STR(text, "Step 1: 3 * 12 = 36 apples in the boxes.\nStep 2: 36 - 7 = 29 apples left.\nThe answer is 29.");
    CHECK_EQ_INT(berry_synth_score(&s), 90);
    CHECK_EQ_INT(s.first_wrong, 0);
    // A size-0 call reports the length, as snprintf does.
    CHECK_EQ_INT(berry_synth_render(NULL, 0, &p, &s), strlen(text));

    berry_rng r;
    berry_rng_seed(&r, 5, 0);
    // Dropped step 1: step 2 uses the boxes' per-box count 12 (the carried operand): 12 - 7 = 5.
    CHECK(berry_synth_flaw_at(&p, BERRY_SYNTH_DROPPED, 0, &r, &s));
    berry_synth_render(text, sizeof text, &p, &s);
    CHECK_STR(text, "Step 1: 12 - 7 = 5 apples left.\nThe answer is 5.");
    CHECK_EQ_INT(s.first_wrong, 1);
    CHECK_STR(s.critique, "Step 1 is wrong: a step is missing before it, because each of the 3 boxes holds 12 apples. "
                          "The missing step is 3 * 12 = 36.");
    CHECK_EQ_INT(berry_synth_score(&s), -90);  // first of 1 line: -90 + 10 * (7 * 0 / 1)
    // Step 2 is needed by nothing: it cannot be dropped.
    CHECK(!berry_synth_flaw_at(&p, BERRY_SYNTH_DROPPED, 1, &r, &s));

    // Repeated step 2: 36 - 7 = 29, 29 - 7 = 22; the repetition (line 3) is the first wrong line.
    CHECK(berry_synth_flaw_at(&p, BERRY_SYNTH_REPEATED, 1, &r, &s));
    berry_synth_render(text, sizeof text, &p, &s);
    CHECK_STR(text, "Step 1: 3 * 12 = 36 apples in the boxes.\nStep 2: 36 - 7 = 29 apples left.\n"
                    "Step 3: 29 - 7 = 22 apples left.\nThe answer is 22.");
    CHECK_EQ_INT(s.first_wrong, 3);
    CHECK_STR(s.critique, "Step 3 is wrong: it repeats step 2, which must be done only once.");
    CHECK_EQ_INT(berry_synth_score(&s), -50);  // -90 + 10 * floor(7 * 2 / 3) = -90 + 40

    // Wrong operation at step 2: the only alternative to '-' is '+': 36 + 7 = 43.
    CHECK(berry_synth_flaw_at(&p, BERRY_SYNTH_WRONG_OP, 1, &r, &s));
    berry_synth_render(text, sizeof text, &p, &s);
    CHECK_STR(text, "Step 1: 3 * 12 = 36 apples in the boxes.\nStep 2: 36 + 7 = 43 apples left.\nThe answer is 43.");
    CHECK_STR(s.critique, "Step 2 is wrong: it should subtract, not add, because Tom gives away 7 apples. "
                          "The correct step is 36 - 7 = 29.");
    CHECK_EQ_INT(berry_synth_score(&s), -60);  // -90 + 10 * floor(7 * 1 / 2)

    // Slip at step 1 and a misread at step 1: the wrong line is line 1, and the answer changes.
    for (int rep = 0; rep < 20; rep++) {
        CHECK(berry_synth_flaw_at(&p, BERRY_SYNTH_SLIP, 0, &r, &s));
        CHECK_EQ_INT(s.first_wrong, 1);
        CHECK(s.line[0].c.num != 36 && s.line[1].c.num == s.line[0].c.num - 7);
        CHECK_EQ_INT(berry_role_parse_wrong_step(s.critique), 1);
        CHECK(berry_synth_flaw_at(&p, BERRY_SYNTH_MISREAD, 0, &r, &s));
        int64_t a = s.line[0].a.num, b = s.line[0].b.num;
        CHECK((a == 3) != (b == 12));  // exactly one of the two numbers is misread
        CHECK(s.line[0].c.num == a * b && s.answer.num == a * b - 7);
        CHECK(strstr(s.critique, "but the question says") != NULL);
    }
}

// Two purchases and their sum: the two products in either order, and each of the three steps' operands
// either way round, make 2 * 2^3 = 16 paths; every one must come up, the sum always last.
TEST(synth_vary_draws_every_path) {
    berry_synth_problem p;
    memset(&p, 0, sizeof p);
    snprintf(p.question, sizeof p.question, "Ann buys 3 pens for $4 each. She also buys 5 cups for $2 each. How much does she spend?");
    p.family = "shopping";
    p.level = 2;
    p.n_steps = 3;
    p.steps[0] = (berry_synth_step){'*', {{-1, {3, 1}, false}, {-1, {4, 1}, false}}, 1, false, " dollars for the pens", "3 pens at $4"};
    p.steps[1] = (berry_synth_step){'*', {{-1, {5, 1}, false}, {-1, {2, 1}, false}}, 1, false, " dollars for the cups", "5 cups at $2"};
    p.steps[2] = (berry_synth_step){'+', {{0, {0, 1}, false}, {1, {0, 1}, false}}, 0, false, " dollars in all", "the sum"};
    CHECK(berry_synth_finish(&p));
    berry_rng r;
    berry_rng_seed(&r, 9, 0);
    char seen[16][256];
    int n_seen = 0;
    for (int k = 0; k < 400; k++) {
        berry_synth_problem v;
        berry_synth_solution s;
        char text[256];
        berry_synth_vary(&p, &r, &v);
        CHECK(berry_synth_finish(&v));
        CHECK(v.answer.num == 22 && v.answer.den == 1);
        berry_synth_solve(&v, &s);
        berry_synth_render(text, sizeof text, &v, &s);
        CHECKF(strstr(text, "Step 3: 12 + 10 = 22 dollars in all.") || strstr(text, "Step 3: 10 + 12 = 22 dollars in all."), "%s", text);
        bool known = false;
        for (int i = 0; i < n_seen; i++) known |= !strcmp(seen[i], text);
        if (!known) {
            CHECKF(n_seen < 16, "a 17th path:\n%s", text);
            if (n_seen < 16) snprintf(seen[n_seen++], sizeof seen[0], "%s", text);
        }
    }
    CHECK_EQ_INT(n_seen, 16);
    // A percent is never moved to the left ("25% * 52" reads wrongly), and the order of dependent
    // steps is kept: Tom's product comes before the subtraction that uses it.
    tom(&p);
    p.steps[1] = (berry_synth_step){'*', {{0, {0, 1}, false}, {-1, {1, 4}, true}}, 0, false, " apples given away", "a quarter"};
    CHECK(berry_synth_finish(&p));
    for (int k = 0; k < 64; k++) {
        berry_synth_problem v;
        berry_synth_solution s;
        char text[256];
        berry_synth_vary(&p, &r, &v);
        berry_synth_solve(&v, &s);
        berry_synth_render(text, sizeof text, &v, &s);
        CHECKF(strstr(text, "Step 2: 36 * 25% = 9 apples given away.") != NULL, "%s", text);
    }
}

// ---- every generated solution, re-checked ----

TEST(synth_every_solution_verified_with_exact_arithmetic) {
    berry_rng r;
    berry_rng_seed(&r, 11, 0);
    char text[4096], why[128] = "";
    int n_kind[BERRY_SYNTH_N_FLAWS] = {0}, families = 0, fractions = 0, percents = 0, varied = 0, n_varied = 0;
    const char *seen_family[4] = {0};
    check c, cb;
    mpq_init(c.answer);
    mpq_init(cb.answer);
    for (int level = 1; level <= 5; level++) {
        berry_synth_level_info L = berry_synth_level(level);
        for (int i = 0; i < 150; i++) {
            berry_synth_problem p;
            berry_synth_solution s, b;
            CHECK(berry_synth_generate(&p, &r, level, NULL, 0) == BERRY_OK);
            CHECKF(p.n_steps >= L.steps_min && p.n_steps <= L.steps_max, "level %d has %d steps", level, p.n_steps);
            berry_synth_solve(&p, &s);
            berry_synth_render(text, sizeof text, &p, &s);
            CHECKF(check_text(text, p.question, &c, why, sizeof why), "%s\n%s\n%s", why, p.question, text);
            CHECKF(c.errors == 0, "arithmetic error in line %d:\n%s\n%s", c.first_error, p.question, text);
            CHECKF(c.givens_ok, "an operand is neither in the question nor an earlier result:\n%s\n%s", p.question, text);
            CHECK_EQ_INT(c.lines, p.n_steps);
            // Other paths through the same problem: each checks out on its own, with the same answer.
            for (int k = 0; k < 4; k++) {
                berry_synth_problem v;
                berry_synth_solution vs;
                char vtext[4096];
                berry_synth_vary(&p, &r, &v);
                CHECK_STR(v.question, p.question);
                berry_synth_solve(&v, &vs);
                berry_synth_render(vtext, sizeof vtext, &v, &vs);
                CHECKF(check_text(vtext, p.question, &cb, why, sizeof why), "%s\n%s\n%s", why, p.question, vtext);
                CHECKF(cb.errors == 0 && cb.givens_ok && cb.lines == p.n_steps, "variant:\n%s\n%s", p.question, vtext);
                CHECKF(mpq_equal(cb.answer, c.answer), "the variant's answer differs:\n%s\n%s\n%s", p.question, text, vtext);
                varied += strcmp(vtext, text) != 0;
                n_varied++;
            }
            fractions += mpz_cmp_ui(mpq_denref(c.answer), 1) != 0;
            percents += strchr(p.question, '%') != NULL;
            bool known = false;
            for (int f = 0; f < families; f++) known |= !strcmp(seen_family[f], p.family);
            if (!known && families < 4) seen_family[families++] = p.family;

            // Two flawed solutions: each keeps the format; only a slip breaks arithmetic, and exactly in
            // the line the critique names; every flaw changes the final answer.
            for (int k = 0; k < 2; k++) {
                if (!berry_synth_flaw_any(&p, &r, BERRY_SYNTH_CORRECT, &b)) continue;
                n_kind[b.flaw]++;
                berry_synth_render(text, sizeof text, &p, &b);
                CHECKF(check_text(text, p.question, &cb, why, sizeof why), "%s\n%s", why, text);
                if (b.flaw == BERRY_SYNTH_SLIP) {
                    CHECKF(cb.errors == 1 && cb.first_error == b.first_wrong, "slip: %d errors, first %d, labelled %d\n%s",
                           cb.errors, cb.first_error, b.first_wrong, text);
                } else CHECKF(cb.errors == 0, "%s: arithmetic error in line %d\n%s", berry_synth_flaw_name(b.flaw), cb.first_error, text);
                CHECKF(!mpq_equal(cb.answer, c.answer), "%s leaves the answer unchanged\n%s", berry_synth_flaw_name(b.flaw), text);
                CHECK(b.first_wrong >= 1 && b.first_wrong <= cb.lines);
                CHECK_EQ_INT(berry_role_parse_wrong_step(b.critique), b.first_wrong);
                // Every critique synth writes makes claims that hold (src/search/critique.h).
                CHECKF(berry_critique_holds(p.question, text, b.critique, NULL, 0), "%s: the critique does not hold\n%s\n%s\n%s",
                       berry_synth_flaw_name(b.flaw), p.question, text, b.critique);
                int sc = berry_synth_score(&b);
                CHECK(sc >= -90 && sc <= -30);
            }
        }
    }
    mpq_clear(c.answer);
    mpq_clear(cb.answer);
    CHECK_EQ_INT(families, 4);
    CHECK(fractions > 0 && percents > 0);
    // Most problems have a + or * step, so most paths drawn differ from the fixed one.
    CHECKF(varied > n_varied / 3, "only %d of %d paths differ from the fixed one", varied, n_varied);
    for (int k = 1; k < BERRY_SYNTH_N_FLAWS; k++) CHECKF(n_kind[k] > 50, "only %d flaws of kind %s", n_kind[k], berry_synth_flaw_name(k));
}

TEST(synth_generation_is_deterministic_per_seed) {
    berry_rng a, b, c;
    berry_rng_seed(&a, 3, 0);
    berry_rng_seed(&b, 3, 0);
    berry_rng_seed(&c, 4, 0);
    int differ = 0;
    for (int i = 0; i < 50; i++) {
        berry_synth_problem p, q, o;
        berry_synth_generate(&p, &a, 1 + i % 5, NULL, 0);
        berry_synth_generate(&q, &b, 1 + i % 5, NULL, 0);
        berry_synth_generate(&o, &c, 1 + i % 5, NULL, 0);
        CHECK_STR(p.question, q.question);
        CHECK(p.key == q.key && p.split == q.split);
        differ += strcmp(p.question, o.question) != 0;
    }
    CHECK(differ > 40);
    char err[128];
    berry_synth_problem p;
    CHECK(berry_synth_generate(&p, &a, 0, err, sizeof err) == BERRY_EINVAL);
    CHECK(berry_synth_generate(&p, &a, 6, err, sizeof err) == BERRY_EINVAL);
}

// The split is a fixed function of the key: 80/10/10 over many keys, and the same for the same key.
TEST(synth_split_proportions) {
    long n[3] = {0};
    for (uint64_t k = 0; k < 100000; k++) n[berry_synth_split_of(k * 0x9E3779B97F4A7C15ull)]++;
    CHECK(n[0] > 79000 && n[0] < 81000);
    CHECK(n[1] > 9400 && n[1] < 10600);
    CHECK(n[2] > 9400 && n[2] < 10600);
}

// ---- the written files ----

static const char *const splits[] = {"train", "dev", "test"};
static const char *const roles[] = {"problems", "pretrain", "solve", "critique", "rewrite", "selfeval", "compare", "dpo", "journey"};

static bool write_dir_vary(const char *dir, uint64_t seed, long n_train, bool vary) {
    mkdir(dir, 0777);
    berry_synth_config cfg = {.seed = seed, .n_train = n_train, .n_dev = 50, .n_test = 50, .level_lo = 1, .level_hi = 5, .flaws = 2, .vary = vary};
    char err[256];
    berry_synth_stats st;
    berry_status rc = berry_synth_write(&cfg, dir, NULL, NULL, &st, err, sizeof err);
    if (rc) fprintf(stderr, "    %s\n", err);
    return rc == BERRY_OK && st.problems[0] == n_train && st.problems[1] == 50 && st.problems[2] == 50;
}

static bool write_dir(const char *dir, uint64_t seed, long n_train) { return write_dir_vary(dir, seed, n_train, false); }

TEST(synth_write_is_deterministic) {
    char a[1024], b[1024], c[1024];
    snprintf(a, sizeof a, "%s/a", berry_test_tmpdir());
    snprintf(b, sizeof b, "%s/b", berry_test_tmpdir());
    snprintf(c, sizeof c, "%s/c", berry_test_tmpdir());
    CHECK(write_dir(a, 3, 200) && write_dir(b, 3, 200) && write_dir(c, 4, 200));
    for (int s = 0; s < 3; s++)
        for (int r = 0; r < 9; r++) {
            char pa[1100], pb[1100], pc[1100];
            snprintf(pa, sizeof pa, "%s/%s_%s.jsonl", a, splits[s], roles[r]);
            snprintf(pb, sizeof pb, "%s/%s_%s.jsonl", b, splits[s], roles[r]);
            snprintf(pc, sizeof pc, "%s/%s_%s.jsonl", c, splits[s], roles[r]);
            size_t na, nb, nc;
            char *x = berry_test_read_file(pa, &na), *y = berry_test_read_file(pb, &nb), *z = berry_test_read_file(pc, &nc);
            CHECKF(x && y && z && na > 0, "%s missing or empty", pa);
            CHECKF(na == nb && !memcmp(x, y, na), "%s differs between two runs with the same seed", pa);
            CHECKF(na != nc || memcmp(x, z, na), "%s is the same for seeds 3 and 4", pa);
            free(x); free(y); free(z);
        }
}

// --vary changes the solve and pretrain records only (and meta.json, which says so): the same problems,
// critiques, rewrites and pairs, and solve completions that differ for many problems.
TEST(synth_write_vary_changes_only_the_solve_paths) {
    char a[1024], v[1024];
    snprintf(a, sizeof a, "%s/plain", berry_test_tmpdir());
    snprintf(v, sizeof v, "%s/vary", berry_test_tmpdir());
    CHECK(write_dir_vary(a, 3, 200, false) && write_dir_vary(v, 3, 200, true));
    for (int s = 0; s < 3; s++)
        for (int r = 0; r < 9; r++) {
            char pa[1100], pv[1100];
            snprintf(pa, sizeof pa, "%s/%s_%s.jsonl", a, splits[s], roles[r]);
            snprintf(pv, sizeof pv, "%s/%s_%s.jsonl", v, splits[s], roles[r]);
            size_t na, nv;
            char *x = berry_test_read_file(pa, &na), *y = berry_test_read_file(pv, &nv);
            CHECKF(x && y && na > 0, "%s missing or empty", pa);
            bool same = x && y && na == nv && !memcmp(x, y, na);
            bool paths = !strcmp(roles[r], "solve") || !strcmp(roles[r], "pretrain");
            CHECKF(same != paths, "%s: %s with --vary", pa, same ? "unchanged" : "changed");
            if (paths && x && y) {
                // Line by line: the same number of records, and the prompts kept.
                int lx = 0, ly = 0;
                for (char *q = x; (q = strchr(q, '\n')); q++) lx++;
                for (char *q = y; (q = strchr(q, '\n')); q++) ly++;
                CHECK_EQ_INT(lx, ly);
            }
            free(x); free(y);
        }
}

// Reads DIR/SPLIT_problems.jsonl; adds each (id, question, split) to the arrays.
typedef struct { char *id, *question; int split, level, seed; } rec;

static int read_problems(const char *dir, int seed, int split, rec *out, int max, int *n) {
    char path[1100];
    snprintf(path, sizeof path, "%s/%s_problems.jsonl", dir, splits[split]);
    char *text = berry_test_read_file(path, NULL);
    if (!text) return -1;
    int lines = 0;
    for (char *p = text, *e; *p; p = e + 1) {
        e = strchr(p, '\n');
        if (!e) break;
        char err[128];
        berry_json *j = berry_json_parse(p, (size_t)(e - p), err, sizeof err);
        if (!j) { free(text); return -1; }
        long long lv;
        const char *id = berry_json_str(berry_json_get(j, "id")), *q = berry_json_str(berry_json_get(j, "question"));
        const char *sp = berry_json_str(berry_json_get(j, "split")), *ans = berry_json_str(berry_json_get(j, "answer"));
        const char *fin = berry_json_str(berry_json_get(j, "final"));
        bool good = id && q && sp && ans && fin && !strcmp(sp, splits[split]) && berry_json_int(berry_json_get(j, "level"), &lv);
        // The answer text ends with "The answer is FINAL."
        char tail[64];
        snprintf(tail, sizeof tail, "The answer is %s.", fin ? fin : "?");
        good = good && strlen(ans) >= strlen(tail) && !strcmp(ans + strlen(ans) - strlen(tail), tail);
        if (good && *n < max) out[(*n)++] = (rec){strdup(id), strdup(q), split, (int)lv, seed};
        berry_json_free(j);
        if (!good) { free(text); return -1; }
        lines++;
    }
    free(text);
    return lines;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

TEST(synth_splits_are_disjoint_across_seeds) {
    char d1[1024], d2[1024];
    snprintf(d1, sizeof d1, "%s/s1", berry_test_tmpdir());
    snprintf(d2, sizeof d2, "%s/s2", berry_test_tmpdir());
    CHECK(write_dir(d1, 1, 400) && write_dir(d2, 2, 400));
    enum { MAX = 2000 };
    rec *r = calloc(MAX, sizeof *r);
    int n = 0;
    for (int s = 0; s < 3; s++) {
        int per_level[6] = {0}, before = n;
        CHECK_EQ_INT(read_problems(d1, 1, s, r, MAX, &n), s ? 50 : 400);
        for (int i = before; i < n; i++) per_level[r[i].level]++;
        for (int l = 1; l <= 5; l++) CHECK_EQ_INT(per_level[l], (s ? 50 : 400) / 5);  // round-robin levels
        CHECK_EQ_INT(read_problems(d2, 2, s, r, MAX, &n), s ? 50 : 400);
    }
    // Within one seed an id appears once, across all splits (the generator rejects repeats).
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++)
            CHECKF(r[i].seed != r[j].seed || strcmp(r[i].id, r[j].id), "%s twice in seed %d", r[i].id, r[i].seed);
    // Sort "id\tsplit" and "question\tsplit" strings: equal ids or questions must carry equal splits.
    CHECK(n > 0 && n <= MAX);
    char **ids = calloc((size_t)n, sizeof *ids), **qs = calloc((size_t)n, sizeof *qs);
    for (int i = 0; i < n; i++) {
        ids[i] = malloc(strlen(r[i].id) + 4);
        sprintf(ids[i], "%s\t%d", r[i].id, r[i].split);
        qs[i] = malloc(strlen(r[i].question) + 4);
        sprintf(qs[i], "%s\t%d", r[i].question, r[i].split);
    }
    qsort(ids, (size_t)n, sizeof *ids, cmp_str);
    qsort(qs, (size_t)n, sizeof *qs, cmp_str);
    int shared = 0;
    for (int i = 1; i < n; i++) {
        for (char **v = ids; v; v = v == ids ? qs : NULL) {
            const char *x = v[i - 1], *y = v[i];
            size_t lx = strrchr(x, '\t') - x, ly = strrchr(y, '\t') - y;
            if (lx == ly && !strncmp(x, y, lx)) {
                shared += v == ids;
                CHECKF(!strcmp(x, y), "the same problem is in two splits: %s / %s", x, y);
            }
        }
    }
    // Seeds 1 and 2 overlap somewhat (level 1 has few distinct problems): the check above was exercised.
    CHECK(shared > 0);
    for (int i = 0; i < n; i++) { free(ids[i]); free(qs[i]); free(r[i].id); free(r[i].question); }
    free(ids); free(qs); free(r);
}

// Every record of every file is one JSON object with the fields the trainer reads, non-empty.
TEST(synth_files_have_trainer_fields) {
    char d[1024];
    snprintf(d, sizeof d, "%s/f", berry_test_tmpdir());
    CHECK(write_dir(d, 9, 100));
    static const char *const need[9][3] = {
        {"question", "answer", "final"}, {"text", NULL, NULL}, {"prompt", "completion", NULL},
        {"prompt", "completion", NULL}, {"prompt", "completion", NULL}, {"prompt", "completion", NULL},
        {"prompt", "completion", NULL}, {"prompt", "chosen", "rejected"}, {"text", NULL, NULL},
    };
    for (int s = 0; s < 3; s++)
        for (int ro = 0; ro < 9; ro++) {
            char path[1100];
            snprintf(path, sizeof path, "%s/%s_%s.jsonl", d, splits[s], roles[ro]);
            char *text = berry_test_read_file(path, NULL);
            CHECKF(text, "%s missing", path);
            int lines = 0, yes = 0, no = 0;
            for (char *p = text, *e; *p; p = e + 1) {
                e = strchr(p, '\n');
                CHECKF(e, "%s: last line not terminated", path);
                char err[128];
                berry_json *j = berry_json_parse(p, (size_t)(e - p), err, sizeof err);
                CHECKF(j && j->type == BERRY_JSON_OBJECT, "%s line %d: %s", path, lines + 1, j ? "not an object" : err);
                for (int k = 0; k < 3 && need[ro][k]; k++) {
                    const char *v = berry_json_str(berry_json_get(j, need[ro][k]));
                    CHECKF(v && *v, "%s line %d: no \"%s\"", path, lines + 1, need[ro][k]);
                }
                const char *comp = berry_json_str(berry_json_get(j, "completion"));
                if (ro == 6) {
                    // The completion is the check line of A (first order) or of B (second order).
                    char *ca, *cb;
                    const char *pr = berry_json_str(berry_json_get(j, "prompt"));
                    CHECKF(berry_role_compare_checks_of(pr, &ca, &cb), "%s line %d: not a compare prompt", path, lines + 1);
                    yes += !strcmp(comp, ca), no += !strcmp(comp, cb);
                    CHECKF(strcmp(ca, cb), "%s line %d: A and B go on alike", path, lines + 1);
                    free(ca);
                    free(cb);
                }
                if (ro == 5) { int sc; CHECK(berry_role_parse_score(comp, &sc)); }
                if (ro == 8) {
                    const char *t = berry_json_str(berry_json_get(j, "text"));
                    CHECK(!strncmp(t, "<start_of_father_id>-1<end_of_father_id><start_of_local_id>0<end_of_local_id><start_of_thought><problem>", 103));
                    CHECK(strstr(t, "<conclusion>The answer is ") != NULL);
                    // A flawed attempt: some step rated negative before the critic, then refine.
                    const char *crit = strstr(t, "<critic>Step ");
                    if (crit) {
                        const char *neg = strstr(t, "<negative_rating>");
                        CHECK(neg && neg < crit && strstr(crit, "<refine>Step 1: "));
                    }
                }
                berry_json_free(j);
                lines++;
            }
            free(text);
            CHECKF(lines > 0, "%s is empty", path);
            if (ro == 6) CHECK(yes == no && yes > 0);  // both presentation orders of every pair
        }
}

TEST(synth_write_rejects_bad_config_and_missing_dir) {
    char err[256];
    berry_synth_config cfg = {.seed = 1, .n_train = 10, .n_dev = 1, .n_test = 1, .level_lo = 0, .level_hi = 5, .flaws = 2};
    CHECK(berry_synth_write(&cfg, berry_test_tmpdir(), NULL, NULL, NULL, err, sizeof err) == BERRY_EINVAL);
    cfg.level_lo = 1;
    cfg.flaws = 9;
    CHECK(berry_synth_write(&cfg, berry_test_tmpdir(), NULL, NULL, NULL, err, sizeof err) == BERRY_EINVAL);
    cfg.flaws = 1;
    char missing[1024];
    snprintf(missing, sizeof missing, "%s/no/such/dir", berry_test_tmpdir());
    CHECK(berry_synth_write(&cfg, missing, NULL, NULL, NULL, err, sizeof err) == BERRY_EIO);
    CHECK(strstr(err, "no/such/dir") != NULL);
}

// ---- role prompts ----

TEST(roles_prompts_are_the_documented_templates) {
    char buf[512];
    berry_role_args a = {"What is 2 + 3?", "Step 1: 2 + 3 = 5.\nThe answer is 5.", "All steps are correct.", "Step 1: 2 + 3 = 6.\nThe answer is 6."};
    berry_role_prompt(buf, sizeof buf, BERRY_ROLE_SOLVE, &a);
    CHECK_STR(buf, "Question: What is 2 + 3?\nSolve step by step.\n");
    berry_role_prompt(buf, sizeof buf, BERRY_ROLE_CRITIQUE, &a);
    CHECK_STR(buf, "Question: What is 2 + 3?\nSolution:\nStep 1: 2 + 3 = 5.\nThe answer is 5.\nFind the first wrong step.\n");
    berry_role_prompt(buf, sizeof buf, BERRY_ROLE_REWRITE, &a);
    CHECK_STR(buf, "Question: What is 2 + 3?\nSolution:\nStep 1: 2 + 3 = 5.\nThe answer is 5.\nCritique: All steps are correct.\n"
                   "Question: What is 2 + 3?\nWrite a correct solution.\n");
    berry_role_prompt(buf, sizeof buf, BERRY_ROLE_SELFEVAL, &a);
    CHECK_STR(buf, "Question: What is 2 + 3?\nSolution:\nStep 1: 2 + 3 = 5.\nThe answer is 5.\nScore the solution from -100 to 100.\n");
    size_t n = berry_role_prompt(buf, sizeof buf, BERRY_ROLE_COMPARE, &a);
    CHECK_STR(buf, "Question: What is 2 + 3?\nBoth solutions begin:\nSolution A goes on:\nStep 1: 2 + 3 = 5.\nThe answer is 5.\n"
                   "Solution B goes on:\nStep 1: 2 + 3 = 6.\nThe answer is 6.\nIs solution A better than solution B?\n");
    CHECK_EQ_INT(n, strlen(buf));
    CHECK_EQ_INT(berry_role_prompt(NULL, 0, BERRY_ROLE_COMPARE, &a), n);  // sizing call
    char small[8];
    CHECK_EQ_INT(berry_role_prompt(small, sizeof small, BERRY_ROLE_SOLVE, &a), strlen("Question: What is 2 + 3?\nSolve step by step.\n"));
    CHECK_STR(small, "Questio");
    // Prompts about one problem share the question prefix (the KV cache reuses it).
    char c2[512];
    berry_role_prompt(c2, sizeof c2, BERRY_ROLE_SELFEVAL, &a);
    berry_role_prompt(buf, sizeof buf, BERRY_ROLE_CRITIQUE, &a);
    CHECK(!strncmp(buf, c2, strlen("Question: What is 2 + 3?\nSolution:\nStep 1: 2 + 3 = 5.\nThe answer is 5.\n")));
    berry_role_score_text(buf, sizeof buf, -40);
    CHECK_STR(buf, "Score: -40");
}

// The compare prompt of (A, B) on question Q is WANT (after "Question: Q\n" and before the closing
// line), and the check lines read back from it, and written from A and B, are WANT_A and WANT_B.
static void compare_case(const char *a, const char *b, const char *want, const char *want_a, const char *want_b) {
    char buf[1024], full[1024], line[256];
    berry_role_args ra = {.question = "Q", .solution = a, .other = b};
    berry_role_prompt(buf, sizeof buf, BERRY_ROLE_COMPARE, &ra);
    snprintf(full, sizeof full, "Question: Q\n%sIs solution A better than solution B?\n", want);
    CHECK_STR(buf, full);
    char *ca = NULL, *cb = NULL;
    CHECK(berry_role_compare_checks_of(buf, &ca, &cb));
    CHECK_STR(ca ? ca : "", want_a);
    CHECK_STR(cb ? cb : "", want_b);
    free(ca);
    free(cb);
    berry_role_compare_check(line, sizeof line, a, b, true);
    CHECK_STR(line, want_a);
    berry_role_compare_check(line, sizeof line, a, b, false);
    CHECK_STR(line, want_b);
}

// The comparison shows the lines both solutions begin with once; the check lines are A's and B's next
// lines, and they can be read back from the prompt.
TEST(roles_compare_shared_lines_and_check) {
    const char *a = "Step 1: 2 * 3 = 6 eggs.\nStep 2: 6 - 1 = 5 eggs.\nThe answer is 5.";
    const char *b = "Step 1: 2 * 3 = 6 eggs.\nStep 2: 6 - 1 = 4 eggs.\nThe answer is 4.";
    compare_case(a, b,
                 "Both solutions begin:\nStep 1: 2 * 3 = 6 eggs.\nSolution A goes on:\nStep 2: 6 - 1 = 5 eggs.\nThe answer is 5.\n"
                 "Solution B goes on:\nStep 2: 6 - 1 = 4 eggs.\nThe answer is 4.\n",
                 "Check: Step 2: 6 - 1 = 5 eggs.", "Check: Step 2: 6 - 1 = 4 eggs.");
    // Lines that differ in one character are not shared.
    compare_case("Step 1: 12.\nX", "Step 1: 13.\nX",
                 "Both solutions begin:\nSolution A goes on:\nStep 1: 12.\nX\nSolution B goes on:\nStep 1: 13.\nX\n",
                 "Check: Step 1: 12.", "Check: Step 1: 13.");
    // One solution is the other's beginning: the shorter has nothing of its own.
    compare_case("X", "X\nY", "Both solutions begin:\nX\nSolution A goes on:\n\nSolution B goes on:\nY\n", "Check: (end)",
                 "Check: Y");
    // Equal solutions share everything.
    compare_case("X\nY", "X\nY", "Both solutions begin:\nX\nY\nSolution A goes on:\n\nSolution B goes on:\n\n", "Check: (end)",
                 "Check: (end)");
    // A question that quotes the markers: the last ones are the rests'.
    char buf[256], *ca, *cb;
    berry_role_args ra = {.question = "Say \"\nSolution B goes on:\n\".", .solution = "1", .other = "2"};
    berry_role_prompt(buf, sizeof buf, BERRY_ROLE_COMPARE, &ra);
    CHECK(berry_role_compare_checks_of(buf, &ca, &cb));
    CHECK_STR(ca, "Check: 1");
    CHECK_STR(cb, "Check: 2");
    free(ca);
    free(cb);
    // Not a compare prompt.
    CHECK(!berry_role_compare_checks_of("Question: Q\nSolve step by step.\n", &ca, &cb) && !ca && !cb);
    CHECK(!berry_role_compare_checks_of("Is solution A better than solution B?\n", &ca, &cb));
    // The sizing call and truncation agree with the full text.
    size_t n = berry_role_compare_check(NULL, 0, a, b, true);
    CHECK_EQ_INT(n, strlen("Check: Step 2: 6 - 1 = 5 eggs."));
    char small[10];
    berry_role_compare_check(small, sizeof small, a, b, true);
    CHECK_STR(small, "Check: St");
}

TEST(roles_parsers) {
    int s = 0;
    CHECK(berry_role_parse_score("Score: 90", &s) && s == 90);
    CHECK(berry_role_parse_score("  Score: -100\nmore", &s) && s == -100);
    CHECK(!berry_role_parse_score("Score: 101", &s));
    CHECK(!berry_role_parse_score("Score: abc", &s));
    CHECK(!berry_role_parse_score("90", &s));
    CHECK(!berry_role_parse_score("Score: 99999999999999999999", &s));
    CHECK_EQ_INT(berry_role_parse_yes_no("Yes"), 1);
    CHECK_EQ_INT(berry_role_parse_yes_no(" No."), 0);
    CHECK_EQ_INT(berry_role_parse_yes_no("Maybe"), -1);
    CHECK_EQ_INT(berry_role_parse_wrong_step("Step 3 is wrong: 36 - 7 is 29, not 28."), 3);
    CHECK_EQ_INT(berry_role_parse_wrong_step("All steps are correct."), 0);
    CHECK_EQ_INT(berry_role_parse_wrong_step("Step 3: 36 - 7 = 29."), -1);
    CHECK_EQ_INT(berry_role_parse_wrong_step("Step 0 is wrong"), -1);
    CHECK_EQ_INT(berry_role_parse_wrong_step(""), -1);
}

// Expected starts written by hand from the critique formats of src/data/synth.c.
static const char *const ian = "Ian has 36 meters of rope. He sells 18 of them. He loses 11 meters of rope. "
                               "How many meters of rope does Ian have now?";

static void check_start(const char *q, const char *sol, const char *crit, const char *want) {
    char *got = berry_role_rewrite_start(q, sol, crit);
    CHECK(got != NULL);
    if (got) CHECKF(!strcmp(got, want), "critique: %s\n got: '%s'\nwant: '%s'", crit, got, want);
    free(got);
    CHECK(berry_critique_holds(q, sol, crit, NULL, 0) == (want[0] != 0));
    // The same through a rendered rewrite prompt.
    berry_role_args a = {.question = q, .solution = sol, .critique = crit};
    size_t n = berry_role_prompt(NULL, 0, BERRY_ROLE_REWRITE, &a);
    char *p = malloc(n + 1);
    CHECK(p != NULL);
    if (!p) return;
    berry_role_prompt(p, n + 1, BERRY_ROLE_REWRITE, &a);
    got = berry_role_rewrite_start_of(p);
    CHECK(got != NULL);
    if (got) CHECK_STR(got, want);
    free(got);
    free(p);
}

TEST(roles_rewrite_start_follows_a_critique_that_holds) {
    const char *add = "Step 1: 36 - 18 = 18 meters of rope left.\nStep 2: 18 + 11 = 29 meters of rope left.\nThe answer is 29.";
    const char *slip = "Step 1: 36 - 18 = 18 meters of rope left.\nStep 2: 18 - 11 = 8 meters of rope left.\nThe answer is 8.";
    const char *misread = "Step 1: 36 - 16 = 20 meters of rope left.\nStep 2: 20 - 11 = 9 meters of rope left.\nThe answer is 9.";
    const char *dropped = "Step 1: 36 - 11 = 25 meters of rope left.\nThe answer is 25.";
    const char *twice = "Step 1: 36 - 18 = 18 meters of rope left.\nStep 2: 18 - 11 = 7 meters of rope left.\n"
                        "Step 3: 7 - 11 = -4 meters of rope left.\nThe answer is -4.";
    const char *step1 = "Step 1: 36 - 18 = 18 meters of rope left.\n";
    // Each of synth's five forms, with claims that hold: the accepted steps, then the stated step.
    check_start(ian, add, "Step 2 is wrong: it should subtract, not add, because Ian no longer has 11 of the meters of rope. "
                          "The correct step is 18 - 11 = 7.",
                "Step 1: 36 - 18 = 18 meters of rope left.\nStep 2: 18 - 11 = 7");
    check_start(ian, slip, "Step 2 is wrong: 18 - 11 is 7, not 8.", "Step 1: 36 - 18 = 18 meters of rope left.\nStep 2: 18 - 11 = 7");
    check_start(ian, misread, "Step 1 is wrong: it uses 16, but the question says 18. The correct step is 36 - 18 = 18.",
                "Step 1: 36 - 18 = 18");
    check_start(ian, dropped, "Step 1 is wrong: a step is missing before it, because Ian sells 18 of them. "
                              "The missing step is 36 - 18 = 18.",
                "Step 1: 36 - 18 = 18");
    check_start(ian, twice, "Step 3 is wrong: it repeats step 2, which must be done only once.",
                "Step 1: 36 - 18 = 18 meters of rope left.\nStep 2: 18 - 11 = 7 meters of rope left.\n");
    // Exact arithmetic on decimals, percents and fractions.
    check_start("Ana has 4.5 kg.", "Step 1: 4.5 * 2 = 8 kg.\nThe answer is 8.", "Step 1 is wrong: 4.5 * 2 is 9, not 8.",
                "Step 1: 4.5 * 2 = 9");
    check_start("Ella has 40 cards.", "Step 1: 40 * 40% = 6 cards sold.\nThe answer is 6.", "Step 1 is wrong: 40 * 40% is 16, not 6.",
                "Step 1: 40 * 40% = 16");
    check_start("Tom has 12 pens.", "Step 1: 12 * 3/4 = 8 pens.\nThe answer is 8.", "Step 1 is wrong: 12 * 3/4 is 9, not 8.",
                "Step 1: 12 * 3/4 = 9");
    // Claims that do not hold, as in the tiny model's critiques of its own solutions: the start is "".
    check_start(ian, slip, "Step 2 is wrong: 18 - 11 is 6, not 8.", "");            // false arithmetic
    check_start(ian, slip, "Step 2 is wrong: 7 * 2 is 14, not 8.", "");             // not step 2's equation
    check_start(ian, slip, "Step 2 is wrong: 18 - 11 is 7, not 9.", "");            // step 2 does not say 9
    check_start(ian, add, "Step 2 is wrong: it should subtract, not add, because Ian sells it. The correct step is 3 - 14 = 11.", "");
    check_start(ian, add, "Step 2 is wrong: it should subtract, not subtract, because Ian sells it. The correct step is 18 - 11 = 7.", "");
    check_start(ian, add, "Step 2 is wrong: it should multiply, not add, because Ian sells it. The correct step is 18 - 11 = 7.", "");
    check_start(ian, add, "Step 1 is wrong: it should subtract, not add, because Ian sells it. The correct step is 36 - 18 = 18.", "");
    check_start(ian, misread, "Step 1 is wrong: it uses 16, but the question says 17. The correct step is 36 - 17 = 19.", "");
    check_start(ian, misread, "Step 1 is wrong: it uses 15, but the question says 18. The correct step is 36 - 18 = 18.", "");
    check_start(ian, misread, "Step 1 is wrong: it uses 16, but the question says 18. The correct step is 36 - 11 = 25.", "");
    check_start(ian, misread, "Step 1 is wrong: it uses 16, but the question says 1. The correct step is 36 - 1 = 35.", "");  // "1" only inside "18", "11"
    check_start(ian, dropped, "Step 1 is wrong: a step is missing before it, because Ian sells 18. The missing step is 36 - 18 = 17.", "");
    check_start(ian, twice, "Step 3 is wrong: it repeats step 1, which must be done only once.", "");
    check_start(ian, twice, "Step 2 is wrong: it repeats step 2, which must be done only once.", "");
    // Stated steps from numbers that are neither in the question nor results of the accepted steps, or
    // whose reason names other numbers (the model's "because ... 2 times as large. The missing step is
    // 10 * 3 = 30").
    check_start(ian, dropped, "Step 1 is wrong: a step is missing before it, because Ian sells 18 of them. "
                              "The missing step is 36 - 6 = 30.", "");
    check_start(ian, dropped, "Step 1 is wrong: a step is missing before it, because Ian sells 11 of them. "
                              "The missing step is 36 - 18 = 18.", "");
    check_start(ian, add, "Step 2 is wrong: it should subtract, not add, because Ian sells it. The correct step is 29 - 11 = 18.", "");
    check_start(ian, add, "Step 2 is wrong: it should subtract, not add, because Ian loses 36. The correct step is 18 - 11 = 7.", "");
    check_start(ian, misread, "Step 2 is wrong: it uses 20, but the question says 18. The correct step is 38 - 18 = 20.", "");
    // The result of step 1 counts as given for step 2; the result of step 2, which the critique rejects,
    // does not.
    const char *q17 = "Ian has 36 meters of rope. He sells 17 of them. He loses 11 meters of rope. How many are left?";
    const char *add17 = "Step 1: 36 - 17 = 19 meters of rope left.\nStep 2: 19 + 11 = 30 meters of rope left.\nThe answer is 30.";
    check_start(q17, add17, "Step 2 is wrong: it should subtract, not add, because Ian loses 11. The correct step is 19 - 11 = 8.",
                "Step 1: 36 - 17 = 19 meters of rope left.\nStep 2: 19 - 11 = 8");
    check_start(q17, add17, "Step 2 is wrong: it should subtract, not add, because Ian loses 11. The correct step is 30 - 11 = 19.", "");
    check_start(ian, "Step 1: 36 - 18 = 18 meters.\nStep 2: 18 - 11 = 7 meters.\nStep 3: 36 - 11 = 25 meters.\nThe answer is 25.",
                "Step 3 is wrong: it repeats step 2, which must be done only once.", "");
    check_start(ian, add, "All steps are correct.", "");
    check_start(ian, add, "The solution looks fine to me.", "");
    check_start(ian, add, "Step 9 is wrong: 1 + 1 is 2, not 3.", "");
    check_start(ian, step1, "Step 2 is wrong: 1 + 1 is 2, not 3.", "");
    check_start(ian, add, "Step 2 is wrong: it is 18, not 19.", "");
    check_start(ian, "Step 1: 5 / 0 = 3 things.", "Step 1 is wrong: 5 / 0 is 0, not 3.", "");
    char *none = berry_role_rewrite_start_of("Question: q\nSolve step by step.\n");
    CHECK(none == NULL);
    free(none);
}
