#!/bin/sh
# The headline experiments (issue 6), with the shipped models. Run from the repository root after `make`:
#   sh results/run.sh            # every experiment below; each is resumable (the same command skips finished items)
# Each experiment is one `sys2 sweep` into results/<name>/ (one JSONL file per cell, first line = the full
# configuration with the models' hashes), then a Markdown table (results/<name>.md) and a plot of accuracy against
# tokens per item (results/<name>/accuracy_vs_tokens.png/.svg). THREADS (default 2) items run in parallel.
set -e
S2=./build/sys2
T=${THREADS:-2}
P=models/game24-policy.gguf
V=models/game24-value.gguf
G24="io,cot,sc:n=10,sc:n=100,bon:n=10,beam,tot-bfs:b=1,tot-bfs:b=5,tot-bfs:b=5:k=8,mcts:iters=32,mcts:iters=128,best-first"

# 0. Choosing tot-bfs's k (thoughts per state) on the dev split: the 136 held-out puzzles that are not ToT's 100
#    (never trained on, never the test set). k = 16 became the default from this table.
$S2 sweep --task game24 --split dev -m $P --value $V \
  --searches tot-bfs:k=8,tot-bfs:k=12,tot-bfs:k=16,tot-bfs:k=24,tot-bfs:k=8:retries=2,tot-bfs:k=16:retries=1 \
  --scorers value --seed 1 --threads $T -q --dir results/game24_dev --md > results/game24_dev.md
# 1. Game of 24, ToT's 100 test puzzles (ranks 901-1000), every strategy, the value model as scorer.
$S2 sweep --task game24 --split tot -m $P --value $V --searches $G24 --scorers value --seed 1 --threads $T -q \
  --dir results/game24_tot --md --plot results/game24_tot/accuracy_vs_tokens > results/game24_tot.md
# 2. The same on the generated held-out split (ToT's 100 and the 136 puzzles whose id hashes to 0 mod 10).
$S2 sweep --task game24 --split heldout -m $P --value $V --searches $G24 --scorers value --seed 1 --threads $T -q \
  --dir results/game24_heldout --md --plot results/game24_heldout/accuracy_vs_tokens > results/game24_heldout.md
# 3. Matched compute: tot-bfs, mcts and self-consistency under token budgets per puzzle.
$S2 sweep --task game24 --split tot -m $P --value $V --searches tot-bfs:b=5,mcts:iters=128,sc:n=100,beam \
  --scorers value --budgets tokens=500,tokens=1000,tokens=2000 --seed 1 --threads $T -q \
  --dir results/game24_tot_budgets --md --plot results/game24_tot_budgets/accuracy_vs_tokens > results/game24_tot_budgets.md
# 4. Ablations: without the rules check (legal=0), the policy's own log-probs as scorer, and the exact oracle
#    as scorer (an upper bound, never a default).
$S2 sweep --task game24 --split tot -m $P --value $V --searches tot-bfs:b=5,sc:n=100,mcts:iters=128 --scorers value \
  --param legal=0 --seed 1 --threads $T -q --dir results/game24_tot_nolegal --md > results/game24_tot_nolegal.md
$S2 sweep --task game24 --split tot -m $P --searches tot-bfs:b=5,beam,mcts:iters=128 --scorers logprob,oracle \
  --seed 1 --threads $T -q --dir results/game24_tot_scorers --md > results/game24_tot_scorers.md
# 5. Countdown (4 numbers) and listprog: their held-out test items, with their own policies (no value models:
#    the policy's log-probs score).
for task in countdown listprog; do
  $S2 sweep --task $task -m models/$task-policy.gguf --searches io,cot,sc:n=10,beam,tot-bfs:b=5,mcts:iters=32 \
    --scorers logprob --seed 1 --threads $T -q --dir results/$task --md \
    --plot results/$task/accuracy_vs_tokens > results/$task.md
done
# 6. Scaling curves from one sample set (issue 14): self-consistency with 100 samples per item keeps every sample
#    in its line; report --curves gives pass@k, majority@k and weighted best-of-N@k for k = 1..100 from the file.
$S2 run --task game24 --split tot --search sc --param n=100 --scorer value -m $P --value $V --seed 1 -q \
  --out results/curves/game24_tot_sc100.jsonl
$S2 run --task countdown --search sc --param n=100 --scorer logprob -m models/countdown-policy.gguf --seed 1 -q \
  --out results/curves/countdown_sc100.jsonl
for c in game24_tot_sc100 countdown_sc100; do
  $S2 report --curves --md --plot results/curves/$c results/curves/$c.jsonl > results/curves/$c.md
done
# 7. Paired comparisons (report --compare): tot-bfs b=5 against MCTS-128 and against SC-100 on ToT's puzzles, each
#    side's accuracy at the other's tokens from its budget points (or, for SC, along its majority@k curve).
TB="results/game24_tot/tot-bfs_b_5__value__none.jsonl,results/game24_tot_budgets/tot-bfs_b_5__value__tokens_500.jsonl"
TB="$TB,results/game24_tot_budgets/tot-bfs_b_5__value__tokens_1000.jsonl,results/game24_tot_budgets/tot-bfs_b_5__value__tokens_2000.jsonl"
MC="results/game24_tot/mcts_iters_128__value__none.jsonl,results/game24_tot_budgets/mcts_iters_128__value__tokens_500.jsonl"
MC="$MC,results/game24_tot_budgets/mcts_iters_128__value__tokens_1000.jsonl,results/game24_tot_budgets/mcts_iters_128__value__tokens_2000.jsonl"
mkdir -p results/compare
$S2 report --compare --md $TB $MC > results/compare/game24_tot_totbfs_vs_mcts128.md
$S2 report --compare --md $TB results/curves/game24_tot_sc100.jsonl > results/compare/game24_tot_totbfs_vs_sc100.md
# 8. The tree viewer (sys2 view): traced runs of tot-bfs and MCTS on ToT's first puzzles; puzzle 902's trees as HTML.
$S2 run --task game24 --split tot --limit 3 --search tot-bfs --scorer value -m $P --value $V --seed 1 -q --trace \
  --out results/view/game24_tot_totbfs_trace.jsonl
$S2 run --task game24 --split tot --limit 2 --search mcts --scorer value -m $P --value $V --seed 1 -q --trace \
  --out results/view/game24_tot_mcts_trace.jsonl
for s in totbfs mcts; do
  $S2 view results/view/game24_tot_${s}_trace.jsonl --item 902 -o results/view/game24_902_$s.html
done
