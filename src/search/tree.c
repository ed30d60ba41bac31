// tree.c — the search tree: nodes, the pairwise preference record, UCT with virtual loss, pruning,
// the MCTSr and SR-MCTS value rules (see search.h for the formulas), drawing and JSON.
#include "base/alloc.h"
#include "search/ebc.h"
#include "search/search.h"
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void node_free(berry_search_node *v) {
    free(v->child);
    free(v->solution);
    free(v->critique);
    free(v->answer);
    free(v->reward);
}

void berry_search_tree_free(berry_search_tree *t) {
    if (!t) return;
    for (int i = 0; i < t->n; i++) node_free(&t->node[i]);
    free(t->node);
    free(t->pref);
    free(t->judged);
    memset(t, 0, sizeof *t);
}

berry_status berry_search_tree_init(berry_search_tree *t) {
    memset(t, 0, sizeof *t);
    t->node = calloc(16, sizeof *t->node);
    t->pref = malloc(16 * 16 * sizeof *t->pref);
    t->judged = malloc(16 * 16 * sizeof *t->judged);
    if (!t->node || !t->pref || !t->judged) { berry_search_tree_free(t); return BERRY_ENOMEM; }
    t->cap = 16;
    for (int i = 0; i < 16 * 16; i++) t->pref[i] = t->judged[i] = NAN;
    t->n = 1;
    t->node[0] = (berry_search_node){.id = 0, .parent = -1, .evaluated = true, .q = NAN, .base = NAN,
                                     .q_global = NAN, .q_local = NAN};
    return BERRY_OK;
}

// A (NC, NC) copy of the (CAP, CAP) matrix *M, NaN where new; false when memory runs out (*M kept).
static bool grow_matrix(double **m, int cap, int nc) {
    double *np = malloc(sizeof *np * (size_t)nc * (size_t)nc);
    if (!np) return false;
    for (size_t i = 0; i < (size_t)nc * (size_t)nc; i++) np[i] = NAN;
    for (int i = 0; i < cap; i++) memcpy(np + (size_t)i * nc, *m + (size_t)i * cap, sizeof *np * (size_t)cap);
    free(*m);
    *m = np;
    return true;
}

static bool grow(berry_search_tree *t) {
    if (t->n < t->cap) return true;
    if (t->cap > (1 << 20)) return false;
    int nc = t->cap * 2;
    berry_search_node *nn = realloc(t->node, sizeof *nn * (size_t)nc);
    if (!nn) return false;
    t->node = nn;
    if (!grow_matrix(&t->pref, t->cap, nc) || !grow_matrix(&t->judged, t->cap, nc)) return false;
    t->cap = nc;
    return true;
}

int berry_search_tree_add(berry_search_tree *t, int parent, const char *solution, const char *critique,
                          const char *answer) {
    if (parent < 0 || parent >= t->n || !grow(t)) return -1;
    berry_search_node *pv = &t->node[parent];
    if (pv->n_child == pv->cap_child) {
        int nc = pv->cap_child ? pv->cap_child * 2 : 4;
        int *c = realloc(pv->child, sizeof *c * (size_t)nc);
        if (!c) return -1;
        pv->child = c;
        pv->cap_child = nc;
    }
    berry_search_node v = {.id = t->n, .parent = parent, .depth = pv->depth + 1, .visits = 1, .q = NAN,
                           .base = NAN, .q_global = NAN, .q_local = NAN};
    v.solution = berry_strdup(solution ? solution : "");
    v.critique = critique ? berry_strdup(critique) : NULL;
    v.answer = answer ? berry_strdup(answer) : NULL;
    if (!v.solution || (critique && !v.critique) || (answer && !v.answer)) { node_free(&v); return -1; }
    pv->child[pv->n_child++] = v.id;
    t->node[t->n++] = v;
    for (int a = parent; a >= 0; a = t->node[a].parent) t->node[a].visits++;
    return v.id;
}

double berry_search_pref(const berry_search_tree *t, int i, int j) { return t->pref[(size_t)i * t->cap + j]; }
void berry_search_set_pref(berry_search_tree *t, int i, int j, double p) { t->pref[(size_t)i * t->cap + j] = p; }
double berry_search_judged(const berry_search_tree *t, int a, int b) { return t->judged[(size_t)a * t->cap + b]; }
void berry_search_set_judged(berry_search_tree *t, int a, int b, double p) { t->judged[(size_t)a * t->cap + b] = p; }

// Pending expansions at ID or below it.
static int pending_below(const berry_search_tree *t, int id, const int *pending) {
    if (!pending) return 0;
    int s = 0;
    for (int x = 1; x < t->n; x++) {
        if (!pending[x]) continue;
        for (int a = x; a >= 0; a = t->node[a].parent)
            if (a == id) { s += pending[x]; break; }
    }
    return s;
}

double berry_search_uct(const berry_search_tree *t, int id, const int *pending, const berry_search_params *p) {
    const berry_search_node *v = &t->node[id];
    double n = v->visits + p->virtual_loss * pending_below(t, id, pending);
    double np = t->node[v->parent].visits + p->virtual_loss * pending_below(t, v->parent, pending);
    return v->q + p->c * sqrt(log(np + 1.0) / (n + p->eps));
}

bool berry_search_expandable(const berry_search_tree *t, int id, const int *pending, const berry_search_params *p) {
    const berry_search_node *v = &t->node[id];
    if (id <= 0 || !v->evaluated) return false;
    int pend = pending ? pending[id] : 0;
    int maxc = p->max_children > 0 ? p->max_children : 1;
    if (v->n_child + pend < maxc) return true;
    if (pend > 0) return false;
    double best = -INFINITY;
    for (int i = 0; i < v->n_child; i++) {
        const berry_search_node *c = &t->node[v->child[i]];
        if (c->evaluated && c->q > best) best = c->q;
    }
    return best < v->q;
}

int berry_search_select(const berry_search_tree *t, const berry_search_params *p, int k, int *out) {
    int *pending = calloc((size_t)t->n, sizeof *pending);
    if (!pending) return 0;
    int got = 0;
    for (; got < k; got++) {
        int best = -1;
        double bu = 0;
        for (int id = 1; id < t->n; id++) {
            if (!berry_search_expandable(t, id, pending, p)) continue;
            double u = berry_search_uct(t, id, pending, p);
            if (best < 0 || u > bu) { best = id; bu = u; }
        }
        if (best < 0) break;
        out[got] = best;
        pending[best]++;
    }
    free(pending);
    return got;
}

void berry_search_mctsr_values(berry_search_tree *t) {
    // Children have larger ids than their parent, so a descending sweep sees every child first.
    for (int id = t->n - 1; id >= 1; id--) {
        berry_search_node *v = &t->node[id];
        if (!v->evaluated) continue;
        double best = -INFINITY;
        for (int i = 0; i < v->n_child; i++) {
            const berry_search_node *c = &t->node[v->child[i]];
            if (c->evaluated && c->q > best) best = c->q;
        }
        v->q = best > -INFINITY ? 0.5 * (v->base + best) : v->base;
    }
}

berry_status berry_search_srmcts_values(berry_search_tree *t, const berry_search_params *p, char *err, size_t err_size) {
    int *ids = malloc(sizeof *ids * (size_t)t->n);
    if (!ids) return berry_errf(err, err_size, BERRY_ENOMEM, "search: out of memory");
    int nv = 0;
    for (int id = 1; id < t->n; id++) {
        t->node[id].rank = t->node[id].borda = 0;
        if (t->node[id].evaluated) ids[nv++] = id;
    }
    double *pm = malloc(sizeof *pm * ((size_t)nv * (size_t)nv + 1));
    if (!pm) { free(ids); return berry_errf(err, err_size, BERRY_ENOMEM, "search: out of memory"); }
    for (int i = 0; i < nv; i++)
        for (int j = 0; j < nv; j++) pm[(size_t)i * nv + j] = i == j ? NAN : berry_search_pref(t, ids[i], ids[j]);
    berry_ebc e;
    berry_status s = berry_ebc_rank(pm, nv, &e, err, err_size);
    free(pm);
    if (s != BERRY_OK) { free(ids); return s; }
    for (int i = 0; i < nv; i++) {
        berry_search_node *v = &t->node[ids[i]];
        v->rank = e.rank[i];
        v->borda = e.borda[i];
        v->q_global = berry_ebc_global_value(e.rank[i], nv);
        double sum = 0;
        int n = 0;
        for (int c = 0; c < v->n_child; c++) {
            int cid = v->child[c];
            double pr = berry_search_pref(t, v->id, cid);
            if (t->node[cid].evaluated && !isnan(pr)) { sum += pr; n++; }
        }
        v->q_local = n ? sum / n : v->q_global;
        v->base = p->alpha * v->q_global + (1.0 - p->alpha) * v->q_local;
        v->q = v->base;
    }
    berry_ebc_free(&e);
    // Replay every expansion's back-propagation in creation order (ids are creation order).
    for (int i = 0; i < nv; i++) {
        int c = ids[i];
        for (int par = t->node[c].parent; par > 0; c = par, par = t->node[par].parent) {
            if (!t->node[par].evaluated) break;
            t->node[par].q = (1.0 - p->gamma) * t->node[par].q + p->gamma * t->node[c].q;
        }
    }
    free(ids);
    return BERRY_OK;
}

// ---- drawing ----

typedef struct { char *s; size_t n, cap; bool failed; } sbuf;

static void sb_put(sbuf *b, const char *s, size_t n) {
    if (b->failed) return;
    if (b->n + n + 1 > b->cap) {
        size_t nc = (b->cap ? b->cap : 256);
        while (nc < b->n + n + 1) nc *= 2;
        char *x = realloc(b->s, nc);
        if (!x) { b->failed = true; return; }
        b->s = x;
        b->cap = nc;
    }
    memcpy(b->s + b->n, s, n);
    b->n += n;
    b->s[b->n] = 0;
}

static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf *b, const char *fmt, ...) {
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n > 0) sb_put(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

// At most MAX bytes of S on one line: control characters become spaces, a cut UTF-8 sequence is dropped.
static void sb_snippet(sbuf *b, const char *s, size_t max) {
    size_t n = strlen(s), k = n < max ? n : max;
    while (k > 0 && k < n && ((unsigned char)s[k] & 0xC0) == 0x80) k--;
    for (size_t i = 0; i < k; i++) {
        char c = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? ' ' : s[i];
        sb_put(b, &c, 1);
    }
    if (k < n) sb_put(b, "...", 3);
}

static void draw_node(sbuf *b, const berry_search_result *r, const bool *on_path, int id, const char *prefix,
                      bool last, bool color) {
    const berry_search_node *v = &r->tree.node[id];
    sb_put(b, prefix, strlen(prefix));
    if (id > 0) sb_put(b, last ? "└─ " : "├─ ", strlen("└─ "));
    if (on_path[id] && color) sb_put(b, "\033[1;32m", 7);
    sb_put(b, on_path[id] ? "*" : " ", 1);
    sb_printf(b, "#%d N=%d", id, v->visits);
    if (id == 0) {
        sb_put(b, " problem: ", 10);
        sb_snippet(b, v->solution ? v->solution : "", 60);
    } else {
        if (isnan(v->q)) sb_put(b, " Q=-", 4);
        else sb_printf(b, " Q=%.3f", v->q);
        if (v->rank) sb_printf(b, " rank=%d", v->rank);
        if (!v->evaluated) sb_put(b, " (not evaluated)", 16);
        if (v->dummy) sb_put(b, " (dummy)", 8);
        sb_put(b, " [", 2);
        sb_snippet(b, v->answer ? v->answer : "no answer", 24);
        sb_put(b, "] ", 2);
        sb_snippet(b, v->solution, 40);
    }
    if (on_path[id] && color) sb_put(b, "\033[0m", 4);
    sb_put(b, "\n", 1);
    size_t pl = strlen(prefix);
    char *np = malloc(pl + 8);
    if (!np) { b->failed = true; return; }
    memcpy(np, prefix, pl);
    np[pl] = 0;
    // Indentation stops growing past 64 levels, so a long refine chain stays readable and small.
    if (id > 0 && pl < 64 * 4) strcat(np, last ? "   " : "│  ");
    for (int i = 0; i < v->n_child; i++) draw_node(b, r, on_path, v->child[i], np, i == v->n_child - 1, color);
    free(np);
}

char *berry_search_tree_draw(const berry_search_result *r, bool color) {
    const berry_search_tree *t = &r->tree;
    if (t->n == 0) return berry_strdup("");
    bool *on_path = calloc((size_t)t->n, sizeof *on_path);
    if (!on_path) return NULL;
    for (int a = r->chosen; a >= 0 && a < t->n; a = t->node[a].parent) on_path[a] = true;
    sbuf b = {0};
    draw_node(&b, r, on_path, 0, "", true, color);
    free(on_path);
    if (b.failed) { free(b.s); return NULL; }
    return b.s ? b.s : berry_strdup("");
}

// ---- JSON ----

static void counters_json(berry_json_writer *w, const berry_lm_counters *c) {
    berry_json_begin_object(w);
    berry_json_key(w, "calls"); berry_json_write_int(w, c->calls);
    berry_json_key(w, "prompt_tokens"); berry_json_write_int(w, c->prompt_tokens);
    berry_json_key(w, "prompt_tokens_evaluated"); berry_json_write_int(w, c->prompt_tokens_evaluated);
    berry_json_key(w, "tokens_generated"); berry_json_write_int(w, c->tokens_generated);
    berry_json_key(w, "seconds"); berry_json_write_num(w, c->seconds);
    berry_json_end_object(w);
}


// KEY: [[i, j, P], ...] for the pairs of solutions whose P (from GET) is known: every ordered pair, or
// each unordered pair once (i < j) when UPPER.
static void write_pairs(berry_json_writer *w, const char *key, const berry_search_tree *t,
                        double (*get)(const berry_search_tree *, int, int), bool upper) {
    berry_json_key(w, key);
    berry_json_begin_array(w);
    for (int i = 1; i < t->n; i++)
        for (int j = upper ? i + 1 : 1; j < t->n; j++) {
            double p = i == j ? NAN : get(t, i, j);
            if (isnan(p)) continue;
            berry_json_begin_array(w);
            berry_json_write_int(w, i);
            berry_json_write_int(w, j);
            berry_json_write_num(w, p);
            berry_json_end_array(w);
        }
    berry_json_end_array(w);
}

void berry_search_result_json(const berry_search_result *r, berry_json_writer *w) {
    const berry_search_tree *t = &r->tree;
    berry_json_begin_object(w);
    berry_json_key(w, "method"); berry_json_write_str(w, berry_search_method_name(r->method));
    berry_json_key(w, "answer"); berry_json_write_str(w, r->answer);
    berry_json_key(w, "chosen"); berry_json_write_int(w, r->chosen);
    berry_json_key(w, "stop"); berry_json_write_str(w, berry_search_stop_name(r->stop));
    berry_json_key(w, "partial"); berry_json_write_str(w, r->partial);
    berry_json_key(w, "rollouts"); berry_json_write_int(w, r->rollouts);
    berry_json_key(w, "comparisons"); berry_json_write_int(w, r->comparisons);
    berry_json_key(w, "seconds"); berry_json_write_num(w, r->seconds);
    berry_json_key(w, "policy"); counters_json(w, &r->policy);
    berry_json_key(w, "prm"); counters_json(w, &r->prm);
    berry_json_key(w, "roles");
    berry_json_begin_object(w);
    for (int k = 0; k < BERRY_ROLE_COUNT; k++) {
        berry_json_key(w, berry_role_name((berry_role)k));
        counters_json(w, &r->role[k]);
    }
    berry_json_key(w, "compare_reversed"); counters_json(w, &r->compare_reversed);
    berry_json_end_object(w);
    berry_json_key(w, "nodes");
    berry_json_begin_array(w);
    for (int i = 0; i < t->n; i++) {
        const berry_search_node *v = &t->node[i];
        berry_json_begin_object(w);
        berry_json_key(w, "id"); berry_json_write_int(w, v->id);
        berry_json_key(w, "parent"); berry_json_write_int(w, v->parent);
        berry_json_key(w, "depth"); berry_json_write_int(w, v->depth);
        berry_json_key(w, "step"); berry_json_write_int(w, v->step);
        berry_json_key(w, "visits"); berry_json_write_int(w, v->visits);
        berry_json_key(w, "evaluated"); berry_json_write_bool(w, v->evaluated);
        berry_json_key(w, "dummy"); berry_json_write_bool(w, v->dummy);
        berry_json_key(w, "q"); berry_json_write_num(w, v->q);
        berry_json_key(w, "base"); berry_json_write_num(w, v->base);
        berry_json_key(w, "q_global"); berry_json_write_num(w, v->q_global);
        berry_json_key(w, "q_local"); berry_json_write_num(w, v->q_local);
        berry_json_key(w, "rank"); berry_json_write_int(w, v->rank);
        berry_json_key(w, "borda"); berry_json_write_int(w, v->borda);
        berry_json_key(w, "rewards");
        berry_json_begin_array(w);
        for (int k = 0; k < v->n_reward; k++) berry_json_write_num(w, v->reward[k]);
        berry_json_end_array(w);
        berry_json_key(w, "tokens"); berry_json_write_int(w, v->tokens);
        berry_json_key(w, "answer"); berry_json_write_str(w, v->answer);
        berry_json_key(w, i == 0 ? "problem" : "solution"); berry_json_write_str(w, v->solution);
        berry_json_key(w, "critique"); berry_json_write_str(w, v->critique);
        berry_json_key(w, "children");
        berry_json_begin_array(w);
        for (int k = 0; k < v->n_child; k++) berry_json_write_int(w, v->child[k]);
        berry_json_end_array(w);
        berry_json_end_object(w);
    }
    berry_json_end_array(w);
    // The judge's answers as asked, [a, b, P(Yes) to "is A better than B?"], one per prompt: both orders
    // of a pair show the judge's position bias, which the preferences average away.
    write_pairs(w, "judgments", t, berry_search_judged, false);
    // Known PPRM preferences as [i, j, P(i better than j)], each pair once (i < j).
    write_pairs(w, "preferences", t, berry_search_pref, true);
    berry_json_end_object(w);
}
