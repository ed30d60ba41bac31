// bpe_train.c — byte-level BPE training. See bpe_train.h.
#include "text/bpe_train.h"
#include "text/tokenizer.h"
#include "base/alloc.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const default_specials[] = {"<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>",
                                               "<|end_header_id|>", "<|eot_id|>"};

typedef struct { uint32_t off, n; int64_t count; } word;           // symbols sym[off .. off+n)
typedef struct { uint64_t key; int64_t count; int32_t *occ; uint32_t n_occ, cap_occ; } pair;  // key: a<<32|b
typedef struct { int64_t count; int32_t a, b; } hent;

struct berry_bpe {
    // tokens: raw bytes in a pool
    char *tok_bytes; size_t tok_bytes_n, tok_bytes_cap;
    uint32_t *tok_off, *tok_len; int32_t n_tok, cap_tok;
    int32_t n_bytes_tokens;          // 256
    char **merges; int32_t n_merges;
    char **specials; int n_specials;
    const char *pre;                 // the pre-tokenizer trained with (a static string)
};

typedef struct {
    // words
    word *w; size_t nw, capw;
    int32_t *sym; size_t nsym, capsym;
    int32_t *wslot; uint32_t wmask;   // hash of word bytes -> word index (during counting)
    char *wbytes; size_t nwb, capwb;  // the bytes of each word (for hashing during counting)
    uint32_t *wboff;
    // pairs
    pair *p; uint32_t pmask, np;
    hent *heap; size_t nh, caph;
    // token bytes -> id
    int32_t *tslot; uint32_t tmask;
    uint32_t *stamp; uint32_t iter;
    bool oom;
} trainer;


static uint64_t hash_bytes(const void *p, size_t n) {
    const uint8_t *s = p;
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ s[i]) * 1099511628211ull;
    h ^= h >> 29; h *= 0xbf58476d1ce4e5b9ull; h ^= h >> 32;
    return h;
}
static uint64_t hash_u64(uint64_t x) {
    x ^= x >> 33; x *= 0xff51afd7ed558ccdull; x ^= x >> 33; x *= 0xc4ceb9fe1a85ec53ull; x ^= x >> 33;
    return x;
}

// ---- counting words --------------------------------------------------------------------------------

static bool word_rehash(trainer *t) {
    uint32_t cap = t->wslot ? (t->wmask + 1) * 2 : 1024;
    int32_t *s = malloc((size_t)cap * sizeof *s);
    if (!s) return false;
    memset(s, 0xff, (size_t)cap * sizeof *s);
    for (size_t i = 0; i < t->nw; i++) {
        uint32_t k = (uint32_t)hash_bytes(t->wbytes + t->wboff[i], t->w[i].n) & (cap - 1);
        while (s[k] >= 0) k = (k + 1) & (cap - 1);
        s[k] = (int32_t)i;
    }
    free(t->wslot);
    t->wslot = s; t->wmask = cap - 1;
    return true;
}

static void add_word(void *ctx, const char *w, size_t n) {
    trainer *t = ctx;
    if (t->oom || n == 0) return;
    if (n > 4096) n = 4096;  // a pathological pre-token (a megabyte of letters) is counted by its start
    if (!t->wslot || t->nw * 2 >= t->wmask) { if (!word_rehash(t)) { t->oom = true; return; } }
    uint32_t k = (uint32_t)hash_bytes(w, n) & t->wmask;
    for (; t->wslot[k] >= 0; k = (k + 1) & t->wmask) {
        word *x = &t->w[t->wslot[k]];
        if (x->n == n && memcmp(t->wbytes + t->wboff[t->wslot[k]], w, n) == 0) { x->count++; return; }
    }
    size_t capw = t->capw;
    if (!berry_grow((void **)&t->w, &t->capw, t->nw + 1, sizeof *t->w) ||
        !berry_grow((void **)&t->wboff, &capw, t->nw + 1, sizeof *t->wboff) ||
        !berry_grow((void **)&t->wbytes, &t->capwb, t->nwb + n, 1) ||
        !berry_grow((void **)&t->sym, &t->capsym, t->nsym + n, sizeof *t->sym)) { t->oom = true; return; }
    memcpy(t->wbytes + t->nwb, w, n);
    t->wboff[t->nw] = (uint32_t)t->nwb;
    t->nwb += n;
    t->w[t->nw] = (word){(uint32_t)t->nsym, (uint32_t)n, 1};
    for (size_t i = 0; i < n; i++) t->sym[t->nsym + i] = (uint8_t)w[i];  // byte tokens are ids 0..255
    t->nsym += n;
    t->wslot[k] = (int32_t)t->nw++;
}

// ---- pairs ---------------------------------------------------------------------------------------

static bool pair_rehash(trainer *t) {
    uint32_t cap = t->p ? (t->pmask + 1) * 2 : 4096;
    pair *q = calloc(cap, sizeof *q);
    if (!q) return false;
    for (uint32_t i = 0; t->p && i <= t->pmask; i++) {
        if (!t->p[i].key) continue;
        uint32_t k = (uint32_t)hash_u64(t->p[i].key) & (cap - 1);
        while (q[k].key) k = (k + 1) & (cap - 1);
        q[k] = t->p[i];
    }
    free(t->p);
    t->p = q; t->pmask = cap - 1;
    return true;
}

// The slot of pair (A, B), created when missing (keys are stored +1 so that 0 marks an empty slot).
static pair *pair_at(trainer *t, int32_t a, int32_t b, bool create) {
    uint64_t key = (((uint64_t)(uint32_t)a << 32) | (uint32_t)b) + 1;
    if (create && (!t->p || t->np * 2 >= t->pmask)) { if (!pair_rehash(t)) { t->oom = true; return NULL; } }
    if (!t->p) return NULL;
    uint32_t k = (uint32_t)hash_u64(key) & t->pmask;
    for (; t->p[k].key; k = (k + 1) & t->pmask)
        if (t->p[k].key == key) return &t->p[k];
    if (!create) return NULL;
    t->np++;
    t->p[k].key = key;
    return &t->p[k];
}

static bool hent_before(const hent *x, const hent *y) {
    if (x->count != y->count) return x->count > y->count;
    if (x->a != y->a) return x->a < y->a;
    return x->b < y->b;
}

static void heap_push(trainer *t, hent e) {
    if (!berry_grow((void **)&t->heap, &t->caph, t->nh + 1, sizeof *t->heap)) { t->oom = true; return; }
    size_t i = t->nh++;
    while (i > 0 && hent_before(&e, &t->heap[(i - 1) / 2])) { t->heap[i] = t->heap[(i - 1) / 2]; i = (i - 1) / 2; }
    t->heap[i] = e;
}

static hent heap_pop(trainer *t) {
    hent top = t->heap[0], last = t->heap[--t->nh];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= t->nh) break;
        if (c + 1 < t->nh && hent_before(&t->heap[c + 1], &t->heap[c])) c++;
        if (!hent_before(&t->heap[c], &last)) break;
        t->heap[i] = t->heap[c];
        i = c;
    }
    if (t->nh) t->heap[i] = last;
    return top;
}

// Adds DELTA occurrences of (A, B) found in word W.
static void count_pair(trainer *t, int32_t a, int32_t b, int64_t delta, int32_t w, bool note) {
    pair *p = pair_at(t, a, b, delta > 0);
    if (!p) return;
    p->count += delta;
    if (note) {
        size_t cap = p->cap_occ;
        if (!berry_grow((void **)&p->occ, &cap, p->n_occ + 1, sizeof *p->occ)) { t->oom = true; return; }
        p->cap_occ = (uint32_t)cap;
        p->occ[p->n_occ++] = w;
    }
}

// ---- tokens --------------------------------------------------------------------------------------

static int32_t tok_find(const berry_bpe *b, const trainer *t, const char *s, size_t n) {
    for (uint32_t k = (uint32_t)hash_bytes(s, n) & t->tmask; t->tslot[k] >= 0; k = (k + 1) & t->tmask) {
        int32_t id = t->tslot[k];
        if (b->tok_len[id] == n && memcmp(b->tok_bytes + b->tok_off[id], s, n) == 0) return id;
    }
    return -1;
}

static int32_t tok_add(berry_bpe *b, trainer *t, const char *s, size_t n) {
    size_t cap = (size_t)b->cap_tok, cap2 = cap;
    if (!berry_grow((void **)&b->tok_off, &cap, (size_t)b->n_tok + 1, sizeof *b->tok_off) ||
        !berry_grow((void **)&b->tok_len, &cap2, (size_t)b->n_tok + 1, sizeof *b->tok_len) ||
        !berry_grow((void **)&b->tok_bytes, &b->tok_bytes_cap, b->tok_bytes_n + n, 1)) { t->oom = true; return -1; }
    b->cap_tok = (int32_t)cap;
    memcpy(b->tok_bytes + b->tok_bytes_n, s, n);
    b->tok_off[b->n_tok] = (uint32_t)b->tok_bytes_n;
    b->tok_len[b->n_tok] = (uint32_t)n;
    b->tok_bytes_n += n;
    int32_t id = b->n_tok++;
    uint32_t k = (uint32_t)hash_bytes(s, n) & t->tmask;
    while (t->tslot[k] >= 0) k = (k + 1) & t->tmask;
    t->tslot[k] = id;
    return id;
}

// GPT-2's byte alphabet (see tokenizer.c): printable bytes stand for themselves, the 68 others
// (0x00-0x20, 0x7f-0xa0, 0xad) for U+0100 + their rank. Writes byte B as UTF-8 into OUT; returns the length.
static int byte_char(uint8_t b, char *out) {
    uint32_t c = b;
    if (b <= 0x20) c = 256 + b;
    else if (b >= 0x7f && b <= 0xa0) c = 256 + 33 + (b - 0x7f);
    else if (b == 0xad) c = 256 + 67;
    if (c < 0x80) { out[0] = (char)c; return 1; }
    out[0] = (char)(0xc0 | (c >> 6));
    out[1] = (char)(0x80 | (c & 0x3f));
    return 2;
}

// Token ID's text in the byte alphabet, malloc'd.
static char *tok_text(const berry_bpe *b, int32_t id) {
    uint32_t n = b->tok_len[id];
    char *s = malloc((size_t)n * 2 + 1);
    if (!s) return NULL;
    size_t o = 0;
    for (uint32_t i = 0; i < n; i++) o += (size_t)byte_char((uint8_t)b->tok_bytes[b->tok_off[id] + i], s + o);
    s[o] = 0;
    return s;
}

// ---- training ------------------------------------------------------------------------------------

berry_bpe *berry_bpe_train(const char *const *texts, const size_t *lens, size_t n, const berry_bpe_options *opt,
                           char *err, size_t err_size) {
    const char *const *specials = opt && opt->specials ? opt->specials : default_specials;
    int n_specials = opt && opt->specials ? opt->n_specials : 5;
    int32_t vocab = opt ? opt->vocab_size : 0;
    int64_t min_freq = opt && opt->min_frequency > 0 ? opt->min_frequency : 2;
    if (n_specials < 2) { berry_errf(err, err_size, BERRY_EINVAL, "BPE training needs at least two special tokens (BOS, EOS)"); return NULL; }
    if (vocab < 256 + n_specials || vocab > (1 << 24)) {
        berry_errf(err, err_size, BERRY_EINVAL, "vocabulary size %d must be in [%d, %d]", vocab, 256 + n_specials, 1 << 24);
        return NULL;
    }
    // Only the byte-level pre-tokenizers llama.cpp names as berry writes them (tokenizer.ggml.pre).
    const char *pre = !opt || !opt->pre || !strcmp(opt->pre, "llama-bpe") ? "llama-bpe"
                    : !strcmp(opt->pre, "qwen2") ? "qwen2" : NULL;
    if (!pre) { berry_errf(err, err_size, BERRY_EINVAL, "pre-tokenizer '%s': BPE training knows llama-bpe and qwen2", opt->pre); return NULL; }
    berry_bpe *b = calloc(1, sizeof *b);
    trainer t = {0};
    if (!b) { berry_errf(err, err_size, BERRY_ENOMEM, "out of memory"); return NULL; }
    b->pre = pre;
    for (size_t i = 0; i < n; i++) {
        berry_status st = berry_pretokenize(pre, texts[i], lens[i], add_word, &t, err, err_size);
        if (st != BERRY_OK) goto fail;
        if (t.oom) break;
    }
    if (t.oom) goto oom;
    free(t.wslot); t.wslot = NULL;
    free(t.wbytes); t.wbytes = NULL;
    free(t.wboff); t.wboff = NULL;

    // Token table: the 256 bytes.
    uint32_t tcap = 1024;
    while (tcap < (uint32_t)vocab * 2) tcap <<= 1;
    t.tslot = malloc((size_t)tcap * sizeof *t.tslot);
    t.stamp = calloc(t.nw ? t.nw : 1, sizeof *t.stamp);
    if (!t.tslot || !t.stamp) goto oom;
    memset(t.tslot, 0xff, (size_t)tcap * sizeof *t.tslot);
    t.tmask = tcap - 1;
    for (int c = 0; c < 256; c++) { char ch = (char)c; tok_add(b, &t, &ch, 1); }
    b->n_bytes_tokens = 256;

    // Initial pair counts.
    for (size_t w = 0; w < t.nw; w++) {
        const int32_t *s = t.sym + t.w[w].off;
        for (uint32_t i = 0; i + 1 < t.w[w].n; i++) count_pair(&t, s[i], s[i + 1], t.w[w].count, (int32_t)w, true);
    }
    for (uint32_t i = 0; t.p && i <= t.pmask; i++)
        if (t.p[i].key && t.p[i].count > 0)
            heap_push(&t, (hent){t.p[i].count, (int32_t)((t.p[i].key - 1) >> 32), (int32_t)(uint32_t)(t.p[i].key - 1)});
    if (t.oom) goto oom;

    int32_t max_merges = vocab - 256 - n_specials;
    b->merges = calloc((size_t)max_merges + 1, sizeof *b->merges);
    if (!b->merges) goto oom;
    char *cat = NULL;
    size_t cat_cap = 0;
    while (b->n_merges < max_merges && t.nh && !t.oom) {
        hent e = heap_pop(&t);
        pair *p = pair_at(&t, e.a, e.b, false);
        int64_t cur = p ? p->count : 0;
        if (cur != e.count) {
            if (cur > 0 && cur < e.count) heap_push(&t, (hent){cur, e.a, e.b});
            continue;
        }
        if (cur < min_freq) break;
        // The new token.
        size_t la = b->tok_len[e.a], lb = b->tok_len[e.b];
        if (!berry_grow((void **)&cat, &cat_cap, la + lb, 1)) { t.oom = true; break; }
        memcpy(cat, b->tok_bytes + b->tok_off[e.a], la);
        memcpy(cat + la, b->tok_bytes + b->tok_off[e.b], lb);
        int32_t c = tok_find(b, &t, cat, la + lb);
        if (c < 0) c = tok_add(b, &t, cat, la + lb);
        char *ta = tok_text(b, e.a), *tb = tok_text(b, e.b);
        char *m = ta && tb ? malloc(strlen(ta) + strlen(tb) + 2) : NULL;
        if (m) sprintf(m, "%s %s", ta, tb);
        free(ta); free(tb);
        if (!m || c < 0) { free(m); t.oom = true; break; }
        b->merges[b->n_merges++] = m;
        // Rewrite every word that holds the pair; its pair counts are removed and re-added.
        t.iter++;
        uint32_t n_occ = p->n_occ;
        int32_t *occ = p->occ;
        p->occ = NULL; p->n_occ = p->cap_occ = 0;
        for (uint32_t k = 0; k < n_occ && !t.oom; k++) {
            int32_t w = occ[k];
            if (t.stamp[w] == t.iter) continue;
            t.stamp[w] = t.iter;
            int32_t *s = t.sym + t.w[w].off;
            uint32_t len = t.w[w].n;
            bool has = false;
            for (uint32_t i = 0; i + 1 < len && !has; i++) has = s[i] == e.a && s[i + 1] == e.b;
            if (!has) continue;
            int64_t cnt = t.w[w].count;
            for (uint32_t i = 0; i + 1 < len; i++) count_pair(&t, s[i], s[i + 1], -cnt, w, false);
            uint32_t o = 0;
            for (uint32_t i = 0; i < len;) {
                if (i + 1 < len && s[i] == e.a && s[i + 1] == e.b) { s[o++] = c; i += 2; }
                else s[o++] = s[i++];
            }
            t.w[w].n = len = o;
            for (uint32_t i = 0; i + 1 < len; i++) {
                bool fresh = s[i] == c || s[i + 1] == c;
                count_pair(&t, s[i], s[i + 1], cnt, w, fresh);
            }
            for (uint32_t i = 0; i + 1 < len; i++) {
                if (s[i] != c && s[i + 1] != c) continue;
                pair *q = pair_at(&t, s[i], s[i + 1], false);
                if (q && q->count > 0) heap_push(&t, (hent){q->count, s[i], s[i + 1]});
            }
        }
        free(occ);
    }
    free(cat);
    if (t.oom) goto oom;
    b->specials = calloc((size_t)n_specials, sizeof *b->specials);
    if (!b->specials) goto oom;
    for (int i = 0; i < n_specials; i++) {
        if (!specials[i] || !*specials[i]) { berry_errf(err, err_size, BERRY_EINVAL, "special token %d is empty", i); goto fail; }
        b->specials[i] = berry_strdup(specials[i]);
        if (!b->specials[i]) goto oom;
        b->n_specials = i + 1;
    }
    goto done;
oom:
    berry_errf(err, err_size, BERRY_ENOMEM, "out of memory while training BPE");
fail:
    berry_bpe_free(b);
    b = NULL;
done:
    for (uint32_t i = 0; t.p && i <= t.pmask; i++) free(t.p[i].occ);
    free(t.p); free(t.heap); free(t.w); free(t.sym); free(t.wslot); free(t.wbytes); free(t.wboff);
    free(t.tslot); free(t.stamp);
    return b;
}

void berry_bpe_free(berry_bpe *b) {
    if (!b) return;
    for (int32_t i = 0; b->merges && i < b->n_merges; i++) free(b->merges[i]);
    for (int i = 0; b->specials && i < b->n_specials; i++) free(b->specials[i]);
    free(b->merges); free(b->specials);
    free(b->tok_bytes); free(b->tok_off); free(b->tok_len);
    free(b);
}

int32_t berry_bpe_n_tokens(const berry_bpe *b) { return b->n_tok + b->n_specials; }
int32_t berry_bpe_n_merges(const berry_bpe *b) { return b->n_merges; }
const char *berry_bpe_merge(const berry_bpe *b, int32_t i) { return i >= 0 && i < b->n_merges ? b->merges[i] : NULL; }

berry_status berry_bpe_write(const berry_bpe *b, berry_gguf_writer *w, char *err, size_t err_size) {
    int32_t n = b->n_tok + b->n_specials;
    char **texts = calloc((size_t)n, sizeof *texts);
    int32_t *types = malloc((size_t)n * sizeof *types);
    berry_status st = BERRY_OK;
    if (!texts || !types) { st = berry_errf(err, err_size, BERRY_ENOMEM, "out of memory"); goto done; }
    for (int32_t i = 0; i < b->n_tok; i++) {
        texts[i] = tok_text(b, i);
        types[i] = 1;  // normal
        if (!texts[i]) { st = berry_errf(err, err_size, BERRY_ENOMEM, "out of memory"); goto done; }
    }
    for (int i = 0; i < b->n_specials; i++) { texts[b->n_tok + i] = b->specials[i]; types[b->n_tok + i] = 3; }  // control
    if ((st = berry_gguf_set_str(w, "tokenizer.ggml.model", "gpt2")) ||
        (st = berry_gguf_set_str(w, "tokenizer.ggml.pre", b->pre)) ||
        (st = berry_gguf_set_arr_str(w, "tokenizer.ggml.tokens", (const char *const *)texts, (uint64_t)n)) ||
        (st = berry_gguf_set_arr(w, "tokenizer.ggml.token_type", BERRY_GGUF_INT32, types, (uint64_t)n)) ||
        (st = berry_gguf_set_arr_str(w, "tokenizer.ggml.merges", (const char *const *)b->merges, (uint64_t)b->n_merges)) ||
        (st = berry_gguf_set_u32(w, "tokenizer.ggml.bos_token_id", (uint32_t)b->n_tok)) ||
        (st = berry_gguf_set_u32(w, "tokenizer.ggml.eos_token_id", (uint32_t)b->n_tok + 1)) ||
        (st = berry_gguf_set_bool(w, "tokenizer.ggml.add_bos_token", true)))
        berry_errf(err, err_size, st, "cannot add the vocabulary to the GGUF");
done:
    for (int32_t i = 0; texts && i < b->n_tok; i++) free(texts[i]);
    free(texts); free(types);
    return st;
}

berry_status berry_bpe_train_files(const char *const *paths, int n_paths, const berry_bpe_options *opt,
                                   const char *out, char *err, size_t err_size) {
    char **texts = calloc(n_paths > 0 ? (size_t)n_paths : 1, sizeof *texts);
    size_t *lens = calloc(n_paths > 0 ? (size_t)n_paths : 1, sizeof *lens);
    berry_status st = BERRY_OK;
    berry_bpe *b = NULL;
    berry_gguf_writer *w = NULL;
    if (!texts || !lens) { st = berry_errf(err, err_size, BERRY_ENOMEM, "out of memory"); goto done; }
    for (int i = 0; i < n_paths; i++) {
        FILE *f = fopen(paths[i], "rb");
        if (!f) { st = berry_errf(err, err_size, BERRY_EIO, "cannot open '%s'", paths[i]); goto done; }
        size_t cap = 0, len = 0;
        char *buf = NULL;
        for (;;) {
            if (!berry_grow((void **)&buf, &cap, len + 65536, 1)) { fclose(f); free(buf); st = berry_errf(err, err_size, BERRY_ENOMEM, "out of memory reading '%s'", paths[i]); goto done; }
            size_t r = fread(buf + len, 1, 65536, f);
            len += r;
            if (r < 65536) break;
        }
        bool bad = ferror(f);
        fclose(f);
        texts[i] = buf; lens[i] = len;
        if (bad) { st = berry_errf(err, err_size, BERRY_EIO, "cannot read '%s'", paths[i]); goto done; }
    }
    b = berry_bpe_train((const char *const *)texts, lens, (size_t)n_paths, opt, err, err_size);
    if (!b) { st = BERRY_EINVAL; goto done; }
    w = berry_gguf_writer_new();
    if (!w) { st = berry_errf(err, err_size, BERRY_ENOMEM, "out of memory"); goto done; }
    if ((st = berry_gguf_set_str(w, "general.architecture", "llama")) ||
        (st = berry_gguf_set_str(w, "general.name", "berry-bpe"))) { berry_errf(err, err_size, st, "cannot build the GGUF"); goto done; }
    if ((st = berry_bpe_write(b, w, err, err_size))) goto done;
    st = berry_gguf_write(w, out, err, err_size);
done:
    for (int i = 0; texts && i < n_paths; i++) free(texts[i]);
    free(texts); free(lens);
    berry_bpe_free(b);
    berry_gguf_writer_free(w);
    return st;
}
