#!/bin/sh
# Issue 15's compute-optimal experiment, second half: the strategies whose paper defaults finish below the budget
# (beam, DVTS, particle filtering, REBASE and tot-bfs stop when their fixed width is done; best-of-N at n = 100)
# made wide enough to spend it. For a strategy whose default run at the largest budget (16,000 tokens, where
# nothing binds) spent C tokens per item, its width parameter at budget B is the default's times B / C, rounded,
# wherever B > 1.25 C (bon: n; beam: width; dvts, particle, rebase: n, dvts's a multiple of its width 4; tot-bfs:
# b). Beam cannot use more than expand^depth beams (1, 4, 16, 64 on game24's levels). The rule is fixed before
# any of these runs and uses only the default runs' cost, never their accuracy. MCTS (iters = 1000) always spends
# its budget and is not rerun. Run after results/compute_optimal.sh, from the repository root:
#   S2=./build/sys2 sh results/compute_optimal_scaled.sh          (TASKS=game24 or TASKS=countdown for one)
# Writes results/compute_optimal_<task>_scaled/*.jsonl (resumable); results/compute_optimal_table.py makes the
# tables and the plot from both directories.
set -e
S2=${S2:-./build/sys2}
# the wide runs keep up to a few hundred sequences alive at once: room for them (the default holds 64)
KV_MB=${KV_MB:-1024}
LIMIT=${LIMIT:-40}
SHARD=${SHARD:-0/12}
TASKS=${TASKS:-game24 countdown}
for task in $TASKS; do
  D=results/compute_optimal_$task
  O=${D}_scaled
  mkdir -p $O
  if [ $task = game24 ]; then
    set -- --task game24 --split ranked --shard $SHARD -m models/game24-policy.gguf --value models/game24-value.gguf \
      --scorer value
    sc=value
  else
    set -- --task countdown --limit $LIMIT -m models/countdown-policy.gguf --scorer logprob
    sc=logprob
  fi
  # strategy file-label param default [extra]
  for spec in bon:bon:n:100: bon:bon_select_weighted:n:100:select=weighted beam:beam:width:4: dvts:dvts:n:16: \
              particle:particle:n:16: rebase:rebase:n:16: tot-bfs:tot-bfs:b:5:; do
    s=$(echo $spec | cut -d: -f1); lab=$(echo $spec | cut -d: -f2); key=$(echo $spec | cut -d: -f3)
    def=$(echo $spec | cut -d: -f4); extra=$(echo $spec | cut -d: -f5)
    C=$(python3 -c "import json,sys; L=[json.loads(l) for l in open(sys.argv[1])][1:]; \
print(sum(x['tokens'] for x in L)/len(L))" $D/${lab}__${sc}__tokens_16000.jsonl)
    for B in 2000 4000 8000 16000; do
      # dvts: n a multiple of its width (4)
      m=1; [ $s != dvts ] || m=4
      w=$(python3 -c "import sys; B,C,d,m=float(sys.argv[1]),float(sys.argv[2]),int(sys.argv[3]),int(sys.argv[4]); \
print(max(d, m*round(d*B/C/m)) if B > 1.25*C else 0)" $B $C $def $m)
      [ "$w" != 0 ] || continue
      out=$O/${lab}__${key}_${w}__tokens_$B.jsonl
      nice -n 10 $S2 run "$@" --search $s --param $key=$w ${extra:+--param $extra} --budget tokens=$B --seed 1 \
        --kv-mb $KV_MB --threads 1 -q --out $out
    done
  done
done
