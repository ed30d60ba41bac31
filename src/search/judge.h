// judge.h — the pairwise judge (the PPRM): P(solution A is better than solution B) for rendered
// compare prompts, in one batched score call. With the embedded role format the judge's answer is a
// check line (src/search/roles.h), and its preference is the share of A's line in the probability of the
// two lines it could write; instruct templates are asked for Yes / No.
#ifndef BERRY_SEARCH_JUDGE_H
#define BERRY_SEARCH_JUDGE_H
#include "search/prompts.h"

// For each i < N: PROMPTS[i] is rendered by berry_prompts_render for BERRY_ROLE_COMPARE with P, and,
// when P->check, CHECKS[2i] and CHECKS[2i+1] are A's and B's check lines (berry_role_compare_check;
// CHECKS is not read otherwise). Writes PYES[i] = P(A better than B) and STATUS[i] as
// berry_lm_score_batch does: BERRY_ELIMIT when the prompt and its continuations do not fit LM's context
// (PYES[i] is then NaN). Any other failure fails the whole call.
berry_status berry_judge(berry_lm *lm, const berry_prompts *p, char *const *prompts, char *const *checks, int n,
                         double *pyes, berry_status *status, char *err, size_t err_size);

// The same for pairs of texts: renders the comparison of each PAIRS[i] (question, A = solution, B =
// other) with P, and A's and B's check lines when P->check, and asks LM as above.
berry_status berry_judge_pairs(berry_lm *lm, const berry_prompts *p, const berry_role_args *pairs, int n, double *pyes,
                               berry_status *status, char *err, size_t err_size);

#endif
