// cmd_perplexity.c — `berry perplexity -m MODEL -f TEXT -c N`, with llama.cpp's perplexity tool's
// convention so that numbers compare across tools: the text is tokenized once (with BOS when the
// model adds one), cut into chunks of N tokens, each chunk is evaluated from scratch with its first
// token replaced by BOS, and only the second half of each chunk is scored (every scored token has at
// least N/2 tokens of context). PPL = exp(mean negative log-likelihood) over all scored tokens.
#include "base/clock.h"
#include "cli/cli.h"
#include "lm/lm_local.h"
#include "model/forward.h"
#include "text/sampler.h"
#include "text/tokenizer.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmd_perplexity(int argc, char **argv) {
    const char *model = NULL, *file = NULL;
    long ctx = 512, threads = 0, max_chunks = 0, batch = 512;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            printf("usage: berry perplexity -m MODEL.gguf -f TEXT [-c N] [-t N] [--chunks K]\n\n"
                   "Perplexity with llama.cpp's convention: chunks of N tokens (default 512), each evaluated\n"
                   "from scratch with BOS first when the model uses one, the second half of each chunk scored.\n"
                   "Prints the running perplexity per chunk on stderr and the final estimate on stdout.\n"
                   "  -b N          tokens per forward call (default 512)\n"
                   "  --chunks K    stop after K chunks (default: all)\n");
            return 0;
        }
        if (!v) return berry_cli_error("perplexity: %s needs a value", a);
        i++;
        if (!strcmp(a, "-m") || !strcmp(a, "--model")) model = v;
        else if (!strcmp(a, "-f") || !strcmp(a, "--file")) file = v;
        else if (!strcmp(a, "-c") || !strcmp(a, "--ctx-size")) { if (!berry_cli_int(a, v, 4, 1 << 20, &ctx)) return 1; }
        else if (!strcmp(a, "-t") || !strcmp(a, "--threads")) { if (!berry_cli_int(a, v, 1, 1024, &threads)) return 1; }
        else if (!strcmp(a, "-b") || !strcmp(a, "--batch-size")) { if (!berry_cli_int(a, v, 1, 1 << 16, &batch)) return 1; }
        else if (!strcmp(a, "--chunks")) { if (!berry_cli_int(a, v, 1, 1 << 30, &max_chunks)) return 1; }
        else return berry_cli_error("perplexity: unknown argument '%s' (see berry perplexity --help)", a);
    }
    if (!model || !file) return berry_cli_error("perplexity: needs -m MODEL.gguf and -f TEXT");
    FILE *f = fopen(file, "rb");
    if (!f) return berry_cli_error("perplexity: cannot read '%s'", file);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *text = malloc((size_t)(size > 0 ? size : 0) + 1);
    if (!text || fread(text, 1, (size_t)size, f) != (size_t)size) { fclose(f); free(text); return berry_cli_error("perplexity: cannot read '%s'", file); }
    fclose(f);
    text[size] = 0;

    char err[512];
    berry_lm_local_params lp = {.model_path = model, .n_threads = (int)threads, .n_ctx = (int)ctx,
                                .max_batch = (int)(batch < ctx ? batch : ctx), .no_prefix_cache = true};
    berry_lm *lm = berry_lm_local_open(&lp, err, sizeof err);
    if (!lm) { free(text); return berry_cli_error("%s: %s", model, err); }
    const berry_tokenizer *tok = berry_lm_local_tokenizer(lm);
    berry_ctx *c = berry_lm_local_ctx(lm);
    berry_kv *kv = berry_ctx_kv(c);
    int n_vocab = berry_tokenizer_n_vocab(tok);
    int mb = berry_ctx_max_batch(c);
    bool add_bos = berry_tokenizer_adds_bos(tok);
    int64_t cap = size + 16;
    int32_t *toks = malloc((size_t)cap * sizeof *toks);
    int64_t nt = toks ? berry_tokenize(tok, text, (size_t)size, add_bos, false, toks, cap, err, sizeof err) : -1;
    free(text);
    int rc = 0;
    int64_t n_chunks = nt > 0 ? nt / ctx : 0;
    if (max_chunks && n_chunks > max_chunks) n_chunks = max_chunks;
    if (nt < 0) rc = berry_cli_error("perplexity: %s", err);
    else if (n_chunks == 0) rc = berry_cli_error("perplexity: the text has %lld tokens, fewer than one chunk of %ld", (long long)nt, ctx);
    float *logits = malloc((size_t)mb * (size_t)n_vocab * sizeof(float));
    float *lp_row = malloc((size_t)mb * sizeof(float));
    int32_t *seqs = malloc((size_t)mb * sizeof(int32_t));
    int32_t *chunk = malloc((size_t)ctx * sizeof(int32_t));
    if (!rc && (!logits || !lp_row || !seqs || !chunk)) rc = berry_cli_error("perplexity: out of memory");
    double nll = 0;
    int64_t scored = 0;
    int first = (int)(ctx / 2);
    double t0 = berry_now();
    fprintf(stderr, "perplexity: %lld tokens, %lld chunks of %ld\n", (long long)nt, (long long)n_chunks, ctx);
    for (int64_t ci = 0; !rc && ci < n_chunks; ci++) {
        memcpy(chunk, toks + ci * ctx, (size_t)ctx * sizeof(int32_t));
        if (add_bos && berry_tokenizer_bos(tok) >= 0) chunk[0] = berry_tokenizer_bos(tok);
        int seq = berry_kv_seq_new(kv);
        for (int p0 = 0; !rc && p0 < ctx; p0 += mb) {
            int cnt = (int)(ctx - p0 < mb ? ctx - p0 : mb);
            for (int j = 0; j < cnt; j++) seqs[j] = seq;
            berry_batch b = {.n = cnt, .token = chunk + p0, .seq = seqs};
            if (berry_forward(c, &b, logits, err, sizeof err) != BERRY_OK) { rc = berry_cli_error("perplexity: %s", err); break; }
            // Logits at position p predict token p + 1; score the predictions of tokens first+1 .. ctx-1
            // from positions first .. ctx-2, as llama.cpp does.
            int lo = p0 > first ? p0 : first, hi = p0 + cnt < (int)ctx - 1 ? p0 + cnt : (int)ctx - 1;
            if (lo < hi) {
                berry_sampler_logprobs_rows(logits + (size_t)(lo - p0) * n_vocab, hi - lo, n_vocab, chunk + lo + 1, lp_row,
                                            err, sizeof err);
                for (int j = 0; j < hi - lo; j++) nll -= lp_row[j];
                scored += hi - lo;
            }
        }
        berry_kv_seq_free(kv, seq);
        if (!rc) fprintf(stderr, "[%lld] %.4f  (%.1f tok/s)\n", (long long)ci + 1, exp(nll / (double)scored),
                         (double)(ci + 1) * ctx / (berry_now() - t0));
    }
    if (!rc) printf("perplexity: %.4f over %lld scored tokens (%lld chunks of %ld)\n", exp(nll / (double)scored),
                    (long long)scored, (long long)n_chunks, ctx);
    free(toks);
    free(logits);
    free(lp_row);
    free(seqs);
    free(chunk);
    berry_lm_free(lm);
    return rc;
}

BERRY_COMMAND("perplexity", "perplexity of a model on a text file (llama.cpp's convention)", cmd_perplexity)
