// results.c — metrics (Wilson interval, pass@k, majority vote) and the JSONL result record.
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

// ---------------------------------------------------------------- records

void berry_result_clear(berry_result *r) {
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

void berry_results_free(berry_result *r, size_t n) {
    if (!r) return;
    for (size_t i = 0; i < n; i++) berry_result_clear(&r[i]);
    free(r);
}

berry_status berry_result_write(FILE *f, const berry_result *r, char *err, size_t err_size) {
    berry_json_writer w;
    berry_json_writer_init(&w);
    berry_json_begin_object(&w);
    berry_json_kv_str(&w, "id", r->id);
    berry_json_kv_str(&w, "method", r->method);
    berry_json_kv_int(&w, "budget", r->budget);
    berry_json_kv_str(&w, "model", r->model);
    berry_json_kv_str(&w, "data", r->data);
    berry_json_kv_str(&w, "prompt", r->prompt);
    berry_json_kv_str(&w, "reference", r->reference);
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
    berry_json_kv_int(&w, "pick", r->pick);
    berry_json_kv_int(&w, "majority", r->majority);
    if (r->nodes) berry_json_kv_int(&w, "nodes", r->nodes);
    if (r->stop) berry_json_kv_str(&w, "stop", r->stop);
    berry_json_kv_int(&w, "tokens", r->tokens);
    berry_json_kv_int(&w, "prompt_tokens", r->prompt_tokens);
    berry_json_kv_int(&w, "prompt_tokens_evaluated", r->prompt_tokens_evaluated);
    berry_json_kv_int(&w, "model_calls", r->model_calls);
    berry_json_kv_int(&w, "batch", r->batch);
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
static bool record_from_json(const berry_json *o, berry_result *r, char *why, size_t why_size) {
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

berry_status berry_results_load(const char *path, berry_result **out, size_t *n_out, long *good_bytes,
                                     char *err, size_t err_size) {
    *out = NULL;
    *n_out = 0;
    if (good_bytes) *good_bytes = 0;
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (errno == ENOENT) return BERRY_OK;
        return berry_errf(err, err_size, BERRY_EIO, "%s: %s", path, strerror(errno));
    }
    berry_result *rs = NULL;
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
            berry_result *nr = realloc(rs, cap * sizeof *nr);
            if (!nr) { berry_json_free(o); st = berry_errf(err, err_size, BERRY_ENOMEM, "out of memory"); break; }
            rs = nr;
        }
        char why[120];
        bool ok = record_from_json(o, &rs[n], why, sizeof why);
        berry_json_free(o);
        if (!ok) {
            berry_result_clear(&rs[n]);
            st = berry_errf(err, err_size, BERRY_EFORMAT, "%s:%zu: not a result record: %s", path, lineno, why);
            break;
        }
        n++;
        good += (long)len;
    }
    free(line);
    fclose(f);
    if (st != BERRY_OK) { berry_results_free(rs, n); return st; }
    *out = rs;
    *n_out = n;
    if (good_bytes) *good_bytes = good;
    return BERRY_OK;
}

