#!/usr/bin/env bash
# Every GPU figure of benchmarks/RESULTS.md in one go (about 5 minutes on an H100 or H200):
#
#     DIGITTUI_DATA=/path/to/data bash benchmarks/gpu.sh [LOG_DIR]
#
# Run from the repository root. Each benchmark's JSON line is printed and appended to
# LOG_DIR/gpu.jsonl (default: the current folder); the shipped-recipe runs print one line per epoch.
# Checkpoints go to a temporary folder, never to yours.
#
# It needs torch with CUDA, matplotlib and rich, plus textual for tui_lag.py. On a GPU machine that
# has no textual and no network (the lent ones), bring the wheels along, then install them aside:
#     pip download -d .whl --no-deps textual textual-plotext plotext rich markdown-it-py \
#         mdit-py-plugins linkify-it-py uc-micro-py platformdirs           # here, online
#     pip install --no-index --no-deps --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site
set -uo pipefail
log=${1:-.}/gpu.jsonl
export PYTHONUNBUFFERED=1 PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
export DIGITTUI_HOME=$(mktemp -d)  # the shipped weights, not a trained checkpoint of yours
run() { echo "## $*" | tee -a "$log"; "$@" 2>&1 | tee -a "$log"; }

nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee -a "$log"
python3 -c 'import torch, sys; print("python", sys.version.split()[0], "torch", torch.__version__)' | tee -a "$log"
run python3 -m pytest -q -p no:cacheprovider tests/test_gpu.py
# CNN: the default recipe against pytorch/examples, then a GPU-sized batch.
run python3 benchmarks/train_speed.py --device cuda --baseline-epochs 3
run python3 benchmarks/train_speed.py --device cuda --batch-size 512 --lr 8e-3 --baseline-epochs 0
# What the 1 s target is up against: one-time start-up against the steps, at that batch.
run python3 benchmarks/startup_cost.py --device cuda --batch-size 512 --lr 8e-3
run python3 benchmarks/startup_cost.py --device cuda --batch-size 512 --lr 8e-3 --no-cudnn-benchmark
# The shipped CNN recipe (README "Shipped weights").
run python3 -m digittui train cnn --device cuda --json --epochs 24 --augment --ema 0.999 --model conv3=128 \
    --model hidden=256 --output "$DIGITTUI_HOME/ship.pt"
# VAE: the default recipe against pytorch/examples.
run python3 benchmarks/vae_speed.py --device cuda --epochs 2
# The first VAE epoch (1.02 s on the H200) carries the start-up: with and without cuDNN's timing.
run python3 benchmarks/startup_cost.py --device cuda --kind vae --epochs 1
run python3 benchmarks/startup_cost.py --device cuda --kind vae --epochs 1 --no-cudnn-benchmark
# Where a step's time goes, eager and as a CUDA graph.
run python3 benchmarks/step_cost.py --device cuda --batch-size 128
# Guided generation: 10,000 samples.
run python3 benchmarks/generation_speed.py --device cuda --count 1000
run python3 benchmarks/tui_lag.py --seconds 15 --device cuda
