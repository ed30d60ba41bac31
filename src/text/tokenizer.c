// tokenizer.c — GGUF tokenizers: byte-level BPE, SentencePiece BPE with byte fallback, and the
// SentencePiece-style BPE with merges of Gemma 4. See tokenizer.h.
//
// Pipeline of berry_tokenize: (1) split the text at special tokens (longest token first, as
// llama.cpp); (2) per text fragment, pre-tokenize (a PCRE2 regex with Unicode classes for byte-level
// BPE, runs of newline / non-newline for Gemma 4, nothing for SentencePiece); (3) per pre-token,
// merge adjacent symbols with a binary heap keyed by merge rank (BPE) or piece score (SentencePiece),
// so a word of n bytes costs O(n log n), with a word -> tokens cache for long inputs.
#define PCRE2_CODE_UNIT_WIDTH 8
#include "text/tokenizer.h"
#include "base/alloc.h"
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { MODEL_BPE, MODEL_SPM, MODEL_BPE_RAW };               // RAW: "▁" for spaces, <0xXX> bytes
enum { PRE_NONE, PRE_LLAMA3, PRE_QWEN2, PRE_GPT2, PRE_GEMMA4 };
// Token attributes (from tokenizer.ggml.token_type: 1 normal, 2 unknown, 3 control, 4 user-defined,
// 5 unused, 6 byte), plus EOG.
enum { A_NORMAL = 1, A_UNKNOWN = 2, A_CONTROL = 4, A_USER = 8, A_UNUSED = 16, A_BYTE = 32, A_EOG = 64 };

typedef struct { uint32_t off, len; } span;

// Open-addressing hash from byte strings (spans of a blob) to token ids.
typedef struct { int32_t *slot; uint32_t mask; } strmap;

struct berry_tokenizer {
    int model, pre;
    int32_t n;
    char *text_blob;  span *text;    // stored token texts, NUL-terminated in the blob
    char *piece_blob; span *piece;   // decoded bytes of each token
    float *score;
    uint8_t *attr;
    strmap by_text;                  // stored text -> id
    strmap by_raw;                   // byte-level BPE: decoded bytes -> id (tokens whose text decodes)
    // merges: (left id, right id) -> rank and result id
    uint64_t *mkey; int32_t *mrank, *mres; uint32_t mmask;
    int32_t byte_tok[256];           // the token of a single raw byte (byte-level char or <0xXX>)
    int32_t *spec; int32_t n_spec;   // special tokens, longest text first
    int32_t *spec_order;             // id -> position in spec (for special ids)
    uint64_t spec_lens[256];         // bit l-1: a special token of l bytes starts with this byte
    bool spec_long;                  // some special token is longer than 64 bytes
    uint32_t spec_maxlen;
    int32_t bos, eos, eot, eom, unk;
    bool add_bos, add_eos, add_space_prefix, ignore_merges;
    pcre2_code *re;
    char arch[64], model_name[32], pre_name[64];
    char *chat_template;
};

// ---- small helpers -------------------------------------------------------------------------------

static uint64_t hash_bytes(const void *p, size_t n) {
    // FNV-1a with a final mix; fine for short keys.
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

static uint32_t pow2_at_least(size_t n) {
    uint32_t c = 16;
    while (c < n * 2 && c < (1u << 31)) c <<= 1;
    return c;
}

static bool strmap_init(strmap *m, size_t n) {
    uint32_t cap = pow2_at_least(n);
    m->slot = malloc((size_t)cap * sizeof *m->slot);
    if (!m->slot) return false;
    memset(m->slot, 0xff, (size_t)cap * sizeof *m->slot);
    m->mask = cap - 1;
    return true;
}

// Finds KEY among the strings BLOB/SP index; returns the id or -1.
static int32_t strmap_get(const strmap *m, const char *blob, const span *sp, const char *key, size_t n) {
    if (!m->slot) return -1;
    for (uint32_t i = (uint32_t)hash_bytes(key, n) & m->mask;; i = (i + 1) & m->mask) {
        int32_t id = m->slot[i];
        if (id < 0) return -1;
        if (sp[id].len == n && memcmp(blob + sp[id].off, key, n) == 0) return id;
    }
}

// Inserts ID under its string; a later id with the same string replaces the earlier (as llama.cpp).
static void strmap_put(strmap *m, const char *blob, const span *sp, int32_t id) {
    const char *key = blob + sp[id].off;
    size_t n = sp[id].len;
    for (uint32_t i = (uint32_t)hash_bytes(key, n) & m->mask;; i = (i + 1) & m->mask) {
        int32_t o = m->slot[i];
        if (o < 0 || (sp[o].len == n && memcmp(blob + sp[o].off, key, n) == 0)) { m->slot[i] = id; return; }
    }
}

static int32_t find_text(const berry_tokenizer *t, const char *s, size_t n) {
    return strmap_get(&t->by_text, t->text_blob, t->text, s, n);
}

static bool merge_get(const berry_tokenizer *t, int32_t a, int32_t b, int32_t *rank, int32_t *res) {
    if (!t->mkey || a < 0 || b < 0) return false;
    uint64_t k = ((uint64_t)(uint32_t)a << 32) | (uint32_t)b;
    for (uint32_t i = (uint32_t)hash_u64(k) & t->mmask;; i = (i + 1) & t->mmask) {
        if (t->mrank[i] < 0) return false;
        if (t->mkey[i] == k) { *rank = t->mrank[i]; *res = t->mres[i]; return true; }
    }
}

// Length of the UTF-8 sequence a lead byte announces (1 for continuation or invalid bytes).
static size_t utf8_len(uint8_t c) {
    static const uint8_t len[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
    return len[c >> 4];
}

// GPT-2's byte-level alphabet: printable bytes map to themselves, the other 68 to U+0100.. in order.
static void byte_map(uint32_t cp_of_byte[256]) {
    int n = 0;
    for (int b = 0; b < 256; b++) {
        bool printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
        cp_of_byte[b] = printable ? (uint32_t)b : (uint32_t)(256 + n++);
    }
}

// Decodes one UTF-8 character at S (N bytes left); returns its length and the code point in *CP,
// or 0 for an invalid sequence.
static size_t utf8_decode(const uint8_t *s, size_t n, uint32_t *cp) {
    size_t l = utf8_len(s[0]);
    if (s[0] < 0x80) { *cp = s[0]; return 1; }
    if (l == 1 || l > n || s[0] >= 0xf8) return 0;
    uint32_t c = s[0] & (0x7f >> l);
    for (size_t i = 1; i < l; i++) {
        if ((s[i] & 0xc0) != 0x80) return 0;
        c = (c << 6) | (s[i] & 0x3f);
    }
    static const uint32_t min[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (c < min[l] || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff)) return 0;
    *cp = c;
    return l;
}

// ---- loading -------------------------------------------------------------------------------------

static int hexval(uint8_t c) {
    return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static bool is_any(const char *s, const char *const *list) {
    for (; *list; list++) if (!strcmp(s, *list)) return true;
    return false;
}

// Token texts llama.cpp treats as end of generation (and forces to control type).
static const char *const eog_texts[] = {
    "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|eom_id|>", "<EOT>",
    "_<EOT>", "<|end_of_text|>", "<end_of_utterance>", "<eos>", "<turn|>", "<|tool_response>",
    "</s>", "<|fim_pad|>", "<|repo_name|>", "<|file_sep|>", NULL};
// Candidates for the end-of-turn token, in llama.cpp's order of preference.
static const char *const eot_texts[] = {
    "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|end_of_text|>", "<EOT>",
    "_<EOT>", "<end_of_utterance>", NULL};

static int cmp_spec(const void *a, const void *b, void *ctx) {
    const berry_tokenizer *t = ctx;
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    uint32_t lx = t->text[x].len, ly = t->text[y].len;
    if (lx != ly) return lx > ly ? -1 : 1;
    return (x > y) - (x < y);
}

static bool get_id(const berry_gguf *g, const char *key, int32_t n, int32_t *id) {
    int64_t v;
    if (!berry_gguf_get_i64(g, key, &v)) return false;
    if (v >= 0 && v < n) *id = (int32_t)v;
    return true;
}

// The pre-tokenizer regexes (Hugging Face's, with \s spelled out as Unicode White_Space, which is
// what the reference engines match; PCRE2's \s would add U+180E). JIT-compiled when PCRE2 can.
static pcre2_code *compile_pre(int pre, char *err, size_t err_size) {
#define WS "\\t\\n\\x{0B}\\f\\r \\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}\\x{205F}\\x{3000}"
    static const char *const re_llama3 =
        "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^" WS "\\p{L}\\p{N}]+[\\r\\n]*"
        "|[" WS "]*[\\r\\n]+|[" WS "]+(?![^" WS "])|[" WS "]+";
    static const char *const re_qwen2 =
        "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^" WS "\\p{L}\\p{N}]+[\\r\\n]*"
        "|[" WS "]*[\\r\\n]+|[" WS "]+(?![^" WS "])|[" WS "]+";
    static const char *const re_gpt2 =
        "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^" WS "\\p{L}\\p{N}]+|[" WS "]+(?![^" WS "])|[" WS "]+";
#undef WS
    const char *re = pre == PRE_LLAMA3 ? re_llama3 : pre == PRE_QWEN2 ? re_qwen2 : re_gpt2;
    int ec;
    PCRE2_SIZE eo;
    pcre2_code *c = pcre2_compile((PCRE2_SPTR)re, PCRE2_ZERO_TERMINATED, PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF, &ec, &eo, NULL);
    if (!c) { berry_errf(err, err_size, BERRY_EUNSUPPORTED, "PCRE2 rejected the pre-tokenizer regex (error %d at %zu)", ec, (size_t)eo); return NULL; }
    pcre2_jit_compile(c, PCRE2_JIT_COMPLETE);  // falls back to the interpreter when JIT is unavailable
    return c;
}

static const char *const llama3_names[] = {"llama3", "llama-v3", "llama-bpe", "falcon3", "pixtral", NULL};
static const char *const qwen2_names[] = {"qwen2", "deepseek-r1-qwen", "megrez", NULL};
static const char *const gpt2_names[] = {"gpt-2", "phi-2", NULL};

berry_tokenizer *berry_tokenizer_from_gguf(const berry_gguf *g, char *err, size_t err_size) {
    const char *model = NULL, *pre = "";
    if (!g) { berry_errf(err, err_size, BERRY_EINVAL, "no GGUF given"); return NULL; }
    if (!berry_gguf_get_str(g, "tokenizer.ggml.model", &model, NULL)) {
        berry_errf(err, err_size, BERRY_EFORMAT, "the GGUF has no tokenizer (tokenizer.ggml.model is missing)");
        return NULL;
    }
    berry_gguf_get_str(g, "tokenizer.ggml.pre", &pre, NULL);
    berry_tokenizer *t = calloc(1, sizeof *t);
    if (!t) { berry_errf(err, err_size, BERRY_ENOMEM, "out of memory"); return NULL; }
    t->bos = t->eos = t->eot = t->eom = t->unk = -1;
    snprintf(t->model_name, sizeof t->model_name, "%s", model);
    const char *arch = "";
    berry_gguf_get_str(g, "general.architecture", &arch, NULL);
    snprintf(t->arch, sizeof t->arch, "%s", arch);

    int32_t def_bos = -1, def_eos = -1, def_unk = -1;
    if (!strcmp(model, "gpt2")) {
        t->model = MODEL_BPE;
        def_bos = def_eos = 11;  // llama.cpp's defaults, replaced by the ids in the file
        if (is_any(pre, llama3_names)) { t->pre = PRE_LLAMA3; t->ignore_merges = true; t->add_bos = true; }
        else if (is_any(pre, qwen2_names)) t->pre = PRE_QWEN2;
        else if (is_any(pre, gpt2_names)) t->pre = PRE_GPT2;
        else {
            berry_errf(err, err_size, BERRY_EUNSUPPORTED, "unsupported pre-tokenizer '%s' (berry knows llama-bpe, qwen2, gpt-2)", pre);
            goto fail;
        }
        snprintf(t->pre_name, sizeof t->pre_name, "%s", pre);
    } else if (!strcmp(model, "llama")) {
        t->model = MODEL_SPM; t->pre = PRE_NONE;
        def_bos = 1; def_eos = 2; def_unk = 0;
        t->add_space_prefix = true; t->add_bos = true;
    } else if (!strcmp(model, "gemma4")) {
        t->model = MODEL_BPE_RAW; t->pre = PRE_GEMMA4;
        t->add_bos = true;
        snprintf(t->pre_name, sizeof t->pre_name, "gemma4");
    } else {
        berry_errf(err, err_size, BERRY_EUNSUPPORTED, "unsupported tokenizer model '%s' (berry knows gpt2, llama, gemma4)", model);
        goto fail;
    }
    bool b;
    if (berry_gguf_get_bool(g, "tokenizer.ggml.add_space_prefix", &b)) t->add_space_prefix = b;
    if (t->model != MODEL_SPM) t->add_space_prefix = false;

    // Tokens.
    int64_t ki = berry_gguf_find_key(g, "tokenizer.ggml.tokens");
    if (ki < 0 || berry_gguf_kv_type(g, ki) != BERRY_GGUF_ARRAY || berry_gguf_arr_type(g, ki) != BERRY_GGUF_STRING) {
        berry_errf(err, err_size, BERRY_EFORMAT, "tokenizer.ggml.tokens is missing or not an array of strings");
        goto fail;
    }
    uint64_t n = berry_gguf_arr_len(g, ki);
    if (n == 0 || n > (1u << 30)) {
        berry_errf(err, err_size, BERRY_EFORMAT, "tokenizer.ggml.tokens has %llu entries", (unsigned long long)n);
        goto fail;
    }
    t->n = (int32_t)n;
    size_t blob = 0;
    for (uint64_t i = 0; i < n; i++) {
        size_t l = 0;
        berry_gguf_arr_str(g, ki, i, &l);
        if (l > (1u << 20)) { berry_errf(err, err_size, BERRY_EFORMAT, "token %llu is %zu bytes long", (unsigned long long)i, l); goto fail; }
        blob += l + 1;
    }
    if (blob > UINT32_MAX) { berry_errf(err, err_size, BERRY_EFORMAT, "the vocabulary's texts exceed 4 GB"); goto fail; }
    t->text_blob = malloc(blob);
    t->text = malloc(n * sizeof *t->text);
    t->score = calloc(n, sizeof *t->score);
    t->attr = calloc(n, 1);
    if (!t->text_blob || !t->text || !t->score || !t->attr) { berry_errf(err, err_size, BERRY_ENOMEM, "out of memory for %llu tokens", (unsigned long long)n); goto fail; }
    size_t off = 0;
    for (uint64_t i = 0; i < n; i++) {
        size_t l = 0;
        const char *s = berry_gguf_arr_str(g, ki, i, &l);
        memcpy(t->text_blob + off, s, l);
        t->text_blob[off + l] = 0;
        t->text[i] = (span){(uint32_t)off, (uint32_t)l};
        off += l + 1;
    }
    // Scores (SentencePiece priorities) and token types.
    int64_t si = berry_gguf_find_key(g, "tokenizer.ggml.scores");
    if (si >= 0) {
        berry_gguf_type at = berry_gguf_kv_type(g, si) == BERRY_GGUF_ARRAY ? berry_gguf_arr_type(g, si) : BERRY_GGUF_STRING;
        if ((at != BERRY_GGUF_FLOAT32 && at != BERRY_GGUF_INT32) || berry_gguf_arr_len(g, si) < n) {
            berry_errf(err, err_size, BERRY_EFORMAT, "tokenizer.ggml.scores must be %llu float32 or int32 values", (unsigned long long)n);
            goto fail;
        }
        const void *d = berry_gguf_arr_data(g, si);
        for (uint64_t i = 0; i < n; i++) t->score[i] = at == BERRY_GGUF_FLOAT32 ? ((const float *)d)[i] : (float)((const int32_t *)d)[i];
    }
    int64_t ti = berry_gguf_find_key(g, "tokenizer.ggml.token_type");
    const int32_t *tt = NULL;
    if (ti >= 0) {
        if (berry_gguf_kv_type(g, ti) != BERRY_GGUF_ARRAY || berry_gguf_arr_type(g, ti) != BERRY_GGUF_INT32 || berry_gguf_arr_len(g, ti) < n) {
            berry_errf(err, err_size, BERRY_EFORMAT, "tokenizer.ggml.token_type must be %llu int32 values", (unsigned long long)n);
            goto fail;
        }
        tt = berry_gguf_arr_data(g, ti);
    }
    for (uint64_t i = 0; i < n; i++) {
        static const uint8_t map[7] = {0, A_NORMAL, A_UNKNOWN, A_CONTROL, A_USER, A_UNUSED, A_BYTE};
        int32_t v = tt ? tt[i] : 1;
        t->attr[i] = v >= 0 && v <= 6 ? map[v] : 0;
    }
    if (!strmap_init(&t->by_text, n)) { berry_errf(err, err_size, BERRY_ENOMEM, "out of memory"); goto fail; }
    for (uint64_t i = 0; i < n; i++) strmap_put(&t->by_text, t->text_blob, t->text, (int32_t)i);

    // Special ids: llama.cpp's defaults, then the file's (ignored when out of range).
    t->bos = def_bos < t->n ? def_bos : -1;
    t->eos = def_eos < t->n ? def_eos : -1;
    t->unk = def_unk < t->n ? def_unk : -1;
    get_id(g, "tokenizer.ggml.bos_token_id", t->n, &t->bos);
    get_id(g, "tokenizer.ggml.eos_token_id", t->n, &t->eos);
    get_id(g, "tokenizer.ggml.unknown_token_id", t->n, &t->unk);
    get_id(g, "tokenizer.ggml.eot_token_id", t->n, &t->eot);
    get_id(g, "tokenizer.ggml.eom_token_id", t->n, &t->eom);
    if (berry_gguf_get_bool(g, "tokenizer.ggml.add_bos_token", &b)) t->add_bos = b;
    if (berry_gguf_get_bool(g, "tokenizer.ggml.add_eos_token", &b)) t->add_eos = b;
    if (t->pre == PRE_GEMMA4) t->add_bos = true;  // llama.cpp forces it for Gemma 4
    if (t->add_bos && t->bos < 0) t->add_bos = false;
    if (t->add_eos && t->eos < 0) t->add_eos = false;

    // End of turn / generation, detected by text as llama.cpp does; such tokens become control tokens.
    for (int k = 0; t->eot < 0 && eot_texts[k]; k++) t->eot = find_text(t, eot_texts[k], strlen(eot_texts[k]));
    if (t->eom < 0) t->eom = find_text(t, "<|eom_id|>", 10);
    bool tool_response = find_text(t, "<|tool_response>", 16) >= 0;
    for (int k = 0; eog_texts[k]; k++) {
        int32_t id = find_text(t, eog_texts[k], strlen(eog_texts[k]));
        if (id < 0) continue;
        if (tool_response && !strcmp(eog_texts[k], "</s>")) { t->attr[id] = A_NORMAL; continue; }  // gemma4
        t->attr[id] |= A_EOG | A_CONTROL;
    }
    int32_t ends[] = {t->eos, t->eot, t->eom};
    for (int k = 0; k < 3; k++) if (ends[k] >= 0) t->attr[ends[k]] |= A_EOG;

    // Decoded bytes of every token.
    uint32_t cp_of_byte[256];
    int16_t byte_of_cp[512];
    byte_map(cp_of_byte);
    for (int i = 0; i < 512; i++) byte_of_cp[i] = -1;
    for (int i = 0; i < 256; i++) byte_of_cp[cp_of_byte[i]] = (int16_t)i;
    t->piece_blob = malloc(blob);  // decoding never lengthens a token
    t->piece = malloc(n * sizeof *t->piece);
    if (!t->piece_blob || !t->piece) { berry_errf(err, err_size, BERRY_ENOMEM, "out of memory"); goto fail; }
    bool *decodes = t->model == MODEL_BPE ? calloc(n, 1) : NULL;
    if (t->model == MODEL_BPE && !decodes) { berry_errf(err, err_size, BERRY_ENOMEM, "out of memory"); goto fail; }
    off = 0;
    for (uint64_t i = 0; i < n; i++) {
        const uint8_t *s = (const uint8_t *)t->text_blob + t->text[i].off;
        size_t l = t->text[i].len, o = off;
        uint8_t a = t->attr[i];
        bool unescape = t->model != MODEL_BPE && (a & (A_NORMAL | A_USER));
        if ((a & (A_CONTROL | A_UNKNOWN | A_USER)) && !unescape) {
            memcpy(t->piece_blob + off, s, l);
            off += l;
        } else if (a & A_BYTE) {
            int hi = hexval(l == 6 ? s[3] : 0), lo = hexval(l == 6 ? s[4] : 0);
            if (l == 6 && s[0] == '<' && s[1] == '0' && s[2] == 'x' && s[5] == '>' && hi >= 0 && lo >= 0)
                t->piece_blob[off++] = (char)(hi * 16 + lo);
        } else if (a & (A_NORMAL | A_USER)) {
            // (User-defined tokens of SentencePiece vocabularies, such as Gemma's runs of "▁", are
            // unescaped too, as Hugging Face's decoder does; llama.cpp prints them as stored.)
            if (t->model == MODEL_BPE) {
                bool ok = l > 0;
                for (size_t k = 0; k < l;) {
                    uint32_t cp;
                    size_t cl = utf8_decode(s + k, l - k, &cp);
                    if (cl && cp < 512 && byte_of_cp[cp] >= 0) { t->piece_blob[off++] = (char)byte_of_cp[cp]; k += cl; continue; }
                    // A character outside the byte alphabet: kept as it is.
                    if (!cl) cl = 1;
                    memcpy(t->piece_blob + off, s + k, cl);
                    off += cl; k += cl; ok = false;
                }
                decodes[i] = ok;
            } else {
                for (size_t k = 0; k < l;) {
                    if (k + 3 <= l && s[k] == 0xe2 && s[k + 1] == 0x96 && s[k + 2] == 0x81) { t->piece_blob[off++] = ' '; k += 3; }
                    else t->piece_blob[off++] = (char)s[k++];
                }
            }
        }
        t->piece[i] = (span){(uint32_t)o, (uint32_t)(off - o)};
    }
    if (t->model == MODEL_BPE) {
        // Raw bytes -> id, for the tokens whose whole text is in the byte alphabet.
        if (!strmap_init(&t->by_raw, n)) { free(decodes); berry_errf(err, err_size, BERRY_ENOMEM, "out of memory"); goto fail; }
        // (Special tokens are left out: no pre-token of byte-level BPE can equal their text.)
        for (uint64_t i = 0; i < n; i++)
            if (decodes[i]) strmap_put(&t->by_raw, t->piece_blob, t->piece, (int32_t)i);
        free(decodes);
        for (int c = 0; c < 256; c++) {
            char ch = (char)c;
            t->byte_tok[c] = strmap_get(&t->by_raw, t->piece_blob, t->piece, &ch, 1);
        }
    } else {
        for (int c = 0; c < 256; c++) {
            char hex[8];
            snprintf(hex, sizeof hex, "<0x%02X>", c);
            t->byte_tok[c] = find_text(t, hex, 6);
        }
    }

    // Merges: "left right" strings, rank = position; pairs are kept as token ids.
    if (t->model != MODEL_SPM) {
        int64_t mi = berry_gguf_find_key(g, "tokenizer.ggml.merges");
        if (mi < 0 || berry_gguf_kv_type(g, mi) != BERRY_GGUF_ARRAY || berry_gguf_arr_type(g, mi) != BERRY_GGUF_STRING) {
            berry_errf(err, err_size, BERRY_EFORMAT, "tokenizer.ggml.merges is missing or not an array of strings");
            goto fail;
        }
        uint64_t nm = berry_gguf_arr_len(g, mi);
        if (nm > (1u << 28)) { berry_errf(err, err_size, BERRY_EFORMAT, "%llu merges is too many", (unsigned long long)nm); goto fail; }
        uint32_t cap = pow2_at_least(nm + 1);
        t->mmask = cap - 1;
        t->mkey = malloc((size_t)cap * sizeof *t->mkey);
        t->mrank = malloc((size_t)cap * sizeof *t->mrank);
        t->mres = malloc((size_t)cap * sizeof *t->mres);
        char *cat = malloc(2u << 20);
        if (!t->mkey || !t->mrank || !t->mres || !cat) { free(cat); berry_errf(err, err_size, BERRY_ENOMEM, "out of memory for merges"); goto fail; }
        memset(t->mrank, 0xff, (size_t)cap * sizeof *t->mrank);
        for (uint64_t r = 0; r < nm; r++) {
            size_t l = 0;
            const char *s = berry_gguf_arr_str(g, mi, r, &l);
            const char *sp = l > 1 ? memchr(s + 1, ' ', l - 1) : NULL;
            if (!sp || l > (2u << 20)) continue;
            size_t la = (size_t)(sp - s), lb = l - la - 1;
            int32_t a = find_text(t, s, la), bb = find_text(t, sp + 1, lb);
            memcpy(cat, s, la);
            memcpy(cat + la, sp + 1, lb);
            int32_t res = find_text(t, cat, la + lb);
            if (a < 0 || bb < 0 || res < 0) continue;  // a merge whose parts are not tokens never applies
            uint64_t k = ((uint64_t)(uint32_t)a << 32) | (uint32_t)bb;
            for (uint32_t i = (uint32_t)hash_u64(k) & t->mmask;; i = (i + 1) & t->mmask) {
                if (t->mrank[i] < 0) { t->mkey[i] = k; t->mrank[i] = (int32_t)r; t->mres[i] = res; break; }
                if (t->mkey[i] == k) break;  // the first (lowest) rank wins
            }
        }
        free(cat);
    }

    // Special tokens for splitting: control, user-defined and unknown, longest first.
    t->spec = malloc(n * sizeof *t->spec);
    if (!t->spec) { berry_errf(err, err_size, BERRY_ENOMEM, "out of memory"); goto fail; }
    for (uint64_t i = 0; i < n; i++)
        if ((t->attr[i] & (A_CONTROL | A_USER | A_UNKNOWN)) && t->text[i].len > 0) t->spec[t->n_spec++] = (int32_t)i;
    qsort_r(t->spec, (size_t)t->n_spec, sizeof *t->spec, cmp_spec, t);
    t->spec_order = malloc(n * sizeof *t->spec_order);
    if (!t->spec_order) { berry_errf(err, err_size, BERRY_ENOMEM, "out of memory"); goto fail; }
    for (int32_t k = 0; k < t->n_spec; k++) {
        span s = t->text[t->spec[k]];
        uint8_t c = (uint8_t)t->text_blob[s.off];
        t->spec_order[t->spec[k]] = k;
        if (s.len <= 64) t->spec_lens[c] |= 1ull << (s.len - 1);
        else t->spec_long = true;
        if (s.len > t->spec_maxlen) t->spec_maxlen = s.len;
    }

    if (t->model == MODEL_BPE) {
        t->re = compile_pre(t->pre, err, err_size);
        if (!t->re) goto fail;
    }

    const char *tpl;
    if (berry_gguf_get_str(g, "tokenizer.chat_template", &tpl, NULL)) {
        t->chat_template = berry_strdup(tpl);
        if (!t->chat_template) { berry_errf(err, err_size, BERRY_ENOMEM, "out of memory"); goto fail; }
    }
    return t;
fail:
    berry_tokenizer_free(t);
    return NULL;
}

void berry_tokenizer_free(berry_tokenizer *t) {
    if (!t) return;
    free(t->text_blob); free(t->text); free(t->piece_blob); free(t->piece);
    free(t->score); free(t->attr);
    free(t->by_text.slot); free(t->by_raw.slot);
    free(t->mkey); free(t->mrank); free(t->mres);
    free(t->spec); free(t->spec_order);
    if (t->re) pcre2_code_free(t->re);
    free(t->chat_template);
    free(t);
}

// ---- tokenization --------------------------------------------------------------------------------

typedef struct {
    const berry_tokenizer *t;
    int32_t *out; int64_t cap, n;
    // scratch, grown as needed
    struct sym { int32_t id, prev, next; uint32_t start, len; } *sym; size_t sym_cap;
    // Candidate merges: KEY orders them (BPE: rank << 32 | left; SentencePiece: descending score << 32 |
    // left), so that ties go to the leftmost pair; SIZE is the merged length (SentencePiece's staleness
    // check). 16 bytes, as the heap of a long word is memory-bound.
    struct ent { uint64_t key; uint32_t size; } *heap; size_t heap_n, heap_cap;
    char *work; size_t work_cap;
    // word -> tokens cache (long inputs only)
    struct centry { uint64_t h; uint32_t koff, klen, voff, vn; } *cslot; uint32_t cmask, cused;
    char *ckeys; size_t ckeys_n, ckeys_cap;
    int32_t *cvals; size_t cvals_n, cvals_cap;
    int32_t *wbuf; size_t wn, wcap; bool wrec;   // the current word's tokens, while caching
    bool oom;
} session;


static void emit(session *s, int32_t id) {
    if (s->n < s->cap) s->out[s->n] = id;
    s->n++;
    if (s->wrec) {
        if (berry_grow((void **)&s->wbuf, &s->wcap, s->wn + 1, sizeof *s->wbuf)) s->wbuf[s->wn++] = id;
        else s->wrec = false;
    }
}

static bool before(const struct ent *a, const struct ent *b, bool spm) { (void)spm; return a->key < b->key; }

// Maps a score to 32 bits that sort in the opposite order (higher scores first).
static uint32_t score_key(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    u = (u & 0x80000000u) ? ~u : (u | 0x80000000u);  // ascending
    return ~u;
}

static void heap_push(session *s, struct ent e, bool spm) {
    if (!berry_grow((void **)&s->heap, &s->heap_cap, s->heap_n + 1, sizeof *s->heap)) { s->oom = true; return; }
    size_t i = s->heap_n++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!before(&e, &s->heap[p], spm)) break;
        s->heap[i] = s->heap[p];
        i = p;
    }
    s->heap[i] = e;
}

static struct ent heap_pop(session *s, bool spm) {
    struct ent top = s->heap[0], last = s->heap[--s->heap_n];
    size_t i = 0, n = s->heap_n;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && before(&s->heap[c + 1], &s->heap[c], spm)) c++;
        if (!before(&s->heap[c], &last, spm)) break;
        s->heap[i] = s->heap[c];
        i = c;
    }
    if (n) s->heap[i] = last;
    return top;
}

// Candidate merge of symbols L and R (adjacent) into the heap.
static void try_pair(session *s, const char *w, int32_t l, int32_t r, bool spm) {
    if (l < 0 || r < 0) return;
    const berry_tokenizer *t = s->t;
    struct sym *a = &s->sym[l], *b = &s->sym[r];
    if (spm) {
        int32_t id = find_text(t, w + a->start, a->len + b->len);
        if (id < 0) return;
        heap_push(s, (struct ent){(uint64_t)score_key(t->score[id]) << 32 | (uint32_t)l, a->len + b->len}, true);
    } else {
        int32_t rank, res;
        if (!merge_get(t, a->id, b->id, &rank, &res)) return;
        heap_push(s, (struct ent){(uint64_t)(uint32_t)rank << 32 | (uint32_t)l, 0}, false);
    }
}

// Splits W (N bytes) into initial symbols: one per byte (byte-level BPE) or per UTF-8 character.
static int32_t init_symbols(session *s, const char *w, size_t n, bool per_byte) {
    const berry_tokenizer *t = s->t;
    if (!berry_grow((void **)&s->sym, &s->sym_cap, n, sizeof *s->sym)) { s->oom = true; return 0; }
    int32_t k = 0;
    for (size_t i = 0; i < n; k++) {
        // A symbol is a byte, or a valid UTF-8 character. (llama.cpp trusts the lead byte, so an invalid
        // one swallows the bytes after it, even the "▁" of a space; berry keeps invalid bytes apart.)
        uint32_t cp;
        size_t l = per_byte ? 1 : utf8_decode((const uint8_t *)w + i, n - i, &cp);
        if (l == 0) l = 1;
        int32_t id = per_byte ? t->byte_tok[(uint8_t)w[i]] : find_text(t, w + i, l);
        s->sym[k] = (struct sym){id, k - 1, i + l < n ? k + 1 : -1, (uint32_t)i, (uint32_t)l};
        i += l;
    }
    return k;
}

// Merges the symbols of one word until no candidate is left, then emits them.
static void merge_word(session *s, const char *w, size_t n, bool per_byte, bool spm) {
    const berry_tokenizer *t = s->t;
    int32_t k = init_symbols(s, w, n, per_byte);
    if (s->oom) return;
    s->heap_n = 0;
    for (int32_t i = 1; i < k; i++) try_pair(s, w, i - 1, i, spm);
    while (s->heap_n && !s->oom) {
        struct ent e = heap_pop(s, spm);
        int32_t left = (int32_t)(uint32_t)e.key;
        struct sym *a = &s->sym[left];
        if (a->len == 0 || a->next < 0) continue;  // stale
        struct sym *b = &s->sym[a->next];
        // Still the pair it was pushed for? (A merge rank names one pair; a SentencePiece pair whose
        // sides changed has another length.)
        int32_t rank, res = -1;
        if (spm ? a->len + b->len != e.size : !merge_get(t, a->id, b->id, &rank, &res) || (uint32_t)rank != (uint32_t)(e.key >> 32)) continue;
        a->id = spm ? find_text(t, w + a->start, a->len + b->len) : res;
        a->len += b->len;
        b->len = 0;
        a->next = b->next;
        if (b->next >= 0) s->sym[b->next].prev = left;
        try_pair(s, w, a->prev, left, spm);
        try_pair(s, w, left, a->next, spm);
    }
    for (int32_t i = 0; i >= 0 && i < k; i = s->sym[i].next) {
        struct sym *y = &s->sym[i];
        if (y->id >= 0) { emit(s, y->id); continue; }
        // No token: byte fallback (<0xXX>); SentencePiece without byte tokens gives the unknown token.
        for (uint32_t j = 0; j < y->len; j++) {
            int32_t bt = t->byte_tok[(uint8_t)w[y->start + j]];
            if (bt >= 0) emit(s, bt);
            else if (t->unk >= 0 && t->model == MODEL_SPM) emit(s, t->unk);
        }
    }
}

// One pre-token of byte-level BPE or Gemma 4, through the cache when it is on.
static void bpe_word(session *s, const char *w, size_t n) {
    const berry_tokenizer *t = s->t;
    bool per_byte = t->model == MODEL_BPE;
    if (n == 0) return;
    struct centry *ce = NULL;
    uint64_t h = 0;
    if (s->cslot && n <= 256) {
        h = hash_bytes(w, n);
        for (uint32_t i = (uint32_t)h & s->cmask;; i = (i + 1) & s->cmask) {
            ce = &s->cslot[i];
            if (ce->vn == UINT32_MAX) break;  // empty slot
            if (ce->h == h && ce->klen == n && memcmp(s->ckeys + ce->koff, w, n) == 0) {
                for (uint32_t j = 0; j < ce->vn; j++) emit(s, s->cvals[ce->voff + j]);
                return;
            }
        }
    }
    s->wn = 0;
    s->wrec = ce && s->cused < s->cmask / 2;
    int32_t whole = -1;
    if (t->ignore_merges) whole = strmap_get(&t->by_raw, t->piece_blob, t->piece, w, n);
    else if (t->pre == PRE_GEMMA4 && w[0] == '\n' && strspn(w, "\n") >= n) whole = find_text(t, w, n);
    if (whole >= 0) emit(s, whole);
    else merge_word(s, w, n, per_byte, false);
    // Remember the result while the cache has room.
    if (s->wrec && !s->oom) {
        s->wrec = false;
        size_t vn = s->wn;
        if (berry_grow((void **)&s->ckeys, &s->ckeys_cap, s->ckeys_n + n, 1) &&
            berry_grow((void **)&s->cvals, &s->cvals_cap, s->cvals_n + vn, sizeof *s->cvals)) {
            memcpy(s->ckeys + s->ckeys_n, w, n);
            memcpy(s->cvals + s->cvals_n, s->wbuf, vn * sizeof *s->cvals);
            *ce = (struct centry){h, (uint32_t)s->ckeys_n, (uint32_t)n, (uint32_t)s->cvals_n, (uint32_t)vn};
            s->ckeys_n += n; s->cvals_n += vn; s->cused++;
        }
    }
}

// ASCII fast path of the Llama 3 / Qwen2 regexes (the regex costs most of tokenization on English
// and LaTeX): the end of the match at I, computed from ASCII bytes alone, alternative by alternative in
// the regex's order; 0 when a non-ASCII byte could change the match (a letter, digit or space of
// another script), in which case PCRE2 decides. MAX_DIGITS: 3 for Llama 3 (\p{N}{1,3}), 1 for Qwen2.
// tests/test_tokenizer_edge.c checks it against PCRE2 alone on random mixed text.
enum { K_LETTER = 1, K_DIGIT = 2, K_WS = 4, K_NL = 8 };
static int kind(uint8_t c) {
    if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') return K_LETTER;
    if (c >= '0' && c <= '9') return K_DIGIT;
    if (c == '\n' || c == '\r') return K_WS | K_NL;
    if (c == ' ' || (c >= 9 && c <= 12)) return K_WS;
    return 0;  // punctuation, symbols, control characters: [^\s\p{L}\p{N}]
}

static size_t ascii_match(const uint8_t *s, size_t len, size_t i, size_t max_digits) {
    uint8_t c = s[i];
    int k = kind(c);
    // (?i:'s|'t|'re|'ve|'m|'ll|'d)
    if (c == '\'' && i + 1 < len) {
        uint8_t d = s[i + 1];
        if (d >= 0x80) return 0;  // caseless matching also folds some non-ASCII letters
        d |= 0x20;
        if (d == 's' || d == 't' || d == 'm' || d == 'd') return i + 2;
        if ((d == 'r' || d == 'v' || d == 'l') && i + 2 < len) {
            uint8_t e = s[i + 2];
            if (e >= 0x80) return 0;
            e |= 0x20;
            if ((d == 'r' && e == 'e') || (d == 'v' && e == 'e') || (d == 'l' && e == 'l')) return i + 3;
        }
    }
    // [^\r\n\p{L}\p{N}]?\p{L}+
    size_t p = k == K_LETTER ? i : (!(k & (K_NL | K_DIGIT)) ? i + 1 : len + 1);
    if (p < len) {
        if (s[p] >= 0x80) return 0;
        if (kind(s[p]) == K_LETTER) {
            while (p < len && kind(s[p]) == K_LETTER) p++;
            return p < len && s[p] >= 0x80 ? 0 : p;
        }
    }
    // \p{N}{1,max}
    if (k == K_DIGIT) {
        size_t q = i;
        while (q < len && q - i < max_digits && kind(s[q]) == K_DIGIT) q++;
        return q - i < max_digits && q < len && s[q] >= 0x80 ? 0 : q;
    }
    //  ?[^\s\p{L}\p{N}]+[\r\n]*
    p = c == ' ' ? i + 1 : i;
    if (p < len && s[p] >= 0x80) return 0;
    if (p < len && kind(s[p]) == 0) {
        while (p < len && s[p] < 0x80 && kind(s[p]) == 0) p++;
        if (p < len && s[p] >= 0x80) return 0;
        while (p < len && (s[p] == '\r' || s[p] == '\n')) p++;
        return p;
    }
    if (!(k & K_WS)) return 0;  // not reached for ASCII; be safe
    // \s*[\r\n]+ | \s+(?!\S) | \s+ over the run of whitespace
    size_t j = i, last_nl = 0;
    bool nl = false;
    while (j < len && s[j] < 0x80 && (kind(s[j]) & K_WS)) { if (kind(s[j]) & K_NL) { nl = true; last_nl = j; } j++; }
    if (j < len && s[j] >= 0x80) return 0;
    if (nl) return last_nl + 1;
    if (j == len || j - i == 1) return j;
    return j - 1;
}

// Splits TEXT at the matches of the pre-tokenizer regex RE, calling FN for each pre-token. Bytes no
// alternative matches (only invalid UTF-8 can be left over) form pre-tokens of their own. The JIT
// stack is created on demand (very long runs of one class) and kept in *MCTX / *JST for the caller.
typedef void (*word_fn)(void *ctx, const char *w, size_t n);
static berry_status split_pre(const pcre2_code *re, int pre, const char *text, size_t len, pcre2_match_data *md,
                              pcre2_match_context **mctx, pcre2_jit_stack **jst, word_fn fn, void *ctx,
                              const bool *stop, char *err, size_t err_size) {
    size_t pos = 0;
    size_t max_digits = pre == PRE_LLAMA3 ? 3 : pre == PRE_QWEN2 ? 1 : 0;
    while (pos < len && !*stop) {
        if (max_digits && (uint8_t)text[pos] < 0x80) {
            size_t e = ascii_match((const uint8_t *)text, len, pos, max_digits);
            if (e > pos) { fn(ctx, text + pos, e - pos); pos = e; continue; }
        }
        int rc = pcre2_match(re, (PCRE2_SPTR)text, len, pos, 0, md, *mctx);
        if (rc == PCRE2_ERROR_JIT_STACKLIMIT && !*jst) {
            *jst = pcre2_jit_stack_create(64 * 1024, 64 * 1024 * 1024, NULL);
            *mctx = pcre2_match_context_create(NULL);
            if (!*jst || !*mctx) return berry_errf(err, err_size, BERRY_ENOMEM, "out of memory for the regex stack");
            pcre2_jit_stack_assign(*mctx, NULL, *jst);
            continue;
        }
        if (rc == PCRE2_ERROR_NOMATCH) { fn(ctx, text + pos, len - pos); break; }
        if (rc < 0) return berry_errf(err, err_size, BERRY_ELIMIT, "pre-tokenizer regex failed at byte %zu (PCRE2 error %d)", pos, rc);
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        size_t a = ov[0], b = ov[1];
        if (a > pos) fn(ctx, text + pos, a - pos);
        if (b == a) b = a + 1;  // no alternative matches empty; guard anyway
        fn(ctx, text + a, b - a);
        pos = b;
    }
    return BERRY_OK;
}

static void bpe_word_cb(void *ctx, const char *w, size_t n) { bpe_word(ctx, w, n); }

static berry_status pretokenize(const char *pre, bool regex_only, const char *text, size_t len,
                                void (*fn)(void *ctx, const char *word, size_t n), void *ctx,
                                char *err, size_t err_size) {
    int p = is_any(pre, llama3_names) ? PRE_LLAMA3 : is_any(pre, qwen2_names) ? PRE_QWEN2 : is_any(pre, gpt2_names) ? PRE_GPT2 : -1;
    if (p < 0) return berry_errf(err, err_size, BERRY_EUNSUPPORTED, "unsupported pre-tokenizer '%s'", pre);
    pcre2_code *re = compile_pre(p, err, err_size);
    if (!re) return BERRY_EUNSUPPORTED;
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(re, NULL);
    pcre2_match_context *mctx = NULL;
    pcre2_jit_stack *jst = NULL;
    bool stop = false;
    berry_status st = md ? split_pre(re, regex_only ? -1 : p, text, len, md, &mctx, &jst, fn, ctx, &stop, err, err_size)
                         : berry_errf(err, err_size, BERRY_ENOMEM, "out of memory");
    if (md) pcre2_match_data_free(md);
    if (mctx) pcre2_match_context_free(mctx);
    if (jst) pcre2_jit_stack_free(jst);
    pcre2_code_free(re);
    return st;
}

berry_status berry_pretokenize(const char *pre, const char *text, size_t len,
                               void (*fn)(void *ctx, const char *word, size_t n), void *ctx,
                               char *err, size_t err_size) {
    return pretokenize(pre, false, text, len, fn, ctx, err, err_size);
}

berry_status berry_pretokenize_regex(const char *pre, const char *text, size_t len,
                                     void (*fn)(void *ctx, const char *word, size_t n), void *ctx,
                                     char *err, size_t err_size) {
    return pretokenize(pre, true, text, len, fn, ctx, err, err_size);
}

// Copies TEXT into the work buffer with spaces written as "▁" (and a leading one when PREFIX).
static char *escape_spaces(session *s, const char *text, size_t len, bool prefix, size_t *n) {
    size_t sp = prefix;
    for (size_t i = 0; i < len; i++) sp += text[i] == ' ';
    size_t need = len + 2 * sp + 1;
    if (!berry_grow((void **)&s->work, &s->work_cap, need, 1)) { s->oom = true; return NULL; }
    char *w = s->work;
    size_t o = 0;
    if (prefix) { memcpy(w, "\xe2\x96\x81", 3); o = 3; }
    for (size_t i = 0; i < len; i++) {
        if (text[i] == ' ') { memcpy(w + o, "\xe2\x96\x81", 3); o += 3; }
        else w[o++] = text[i];
    }
    *n = o;
    return w;
}

typedef struct { size_t pos, len; int32_t id, order; } occ;

static int cmp_occ_order(const void *a, const void *b) {
    const occ *x = a, *y = b;
    if (x->order != y->order) return x->order < y->order ? -1 : 1;
    return (x->pos > y->pos) - (x->pos < y->pos);
}
static int cmp_occ_pos(const void *a, const void *b) {
    const occ *x = a, *y = b;
    return (x->pos > y->pos) - (x->pos < y->pos);
}

// Finds where special tokens split TEXT. llama.cpp takes the tokens longest first and, for each, its
// leftmost non-overlapping occurrences inside the text that earlier tokens left; an occurrence is
// therefore kept exactly when it overlaps no occurrence kept before it in (token order, position)
// order, which this computes from all candidate occurrences at once. Returns the kept ones by position.
static occ *find_specials(const berry_tokenizer *t, const char *text, size_t len, bool parse_special,
                          size_t *n_out, bool *oom) {
    *n_out = 0;
    if (!t->n_spec) return NULL;
    occ *o = NULL;
    size_t n = 0, cap = 0;
    for (size_t p = 0; p < len; p++) {
        uint64_t lens = t->spec_lens[(uint8_t)text[p]];
        if (!lens && !t->spec_long) continue;
        size_t maxl = len - p < t->spec_maxlen ? len - p : t->spec_maxlen;
        for (size_t l = 1; l <= maxl; l++) {
            if (l <= 64 && !(lens >> (l - 1) & 1)) continue;
            int32_t id = find_text(t, text + p, l);
            if (id < 0 || !(t->attr[id] & (A_CONTROL | A_USER | A_UNKNOWN))) continue;
            if (!parse_special && !(t->attr[id] & A_USER)) continue;
            if (!berry_grow((void **)&o, &cap, n + 1, sizeof *o)) { *oom = true; free(o); return NULL; }
            o[n++] = (occ){p, l, id, 0};
        }
    }
    if (!n) return o;
    uint8_t *covered = calloc(len, 1);
    if (!covered) { *oom = true; free(o); return NULL; }
    for (size_t i = 0; i < n; i++) o[i].order = t->spec_order[o[i].id];
    qsort(o, n, sizeof *o, cmp_occ_order);
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) {
        bool free_ = true;
        for (size_t j = 0; j < o[i].len && free_; j++) free_ = !covered[o[i].pos + j];
        if (!free_) continue;
        memset(covered + o[i].pos, 1, o[i].len);
        o[kept++] = o[i];
    }
    free(covered);
    qsort(o, kept, sizeof *o, cmp_occ_pos);
    *n_out = kept;
    return o;
}

int64_t berry_tokenize(const berry_tokenizer *t, const char *text, size_t len, bool add_bos,
                       bool parse_special, int32_t *out, int64_t cap, char *err, size_t err_size) {
    if (!t || (!text && len) || (!out && cap > 0) || cap < 0) {
        berry_errf(err, err_size, BERRY_EINVAL, "berry_tokenize: bad arguments");
        return -1;
    }
    if (len > (size_t)INT32_MAX) {
        berry_errf(err, err_size, BERRY_ELIMIT, "text of %zu bytes is too long to tokenize at once", len);
        return -1;
    }
    session s = {.t = t, .out = out, .cap = cap};
    berry_status st = BERRY_OK;
    pcre2_match_data *md = NULL;
    pcre2_match_context *mctx = NULL;
    pcre2_jit_stack *jst = NULL;
    size_t n_occ = 0;
    occ *sp = find_specials(t, text, len, parse_special, &n_occ, &s.oom);
    if (s.oom) goto done;
    if (t->model != MODEL_SPM && len > 4096) {
        // Long inputs repeat words; cache each word's tokens for this call.
        uint32_t cslots = 1u << 16;
        s.cslot = malloc((size_t)cslots * sizeof *s.cslot);
        if (s.cslot) {
            for (uint32_t i = 0; i < cslots; i++) s.cslot[i].vn = UINT32_MAX;
            s.cmask = cslots - 1;
        }
    }
    if (t->model == MODEL_BPE) {
        md = pcre2_match_data_create_from_pattern(t->re, NULL);
        if (!md) { s.oom = true; goto done; }
    }
    if (add_bos && t->add_bos) emit(&s, t->bos);
    bool prev_special = true;  // SentencePiece prefixes a space to text at the start or after a special
    size_t pos = 0;
    for (size_t k = 0; k <= n_occ && !s.oom && st == BERRY_OK; k++) {
        size_t end = k < n_occ ? sp[k].pos : len;
        if (end > pos) {
            const char *frag = text + pos;
            size_t fl = end - pos;
            if (t->model == MODEL_BPE) {
                st = split_pre(t->re, t->pre, frag, fl, md, &mctx, &jst, bpe_word_cb, &s, &s.oom, err, err_size);
            } else if (t->model == MODEL_BPE_RAW) {
                size_t wn;
                const char *w = escape_spaces(&s, frag, fl, false, &wn);
                // Gemma 4: runs of newlines and runs of anything else are pre-tokens.
                for (size_t i = 0; w && i < wn && !s.oom;) {
                    size_t j = i;
                    bool nl = w[i] == '\n';
                    while (j < wn && (w[j] == '\n') == nl) j++;
                    bpe_word(&s, w + i, j - i);
                    i = j;
                }
            } else {
                size_t wn;
                const char *w = escape_spaces(&s, frag, fl, t->add_space_prefix && prev_special, &wn);
                if (w) merge_word(&s, w, wn, false, true);
            }
            prev_special = false;
        }
        if (k < n_occ) { emit(&s, sp[k].id); pos = sp[k].pos + sp[k].len; prev_special = true; }
    }
    if (add_bos && t->add_eos && !s.oom && st == BERRY_OK) emit(&s, t->eos);
done:
    if (s.oom && st == BERRY_OK) st = berry_errf(err, err_size, BERRY_ENOMEM, "out of memory while tokenizing %zu bytes", len);
    free(sp);
    if (md) pcre2_match_data_free(md);
    if (mctx) pcre2_match_context_free(mctx);
    if (jst) pcre2_jit_stack_free(jst);
    free(s.sym); free(s.heap); free(s.work);
    free(s.cslot); free(s.ckeys); free(s.cvals); free(s.wbuf);
    return st == BERRY_OK ? s.n : -1;
}

// ---- decoding ------------------------------------------------------------------------------------

size_t berry_token_bytes(const berry_tokenizer *t, int32_t id, char *buf, size_t cap) {
    if (!t || id < 0 || id >= t->n) return 0;
    span p = t->piece[id];
    if (buf && cap) memcpy(buf, t->piece_blob + p.off, p.len < cap ? p.len : cap);
    return p.len;
}

const char *berry_tokenizer_text(const berry_tokenizer *t, int32_t id) {
    if (!t || id < 0 || id >= t->n) return NULL;
    return t->text_blob + t->text[id].off;
}

size_t berry_detokenize(const berry_tokenizer *t, const int32_t *ids, size_t n, bool skip_special,
                        char *out, size_t cap) {
    size_t total = 0;
    bool strip = t && t->add_space_prefix;  // the space berry_tokenize put in front of the text
    for (size_t i = 0; t && i < n; i++) {
        int32_t id = ids[i];
        if (id < 0 || id >= t->n) continue;
        if (skip_special && (t->attr[id] & (A_CONTROL | A_UNKNOWN))) continue;
        span p = t->piece[id];
        const char *s = t->piece_blob + p.off;
        size_t l = p.len;
        if (strip && !(t->attr[id] & (A_CONTROL | A_UNKNOWN))) {
            if (l && s[0] == ' ') { s++; l--; }
            strip = false;
        }
        if (total < cap) memcpy(out + total, s, l < cap - total ? l : cap - total);
        total += l;
    }
    return total;
}

int32_t berry_tokenizer_n_vocab(const berry_tokenizer *t) { return t ? t->n : 0; }
int32_t berry_tokenizer_bos(const berry_tokenizer *t) { return t ? t->bos : -1; }
int32_t berry_tokenizer_eos(const berry_tokenizer *t) { return t ? t->eos : -1; }
int32_t berry_tokenizer_eot(const berry_tokenizer *t) { return t ? t->eot : -1; }
bool berry_tokenizer_adds_bos(const berry_tokenizer *t) { return t && t->add_bos; }
bool berry_tokenizer_is_eog(const berry_tokenizer *t, int32_t id) {
    return t && id >= 0 && id < t->n && (t->attr[id] & A_EOG);
}
bool berry_tokenizer_is_control(const berry_tokenizer *t, int32_t id) {
    return t && id >= 0 && id < t->n && (t->attr[id] & (A_CONTROL | A_UNKNOWN));
}
int32_t berry_tokenizer_find(const berry_tokenizer *t, const char *piece) {
    return t && piece ? find_text(t, piece, strlen(piece)) : -1;
}
const char *berry_tokenizer_chat_template(const berry_tokenizer *t) { return t ? t->chat_template : NULL; }
const char *berry_tokenizer_arch(const berry_tokenizer *t) { return t ? t->arch : ""; }
const char *berry_tokenizer_model_name(const berry_tokenizer *t) { return t ? t->model_name : ""; }
const char *berry_tokenizer_pre_name(const berry_tokenizer *t) { return t ? t->pre_name : ""; }

// ---- streaming decoder ---------------------------------------------------------------------------

struct berry_detok {
    const berry_tokenizer *t;
    bool skip_special;
    char held[4]; size_t n_held;   // the start of a character the next token may complete
    char *buf; size_t cap;
};

berry_detok *berry_detok_new(const berry_tokenizer *t, bool skip_special) {
    berry_detok *d = calloc(1, sizeof *d);
    if (d) { d->t = t; d->skip_special = skip_special; }
    return d;
}

void berry_detok_free(berry_detok *d) {
    if (!d) return;
    free(d->buf);
    free(d);
}

// How many bytes at the end of S (N bytes) are an incomplete but so far valid UTF-8 character.
static size_t incomplete_tail(const uint8_t *s, size_t n) {
    for (size_t back = 1; back <= 3 && back <= n; back++) {
        uint8_t c = s[n - back];
        if ((c & 0xc0) == 0x80) continue;  // continuation byte: look further back
        size_t need = utf8_len(c);
        if (c < 0xc2 || c > 0xf4 || need <= back) return 0;
        // Check the second byte's range where the lead byte restricts it (overlong, surrogates, > U+10FFFF).
        if (back >= 2) {
            uint8_t c1 = s[n - back + 1];
            if ((c == 0xe0 && c1 < 0xa0) || (c == 0xed && c1 > 0x9f) || (c == 0xf0 && c1 < 0x90) || (c == 0xf4 && c1 > 0x8f)) return 0;
        }
        return back;
    }
    return 0;
}

const char *berry_detok_push(berry_detok *d, int32_t id, size_t *len) {
    *len = 0;
    const berry_tokenizer *t = d->t;
    if (!t || id < 0 || id >= t->n) return d->buf ? d->buf : "";
    if (d->skip_special && (t->attr[id] & (A_CONTROL | A_UNKNOWN))) return d->buf ? d->buf : "";
    span p = t->piece[id];
    size_t need = d->n_held + p.len + 1;
    if (need > d->cap) {
        char *b = realloc(d->buf, need * 2);
        if (!b) return NULL;
        d->buf = b; d->cap = need * 2;
    }
    memcpy(d->buf, d->held, d->n_held);
    memcpy(d->buf + d->n_held, t->piece_blob + p.off, p.len);
    size_t n = d->n_held + p.len;
    size_t tail = incomplete_tail((const uint8_t *)d->buf, n);
    memcpy(d->held, d->buf + n - tail, tail);
    d->n_held = tail;
    *len = n - tail;
    return d->buf;
}

const char *berry_detok_flush(berry_detok *d, size_t *len) {
    *len = d->n_held;
    d->n_held = 0;
    return d->held;
}
