// search.c — one entry point for every method: SR-MCTS, MCTSr, greedy, self-consistency, best-of-k by
// the PPRM through EBC, iterative self-refine. Model calls are batched: all critiques of a step in one
// generate call, all rewrites in the next, all self-evaluation samples in one more; the PPRM comparisons
// of a new solution with the others in one batched score call per order.
#include "base/alloc.h"
#include "base/clock.h"
#include "math/grade.h"
#include "search/ebc.h"
#include "search/judge.h"
#include "search/search.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const method_names[BERRY_SEARCH_METHOD_COUNT] = {"sr-mcts", "mctsr", "greedy", "sc", "bon", "refine"};

const char *berry_search_method_name(berry_search_method m) {
    return (unsigned)m < BERRY_SEARCH_METHOD_COUNT ? method_names[m] : "?";
}

int berry_search_method_parse(const char *name) {
    for (int m = 0; m < BERRY_SEARCH_METHOD_COUNT; m++)
        if (!strcmp(name, method_names[m])) return m;
    return -1;
}

const char *berry_search_stop_name(berry_search_stop s) {
    static const char *names[] = {"done", "tokens", "seconds", "exhausted", "context"};
    return (unsigned)s < 5 ? names[s] : "?";
}

berry_search_params berry_search_defaults(berry_search_method method) {
    berry_search_sampling smp = {.temperature = 0.7f, .top_k = 40, .top_p = 0.95f, .min_p = 0.05f, .max_tokens = 512};
    berry_search_params p = {
        .method = method, .rollouts = 8, .batch = 1, .max_children = 2, .c = 1.4, .eps = 1e-5, .virtual_loss = 1.0,
        .init = 1, .dummy = true, .alpha = 0.5, .gamma = 0.5, .compare_max = 0, .reward_samples = 3,
        .damp_above = 95, .damp_to = 50, .reward_missing = 0, .pick = BERRY_PICK_Q,
        .solve = smp, .critique = smp, .rewrite = smp, .eval = smp, .seed = 0,
        .extract = BERRY_EXTRACT_MARKED, .max_parallel = 64,
    };
    p.eval.max_tokens = 256;
    if (method == BERRY_SEARCH_GREEDY) p.solve.temperature = 0;
    if (method == BERRY_SEARCH_SC) p.pick = BERRY_PICK_VOTE;
    if (method == BERRY_SEARCH_BON) p.pick = BERRY_PICK_RANK;
    return p;
}

typedef struct {
    berry_lm *lm, *prm;
    const berry_prompts *pp, *jp;
    const char *question;
    const berry_search_params *p;
    berry_search_result *r;
    char *err;
    size_t err_size;
    double t0;
    berry_lm_counters lm0, prm0;
    uint64_t calls;  // generate calls so far: each gets its own seed
    bool too_long;   // every first solution hit the context with no text: the problem does not fit
} run;

static berry_status oom(run *u) { return berry_errf(u->err, u->err_size, BERRY_ENOMEM, "search: out of memory"); }

static int64_t tokens_spent(const run *u) {
    int64_t t = u->lm->counters.tokens_generated - u->lm0.tokens_generated;
    if (u->prm != u->lm) t += u->prm->counters.tokens_generated - u->prm0.tokens_generated;
    return t;
}

// True (and R->stop set) when a budget is spent. GENERATES: the next call generates tokens (a call
// that only scores comparisons is not stopped by the token budget).
static bool over_budget(run *u, bool generates) {
    const berry_search_params *p = u->p;
    if (p->max_seconds > 0 && berry_now() - u->t0 >= p->max_seconds) { u->r->stop = BERRY_STOP_SECONDS; return true; }
    if (generates && p->max_gen_tokens > 0 && tokens_spent(u) >= p->max_gen_tokens) { u->r->stop = BERRY_STOP_TOKENS; return true; }
    return false;
}

static uint64_t mix(uint64_t a, uint64_t b) {
    uint64_t z = a * 0x9E3779B97F4A7C15ull + b + 0x632BE59BD9B4E019ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static void counters_add(berry_lm_counters *acc, const berry_lm_counters *now, const berry_lm_counters *then) {
    acc->calls += now->calls - then->calls;
    acc->prompt_tokens += now->prompt_tokens - then->prompt_tokens;
    acc->prompt_tokens_evaluated += now->prompt_tokens_evaluated - then->prompt_tokens_evaluated;
    acc->tokens_generated += now->tokens_generated - then->tokens_generated;
    acc->seconds += now->seconds - then->seconds;
}

// Generates one completion per element of ARGS with ROLE's prompt; TEXT[i] receives the text
// (malloc'd) and NTOK[i] its token count. Requests go to the model MAX_PARALLEL at a time.
static berry_status generate(run *u, berry_role role, const berry_role_args *args, int n, const berry_search_sampling *sm,
                             char *const *starts, char **text, int *ntok) {
    const berry_search_params *p = u->p;
    char **prompts = calloc((size_t)n + 1, sizeof *prompts);
    berry_lm_request *reqs = calloc((size_t)n + 1, sizeof *reqs);
    berry_lm_output *outs = calloc((size_t)n + 1, sizeof *outs);
    berry_status s = prompts && reqs && outs ? BERRY_OK : oom(u);
    for (int i = 0; i < n && s == BERRY_OK; i++) {
        prompts[i] = berry_prompts_render(u->pp, u->lm, role, &args[i]);
        if (prompts[i] && starts && starts[i][0]) {
            // The model goes on from the start: it ends the prompt, and begins the text.
            char *q = berry_strjoin(prompts[i], starts[i]);
            free(prompts[i]);
            prompts[i] = q;
        }
        if (!prompts[i]) { s = berry_errf(u->err, u->err_size, BERRY_ENOMEM, "search: cannot render the %s prompt", berry_role_name(role)); break; }
        reqs[i].prompt = prompts[i];
        reqs[i].sampling = (berry_sampling){.temperature = sm->temperature, .top_k = sm->top_k, .top_p = sm->top_p,
                                            .min_p = sm->min_p, .max_tokens = sm->max_tokens,
                                            .stop = u->pp->n_stop ? u->pp->stop : NULL, .n_stop = u->pp->n_stop};
    }
    int chunk = p->max_parallel > 0 ? p->max_parallel : 64;
    for (int i0 = 0; i0 < n && s == BERRY_OK; i0 += chunk) {
        int m = n - i0 < chunk ? n - i0 : chunk;
        uint64_t seed = mix(p->seed, u->calls++);
        for (int i = 0; i < m; i++) {
            reqs[i0 + i].sampling.seed = seed;
            reqs[i0 + i].sampling.stream = (uint64_t)i;
        }
        berry_lm_counters c0 = u->lm->counters;
        s = berry_lm_generate(u->lm, reqs + i0, m, outs + i0, u->err, u->err_size);
        counters_add(&u->r->role[role], &u->lm->counters, &c0);
        bool all_full = s == BERRY_OK;
        for (int i = 0; i < m; i++) all_full = all_full && outs[i0 + i].finish == BERRY_FINISH_CONTEXT && outs[i0 + i].n_tokens == 0;
        if (all_full && role == BERRY_ROLE_SOLVE) u->too_long = true;
        for (int i = 0; i < m; i++) {
            if (s == BERRY_OK) {
                ntok[i0 + i] = outs[i0 + i].n_tokens;
                if (!(text[i0 + i] = berry_strjoin(starts ? starts[i0 + i] : NULL, outs[i0 + i].text))) s = oom(u);
            }
            berry_lm_output_clear(&outs[i0 + i]);
        }
    }
    for (int i = 0; i < n; i++) free(prompts ? prompts[i] : NULL);
    free(prompts);
    free(reqs);
    free(outs);
    return s;
}

static void free_texts(char **t, int n) {
    for (int i = 0; i < n; i++) { free(t[i]); t[i] = NULL; }
}

static char *extract(run *u, const char *text) { return berry_math_extract(text, strlen(text), u->p->extract); }

// Adds TEXT under PARENT as a new node of STEP; returns its id or -1 (error set).
static int add_node(run *u, int parent, const char *text, const char *critique, int tokens, int step) {
    char *ans = extract(u, text);
    int id = berry_search_tree_add(&u->r->tree, parent, text, critique, ans);
    free(ans);
    if (id < 0) { oom(u); return -1; }
    u->r->tree.node[id].tokens = tokens;
    u->r->tree.node[id].step = step;
    return id;
}

// The judge's P(A better than B) for each pair of nodes (A[i], B[i]), all in one batched score call
// (the lm evaluates the prompts' uncached parts together); NaN for a prompt that does not fit the
// judge's context. REVERSED: the solution being evaluated is B (for the per-role counters).
static berry_status judge(run *u, const int *a, const int *b, int n, bool reversed, double *pyes) {
    const berry_search_tree *t = &u->r->tree;
    berry_role_args *pairs = malloc(sizeof *pairs * ((size_t)n + 1));
    berry_status *st = malloc(sizeof *st * ((size_t)n + 1));
    berry_status s = pairs && st ? BERRY_OK : oom(u);
    for (int i = 0; i < n && s == BERRY_OK; i++)
        pairs[i] = (berry_role_args){.question = u->question, .solution = t->node[a[i]].solution, .other = t->node[b[i]].solution};
    if (s == BERRY_OK) {
        berry_lm_counters c0 = u->prm->counters;
        s = berry_judge_pairs(u->prm, u->jp, pairs, n, pyes, st, u->err, u->err_size);
        counters_add(&u->r->role[BERRY_ROLE_COMPARE], &u->prm->counters, &c0);
        if (reversed) counters_add(&u->r->compare_reversed, &u->prm->counters, &c0);
        u->r->comparisons += n;
    }
    // A prompt too long to judge (BERRY_ELIMIT) leaves the pair unknown, EBC copes; an empty prompt is
    // the error the lm wrote in ERR.
    for (int i = 0; i < n && s == BERRY_OK; i++)
        if (st[i] != BERRY_OK && st[i] != BERRY_ELIMIT) s = st[i];
    free(pairs);
    free(st);
    return s;
}

// Compares node X with each node of OTHERS[0..n) in both orders (or X first only) and records both
// directions of the preference: one batched call with X first, then one with X second. With instruct
// templates the first call's prompts share the prefix (question, X), computed once, and each of the
// second's has its prefix (question, other) cached from the other's own comparisons; the embedded format
// shares the question and the lines the two solutions begin with.
static berry_status compare_with(run *u, int x, const int *others, int n) {
    berry_search_tree *t = &u->r->tree;
    if (n == 0) return BERRY_OK;
    int *xs = malloc(sizeof *xs * (size_t)n);
    double *ab = malloc(sizeof *ab * (size_t)n), *ba = malloc(sizeof *ba * (size_t)n);
    berry_status s = xs && ab && ba ? BERRY_OK : oom(u);
    for (int i = 0; i < n && s == BERRY_OK; i++) xs[i] = x;
    if (s == BERRY_OK) s = judge(u, xs, others, n, false, ab);
    for (int i = 0; i < n && s == BERRY_OK; i++) berry_search_set_judged(t, x, others[i], ab[i]);
    if (s == BERRY_OK && !u->p->one_order) s = judge(u, others, xs, n, true, ba);
    for (int i = 0; i < n && s == BERRY_OK; i++) {
        double pxy = ab[i];
        if (!u->p->one_order) {
            berry_search_set_judged(t, others[i], x, ba[i]);
            pxy = isnan(pxy) ? (isnan(ba[i]) ? NAN : 1.0 - ba[i]) : isnan(ba[i]) ? pxy : berry_ebc_both_orders(pxy, ba[i]);
        }
        berry_search_set_pref(t, x, others[i], pxy);
        berry_search_set_pref(t, others[i], x, isnan(pxy) ? NAN : 1.0 - pxy);
    }
    free(xs);
    free(ab);
    free(ba);
    return s;
}

// SR-MCTS / bon evaluation of the new nodes IDS[0..n): each is compared with the evaluated nodes (at
// most COMPARE_MAX of them: its parent first, then the others by Q, best first) and with the new nodes
// before it; then it counts as evaluated.
static berry_status pprm_evaluate(run *u, const int *ids, int n) {
    berry_search_tree *t = &u->r->tree;
    int *others = malloc(sizeof *others * (size_t)t->n);
    if (!others) return oom(u);
    berry_status s = BERRY_OK;
    for (int k = 0; k < n && s == BERRY_OK; k++) {
        if (k > 0 && over_budget(u, false)) { u->r->partial = "during the evaluation of a step's new solutions"; break; }
        int x = ids[k], m = 0;
        int par = t->node[x].parent;
        if (par > 0 && t->node[par].evaluated) others[m++] = par;
        for (int id = 1; id < t->n; id++)
            if (id != x && id != par && t->node[id].evaluated) others[m++] = id;
        int lim = u->p->compare_max > 0 && u->p->compare_max < m ? u->p->compare_max : m;
        if (lim < m) {
            // Keep the parent, order the rest by Q (best first, then id) and cut.
            int from = par > 0 && t->node[par].evaluated ? 1 : 0;
            for (int i = from; i < m; i++)
                for (int j = i + 1; j < m; j++) {
                    double qi = t->node[others[i]].q, qj = t->node[others[j]].q;
                    if (qj > qi || (qj == qi && others[j] < others[i])) { int tmp = others[i]; others[i] = others[j]; others[j] = tmp; }
                }
        }
        s = compare_with(u, x, others, lim);
        if (s == BERRY_OK) t->node[x].evaluated = true;
    }
    free(others);
    return s;
}

// MCTSr evaluation: REWARD_SAMPLES self-evaluations of each new node, all in one generate call.
static berry_status selfeval(run *u, const int *ids, int n) {
    const berry_search_params *p = u->p;
    berry_search_tree *t = &u->r->tree;
    int ns = p->reward_samples > 0 ? p->reward_samples : 1;
    size_t total = (size_t)n * (size_t)ns;
    berry_role_args *args = calloc(total + 1, sizeof *args);
    char **text = calloc(total + 1, sizeof *text);
    int *ntok = calloc(total + 1, sizeof *ntok);
    berry_status s = args && text && ntok ? BERRY_OK : oom(u);
    for (size_t i = 0; i < total && s == BERRY_OK; i++)
        args[i] = (berry_role_args){.question = u->question, .solution = t->node[ids[i / (size_t)ns]].solution};
    if (s == BERRY_OK) s = generate(u, BERRY_ROLE_SELFEVAL, args, (int)total, &p->eval, NULL, text, ntok);
    for (int k = 0; k < n && s == BERRY_OK; k++) {
        berry_search_node *v = &t->node[ids[k]];
        v->reward = calloc((size_t)ns, sizeof *v->reward);
        if (!v->reward) { s = oom(u); break; }
        double mn = INFINITY, sum = 0;
        for (int j = 0; j < ns; j++) {
            double sc;
            v->tokens += ntok[(size_t)k * ns + j];
            if (!berry_prompts_parse_score(text[(size_t)k * ns + j], &sc)) continue;
            if (sc > p->damp_above) sc = p->damp_to;
            v->reward[v->n_reward++] = sc;
            mn = sc < mn ? sc : mn;
            sum += sc;
        }
        v->base = v->n_reward ? 0.5 * (mn + sum / v->n_reward) : p->reward_missing;
        v->q = v->base;
        v->evaluated = true;
    }
    if (text) free_texts(text, (int)total);
    free(args);
    free(text);
    free(ntok);
    return s;
}

static berry_status evaluate(run *u, const int *ids, int n) {
    if (n == 0) return BERRY_OK;
    berry_status s;
    if (u->p->method == BERRY_SEARCH_MCTSR) {
        if (over_budget(u, true)) { u->r->partial = "before the self-evaluation of new solutions"; return BERRY_OK; }
        s = selfeval(u, ids, n);
        if (s == BERRY_OK) berry_search_mctsr_values(&u->r->tree);
        return s;
    }
    s = pprm_evaluate(u, ids, n);
    if (s == BERRY_OK) s = berry_search_srmcts_values(&u->r->tree, u->p, u->err, u->err_size);
    return s;
}

// N first solutions under the problem (one generate call).
static berry_status first_solutions(run *u, int n, int *ids, int *got) {
    berry_role_args *args = calloc((size_t)n + 1, sizeof *args);
    char **text = calloc((size_t)n + 1, sizeof *text);
    int *ntok = calloc((size_t)n + 1, sizeof *ntok);
    berry_status s = args && text && ntok ? BERRY_OK : oom(u);
    for (int i = 0; i < n && s == BERRY_OK; i++) args[i].question = u->question;
    if (s == BERRY_OK) s = generate(u, BERRY_ROLE_SOLVE, args, n, &u->p->solve, NULL, text, ntok);
    *got = 0;
    for (int i = 0; i < n && s == BERRY_OK; i++) {
        int id = add_node(u, 0, text[i], NULL, ntok[i], 0);
        if (id < 0) s = BERRY_ENOMEM;
        else ids[(*got)++] = id;
    }
    if (text) free_texts(text, n);
    free(args);
    free(text);
    free(ntok);
    return s;
}

// Critique + rewrite of each node of SEL[0..n): one generate call for the critiques, one for the
// rewrites; the new nodes' ids go to NEW_IDS (*GOT of them, fewer when a budget cuts in between).
static berry_status expand(run *u, const int *sel, int n, int step, int *new_ids, int *got) {
    berry_search_tree *t = &u->r->tree;
    berry_role_args *args = calloc((size_t)n + 1, sizeof *args);
    char **crit = calloc((size_t)n + 1, sizeof *crit), **text = calloc((size_t)n + 1, sizeof *text), **starts = NULL;
    int *ctok = calloc((size_t)n + 1, sizeof *ctok), *rtok = calloc((size_t)n + 1, sizeof *rtok);
    berry_status s = args && crit && text && ctok && rtok ? BERRY_OK : oom(u);
    *got = 0;
    for (int i = 0; i < n && s == BERRY_OK; i++)
        args[i] = (berry_role_args){.question = u->question, .solution = t->node[sel[i]].solution};
    if (s == BERRY_OK) s = generate(u, BERRY_ROLE_CRITIQUE, args, n, &u->p->critique, NULL, crit, ctok);
    if (s == BERRY_OK && over_budget(u, true)) {
        u->r->partial = "after the critiques, before the rewrites";
        goto done;
    }
    for (int i = 0; i < n && s == BERRY_OK; i++) args[i].critique = crit[i];
    // The embedded model's rewrite starts with the steps its critique accepts and the step it states.
    if (s == BERRY_OK && u->pp->rewrite_start && !u->p->rewrite_whole && !(starts = calloc((size_t)n, sizeof *starts))) s = oom(u);
    for (int i = 0; i < n && s == BERRY_OK && starts; i++)
        if (!(starts[i] = berry_role_rewrite_start(u->question, t->node[sel[i]].solution, crit[i]))) s = oom(u);
    if (s == BERRY_OK) s = generate(u, BERRY_ROLE_REWRITE, args, n, &u->p->rewrite, starts, text, rtok);
    for (int i = 0; i < n && s == BERRY_OK; i++) {
        // The tree may move when it grows: SEL holds ids, never pointers.
        int id = add_node(u, sel[i], text[i], crit[i], ctok[i] + rtok[i], step);
        if (id < 0) s = BERRY_ENOMEM;
        else new_ids[(*got)++] = id;
    }
done:
    if (crit) free_texts(crit, n);
    if (text) free_texts(text, n);
    if (starts) free_texts(starts, n);
    free(starts);
    free(args);
    free(crit);
    free(text);
    free(ctok);
    free(rtok);
    return s;
}

static berry_status tree_search(run *u) {
    const berry_search_params *p = u->p;
    berry_search_tree *t = &u->r->tree;
    bool mctsr = p->method == BERRY_SEARCH_MCTSR;
    int n_init = mctsr ? 1 : (p->init > 0 ? p->init : 1);
    int cap = n_init + 2 + (p->batch > 0 ? p->batch : 1);
    int *ids = calloc((size_t)cap, sizeof *ids), *sel = calloc((size_t)cap, sizeof *sel);
    if (!ids || !sel) { free(ids); free(sel); return oom(u); }
    int got = 0;
    berry_status s = BERRY_OK;
    if (over_budget(u, true)) goto done;
    s = first_solutions(u, n_init, ids, &got);
    // Every prompt holds the problem: when the solve prompt does not fit, nothing else will (and a
    // comparison prompt would only be refused after a long prefill).
    if (s == BERRY_OK && u->too_long) { u->r->stop = BERRY_STOP_CONTEXT; goto done; }
    if (s == BERRY_OK && mctsr && p->dummy) {
        int id = add_node(u, 0, BERRY_ROLE_DUMMY_ANSWER, NULL, 0, 0);
        if (id < 0) s = BERRY_ENOMEM;
        else { t->node[id].dummy = true; ids[got++] = id; }
    }
    if (s == BERRY_OK) s = evaluate(u, ids, got);
    for (int step = 1; s == BERRY_OK && !u->r->partial && u->r->rollouts < p->rollouts; step++) {
        if (over_budget(u, true)) break;
        int k = p->batch > 0 ? p->batch : 1;
        if (k > p->rollouts - u->r->rollouts) k = p->rollouts - u->r->rollouts;
        int n = berry_search_select(t, p, k, sel);
        if (n == 0) { u->r->stop = BERRY_STOP_EXHAUSTED; break; }
        s = expand(u, sel, n, step, ids, &got);
        u->r->rollouts += got;
        if (s == BERRY_OK) s = evaluate(u, ids, got);
    }
done:
    free(ids);
    free(sel);
    return s;
}

// k samples of the solve prompt under the problem: in one call, or BATCH at a time under a budget.
static berry_status samples(run *u, int k) {
    const berry_search_params *p = u->p;
    bool budget = p->max_gen_tokens > 0 || p->max_seconds > 0;
    int chunk = budget ? (p->batch > 0 ? p->batch : 1) : k;
    int *ids = calloc((size_t)chunk + 1, sizeof *ids);
    if (!ids) return oom(u);
    berry_status s = BERRY_OK;
    while (s == BERRY_OK && u->r->rollouts < k) {
        if (over_budget(u, true)) break;
        int m = k - u->r->rollouts < chunk ? k - u->r->rollouts : chunk, got = 0;
        s = first_solutions(u, m, ids, &got);
        for (int i = 0; i < got; i++) u->r->tree.node[ids[i]].evaluated = !u->too_long;
        u->r->rollouts += got;
        if (u->too_long) { u->r->stop = BERRY_STOP_CONTEXT; break; }
    }
    free(ids);
    return s;
}

static berry_status refine(run *u) {
    const berry_search_params *p = u->p;
    int id = -1, got = 0, nid = 0;
    berry_status s = BERRY_OK;
    if (over_budget(u, true)) return BERRY_OK;
    s = first_solutions(u, 1, &id, &got);
    if (s != BERRY_OK || got == 0) return s;
    if (u->too_long) { u->r->stop = BERRY_STOP_CONTEXT; return BERRY_OK; }
    u->r->tree.node[id].evaluated = true;
    for (int step = 1; s == BERRY_OK && !u->r->partial && u->r->rollouts < p->rollouts; step++) {
        if (over_budget(u, true)) break;
        s = expand(u, &id, 1, step, &nid, &got);
        if (s != BERRY_OK || got == 0) break;
        id = nid;
        u->r->tree.node[id].evaluated = true;
        u->r->rollouts++;
    }
    return s;
}

// The majority answer among the solutions (classes by equivalence); the first node of the largest
// class, the earliest class winning ties. -1 when no solution has an answer.
static int vote(const berry_search_tree *t) {
    int n = t->n, best = -1, best_count = 0;
    int *cls = malloc(sizeof *cls * (size_t)n), *count = calloc((size_t)n, sizeof *count);
    if (!cls || !count) { free(cls); free(count); return -1; }
    berry_grade_opts o = berry_grade_defaults();
    for (int i = 1; i < n; i++) {
        cls[i] = -1;
        if (!t->node[i].answer || t->node[i].dummy) continue;
        for (int j = 1; j < i && cls[i] < 0; j++)
            if (cls[j] == j && berry_math_equal(t->node[i].answer, t->node[j].answer, &o)) cls[i] = j;
        if (cls[i] < 0) cls[i] = i;
        count[cls[i]]++;
    }
    for (int i = 1; i < n; i++)
        if (count[i] > best_count) { best = i; best_count = count[i]; }
    free(cls);
    free(count);
    return best;
}

static int pick(const berry_search_result *r, const berry_search_params *p) {
    const berry_search_tree *t = &r->tree;
    if (p->method == BERRY_SEARCH_SC || p->pick == BERRY_PICK_VOTE) return vote(t);
    int best = -1;
    for (int id = 1; id < t->n; id++) {
        const berry_search_node *v = &t->node[id];
        if (!v->answer || v->dummy || !v->evaluated) continue;
        if (p->method == BERRY_SEARCH_GREEDY) return id;
        if (p->method == BERRY_SEARCH_REFINE) { best = id; continue; }  // the latest round with an answer
        if (best < 0) { best = id; continue; }
        const berry_search_node *b = &t->node[best];
        bool by_rank = p->pick == BERRY_PICK_RANK || p->method == BERRY_SEARCH_BON;
        if (by_rank ? (v->rank > 0 && (b->rank == 0 || v->rank < b->rank)) : v->q > b->q) best = id;
    }
    if (best < 0)  // nothing evaluated has an answer (a budget stopped the evaluation): the first that has one
        for (int id = 1; id < t->n && best < 0; id++)
            if (t->node[id].answer && !t->node[id].dummy) best = id;
    return best;
}

static void counters_delta(berry_lm_counters *d, const berry_lm_counters *now, const berry_lm_counters *then) {
    d->calls = now->calls - then->calls;
    d->prompt_tokens = now->prompt_tokens - then->prompt_tokens;
    d->prompt_tokens_evaluated = now->prompt_tokens_evaluated - then->prompt_tokens_evaluated;
    d->tokens_generated = now->tokens_generated - then->tokens_generated;
    d->seconds = now->seconds - then->seconds;
}

berry_status berry_search_solve(berry_lm *lm, berry_lm *prm, const berry_prompts *prompts,
                                const berry_prompts *prm_prompts, const char *problem,
                                const berry_search_params *p, berry_search_result *r, char *err, size_t err_size) {
    memset(r, 0, sizeof *r);
    r->chosen = -1;
    r->method = p ? p->method : 0;
    if (!lm || !prompts || !p || !problem) return berry_errf(err, err_size, BERRY_EINVAL, "search: missing argument");
    if ((unsigned)p->method >= BERRY_SEARCH_METHOD_COUNT) return berry_errf(err, err_size, BERRY_EINVAL, "search: unknown method");
    const char *q = problem;
    while (*q == ' ' || *q == '\t' || *q == '\n' || *q == '\r') q++;
    if (!*q) return berry_errf(err, err_size, BERRY_EINVAL, "the problem is empty");
    if (p->rollouts < 0 || p->batch < 0 || p->max_children < 0 || p->init < 0 || p->reward_samples < 0 ||
        !(p->c >= 0) || !(p->eps > 0) || !(p->virtual_loss >= 0) || !(p->alpha >= 0 && p->alpha <= 1) ||
        !(p->gamma >= 0 && p->gamma <= 1))
        return berry_errf(err, err_size, BERRY_EINVAL, "search: a parameter is out of range");
    if (berry_search_tree_init(&r->tree) != BERRY_OK) return berry_errf(err, err_size, BERRY_ENOMEM, "search: out of memory");
    r->tree.node[0].solution = berry_strdup(problem);
    if (!r->tree.node[0].solution) return berry_errf(err, err_size, BERRY_ENOMEM, "search: out of memory");
    run u = {.lm = lm, .prm = prm ? prm : lm, .pp = prompts, .jp = prm_prompts ? prm_prompts : prompts,
             .question = problem, .p = p, .r = r, .err = err, .err_size = err_size, .t0 = berry_now()};
    u.lm0 = lm->counters;
    u.prm0 = u.prm->counters;
    berry_status s;
    switch (p->method) {
    case BERRY_SEARCH_SR_MCTS:
    case BERRY_SEARCH_MCTSR: s = tree_search(&u); break;
    case BERRY_SEARCH_GREEDY: s = samples(&u, 1); break;
    case BERRY_SEARCH_SC: s = samples(&u, p->rollouts > 0 ? p->rollouts : 1); break;
    case BERRY_SEARCH_BON: {
        s = samples(&u, p->rollouts > 0 ? p->rollouts : 1);
        int n = r->tree.n - 1;
        int *ids = malloc(sizeof *ids * ((size_t)n + 1));
        if (s == BERRY_OK && !ids) s = oom(&u);
        if (u.too_long) n = 0;
        for (int i = 0; i < n && s == BERRY_OK; i++) { ids[i] = i + 1; r->tree.node[i + 1].evaluated = false; }
        if (s == BERRY_OK) s = pprm_evaluate(&u, ids, n);
        // No tree, no back-propagation: Q is the global value alone.
        berry_search_params flat = *p;
        flat.alpha = 1;
        if (s == BERRY_OK) s = berry_search_srmcts_values(&r->tree, &flat, err, err_size);
        free(ids);
        break;
    }
    case BERRY_SEARCH_REFINE: s = refine(&u); break;
    default: s = BERRY_EINVAL;
    }
    r->chosen = pick(r, p);
    if (r->chosen > 0 && !(r->answer = berry_strdup(r->tree.node[r->chosen].answer)) && s == BERRY_OK)
        s = berry_errf(err, err_size, BERRY_ENOMEM, "search: out of memory");
    counters_delta(&r->policy, &lm->counters, &u.lm0);
    if (u.prm != lm) counters_delta(&r->prm, &u.prm->counters, &u.prm0);
    r->seconds = berry_now() - u.t0;
    return s;
}

void berry_search_result_free(berry_search_result *r) {
    if (!r) return;
    berry_search_tree_free(&r->tree);
    free(r->answer);
    memset(r, 0, sizeof *r);
    r->chosen = -1;
}
