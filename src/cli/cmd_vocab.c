// cmd_vocab.c — `berry vocab train`: learn a byte-level BPE vocabulary from text files and write it
// as a vocab-only GGUF that berry and llama.cpp load (tokenizer.ggml.model "gpt2", pre "llama-bpe" or
// "qwen2").
#include "cli/cli.h"
#include "text/bpe_train.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f) {
    fprintf(f, "usage: berry vocab train -o OUT.gguf [--vocab-size N] [--min-frequency N] [--pre NAME] FILE...\n\n"
               "Learns a byte-level BPE vocabulary of N tokens (default 4096: 256 bytes, the merges, and\n"
               "the special tokens <|begin_of_text|> <|end_of_text|> <|start_header_id|> <|end_header_id|>\n"
               "<|eot_id|>) from the text FILEs, pre-tokenized as Llama 3 does (--pre llama-bpe, the default:\n"
               "numbers in groups of up to 3 digits) or as Qwen2 does (--pre qwen2: one token per digit).\n");
}

static int cmd_vocab(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) { usage(argc < 2 ? stderr : stdout); return argc < 2 ? 2 : 0; }
    if (strcmp(argv[1], "train") != 0) return berry_cli_error("unknown vocab command '%s' (try: berry vocab train)", argv[1]);
    const char *out = NULL, *pre = NULL;
    long vocab = 4096, minf = 2;
    const char **files = calloc((size_t)argc, sizeof *files);
    int nf = 0;
    if (!files) return berry_cli_error("out of memory");
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { usage(stdout); free(files); return 0; }
        else if (!strcmp(a, "-o") && i + 1 < argc) out = argv[++i];
        else if (!strcmp(a, "--vocab-size") && i + 1 < argc) { if (!berry_cli_int(a, argv[++i], 261, 1 << 24, &vocab)) { free(files); return 1; } }
        else if (!strcmp(a, "--min-frequency") && i + 1 < argc) { if (!berry_cli_int(a, argv[++i], 1, 1L << 40, &minf)) { free(files); return 1; } }
        else if (!strcmp(a, "--pre") && i + 1 < argc) pre = argv[++i];
        else if (a[0] == '-' && a[1]) { usage(stderr); free(files); return berry_cli_error("unknown or incomplete argument '%s'", a); }
        else files[nf++] = a;
    }
    if (!out || nf == 0) { usage(stderr); free(files); return berry_cli_error("vocab train needs -o OUT.gguf and at least one FILE"); }
    berry_bpe_options o = {.vocab_size = (int32_t)vocab, .min_frequency = minf, .pre = pre};
    char err[512];
    berry_status st = berry_bpe_train_files(files, nf, &o, out, err, sizeof err);
    free(files);
    if (st != BERRY_OK) return berry_cli_error("%s", err);
    fprintf(stderr, "berry: wrote %s\n", out);
    return 0;
}

BERRY_COMMAND("vocab", "train a byte-level BPE vocabulary (berry vocab train)", cmd_vocab)
