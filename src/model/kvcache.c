// kvcache.c — paged K/V cache: reference-counted pages, copy-on-write forks, a radix index of committed
// full pages (a trie whose nodes are pages, children hashed by (parent page, tokens)), and LRU eviction
// of unreferenced leaf pages under a byte cap.
//
// Invariants (berry_kv_check verifies every one of them):
// - A page is in exactly one state: free (ref 0, not indexed), cached (ref 0, indexed) or held (ref > 0).
// - Indexed pages are full and never written again; a sequence writes only into its last page, and only
//   when it holds it alone and the page is not indexed (otherwise it copies it first).
// - For every live sequence, pages[0..n_indexed) are indexed and form a chain: pages[i]'s index parent
//   is pages[i-1] (or the root). Hence every held indexed page has held ancestors, so every cached page
//   can eventually be evicted (leaves first), and a held page never is.
// - The eviction heap holds exactly the cached pages without indexed children, ordered by release time.
#include "model/kvcache.h"
#include "base/alloc.h"
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    float *data;         // (n_layer, 2, page_tokens, kv_dim): K then V of each layer; NULL until allocated
    uint64_t hash;       // of (parent, tokens) while indexed
    uint64_t tick;       // when its last reference was dropped: the LRU order of cached pages
    int32_t ref;         // sequences holding the page
    int32_t parent;      // index parent page, -1 for the root (while indexed)
    int32_t hnext;       // next page in the same hash bucket, or the next free page
    int32_t n_children;  // indexed pages whose parent is this one
    int32_t heap_pos;    // position in the eviction heap, -1 when not there
    bool indexed;
} page;

typedef struct {
    bool live;
    int len;          // reserved positions
    int n_pages, cap;
    int n_indexed;    // pages[0..n_indexed) are indexed, see above
    int32_t *pages;
} seq;

struct berry_kv {
    int n_layer, kv_dim, P, max_seqs;
    size_t page_floats, page_bytes, max_bytes;
    int32_t max_pages;    // max_bytes / page_bytes
    int32_t n_alloc;      // pages whose memory exists (ids 0..n_alloc)
    int32_t n_table;      // capacity of pg, tok and heap
    page *pg;
    int32_t *tok;         // (n_table, P): the token of every slot of every page
    int32_t free_head, n_free;
    int32_t *bucket;      // heads of hash chains, n_bucket of them (a power of two)
    size_t n_bucket;
    int32_t n_indexed;
    int32_t *heap;        // evictable pages, a binary min-heap on (tick, id)
    int32_t n_heap;
    seq *seqs;
    int32_t *scratch;     // pages taken by one append before they are placed
    int scratch_cap;
    uint64_t clock;
    int64_t pages_used, pages_cached, tokens_reused, pages_copied, pages_evicted;
};

// ---------------------------------------------------------------- small helpers

static seq *live_seq(const berry_kv *kv, int id) {
    if (!kv || id < 0 || id >= kv->max_seqs || !kv->seqs[id].live) return NULL;
    return &kv->seqs[id];
}

static int32_t *page_tok(const berry_kv *kv, int32_t p) { return kv->tok + (size_t)p * kv->P; }

static bool grow_i32(int32_t **a, int *cap, int need) {
    if (need <= *cap) return true;
    int c = *cap ? *cap : 8;
    while (c < need) c = c > INT_MAX / 2 ? INT_MAX : c * 2;
    int32_t *n = realloc(*a, (size_t)c * sizeof *n);
    if (!n) return false;
    *a = n;
    *cap = c;
    return true;
}

// ---------------------------------------------------------------- eviction heap on (tick, id)

static bool heap_less(const berry_kv *kv, int32_t a, int32_t b) {
    const page *x = &kv->pg[a], *y = &kv->pg[b];
    return x->tick < y->tick || (x->tick == y->tick && a < b);
}

static void heap_set(berry_kv *kv, int i, int32_t p) {
    kv->heap[i] = p;
    kv->pg[p].heap_pos = i;
}

static void heap_up(berry_kv *kv, int i) {
    int32_t p = kv->heap[i];
    while (i > 0) {
        int up = (i - 1) / 2;
        if (!heap_less(kv, p, kv->heap[up])) break;
        heap_set(kv, i, kv->heap[up]);
        i = up;
    }
    heap_set(kv, i, p);
}

static void heap_down(berry_kv *kv, int i) {
    int32_t p = kv->heap[i];
    for (;;) {
        int c = 2 * i + 1;
        if (c >= kv->n_heap) break;
        if (c + 1 < kv->n_heap && heap_less(kv, kv->heap[c + 1], kv->heap[c])) c++;
        if (!heap_less(kv, kv->heap[c], p)) break;
        heap_set(kv, i, kv->heap[c]);
        i = c;
    }
    heap_set(kv, i, p);
}

static void heap_remove(berry_kv *kv, int32_t p) {
    int i = kv->pg[p].heap_pos;
    kv->pg[p].heap_pos = -1;
    int32_t last = kv->heap[--kv->n_heap];
    if (i == kv->n_heap) return;
    heap_set(kv, i, last);
    heap_up(kv, i);
    heap_down(kv, kv->pg[last].heap_pos);
}

// Puts P in the heap or takes it out so that the heap holds exactly the evictable pages.
static void update_evictable(berry_kv *kv, int32_t p) {
    page *g = &kv->pg[p];
    bool want = g->indexed && g->ref == 0 && g->n_children == 0;
    if (want && g->heap_pos < 0) {
        kv->heap[kv->n_heap] = p;
        g->heap_pos = kv->n_heap++;
        heap_up(kv, g->heap_pos);
    } else if (!want && g->heap_pos >= 0) {
        heap_remove(kv, p);
    }
}

// ---------------------------------------------------------------- the radix index

static uint64_t key_hash(int32_t parent, const int32_t *t, int n) {
    uint64_t h = 0x9E3779B97F4A7C15ull ^ (uint32_t)parent;
    for (int i = 0; i < n; i++) {
        h = (h ^ (uint32_t)t[i]) * 0xFF51AFD7ED558CCDull;
        h ^= h >> 29;
    }
    h ^= h >> 33;
    h *= 0xC4CEB9FE1A85EC53ull;
    return h ^ (h >> 33);
}

static int32_t index_find(const berry_kv *kv, int32_t parent, const int32_t *t) {
    uint64_t h = key_hash(parent, t, kv->P);
    for (int32_t p = kv->bucket[h & (kv->n_bucket - 1)]; p >= 0; p = kv->pg[p].hnext) {
        const page *g = &kv->pg[p];
        if (g->hash == h && g->parent == parent && memcmp(page_tok(kv, p), t, (size_t)kv->P * sizeof *t) == 0)
            return p;
    }
    return -1;
}

// Doubles the bucket array when the index outgrows it; on allocation failure keeps the old one (longer
// chains, still correct).
static void index_maybe_grow(berry_kv *kv) {
    if ((size_t)kv->n_indexed < kv->n_bucket) return;
    size_t nb = kv->n_bucket * 2;
    int32_t *b = malloc(nb * sizeof *b);
    if (!b) return;
    for (size_t i = 0; i < nb; i++) b[i] = -1;
    for (size_t i = 0; i < kv->n_bucket; i++) {
        for (int32_t p = kv->bucket[i], next; p >= 0; p = next) {
            next = kv->pg[p].hnext;
            size_t j = kv->pg[p].hash & (nb - 1);
            kv->pg[p].hnext = b[j];
            b[j] = p;
        }
    }
    free(kv->bucket);
    kv->bucket = b;
    kv->n_bucket = nb;
}

static void index_insert(berry_kv *kv, int32_t p, int32_t parent) {
    page *g = &kv->pg[p];
    g->indexed = true;
    g->parent = parent;
    g->n_children = 0;
    g->hash = key_hash(parent, page_tok(kv, p), kv->P);
    size_t b = g->hash & (kv->n_bucket - 1);
    g->hnext = kv->bucket[b];
    kv->bucket[b] = p;
    kv->n_indexed++;
    if (parent >= 0) {
        kv->pg[parent].n_children++;
        update_evictable(kv, parent);
    }
    update_evictable(kv, p);
    index_maybe_grow(kv);
}

static void index_remove(berry_kv *kv, int32_t p) {
    page *g = &kv->pg[p];
    int32_t *link = &kv->bucket[g->hash & (kv->n_bucket - 1)];
    while (*link != p) link = &kv->pg[*link].hnext;
    *link = g->hnext;
    g->hnext = -1;
    g->indexed = false;
    kv->n_indexed--;
    if (g->heap_pos >= 0) heap_remove(kv, p);
    if (g->parent >= 0) {
        kv->pg[g->parent].n_children--;
        update_evictable(kv, g->parent);
    }
    g->parent = -1;
}

// ---------------------------------------------------------------- page lifetime

// Room for page id N_TABLE..: grows the page table, the token table and the heap together.
static bool table_grow(berry_kv *kv) {
    int32_t n = kv->n_table ? kv->n_table : 16;
    n = n > kv->max_pages / 2 ? kv->max_pages : n * 2;
    page *pg = realloc(kv->pg, (size_t)n * sizeof *pg);
    if (!pg) return false;
    kv->pg = pg;
    int32_t *tok = realloc(kv->tok, (size_t)n * kv->P * sizeof *tok);
    if (!tok) return false;
    kv->tok = tok;
    int32_t *heap = realloc(kv->heap, (size_t)n * sizeof *heap);
    if (!heap) return false;
    kv->heap = heap;
    kv->n_table = n;
    return true;
}

// A page for one sequence (ref 1): from the free list, new memory while under the cap, or the least
// recently used evictable page. -1 when none can be had (ENOMEM from the system is folded in: the
// caller checked the cap beforehand).
static int32_t page_take(berry_kv *kv) {
    int32_t p = -1;
    if (kv->free_head >= 0) {
        p = kv->free_head;
        kv->free_head = kv->pg[p].hnext;
        kv->n_free--;
    } else if (kv->n_alloc < kv->max_pages) {
        if (kv->n_alloc == kv->n_table && !table_grow(kv)) return -1;
        float *d = berry_calloc(kv->page_floats, sizeof(float));
        if (!d) return -1;
        p = kv->n_alloc++;
        kv->pg[p] = (page){.data = d, .parent = -1, .hnext = -1, .heap_pos = -1};
    } else if (kv->n_heap > 0) {
        p = kv->heap[0];
        index_remove(kv, p);
        kv->pages_cached--;
        kv->pages_evicted++;
    } else {
        return -1;
    }
    page *g = &kv->pg[p];
    g->ref = 1;
    g->hnext = -1;
    kv->pages_used++;
    return p;
}

// Returns a page that nobody holds and the index does not know to the free list (its memory is kept).
static void page_to_free_list(berry_kv *kv, int32_t p) {
    kv->pg[p].hnext = kv->free_head;
    kv->free_head = p;
    kv->n_free++;
}

static void page_acquire(berry_kv *kv, int32_t p) {
    page *g = &kv->pg[p];
    if (g->ref++ == 0) {
        kv->pages_used++;
        if (g->indexed) kv->pages_cached--;
    }
    update_evictable(kv, p);
}

static void page_release(berry_kv *kv, int32_t p) {
    page *g = &kv->pg[p];
    if (--g->ref > 0) return;
    kv->pages_used--;
    if (g->indexed) {
        kv->pages_cached++;
        g->tick = ++kv->clock;
        update_evictable(kv, p);
    } else {
        page_to_free_list(kv, p);
    }
}

// ---------------------------------------------------------------- public API

berry_kv *berry_kv_create(const berry_kv_config *cfg, char *err, size_t err_size) {
    if (!cfg) { berry_errf(err, err_size, BERRY_EINVAL, "kv cache: no configuration"); return NULL; }
    int P = cfg->page_tokens ? cfg->page_tokens : 16;
    int max_seqs = cfg->max_seqs ? cfg->max_seqs : 256;
    if (cfg->n_layer <= 0 || cfg->kv_dim <= 0 || P <= 0 || max_seqs <= 0) {
        berry_errf(err, err_size, BERRY_EINVAL,
                   "kv cache: n_layer %d, kv_dim %d, page_tokens %d and max_seqs %d must be positive",
                   cfg->n_layer, cfg->kv_dim, cfg->page_tokens, cfg->max_seqs);
        return NULL;
    }
    size_t floats, bytes;
    if (!berry_mul_ok((size_t)cfg->n_layer * 2, (size_t)P, &floats) || !berry_mul_ok(floats, (size_t)cfg->kv_dim, &floats) ||
        !berry_mul_ok(floats, sizeof(float), &bytes)) {
        berry_errf(err, err_size, BERRY_EINVAL, "kv cache: a page of %d tokens x %d layers x %d floats overflows",
                   P, cfg->n_layer, cfg->kv_dim);
        return NULL;
    }
    if (cfg->max_bytes < bytes) {
        berry_errf(err, err_size, BERRY_EINVAL, "kv cache: max_bytes %zu is less than one page (%zu bytes)",
                   cfg->max_bytes, bytes);
        return NULL;
    }
    berry_kv *kv = calloc(1, sizeof *kv);
    if (!kv) { berry_errf(err, err_size, BERRY_ENOMEM, "kv cache: out of memory"); return NULL; }
    kv->n_layer = cfg->n_layer;
    kv->kv_dim = cfg->kv_dim;
    kv->P = P;
    kv->max_seqs = max_seqs;
    kv->page_floats = floats;
    kv->page_bytes = bytes;
    kv->max_bytes = cfg->max_bytes;
    size_t mp = cfg->max_bytes / bytes;
    kv->max_pages = mp > (size_t)INT32_MAX - 1 ? INT32_MAX - 1 : (int32_t)mp;
    kv->free_head = -1;
    kv->n_bucket = 64;
    kv->bucket = malloc(kv->n_bucket * sizeof *kv->bucket);
    kv->seqs = calloc((size_t)max_seqs, sizeof *kv->seqs);
    if (!kv->bucket || !kv->seqs) {
        berry_kv_free(kv);
        berry_errf(err, err_size, BERRY_ENOMEM, "kv cache: out of memory");
        return NULL;
    }
    for (size_t i = 0; i < kv->n_bucket; i++) kv->bucket[i] = -1;
    return kv;
}

void berry_kv_free(berry_kv *kv) {
    if (!kv) return;
    for (int32_t p = 0; p < kv->n_alloc; p++) berry_free(kv->pg[p].data);
    if (kv->seqs)
        for (int i = 0; i < kv->max_seqs; i++) free(kv->seqs[i].pages);
    free(kv->pg);
    free(kv->tok);
    free(kv->heap);
    free(kv->bucket);
    free(kv->seqs);
    free(kv->scratch);
    free(kv);
}

int berry_kv_page_tokens(const berry_kv *kv) { return kv->P; }

size_t berry_kv_page_bytes(const berry_kv *kv) { return kv->page_bytes; }

// The lowest free id, so that ids are small and runs reproducible.
static int seq_slot(berry_kv *kv) {
    for (int i = 0; i < kv->max_seqs; i++)
        if (!kv->seqs[i].live) return i;
    return -1;
}

int berry_kv_seq_new(berry_kv *kv) {
    int id = seq_slot(kv);
    if (id < 0) return -1;
    seq *s = &kv->seqs[id];
    s->live = true;
    s->len = s->n_pages = s->n_indexed = 0;
    return id;
}

int berry_kv_seq_fork(berry_kv *kv, int src) {
    seq *a = live_seq(kv, src);
    if (!a) return -1;
    int id = seq_slot(kv);
    if (id < 0) return -1;
    seq *s = &kv->seqs[id];
    a = &kv->seqs[src];
    if (!grow_i32(&s->pages, &s->cap, a->n_pages)) return -1;
    for (int i = 0; i < a->n_pages; i++) {
        s->pages[i] = a->pages[i];
        page_acquire(kv, a->pages[i]);
    }
    s->live = true;
    s->len = a->len;
    s->n_pages = a->n_pages;
    s->n_indexed = a->n_indexed;
    return id;
}

void berry_kv_seq_free(berry_kv *kv, int id) {
    seq *s = live_seq(kv, id);
    if (!s) return;
    // Last page first, so that a chain's deeper pages are older in the LRU order than their parents.
    for (int i = s->n_pages - 1; i >= 0; i--) page_release(kv, s->pages[i]);
    s->live = false;
    s->len = s->n_pages = s->n_indexed = 0;
}

int berry_kv_seq_len(const berry_kv *kv, int id) {
    const seq *s = live_seq(kv, id);
    return s ? s->len : -1;
}

void berry_kv_seq_truncate(berry_kv *kv, int id, int len) {
    seq *s = live_seq(kv, id);
    if (!s || len < 0 || len >= s->len) return;
    int keep = (int)(((int64_t)len + kv->P - 1) / kv->P);
    for (int i = s->n_pages - 1; i >= keep; i--) page_release(kv, s->pages[i]);
    s->n_pages = keep;
    s->len = len;
    if (s->n_indexed > len / kv->P) s->n_indexed = len / kv->P;
}

int berry_kv_seq_reuse(berry_kv *kv, int id, const int32_t *tokens, int n) {
    seq *s = live_seq(kv, id);
    if (!s || s->len != 0 || !tokens || n < 2) return 0;
    int max_pages = (n - 1) / kv->P;  // never all N tokens: the last one must be evaluated
    int32_t parent = -1;
    int k = 0;
    while (k < max_pages) {
        int32_t p = index_find(kv, parent, tokens + (size_t)k * kv->P);
        if (p < 0) break;
        if (!grow_i32(&s->pages, &s->cap, k + 1)) break;
        s->pages[k++] = p;
        page_acquire(kv, p);
        parent = p;
    }
    s->n_pages = s->n_indexed = k;
    s->len = k * kv->P;
    kv->tokens_reused += s->len;
    return s->len;
}

berry_status berry_kv_seq_append(berry_kv *kv, int id, const int32_t *tokens, int n, char *err, size_t err_size) {
    seq *s = live_seq(kv, id);
    if (!s) return berry_errf(err, err_size, BERRY_EINVAL, "kv cache: sequence %d is not live", id);
    if (n < 0 || (n > 0 && !tokens))
        return berry_errf(err, err_size, BERRY_EINVAL, "kv cache: append of %d tokens to sequence %d without tokens", n, id);
    if (n == 0) return BERRY_OK;
    if (n > INT_MAX - s->len)
        return berry_errf(err, err_size, BERRY_ELIMIT, "kv cache: sequence %d would exceed %d positions", id, INT_MAX);
    int P = kv->P, off = s->len % P;
    int32_t last = s->n_pages ? s->pages[s->n_pages - 1] : -1;
    bool copy = off != 0 && (kv->pg[last].ref > 1 || kv->pg[last].indexed);
    int total = (int)(((int64_t)s->len + n + P - 1) / P);
    int need = (copy ? 1 : 0) + total - s->n_pages;
    int64_t avail = (int64_t)kv->n_free + (kv->max_pages - kv->n_alloc) + kv->pages_cached;
    if (need > avail)
        return berry_errf(err, err_size, BERRY_ELIMIT,
                          "kv cache full: %d tokens for sequence %d need %d more pages of %zu bytes, but the cap of "
                          "%zu bytes holds %d pages, %lld of them held by sequences",
                          n, id, need, kv->page_bytes, kv->max_bytes, (int)kv->max_pages, (long long)kv->pages_used);
    if (!grow_i32(&s->pages, &s->cap, total) || !grow_i32(&kv->scratch, &kv->scratch_cap, need))
        return berry_errf(err, err_size, BERRY_ENOMEM, "kv cache: out of memory growing sequence %d", id);
    for (int i = 0; i < need; i++) {
        int32_t p = page_take(kv);
        if (p < 0) {
            // Only the system allocator can fail here (the cap was checked): give back what was taken.
            for (int j = 0; j < i; j++) page_release(kv, kv->scratch[j]);
            return berry_errf(err, err_size, BERRY_ENOMEM, "kv cache: allocating a page of %zu bytes failed",
                              kv->page_bytes);
        }
        kv->scratch[i] = p;
    }
    int used = 0;
    if (copy) {
        // Copy-on-write of the shared (or indexed, hence immutable) partly-filled last page.
        int32_t c = kv->scratch[used++];
        size_t rows = (size_t)off * kv->kv_dim, block = (size_t)P * kv->kv_dim;
        for (size_t b = 0; b < (size_t)kv->n_layer * 2; b++)
            memcpy(kv->pg[c].data + b * block, kv->pg[last].data + b * block, rows * sizeof(float));
        memcpy(page_tok(kv, c), page_tok(kv, last), (size_t)off * sizeof(int32_t));
        page_release(kv, last);
        s->pages[s->n_pages - 1] = c;
        kv->pages_copied++;
    }
    while (s->n_pages < total) s->pages[s->n_pages++] = kv->scratch[used++];
    for (int j = 0; j < n; j++) {
        int pos = s->len + j;
        page_tok(kv, s->pages[pos / P])[pos % P] = tokens[j];
    }
    s->len += n;
    return BERRY_OK;
}

void berry_kv_commit(berry_kv *kv) {
    for (int id = 0; id < kv->max_seqs; id++) {
        seq *s = &kv->seqs[id];
        if (!s->live) continue;
        int full = s->len / kv->P;
        for (int i = s->n_indexed; i < full; i++) {
            int32_t p = s->pages[i], parent = i ? s->pages[i - 1] : -1;
            if (kv->pg[p].indexed) continue;  // indexed through another sequence sharing it
            int32_t x = index_find(kv, parent, page_tok(kv, p));
            if (x >= 0) {
                // The same tokens after the same prefix were computed elsewhere: share that page and drop
                // this copy, so that the index keeps one node per prefix and the memory is freed.
                page_acquire(kv, x);
                page_release(kv, p);
                s->pages[i] = x;
            } else {
                index_insert(kv, p, parent);
            }
        }
        s->n_indexed = full;
    }
}

float *berry_kv_k(berry_kv *kv, int id, int layer, int pos) {
    seq *s = live_seq(kv, id);
    if (!s || layer < 0 || layer >= kv->n_layer || pos < 0 || pos >= s->len) return NULL;
    const page *g = &kv->pg[s->pages[pos / kv->P]];
    return g->data + ((size_t)layer * 2 * kv->P + pos % kv->P) * kv->kv_dim;
}

float *berry_kv_v(berry_kv *kv, int id, int layer, int pos) {
    seq *s = live_seq(kv, id);
    if (!s || layer < 0 || layer >= kv->n_layer || pos < 0 || pos >= s->len) return NULL;
    const page *g = &kv->pg[s->pages[pos / kv->P]];
    return g->data + ((size_t)(layer * 2 + 1) * kv->P + pos % kv->P) * kv->kv_dim;
}

const int32_t *berry_kv_seq_pages(const berry_kv *kv, int id, int *n_pages) {
    const seq *s = live_seq(kv, id);
    if (n_pages) *n_pages = s ? s->n_pages : 0;
    return s ? s->pages : NULL;
}

float *berry_kv_page_k(berry_kv *kv, int32_t p, int layer) {
    if (!kv || p < 0 || p >= kv->n_alloc || layer < 0 || layer >= kv->n_layer) return NULL;
    return kv->pg[p].data + (size_t)layer * 2 * kv->P * kv->kv_dim;
}

float *berry_kv_page_v(berry_kv *kv, int32_t p, int layer) {
    if (!kv || p < 0 || p >= kv->n_alloc || layer < 0 || layer >= kv->n_layer) return NULL;
    return kv->pg[p].data + (size_t)(layer * 2 + 1) * kv->P * kv->kv_dim;
}

void berry_kv_get_stats(const berry_kv *kv, berry_kv_stats *out) {
    memset(out, 0, sizeof *out);
    out->bytes_used = (size_t)kv->n_alloc * kv->page_bytes;
    out->bytes_cap = kv->max_bytes;
    out->pages_used = kv->pages_used;
    out->pages_cached = kv->pages_cached;
    out->tokens_reused = kv->tokens_reused;
    out->pages_copied = kv->pages_copied;
    out->pages_evicted = kv->pages_evicted;
    out->pages_free = kv->n_free;
}

// ---------------------------------------------------------------- consistency check

#define BAD(...) return berry_errf(err, err_size, BERRY_EFORMAT, "kv cache inconsistent: " __VA_ARGS__)

berry_status berry_kv_check(const berry_kv *kv, char *err, size_t err_size) {
    int32_t n = kv->n_alloc;
    if ((size_t)n * kv->page_bytes > kv->max_bytes) BAD("%d pages exceed the cap", (int)n);
    int32_t *refs = calloc((size_t)n + 1, sizeof *refs), *kids = calloc((size_t)n + 1, sizeof *kids);
    char *in_free = calloc((size_t)n + 1, 1);
    if (!refs || !kids || !in_free) {
        free(refs); free(kids); free(in_free);
        return berry_errf(err, err_size, BERRY_ENOMEM, "kv cache check: out of memory");
    }
    berry_status st = BERRY_OK;
#define FAIL(...) do { st = berry_errf(err, err_size, BERRY_EFORMAT, "kv cache inconsistent: " __VA_ARGS__); goto done; } while (0)
    for (int id = 0; id < kv->max_seqs; id++) {
        const seq *s = &kv->seqs[id];
        if (!s->live) continue;
        if (s->len < 0 || s->n_pages != (s->len + kv->P - 1) / kv->P) FAIL("sequence %d: %d pages for %d positions", id, s->n_pages, s->len);
        if (s->n_indexed < 0 || s->n_indexed > s->len / kv->P) FAIL("sequence %d: n_indexed %d", id, s->n_indexed);
        for (int i = 0; i < s->n_pages; i++) {
            int32_t p = s->pages[i];
            if (p < 0 || p >= n) FAIL("sequence %d holds page %d of %d", id, (int)p, (int)n);
            refs[p]++;
            if (i < s->n_indexed && (!kv->pg[p].indexed || kv->pg[p].parent != (i ? s->pages[i - 1] : -1)))
                FAIL("sequence %d: page %d at %d is not chained in the index", id, (int)p, i);
        }
    }
    int32_t nf = 0;
    for (int32_t p = kv->free_head; p >= 0; p = kv->pg[p].hnext) {
        if (p >= n || in_free[p]) FAIL("free list corrupt at page %d", (int)p);
        in_free[p] = 1;
        nf++;
    }
    if (nf != kv->n_free) FAIL("free list has %d pages, counted %d", (int)nf, (int)kv->n_free);
    int64_t used = 0, cached = 0, indexed = 0, heaped = 0;
    for (int32_t p = 0; p < n; p++) {
        const page *g = &kv->pg[p];
        if (g->ref != refs[p]) FAIL("page %d has ref %d, held %d times", (int)p, g->ref, refs[p]);
        if (in_free[p] && (g->ref || g->indexed)) FAIL("free page %d is held or indexed", (int)p);
        if (!in_free[p] && !g->ref && !g->indexed) FAIL("page %d is lost (not held, indexed or free)", (int)p);
        used += g->ref > 0;
        cached += g->ref == 0 && g->indexed;
        if (g->indexed) {
            indexed++;
            if (g->parent >= n || (g->parent >= 0 && !kv->pg[g->parent].indexed)) FAIL("page %d has a bad parent", (int)p);
            if (g->parent >= 0) kids[g->parent]++;
            if (g->ref > 0 && g->parent >= 0 && kv->pg[g->parent].ref == 0) FAIL("held page %d has an unheld parent", (int)p);
            if (index_find(kv, g->parent, page_tok(kv, p)) != p) FAIL("page %d is not found in the index", (int)p);
        }
        if (g->heap_pos >= 0) {
            heaped++;
            if (g->heap_pos >= kv->n_heap || kv->heap[g->heap_pos] != p) FAIL("heap position of page %d", (int)p);
            if (g->heap_pos > 0 && heap_less(kv, p, kv->heap[(g->heap_pos - 1) / 2])) FAIL("heap order at page %d", (int)p);
        }
    }
    for (int32_t p = 0; p < n; p++) {
        const page *g = &kv->pg[p];
        if (g->indexed && g->n_children != kids[p]) FAIL("page %d counts %d children, has %d", (int)p, g->n_children, kids[p]);
        bool want = g->indexed && g->ref == 0 && kids[p] == 0;
        if (want != (g->heap_pos >= 0)) FAIL("page %d %s the eviction heap", (int)p, want ? "missing from" : "wrongly in");
    }
    if (used != kv->pages_used || cached != kv->pages_cached || indexed != kv->n_indexed || heaped != kv->n_heap)
        FAIL("counters: used %lld/%lld cached %lld/%lld indexed %lld/%d heap %lld/%d", (long long)used,
             (long long)kv->pages_used, (long long)cached, (long long)kv->pages_cached, (long long)indexed,
             (int)kv->n_indexed, (long long)heaped, (int)kv->n_heap);
done:
    free(refs);
    free(kids);
    free(in_free);
    return st;
#undef FAIL
}
#undef BAD
