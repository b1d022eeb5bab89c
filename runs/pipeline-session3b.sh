#!/usr/bin/env bash
# Session 3, second queue. The rerun with --task-lr 3e-4 / full replay (runs/rrgnet-continual-v2)
# ended no better than the shipped run (BWT -0.71 vs -0.80, average 28.04 vs 28.49), so its
# fine-tuning baseline was stopped and the CPU goes to the shipped run's missing baseline: the
# per-task specialists (trained from scratch at --lr, so the same recipe whatever --task-lr says;
# the first is the continual run's first task, reused). Everything else in the folder is reused.
set -x
derain train --model rrgnet --continual --tasks light,complex,drizzle,storm,downpour --steps 1000 --batch 16 \
  --review-budget 256 --clean ../shared/data/clean --val-clips 8 --log-every 50 --val-every 500 \
  --ckpt-every 250 --task-lr 1e-3 --replay-fraction 0.5 --out runs/rrgnet-continual \
  --compare continual,finetune,joint,specialist > runs/rrgnet-continual.specialists.log 2>&1
