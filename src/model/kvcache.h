// kvcache.h — the paged key/value cache shared by all sequences of a context.
//
// Memory is a pool of fixed-size pages; a page holds the keys and values of PAGE_TOKENS consecutive
// positions of one sequence for every layer. A sequence is a list of pages. Pages are reference-
// counted: berry_kv_seq_fork shares all pages of a sequence copy-on-write (the first append to a shared
// partly-filled page copies it). Full pages whose contents were computed (berry_kv_commit) enter a
// radix index keyed by (parent page, the page's tokens), so that a new prompt can attach the longest
// cached prefix instead of recomputing it. Unreferenced indexed pages stay cached until memory is
// needed, then are evicted least-recently-used (leaves first). The byte cap is never exceeded.
// Not thread-safe: calls that change the cache need one caller at a time; berry_kv_k/v, page_k/v and
// seq_pages only read and may run from many threads between such calls.
#ifndef BERRY_KVCACHE_H
#define BERRY_KVCACHE_H
#include "base/err.h"
#include <stddef.h>
#include <stdint.h>

typedef struct berry_kv berry_kv;  // opaque

typedef struct {
    int n_layer;
    int kv_dim;        // n_head_kv * head_dim: floats per position per layer, for K and for V each
    int page_tokens;   // positions per page (16 if 0)
    size_t max_bytes;  // cap on page memory; pages are allocated lazily up to it
    int max_seqs;      // live sequences at once (256 if 0)
} berry_kv_config;

typedef struct {
    size_t bytes_used, bytes_cap;
    int64_t pages_used, pages_cached;   // referenced by sequences / unreferenced but indexed
    int64_t tokens_reused;              // positions attached from the index since creation
    int64_t pages_copied, pages_evicted;
    int64_t pages_free;                 // allocated (counted in bytes_used), unused, ready for reuse
} berry_kv_stats;

berry_kv *berry_kv_create(const berry_kv_config *cfg, char *err, size_t err_size);
void berry_kv_free(berry_kv *kv);
int  berry_kv_page_tokens(const berry_kv *kv);
size_t berry_kv_page_bytes(const berry_kv *kv);  // 2 * n_layer * page_tokens * kv_dim * sizeof(float)

// A new empty sequence: its id (>= 0), or -1 when max_seqs are live.
int  berry_kv_seq_new(berry_kv *kv);
// A new sequence sharing every position of SRC (copy-on-write); -1 when max_seqs are live.
int  berry_kv_seq_fork(berry_kv *kv, int src);
// Releases SEQ; its committed full pages stay cached for reuse.
void berry_kv_seq_free(berry_kv *kv, int seq);
int  berry_kv_seq_len(const berry_kv *kv, int seq);  // -1 for a sequence that is not live
// Drops positions >= LEN (LEN <= current length).
void berry_kv_seq_truncate(berry_kv *kv, int seq, int len);

// For an EMPTY sequence: attaches the longest committed prefix of TOKENS[0..N) that the index holds,
// in whole pages, never all N tokens (the last token is always left to evaluate, so that its logits
// are computed). Returns the number of positions attached.
int  berry_kv_seq_reuse(berry_kv *kv, int seq, const int32_t *tokens, int n);

// Reserves positions len..len+N-1 of SEQ for TOKENS (kept for the index), making the last page
// private first if it is shared, evicting cached pages if the cap requires. BERRY_ELIMIT with a message
// when the cap is reached with nothing left to evict.
berry_status berry_kv_seq_append(berry_kv *kv, int seq, const int32_t *tokens, int n, char *err, size_t err_size);

// Declares that every reserved position so far holds computed keys and values: full pages become
// reusable through the index. The forward pass calls it after it has written the cache. When the index
// already holds a page with the same tokens after the same prefix (two sequences computed it), the
// sequence is switched to that page and its own copy freed: page ids of berry_kv_seq_pages and pointers
// from berry_kv_k/v are therefore also invalidated by a commit.
void berry_kv_commit(berry_kv *kv);

// Keys and values of position POS of SEQ at LAYER: kv_dim floats each. POS < berry_kv_seq_len; NULL
// for a position, layer or sequence out of range.
float *berry_kv_k(berry_kv *kv, int seq, int layer, int pos);
float *berry_kv_v(berry_kv *kv, int seq, int layer, int pos);

// Page-wise access for attention loops: the N_PAGES page ids of SEQ (valid until the next append,
// fork, free, truncate or commit), and the (page_tokens, kv_dim) key or value block of a page at a layer.
const int32_t *berry_kv_seq_pages(const berry_kv *kv, int seq, int *n_pages);
float *berry_kv_page_k(berry_kv *kv, int32_t page, int layer);
float *berry_kv_page_v(berry_kv *kv, int32_t page, int layer);

void berry_kv_get_stats(const berry_kv *kv, berry_kv_stats *out);

// Verifies every internal invariant (reference counts, the index, the eviction order, the free list,
// the byte cap); BERRY_EFORMAT and a line naming the first violation. For tests and debugging: O(pages).
berry_status berry_kv_check(const berry_kv *kv, char *err, size_t err_size);

#endif
