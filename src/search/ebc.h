// ebc.h — Enhanced Borda Count (LLaMA-Berry, arXiv 2410.02884): pairwise preference probabilities of a
// reward model turned into a ranking of N solutions.
//
//   P: (N, N) row-major, P[i*N + j] = P(i better than j) in [0, 1], NaN where i and j were not compared
//      (the diagonal is ignored).
//   1. M[i][j] = 1 where P[i][j] >= 0.5 (a pair at exactly 0.5 prefers both ways: a tie).
//   2. M is closed transitively (Floyd–Warshall: i > k and k > j give i > j), which fills pairs never
//      compared and makes every member of a preference cycle beat every other.
//   3. Borda count B(i) = #{ j != i : M[i][j] }.
//   4. Rank 1 is the largest B; equal counts are ordered by S(i) = sum of the known P[i][j], larger
//      first, then by index, so ranks are a permutation of 1..N.
//   The global value of rank r is Q_g = 1 - (r - 1) / (N - 1) (1 when N = 1).
#ifndef BERRY_SEARCH_EBC_H
#define BERRY_SEARCH_EBC_H
#include "base/err.h"
#include <stddef.h>

typedef struct {
    int *rank;      // (N) 1..N
    int *borda;     // (N) B(i) after the closure
    double *psum;   // (N) S(i)
    int *order;     // (N) order[r-1] = the solution of rank r
} berry_ebc;

// Computes the ranking into E (its arrays malloc'd; free with berry_ebc_free). N may be 0.
berry_status berry_ebc_rank(const double *p, int n, berry_ebc *e, char *err, size_t err_size);
void berry_ebc_free(berry_ebc *e);

double berry_ebc_global_value(int rank, int n);

// P(A better than B) from a judge's log-probabilities of "Yes" and "No" after a comparison prompt:
// exp(ly) / (exp(ly) + exp(ln)), computed without overflow; 0.5 when both are -inf.
double berry_ebc_p_yes(double logp_yes, double logp_no);

// The probability from both orders, which cancels a judge's position bias:
// P(a > b) = (P_yes(a, b) + 1 - P_yes(b, a)) / 2.
double berry_ebc_both_orders(double p_yes_ab, double p_yes_ba);

#endif
