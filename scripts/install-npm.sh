#!/bin/bash
# SPDX-License-Identifier: MIT
#
# npm packages the tests use, at pinned versions, installed into
# $JAL_CACHE/node_modules (not the repository, not the system). Idempotent:
# when every package is already there at its version it only checks.
# Run by scripts/install-deps.sh; needs Node.js >= 20 and npm (without
# them it says so and leaves the tests that need them to skip).
#
#   openai             the official OpenAI client, for tests/serve (jalrt-serve)
#   @huggingface/gguf  a GGUF reader, for the GGUF loader's tests
#   llama-tokenizer-js   Llama 2's sentencepiece vocabulary and an encoder,
#   llama3-tokenizer-js  Llama 3's byte-level BPE vocabulary, merges and an
#                        encoder: oracles for the GGUF tokenizers' tests
#
# Add a package as NAME@VERSION to the list below (one list for every
# engineer's tests) and the next run installs it.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/scripts/config.sh"

pkgs=(
	openai@5.23.2
	@huggingface/gguf@0.4.6
	llama-tokenizer-js@1.2.2
	llama3-tokenizer-js@1.2.0
)
dir=$JAL_CACHE/npm

missing=()
for p in "${pkgs[@]}"; do
	name=${p%@*} ver=${p##*@}
	have=$(sed -n 's/^  "version": "\(.*\)",$/\1/p' "$dir/node_modules/$name/package.json" 2>/dev/null || true)
	[ "$have" = "$ver" ] || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
	echo "[npm] node and npm are not installed: skipping ${missing[*]} (tests that need them skip)" >&2
	exit 0
fi
major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$major" -lt 20 ]; then
	echo "[npm] node $(node --version) is older than 20: skipping ${missing[*]} (tests that need them skip)" >&2
	exit 0
fi
mkdir -p "$dir"
[ -f "$dir/package.json" ] || echo '{"name": "jalapeno-test-deps", "private": true}' > "$dir/package.json"
echo "[npm] installing ${missing[*]} into $dir"
# The registry is npm's configured one; the repository names none.
npm install --prefix "$dir" --no-audit --no-fund --save-exact --loglevel=error "${missing[@]}" >/dev/null
