#!/bin/sh
# Issue 18's done-when measurement: the same searches on ToT's 100 game24 puzzles, locally and through a real
# llama-server serving the shipped policy (the value model stays local: llama-server has no prompt log-probs).
# Not part of `make test`. Needs a llama-server built by hand outside the repository, e.g.
#   cmake -B build -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON -DLLAMA_CURL=OFF -DGGML_BLAS=OFF && \
#   cmake --build build --target llama-server
# Run from the repository root after `make`:
#   LLAMA_SERVER=/path/to/llama-server sh results/http_llama/run.sh
# LIMIT=N runs the first N puzzles only, CELLS="search:scorer:params ..." a subset of the cells.
# Writes results/http_llama/{local,llama}/*.jsonl (resumable), results/http_llama/{local,llama}.md and
# results/http_llama/compare-llama.txt (io answers equal, accuracy and tokens per item side by side). llama-server.log
# (its request log, 28 MB for the six cells) is ignored, not committed.
# SEED=S runs the cells with run seed S (default 1) into <cell>_seedS.jsonl: mcts was run with seeds 1, 2 and 3 on
# both sides (SEED=2 CELLS=mcts:value: ..., then SEED=3), and the comparison pools each side's seeds.
set -e
S2=${S2:-./build/sys2}
D=results/http_llama
P=models/game24-policy.gguf
V=models/game24-value.gguf
PORT=${PORT:-18418}
T=${THREADS:-2}
LIMIT=${LIMIT:-0}
SEED=${SEED:-1}
# SERVER=sys2 runs the remote half through `sys2 serve` instead (into $D/sys2serve): the same path, another server
R=llama
if [ "${SERVER:-llama}" = sys2 ]; then
  R=sys2serve
  mkdir -p $D/local $D/$R
  $S2 serve -m $P --port $PORT --parallel 16 --threads 1 > $D/$R-server.log 2>&1 &
else
  : "${LLAMA_SERVER:?set LLAMA_SERVER to a llama-server binary}"
  mkdir -p $D/local $D/$R
  # 4 slots of the policy's 160-token context (loopback only), one thread: the machine has 2 shared cores
  "$LLAMA_SERVER" -m $P -c 640 -np 4 --host 127.0.0.1 --port $PORT -t 1 --no-webui > $D/llama-server.log 2>&1 &
fi
SERVER=$!
trap 'kill $SERVER 2>/dev/null' EXIT INT TERM
i=0
until curl -sf http://127.0.0.1:$PORT/health >/dev/null; do i=$((i+1)); [ $i -lt 120 ] || exit 1; sleep 0.5; done
[ $R = sys2serve ] || curl -s http://127.0.0.1:$PORT/props > $D/llama-props.json
# search:scorer:params, as results/run.sh runs them (sc with n=8, best-of-N with n=10)
CELLS=${CELLS:-io:none: cot:none: sc:value:n=8 bon:value:n=10 tot-bfs:value: mcts:value:}
for cell in $CELLS; do
  s=${cell%%:*}; rest=${cell#*:}; sc=${rest%%:*}; par=${rest#*:}
  name=$s${par:+_$par}
  [ "$SEED" = 1 ] || name=${name}_seed$SEED
  set -- --task game24 --split tot --search $s --seed $SEED --threads $T
  [ "$sc" = none ] || set -- "$@" --scorer $sc --value $V
  [ -z "$par" ] || set -- "$@" --param $par
  [ "$LIMIT" = 0 ] || set -- "$@" --limit $LIMIT
  $S2 run "$@" -m $P --out $D/local/$name.jsonl -q
  $S2 run "$@" -m http://127.0.0.1:$PORT/v1 --out $D/$R/$name.jsonl -q
done
$S2 report --md $D/local/*.jsonl > $D/local.md
$S2 report --md $D/$R/*.jsonl > $D/$R.md
python3 - "$D" "$R" > $D/compare-$R.txt <<'PY'
import json, sys, glob, os
d, r = sys.argv[1], sys.argv[2]
def lines(p):
    L = [json.loads(l) for l in open(p)]
    return L[0], {x["id"]: x for x in L[1:]}
print("%-14s %6s %6s %9s %9s %7s" % ("cell", "local", r, "tok/item", "tok/item", "diff"))
for p in sorted(glob.glob(d + "/local/*.jsonl")):
    name = os.path.basename(p)[:-6]
    q = d + "/" + r + "/" + name + ".jsonl"
    if not os.path.exists(q): continue
    _, a = lines(p); hb, b = lines(q)
    ids = [i for i in a if i in b]
    acc = lambda m: 100.0 * sum(1 for i in ids if m[i].get("correct")) / max(1, len(ids))
    tok = lambda m: sum(m[i].get("tokens", 0) for i in ids) / max(1, len(ids))
    ta, tb = tok(a), tok(b)
    print("%-14s %5.0f%% %5.0f%% %9.1f %9.1f %+6.1f%%" % (name, acc(a), acc(b), ta, tb, 100 * (tb - ta) / ta if ta else 0))
    if name == "io":
        same = sum(1 for i in ids if a[i].get("answer") == b[i].get("answer"))
        print("io: the same answer on %d of %d puzzles" % (same, len(ids)))
    errs = sum(1 for i in ids if b[i].get("status") == "error")
    if errs: print("  %s: %d items errored remotely" % (name, errs))
# a cell run with several seeds on both sides: each side's items of every seed pooled
cells = {}
for p in sorted(glob.glob(d + "/local/*_seed*.jsonl")):
    base = os.path.basename(p)[:-6].rsplit("_seed", 1)[0]
    cells.setdefault(base, []).append(os.path.basename(p))
for base, names in sorted(cells.items()):
    names = [base + ".jsonl"] + names
    if not all(os.path.exists(d + "/" + r + "/" + n) for n in names): continue
    a = [x for n in names for x in lines(d + "/local/" + n)[1].values()]
    b = [x for n in names for x in lines(d + "/" + r + "/" + n)[1].values()]
    ta = sum(x.get("tokens", 0) for x in a) / len(a); tb = sum(x.get("tokens", 0) for x in b) / len(b)
    pa = 100.0 * sum(1 for x in a if x.get("correct")) / len(a); pb = 100.0 * sum(1 for x in b if x.get("correct")) / len(b)
    print("%-14s %5.0f%% %5.0f%% %9.1f %9.1f %+6.1f%%  (%d seeds pooled, %d items a side)" %
          (base + " x" + str(len(names)), pa, pb, ta, tb, 100 * (tb - ta) / ta, len(names), len(a)))
print("server:", json.dumps(hb["sys2_run"].get("server")))
PY
cat $D/compare-$R.txt
