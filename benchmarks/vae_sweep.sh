#!/usr/bin/env bash
# Issue #14's shipped VAE at <= 92 nats, on a GPU: there a 30-epoch VAE takes seconds, where the 2-core
# CPU takes an hour, so the sizes the CPU could not afford can be tried in one device call. First the
# CPU's best recipe (refine=16, 92.59 nats there) as this machine's own baseline, then one change each.
# Per trial: the training's last epoch (JSON), then `evaluate --iw 10` (the negative ELBO with z
# sampled, and the K=10 bound). Eight trainings of 30 or 60 epochs; an H200 ran a default VAE epoch
# in 0.32 s (benchmarks/RESULTS.md), so minutes, not hours; not yet run on one.
#
#     DIGITTUI_DATA=/path/to/data bash benchmarks/vae_sweep.sh [LOG_DIR]
#
# Needs platformdirs beside torch and rich (gpu.sh says how to carry wheels to a machine without them),
# and MNIST (a lent machine has none: carry the four .gz files, 11 MB, in a folder git ignores).
# The best trial's checkpoint is stripped into LOG_DIR (default: the current folder), the others stay in
# a temporary folder (a device call returns a few files of up to 16 MiB; a channels=64 VAE is larger:
# retrain a winner like it with its command). To try it on a CPU:
# DEVICE=cpu EPOCHS=1 ONLY="r16" (ONLY: the trials to run, by name; EPOCHS: replaces every trial's).
set -uo pipefail
out=${1:-.}
log=$out/vae_sweep.jsonl
export PYTHONUNBUFFERED=1 PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
export DIGITTUI_HOME=$(mktemp -d)  # runs land here, never among yours
device=${DEVICE:-cuda}

trial() {  # NAME EPOCHS OPTION...
    local name=$1 epochs=${EPOCHS:-$2}
    shift 2
    [[ -z ${ONLY:-} || " $ONLY " == *" $name "* ]] || return 0
    local ckpt=$DIGITTUI_HOME/$name.pt
    echo "## $name: --epochs $epochs $*" | tee -a "$log"
    python3 -m digittui train vae --epochs "$epochs" --batch-size 64 --ema 0.999 --device "$device" \
        --require-device --json "$@" -o "$ckpt" | tail -n 1 | tee -a "$log"
    python3 -m digittui evaluate --vae "$ckpt" --iw 10 --device "$device" --require-device --json |
        python3 -c 'import json, sys; print(json.dumps({"trial": sys.argv[1], **json.load(sys.stdin)}))' "$name" |
        tee -a "$log"
}

base=(--model hidden=512 --model refine=16)
trial r16 30 "${base[@]}"                                # the CPU's best, on this machine
trial r16-e60 60 "${base[@]}"                            # twice the epochs
trial b32 30 "${base[@]}" --batch-size 32                # twice the steps (the CPU stopped it at 9 epochs)
trial ch48 30 "${base[@]}" --model channels=48           # wider convolutions, encoder and decoder
trial ch64 30 "${base[@]}" --model channels=64
trial refine32 30 --model hidden=512 --model refine=32   # a wider full-resolution decoder layer
trial h1024 30 --model hidden=1024 --model refine=16     # wider fully connected layers
trial ch64-e60 60 "${base[@]}" --model channels=64       # two changes: the likeliest pair, if each helps

best=$(python3 -c '
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1]) if line.startswith("{\"trial\"")]
print(min(rows, key=lambda r: r["vae_test_loss"])["trial"] if rows else "")' "$log")
if [[ -n $best ]]; then
    python3 -m digittui checkpoint strip "$DIGITTUI_HOME/$best.pt" "$out/vae-$best.pt" &&
        echo "best: $best -> $out/vae-$best.pt" | tee -a "$log"
fi
