#!/usr/bin/env bash
# Regenerates llama_cpp_chains.json from llama.cpp's sampler source.
# Usage: gen_reference.sh [/path/to/llama.cpp]   (default /root/ref/llama.cpp; needs g++, nm)
#
# Only src/llama-sampler.cpp is compiled; the symbols it references but the CPU sampling
# path never calls (ggml graph ops, vocab, grammar, logging, timing) are stubbed.
set -euo pipefail
L=${1:-/root/ref/llama.cpp}
HERE=$(cd "$(dirname "$0")" && pwd)
B=$(mktemp -d)
trap 'rm -rf "$B"' EXIT
INC=(-I"$L/include" -I"$L/src" -I"$L/ggml/include")
g++ -std=c++17 -O1 -c "${INC[@]}" "$L/src/llama-sampler.cpp" -o "$B/llama-sampler.o"
nm -u "$B/llama-sampler.o" | awk '{print $2}' \
  | grep -E '^(_Z.*(llama|ggml|time_meas|format)|ggml_|llama_)' | sort -u \
  | while read -r s; do echo "long $s(void) { return 0; }"; done > "$B/stubs.c"
gcc -c "$B/stubs.c" -o "$B/stubs.o"
g++ -std=c++17 -O1 "${INC[@]}" "$HERE/gen_reference.cpp" "$B/llama-sampler.o" "$B/stubs.o" -o "$B/gen"
"$B/gen" > "$HERE/llama_cpp_chains.json"
echo "wrote $HERE/llama_cpp_chains.json"
