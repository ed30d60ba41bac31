// Tests of the paged KV cache. A deterministic fake "forward" writes into every reserved position K and V
// values computed from (hash of the token prefix up to that position, position, layer, element), so
// that every value the cache returns can be checked by recomputing it from the tokens the test itself
// keeps: a page attached after the wrong prefix, a copy-on-write that touched the source, or a page
// reused after eviction all show up as a wrong value. Expected counts (positions reused, pages copied,
// pages evicted, which prefix survives) are worked out by hand in the comments.
#include "test.h"
#include "base/rng.h"
#include "model/kvcache.h"
#include <stdlib.h>

// ------------------------------------------------------------ the fake forward and its recomputation

static uint64_t mix(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

// Hash of tokens[0..=pos], a different function from the cache's own index hash.
static uint64_t prefix_hash(const int32_t *t, int pos) {
    uint64_t h = 1469598103934665603ull;
    for (int i = 0; i <= pos; i++) h = mix(h ^ (uint32_t)t[i] ^ ((uint64_t)i << 32));
    return h;
}

// Exactly representable (24-bit) values, so equality can be exact.
static float fake_val(uint64_t h, int pos, int layer, int j, int which) {
    uint64_t z = mix(h ^ mix((uint64_t)pos * 1000003u + (uint64_t)layer * 7919u + (uint64_t)j * 31u + (uint64_t)which));
    return (float)(z >> 40) / 16777216.0f;
}

// Writes positions [from, to) of SEQ as a forward pass would, given the sequence's whole token list T.
static void fake_forward(berry_kv *kv, int seq, const int32_t *t, int from, int to, int n_layer, int kv_dim) {
    for (int pos = from; pos < to; pos++) {
        uint64_t h = prefix_hash(t, pos);
        for (int l = 0; l < n_layer; l++) {
            float *k = berry_kv_k(kv, seq, l, pos), *v = berry_kv_v(kv, seq, l, pos);
            for (int j = 0; j < kv_dim; j++) {
                k[j] = fake_val(h, pos, l, j, 0);
                v[j] = fake_val(h, pos, l, j, 1);
            }
        }
    }
}

// Number of positions of SEQ whose K or V differ from recomputation from T (0 = all correct); also
// checks the page-wise accessors agree with the per-position ones.
static int count_wrong(berry_kv *kv, int seq, const int32_t *t, int len, int n_layer, int kv_dim) {
    int wrong = 0, P = berry_kv_page_tokens(kv), np = 0;
    const int32_t *pages = berry_kv_seq_pages(kv, seq, &np);
    if (berry_kv_seq_len(kv, seq) != len || np != (len + P - 1) / P) return len + 1;
    for (int pos = 0; pos < len; pos++) {
        uint64_t h = prefix_hash(t, pos);
        for (int l = 0; l < n_layer; l++) {
            const float *k = berry_kv_k(kv, seq, l, pos), *v = berry_kv_v(kv, seq, l, pos);
            const float *pk = berry_kv_page_k(kv, pages[pos / P], l) + (size_t)(pos % P) * kv_dim;
            const float *pv = berry_kv_page_v(kv, pages[pos / P], l) + (size_t)(pos % P) * kv_dim;
            int bad = k != pk || v != pv;
            for (int j = 0; j < kv_dim; j++) bad |= k[j] != fake_val(h, pos, l, j, 0) || v[j] != fake_val(h, pos, l, j, 1);
            if (bad) { wrong++; break; }
        }
    }
    return wrong;
}

#define NL 2
#define KD 3

static berry_kv *make_kv(int page_tokens, int pages, size_t extra_bytes, int max_seqs) {
    size_t pb = (size_t)2 * NL * page_tokens * KD * sizeof(float);
    berry_kv_config c = {.n_layer = NL, .kv_dim = KD, .page_tokens = page_tokens,
                         .max_bytes = pb * pages + extra_bytes, .max_seqs = max_seqs};
    char err[200];
    return berry_kv_create(&c, err, sizeof err);
}

// A sequence with tokens T[0..n) appended and computed.
static int make_seq(berry_kv *kv, const int32_t *t, int n) {
    int s = berry_kv_seq_new(kv);
    if (s < 0 || berry_kv_seq_append(kv, s, t, n, NULL, 0) != BERRY_OK) return -1;
    fake_forward(kv, s, t, 0, n, NL, KD);
    return s;
}

#define CHECK_KV(kv)                                                                          \
    do {                                                                                      \
        char e_[256];                                                                         \
        CHECKF(berry_kv_check((kv), e_, sizeof e_) == BERRY_OK, "%s", e_);                   \
    } while (0)

// ------------------------------------------------------------ hand-worked cases

TEST(kv_create_rejects_bad_configs) {
    char err[200] = "";
    berry_kv_config c = {.n_layer = 2, .kv_dim = 4, .page_tokens = 4, .max_bytes = 100};
    // One page is 2 layers * 2 (K,V) * 4 tokens * 4 floats * 4 bytes = 256 bytes > 100.
    CHECK(berry_kv_create(&c, err, sizeof err) == NULL);
    CHECK(strstr(err, "256") != NULL);
    c.max_bytes = 256;
    c.n_layer = 0;
    CHECK(berry_kv_create(&c, err, sizeof err) == NULL);
    c.n_layer = 1 << 30, c.kv_dim = 1 << 30, c.page_tokens = 1 << 30;
    CHECK(berry_kv_create(&c, err, sizeof err) == NULL);
    CHECK(berry_kv_create(NULL, err, sizeof err) == NULL);
    c = (berry_kv_config){.n_layer = 2, .kv_dim = 4, .max_bytes = 1 << 20};
    berry_kv *kv = berry_kv_create(&c, err, sizeof err);
    CHECK(kv);
    CHECK_EQ_INT(berry_kv_page_tokens(kv), 16);  // the default
    CHECK_EQ_INT(berry_kv_page_bytes(kv), 2 * 2 * 16 * 4 * 4);
    berry_kv_free(kv);
}

TEST(kv_fork_copy_on_write_leaves_source_untouched) {
    berry_kv *kv = make_kv(4, 64, 0, 0);
    CHECK(kv);
    int32_t ta[16] = {5, 6, 7, 8, 9, 10}, tb[16];
    int a = make_seq(kv, ta, 6);  // pages: [0 1 2 3] [4 5 . .]
    CHECK(a >= 0);
    berry_kv_commit(kv);
    int b = berry_kv_seq_fork(kv, a);
    CHECK(b >= 0 && b != a);
    memcpy(tb, ta, sizeof ta);
    berry_kv_stats st;
    berry_kv_get_stats(kv, &st);
    CHECK_EQ_INT(st.pages_used, 2);  // shared, not copied
    CHECK_EQ_INT(st.pages_copied, 0);
    // b appends into the shared, partly-filled second page: it must be copied first.
    tb[6] = 99;
    CHECK(berry_kv_seq_append(kv, b, tb + 6, 1, NULL, 0) == BERRY_OK);
    fake_forward(kv, b, tb, 6, 7, NL, KD);
    berry_kv_get_stats(kv, &st);
    CHECK_EQ_INT(st.pages_copied, 1);
    CHECK_EQ_INT(st.pages_used, 3);
    int na, nb;
    const int32_t *pa = berry_kv_seq_pages(kv, a, &na), *pb = berry_kv_seq_pages(kv, b, &nb);
    CHECK(na == 2 && nb == 2);
    CHECK(pa[0] == pb[0]);  // the full page stays shared
    CHECK(pa[1] != pb[1]);
    CHECK_EQ_INT(count_wrong(kv, a, ta, 6, NL, KD), 0);
    CHECK_EQ_INT(count_wrong(kv, b, tb, 7, NL, KD), 0);
    // a now holds its second page alone (and it is not full, so not indexed): written in place.
    ta[6] = 42;
    CHECK(berry_kv_seq_append(kv, a, ta + 6, 1, NULL, 0) == BERRY_OK);
    fake_forward(kv, a, ta, 6, 7, NL, KD);
    berry_kv_get_stats(kv, &st);
    CHECK_EQ_INT(st.pages_copied, 1);
    // Fork at a page boundary: the child's append starts a new page, nothing to copy.
    ta[7] = 43;
    CHECK(berry_kv_seq_append(kv, a, ta + 7, 1, NULL, 0) == BERRY_OK);
    fake_forward(kv, a, ta, 7, 8, NL, KD);
    int c = berry_kv_seq_fork(kv, a);
    int32_t tc[16];
    memcpy(tc, ta, sizeof ta);
    tc[8] = 1, tc[9] = 2;
    CHECK(berry_kv_seq_append(kv, c, tc + 8, 2, NULL, 0) == BERRY_OK);
    fake_forward(kv, c, tc, 8, 10, NL, KD);
    berry_kv_get_stats(kv, &st);
    CHECK_EQ_INT(st.pages_copied, 1);
    CHECK_EQ_INT(count_wrong(kv, a, ta, 8, NL, KD), 0);
    CHECK_EQ_INT(count_wrong(kv, b, tb, 7, NL, KD), 0);
    CHECK_EQ_INT(count_wrong(kv, c, tc, 10, NL, KD), 0);
    // Truncating c into its shared full page and appending copies that page (a still holds it).
    berry_kv_seq_truncate(kv, c, 5);
    tc[5] = 77;
    CHECK(berry_kv_seq_append(kv, c, tc + 5, 1, NULL, 0) == BERRY_OK);
    fake_forward(kv, c, tc, 5, 6, NL, KD);
    berry_kv_get_stats(kv, &st);
    CHECK_EQ_INT(st.pages_copied, 2);
    CHECK_EQ_INT(count_wrong(kv, a, ta, 8, NL, KD), 0);
    CHECK_EQ_INT(count_wrong(kv, c, tc, 6, NL, KD), 0);
    CHECK_KV(kv);
    berry_kv_free(kv);
}

TEST(kv_reuse_attaches_longest_cached_prefix) {
    // Page size 4. The prompt A = a0..a9 is computed and committed: its full pages are positions 0-3
    // and 4-7 (positions 8-9 sit in a partial page, which is never indexed).
    berry_kv *kv = make_kv(4, 64, 0, 0);
    CHECK(kv);
    int32_t A[24] = {10, 11, 12, 13, 14, 15, 16, 17, 18, 19};
    int a = make_seq(kv, A, 10);
    CHECK(a >= 0);
    // Before the commit nothing is reusable.
    int s = berry_kv_seq_new(kv);
    CHECK_EQ_INT(berry_kv_seq_reuse(kv, s, A, 10), 0);
    berry_kv_commit(kv);
    struct { int n; int change_at; int expect; } cases[] = {
        {10, -1, 8},  // (10-1)/4 = 2 pages
        {9, -1, 8},   // (9-1)/4 = 2 pages
        {8, -1, 4},   // (8-1)/4 = 1: never all tokens, the last one must be evaluated
        {5, -1, 4},   // (5-1)/4 = 1
        {4, -1, 0},   // (4-1)/4 = 0
        {20, -1, 8},  // only two pages are cached
        {10, 5, 4},   // differs inside page 1: page 0 only
        {10, 3, 0},   // differs inside page 0: nothing
        {10, 8, 8},   // differs after the cached pages
    };
    int64_t reused = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int32_t p[24];
        memcpy(p, A, sizeof p);
        for (int j = 10; j < 24; j++) p[j] = 100 + j;
        if (cases[i].change_at >= 0) p[cases[i].change_at] = 999;
        int q = berry_kv_seq_new(kv);
        int got = berry_kv_seq_reuse(kv, q, p, cases[i].n);
        CHECKF(got == cases[i].expect, "case %zu: reused %d, expected %d", i, got, cases[i].expect);
        reused += got;
        CHECK_EQ_INT(count_wrong(kv, q, p, got, NL, KD), 0);
        // Completing the prompt gives the same values as computing it from scratch.
        CHECK(berry_kv_seq_append(kv, q, p + got, cases[i].n - got, NULL, 0) == BERRY_OK);
        fake_forward(kv, q, p, got, cases[i].n, NL, KD);
        CHECK_EQ_INT(count_wrong(kv, q, p, cases[i].n, NL, KD), 0);
        CHECK_EQ_INT(berry_kv_seq_reuse(kv, q, p, cases[i].n), 0);  // not empty: nothing attached
        berry_kv_seq_free(kv, q);
    }
    // The trie is keyed by the parent page: A's second page after a different first page is no match.
    int32_t B[10] = {1, 2, 3, 4, 14, 15, 16, 17, 18, 19};
    int q = berry_kv_seq_new(kv);
    CHECK_EQ_INT(berry_kv_seq_reuse(kv, q, B, 10), 0);
    berry_kv_stats st;
    berry_kv_get_stats(kv, &st);
    CHECK_EQ_INT(st.tokens_reused, reused);
    CHECK_EQ_INT(reused, 8 + 8 + 4 + 4 + 0 + 8 + 4 + 0 + 8);
    CHECK_KV(kv);
    berry_kv_free(kv);
}

TEST(kv_commit_shares_identical_pages) {
    // Two sequences computed the same 8 tokens independently: after the commit they share two pages,
    // the duplicates are back on the free list, and a third sequence reuses them.
    berry_kv *kv = make_kv(4, 16, 0, 0);
    int32_t t[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    int a = make_seq(kv, t, 8), b = make_seq(kv, t, 8);
    berry_kv_stats st;
    berry_kv_get_stats(kv, &st);
    CHECK_EQ_INT(st.pages_used, 4);
    berry_kv_commit(kv);
    berry_kv_get_stats(kv, &st);
    CHECK_EQ_INT(st.pages_used, 2);
    CHECK_EQ_INT(st.pages_free, 2);
    int na, nb;
    const int32_t *pa = berry_kv_seq_pages(kv, a, &na), *pb = berry_kv_seq_pages(kv, b, &nb);
    CHECK(na == 2 && nb == 2 && pa[0] == pb[0] && pa[1] == pb[1]);
    CHECK_EQ_INT(count_wrong(kv, a, t, 8, NL, KD), 0);
    CHECK_EQ_INT(count_wrong(kv, b, t, 8, NL, KD), 0);
    int c = berry_kv_seq_new(kv);
    CHECK_EQ_INT(berry_kv_seq_reuse(kv, c, t, 9), 8);
    CHECK_KV(kv);
    berry_kv_free(kv);
}

TEST(kv_eviction_is_lru_among_leaves_and_spares_held_pages) {
    // A cap of exactly 4 pages of 4 tokens. Chains A = (A0 -> A1) and B = (B0 -> B1) are computed,
    // committed and released; releasing a sequence drops its pages last first, so the LRU clock reads
    // A1 = 1, A0 = 2, B1 = 3, B0 = 4. Only leaves (A1, B1) may be evicted at first.
    berry_kv *kv = make_kv(4, 4, 0, 0);
    CHECK(kv);
    int32_t A[9] = {1, 2, 3, 4, 5, 6, 7, 8, 0}, B[9] = {11, 12, 13, 14, 15, 16, 17, 18, 0};
    int32_t X[32];
    for (int i = 0; i < 32; i++) X[i] = 50 + i;
    int a = make_seq(kv, A, 8), b = make_seq(kv, B, 8);
    berry_kv_commit(kv);
    berry_kv_seq_free(kv, a);
    berry_kv_seq_free(kv, b);
    berry_kv_stats st;
    berry_kv_get_stats(kv, &st);
    CHECK_EQ_INT(st.pages_cached, 4);
    CHECK_EQ_INT(st.pages_used, 0);
    CHECK_EQ_INT(st.bytes_used, st.bytes_cap);
    // 1. A new page evicts the least recently used leaf, A1 (clock 1). A0 becomes a leaf (clock 2).
    int x = make_seq(kv, X, 4);
    CHECK(x >= 0);
    berry_kv_get_stats(kv, &st);
    CHECK_EQ_INT(st.pages_evicted, 1);
    int probe = berry_kv_seq_new(kv);
    CHECK_EQ_INT(berry_kv_seq_reuse(kv, probe, A, 9), 4);  // A0 only
    CHECK_EQ_INT(count_wrong(kv, probe, A, 4, NL, KD), 0);
    berry_kv_seq_free(kv, probe);                          // A0 released again: clock 5
    // 2. Leaves now: B1 (3), A0 (5). The next page evicts B1.
    CHECK(berry_kv_seq_append(kv, x, X + 4, 4, NULL, 0) == BERRY_OK);
    fake_forward(kv, x, X, 4, 8, NL, KD);
    probe = berry_kv_seq_new(kv);
    CHECK_EQ_INT(berry_kv_seq_reuse(kv, probe, B, 9), 4);  // B0 only
    berry_kv_seq_free(kv, probe);                          // B0: clock 6
    // 3. Leaves: A0 (5), B0 (6). The next page evicts A0.
    CHECK(berry_kv_seq_append(kv, x, X + 8, 4, NULL, 0) == BERRY_OK);
    fake_forward(kv, x, X, 8, 12, NL, KD);
    probe = berry_kv_seq_new(kv);
    CHECK_EQ_INT(berry_kv_seq_reuse(kv, probe, A, 9), 0);
    berry_kv_seq_free(kv, probe);
    // 4. A sequence holds B0; x holds three pages: nothing is evictable, the next page is refused.
    int hold = berry_kv_seq_new(kv);
    CHECK_EQ_INT(berry_kv_seq_reuse(kv, hold, B, 9), 4);
    char err[256] = "";
    CHECK(berry_kv_seq_append(kv, x, X + 12, 4, err, sizeof err) == BERRY_ELIMIT);
    CHECK(strstr(err, "kv cache full") != NULL);
    berry_kv_get_stats(kv, &st);
    CHECK_EQ_INT(st.pages_evicted, 3);
    CHECK_EQ_INT(st.pages_used, 4);
    CHECK_EQ_INT(count_wrong(kv, x, X, 12, NL, KD), 0);
    CHECK_EQ_INT(count_wrong(kv, hold, B, 4, NL, KD), 0);
    CHECK_KV(kv);
    berry_kv_free(kv);
}

TEST(kv_byte_cap_is_exact_and_failures_change_nothing) {
    // A cap of 3 pages plus (page - 1) bytes: the 4th page does not fit.
    berry_kv *kv = make_kv(4, 3, (size_t)2 * NL * 4 * KD * sizeof(float) - 1, 2);
    CHECK(kv);
    int32_t t[64];
    for (int i = 0; i < 64; i++) t[i] = i;
    int s = make_seq(kv, t, 11);  // 3 pages, the last with 3 of 4 slots
    CHECK(s >= 0);
    CHECK(berry_kv_seq_append(kv, s, t + 11, 1, NULL, 0) == BERRY_OK);
    fake_forward(kv, s, t, 11, 12, NL, KD);
    berry_kv_stats st;
    berry_kv_get_stats(kv, &st);
    CHECK_EQ_INT(st.bytes_used, 3 * berry_kv_page_bytes(kv));
    CHECK(st.bytes_used <= st.bytes_cap);
    char err[256] = "";
    CHECK(berry_kv_seq_append(kv, s, t + 12, 1, err, sizeof err) == BERRY_ELIMIT);
    CHECK(err[0] != 0);
    CHECK_EQ_INT(berry_kv_seq_len(kv, s), 12);
    // A second sequence asking for more than the whole cap gets nothing at all.
    int s2 = berry_kv_seq_new(kv);
    CHECK(s2 >= 0);
    CHECK(berry_kv_seq_append(kv, s2, t, 40, err, sizeof err) == BERRY_ELIMIT);
    CHECK_EQ_INT(berry_kv_seq_len(kv, s2), 0);
    berry_kv_get_stats(kv, &st);
    CHECK_EQ_INT(st.pages_used, 3);
    CHECK_EQ_INT(st.bytes_used, 3 * berry_kv_page_bytes(kv));
    CHECK_EQ_INT(count_wrong(kv, s, t, 12, NL, KD), 0);
    // max_seqs = 2: a third is refused; a freed id is handed out again.
    CHECK_EQ_INT(berry_kv_seq_new(kv), -1);
    CHECK_EQ_INT(berry_kv_seq_fork(kv, s), -1);
    berry_kv_seq_free(kv, s2);
    CHECK_EQ_INT(berry_kv_seq_new(kv), s2);
    // Hostile arguments are refused, not crashes.
    CHECK(berry_kv_seq_append(kv, 7, t, 1, err, sizeof err) == BERRY_EINVAL);
    CHECK(berry_kv_seq_append(kv, -1, t, 1, err, sizeof err) == BERRY_EINVAL);
    CHECK(berry_kv_seq_append(kv, s, NULL, 3, err, sizeof err) == BERRY_EINVAL);
    CHECK(berry_kv_seq_append(kv, s, t, -3, err, sizeof err) == BERRY_EINVAL);
    CHECK(berry_kv_k(kv, s, 0, 12) == NULL);
    CHECK(berry_kv_k(kv, s, NL, 0) == NULL);
    CHECK(berry_kv_v(kv, s, 0, -1) == NULL);
    CHECK(berry_kv_k(kv, 99, 0, 0) == NULL);
    CHECK(berry_kv_page_k(kv, 1000, 0) == NULL);
    CHECK(berry_kv_page_v(kv, -1, 0) == NULL);
    CHECK_EQ_INT(berry_kv_seq_len(kv, 99), -1);
    CHECK_EQ_INT(berry_kv_seq_fork(kv, 99), -1);
    CHECK_EQ_INT(berry_kv_seq_reuse(kv, 99, t, 10), 0);
    berry_kv_seq_truncate(kv, s, 50);   // beyond the length: ignored
    berry_kv_seq_truncate(kv, s, -2);
    berry_kv_seq_free(kv, 99);
    CHECK_EQ_INT(count_wrong(kv, s, t, 12, NL, KD), 0);
    // Freeing returns unindexed pages to the free list at once; their memory stays counted.
    berry_kv_seq_free(kv, s);
    berry_kv_get_stats(kv, &st);
    CHECK_EQ_INT(st.pages_used, 0);
    CHECK_EQ_INT(st.pages_cached, 0);
    CHECK_EQ_INT(st.pages_free, 3);
    CHECK_KV(kv);
    berry_kv_free(kv);
}

// ------------------------------------------------------------ randomized property test

#define MS 8     // max sequences
#define ML 48    // max tokens per sequence in the model

typedef struct { int live, len, committed; int32_t t[ML]; } model_seq;

// Leading full pages (within the committed positions) that sequence M shares with prompt P[0..n).
static int shared_pages(const model_seq *m, const int32_t *p, int n, int P) {
    int k = 0;
    while ((k + 1) * P <= m->committed && (k + 1) * P <= n && memcmp(m->t + k * P, p + k * P, (size_t)P * 4) == 0) k++;
    return k;
}

TEST(kv_random_operations_match_a_simple_model) {
    // Thousands of random operations over a small cache (pages of 3 tokens, a cap of 20 pages, tokens
    // from an alphabet of 3 so that prefixes collide often). After every operation: the internal
    // invariants hold, every live sequence has the model's length, and every K/V value equals the fake
    // forward recomputed from the model's tokens. A reuse must attach at least what a live sequence
    // with committed pages guarantees (held indexed pages are never evicted).
    const int P = 3, steps = 6000;
    berry_kv *kv = make_kv(P, 20, 0, MS);
    CHECK(kv);
    static model_seq m[MS];
    memset(m, 0, sizeof m);
    berry_rng r;
    berry_rng_seed(&r, 2024, 7);
    int n_limit = 0, n_reuse_hits = 0, n_commits = 0;
    for (int step = 0; step < steps; step++) {
        int op = (int)berry_rng_below(&r, 10), id = (int)berry_rng_below(&r, MS);
        char err[256] = "";
        if (op <= 2) {  // append 1..7 tokens (and compute them)
            if (!m[id].live) continue;
            int n = 1 + (int)berry_rng_below(&r, 7);
            if (m[id].len + n > ML) n = ML - m[id].len;
            int32_t t[8];
            for (int i = 0; i < n; i++) t[i] = (int32_t)berry_rng_below(&r, 3);
            berry_status st = berry_kv_seq_append(kv, id, t, n, err, sizeof err);
            if (st == BERRY_ELIMIT) { CHECK(err[0]); n_limit++; }
            else {
                CHECKF(st == BERRY_OK, "step %d: %s", step, err);
                memcpy(m[id].t + m[id].len, t, (size_t)n * 4);
                fake_forward(kv, id, m[id].t, m[id].len, m[id].len + n, NL, KD);
                m[id].len += n;
            }
        } else if (op == 3) {  // commit
            berry_kv_commit(kv);
            n_commits++;
            for (int i = 0; i < MS; i++) m[i].committed = m[i].len;
        } else if (op == 4) {  // fork
            if (!m[id].live) continue;
            int c = berry_kv_seq_fork(kv, id);
            int free_slots = 0;
            for (int i = 0; i < MS; i++) free_slots += !m[i].live;
            CHECK((c >= 0) == (free_slots > 0));
            if (c >= 0) { CHECK(!m[c].live); m[c] = m[id]; }
        } else if (op == 5) {  // truncate
            if (!m[id].live) continue;
            int len = (int)berry_rng_below(&r, (uint64_t)m[id].len + 1);
            berry_kv_seq_truncate(kv, id, len);
            m[id].len = len;
            if (m[id].committed > len) m[id].committed = len;
        } else if (op == 6) {  // free
            if (!m[id].live) continue;
            berry_kv_seq_free(kv, id);
            m[id].live = 0;
        } else {  // new sequence, reusing what it can of a random prompt, then computing the rest
            int s = berry_kv_seq_new(kv);
            if (s < 0) continue;
            CHECK(!m[s].live);
            int32_t p[ML];
            int n = 1 + (int)berry_rng_below(&r, 30);
            // Prompts often start like a live sequence, so that reuse has something to find.
            int src = (int)berry_rng_below(&r, MS);
            for (int i = 0; i < n; i++)
                p[i] = m[src].live && i < m[src].len && berry_rng_below(&r, 8) ? m[src].t[i] : (int32_t)berry_rng_below(&r, 3);
            int lb = 0;
            for (int i = 0; i < MS; i++) {
                if (!m[i].live) continue;
                int k = shared_pages(&m[i], p, n, P);
                if (k > (n - 1) / P) k = (n - 1) / P;
                if (k * P > lb) lb = k * P;
            }
            int got = berry_kv_seq_reuse(kv, s, p, n);
            CHECKF(got % P == 0 && got <= (n - 1) / P * P && got >= lb, "step %d: reused %d of %d, at least %d", step, got, n, lb);
            n_reuse_hits += got > 0;
            m[s] = (model_seq){.live = 1, .len = got, .committed = got};
            memcpy(m[s].t, p, (size_t)n * 4);
            CHECKF(count_wrong(kv, s, p, got, NL, KD) == 0, "step %d: reused values differ", step);
            berry_status st = berry_kv_seq_append(kv, s, p + got, n - got, err, sizeof err);
            if (st == BERRY_ELIMIT) n_limit++;
            else {
                CHECKF(st == BERRY_OK, "step %d: %s", step, err);
                fake_forward(kv, s, p, got, n, NL, KD);
                m[s].len = n;
            }
        }
        CHECK_KV(kv);
        for (int i = 0; i < MS; i++) {
            CHECK_EQ_INT(berry_kv_seq_len(kv, i), m[i].live ? m[i].len : -1);
            if (m[i].live) CHECKF(count_wrong(kv, i, m[i].t, m[i].len, NL, KD) == 0, "step %d: sequence %d has wrong values", step, i);
        }
        berry_kv_stats st;
        berry_kv_get_stats(kv, &st);
        CHECK(st.bytes_used <= st.bytes_cap);
    }
    berry_kv_stats st;
    berry_kv_get_stats(kv, &st);
    // The run must have exercised every path, or it proves little.
    CHECKF(n_limit > 10 && n_reuse_hits > 100 && n_commits > 100 && st.pages_evicted > 100 && st.pages_copied > 100,
           "limit %d, reuse hits %d, commits %d, evicted %lld, copied %lld", n_limit, n_reuse_hits, n_commits,
           (long long)st.pages_evicted, (long long)st.pages_copied);
    berry_kv_free(kv);
}
