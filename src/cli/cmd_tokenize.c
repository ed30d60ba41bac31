// cmd_tokenize.c — `berry tokenize -m MODEL [-p TEXT | -f FILE] [--ids]`: the tokens of a text, with
// the tokenizer of a GGUF model (or vocab-only GGUF).
#include "cli/cli.h"
#include "model/gguf.h"
#include "text/chat.h"
#include "text/tokenizer.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f) {
    fprintf(f, "usage: berry tokenize -m MODEL.gguf [-p TEXT | -f FILE] [--ids] [--no-bos] [--no-parse-special]\n"
               "                      [--chat [--chat-template chatml|qwen3|llama3|gemma]]\n\n"
               "Prints the tokens of TEXT (or of FILE, or of standard input), one per line as\n"
               "ID -> 'PIECE', or with --ids the ids alone as [1, 2, 3].\n"
               "  --no-bos            do not add the BOS/EOS tokens the model asks for\n"
               "  --no-parse-special  tokenize control tokens written in the text (<|eot_id|>) as plain text\n"
               "  --chat              tokenize TEXT as a user message in the model's chat format, with the\n"
               "                      assistant's turn opened (--chat-template overrides the format)\n");
}

// Reads all of F into a malloc'd buffer.
static char *read_all(FILE *f, size_t *len) {
    size_t cap = 1 << 16, n = 0;
    char *b = malloc(cap);
    while (b) {
        n += fread(b + n, 1, cap - n, f);
        if (n < cap) break;
        char *q = realloc(b, cap * 2);
        if (!q) { free(b); return NULL; }
        b = q; cap *= 2;
    }
    if (b && ferror(f)) { free(b); return NULL; }
    *len = n;
    return b;
}

static int cmd_tokenize(int argc, char **argv) {
    const char *model = NULL, *prompt = NULL, *file = NULL;
    bool ids_only = false, bos = true, special = true, chat = false;
    const char *chat_template = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { usage(stdout); return 0; }
        else if ((!strcmp(a, "-m") || !strcmp(a, "--model")) && i + 1 < argc) model = argv[++i];
        else if ((!strcmp(a, "-p") || !strcmp(a, "--prompt")) && i + 1 < argc) prompt = argv[++i];
        else if ((!strcmp(a, "-f") || !strcmp(a, "--file")) && i + 1 < argc) file = argv[++i];
        else if (!strcmp(a, "--ids")) ids_only = true;
        else if (!strcmp(a, "--no-bos")) bos = false;
        else if (!strcmp(a, "--no-parse-special")) special = false;
        else if (!strcmp(a, "--chat")) chat = true;
        else if (!strcmp(a, "--chat-template") && i + 1 < argc) { chat_template = argv[++i]; chat = true; }
        else { usage(stderr); return berry_cli_error("unknown or incomplete argument '%s'", a); }
    }
    if (!model) { usage(stderr); return berry_cli_error("tokenize needs -m MODEL"); }
    if (prompt && file) return berry_cli_error("give -p or -f, not both");
    char err[512];
    berry_gguf *g = berry_gguf_open(model, err, sizeof err);
    if (!g) return berry_cli_error("%s", err);
    berry_tokenizer *t = berry_tokenizer_from_gguf(g, err, sizeof err);
    berry_gguf_close(g);
    if (!t) return berry_cli_error("%s: %s", model, err);
    char *text = NULL;
    size_t len = 0;
    if (prompt) { len = strlen(prompt); }
    else {
        FILE *f = file ? fopen(file, "rb") : stdin;
        if (!f) { berry_tokenizer_free(t); return berry_cli_error("cannot open '%s'", file); }
        text = read_all(f, &len);
        if (file) fclose(f);
        if (!text) { berry_tokenizer_free(t); return berry_cli_error("cannot read %s", file ? file : "standard input"); }
    }
    const char *src = prompt ? prompt : text;
    if (chat) {
        char *user = malloc(len + 1);
        if (user) { memcpy(user, src, len); user[len] = 0; }
        berry_chat_msg m = {"user", user};
        char *rendered = user ? berry_chat_render(t, chat_template, &m, 1, true) : NULL;
        free(user);
        free(text);
        if (!rendered) {
            berry_tokenizer_free(t);
            return berry_cli_error("unknown chat template '%s' (berry knows chatml, qwen3, llama3, gemma)", chat_template ? chat_template : "");
        }
        text = rendered;
        src = text;
        len = strlen(text);
    }
    int64_t n = berry_tokenize(t, src, len, bos, special, NULL, 0, err, sizeof err);
    int32_t *ids = n >= 0 ? malloc((size_t)(n ? n : 1) * sizeof *ids) : NULL;
    if (n < 0 || !ids || berry_tokenize(t, src, len, bos, special, ids, n, err, sizeof err) != n) {
        free(ids); free(text); berry_tokenizer_free(t);
        return berry_cli_error("%s", n < 0 ? err : "out of memory");
    }
    if (ids_only) {
        putchar('[');
        for (int64_t i = 0; i < n; i++) printf(i ? ", %d" : "%d", ids[i]);
        printf("]\n");
    } else {
        char piece[1024];
        for (int64_t i = 0; i < n; i++) {
            size_t pl = berry_token_bytes(t, ids[i], piece, sizeof piece);
            if (pl > sizeof piece) pl = sizeof piece;
            printf("%6d -> '", ids[i]);
            fwrite(piece, 1, pl, stdout);
            printf("'\n");
        }
    }
    free(ids); free(text);
    berry_tokenizer_free(t);
    return 0;
}

BERRY_COMMAND("tokenize", "print the tokens of a text with a model's tokenizer", cmd_tokenize)
