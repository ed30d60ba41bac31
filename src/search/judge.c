// judge.c — the pairwise judge's preferences (see judge.h), from one batched score call.
#include "search/judge.h"
#include "search/ebc.h"
#include <math.h>
#include <stdlib.h>

berry_status berry_judge(berry_lm *lm, const berry_prompts *p, char *const *prompts, char *const *checks, int n,
                         double *pyes, berry_status *status, char *err, size_t err_size) {
    if (n <= 0) return BERRY_OK;
    berry_lm_score_request *rq = calloc((size_t)n, sizeof *rq);
    double *lp = malloc(sizeof *lp * 2 * (size_t)n);
    const char **conts = malloc(sizeof *conts * 2 * (size_t)n);
    berry_status s = rq && lp && conts ? BERRY_OK : berry_errf(err, err_size, BERRY_ENOMEM, "judge: out of memory");
    for (int i = 0; i < n && s == BERRY_OK; i++) {
        // Yes / No, or the two lines the embedded judge could go on with: P(A better) is the first's
        // share either way.
        conts[2 * i] = p->check ? checks[2 * i] : p->yes;
        conts[2 * i + 1] = p->check ? checks[2 * i + 1] : p->no;
        rq[i] = (berry_lm_score_request){.prompt = prompts[i], .conts = conts + 2 * i, .n_conts = 2, .logprob = lp + 2 * i};
    }
    if (s == BERRY_OK) s = berry_lm_score_batch(lm, rq, n, status, err, err_size);
    for (int i = 0; i < n && s == BERRY_OK; i++)
        pyes[i] = status[i] == BERRY_OK ? berry_ebc_p_yes(lp[2 * i], lp[2 * i + 1]) : NAN;
    free(rq);
    free(lp);
    free(conts);
    return s;
}
