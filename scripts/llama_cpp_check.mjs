// llama_cpp_check.mjs — loads a berry GGUF with llama.cpp itself (the prebuilt binaries of the npm
// package node-llama-cpp) and decodes a prompt greedily, so that its text can be compared with
// `berry generate --temp 0` on the same prompt.
//
//   npm install node-llama-cpp            (once, anywhere; NODE_LLAMA_CPP points at its dist/index.js)
//   NODE_LLAMA_CPP=/path/node_modules/node-llama-cpp/dist/index.js \
//     node scripts/llama_cpp_check.mjs models/berry-tiny.gguf "$(printf 'Question: ...\nSolve step by step.\n')"
const where = process.env.NODE_LLAMA_CPP || "node-llama-cpp";
const {getLlama, LlamaCompletion} = await import(where);
const [model, prompt, n] = [process.argv[2], process.argv[3], Number(process.argv[4] || 120)];
if (!model || prompt === undefined) {
    console.error("usage: node scripts/llama_cpp_check.mjs MODEL.gguf PROMPT [MAX_TOKENS]");
    process.exit(2);
}
const llama = await getLlama({gpu: false, build: "never"});
const m = await llama.loadModel({modelPath: model});
const ctx = await m.createContext({contextSize: 512});
const c = new LlamaCompletion({contextSequence: ctx.getSequence()});
process.stdout.write(await c.generateCompletion(prompt, {maxTokens: n, temperature: 0}));
process.stdout.write("\n");
