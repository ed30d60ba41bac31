// sampler.c — greedy and filtered temperature sampling over a logits row, with log-probabilities.
// Top-k keeps a heap of k while scanning the row once; top-p buckets the candidates by logit and sorts
// only the bucket where the mass crosses p; min-p is a threshold. exp runs through a vectorizable
// polynomial.
#include "text/sampler.h"
// Without trapping math gcc may if-convert the comparisons in the exp loops and so vectorize them (5x
// here); berry never enables floating-point traps.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-trapping-math")
#endif
#include "base/rng.h"
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct { float l; int32_t id; } cand;

enum { NB = 4096 };  // histogram buckets for top-p over large candidate sets

struct berry_sampler {
    berry_sampler_params p;
    berry_rng rng;
    cand *c;    // (cap): candidates of the current row
    double *w;  // (cap): their weights while drawing
    double mass[NB];
    int cap;
};

berry_sampler_params berry_sampler_default_params(void) {
    return (berry_sampler_params){.temperature = 0.8f, .top_k = 40, .top_p = 0.95f, .min_p = 0.05f, .seed = 0,
                                  .logprobs = true};
}

berry_sampler *berry_sampler_create(const berry_sampler_params *p, char *err, size_t err_size) {
    if (!p) { berry_errf(err, err_size, BERRY_EINVAL, "sampler: no parameters"); return NULL; }
    if (!(p->temperature >= 0 && isfinite(p->temperature)) || p->top_k < 0 || !(p->top_p >= 0 && p->top_p <= 1) ||
        !(p->min_p >= 0 && p->min_p <= 1)) {
        berry_errf(err, err_size, BERRY_EINVAL,
                   "sampler: temperature %g must be finite and >= 0, top_k %d >= 0, top_p %g and min_p %g in [0, 1]",
                   (double)p->temperature, p->top_k, (double)p->top_p, (double)p->min_p);
        return NULL;
    }
    berry_sampler *s = calloc(1, sizeof *s);
    if (!s) { berry_errf(err, err_size, BERRY_ENOMEM, "sampler: out of memory"); return NULL; }
    s->p = *p;
    berry_rng_seed(&s->rng, p->seed, 0);
    return s;
}

void berry_sampler_free(berry_sampler *s) {
    if (!s) return;
    free(s->c);
    free(s->w);
    free(s);
}

void berry_sampler_seed(berry_sampler *s, uint64_t seed, uint64_t stream) { berry_rng_seed(&s->rng, seed, stream); }

// ---------------------------------------------------------------- ordering and selection

// The candidate order: higher logit first, ties to the lower id (a total order).
static inline int better(cand a, cand b) { return a.l > b.l || (a.l == b.l && a.id < b.id); }

static int cmp_cand(const void *x, const void *y) {
    cand a = *(const cand *)x, b = *(const cand *)y;
    return better(a, b) ? -1 : better(b, a) ? 1 : 0;
}

static inline void swap(cand *a, cand *b) { cand t = *a; *a = *b; *b = t; }

// ---------------------------------------------------------------- rows

// Checks a row and finds its maximum (ties to the lowest id).
static berry_status scan_row(const float *logits, int n, float *mx_out, int32_t *arg_out, char *err, size_t es) {
    if (!logits || n < 1) return berry_errf(err, es, BERRY_EINVAL, "sampler: a row of %d logits", n);
    float mx = -INFINITY;
    int32_t arg = -1;
    for (int i = 0; i < n; i++) {
        float l = logits[i];
        if (!(l <= mx)) {  // greater, or NaN
            if (isnan(l)) return berry_errf(err, es, BERRY_EINVAL, "sampler: logit %d is NaN", i);
            mx = l;
            arg = i;
        }
    }
    if (arg < 0) return berry_errf(err, es, BERRY_EINVAL, "sampler: all %d logits are -inf", n);
    if (isinf(mx)) return berry_errf(err, es, BERRY_EINVAL, "sampler: logit %d is +inf", (int)arg);
    *mx_out = mx;
    *arg_out = arg;
    return BERRY_OK;
}

// exp(x) for x <= 0, within 3e-7 relative (Cody-Waite reduction, degree-6 Taylor on |r| <= ln2/2,
// rounding by the 1.5 * 2^23 trick), 0 below -87 (exp(-87) < 2e-38) and for -inf. Plain float
// arithmetic without calls, so that loops over it vectorize.
static inline float fexp(float x) {
    float xc = x < -87.0f ? -87.0f : x;
    float k = (xc * 1.44269504f + 12582912.0f) - 12582912.0f;
    float r = (xc - k * 0.693145751953125f) - k * 1.42860677e-6f;
    float q = 1.0f + r * (1.0f + r * (0.5f + r * (1.0f / 6 + r * (1.0f / 24 + r * (1.0f / 120 + r * (1.0f / 720))))));
    union { int32_t i; float f; } scale = {.i = (((int32_t)k + 127) << 23) & -(int32_t)(x >= -87.0f)};
    return q * scale.f;
}

// sum_i exp(l_i - mx) in double: exps of a block into floats (a vectorized loop), then summed in
// four double lanes.
static double sum_exp(const float *l, int n, float mx) {
    float w[256];
    double z = 0;
    for (int i0 = 0; i0 < n; i0 += 256) {
        int e = n - i0 < 256 ? n - i0 : 256, j = 0;
        for (int i = 0; i < e; i++) w[i] = fexp(l[i0 + i] - mx);
        double a0 = 0, a1 = 0, a2 = 0, a3 = 0;
        for (; j + 4 <= e; j += 4) a0 += w[j], a1 += w[j + 1], a2 += w[j + 2], a3 += w[j + 3];
        for (; j < e; j++) a0 += w[j];
        z += (a0 + a1) + (a2 + a3);
    }
    return z;
}

static bool reserve(berry_sampler *s, int n) {
    if (n <= s->cap) return true;
    cand *c = realloc(s->c, (size_t)n * sizeof *c);
    if (!c) return false;
    s->c = c;
    double *w = realloc(s->w, (size_t)n * sizeof *w);
    if (!w) return false;
    s->w = w;
    s->cap = n;
    return true;
}

// The K best of the row into C[0..m) (m <= K; -inf logits are left out), by a min-heap of size K whose
// root is the worst kept: one comparison per logit, O(K log K) extra per replacement. Ids arrive in
// increasing order, so an equal logit never replaces (the lower id wins the tie).
static int top_k_heap(cand *c, const float *l, int n, int k) {
    int m = 0;
    for (int i = 0; i < n; i++) {
        if (m == k ? !(l[i] > c[0].l) : !(l[i] > -INFINITY)) continue;
        cand x = {l[i], i};
        int j;
        if (m < k) {  // sift up from the end
            j = m++;
            while (j > 0 && better(c[(j - 1) / 2], x)) { c[j] = c[(j - 1) / 2]; j = (j - 1) / 2; }
        } else {      // replace the root, sift down
            j = 0;
            for (;;) {
                int a = 2 * j + 1;
                if (a >= m) break;
                if (a + 1 < m && better(c[a], c[a + 1])) a++;
                if (!better(x, c[a])) break;
                c[j] = c[a];
                j = a;
            }
        }
        c[j] = x;
    }
    return m;
}

// Moves the candidates of C[0..m) with l - mx >= lmin (min-p) to the front; returns how many.
static int keep_above(cand *c, int m, float mx, double lmin) {
    int k = 0;
    for (int i = 0; i < m; i++)
        if ((double)c[i].l - mx >= lmin) swap(&c[k++], &c[i]);
    return k;
}

// Bucket of a logit in the histogram below: monotone in the logit (float subtraction and scaling
// round monotonically), so bucket order never contradicts the candidate order.
static inline int bucket_of(float l, float mx, float scale) {
    float b = (mx - l) * scale;
    return b < NB - 1 ? (int)b : NB - 1;
}

// Keeps in C[0..m) the min-p survivors (l - mx >= LMIN) within the top-p prefix: the shortest prefix
// of the ordered candidates whose mass sum exp(l - mx) reaches TARGET, the crossing token included.
// Both are prefixes of the same order, so the result is the shorter one. Returns the count; the
// survivors are left in no particular order. Small sets are sorted; large ones are bucketed by logit
// (NB buckets over [min, max]) and only the bucket where the mass crosses TARGET is sorted.
static int cut(berry_sampler *s, cand *c, int m, float mx, double target, double lmin) {
    if (lmin > -INFINITY) m = keep_above(c, m, mx, lmin);
    if (!(target < INFINITY)) return m;
    int lo = 0, hi = m;  // the range to sort and walk
    double cum = 0;
    float mn = mx;
    for (int i = 0; i < m; i++) mn = c[i].l < mn ? c[i].l : mn;
    if (m > 256 && mx - mn > 0) {
        float scale = (float)NB / (mx - mn);
        double *mass = s->mass;
        memset(mass, 0, NB * sizeof *mass);
        for (int i = 0; i < m; i++) mass[bucket_of(c[i].l, mx, scale)] += fexp(c[i].l - mx);
        int bs = 0;
        while (bs < NB - 1 && cum + mass[bs] < target) cum += mass[bs++];
        for (int i = 0; i < m; i++)
            if (bucket_of(c[i].l, mx, scale) < bs) swap(&c[lo++], &c[i]);
        hi = lo;
        for (int i = lo; i < m; i++)
            if (bucket_of(c[i].l, mx, scale) == bs) swap(&c[hi++], &c[i]);
    }
    qsort(c + lo, (size_t)(hi - lo), sizeof *c, cmp_cand);
    for (int i = lo; i < hi; i++) {
        cum += fexp(c[i].l - mx);
        if (cum >= target) return i + 1;
    }
    return hi;  // rounding left the whole set just short of TARGET: keep it
}

// Applies top-k, top-p and min-p: leaves the survivors in s->c[0..m) and returns m. *Z_ALL is
// sum exp(l - mx) over the whole row: used when already >= 0, computed when needed.
static int filter(berry_sampler *s, const float *logits, int n, float mx, double *z_all) {
    const berry_sampler_params *p = &s->p;
    cand *c = s->c;
    bool use_p = p->top_p > 0 && p->top_p < 1;
    double lmin = p->min_p > 0 ? log((double)p->min_p) : -INFINITY;
    int m = 0;
    double z;
    if (p->top_k > 0 && p->top_k < n) {
        m = top_k_heap(c, logits, n, p->top_k);
        if (!use_p) return cut(s, c, m, mx, INFINITY, lmin);
        z = 0;  // top-p renormalizes over what top-k left
        for (int i = 0; i < m; i++) z += fexp(c[i].l - mx);
    } else {
        for (int i = 0; i < n; i++)
            if (logits[i] > -INFINITY) c[m++] = (cand){logits[i], i};
        if (!use_p) return cut(s, c, m, mx, INFINITY, lmin);
        if (*z_all < 0) *z_all = sum_exp(logits, n, mx);
        z = *z_all;
    }
    return cut(s, c, m, mx, (double)p->top_p * z, lmin);
}

// Weights exp((l - mx) / T) of the survivors into s->w; returns their sum.
static double weights(berry_sampler *s, int m, float mx) {
    double W = 0;
    float inv_t = 1.0f / s->p.temperature;
    // At a temperature so small that 1/T is inf, (l - mx) * inf is NaN for the maximum itself: the
    // maximum's weight is 1 by definition, and every other one underflows to 0.
    for (int i = 0; i < m; i++) W += s->w[i] = s->c[i].l == mx ? 1.0f : fexp((s->c[i].l - mx) * inv_t);
    return W;
}

berry_status berry_sampler_sample(berry_sampler *s, const float *logits, int n_vocab, berry_sample *out,
                                  char *err, size_t err_size) {
    if (!s || !out) return berry_errf(err, err_size, BERRY_EINVAL, "sampler: no sampler or output");
    float mx;
    int32_t arg;
    berry_status st = scan_row(logits, n_vocab, &mx, &arg, err, err_size);
    if (st != BERRY_OK) return st;
    double z_all = -1;
    if (s->p.temperature == 0) {
        out->token = arg;
        out->logprob_sampler = 0;
    } else {
        if (!reserve(s, n_vocab)) return berry_errf(err, err_size, BERRY_ENOMEM, "sampler: out of memory");
        int m = filter(s, logits, n_vocab, mx, &z_all);
        double W = weights(s, m, mx);
        double u = berry_rng_uniform(&s->rng) * W, acc = 0;
        int pick = -1;
        for (int i = 0; i < m; i++) {
            acc += s->w[i];
            if (s->w[i] > 0) pick = i;  // rounding can leave u >= acc: then the last drawable one
            if (u < acc) break;
        }
        out->token = s->c[pick].id;
        out->logprob_sampler = (float)log(s->w[pick] / W);
    }
    out->logprob = NAN;
    if (s->p.logprobs) {
        if (z_all < 0) z_all = sum_exp(logits, n_vocab, mx);
        out->logprob = (float)((double)logits[out->token] - mx - log(z_all));
    }
    return BERRY_OK;
}

berry_status berry_sampler_dist(berry_sampler *s, const float *logits, int n_vocab, int32_t *ids, float *probs,
                                int *n_out, char *err, size_t err_size) {
    if (!s || !ids || !probs || !n_out) return berry_errf(err, err_size, BERRY_EINVAL, "sampler: no sampler or output");
    float mx;
    int32_t arg;
    berry_status st = scan_row(logits, n_vocab, &mx, &arg, err, err_size);
    if (st != BERRY_OK) return st;
    if (s->p.temperature == 0) {
        ids[0] = arg;
        probs[0] = 1;
        *n_out = 1;
        return BERRY_OK;
    }
    if (!reserve(s, n_vocab)) return berry_errf(err, err_size, BERRY_ENOMEM, "sampler: out of memory");
    double z_all = -1;
    int m = filter(s, logits, n_vocab, mx, &z_all);
    qsort(s->c, (size_t)m, sizeof *s->c, cmp_cand);
    double W = weights(s, m, mx);
    for (int i = 0; i < m; i++) {
        ids[i] = s->c[i].id;
        probs[i] = (float)(s->w[i] / W);
    }
    *n_out = m;
    return BERRY_OK;
}

berry_status berry_sampler_logprobs(const float *logits, int n_vocab, const int32_t *tokens, int n, float *out,
                                    char *err, size_t err_size) {
    if (n < 0 || (n > 0 && (!tokens || !out)))
        return berry_errf(err, err_size, BERRY_EINVAL, "sampler: log-probs of %d tokens without buffers", n);
    float mx;
    int32_t arg;
    berry_status st = scan_row(logits, n_vocab, &mx, &arg, err, err_size);
    if (st != BERRY_OK) return st;
    for (int i = 0; i < n; i++)
        if (tokens[i] < 0 || tokens[i] >= n_vocab)
            return berry_errf(err, err_size, BERRY_EINVAL, "sampler: token %d is outside the vocabulary [0, %d)",
                              (int)tokens[i], n_vocab);
    double lz = log(sum_exp(logits, n_vocab, mx));
    for (int i = 0; i < n; i++) out[i] = (float)((double)logits[tokens[i]] - mx - lz);
    return BERRY_OK;
}

berry_status berry_sampler_logprobs_rows(const float *logits, int n_rows, int n_vocab, const int32_t *tokens,
                                         float *out, char *err, size_t err_size) {
    if (n_rows < 0 || (n_rows > 0 && (!logits || !tokens || !out)))
        return berry_errf(err, err_size, BERRY_EINVAL, "sampler: log-probs of %d rows without buffers", n_rows);
    for (int r = 0; r < n_rows; r++) {
        berry_status st = berry_sampler_logprobs(logits + (size_t)r * n_vocab, n_vocab, tokens + r, 1, out + r, err, err_size);
        if (st != BERRY_OK) return st;
    }
    return BERRY_OK;
}
