// judge.c — the pairwise judge's preferences (see judge.h), from one batched score call.
#include "search/judge.h"
#include "search/ebc.h"
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

// Where two check lines can be split so that their common part is scored once, as prompt: the last
// space before which they agree and at which both have a space (0 when there is none). The judge's
// preference is p(rest A | prompt + common) against p(rest B | prompt + common), the same ratio as
// of the whole lines. The split is before a space because the embedded model's pre-tokenizer
// (llama-bpe) starts a piece at every space, so prompt and rest tokenize as the whole line does.
static size_t common_words(const char *a, const char *b) {
    size_t k = 0, cut = 0;
    for (; a[k] && a[k] == b[k]; k++)
        if (a[k] == ' ') cut = k;
    if (a[k] == ' ' && b[k] == ' ') cut = k;  // they agree up to a space in both, and part after it
    return cut;
}

berry_status berry_judge(berry_lm *lm, const berry_prompts *p, char *const *prompts, char *const *checks, int n,
                         double *pyes, berry_status *status, char *err, size_t err_size) {
    if (n <= 0) return BERRY_OK;
    berry_lm_score_request *rq = calloc((size_t)n, sizeof *rq);
    double *lp = malloc(sizeof *lp * 2 * (size_t)n);
    const char **conts = malloc(sizeof *conts * 2 * (size_t)n);
    char **joined = p->check ? calloc((size_t)n, sizeof *joined) : NULL;
    berry_status s = rq && lp && conts && (joined || !p->check) ? BERRY_OK
                                                                 : berry_errf(err, err_size, BERRY_ENOMEM, "judge: out of memory");
    for (int i = 0; i < n && s == BERRY_OK; i++) {
        // Yes / No, or the two lines the embedded judge could go on with: P(A better) is the first's
        // share either way.
        const char *prompt = prompts[i];
        conts[2 * i] = p->yes;
        conts[2 * i + 1] = p->no;
        if (p->check) {
            const char *a = checks[2 * i], *b = checks[2 * i + 1];
            size_t k = common_words(a, b), lp0 = strlen(prompts[i]);
            if (!(joined[i] = malloc(lp0 + k + 1))) {
                s = berry_errf(err, err_size, BERRY_ENOMEM, "judge: out of memory");
                break;
            }
            memcpy(joined[i], prompts[i], lp0);
            memcpy(joined[i] + lp0, a, k);
            joined[i][lp0 + k] = 0;
            prompt = joined[i];
            conts[2 * i] = a + k;
            conts[2 * i + 1] = b + k;
        }
        rq[i] = (berry_lm_score_request){.prompt = prompt, .conts = conts + 2 * i, .n_conts = 2, .logprob = lp + 2 * i};
    }
    if (s == BERRY_OK) s = berry_lm_score_batch(lm, rq, n, status, err, err_size);
    for (int i = 0; i < n && s == BERRY_OK; i++)
        pyes[i] = status[i] == BERRY_OK ? berry_ebc_p_yes(lp[2 * i], lp[2 * i + 1]) : NAN;
    for (int i = 0; joined && i < n; i++) free(joined[i]);
    free(joined);
    free(rq);
    free(lp);
    free(conts);
    return s;
}

berry_status berry_judge_pairs(berry_lm *lm, const berry_prompts *p, const berry_role_args *pairs, int n, double *pyes,
                               berry_status *status, char *err, size_t err_size) {
    if (n <= 0) return BERRY_OK;
    char **prompts = calloc((size_t)n, sizeof *prompts), **checks = calloc(2 * (size_t)n, sizeof *checks);
    bool ok = prompts && checks;
    for (int i = 0; i < n && ok; i++) {
        ok = (prompts[i] = berry_prompts_render(p, lm, BERRY_ROLE_COMPARE, &pairs[i])) != NULL;
        for (int k = 0; k < 2 && ok && p->check; k++)
            ok = (checks[2 * i + k] = berry_role_compare_check_dup(pairs[i].solution, pairs[i].other, k == 0)) != NULL;
    }
    berry_status s = ok ? berry_judge(lm, p, prompts, checks, n, pyes, status, err, err_size)
                        : berry_errf(err, err_size, BERRY_ENOMEM, "judge: cannot render the compare prompts");
    for (int i = 0; prompts && i < n; i++) free(prompts[i]);
    for (int i = 0; checks && i < 2 * n; i++) free(checks[i]);
    free(prompts);
    free(checks);
    return s;
}

