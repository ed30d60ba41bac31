// cmd_solve.c — `berry solve`: one problem through a search method (SR-MCTS by default) and the answer
// on stdout; --tree draws the tree, --json FILE writes the whole run.
#include "base/json.h"
#include "cli/cli.h"
#include "data/eval.h"
#include "model/model.h"
#include "lm/lm_local.h"
#include "search/flags.h"
#include "search/search.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

// The embedded model, BERRY_EMBEDDED_MODEL_FILE in berry_cli_models_dir() (cli.h). It is trained by berry
// on its synthetic curriculum and uses the embedded role formats; its PPRM (BERRY_EMBEDDED_PRM_FILE) judges
// its comparisons unless --prm names another.

static void usage(void) {
    printf("usage: berry solve [-m MODEL.gguf] [--method M] [--rollouts N] [options] \"problem\"\n\n"
           "Solves the problem with a test-time search method and prints the final answer (or \"no answer\")\n"
           "as the last line of stdout. Without -m it uses the embedded model, %s in the models folder\n"
           "of the checkout berry was built in (or $BERRY_MODEL_DIR), whose comparisons its own PPRM, %s\n"
           "there, judges unless --prm names another model.\n\n"
           "  -m, --model FILE      policy model (GGUF)\n"
           "      --method M        sr-mcts (default), mctsr, greedy, sc (majority vote), bon (best-of-k by the\n"
           "                        PPRM through EBC), refine (iterative self-refine)\n"
           "  -f, --file FILE       read the problem from FILE\n"
           "      --batch B         the same as --expand-batch\n"
           "      --temp T          sampling temperature of every role (default 0.7; greedy uses 0)\n"
           "      --top-k K, --top-p P, --min-p P   sampling filters (defaults 40, 0.95, 0.05)\n"
           "  -n, --n-predict N     tokens per generation at most (default 512; self-evaluations 256)\n"
           "  -s, --seed N          random seed (default 0): the same seed gives the same run\n"
           "      --prompts P       embedded, instruct, or a FILE of instruct templates (default: embedded for\n"
           "                        models whose general.name starts with berry-tiny, instruct otherwise)\n"
           "      --extract E       marked (\\boxed, \"the answer is\"; default) or last-number\n"
           "  -t, --threads N       threads (default: all CPUs)\n"
           "  -c, --ctx-size N      positions per sequence (default: the model's, at most 4096)\n"
           "      --tree            draw the tree (id, visits N, Q, answer; the chosen path starred)\n"
           "      --json FILE       write the whole tree and the counters as JSON\n"
           "  -q, --quiet           no statistics on stderr\n\n"
           "Search constants (the same flags as berry eval):\n%s", BERRY_EMBEDDED_MODEL_FILE, BERRY_EMBEDDED_PRM_FILE, berry_search_flags_help);
}

static char *read_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 4096, len = 0, r;
    char *buf = malloc(cap);
    while (buf && (r = fread(buf + len, 1, cap - len - 1, f)) > 0) {
        len += r;
        if (cap - len < 2) {
            char *b = cap < ((size_t)1 << 30) ? realloc(buf, cap * 2) : NULL;
            if (!b) { free(buf); buf = NULL; break; }
            buf = b;
            cap *= 2;
        }
    }
    fclose(f);
    if (buf) buf[len] = 0;
    return buf;
}

// The prompt set a model speaks by default, by the same rule as berry eval: the embedded roles for a
// berry-tiny model (general.name), instruct templates otherwise.
static berry_prompts_kind prompts_for(berry_lm *lm) {
    const char *name = NULL;
    berry_gguf_get_str(berry_model_gguf(berry_lm_local_model(lm)), "general.name", &name, NULL);
    return berry_eval_prompts_for(name);
}

static int cmd_solve(int argc, char **argv) {
    const char *model = NULL, *problem = NULL, *file = NULL, *prompts_arg = NULL, *json_path = NULL;
    int tree = 0, quiet = 0;
    long threads = 0, ctx = 0;
    berry_search_method method = BERRY_SEARCH_SR_MCTS;
    for (int i = 1; i < argc; i++)  // the method's defaults first, so that later flags override them
        if (!strcmp(argv[i], "--method") && i + 1 < argc) {
            int m = berry_search_method_parse(argv[i + 1]);
            if (m < 0) return berry_cli_error("solve: unknown method '%s' (sr-mcts, mctsr, greedy, sc, bon, refine)", argv[i + 1]);
            method = (berry_search_method)m;
        }
    berry_search_flags so;
    berry_search_flags_init(&so, method);
    so.batch_flag = true;
    double temp = -1;
    char err[512];
    for (int i = 1; i < argc; i++) {
        int r = berry_search_flag(&so, argc, argv, &i, err, sizeof err);
        if (r < 0) return berry_cli_error("solve: %s", err);
        if (r > 0) continue;
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        long l;
        double d;
#define FLAG(s) (!strcmp(a, s))
#define NEED() do { if (!v) return berry_cli_error("solve: %s needs a value", a); i++; } while (0)
#define INT(lo, hi, dst) do { NEED(); if (!berry_cli_int(a, v, lo, hi, &l)) return 1; dst = l; } while (0)
#define DBL(lo, hi, dst) do { NEED(); if (!berry_cli_float(a, v, lo, hi, &d)) return 1; dst = d; } while (0)
        if (FLAG("-h") || FLAG("--help")) { usage(); return 0; }
        else if (FLAG("-m") || FLAG("--model")) { NEED(); model = v; }
        else if (FLAG("--method")) NEED();
        else if (FLAG("-f") || FLAG("--file")) { NEED(); file = v; }
        else if (FLAG("--temp")) DBL(0, 100, temp);
        else if (FLAG("--top-k")) { INT(0, 1 << 30, so.sp.solve.top_k); so.sp.critique.top_k = so.sp.rewrite.top_k = so.sp.eval.top_k = so.sp.solve.top_k; }
        else if (FLAG("--top-p")) { DBL(0, 1, so.sp.solve.top_p); so.sp.critique.top_p = so.sp.rewrite.top_p = so.sp.eval.top_p = so.sp.solve.top_p; }
        else if (FLAG("--min-p")) { DBL(0, 1, so.sp.solve.min_p); so.sp.critique.min_p = so.sp.rewrite.min_p = so.sp.eval.min_p = so.sp.solve.min_p; }
        else if (FLAG("-n") || FLAG("--n-predict")) { INT(1, 1 << 20, so.sp.solve.max_tokens); so.sp.critique.max_tokens = so.sp.rewrite.max_tokens = so.sp.eval.max_tokens = so.sp.solve.max_tokens; }
        else if (FLAG("-s") || FLAG("--seed")) INT(0, 0x7fffffffffffffffL, so.sp.seed);
        else if (FLAG("--prompts")) { NEED(); prompts_arg = v; }
        else if (FLAG("--extract")) {
            NEED();
            if (!strcmp(v, "marked")) so.sp.extract = BERRY_EXTRACT_MARKED;
            else if (!strcmp(v, "last-number")) so.sp.extract = BERRY_EXTRACT_LAST_NUMBER;
            else return berry_cli_error("solve: --extract expects marked or last-number");
        } else if (FLAG("-t") || FLAG("--threads")) INT(1, 1024, threads);
        else if (FLAG("-c") || FLAG("--ctx-size")) INT(1, 1 << 20, ctx);
        else if (FLAG("--tree")) tree = 1;
        else if (FLAG("--json")) { NEED(); json_path = v; }
        else if (FLAG("-q") || FLAG("--quiet")) quiet = 1;
        else if (a[0] == '-' && a[1]) return berry_cli_error("solve: unknown argument '%s' (see berry solve --help)", a);
        else if (problem) return berry_cli_error("solve: give the problem as one argument (quote it)");
        else problem = a;
#undef FLAG
#undef NEED
#undef INT
#undef DBL
    }
    if (temp >= 0) berry_search_flags_temperature(&so, temp);
    if (method == BERRY_SEARCH_GREEDY) so.sp.solve.temperature = 0;
    berry_search_flags_finish(&so);
    const berry_search_params *spc = &so.sp;
    const char *prm_path = so.prm_path;
    if (!problem == !file) return berry_cli_error("solve: give exactly one problem (an argument or -f FILE)");
    char *file_text = NULL;
    if (file) {
        if (!(file_text = read_file(file))) return berry_cli_error("solve: cannot read '%s'", file);
        problem = file_text;
    }
    const char *q = problem;
    while (*q == ' ' || *q == '\t' || *q == '\n' || *q == '\r') q++;
    if (!*q) { free(file_text); return berry_cli_error("solve: the problem is empty"); }
    char model_buf[4096];
    bool embedded = model == NULL;
    if (!model) {
        snprintf(model_buf, sizeof model_buf, "%s/%s", berry_cli_models_dir(), BERRY_EMBEDDED_MODEL_FILE);
        model = model_buf;
        if (access(model, R_OK) != 0) {
            free(file_text);
            return berry_cli_error("solve: the embedded model %s is missing (`make model` trains it; "
                                   "BERRY_MODEL_DIR names another folder); pass a model with -m MODEL.gguf", model);
        }
    }
    char prm_buf[4096];
    if (!prm_path) prm_path = berry_cli_embedded_prm(embedded ? NULL : model, prm_buf, sizeof prm_buf);
    berry_lm_local_params lp = {.model_path = model, .n_threads = (int)threads, .n_ctx = (int)ctx,
                                .no_prefix_cache = so.no_prefix_cache, .kv_page_tokens = so.kv_page};
    berry_lm *lm = berry_lm_local_open(&lp, err, sizeof err), *prm = NULL;
    if (!lm) { free(file_text); return berry_cli_error("%s: %s", model, err); }
    if (prm_path) {
        lp.model_path = prm_path;
        if (!(prm = berry_lm_local_open(&lp, err, sizeof err))) {
            berry_lm_free(lm);
            free(file_text);
            return berry_cli_error("%s: %s", prm_path, err);
        }
    }
    berry_prompts pp;
    berry_prompts_kind kind = prompts_for(lm);
    if (prompts_arg && !strcmp(prompts_arg, "embedded")) kind = BERRY_PROMPTS_EMBEDDED;
    else if (prompts_arg) kind = BERRY_PROMPTS_INSTRUCT;
    if (berry_prompts_init(&pp, kind, err, sizeof err) != BERRY_OK) {
        berry_lm_free(prm);
        berry_lm_free(lm);
        free(file_text);
        return berry_cli_error("solve: %s", err);
    }
    if (prompts_arg && strcmp(prompts_arg, "embedded") && strcmp(prompts_arg, "instruct")) {
        char *t = read_file(prompts_arg);
        berry_status s = t ? berry_prompts_load(&pp, t, strlen(t), err, sizeof err) : BERRY_EIO;
        free(t);
        if (s != BERRY_OK) {
            berry_prompts_free(&pp);
            berry_lm_free(prm);
            berry_lm_free(lm);
            free(file_text);
            return s == BERRY_EIO ? berry_cli_error("solve: cannot read '%s'", prompts_arg) : berry_cli_error("%s: %s", prompts_arg, err);
        }
    }
    // A separate reward model speaks its own prompt set (as in berry eval): the embedded roles when it
    // is a berry-tiny model, instruct templates otherwise.
    berry_prompts jp;
    bool have_jp = false;
    if (prm) {
        berry_prompts_kind jk = prompts_for(prm);
        if (berry_prompts_init(&jp, jk, err, sizeof err) != BERRY_OK) {
            berry_lm_free(prm);
            berry_lm_free(lm);
            berry_prompts_free(&pp);
            free(file_text);
            return berry_cli_error("solve: %s", err);
        }
        have_jp = true;
    }
    berry_search_result r;
    berry_status s = berry_search_solve(lm, prm, &pp, have_jp ? &jp : NULL, problem, spc, &r, err, sizeof err);
    int rc = 0;
    if (s != BERRY_OK) rc = berry_cli_error("solve: %s", err);
    if (json_path && r.tree.n > 0) {
        berry_json_writer w;
        berry_json_writer_init(&w);
        berry_search_result_json(&r, &w);
        FILE *f = w.failed ? NULL : fopen(json_path, "wb");
        if (!f || fwrite(w.data, 1, w.len, f) != w.len || fputc('\n', f) == EOF) rc = berry_cli_error("solve: cannot write '%s'", json_path);
        if (f && fclose(f) != 0 && rc == 0) rc = berry_cli_error("solve: cannot write '%s'", json_path);
        berry_json_writer_free(&w);
    }
    if (tree && r.tree.n > 0) {
        char *d = berry_search_tree_draw(&r, isatty(1));
        if (d) fputs(d, stdout);
        free(d);
    }
    if (s == BERRY_OK) {
        printf("%s\n", r.answer ? r.answer : "no answer");
        if (!quiet) {
            berry_lm_counters c = r.policy;
            c.prompt_tokens += r.prm.prompt_tokens;
            c.prompt_tokens_evaluated += r.prm.prompt_tokens_evaluated;
            c.tokens_generated += r.prm.tokens_generated;
            fprintf(stderr, "%s: %d rollouts, %d nodes, stop: %s%s%s; %lld comparisons; generated %lld tokens; "
                    "prompt %lld tokens (%lld evaluated); %.2f s\n",
                    berry_search_method_name(method), r.rollouts, r.tree.n - 1, berry_search_stop_name(r.stop),
                    r.partial ? ", " : "", r.partial ? r.partial : "", (long long)r.comparisons,
                    (long long)c.tokens_generated, (long long)c.prompt_tokens, (long long)c.prompt_tokens_evaluated, r.seconds);
            fprintf(stderr, "prompt tokens evaluated / submitted by role:");
            for (int k = 0; k < BERRY_ROLE_COUNT; k++)
                if (r.role[k].calls)
                    fprintf(stderr, " %s %lld/%lld", berry_role_name((berry_role)k), (long long)r.role[k].prompt_tokens_evaluated,
                            (long long)r.role[k].prompt_tokens);
            if (r.compare_reversed.calls)
                fprintf(stderr, " (compare with the new solution second %lld/%lld)", (long long)r.compare_reversed.prompt_tokens_evaluated,
                        (long long)r.compare_reversed.prompt_tokens);
            fputc('\n', stderr);
            if (r.comparisons) fprintf(stderr, "judge (compare role): %s\n", prm_path ? prm_path : "the policy model");
        }
    }
    berry_search_result_free(&r);
    if (have_jp) berry_prompts_free(&jp);
    berry_lm_free(prm);
    berry_lm_free(lm);
    berry_prompts_free(&pp);
    free(file_text);
    return rc;
}

BERRY_COMMAND("solve", "solve a problem with test-time search (SR-MCTS, MCTSr, baselines)", cmd_solve)
