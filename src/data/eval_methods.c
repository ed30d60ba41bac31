// eval_methods.c — the method table of `berry eval`: how a method turns problems into answers. The
// harness (eval.c) grades what a method picked; a method never sees the reference answer.
//   greedy    one greedy solution per problem (pass@1)
//   sample    K sampled solutions; the method's answer is their majority (maj@K, self-consistency)
//   sc, bon, mctsr, sr-mcts, refine   the search methods of src/search/search.h, K = rollouts
// A new method is one function with the berry_eval_method_fn signature and one line in the table.
#include "data/eval.h"
#include "base/alloc.h"
#include "data/results.h"
#include "search/search.h"
#include <stdlib.h>
#include <string.h>

void berry_eval_answer_clear(berry_eval_answer *a) {
    if (!a) return;
    for (int i = 0; i < a->n; i++) {
        if (a->outputs) free(a->outputs[i]);
        if (a->answers) free(a->answers[i]);
    }
    free(a->outputs);
    free(a->answers);
    free(a->prompt);
    free(a->stop);
    memset(a, 0, sizeof *a);
    a->pick = -1;
}

static uint64_t hash_str(const char *s) {
    uint64_t h = 1469598103934665603ull;  // FNV-1a
    for (; s && *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static uint64_t mix(uint64_t x) {
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static berry_status oom(char *err, size_t err_size) { return berry_errf(err, err_size, BERRY_ENOMEM, "eval: out of memory"); }

static char *solve_prompt(berry_lm *lm, const berry_eval_opts *o, const char *question) {
    berry_role_args a = {.question = question};
    return berry_prompts_render(o->prompts, lm, BERRY_ROLE_SOLVE, &a);
}

static bool alloc_answer(berry_eval_answer *a, int n) {
    a->n = n;
    a->pick = -1;
    a->outputs = calloc((size_t)n, sizeof *a->outputs);
    a->answers = calloc((size_t)n, sizeof *a->answers);
    return a->outputs && a->answers;
}

// K solutions for each of N problems with temperature TEMP; requests of all problems share the generate
// calls (MAX_PARALLEL at most each). PICK is the first answer (K = 1) or the majority (no ground truth).
static berry_status solve_k(berry_lm *lm, const berry_eval_problem *probs, int n, const berry_eval_opts *o, int k,
                            float temp, berry_eval_answer *out, char *err, size_t err_size) {
    if (!o->prompts) return berry_errf(err, err_size, BERRY_EINVAL, "eval: no prompt set");
    if (k < 1 || k > 1 << 16) return berry_errf(err, err_size, BERRY_EINVAL, "eval: -k %d is out of range", k);
    size_t total = (size_t)n * (size_t)k;
    berry_lm_request *rq = calloc(total, sizeof *rq);
    berry_lm_output *res = calloc(total, sizeof *res);
    berry_status s = BERRY_OK;
    if (!rq || !res) { s = oom(err, err_size); goto done; }
    // The prompt set's stop strings, then the caller's.
    const char *stops[16];
    int n_stop = 0;
    for (int i = 0; i < o->prompts->n_stop && n_stop < 16; i++) stops[n_stop++] = o->prompts->stop[i];
    for (int i = 0; i < o->sampling.n_stop && n_stop < 16; i++) stops[n_stop++] = o->sampling.stop[i];
    for (int i = 0; i < n; i++) {
        if (!alloc_answer(&out[i], k) || !(out[i].prompt = solve_prompt(lm, o, probs[i].question))) {
            s = berry_errf(err, err_size, BERRY_ENOMEM, "eval: cannot build the prompt of problem %s", probs[i].id);
            goto done;
        }
        for (int j = 0; j < k; j++) {
            berry_lm_request *r = &rq[(size_t)i * k + j];
            r->prompt = out[i].prompt;
            r->sampling = o->sampling;
            r->sampling.temperature = temp;
            r->sampling.stop = stops;
            r->sampling.n_stop = n_stop;
            r->sampling.want_tokens = false;
            // Each (problem, sample) draws from its own stream, whatever else shares the call.
            r->sampling.seed = mix(o->sampling.seed ^ mix(hash_str(probs[i].id) + (uint64_t)j));
        }
    }
    size_t per = o->max_parallel > 0 ? (size_t)o->max_parallel : total;
    for (size_t at = 0; at < total; at += per) {
        int m = (int)(total - at < per ? total - at : per);
        s = berry_lm_generate(lm, rq + at, m, res + at, err, err_size);
        if (s != BERRY_OK) goto done;
    }
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < k; j++) {
            berry_lm_output *g = &res[(size_t)i * k + j];
            out[i].tokens += g->n_tokens;
            out[i].outputs[j] = berry_strndup(g->text ? g->text : "", g->text ? g->len : 0);
            if (!out[i].outputs[j]) { s = oom(err, err_size); goto done; }
            out[i].answers[j] = berry_math_extract(out[i].outputs[j], strlen(out[i].outputs[j]), probs[i].extract);
        }
        if (k == 1) out[i].pick = out[i].answers[0] ? 0 : -1;
        else out[i].pick = berry_majority((const char *const *)out[i].answers, k, &probs[i].grade);
    }
done:
    if (res)
        for (size_t i = 0; i < total; i++) berry_lm_output_clear(&res[i]);
    free(res);
    free(rq);
    return s;
}

static berry_status m_greedy(berry_lm *lm, const berry_eval_problem *probs, int n, const berry_eval_opts *o,
                             berry_eval_answer *out, char *err, size_t err_size) {
    return solve_k(lm, probs, n, o, 1, 0.0f, out, err, err_size);
}

static berry_status m_sample(berry_lm *lm, const berry_eval_problem *probs, int n, const berry_eval_opts *o,
                             berry_eval_answer *out, char *err, size_t err_size) {
    return solve_k(lm, probs, n, o, o->k, o->sampling.temperature, out, err, err_size);
}

// One search per problem (src/search/search.h); its answer is the one answer of the record, its tree
// size and stop reason go along. K is the method's rollouts.
static berry_status run_search(berry_search_method m, berry_lm *lm, const berry_eval_problem *probs, int n,
                               const berry_eval_opts *o, berry_eval_answer *out, char *err, size_t err_size) {
    if (!o->prompts) return berry_errf(err, err_size, BERRY_EINVAL, "eval: no prompt set");
    for (int i = 0; i < n; i++) {
        berry_search_params sp;
        if (o->search && o->search->method == m) sp = *o->search;
        else {
            sp = berry_search_defaults(m);
            berry_search_sampling *roles[] = {&sp.solve, &sp.critique, &sp.rewrite, &sp.eval};
            for (int r = 0; r < 4; r++) {
                if (o->sampling.max_tokens > 0) roles[r]->max_tokens = o->sampling.max_tokens;
                if (o->sampling_set) {
                    roles[r]->temperature = o->sampling.temperature;
                    roles[r]->top_k = o->sampling.top_k;
                    roles[r]->top_p = o->sampling.top_p;
                    roles[r]->min_p = o->sampling.min_p;
                }
            }
        }
        sp.rollouts = o->k > 0 ? o->k : sp.rollouts;
        sp.seed = mix(o->sampling.seed ^ hash_str(probs[i].id));
        sp.extract = probs[i].extract;
        if (o->max_parallel > 0) sp.max_parallel = o->max_parallel;
        berry_search_result res;
        berry_status s = berry_search_solve(lm, o->prm, o->prompts, o->prm_prompts, probs[i].question, &sp, &res, err, err_size);
        if (s == BERRY_OK) {
            const char *sol = res.chosen > 0 ? res.tree.node[res.chosen].solution : "";
            if (!alloc_answer(&out[i], 1) || !(out[i].outputs[0] = berry_strdup(sol ? sol : "")) ||
                (res.answer && !(out[i].answers[0] = berry_strdup(res.answer))) ||
                !(out[i].prompt = solve_prompt(lm, o, probs[i].question)) ||
                !(out[i].stop = berry_strdup(berry_search_stop_name(res.stop))))
                s = oom(err, err_size);
            out[i].pick = res.answer ? 0 : -1;
            out[i].tokens = (long)(res.policy.tokens_generated + res.prm.tokens_generated);
            out[i].nodes = res.tree.n - 1;
        }
        berry_search_result_free(&res);
        if (s != BERRY_OK) return s;
    }
    return BERRY_OK;
}

#define SEARCH_METHOD(fn, m)                                                                                    \
    static berry_status fn(berry_lm *lm, const berry_eval_problem *probs, int n, const berry_eval_opts *o,     \
                           berry_eval_answer *out, char *err, size_t err_size) {                               \
        return run_search(m, lm, probs, n, o, out, err, err_size);                                              \
    }
SEARCH_METHOD(m_sc, BERRY_SEARCH_SC)
SEARCH_METHOD(m_bon, BERRY_SEARCH_BON)
SEARCH_METHOD(m_mctsr, BERRY_SEARCH_MCTSR)
SEARCH_METHOD(m_srmcts, BERRY_SEARCH_SR_MCTS)
SEARCH_METHOD(m_refine, BERRY_SEARCH_REFINE)
#undef SEARCH_METHOD

static const berry_eval_method table[] = {
    {"greedy", "one greedy solution per problem (pass@1)", m_greedy, true, false},
    {"sample", "K sampled solutions; the answer is their majority (maj@K); pass@K is reported as an ORACLE",
     m_sample, true, true},
    {"sc", "search: self-consistency, majority of K samples", m_sc, false, true},
    {"bon", "search: best of K samples ranked by the pairwise reward model through EBC (rm@K)", m_bon, false, true},
    {"mctsr", "search: MCTSr with K rollouts (self-critique, rewrite, self-evaluation)", m_mctsr, false, true},
    {"sr-mcts", "search: SR-MCTS with K rollouts, pairwise preference reward model and EBC", m_srmcts, false, true},
    {"refine", "search: K rounds of self-critique and rewrite", m_refine, false, true},
};

berry_prompts_kind berry_eval_prompts_for(const char *general_name) {
    return general_name && !strncmp(general_name, "berry-tiny", 10) ? BERRY_PROMPTS_EMBEDDED : BERRY_PROMPTS_INSTRUCT;
}

const berry_eval_method *berry_eval_methods(int *n) {
    *n = (int)(sizeof table / sizeof table[0]);
    return table;
}

const berry_eval_method *berry_eval_method_find(const char *name) {
    for (size_t i = 0; name && i < sizeof table / sizeof table[0]; i++)
        if (!strcmp(table[i].name, name)) return &table[i];
    return NULL;
}
