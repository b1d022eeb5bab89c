#!/usr/bin/env bash
# Session 3, third queue: the continual sequence with frame-wide context (the pilot's winner), and
# its baselines; started at the end of session 3, resumed by rerunning this command.
set -x
derain train --model rrgnet --config context=true --continual --tasks light,complex,drizzle,storm,downpour \
  --steps 1000 --batch 16 --review-budget 256 --clean ../shared/data/clean --val-clips 8 --log-every 50 \
  --val-every 500 --ckpt-every 250 --out runs/rrgnet-context \
  --compare continual,finetune,joint,specialist >> runs/rrgnet-context.log 2>&1
