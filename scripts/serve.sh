#!/bin/bash
# SPDX-License-Identifier: MIT
#
# make serve: boot the guest with the driver loaded and run jalrt-serve on
# the chip, its port forwarded to 127.0.0.1:PORT on the host through QEMU
# user networking, so that the OpenAI API of the chip is
# http://127.0.0.1:PORT/v1 (Documentation/serving.rst). Runs until Ctrl-C.
#
# Environment (the make variables of the same names):
#   MODEL       llama2.c checkpoint or GGUF file; default
#               ../shared/models/aidreams260k.bin, else a seeded generated
#               model with a byte tokenizer (JAL_VRAM and JAL_GUEST_MEM size
#               the guest for big ones: scripts/vm.sh)
#   TOKENIZER   a checkpoint's tokenizer.bin (default tok512.bin beside
#               aidreams260k); a GGUF file's own vocabulary needs none
#   PRECISION   f32 (default), bf16, int8, sparse or int4
#   PORT        host port, default 8080
#   API_KEY     require "Authorization: Bearer API_KEY" (default: none)
#   SERVE_ARGS  more jalrt-serve flags (--ctx, --queue, ...)
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
. scripts/config.sh

port=${PORT:-8080}
precision=${PRECISION:-f32}
model=${MODEL:-}
tokenizer=${TOKENIZER:-}
die() { echo "make serve: $*" >&2; exit 2; }

[[ $port =~ ^[0-9]+$ ]] && [ "$port" -ge 1 ] && [ "$port" -le 65535 ] || die "PORT must be 1..65535, not '$port'"
case "$precision" in f32|bf16|int8|sparse|int4) ;; *) die "PRECISION must be f32, bf16, int8, sparse or int4, not '$precision'" ;; esac

models=${JAL_MODELS_DIR:-$top/../shared/models}
if [ -z "$model" ]; then
	if [ -f "$models/aidreams260k.bin" ] && [ -f "$models/tok512.bin" ]; then
		model=$(cd "$models" && pwd)/aidreams260k.bin
		tokenizer=${tokenizer:-$(cd "$models" && pwd)/tok512.bin}
	else
		dir=$JAL_CACHE/serve
		model=$dir/gen-dim64-l4.bin
		mkdir -p "$dir"
		if [ ! -f "$model" ]; then
			runtime/build/jalrt-gen-model --dim 64 --hidden 172 --layers 4 --heads 4 \
				--kv-heads 4 --vocab 512 --seq 256 --seed 42 -o "$model"
		fi
		if [ -z "$tokenizer" ]; then
			tokenizer=$dir/byte-tokenizer.bin
			[ -f "$tokenizer" ] || tests/serve/serve_test.py --write-byte-tokenizer "$tokenizer"
		fi
		echo "make serve: ../shared/models is absent: serving a seeded random model (its text is noise)"
	fi
fi
[ -f "$model" ] || die "no model at '$model' (MODEL=)"
# A GGUF file carries its vocabulary; a llama2.c checkpoint needs tokenizer.bin.
if [ "$(head -c 4 "$model")" = GGUF ]; then
	[ -z "$tokenizer" ] || [ -f "$tokenizer" ] || die "no tokenizer at '$tokenizer' (TOKENIZER=)"
else
	[ -n "$tokenizer" ] || die "set TOKENIZER= to the model's tokenizer.bin (a GGUF model needs none)"
	[ -f "$tokenizer" ] || die "no tokenizer at '$tokenizer' (TOKENIZER=)"
fi
model=$(realpath "$model")
[ -z "$tokenizer" ] || tokenizer=$(realpath "$tokenizer")

# The port must be free on the host: QEMU binds it for the forward.
if ! /usr/bin/python3 - "$port" <<'PY'
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError as e:
    sys.exit(1)
PY
then
	die "port $port on 127.0.0.1 is already in use$(command -v ss >/dev/null &&
		ss -Hltnp "sport = :$port" 2>/dev/null | sed -n 's/.*users:((\"\([^\"]*\)\".*/ (by \1)/p' | head -n 1); choose another with PORT=N"
fi

cmd=$(printf 'runtime/build/jalrt-serve %q --precision %q --host 0.0.0.0 --port 8080' \
	"$model" "$precision")
[ -n "$tokenizer" ] && cmd+=$(printf ' -z %q' "$tokenizer")
[ -n "${API_KEY:-}" ] && cmd+=$(printf ' --api-key %q' "$API_KEY")
[ -n "${SERVE_ARGS:-}" ] && cmd+=" $SERVE_ARGS"
echo "make serve: booting the guest (Ctrl-C stops it); $(basename "$model"), $precision weights"
# Say when the API answers on the host (the guest's console reaches the
# terminal in blocks, so its own "listening" line may come late).
(
	deadline=$((SECONDS + 1800))
	while kill -0 $$ 2>/dev/null && [ $SECONDS -lt $deadline ]; do
		if curl -fsS -m 5 "http://127.0.0.1:$port/health" >/dev/null 2>&1; then
			name=$(basename "$model")
			echo "make serve: ready: http://127.0.0.1:$port/v1 (model ${name%.*})"
			exit 0
		fi
		sleep 1	# poll interval
	done
) &
exec scripts/vm.sh --timeout 0 --forward "$port:8080" "$cmd"
