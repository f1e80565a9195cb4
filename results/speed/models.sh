#!/bin/sh
# Makes the benchmark model files of issue 12 in $DIR (default /work/benchmodels, outside the repository: they are
# large and never committed): random weights from `sys2 init-model` in F32 for the 110M Llama shape (stories110M:
# dim 768, 12 layers, 12 heads, ff 2048, vocab 32000) and the Qwen2.5-0.5B shape (qwen2, dim 896, 24 layers,
# 14 heads, 2 KV heads, ff 4864, vocab 151936, tied embeddings), then Q8_0, Q4_0, Q4_K_M and Q6_K made from that
# F32 file by llama.cpp's llama-quantize ($LLAMA_QUANTIZE). Files already there are kept.
#   LLAMA_QUANTIZE=/path/to/llama-quantize sh results/speed/models.sh
set -e
B=${BUILD:-build}
DIR=${DIR:-/work/benchmodels}
Q=${LLAMA_QUANTIZE:?set LLAMA_QUANTIZE to llama.cpp\'s llama-quantize}
mkdir -p "$DIR"
[ -f "$DIR/llama110m-f32.gguf" ] || $B/sys2 init-model -o "$DIR/llama110m-f32.gguf" --dim 768 --layers 12 \
  --heads 12 --kv-heads 12 --ff 2048 --vocab 32000 --ctx 1024 >&2
[ -f "$DIR/qwen05b-f32.gguf" ] || $B/sys2 init-model -o "$DIR/qwen05b-f32.gguf" --arch qwen2 --dim 896 --layers 24 \
  --heads 14 --kv-heads 2 --ff 4864 --vocab 151936 --ctx 1024 >&2
for m in llama110m qwen05b; do
  for t in Q8_0 Q4_0 Q4_K_M Q6_K; do
    lt=$(echo $t | tr 'A-Z' 'a-z')
    [ -f "$DIR/$m-$lt.gguf" ] || "$Q" "$DIR/$m-f32.gguf" "$DIR/$m-$lt.gguf" $t 1 >&2
  done
done
ls -l "$DIR" >&2
