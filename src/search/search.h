// search.h — test-time search: SR-MCTS with the pairwise preference reward model (PPRM) and Enhanced
// Borda Count (LLaMA-Berry), MCTSr, and the baselines (greedy chain of thought, self-consistency,
// best-of-k ranked by the PPRM through EBC, iterative self-refine). Every method builds a tree whose
// node 0 is the problem and whose other nodes are complete solutions, so every run can be drawn and
// written as JSON. The ground truth is never an input.
//
//   berry_search_params sp = berry_search_defaults(BERRY_SEARCH_SR_MCTS);
//   sp.rollouts = 8;
//   berry_search_result r;
//   if (berry_search_solve(lm, NULL, &prompts, NULL, problem, &sp, &r, err, sizeof err) == BERRY_OK)
//       puts(r.answer ? r.answer : "no answer");
//   berry_search_result_free(&r);
//
// Values (DESIGN.md, Search):
//   UCT(a) = Q(a) + c * sqrt(ln(N(parent(a)) + 1) / (N(a) + eps)), where N(v) = 1 + the number of nodes
//   below v (a node is visited once when it is created and evaluated, and once more for every expansion
//   in its subtree); N(problem) = the number of solutions. Pending expansions of the batch being
//   assembled add VIRTUAL_LOSS each to N of the node and of its ancestors, and count as children.
//   A node is expandable while it has fewer than MAX_CHILDREN children (pending included), or, when it
//   has as many and none pending, while its best child's Q is below its own Q; others are pruned.
//   Selection picks the expandable solution node with the largest UCT (ties: lowest id).
//   MCTSr: R(v) = (min + mean)/2 of the sampled self-evaluation scores, each score above DAMP_ABOVE
//   replaced by DAMP_TO; Q(v) = R(v) at a leaf, else (R(v) + max over children Q)/2, recomputed from
//   the leaves up after every step (the same fixed point as back-propagating along each new path).
//   SR-MCTS: every pair of evaluated solutions is compared by the PPRM (both orders, averaged); EBC
//   ranks them; Q_g = 1 - (rank - 1)/(|V| - 1); Q_l(v) = mean over v's compared children of
//   P(v better than child) (Q_l = Q_g at a leaf); B(v) = ALPHA * Q_g + (1 - ALPHA) * Q_l. After every
//   step Q is reset to B and the back-propagations of all expansions are replayed in creation order:
//   for each new node, up its path, Q(parent) <- (1 - GAMMA) * Q(parent) + GAMMA * Q(child).
#ifndef BERRY_SEARCH_H
#define BERRY_SEARCH_H
#include "base/err.h"
#include "base/json.h"
#include "lm/lm.h"
#include "math/extract.h"
#include "search/prompts.h"
#include <stdbool.h>
#include <stdint.h>

typedef enum {
    BERRY_SEARCH_SR_MCTS = 0,
    BERRY_SEARCH_MCTSR,
    BERRY_SEARCH_GREEDY,
    BERRY_SEARCH_SC,      // self-consistency: majority over ROLLOUTS samples (maj@k)
    BERRY_SEARCH_BON,     // best of ROLLOUTS samples, ranked by the PPRM through EBC (rm@k)
    BERRY_SEARCH_REFINE,  // ROLLOUTS rounds of critique + rewrite of the latest solution, no search
    BERRY_SEARCH_METHOD_COUNT,
} berry_search_method;

// "sr-mcts", "mctsr", "greedy", "sc", "bon", "refine"; parsing returns -1 for an unknown name.
const char *berry_search_method_name(berry_search_method m);
int berry_search_method_parse(const char *name);

typedef enum {
    BERRY_PICK_Q = 0,  // the solution with an answer and the largest Q (SR-MCTS, MCTSr, refine: the last)
    BERRY_PICK_RANK,   // SR-MCTS: the best EBC rank with an answer
    BERRY_PICK_VOTE,   // the answer most solutions of the tree agree on (equivalence, not string equality)
} berry_search_pick;

typedef struct {
    float temperature;
    int top_k;
    float top_p, min_p;
    int max_tokens;
} berry_search_sampling;

typedef struct {
    berry_search_method method;
    int rollouts;              // expansions (searches), samples (sc, bon), refinement rounds (refine)
    int64_t max_gen_tokens;    // budget of generated tokens, policy and reward model together (0: none)
    double max_seconds;        // wall-time budget, checked between model calls (0: none)
    int batch;                 // expansions selected (with virtual loss) per generate call
    int max_children;
    double c, eps, virtual_loss;
    int init;                  // first solutions under the problem (SR-MCTS; MCTSr uses 1 plus the dummy)
    bool dummy;                // MCTSr: add the dummy answer "I don't know." beside the first
    double alpha, gamma;       // SR-MCTS: mix of global and local value; back-propagation rate
    bool one_order;            // SR-MCTS, bon: ask each comparison in one order only
    bool rewrite_whole;        // the model writes each rewrite whole, even where the prompts could start it
    int compare_max;           // SR-MCTS: compare a new solution with at most this many others (0: all)
    int reward_samples;        // MCTSr: self-evaluations per node
    double damp_above, damp_to, reward_missing;  // MCTSr: damping; R when no score parses
    berry_search_pick pick;
    berry_search_sampling solve, critique, rewrite, eval;
    uint64_t seed;
    berry_extract_mode extract;
    int max_parallel;          // requests per generate call at most
} berry_search_params;

// Defaults for METHOD: rollouts 8, batch 1, max_children 2, c 1.4, eps 1e-5 (MCTSr, scores in
// [-100, 100]) or c 1.4, eps 1e-5 (SR-MCTS, values in [0, 1]), alpha 0.5, gamma 0.5, virtual loss 1,
// reward_samples 3, damping 95 -> 50 (the released MCTSr code), temperature 0.7 (0 for greedy),
// 512 tokens per generation, extraction of marked answers only.
berry_search_params berry_search_defaults(berry_search_method method);

typedef struct {
    int id, parent, depth;     // parent -1 for the problem (node 0)
    int *child, n_child, cap_child;
    char *solution;            // NULL for the problem
    char *critique;            // the critique of the parent that this rewrite answered (NULL for first solutions)
    char *answer;              // extracted final answer, NULL when the solution has none
    bool dummy, evaluated;
    int visits;                // N(v) as above
    int step;                  // the search step that created it (0: first solutions)
    int tokens;                // generated tokens spent on it (critique + rewrite, or the solve)
    double q;                  // value after back-propagation
    double base;               // MCTSr: R(v); SR-MCTS: B(v)
    double q_global, q_local;  // SR-MCTS
    int rank, borda;           // SR-MCTS, bon: EBC rank (1 = best) and Borda count; 0 when not ranked
    double *reward;            // MCTSr: the sampled scores after damping
    int n_reward;
} berry_search_node;

typedef struct {
    berry_search_node *node;
    int n, cap;
    double *pref;   // (cap, cap): pref[i*cap + j] = P(i better than j) between nodes, NaN when unknown
    double *judged; // (cap, cap): the judge's P(Yes) with i shown as A and j as B, NaN when not asked
} berry_search_tree;

// An empty tree holding only the problem (node 0). Returns BERRY_ENOMEM on failure.
berry_status berry_search_tree_init(berry_search_tree *t);
void berry_search_tree_free(berry_search_tree *t);
// Adds a solution under PARENT (copies the strings); returns its id, or -1 when memory runs out.
// The visits of the new node (1) and of each ancestor (+1) are updated.
int berry_search_tree_add(berry_search_tree *t, int parent, const char *solution, const char *critique,
                          const char *answer);
double berry_search_pref(const berry_search_tree *t, int i, int j);
void berry_search_set_pref(berry_search_tree *t, int i, int j, double p);
double berry_search_judged(const berry_search_tree *t, int a, int b);
void berry_search_set_judged(berry_search_tree *t, int a, int b, double p);

// UCT of node ID with PENDING (per node, may be NULL) expansions already scheduled.
double berry_search_uct(const berry_search_tree *t, int id, const int *pending, const berry_search_params *p);
bool berry_search_expandable(const berry_search_tree *t, int id, const int *pending, const berry_search_params *p);
// Picks up to K nodes for one batch with virtual loss; writes their ids to OUT (a node may appear twice
// when it may take two more children) and returns how many (0: every node is pruned).
int berry_search_select(const berry_search_tree *t, const berry_search_params *p, int k, int *out);
// MCTSr: Q from R bottom-up (see above).
void berry_search_mctsr_values(berry_search_tree *t);
// SR-MCTS: EBC over the evaluated solutions, Q_g, Q_l, B, then the replayed back-propagation.
berry_status berry_search_srmcts_values(berry_search_tree *t, const berry_search_params *p, char *err, size_t err_size);

typedef enum {
    BERRY_STOP_DONE = 0,   // the method finished (all rollouts)
    BERRY_STOP_TOKENS,     // the token budget ran out
    BERRY_STOP_SECONDS,    // the time budget ran out
    BERRY_STOP_EXHAUSTED,  // every node is pruned: nothing left to expand
    BERRY_STOP_CONTEXT,    // the solve prompt does not fit the model's context: nothing can be generated
} berry_search_stop;
const char *berry_search_stop_name(berry_search_stop s);

typedef struct {
    berry_search_method method;
    berry_search_tree tree;
    int chosen;                // node of the answer, -1 when none
    char *answer;              // NULL: no answer
    berry_search_stop stop;
    const char *partial;       // where a budget cut an expansion short ("after the critiques"), or NULL
    int rollouts;              // expansions / samples / rounds completed
    int64_t comparisons;       // PPRM prompts scored
    berry_lm_counters policy;  // spent by this solve on the policy
    berry_lm_counters prm;     // on the reward model when it is a separate lm (zeros otherwise)
    // The same spending split by the role of the prompt (policy and reward model together), to see where
    // prompt tokens go; COMPARE_REVERSED is the part of role[BERRY_ROLE_COMPARE] asked with the new
    // solution second (B), whose prefix (question, A) was computed when A itself was evaluated (with
    // instruct templates; the embedded format shows the lines both begin with first).
    berry_lm_counters role[BERRY_ROLE_COUNT];
    berry_lm_counters compare_reversed;
    double seconds;
} berry_search_result;

// Runs P->method on PROBLEM. PRM (the comparison judge of SR-MCTS and bon) may be NULL: the policy
// judges. PRM_PROMPTS may be NULL: PROMPTS. An empty problem is BERRY_EINVAL; a model error is
// returned with ERR set (R then holds the tree built so far and must still be freed). A model that
// never answers, or a budget hit, is not an error: R->answer is NULL or the best so far.
berry_status berry_search_solve(berry_lm *lm, berry_lm *prm, const berry_prompts *prompts,
                                const berry_prompts *prm_prompts, const char *problem,
                                const berry_search_params *p, berry_search_result *r, char *err, size_t err_size);
void berry_search_result_free(berry_search_result *r);

// The whole run as one JSON object: method, answer, chosen, stop, counters, nodes (with texts).
void berry_search_result_json(const berry_search_result *r, berry_json_writer *w);

// The tree drawn for a terminal, one line per node: id, N, Q, answer snippet; the path to the chosen
// node is marked with '*' and, when COLOR, in bold green. Malloc'd; NULL when memory runs out.
char *berry_search_tree_draw(const berry_search_result *r, bool color);

#endif
