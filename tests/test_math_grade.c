// Tests of src/math: the grader against tests/data/grade_cases.tsv (772 cases of every MATH-500 and
// OlympiadBench answer type, verdicts cross-checked with SymPy by tests/ref/grade_cases.py), answer
// extraction against hand-written solutions, and hostile answers that must finish quickly.
#include "test.h"
#include "math/extract.h"
#include "math/grade.h"
#include "math/latex.h"
#include <stdlib.h>
#include <time.h>

TEST(grade_agrees_with_checked_cases) {
    FILE *f = fopen(berry_test_path("tests/data/grade_cases.tsv"), "r");
    CHECKF(f, "cannot open tests/data/grade_cases.tsv");
    char line[4096];
    int n = 0, wrong = 0, sympy_differs = 0;
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#') continue;
        line[strcspn(line, "\n")] = 0;
        char *col[6];
        char *p = line;
        int c = 0;
        for (; c < 6 && p; c++) {
            col[c] = p;
            p = strchr(p, '\t');
            if (p) *p++ = 0;
        }
        CHECKF(c == 6, "bad line %d", n + 1);
        berry_grade_opts o = berry_grade_defaults();
        o.multi = col[1][0] == '1';
        bool want = col[0][0] == '1';
        char why[256];
        bool got = berry_math_grade(col[3], col[4], &o, why, sizeof why);
        if (got != want) {
            fprintf(stderr, "    %s: grade(\"%s\", \"%s\") = %d, expected %d (%s)\n", col[2], col[3], col[4], got, want, why);
            wrong++;
        }
        sympy_differs += col[5][0] != col[0][0];
        n++;
    }
    fclose(f);
    CHECKF(n >= 400, "only %d cases", n);
    CHECKF(wrong == 0, "%d of %d cases disagree", wrong, n);
    // The script lists exactly these six cases as SymPy's mistakes (three, each in both orders).
    CHECK_EQ_INT(sympy_differs, 6);
}

TEST(grade_options_tolerance_and_multi) {
    berry_grade_opts o = berry_grade_defaults();
    // GSM-Hard's float targets: 3244047.0999999996 is 3244047.1 only with a tolerance.
    CHECK(!berry_math_equal("3244047.1", "3244047.0999999996", &o));
    o.rel_tol = 1e-9;
    CHECK(berry_math_equal("3244047.1", "3244047.0999999996", &o));
    CHECK(!berry_math_equal("3244047.2", "3244047.0999999996", &o));
    o = berry_grade_defaults();
    CHECK(berry_math_equal("1,000", "1000", &o));
    o.multi = true;
    CHECK(!berry_math_equal("1,000", "1000", &o));
    CHECK(berry_math_equal("1,000", "0, 1", &o));  // two answers: 1 and 000
    // NULL options are the defaults; NULL strings are wrong answers.
    CHECK(berry_math_equal("2", "2", NULL));
    CHECK(!berry_math_equal(NULL, "2", NULL));
}

// Solutions written out here by hand, with the answer each convention must find.
TEST(extract_final_answers) {
    static const struct { const char *text; int mode; const char *want; } cases[] = {
        {"So $x = \\boxed{\\frac{1}{2}}$.", BERRY_EXTRACT_MARKED, "\\frac{1}{2}"},
        {"First \\boxed{3}, then corrected: \\boxed{\\left\\{1, \\frac{2}{3}\\right\\}}", BERRY_EXTRACT_MARKED, "\\left\\{1, \\frac{2}{3}\\right\\}"},
        {"\\boxed{{{{7}}}}", BERRY_EXTRACT_MARKED, "{{{7}}}"},
        {"\\fbox{42}", BERRY_EXTRACT_MARKED, "42"},
        {"answer \\boxed 5 done", BERRY_EXTRACT_MARKED, "5"},
        {"Thus the answer is $12$.", BERRY_EXTRACT_MARKED, "12"},
        {"The final answer is: 3.5. Next", BERRY_EXTRACT_MARKED, "3.5"},
        {"Natalia sold 48+24 = <<48+24=72>>72 clips.\n#### 72", BERRY_EXTRACT_MARKED, "72"},
        {"so she pays $1,250 in total", BERRY_EXTRACT_LAST_NUMBER, "1250"},
        {"temperature -3.5 degrees", BERRY_EXTRACT_LAST_NUMBER, "-3.5"},
        {"no number here", BERRY_EXTRACT_LAST_NUMBER, NULL},
        {"we get 17 and then 3.5", BERRY_EXTRACT_INTEGER, NULL},
        {"the count is 025 ways", BERRY_EXTRACT_INTEGER, "025"},
        {"unclosed \\boxed{12", BERRY_EXTRACT_MARKED, NULL},
        {"plain text", BERRY_EXTRACT_MARKED, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *r = berry_math_extract(cases[i].text, strlen(cases[i].text), (berry_extract_mode)cases[i].mode);
        if (!cases[i].want) CHECKF(r == NULL, "case %zu: got \"%s\", expected nothing", i, r);
        else CHECKF(r && strcmp(r, cases[i].want) == 0, "case %zu: got \"%s\", expected \"%s\"", i, r ? r : "(null)", cases[i].want);
        free(r);
    }
}

// Parse trees written out by hand for the constructs the grader relies on.
TEST(latex_parse_trees) {
    static const struct { const char *in, *want; } cases[] = {
        {"1\\frac{4}{5}", "(+ 1 (/ 4 5))"},
        {"\\frac12", "(/ 1 2)"},
        {"\\frac{270}7", "(/ 270 7)"},
        {"x^23", "(* (^ x 2) 3)"},
        {"-x^2", "(- (^ x 2))"},
        {"2\\sqrt[3]{x}", "(* 2 (fn2 x 3))"},
        {"\\sin^2 x", "(^ (fn3 x) 2)"},
        {"(3,4]", "((] 3 4)"},
        {"10,\\!080", "10080"},
        {"1.5e3", "1.5e3"},
        {"a_{n+1}", "a_n+1"},
        {"\\$5\\%", "5"},
        {"x \\geq 2", "(g x 2)"},
        {"1 \\pm 2", "(pm 1 2)"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        berry_tex_arena *a;
        char err[200], out[200];
        berry_tex *t = berry_tex_parse(cases[i].in, strlen(cases[i].in), false, &a, err, sizeof err);
        CHECKF(t, "case %zu (%s): %s", i, cases[i].in, err);
        berry_tex_print(t, out, sizeof out);
        berry_tex_arena_free(a);
        CHECKF(strcmp(out, cases[i].want) == 0, "case %zu (%s): got %s, expected %s", i, cases[i].in, out, cases[i].want);
    }
}

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

// Hostile answers: braces 10^5 deep, 10^6-digit numbers, 1 MB strings, malformed LaTeX. Each must
// give a verdict within a second (ASan included), with no sanitizer report.
TEST(grade_hostile_answers_are_bounded) {
    size_t n = 100000;
    char *deep = malloc(2 * n + 2);
    CHECK(deep);
    memset(deep, '{', n);
    deep[n] = '1';
    memset(deep + n + 1, '}', n);
    deep[2 * n + 1] = 0;
    double t0 = now();
    CHECK(!berry_math_equal(deep, "2", NULL));  // too deep to parse: compared as text, where braces do not count
    CHECK(berry_math_equal(deep, "1", NULL));
    char *boxed = malloc(2 * n + 16);
    CHECK(boxed);
    snprintf(boxed, 2 * n + 16, "\\boxed%s", deep);
    char *r = berry_math_extract(boxed, strlen(boxed), BERRY_EXTRACT_MARKED);
    CHECK(r && strlen(r) == 2 * n - 1);
    free(r);
    free(boxed);
    free(deep);
    // 10^6-digit numbers: equal to themselves exactly, different after one digit changes.
    size_t m = 1000000;
    char *big = malloc(m + 1), *big2 = malloc(m + 1);
    CHECK(big && big2);
    for (size_t i = 0; i < m; i++) big[i] = (char)('1' + i % 9);
    big[m] = 0;
    memcpy(big2, big, m + 1);
    big2[m - 1] = big2[m - 1] == '9' ? '8' : '9';
    CHECK(berry_math_equal(big, big, NULL));
    CHECK(!berry_math_equal(big, big2, NULL));
    // A 1 MB string of junk, and one long sum.
    for (size_t i = 0; i < m; i++) big[i] = "x+\\{(^_"[i % 7];
    CHECK(!berry_math_equal(big, "x", NULL));
    for (size_t i = 0; i < 200000; i++) big[i] = i % 2 ? '+' : '1';
    big[199999] = 0;  // 1+1+...+1, 100000 ones
    CHECK(berry_math_equal(big, "100000", NULL));
    free(big);
    free(big2);
    // Exponent towers and huge factorials are refused, not computed.
    CHECK(!berry_math_equal("2^{2^{2^{2^{2^{2}}}}}", "3", NULL));
    CHECK(!berry_math_equal("10^{10^{10}}", "10^{10^{10}}+1", NULL));
    CHECK(!berry_math_equal("100000000!", "1", NULL));
    CHECK(!berry_math_equal("1e99999999", "1", NULL));
    static const char *const junk[] = {"\\frac{", "\\sqrt[", "\\begin{pmatrix}1&2\\\\3", "\\left(", "}{", "\\end{x}",
                                       "((((", "\\\\", "^^^", "\\text{", "1/0", "0^{-1}", "\\log_0 0", "(-1)^{1/2}", "\xff\xfe", ""};
    for (size_t i = 0; i < sizeof junk / sizeof junk[0]; i++) {
        char why[200];
        berry_math_grade(junk[i], "1", NULL, why, sizeof why);
        berry_math_grade("1", junk[i], NULL, why, sizeof why);
    }
    double dt = now() - t0;
    CHECKF(dt < 10.0, "hostile answers took %.2f s", dt);
}
