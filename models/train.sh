#!/usr/bin/env bash
# train.sh: retrains every shipped model with the exact commands of models/README.md (the model card), then
# measures each one with eval-value / eval-policy. Run from the repository root (make models does):
#     bash models/train.sh            # all models
#     bash models/train.sh game24-value countdown-policy   # some of them
# SYS2 names the binary (default build/sys2); THREADS the threads per run (default 1: one thread makes a run
# bit-identical for its seed). The game24 models' training evaluation reads ToT's 24.csv from $SYS2_SHARED
# (default ../shared). Runs that were cut and resumed with a longer --steps are two commands here, exactly as they
# ran: the first with --stop-at where it was cut, the second with --resume.
set -euo pipefail
SYS2=${SYS2:-build/sys2}
T=${THREADS:-1}
cd "$(dirname "$0")/.."
[ -x "$SYS2" ] || { echo "train.sh: $SYS2 is not built (make build/sys2)" >&2; exit 1; }

want() { [ $# -eq 0 ] && return 0; for m in "${SELECTED[@]}"; do [ "$m" = "$1" ] && return 0; done; return 1; }
SELECTED=("$@")
sel() { if [ ${#SELECTED[@]} -eq 0 ]; then return 0; fi; want "$1"; }

fresh() { rm -f "models/$1.gguf" "models/$1.gguf.opt"; }

if sel game24-value; then
    fresh game24-value
    rm -f models/game24-value.base.gguf models/game24-value.base.gguf.opt
    # the base run: 3000 steps, then resumed to 7000, then to 10000, then to 13000
    "$SYS2" train --task game24 --role value --dim 128 --layers 4 --heads 4 --ff 384 --ctx 48 --steps 3000 \
        --batch 64 --lr 2e-3 --seed 1 --eval-every 250 --eval-items 0 --threads "$T" \
        --out models/game24-value.base.gguf --log models/game24-value.part1.json
    for steps in 7000 10000 13000; do
        "$SYS2" train --task game24 --role value --dim 128 --layers 4 --heads 4 --ff 384 --ctx 48 --steps $steps \
            --batch 64 --lr 2e-3 --seed 1 --eval-every 500 --eval-items 0 --threads "$T" \
            --out models/game24-value.base.gguf --log models/game24-value.part$steps.json --resume
    done
    # fine-tuning from the base: 15000 more steps, another seed (another example stream), a lower peak rate
    "$SYS2" train --task game24 --role value --dim 128 --layers 4 --heads 4 --ff 384 --ctx 48 --steps 15000 \
        --batch 64 --lr 1e-3 --seed 2 --eval-every 1000 --eval-items 0 --threads "$T" \
        --init models/game24-value.base.gguf --out models/game24-value.gguf --log models/game24-value.json
    rm -f models/game24-value.base.gguf models/game24-value.base.gguf.opt
    "$SYS2" eval-value --task game24 -m models/game24-value.gguf --n 2000 --threads "$T"
    "$SYS2" eval-value --task game24 --split tot -m models/game24-value.gguf --n 1000 --threads "$T"
fi

if sel game24-policy; then
    fresh game24-policy
    rm -f models/game24-policy.base.gguf models/game24-policy.base.gguf.opt
    # the base run: 2400-step schedule stopped after its step-1400 checkpoint, then resumed to 3200, then to 4400
    "$SYS2" train --task game24 --role policy --dim 128 --layers 4 --heads 4 --ff 512 --ctx 160 --steps 2400 \
        --batch 32 --lr 2e-3 --seed 1 --eval-every 200 --eval-items 32 --threads "$T" --stop-at 1400 \
        --out models/game24-policy.base.gguf --log models/game24-policy.part1.json
    "$SYS2" train --task game24 --role policy --dim 128 --layers 4 --heads 4 --ff 512 --ctx 160 --steps 3200 \
        --batch 32 --lr 2e-3 --seed 1 --eval-every 200 --eval-items 32 --threads "$T" \
        --out models/game24-policy.base.gguf --log models/game24-policy.part2.json --resume
    "$SYS2" train --task game24 --role policy --dim 128 --layers 4 --heads 4 --ff 512 --ctx 160 --steps 4400 \
        --batch 32 --lr 2e-3 --seed 1 --eval-every 200 --eval-items 32 --threads "$T" \
        --out models/game24-policy.base.gguf --log models/game24-policy.part3.json --resume
    # fine-tuning from the base: 5000 more steps, another seed (another example stream), a lower peak rate
    "$SYS2" train --task game24 --role policy --dim 128 --layers 4 --heads 4 --ff 512 --ctx 160 --steps 5000 \
        --batch 32 --lr 1e-3 --seed 2 --eval-every 500 --eval-items 32 --threads "$T" \
        --init models/game24-policy.base.gguf --out models/game24-policy.gguf --log models/game24-policy.json
    rm -f models/game24-policy.base.gguf models/game24-policy.base.gguf.opt
    "$SYS2" eval-policy --task game24 -m models/game24-policy.gguf --n 200 --threads "$T"
    "$SYS2" eval-policy --task game24 --split tot -m models/game24-policy.gguf --n 100 --threads "$T"
fi

if sel countdown-policy; then
    fresh countdown-policy
    "$SYS2" train --task countdown --role policy --dim 128 --layers 4 --heads 4 --ff 512 --ctx 176 --steps 1000 \
        --batch 32 --lr 2e-3 --seed 1 --eval-every 250 --eval-items 32 --threads "$T" \
        --out models/countdown-policy.gguf --log models/countdown-policy.part1.json
    "$SYS2" train --task countdown --role policy --dim 128 --layers 4 --heads 4 --ff 512 --ctx 176 --steps 2000 \
        --batch 32 --lr 2e-3 --seed 1 --eval-every 250 --eval-items 32 --threads "$T" \
        --out models/countdown-policy.gguf --log models/countdown-policy.json --resume
    "$SYS2" eval-policy --task countdown -m models/countdown-policy.gguf --n 100 --threads "$T"
fi

if sel arith-policy; then
    fresh arith-policy
    "$SYS2" train --task arith --role policy --dim 128 --layers 4 --heads 4 --ff 512 --ctx 96 --steps 1500 \
        --batch 32 --lr 2e-3 --seed 1 --eval-every 250 --eval-items 32 --threads "$T" \
        --out models/arith-policy.gguf --log models/arith-policy.json
    "$SYS2" eval-policy --task arith -m models/arith-policy.gguf --n 100 --threads "$T"
fi

if sel listprog-policy; then
    fresh listprog-policy
    "$SYS2" train --task listprog --role policy --dim 128 --layers 4 --heads 4 --ff 512 --ctx 320 --steps 800 \
        --batch 16 --lr 2e-3 --seed 1 --eval-every 200 --eval-items 32 --threads "$T" \
        --out models/listprog-policy.gguf --log models/listprog-policy.part1.json
    "$SYS2" train --task listprog --role policy --dim 128 --layers 4 --heads 4 --ff 512 --ctx 320 --steps 1600 \
        --batch 16 --lr 2e-3 --seed 1 --eval-every 200 --eval-items 32 --threads "$T" \
        --out models/listprog-policy.gguf --log models/listprog-policy.json --resume
    "$SYS2" eval-policy --task listprog -m models/listprog-policy.gguf --n 100 --threads "$T"
fi
if sel integrate-policy; then
    fresh integrate-policy
    # a 6000-step schedule to its step-3000 checkpoint, then resumed with --steps 4000 (the shorter schedule from
    # there: the session's wall clock, not the CPU budget, set it); 3,599 CPU s in all
    "$SYS2" train --task integrate --role policy --dim 192 --layers 4 --heads 4 --ff 768 --ctx 144 --steps 6000 \
        --batch 32 --lr 2e-3 --seed 1 --eval-every 1000 --eval-items 32 --split dev --threads "$T" --stop-at 3000 \
        --out models/integrate-policy.gguf
    "$SYS2" train --task integrate --role policy --dim 192 --layers 4 --heads 4 --ff 768 --ctx 144 --steps 4000 \
        --batch 32 --lr 2e-3 --seed 1 --eval-every 500 --eval-items 32 --split dev --threads "$T" --resume \
        --out models/integrate-policy.gguf --log models/integrate-policy.json
    "$SYS2" eval-policy --task integrate -m models/integrate-policy.gguf --n 100 --threads "$T"
fi
rm -f models/*.gguf.opt
