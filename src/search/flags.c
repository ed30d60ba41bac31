// flags.c — the search constants as flags, shared by `berry solve` and `berry eval` (see flags.h).
#include "search/flags.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char berry_search_flags_help[] =
    "      --prm FILE        pairwise preference reward model (default: models/berry-tiny-prm.gguf for the\n"
    "                        embedded model when it exists, else the policy judges)\n"
    "      --rollouts N      expansions (sr-mcts, mctsr), samples (sc, bon), rounds (refine) (default 8)\n"
    "      --tokens N        budget: generated tokens at most (checked between model calls)\n"
    "      --seconds S       budget: wall time (checked between model calls)\n"
    "      --expand-batch B  expansions selected with virtual loss per generate call (default 1)\n"
    "      --children K      children before a node counts as fully expanded (default 2)\n"
    "      --uct-c C         UCT exploration constant (default 1.4)\n"
    "      --eps E           UCT epsilon (default 1e-5)\n"
    "      --virtual-loss L  visits added per pending expansion while a batch is selected (default 1)\n"
    "      --init N          sr-mcts: first solutions (default 1)\n"
    "      --alpha A         sr-mcts: Q = A*Q_global + (1-A)*Q_local (default 0.5)\n"
    "      --gamma G         sr-mcts: back-propagation Q(parent) <- (1-G)Q(parent) + G*Q(child) (default 0.5)\n"
    "      --one-order       ask each PPRM comparison in one order only (default: both, averaged)\n"
    "      --compare-max N   sr-mcts: compare a new solution with at most N others (default: all)\n"
    "      --reward-samples N mctsr: self-evaluations per node (default 3)\n"
    "      --damp-above X    mctsr: scores above X ... (default 95)\n"
    "      --damp-to Y       ... become Y (default 50)\n"
    "      --no-dummy        mctsr: no \"I don't know.\" answer beside the first\n"
    "      --rewrite-whole   the embedded model writes each rewrite whole (default: where the critique's\n"
    "                        claims hold, it starts with the steps the critique accepts and the step it\n"
    "                        states; src/search/critique.h)\n"
    "      --pick P          answer choice: q (default), rank (best EBC rank), vote (majority of the tree)\n"
    "      --critique-temp T, --rewrite-temp T, --eval-temp T, --solve-temp T   one role's temperature\n"
    "      --no-prefix-cache evaluate every prompt from scratch (to measure what sharing saves)\n"
    "      --kv-page N       positions per KV cache page (default: 4 for contexts up to 1024, else 16)\n";

void berry_search_flags_init(berry_search_flags *o, berry_search_method method) {
    memset(o, 0, sizeof *o);
    o->sp = berry_search_defaults(method);
    for (int r = 0; r < 4; r++) o->role_temp[r] = -1;
}

void berry_search_flags_temperature(berry_search_flags *o, double t) {
    o->sp.solve.temperature = o->sp.critique.temperature = o->sp.rewrite.temperature = o->sp.eval.temperature = (float)t;
}

void berry_search_flags_finish(berry_search_flags *o) {
    berry_search_sampling *roles[4] = {&o->sp.solve, &o->sp.critique, &o->sp.rewrite, &o->sp.eval};
    for (int r = 0; r < 4; r++)
        if (o->role_temp[r] >= 0) roles[r]->temperature = (float)o->role_temp[r];
}

// Whole-string numbers within [LO, HI]; false with ERR set otherwise.
static bool parse_int(const char *flag, const char *s, long lo, long hi, long *out, char *err, size_t err_size) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (!*s || *end || errno || v < lo || v > hi) {
        snprintf(err, err_size, "%s expects an integer in [%ld, %ld], got '%s'", flag, lo, hi, s);
        return false;
    }
    *out = v;
    return true;
}

static bool parse_num(const char *flag, const char *s, double lo, double hi, double *out, char *err, size_t err_size) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (!*s || *end || errno || !(v >= lo && v <= hi)) {
        snprintf(err, err_size, "%s expects a number in [%g, %g], got '%s'", flag, lo, hi, s);
        return false;
    }
    *out = v;
    return true;
}

int berry_search_flag(berry_search_flags *o, int argc, char **argv, int *i, char *err, size_t err_size) {
    const char *a = argv[*i];
    const char *v = *i + 1 < argc ? argv[*i + 1] : NULL;
    berry_search_params *sp = &o->sp;
    if (err_size) err[0] = 0;
    long l;
    double d;
#define FLAG(s) (!strcmp(a, s))
#define NEED() do { if (!v) { snprintf(err, err_size, "%s needs a value", a); return -1; } (*i)++; } while (0)
#define INT(lo, hi, dst) do { NEED(); if (!parse_int(a, v, lo, hi, &l, err, err_size)) return -1; dst = l; } while (0)
#define DBL(lo, hi, dst) do { NEED(); if (!parse_num(a, v, lo, hi, &d, err, err_size)) return -1; dst = d; } while (0)
    if (FLAG("--prm")) { NEED(); o->prm_path = v; }
    else if (FLAG("--rollouts")) { INT(0, 100000, sp->rollouts); o->rollouts_set = true; }
    else if (FLAG("--tokens")) INT(1, 0x7fffffffffffffffL, sp->max_gen_tokens);
    else if (FLAG("--seconds")) DBL(0, 1e9, sp->max_seconds);
    else if (FLAG("--expand-batch") || (o->batch_flag && FLAG("--batch"))) INT(1, 256, sp->batch);
    else if (FLAG("--children")) INT(1, 1000, sp->max_children);
    else if (FLAG("--uct-c")) DBL(0, 1e9, sp->c);
    else if (FLAG("--eps")) DBL(1e-300, 1e9, sp->eps);
    else if (FLAG("--virtual-loss")) DBL(0, 1e9, sp->virtual_loss);
    else if (FLAG("--init")) INT(1, 256, sp->init);
    else if (FLAG("--alpha")) DBL(0, 1, sp->alpha);
    else if (FLAG("--gamma")) DBL(0, 1, sp->gamma);
    else if (FLAG("--one-order")) sp->one_order = true;
    else if (FLAG("--compare-max")) INT(0, 1 << 20, sp->compare_max);
    else if (FLAG("--reward-samples")) INT(1, 64, sp->reward_samples);
    else if (FLAG("--damp-above")) DBL(-100, 100, sp->damp_above);
    else if (FLAG("--damp-to")) DBL(-100, 100, sp->damp_to);
    else if (FLAG("--no-dummy")) sp->dummy = false;
    else if (FLAG("--rewrite-whole")) sp->rewrite_whole = true;
    else if (FLAG("--pick")) {
        NEED();
        if (!strcmp(v, "q")) sp->pick = BERRY_PICK_Q;
        else if (!strcmp(v, "rank")) sp->pick = BERRY_PICK_RANK;
        else if (!strcmp(v, "vote")) sp->pick = BERRY_PICK_VOTE;
        else { snprintf(err, err_size, "--pick expects q, rank or vote, got '%s'", v); return -1; }
    } else if (FLAG("--solve-temp")) DBL(0, 100, o->role_temp[0]);
    else if (FLAG("--critique-temp")) DBL(0, 100, o->role_temp[1]);
    else if (FLAG("--rewrite-temp")) DBL(0, 100, o->role_temp[2]);
    else if (FLAG("--eval-temp")) DBL(0, 100, o->role_temp[3]);
    else if (FLAG("--no-prefix-cache")) o->no_prefix_cache = true;
    else if (FLAG("--kv-page")) INT(1, 4096, o->kv_page);
    else return 0;
#undef FLAG
#undef NEED
#undef INT
#undef DBL
    return 1;
}
