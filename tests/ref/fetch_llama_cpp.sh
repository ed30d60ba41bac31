#!/bin/sh
# Fetches llama.cpp's source as the npm package node-llama-cpp@3.21.1 carries it (a git bundle), for
# use as an independent reference in tests: its tokenizer test vocabularies (models/ggml-vocab-*.gguf
# with .inp/.out pairs) and its Python GGUF package (gguf-py: a GGUF reader/writer and NumPy
# (de)quantizers). Nothing of it is committed or linked; it lands in tests/vendor/ (git-ignored).
# Prints the path of the checkout on stdout; exits 1 (with a reason on stderr) when it cannot.
set -e
root=$(cd "$(dirname "$0")/../.." && pwd)
vendor="$root/tests/vendor"
dest="$vendor/llama.cpp"
if [ -f "$dest/.berry-ok" ]; then echo "$dest"; exit 0; fi
command -v npm >/dev/null 2>&1 || { echo "npm is not installed" >&2; exit 1; }
command -v git >/dev/null 2>&1 || { echo "git is not installed" >&2; exit 1; }
mkdir -p "$vendor"
# A lock, so that tests running at once do not fetch twice.
exec 9>"$vendor/.fetch.lock"
flock 9
if [ -f "$dest/.berry-ok" ]; then echo "$dest"; exit 0; fi
npmdir="$vendor/npm"
mkdir -p "$npmdir"
# --omit=optional skips the 600 MB of prebuilt binaries; only the source bundle is needed.
if ! npm install --no-save --ignore-scripts --omit=optional --no-audit --no-fund --prefix "$npmdir" \
        node-llama-cpp@3.21.1 >"$vendor/npm.log" 2>&1; then
    echo "npm install node-llama-cpp@3.21.1 failed (registry unreachable?), see $vendor/npm.log" >&2
    exit 1
fi
bundle="$npmdir/node_modules/node-llama-cpp/llama/gitRelease.bundle"
[ -f "$bundle" ] || { echo "node-llama-cpp has no llama/gitRelease.bundle" >&2; exit 1; }
rm -rf "$dest"
git clone -q "$bundle" "$dest" 2>/dev/null
touch "$dest/.berry-ok"
echo "$dest"
