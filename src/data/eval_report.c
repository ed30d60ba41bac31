// eval_report.c — summaries as text or JSON, and `berry eval report`: summaries side by side as a Markdown table, and an SVG plot of
// accuracy against generated tokens per problem (the compute each method spends).
#include "data/eval.h"
#include "base/alloc.h"
#include "base/json.h"
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct { char *s; size_t len, cap; bool failed; } sbuf;

static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf *b, const char *fmt, ...) {
    if (b->failed) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        size_t room = b->cap - b->len;
        int m = vsnprintf(b->s ? b->s + b->len : NULL, b->s ? room : 0, fmt, ap);
        va_end(ap);
        if (m < 0) { b->failed = true; return; }
        if (b->s && (size_t)m < room) { b->len += (size_t)m; return; }
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < b->len + (size_t)m + 1) cap *= 2;
        char *ns = realloc(b->s, cap);
        if (!ns) { b->failed = true; return; }
        b->s = ns;
        b->cap = cap;
    }
}

static char *sb_take(sbuf *b) {
    if (b->failed) { free(b->s); return NULL; }
    return b->s ? b->s : berry_strdup("");
}

// Text safe inside a Markdown cell: '|' and newlines would break the row.
static void md_cell(sbuf *b, const char *s) {
    if (!s) { sb_printf(b, "?"); return; }
    for (; *s; s++) {
        if (*s == '|') sb_printf(b, "\\|");
        else if (*s == '\n' || *s == '\r') sb_printf(b, " ");
        else sb_printf(b, "%c", *s);
    }
}

char *berry_eval_summary_text(const berry_eval_summary *s, bool json) {
    double np = s->problems > 0 ? (double)s->problems : 1;
    if (json) {
        berry_json_writer w;
        berry_json_writer_init(&w);
        berry_json_begin_object(&w);
        berry_json_kv_str(&w, "method", s->method);
        berry_json_kv_int(&w, "budget", s->budget);
        berry_json_kv_str(&w, "model", s->model);
        berry_json_kv_str(&w, "data", s->data);
        berry_json_key(&w, "mixed"); berry_json_write_bool(&w, s->mixed);
        berry_json_kv_int(&w, "problems", s->problems);
        berry_json_kv_int(&w, "correct", s->correct);
        berry_json_key(&w, "accuracy"); berry_json_write_num(&w, s->acc);
        berry_json_key(&w, "accuracy_ci95");
        berry_json_begin_array(&w);
        berry_json_write_num(&w, s->acc_lo);
        berry_json_write_num(&w, s->acc_hi);
        berry_json_end_array(&w);
        berry_json_kv_int(&w, "k", s->k);
        berry_json_key(&w, "sample1_accuracy"); berry_json_write_num(&w, s->first_acc);
        berry_json_key(&w, "maj_at_k"); berry_json_write_num(&w, s->maj_at_k);
        berry_json_key(&w, "pass_at_k_oracle"); berry_json_write_num(&w, s->pass_at_k);
        berry_json_kv_int(&w, "tokens_generated", s->tokens);
        berry_json_kv_int(&w, "prompt_tokens", s->prompt_tokens);
        berry_json_kv_int(&w, "prompt_tokens_evaluated", s->prompt_tokens_evaluated);
        berry_json_kv_int(&w, "model_calls", s->model_calls);
        berry_json_key(&w, "model_seconds"); berry_json_write_num(&w, s->seconds);
        berry_json_end_object(&w);
        if (w.failed) { berry_json_writer_free(&w); return NULL; }
        char *out = w.data ? w.data : berry_strdup("{}");
        return out;
    }
    sbuf b = {0};
    sb_printf(&b, "method     %s (budget %d)%s\n", s->method ? s->method : "?", s->budget,
              s->mixed ? "  WARNING: the file mixes methods or budgets" : "");
    if (s->model || s->data) sb_printf(&b, "model      %s   data %s\n", s->model ? s->model : "?", s->data ? s->data : "?");
    sb_printf(&b, "accuracy   %.1f%%  (%ld/%ld)  95%% interval [%.1f%%, %.1f%%]\n", 100 * s->acc, s->correct,
              s->problems, 100 * s->acc_lo, 100 * s->acc_hi);
    if (s->k > 1) {
        sb_printf(&b, "sample 1   %.1f%%  (%ld/%ld)\n", 100 * s->first_acc, s->first_correct, s->problems);
        sb_printf(&b, "maj@%-6d %.1f%%  (majority vote, no ground truth)\n", s->k, 100 * s->maj_at_k);
        sb_printf(&b, "pass@%-5d %.1f%%  ORACLE: looks at the reference of every sample, not an accuracy\n", s->k,
                  100 * s->pass_at_k);
    }
    sb_printf(&b, "tokens     %ld generated (%.1f per problem); prompt %ld, of them %ld evaluated (%.1f%% from the cache)\n",
              s->tokens, s->tokens / np, s->prompt_tokens, s->prompt_tokens_evaluated,
              s->prompt_tokens > 0 ? 100.0 * (double)(s->prompt_tokens - s->prompt_tokens_evaluated) / (double)s->prompt_tokens : 0.0);
    sb_printf(&b, "model      %ld calls, %.1f s (%.2f s per problem)\n", s->model_calls, s->seconds, s->seconds / np);
    return sb_take(&b);
}

char *berry_eval_report_table(const berry_eval_summary *s, int n) {
    sbuf b = {0};
    sb_printf(&b, "| method | budget | data | problems | accuracy %% | 95%% interval | maj@k %% | pass@k %% (ORACLE) | "
                  "tokens / problem | prompt evaluated / problem | calls / problem | s / problem |\n");
    sb_printf(&b, "|---|---:|---|---:|---:|---|---:|---:|---:|---:|---:|---:|\n");
    for (int i = 0; i < n; i++) {
        const berry_eval_summary *x = &s[i];
        double np = x->problems > 0 ? (double)x->problems : 1;
        sb_printf(&b, "| ");
        md_cell(&b, x->method);
        if (x->mixed) sb_printf(&b, " (mixed)");
        sb_printf(&b, " | %d | ", x->budget);
        md_cell(&b, x->data);
        sb_printf(&b, " | %ld | %.1f | [%.1f, %.1f] | ", x->problems, 100 * x->acc, 100 * x->acc_lo, 100 * x->acc_hi);
        if (x->k > 1) sb_printf(&b, "%.1f (k=%d) | %.1f (k=%d) | ", 100 * x->maj_at_k, x->k, 100 * x->pass_at_k, x->k);
        else sb_printf(&b, "- | - | ");
        sb_printf(&b, "%.1f | %.1f | %.2f | %.2f |\n", x->tokens / np, x->prompt_tokens_evaluated / np,
                  x->model_calls / np, x->seconds / np);
    }
    sb_printf(&b, "\naccuracy: the method's own answer, chosen without the reference. pass@k is an ORACLE: it "
                  "counts a problem solved when any of k samples matches the reference.\n");
    return sb_take(&b);
}

static void xml_text(sbuf *b, const char *s) {
    for (; s && *s; s++) {
        switch (*s) {
        case '<': sb_printf(b, "&lt;"); break;
        case '>': sb_printf(b, "&gt;"); break;
        case '&': sb_printf(b, "&amp;"); break;
        case '"': sb_printf(b, "&quot;"); break;
        default:
            if ((unsigned char)*s >= 0x20) sb_printf(b, "%c", *s);
        }
    }
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

char *berry_eval_report_svg(const berry_eval_summary *s, int n, const char *title) {
    static const char *const colors[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"};
    const double W = 720, H = 460, L = 70, R = 170, T = 40, B = 60;  // canvas and margins
    double pw = W - L - R, ph = H - T - B;
    // x: generated tokens per problem, on a log scale when they span more than a factor of 10.
    double xmin = INFINITY, xmax = 0, ymax = 0;
    for (int i = 0; i < n; i++) {
        double np = s[i].problems > 0 ? (double)s[i].problems : 1, x = s[i].tokens / np;
        if (x < xmin) xmin = x;
        if (x > xmax) xmax = x;
        if (s[i].acc_hi > ymax) ymax = s[i].acc_hi;
    }
    if (n == 0) xmin = 0, xmax = 1;
    bool logx = xmin > 0 && xmax / xmin > 10;
    double x0, x1;
    if (logx) { x0 = floor(log10(xmin)); x1 = ceil(log10(xmax)); if (x1 <= x0) x1 = x0 + 1; }
    else { x0 = 0; x1 = xmax > 0 ? xmax * 1.1 : 1; }
    double y1 = ceil(ymax * 10 + 1e-9) / 10;  // to the next 10%
    if (y1 < 0.1) y1 = 0.1;
    if (y1 > 1) y1 = 1;
#define PX(v) (L + ((logx ? log10((v) > 0 ? (v) : pow(10, x0)) : (v)) - x0) / (x1 - x0) * pw)
#define PY(a) (T + ph - (a) / y1 * ph)
    sbuf b = {0};
    sb_printf(&b, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" "
                  "font-family=\"sans-serif\" font-size=\"12\">\n", W, H, W, H);
    sb_printf(&b, "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n");
    sb_printf(&b, "<text x=\"%.0f\" y=\"22\" font-size=\"15\">", L);
    xml_text(&b, title ? title : "accuracy against generated tokens");
    sb_printf(&b, "</text>\n");
    // Axes, grid and ticks.
    sb_printf(&b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" stroke=\"#444\"/>\n", L, T, pw, ph);
    for (int i = 0; i <= 10; i++) {
        double a = y1 * i / 10;
        if (i % 2 && y1 > 0.5) continue;
        sb_printf(&b, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>"
                      "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%.0f%%</text>\n",
                  L, L + pw, PY(a), PY(a), L - 6, PY(a) + 4, 100 * a);
    }
    if (logx) {
        for (double e = x0; e <= x1 + 1e-9; e += 1) {
            double v = pow(10, e);
            sb_printf(&b, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>"
                          "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%g</text>\n",
                      PX(v), PX(v), T, T + ph, PX(v), T + ph + 16, v);
        }
    } else {
        for (int i = 0; i <= 5; i++) {
            double v = x1 * i / 5;
            sb_printf(&b, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>"
                          "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%.0f</text>\n",
                      PX(v), PX(v), T, T + ph, PX(v), T + ph + 16, v);
        }
    }
    sb_printf(&b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">generated tokens per problem%s</text>\n",
              L + pw / 2, H - 18, logx ? " (log scale)" : "");
    sb_printf(&b, "<text transform=\"translate(18 %.1f) rotate(-90)\" text-anchor=\"middle\">accuracy (95%% interval)</text>\n",
              T + ph / 2);
    // One series per method: its budgets joined in order of tokens.
    int n_series = 0;
    const char *seen[64];
    for (int i = 0; i < n; i++) {
        const char *m = s[i].method ? s[i].method : "?";
        bool dup = false;
        for (int j = 0; j < n_series && !dup; j++) dup = !strcmp(seen[j], m);
        if (dup || n_series == 64) continue;
        seen[n_series] = m;
        const char *col = colors[n_series % 8];
        // Points of this method sorted by x: (x, index) pairs.
        double *pts = malloc(sizeof *pts * 2 * (size_t)n);
        int np = 0;
        for (int j = 0; pts && j < n; j++) {
            if (strcmp(s[j].method ? s[j].method : "?", m)) continue;
            pts[2 * np] = s[j].tokens / (s[j].problems > 0 ? (double)s[j].problems : 1);
            pts[2 * np + 1] = j;
            np++;
        }
        if (!pts) { b.failed = true; break; }
        qsort(pts, (size_t)np, 2 * sizeof *pts, cmp_double);
        if (np > 1) {
            sb_printf(&b, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\" points=\"", col);
            for (int j = 0; j < np; j++) sb_printf(&b, "%.1f,%.1f ", PX(pts[2 * j]), PY(s[(int)pts[2 * j + 1]].acc));
            sb_printf(&b, "\"/>\n");
        }
        for (int j = 0; j < np; j++) {
            const berry_eval_summary *x = &s[(int)pts[2 * j + 1]];
            double px = PX(pts[2 * j]);
            sb_printf(&b, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"%s\"/>"
                          "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4\" fill=\"%s\"/>"
                          "<text x=\"%.1f\" y=\"%.1f\" font-size=\"10\" fill=\"%s\">k=%d</text>\n",
                      px, px, PY(x->acc_lo), PY(x->acc_hi), col, px, PY(x->acc), col, px + 6, PY(x->acc) - 6, col,
                      x->budget);
        }
        free(pts);
        sb_printf(&b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"12\" height=\"12\" fill=\"%s\"/><text x=\"%.1f\" y=\"%.1f\">",
                  L + pw + 16, T + 6 + 20.0 * n_series, col, L + pw + 34, T + 16 + 20.0 * n_series);
        xml_text(&b, m);
        sb_printf(&b, "</text>\n");
        n_series++;
    }
#undef PX
#undef PY
    sb_printf(&b, "</svg>\n");
    return sb_take(&b);
}
