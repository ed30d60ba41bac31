// cmd_train.c — `berry train`: fine-tune a GGUF model (fully or with LoRA) on JSONL data, with
// resumable checkpoints, metrics as JSONL and an SVG loss curve beside the output.
#include "base/clock.h"
#include "base/log.h"
#include "base/pool.h"
#include "cli/cli.h"
#include "model/gguf.h"
#include "model/model.h"
#include "text/tokenizer.h"
#include "train/checkpoint.h"
#include "train/tdata.h"
#include "train/trainer.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

// Keeps the metrics lines of steps 1..STEP (a killed run may have logged later steps, or half a line),
// rewriting PATH atomically, and puts their losses into CURVE (step - 1). Returns false when PATH
// cannot be rewritten.
static bool trim_metrics(const char *path, int64_t step, double *curve) {
    FILE *f = fopen(path, "r");
    if (!f) return true;
    char tmp[4200], *line = NULL;
    size_t cap = 0;
    snprintf(tmp, sizeof tmp, "%.4000s.tmp", path);
    FILE *o = fopen(tmp, "w");
    if (!o) { fclose(f); return false; }
    ssize_t n;
    while ((n = getline(&line, &cap, f)) > 0) {
        long long st;
        double loss;
        if (line[n - 1] != '\n' || sscanf(line, "{\"step\":%lld,\"loss\":%lf", &st, &loss) != 2 || st < 1 || st > step) continue;
        curve[st - 1] = loss;
        fputs(line, o);
    }
    free(line);
    fclose(f);
    bool ok = fflush(o) == 0 && fsync(fileno(o)) == 0;
    ok = fclose(o) == 0 && ok;
    return ok && rename(tmp, path) == 0;
}

// DPO: the reference log-probabilities of every example under the model as it is now (before any
// update), stored in the examples. Rows of N_PAIRS pairs at a time.
static berry_status dpo_reference(berry_tdata *d, berry_tmodel *m, int n_pairs, int n_ctx, char *err, size_t err_size) {
    size_t nb = (size_t)2 * n_pairs * n_ctx;
    int32_t *tok = malloc(nb * sizeof(int32_t)), *tgt = malloc(nb * sizeof(int32_t));
    float *mask = malloc(nb * sizeof(float)), *ref = malloc(nb * sizeof(float)), *lp = malloc(nb * sizeof(float));
    berry_status st = tok && tgt && mask && ref && lp ? BERRY_OK : berry_errf(err, err_size, BERRY_ENOMEM, "out of memory");
    for (int i0 = 0; !st && i0 < d->n; i0 += n_pairs) {
        int np = d->n - i0 < n_pairs ? d->n - i0 : n_pairs;
        for (int p = 0; p < np; p++)
            berry_tdata_pair_rows(&d->ex[i0 + p], n_ctx, tok + (size_t)p * 2 * n_ctx, tgt + (size_t)p * 2 * n_ctx,
                                  mask + (size_t)p * 2 * n_ctx, ref + (size_t)p * 2 * n_ctx);
        berry_tbatch b = {.n_seq = 2 * np, .n_ctx = n_ctx, .tokens = tok, .targets = tgt};
        st = berry_tmodel_forward(m, &b, lp, err, err_size);
        for (int p = 0; !st && p < np; p++)
            for (int s = 0; s < 2; s++) {
                berry_texample *e = &d->ex[i0 + p];
                int n = e->n[s] - 1 < n_ctx ? e->n[s] - 1 : n_ctx;
                e->ref[s] = malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
                if (!e->ref[s]) { st = berry_errf(err, err_size, BERRY_ENOMEM, "out of memory"); break; }
                memcpy(e->ref[s], lp + ((size_t)p * 2 + s) * n_ctx, (size_t)(n > 0 ? n : 0) * sizeof(float));
            }
    }
    free(tok); free(tgt); free(mask); free(ref); free(lp);
    return st;
}

static void usage(void) {
    fprintf(stderr,
            "usage: berry train -m MODEL --data FILE.jsonl -o OUT.gguf [options]\n"
            "  data: {\"text\"} | {\"prompt\",\"completion\"} | {\"question\",\"answer\"} per line (SFT),\n"
            "        or {\"prompt\",\"chosen\",\"rejected\"} (DPO against the initial model)\n"
            "  --lora-rank R      LoRA rank (0: full fine-tuning; default 0)\n"
            "  --lora-alpha A     LoRA alpha (default 2R)    --lora-dropout P (default 0)\n"
            "  --lr X             peak learning rate (default 1e-4; 1e-3 with LoRA)\n"
            "  --steps N          optimizer steps (default 100)   --warmup N (default steps/20)\n"
            "  --batch B          rows per micro-batch, DPO: pairs (default 4)   -c N  row length (default 512)\n"
            "  --beta X           DPO temperature (default 0.1)\n"
            "  --accum N          micro-batches per step (default 1)  --clip X (default 1)\n"
            "  --save-every N     checkpoint every N steps (default 50)  --recompute  save memory\n"
            "  --chat-template F  chatml | llama3 | gemma | qwen3 | none (default: the model's)\n"
            "  -t N threads, -s SEED\n"
            "Writes OUT (the adapter, or the full model), OUT.ckpt.gguf (resumes when present),\n"
            "OUT.metrics.jsonl and OUT.loss.svg.\n");
}

// The loss curve as an SVG polyline.
static void write_svg(const char *path, const double *loss, int n) {
    if (n < 1) return;
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%.4000s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) return;
    double mx = loss[0], mn = loss[0];
    for (int i = 0; i < n; i++) { if (loss[i] > mx) mx = loss[i]; if (loss[i] < mn) mn = loss[i]; }
    if (mx - mn < 1e-9) mx = mn + 1;
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"640\" height=\"360\" viewBox=\"0 0 640 360\">\n"
               "<rect width=\"640\" height=\"360\" fill=\"white\"/>\n"
               "<text x=\"10\" y=\"20\" font-family=\"sans-serif\" font-size=\"14\">loss: %.4f .. %.4f over %d steps</text>\n"
               "<polyline fill=\"none\" stroke=\"#c0392b\" stroke-width=\"1.5\" points=\"", mx, mn, n);
    for (int i = 0; i < n; i++)
        fprintf(f, "%.1f,%.1f ", 40 + 580.0 * i / (n > 1 ? n - 1 : 1), 330 - 290 * (loss[i] - mn) / (mx - mn));
    fprintf(f, "\"/>\n</svg>\n");
    fclose(f);
    rename(tmp, path);
}

// The full model: the source's metadata, every trainable tensor in f32, other tensors as they were.
static berry_status write_model(const char *out, const berry_model *bm, berry_tmodel *m, char *err, size_t err_size) {
    const berry_gguf *g = berry_model_gguf(bm);
    berry_gguf_writer *w = berry_gguf_writer_new();
    if (!w) return berry_errf(err, err_size, BERRY_ENOMEM, "out of memory");
    berry_status st = BERRY_OK;
    for (int64_t i = 0; !st && i < berry_gguf_n_kv(g); i++) st = berry_gguf_copy_kv(w, g, i);
    for (int64_t i = 0; !st && i < berry_gguf_n_tensors(g); i++) {
        const char *name = berry_gguf_tensor_name(g, i);
        berry_tparam *p = berry_tmodel_find(m, name);
        int64_t ne[BERRY_GGUF_MAX_DIMS];
        berry_gguf_tensor_shape(g, i, ne);
        if (p && p->trainable)
            st = berry_gguf_add_tensor(w, name, 0, berry_gguf_tensor_n_dims(g, i), ne, p->w,
                                       (size_t)(p->rows * p->cols) * sizeof(float));
        else
            st = berry_gguf_add_tensor(w, name, berry_gguf_tensor_type(g, i), berry_gguf_tensor_n_dims(g, i), ne,
                                       berry_gguf_tensor_data(g, i), berry_gguf_tensor_bytes(g, i));
    }
    if (!st) st = berry_gguf_write(w, out, err, err_size);
    else berry_errf(err, err_size, st, "cannot assemble %s", out);
    berry_gguf_writer_free(w);
    return st;
}

static int cmd_train(int argc, char **argv) {
    const char *model = NULL, *data = NULL, *out = NULL, *chat = NULL;
    long rank = 0, steps = 100, warmup = -1, batch = 4, ctx = 512, accum = 1, save_every = 50, threads = 0, seed = 1;
    double alpha = 0, dropout = 0, lr = 0, clip = 1.0, beta = 0.1;
    bool recompute = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        bool ok = true;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { usage(); return 0; }
        else if (!strcmp(a, "--recompute")) { recompute = true; continue; }
        if (!v) return berry_cli_error("%s needs a value (see berry train --help)", a);
        if (!strcmp(a, "-m")) model = v;
        else if (!strcmp(a, "--data")) data = v;
        else if (!strcmp(a, "-o")) out = v;
        else if (!strcmp(a, "--chat-template")) chat = v;
        else if (!strcmp(a, "--lora-rank")) ok = berry_cli_int(a, v, 0, 4096, &rank);
        else if (!strcmp(a, "--lora-alpha")) ok = berry_cli_float(a, v, 0, 1e6, &alpha);
        else if (!strcmp(a, "--lora-dropout")) ok = berry_cli_float(a, v, 0, 0.99, &dropout);
        else if (!strcmp(a, "--lr")) ok = berry_cli_float(a, v, 0, 10, &lr);
        else if (!strcmp(a, "--clip")) ok = berry_cli_float(a, v, 0, 1e9, &clip);
        else if (!strcmp(a, "--beta")) ok = berry_cli_float(a, v, 1e-6, 1e6, &beta);
        else if (!strcmp(a, "--steps")) ok = berry_cli_int(a, v, 1, 1L << 40, &steps);
        else if (!strcmp(a, "--warmup")) ok = berry_cli_int(a, v, 0, 1L << 40, &warmup);
        else if (!strcmp(a, "--batch")) ok = berry_cli_int(a, v, 1, 4096, &batch);
        else if (!strcmp(a, "-c")) ok = berry_cli_int(a, v, 2, 1 << 20, &ctx);
        else if (!strcmp(a, "--accum")) ok = berry_cli_int(a, v, 1, 1 << 16, &accum);
        else if (!strcmp(a, "--save-every")) ok = berry_cli_int(a, v, 1, 1L << 40, &save_every);
        else if (!strcmp(a, "-t")) ok = berry_cli_int(a, v, 0, 512, &threads);
        else if (!strcmp(a, "-s")) ok = berry_cli_int(a, v, 0, 1L << 62, &seed);
        else return berry_cli_error("unknown option '%s' (see berry train --help)", a);
        if (!ok) return 1;
        i++;
    }
    if (!model || !data || !out) { usage(); return 2; }
    if (batch * ctx > (1L << 24)) return berry_cli_error("--batch x -c = %ld tokens is too many", batch * ctx);
    char err[512];
    berry_model *bm = berry_model_load(model, err, sizeof err);
    if (!bm) return berry_cli_error("%s", err);
    berry_tokenizer *tok = berry_tokenizer_from_gguf(berry_model_gguf(bm), err, sizeof err);
    if (!tok) { berry_model_free(bm); return berry_cli_error("%s", err); }
    berry_tdata ds;
    int rc = 1;
    berry_pool *pool = NULL;
    berry_tmodel *m = NULL;
    berry_trainer tr = {0};
    double *curve = NULL;
    FILE *metrics = NULL;
    int32_t *tokens = NULL, *targets = NULL, *seg = NULL;
    float *w = NULL, *ref = NULL;
    if (berry_tdata_load(data, tok, chat, (int)ctx, &ds, err, sizeof err) != BERRY_OK) {
        berry_cli_error("%s", err);
        goto done_nods;
    }
    bool dpo = ds.kind == BERRY_TEX_DPO;
    int rows = (int)(dpo ? 2 * batch : batch);  // DPO: --batch counts pairs
    pool = berry_pool_create((int)threads);
    berry_tmodel_opts o = {.lora_rank = (int)rank, .lora_alpha = (float)(alpha > 0 ? alpha : 2.0 * rank),
                           .lora_dropout = (float)dropout, .recompute = recompute, .max_tokens = (int)(rows * ctx),
                           .seed = (uint64_t)seed};
    m = berry_tmodel_from_model(bm, &o, pool, err, sizeof err);
    if (!m) { berry_cli_error("%s", err); goto done; }
    berry_trainer_opts to = {.lr = (float)(lr > 0 ? lr : rank ? 1e-3 : 1e-4), .warmup = warmup >= 0 ? warmup : steps / 20,
                             .total = steps, .clip = clip, .accum = (int)accum,
                             .adam = {.beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8, .weight_decay = 0.01}};
    to.lr_min = to.lr * 0.1f;
    if (berry_trainer_init(&tr, m, &to, err, sizeof err) != BERRY_OK) { berry_cli_error("%s", err); goto done; }
    char ckpt[4200], mpath[4200], svg[4200];
    snprintf(ckpt, sizeof ckpt, "%.4000s.ckpt.gguf", out);
    snprintf(mpath, sizeof mpath, "%.4000s.metrics.jsonl", out);
    snprintf(svg, sizeof svg, "%.4000s.loss.svg", out);
    // Leftovers of a run killed while writing (every file is written to NAME.tmp, then renamed).
    char tmp[4300];
    const char *outs[4] = {out, ckpt, mpath, svg};
    for (int i = 0; i < 4; i++) { snprintf(tmp, sizeof tmp, "%s.tmp", outs[i]); unlink(tmp); }
    // DPO's reference: the model before any update (the base without adapters, or the initial weights),
    // so it is computed before a checkpoint is loaded over it.
    if (dpo && dpo_reference(&ds, m, (int)batch, (int)ctx, err, sizeof err) != BERRY_OK) { berry_cli_error("%s", err); goto done; }
    curve = calloc((size_t)steps + 1, sizeof(double));
    berry_ckpt_extra x = {0};
    if (access(ckpt, F_OK) == 0) {
        if (berry_checkpoint_load(ckpt, &tr, &x, err, sizeof err) != BERRY_OK) { berry_cli_error("%s", err); goto done; }
        berry_log("resuming %s at step %lld", ckpt, (long long)tr.step);
        if (curve && !trim_metrics(mpath, tr.step, curve)) { berry_cli_error("cannot rewrite %s", mpath); goto done; }
    } else {
        unlink(mpath);
    }
    size_t nb = (size_t)rows * (size_t)ctx;
    tokens = malloc(nb * sizeof(int32_t)); targets = malloc(nb * sizeof(int32_t));
    seg = malloc(nb * sizeof(int32_t)); w = malloc(nb * sizeof(float)); ref = malloc(nb * sizeof(float));
    metrics = fopen(mpath, "a");
    if (!curve || !tokens || !targets || !seg || !w || !ref || !metrics) { berry_cli_error("out of memory or cannot write %s", mpath); goto done; }
    berry_tbatch b = {.n_seq = rows, .n_ctx = (int)ctx, .tokens = tokens, .targets = targets, .seg = dpo ? NULL : seg};
    berry_progress pr;
    berry_progress_start(&pr, "train", steps);
    double t0 = berry_now();
    long tok_done = 0;
    int64_t first = tr.step;
    while (tr.step < steps) {
        double loss = 0, l, acc = 0, a = 0;
        for (int k = 0; k < accum; k++) {
            berry_status st;
            if (dpo) {
                berry_tdata_pack_pairs(&ds, (uint64_t)seed, &x.epoch, &x.data_pos, (int)batch, (int)ctx, tokens, targets, w, ref);
                st = berry_trainer_dpo(&tr, &b, w, ref, (float)beta, &l, &a, err, sizeof err);
            } else {
                berry_tdata_pack(&ds, (uint64_t)seed, &x.epoch, &x.data_pos, (int)batch, (int)ctx, tokens, targets, seg, w);
                st = berry_trainer_sft(&tr, &b, w, &l, err, sizeof err);
            }
            if (st != BERRY_OK) { berry_cli_error("%s", err); goto done; }
            loss += l / accum;
            acc += a / accum;
            tok_done += (long)nb;
        }
        double gn;
        float lrv;
        berry_trainer_step(&tr, &gn, &lrv);
        curve[tr.step - 1] = loss;
        double el = berry_now() - t0, tps = tok_done / (el > 0 ? el : 1);
        char accs[48] = "";
        if (dpo) snprintf(accs, sizeof accs, ",\"dpo_accuracy\":%.4f", acc);
        fprintf(metrics, "{\"step\":%lld,\"loss\":%.9g,\"lr\":%.3g,\"grad_norm\":%.4f,\"tokens_per_s\":%.1f,\"epoch\":%llu%s}\n",
                (long long)tr.step, loss, lrv, gn, tps, (unsigned long long)x.epoch, accs);
        fflush(metrics);
        char suffix[160];
        double eta = (double)(steps - tr.step) * el / (double)(tr.step - first);
        snprintf(suffix, sizeof suffix, "loss %.4f  %.0f tok/s  ETA %.0fs", loss, tps, eta);
        berry_progress_update(&pr, tr.step, suffix);
        if (tr.step % save_every == 0 || tr.step == steps) {
            if (berry_checkpoint_save(ckpt, &tr, &x, err, sizeof err) != BERRY_OK) { berry_cli_error("%s", err); goto done; }
            write_svg(svg, curve, (int)tr.step);
        }
    }
    berry_progress_end(&pr, tr.step, "done");
    berry_status st = rank ? berry_lora_save(out, m, err, sizeof err) : write_model(out, bm, m, err, sizeof err);
    if (st) { berry_cli_error("%s", err); goto done; }
    printf("%s\n", out);
    rc = 0;
done:
    berry_tdata_free(&ds);
done_nods:
    if (metrics) fclose(metrics);
    free(curve); free(tokens); free(targets); free(seg); free(w); free(ref);
    if (tr.ts) berry_trainer_free(&tr);
    berry_tmodel_free(m);
    berry_pool_free(pool);
    berry_tokenizer_free(tok);
    berry_model_free(bm);
    return rc;
}

BERRY_COMMAND("train", "fine-tune a model (full or LoRA) on JSONL data", cmd_train)
