// chat.c — chat templates rendered in C. See chat.h.
#include "text/chat.h"
#include <stdlib.h>
#include <string.h>

typedef struct { char *s; size_t n, cap; bool oom; } buf;

static void put(buf *b, const char *s, size_t n) {
    if (b->oom) return;
    if (b->n + n + 1 > b->cap) {
        size_t c = b->cap ? b->cap : 256;
        while (c < b->n + n + 1) c *= 2;
        char *p = realloc(b->s, c);
        if (!p) { b->oom = true; return; }
        b->s = p; b->cap = c;
    }
    memcpy(b->s + b->n, s, n);
    b->n += n;
    b->s[b->n] = 0;
}
static void puts_(buf *b, const char *s) { put(b, s, strlen(s)); }

// Jinja's trim: strips leading and trailing whitespace (Python's str.strip()).
static void put_trimmed(buf *b, const char *s) {
    size_t n = strlen(s), i = 0;
    while (i < n && strchr(" \t\n\r\v\f", s[i])) i++;
    while (n > i && strchr(" \t\n\r\v\f", s[n - 1])) n--;
    put(b, s + i, n - i);
}

static const char *nz(const char *s) { return s ? s : ""; }

berry_chat_format berry_chat_format_from_name(const char *name) {
    if (!name) return BERRY_CHAT_UNKNOWN;
    if (!strcmp(name, "chatml") || !strcmp(name, "qwen2")) return BERRY_CHAT_CHATML;
    if (!strcmp(name, "qwen3")) return BERRY_CHAT_QWEN3;
    if (!strcmp(name, "llama3") || !strcmp(name, "llama-3")) return BERRY_CHAT_LLAMA3;
    if (!strcmp(name, "gemma") || !strcmp(name, "gemma2") || !strcmp(name, "gemma3")) return BERRY_CHAT_GEMMA;
    return BERRY_CHAT_UNKNOWN;
}

const char *berry_chat_format_name(berry_chat_format f) {
    switch (f) {
    case BERRY_CHAT_CHATML: return "chatml";
    case BERRY_CHAT_QWEN3: return "qwen3";
    case BERRY_CHAT_LLAMA3: return "llama3";
    case BERRY_CHAT_GEMMA: return "gemma";
    default: return "unknown";
    }
}

berry_chat_format berry_chat_format_of(const berry_tokenizer *t) {
    const char *tpl = berry_tokenizer_chat_template(t);
    if (tpl) {
        if (strstr(tpl, "<|start_header_id|>")) return BERRY_CHAT_LLAMA3;
        if (strstr(tpl, "<start_of_turn>")) return BERRY_CHAT_GEMMA;
        if (strstr(tpl, "<|im_start|>")) return strstr(tpl, "</think>") && strstr(tpl, "last_query_index") ? BERRY_CHAT_QWEN3 : BERRY_CHAT_CHATML;
    }
    const char *arch = berry_tokenizer_arch(t);
    if (!strncmp(arch, "gemma", 5) || berry_tokenizer_find(t, "<start_of_turn>") >= 0) return BERRY_CHAT_GEMMA;
    if (berry_tokenizer_find(t, "<|start_header_id|>") >= 0) return BERRY_CHAT_LLAMA3;
    if (!strcmp(arch, "qwen3")) return BERRY_CHAT_QWEN3;
    return BERRY_CHAT_CHATML;
}

// The default system message a ChatML template writes when the conversation has none: the literal
// text between "<|im_start|>system\n" and "<|im_end|>" in the template (Qwen 2: "You are a helpful
// assistant", Qwen 2.5: "You are Qwen, created by Alibaba Cloud. ..."). NULL when there is none or it
// is not a plain literal. Malloc'd.
static char *default_system(const char *tpl) {
    if (!tpl) return NULL;
    for (const char *p = tpl; (p = strstr(p, "<|im_start|>system")) != NULL; p++) {
        const char *q = p + strlen("<|im_start|>system");
        if (*q == '\n') q++;
        else if (q[0] == '\\' && q[1] == 'n') q += 2;
        else continue;
        const char *e = strstr(q, "<|im_end|>");
        if (!e || e <= q) continue;
        // A literal: no Jinja expression or string concatenation inside.
        bool literal = true;
        for (const char *c = q; c < e; c++)
            if (*c == '\'' || *c == '"' || *c == '{' || *c == '}' || *c == '+') literal = false;
        if (!literal) continue;
        char *s = malloc((size_t)(e - q) + 1);
        if (!s) return NULL;
        size_t n = 0;
        for (const char *c = q; c < e; c++) {  // unescape \n inside the Jinja string
            if (c[0] == '\\' && c + 1 < e && c[1] == 'n') { s[n++] = '\n'; c++; }
            else s[n++] = *c;
        }
        s[n] = 0;
        return s;
    }
    return NULL;
}

// Qwen 3 assistant content: the text after the last "</think>" and the reasoning inside <think>.
static void split_think(const char *c, const char **content, char **reasoning) {
    *content = c;
    *reasoning = NULL;
    const char *last = NULL;
    for (const char *p = c; (p = strstr(p, "</think>")) != NULL; p++) last = p;
    if (!last) return;
    const char *after = last + 8;
    while (*after == '\n') after++;
    *content = after;
    // split('</think>')[0].rstrip('\n').split('<think>')[-1].lstrip('\n')
    const char *first = strstr(c, "</think>");
    size_t n = (size_t)(first - c);
    while (n && c[n - 1] == '\n') n--;
    const char *start = c;
    for (const char *p = c; (p = strstr(p, "<think>")) != NULL && p < c + n; p++) start = p + 7;
    while (start < c + n && *start == '\n') start++;
    size_t rl = start <= c + n ? (size_t)(c + n - start) : 0;
    *reasoning = malloc(rl + 1);
    if (*reasoning) { memcpy(*reasoning, start, rl); (*reasoning)[rl] = 0; }
}

static void put_strip_nl(buf *b, const char *s) {
    size_t n = strlen(s), i = 0;
    while (i < n && s[i] == '\n') i++;
    while (n > i && s[n - 1] == '\n') n--;
    put(b, s + i, n - i);
}

char *berry_chat_render_format(berry_chat_format f, const char *def_system, const berry_chat_msg *msgs,
                               int n, bool add_generation_prompt) {
    buf b = {0};
    puts_(&b, "");
    if (n < 0) n = 0;
    switch (f) {
    case BERRY_CHAT_LLAMA3:
        for (int i = 0; i < n; i++) {
            puts_(&b, "<|start_header_id|>"); puts_(&b, nz(msgs[i].role)); puts_(&b, "<|end_header_id|>\n\n");
            put_trimmed(&b, nz(msgs[i].content));
            puts_(&b, "<|eot_id|>");
        }
        if (add_generation_prompt) puts_(&b, "<|start_header_id|>assistant<|end_header_id|>\n\n");
        break;
    case BERRY_CHAT_GEMMA: {
        int i = 0;
        const char *prefix = NULL;
        if (n > 0 && !strcmp(nz(msgs[0].role), "system")) { prefix = nz(msgs[0].content); i = 1; }
        for (int k = i; k < n; k++) {
            const char *role = nz(msgs[k].role);
            puts_(&b, "<start_of_turn>");
            puts_(&b, !strcmp(role, "assistant") ? "model" : role);
            puts_(&b, "\n");
            if (prefix && k == i) { puts_(&b, prefix); puts_(&b, "\n\n"); }
            put_trimmed(&b, nz(msgs[k].content));
            puts_(&b, "<end_of_turn>\n");
        }
        if (add_generation_prompt) puts_(&b, "<start_of_turn>model\n");
        break;
    }
    case BERRY_CHAT_QWEN3: {
        // The index of the last user message (the template's last_query_index).
        int last_query = n - 1;
        for (int k = n - 1; k >= 0; k--)
            if (!strcmp(nz(msgs[k].role), "user")) { last_query = k; break; }
        for (int k = 0; k < n; k++) {
            const char *role = nz(msgs[k].role), *c = nz(msgs[k].content);
            if (!strcmp(role, "assistant")) {
                const char *content;
                char *reasoning;
                split_think(c, &content, &reasoning);
                puts_(&b, "<|im_start|>assistant\n");
                if (k > last_query && (k == n - 1 || (reasoning && *reasoning))) {
                    puts_(&b, "<think>\n");
                    put_strip_nl(&b, reasoning ? reasoning : "");
                    puts_(&b, "\n</think>\n\n");
                    while (*content == '\n') content++;
                }
                puts_(&b, content);
                free(reasoning);
                puts_(&b, "<|im_end|>\n");
            } else {
                puts_(&b, "<|im_start|>"); puts_(&b, role); puts_(&b, "\n"); puts_(&b, c); puts_(&b, "<|im_end|>\n");
            }
        }
        if (add_generation_prompt) puts_(&b, "<|im_start|>assistant\n");
        break;
    }
    case BERRY_CHAT_CHATML:
    default:
        if (def_system && (n == 0 || strcmp(nz(msgs[0].role), "system") != 0)) {
            puts_(&b, "<|im_start|>system\n"); puts_(&b, def_system); puts_(&b, "<|im_end|>\n");
        }
        for (int k = 0; k < n; k++) {
            puts_(&b, "<|im_start|>"); puts_(&b, nz(msgs[k].role)); puts_(&b, "\n");
            puts_(&b, nz(msgs[k].content)); puts_(&b, "<|im_end|>\n");
        }
        if (add_generation_prompt) puts_(&b, "<|im_start|>assistant\n");
        break;
    }
    if (b.oom) { free(b.s); return NULL; }
    return b.s;
}

char *berry_chat_render(const berry_tokenizer *t, const char *format, const berry_chat_msg *msgs, int n,
                        bool add_generation_prompt) {
    berry_chat_format f = format ? berry_chat_format_from_name(format) : berry_chat_format_of(t);
    if (f == BERRY_CHAT_UNKNOWN) return NULL;
    const char *tpl = t ? berry_tokenizer_chat_template(t) : NULL;
    // Llama 3.0's template ignores add_generation_prompt and always opens the assistant's turn.
    if (!format && f == BERRY_CHAT_LLAMA3 && tpl && !strstr(tpl, "add_generation_prompt")) add_generation_prompt = true;
    char *sys = f == BERRY_CHAT_CHATML ? default_system(tpl) : NULL;
    char *s = berry_chat_render_format(f, sys, msgs, n, add_generation_prompt);
    free(sys);
    return s;
}
