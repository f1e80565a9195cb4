#!/bin/sh
# Single-stream decode (tg64) and prefill (pp128) of one 110M-parameter random llama (the shape `make bench` uses)
# in F32 and as `sys2 quantize` writes it in q8_0, q4_0, q6_k and q4_k_m, one thread, all in this one command so
# that the ratios against F32 compare runs on the same machine state. Run from the repository root:
#   sh results/quant_speed/run.sh > results/quant_speed/bench.jsonl
set -e
B=${BUILD:-build}
M=$B/bench-110m.gguf
test -f $M || $B/sys2 init-model -o $M --dim 768 --layers 12 --heads 12 --kv-heads 12 --ff 2048 --vocab 32000 --ctx 1024 >&2
for t in q8_0 q4_0 q6_k q4_k_m; do
  test -f $B/bench-110m-$t.gguf || $B/sys2 quantize $M $B/bench-110m-$t.gguf $t >&2
done
for rep in 1 2; do # interleaved: each type once per round
  for t in f32 q8_0 q4_0 q6_k q4_k_m; do
    f=$M; [ $t = f32 ] || f=$B/bench-110m-$t.gguf
    printf '{"type": "%s", "round": %d, "bench": ' $t $rep
    OPENBLAS_NUM_THREADS=1 $B/sys2 bench -m $f --gen 64 --prompt 128 --repeat 3 --threads 1 --json | tr -d '\n'
    printf '}\n'
  done
done
