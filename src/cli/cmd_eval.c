// cmd_eval.c — `berry eval`: evaluates a model on a benchmark file with one of the methods of
// src/data/eval_methods.c, writing resumable per-problem records; `berry eval report` compares results.
#include "base/clock.h"
#include "base/log.h"
#include "cli/cli.h"
#include "data/eval.h"
#include "lm/lm_local.h"
#include "model/model.h"
#include "search/flags.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(void) {
    printf("usage: berry eval -m MODEL.gguf --data FILE.jsonl -o RESULTS.jsonl [options]\n"
           "       berry eval report RESULTS.jsonl... [--svg PLOT.svg] [--title TEXT] [--json]\n\n"
           "Answers every problem of FILE (GSM8K, MATH-500, AIME 2024, AMC 2023, OlympiadBench, GSM-Hard or\n"
           "{\"problem\",\"answer\"} JSONL, detected), grades the answers and appends one record per problem to\n"
           "RESULTS. A rerun skips the problems already there, so a killed run resumes where it stopped.\n"
           "The summary goes to stdout; pass@k is an ORACLE (it looks at the reference of every sample).\n\n"
           "  -m, --model FILE     GGUF model (default: the embedded model, models/berry-tiny.gguf of the checkout\n"
           "                       berry was built in, or $BERRY_MODEL_DIR/berry-tiny.gguf)\n"
           "      --lora FILE      apply a LoRA adapter at run time\n"
           "      --data FILE      benchmark JSONL\n"
           "  -o, --output FILE    results JSONL (appended to; resumed)\n"
           "      --method NAME    how problems are answered (default greedy):\n");
    int n;
    const berry_eval_method *m = berry_eval_methods(&n);
    for (int i = 0; i < n; i++) printf("                         %-8s %s\n", m[i].name, m[i].help);
    printf("  -k N                 budget: samples or rollouts (default: 1 for sample, the search's --rollouts,\n"
           "                       8, for sc, bon, mctsr, sr-mcts and refine; greedy ignores it)\n"
           "      --limit N        evaluate N problems at most (default: all)\n"
           "      --offset N       start at problem N (0-based, default 0)\n"
           "      --batch N        problems whose requests share one generate call (default 4; search methods\n"
           "                       take one problem at a time: their batch is --expand-batch). A kill loses at\n"
           "                       most the batch in flight.\n"
           "      --prompt SET     instruct | embedded | FILE of templates (src/search/prompts.h format);\n"
           "                       default: embedded for the embedded model, instruct otherwise\n"
           "  -t, --threads N      threads (default: all CPUs)\n"
           "  -c, --ctx-size N     positions per sequence (default: the model's, at most 4096)\n"
           "  -n, --n-predict N    tokens per generation at most (default 1024; search methods: 512, and 256 for\n"
           "                       self-evaluations, unless given)\n"
           "  -s, --seed N         random seed (default 0)\n"
           "      --temp T         temperature of -m sample (default 0.8); with a search method, overrides its own\n"
           "      --top-k K        (default 40)   --top-p P (default 0.95)   --min-p P (default 0.05)\n"
           "      --stop TEXT      also stop generations at TEXT (repeatable)\n"
           "      --json           print the summary as one JSON object\n"
           "  -q, --quiet          no progress bar\n\n"
           "Search constants of sc, bon, mctsr, sr-mcts and refine (the flags of berry solve; --rollouts is -k):\n%s",
           berry_search_flags_help);
}

static int is_flag(const char *a, const char *s1, const char *s2) { return !strcmp(a, s1) || (s2 && !strcmp(a, s2)); }

static char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 4096, n = 0, r;
    char *buf = malloc(cap);
    while (buf && (r = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += r;
        if (cap - n < 2) {
            char *b = realloc(buf, cap * 2);
            if (!b) { free(buf); buf = NULL; break; }
            buf = b;
            cap *= 2;
        }
    }
    fclose(f);
    if (buf) buf[n] = 0;
    if (len) *len = n;
    return buf;
}

// The last path component, for records and the report ("gsm8k/test.jsonl" keeps its folder: the
// benchmark is the folder's name).
static const char *short_name(const char *path) {
    const char *s = path, *last = NULL, *prev = NULL;
    for (const char *p = path; *p; p++)
        if (*p == '/') { prev = last; last = p; }
    if (prev) s = prev + 1;
    else if (last && !strncmp(path, "./", 2)) s = last + 1;
    return s;
}

typedef struct {
    berry_progress bar;
    bool quiet;
} progress_ctx;

static void on_record(void *user, const berry_result *r, const berry_eval_progress *p) {
    (void)r;
    progress_ctx *c = user;
    if (c->quiet) return;
    char suffix[96];
    snprintf(suffix, sizeof suffix, "acc %.1f%% (%ld/%ld)", p->done ? 100.0 * p->correct / p->done : 0.0, p->correct,
             p->done);
    berry_progress_update(&c->bar, p->done, suffix);
}

static int cmd_report(int argc, char **argv) {
    const char *svg = NULL, *title = NULL;
    bool json = false;
    const char **files = calloc((size_t)argc, sizeof *files);
    int n_files = 0;
    if (!files) return berry_cli_error("out of memory");
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (is_flag(a, "-h", "--help")) { usage(); free(files); return 0; }
        else if (is_flag(a, "--svg", NULL) && i + 1 < argc) svg = argv[++i];
        else if (is_flag(a, "--title", NULL) && i + 1 < argc) title = argv[++i];
        else if (is_flag(a, "--json", NULL)) json = true;
        else if (a[0] == '-' && a[1]) { free(files); return berry_cli_error("eval report: unknown argument '%s'", a); }
        else files[n_files++] = a;
    }
    if (!n_files) { free(files); return berry_cli_error("eval report: no results files"); }
    berry_eval_summary *sum = calloc((size_t)n_files, sizeof *sum);
    berry_result **recs = calloc((size_t)n_files, sizeof *recs);
    size_t *nrec = calloc((size_t)n_files, sizeof *nrec);
    int rc = 0;
    char err[512];
    if (!sum || !recs || !nrec) rc = berry_cli_error("out of memory");
    for (int i = 0; i < n_files && !rc; i++) {
        if (berry_results_load(files[i], &recs[i], &nrec[i], NULL, err, sizeof err) != BERRY_OK)
            rc = berry_cli_error("%s", err);
        else if (!nrec[i]) rc = berry_cli_error("%s: no records", files[i]);
        else berry_eval_summarize(recs[i], nrec[i], &sum[i]);
    }
    if (!rc) {
        if (json) {
            putchar('[');
            for (int i = 0; i < n_files; i++) {
                char *t = berry_eval_summary_text(&sum[i], true);
                printf("%s%s", i ? "," : "", t ? t : "null");
                free(t);
            }
            puts("]");
        } else {
            char *t = berry_eval_report_table(sum, n_files);
            if (!t) rc = berry_cli_error("out of memory");
            else fputs(t, stdout);
            free(t);
        }
        // A plot needs something to compare: several methods or budgets.
        bool several = false;
        for (int i = 1; i < n_files; i++)
            several |= sum[i].budget != sum[0].budget || strcmp(sum[i].method ? sum[i].method : "", sum[0].method ? sum[0].method : "");
        if (!rc && (several || svg)) {
            char path[4096];
            if (svg) snprintf(path, sizeof path, "%s", svg);
            else {
                const char *slash = strrchr(files[0], '/');
                snprintf(path, sizeof path, "%.*sreport.svg", slash ? (int)(slash - files[0] + 1) : 0, files[0]);
            }
            char *plot = berry_eval_report_svg(sum, n_files, title);
            FILE *f = plot ? fopen(path, "wb") : NULL;
            if (!plot) rc = berry_cli_error("out of memory");
            else if (!f || fputs(plot, f) == EOF || fclose(f) != 0) rc = berry_cli_error("cannot write %s", path);
            else fprintf(stderr, "plot of accuracy against generated tokens: %s\n", path);
            free(plot);
        }
    }
    for (int i = 0; i < n_files && recs; i++) berry_results_free(recs[i], nrec[i]);
    free(recs);
    free(nrec);
    free(sum);
    free(files);
    return rc;
}

static int cmd_eval(int argc, char **argv) {
    if (argc > 1 && !strcmp(argv[1], "report")) return cmd_report(argc, argv);
    const char *model = NULL, *data = NULL, *out = NULL, *method_name = "greedy", *prompt_set = NULL, *lora = NULL;
    const char *stops[16];
    int n_stop = 0;
    bool json = false, quiet = false, temp_set = false, k_set = false, n_predict_set = false;
    bool top_k_set = false, top_p_set = false, min_p_set = false;
    long k = 1, limit = 0, offset = 0, batch = 4, threads = 0, ctx = 0, n_predict = 1024, seed = 0, top_k = 40;
    double temp = 0.8, top_p = 0.95, min_p = 0.05;
    // The search constants: the flags of berry solve, over the defaults of the method named.
    for (int i = 1; i + 1 < argc; i++)
        if (!strcmp(argv[i], "--method")) method_name = argv[i + 1];
    int search_method = berry_search_method_parse(method_name);
    berry_search_flags so;
    berry_search_flags_init(&so, search_method >= 0 ? (berry_search_method)search_method : BERRY_SEARCH_SR_MCTS);
    char err[512];
    for (int i = 1; i < argc; i++) {
        int r = berry_search_flag(&so, argc, argv, &i, err, sizeof err);
        if (r < 0) return berry_cli_error("eval: %s", err);
        if (r > 0) continue;
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define FLAG(s1, s2) is_flag(a, s1, s2)
#define NEED() do { if (!v) return berry_cli_error("eval: %s needs a value", a); i++; } while (0)
        if (FLAG("-h", "--help")) { usage(); return 0; }
        else if (FLAG("-m", "--model")) { NEED(); model = v; }
        else if (FLAG("--lora", NULL)) { NEED(); lora = v; }
        else if (FLAG("--data", NULL)) { NEED(); data = v; }
        else if (FLAG("-o", "--output")) { NEED(); out = v; }
        else if (FLAG("--method", NULL)) { NEED(); method_name = v; }
        else if (FLAG("--prompt", NULL)) { NEED(); prompt_set = v; }
        else if (FLAG("-k", NULL)) { NEED(); if (!berry_cli_int(a, v, 1, 1 << 16, &k)) return 1; k_set = true; }
        else if (FLAG("--limit", NULL)) { NEED(); if (!berry_cli_int(a, v, 0, 1L << 40, &limit)) return 1; }
        else if (FLAG("--offset", NULL)) { NEED(); if (!berry_cli_int(a, v, 0, 1L << 40, &offset)) return 1; }
        else if (FLAG("--batch", NULL)) { NEED(); if (!berry_cli_int(a, v, 1, 4096, &batch)) return 1; }
        else if (FLAG("-t", "--threads")) { NEED(); if (!berry_cli_int(a, v, 1, 1024, &threads)) return 1; }
        else if (FLAG("-c", "--ctx-size")) { NEED(); if (!berry_cli_int(a, v, 1, 1 << 20, &ctx)) return 1; }
        else if (FLAG("-n", "--n-predict")) { NEED(); if (!berry_cli_int(a, v, 1, 1 << 20, &n_predict)) return 1; n_predict_set = true; }
        else if (FLAG("-s", "--seed")) { NEED(); if (!berry_cli_int(a, v, 0, 0x7fffffffffffffffL, &seed)) return 1; }
        else if (FLAG("--temp", NULL)) { NEED(); if (!berry_cli_float(a, v, 0, 100, &temp)) return 1; temp_set = true; }
        else if (FLAG("--top-k", NULL)) { NEED(); if (!berry_cli_int(a, v, 0, 1 << 30, &top_k)) return 1; top_k_set = true; }
        else if (FLAG("--top-p", NULL)) { NEED(); if (!berry_cli_float(a, v, 0, 1, &top_p)) return 1; top_p_set = true; }
        else if (FLAG("--min-p", NULL)) { NEED(); if (!berry_cli_float(a, v, 0, 1, &min_p)) return 1; min_p_set = true; }
        else if (FLAG("--stop", NULL)) {
            NEED();
            if (n_stop == 16) return berry_cli_error("eval: at most 16 --stop strings");
            stops[n_stop++] = v;
        }
        else if (FLAG("--json", NULL)) json = true;
        else if (FLAG("-q", "--quiet")) quiet = true;
        else return berry_cli_error("eval: unknown argument '%s' (see berry eval --help)", a);
#undef FLAG
#undef NEED
    }
    const berry_eval_method *method = berry_eval_method_find(method_name);
    if (!method) return berry_cli_error("eval: unknown method '%s' (see berry eval --help)", method_name);
    if (so.rollouts_set) {
        if (k_set && k != so.sp.rollouts) return berry_cli_error("eval: -k %ld and --rollouts %d disagree (they are one budget)", k, so.sp.rollouts);
        if (so.sp.rollouts < 1) return berry_cli_error("eval: --rollouts must be at least 1");
        k = so.sp.rollouts;
    } else if (!k_set && search_method >= 0 && search_method != BERRY_SEARCH_GREEDY)
        k = so.sp.rollouts;  // the search's own default, as in solve
    // Sampling flags given to eval reach every role of a search, as --temp, -n, --top-k ... do in solve;
    // the per-role temperatures come last.
    if (temp_set) berry_search_flags_temperature(&so, temp);
    berry_search_sampling *roles[4] = {&so.sp.solve, &so.sp.critique, &so.sp.rewrite, &so.sp.eval};
    for (int r = 0; r < 4; r++) {
        if (top_k_set) roles[r]->top_k = (int)top_k;
        if (top_p_set) roles[r]->top_p = (float)top_p;
        if (min_p_set) roles[r]->min_p = (float)min_p;
    }
    if (n_predict_set) so.sp.solve.max_tokens = so.sp.critique.max_tokens = so.sp.rewrite.max_tokens = so.sp.eval.max_tokens = (int)n_predict;
    berry_search_flags_finish(&so);
    if (!data) return berry_cli_error("eval: no benchmark (--data FILE.jsonl)");
    if (!out) return berry_cli_error("eval: no results file (-o RESULTS.jsonl)");
    char model_buf[4096];
    if (!model) {
        snprintf(model_buf, sizeof model_buf, "%s/berry-tiny.gguf", berry_cli_models_dir());
        model = model_buf;
    }
    berry_dataset *ds = berry_dataset_load(data, err, sizeof err);
    if (!ds) return berry_cli_error("%s", err);
    berry_lm_local_params lp = {.model_path = model, .n_threads = (int)threads, .n_ctx = (int)ctx, .lora_path = lora,
                                .no_prefix_cache = so.no_prefix_cache, .kv_page_tokens = so.kv_page};
    berry_lm *lm = berry_lm_local_open(&lp, err, sizeof err), *prm = NULL;
    if (!lm) { berry_dataset_free(ds); return berry_cli_error("%s: %s", model, err); }
    // The embedded model's comparisons go to its own PPRM (models/berry-tiny-prm.gguf) unless --prm names
    // another (an adapter given with --lora is the policy's, so it keeps the policy's judging).
    char prm_buf[4096];
    if (!so.prm_path && !lora) so.prm_path = berry_cli_embedded_prm(model, prm_buf, sizeof prm_buf);
    if (so.prm_path) {
        lp.model_path = so.prm_path;
        lp.lora_path = NULL;
        if (!(prm = berry_lm_local_open(&lp, err, sizeof err))) {
            berry_lm_free(lm);
            berry_dataset_free(ds);
            return berry_cli_error("%s: %s", so.prm_path, err);
        }
    }
    const char *gname = NULL;
    berry_gguf_get_str(berry_model_gguf(berry_lm_local_model(lm)), "general.name", &gname, NULL);

    // The prompt set: named, from a file, or the model's default.
    berry_prompts prompts;
    berry_prompts_kind kind = berry_eval_prompts_for(gname);
    if (prompt_set && !strcmp(prompt_set, "embedded")) kind = BERRY_PROMPTS_EMBEDDED;
    else if (prompt_set && !strcmp(prompt_set, "instruct")) kind = BERRY_PROMPTS_INSTRUCT;
    int rc = 0;
    if (berry_prompts_init(&prompts, kind, err, sizeof err) != BERRY_OK) rc = berry_cli_error("%s", err);
    else if (prompt_set && strcmp(prompt_set, "embedded") && strcmp(prompt_set, "instruct")) {
        size_t len;
        char *text = read_file(prompt_set, &len);
        if (!text) rc = berry_cli_error("eval: cannot read the prompt file '%s'", prompt_set);
        else if (berry_prompts_load(&prompts, text, len, err, sizeof err) != BERRY_OK) rc = berry_cli_error("%s: %s", prompt_set, err);
        free(text);
    }
    // The reward model speaks its own prompt set (the embedded roles when it is a berry-tiny model).
    berry_prompts prm_prompts;
    bool have_prm_prompts = false;
    if (!rc && prm) {
        const char *pname = NULL;
        berry_gguf_get_str(berry_model_gguf(berry_lm_local_model(prm)), "general.name", &pname, NULL);
        if (berry_prompts_init(&prm_prompts, berry_eval_prompts_for(pname), err, sizeof err) != BERRY_OK) rc = berry_cli_error("%s", err);
        else have_prm_prompts = true;
    }
    if (rc) { berry_prompts_free(&prompts); berry_lm_free(prm); berry_lm_free(lm); berry_dataset_free(ds); return rc; }

    berry_eval_run_params rp = berry_eval_run_defaults();
    rp.method = method;
    rp.opts.prompts = &prompts;
    rp.opts.k = (int)k;
    rp.opts.sampling = (berry_sampling){.temperature = (float)temp, .top_k = (int)top_k, .top_p = (float)top_p,
                                        .min_p = (float)min_p, .seed = (uint64_t)seed, .max_tokens = (int)n_predict,
                                        .stop = stops, .n_stop = n_stop};
    rp.opts.sampling_set = temp_set;
    rp.opts.search = &so.sp;
    rp.opts.prm = prm;
    rp.opts.prm_prompts = have_prm_prompts ? &prm_prompts : NULL;
    rp.offset = offset;
    rp.limit = limit;
    rp.batch = (int)batch;
    rp.model_name = gname && *gname ? gname : short_name(model);
    rp.data_name = short_name(data);
    progress_ctx pc = {.quiet = quiet};
    rp.on_record = on_record;
    rp.user = &pc;
    size_t lo = (size_t)offset < ds->n ? (size_t)offset : ds->n;
    size_t total = limit > 0 && (size_t)limit < ds->n - lo ? (size_t)limit : ds->n - lo;
    if (!quiet) {
        berry_log("eval: %s, %zu of %zu problems (%s), method %s, budget %d, %s prompts, model %s", data, total, ds->n,
                  berry_dataset_kind_name(ds->kind), method->name, method->uses_k ? (int)k : 1,
                  prompts.kind == BERRY_PROMPTS_EMBEDDED ? "embedded" : "instruct", rp.model_name);
        berry_progress_start(&pc.bar, "eval", (long)total);
    }
    berry_eval_run_stats st;
    berry_status s = berry_eval_run(lm, ds, &rp, out, &st, err, sizeof err);
    if (!quiet) berry_progress_end(&pc.bar, st.skipped + st.evaluated, NULL);
    if (s != BERRY_OK) rc = berry_cli_error("eval: %s (the records written so far are kept; rerun to resume)", err);

    // The summary covers every record of the file: this run's and the earlier runs' it resumed.
    berry_result *recs = NULL;
    size_t n = 0;
    if (!rc && berry_results_load(out, &recs, &n, NULL, err, sizeof err) != BERRY_OK) rc = berry_cli_error("%s", err);
    if (!rc) {
        berry_eval_summary sum;
        berry_eval_summarize(recs, n, &sum);
        char *t = berry_eval_summary_text(&sum, json);
        if (!t) rc = berry_cli_error("out of memory");
        else if (json) printf("%s\n", t);
        else {
            printf("%s: %zu records\n%s", out, n, t);
            printf("this run   %ld problems evaluated, %ld already in the file; wall %.1f s\n", st.evaluated, st.skipped,
                   st.seconds);
        }
        free(t);
    }
    berry_results_free(recs, n);
    berry_prompts_free(&prompts);
    if (have_prm_prompts) berry_prompts_free(&prm_prompts);
    berry_lm_free(prm);
    berry_lm_free(lm);
    berry_dataset_free(ds);
    return rc;
}

BERRY_COMMAND("eval", "evaluate a model on a benchmark (resumable); eval report compares results", cmd_eval)
