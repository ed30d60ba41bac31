// eval.c — records, summaries and the resumable run of the evaluation harness (see eval.h).
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

// ---------------------------------------------------------------- records

void berry_eval_record_clear(berry_eval_record *r) {
    if (!r) return;
    for (int i = 0; i < r->n; i++) {
        if (r->outputs) free(r->outputs[i]);
        if (r->answers) free(r->answers[i]);
    }
    free(r->outputs);
    free(r->answers);
    free(r->correct);
    free(r->id);
    free(r->method);
    free(r->model);
    free(r->data);
    free(r->prompt);
    free(r->reference);
    free(r->stop);
    memset(r, 0, sizeof *r);
}

void berry_eval_records_free(berry_eval_record *r, size_t n) {
    if (!r) return;
    for (size_t i = 0; i < n; i++) berry_eval_record_clear(&r[i]);
    free(r);
}

static void kv_str(berry_json_writer *w, const char *k, const char *v) {
    berry_json_key(w, k);
    berry_json_write_str(w, v);
}

static void kv_int(berry_json_writer *w, const char *k, long long v) {
    berry_json_key(w, k);
    berry_json_write_int(w, v);
}

berry_status berry_eval_record_write(FILE *f, const berry_eval_record *r, char *err, size_t err_size) {
    berry_json_writer w;
    berry_json_writer_init(&w);
    berry_json_begin_object(&w);
    kv_str(&w, "id", r->id);
    kv_str(&w, "method", r->method);
    kv_int(&w, "budget", r->budget);
    kv_str(&w, "model", r->model);
    kv_str(&w, "data", r->data);
    kv_str(&w, "prompt", r->prompt);
    kv_str(&w, "reference", r->reference);
    berry_json_key(&w, "outputs");
    berry_json_begin_array(&w);
    for (int i = 0; i < r->n; i++) berry_json_write_str(&w, r->outputs[i] ? r->outputs[i] : "");
    berry_json_end_array(&w);
    berry_json_key(&w, "answers");
    berry_json_begin_array(&w);
    for (int i = 0; i < r->n; i++) berry_json_write_str(&w, r->answers[i]);
    berry_json_end_array(&w);
    berry_json_key(&w, "correct");
    berry_json_begin_array(&w);
    for (int i = 0; i < r->n; i++) berry_json_write_bool(&w, r->correct[i]);
    berry_json_end_array(&w);
    kv_int(&w, "pick", r->pick);
    kv_int(&w, "majority", r->majority);
    if (r->nodes) kv_int(&w, "nodes", r->nodes);
    if (r->stop) kv_str(&w, "stop", r->stop);
    kv_int(&w, "tokens", r->tokens);
    kv_int(&w, "prompt_tokens", r->prompt_tokens);
    kv_int(&w, "prompt_tokens_evaluated", r->prompt_tokens_evaluated);
    kv_int(&w, "model_calls", r->model_calls);
    kv_int(&w, "batch", r->batch);
    berry_json_key(&w, "seconds");
    berry_json_write_num(&w, r->seconds);
    berry_json_end_object(&w);
    berry_status st = BERRY_OK;
    if (w.failed) st = berry_errf(err, err_size, BERRY_ENOMEM, "out of memory writing the record of %s", r->id);
    else if (fwrite(w.data, 1, w.len, f) != w.len || fputc('\n', f) == EOF || fflush(f) != 0 || fsync(fileno(f)) != 0)
        st = berry_errf(err, err_size, BERRY_EIO, "writing the record of %s: %s", r->id, strerror(errno));
    berry_json_writer_free(&w);
    return st;
}

static char *dup_json(const berry_json *v) {
    return v && v->type == BERRY_JSON_STRING ? berry_strndup(v->str, v->len) : NULL;
}

static long get_long(const berry_json *o, const char *key, long dflt) {
    long long v;
    return berry_json_int(berry_json_get(o, key), &v) ? (long)v : dflt;
}

// Fills R from the parsed line O; false (with R partly filled) when it is not a record.
static bool record_from_json(const berry_json *o, berry_eval_record *r, char *why, size_t why_size) {
    memset(r, 0, sizeof *r);
    const berry_json *outs = berry_json_get(o, "outputs"), *ans = berry_json_get(o, "answers");
    const berry_json *cor = berry_json_get(o, "correct");
    r->id = dup_json(berry_json_get(o, "id"));
    if (!r->id) { snprintf(why, why_size, "no \"id\" string"); return false; }
    if (!cor || cor->type != BERRY_JSON_ARRAY || cor->n > (1u << 20)) {
        snprintf(why, why_size, "no \"correct\" array");
        return false;
    }
    int n = (int)cor->n;
    if ((outs && (outs->type != BERRY_JSON_ARRAY || outs->n != cor->n)) ||
        (ans && (ans->type != BERRY_JSON_ARRAY || ans->n != cor->n))) {
        snprintf(why, why_size, "\"outputs\", \"answers\" and \"correct\" differ in length");
        return false;
    }
    r->n = n;
    r->outputs = calloc(n ? (size_t)n : 1, sizeof *r->outputs);
    r->answers = calloc(n ? (size_t)n : 1, sizeof *r->answers);
    r->correct = calloc(n ? (size_t)n : 1, sizeof *r->correct);
    if (!r->outputs || !r->answers || !r->correct) { snprintf(why, why_size, "out of memory"); return false; }
    for (int i = 0; i < n; i++) {
        r->outputs[i] = dup_json(berry_json_at(outs, (size_t)i));
        r->answers[i] = dup_json(berry_json_at(ans, (size_t)i));
        const berry_json *c = berry_json_at(cor, (size_t)i);
        if (c->type != BERRY_JSON_BOOL) { snprintf(why, why_size, "\"correct\" holds a non-boolean"); return false; }
        r->correct[i] = c->boolean;
    }
    r->method = dup_json(berry_json_get(o, "method"));
    r->model = dup_json(berry_json_get(o, "model"));
    r->data = dup_json(berry_json_get(o, "data"));
    r->prompt = dup_json(berry_json_get(o, "prompt"));
    r->reference = dup_json(berry_json_get(o, "reference"));
    r->stop = dup_json(berry_json_get(o, "stop"));
    long budget = get_long(o, "budget", n), pick = get_long(o, "pick", 0), maj = get_long(o, "majority", -1);
    if (budget < 0 || budget > (1L << 30) || pick < -1 || pick >= n || maj < -1 || maj >= n) {
        snprintf(why, why_size, "\"budget\", \"pick\" or \"majority\" is out of range");
        return false;
    }
    r->budget = (int)budget;
    r->pick = (int)pick;
    r->majority = (int)maj;
    r->nodes = (int)get_long(o, "nodes", 0);
    r->batch = (int)get_long(o, "batch", 1);
    r->tokens = get_long(o, "tokens", 0);
    r->prompt_tokens = get_long(o, "prompt_tokens", 0);
    r->prompt_tokens_evaluated = get_long(o, "prompt_tokens_evaluated", 0);
    r->model_calls = get_long(o, "model_calls", 0);
    berry_json_num(berry_json_get(o, "seconds"), &r->seconds);
    return true;
}

berry_status berry_eval_records_load(const char *path, berry_eval_record **out, size_t *n_out, long *good_bytes,
                                     char *err, size_t err_size) {
    *out = NULL;
    *n_out = 0;
    if (good_bytes) *good_bytes = 0;
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (errno == ENOENT) return BERRY_OK;
        return berry_errf(err, err_size, BERRY_EIO, "%s: %s", path, strerror(errno));
    }
    berry_eval_record *rs = NULL;
    size_t n = 0, cap = 0, lineno = 0;
    long good = 0;
    char *line = NULL;
    size_t lcap = 0;
    ssize_t len;
    berry_status st = BERRY_OK;
    while ((len = getline(&line, &lcap, f)) > 0) {
        lineno++;
        bool complete = line[len - 1] == '\n';
        if (!complete) break;  // cut short by a kill: that problem is redone
        size_t blank = 0;
        while (blank < (size_t)len && (line[blank] == ' ' || line[blank] == '\t' || line[blank] == '\r' || line[blank] == '\n'))
            blank++;
        if (blank == (size_t)len) { good += (long)len; continue; }
        char jerr[160];
        berry_json *o = berry_json_parse(line, (size_t)len, jerr, sizeof jerr);
        if (!o) { st = berry_errf(err, err_size, BERRY_EFORMAT, "%s:%zu: %s", path, lineno, jerr); break; }
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            berry_eval_record *nr = realloc(rs, cap * sizeof *nr);
            if (!nr) { berry_json_free(o); st = berry_errf(err, err_size, BERRY_ENOMEM, "out of memory"); break; }
            rs = nr;
        }
        char why[120];
        bool ok = record_from_json(o, &rs[n], why, sizeof why);
        berry_json_free(o);
        if (!ok) {
            berry_eval_record_clear(&rs[n]);
            st = berry_errf(err, err_size, BERRY_EFORMAT, "%s:%zu: not a result record: %s", path, lineno, why);
            break;
        }
        n++;
        good += (long)len;
    }
    free(line);
    fclose(f);
    if (st != BERRY_OK) { berry_eval_records_free(rs, n); return st; }
    *out = rs;
    *n_out = n;
    if (good_bytes) *good_bytes = good;
    return BERRY_OK;
}

// ---------------------------------------------------------------- summary

void berry_eval_summarize(const berry_eval_record *r, size_t n, berry_eval_summary *s) {
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
        const berry_eval_record *x = &r[i];
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
    return strcmp((*(const berry_eval_record *const *)a)->id, (*(const berry_eval_record *const *)b)->id);
}

static const berry_eval_record *find_rec(berry_eval_record **byid, size_t n, const char *id) {
    berry_eval_record key = {.id = (char *)id}, *kp = &key;
    berry_eval_record **hit = n ? bsearch(&kp, byid, n, sizeof *byid, cmp_rec) : NULL;
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
    berry_eval_record *old = NULL;
    size_t n_old = 0;
    long good = 0;
    berry_status s = berry_eval_records_load(results_path, &old, &n_old, &good, err, err_size);
    if (s != BERRY_OK) return s;
    for (size_t i = 0; i < n_old; i++) {
        if (!old[i].method || strcmp(old[i].method, m->name) || old[i].budget != budget) {
            s = berry_errf(err, err_size, BERRY_EINVAL, "%s holds results of %s (budget %d), not %s (budget %d): "
                           "write to another file", results_path, old[i].method ? old[i].method : "another tool",
                           old[i].budget, m->name, budget);
            berry_eval_records_free(old, n_old);
            return s;
        }
    }
    berry_eval_record **byid = calloc(n_old ? n_old : 1, sizeof *byid);
    if (!byid) { berry_eval_records_free(old, n_old); return berry_errf(err, err_size, BERRY_ENOMEM, "eval: out of memory"); }
    for (size_t i = 0; i < n_old; i++) byid[i] = &old[i];
    qsort(byid, n_old, sizeof *byid, cmp_rec);

    // A line torn by a kill is cut off before appending after it.
    FILE *f = fopen(results_path, "ab");
    if (!f || ftruncate(fileno(f), good) != 0) {
        s = berry_errf(err, err_size, BERRY_EIO, "%s: %s", results_path, strerror(errno));
        if (f) fclose(f);
        free(byid);
        berry_eval_records_free(old, n_old);
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
        const berry_eval_record *r = find_rec(byid, n_old, d->items[i].id);
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
            berry_eval_record r = {.id = pr->id, .method = (char *)m->name, .model = (char *)p->model_name,
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
            s = berry_eval_record_write(f, &r, err, err_size);
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
    berry_eval_records_free(old, n_old);
    if (stats) stats->seconds = berry_now() - t0;
    return s;
}
