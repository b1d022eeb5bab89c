#!/usr/bin/env bash
# Session 3's training queue (nohup; one job at a time on the 2-core CPU): the continual sequence
# with the new defaults (--task-lr 3e-4, --replay-fraction 1.0) and every baseline. The first task
# (light, lr 1e-3) and joint training (lr 1e-3) are the same recipe as runs/rrgnet-continual, so
# their finished checkpoints were copied in; the lr check refuses them if they did not match.
set -x
derain train --model rrgnet --continual --tasks light,complex,drizzle,storm,downpour --steps 1000 --batch 16 \
  --review-budget 256 --clean ../shared/data/clean --val-clips 8 --log-every 50 --val-every 500 \
  --ckpt-every 250 --out runs/rrgnet-continual-v2 \
  --compare continual,finetune,joint,specialist > runs/rrgnet-continual-v2.log 2>&1
