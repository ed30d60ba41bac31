// Tests of the training data reader (train/tdata.c) and of `berry train` as a process. The tokenizer is
// a byte-level vocabulary (tests/train_tiny.c: byte b is token b, <|eos|> is 257, no BOS), so every
// expected token sequence below is the bytes of the text, written out by hand.
#include "test.h"
#include "tiny_model.h"
#include "model/gguf.h"
#include "model/model.h"
#include "text/tokenizer.h"
#include "train/tdata.h"
#include <dirent.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

enum { EOS = 257 };

static berry_tokenizer *byte_tokenizer(void) {
    char path[1024], err[256];
    if (!berry_ttest_model("llama", 0, 0.1f, "m.gguf", path, sizeof path)) return NULL;
    berry_gguf *g = berry_gguf_open(path, err, sizeof err);
    berry_tokenizer *t = g ? berry_tokenizer_from_gguf(g, err, sizeof err) : NULL;
    berry_gguf_close(g);
    return t;
}

static const char *write_file(const char *name, const char *text) {
    static char path[4][1024];
    static int k;
    char *p = path[k++ % 4];
    snprintf(p, 1024, "%s/%s", berry_test_tmpdir(), name);
    FILE *f = fopen(p, "wb");
    if (!f) return NULL;
    fputs(text, f);
    fclose(f);
    return p;
}

// Sequence K of example E equals the bytes of TEXT followed by <|eos|>, with TRAIN_FROM the first
// trained position.
static bool seq_is(const berry_texample *e, int k, const char *text, int train_from) {
    int n = (int)strlen(text);
    if (e->n[k] != n + 1 || e->tok[k][n] != EOS || !e->train[k][n]) return false;
    for (int i = 0; i < n; i++)
        if (e->tok[k][i] != (unsigned char)text[i] || e->train[k][i] != (i >= train_from)) return false;
    return true;
}

// Each format: text (every token trained), prompt/completion and question/answer (only the answer and
// the end token trained; "none" leaves the prompt as it is), DPO (prompt + chosen, prompt + rejected).
TEST(train_tdata_formats) {
    berry_tokenizer *t = byte_tokenizer();
    CHECK(t);
    char err[512];
    berry_tdata d;
    const char *p = write_file("a.jsonl", "{\"text\":\"ab c\"}\n\n{\"text\":\"xyz\"}\r\n");
    CHECKF(berry_tdata_load(p, t, NULL, 16, &d, err, sizeof err) == BERRY_OK, "%s", err);
    CHECK(d.kind == BERRY_TEX_TEXT && d.n == 2);
    CHECK(seq_is(&d.ex[0], 0, "ab c", 0) && seq_is(&d.ex[1], 0, "xyz", 0));
    berry_tdata_free(&d);
    p = write_file("b.jsonl", "{\"prompt\":\"2+2=\",\"completion\":\"4\"}\n{\"question\":\"Q?\",\"answer\":\"yes\"}\n");
    CHECKF(berry_tdata_load(p, t, "none", 16, &d, err, sizeof err) == BERRY_OK, "%s", err);
    CHECK(d.kind == BERRY_TEX_SFT && d.n == 2);
    CHECK(seq_is(&d.ex[0], 0, "2+2=4", 4) && seq_is(&d.ex[1], 0, "Q?yes", 2));
    berry_tdata_free(&d);
    // ChatML around the prompt: "<|im_start|>user\nQ?<|im_end|>\n<|im_start|>assistant\n" (52 bytes here,
    // the markers not being tokens of this vocabulary), then the answer.
    const char *chat = "<|im_start|>user\nQ?<|im_end|>\n<|im_start|>assistant\n";
    p = write_file("c.jsonl", "{\"question\":\"Q?\",\"answer\":\"yes\"}\n");
    CHECKF(berry_tdata_load(p, t, "chatml", 128, &d, err, sizeof err) == BERRY_OK, "%s", err);
    char full[128];
    snprintf(full, sizeof full, "%syes", chat);
    CHECKF(seq_is(&d.ex[0], 0, full, (int)strlen(chat)), "chatml: %d tokens", d.ex[0].n[0]);
    berry_tdata_free(&d);
    p = write_file("d.jsonl", "{\"prompt\":\"P\",\"chosen\":\"good\",\"rejected\":\"bad\"}\n");
    CHECKF(berry_tdata_load(p, t, "none", 16, &d, err, sizeof err) == BERRY_OK, "%s", err);
    CHECK(d.kind == BERRY_TEX_DPO && d.n == 1);
    CHECK(seq_is(&d.ex[0], 0, "Pgood", 1) && seq_is(&d.ex[0], 1, "Pbad", 1));
    // The pair as two rows of 8: targets are the next token, the mask covers completion targets only.
    int32_t tok[16], tgt[16];
    float mask[16], ref[16];
    CHECK(berry_tdata_pair_rows(&d.ex[0], 8, tok, tgt, mask, ref) == 5 + 4);
    int32_t want_tgt[16] = {'g', 'o', 'o', 'd', EOS, -1, -1, -1, 'b', 'a', 'd', EOS, -1, -1, -1, -1};
    float want_mask[16] = {1, 1, 1, 1, 1, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0};
    for (int i = 0; i < 16; i++) CHECKF(tgt[i] == want_tgt[i] && mask[i] == want_mask[i] && ref[i] == 0, "position %d", i);
    CHECK(tok[0] == 'P' && tok[8] == 'P' && tok[5] == EOS);
    berry_tdata_free(&d);
    berry_tokenizer_free(t);
}

// Packing: whole examples into rows, a new document id for each, targets -1 at each document's end
// and in the padding; every example once per epoch, in a seeded order.
TEST(train_tdata_packing) {
    berry_tokenizer *t = byte_tokenizer();
    CHECK(t);
    char err[512];
    berry_tdata d;
    // Lengths with <|eos|>: 3, 4, 2, 5, 3.
    const char *p = write_file("p.jsonl", "{\"text\":\"ab\"}\n{\"text\":\"cde\"}\n{\"text\":\"f\"}\n{\"text\":\"ghij\"}\n{\"text\":\"kl\"}\n");
    CHECKF(berry_tdata_load(p, t, NULL, 8, &d, err, sizeof err) == BERRY_OK, "%s", err);
    enum { R = 2, T = 8 };  // 16 positions: less than the 17 tokens of the epoch, so no example twice
    int32_t tok[R * T], tgt[R * T], seg[R * T];
    float w[R * T];
    uint64_t epoch = 0, pos = 0;
    int trained = berry_tdata_pack(&d, 42, &epoch, &pos, R, T, tok, tgt, seg, w);
    int seen[5] = {0}, n_trained = 0;
    for (int r = 0; r < R; r++) {
        for (int i = 0; i < T; i++) {
            int o = r * T + i;
            bool last = i + 1 == T || seg[o + 1] != seg[o];
            if (tgt[o] >= 0) { CHECKF(!last && tgt[o] == tok[o + 1] && w[o] == 1, "row %d position %d", r, i); n_trained++; }
            else CHECK(w[o] == 0);
            if (i > 0 && seg[o] != seg[o - 1]) CHECKF(tok[o - 1] == EOS || tgt[o - 1] == -1, "row %d: a document ends at %d", r, i);
            // A document start: identify the example by its first byte.
            if ((i == 0 || seg[o] != seg[o - 1]) && tok[o] != 0 && tok[o] != EOS) {
                const char *firsts = "acfgk";
                const char *q = strchr(firsts, tok[o]);
                if (q) seen[q - firsts]++;
            }
        }
    }
    CHECK(trained == n_trained);
    // 2 rows of 8 hold 3 examples at least (only 5 + 4 exceeds 8, so one row at most holds a single one),
    // none twice.
    int distinct = 0;
    for (int i = 0; i < 5; i++) { CHECK(seen[i] <= 1); distinct += seen[i]; }
    CHECK(distinct >= 3 && (uint64_t)distinct == pos && epoch == 0);
    // Same seed, same batch.
    uint64_t e2 = 0, p2 = 0;
    int32_t tok2[R * T], tgt2[R * T], seg2[R * T];
    float w2[R * T];
    berry_tdata_pack(&d, 42, &e2, &p2, R, T, tok2, tgt2, seg2, w2);
    CHECK(!memcmp(tok, tok2, sizeof tok) && !memcmp(tgt, tgt2, sizeof tgt));
    // Row by row over three epochs: the examples (known by their first byte) of each epoch are the five,
    // once each.
    int order[15], n_order = 0;
    e2 = p2 = 0;
    while (n_order < 15) {
        berry_tdata_pack(&d, 42, &e2, &p2, 1, T, tok2, tgt2, seg2, w2);
        for (int i = 0; i < T && n_order < 15; i++)
            if ((i == 0 || seg2[i] != seg2[i - 1]) && tok2[i] != 0) {
                const char *q = strchr("acfgk", tok2[i]);
                CHECK(q);
                order[n_order++] = (int)(q - "acfgk");
            }
    }
    for (int ep = 0; ep < 3; ep++) {
        int cnt[5] = {0};
        for (int i = 0; i < 5; i++) cnt[order[ep * 5 + i]]++;
        for (int i = 0; i < 5; i++) CHECKF(cnt[i] == 1, "epoch %d: example %d appears %d times", ep, i, cnt[i]);
    }
    berry_tdata_free(&d);
    berry_tokenizer_free(t);
}

// Bad data: the error names the file's line and what is wrong; nothing is returned.
TEST(train_tdata_errors_name_the_line) {
    berry_tokenizer *t = byte_tokenizer();
    CHECK(t);
    struct { const char *text, *expect; } cases[] = {
        {"{\"text\":\"ok\"}\n{\"text\":\"ok\"}\n{\"text\": oops}\n", ":3:"},
        {"{\"text\":\"ok\"}\n{\"text\":\"\"}\n", ":2: field \"text\" is missing, empty"},
        {"{\"prompt\":\"p\"}\n", ":1: field \"completion\""},
        {"{\"question\":\"q\",\"answer\":7}\n", ":1: field \"answer\""},
        {"{\"text\":\"a\"}\n{\"prompt\":\"p\",\"completion\":\"c\"}\n", ":2: a SFT example in a file of text examples"},
        {"{\"prompt\":\"p\",\"chosen\":\"c\"}\n", ":1: field \"rejected\""},
        {"{\"foo\":1}\n", ":1: expected"},
        {"[1,2]\n", ":1: expected"},
        {"{\"text\":\"short\"}\n{\"text\":\"this line is longer than sixteen\"}\n", ":2: example of 33 tokens is longer than the context (16)"},
        {"\n\n", "no examples"},
    };
    char err[512];
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const char *p = write_file("bad.jsonl", cases[c].text);
        berry_tdata d = {0};
        err[0] = 0;
        CHECKF(berry_tdata_load(p, t, "none", 16, &d, err, sizeof err) != BERRY_OK, "case %zu accepted", c);
        CHECKF(strstr(err, cases[c].expect) && strstr(err, "bad.jsonl"), "case %zu: \"%s\" lacks \"%s\"", c, err, cases[c].expect);
        CHECK(d.n == 0 && d.ex == NULL);
    }
    berry_tdata d;
    CHECK(berry_tdata_load("/nonexistent/x.jsonl", t, NULL, 16, &d, err, sizeof err) == BERRY_EIO);
    berry_tokenizer_free(t);
}

// ---- berry train as a process --------------------------------------------------------------------

// Losses by step from a metrics JSONL file into LOSS (1-based, up to MAX); returns the largest step,
// or -1 when a step appears twice or a line is not a metrics line.
static int read_losses(const char *path, double *loss, int max) {
    char *s = berry_ttest_read(path);
    if (!s) return -1;
    int last = 0;
    bool seen[256] = {false};
    for (char *line = strtok(s, "\n"); line; line = strtok(NULL, "\n")) {
        long long st;
        double l;
        if (sscanf(line, "{\"step\":%lld,\"loss\":%lf", &st, &l) != 2 || st < 1 || st > max || st >= 256 || seen[st]) { last = -1; break; }
        seen[st] = true;
        loss[st] = l;
        if (st > last) last = (int)st;
    }
    free(s);
    return last;
}

static int count_lines(const char *path) {
    char *s = berry_ttest_read(path);
    int n = 0;
    for (char *c = s; c && *c; c++) n += *c == '\n';
    free(s);
    return n;
}

// Files in DIR whose names end in ".tmp".
static int tmp_files(const char *dir) {
    DIR *d = opendir(dir);
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d));) {
        size_t l = strlen(e->d_name);
        n += l > 4 && !strcmp(e->d_name + l - 4, ".tmp");
    }
    if (d) closedir(d);
    return n;
}

// Trains with ARGS (after -m MODEL --data DATA -o OUT), kills the process with SIGKILL once its metrics
// show KILL_AT steps, resumes it to the end, and compares every loss with an uninterrupted run's. The
// checkpoint found after the kill is a complete file; no temporary file is left at the end.
static void kill_and_resume(const char *model, const char *data, const char *args, int steps, int kill_at) {
    const char *berry = berry_ttest_berry();
    if (!berry) SKIP("build/<variant>/berry is not built (make build/asan/berry build/opt/berry)");
    const char *dir = berry_test_tmpdir();
    char ref_out[1024], out[1024], cmd[8192], metrics[1100], ckpt[1100], errf[1100];
    snprintf(ref_out, sizeof ref_out, "%s/ref.gguf", dir);
    snprintf(out, sizeof out, "%s/run.gguf", dir);
    snprintf(metrics, sizeof metrics, "%s.metrics.jsonl", out);
    snprintf(ckpt, sizeof ckpt, "%s.ckpt.gguf", out);
    snprintf(errf, sizeof errf, "%s/stderr.txt", dir);
    snprintf(cmd, sizeof cmd, "%s train -m %s --data %s -o %s %s", berry, model, data, ref_out, args);
    CHECKF(berry_ttest_sh(cmd, NULL, errf) == 0, "uninterrupted run failed: %s", berry_ttest_read(errf));
    double ref[256], got[256];
    snprintf(cmd, sizeof cmd, "%s.metrics.jsonl", ref_out);
    CHECK(read_losses(cmd, ref, 255) == steps);
    // The run to kill.
    snprintf(cmd, sizeof cmd, "exec %s train -m %s --data %s -o %s %s 2>/dev/null >/dev/null", berry, model, data, out, args);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 20000 && count_lines(metrics) < kill_at; i++) usleep(1000);
    kill(pid, SIGKILL);
    int status;
    waitpid(pid, &status, 0);
    bool killed = WIFSIGNALED(status);
    int logged = count_lines(metrics);
    // What the kill left: a complete checkpoint (it opens and validates), no final output yet.
    char err[256];
    berry_gguf *g = berry_gguf_open(ckpt, err, sizeof err);
    CHECKF(g, "checkpoint after the kill: %s", err);
    int64_t at = -1;
    CHECK(berry_gguf_get_i64(g, "berry.train.step", &at) && at >= 1 && at <= steps);
    berry_gguf_close(g);
    CHECK(!killed || access(out, F_OK) != 0);
    // Resume.
    snprintf(cmd, sizeof cmd, "%s train -m %s --data %s -o %s %s", berry, model, data, out, args);
    CHECKF(berry_ttest_sh(cmd, NULL, errf) == 0, "resumed run failed: %s", berry_ttest_read(errf));
    char *e = berry_ttest_read(errf);
    char want[64];
    snprintf(want, sizeof want, "at step %lld", (long long)at);
    CHECKF(e && strstr(e, "resuming") && strstr(e, want), "stderr of the resumed run: %s", e ? e : "");
    free(e);
    fprintf(stderr, "    killed %s after %d logged steps, checkpoint at step %lld, resumed to %d\n",
            killed ? "with SIGKILL" : "(it had finished)", logged, (long long)at, steps);
    CHECKF(read_losses(metrics, got, 255) == steps, "the metrics of the resumed run do not hold steps 1..%d once each", steps);
    for (int s = 1; s <= steps; s++)
        CHECKF(got[s] == ref[s], "step %d: loss %.9g (%s), uninterrupted %.9g", s, got[s], s > at ? "after resuming" : "before the kill", ref[s]);
    CHECK(access(out, F_OK) == 0);
    CHECKF(tmp_files(dir) == 0, "temporary files left in %s", dir);
}

static const char *text_data(void) {
    static char buf[4096];
    buf[0] = 0;
    for (int i = 0; i < 12; i++) {
        char line[128];
        snprintf(line, sizeof line, "{\"text\":\"%d plus %d is %d. %d times %d is %d.\"}\n", i, i + 3, 2 * i + 3, i, 7, 7 * i);
        strcat(buf, line);
    }
    return write_file("text.jsonl", buf);
}

// LoRA with dropout (the dropout masks depend on the forward count, saved in the checkpoint) on SFT text.
TEST(train_cli_kill_and_resume_lora) {
    char model[1024];
    CHECK(berry_ttest_model("qwen2", 8, 0.1f, "q.gguf", model, sizeof model));  // q8_0 base
    kill_and_resume(model, text_data(), "--lora-rank 4 --lora-dropout 0.1 --steps 24 --batch 2 -c 48 --save-every 1 -t 1 -s 5", 24, 9);
}

// Full fine-tuning.
TEST(train_cli_kill_and_resume_full) {
    char model[1024];
    CHECK(berry_ttest_model("llama", 0, 0.1f, "l.gguf", model, sizeof model));
    kill_and_resume(model, text_data(), "--steps 20 --batch 2 -c 48 --save-every 3 --lr 1e-3 -t 1", 20, 8);
}

static const char *dpo_data(void) {
    static char buf[4096];
    buf[0] = 0;
    for (int i = 0; i < 8; i++) {
        char line[160];
        snprintf(line, sizeof line, "{\"prompt\":\"%d+%d=\",\"chosen\":\"%d\",\"rejected\":\"%d\"}\n", i, i + 2, 2 * i + 2, 2 * i + 3);
        strcat(buf, line);
    }
    return write_file("dpo.jsonl", buf);
}

// DPO in berry train: the reference is the model before any update, so the first loss is exactly
// -log sigmoid(0) = ln 2 (by hand); training lowers it and the chosen answers win; a kill and resume
// recomputes the same reference and continues on the same curve.
TEST(train_cli_dpo) {
    const char *berry = berry_ttest_berry();
    if (!berry) SKIP("build/<variant>/berry is not built (make build/asan/berry build/opt/berry)");
    char model[1024], cmd[8192], out[1100], errf[1100], mp[1200];
    CHECK(berry_ttest_model("llama", 0, 0.1f, "d.gguf", model, sizeof model));
    const char *data = dpo_data();
    for (int lora = 0; lora < 2; lora++) {
        snprintf(out, sizeof out, "%s/dpo%d.gguf", berry_test_tmpdir(), lora);
        snprintf(errf, sizeof errf, "%s/dpo.err", berry_test_tmpdir());
        snprintf(cmd, sizeof cmd, "%s train -m %s --data %s -o %s --chat-template none --steps 30 --batch 2 -c 16 --beta 0.5 %s -t 1",
                 berry, model, data, out, lora ? "--lora-rank 4 --lr 1e-2" : "--lr 3e-3");
        CHECKF(berry_ttest_sh(cmd, NULL, errf) == 0, "%s", berry_ttest_read(errf));
        double loss[256];
        snprintf(mp, sizeof mp, "%s.metrics.jsonl", out);
        CHECK(read_losses(mp, loss, 255) == 30);
        fprintf(stderr, "    DPO %s: loss %.6f -> %.4f\n", lora ? "LoRA" : "full", loss[1], loss[30]);
        CHECK_NEAR(loss[1], 0.693147181, 2e-6);
        CHECKF(loss[30] < 0.35, "DPO loss still %g after 30 steps", loss[30]);
        char *m = berry_ttest_read(mp);
        CHECK(m && strstr(m, "\"dpo_accuracy\":1.0000"));
        free(m);
    }
    kill_and_resume(model, data, "--chat-template none --steps 16 --batch 2 -c 16 --beta 0.5 --lr 3e-3 --save-every 2 -t 1", 16, 7);
}
