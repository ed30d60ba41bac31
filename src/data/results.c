// results.c — metrics (Wilson interval, pass@k, majority vote) and JSONL result records.
#include "data/results.h"
#include "base/alloc.h"
#include "base/json.h"
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void berry_wilson(long k, long n, double *lo, double *hi) {
    if (n <= 0) { *lo = 0; *hi = 1; return; }
    const double z = 1.959963984540054;
    double p = (double)k / n, z2 = z * z / n;
    double center = (p + z2 / 2) / (1 + z2);
    double half = z * sqrt(p * (1 - p) / n + z2 / (4.0 * n)) / (1 + z2);
    *lo = fmax(0.0, center - half);
    *hi = fmin(1.0, center + half);
}

double berry_pass_at_k(int n, int c, int k) {
    if (n <= 0 || k <= 0 || c <= 0) return 0.0;
    if (k > n) k = n;
    if (n - c < k) return 1.0;
    // C(n-c, k) / C(n, k) = prod_{i=n-c+1}^{n} (1 - k/i), stable for large n.
    double r = 1.0;
    for (int i = n - c + 1; i <= n; i++) r *= 1.0 - (double)k / i;
    return 1.0 - r;
}

int berry_majority(const char *const *answers, int n, const berry_grade_opts *opts) {
    int best = -1, best_votes = 0;
    for (int i = 0; i < n; i++) {
        if (!answers[i]) continue;
        // Count each class once, at its first member.
        bool seen = false;
        for (int j = 0; j < i && !seen; j++)
            if (answers[j] && berry_math_equal(answers[i], answers[j], opts)) seen = true;
        if (seen) continue;
        int votes = 1;
        for (int j = i + 1; j < n; j++)
            if (answers[j] && berry_math_equal(answers[j], answers[i], opts)) votes++;
        if (votes > best_votes) { best = i; best_votes = votes; }
    }
    return best;
}

berry_status berry_result_append(void *file, const berry_result *r, char *err, size_t err_size) {
    FILE *f = file;
    berry_json_writer w;
    berry_json_writer_init(&w);
    berry_json_begin_object(&w);
    berry_json_key(&w, "id");
    berry_json_write_str(&w, r->id);
    berry_json_key(&w, "prompt");
    berry_json_write_str(&w, r->prompt);
    berry_json_key(&w, "reference");
    berry_json_write_str(&w, r->reference);
    berry_json_key(&w, "outputs");
    berry_json_begin_array(&w);
    for (int i = 0; i < r->n_samples; i++) berry_json_write_str(&w, r->outputs ? r->outputs[i] : NULL);
    berry_json_end_array(&w);
    berry_json_key(&w, "answers");
    berry_json_begin_array(&w);
    for (int i = 0; i < r->n_samples; i++) berry_json_write_str(&w, r->answers ? r->answers[i] : NULL);
    berry_json_end_array(&w);
    berry_json_key(&w, "correct");
    berry_json_begin_array(&w);
    for (int i = 0; i < r->n_samples; i++) berry_json_write_bool(&w, r->correct && r->correct[i]);
    berry_json_end_array(&w);
    berry_json_key(&w, "tokens");
    berry_json_write_int(&w, r->tokens);
    berry_json_key(&w, "model_calls");
    berry_json_write_int(&w, r->model_calls);
    berry_json_key(&w, "seconds");
    berry_json_write_num(&w, r->seconds);
    berry_json_end_object(&w);
    berry_status st = BERRY_OK;
    if (w.failed) st = berry_errf(err, err_size, BERRY_ENOMEM, "out of memory writing a result");
    else if (fwrite(w.data, 1, w.len, f) != w.len || fputc('\n', f) == EOF || fflush(f) != 0 || fsync(fileno(f)) != 0)
        st = berry_errf(err, err_size, BERRY_EIO, "writing a result: %s", strerror(errno));
    berry_json_writer_free(&w);
    return st;
}

static char *dup_str(const berry_json *v) { return v && v->type == BERRY_JSON_STRING ? berry_strndup(v->str, v->len) : NULL; }

static void free_one(berry_result *r) {
    for (int i = 0; i < r->n_samples; i++) {
        if (r->outputs) free(r->outputs[i]);
        if (r->answers) free(r->answers[i]);
    }
    free(r->outputs);
    free(r->answers);
    free(r->correct);
    free(r->id);
    free(r->prompt);
    free(r->reference);
}

void berry_results_free(berry_result *r, size_t n) {
    if (!r) return;
    for (size_t i = 0; i < n; i++) free_one(&r[i]);
    free(r);
}

static bool from_json(const berry_json *o, berry_result *r) {
    memset(r, 0, sizeof *r);
    const berry_json *outs = berry_json_get(o, "outputs"), *ans = berry_json_get(o, "answers"), *cor = berry_json_get(o, "correct");
    r->id = dup_str(berry_json_get(o, "id"));
    if (!r->id || !cor || cor->type != BERRY_JSON_ARRAY || cor->n > 1000000) return false;
    int n = (int)cor->n;
    r->n_samples = n;
    r->outputs = calloc(n ? n : 1, sizeof *r->outputs);
    r->answers = calloc(n ? n : 1, sizeof *r->answers);
    r->correct = calloc(n ? n : 1, sizeof *r->correct);
    if (!r->outputs || !r->answers || !r->correct) return false;
    for (int i = 0; i < n; i++) {
        r->outputs[i] = dup_str(berry_json_at(outs, (size_t)i));
        r->answers[i] = dup_str(berry_json_at(ans, (size_t)i));
        const berry_json *c = berry_json_at(cor, (size_t)i);
        r->correct[i] = c->type == BERRY_JSON_BOOL && c->boolean;
    }
    r->prompt = dup_str(berry_json_get(o, "prompt"));
    r->reference = dup_str(berry_json_get(o, "reference"));
    long long v;
    if (berry_json_int(berry_json_get(o, "tokens"), &v)) r->tokens = (long)v;
    if (berry_json_int(berry_json_get(o, "model_calls"), &v)) r->model_calls = (long)v;
    berry_json_num(berry_json_get(o, "seconds"), &r->seconds);
    return true;
}

berry_status berry_results_load(const char *path, berry_result **out, size_t *n_out, char *err, size_t err_size) {
    *out = NULL;
    *n_out = 0;
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (errno == ENOENT) return BERRY_OK;
        return berry_errf(err, err_size, BERRY_EIO, "%s: %s", path, strerror(errno));
    }
    berry_result *rs = NULL;
    size_t n = 0, cap = 0, lineno = 0;
    char *line = NULL;
    size_t lcap = 0;
    ssize_t len;
    berry_status st = BERRY_OK;
    while ((len = getline(&line, &lcap, f)) > 0) {
        lineno++;
        bool complete = line[len - 1] == '\n';
        char jerr[160];
        berry_json *o = berry_json_parse(line, (size_t)len, jerr, sizeof jerr);
        if (!o) {
            if (!complete) break;  // cut short by a kill: the problem in flight is redone
            st = berry_errf(err, err_size, BERRY_EFORMAT, "%s:%zu: %s", path, lineno, jerr);
            break;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            berry_result *nr = realloc(rs, cap * sizeof *nr);
            if (!nr) { berry_json_free(o); st = berry_errf(err, err_size, BERRY_ENOMEM, "out of memory"); break; }
            rs = nr;
        }
        bool ok = from_json(o, &rs[n]);
        berry_json_free(o);
        if (!ok) {
            free_one(&rs[n]);
            st = berry_errf(err, err_size, BERRY_EFORMAT, "%s:%zu: not a result record (needs \"id\" and \"correct\")", path, lineno);
            break;
        }
        n++;
    }
    free(line);
    fclose(f);
    if (st != BERRY_OK) { berry_results_free(rs, n); return st; }
    *out = rs;
    *n_out = n;
    return BERRY_OK;
}

void berry_summarize(const berry_result *r, size_t n, const berry_grade_opts *opts, berry_summary *s) {
    memset(s, 0, sizeof *s);
    s->problems = (long)n;
    int k = 0;
    for (size_t i = 0; i < n; i++)
        if (i == 0 || r[i].n_samples < k) k = r[i].n_samples;
    s->k = k;
    double maj = 0, pass = 0;
    for (size_t i = 0; i < n; i++) {
        const berry_result *x = &r[i];
        if (x->n_samples > 0 && x->correct[0]) s->first_correct++;
        if (k > 0) {
            int m = berry_majority((const char *const *)x->answers, k, opts);
            if (m >= 0 && x->correct[m]) maj += 1;
            int c = 0;
            for (int j = 0; j < x->n_samples; j++) c += x->correct[j];
            pass += berry_pass_at_k(x->n_samples, c, k);
        }
        s->tokens += x->tokens;
        s->model_calls += x->model_calls;
        s->seconds += x->seconds;
    }
    s->acc = n ? (double)s->first_correct / n : 0;
    berry_wilson(s->first_correct, (long)n, &s->acc_lo, &s->acc_hi);
    s->maj_at_k = n ? maj / n : 0;
    s->pass_at_k = n ? pass / n : 0;
}
