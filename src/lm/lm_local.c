// lm_local.c — generation and scoring on a local model.
//
// A generate call runs in two phases. Prefill: each prompt gets a KV sequence; the longest prefix
// already in the cache (from earlier prompts of this call or of earlier calls) is attached instead of
// recomputed, and a prompt identical to an earlier one of the same call forks that sequence and its
// last logits. Prompts that share nothing pending are packed into one forward. Decode: every live
// sequence advances one token per forward, so the weights are read once per step for all of them.
#include "lm/lm_local.h"
#include "base/alloc.h"
#include "model/forward.h"
#include "model/lora.h"
#include "model/model.h"
#include "text/chat.h"
#include "text/sampler.h"
#include "text/tokenizer.h"
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

// log p(cont | prompt): the prompt is evaluated once (or found in the cache), then each continuation
// runs on a fork of it with logits at every position.
static berry_status local_score(berry_lm *lm, const char *prompt, const char *const *conts, int n, double *logprob,
                                char *err, size_t err_size) {
    local *l = L(lm);
    berry_kv *kv = berry_ctx_kv(l->ctx);
    req_state base = {.seq = -1, .same_as = -1};
    base.n_prompt = tokenize_alloc(l->tok, prompt, true, &base.prompt, err, err_size);
    if (base.n_prompt < 0) return BERRY_EINVAL;
    if (base.n_prompt == 0) { free(base.prompt); return berry_errf(err, err_size, BERRY_EINVAL, "score: empty prompt"); }
    if (base.n_prompt >= l->n_ctx) {
        free(base.prompt);
        return berry_errf(err, err_size, BERRY_ELIMIT, "score: the prompt has %lld tokens, the context holds %d",
                          (long long)base.n_prompt, l->n_ctx);
    }
    base.logits = malloc((size_t)l->n_vocab * sizeof(float));
    berry_status s = base.logits ? BERRY_OK : berry_errf(err, err_size, BERRY_ENOMEM, "out of memory");
    if (s == BERRY_OK) s = start_requests(lm, &base, 1, err, err_size);
    for (int i = 0; i < n && s == BERRY_OK; i++) {
        int32_t *ct = NULL;
        int64_t nc = tokenize_alloc(l->tok, conts[i], false, &ct, err, err_size);
        if (nc < 0) { s = BERRY_EINVAL; break; }
        if (base.n_prompt + nc > l->n_ctx) { free(ct); s = berry_errf(err, err_size, BERRY_ELIMIT, "score: prompt and continuation %d exceed the context of %d", i, l->n_ctx); break; }
        float lp0 = 0;
        double sum = 0;
        if (nc > 0) {
            s = berry_sampler_logprobs(base.logits, l->n_vocab, ct, 1, &lp0, err, err_size);
            sum = lp0;
        }
        if (s == BERRY_OK && nc > 1) {
            // Positions of continuation tokens 0..nc-2 predict tokens 1..nc-1.
            int fork = berry_kv_seq_fork(kv, base.seq);
            int rows = nc - 1 < l->max_batch ? (int)(nc - 1) : l->max_batch;
            float *lg = malloc((size_t)rows * (size_t)l->n_vocab * sizeof(float));
            float *lp = malloc((size_t)l->max_batch * sizeof(float));
            int32_t *sq = malloc((size_t)l->max_batch * sizeof(int32_t));
            if (fork < 0 || !lg || !lp || !sq) s = berry_errf(err, err_size, BERRY_ENOMEM, "score: out of memory or sequences");
            for (int64_t p0 = 0; s == BERRY_OK && p0 < nc - 1; p0 += l->max_batch) {
                int cnt = (int)(nc - 1 - p0 < l->max_batch ? nc - 1 - p0 : l->max_batch);
                for (int j = 0; j < cnt; j++) sq[j] = fork;
                berry_batch b = {.n = cnt, .token = ct + p0, .seq = sq};
                s = berry_forward(l->ctx, &b, lg, err, err_size);
                if (s == BERRY_OK) s = berry_sampler_logprobs_rows(lg, cnt, l->n_vocab, ct + p0 + 1, lp, err, err_size);
                for (int j = 0; s == BERRY_OK && j < cnt; j++) sum += lp[j];
                lm->counters.prompt_tokens_evaluated += cnt;
            }
            if (fork >= 0) berry_kv_seq_free(kv, fork);
            free(lg);
            free(lp);
            free(sq);
        }
        logprob[i] = sum;
        free(ct);
    }
    if (base.seq >= 0) berry_kv_seq_free(kv, base.seq);
    free(base.prompt);
    free(base.logits);
    return s;
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

static const berry_lm_vtable local_vt = {local_generate, local_score, local_chat, local_free};

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
