// lm_local.c — generation and scoring on a local model.
//
// A generate call runs in two phases. Prefill: each prompt gets a KV sequence; the longest prefix
// already in the cache (from earlier prompts of this call or of earlier calls) is attached instead of
// recomputed, and a prompt identical to an earlier one of the same call forks that sequence and its
// last logits. Prompts that share nothing pending are packed into one forward. Decode: every live
// sequence advances one token per forward, so the weights are read once per step for all of them.
// A score call (one prompt, or a batch of them with berry_lm_score_batch) evaluates the uncached parts
// of its prompts together in rounds, reusing exactly what sequential calls would (score_group).
#include "lm/lm_local.h"
#include "base/alloc.h"
#include "model/forward.h"
#include "model/lora.h"
#include "model/model.h"
#include "text/chat.h"
#include "text/sampler.h"
#include "text/tokenizer.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    berry_model *model;
    berry_tokenizer *tok;
    berry_ctx *ctx;
    berry_lora *lora;      // NULL without --lora
    int n_ctx, n_vocab, max_batch;
    bool no_prefix_cache;
} local;

// Per-request state during a generate call.
typedef struct {
    int32_t *prompt;       // prompt tokens
    int64_t n_prompt;
    int seq;               // KV sequence, -1 when none
    int same_as;           // index of an earlier identical prompt, or -1
    bool live;             // still generating
    float *logits;         // (n_vocab) logits for the next token
    berry_sampler *sampler;
    berry_detok *detok;
    char *text;            // generated text so far
    size_t len, cap;
    size_t streamed;       // bytes of text already passed to the request's stream callback
    int32_t *tokens;       // generated tokens, when wanted
    float *lps;
    int n_gen, cap_gen;
} req_state;

static local *L(berry_lm *lm) { return lm->impl; }

// Tokenizes TEXT into a malloc'd array; -1 on error.
static int64_t tokenize_alloc(const berry_tokenizer *t, const char *text, bool add_bos, int32_t **out, char *err,
                              size_t err_size) {
    size_t len = strlen(text);
    int64_t cap = (int64_t)len + 8;
    int32_t *buf = malloc((size_t)cap * sizeof *buf);
    if (!buf) return berry_errf(err, err_size, BERRY_ENOMEM, "out of memory"), -1;
    int64_t n = berry_tokenize(t, text, len, add_bos, true, buf, cap, err, err_size);
    if (n > cap) {  // cannot happen for byte-level vocabularies, but the API allows it
        int32_t *b2 = realloc(buf, (size_t)n * sizeof *buf);
        if (!b2) { free(buf); return berry_errf(err, err_size, BERRY_ENOMEM, "out of memory"), -1; }
        buf = b2;
        n = berry_tokenize(t, text, len, add_bos, true, buf, n, err, err_size);
    }
    if (n < 0) { free(buf); return -1; }
    *out = buf;
    return n;
}

// Appends BYTES to the request's text.
static bool text_append(req_state *r, const char *bytes, size_t n) {
    if (r->len + n + 1 > r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 256;
        while (cap < r->len + n + 1) cap *= 2;
        char *t = realloc(r->text, cap);
        if (!t) return false;
        r->text = t;
        r->cap = cap;
    }
    memcpy(r->text + r->len, bytes, n);
    r->len += n;
    r->text[r->len] = 0;
    return true;
}

// Looks for a stop string ending in the last NEW bytes of the text; truncates there and returns true.
static bool hit_stop(req_state *r, const berry_sampling *s, size_t new_bytes) {
    for (int i = 0; i < s->n_stop; i++) {
        size_t sl = strlen(s->stop[i]);
        if (!sl || sl > r->len) continue;
        size_t from = r->len > new_bytes + sl ? r->len - new_bytes - sl : 0;
        char *p = memmem(r->text + from, r->len - from, s->stop[i], sl);
        if (p) {
            r->len = (size_t)(p - r->text);
            r->text[r->len] = 0;
            return true;
        }
    }
    return false;
}

// Evaluates the prompt tokens of the requests in IDX[0..n) from their sequences' current lengths,
// packing them into forwards of at most max_batch tokens; stores each one's last logits.
static berry_status prefill(berry_lm *lm, req_state *rs, const int *idx, int n, char *err, size_t err_size) {
    local *l = L(lm);
    berry_kv *kv = berry_ctx_kv(l->ctx);
    int mb = l->max_batch;
    int32_t *tok = malloc((size_t)mb * sizeof *tok), *seq = malloc((size_t)mb * sizeof *seq);
    uint8_t *want = malloc((size_t)mb);
    int *owner = malloc((size_t)mb * sizeof *owner);
    // Only each prompt's last token wants logits, so a batch needs at most N rows, not MB.
    float *logits = malloc((size_t)(n < mb ? n : mb) * (size_t)l->n_vocab * sizeof(float));
    berry_status s = (tok && seq && want && owner && logits) ? BERRY_OK : berry_errf(err, err_size, BERRY_ENOMEM, "out of memory");
    int k = 0;
    int64_t next = n > 0 ? berry_kv_seq_len(kv, rs[idx[0]].seq) : 0;  // next prompt position of request idx[k]
    while (s == BERRY_OK && k < n) {
        int nb = 0, n_want = 0;
        // Fill one batch: the remaining prompt of request k, then of k+1, ...
        while (k < n && nb < mb) {
            req_state *r = &rs[idx[k]];
            while (next < r->n_prompt && nb < mb) {
                tok[nb] = r->prompt[next];
                seq[nb] = r->seq;
                want[nb] = next == r->n_prompt - 1;
                if (want[nb]) owner[n_want++] = idx[k];
                nb++;
                next++;
            }
            if (next == r->n_prompt) {
                k++;
                if (k < n) next = berry_kv_seq_len(kv, rs[idx[k]].seq);
            }
        }
        berry_batch b = {.n = nb, .token = tok, .seq = seq, .logits = want};
        s = berry_forward(l->ctx, &b, logits, err, err_size);
        if (s != BERRY_OK) break;
        lm->counters.prompt_tokens_evaluated += nb;
        for (int j = 0; j < n_want; j++)
            memcpy(rs[owner[j]].logits, logits + (size_t)j * l->n_vocab, (size_t)l->n_vocab * sizeof(float));
    }
    free(tok);
    free(seq);
    free(want);
    free(owner);
    free(logits);
    return s;
}

// Prepares every request's KV sequence and first logits: identical prompts fork, shared prefixes are
// attached from the cache, the rest is evaluated.
static berry_status start_requests(berry_lm *lm, req_state *rs, int n, char *err, size_t err_size) {
    local *l = L(lm);
    berry_kv *kv = berry_ctx_kv(l->ctx);
    int pt = berry_kv_page_tokens(kv);
    int *pending = malloc(sizeof(int) * (size_t)(n > 0 ? n : 1));
    if (!pending) return berry_errf(err, err_size, BERRY_ENOMEM, "out of memory");
    int np = 0;
    berry_status s = BERRY_OK;
    for (int i = 0; i < n && s == BERRY_OK; i++) {
        req_state *r = &rs[i];
        lm->counters.prompt_tokens += r->n_prompt;
        for (int j = 0; j < i && r->same_as < 0 && !l->no_prefix_cache; j++)
            if (rs[j].n_prompt == r->n_prompt && !memcmp(rs[j].prompt, r->prompt, (size_t)r->n_prompt * sizeof(int32_t)))
                r->same_as = rs[j].same_as >= 0 ? rs[j].same_as : j;
        if (r->same_as >= 0) continue;  // forked after the prefill
        // A prompt sharing at least a page with one still pending must wait for it to be committed.
        bool shares = false;
        for (int j = 0; j < np && !shares && !l->no_prefix_cache; j++) {
            req_state *o = &rs[pending[j]];
            int64_t m = 0, lim = o->n_prompt < r->n_prompt ? o->n_prompt : r->n_prompt;
            while (m < lim && o->prompt[m] == r->prompt[m]) m++;
            shares = m >= pt;
        }
        if (shares) {
            s = prefill(lm, rs, pending, np, err, err_size);
            np = 0;
            if (s != BERRY_OK) break;
        }
        r->seq = berry_kv_seq_new(kv);
        if (r->seq < 0) { s = berry_errf(err, err_size, BERRY_ELIMIT, "too many sequences at once (%d requests)", n); break; }
        if (!l->no_prefix_cache) berry_kv_seq_reuse(kv, r->seq, r->prompt, (int)r->n_prompt);
        pending[np++] = i;
    }
    if (s == BERRY_OK && np) s = prefill(lm, rs, pending, np, err, err_size);
    for (int i = 0; i < n && s == BERRY_OK; i++) {
        req_state *r = &rs[i];
        if (r->same_as < 0) continue;
        r->seq = berry_kv_seq_fork(kv, rs[r->same_as].seq);
        if (r->seq < 0) { s = berry_errf(err, err_size, BERRY_ELIMIT, "too many sequences at once (%d requests)", n); break; }
        memcpy(r->logits, rs[r->same_as].logits, (size_t)l->n_vocab * sizeof(float));
    }
    free(pending);
    return s;
}

// Passes new text to the request's stream callback, holding back the bytes that could still become
// the start of a stop string (all of them once FINAL).
static void stream_out(const berry_lm_request *q, int i, req_state *r, bool final) {
    if (!q->stream) return;
    size_t hold = 0;
    for (int k = 0; !final && k < q->sampling.n_stop; k++) {
        size_t sl = strlen(q->sampling.stop[k]);
        if (sl > 0 && sl - 1 > hold) hold = sl - 1;
    }
    size_t upto = r->len > hold ? r->len - hold : 0;
    if (final) upto = r->len;
    if (upto > r->streamed) {
        q->stream(q->stream_user, i, r->text + r->streamed, upto - r->streamed);
        r->streamed = upto;
    }
}

// Samples request R's next token from its logits and records it; returns the token, or -1 when the
// request finished (the finish reason is stored in OUT).
static int32_t step_request(berry_lm *lm, req_state *r, const berry_sampling *sp, berry_lm_output *out, char *err,
                            size_t err_size, berry_status *st) {
    local *l = L(lm);
    berry_sample smp;
    *st = berry_sampler_sample(r->sampler, r->logits, l->n_vocab, &smp, err, err_size);
    if (*st != BERRY_OK) return -1;
    if (berry_tokenizer_is_eog(l->tok, smp.token)) { out->finish = BERRY_FINISH_EOS; return -1; }
    lm->counters.tokens_generated++;
    out->logprob += smp.logprob;
    if (sp->want_tokens) {
        if (r->n_gen == r->cap_gen) {
            int cap = r->cap_gen ? 2 * r->cap_gen : 64;
            int32_t *t = realloc(r->tokens, (size_t)cap * sizeof *t);
            if (t) r->tokens = t;
            float *p = realloc(r->lps, (size_t)cap * sizeof *p);
            if (p) r->lps = p;
            if (!t || !p) { *st = berry_errf(err, err_size, BERRY_ENOMEM, "out of memory"); return -1; }
            r->cap_gen = cap;
        }
        r->tokens[r->n_gen] = smp.token;
        r->lps[r->n_gen] = smp.logprob;
    }
    r->n_gen++;
    size_t nb = 0;
    const char *bytes = berry_detok_push(r->detok, smp.token, &nb);
    if (!bytes || !text_append(r, bytes, nb)) { *st = berry_errf(err, err_size, BERRY_ENOMEM, "out of memory"); return -1; }
    if (nb && hit_stop(r, sp, nb)) { out->finish = BERRY_FINISH_STOP; return -1; }
    if (r->n_gen >= sp->max_tokens) { out->finish = BERRY_FINISH_LENGTH; return -1; }
    if (r->n_prompt + r->n_gen >= l->n_ctx) { out->finish = BERRY_FINISH_CONTEXT; return -1; }
    return smp.token;
}

static berry_status local_generate(berry_lm *lm, const berry_lm_request *reqs, int n, berry_lm_output *out, char *err,
                                   size_t err_size) {
    local *l = L(lm);
    berry_kv *kv = berry_ctx_kv(l->ctx);
    if (n == 0) return BERRY_OK;
    req_state *rs = calloc((size_t)n, sizeof *rs);
    int32_t *tok = malloc((size_t)n * sizeof *tok), *seq = malloc((size_t)n * sizeof *seq);
    int *who = malloc((size_t)n * sizeof *who);
    float *logits = malloc((size_t)n * (size_t)l->n_vocab * sizeof(float));
    berry_status s = (rs && tok && seq && who && logits) ? BERRY_OK : berry_errf(err, err_size, BERRY_ENOMEM, "out of memory");
    for (int i = 0; i < n && s == BERRY_OK; i++) {
        req_state *r = &rs[i];
        const berry_sampling *sp = &reqs[i].sampling;
        r->seq = r->same_as = -1;
        if (!reqs[i].prompt) { s = berry_errf(err, err_size, BERRY_EINVAL, "request %d has no prompt", i); break; }
        r->n_prompt = tokenize_alloc(l->tok, reqs[i].prompt, true, &r->prompt, err, err_size);
        if (r->n_prompt < 0) { s = BERRY_EINVAL; break; }
        if (r->n_prompt == 0) { s = berry_errf(err, err_size, BERRY_EINVAL, "request %d: empty prompt", i); break; }
        berry_sampler_params p = {.temperature = sp->temperature, .top_k = sp->top_k, .top_p = sp->top_p,
                                  .min_p = sp->min_p, .seed = sp->seed, .logprobs = true};
        r->sampler = berry_sampler_create(&p, err, err_size);
        if (!r->sampler) { s = BERRY_EINVAL; break; }
        berry_sampler_seed(r->sampler, sp->seed, sp->stream);
        r->detok = berry_detok_new(l->tok, true);
        r->logits = malloc((size_t)l->n_vocab * sizeof(float));
        if (!r->detok || !r->logits || !text_append(r, "", 0)) { s = berry_errf(err, err_size, BERRY_ENOMEM, "out of memory"); break; }
        r->live = true;
        if (r->n_prompt >= l->n_ctx || sp->max_tokens <= 0) {
            r->live = false;
            out[i].finish = r->n_prompt >= l->n_ctx ? BERRY_FINISH_CONTEXT : BERRY_FINISH_LENGTH;
        }
    }
    // Requests that cannot run (too long a prompt) get no sequence.
    if (s == BERRY_OK) {
        int n_run = 0;
        for (int i = 0; i < n; i++) n_run += rs[i].live;
        req_state *run = calloc((size_t)(n_run ? n_run : 1), sizeof *run);
        int *map = malloc(sizeof(int) * (size_t)(n_run ? n_run : 1));
        if (!run || !map) s = berry_errf(err, err_size, BERRY_ENOMEM, "out of memory");
        // start_requests works on a dense array; copy the live states in and back.
        for (int i = 0, k = 0; s == BERRY_OK && i < n; i++)
            if (rs[i].live) { map[k] = i; run[k++] = rs[i]; }
        if (s == BERRY_OK) s = start_requests(lm, run, n_run, err, err_size);
        for (int k = 0; run && map && k < n_run; k++) rs[map[k]] = run[k];
        free(run);
        free(map);
    }
    // Decode: sample one token for every live request, then evaluate all of them in one forward.
    while (s == BERRY_OK) {
        int nb = 0;
        for (int i = 0; i < n && s == BERRY_OK; i++) {
            if (!rs[i].live) continue;
            int32_t t = step_request(lm, &rs[i], &reqs[i].sampling, &out[i], err, err_size, &s);
            if (t < 0) {
                rs[i].live = false;
                if (s == BERRY_OK) {
                    size_t nb2 = 0;
                    const char *rest = berry_detok_flush(rs[i].detok, &nb2);
                    if (rest && nb2 && out[i].finish != BERRY_FINISH_STOP) text_append(&rs[i], rest, nb2);
                    stream_out(&reqs[i], i, &rs[i], true);
                }
                continue;
            }
            stream_out(&reqs[i], i, &rs[i], false);
            tok[nb] = t;
            seq[nb] = rs[i].seq;
            who[nb++] = i;
        }
        if (s != BERRY_OK || nb == 0) break;
        for (int b0 = 0; b0 < nb && s == BERRY_OK; b0 += l->max_batch) {
            int cnt = nb - b0 < l->max_batch ? nb - b0 : l->max_batch;
            berry_batch b = {.n = cnt, .token = tok + b0, .seq = seq + b0};
            s = berry_forward(l->ctx, &b, logits, err, err_size);
            for (int j = 0; s == BERRY_OK && j < cnt; j++)
                memcpy(rs[who[b0 + j]].logits, logits + (size_t)j * l->n_vocab, (size_t)l->n_vocab * sizeof(float));
        }
    }
    for (int i = 0; i < n && rs; i++) {
        req_state *r = &rs[i];
        if (s == BERRY_OK) {
            out[i].text = r->text;
            out[i].len = r->len;
            out[i].n_tokens = r->n_gen;
            if (reqs[i].sampling.want_tokens) { out[i].tokens = r->tokens; out[i].token_logprobs = r->lps; }
            else { free(r->tokens); free(r->lps); }
        } else {
            free(r->text);
            free(r->tokens);
            free(r->lps);
        }
        if (r->seq >= 0) berry_kv_seq_free(kv, r->seq);
        free(r->prompt);
        free(r->logits);
        berry_sampler_free(r->sampler);
        berry_detok_free(r->detok);
    }
    if (s != BERRY_OK)
        for (int i = 0; i < n; i++) memset(&out[i], 0, sizeof out[i]);
    free(rs);
    free(tok);
    free(seq);
    free(who);
    free(logits);
    return s;
}

// Scoring, one request or many. Request i's prompt (n_i tokens) may share a prefix with what the cache
// holds (C_i positions, attached at the start) and with the prompts of the requests before it: scored one
// after another, it would reuse from those the whole pages of min(lcp(i, j), n_i - 1) positions for the
// best earlier j, B_i of them. When B_i > C_i the request waits until its parent j (the earliest
// reaching B_i) has been evaluated and then attaches those positions from the index. A round evaluates
// every request that is ready, all in one forward (several when they exceed max_batch tokens), so the
// forwards are as many as the levels of the prompts' branching, not one per prompt: for a new solution
// compared with n others, the first prompt (with the shared "question, solution A") in one, the other
// endings together in the next (a few more where some of the others begin alike). Each request
// evaluates n_i - max(C_i, B_i) tokens, as the sequential calls would. (Stopping the parent at B_i and
// evaluating its rest beside its children would not save a round: a request is ready one round after
// its parent either way.)
//
// Continuations: the first token's log-probability comes from the prompt's last logits; a longer one runs
// on a fork of the prompt with logits at every position, all forks of the group in shared forwards,
// after every prompt (so, unlike sequential calls, no prompt reuses an earlier request's continuation).

enum { SCORE_GROUP = 64, SCORE_FORKS = 32, SCORE_ROWS = 64 };

typedef struct {
    int32_t **ct;     // (n_conts) continuation tokens
    int64_t *nct;
    bool ok;          // fits and will be scored
    int parent;       // earlier request whose first NEED positions this one waits for, or -1
    int need;
} score_extra;

static int64_t lcp_tokens(const req_state *a, const req_state *b) {
    int64_t m = 0, lim = a->n_prompt < b->n_prompt ? a->n_prompt : b->n_prompt;
    while (m < lim && a->prompt[m] == b->prompt[m]) m++;
    return m;
}

// Log-probabilities of the continuations of more than one token, SCORE_FORKS forks at a time, their
// tokens packed into forwards of at most SCORE_ROWS rows (each row's logits are kept: (rows, n_vocab)).
static berry_status score_long_conts(berry_lm *lm, const berry_lm_score_request *reqs, req_state *rs,
                                     score_extra *ex, int n, char *err, size_t err_size) {
    local *l = L(lm);
    berry_kv *kv = berry_ctx_kv(l->ctx);
    int rows = SCORE_ROWS < l->max_batch ? SCORE_ROWS : l->max_batch;
    int64_t cap = 0;  // tokens of one chunk of forks at most
    for (int i = 0; i < n; i++)
        for (int c = 0; ex[i].ok && c < reqs[i].n_conts; c++)
            if (ex[i].nct[c] > 1) cap += ex[i].nct[c] - 1;
    if (cap == 0) return BERRY_OK;
    int32_t *tok = malloc((size_t)cap * sizeof *tok), *seq = malloc((size_t)cap * sizeof *seq);
    int32_t *target = malloc((size_t)cap * sizeof *target);
    double **sum = malloc((size_t)cap * sizeof *sum);
    int *forks = malloc(SCORE_FORKS * sizeof *forks);
    float *lg = malloc((size_t)rows * (size_t)l->n_vocab * sizeof(float)), *lp = malloc((size_t)rows * sizeof(float));
    berry_status s = tok && seq && target && sum && forks && lg && lp ? BERRY_OK : berry_errf(err, err_size, BERRY_ENOMEM, "out of memory");
    int i = 0, c = 0;  // the next continuation to look at
    while (s == BERRY_OK) {
        int nf = 0;
        int64_t nt = 0;
        while (i < n && nf < SCORE_FORKS) {
            if (!ex[i].ok || c >= reqs[i].n_conts) { i++; c = 0; continue; }
            int64_t nc = ex[i].nct[c];
            if (nc > 1) {
                int f = berry_kv_seq_fork(kv, rs[i].seq);
                if (f < 0) { s = berry_errf(err, err_size, BERRY_ELIMIT, "score: too many sequences at once"); break; }
                forks[nf++] = f;
                // Positions of continuation tokens 0..nc-2 predict tokens 1..nc-1.
                for (int64_t k = 0; k + 1 < nc; k++, nt++) {
                    tok[nt] = ex[i].ct[c][k];
                    seq[nt] = f;
                    target[nt] = ex[i].ct[c][k + 1];
                    sum[nt] = &reqs[i].logprob[c];
                }
            }
            c++;
        }
        if (nf == 0) break;
        for (int64_t p0 = 0; s == BERRY_OK && p0 < nt; p0 += rows) {
            int cnt = (int)(nt - p0 < rows ? nt - p0 : rows);
            berry_batch b = {.n = cnt, .token = tok + p0, .seq = seq + p0};
            s = berry_forward(l->ctx, &b, lg, err, err_size);
            if (s == BERRY_OK) s = berry_sampler_logprobs_rows(lg, cnt, l->n_vocab, target + p0, lp, err, err_size);
            for (int j = 0; s == BERRY_OK && j < cnt; j++) *sum[p0 + j] += lp[j];
            if (s == BERRY_OK) lm->counters.prompt_tokens_evaluated += cnt;
        }
        for (int k = 0; k < nf; k++) berry_kv_seq_free(kv, forks[k]);
    }
    free(tok);
    free(seq);
    free(target);
    free(sum);
    free(forks);
    free(lg);
    free(lp);
    return s;
}

// Scores REQS[0..n) (n <= SCORE_GROUP: one KV sequence each) as described above. STATUS as for
// berry_lm_score_batch; *REFUSED is set when a request is refused (ERR then names the first one).
static berry_status score_group(berry_lm *lm, const berry_lm_score_request *reqs, int n, berry_status *status,
                                bool *refused, char *err, size_t err_size) {
    local *l = L(lm);
    berry_kv *kv = berry_ctx_kv(l->ctx);
    int pt = berry_kv_page_tokens(kv);
    req_state *rs = calloc((size_t)n, sizeof *rs);
    score_extra *ex = calloc((size_t)n, sizeof *ex);
    int *idx = malloc((size_t)n * sizeof *idx);
    berry_status s = rs && ex && idx ? BERRY_OK : berry_errf(err, err_size, BERRY_ENOMEM, "out of memory");
    for (int i = 0; i < n && rs; i++) rs[i].seq = rs[i].same_as = -1;
    // Tokenize; refuse what does not fit before anything is evaluated.
    for (int i = 0; i < n && s == BERRY_OK; i++) {
        req_state *r = &rs[i];
        status[i] = BERRY_OK;
        r->n_prompt = tokenize_alloc(l->tok, reqs[i].prompt, true, &r->prompt, err, err_size);
        if (r->n_prompt < 0) { s = BERRY_EINVAL; break; }
        ex[i].ct = calloc((size_t)reqs[i].n_conts + 1, sizeof *ex[i].ct);
        ex[i].nct = calloc((size_t)reqs[i].n_conts + 1, sizeof *ex[i].nct);
        r->logits = malloc((size_t)l->n_vocab * sizeof(float));
        if (!ex[i].ct || !ex[i].nct || !r->logits) { s = berry_errf(err, err_size, BERRY_ENOMEM, "out of memory"); break; }
        for (int c = 0; c < reqs[i].n_conts && s == BERRY_OK; c++) {
            ex[i].nct[c] = tokenize_alloc(l->tok, reqs[i].conts[c], false, &ex[i].ct[c], err, err_size);
            if (ex[i].nct[c] < 0) s = BERRY_EINVAL;
        }
        if (s != BERRY_OK) break;
        berry_status refuse = BERRY_OK;
        char why[160] = "";
        if (r->n_prompt == 0) {
            refuse = BERRY_EINVAL;
            snprintf(why, sizeof why, "empty prompt");
        } else if (r->n_prompt >= l->n_ctx) {
            refuse = BERRY_ELIMIT;
            snprintf(why, sizeof why, "the prompt has %lld tokens, the context holds %d", (long long)r->n_prompt, l->n_ctx);
        }
        for (int c = 0; c < reqs[i].n_conts && !refuse; c++)
            if (r->n_prompt + ex[i].nct[c] > l->n_ctx) {
                refuse = BERRY_ELIMIT;
                snprintf(why, sizeof why, "prompt and continuation %d exceed the context of %d", c, l->n_ctx);
            }
        if (refuse) {
            status[i] = refuse;
            if (!*refused) berry_errf(err, err_size, refuse, "score: %s", why);
            *refused = true;
            continue;
        }
        ex[i].ok = true;
        ex[i].parent = -1;
        lm->counters.prompt_tokens += r->n_prompt;
    }
    // Attach what the cache holds, then find what each request would reuse from the prompts before it.
    for (int i = 0; i < n && s == BERRY_OK; i++) {
        if (!ex[i].ok) continue;
        rs[i].seq = berry_kv_seq_new(kv);
        if (rs[i].seq < 0) { s = berry_errf(err, err_size, BERRY_ELIMIT, "score: too many sequences at once (%d requests)", n); break; }
        if (l->no_prefix_cache) continue;
        int cached = berry_kv_seq_reuse(kv, rs[i].seq, rs[i].prompt, (int)rs[i].n_prompt);
        int64_t best = 0;
        for (int j = 0; j < i; j++) {
            if (!ex[j].ok) continue;
            int64_t m = lcp_tokens(&rs[i], &rs[j]);
            if (m > rs[i].n_prompt - 1) m = rs[i].n_prompt - 1;
            m = m / pt * pt;
            if (m > best) { best = m; ex[i].parent = j; }
        }
        if (best > cached) ex[i].need = (int)best;
        else ex[i].parent = -1;
    }
    // Rounds: release the requests whose parent has been evaluated, then evaluate every ready one.
    while (s == BERRY_OK) {
        for (int i = 0; i < n && s == BERRY_OK; i++) {
            if (!ex[i].ok || ex[i].parent < 0 || berry_kv_seq_len(kv, rs[ex[i].parent].seq) < ex[i].need) continue;
            berry_kv_seq_free(kv, rs[i].seq);
            rs[i].seq = berry_kv_seq_new(kv);
            if (rs[i].seq < 0) { s = berry_errf(err, err_size, BERRY_ELIMIT, "score: too many sequences at once"); break; }
            // NEED + 1 tokens: at most NEED positions attached, never pages a later request computed.
            berry_kv_seq_reuse(kv, rs[i].seq, rs[i].prompt, ex[i].need + 1);
            ex[i].parent = -1;
        }
        int m = 0;
        for (int i = 0; i < n && s == BERRY_OK; i++) {
            if (!ex[i].ok || ex[i].parent >= 0) continue;
            if (berry_kv_seq_len(kv, rs[i].seq) < rs[i].n_prompt) idx[m++] = i;
        }
        if (s != BERRY_OK || m == 0) break;
        s = prefill(lm, rs, idx, m, err, err_size);
    }
    // The first token of every continuation from the prompt's last logits, the rest on forks.
    for (int i = 0; i < n && s == BERRY_OK; i++) {
        for (int c = 0; ex[i].ok && c < reqs[i].n_conts && s == BERRY_OK; c++) {
            float lp0 = 0;
            if (ex[i].nct[c] > 0) s = berry_sampler_logprobs(rs[i].logits, l->n_vocab, ex[i].ct[c], 1, &lp0, err, err_size);
            reqs[i].logprob[c] = lp0;
        }
    }
    if (s == BERRY_OK) s = score_long_conts(lm, reqs, rs, ex, n, err, err_size);
    for (int i = 0; i < n && rs && ex; i++) {
        if (rs[i].seq >= 0) berry_kv_seq_free(kv, rs[i].seq);
        free(rs[i].prompt);
        free(rs[i].logits);
        for (int c = 0; ex[i].ct && c < reqs[i].n_conts; c++) free(ex[i].ct[c]);
        free(ex[i].ct);
        free(ex[i].nct);
    }
    free(rs);
    free(ex);
    free(idx);
    return s;
}

static berry_status local_score_batch(berry_lm *lm, const berry_lm_score_request *reqs, int n, berry_status *status,
                                      char *err, size_t err_size) {
    bool refused = false;
    berry_status s = BERRY_OK;
    // Groups keep the live sequences under the cache's limit; a later group reuses an earlier one's
    // pages through the index, as a later sequential call would.
    for (int i0 = 0; i0 < n && s == BERRY_OK; i0 += SCORE_GROUP)
        s = score_group(lm, reqs + i0, n - i0 < SCORE_GROUP ? n - i0 : SCORE_GROUP, status + i0, &refused, err, err_size);
    return s;
}

// log p(cont | prompt): a batch of one.
static berry_status local_score(berry_lm *lm, const char *prompt, const char *const *conts, int n, double *logprob,
                                char *err, size_t err_size) {
    berry_lm_score_request rq = {.prompt = prompt, .conts = conts, .n_conts = n, .logprob = logprob};
    berry_status st = BERRY_OK;
    bool refused = false;
    berry_status s = score_group(lm, &rq, 1, &st, &refused, err, err_size);
    return s != BERRY_OK ? s : st;
}

static char *local_chat(berry_lm *lm, const berry_chat_msg *msgs, int n, bool add_generation_prompt) {
    local *l = L(lm);
    return berry_chat_render(l->tok, NULL, msgs, n, add_generation_prompt);
}

static void local_free(berry_lm *lm) {
    local *l = L(lm);
    if (l) {
        berry_ctx_free(l->ctx);
        berry_lora_free(l->lora);
        berry_tokenizer_free(l->tok);
        berry_model_free(l->model);
        free(l);
    }
    free(lm);
}

static const berry_lm_vtable local_vt = {.generate = local_generate, .score = local_score, .chat = local_chat,
                                         .free = local_free, .score_batch = local_score_batch};

berry_lm *berry_lm_local_open(const berry_lm_local_params *p, char *err, size_t err_size) {
    berry_lm *lm = calloc(1, sizeof *lm);
    local *l = calloc(1, sizeof *l);
    if (!lm || !l) { free(lm); free(l); berry_errf(err, err_size, BERRY_ENOMEM, "out of memory"); return NULL; }
    lm->vt = &local_vt;
    lm->impl = l;
    l->no_prefix_cache = p->no_prefix_cache;
    l->model = berry_model_load(p->model_path, err, err_size);
    if (!l->model) { local_free(lm); return NULL; }
    l->tok = berry_tokenizer_from_gguf(berry_model_gguf(l->model), err, err_size);
    if (!l->tok) { local_free(lm); return NULL; }
    const berry_hparams *hp = berry_model_hparams(l->model);
    l->n_vocab = hp->n_vocab;
    l->n_ctx = p->n_ctx > 0 ? p->n_ctx : (hp->n_ctx_train > 0 && hp->n_ctx_train < 4096 ? hp->n_ctx_train : 4096);
    if (p->lora_path) {
        l->lora = berry_lora_open(p->lora_path, l->model, p->lora_scale != 0 ? p->lora_scale : 1.0f, err, err_size);
        if (!l->lora) { local_free(lm); return NULL; }
    }
    berry_ctx_params cp = {.n_threads = p->n_threads, .max_batch = p->max_batch > 0 ? p->max_batch : 512,
                           .kv_page_tokens = p->kv_page_tokens > 0 ? p->kv_page_tokens : l->n_ctx <= 1024 ? 4 : 16,
                           .kv_bytes = p->kv_bytes ? p->kv_bytes : ((size_t)512 << 20), .lora = l->lora};
    l->ctx = berry_ctx_create(l->model, &cp, err, err_size);
    if (!l->ctx) { local_free(lm); return NULL; }
    l->max_batch = berry_ctx_max_batch(l->ctx);
    return lm;
}

const struct berry_model *berry_lm_local_model(berry_lm *lm) { return L(lm)->model; }
const struct berry_tokenizer *berry_lm_local_tokenizer(berry_lm *lm) { return L(lm)->tok; }
struct berry_ctx *berry_lm_local_ctx(berry_lm *lm) { return L(lm)->ctx; }
