// tdata.c — JSONL training data: parse, tokenize, pack.
#include "train/tdata.h"
#include "base/alloc.h"
#include "base/json.h"
#include "text/chat.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void berry_tdata_free(berry_tdata *d) {
    for (int i = 0; i < d->n; i++)
        for (int k = 0; k < 2; k++) { free(d->ex[i].tok[k]); free(d->ex[i].train[k]); free(d->ex[i].ref[k]); }
    free(d->ex);
    memset(d, 0, sizeof *d);
}

// Appends the tokens of TEXT to the sequence (growing it), marking them TRAIN.
static berry_status append(const berry_tokenizer *t, const char *text, bool bos, bool special, uint8_t train,
                           berry_texample *e, int k, char *err, size_t err_size) {
    size_t len = strlen(text);
    int64_t cap = (int64_t)len + 8;
    int32_t *buf = malloc((size_t)cap * sizeof(int32_t));
    if (!buf) return berry_errf(err, err_size, BERRY_ENOMEM, "out of memory");
    int64_t n = berry_tokenize(t, text, len, bos, special, buf, cap, err, err_size);
    if (n < 0) { free(buf); return BERRY_EINVAL; }
    if (n > cap) {
        free(buf);
        return berry_errf(err, err_size, BERRY_EINVAL, "tokenizer gave more tokens than bytes");
    }
    int32_t *nt = realloc(e->tok[k], (size_t)(e->n[k] + n + 1) * sizeof(int32_t));
    uint8_t *nw = nt ? realloc(e->train[k], (size_t)(e->n[k] + n + 1)) : NULL;
    if (nt) e->tok[k] = nt;
    if (nw) e->train[k] = nw;
    if (!nt || !nw) { free(buf); return berry_errf(err, err_size, BERRY_ENOMEM, "out of memory"); }
    memcpy(e->tok[k] + e->n[k], buf, (size_t)n * sizeof(int32_t));
    memset(e->train[k] + e->n[k], train, (size_t)n);
    e->n[k] += (int)n;
    free(buf);
    return BERRY_OK;
}

static berry_status end_token(const berry_tokenizer *t, berry_texample *e, int k) {
    int32_t eot = berry_tokenizer_eot(t);
    if (eot < 0) eot = berry_tokenizer_eos(t);
    if (eot < 0) return BERRY_OK;
    e->tok[k][e->n[k]] = eot;  // append() keeps room for one more
    e->train[k][e->n[k]] = 1;
    e->n[k]++;
    return BERRY_OK;
}

static const char *field(const berry_json *o, const char *key) {
    const char *s = berry_json_str(berry_json_get(o, key));
    return s;
}

berry_status berry_tdata_load(const char *path, const berry_tokenizer *t, const char *chat_format, int n_ctx,
                                berry_tdata *d, char *err, size_t err_size) {
    memset(d, 0, sizeof *d);
    FILE *f = fopen(path, "rb");
    if (!f) return berry_errf(err, err_size, BERRY_EIO, "cannot open %s", path);
    char *line = NULL, msg[256];
    size_t lcap = 0;
    ssize_t len;
    long lineno = 0;
    int cap = 0;
    berry_status st = BERRY_OK;
    int kind = -1;
    while (!st && (len = getline(&line, &lcap, f)) >= 0) {
        lineno++;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = 0;
        if (len == 0) continue;
        berry_json *o = berry_json_parse(line, (size_t)len, msg, sizeof msg);
        if (!o) { st = berry_errf(err, err_size, BERRY_EFORMAT, "%s:%ld: %s", path, lineno, msg); break; }
        const char *text = field(o, "text"), *prompt = field(o, "prompt"), *comp = field(o, "completion");
        const char *q = field(o, "question"), *a = field(o, "answer"), *ch = field(o, "chosen"), *rj = field(o, "rejected");
        int k = text ? BERRY_TEX_TEXT : (ch || rj) ? BERRY_TEX_DPO : (prompt || comp || q || a) ? BERRY_TEX_SFT : -1;
        if (k < 0) {
            st = berry_errf(err, err_size, BERRY_EFORMAT, "%s:%ld: expected {\"text\"}, {\"prompt\",\"completion\"}, {\"question\",\"answer\"} or {\"prompt\",\"chosen\",\"rejected\"}", path, lineno);
        } else if (kind >= 0 && k != kind) {
            st = berry_errf(err, err_size, BERRY_EFORMAT, "%s:%ld: a %s example in a file of %s examples", path, lineno,
                            k == 0 ? "text" : k == 1 ? "SFT" : "DPO", kind == 0 ? "text" : kind == 1 ? "SFT" : "DPO");
        }
        if (!st && k == BERRY_TEX_SFT && !prompt) { prompt = q; comp = a; }
        const char *need[3] = {k == 0 ? text : prompt, k == 1 ? comp : k == 2 ? ch : "x", k == 2 ? rj : "x"};
        const char *names[3] = {k == 0 ? "text" : (field(o, "prompt") ? "prompt" : "question"), k == 1 ? (field(o, "prompt") ? "completion" : "answer") : "chosen", "rejected"};
        for (int i = 0; !st && i < 3; i++)
            if (!need[i] || !*need[i]) st = berry_errf(err, err_size, BERRY_EFORMAT, "%s:%ld: field \"%s\" is missing, empty or not a string", path, lineno, names[i]);
        if (!st && d->n == cap) {
            cap = cap ? cap * 2 : 256;
            berry_texample *ne = realloc(d->ex, (size_t)cap * sizeof *ne);
            if (!ne) st = berry_errf(err, err_size, BERRY_ENOMEM, "out of memory");
            else d->ex = ne;
        }
        if (!st) {
            kind = k;
            berry_texample *e = &d->ex[d->n++];
            memset(e, 0, sizeof *e);
            if (k == BERRY_TEX_TEXT) {
                st = append(t, text, true, false, 1, e, 0, msg, sizeof msg);
                if (!st) end_token(t, e, 0);
            } else {
                berry_chat_msg m = {"user", prompt};
                // "none": the prompt as it is (the embedded model's role prompts carry their own format).
                char *p = chat_format && !strcmp(chat_format, "none") ? strdup(prompt) : berry_chat_render(t, chat_format, &m, 1, true);
                if (!p) st = berry_errf(msg, sizeof msg, BERRY_EINVAL, "cannot render the chat template '%s'", chat_format ? chat_format : "(model's)");
                for (int s = 0; !st && s < (k == BERRY_TEX_DPO ? 2 : 1); s++) {
                    st = append(t, p, true, true, 0, e, s, msg, sizeof msg);
                    if (!st) st = append(t, k == BERRY_TEX_SFT ? comp : s == 0 ? ch : rj, false, false, 1, e, s, msg, sizeof msg);
                    if (!st) end_token(t, e, s);
                }
                free(p);
            }
            if (st) berry_errf(err, err_size, st, "%s:%ld: %s", path, lineno, msg);
            for (int s = 0; !st && s < 2; s++)
                if (e->n[s] > n_ctx)
                    st = berry_errf(err, err_size, BERRY_EINVAL, "%s:%ld: example of %d tokens is longer than the context (%d)", path, lineno, e->n[s], n_ctx);
        }
        berry_json_free(o);
    }
    free(line);
    fclose(f);
    if (!st && d->n == 0) st = berry_errf(err, err_size, BERRY_EFORMAT, "%s: no examples", path);
    if (st) { berry_tdata_free(d); return st; }
    d->kind = (berry_tex_kind)kind;
    return BERRY_OK;
}

// Example index at position POS of epoch EPOCH's permutation (Fisher–Yates from the epoch's stream).
static int order_at(const berry_tdata *d, uint64_t seed, uint64_t epoch, uint64_t pos, int **perm, uint64_t *perm_epoch) {
    if (!*perm || *perm_epoch != epoch) {
        if (!*perm) *perm = malloc((size_t)d->n * sizeof(int));
        if (!*perm) return (int)(pos % (uint64_t)d->n);
        berry_rng r;
        berry_rng_seed(&r, seed, 1000 + epoch);
        for (int i = 0; i < d->n; i++) (*perm)[i] = i;
        for (int i = d->n - 1; i > 0; i--) {
            int j = (int)berry_rng_below(&r, (uint64_t)i + 1), tmp = (*perm)[i];
            (*perm)[i] = (*perm)[j];
            (*perm)[j] = tmp;
        }
        *perm_epoch = epoch;
    }
    return (*perm)[pos];
}

int berry_tdata_pack(const berry_tdata *d, uint64_t seed, uint64_t *epoch, uint64_t *pos, int n_seq, int n_ctx,
                       int32_t *tokens, int32_t *targets, int32_t *seg, float *w) {
    int *perm = NULL, trained = 0;
    uint64_t pe = UINT64_MAX;
    for (int r = 0; r < n_seq; r++) {
        int used = 0, s = 0;
        for (;;) {
            if (*pos >= (uint64_t)d->n) { *pos = 0; ++*epoch; }
            const berry_texample *e = &d->ex[order_at(d, seed, *epoch, *pos, &perm, &pe)];
            if (used > 0 && used + e->n[0] > n_ctx) break;
            int n = e->n[0] < n_ctx - used ? e->n[0] : n_ctx - used;
            for (int i = 0; i < n; i++) {
                size_t o = (size_t)r * n_ctx + used + i;
                tokens[o] = e->tok[0][i];
                seg[o] = s;
                bool has = i + 1 < e->n[0];
                targets[o] = has ? e->tok[0][i + 1] : -1;
                w[o] = has && e->train[0][i + 1] ? 1.0f : 0.0f;
                trained += w[o] > 0;
            }
            used += n;
            s++;
            ++*pos;
            if (used >= n_ctx) break;
        }
        for (int i = used; i < n_ctx; i++) {
            size_t o = (size_t)r * n_ctx + i;
            tokens[o] = 0;
            targets[o] = -1;
            seg[o] = s;
            w[o] = 0;
        }
    }
    free(perm);
    return trained;
}

int berry_tdata_pair_rows(const berry_texample *e, int n_ctx, int32_t *tokens, int32_t *targets, float *mask, float *ref) {
    int masked = 0;
    for (int s = 0; s < 2; s++) {
        int n = e->n[s] < n_ctx ? e->n[s] : n_ctx;
        for (int i = 0; i < n_ctx; i++) {
            size_t o = (size_t)s * n_ctx + i;
            bool has = i < n && i + 1 < e->n[s];
            tokens[o] = i < n ? e->tok[s][i] : 0;
            targets[o] = has ? e->tok[s][i + 1] : -1;
            mask[o] = has && e->train[s][i + 1] ? 1.0f : 0.0f;
            ref[o] = has && e->ref[s] ? e->ref[s][i] : 0.0f;
            masked += mask[o] > 0;
        }
    }
    return masked;
}

int berry_tdata_pack_pairs(const berry_tdata *d, uint64_t seed, uint64_t *epoch, uint64_t *pos, int n_pairs,
                           int n_ctx, int32_t *tokens, int32_t *targets, float *mask, float *ref) {
    int *perm = NULL, masked = 0;
    uint64_t pe = UINT64_MAX;
    for (int p = 0; p < n_pairs; p++) {
        if (*pos >= (uint64_t)d->n) { *pos = 0; ++*epoch; }
        const berry_texample *e = &d->ex[order_at(d, seed, *epoch, *pos, &perm, &pe)];
        size_t o = (size_t)p * 2 * n_ctx;
        masked += berry_tdata_pair_rows(e, n_ctx, tokens + o, targets + o, mask + o, ref + o);
        ++*pos;
    }
    free(perm);
    return masked;
}
