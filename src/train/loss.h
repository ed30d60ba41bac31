// loss.h — training losses as functions of per-token log-probabilities. Every loss returns its value
// and writes DLOGP = d(loss)/d(logp) per token, which berry_tmodel_backward turns into gradients, so
// that SFT, DPO (here) and PPO / GRPO (with the RL loop) share one backward pass.
#ifndef BERRY_LOSS_H
#define BERRY_LOSS_H
#include <stddef.h>

// Weighted negative log-likelihood: loss = -sum_t w_t logp_t / sum_t w_t (prompt tokens get w = 0).
// DLOGP (n) = -w_t / sum w. A batch with no weight has loss 0 and zero gradient.
double berry_loss_sft(size_t n, const float *logp, const float *w, float *dlogp);

// The same loss and gradient against a stored reference: -sum_t w_t (logp_t - ref_t) / sum w, the
// per-token log-ratio a KL-regularized or importance-weighted loss starts from. REF may be NULL (0).
double berry_loss_weighted(size_t n, const float *logp, const float *ref, const float *w, float *dlogp);

// DPO (Rafailov et al. 2023) over N_PAIRS pairs laid out as rows of N_CTX tokens: row 2i the chosen,
// row 2i+1 the rejected completion. MASK (n_pairs * 2 * n_ctx) is 1 on completion tokens, 0 elsewhere;
// REF holds the reference model's log-probabilities of the same tokens. With s = sum of masked logp
// and r the same under the reference,
//     loss = -mean_i log sigmoid(beta ((s_c - r_c) - (s_r - r_r))).
// Writes DLOGP (n_pairs * 2 * n_ctx); ACCURACY (may be NULL) gets the share of pairs whose implicit
// reward margin is positive.
double berry_loss_dpo(int n_pairs, int n_ctx, const float *logp, const float *ref, const float *mask, float beta,
                      float *dlogp, double *accuracy);

#endif
