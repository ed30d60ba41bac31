// cmd_roles_eval.c — `berry roles-eval`: how well a model plays the five roles of the embedded model
// (src/search/roles.h) on a split of `berry synth`'s curriculum:
//   solve     greedy pass@1 per level, and maj@K (self-consistency over K samples) per level
//   compare   PPRM accuracy: P(A better than B) > 1/2 exactly when solution A is the correct one, per order
//   critique  on flawed solutions, the step the critique names is the injected first wrong step
//   rewrite   a rewrite from a flawed solution and its critique is correct
//   selfeval  the sign of the score agrees with the solution's correctness
// The ground truth comes from the curriculum files (the synth's exact arithmetic), never from the model.
#include "base/alloc.h"
#include "base/clock.h"
#include "base/json.h"
#include "base/log.h"
#include "cli/cli.h"
#include "search/roles.h"
#include "lm/lm.h"
#include "lm/lm_local.h"
#include "math/extract.h"
#include "math/grade.h"
#include "search/judge.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LEVEL 8

// One record of a curriculum file, the fields this command reads.
typedef struct {
    char *prompt, *completion, *flaw, *question, *final;
    int level, first_wrong;
} rec;

typedef struct { rec *r; int n, cap; } recs;

static void recs_free(recs *v) {
    for (int i = 0; i < v->n; i++) {
        free(v->r[i].prompt); free(v->r[i].completion); free(v->r[i].flaw); free(v->r[i].question); free(v->r[i].final);
    }
    free(v->r);
    memset(v, 0, sizeof *v);
}

static char *dupfield(const berry_json *o, const char *key) {
    const char *s = berry_json_str(berry_json_get(o, key));
    return s ? strdup(s) : NULL;
}

// Reads DIR/SPLIT_ROLE.jsonl. Returns 0, or 1 after printing the error.
static int load(const char *dir, const char *split, const char *role, recs *v) {
    char path[4200], msg[256];
    snprintf(path, sizeof path, "%.4000s/%s_%s.jsonl", dir, split, role);
    FILE *f = fopen(path, "rb");
    if (!f) return berry_cli_error("cannot open %s (write the curriculum with berry synth --out DIR)", path);
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    long lineno = 0;
    int rc = 0;
    while ((len = getline(&line, &cap, f)) >= 0) {
        lineno++;
        if (len <= 1) continue;
        berry_json *o = berry_json_parse(line, (size_t)len, msg, sizeof msg);
        if (!o) { rc = berry_cli_error("%s:%ld: %s", path, lineno, msg); break; }
        if (v->n == v->cap) {
            int nc = v->cap ? v->cap * 2 : 1024;
            rec *nr = realloc(v->r, (size_t)nc * sizeof *nr);
            if (!nr) { berry_json_free(o); rc = berry_cli_error("out of memory"); break; }
            v->r = nr, v->cap = nc;
        }
        rec *r = &v->r[v->n];
        memset(r, 0, sizeof *r);
        r->prompt = dupfield(o, "prompt"), r->completion = dupfield(o, "completion"), r->flaw = dupfield(o, "flaw");
        r->question = dupfield(o, "question"), r->final = dupfield(o, "final");
        long long x = 0;
        r->level = berry_json_int(berry_json_get(o, "level"), &x) && x >= 1 && x <= MAX_LEVEL ? (int)x : 0;
        r->first_wrong = berry_json_int(berry_json_get(o, "first_wrong"), &x) ? (int)x : -1;
        v->n++;
        berry_json_free(o);
        bool ok = r->level > 0 && (!strcmp(role, "problems") ? r->question && r->final : r->prompt && r->completion);
        if (!ok) { rc = berry_cli_error("%s:%ld: missing fields for the %s role", path, lineno, role); break; }
    }
    free(line);
    fclose(f);
    return rc;
}

// The final answer of a solution text (the marked one: "The answer is N."), or NULL.
static char *answer_of(const char *text) { return berry_math_extract(text, strlen(text), BERRY_EXTRACT_MARKED); }

static bool correct(const char *text, const char *reference) {
    char *a = answer_of(text);
    berry_grade_opts o = berry_grade_defaults();
    bool ok = a && berry_math_equal(a, reference, &o);
    free(a);
    return ok;
}

typedef struct {
    berry_lm *lm;
    berry_lm *prm;          // the compare role's model (the same as LM without --prm)
    int batch;             // requests per generate call
    int max_tokens;
    berry_json_writer *js;  // per-item records, when --json
    FILE *pairs;            // compare records from the maj@K samples, when --pairs
    int pairs_per_problem;
    bool rewrite_whole;     // --rewrite-whole: no start from the critique
    berry_progress pr;
} ctx;

// Writes one compare record (src/search/roles.h's prompt; the completion is the right solution's check
// line) to F.
static void pair_record(FILE *f, const rec *r, const char *a, const char *b, bool a_right) {
    berry_role_args ra = {.question = r->question, .solution = a, .other = b};
    size_t len = berry_role_prompt(NULL, 0, BERRY_ROLE_COMPARE, &ra);
    char *p = malloc(len + 1);
    if (!p) return;
    berry_role_prompt(p, len + 1, BERRY_ROLE_COMPARE, &ra);
    berry_json_writer w;
    berry_json_writer_init(&w);
    berry_json_begin_object(&w);
    berry_json_key(&w, "prompt"); berry_json_write_str(&w, p);
    char *check = berry_role_compare_check_dup(a, b, a_right);
    berry_json_key(&w, "completion"); berry_json_write_str(&w, check ? check : "");
    free(check);
    berry_json_key(&w, "level"); berry_json_write_int(&w, r->level);
    berry_json_key(&w, "flaw"); berry_json_write_str(&w, "policy");
    berry_json_end_object(&w);
    if (w.data) fprintf(f, "%s\n", w.data);
    berry_json_writer_free(&w);
    free(p);
}

// The policy's own (right, wrong) pairs among the K samples of R: up to PER pairs, each right and each
// wrong sample used once at most and the wrong ones with distinct answers first, in both orders.
static void write_pairs(FILE *f, const rec *r, const berry_lm_output *o, char *const *ans, const bool *ok, int k,
                        int per) {
    int right[1024], wrong[1024], nr = 0, nw = 0;
    for (int i = 0; i < k && i < 1024; i++) {
        if (ok[i]) {
            bool dup = false;
            for (int j = 0; j < nr && !dup; j++) dup = !strcmp(o[right[j]].text, o[i].text);
            if (!dup) right[nr++] = i;
            continue;
        }
        bool seen = false;   // an answer already among the wrong ones goes to the back
        for (int j = 0; j < nw && !seen; j++) seen = ans[i] && ans[wrong[j]] && !strcmp(ans[i], ans[wrong[j]]);
        if (!seen) wrong[nw++] = i;
    }
    for (int i = 0; i < per && i < nr && i < nw; i++) {
        pair_record(f, r, o[right[i]].text, o[wrong[i]].text, true);
        pair_record(f, r, o[wrong[i]].text, o[right[i]].text, false);
    }
}

// Generates one completion per prompt (N prompts, each asked K times) with sampling SP. OUT: n * k.
static int gen(ctx *c, const char *const *prompts, int n, int k, berry_sampling sp, berry_lm_output *out,
               const char *label) {
    char err[512];
    int total = n * k, per = c->batch < k ? k : c->batch / k * k;
    berry_lm_request *rq = calloc((size_t)per, sizeof *rq);
    if (!rq) return berry_cli_error("out of memory");
    berry_progress_start(&c->pr, label, total);
    for (int i = 0; i < total; i += per) {
        int m = total - i < per ? total - i : per;
        for (int j = 0; j < m; j++) {
            rq[j] = (berry_lm_request){.prompt = prompts[(i + j) / k], .sampling = sp};
            // Every sample of the run draws from its own stream: the seed shifts per call, the stream is
            // the index in the call.
            rq[j].sampling.seed = sp.seed + (uint64_t)(i / per) * 1000003u;
            rq[j].sampling.stream = (uint64_t)j;
        }
        if (berry_lm_generate(c->lm, rq, m, out + i, err, sizeof err) != BERRY_OK) {
            free(rq);
            return berry_cli_error("%s", err);
        }
        berry_progress_update(&c->pr, i + m, NULL);
    }
    berry_progress_end(&c->pr, total, NULL);
    free(rq);
    return 0;
}

static void pct(FILE *f, const char *label, long good, long n) {
    if (n) fprintf(f, "  %-34s %6.1f%%  (%ld/%ld)\n", label, 100.0 * good / n, good, n);
    else fprintf(f, "  %-34s      -   (0 items)\n", label);
}

static void js_rate(berry_json_writer *w, const char *key, long good, long n) {
    berry_json_key(w, key);
    berry_json_begin_object(w);
    berry_json_key(w, "correct"); berry_json_write_int(w, good);
    berry_json_key(w, "n"); berry_json_write_int(w, n);
    berry_json_key(w, "rate"); if (n) berry_json_write_num(w, (double)good / n); else berry_json_write_null(w);
    berry_json_end_object(w);
}

// Takes the first N records of each level (files interleave levels, so this is a balanced sample).
static int pick(const recs *v, int n_per_level, bool (*keep)(const rec *), int *idx) {
    int cnt[MAX_LEVEL + 1] = {0}, m = 0;
    for (int i = 0; i < v->n; i++) {
        const rec *r = &v->r[i];
        if ((keep && !keep(r)) || cnt[r->level] >= n_per_level) continue;
        cnt[r->level]++;
        idx[m++] = i;
    }
    return m;
}

static bool is_flawed(const rec *r) { return r->flaw && strcmp(r->flaw, "correct"); }

// Majority vote over K answers (equal answers by the grader); ties go to the earliest. Returns the index
// of a sample carrying the winning answer, or -1 when none has an answer.
static int majority(char **ans, int k) {
    berry_grade_opts o = berry_grade_defaults();
    int best = -1, best_n = 0;
    for (int i = 0; i < k; i++) {
        if (!ans[i]) continue;
        int n = 0;
        for (int j = 0; j < k; j++) n += ans[j] && (i == j || berry_math_equal(ans[i], ans[j], &o));
        if (n > best_n) best = i, best_n = n;
    }
    return best;
}

// Greedy on N_PER_LEVEL problems of every level; SAMPLES samples (maj@K) on those of level SC_LEVEL
// (0: every level; -1: the hardest level present, where the issue asks for it and search has most room).
static int eval_solve(ctx *c, const recs *pr, int n_per_level, int samples, int sc_level, berry_sampling sp,
                      FILE *o, berry_json_writer *w) {
    int *idx = malloc((size_t)pr->n * sizeof *idx), m = pick(pr, n_per_level, NULL, idx), rc = 0;
    const char **prompts = calloc((size_t)m, sizeof *prompts);
    berry_lm_output *out = calloc((size_t)m * (size_t)(samples > 1 ? samples : 1), sizeof *out);
    char **ans = calloc((size_t)(samples > 1 ? samples : 1), sizeof *ans);
    if (!idx || !prompts || !out || !ans) { rc = berry_cli_error("out of memory"); goto done; }
    for (int i = 0; i < m; i++) {
        const rec *r = &pr->r[idx[i]];
        berry_role_args a = {.question = r->question};
        size_t len = berry_role_prompt(NULL, 0, BERRY_ROLE_SOLVE, &a);
        char *p = malloc(len + 1);
        if (!p) { rc = berry_cli_error("out of memory"); goto done; }
        berry_role_prompt(p, len + 1, BERRY_ROLE_SOLVE, &a);
        prompts[i] = p;
    }
    long good[MAX_LEVEL + 1] = {0}, n[MAX_LEVEL + 1] = {0}, maj[MAX_LEVEL + 1] = {0}, orc[MAX_LEVEL + 1] = {0};
    long toks = 0;
    berry_sampling greedy = {.temperature = 0, .top_p = 1, .max_tokens = c->max_tokens};
    if ((rc = gen(c, prompts, m, 1, greedy, out, "solve greedy"))) goto done;
    for (int i = 0; i < m; i++) {
        const rec *r = &pr->r[idx[i]];
        bool ok = correct(out[i].text, r->final);
        n[r->level]++, good[r->level] += ok, toks += out[i].n_tokens;
        if (c->js) {
            berry_json_begin_object(c->js);
            berry_json_key(c->js, "role"); berry_json_write_str(c->js, "solve");
            berry_json_key(c->js, "level"); berry_json_write_int(c->js, r->level);
            berry_json_key(c->js, "question"); berry_json_write_str(c->js, r->question);
            berry_json_key(c->js, "reference"); berry_json_write_str(c->js, r->final);
            berry_json_key(c->js, "output"); berry_json_write_str(c->js, out[i].text);
            berry_json_key(c->js, "correct"); berry_json_write_bool(c->js, ok);
            berry_json_end_object(c->js);
        }
        berry_lm_output_clear(&out[i]);
    }
    fprintf(o, "solve, greedy pass@1 (%.1f tokens per solution):\n", m ? (double)toks / m : 0.0);
    berry_json_key(w, "solve_greedy");
    berry_json_begin_object(w);
    for (int l = 1; l <= MAX_LEVEL; l++) {
        if (!n[l]) continue;
        char lab[32], key[16];
        snprintf(lab, sizeof lab, "level %d", l);
        snprintf(key, sizeof key, "%d", l);
        pct(o, lab, good[l], n[l]);
        js_rate(w, key, good[l], n[l]);
    }
    berry_json_end_object(w);
    if (sc_level < 0)
        for (int l = 1; l <= MAX_LEVEL; l++) if (n[l]) sc_level = l;
    // The sampled subset: the problems of SC_LEVEL (or all), in the same order.
    int ms = 0;
    for (int i = 0; i < m; i++)
        if (sc_level == 0 || pr->r[idx[i]].level == sc_level) idx[ms] = idx[i], prompts[ms++] = prompts[i];
        else free((char *)prompts[i]);
    m = ms;
    if (samples > 1) {
        sp.max_tokens = c->max_tokens;
        char label[48];
        snprintf(label, sizeof label, "solve x%d", samples);
        if ((rc = gen(c, prompts, m, samples, sp, out, label))) goto done;
        long sgood[MAX_LEVEL + 1] = {0};
        for (int i = 0; i < m; i++) {
            const rec *r = &pr->r[idx[i]];
            bool any = false, oks[1024];
            for (int k = 0; k < samples; k++) {
                ans[k] = answer_of(out[(size_t)i * samples + k].text);
                bool ok = correct(out[(size_t)i * samples + k].text, r->final);
                any |= ok, sgood[r->level] += ok;
                oks[k] = ok;
            }
            if (c->pairs) write_pairs(c->pairs, r, out + (size_t)i * samples, ans, oks, samples, c->pairs_per_problem);
            int win = majority(ans, samples);
            maj[r->level] += win >= 0 && correct(out[(size_t)i * samples + win].text, r->final);
            orc[r->level] += any;
            for (int k = 0; k < samples; k++) { free(ans[k]); ans[k] = NULL; berry_lm_output_clear(&out[(size_t)i * samples + k]); }
        }
        fprintf(o, "solve, %d samples at temperature %.2f (top-k %d, top-p %.2f, min-p %.2f): maj@%d (self-consistency) / "
                "greedy / mean sample / pass@%d (oracle):\n", samples, sp.temperature, sp.top_k, sp.top_p, sp.min_p, samples,
                samples);
        berry_json_key(w, "solve_maj");
        berry_json_begin_object(w);
        for (int l = 1; l <= MAX_LEVEL; l++) {
            if (!n[l] || (sc_level && l != sc_level)) continue;
            fprintf(o, "  level %d                            %6.1f%% / %5.1f%% / %5.1f%% / %5.1f%%  (%ld problems)\n", l,
                    100.0 * maj[l] / n[l], 100.0 * good[l] / n[l], 100.0 * sgood[l] / ((double)n[l] * samples),
                    100.0 * orc[l] / n[l], n[l]);
            char key[16];
            snprintf(key, sizeof key, "%d", l);
            js_rate(w, key, maj[l], n[l]);
        }
        berry_json_end_object(w);
    }
done:
    for (int i = 0; prompts && i < m; i++) free((char *)prompts[i]);
    free(prompts); free(out); free(ans); free(idx);
    return rc;
}

// PPRM: the compare file holds both orders of each (correct, flawed) pair; the completion is the
// correct solution's check line. The judge's preference P(A better than B) is its probability of A's
// check line against B's (src/search/judge.h, as the search asks it), and it is right when that is over
// 1/2 exactly when A is the correct solution. Also reported: the preference averaged over both orders
// as the search uses it (P(correct > flawed) = (P(A | correct first) + P(B | correct second)) / 2 > 1/2),
// and every figure per flaw type.
#define MAX_FLAWS 8
static int eval_compare(ctx *c, const recs *v, int n_per_level, FILE *o, berry_json_writer *w) {
    char err[512];
    int *idx = malloc((size_t)v->n * sizeof *idx);
    int m = idx ? pick(v, 2 * n_per_level, NULL, idx) : 0;
    double *pyes = malloc(sizeof *pyes * (size_t)(m + 1));
    berry_status *st = malloc(sizeof *st * (size_t)(m + 1));
    char **prompts = calloc((size_t)m + 1, sizeof *prompts), **checks = calloc(2 * (size_t)m + 1, sizeof *checks);
    bool *a_right = calloc((size_t)m + 1, sizeof *a_right);
    berry_prompts jp = {0};  // freed below whether or not its init ran
    int rc = 0;
    if (!idx || !pyes || !st || !prompts || !checks || !a_right || berry_prompts_init(&jp, BERRY_PROMPTS_EMBEDDED, err, sizeof err))
        rc = berry_cli_error("out of memory");
    for (int i = 0; i < m && !rc; i++) {
        const rec *r = &v->r[idx[i]];
        prompts[i] = r->prompt;
        if (!berry_role_compare_checks_of(r->prompt, &checks[2 * i], &checks[2 * i + 1]))
            rc = berry_cli_error("compare record %d: not a compare prompt (or out of memory)", idx[i] + 1);
        else if (!strcmp(r->completion, checks[2 * i + 1]) == !strcmp(r->completion, checks[2 * i]))
            rc = berry_cli_error("compare record %d: the completion is not the check line of exactly one of A and B", idx[i] + 1);
        else a_right[i] = !strcmp(r->completion, checks[2 * i]);
    }
    berry_progress_start(&c->pr, "compare", m);
    for (int i = 0; i < m && !rc; i += c->batch) {
        int k = m - i < c->batch ? m - i : c->batch;
        if (berry_judge(c->prm, &jp, prompts + i, checks + 2 * i, k, pyes + i, st + i, err, sizeof err) != BERRY_OK)
            rc = berry_cli_error("%s", err);
        for (int j = i; j < i + k && !rc; j++)
            if (st[j] != BERRY_OK) rc = berry_cli_error("compare record %d: %s", idx[j] + 1, err);
        berry_progress_update(&c->pr, i + k, NULL);
    }
    berry_progress_end(&c->pr, m, NULL);
    // Row 0: all pairs; rows 1..: one per flaw type, in order of first appearance.
    const char *fname[MAX_FLAWS + 1] = {"all"};
    long good[MAX_FLAWS + 1][2] = {{0}}, n[MAX_FLAWS + 1][2] = {{0}}, both[MAX_FLAWS + 1] = {0},
         avg[MAX_FLAWS + 1] = {0}, pairs[MAX_FLAWS + 1] = {0};
    int nf = 1;
    bool prev_ok = false;
    double prev_p = 0;
    for (int i = 0; i < m && !rc; i++) {
        const rec *r = &v->r[idx[i]];
        int want_yes = a_right[i], ord = want_yes ? 0 : 1;
        bool ok = (pyes[i] > 0.5) == (bool)want_yes;
        double p_yes = pyes[i];
        const char *fl = r->flaw ? r->flaw : "?";
        int f = 1;
        while (f < nf && strcmp(fname[f], fl)) f++;
        if (f == nf) {
            if (nf <= MAX_FLAWS) fname[nf++] = fl;
            else f = -1;  // more flaw types than rows: counted in "all" only
        }
        for (int row = 0; row < 2; row++) {
            int k = row ? f : 0;
            if (k < 0) continue;
            n[k][ord]++, good[k][ord] += ok;
        }
        // Pairs are written as two consecutive records (A correct, then B correct).
        if (ord == 1 && i > 0 && idx[i - 1] == idx[i] - 1) {
            bool avg_ok = (prev_p + (1.0 - p_yes)) / 2 > 0.5;
            for (int row = 0; row < 2; row++) {
                int k = row ? f : 0;
                if (k < 0) continue;
                pairs[k]++, both[k] += ok && prev_ok, avg[k] += avg_ok;
            }
        }
        prev_ok = ok, prev_p = p_yes;
    }
    for (int i = 0; checks && i < 2 * m; i++) free(checks[i]);
    free(idx); free(pyes); free(st); free(prompts); free(checks); free(a_right);
    berry_prompts_free(&jp);
    if (rc) return rc;
    fprintf(o, "compare (PPRM), P(A better than B) > 1/2 exactly when A is the correct solution:\n");
    pct(o, "correct solution shown first (A)", good[0][0], n[0][0]);
    pct(o, "correct solution shown second (B)", good[0][1], n[0][1]);
    pct(o, "both orders right", both[0], pairs[0]);
    pct(o, "averaged over both orders (search)", avg[0], pairs[0]);
    fprintf(o, "  per flaw: first / second / both / averaged\n");
    for (int k = 1; k < nf; k++)
        fprintf(o, "    %-12s %5.1f%% / %5.1f%% / %5.1f%% / %5.1f%%  (%ld pairs)\n", fname[k],
                n[k][0] ? 100.0 * good[k][0] / n[k][0] : 0.0, n[k][1] ? 100.0 * good[k][1] / n[k][1] : 0.0,
                pairs[k] ? 100.0 * both[k] / pairs[k] : 0.0, pairs[k] ? 100.0 * avg[k] / pairs[k] : 0.0, pairs[k]);
    js_rate(w, "compare_correct_first", good[0][0], n[0][0]);
    js_rate(w, "compare_correct_second", good[0][1], n[0][1]);
    js_rate(w, "compare_both_orders", both[0], pairs[0]);
    js_rate(w, "compare_averaged", avg[0], pairs[0]);
    berry_json_key(w, "compare_by_flaw");
    berry_json_begin_object(w);
    for (int k = 1; k < nf; k++) {
        berry_json_key(w, fname[k]);
        berry_json_begin_object(w);
        js_rate(w, "correct_first", good[k][0], n[k][0]);
        js_rate(w, "correct_second", good[k][1], n[k][1]);
        js_rate(w, "both_orders", both[k], pairs[k]);
        js_rate(w, "averaged", avg[k], pairs[k]);
        berry_json_end_object(w);
    }
    berry_json_end_object(w);
    return 0;
}

static int prompts_of(const recs *v, const int *idx, int m, const char ***out) {
    *out = calloc((size_t)(m ? m : 1), sizeof **out);
    if (!*out) return berry_cli_error("out of memory");
    for (int i = 0; i < m; i++) (*out)[i] = v->r[idx[i]].prompt;
    return 0;
}

static int eval_critique(ctx *c, const recs *v, int n_per_level, FILE *o, berry_json_writer *w) {
    int *idx = malloc((size_t)v->n * sizeof *idx), rc = 0;
    if (!idx) return berry_cli_error("out of memory");
    const char **prompts = NULL;
    berry_lm_output *out = NULL;
    long hit = 0, n = 0, said_ok = 0, n_ok = 0, ok_ok = 0;
    // Flawed solutions, and as many correct ones (a critic that always finds an error is no critic).
    int m = pick(v, n_per_level, is_flawed, idx);
    int *idx2 = malloc((size_t)v->n * sizeof *idx2);
    int m2 = idx2 ? pick(v, n_per_level / 2, NULL, idx2) : 0, m_all = m;
    if (!idx2) { rc = berry_cli_error("out of memory"); goto done; }
    for (int i = 0; i < m2; i++)
        if (!is_flawed(&v->r[idx2[i]])) idx[m_all++] = idx2[i];
    if ((rc = prompts_of(v, idx, m_all, &prompts))) goto done;
    out = calloc((size_t)(m_all ? m_all : 1), sizeof *out);
    if (!out) { rc = berry_cli_error("out of memory"); goto done; }
    berry_sampling greedy = {.temperature = 0, .top_p = 1, .max_tokens = 96};
    if ((rc = gen(c, prompts, m_all, 1, greedy, out, "critique"))) goto done;
    for (int i = 0; i < m_all; i++) {
        const rec *r = &v->r[idx[i]];
        int k = berry_role_parse_wrong_step(out[i].text);
        if (is_flawed(r)) n++, hit += k == r->first_wrong, said_ok += k == 0;
        else n_ok++, ok_ok += k == 0;
        berry_lm_output_clear(&out[i]);
    }
    fprintf(o, "critique, greedy:\n");
    pct(o, "flawed: names the injected step", hit, n);
    pct(o, "flawed: says all steps are correct", said_ok, n);
    pct(o, "correct: says all steps are correct", ok_ok, n_ok);
    js_rate(w, "critique_step", hit, n);
    js_rate(w, "critique_correct_passed", ok_ok, n_ok);
done:
    free(idx); free(idx2); free(prompts); free(out);
    return rc;
}

static int eval_rewrite(ctx *c, const recs *v, int n_per_level, FILE *o, berry_json_writer *w) {
    int *idx = malloc((size_t)v->n * sizeof *idx), rc = 0;
    if (!idx) return berry_cli_error("out of memory");
    int m = pick(v, n_per_level, NULL, idx);
    const char **prompts = NULL;
    char **starts = NULL, **full = NULL;
    berry_lm_output *out = calloc((size_t)(m ? m : 1), sizeof *out);
    long good[MAX_LEVEL + 1] = {0}, n[MAX_LEVEL + 1] = {0}, g = 0;
    if (!out) { rc = berry_cli_error("out of memory"); goto done; }
    if ((rc = prompts_of(v, idx, m, &prompts))) goto done;
    // The rewrite starts with the steps the critique accepts and the step it states (roles.h), as in the
    // search; --rewrite-whole leaves the whole rewrite to the model.
    starts = calloc((size_t)(m ? m : 1), sizeof *starts);
    full = calloc((size_t)(m ? m : 1), sizeof *full);
    if (!starts || !full) { rc = berry_cli_error("out of memory"); goto done; }
    for (int i = 0; i < m; i++) {
        // No start (NULL) with --rewrite-whole, or for a prompt that is not roles.h's rewrite.
        starts[i] = c->rewrite_whole ? NULL : berry_role_rewrite_start_of(prompts[i]);
        if (!(full[i] = berry_strjoin(prompts[i], starts[i]))) { rc = berry_cli_error("out of memory"); goto done; }
    }
    berry_sampling greedy = {.temperature = 0, .top_p = 1, .max_tokens = c->max_tokens};
    if ((rc = gen(c, (const char *const *)full, m, 1, greedy, out, "rewrite"))) goto done;
    for (int i = 0; i < m; i++) {
        const rec *r = &v->r[idx[i]];
        char *ref = answer_of(r->completion);  // the reference rewrite is the correct solution
        char *text = berry_strjoin(starts[i], out[i].text);
        if (!text) { free(ref); rc = berry_cli_error("out of memory"); goto done; }
        bool ok = ref && correct(text, ref);
        if (c->js) {
            berry_json_begin_object(c->js);
            berry_json_key(c->js, "role"); berry_json_write_str(c->js, "rewrite");
            berry_json_key(c->js, "level"); berry_json_write_int(c->js, r->level);
            berry_json_key(c->js, "prompt"); berry_json_write_str(c->js, prompts[i]);
            berry_json_key(c->js, "reference"); berry_json_write_str(c->js, r->completion);
            berry_json_key(c->js, "output"); berry_json_write_str(c->js, text);
            berry_json_key(c->js, "correct"); berry_json_write_bool(c->js, ok);
            berry_json_end_object(c->js);
        }
        free(ref);
        free(text);
        n[r->level]++, good[r->level] += ok, g += ok;
        berry_lm_output_clear(&out[i]);
    }
    int started = 0;
    for (int i = 0; i < m; i++) started += starts[i] && starts[i][0];
    if (c->rewrite_whole) fprintf(o, "rewrite from a flawed solution and its critique, greedy, written whole, answer correct:\n");
    else fprintf(o, "rewrite from a flawed solution and its critique, greedy, started from the critique where it holds\n"
                    "(%d of %d), answer correct:\n", started, m);
    for (int l = 1; l <= MAX_LEVEL; l++) {
        if (!n[l]) continue;
        char lab[32];
        snprintf(lab, sizeof lab, "level %d", l);
        pct(o, lab, good[l], n[l]);
    }
    pct(o, "all", g, m);
    js_rate(w, "rewrite", g, m);
done:
    for (int i = 0; i < m; i++) {
        if (starts) free(starts[i]);
        if (full) free(full[i]);
        if (out) berry_lm_output_clear(&out[i]);
    }
    free(idx); free(prompts); free(out); free(starts); free(full);
    return rc;
}

static int eval_selfeval(ctx *c, const recs *v, int n_per_level, FILE *o, berry_json_writer *w) {
    int *idx = malloc((size_t)v->n * sizeof *idx), rc = 0;
    if (!idx) return berry_cli_error("out of memory");
    int m = pick(v, n_per_level, NULL, idx);
    const char **prompts = NULL;
    berry_lm_output *out = calloc((size_t)(m ? m : 1), sizeof *out);
    long sign = 0, parsed = 0;
    double abs_err = 0;
    if (!out) { rc = berry_cli_error("out of memory"); goto done; }
    if ((rc = prompts_of(v, idx, m, &prompts))) goto done;
    berry_sampling greedy = {.temperature = 0, .top_p = 1, .max_tokens = 12};
    if ((rc = gen(c, prompts, m, 1, greedy, out, "selfeval"))) goto done;
    for (int i = 0; i < m; i++) {
        int want = 0, got = 0;
        if (berry_role_parse_score(v->r[idx[i]].completion, &want) && berry_role_parse_score(out[i].text, &got)) {
            parsed++, sign += (got > 0) == (want > 0), abs_err += abs(got - want);
        }
        berry_lm_output_clear(&out[i]);
    }
    fprintf(o, "selfeval, greedy (mean |score - label| %.1f over parsed scores):\n", parsed ? abs_err / parsed : 0.0);
    pct(o, "sign agrees with correctness", sign, m);
    js_rate(w, "selfeval_sign", sign, m);
done:
    free(idx); free(prompts); free(out);
    return rc;
}

static void usage(FILE *f) {
    fprintf(f,
            "usage: berry roles-eval -m MODEL.gguf --data DIR [options]\n\n"
            "Evaluates a model on the roles of the embedded model (src/search/roles.h) over one split of a\n"
            "curriculum written by `berry synth --out DIR`, against the curriculum's exact answers:\n"
            "  solve     greedy pass@1 per level; maj@K (self-consistency), mean sample accuracy and pass@K\n"
            "  compare   PPRM accuracy (P(A better) > 1/2 exactly when A is correct) in both presentation orders\n"
            "  critique  on flawed solutions, the critique names the injected first wrong step\n"
            "  rewrite   a rewrite from a flawed solution and its critique has the right answer; where\n"
            "            the critique's claims hold, the rewrite starts with the steps it accepts and the\n"
            "            step it states (src/search/roles.h), as in the search\n"
            "  selfeval  the sign of the score agrees with the solution's correctness\n\n"
            "  -m, --model FILE  GGUF model\n"
            "  --prm FILE        a separate GGUF model for the compare role (the PPRM; default: -m's)\n"
            "  --prm-lora FILE   a LoRA adapter applied to the compare role's model\n"
            "  --data DIR        curriculum folder\n"
            "  --split S         test (default), dev or train\n"
            "  --roles LIST      comma-separated subset of solve,compare,critique,rewrite,selfeval (default all)\n"
            "  --n N             solve problems per level (default 100)\n"
            "  --n-roles N       items per level for the other roles (default 40; compare: pairs)\n"
            "  --samples K       samples per problem for maj@K (default 16; 1: greedy only)\n"
            "  --sc-level L      the level sampled for maj@K (0: every level; default: the hardest present)\n"
            "  --temp T          sampling temperature for maj@K (default 0.8)\n"
            "  --top-k K, --top-p P, --min-p P   sampling filters for maj@K (defaults 40, 0.95, 0.05: berry eval's)\n"
            "  -s, --seed S      sampling seed (default 1)\n"
            "  -t N              threads (default: all CPUs)\n"
            "  --batch N         sequences per generate call (default 64)\n"
            "  --rewrite-whole   the model writes the whole rewrite, with no start taken from the critique\n"
            "  --json FILE       also write the figures (and every greedy solution and rewrite) as JSON\n"
            "  --pairs FILE      also write the model's own (right, wrong) solutions among the maj@K samples\n"
            "                    as compare records in both orders (the PPRM's training format; with\n"
            "                    --split train, on-policy data for the judge), at most --pairs-per-problem\n"
            "                    N (default 2) pairs a problem\n"
            "The report goes to stdout; progress to stderr.\n");
}

static int cmd_roles_eval(int argc, char **argv) {
    const char *model = NULL, *prm_model = NULL, *prm_lora = NULL, *dir = NULL, *split = "test", *roles = "solve,compare,critique,rewrite,selfeval", *json = NULL;
    const char *pairs = NULL;
    long n_solve = 100, n_roles = 40, samples = 16, seed = 1, threads = 0, batch = 64, sc_level = -1, per_problem = 2;
    double temp = 0.8, top_p = 0.95, min_p = 0.05;
    long top_k = 40;
    bool rewrite_whole = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { usage(stdout); return 0; }
        if (!strcmp(a, "--rewrite-whole")) { rewrite_whole = true; continue; }
        if (i + 1 >= argc) return berry_cli_error("%s: unknown flag or missing value (see berry roles-eval --help)", a);
        const char *v = argv[++i];
        bool ok = true;
        if (!strcmp(a, "-m") || !strcmp(a, "--model")) model = v;
        else if (!strcmp(a, "--prm")) prm_model = v;
        else if (!strcmp(a, "--prm-lora")) prm_lora = v;
        else if (!strcmp(a, "--data")) dir = v;
        else if (!strcmp(a, "--split")) split = v;
        else if (!strcmp(a, "--roles")) roles = v;
        else if (!strcmp(a, "--json")) json = v;
        else if (!strcmp(a, "--pairs")) pairs = v;
        else if (!strcmp(a, "--pairs-per-problem")) ok = berry_cli_int(a, v, 1, 512, &per_problem);
        else if (!strcmp(a, "--n")) ok = berry_cli_int(a, v, 1, 1000000, &n_solve);
        else if (!strcmp(a, "--n-roles")) ok = berry_cli_int(a, v, 0, 1000000, &n_roles);
        else if (!strcmp(a, "--sc-level")) ok = berry_cli_int(a, v, 0, MAX_LEVEL, &sc_level);
        else if (!strcmp(a, "--samples")) ok = berry_cli_int(a, v, 1, 1024, &samples);
        else if (!strcmp(a, "--temp")) ok = berry_cli_float(a, v, 0, 10, &temp);
        else if (!strcmp(a, "--top-k")) ok = berry_cli_int(a, v, 0, 1000000, &top_k);
        else if (!strcmp(a, "--top-p")) ok = berry_cli_float(a, v, 0, 1, &top_p);
        else if (!strcmp(a, "--min-p")) ok = berry_cli_float(a, v, 0, 1, &min_p);
        else if (!strcmp(a, "-s") || !strcmp(a, "--seed")) ok = berry_cli_int(a, v, 0, 0x7fffffffL, &seed);
        else if (!strcmp(a, "-t")) ok = berry_cli_int(a, v, 0, 1024, &threads);
        else if (!strcmp(a, "--batch")) ok = berry_cli_int(a, v, 1, 4096, &batch);
        else return berry_cli_error("unknown flag '%s' (see berry roles-eval --help)", a);
        if (!ok) return 1;
    }
    if (!model || !dir) { usage(stderr); return berry_cli_error("roles-eval needs -m and --data"); }
    if (pairs && samples < 2) return berry_cli_error("--pairs writes pairs of the maj@K samples: it needs --samples 2 or more");
    if (strcmp(split, "test") && strcmp(split, "dev") && strcmp(split, "train"))
        return berry_cli_error("--split must be test, dev or train, not '%s'", split);
    char err[512];
    berry_lm_local_params lp = {.model_path = model, .n_threads = (int)threads, .n_ctx = 1024};
    berry_lm *lm = berry_lm_local_open(&lp, err, sizeof err);
    if (!lm) return berry_cli_error("%s", err);
    berry_lm *prm = lm;
    if (prm_model || prm_lora) {
        berry_lm_local_params pp = lp;
        if (prm_model) pp.model_path = prm_model;
        pp.lora_path = prm_lora;
        if (!(prm = berry_lm_local_open(&pp, err, sizeof err))) {
            berry_lm_free(lm);
            return berry_cli_error("%s: %s", prm_model ? prm_model : prm_lora, err);
        }
    }
    berry_json_writer items, w;
    berry_json_writer_init(&items);
    berry_json_writer_init(&w);
    berry_json_begin_array(&items);
    berry_json_begin_object(&w);
    berry_json_key(&w, "model"); berry_json_write_str(&w, model);
    if (prm != lm) {
        berry_json_key(&w, "prm"); berry_json_write_str(&w, prm_model ? prm_model : model);
        if (prm_lora) { berry_json_key(&w, "prm_lora"); berry_json_write_str(&w, prm_lora); }
    }
    berry_json_key(&w, "split"); berry_json_write_str(&w, split);
    ctx c = {.lm = lm, .prm = prm, .batch = (int)batch, .max_tokens = 320, .js = json ? &items : NULL,
             .pairs_per_problem = (int)per_problem, .rewrite_whole = rewrite_whole};
    double t0 = berry_now();
    int rc = 0;
    // The pairs go to FILE.tmp, renamed to FILE once the run has finished: a killed run leaves no half file.
    char pairs_tmp[4200];
    if (pairs) {
        snprintf(pairs_tmp, sizeof pairs_tmp, "%.4000s.tmp", pairs);
        if (!(c.pairs = fopen(pairs_tmp, "w"))) rc = berry_cli_error("cannot write %s", pairs_tmp);
    }
    printf("berry roles-eval: %s on the %s split of %s\n", model, split, dir);
    if (prm != lm) printf("  compare role (PPRM): %s%s%s\n", prm_model ? prm_model : model, prm_lora ? " + adapter " : "",
                          prm_lora ? prm_lora : "");
    const char *names[5] = {"solve", "compare", "critique", "rewrite", "selfeval"};
    for (int k = 0; k < 5 && !rc; k++) {
        // ROLES is a comma-separated list: match whole names only.
        const char *s = roles;
        bool on = false;
        size_t nl = strlen(names[k]);
        while (s && *s) {
            const char *e = strchr(s, ',');
            size_t len = e ? (size_t)(e - s) : strlen(s);
            on |= len == nl && !strncmp(s, names[k], nl);
            s = e ? e + 1 : NULL;
        }
        if (!on) continue;
        recs v = {0};
        double t = berry_now();
        berry_lm *cl = k == 1 ? prm : lm;  // the counters of the model that plays this role
        int64_t gen0 = cl->counters.tokens_generated, pe0 = cl->counters.prompt_tokens_evaluated;
        rc = load(dir, split, k == 0 ? "problems" : names[k], &v);
        if (!rc) {
            if (k == 0) {
                berry_sampling sp = {.temperature = (float)temp, .top_k = (int)top_k, .top_p = (float)top_p,
                                     .min_p = (float)min_p, .seed = (uint64_t)seed};
                rc = eval_solve(&c, &v, (int)n_solve, (int)samples, (int)sc_level, sp, stdout, &w);
            }
            else if (k == 1) rc = eval_compare(&c, &v, (int)n_roles, stdout, &w);
            else if (k == 2) rc = eval_critique(&c, &v, (int)n_roles, stdout, &w);
            else if (k == 3) rc = eval_rewrite(&c, &v, (int)n_roles, stdout, &w);
            else rc = eval_selfeval(&c, &v, (int)n_roles, stdout, &w);
        }
        if (!rc)
            printf("  [%s: %.1f s, %lld prompt tokens evaluated, %lld generated]\n", names[k], berry_now() - t,
                   (long long)(cl->counters.prompt_tokens_evaluated - pe0), (long long)(cl->counters.tokens_generated - gen0));
        fflush(stdout);
        recs_free(&v);
    }
    if (c.pairs) {
        bool bad = ferror(c.pairs) != 0;
        bad |= fclose(c.pairs) != 0;
        if (!rc && (bad || rename(pairs_tmp, pairs) != 0)) rc = berry_cli_error("cannot write %s", pairs);
        if (rc) remove(pairs_tmp);
    }
    if (!rc) printf("evaluation: %.1f s\n", berry_now() - t0);
    berry_json_key(&w, "seconds"); berry_json_write_num(&w, berry_now() - t0);
    berry_json_end_array(&items);
    berry_json_key(&w, "items"); berry_json_write_null(&w);
    berry_json_end_object(&w);
    if (!rc && json) {
        FILE *f = fopen(json, "w");
        if (!f) rc = berry_cli_error("cannot write %s", json);
        else {
            // The figures object, with the per-item records spliced in place of its null "items".
            const char *hole = "\"items\":null";
            char *p = w.data ? strstr(w.data, hole) : NULL;
            if (p) fprintf(f, "%.*s\"items\":%s%s\n", (int)(p - w.data), w.data, items.data ? items.data : "[]", p + strlen(hole));
            else fprintf(f, "%s\n", w.data ? w.data : "{}");
            fclose(f);
        }
    }
    berry_json_writer_free(&items);
    berry_json_writer_free(&w);
    if (prm != lm) berry_lm_free(prm);
    berry_lm_free(lm);
    return rc;
}

BERRY_COMMAND("roles-eval", "evaluate a model on the embedded model's roles (solve, PPRM, critique, ...)", cmd_roles_eval)
