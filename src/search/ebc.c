// ebc.c — Enhanced Borda Count: preference matrix, transitive closure, Borda count, tie-breaking.
#include "search/ebc.h"
#include "base/alloc.h"
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

void berry_ebc_free(berry_ebc *e) {
    if (!e) return;
    free(e->rank);
    free(e->borda);
    free(e->psum);
    free(e->order);
    memset(e, 0, sizeof *e);
}

double berry_ebc_global_value(int rank, int n) { return n <= 1 ? 1.0 : 1.0 - (double)(rank - 1) / (double)(n - 1); }

double berry_ebc_p_yes(double ly, double ln) {
    if (isinf(ly) && isinf(ln) && ly < 0 && ln < 0) return 0.5;
    if (isnan(ly) || isnan(ln)) return 0.5;
    double m = ly > ln ? ly : ln;
    double ey = exp(ly - m), en = exp(ln - m);
    return ey / (ey + en);
}

double berry_ebc_both_orders(double ab, double ba) { return 0.5 * (ab + (1.0 - ba)); }

// Sorting context: qsort has no user pointer, so the keys travel with the indices.
typedef struct { int i, b; double s; } key;

static int by_rank(const void *x, const void *y) {
    const key *a = x, *b = y;
    if (a->b != b->b) return a->b > b->b ? -1 : 1;
    if (a->s != b->s) return a->s > b->s ? -1 : 1;
    return a->i < b->i ? -1 : a->i > b->i;
}

berry_status berry_ebc_rank(const double *p, int n, berry_ebc *e, char *err, size_t err_size) {
    memset(e, 0, sizeof *e);
    if (n < 0) return berry_errf(err, err_size, BERRY_EINVAL, "ebc: negative size");
    size_t nn;
    if (!berry_mul_ok((size_t)n, (size_t)n, &nn)) return berry_errf(err, err_size, BERRY_ENOMEM, "ebc: too many solutions");
    uint8_t *m = calloc(nn ? nn : 1, 1);
    key *k = calloc((size_t)n + 1, sizeof *k);
    e->rank = calloc((size_t)n + 1, sizeof *e->rank);
    e->borda = calloc((size_t)n + 1, sizeof *e->borda);
    e->psum = calloc((size_t)n + 1, sizeof *e->psum);
    e->order = calloc((size_t)n + 1, sizeof *e->order);
    if (!m || !k || !e->rank || !e->borda || !e->psum || !e->order) {
        free(m);
        free(k);
        berry_ebc_free(e);
        return berry_errf(err, err_size, BERRY_ENOMEM, "ebc: out of memory");
    }
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            double v = p[(size_t)i * n + j];
            if (i == j || isnan(v)) continue;
            m[(size_t)i * n + j] = v >= 0.5;
            e->psum[i] += v;
        }
    // M[i][j] |= M[i][k] & M[k][j] with k outermost: the closure over paths through 0..k.
    for (int kk = 0; kk < n; kk++)
        for (int i = 0; i < n; i++) {
            if (!m[(size_t)i * n + kk]) continue;
            uint8_t *ri = m + (size_t)i * n;
            const uint8_t *rk = m + (size_t)kk * n;
            for (int j = 0; j < n; j++) ri[j] |= rk[j];
        }
    for (int i = 0; i < n; i++) {
        int b = 0;
        for (int j = 0; j < n; j++) b += j != i && m[(size_t)i * n + j];
        e->borda[i] = b;
        k[i] = (key){i, b, e->psum[i]};
    }
    qsort(k, (size_t)n, sizeof *k, by_rank);
    for (int r = 0; r < n; r++) {
        e->order[r] = k[r].i;
        e->rank[k[r].i] = r + 1;
    }
    free(m);
    free(k);
    return BERRY_OK;
}
