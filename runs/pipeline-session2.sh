#!/usr/bin/env bash
# Session 2's training queue (one job at a time on the 2-core CPU), run with nohup.
set -x
J4R_PID=$1
while kill -0 "$J4R_PID" 2>/dev/null; do sleep 20; done
derain train --export runs/j4rnet-stage2/last.pt --to runs/j4rnet-stage2/j4rnet.safetensors \
  --card-notes docs/cards/j4rnet.notes.md
COMMON="--model rrgnet --continual --tasks light,complex,drizzle,storm,downpour --steps 1000 --batch 16
  --review-budget 256 --clean ../shared/data/clean --val-clips 8 --log-every 50 --val-every 500
  --ckpt-every 250 --out runs/rrgnet-continual-w32"
derain train $COMMON --compare continual > runs/rrgnet-continual-w32.log 2>&1
derain train $COMMON --compare continual,finetune,joint,specialist > runs/rrgnet-continual-w32.baselines.log 2>&1
