// loss.c — SFT, weighted log-likelihood and DPO losses over per-token log-probabilities.
#include "train/loss.h"
#include <math.h>

double berry_loss_weighted(size_t n, const float *logp, const float *ref, const float *w, float *dlogp) {
    double sw = 0.0, s = 0.0;
    for (size_t i = 0; i < n; i++) sw += w[i];
    if (sw <= 0.0) {
        for (size_t i = 0; i < n; i++) dlogp[i] = 0.0f;
        return 0.0;
    }
    for (size_t i = 0; i < n; i++) {
        if (w[i] != 0.0f) s += (double)w[i] * ((double)logp[i] - (ref ? ref[i] : 0.0));
        dlogp[i] = (float)(-w[i] / sw);
    }
    return -s / sw;
}

double berry_loss_sft(size_t n, const float *logp, const float *w, float *dlogp) {
    return berry_loss_weighted(n, logp, NULL, w, dlogp);
}

// log sigmoid(z) without overflow: -log(1 + e^-z).
static double log_sigmoid(double z) { return z >= 0 ? -log1p(exp(-z)) : z - log1p(exp(z)); }

double berry_loss_dpo(int n_pairs, int n_ctx, const float *logp, const float *ref, const float *mask, float beta,
                      float *dlogp, double *accuracy) {
    double loss = 0.0;
    int right = 0;
    for (int i = 0; i < n_pairs; i++) {
        double d[2] = {0, 0};
        for (int c = 0; c < 2; c++) {
            size_t o = ((size_t)i * 2 + c) * n_ctx;
            for (int t = 0; t < n_ctx; t++)
                if (mask[o + t] != 0.0f) d[c] += (double)mask[o + t] * ((double)logp[o + t] - ref[o + t]);
        }
        double z = beta * (d[0] - d[1]);
        loss -= log_sigmoid(z);
        right += z > 0;
        // d(-log sigmoid z)/dz = -(1 - sigmoid z) = -sigmoid(-z); dz/dlogp = +-beta * mask.
        double g = -1.0 / (1.0 + exp(z)) * beta / n_pairs;
        for (int c = 0; c < 2; c++) {
            size_t o = ((size_t)i * 2 + c) * n_ctx;
            for (int t = 0; t < n_ctx; t++) dlogp[o + t] = (float)((c == 0 ? g : -g) * mask[o + t]);
        }
    }
    if (accuracy) *accuracy = n_pairs > 0 ? (double)right / n_pairs : 0.0;
    return n_pairs > 0 ? loss / n_pairs : 0.0;
}
