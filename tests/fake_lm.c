// fake_lm.c — the scripted berry_lm of fake_lm.h.
#include "fake_lm.h"
#include <ctype.h>
#include <math.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int words(const char *s) {
    int n = 0, in = 0;
    for (; *s; s++) {
        int sp = isspace((unsigned char)*s);
        if (!sp && !in) n++;
        in = !sp;
    }
    return n;
}

static berry_status fake_generate(berry_lm *lm, const berry_lm_request *reqs, int n, berry_lm_output *out, char *err,
                                  size_t err_size) {
    fake_lm *f = lm->impl;
    if (f->n_generate < 256) {
        f->batch[f->n_generate] = n;
        f->temperature[f->n_generate] = n ? reqs[0].sampling.temperature : -1;
    }
    f->n_generate++;
    for (int i = 0; i < n; i++) {
        int pt = words(reqs[i].prompt);
        lm->counters.prompt_tokens += pt;
        lm->counters.prompt_tokens_evaluated += pt;
        if (f->max_prompt && strlen(reqs[i].prompt) > f->max_prompt) {
            out[i].text = calloc(1, 1);
            out[i].finish = BERRY_FINISH_CONTEXT;
            continue;
        }
        char *t = f->reply ? f->reply(f->user, reqs[i].prompt, &reqs[i].sampling, i) : NULL;
        if (!t) t = calloc(1, 1);
        if (!t) return berry_errf(err, err_size, BERRY_ENOMEM, "fake: out of memory");
        out[i].text = t;
        out[i].len = strlen(t);
        out[i].n_tokens = words(t);
        out[i].finish = BERRY_FINISH_EOS;
        lm->counters.tokens_generated += out[i].n_tokens;
    }
    return BERRY_OK;
}

static berry_status fake_score(berry_lm *lm, const char *prompt, const char *const *conts, int n, double *logprob,
                               char *err, size_t err_size) {
    fake_lm *f = lm->impl;
    f->n_score++;
    if (f->max_prompt && strlen(prompt) > f->max_prompt)
        return berry_errf(err, err_size, BERRY_ELIMIT, "fake: prompt exceeds the context");
    for (int i = 0; i < 2; i++) snprintf(f->last_conts[i], sizeof f->last_conts[i], "%s", i < n ? conts[i] : "");
    lm->counters.prompt_tokens += words(prompt);
    lm->counters.prompt_tokens_evaluated += words(prompt);
    // The embedded judge's continuations must be the prompt's own A and B check lines, in that order,
    // less the words they begin with in common, which end the prompt (after the question line).
    const char *tail = strstr(prompt, "\nIs solution A better than solution B?\n");
    if (n == 2 && tail && strcmp(conts[0], "Yes")) {
        tail += strlen("\nIs solution A better than solution B?\n");
        size_t k = strlen(tail);
        char *whole = fake_strf("%.*s", (int)(tail - prompt), prompt), *ca, *cb;
        if (!whole || !berry_role_compare_checks_of(whole, &ca, &cb)) {
            free(whole);
            return berry_errf(err, err_size, BERRY_EINVAL, "fake: check lines for a prompt that is not a comparison");
        }
        bool same = !strncmp(ca, tail, k) && !strncmp(cb, tail, k) && !strcmp(ca + k, conts[0]) && !strcmp(cb + k, conts[1]);
        free(whole);
        free(ca);
        free(cb);
        if (!same) return berry_errf(err, err_size, BERRY_EINVAL, "fake: the check lines are not A's and B's");
    }
    double p = f->judge ? f->judge(f->user, prompt) : 0.5;
    for (int i = 0; i < n; i++) {
        bool check = tail != NULL && n == 2;  // the embedded judge's two lines
        if (!strcmp(conts[i], "Yes") || (check && i == 0)) logprob[i] = log(p);
        else if (!strcmp(conts[i], "No") || (check && i == 1)) logprob[i] = log(1 - p);
        else logprob[i] = -INFINITY;
    }
    return BERRY_OK;
}

// One fake_score per request, in order; the batch's size is recorded so that tests see how search
// groups its comparisons. A prompt over MAX_PROMPT is refused alone, as a real lm refuses it.
static berry_status fake_score_batch(berry_lm *lm, const berry_lm_score_request *reqs, int n, berry_status *status,
                                     char *err, size_t err_size) {
    fake_lm *f = lm->impl;
    if (f->n_score_batch < 256) f->score_batch[f->n_score_batch] = n;
    f->n_score_batch++;
    for (int i = 0; i < n; i++) {
        status[i] = fake_score(lm, reqs[i].prompt, reqs[i].conts, reqs[i].n_conts, reqs[i].logprob, err, err_size);
        if (status[i] != BERRY_OK && status[i] != BERRY_ELIMIT) return status[i];
    }
    return BERRY_OK;
}

// A chat format of its own, so tests see that instruct prompts went through the template.
static char *fake_chat(berry_lm *lm, const berry_chat_msg *msgs, int n, bool add_generation_prompt) {
    size_t len = 32;
    for (int i = 0; i < n; i++) len += strlen(msgs[i].role) + strlen(msgs[i].content) + 8;
    char *s = malloc(len), *p = s;
    if (!s) return NULL;
    for (int i = 0; i < n; i++) p += sprintf(p, "<%s>%s</>", msgs[i].role, msgs[i].content);
    if (add_generation_prompt) p += sprintf(p, "<assistant>");
    *p = 0;
    return s;
}

static void fake_free(berry_lm *lm) { free(lm); }

static const berry_lm_vtable fake_vt = {.generate = fake_generate, .score = fake_score, .chat = fake_chat, .free = fake_free,
                                        .score_batch = fake_score_batch};

berry_lm *fake_lm_new(fake_lm *f) {
    berry_lm *lm = calloc(1, sizeof *lm);
    if (!lm) return NULL;
    lm->vt = &fake_vt;
    lm->impl = f;
    return lm;
}

int fake_role_of(const char *prompt) {
    static const char *const tails[] = {"Solve step by step.\n", "Find the first wrong step.\n",
                                        "Write a correct solution.\n", "Score the solution from -100 to 100.\n",
                                        "Is solution A better than solution B?\n"};
    size_t n = strlen(prompt);
    for (int r = 0; r < 5; r++) {
        size_t k = strlen(tails[r]);
        if (n >= k && !strcmp(prompt + n - k, tails[r])) return r;
    }
    // A rewrite may end with the start taken from its critique (berry_role_rewrite_start).
    if (strstr(prompt, "\nWrite a correct solution.\n")) return BERRY_ROLE_REWRITE;
    return -1;
}

// The text from HEAD to the first of the section ends after it, in BUF.
static const char *section(const char *prompt, const char *head, char *buf, size_t size) {
    buf[0] = 0;
    const char *s = strstr(prompt, head);
    if (!s) return buf;
    s += strlen(head);
    static const char *const ends[] = {"\nSolution B:\n", "\nCritique: ", "\nFind the first", "\nWrite a correct",
                                       "\nScore the solution", "Solution A goes on:\n", "\nSolution B goes on:\n",
                                       "\nIs solution A"};
    const char *e = s + strlen(s);
    for (int i = 0; i < 8; i++) {
        const char *x = strstr(s, ends[i]);
        if (x && x < e) e = x;
    }
    size_t n = (size_t)(e - s) < size - 1 ? (size_t)(e - s) : size - 1;
    memcpy(buf, s, n);
    buf[n] = 0;
    return buf;
}

const char *fake_section(const char *prompt, const char *head, char *buf, size_t size) {
    bool a = !strcmp(head, "Solution A:\n"), b = !strcmp(head, "Solution B:\n");
    if ((!a && !b) || !strstr(prompt, "Both solutions begin:\n")) return section(prompt, head, buf, size);
    // A comparison: the shared lines, then the solution's own rest.
    section(prompt, "Both solutions begin:\n", buf, size);
    size_t k = strlen(buf);
    section(prompt, a ? "Solution A goes on:\n" : "Solution B goes on:\n", buf + k, size - k);
    size_t n = strlen(buf);
    if (n > 0 && n == k) buf[n - 1] = 0;  // nothing of its own: the shared lines ended it
    return buf;
}

long fake_answer_of(const char *text, long fallback) {
    const char *s = strstr(text, "The answer is ");
    return s ? strtol(s + 14, NULL, 10) : fallback;
}

char *fake_strf(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *s = malloc((size_t)n + 1);
    if (!s) return NULL;
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}
