// test_cli_roles_eval.c — `berry roles-eval` end to end. --pairs: the embedded model's own (right, wrong)
// solutions of a fresh `berry synth` curriculum become compare records. Each record is checked against
// the curriculum's exact answers (berry synth's arithmetic, not the model's): the completion is A's
// check line exactly when solution A ends on the reference answer and B does not, and every pair is
// asked in both orders. The rewrite role: the start taken from the critique, and its grading.
#include "test.h"
#include "tiny_model.h"
#include "base/json.h"
#include "search/roles.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

// The number after the last "The answer is " in [s, e), into BUF.
static void final_answer(const char *s, const char *e, char *buf, size_t n) {
    const char *key = "The answer is ", *last = NULL;
    for (const char *p = s; p && p < e; p = strstr(p + 1, key))
        if (!strncmp(p, key, strlen(key))) last = p;
    buf[0] = 0;
    if (!last || last >= e) return;
    last += strlen(key);
    size_t k = 0;
    while (last < e && k + 1 < n && *last != '.' && *last != '\n') buf[k++] = *last++;
    buf[k] = 0;
}

// The reference answer of QUESTION in the curriculum's problems file, or NULL.
static char *reference(const char *problems, const char *question) {
    FILE *f = fopen(problems, "rb");
    if (!f) return NULL;
    char *line = NULL, *ans = NULL, msg[128];
    size_t cap = 0;
    ssize_t len;
    while (!ans && (len = getline(&line, &cap, f)) > 0) {
        berry_json *o = berry_json_parse(line, (size_t)len, msg, sizeof msg);
        const char *q = o ? berry_json_str(berry_json_get(o, "question")) : NULL;
        if (q && !strcmp(q, question)) ans = strdup(berry_json_str(berry_json_get(o, "final")));
        berry_json_free(o);
    }
    free(line);
    fclose(f);
    return ans;
}

TEST(cli_roles_eval_pairs_follow_the_curriculum) {
    const char *berry = berry_ttest_berry(), *model = berry_test_path("models/berry-tiny.gguf");
    struct stat st;
    if (!berry) SKIP("build/<variant>/berry is not built");
    if (!model || stat(model, &st) != 0) SKIP("models/berry-tiny.gguf is missing (make model SHIP=1 builds it)");
    const char *dir = berry_test_tmpdir();
    char cmd[8192], pairs[1100], problems[1100];
    snprintf(cmd, sizeof cmd, "'%s' synth -q --out '%s/cur' --n 60 --dev 10 --test 40 --levels 1-2 -s 3", berry, dir);
    CHECK_EQ_INT(berry_ttest_sh(cmd, NULL, NULL), 0);
    snprintf(pairs, sizeof pairs, "%s/pairs.jsonl", dir);
    snprintf(problems, sizeof problems, "%s/cur/test_problems.jsonl", dir);
    // One sample cannot make a pair: refused with an error.
    snprintf(cmd, sizeof cmd, "'%s' roles-eval -m '%s' --data '%s/cur' --roles solve --n 5 --samples 1 --pairs '%s' -t 1",
             berry, model, dir, pairs);
    CHECK(berry_ttest_sh(cmd, NULL, NULL) != 0);
    snprintf(cmd, sizeof cmd,
             "'%s' roles-eval -m '%s' --data '%s/cur' --split test --roles solve --n 20 --samples 8 --sc-level 0 "
             "--pairs '%s' -t 1", berry, model, dir, pairs);
    CHECK_EQ_INT(berry_ttest_sh(cmd, NULL, NULL), 0);
    FILE *f = fopen(pairs, "rb");
    CHECKF(f, "no pairs file %s", pairs);
    char *line = NULL, msg[128], prev_a[64] = "", prev_b[64] = "";
    size_t cap = 0;
    ssize_t len;
    int n = 0;
    while ((len = getline(&line, &cap, f)) > 0) {
        berry_json *o = berry_json_parse(line, (size_t)len, msg, sizeof msg);
        CHECKF(o, "line %d: %s", n + 1, msg);
        const char *p = berry_json_str(berry_json_get(o, "prompt")), *c = berry_json_str(berry_json_get(o, "completion"));
        CHECK(p && c);
        const char *qa = strstr(p, "Question: "), *sh = strstr(p, "\nBoth solutions begin:\n"),
                   *sa = strstr(p, "Solution A goes on:\n"), *sb = strstr(p, "\nSolution B goes on:\n"),
                   *end = strstr(p, "\nIs solution A better than solution B?\n");
        CHECKF(qa == p && sh && sa && sb && end && sh < sa && sa < sb && sb < end, "line %d: not a compare prompt: %s", n + 1, p);
        char question[2048], a[64], b[64];
        snprintf(question, sizeof question, "%.*s", (int)(sh - p - 10), p + 10);
        final_answer(sa, sb, a, sizeof a);
        final_answer(sb, end, b, sizeof b);
        char *ref = reference(problems, question);
        CHECKF(ref, "line %d: question not in the curriculum: %s", n + 1, question);
        // The completion is the right solution's check line: A's ("yes") or B's.
        char *ca, *cb;
        CHECKF(berry_role_compare_checks_of(p, &ca, &cb), "line %d: no check lines", n + 1);
        bool yes = !strcmp(c, ca);
        CHECKF(yes || !strcmp(c, cb), "line %d: completion '%s' is neither '%s' nor '%s'", n + 1, c, ca, cb);
        free(ca);
        free(cb);
        // Yes: A ends on the reference and B does not; No: the reverse. Odd lines repeat the pair swapped.
        CHECKF(!strcmp(yes ? a : b, ref) && strcmp(yes ? b : a, ref), "line %d (%s): A '%s', B '%s', reference '%s'",
               n + 1, c, a, b, ref);
        CHECKF(n % 2 == 0 ? yes : !yes && !strcmp(a, prev_b) && !strcmp(b, prev_a), "line %d: not the previous pair swapped",
               n + 1);
        snprintf(prev_a, sizeof prev_a, "%s", a);
        snprintf(prev_b, sizeof prev_b, "%s", b);
        free(ref);
        berry_json_free(o);
        n++;
    }
    free(line);
    fclose(f);
    CHECKF(n > 0 && n % 2 == 0, "%d records: expected a positive, even number", n);
}

// `roles-eval --roles rewrite --json`: each rewrite of a curriculum critique (whose claims hold, as
// synth writes them) begins with the flawed solution's lines before the step the critique names, and
// is counted right exactly when its final answer is the reference rewrite's; --rewrite-whole leaves
// the whole text to the model.
TEST(cli_roles_eval_rewrite_starts_from_the_critique) {
    const char *berry = berry_ttest_berry(), *model = berry_test_path("models/berry-tiny.gguf");
    struct stat st;
    if (!berry) SKIP("build/<variant>/berry is not built");
    if (!model || stat(model, &st) != 0) SKIP("models/berry-tiny.gguf is missing (make model SHIP=1 builds it)");
    const char *dir = berry_test_tmpdir();
    char cmd[8192], js[1100], rep[1100];
    snprintf(cmd, sizeof cmd, "'%s' synth -q --out '%s/cur' --n 60 --dev 10 --test 40 --levels 1-2 -s 4", berry, dir);
    CHECK_EQ_INT(berry_ttest_sh(cmd, NULL, NULL), 0);
    snprintf(js, sizeof js, "%s/rw.json", dir);
    for (int whole = 0; whole < 2; whole++) {
        snprintf(cmd, sizeof cmd, "'%s' roles-eval -m '%s' --data '%s/cur' --roles rewrite --n-roles 8 -t 1 --json '%s'%s",
                 berry, model, dir, js, whole ? " --rewrite-whole" : "");
        snprintf(rep, sizeof rep, "%s/rw.txt", dir);
        CHECK_EQ_INT(berry_ttest_sh(cmd, rep, NULL), 0);
        char *out = berry_ttest_read(rep);
        CHECKF(out && strstr(out, whole ? "written whole" : "started from the critique where it holds\n(16 of 16)"), "%s", out);
        free(out);
        char *text = berry_ttest_read(js), msg[128];
        CHECKF(text, "no %s", js);
        berry_json *o = text ? berry_json_parse(text, strlen(text), msg, sizeof msg) : NULL;
        CHECKF(o, "%s", msg);
        const berry_json *items = berry_json_get(o, "items");
        int m = 0, started = 0;
        for (size_t i = 0; items && i < items->n; i++) {
            const berry_json *it = berry_json_at(items, i);
            const char *p = berry_json_str(berry_json_get(it, "prompt")), *ref = berry_json_str(berry_json_get(it, "reference")),
                       *got = berry_json_str(berry_json_get(it, "output"));
            CHECK(p && ref && got);
            if (!p || !ref || !got) continue;
            m++;
            // The flawed solution's lines before the named step K.
            const char *sol = strstr(p, "\nSolution:\n"), *crit = strstr(p, "\nCritique: Step ");
            CHECK(sol && crit);
            if (!sol || !crit) continue;
            sol += strlen("\nSolution:\n");
            int k = atoi(crit + strlen("\nCritique: Step "));
            const char *e = sol;
            for (int j = 1; j < k && e; j++) e = strchr(e, '\n') ? strchr(e, '\n') + 1 : NULL;
            CHECK(k >= 1 && e);
            if (!whole && e) {
                CHECKF(!strncmp(got, sol, (size_t)(e - sol)), "the rewrite does not keep steps 1 .. %d:\n%s", k - 1, got);
                started += k > 1;
            }
            char a[64], b[64];
            final_answer(got, got + strlen(got), a, sizeof a);
            final_answer(ref, ref + strlen(ref), b, sizeof b);
            const berry_json *c = berry_json_get(it, "correct");
            CHECK(c && c->type == BERRY_JSON_BOOL);
            bool right = c && c->type == BERRY_JSON_BOOL && c->boolean;
            CHECKF(right == (a[0] && !strcmp(a, b)), "counted %s: '%s' against '%s'", right ? "right" : "wrong", a, b);
        }
        CHECK_EQ_INT(m, 16);
        if (!whole) CHECK(started > 0);
        berry_json_free(o);
        free(text);
    }
}
