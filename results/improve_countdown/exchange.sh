#!/bin/sh
# Issue 16's train-versus-test exchange rate, first points: the models of improve rounds R (policy and value of
# round R, x = that round's cumulative training + data-generating FLOPs in round-RR/round.json) searched with the
# loop's own search (tot-bfs, value scorer) at several budgets on the held-out items the loop evaluates on (the
# first 100 of countdown's test split, seed 1); budget 4,000 is the loop's own eval-search of that round. Run from
# the repository root after the loop of results/improve_countdown/README.md:
#   DIR=/path/to/improve-dir S2=./build/sys2 sh results/improve_countdown/exchange.sh
# Writes results/improve_countdown/exchange/r<R>_<B>.jsonl (resumable).
set -e
S2=${S2:-./build/sys2}
: "${DIR:?set DIR to the improve loop's directory}"
O=results/improve_countdown/exchange
mkdir -p $O
for R in ${ROUNDS:-0 2 4 6}; do
  RR=$(printf %02d $R)
  for B in ${BUDGETS:-1000 2000}; do
    nice -n 5 $S2 run --task countdown --limit 100 --search tot-bfs --scorer value --value $DIR/round-$RR/value.gguf \
      -m $DIR/round-$RR/policy.gguf --budget tokens=$B --seed 1 --threads 1 -q --out $O/r${R}_$B.jsonl
  done
done
