#!/usr/bin/env bash
# Session 2's queue (after the width-32 attempt was stopped): measure the shipped models, then the
# continual run's baselines with the settings that run used (lr 1e-3 for every task, replay 0.5).
set -x
python docs/figures/results.py --clean ../shared/data/clean > runs/results-session2.log 2>&1
python docs/figures/real.py --video ../shared/data/real/yard.mp4 --frames 40,100 --models rrgnet,j4rnet-single,j4rnet
python -m benchmarks.bench_models > runs/bench-models-session2.log 2>&1
python -m benchmarks.bench_run > runs/bench-run-session2.log 2>&1
derain train --model rrgnet --continual --tasks light,complex,drizzle,storm,downpour --steps 1000 --batch 16 \
  --review-budget 256 --clean ../shared/data/clean --val-clips 8 --log-every 50 --val-every 500 \
  --ckpt-every 250 --task-lr 1e-3 --replay-fraction 0.5 --out runs/rrgnet-continual \
  --compare continual,finetune,joint > runs/rrgnet-continual.baselines.log 2>&1
python docs/figures/results.py --clean ../shared/data/clean --sections forgetting
