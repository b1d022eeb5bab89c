#!/usr/bin/env bash
# Session 2's queue after the continual run: ship it, measure it, then the baselines.
set -x
while kill -0 "$1" 2>/dev/null; do sleep 15; done
derain train --export runs/rrgnet-continual-w32/continual/4-downpour/last.pt \
  --to src/derain/weights/rrgnet.safetensors --card-notes docs/cards/rrgnet.notes.md
chmod 644 src/derain/weights/*.safetensors
python docs/figures/results.py --clean ../shared/data/clean > runs/results-session2.log 2>&1
python docs/figures/real.py --video ../shared/data/real/yard.mp4 --frames 40,100 --models rrgnet,j4rnet-single,j4rnet
python -m benchmarks.bench_models > runs/bench-models-session2.log 2>&1
python -m benchmarks.bench_run > runs/bench-run-session2.log 2>&1
derain train --model rrgnet --continual --tasks light,complex,drizzle,storm,downpour --steps 1000 --batch 16 \
  --review-budget 256 --clean ../shared/data/clean --val-clips 8 --log-every 50 --val-every 500 \
  --ckpt-every 250 --out runs/rrgnet-continual-w32 --compare continual,finetune,joint,specialist \
  > runs/rrgnet-continual-w32.baselines.log 2>&1
