// grade.c — answer equivalence on parsed LaTeX trees: exact evaluation in Q(i) with GMP rationals,
// numeric evaluation in complex doubles at random points for symbolic expressions, and structural
// comparison for tuples, intervals, sets, unions, matrices and relations.
#include "math/grade.h"
#include "math/latex.h"
#include <complex.h>
#include <ctype.h>
#include <gmp.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// Values larger than this many bits are not computed exactly (10^6 decimal digits are 3.3 M bits).
#define MAX_BITS ((size_t)1 << 22)
#define NPOINTS 8
#define MAX_VARS 16
#define MAX_ALTS 64

typedef struct { struct berry_tex *items[MAX_ALTS]; int n; bool overflow; } alts_t;

berry_grade_opts berry_grade_defaults(void) { return (berry_grade_opts){0.0, false}; }

typedef struct { char *why; size_t n; } why_t;
static void say(why_t *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(why_t *w, const char *fmt, ...) {
    if (!w->why || !w->n) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w->why, w->n, fmt, ap);
    va_end(ap);
}

// ---- exact evaluation in Q(i) ----

typedef struct { mpq_t re, im; } cq;
static void cq_init(cq *z) { mpq_init(z->re); mpq_init(z->im); }
static void cq_clear(cq *z) { mpq_clear(z->re); mpq_clear(z->im); }
static size_t qbits(const mpq_t q) { return mpz_sizeinbase(mpq_numref(q), 2) + mpz_sizeinbase(mpq_denref(q), 2); }
static size_t cbits(const cq *z) { return qbits(z->re) + qbits(z->im); }
static bool is_real(const cq *z) { return mpq_sgn(z->im) == 0; }
static bool is_int(const cq *z) { return is_real(z) && mpz_cmp_ui(mpq_denref(z->re), 1) == 0; }

static bool ex_eval(const berry_tex *t, cq *out);

static bool ex_num(const berry_tex *t, cq *out) {
    const char *s = t->text;
    size_t n = strlen(s), frac = 0;
    const char *dot = strchr(s, '.');
    if (dot) frac = n - (size_t)(dot - s) - 1;
    if (n == 0 || n > 4000000) return false;
    char *digits = malloc(n + 1), *d = digits;
    if (!digits) return false;
    for (const char *c = s; *c; c++)
        if (*c != '.') *d++ = *c;
    *d = 0;
    bool ok = digits[0] != 0 && mpz_set_str(mpq_numref(out->re), digits, 10) == 0;
    free(digits);
    if (!ok) return false;
    long e = t->exp10 - (long)frac;
    if (e > 100000 || e < -100000) return false;
    mpz_set_ui(mpq_denref(out->re), 1);
    mpq_set_ui(out->im, 0, 1);
    if (e == 0) return true;
    mpz_t p;
    mpz_init(p);
    mpz_ui_pow_ui(p, 10, (unsigned long)(e < 0 ? -e : e));
    if (e >= 0) mpz_mul(mpq_numref(out->re), mpq_numref(out->re), p);
    else mpz_set(mpq_denref(out->re), p);
    mpz_clear(p);
    mpq_canonicalize(out->re);
    mpq_set_ui(out->im, 0, 1);
    return true;
}

static void cq_mul(cq *o, const cq *a, const cq *b) {  // o may alias a or b
    mpq_t ac, bd, ad, bc;
    mpq_inits(ac, bd, ad, bc, NULL);
    mpq_mul(ac, a->re, b->re);
    mpq_mul(bd, a->im, b->im);
    mpq_mul(ad, a->re, b->im);
    mpq_mul(bc, a->im, b->re);
    mpq_sub(o->re, ac, bd);
    mpq_add(o->im, ad, bc);
    mpq_clears(ac, bd, ad, bc, NULL);
}

static bool cq_inv(cq *o, const cq *a) {  // 1/(x+iy) = (x - iy)/(x² + y²)
    if (mpq_sgn(a->re) == 0 && mpq_sgn(a->im) == 0) return false;
    mpq_t m, t;
    mpq_inits(m, t, NULL);
    mpq_mul(m, a->re, a->re);
    mpq_mul(t, a->im, a->im);
    mpq_add(m, m, t);
    mpq_div(o->re, a->re, m);
    mpq_div(o->im, a->im, m);
    mpq_neg(o->im, o->im);
    mpq_clears(m, t, NULL);
    return true;
}

// Exact r-th root of a non-negative rational, when it is rational.
static bool q_root(mpq_t o, const mpq_t a, unsigned long r) {
    if (mpq_sgn(a) < 0) return false;
    mpz_t n, d;
    mpz_inits(n, d, NULL);
    bool ok = mpz_root(n, mpq_numref(a), r) && mpz_root(d, mpq_denref(a), r);
    if (ok) {
        mpz_set(mpq_numref(o), n);
        mpz_set(mpq_denref(o), d);
        mpq_canonicalize(o);
    }
    mpz_clears(n, d, NULL);
    return ok;
}

// z^k for an integer k, refusing results beyond MAX_BITS.
static bool cq_pow_int(cq *o, const cq *z, long k) {
    bool neg = k < 0;
    unsigned long u = neg ? (unsigned long)(-(k + 1)) + 1 : (unsigned long)k;
    if (mpq_sgn(z->im) == 0 && mpz_cmpabs_ui(mpq_numref(z->re), 1) == 0 && mpz_cmp_ui(mpq_denref(z->re), 1) == 0) {
        // ±1 to any power
        mpq_set_si(o->re, mpq_sgn(z->re) < 0 && (u & 1) ? -1 : 1, 1);
        mpq_set_ui(o->im, 0, 1);
        return true;
    }
    if (u > 0 && (double)cbits(z) * (double)u > (double)MAX_BITS) return false;
    cq r, b;
    cq_init(&r);
    cq_init(&b);
    mpq_set_ui(r.re, 1, 1);
    mpq_set(b.re, z->re);
    mpq_set(b.im, z->im);
    while (u) {
        if (u & 1) cq_mul(&r, &r, &b);
        u >>= 1;
        if (u) cq_mul(&b, &b, &b);
    }
    bool ok = true;
    if (neg) ok = cq_inv(&r, &r);
    mpq_set(o->re, r.re);
    mpq_set(o->im, r.im);
    cq_clear(&r);
    cq_clear(&b);
    return ok;
}

static bool ex_pow(cq *out, const cq *b, const cq *e) {
    if (!is_real(e)) return false;
    if (is_int(e)) {
        if (!mpz_fits_slong_p(mpq_numref(e->re))) return false;
        return cq_pow_int(out, b, mpz_get_si(mpq_numref(e->re)));
    }
    // b^(p/q) for a real b: the q-th root must be rational (negative b only for odd q).
    if (!is_real(b) || !mpz_fits_slong_p(mpq_numref(e->re)) || !mpz_fits_ulong_p(mpq_denref(e->re))) return false;
    unsigned long q = mpz_get_ui(mpq_denref(e->re));
    if (q > 64) return false;
    cq r;
    cq_init(&r);
    bool neg = mpq_sgn(b->re) < 0, ok;
    if (neg && q % 2 == 0) ok = false;
    else {
        mpq_t a;
        mpq_init(a);
        mpq_abs(a, b->re);
        ok = q_root(r.re, a, q);
        if (ok && neg) mpq_neg(r.re, r.re);
        mpq_clear(a);
    }
    if (ok) ok = cq_pow_int(out, &r, mpz_get_si(mpq_numref(e->re)));
    cq_clear(&r);
    return ok;
}

static bool ex_func(const berry_tex *t, cq *out) {
    cq a;
    cq_init(&a);
    bool ok = t->n >= 1 && t->kids[0] && ex_eval(t->kids[0], &a);
    if (!ok) goto done;
    switch (t->op) {
    case BERRY_FN_SQRT:
        ok = is_real(&a);
        if (!ok) break;
        if (mpq_sgn(a.re) >= 0) { ok = q_root(out->re, a.re, 2); mpq_set_ui(out->im, 0, 1); }
        else {  // sqrt(-r) = i sqrt(r)
            mpq_neg(a.re, a.re);
            ok = q_root(out->im, a.re, 2);
            mpq_set_ui(out->re, 0, 1);
        }
        break;
    case BERRY_FN_ROOT: {
        cq k;
        cq_init(&k);
        ok = t->n == 2 && ex_eval(t->kids[1], &k) && is_int(&k) && mpz_cmp_ui(mpq_numref(k.re), 1) >= 0 &&
             mpz_cmp_ui(mpq_numref(k.re), 64) <= 0;
        if (ok) {
            mpq_inv(k.re, k.re);
            ok = ex_pow(out, &a, &k);
        }
        cq_clear(&k);
        break;
    }
    case BERRY_FN_ABS:
        if (is_real(&a)) { mpq_abs(out->re, a.re); mpq_set_ui(out->im, 0, 1); }
        else {
            mpq_t m, s;
            mpq_inits(m, s, NULL);
            mpq_mul(m, a.re, a.re);
            mpq_mul(s, a.im, a.im);
            mpq_add(m, m, s);
            ok = q_root(out->re, m, 2);
            mpq_set_ui(out->im, 0, 1);
            mpq_clears(m, s, NULL);
        }
        break;
    case BERRY_FN_FLOOR:
    case BERRY_FN_CEIL:
        ok = is_real(&a);
        if (!ok) break;
        if (t->op == BERRY_FN_FLOOR) mpz_fdiv_q(mpq_numref(out->re), mpq_numref(a.re), mpq_denref(a.re));
        else mpz_cdiv_q(mpq_numref(out->re), mpq_numref(a.re), mpq_denref(a.re));
        mpz_set_ui(mpq_denref(out->re), 1);
        mpq_set_ui(out->im, 0, 1);
        break;
    case BERRY_FN_FACT:
        ok = is_int(&a) && mpq_sgn(a.re) >= 0 && mpz_cmp_ui(mpq_numref(a.re), 20000) <= 0;
        if (ok) {
            mpz_fac_ui(mpq_numref(out->re), mpz_get_ui(mpq_numref(a.re)));
            mpz_set_ui(mpq_denref(out->re), 1);
            mpq_set_ui(out->im, 0, 1);
        }
        break;
    case BERRY_FN_BINOM: {
        cq k;
        cq_init(&k);
        ok = t->n == 2 && ex_eval(t->kids[1], &k) && is_int(&a) && is_int(&k) && mpq_sgn(a.re) >= 0 &&
             mpz_cmp_ui(mpq_numref(a.re), 100000) <= 0 && mpz_fits_slong_p(mpq_numref(k.re));
        if (ok) {
            long kk = mpz_get_si(mpq_numref(k.re));
            if (kk < 0) mpz_set_ui(mpq_numref(out->re), 0);
            else mpz_bin_ui(mpq_numref(out->re), mpq_numref(a.re), (unsigned long)kk);
            mpz_set_ui(mpq_denref(out->re), 1);
            mpq_set_ui(out->im, 0, 1);
        }
        cq_clear(&k);
        break;
    }
    case BERRY_FN_BASE: {
        // digits_b: value of the digits in base b (2..36).
        cq b;
        cq_init(&b);
        ok = t->n == 2 && t->kids[0]->kind == BERRY_TEX_NUM && !strchr(t->kids[0]->text, '.') && t->kids[0]->exp10 == 0 &&
             ex_eval(t->kids[1], &b) && is_int(&b) && mpz_cmp_ui(mpq_numref(b.re), 2) >= 0 &&
             mpz_cmp_ui(mpq_numref(b.re), 36) <= 0;
        if (ok) {
            int base = (int)mpz_get_ui(mpq_numref(b.re));
            ok = mpz_set_str(mpq_numref(out->re), t->kids[0]->text, base) == 0;
            mpz_set_ui(mpq_denref(out->re), 1);
            mpq_set_ui(out->im, 0, 1);
        }
        cq_clear(&b);
        break;
    }
    case BERRY_FN_LN:
    case BERRY_FN_LOG10:  // only log 1 = 0 is cheap and exact
        ok = is_real(&a) && mpq_cmp_ui(a.re, 1, 1) == 0;
        if (ok) { mpq_set_ui(out->re, 0, 1); mpq_set_ui(out->im, 0, 1); }
        break;
    case BERRY_FN_SIN:
    case BERRY_FN_TAN:
    case BERRY_FN_ASIN:
    case BERRY_FN_ATAN:
    case BERRY_FN_SINH:
    case BERRY_FN_TANH:  // f(0) = 0
        ok = mpq_sgn(a.re) == 0 && mpq_sgn(a.im) == 0;
        if (ok) { mpq_set_ui(out->re, 0, 1); mpq_set_ui(out->im, 0, 1); }
        break;
    case BERRY_FN_COS:
    case BERRY_FN_COSH:
    case BERRY_FN_SEC:
    case BERRY_FN_EXP:  // f(0) = 1
        ok = mpq_sgn(a.re) == 0 && mpq_sgn(a.im) == 0;
        if (ok) { mpq_set_ui(out->re, 1, 1); mpq_set_ui(out->im, 0, 1); }
        break;
    default: ok = false;
    }
done:
    cq_clear(&a);
    return ok && cbits(out) <= MAX_BITS;
}

// Exact value of T in Q(i), or false when T is not a rational complex number that is cheap to compute.
static bool ex_eval(const berry_tex *t, cq *out) {
    if (!t) return false;
    switch (t->kind) {
    case BERRY_TEX_NUM: return ex_num(t, out);
    case BERRY_TEX_CONST:
        if (t->op != 'i') return false;
        mpq_set_ui(out->re, 0, 1);
        mpq_set_ui(out->im, 1, 1);
        return true;
    case BERRY_TEX_NEG:
        if (!ex_eval(t->kids[0], out)) return false;
        mpq_neg(out->re, out->re);
        mpq_neg(out->im, out->im);
        return true;
    case BERRY_TEX_ADD:
    case BERRY_TEX_MUL: {
        bool add = t->kind == BERRY_TEX_ADD, ok = true;
        cq k;
        cq_init(&k);
        mpq_set_ui(out->re, add ? 0 : 1, 1);
        mpq_set_ui(out->im, 0, 1);
        for (int i = 0; i < t->n && ok; i++) {
            ok = ex_eval(t->kids[i], &k);
            if (!ok) break;
            if (add) { mpq_add(out->re, out->re, k.re); mpq_add(out->im, out->im, k.im); }
            else if (cbits(out) + cbits(&k) > MAX_BITS) ok = false;
            else cq_mul(out, out, &k);
        }
        cq_clear(&k);
        return ok;
    }
    case BERRY_TEX_DIV: {
        cq d;
        cq_init(&d);
        bool ok = ex_eval(t->kids[0], out) && ex_eval(t->kids[1], &d) && cq_inv(&d, &d) &&
                  cbits(out) + cbits(&d) <= MAX_BITS;
        if (ok) cq_mul(out, out, &d);
        cq_clear(&d);
        return ok;
    }
    case BERRY_TEX_POW: {
        cq b, e;
        cq_init(&b);
        cq_init(&e);
        bool ok = ex_eval(t->kids[0], &b) && ex_eval(t->kids[1], &e) && ex_pow(out, &b, &e);
        cq_clear(&b);
        cq_clear(&e);
        return ok;
    }
    case BERRY_TEX_FUNC: return ex_func(t, out);
    default: return false;
    }
}

// ---- numeric evaluation (complex double) ----

typedef struct { const char *name[MAX_VARS]; double complex val[MAX_VARS]; int n; } env;

static double complex nv_eval(const berry_tex *t, const env *v);

static double complex nv_binom(double complex n, double complex k) {
    double kr = creal(k);
    if (cimag(k) == 0 && kr == floor(kr) && kr >= 0 && kr <= 1000) {
        double complex r = 1;
        for (int j = 0; j < (int)kr; j++) r *= (n - j) / (j + 1);
        return r;
    }
    if (cimag(n) != 0 || cimag(k) != 0) return NAN;
    return tgamma(creal(n) + 1) / (tgamma(kr + 1) * tgamma(creal(n) - kr + 1));
}

static double complex nv_pow(double complex b, double complex e) {
    if (cimag(b) == 0 && cimag(e) == 0) {
        double x = creal(b), y = creal(e);
        if (x >= 0 || y == floor(y)) return pow(x, y);
    }
    if (b == 0) return creal(e) > 0 ? 0 : NAN;
    return cpow(b, e);
}

static double complex nv_func(const berry_tex *t, const env *v) {
    double complex a = nv_eval(t->kids[0], v);
    double complex b = t->n > 1 ? nv_eval(t->kids[1], v) : 0;
    switch (t->op) {
    case BERRY_FN_SQRT: return cimag(a) == 0 && creal(a) >= 0 ? sqrt(creal(a)) : csqrt(a);
    case BERRY_FN_ROOT:
        // Odd roots of negative reals are real, as in school algebra.
        if (cimag(a) == 0 && cimag(b) == 0 && creal(b) == floor(creal(b)) && fmod(creal(b), 2) != 0 && creal(a) < 0)
            return -pow(-creal(a), 1 / creal(b));
        return nv_pow(a, 1 / b);
    case BERRY_FN_SIN: return csin(a);
    case BERRY_FN_COS: return ccos(a);
    case BERRY_FN_TAN: return ctan(a);
    case BERRY_FN_COT: return 1 / ctan(a);
    case BERRY_FN_SEC: return 1 / ccos(a);
    case BERRY_FN_CSC: return 1 / csin(a);
    case BERRY_FN_ASIN: return casin(a);
    case BERRY_FN_ACOS: return cacos(a);
    case BERRY_FN_ATAN: return catan(a);
    case BERRY_FN_SINH: return csinh(a);
    case BERRY_FN_COSH: return ccosh(a);
    case BERRY_FN_TANH: return ctanh(a);
    case BERRY_FN_LN: return cimag(a) == 0 && creal(a) > 0 ? log(creal(a)) : clog(a);
    case BERRY_FN_LOG10: return cimag(a) == 0 && creal(a) > 0 ? log10(creal(a)) : clog(a) / log(10.0);
    case BERRY_FN_LOGB: return clog(a) / clog(b);
    case BERRY_FN_EXP: return cexp(a);
    case BERRY_FN_ABS: return cabs(a);
    case BERRY_FN_FLOOR: return cimag(a) == 0 ? floor(creal(a)) : NAN;
    case BERRY_FN_CEIL: return cimag(a) == 0 ? ceil(creal(a)) : NAN;
    case BERRY_FN_FACT: return cimag(a) == 0 && creal(a) >= 0 ? tgamma(creal(a) + 1) : NAN;
    case BERRY_FN_BINOM: return nv_binom(a, b);
    case BERRY_FN_BASE: {
        cq z;
        cq_init(&z);
        double complex r = ex_func(t, &z) ? mpq_get_d(z.re) : NAN;
        cq_clear(&z);
        return r;
    }
    }
    return NAN;
}

static double complex nv_eval(const berry_tex *t, const env *v) {
    if (!t) return NAN;
    switch (t->kind) {
    case BERRY_TEX_NUM: {
        double x = strtod(t->text, NULL);
        return t->exp10 ? x * pow(10.0, (double)t->exp10) : x;
    }
    case BERRY_TEX_CONST:
        return t->op == 'p' ? M_PI : t->op == 'e' ? M_E : t->op == 'i' ? I : INFINITY;
    case BERRY_TEX_SYM:
        for (int i = 0; i < v->n; i++)
            if (strcmp(v->name[i], t->text) == 0) return v->val[i];
        return NAN;
    case BERRY_TEX_NEG: return -nv_eval(t->kids[0], v);
    case BERRY_TEX_ADD: {
        double complex s = 0;
        for (int i = 0; i < t->n; i++) s += nv_eval(t->kids[i], v);
        return s;
    }
    case BERRY_TEX_MUL: {
        double complex s = 1;
        for (int i = 0; i < t->n; i++) s *= nv_eval(t->kids[i], v);
        return s;
    }
    case BERRY_TEX_DIV: {
        double complex d = nv_eval(t->kids[1], v);
        return d == 0 ? NAN : nv_eval(t->kids[0], v) / d;
    }
    case BERRY_TEX_POW: return nv_pow(nv_eval(t->kids[0], v), nv_eval(t->kids[1], v));
    case BERRY_TEX_FUNC: return nv_func(t, v);
    default: return NAN;
    }
}

static bool scalar_kind(const berry_tex *t) {
    switch (t->kind) {
    case BERRY_TEX_NUM: case BERRY_TEX_SYM: case BERRY_TEX_CONST: case BERRY_TEX_ADD: case BERRY_TEX_MUL:
    case BERRY_TEX_NEG: case BERRY_TEX_DIV: case BERRY_TEX_POW: case BERRY_TEX_FUNC:
        return true;
    default: return false;
    }
}

// Collects variable names into E and notes integer-only functions (floor, factorial, binomial), whose
// expressions are compared at integer points.
static bool collect(const berry_tex *t, env *e, bool *integer, int depth) {
    if (!t || depth > 200) return true;
    if (t->kind == BERRY_TEX_SYM) {
        for (int i = 0; i < e->n; i++)
            if (strcmp(e->name[i], t->text) == 0) return true;
        if (e->n >= MAX_VARS) return false;
        e->name[e->n++] = t->text;
        return true;
    }
    if (t->kind == BERRY_TEX_FUNC && (t->op == BERRY_FN_FLOOR || t->op == BERRY_FN_CEIL || t->op == BERRY_FN_FACT || t->op == BERRY_FN_BINOM))
        *integer = true;
    for (int i = 0; i < t->n; i++)
        if (!collect(t->kids[i], e, integer, depth + 1)) return false;
    return true;
}

static uint64_t mix(uint64_t x) {  // splitmix64's finalizer: a fixed, reproducible point set
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

static bool finite_c(double complex z) { return isfinite(creal(z)) && isfinite(cimag(z)); }

static bool close_c(double complex a, double complex b, double tol) {
    // Infinities of the same sign are equal (interval ends); anything else non-finite is not.
    if (!finite_c(a) || !finite_c(b)) {
        return isinf(creal(a)) && isinf(creal(b)) && creal(a) == creal(b) && cimag(a) == 0 && cimag(b) == 0;
    }
    double m = fmax(1.0, fmax(cabs(a), cabs(b)));
    return cabs(a - b) <= tol * m;
}

static bool is_infinity(const berry_tex *t) {
    if (t->kind == BERRY_TEX_NEG) t = t->kids[0];
    return t->kind == BERRY_TEX_CONST && t->op == 'o';
}

// Scalars: exactly when both evaluate exactly, else numerically at random points.
static bool eq_scalar(const berry_tex *a, const berry_tex *b, const berry_grade_opts *o, why_t *w) {
    // A number written in base b compares by its digits ("52_8" against "52_8" or "52").
    bool ba = a->kind == BERRY_TEX_FUNC && a->op == BERRY_FN_BASE, bb = b->kind == BERRY_TEX_FUNC && b->op == BERRY_FN_BASE;
    if (ba || bb) {
        const berry_tex *x = ba ? a->kids[0] : a, *y = bb ? b->kids[0] : b;
        if (ba && bb) {
            cq p, q;
            cq_init(&p);
            cq_init(&q);
            bool same = ex_eval(a->kids[1], &p) && ex_eval(b->kids[1], &q) && mpq_equal(p.re, q.re);
            cq_clear(&p);
            cq_clear(&q);
            if (!same) { say(w, "different bases"); return false; }
        }
        if (x->kind != BERRY_TEX_NUM || y->kind != BERRY_TEX_NUM) return false;
        const char *s = x->text, *u = y->text;
        while (*s == '0' && s[1]) s++;
        while (*u == '0' && u[1]) u++;
        say(w, "digits in base: %.40s vs %.40s", s, u);
        return strcmp(s, u) == 0;
    }
    cq x, y;
    cq_init(&x);
    cq_init(&y);
    bool ex = ex_eval(a, &x), ey = ex_eval(b, &y), result = false;
    if (ex && ey) {
        if (o->rel_tol > 0 && is_real(&x) && is_real(&y)) {
            double p = mpq_get_d(x.re), q = mpq_get_d(y.re);
            result = fabs(p - q) <= o->rel_tol * fmax(fabs(p), fabs(q)) || mpq_equal(x.re, y.re);
            say(w, "within relative tolerance %g: %s", o->rel_tol, result ? "yes" : "no");
        } else {
            result = mpq_equal(x.re, y.re) && mpq_equal(x.im, y.im);
            say(w, "exact rationals: %s", result ? "equal" : "different");
        }
        cq_clear(&x);
        cq_clear(&y);
        return result;
    }
    cq_clear(&x);
    cq_clear(&y);
    env e = {{0}, {0}, 0};
    bool integer = false;
    if (!collect(a, &e, &integer, 0) || !collect(b, &e, &integer, 0)) { say(w, "too many variables"); return false; }
    if (e.n == 0) {
        // Constants: one side is an exact rational and the other is not, or neither is. A tighter
        // tolerance when one side is a plain number keeps 1.41421 from passing for sqrt 2.
        double tol = (ex || ey) ? 1e-12 : 1e-9;
        if (o->rel_tol > tol) tol = o->rel_tol;
        double complex p = nv_eval(a, &e), q = nv_eval(b, &e);
        // Overflow is no verdict: only the written infinity (an interval's end) equals itself.
        if ((!finite_c(p) || !finite_c(q)) && !(is_infinity(a) && is_infinity(b))) {
            say(w, "too large or undefined to compare");
            return false;
        }
        result = close_c(p, q, tol);
        say(w, "numeric constants: %.17g%+.17gi vs %.17g%+.17gi", creal(p), cimag(p), creal(q), cimag(q));
        return result;
    }
    int valid = 0;
    for (int k = 0; k < NPOINTS; k++) {
        for (int j = 0; j < e.n; j++) {
            uint64_t r = mix(((uint64_t)k << 8) ^ (uint64_t)j ^ 0x5EEDull);
            e.val[j] = integer ? (double)(2 + r % 13) : 0.3 + 3.0 * (double)(r >> 11) / 9007199254740992.0;
        }
        double complex p = nv_eval(a, &e), q = nv_eval(b, &e);
        bool fp = finite_c(p), fq = finite_c(q);
        if (!fp && !fq) continue;
        if (fp != fq || !close_c(p, q, 1e-8)) {
            say(w, "differ at a random point: %.12g vs %.12g", creal(p), creal(q));
            return false;
        }
        valid++;
    }
    say(w, "identity at %d random points in %d variables", valid, e.n);
    return valid >= 3;
}

static bool eq_node(const berry_tex *a, const berry_tex *b, const berry_grade_opts *o, why_t *w, int depth);

// "x = 5", "f(n) = n^2", "m_{\max} = 3", "x \in [1,2]": the left side only names the answer.
static bool names_answer(const berry_tex *lhs) {
    if (lhs->kind == BERRY_TEX_SYM) return true;
    if (lhs->kind == BERRY_TEX_MUL && lhs->n >= 2 && lhs->kids[0]->kind == BERRY_TEX_SYM) {
        for (int i = 1; i < lhs->n; i++)
            if (lhs->kids[i]->kind != BERRY_TEX_SYM && lhs->kids[i]->kind != BERRY_TEX_TUPLE) return false;
        return true;
    }
    return false;
}

static const berry_tex *unwrap(const berry_tex *t) {
    while (t && t->kind == BERRY_TEX_REL && (t->op == '=' || t->op == 'i') && names_answer(t->kids[0])) t = t->kids[1];
    return t;
}

// Multiset comparison: every item of A matched to a distinct equal item of B.
static bool eq_multiset(berry_tex *const *a, int na, berry_tex *const *b, int nb, const berry_grade_opts *o, why_t *w, int depth) {
    if (na != nb) { say(w, "%d items against %d", na, nb); return false; }
    if (na > 256) return false;
    bool used[256] = {false};
    for (int i = 0; i < na; i++) {
        bool found = false;
        for (int j = 0; j < nb && !found; j++)
            if (!used[j] && eq_node(a[i], b[j], o, w, depth + 1)) used[j] = found = true;
        if (!found) { say(w, "item %d has no equal partner", i + 1); return false; }
    }
    say(w, "%d items match without regard to order", na);
    return true;
}

// Two equations are the same when their sides' differences are proportional: 2x + 2y = 2 is x + y = 1.
static bool eq_equations(const berry_tex *a, const berry_tex *b, why_t *w) {
    env e = {{0}, {0}, 0};
    bool integer = false;
    for (int i = 0; i < 2; i++)
        if (!collect(a->kids[i], &e, &integer, 0) || !collect(b->kids[i], &e, &integer, 0)) return false;
    double complex ratio = 0;
    int valid = 0;
    for (int k = 0; k < NPOINTS; k++) {
        for (int j = 0; j < e.n; j++) {
            uint64_t r = mix(((uint64_t)k << 8) ^ (uint64_t)j ^ 0xE0ull);
            e.val[j] = integer ? (double)(2 + r % 13) : 0.3 + 3.0 * (double)(r >> 11) / 9007199254740992.0;
        }
        double complex p = nv_eval(a->kids[0], &e) - nv_eval(a->kids[1], &e);
        double complex q = nv_eval(b->kids[0], &e) - nv_eval(b->kids[1], &e);
        if (!finite_c(p) || !finite_c(q)) continue;
        if (cabs(p) < 1e-12 && cabs(q) < 1e-12) { valid++; continue; }
        if (cabs(p) < 1e-12 || cabs(q) < 1e-12) return false;
        if (ratio == 0) ratio = q / p;
        else if (!close_c(q / p, ratio, 1e-8)) return false;
        valid++;
    }
    say(w, "equations proportional at %d points", valid);
    return valid >= 3 && e.n > 0;
}

static bool eq_node(const berry_tex *a, const berry_tex *b, const berry_grade_opts *o, why_t *w, int depth) {
    if (!a || !b || depth > 100) return false;
    if (a->kind == BERRY_TEX_REL && b->kind == BERRY_TEX_REL) {
        if (a->op == '=' && b->op == '=') {
            if (names_answer(a->kids[0]) && names_answer(b->kids[0]) && eq_node(a->kids[1], b->kids[1], o, w, depth + 1))
                return true;
            return eq_equations(a, b, w);
        }
        // Inequalities: the same relation, possibly mirrored (x > 2 is 2 < x).
        static const char ops[] = "<>lg", mirror[] = "><gl";
        const char *pa = strchr(ops, a->op), *pb = strchr(ops, b->op);
        if (a->op == b->op) return eq_node(a->kids[0], b->kids[0], o, w, depth + 1) && eq_node(a->kids[1], b->kids[1], o, w, depth + 1);
        if (pa && pb && mirror[pa - ops] == b->op)
            return eq_node(a->kids[0], b->kids[1], o, w, depth + 1) && eq_node(a->kids[1], b->kids[0], o, w, depth + 1);
        return false;
    }
    a = unwrap(a);
    b = unwrap(b);
    if (!a || !b) return false;
    if (scalar_kind(a) && scalar_kind(b)) return eq_scalar(a, b, o, w);
    // An open interval and a pair are written alike: (2, 4).
    if (a->kind == BERRY_TEX_TUPLE && b->kind == BERRY_TEX_INTERVAL) { const berry_tex *t = a; a = b; b = t; }
    if (a->kind == BERRY_TEX_INTERVAL && b->kind == BERRY_TEX_TUPLE) {
        if (b->n != 2 || a->lo_closed || a->hi_closed) return false;
        return eq_node(a->kids[0], b->kids[0], o, w, depth + 1) && eq_node(a->kids[1], b->kids[1], o, w, depth + 1);
    }
    // A column or row vector and a tuple.
    if (a->kind == BERRY_TEX_TUPLE && b->kind == BERRY_TEX_MATRIX) { const berry_tex *t = a; a = b; b = t; }
    if (a->kind == BERRY_TEX_MATRIX && b->kind == BERRY_TEX_TUPLE && (a->rows == 1 || a->cols == 1)) {
        if (a->n != b->n) return false;
        for (int i = 0; i < a->n; i++)
            if (!eq_node(a->kids[i], b->kids[i], o, w, depth + 1)) return false;
        return true;
    }
    if (a->kind != b->kind) { say(w, "different kinds of answer"); return false; }
    switch (a->kind) {
    case BERRY_TEX_TUPLE:
        if (a->n != b->n) { say(w, "tuples of length %d and %d", a->n, b->n); return false; }
        for (int i = 0; i < a->n; i++)
            if (!eq_node(a->kids[i], b->kids[i], o, w, depth + 1)) return false;
        say(w, "tuples equal elementwise");
        return true;
    case BERRY_TEX_INTERVAL:
        if (a->lo_closed != b->lo_closed || a->hi_closed != b->hi_closed) { say(w, "interval ends differ in openness"); return false; }
        return eq_node(a->kids[0], b->kids[0], o, w, depth + 1) && eq_node(a->kids[1], b->kids[1], o, w, depth + 1);
    case BERRY_TEX_MATRIX:
        if (a->rows != b->rows || a->cols != b->cols) { say(w, "matrices of different shapes"); return false; }
        for (int i = 0; i < a->n; i++)
            if (!eq_node(a->kids[i], b->kids[i], o, w, depth + 1)) return false;
        say(w, "matrices equal elementwise");
        return true;
    case BERRY_TEX_SET:
    case BERRY_TEX_LIST:
    case BERRY_TEX_UNION:
        return eq_multiset(a->kids, a->n, b->kids, b->n, o, w, depth);
    case BERRY_TEX_PM:
        return a->op == b->op && eq_node(a->kids[0], b->kids[0], o, w, depth + 1) && eq_node(a->kids[1], b->kids[1], o, w, depth + 1);
    default: return false;
    }
}

// ---- top level: alternatives (several answers, ±) ----

// Nodes made while expanding ±, freed together at the end of one grading call.
typedef struct made { struct made *next; berry_tex node; berry_tex *kids[]; } made;
typedef struct { made *list; bool oom; } maker;

static berry_tex *make(maker *m, const berry_tex *proto, berry_tex_kind kind, int n) {
    made *c = malloc(sizeof *c + (size_t)(n > 0 ? n : 1) * sizeof(berry_tex *));
    if (!c) { m->oom = true; return NULL; }
    c->next = m->list;
    m->list = c;
    if (proto) {
        c->node = *proto;
        memcpy(c->kids, proto->kids, (size_t)n * sizeof(berry_tex *));
    } else {
        memset(&c->node, 0, sizeof c->node);
        c->node.kind = kind;
        c->node.n = n;
    }
    c->node.kids = c->kids;
    return &c->node;
}

static void unmake(maker *m) {
    while (m->list) {
        made *n = m->list->next;
        free(m->list);
        m->list = n;
    }
}

static berry_tex *find_pm(berry_tex *t, int depth) {
    if (!t || depth > 100) return NULL;
    if (t->kind == BERRY_TEX_PM) return t;
    if (!scalar_kind(t) && t->kind != BERRY_TEX_REL && t->kind != BERRY_TEX_TUPLE) return NULL;
    for (int i = 0; i < t->n; i++) {
        berry_tex *r = find_pm(t->kids[i], depth + 1);
        if (r) return r;
    }
    return NULL;
}

// A copy of T with node OLD replaced by REP; only the nodes on the path to OLD are copied.
static berry_tex *replace(maker *m, berry_tex *t, const berry_tex *old, berry_tex *rep, int depth) {
    if (t == old) return rep;
    if (!t || depth > 100) return t;
    for (int i = 0; i < t->n; i++) {
        berry_tex *c = replace(m, t->kids[i], old, rep, depth + 1);
        if (c != t->kids[i]) {
            berry_tex *copy = make(m, t, t->kind, t->n);
            if (!copy) return t;
            copy->kids[i] = c;
            return copy;
        }
    }
    return t;
}

// Appends T's alternatives to OUT: "1 \pm \sqrt 2" is the two answers 1 + sqrt 2 and 1 - sqrt 2.
static void expand(maker *m, berry_tex *t, alts_t *out, int depth) {
    berry_tex *pm = depth < 6 ? find_pm(t, 0) : NULL;
    if (!pm) {
        if (out->n < MAX_ALTS) out->items[out->n++] = t;
        else out->overflow = true;
        return;
    }
    berry_tex *neg = make(m, NULL, BERRY_TEX_NEG, 1);
    if (!neg) return;
    neg->kids[0] = pm->kids[1];
    for (int s = 0; s < 2; s++) {
        berry_tex *second = s == 0 ? pm->kids[1] : neg, *alt = second;
        if (pm->kids[0]) {
            alt = make(m, NULL, BERRY_TEX_ADD, 2);
            if (!alt) return;
            alt->kids[0] = pm->kids[0];
            alt->kids[1] = second;
        }
        expand(m, replace(m, t, pm, alt, 0), out, depth + 1);
    }
}

static void alternatives(maker *m, berry_tex *root, alts_t *out) {
    out->n = 0;
    out->overflow = false;
    if (root->kind == BERRY_TEX_LIST || root->kind == BERRY_TEX_SET)
        for (int i = 0; i < root->n; i++) expand(m, root->kids[i], out, 0);
    else expand(m, root, out, 0);
}

static bool has_text(const berry_tex *t, int depth) {
    if (!t || depth > 200) return false;
    if (t->kind == BERRY_TEX_TEXT) return true;
    for (int i = 0; i < t->n; i++)
        if (has_text(t->kids[i], depth + 1)) return true;
    return false;
}

// Text answers ("\text{(C)}", "Evelyn", "\text{east}") and unparseable ones: lower case, with
// spacing, braces, parentheses and the names of text commands removed.
static char *text_key(const char *s, size_t n) {
    char *k = malloc(n + 1);
    if (!k) return NULL;
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\\') {
            size_t e = i + 1;
            while (e < n && isalpha((unsigned char)s[e])) e++;
            static const char *const drop[] = {"text", "textbf", "mbox", "mathrm", "textrm", "textit", "mathbf", "boxed", "left", "right", NULL};
            bool dropped = false;
            for (int d = 0; drop[d]; d++)
                if (e - i - 1 == strlen(drop[d]) && memcmp(s + i + 1, drop[d], e - i - 1) == 0) dropped = true;
            if (dropped) { i = e - 1; continue; }
            continue;
        }
        // Letters, digits and operators count; spacing, braces and parentheses do not ("(C)" is "C").
        if (isalnum((unsigned char)s[i])) k[j++] = (char)tolower((unsigned char)s[i]);
        else if (strchr("+-*/^=,.<>[]|!", s[i]) && s[i]) k[j++] = s[i];
        else if ((unsigned char)s[i] >= 0x80) k[j++] = s[i];
    }
    k[j] = 0;
    return k;
}

static bool eq_text(const char *a, const char *b, why_t *w) {
    char *x = text_key(a, strlen(a)), *y = text_key(b, strlen(b));
    bool r = x && y && x[0] && strcmp(x, y) == 0;
    say(w, "compared as text: \"%.40s\" vs \"%.40s\"", x ? x : "", y ? y : "");
    free(x);
    free(y);
    return r;
}

bool berry_math_grade(const char *answer, const char *reference, const berry_grade_opts *opts, char *why, size_t why_size) {
    why_t w = {why, why_size};
    berry_grade_opts dflt = berry_grade_defaults();
    const berry_grade_opts *o = opts ? opts : &dflt;
    if (why && why_size) why[0] = 0;
    if (!answer || !reference) { say(&w, "no answer"); return false; }
    size_t la = strlen(answer), lr = strlen(reference);
    if (la > BERRY_GRADE_MAX_LEN || lr > BERRY_GRADE_MAX_LEN) { say(&w, "answer longer than the limit"); return false; }
    berry_tex_arena *aa = NULL, *ar = NULL;
    char ea[160] = "", er[160] = "";
    berry_tex *ta = berry_tex_parse(answer, la, o->multi, &aa, ea, sizeof ea);
    berry_tex *tr = berry_tex_parse(reference, lr, o->multi, &ar, er, sizeof er);
    bool r;
    if (!ta || !tr || has_text(ta, 0) || has_text(tr, 0)) {
        r = eq_text(answer, reference, &w);
        if (!ta && why && why_size) {
            char tmp[200];
            snprintf(tmp, sizeof tmp, "%s", why);
            say(&w, "answer not parsed (%s); %s", ea, tmp);
        } else if (!tr && why && why_size) {
            char tmp[200];
            snprintf(tmp, sizeof tmp, "%s", why);
            say(&w, "reference not parsed (%s); %s", er, tmp);
        }
    } else {
        maker m = {NULL, false};
        alts_t xa, xr;
        alternatives(&m, ta, &xa);
        alternatives(&m, tr, &xr);
        if (m.oom || xa.overflow || xr.overflow) { say(&w, "too many alternatives"); r = false; }
        else if (xa.n == 1 && xr.n == 1) r = eq_node(xa.items[0], xr.items[0], o, &w, 0);
        else r = eq_multiset(xa.items, xa.n, xr.items, xr.n, o, &w, 0);
        unmake(&m);
    }
    berry_tex_arena_free(aa);
    berry_tex_arena_free(ar);
    return r;
}

bool berry_math_equal(const char *answer, const char *reference, const berry_grade_opts *opts) {
    return berry_math_grade(answer, reference, opts, NULL, 0);
}
