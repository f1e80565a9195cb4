#!/bin/sh
# A stand-in for another engine's benchmark program in the tests of `sys2 bench --against` (tests/test_bench.c):
# prints the output recorded in tests/data/ (FAKE_ENGINE_DATA) of the program its arguments belong to, so that
# the table's "other" column is known in advance. It appends its arguments to FAKE_ENGINE_LOG when that is set,
# and with FAKE_ENGINE_FAIL set it fails as a real engine does on a bad file (a message, status 1).
D=${FAKE_ENGINE_DATA:?}
[ -n "$FAKE_ENGINE_LOG" ] && echo "$*" >> "$FAKE_ENGINE_LOG"
if [ -n "$FAKE_ENGINE_FAIL" ]; then echo "main: error: failed to load model" >&2; exit 1; fi
case " $* " in
  *" -npp "*) cat "$D/batched_bench_stories260K.jsonl" ;;                  # llama-batched-bench
  *" -z "*" -n 64 "*) cat "$D/llama2c_stories260K_n64.txt" >&2 ;;          # llama2.c run (stderr)
  *" -z "*" -n 256 "*) cat "$D/llama2c_stories260K_n256.txt" >&2 ;;
  *) echo "load_backend: loaded CPU backend" >&2; cat "$D/llama_bench_stories260K.json" ;; # llama-bench
esac
