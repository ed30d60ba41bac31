#!/bin/sh
# Installs the Debian packages berry builds and tests with, when they are missing. Build: gcc, make,
# libgmp-dev (exact rationals in the grader), libpcre2-dev (Unicode classes of the tokenizers). Tests: python3-torch, python3-numpy, python3-sympy (as
# references), nodejs/npm (the tokenizer references), libsimde-dev (the AVX-512 kernels run without
# AVX-512); `make model` also needs jq.
# Usage: scripts/deps.sh [build|test|model]
set -e
need=""
have_hdr() { echo "#include <$1>" | ${CC:-gcc} -E - >/dev/null 2>&1; }
have_hdr gmp.h || need="$need libgmp-dev"
printf "#define PCRE2_CODE_UNIT_WIDTH 8\n#include <pcre2.h>\n" | ${CC:-gcc} -E - >/dev/null 2>&1 || need="$need libpcre2-dev"
[ "${1:-build}" = model ] && { command -v jq >/dev/null 2>&1 || need="$need jq"; }
if [ "${1:-build}" = test ]; then
    /usr/bin/python3 -c "import torch, numpy, sympy" 2>/dev/null || need="$need python3-torch python3-numpy python3-sympy libopenblas0-pthread"
    command -v node >/dev/null 2>&1 || need="$need nodejs npm"
    have_hdr simde/x86/avx512.h || need="$need libsimde-dev"
fi
[ -z "$need" ] && exit 0
if [ "$(id -u)" != 0 ]; then
    echo "berry needs these Debian packages:$need (run: sudo apt-get install$need)" >&2
    exit 1
fi
echo "installing:$need" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null || true
apt-get install -y -q $need >/dev/null
