// prompts.c — prompt sets: the embedded role formats and the instruct templates (see prompts.h).
#include "search/prompts.h"
#include "base/alloc.h"
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// Default instruct templates, written for berry in the spirit of the papers: MCTSr's strict critic and
// harsh scorer, LLaMA-Berry's critique-then-rewrite and a Yes/No pairwise judge.
static const char *const default_system = "You are a careful mathematician. Reason step by step.";
static const char *const default_tmpl[BERRY_ROLE_COUNT] = {
    [BERRY_ROLE_SOLVE] = "Solve the following problem step by step. Put the final answer in \\boxed{}.\n\n"
                         "Problem: {question}",
    [BERRY_ROLE_CRITIQUE] = "Problem: {question}\n\nProposed solution:\n{solution}\n\n"
                            "Review this solution strictly. Check every step, point out each flaw, wrong "
                            "calculation or unjustified claim, and say how to fix it. Do not write a new solution.",
    [BERRY_ROLE_REWRITE] = "Problem: {question}\n\nProposed solution:\n{solution}\n\nReview:\n{critique}\n\n"
                           "Using the review, write an improved complete solution step by step. Put the final "
                           "answer in \\boxed{}.",
    [BERRY_ROLE_SELFEVAL] = "Problem: {question}\n\nProposed solution:\n{solution}\n\n"
                            "Analyze this solution strictly and critically; be harsh and never give full marks "
                            "lightly. Then rate it from -100 to 100. End with a line of the form \"Score: N\".",
    [BERRY_ROLE_COMPARE] = "Problem: {question}\n\nSolution A:\n{solution}\n\nSolution B:\n{other}\n\n"
                           "Is Solution A more likely than Solution B to be correct and well reasoned? "
                           "Answer with Yes or No only.",
};

void berry_prompts_free(berry_prompts *p) {
    if (!p) return;
    free(p->system);
    for (int r = 0; r < BERRY_ROLE_COUNT; r++) free(p->tmpl[r]);
    memset(p, 0, sizeof *p);
}

berry_status berry_prompts_init(berry_prompts *p, berry_prompts_kind kind, char *err, size_t err_size) {
    memset(p, 0, sizeof *p);
    p->kind = kind;
    p->yes = BERRY_ROLE_YES;
    p->no = BERRY_ROLE_NO;
    if (kind == BERRY_PROMPTS_EMBEDDED) {
        // The embedded model ends a solution with EOS; a new "Question:" would mean it ran on.
        p->stop[0] = "\nQuestion:";
        p->n_stop = 1;
        p->check = true;
        p->rewrite_start = true;
        return BERRY_OK;
    }
    p->system = berry_strdup(default_system);
    bool ok = p->system != NULL;
    for (int r = 0; r < BERRY_ROLE_COUNT; r++) ok = (p->tmpl[r] = berry_strdup(default_tmpl[r])) && ok;
    if (!ok) { berry_prompts_free(p); return berry_errf(err, err_size, BERRY_ENOMEM, "prompts: out of memory"); }
    return BERRY_OK;
}

static int section_of(const char *s, size_t n) {
    if (n == 6 && !memcmp(s, "system", 6)) return BERRY_ROLE_COUNT;
    for (int r = 0; r < BERRY_ROLE_COUNT; r++) {
        const char *name = berry_role_name((berry_role)r);
        if (strlen(name) == n && !memcmp(s, name, n)) return r;
    }
    return -1;
}

// Stores TEXT[0..n) without its trailing newlines as section SEC of P.
static bool set_section(berry_prompts *p, int sec, const char *text, size_t n) {
    while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == '\r')) n--;
    char *c = berry_strndup(text, n);
    if (!c) return false;
    char **slot = sec == BERRY_ROLE_COUNT ? &p->system : &p->tmpl[sec];
    free(*slot);
    *slot = c;
    return true;
}

berry_status berry_prompts_load(berry_prompts *p, const char *text, size_t len, char *err, size_t err_size) {
    if (p->kind == BERRY_PROMPTS_EMBEDDED) {
        berry_prompts_free(p);
        berry_status s = berry_prompts_init(p, BERRY_PROMPTS_INSTRUCT, err, err_size);
        if (s != BERRY_OK) return s;
    }
    int sec = -1, line = 0;
    size_t body = 0, i = 0;
    while (i < len) {
        size_t e = i;
        while (e < len && text[e] != '\n') e++;
        line++;
        size_t n = e - i;
        if (n > 0 && text[i + n - 1] == '\r') n--;
        const char *l = text + i;
        bool header = n >= 2 && l[0] == '[' && l[n - 1] == ']';
        if (header) {
            int next = section_of(l + 1, n - 2);
            if (next < 0)
                return berry_errf(err, err_size, BERRY_EINVAL, "prompts line %d: unknown section '%.*s' (system, solve, "
                                  "critique, rewrite, selfeval, compare)", line, (int)(n < 60 ? n : 60), l);
            if (sec >= 0 && !set_section(p, sec, text + body, i - body))
                return berry_errf(err, err_size, BERRY_ENOMEM, "prompts: out of memory");
            sec = next;
            body = e < len ? e + 1 : len;
        } else if (sec < 0 && !(n == 0 || l[0] == '#')) {
            return berry_errf(err, err_size, BERRY_EINVAL, "prompts line %d: text before the first [section]", line);
        }
        i = e < len ? e + 1 : len;
    }
    if (sec >= 0 && !set_section(p, sec, text + body, len - body))
        return berry_errf(err, err_size, BERRY_ENOMEM, "prompts: out of memory");
    return BERRY_OK;
}

// TMPL with the placeholders replaced (malloc'd), or NULL when memory runs out.
static char *fill(const char *tmpl, const berry_role_args *a) {
    static const char *const names[] = {"{question}", "{solution}", "{critique}", "{other}"};
    const char *vals[] = {a->question, a->solution, a->critique, a->other};
    for (int pass = 0, cap = 0;; pass++) {
        char *out = pass ? malloc((size_t)cap + 1) : NULL;
        if (pass && !out) return NULL;
        size_t n = 0;
        for (const char *t = tmpl; *t;) {
            int k = -1;
            for (int j = 0; j < 4 && k < 0 && *t == '{'; j++)
                if (!strncmp(t, names[j], strlen(names[j]))) k = j;
            const char *piece = k >= 0 ? (vals[k] ? vals[k] : "") : t;
            size_t pl = k >= 0 ? strlen(piece) : 1;
            if (out) memcpy(out + n, piece, pl);
            n += pl;
            t += k >= 0 ? strlen(names[k]) : 1;
        }
        if (out) { out[n] = 0; return out; }
        if (n > (size_t)1 << 30) return NULL;
        cap = (int)n;
    }
}

char *berry_prompts_render(const berry_prompts *p, berry_lm *lm, berry_role role, const berry_role_args *a) {
    if ((unsigned)role >= BERRY_ROLE_COUNT) return NULL;
    if (p->kind == BERRY_PROMPTS_EMBEDDED) {
        size_t n = berry_role_prompt(NULL, 0, role, a);
        char *buf = malloc(n + 1);
        if (buf) berry_role_prompt(buf, n + 1, role, a);
        return buf;
    }
    char *user = fill(p->tmpl[role] ? p->tmpl[role] : default_tmpl[role], a);
    if (!user) return NULL;
    berry_chat_msg msgs[2];
    int nm = 0;
    if (p->system && p->system[0]) msgs[nm++] = (berry_chat_msg){"system", p->system};
    msgs[nm++] = (berry_chat_msg){"user", user};
    char *out = berry_lm_chat(lm, msgs, nm, true);
    free(user);
    return out;
}

bool berry_prompts_parse_score(const char *text, double *score) {
    const char *last = NULL;
    for (const char *t = text; (t = strstr(t, "Score")) != NULL; t++) last = t;
    if (!last) return false;
    const char *t = last + 5;
    while (*t == ':' || *t == ' ' || *t == '*' || *t == '[' || *t == ']' || *t == '\t') t++;
    if (!(*t == '-' || *t == '+' || isdigit((unsigned char)*t))) return false;
    char *end;
    double v = strtod(t, &end);
    if (end == t || v != v) return false;
    *score = v < -100 ? -100 : v > 100 ? 100 : v;
    return true;
}
