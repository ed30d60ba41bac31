// lm.c — dispatch through the vtable, and the counters every implementation shares.
#include "lm/lm.h"
#include "base/clock.h"
#include <stdlib.h>
#include <string.h>

berry_status berry_lm_generate(berry_lm *lm, const berry_lm_request *reqs, int n, berry_lm_output *out, char *err,
                               size_t err_size) {
    if (n < 0 || (n > 0 && (!reqs || !out))) return berry_errf(err, err_size, BERRY_EINVAL, "generate: bad request list");
    memset(out, 0, sizeof *out * (size_t)n);
    double t0 = berry_now();
    berry_status s = lm->vt->generate(lm, reqs, n, out, err, err_size);
    lm->counters.calls++;
    lm->counters.seconds += berry_now() - t0;
    return s;
}

berry_status berry_lm_score(berry_lm *lm, const char *prompt, const char *const *conts, int n, double *logprob,
                            char *err, size_t err_size) {
    double t0 = berry_now();
    berry_status s = lm->vt->score(lm, prompt, conts, n, logprob, err, err_size);
    lm->counters.calls++;
    lm->counters.seconds += berry_now() - t0;
    return s;
}

// The default batched score: one SCORE call per request, in order, so the prefix reuse is that of
// sequential calls by construction. A refusal of one request (too long, empty) does not stop the others.
static berry_status score_each(berry_lm *lm, const berry_lm_score_request *reqs, int n, berry_status *status,
                               char *err, size_t err_size) {
    bool refused = false;
    for (int i = 0; i < n; i++) {
        char e[256];
        berry_status s = lm->vt->score(lm, reqs[i].prompt, reqs[i].conts, reqs[i].n_conts, reqs[i].logprob, e, sizeof e);
        status[i] = s;
        if (s == BERRY_ELIMIT || s == BERRY_EINVAL) {
            if (!refused) berry_errf(err, err_size, s, "request %d: %s", i, e);
            refused = true;
        } else if (s != BERRY_OK) {
            return berry_errf(err, err_size, s, "request %d: %s", i, e);
        }
    }
    return BERRY_OK;
}

berry_status berry_lm_score_batch(berry_lm *lm, const berry_lm_score_request *reqs, int n, berry_status *status,
                                  char *err, size_t err_size) {
    if (n < 0 || (n > 0 && (!reqs || !status))) return berry_errf(err, err_size, BERRY_EINVAL, "score: bad request list");
    for (int i = 0; i < n; i++)
        if (!reqs[i].prompt || reqs[i].n_conts < 0 || (reqs[i].n_conts > 0 && (!reqs[i].conts || !reqs[i].logprob)))
            return berry_errf(err, err_size, BERRY_EINVAL, "score: request %d is incomplete", i);
    double t0 = berry_now();
    berry_status s = lm->vt->score_batch ? lm->vt->score_batch(lm, reqs, n, status, err, err_size)
                                         : score_each(lm, reqs, n, status, err, err_size);
    lm->counters.calls++;
    lm->counters.seconds += berry_now() - t0;
    return s;
}

char *berry_lm_chat(berry_lm *lm, const berry_chat_msg *msgs, int n, bool add_generation_prompt) {
    return lm->vt->chat(lm, msgs, n, add_generation_prompt);
}

void berry_lm_free(berry_lm *lm) {
    if (lm) lm->vt->free(lm);
}

void berry_lm_output_clear(berry_lm_output *o) {
    free(o->text);
    free(o->tokens);
    free(o->token_logprobs);
    memset(o, 0, sizeof *o);
}
