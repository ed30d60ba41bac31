// synth.c — the problem generator: four families of word problems built as small computation graphs,
// their solutions, and flawed solutions with one injected error (see synth.h for the formats).
#include "data/synth.h"
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

// ---- exact rationals (small: every value is bounded by the level, overflow is still checked) ----

static int64_t gcd64(int64_t a, int64_t b) {
    if (a < 0) a = -a;
    if (b < 0) b = -b;
    while (b) { int64_t t = a % b; a = b; b = t; }
    return a;
}

static bool qmake(int64_t n, int64_t d, berry_synth_q *out) {
    if (d == 0 || n == INT64_MIN || d == INT64_MIN) return false;
    if (d < 0) { n = -n; d = -d; }
    int64_t g = gcd64(n, d);
    if (g > 1) { n /= g; d /= g; }
    *out = (berry_synth_q){n, d};
    return true;
}

static bool qop(char op, berry_synth_q a, berry_synth_q b, berry_synth_q *out) {
    int64_t n, d, t1, t2;
    switch (op) {
    case '+':
    case '-':
        if (__builtin_mul_overflow(a.num, b.den, &t1) || __builtin_mul_overflow(b.num, a.den, &t2) ||
            __builtin_mul_overflow(a.den, b.den, &d))
            return false;
        if (op == '+' ? __builtin_add_overflow(t1, t2, &n) : __builtin_sub_overflow(t1, t2, &n)) return false;
        break;
    case '*':
        if (__builtin_mul_overflow(a.num, b.num, &n) || __builtin_mul_overflow(a.den, b.den, &d)) return false;
        break;
    case '/':
        if (b.num == 0) return false;
        if (__builtin_mul_overflow(a.num, b.den, &n) || __builtin_mul_overflow(a.den, b.num, &d)) return false;
        break;
    default: return false;
    }
    return qmake(n, d, out);
}

static bool qeq(berry_synth_q a, berry_synth_q b) { return a.num == b.num && a.den == b.den; }
static berry_synth_q qint(int64_t n) { return (berry_synth_q){n, 1}; }

int berry_synth_qfmt(char *buf, size_t size, berry_synth_q x) {
    if (size == 0) buf = NULL;
    if (x.den == 1) return snprintf(buf, size, "%lld", (long long)x.num);
    return snprintf(buf, size, "%lld/%lld", (long long)x.num, (long long)x.den);
}

// An operand as printed: a percent operand V = p/100 prints as "p%".
static void operand_fmt(char *buf, size_t size, berry_synth_q v, bool pct) {
    berry_synth_q p;
    if (pct && qop('*', v, qint(100), &p) && p.den == 1) snprintf(buf, size, "%lld%%", (long long)p.num);
    else berry_synth_qfmt(buf, size, v);
}

// ---- levels, splits, names ----

berry_synth_level_info berry_synth_level(int level) {
    static const berry_synth_level_info info[BERRY_SYNTH_LEVELS] = {
        {2, 2, 10, 100}, {2, 3, 20, 200}, {3, 4, 50, 500}, {4, 6, 100, 1000}, {6, 8, 200, 2000},
    };
    if (level < 1) level = 1;
    if (level > BERRY_SYNTH_LEVELS) level = BERRY_SYNTH_LEVELS;
    return info[level - 1];
}

const char *berry_synth_split_name(berry_synth_split s) {
    static const char *names[] = {"train", "dev", "test"};
    return (unsigned)s < 3 ? names[s] : "?";
}

const char *berry_synth_flaw_name(berry_synth_flaw f) {
    static const char *names[] = {"correct", "slip", "wrong_op", "dropped", "repeated", "misread"};
    return (unsigned)f < BERRY_SYNTH_N_FLAWS ? names[f] : "?";
}

static uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

// The split depends on the structure's hash alone, never on the seed or on the order of generation.
berry_synth_split berry_synth_split_of(uint64_t key) {
    uint64_t h = mix64(key ^ 0x53504C4954ull) % 100;   // "SPLIT"
    return h < 80 ? BERRY_SYNTH_TRAIN : h < 90 ? BERRY_SYNTH_DEV : BERRY_SYNTH_TEST;
}

static uint64_t fnv(uint64_t h, const void *p, size_t n) {
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 0x100000001B3ull;
    return h;
}

// FNV-1a over the canonical structure: family, then per step the operation and each operand as
// (ref, num, den, pct). Names, objects and phrasing are not part of it.
static uint64_t canonical_key(const berry_synth_problem *p) {
    uint64_t h = 0xCBF29CE484222325ull;
    const char *fam = p->family ? p->family : "";
    h = fnv(h, fam, strlen(fam) + 1);
    for (int i = 0; i < p->n_steps; i++) {
        const berry_synth_step *s = &p->steps[i];
        int64_t rec[9] = {s->op, s->x[0].ref, s->x[0].v.num, s->x[0].v.den, s->x[0].pct,
                          s->x[1].ref, s->x[1].v.num, s->x[1].v.den, s->x[1].pct};
        for (int k = 0; k < 9; k++) {
            unsigned char b[8];
            for (int j = 0; j < 8; j++) b[j] = (unsigned char)((uint64_t)rec[k] >> (8 * j));
            h = fnv(h, b, 8);
        }
    }
    return h;
}

// ---- executing a computation graph, with at most one change ----

typedef struct {
    berry_synth_flaw kind;
    int step;
    char op;              // WRONG_OP: the operation used instead
    berry_synth_q value;  // SLIP: the result written; MISREAD: the number read
    int operand;          // MISREAD: which operand
} change;

// Values a solution may hold: non-negative, and small enough to print and learn.
static bool sane(berry_synth_q v) { return v.num >= 0 && v.num <= 1000000 && v.den <= 100; }

static bool execute(const berry_synth_problem *p, const change *ch, berry_synth_solution *s) {
    berry_synth_q val[BERRY_SYNTH_MAX_STEPS];
    memset(s, 0, sizeof *s);
    s->flaw_step = -1;
    if (p->n_steps < 1 || p->n_steps > BERRY_SYNTH_MAX_STEPS) return false;
    for (int i = 0; i < p->n_steps; i++) {
        const berry_synth_step *st = &p->steps[i];
        berry_synth_q x[2];
        for (int k = 0; k < 2; k++) {
            int ref = st->x[k].ref;
            if (ref >= i || ref < -1) return false;
            x[k] = ref >= 0 ? val[ref] : st->x[k].v;
        }
        bool here = ch && ch->step == i;
        if (here && ch->kind == BERRY_SYNTH_DROPPED) {
            val[i] = x[st->carry & 1];
            continue;
        }
        char op = here && ch->kind == BERRY_SYNTH_WRONG_OP ? ch->op : st->op;
        if (here && ch->kind == BERRY_SYNTH_MISREAD) x[ch->operand & 1] = ch->value;
        berry_synth_q c;
        if (!qop(op, x[0], x[1], &c)) return false;
        if (here && ch->kind == BERRY_SYNTH_SLIP) c = ch->value;
        if (!sane(c) || s->n_lines >= BERRY_SYNTH_MAX_STEPS + 1) return false;
        s->line[s->n_lines++] = (berry_synth_line){op, x[0], x[1], c, st->x[0].ref < 0 && st->x[0].pct,
                                                   st->x[1].ref < 0 && st->x[1].pct, i};
        if (here && ch->kind == BERRY_SYNTH_REPEATED) {
            // Done again on its own result: only for steps that carry operand 0 and add a given.
            berry_synth_q c2;
            if (!qop(op, c, x[1], &c2) || !sane(c2) || s->n_lines >= BERRY_SYNTH_MAX_STEPS + 1) return false;
            s->line[s->n_lines++] = (berry_synth_line){op, c, x[1], c2, false, st->x[1].ref < 0 && st->x[1].pct, i};
            c = c2;
        }
        val[i] = c;
    }
    if (s->n_lines == 0) return false;
    s->answer = val[p->n_steps - 1];
    return true;
}

bool berry_synth_finish(berry_synth_problem *p) {
    berry_synth_solution s;
    if (!execute(p, NULL, &s)) return false;
    p->answer = s.answer;
    p->key = canonical_key(p);
    p->split = berry_synth_split_of(p->key);
    return true;
}

void berry_synth_solve(const berry_synth_problem *p, berry_synth_solution *s) {
    if (!execute(p, NULL, s)) memset(s, 0, sizeof *s);
    snprintf(s->critique, sizeof s->critique, "All steps are correct.");
}

void berry_synth_vary(const berry_synth_problem *p, berry_rng *r, berry_synth_problem *out) {
    *out = *p;
    int n = p->n_steps;
    if (n < 1 || n > BERRY_SYNTH_MAX_STEPS) return;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < 2; j++)
            if (p->steps[i].x[j].ref >= i || p->steps[i].x[j].ref < -1) return;  // not a problem execute runs
    // A random topological order of steps 0..n-2: each time, one of the steps whose operands are all
    // computed already. The lowest unplaced step is always one, since operands refer backwards.
    int order[BERRY_SYNTH_MAX_STEPS], pos[BERRY_SYNTH_MAX_STEPS];
    bool placed[BERRY_SYNTH_MAX_STEPS] = {false};
    for (int k = 0; k < n - 1; k++) {
        int ready[BERRY_SYNTH_MAX_STEPS], nr = 0;
        for (int i = 0; i < n - 1; i++) {
            if (placed[i]) continue;
            bool ok = true;
            for (int j = 0; j < 2; j++) ok &= p->steps[i].x[j].ref < 0 || placed[p->steps[i].x[j].ref];
            if (ok) ready[nr++] = i;
        }
        int i = ready[berry_rng_below(r, (uint64_t)nr)];
        order[k] = i;
        pos[i] = k;
        placed[i] = true;
    }
    order[n - 1] = pos[n - 1] = n - 1;
    for (int k = 0; k < n; k++) {
        berry_synth_step s = p->steps[order[k]];
        for (int j = 0; j < 2; j++)
            if (s.x[j].ref >= 0) s.x[j].ref = pos[s.x[j].ref];
        if ((s.op == '+' || s.op == '*') && !s.x[0].pct && !s.x[1].pct && berry_rng_below(r, 2)) {
            berry_synth_operand t = s.x[0];
            s.x[0] = s.x[1];
            s.x[1] = t;
            s.carry ^= 1;
        }
        out->steps[k] = s;
    }
}

// ---- rendering ----

static size_t line_fmt(char *buf, size_t size, int k, const berry_synth_problem *p, const berry_synth_line *l) {
    char a[32], b[32], c[32], what[128];
    operand_fmt(a, sizeof a, l->a, l->apct);
    operand_fmt(b, sizeof b, l->b, l->bpct);
    berry_synth_qfmt(c, sizeof c, l->c);
    // "%v" in WHAT is this line's result, so a flawed line stays self-consistent.
    const char *w = p->steps[l->step].what;
    size_t o = 0;
    for (; *w && o + 1 < sizeof what; w++) {
        if (w[0] == '%' && w[1] == 'v') {
            int n = snprintf(what + o, sizeof what - o, "%s", c);
            o = n > 0 && (size_t)n < sizeof what - o ? o + (size_t)n : sizeof what - 1;
            w++;
        } else what[o++] = *w;
    }
    what[o] = 0;
    int n = snprintf(size ? buf : NULL, size, "Step %d: %s %c %s = %s%s.", k, a, l->op, b, c, what);
    return n < 0 ? 0 : (size_t)n;
}

size_t berry_synth_render(char *buf, size_t size, const berry_synth_problem *p, const berry_synth_solution *s) {
    size_t o = 0;
    if (size) buf[0] = 0;
    for (int i = 0; i < s->n_lines; i++) {
        o += line_fmt(o < size ? buf + o : NULL, o < size ? size - o : 0, i + 1, p, &s->line[i]);
        if (o + 1 < size) { buf[o] = '\n'; buf[o + 1] = 0; }
        o++;
    }
    char ans[32];
    berry_synth_qfmt(ans, sizeof ans, s->answer);
    int n = snprintf(o < size ? buf + o : NULL, o < size ? size - o : 0, "The answer is %s.", ans);
    return o + (n > 0 ? (size_t)n : 0);
}

int berry_synth_score(const berry_synth_solution *s) {
    if (s->first_wrong <= 0 || s->n_lines <= 0) return 90;
    int k = s->first_wrong > s->n_lines ? s->n_lines : s->first_wrong;
    return -90 + 10 * ((7 * (k - 1)) / s->n_lines);
}

// ---- flaws ----

static const char *op_verb(char op) {
    switch (op) {
    case '+': return "add";
    case '-': return "subtract";
    case '*': return "multiply";
    default: return "divide";
    }
}

// A plausible misreading of N: its digits swapped when they differ, else N plus or minus a little.
static int64_t misread_int(int64_t n, berry_rng *r) {
    if (n >= 10 && n <= 99 && n / 10 != n % 10 && n % 10 != 0) return (n % 10) * 10 + n / 10;
    if (n >= 100 && n <= 999 && (n / 10) % 10 != n % 10 && berry_rng_below(r, 2)) return n / 100 * 100 + (n % 10) * 10 + (n / 10) % 10;
    int64_t d = 1 + (int64_t)berry_rng_below(r, 3);
    if (n > d && berry_rng_below(r, 2)) return n - d;
    return n + d;
}

bool berry_synth_flaw_at(const berry_synth_problem *p, berry_synth_flaw kind, int j, berry_rng *r,
                         berry_synth_solution *s) {
    if (j < 0 || j >= p->n_steps) return false;
    berry_synth_solution good;
    if (!execute(p, NULL, &good)) return false;
    const berry_synth_step *st = &p->steps[j];
    int gl = 0;  // the line of step j in the correct solution
    while (gl < good.n_lines && good.line[gl].step != j) gl++;
    const berry_synth_line *L = &good.line[gl];
    change ch = {kind, j, st->op, {0, 1}, 0};
    switch (kind) {
    case BERRY_SYNTH_SLIP: {
        berry_synth_q c = L->c, v;
        int64_t deltas[] = {1, -1, 2, -2, 10, -10};
        int64_t d = deltas[berry_rng_below(r, 6)];
        if (c.den != 1) d = d > 0 ? 1 : -1;
        if (c.den == 1 && c.num >= 12 && c.num <= 99 && c.num % 10 != c.num / 10 && c.num % 10 && berry_rng_below(r, 4) == 0)
            v = qint((c.num % 10) * 10 + c.num / 10);  // transposed digits
        else if (!qop('+', c, qint(d), &v)) return false;
        if (v.num < 0) v.num = -v.num;
        if (qeq(v, c)) return false;
        ch.value = v;
        break;
    }
    case BERRY_SYNTH_WRONG_OP: {
        const char *alts = st->op == '+' ? "-*" : st->op == '-' ? "+" : st->op == '*' ? "+/" : "*-";
        bool frac_given = (st->x[0].ref < 0 && (st->x[0].pct || st->x[0].v.den != 1)) ||
                          (st->x[1].ref < 0 && (st->x[1].pct || st->x[1].v.den != 1));
        char cand[2];
        int nc = 0;
        for (const char *a = alts; *a; a++)
            if (!(frac_given && (*a == '+' || *a == '-'))) cand[nc++] = *a;
        if (nc == 0) return false;
        ch.op = cand[berry_rng_below(r, (uint64_t)nc)];
        break;
    }
    case BERRY_SYNTH_MISREAD: {
        int ks[2], nk = 0;
        for (int k = 0; k < 2; k++) {
            const berry_synth_operand *o = &st->x[k];
            if (o->ref < 0 && (o->v.den == 1 || o->pct)) ks[nk++] = k;
        }
        if (nk == 0) return false;
        int k = ks[berry_rng_below(r, (uint64_t)nk)];
        const berry_synth_operand *o = &st->x[k];
        if (o->pct) {
            berry_synth_q pc;
            if (!qop('*', o->v, qint(100), &pc) || pc.den != 1) return false;
            int64_t m = misread_int(pc.num, r);
            if (m <= 0 || m >= 100 || !qmake(m, 100, &ch.value)) return false;
        } else {
            int64_t m = misread_int(o->v.num, r);
            if (m <= 0) return false;
            ch.value = qint(m);
        }
        ch.operand = k;
        break;
    }
    case BERRY_SYNTH_DROPPED: {
        bool used = false;
        for (int i = j + 1; i < p->n_steps; i++) used |= p->steps[i].x[0].ref == j || p->steps[i].x[1].ref == j;
        if (!used) return false;
        break;
    }
    case BERRY_SYNTH_REPEATED:
        if (st->carry != 0 || st->x[1].ref >= 0 || st->op == '/' ) return false;
        break;
    default: return false;
    }
    if (!execute(p, &ch, s) || qeq(s->answer, good.answer)) return false;
    // Fractions only where the correct solution may have them: a flawed solution stays learnable.
    for (int i = 0; i < s->n_lines; i++)
        if (s->line[i].c.den != 1 && !p->steps[s->line[i].step].frac_ok) return false;
    s->flaw = kind;
    s->flaw_step = j;
    // The first wrong line: the changed one; for a dropped step the first line that needed it; for a
    // repeated step the repetition.
    int first = 0;
    for (int i = 0; i < s->n_lines && !first; i++) {
        const berry_synth_line *l = &s->line[i];
        if (kind == BERRY_SYNTH_DROPPED) {
            const berry_synth_step *u = &p->steps[l->step];
            if (u->x[0].ref == j || u->x[1].ref == j) first = i + 1;
        } else if (l->step == j) first = kind == BERRY_SYNTH_REPEATED ? i + 2 : i + 1;
    }
    if (!first) return false;
    s->first_wrong = first;

    char a[32], b[32], c[32], wrong[32];
    operand_fmt(a, sizeof a, L->a, L->apct);
    operand_fmt(b, sizeof b, L->b, L->bpct);
    berry_synth_qfmt(c, sizeof c, L->c);
    char *cr = s->critique;
    size_t cn = sizeof s->critique;
    switch (kind) {
    case BERRY_SYNTH_SLIP:
        berry_synth_qfmt(wrong, sizeof wrong, ch.value);
        snprintf(cr, cn, "Step %d is wrong: %s %c %s is %s, not %s.", first, a, L->op, b, c, wrong);
        break;
    case BERRY_SYNTH_WRONG_OP:
        snprintf(cr, cn, "Step %d is wrong: it should %s, not %s, because %s. The correct step is %s %c %s = %s.", first,
                 op_verb(st->op), op_verb(ch.op), st->why, a, L->op, b, c);
        break;
    case BERRY_SYNTH_MISREAD: {
        char right[32];
        operand_fmt(wrong, sizeof wrong, ch.value, st->x[ch.operand].pct);
        operand_fmt(right, sizeof right, st->x[ch.operand].v, st->x[ch.operand].pct);
        snprintf(cr, cn, "Step %d is wrong: it uses %s, but the question says %s. The correct step is %s %c %s = %s.", first,
                 wrong, right, a, L->op, b, c);
        break;
    }
    case BERRY_SYNTH_DROPPED:
        snprintf(cr, cn, "Step %d is wrong: a step is missing before it, because %s. The missing step is %s %c %s = %s.",
                 first, st->why, a, L->op, b, c);
        break;
    default:
        snprintf(cr, cn, "Step %d is wrong: it repeats step %d, which must be done only once.", first, first - 1);
        break;
    }
    return true;
}

bool berry_synth_flaw_any(const berry_synth_problem *p, berry_rng *r, berry_synth_flaw avoid,
                          berry_synth_solution *s) {
    // Kinds in a random order (AVOID last), and for each kind the steps from a random start.
    berry_synth_flaw kinds[BERRY_SYNTH_N_FLAWS - 1];
    for (int i = 0; i < BERRY_SYNTH_N_FLAWS - 1; i++) kinds[i] = (berry_synth_flaw)(i + 1);
    for (int i = BERRY_SYNTH_N_FLAWS - 2; i > 0; i--) {
        int k = (int)berry_rng_below(r, (uint64_t)i + 1);
        berry_synth_flaw t = kinds[i]; kinds[i] = kinds[k]; kinds[k] = t;
    }
    for (int i = 0; i < BERRY_SYNTH_N_FLAWS - 2; i++)
        if (kinds[i] == avoid) { kinds[i] = kinds[BERRY_SYNTH_N_FLAWS - 2]; kinds[BERRY_SYNTH_N_FLAWS - 2] = avoid; }
    for (int i = 0; i < BERRY_SYNTH_N_FLAWS - 1; i++) {
        int start = (int)berry_rng_below(r, (uint64_t)p->n_steps);
        for (int t = 0; t < p->n_steps; t++)
            if (berry_synth_flaw_at(p, kinds[i], (start + t) % p->n_steps, r, s)) return true;
    }
    return false;
}

// ---- the generator ----

typedef struct {
    berry_synth_problem *p;
    berry_rng *r;
    berry_synth_level_info L;
    int level, target;
    berry_synth_q val[BERRY_SYNTH_MAX_STEPS];
    size_t qlen;
    bool bad;                       // a constraint failed: the candidate is redrawn
    const char *name, *he, *He, *his, *His, *him;
    char buf[4][128];               // scratch for formatted pieces, used round-robin
    int nbuf;
} gen;

static int64_t rnd(gen *g, int64_t lo, int64_t hi) {
    if (hi < lo) { g->bad = true; return lo; }
    return lo + (int64_t)berry_rng_below(g->r, (uint64_t)(hi - lo + 1));
}
static int pick(gen *g, int n) { return (int)berry_rng_below(g->r, (uint64_t)n); }
#define PICK(g, arr) (arr)[pick((g), (int)(sizeof(arr) / sizeof((arr)[0])))]
static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
static int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }

static void say(gen *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(gen *g, const char *fmt, ...) {
    size_t cap = sizeof g->p->question;
    if (g->qlen >= cap) { g->bad = true; return; }
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(g->p->question + g->qlen, cap - g->qlen, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= cap - g->qlen) g->bad = true;
    else g->qlen += (size_t)n;
}

static const char *S(gen *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static const char *S(gen *g, const char *fmt, ...) {
    char *b = g->buf[g->nbuf++ & 3];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b, sizeof g->buf[0], fmt, ap);
    va_end(ap);
    return b;
}

static berry_synth_operand K(int64_t n) { return (berry_synth_operand){-1, {n, 1}, false}; }
static berry_synth_operand R(int i) { return (berry_synth_operand){i, {0, 1}, false}; }
static berry_synth_operand PCT(int64_t pc) {
    berry_synth_operand o = {-1, {0, 1}, true};
    qmake(pc, 100, &o.v);
    return o;
}
static berry_synth_operand FR(int64_t a, int64_t b) {
    berry_synth_operand o = {-1, {0, 1}, false};
    qmake(a, b, &o.v);
    return o;
}
static berry_synth_q opval(gen *g, berry_synth_operand o) { return o.ref >= 0 ? g->val[o.ref] : o.v; }
// The integer value of an operand (the generator keeps running totals whole).
static int64_t ival(gen *g, berry_synth_operand o) {
    berry_synth_q v = opval(g, o);
    if (v.den != 1) g->bad = true;
    return v.num;
}

// Appends a step; marks the candidate bad when its result breaks the level's limits.
static int step(gen *g, char op, berry_synth_operand x0, berry_synth_operand x1, int carry, bool frac_ok,
                const char *what, const char *why) {
    berry_synth_problem *p = g->p;
    if (p->n_steps >= BERRY_SYNTH_MAX_STEPS - 1) { g->bad = true; return 0; }
    int i = p->n_steps++;
    berry_synth_step *s = &p->steps[i];
    memset(s, 0, sizeof *s);
    s->op = op;
    s->x[0] = x0;
    s->x[1] = x1;
    s->carry = carry;
    s->frac_ok = frac_ok;
    snprintf(s->what, sizeof s->what, "%s", what);
    snprintf(s->why, sizeof s->why, "%s", why);
    berry_synth_q v = {0, 1};
    if (!qop(op, opval(g, x0), opval(g, x1), &v) || v.num <= 0 || (!frac_ok && v.den != 1) || v.den > 12 ||
        v.num > g->L.max_value * v.den)
        g->bad = true;
    g->val[i] = v;
    return i;
}

static const char *const female[] = {"Mia", "Emma", "Ava", "Lily", "Zoe", "Nora", "Ruby", "Anna", "Sara", "Maya",
                                     "Lucy", "Ella", "Grace", "Chloe", "Ivy", "Rosa", "Hana", "Leah", "Amara", "Priya"};
static const char *const male[] = {"Liam", "Noah", "Omar", "Leo", "Ben", "Sam", "Jack", "Owen", "Ravi", "Kofi",
                                   "Tom", "Max", "Luis", "Eli", "Finn", "Adam", "Hugo", "Kai", "Ian", "Theo"};

static void pick_person(gen *g) {
    if (pick(g, 2)) { g->name = PICK(g, female); g->he = "she"; g->He = "She"; g->his = "her"; g->His = "Her"; g->him = "her"; }
    else { g->name = PICK(g, male); g->he = "he"; g->He = "He"; g->his = "his"; g->His = "His"; g->him = "him"; }
}
static const char *friend_name(gen *g) {
    const char *f;
    do f = pick(g, 2) ? PICK(g, female) : PICK(g, male);
    while (f == g->name);
    return f;
}

// ---- family 1: a collection that grows and shrinks (four operations, fractions, percentages) ----

typedef struct { const char *one, *many, *mass; bool divisible; } thing;
static const thing things[] = {
    {"apple", "apples", "apples", false}, {"marble", "marbles", "marbles", false},
    {"sticker", "stickers", "stickers", false}, {"pencil", "pencils", "pencils", false},
    {"stamp", "stamps", "stamps", false}, {"cookie", "cookies", "cookies", false},
    {"card", "cards", "cards", false}, {"shell", "shells", "shells", false},
    {"book", "books", "books", false}, {"balloon", "balloons", "balloons", false},
    {"egg", "eggs", "eggs", false}, {"bead", "beads", "beads", false},
    {"toy car", "toy cars", "toy cars", false}, {"orange", "oranges", "oranges", false},
    {"coin", "coins", "coins", false}, {"flower", "flowers", "flowers", false},
    {"pizza", "pizzas", "pizzas", true}, {"cake", "cakes", "cakes", true}, {"pie", "pies", "pies", true},
    {"liter of juice", "liters of juice", "juice", true}, {"meter of rope", "meters of rope", "rope", true},
    {"kilogram of rice", "kilograms of rice", "rice", true},
};
typedef struct { const char *one, *many; } noun;
static const noun boxes[] = {{"box", "boxes"}, {"bag", "bags"}, {"jar", "jars"}, {"basket", "baskets"}, {"pack", "packs"}};

static void fam_inventory(gen *g) {
    berry_synth_problem *p = g->p;
    const thing *t = &things[pick(g, (int)(sizeof things / sizeof things[0]))];
    int64_t mg = g->L.max_given;
    berry_synth_operand cur;
    if (!t->divisible && g->target >= 3 && pick(g, 2)) {
        const noun *c = &PICK(g, boxes);
        int64_t a = rnd(g, 2, min64(9, mg)), b = rnd(g, 2, mg);
        if (pick(g, 2)) say(g, "%s has %lld %s of %s. Each %s holds %lld %s. ", g->name, (long long)a, c->many, t->many, c->one, (long long)b, t->many);
        else say(g, "%s has %lld %s with %lld %s in each. ", g->name, (long long)a, c->many, (long long)b, t->many);
        cur = R(step(g, '*', K(a), K(b), 1, false, S(g, " %s in the %s", t->many, c->many),
                     S(g, "each of the %lld %s holds %lld %s", (long long)a, c->many, (long long)b, t->many)));
    } else {
        int64_t a = rnd(g, 3, 2 * mg);
        say(g, "%s has %lld %s. ", g->name, (long long)a, t->many);
        cur = K(a);
    }
    int last = -1;  // the last operation drawn
    const char *share_q = NULL;
    while (p->n_steps < g->target && !g->bad) {
        int left = g->target - p->n_steps;
        int64_t v = ival(g, cur);
        int op = pick(g, 7);
        if ((op == 3 || op == 4 || op == 5) && left < 2) continue;
        if (op == 6 && left != 1) continue;
        if ((op == 4 || op == 5) && g->level < 2) continue;
        if (op == 3 && t->divisible) continue;
        const char *f = friend_name(g);
        switch (op) {
        case 0: {  // gain
            int64_t b = rnd(g, 1, mg);
            int w = pick(g, 3);
            if (w == 0) say(g, "Then %s buys %lld more %s. ", g->he, (long long)b, t->many);
            else if (w == 1) say(g, "%s gives %s %lld more %s. ", f, g->him, (long long)b, t->many);
            else say(g, "%s finds %lld more %s. ", g->He, (long long)b, t->many);
            cur = R(step(g, '+', cur, K(b), 0, false, S(g, " %s now", t->many), S(g, "%s gets %lld more %s", g->name, (long long)b, t->many)));
            break;
        }
        case 1: {  // loss
            if (v < 3) continue;
            int64_t b = rnd(g, 1, min64(v - 2, mg));  // at least 2 left: "1 apples" reads badly
            int w = pick(g, 3);
            if (w == 0) say(g, "%s gives %lld %s to %s. ", g->He, (long long)b, t->many, f);
            else if (w == 1) say(g, "%s sells %lld of them. ", g->He, (long long)b);
            else say(g, "%s loses %lld %s. ", g->He, (long long)b, t->many);
            cur = R(step(g, '-', cur, K(b), 0, false, S(g, " %s left", t->many), S(g, "%s no longer has %lld of the %s", g->name, (long long)b, t->many)));
            break;
        }
        case 2: {  // times as many
            int64_t k = rnd(g, 2, g->level < 3 ? 3 : 4);
            if (v * k > g->L.max_value) continue;
            if (pick(g, 2)) say(g, "A week later %s has %lld times as many %s. ", g->he, (long long)k, t->many);
            else say(g, "Later %s ends up with %lld times as many %s as before. ", g->he, (long long)k, t->many);
            cur = R(step(g, '*', cur, K(k), 0, false, S(g, " %s now", t->many), S(g, "the number of %s becomes %lld times as large", t->many, (long long)k)));
            break;
        }
        case 3: {  // a group of packs added: two steps
            const noun *c = &PICK(g, boxes);
            int64_t a = rnd(g, 2, min64(9, mg)), b = rnd(g, 2, min64(12, mg));
            say(g, "%s buys %lld %s of %s with %lld in each. ", g->He, (long long)a, c->many, t->many, (long long)b);
            int i = step(g, '*', K(a), K(b), 1, false, S(g, " %s in the new %s", t->many, c->many),
                         S(g, "each of the %lld new %s holds %lld %s", (long long)a, c->many, (long long)b, t->many));
            cur = R(step(g, '+', cur, R(i), 0, false, S(g, " %s now", t->many), S(g, "the new %s are added to the ones %s had", t->many, g->he)));
            break;
        }
        case 4: {  // a fraction given away: two steps
            static const int fr[][2] = {{1, 2}, {1, 3}, {1, 4}, {2, 3}, {3, 4}, {1, 5}, {2, 5}, {3, 5}, {1, 6}, {5, 6}};
            int k = pick(g, 10), tries = 0;
            while (v % fr[k][1] && tries++ < 10) k = (k + 1) % 10;
            if (v % fr[k][1]) continue;
            say(g, "%s gives %d/%d of %s %s to %s. ", g->He, fr[k][0], fr[k][1], g->his, t->mass, f);
            int i = step(g, '*', cur, FR(fr[k][0], fr[k][1]), 0, false, S(g, " %s for %s", t->many, f),
                         S(g, "%s gives away %d/%d of them", g->name, fr[k][0], fr[k][1]));
            cur = R(step(g, '-', cur, R(i), 0, false, S(g, " %s left", t->many), S(g, "the %s given to %s are gone", t->many, f)));
            break;
        }
        case 5: {  // a percentage sold: two steps
            static const int pcs[] = {10, 20, 25, 50, 75, 30, 40, 60, 5, 15};
            int k = pick(g, 10), tries = 0;
            while ((v * pcs[k]) % 100 && tries++ < 10) k = (k + 1) % 10;
            if ((v * pcs[k]) % 100) continue;
            say(g, "%s sells %d%% of %s %s. ", g->He, pcs[k], g->his, t->mass);
            int i = step(g, '*', cur, PCT(pcs[k]), 0, false, S(g, " %s sold", t->many), S(g, "%s sells %d%% of them", g->name, pcs[k]));
            cur = R(step(g, '-', cur, R(i), 0, false, S(g, " %s left", t->many), S(g, "the sold %s are gone", t->many)));
            break;
        }
        default: {  // shared equally: the last step
            int64_t b = rnd(g, 2, min64(12, mg));
            bool frac = t->divisible && g->level >= 3;
            if (!frac && v % b) continue;
            say(g, "%s shares them equally among %lld friends. ", g->He, (long long)b);
            share_q = "How many %s does each friend get?";
            cur = R(step(g, '/', cur, K(b), 0, frac, S(g, " %s for each friend", t->many), S(g, "the %s are shared among %lld friends", t->many, (long long)b)));
            break;
        }
        }
        last = op;
    }
    if (share_q) say(g, share_q, t->many);
    else if (last == 1 && pick(g, 2)) say(g, "How many %s are left?", t->many);
    else if (pick(g, 2)) say(g, "How many %s does %s have now?", t->many, g->name);
    else say(g, "How many %s does %s have at the end?", t->many, g->name);
}

// ---- family 2: shopping (prices, discounts, change, splitting a bill) ----

static const noun goods[] = {{"notebook", "notebooks"}, {"pen", "pens"}, {"ticket", "tickets"}, {"sandwich", "sandwiches"},
                             {"toy", "toys"}, {"shirt", "shirts"}, {"ball", "balls"}, {"mug", "mugs"},
                             {"plant", "plants"}, {"bracelet", "bracelets"}, {"lamp", "lamps"}, {"kite", "kites"}};

static void fam_shopping(gen *g) {
    berry_synth_problem *p = g->p;
    int64_t mg = g->L.max_given;
    int gi = pick(g, (int)(sizeof goods / sizeof goods[0]));
    const noun *it = &goods[gi];
    int64_t a = rnd(g, 2, min64(10, mg)), pr = rnd(g, 2, mg);
    if (pick(g, 2)) say(g, "%s buys %lld %s for $%lld each. ", g->name, (long long)a, it->many, (long long)pr);
    else say(g, "%s buys %lld %s. Each %s costs $%lld. ", g->name, (long long)a, it->many, it->one, (long long)pr);
    berry_synth_operand tot = R(step(g, '*', K(a), K(pr), 1, false, S(g, " dollars for the %s", it->many),
                                     S(g, "%s buys %lld %s at $%lld each", g->name, (long long)a, it->many, (long long)pr)));
    const char *endq = NULL;
    bool coupon = false;
    while (p->n_steps < g->target && !g->bad) {
        int left = g->target - p->n_steps;
        int64_t v = ival(g, tot);
        int op = pick(g, 5);
        if ((op == 0 || op == 2) && left < 2) continue;
        if (op == 2 && g->level < 2) continue;
        if (op == 1 && coupon) continue;
        if (op >= 3 && left != 1) continue;
        switch (op) {
        case 0: {  // another purchase: two steps
            gi = (gi + 1 + pick(g, 3)) % (int)(sizeof goods / sizeof goods[0]);
            const noun *o = &goods[gi];
            int64_t b = rnd(g, 2, min64(10, mg)), q = rnd(g, 2, mg);
            say(g, "%s also buys %lld %s for $%lld each. ", g->He, (long long)b, o->many, (long long)q);
            int i = step(g, '*', K(b), K(q), 1, false, S(g, " dollars for the %s", o->many),
                         S(g, "%s buys %lld %s at $%lld each", g->name, (long long)b, o->many, (long long)q));
            tot = R(step(g, '+', tot, R(i), 0, false, " dollars in all", "the total is the sum of the costs"));
            break;
        }
        case 1: {  // coupon
            if (v < 3) continue;
            int64_t d = rnd(g, 1, min64(v - 1, mg));
            say(g, "%s uses a coupon for $%lld off. ", g->He, (long long)d);
            tot = R(step(g, '-', tot, K(d), 0, false, " dollars after the coupon", S(g, "the coupon takes $%lld off", (long long)d)));
            coupon = true;
            break;
        }
        case 2: {  // percent off: two steps
            static const int pcs[] = {10, 20, 25, 50, 5, 15, 30, 40};
            int k = pick(g, 8), tries = 0;
            while ((v * pcs[k]) % 100 && tries++ < 8) k = (k + 1) % 8;
            if ((v * pcs[k]) % 100) continue;
            if (pick(g, 2)) say(g, "The shop gives %s a %d%% discount on the total. ", g->him, pcs[k]);
            else say(g, "Everything is %d%% off. ", pcs[k]);
            int i = step(g, '*', tot, PCT(pcs[k]), 0, false, " dollars off", S(g, "the discount is %d%% of the price", pcs[k]));
            tot = R(step(g, '-', tot, R(i), 0, false, " dollars to pay", "the discount is taken off the price"));
            break;
        }
        case 3: {  // change from a bill: the last step
            static const int64_t bills[] = {5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000};
            int k = 0;
            while (k < 9 && bills[k] <= v + 1) k++;  // at least 2 dollars back
            if (bills[k] <= v + 1) continue;
            say(g, "%s pays with a $%lld bill. ", g->He, (long long)bills[k]);
            endq = "How much change does %s get?";
            tot = R(step(g, '-', K(bills[k]), tot, 0, false, " dollars in change", S(g, "%s pays $%lld", g->name, (long long)bills[k])));
            break;
        }
        default: {  // the cost shared: the last step
            int64_t b = rnd(g, 2, 6);
            if (v % b) continue;
            say(g, "%s and %lld friends share the cost equally, %lld people in all. ", g->name, (long long)(b - 1), (long long)b);
            endq = "How much does each person pay?";
            tot = R(step(g, '/', tot, K(b), 0, false, " dollars for each person", S(g, "the cost is shared by %lld people", (long long)b)));
            break;
        }
        }
    }
    if (endq && strstr(endq, "%s")) say(g, endq, g->name);
    else if (endq) say(g, "%s", endq);
    else if (pick(g, 2)) say(g, "How much money does %s spend?", g->name);
    else say(g, "How many dollars does %s spend in all?", g->name);
}

// ---- family 3: rates (speed, wages, reading, machines) ----

typedef struct {
    const char *leg;       // NAME/HE, RATE, TIME
    const char *more;      // HE, RATE, TIME
    const char *unitrate;  // NAME, AMOUNT, TIME
    const char *before;    // HE, AMOUNT: an amount done earlier, added
    const char *unit, *per, *done, *goal, *goal_q, *total_q;
} rate_dom;
static const rate_dom rates[] = {
    {"%s drives at %lld miles per hour for %lld hours. ", "Then %s drives at %lld miles per hour for %lld more hours. ",
     "%s drives %lld miles in %lld hours. ", "Before that, %s had already driven %lld miles. ", "miles", "hour", "miles driven", "The whole trip is %lld miles. ",
     "How many miles are left to drive?", "How many miles does %s drive in all?"},
    {"%s earns $%lld per hour and works %lld hours. ", "Then %s earns $%lld per hour for %lld more hours. ",
     "%s earns $%lld in %lld hours. ", "Before that, %s had already saved $%lld. ", "dollars", "hour", "dollars earned", "%s wants to save $%lld. ",
     "How many more dollars does %s need?", "How many dollars does %s earn in all?"},
    {"%s reads %lld pages a day for %lld days. ", "Then %s reads %lld pages a day for %lld more days. ",
     "%s reads %lld pages in %lld days. ", "Before that, %s had already read %lld pages. ", "pages", "day", "pages read", "The book has %lld pages. ",
     "How many pages are left to read?", "How many pages does %s read in all?"},
    {"%s's machine makes %lld toys a minute for %lld minutes. ", "Then %s sets it to make %lld toys a minute for %lld more minutes. ",
     "%s's machine makes %lld toys in %lld minutes. ", "Before that, %s had already made %lld toys. ", "toys", "minute", "toys made", "The order is for %lld toys. ",
     "How many more toys are needed?", "How many toys does %s's machine make in all?"},
};

static void fam_rate(gen *g) {
    berry_synth_problem *p = g->p;
    int64_t mg = g->L.max_given;
    int di = pick(g, (int)(sizeof rates / sizeof rates[0]));
    const rate_dom *d = &rates[di];
    berry_synth_operand tot;
    bool goal = g->target >= 2 && pick(g, 2);
    int legs_steps = g->target - goal;  // steps before the goal subtraction
    if (g->target == 2 && !goal && pick(g, 2)) {
        // A unit rate: AMOUNT in T1, then how much in T2 at the same rate.
        int64_t rate = rnd(g, 2, mg), t1 = rnd(g, 2, min64(9, mg)), t2 = rnd(g, 2, min64(12, mg));
        if (t2 == t1) t2++;
        say(g, d->unitrate, g->name, (long long)(rate * t1), (long long)t1);
        int i = step(g, '/', K(rate * t1), K(t1), 0, false, S(g, " %s per %s", d->unit, d->per),
                     S(g, "the rate is the amount divided by the number of %ss", d->per));
        say(g, "At the same rate, how many %s is that in %lld %ss?", d->unit, (long long)t2, d->per);
        step(g, '*', R(i), K(t2), 0, false, S(g, " %s in %lld %ss", d->unit, (long long)t2, d->per),
             S(g, "the same rate goes on for %lld %ss", (long long)t2, d->per));
        return;
    } else {
        int64_t rate = rnd(g, 2, mg), t = rnd(g, 2, min64(9, mg));
        say(g, d->leg, g->name, (long long)rate, (long long)t);
        tot = R(step(g, '*', K(rate), K(t), 0, false, S(g, " %s", d->done),
                     S(g, "the rate is %lld %s per %s for %lld %ss", (long long)rate, d->unit, d->per, (long long)t, d->per)));
        while (p->n_steps + 2 <= legs_steps && !g->bad) {
            int64_t r2 = rnd(g, 2, mg), t2 = rnd(g, 2, min64(9, mg));
            say(g, d->more, g->he, (long long)r2, (long long)t2);
            int i = step(g, '*', K(r2), K(t2), 0, false, S(g, " more %s", d->done),
                         S(g, "the rate is %lld %s per %s for %lld more %ss", (long long)r2, d->unit, d->per, (long long)t2, d->per));
            tot = R(step(g, '+', tot, R(i), 0, false, S(g, " %s in all", d->done), S(g, "the %s of both parts add up", d->unit)));
        }
        if (p->n_steps + 1 == legs_steps) {
            int64_t b = rnd(g, 1, mg);
            say(g, d->before, g->he, (long long)b);
            tot = R(step(g, '+', tot, K(b), 0, false, S(g, " %s in all", d->done), S(g, "the %lld %s from before count too", (long long)b, d->unit)));
        }
        if (p->n_steps != legs_steps) { g->bad = true; return; }
    }
    if (goal) {
        int64_t v = ival(g, tot);
        int64_t G = v + rnd(g, 1, max64(mg, v / 2));
        if (strstr(d->goal, "%s")) say(g, d->goal, g->name, (long long)G);
        else say(g, d->goal, (long long)G);
        step(g, '-', K(G), tot, 1, false, S(g, " %s still to go", d->unit), S(g, "the goal is %lld %s", (long long)G, d->unit));
        if (strstr(d->goal_q, "%s")) say(g, d->goal_q, g->name);
        else say(g, "%s", d->goal_q);
    } else if (strstr(d->total_q, "%s")) say(g, d->total_q, g->name);
    else say(g, "%s", d->total_q);
}

// ---- family 4: linear equations (a number thought of, or an equation in x) ----

static void fam_equation(gen *g) {
    int64_t mg = g->L.max_given;
    int n = g->target;
    bool algebra = n <= 4 && pick(g, 2) != 0;  // longer equations print too long for the tiny model
    char ops[BERRY_SYNTH_MAX_STEPS];
    int64_t arg[BERRY_SYNTH_MAX_STEPS];
    // The forward computation from x, choosing each operation so that every value stays whole, positive
    // and within the level; algebra uses + - * only, so that the equation prints plainly.
    static const char OPS[] = "+-*/";
    berry_synth_q x, v;
    bool frac = algebra && g->level >= 3 && pick(g, 3) == 0;
    int64_t small = g->level < 3 ? 5 : 9;
    if (frac) {
        ops[0] = '*';
        arg[0] = rnd(g, 2, small);
        int64_t num = rnd(g, 1, mg);
        if (num % arg[0] == 0) num++;
        qmake(num, arg[0], &x);
    } else x = qint(rnd(g, 1, mg));
    v = x;
    for (int k = 0; k < n && !g->bad; k++) {
        if (!(k == 0 && frac)) {
            char o = OPS[pick(g, algebra ? 3 : 4)];
            if (k > 0 && o == ops[k - 1] && (o == '+' || o == '-')) o = '*';
            else if (k > 0 && algebra && o == '*' && ops[k - 1] == '*') o = '+';  // no "8(2x)"
            else if (k > 0 && ((o == '/' && ops[k - 1] == '*') || (o == '*' && ops[k - 1] == '/'))) o = '+';  // no "* 5, / 5"
            if (o == '/') {
                int64_t ds[8];
                int nd = 0;
                for (int64_t dv = 2; dv <= small; dv++)
                    if (v.num % dv == 0) ds[nd++] = dv;
                if (nd) arg[k] = ds[pick(g, nd)];
                else o = '+';
            }
            if (o == '*') {
                arg[k] = rnd(g, 2, small);
                if (v.num * arg[k] > g->L.max_value) o = v.num > 1 && (k == 0 || ops[k - 1] != '-') ? '-' : '+';
            }
            if (o == '-' && v.num < 2) o = '+';
            if (o == '+') arg[k] = rnd(g, 1, mg);
            if (o == '-') arg[k] = rnd(g, 1, min64(mg, v.num - 1));
            ops[k] = o;
        }
        if (!qop(ops[k], v, qint(arg[k]), &v) || v.den != 1 || v.num <= 0 || v.num > g->L.max_value) g->bad = true;
    }
    if (g->bad) return;
    char expr[BERRY_SYNTH_MAX_STEPS + 1][96];
    snprintf(expr[0], sizeof expr[0], "x");
    static const char *const undo[] = {"adding %lld", "subtracting %lld", "multiplying by %lld", "dividing by %lld"};
    static const char *const did[] = {"%s adds %lld", "%s subtracts %lld", "%s multiplies by %lld", "%s divides by %lld"};
    if (algebra) {
        for (int k = 0; k < n; k++) {
            char prev[96];
            memcpy(prev, expr[k], sizeof prev);
            if (ops[k] == '*') {
                if (k == 0) snprintf(expr[k + 1], sizeof expr[0], "%lldx", (long long)arg[k]);
                else snprintf(expr[k + 1], sizeof expr[0], "%lld(%.80s)", (long long)arg[k], prev);
            } else snprintf(expr[k + 1], sizeof expr[0], "%.80s %c %lld", prev, ops[k], (long long)arg[k]);
        }
        if (strlen(expr[n]) > 80) { g->bad = true; return; }
        say(g, "Solve for x: %s = %lld.", expr[n], (long long)v.num);
    } else {
        say(g, "%s thinks of a number. %s ", g->name, g->He);
        for (int k = 0; k < n; k++) {
            if (k == n - 1 && n > 1) say(g, "then ");
            switch (ops[k]) {
            case '+': say(g, "adds %lld", (long long)arg[k]); break;
            case '-': say(g, "subtracts %lld", (long long)arg[k]); break;
            case '*': say(g, "multiplies %s by %lld", k ? "the result" : "it", (long long)arg[k]); break;
            default: say(g, "divides %s by %lld", k ? "the result" : "it", (long long)arg[k]); break;
            }
            say(g, ", ");
        }
        say(g, "and gets %lld. What is the number?", (long long)v.num);
    }
    // Undo the operations from the last one back.
    berry_synth_operand cur = K(v.num);
    for (int k = n - 1; k >= 0; k--) {
        int o = (int)(strchr(OPS, ops[k]) - OPS);
        char inv = "-+/*"[o];
        const char *what;
        if (algebra) what = S(g, ", so %s = %%v", expr[k]);
        else if (k == 0) what = ", the number";
        else what = S(g, ", the number before %s", S(g, undo[o], (long long)arg[k]));
        const char *why = algebra ? S(g, "the equation %s %lld", ops[k] == '+' ? "adds" : ops[k] == '-' ? "subtracts" : "multiplies by", (long long)arg[k])
                                  : S(g, did[o], g->name, (long long)arg[k]);
        cur = R(step(g, inv, cur, K(arg[k]), 0, k == 0 && frac, what, why));
    }
}

berry_status berry_synth_generate(berry_synth_problem *p, berry_rng *r, int level, char *err, size_t err_size) {
    if (level < 1 || level > BERRY_SYNTH_LEVELS)
        return berry_errf(err, err_size, BERRY_EINVAL, "synth: level %d is outside 1..%d", level, BERRY_SYNTH_LEVELS);
    static const char *const families[] = {"inventory", "shopping", "rate", "equation"};
    for (;;) {
        gen g;
        memset(&g, 0, sizeof g);
        memset(p, 0, sizeof *p);
        g.p = p;
        g.r = r;
        g.level = level;
        g.L = berry_synth_level(level);
        g.target = (int)rnd(&g, g.L.steps_min, g.L.steps_max);
        pick_person(&g);
        int f = pick(&g, 4);
        p->family = families[f];
        p->level = level;
        switch (f) {
        case 0: fam_inventory(&g); break;
        case 1: fam_shopping(&g); break;
        case 2: fam_rate(&g); break;
        default: fam_equation(&g); break;
        }
        if (g.bad || p->n_steps != g.target || !berry_synth_finish(p)) continue;
        return BERRY_OK;
    }
}
