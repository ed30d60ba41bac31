// eval.c — summaries and the resumable run of the evaluation harness (see eval.h; records: results.c).
#include "data/eval.h"
#include "base/alloc.h"
#include "base/clock.h"
#include "base/json.h"
#include "data/results.h"
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

// ---------------------------------------------------------------- summary

void berry_eval_summarize(const berry_result *r, size_t n, berry_eval_summary *s) {
    memset(s, 0, sizeof *s);
    s->problems = (long)n;
    s->acc_hi = 1;
    if (n == 0) return;
    s->method = r[0].method;
    s->model = r[0].model;
    s->data = r[0].data;
    s->budget = r[0].budget;
    int k = r[0].n;
    for (size_t i = 0; i < n; i++) {
        if (r[i].n < k) k = r[i].n;
        bool same = r[i].budget == s->budget && ((!r[i].method && !s->method) ||
                                                  (r[i].method && s->method && !strcmp(r[i].method, s->method)));
        if (!same) s->mixed = true;
    }
    s->k = k;
    double maj = 0, pass = 0;
    for (size_t i = 0; i < n; i++) {
        const berry_result *x = &r[i];
        if (x->pick >= 0 && x->pick < x->n && x->correct[x->pick]) s->correct++;
        if (x->n > 0 && x->correct[0]) s->first_correct++;
        // The recorded majority covers all samples; with fewer (k < n), maj@k would need a regrouping
        // by the grader, which the summary does not redo: it counts the first-sample answer instead.
        if (k > 0) {
            if (x->n == k) maj += x->majority >= 0 && x->correct[x->majority];
            else maj += x->correct[0];
            int c = 0;
            for (int j = 0; j < x->n; j++) c += x->correct[j];
            pass += berry_pass_at_k(x->n, c, k);
        }
        s->tokens += x->tokens;
        s->prompt_tokens += x->prompt_tokens;
        s->prompt_tokens_evaluated += x->prompt_tokens_evaluated;
        s->model_calls += x->model_calls;
        s->seconds += x->seconds;
    }
    s->acc = (double)s->correct / (double)n;
    berry_wilson(s->correct, (long)n, &s->acc_lo, &s->acc_hi);
    // The interval's ends are exactly 0 and 1 at these extremes; rounding would leave 5.6e-17.
    if (s->correct == 0) s->acc_lo = 0;
    if (s->correct == (long)n) s->acc_hi = 1;
    s->first_acc = (double)s->first_correct / (double)n;
    s->maj_at_k = maj / (double)n;
    s->pass_at_k = pass / (double)n;
}

// ---------------------------------------------------------------- the run

berry_eval_run_params berry_eval_run_defaults(void) {
    berry_eval_run_params p;
    memset(&p, 0, sizeof p);
    p.opts.k = 1;
    p.opts.sampling = (berry_sampling){.temperature = 0.8f, .top_k = 40, .top_p = 0.95f, .min_p = 0.05f, .max_tokens = 1024};
    p.batch = 1;
    return p;
}

// Records sorted by id, to find those of a problem done before.
static int cmp_rec(const void *a, const void *b) {
    return strcmp((*(const berry_result *const *)a)->id, (*(const berry_result *const *)b)->id);
}

static const berry_result *find_rec(berry_result **byid, size_t n, const char *id) {
    berry_result key = {.id = (char *)id}, *kp = &key;
    berry_result **hit = n ? bsearch(&kp, byid, n, sizeof *byid, cmp_rec) : NULL;
    return hit ? *hit : NULL;
}

// Splits TOTAL over N parts, remainders to the first: part I of TOTAL.
static long share(long total, int n, int i) { return total / n + (i < total % n ? 1 : 0); }

berry_status berry_eval_run(berry_lm *lm, const berry_dataset *d, const berry_eval_run_params *p,
                            const char *results_path, berry_eval_run_stats *stats, char *err, size_t err_size) {
    berry_eval_run_stats st0 = {0};
    if (stats) *stats = st0;
    if (!lm || !d || !p || !p->method || !results_path) return berry_errf(err, err_size, BERRY_EINVAL, "eval: missing argument");
    const berry_eval_method *m = p->method;
    int budget = m->uses_k ? p->opts.k : 1;
    if (budget < 1) return berry_errf(err, err_size, BERRY_EINVAL, "eval: -k must be at least 1");
    if (p->offset < 0 || p->limit < 0) return berry_errf(err, err_size, BERRY_EINVAL, "eval: negative offset or limit");
    double t0 = berry_now();

    // What the file holds already: those ids are skipped; another method or budget is refused.
    berry_result *old = NULL;
    size_t n_old = 0;
    long good = 0;
    berry_status s = berry_results_load(results_path, &old, &n_old, &good, err, err_size);
    if (s != BERRY_OK) return s;
    for (size_t i = 0; i < n_old; i++) {
        if (!old[i].method || strcmp(old[i].method, m->name) || old[i].budget != budget) {
            s = berry_errf(err, err_size, BERRY_EINVAL, "%s holds results of %s (budget %d), not %s (budget %d): "
                           "write to another file", results_path, old[i].method ? old[i].method : "another tool",
                           old[i].budget, m->name, budget);
            berry_results_free(old, n_old);
            return s;
        }
    }
    berry_result **byid = calloc(n_old ? n_old : 1, sizeof *byid);
    if (!byid) { berry_results_free(old, n_old); return berry_errf(err, err_size, BERRY_ENOMEM, "eval: out of memory"); }
    for (size_t i = 0; i < n_old; i++) byid[i] = &old[i];
    qsort(byid, n_old, sizeof *byid, cmp_rec);

    // A line torn by a kill is cut off before appending after it.
    FILE *f = fopen(results_path, "ab");
    if (!f || ftruncate(fileno(f), good) != 0) {
        s = berry_errf(err, err_size, BERRY_EIO, "%s: %s", results_path, strerror(errno));
        if (f) fclose(f);
        free(byid);
        berry_results_free(old, n_old);
        return s;
    }

    size_t lo = (size_t)p->offset < d->n ? (size_t)p->offset : d->n;
    size_t hi = p->limit > 0 && (size_t)p->limit < d->n - lo ? lo + (size_t)p->limit : d->n;
    // The problems still to do, in dataset order.
    size_t *todo = malloc(((hi - lo) ? (hi - lo) : 1) * sizeof *todo);
    size_t n_todo = 0;
    berry_eval_progress prog = {.total = (long)(hi - lo)};
    if (!todo) s = berry_errf(err, err_size, BERRY_ENOMEM, "eval: out of memory");
    for (size_t i = lo; i < hi && todo; i++) {
        const berry_result *r = find_rec(byid, n_old, d->items[i].id);
        if (!r) { todo[n_todo++] = i; continue; }
        prog.done++;
        if (r->pick >= 0 && r->correct[r->pick]) prog.correct++;
    }
    if (stats) stats->skipped = prog.done;

    int batch = m->batches && p->batch > 1 ? p->batch : 1;
    berry_eval_problem *probs = calloc((size_t)batch, sizeof *probs);
    berry_eval_answer *ans = calloc((size_t)batch, sizeof *ans);
    if (s == BERRY_OK && (!probs || !ans)) s = berry_errf(err, err_size, BERRY_ENOMEM, "eval: out of memory");
    for (size_t at = 0; s == BERRY_OK && at < n_todo; at += (size_t)batch) {
        int nb = (int)(n_todo - at < (size_t)batch ? n_todo - at : (size_t)batch);
        for (int i = 0; i < nb; i++) {
            const berry_problem *pr = &d->items[todo[at + (size_t)i]];
            probs[i] = (berry_eval_problem){.id = pr->id, .question = pr->problem, .extract = pr->extract, .grade = pr->grade};
            ans[i] = (berry_eval_answer){.pick = -1};
        }
        // A separate reward model's spending counts with the policy's.
        berry_lm *prm = p->opts.prm && p->opts.prm != lm ? p->opts.prm : NULL;
        berry_lm_counters c0 = lm->counters, j0 = prm ? prm->counters : (berry_lm_counters){0};
        double t1 = berry_now();
        s = m->fn(lm, probs, nb, &p->opts, ans, err, err_size);
        double dt = berry_now() - t1;
        berry_lm_counters c1 = lm->counters;
        if (prm) {
            c1.calls += prm->counters.calls - j0.calls;
            c1.prompt_tokens += prm->counters.prompt_tokens - j0.prompt_tokens;
            c1.prompt_tokens_evaluated += prm->counters.prompt_tokens_evaluated - j0.prompt_tokens_evaluated;
        }
        for (int i = 0; i < nb && s == BERRY_OK; i++) {
            const berry_problem *pr = &d->items[todo[at + (size_t)i]];
            berry_eval_answer *a = &ans[i];
            berry_result r = {.id = pr->id, .method = (char *)m->name, .model = (char *)p->model_name,
                                   .data = (char *)p->data_name, .prompt = a->prompt, .reference = pr->answer,
                                   .stop = a->stop, .budget = budget, .n = a->n, .outputs = a->outputs,
                                   .answers = a->answers, .pick = a->pick, .nodes = a->nodes, .batch = nb,
                                   .tokens = a->tokens};
            r.correct = calloc(a->n ? (size_t)a->n : 1, sizeof *r.correct);
            if (!r.correct) { s = berry_errf(err, err_size, BERRY_ENOMEM, "eval: out of memory"); break; }
            // The only place the reference is read: grading what the method chose.
            for (int j = 0; j < a->n; j++)
                r.correct[j] = a->answers[j] && berry_math_equal(a->answers[j], pr->answer, &pr->grade);
            r.majority = a->n > 0 ? berry_majority((const char *const *)a->answers, a->n, &pr->grade) : -1;
            r.model_calls = share((long)(c1.calls - c0.calls), nb, i);
            r.prompt_tokens = share((long)(c1.prompt_tokens - c0.prompt_tokens), nb, i);
            r.prompt_tokens_evaluated = share((long)(c1.prompt_tokens_evaluated - c0.prompt_tokens_evaluated), nb, i);
            r.seconds = dt / nb;
            s = berry_result_write(f, &r, err, err_size);
            if (s == BERRY_OK) {
                prog.done++;
                if (r.pick >= 0 && r.correct[r.pick]) prog.correct++;
                if (stats) stats->evaluated++;
                if (p->on_record) p->on_record(p->user, &r, &prog);
            }
            free(r.correct);
        }
        for (int i = 0; i < nb; i++) berry_eval_answer_clear(&ans[i]);
    }
    if (fclose(f) != 0 && s == BERRY_OK) s = berry_errf(err, err_size, BERRY_EIO, "%s: %s", results_path, strerror(errno));
    free(probs);
    free(ans);
    free(todo);
    free(byid);
    berry_results_free(old, n_old);
    if (stats) stats->seconds = berry_now() - t0;
    return s;
}
