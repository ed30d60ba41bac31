// dataset.c — JSONL benchmark readers with format detection.
#include "data/dataset.h"
#include "base/alloc.h"
#include "base/json.h"
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *berry_dataset_kind_name(berry_dataset_kind k) {
    switch (k) {
    case BERRY_DATASET_GENERIC: return "generic";
    case BERRY_DATASET_GSM8K: return "gsm8k";
    case BERRY_DATASET_MATH500: return "math500";
    case BERRY_DATASET_AIME24: return "aime24";
    case BERRY_DATASET_AMC23: return "amc23";
    case BERRY_DATASET_OLYMPIADBENCH: return "olympiadbench";
    case BERRY_DATASET_GSM_HARD: return "gsm_hard";
    }
    return "unknown";
}

static bool has(const berry_json *o, const char *k) { return berry_json_get(o, k) != NULL; }

static int detect(const berry_json *o) {
    if (has(o, "final_answer")) return BERRY_DATASET_OLYMPIADBENCH;
    if (has(o, "input") && has(o, "target")) return BERRY_DATASET_GSM_HARD;
    if (has(o, "problem") && has(o, "answer") && (has(o, "unique_id") || has(o, "level"))) return BERRY_DATASET_MATH500;
    if (has(o, "problem") && has(o, "answer") && has(o, "url")) return has(o, "solution") ? BERRY_DATASET_AIME24 : BERRY_DATASET_AMC23;
    const char *a = berry_json_str(berry_json_get(o, "answer"));
    if (has(o, "question") && a && strstr(a, "####")) return BERRY_DATASET_GSM8K;
    if ((has(o, "problem") || has(o, "question")) && has(o, "answer")) return BERRY_DATASET_GENERIC;
    return -1;
}

// A string field, or a number field's literal ("27.0"), copied.
static char *text_of(const berry_json *v) {
    if (!v) return NULL;
    if (v->type == BERRY_JSON_STRING || v->type == BERRY_JSON_NUMBER) return berry_strndup(v->str, v->len);
    return NULL;
}

static char *trim_copy(const char *s) {
    while (*s && isspace((unsigned char)*s)) s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1])) n--;
    return berry_strndup(s, n);
}

// OlympiadBench's final_answer: a list of strings like "$69$,$84$" or "$(2,4)$"; joined with ", "
// and stripped of '$'.
static char *join_answers(const berry_json *arr) {
    if (!arr || arr->type != BERRY_JSON_ARRAY || arr->n == 0) return NULL;
    size_t total = 1;
    for (size_t i = 0; i < arr->n; i++) {
        if (arr->items[i].type != BERRY_JSON_STRING) return NULL;
        total += arr->items[i].len + 2;
    }
    char *o = malloc(total), *p = o;
    if (!o) return NULL;
    for (size_t i = 0; i < arr->n; i++) {
        if (i) { *p++ = ','; *p++ = ' '; }
        for (size_t k = 0; k < arr->items[i].len; k++)
            if (arr->items[i].str[k] != '$') *p++ = arr->items[i].str[k];
    }
    *p = 0;
    char *t = trim_copy(o);
    free(o);
    // A trailing period belongs to the sentence, not the answer ("$(-\infty, 0) \cup\{1\}$.").
    if (t) {
        size_t n = strlen(t);
        if (n && t[n - 1] == '.') t[n - 1] = 0;
    }
    return t;
}

static char *id_of(const berry_json *o, const char *key, size_t line) {
    const berry_json *v = berry_json_get(o, key);
    if (v && (v->type == BERRY_JSON_STRING || v->type == BERRY_JSON_NUMBER)) return berry_strndup(v->str, v->len);
    char buf[32];
    snprintf(buf, sizeof buf, "%zu", line);
    return berry_strdup(buf);
}

// Fills P from record O of format KIND. Returns a message on failure, NULL on success.
static const char *fill(berry_problem *p, const berry_json *o, int kind, size_t line) {
    p->grade = berry_grade_defaults();
    p->extract = BERRY_EXTRACT_MARKED;
    switch (kind) {
    case BERRY_DATASET_GSM8K: {
        p->id = id_of(o, "id", line);
        p->problem = text_of(berry_json_get(o, "question"));
        p->solution = text_of(berry_json_get(o, "answer"));
        const char *h = p->solution ? strstr(p->solution, "####") : NULL;
        if (!h) return "gsm8k record has no '#### N' in its answer";
        // The final number, without thousands commas.
        char *a = trim_copy(h + 4);
        if (a) {
            size_t k = 0;
            for (size_t i = 0; a[i]; i++)
                if (a[i] != ',') a[k++] = a[i];
            a[k] = 0;
        }
        p->answer = a;
        p->extract = BERRY_EXTRACT_LAST_NUMBER;
        break;
    }
    case BERRY_DATASET_GSM_HARD:
        p->id = id_of(o, "id", line);
        p->problem = text_of(berry_json_get(o, "input"));
        p->answer = text_of(berry_json_get(o, "target"));
        p->solution = text_of(berry_json_get(o, "code"));
        // Targets are floats printed by Python (3244047.0999999996): equal to 6 significant digits.
        p->grade.rel_tol = 1e-6;
        p->extract = BERRY_EXTRACT_LAST_NUMBER;
        break;
    case BERRY_DATASET_MATH500:
        p->id = id_of(o, "unique_id", line);
        p->problem = text_of(berry_json_get(o, "problem"));
        p->answer = text_of(berry_json_get(o, "answer"));
        p->solution = text_of(berry_json_get(o, "solution"));
        break;
    case BERRY_DATASET_AIME24:
        p->id = id_of(o, "id", line);
        p->problem = text_of(berry_json_get(o, "problem"));
        p->answer = text_of(berry_json_get(o, "answer"));
        p->solution = text_of(berry_json_get(o, "solution"));
        p->extract = BERRY_EXTRACT_INTEGER;
        break;
    case BERRY_DATASET_AMC23:
        p->id = id_of(o, "id", line);
        p->problem = text_of(berry_json_get(o, "problem"));
        p->answer = text_of(berry_json_get(o, "answer"));
        p->extract = BERRY_EXTRACT_LAST_NUMBER;
        break;
    case BERRY_DATASET_OLYMPIADBENCH: {
        p->id = id_of(o, "id", line);
        const char *ctx = berry_json_str(berry_json_get(o, "context"));
        const char *q = berry_json_str(berry_json_get(o, "question"));
        if (!q) return "olympiadbench record has no question";
        if (ctx && *ctx) {
            size_t n = strlen(ctx) + strlen(q) + 2;
            p->problem = malloc(n);
            if (p->problem) snprintf(p->problem, n, "%s\n%s", ctx, q);
        } else p->problem = berry_strdup(q);
        p->answer = join_answers(berry_json_get(o, "final_answer"));
        const berry_json *sol = berry_json_at(berry_json_get(o, "solution"), 0);
        p->solution = text_of(sol);
        const berry_json *mu = berry_json_get(o, "is_multiple_answer");
        p->grade.multi = mu && mu->type == BERRY_JSON_BOOL && mu->boolean;
        // "error" is an absolute tolerance ("1e-1"), turned into a relative one around the answer.
        const char *e = berry_json_str(berry_json_get(o, "error"));
        if (e && p->answer) {
            double tol = strtod(e, NULL), v = strtod(p->answer, NULL);
            if (tol > 0 && v != 0 && isfinite(tol / fabs(v))) p->grade.rel_tol = tol / fabs(v);
        }
        break;
    }
    default: {
        p->id = id_of(o, "id", line);
        const berry_json *q = berry_json_get(o, "problem");
        p->problem = text_of(q ? q : berry_json_get(o, "question"));
        p->answer = text_of(berry_json_get(o, "answer"));
        p->solution = text_of(berry_json_get(o, "solution"));
        break;
    }
    }
    if (!p->id) return "out of memory";
    if (!p->problem) return "record has no problem text (a string)";
    if (!p->answer) return "record has no answer (a string or number)";
    return NULL;
}

static void free_problem(berry_problem *p) {
    free(p->id);
    free(p->problem);
    free(p->answer);
    free(p->solution);
}

void berry_dataset_free(berry_dataset *d) {
    if (!d) return;
    for (size_t i = 0; i < d->n; i++) free_problem(&d->items[i]);
    free(d->items);
    free(d);
}

berry_dataset *berry_dataset_parse(const char *text, size_t len, const char *name, char *err, size_t err_size) {
    berry_dataset *d = calloc(1, sizeof *d);
    if (!d) { berry_errf(err, err_size, BERRY_ENOMEM, "out of memory"); return NULL; }
    size_t cap = 0, line = 0;
    int kind = -2;
    for (size_t i = 0; i < len;) {
        const char *s = text + i;
        const char *nl = memchr(s, '\n', len - i);
        size_t n = nl ? (size_t)(nl - s) : len - i;
        i += n + 1;
        line++;
        size_t k = 0;
        while (k < n && isspace((unsigned char)s[k])) k++;
        if (k == n) continue;  // blank line
        char jerr[160];
        berry_json *o = berry_json_parse(s, n, jerr, sizeof jerr);
        if (!o) {
            berry_errf(err, err_size, BERRY_EFORMAT, "%s:%zu: %s", name, line, jerr);
            goto fail;
        }
        if (o->type != BERRY_JSON_OBJECT) {
            berry_json_free(o);
            berry_errf(err, err_size, BERRY_EFORMAT, "%s:%zu: expected a JSON object per line", name, line);
            goto fail;
        }
        if (kind == -2) {
            kind = detect(o);
            if (kind < 0) {
                berry_json_free(o);
                berry_errf(err, err_size, BERRY_EFORMAT,
                           "%s:%zu: unknown dataset format (expected gsm8k, math500, aime24, amc23, olympiadbench, gsm_hard, or {\"problem\",\"answer\"})",
                           name, line);
                goto fail;
            }
            d->kind = (berry_dataset_kind)kind;
        }
        if (d->n == cap) {
            size_t c = cap ? cap * 2 : 64;
            berry_problem *ni = realloc(d->items, c * sizeof *ni);
            if (!ni) { berry_json_free(o); berry_errf(err, err_size, BERRY_ENOMEM, "out of memory"); goto fail; }
            d->items = ni;
            cap = c;
        }
        berry_problem *p = &d->items[d->n];
        memset(p, 0, sizeof *p);
        const char *msg = fill(p, o, kind, line);
        berry_json_free(o);
        if (msg) {
            free_problem(p);
            berry_errf(err, err_size, BERRY_EFORMAT, "%s:%zu: %s", name, line, msg);
            goto fail;
        }
        d->n++;
    }
    if (d->n == 0) {
        berry_errf(err, err_size, BERRY_EFORMAT, "%s: no records", name);
        goto fail;
    }
    return d;
fail:
    berry_dataset_free(d);
    return NULL;
}

berry_dataset *berry_dataset_load(const char *path, char *err, size_t err_size) {
    FILE *f = fopen(path, "rb");
    if (!f) { berry_errf(err, err_size, BERRY_EIO, "%s: %s", path, strerror(errno)); return NULL; }
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        if (n == cap) {
            char *nb = cap > ((size_t)1 << 32) ? NULL : realloc(buf, cap * 2);
            if (!nb) { free(buf); buf = NULL; break; }
            buf = nb;
            cap *= 2;
        }
        size_t r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (r == 0) break;
    }
    bool bad = !buf || ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        berry_errf(err, err_size, BERRY_EIO, "%s: read failed or file too large", path);
        return NULL;
    }
    berry_dataset *d = berry_dataset_parse(buf, n, path, err, err_size);
    free(buf);
    return d;
}
