// cmd_generate.c — `berry generate`: text in, text out, through the lm interface.
#include "base/clock.h"
#include "cli/cli.h"
#include "lm/lm_local.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(void) {
    printf("usage: berry generate -m MODEL.gguf (-p PROMPT | -f FILE) [options]\n\n"
           "Continues PROMPT with the model and prints the generated text on stdout as it comes.\n\n"
           "  -m, --model FILE     GGUF model\n"
           "      --lora FILE      apply a LoRA adapter (llama.cpp's layout) at run time\n"
           "      --lora-scaled FILE S  the same, its effect scaled by S\n"
           "  -p, --prompt TEXT    prompt text\n"
           "  -f, --file FILE      read the prompt from FILE\n"
           "  -n, --n-predict N    tokens to generate at most (default 256)\n"
           "      --chat           wrap the prompt as a user message in the model's chat template\n"
           "      --system TEXT    system message (with --chat)\n"
           "  -t, --threads N      threads (default: all CPUs)\n"
           "  -c, --ctx-size N     positions per sequence (default: the model's, at most 4096)\n"
           "  -s, --seed N         random seed (default 0)\n"
           "      --temp T         temperature; 0 = greedy (default 0.8)\n"
           "      --top-k K        keep the K most likely tokens; 0 = off (default 40)\n"
           "      --top-p P        keep the smallest set with mass >= P; 1 = off (default 0.95)\n"
           "      --min-p P        keep tokens with p >= P * p_max; 0 = off (default 0.05)\n"
           "      --stop TEXT      stop when TEXT appears (repeatable)\n"
           "      --n-samples K    K independent samples of the same prompt, generated as one batch\n"
           "      --json           print one JSON object per sample instead of streaming text\n"
           "The statistics (tokens, tokens/s) go to stderr.\n");
}

static void stream_text(void *user, int req, const char *bytes, size_t n) {
    (void)user;
    (void)req;
    fwrite(bytes, 1, n, stdout);
    fflush(stdout);
}

static char *read_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    size_t r;
    while (buf && (r = fread(buf + len, 1, cap - len - 1, f)) > 0) {
        len += r;
        if (cap - len < 2) {
            char *b = realloc(buf, cap * 2);
            if (!b) { free(buf); buf = NULL; break; }
            buf = b;
            cap *= 2;
        }
    }
    fclose(f);
    if (buf) buf[len] = 0;
    return buf;
}

static void print_json_string(const char *s, size_t n) {
    putchar('"');
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') printf("\\%c", c);
        else if (c == '\n') printf("\\n");
        else if (c < 0x20) printf("\\u%04x", c);
        else putchar(c);
    }
    putchar('"');
}

static int is_flag(const char *a, const char *s1, const char *s2) { return !strcmp(a, s1) || (s2 && !strcmp(a, s2)); }

static int cmd_generate(int argc, char **argv) {
    const char *model = NULL, *prompt = NULL, *file = NULL, *system = NULL, *lora = NULL;
    double lora_scale = 1.0;
    const char *stops[16];
    int n_stop = 0, chat = 0, json = 0;
    long n_predict = 256, threads = 0, ctx = 0, seed = 0, top_k = 40, n_samples = 1;
    double temp = 0.8, top_p = 0.95, min_p = 0.05;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define FLAG(s1, s2) is_flag(a, s1, s2)
#define NEED() do { if (!v) return berry_cli_error("generate: %s needs a value", a); i++; } while (0)
        if (FLAG("-h", "--help")) { usage(); return 0; }
        else if (FLAG("-m", "--model")) { NEED(); model = v; }
        else if (FLAG("--lora", NULL)) { NEED(); lora = v; }
        else if (FLAG("--lora-scaled", NULL)) {
            NEED();
            if (i + 1 >= argc) return berry_cli_error("generate: --lora-scaled needs FILE and SCALE");
            lora = v;
            if (!berry_cli_float(a, argv[++i], -100, 100, &lora_scale)) return 1;
        }
        else if (FLAG("-p", "--prompt")) { NEED(); prompt = v; }
        else if (FLAG("-f", "--file")) { NEED(); file = v; }
        else if (FLAG("--system", NULL)) { NEED(); system = v; }
        else if (FLAG("--chat", NULL)) chat = 1;
        else if (FLAG("--json", NULL)) json = 1;
        else if (FLAG("-n", "--n-predict")) { NEED(); if (!berry_cli_int(a, v, 0, 1 << 20, &n_predict)) return 1; }
        else if (FLAG("-t", "--threads")) { NEED(); if (!berry_cli_int(a, v, 1, 1024, &threads)) return 1; }
        else if (FLAG("-c", "--ctx-size")) { NEED(); if (!berry_cli_int(a, v, 1, 1 << 20, &ctx)) return 1; }
        else if (FLAG("-s", "--seed")) { NEED(); if (!berry_cli_int(a, v, 0, 0x7fffffffffffffffL, &seed)) return 1; }
        else if (FLAG("--temp", NULL)) { NEED(); if (!berry_cli_float(a, v, 0, 100, &temp)) return 1; }
        else if (FLAG("--top-k", NULL)) { NEED(); if (!berry_cli_int(a, v, 0, 1 << 30, &top_k)) return 1; }
        else if (FLAG("--top-p", NULL)) { NEED(); if (!berry_cli_float(a, v, 0, 1, &top_p)) return 1; }
        else if (FLAG("--min-p", NULL)) { NEED(); if (!berry_cli_float(a, v, 0, 1, &min_p)) return 1; }
        else if (FLAG("--n-samples", NULL)) { NEED(); if (!berry_cli_int(a, v, 1, 256, &n_samples)) return 1; }
        else if (FLAG("--stop", NULL)) {
            NEED();
            if (n_stop == 16) return berry_cli_error("generate: at most 16 --stop strings");
            stops[n_stop++] = v;
        } else return berry_cli_error("generate: unknown argument '%s' (see berry generate --help)", a);
#undef FLAG
#undef NEED
    }
    if (!model) return berry_cli_error("generate: no model (-m MODEL.gguf)");
    if (!prompt == !file) return berry_cli_error("generate: give exactly one of -p PROMPT and -f FILE");
    char *file_text = NULL;
    if (file) {
        file_text = read_file(file);
        if (!file_text) return berry_cli_error("generate: cannot read '%s'", file);
        prompt = file_text;
    }
    char err[512];
    berry_lm_local_params lp = {.model_path = model, .n_threads = (int)threads, .n_ctx = (int)ctx, .lora_path = lora,
                                .lora_scale = (float)lora_scale};
    berry_lm *lm = berry_lm_local_open(&lp, err, sizeof err);
    if (!lm) { free(file_text); return berry_cli_error("%s: %s", model, err); }
    char *chat_text = NULL;
    if (chat) {
        berry_chat_msg msgs[2];
        int nm = 0;
        if (system) msgs[nm++] = (berry_chat_msg){"system", system};
        msgs[nm++] = (berry_chat_msg){"user", prompt};
        chat_text = berry_lm_chat(lm, msgs, nm, true);
        if (!chat_text) { berry_lm_free(lm); free(file_text); return berry_cli_error("generate: the chat template failed"); }
        prompt = chat_text;
    }
    berry_lm_request *reqs = calloc((size_t)n_samples, sizeof *reqs);
    berry_lm_output *outs = calloc((size_t)n_samples, sizeof *outs);
    if (!reqs || !outs) return berry_cli_error("generate: out of memory");
    for (int i = 0; i < n_samples; i++) {
        reqs[i].prompt = prompt;
        reqs[i].sampling = (berry_sampling){.temperature = (float)temp, .top_k = (int)top_k, .top_p = (float)top_p,
                                            .min_p = (float)min_p, .seed = (uint64_t)seed, .max_tokens = (int)n_predict,
                                            .stop = stops, .n_stop = n_stop, .stream = (uint64_t)i};
        if (!json && n_samples == 1) reqs[i].stream = stream_text;
    }
    if (!json && n_samples == 1 && !chat) fputs(prompt, stdout);
    double t0 = berry_now();
    berry_status s = berry_lm_generate(lm, reqs, (int)n_samples, outs, err, sizeof err);
    double dt = berry_now() - t0;
    int rc = 0;
    if (s != BERRY_OK) rc = berry_cli_error("generate: %s", err);
    else {
        static const char *finish[] = {"stop", "eos", "length", "context"};
        for (int i = 0; i < n_samples; i++) {
            if (json) {
                printf("{\"sample\":%d,\"text\":", i);
                print_json_string(outs[i].text, outs[i].len);
                printf(",\"tokens\":%d,\"logprob\":%.6f,\"finish\":\"%s\"}\n", outs[i].n_tokens, outs[i].logprob,
                       finish[outs[i].finish]);
            } else if (n_samples > 1) {
                printf("--- sample %d (%s)\n%s\n", i, finish[outs[i].finish], outs[i].text);
            } else {
                putchar('\n');
            }
        }
        const berry_lm_counters *c = &lm->counters;
        fprintf(stderr, "prompt: %lld tokens (%lld evaluated); generated: %lld tokens in %.2f s (%.2f tok/s)\n",
                (long long)c->prompt_tokens, (long long)c->prompt_tokens_evaluated, (long long)c->tokens_generated, dt,
                dt > 0 ? c->tokens_generated / dt : 0.0);
    }
    for (int i = 0; i < n_samples; i++) berry_lm_output_clear(&outs[i]);
    free(reqs);
    free(outs);
    free(chat_text);
    free(file_text);
    berry_lm_free(lm);
    return rc;
}

BERRY_COMMAND("generate", "continue a prompt with a model", cmd_generate)
