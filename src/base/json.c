// json.c — recursive-descent JSON parser (depth-limited) and a compact writer.
#include "base/json.h"
#include "base/alloc.h"
#include "base/err.h"
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const unsigned char *s;
    size_t n, i;
    char *err;
    size_t err_size;
    bool failed;
} parser;

// Reports the first error only, at byte offset AT, as "line L, column C: ..." (columns count bytes).
static bool fail_at(parser *p, size_t at, const char *what) {
    if (p->failed) return false;
    p->failed = true;
    size_t line = 1, col = 1;
    for (size_t k = 0; k < at && k < p->n; k++) {
        if (p->s[k] == '\n') { line++; col = 1; }
        else col++;
    }
    berry_errf(p->err, p->err_size, BERRY_EFORMAT, "line %zu, column %zu: %s", line, col, what);
    return false;
}

static void skip_ws(parser *p) {
    while (p->i < p->n) {
        unsigned char c = p->s[p->i];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
        p->i++;
    }
}

// Length of the valid UTF-8 sequence at S (at most N bytes), or 0 when it is not one (overlong forms,
// surrogates and code points above U+10FFFF are invalid).
static size_t utf8_seq(const unsigned char *s, size_t n) {
    unsigned char c = s[0];
    if (c < 0x80) return 1;
    size_t k;
    uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF) { k = 2; cp = c & 0x1F; }
    else if (c >= 0xE0 && c <= 0xEF) { k = 3; cp = c & 0x0F; }
    else if (c >= 0xF0 && c <= 0xF4) { k = 4; cp = c & 0x07; }
    else return 0;
    if (n < k) return 0;
    for (size_t j = 1; j < k; j++) {
        if ((s[j] & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (s[j] & 0x3F);
    }
    if ((k == 3 && cp < 0x800) || (k == 4 && (cp < 0x10000 || cp > 0x10FFFF))) return 0;
    if (cp >= 0xD800 && cp <= 0xDFFF) return 0;
    return k;
}

static size_t put_utf8(char *o, uint32_t cp) {
    if (cp < 0x80) { o[0] = (char)cp; return 1; }
    if (cp < 0x800) { o[0] = (char)(0xC0 | (cp >> 6)); o[1] = (char)(0x80 | (cp & 0x3F)); return 2; }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12)); o[1] = (char)(0x80 | ((cp >> 6) & 0x3F)); o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | (cp >> 18)); o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F)); o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

static int hex4(const unsigned char *s) {
    int v = 0;
    for (int k = 0; k < 4; k++) {
        int c = s[k], d;
        if (c >= '0' && c <= '9') d = c - '0';
        else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
        else return -1;
        v = v * 16 + d;
    }
    return v;
}

// Parses a string literal at p->i (which holds '"') into a fresh buffer. The decoded text is never
// longer than the literal (an escape shrinks or keeps its size), so one allocation suffices.
static char *parse_string(parser *p, size_t *out_len) {
    size_t start = ++p->i, end = start;
    while (end < p->n && p->s[end] != '"') end += p->s[end] == '\\' ? 2 : 1;
    if (end >= p->n) { fail_at(p, start - 1, "unterminated string"); return NULL; }
    char *o = malloc(end - start + 1);
    if (!o) { fail_at(p, start, "out of memory"); return NULL; }
    size_t k = 0, i = start;
    while (i < end) {
        unsigned char c = p->s[i];
        if (c < 0x20) { fail_at(p, i, "control character in string (must be escaped)"); goto bad; }
        if (c != '\\') {
            size_t m = utf8_seq(p->s + i, end - i);
            if (!m) { fail_at(p, i, "invalid UTF-8 in string"); goto bad; }
            memcpy(o + k, p->s + i, m);
            k += m;
            i += m;
            continue;
        }
        unsigned char e = p->s[i + 1];
        i += 2;
        switch (e) {
        case '"': o[k++] = '"'; break;
        case '\\': o[k++] = '\\'; break;
        case '/': o[k++] = '/'; break;
        case 'b': o[k++] = '\b'; break;
        case 'f': o[k++] = '\f'; break;
        case 'n': o[k++] = '\n'; break;
        case 'r': o[k++] = '\r'; break;
        case 't': o[k++] = '\t'; break;
        case 'u': {
            int hi = i + 4 <= end ? hex4(p->s + i) : -1;
            if (hi < 0) { fail_at(p, i - 2, "bad \\u escape (needs four hex digits)"); goto bad; }
            i += 4;
            uint32_t cp = (uint32_t)hi;
            if (hi >= 0xDC00 && hi <= 0xDFFF) { fail_at(p, i - 6, "lone low surrogate in \\u escape"); goto bad; }
            if (hi >= 0xD800 && hi <= 0xDBFF) {
                int lo = i + 6 <= end && p->s[i] == '\\' && p->s[i + 1] == 'u' ? hex4(p->s + i + 2) : -1;
                if (lo < 0xDC00 || lo > 0xDFFF) { fail_at(p, i - 6, "high surrogate not followed by a low surrogate"); goto bad; }
                i += 6;
                cp = 0x10000 + (((uint32_t)hi - 0xD800) << 10) + ((uint32_t)lo - 0xDC00);
            }
            k += put_utf8(o + k, cp);
            break;
        }
        default: fail_at(p, i - 2, "unknown escape in string"); goto bad;
        }
    }
    o[k] = 0;
    *out_len = k;
    p->i = end + 1;
    return o;
bad:
    free(o);
    return NULL;
}

static bool parse_number(parser *p, berry_json *v) {
    size_t b = p->i, i = b;
    const unsigned char *s = p->s;
    if (i < p->n && s[i] == '-') i++;
    if (i < p->n && s[i] == '0') i++;
    else if (i < p->n && s[i] >= '1' && s[i] <= '9') while (i < p->n && s[i] >= '0' && s[i] <= '9') i++;
    else return fail_at(p, i, "bad number (expected a digit)");
    if (i < p->n && s[i] == '.') {
        i++;
        if (i >= p->n || s[i] < '0' || s[i] > '9') return fail_at(p, i, "bad number (expected a digit after '.')");
        while (i < p->n && s[i] >= '0' && s[i] <= '9') i++;
    }
    if (i < p->n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < p->n && (s[i] == '+' || s[i] == '-')) i++;
        if (i >= p->n || s[i] < '0' || s[i] > '9') return fail_at(p, i, "bad number (expected an exponent)");
        while (i < p->n && s[i] >= '0' && s[i] <= '9') i++;
    }
    v->type = BERRY_JSON_NUMBER;
    v->str = berry_strndup((const char *)s + b, i - b);
    if (!v->str) return fail_at(p, b, "out of memory");
    v->len = i - b;
    v->number = strtod(v->str, NULL);
    p->i = i;
    return true;
}

static bool literal(parser *p, const char *word) {
    size_t m = strlen(word);
    if (p->n - p->i < m || memcmp(p->s + p->i, word, m) != 0) return fail_at(p, p->i, "unexpected character (expected a value)");
    p->i += m;
    return true;
}

static void free_inner(berry_json *v);

// Grows a value array (doubling) so that it holds at least N+1 entries.
static bool grow(parser *p, berry_json **items, char ***keys, size_t n, size_t *cap) {
    if (n < *cap) return true;
    size_t c = *cap ? *cap * 2 : 4;
    berry_json *ni = realloc(*items, c * sizeof **items);
    if (!ni) return fail_at(p, p->i, "out of memory");
    *items = ni;
    if (keys) {
        char **nk = realloc(*keys, c * sizeof **keys);
        if (!nk) return fail_at(p, p->i, "out of memory");
        *keys = nk;
    }
    *cap = c;
    return true;
}

static bool parse_value(parser *p, berry_json *v, int depth) {
    memset(v, 0, sizeof *v);
    skip_ws(p);
    if (p->i >= p->n) return fail_at(p, p->i, "unexpected end of input (expected a value)");
    unsigned char c = p->s[p->i];
    if (c == '"') {
        v->type = BERRY_JSON_STRING;
        v->str = parse_string(p, &v->len);
        return v->str != NULL;
    }
    if (c == '-' || (c >= '0' && c <= '9')) return parse_number(p, v);
    if (c == 't') { v->type = BERRY_JSON_BOOL; v->boolean = true; return literal(p, "true"); }
    if (c == 'f') { v->type = BERRY_JSON_BOOL; return literal(p, "false"); }
    if (c == 'n') return literal(p, "null");
    if (c != '[' && c != '{') return fail_at(p, p->i, "unexpected character (expected a value)");
    if (depth >= BERRY_JSON_MAX_DEPTH) return fail_at(p, p->i, "nesting deeper than the limit of 512");
    bool obj = c == '{';
    char close = obj ? '}' : ']';
    v->type = obj ? BERRY_JSON_OBJECT : BERRY_JSON_ARRAY;
    p->i++;
    size_t cap = 0;
    skip_ws(p);
    if (p->i < p->n && p->s[p->i] == close) { p->i++; return true; }
    for (;;) {
        if (!grow(p, &v->items, obj ? &v->keys : NULL, v->n, &cap)) return false;
        if (obj) {
            skip_ws(p);
            if (p->i >= p->n || p->s[p->i] != '"') return fail_at(p, p->i, "expected a string key in object");
            size_t klen;
            char *key = parse_string(p, &klen);
            if (!key) return false;
            v->keys[v->n] = key;
            skip_ws(p);
            if (p->i >= p->n || p->s[p->i] != ':') {
                free(key);
                return fail_at(p, p->i, "expected ':' after object key");
            }
            p->i++;
        }
        bool ok = parse_value(p, &v->items[v->n], depth + 1);
        if (!ok) {
            // The half-built element is freed here; the container frees its complete ones.
            free_inner(&v->items[v->n]);
            if (obj) free(v->keys[v->n]);
            return false;
        }
        v->n++;
        skip_ws(p);
        if (p->i < p->n && p->s[p->i] == ',') { p->i++; continue; }
        if (p->i < p->n && p->s[p->i] == close) { p->i++; return true; }
        return fail_at(p, p->i, obj ? "expected ',' or '}' in object" : "expected ',' or ']' in array");
    }
}

static void free_inner(berry_json *v) {
    if (!v) return;
    for (size_t i = 0; i < v->n; i++) {
        free_inner(&v->items[i]);
        if (v->keys) free(v->keys[i]);
    }
    free(v->items);
    free(v->keys);
    free(v->str);
    memset(v, 0, sizeof *v);
}

berry_json *berry_json_parse(const char *text, size_t len, char *err, size_t err_size) {
    parser p = {(const unsigned char *)text, len, 0, err, err_size, false};
    if (!text) { berry_errf(err, err_size, BERRY_EINVAL, "no input"); return NULL; }
    berry_json *v = malloc(sizeof *v);
    if (!v) { berry_errf(err, err_size, BERRY_ENOMEM, "out of memory"); return NULL; }
    bool ok = parse_value(&p, v, 0);
    if (ok) {
        skip_ws(&p);
        if (p.i < p.n) ok = fail_at(&p, p.i, "unexpected text after the value");
    }
    if (!ok) {
        free_inner(v);
        free(v);
        return NULL;
    }
    return v;
}

void berry_json_free(berry_json *v) {
    if (!v) return;
    free_inner(v);
    free(v);
}

const berry_json *berry_json_get(const berry_json *obj, const char *key) {
    if (!obj || obj->type != BERRY_JSON_OBJECT || !key) return NULL;
    for (size_t i = obj->n; i-- > 0;)
        if (strcmp(obj->keys[i], key) == 0) return &obj->items[i];
    return NULL;
}

const berry_json *berry_json_at(const berry_json *arr, size_t i) {
    if (!arr || arr->type != BERRY_JSON_ARRAY || i >= arr->n) return NULL;
    return &arr->items[i];
}

const char *berry_json_str(const berry_json *v) { return v && v->type == BERRY_JSON_STRING ? v->str : NULL; }

bool berry_json_num(const berry_json *v, double *out) {
    if (!v || v->type != BERRY_JSON_NUMBER) return false;
    *out = v->number;
    return true;
}

bool berry_json_int(const berry_json *v, long long *out) {
    double x;
    if (!berry_json_num(v, &x) || x != floor(x) || !(fabs(x) < 9.2e18)) return false;
    *out = (long long)x;
    return true;
}

// ---- writer ----

void berry_json_writer_init(berry_json_writer *w) { memset(w, 0, sizeof *w); }
void berry_json_writer_free(berry_json_writer *w) { free(w->data); memset(w, 0, sizeof *w); }
void berry_json_writer_reset(berry_json_writer *w) {
    w->len = 0;
    if (w->data) w->data[0] = 0;
    w->failed = false;
    w->comma = false;
}

static void put(berry_json_writer *w, const char *s, size_t n) {
    if (w->failed) return;
    size_t need;
    if (!berry_add_ok(w->len, n + 1, &need)) { w->failed = true; return; }
    if (need > w->cap) {
        size_t c = w->cap ? w->cap : 256;
        while (c < need) {
            if (c > SIZE_MAX / 2) { c = need; break; }
            c *= 2;
        }
        char *d = realloc(w->data, c);
        if (!d) { w->failed = true; return; }
        w->data = d;
        w->cap = c;
    }
    memcpy(w->data + w->len, s, n);
    w->len += n;
    w->data[w->len] = 0;
}

// Before any value or key: the separator owed to the previous sibling.
static void sep(berry_json_writer *w) {
    if (w->comma) put(w, ",", 1);
    w->comma = false;
}

void berry_json_escape(berry_json_writer *w, const char *s, size_t n) {
    static const char hex[] = "0123456789abcdef";
    const unsigned char *u = (const unsigned char *)s;
    put(w, "\"", 1);
    size_t run = 0;  // start of the pending run of bytes that need no escaping
    for (size_t i = 0; i < n;) {
        unsigned char c = u[i];
        const char *esc = NULL;
        char buf[8];
        size_t adv = 1;
        if (c == '"') esc = "\\\"";
        else if (c == '\\') esc = "\\\\";
        else if (c == '\n') esc = "\\n";
        else if (c == '\r') esc = "\\r";
        else if (c == '\t') esc = "\\t";
        else if (c == '\b') esc = "\\b";
        else if (c == '\f') esc = "\\f";
        else if (c < 0x20) {
            memcpy(buf, "\\u00", 4);
            buf[4] = hex[c >> 4];
            buf[5] = hex[c & 15];
            buf[6] = 0;
            esc = buf;
        } else if (c >= 0x80) {
            adv = utf8_seq(u + i, n - i);
            if (!adv) { esc = "\xEF\xBF\xBD"; adv = 1; }
        }
        if (esc) {
            put(w, s + run, i - run);
            put(w, esc, strlen(esc));
            run = i + adv;
        }
        i += adv;
    }
    put(w, s + run, n - run);
    put(w, "\"", 1);
}

void berry_json_begin_object(berry_json_writer *w) { sep(w); put(w, "{", 1); }
void berry_json_begin_array(berry_json_writer *w) { sep(w); put(w, "[", 1); }
void berry_json_end_object(berry_json_writer *w) { put(w, "}", 1); w->comma = true; }
void berry_json_end_array(berry_json_writer *w) { put(w, "]", 1); w->comma = true; }

void berry_json_key(berry_json_writer *w, const char *key) {
    sep(w);
    berry_json_escape(w, key, strlen(key));
    put(w, ":", 1);
}

void berry_json_kv_str(berry_json_writer *w, const char *key, const char *s) {
    berry_json_key(w, key);
    berry_json_write_str(w, s);
}

void berry_json_kv_int(berry_json_writer *w, const char *key, long long x) {
    berry_json_key(w, key);
    berry_json_write_int(w, x);
}

void berry_json_kv_num(berry_json_writer *w, const char *key, double x) {
    berry_json_key(w, key);
    berry_json_write_num(w, x);
}

void berry_json_write_strn(berry_json_writer *w, const char *s, size_t n) {
    sep(w);
    berry_json_escape(w, s, n);
    w->comma = true;
}

void berry_json_write_str(berry_json_writer *w, const char *s) {
    if (!s) { berry_json_write_null(w); return; }
    berry_json_write_strn(w, s, strlen(s));
}

// The shortest of %.15g..%.17g that reads back as the same double.
void berry_json_write_num(berry_json_writer *w, double x) {
    if (!isfinite(x)) { berry_json_write_null(w); return; }
    char buf[40];
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, x);
        if (strtod(buf, NULL) == x) break;
    }
    sep(w);
    put(w, buf, strlen(buf));
    w->comma = true;
}

void berry_json_write_int(berry_json_writer *w, long long x) {
    char buf[32];
    snprintf(buf, sizeof buf, "%lld", x);
    sep(w);
    put(w, buf, strlen(buf));
    w->comma = true;
}

void berry_json_write_bool(berry_json_writer *w, bool b) {
    sep(w);
    put(w, b ? "true" : "false", b ? 4 : 5);
    w->comma = true;
}

void berry_json_write_null(berry_json_writer *w) {
    sep(w);
    put(w, "null", 4);
    w->comma = true;
}

void berry_json_write_value(berry_json_writer *w, const berry_json *v) {
    if (!v) { berry_json_write_null(w); return; }
    switch (v->type) {
    case BERRY_JSON_NULL: berry_json_write_null(w); break;
    case BERRY_JSON_BOOL: berry_json_write_bool(w, v->boolean); break;
    case BERRY_JSON_NUMBER:  // the literal as parsed, so 27.0 stays 27.0
        sep(w);
        if (v->str) put(w, v->str, v->len);
        else berry_json_write_num(w, v->number);
        w->comma = true;
        break;
    case BERRY_JSON_STRING: berry_json_write_strn(w, v->str, v->len); break;
    case BERRY_JSON_ARRAY:
        berry_json_begin_array(w);
        for (size_t i = 0; i < v->n; i++) berry_json_write_value(w, &v->items[i]);
        berry_json_end_array(w);
        break;
    case BERRY_JSON_OBJECT:
        berry_json_begin_object(w);
        for (size_t i = 0; i < v->n; i++) {
            berry_json_key(w, v->keys[i]);
            berry_json_write_value(w, &v->items[i]);
        }
        berry_json_end_object(w);
        break;
    }
}
