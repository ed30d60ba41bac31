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
