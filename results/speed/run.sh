#!/bin/sh
# Issue 12's speed table: sys2 beside llama.cpp and llama2.c on the same model files, in one command
# (`sys2 bench --against`: interleaved rounds, medians, a streaming-read probe for the bandwidth bound).
# The model files are made by results/speed/models.sh (outside the repository, $DIR). The other engines are given
# by path; they are built by hand outside the repository (see the README's Speed section). Run from the repository
# root, as `make bench-compare` does:
#   LLAMA_BENCH=.../llama-bench LLAMA_BATCHED_BENCH=.../llama-batched-bench LLAMA2C_RUN=.../run \
#   LLAMA_QUANTIZE=.../llama-quantize sh results/speed/run.sh
# REPEAT (default 3) sets the rounds, THREADS (default 1,2) the thread counts, SHAPES (default "llama110m qwen05b")
# and TYPES (default "f32 q8_0 q4_0 q4_k_m q6_k") the files of the single-stream cells, BRANCH_SHAPES (default
# SHAPES) and BRANCH_TYPES (default "f32 q8_0") those of the 16-branch cells; an engine whose variable is empty is
# left out. Writes
# $OUT.txt (the table, with the command and `uptime` before and after) and $OUT.json (default OUT:
# results/speed/<UTC date and time>).
set -e
B=${BUILD:-build}
DIR=${DIR:-/work/benchmodels}
REPEAT=${REPEAT:-3}
THREADS=${THREADS:-1,2}
SHAPES=${SHAPES:-llama110m qwen05b}
TYPES=${TYPES:-f32 q8_0 q4_0 q4_k_m q6_k}
BRANCH_TYPES=${BRANCH_TYPES:-f32 q8_0}
BRANCH_SHAPES=${BRANCH_SHAPES:-$SHAPES}
SHARED=${SYS2_SHARED:-../shared}
OUT=${OUT:-results/speed/$(date -u +%Y%m%d-%H%M)}
[ -n "$LLAMA_QUANTIZE" ] && DIR=$DIR sh results/speed/models.sh
list() { # list SHAPES TYPES: the files of those shapes in those types, comma-separated
  l=""
  for s in $1; do for t in $2; do l="$l${l:+,}$DIR/$s-$t.gguf"; done; done
  echo "$l"
}
set -- $B/sys2 bench --repeat "$REPEAT" --threads-list "$THREADS" --out "$OUT.json"
[ -n "$LLAMA_BENCH" ] && set -- "$@" --against "llama-bench=$LLAMA_BENCH" --models "$(list "$SHAPES" "$TYPES")"
[ -n "$LLAMA_BATCHED_BENCH" ] && set -- "$@" --against "llama-batched-bench=$LLAMA_BATCHED_BENCH" \
  --branch-models "$(list "$BRANCH_SHAPES" "$BRANCH_TYPES")"
[ -n "$LLAMA2C_RUN" ] && set -- "$@" --against "llama2c=$LLAMA2C_RUN" --ckpt "$SHARED/models/stories260K.bin" \
  -z "$SHARED/models/tok512.bin"
{
  echo "command: $*"
  echo "git: $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- core cli || echo ' (with uncommitted changes)')"
  echo "uptime before: $(uptime)"
  "$@"
  echo "uptime after: $(uptime)"
} | tee "$OUT.txt"
