"""Where a short training run's time goes: one-time start-up against the steps themselves.

`train_s` (time from the first training step to an epoch's end) of a 2-epoch run on an H200 was
1.70 s at batch 512, of which the 234 steps took about 0.25 s. This runs digittui.train three times
in one process and times every event it sends, to split the rest:

    cold    the first run in the process, a Progress event after every step (so each step is
            timed; each reading waits for the device)
    warm    the same run again: kernels loaded, cuDNN's choices cached, libraries initialised
    plain   the same again with the default reporting (a reading every 20 steps): its train_s is
            what `train --json` and train_speed.py report for a warm process

Per run: train_s at each epoch's end; the first step, the next 4 (the CUDA graph's warm-up steps
and its capture) and the median step, in ms; and the epoch-end work (test pass, checkpoint save)
per epoch, in ms; the test metric per epoch. one_time_s = cold - warm train_s: what a process pays
once. Prints a table and one JSON line.

    DIGITTUI_DATA=/path/to/data python benchmarks/startup_cost.py [--device cuda] [--batch-size 512 --lr 8e-3]
    DIGITTUI_DATA=/path/to/data python benchmarks/startup_cost.py --device cuda --kind vae --epochs 1
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from digittui.paths import data_dir
from digittui.events import EpochEnd, Progress
from digittui.train import TrainConfig, train


def timed_run(config: TrainConfig, output: Path) -> dict:
    stamps: list[tuple[float, object]] = []
    train(config, data_dir(), output, on_event=lambda e: stamps.append((time.perf_counter(), e)))
    ends = [(t, e) for t, e in stamps if isinstance(e, EpochEnd)]
    start = ends[0][0] - ends[0][1].train_s  # the loop's own clock starts at its first step
    steps = [t for t, e in stamps if isinstance(e, Progress)]
    step_ms = [(b - a) * 1000 for a, b in zip([start] + steps, steps)]
    epoch_end_ms = []
    for t, e in ends:  # from the epoch's last step to its EpochEnd: test pass and save
        last_step = max(s for s in steps if s < t)
        epoch_end_ms.append(round((t - last_step) * 1000, 1))
    metric = "test_accuracy" if config.kind == "cnn" else "test_loss"
    result = {"train_s": [round(e.train_s, 3) for _, e in ends], "epoch_end_ms": epoch_end_ms,
              metric: [e.metrics[metric] for _, e in ends]}
    if config.log_every == 1:  # one Progress per step: each step timed
        result.update(first_step_ms=round(step_ms[0], 1), next_4_steps_ms=[round(s, 1) for s in step_ms[1:5]],
                      median_step_ms=round(statistics.median(step_ms[5:] or step_ms), 3))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu", help="cpu or cuda (default: cpu)")
    parser.add_argument("--kind", default="cnn", choices=("cnn", "vae"), help="which model (default: cnn)")
    parser.add_argument("--epochs", type=int, default=2, help="epochs per run (default: 2)")
    parser.add_argument("--batch-size", type=int, default=0, help="batch size (default: the kind's, 128)")
    parser.add_argument("--lr", type=float, default=0.0, help="peak learning rate (default: the kind's)")
    parser.add_argument("--no-cudnn-benchmark", dest="cudnn_benchmark", action="store_false",
                        help="let cuDNN's heuristics pick kernels instead of timing them (default: timed)")
    args = parser.parse_args()
    base = dict(kind=args.kind, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, device=args.device,
                cudnn_benchmark=args.cudnn_benchmark)
    runs = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, log_every in (("cold", 1), ("warm", 1), ("plain", 20)):
            runs[name] = timed_run(TrainConfig(**base, log_every=log_every), Path(tmp) / f"{name}.pt")
    print(f"{'run':6} {'train_s per epoch':>20} {'first step':>11} {'next 4 steps (ms)':>26} "
          f"{'median step':>12} {'epoch end (ms)':>16}")
    for name, r in runs.items():
        print(f"{name:6} {str(r['train_s']):>20} {r.get('first_step_ms', '-'):>11} "
              f"{str(r.get('next_4_steps_ms', '-')):>26} {r.get('median_step_ms', '-'):>12} {str(r['epoch_end_ms']):>16}")
    print(json.dumps({"benchmark": "startup_cost", "kind": args.kind, "device": args.device,
                      "options": {k: v for k, v in base.items() if k not in ("kind", "device")},
                      **runs, "one_time_s": round(runs["cold"]["train_s"][-1] - runs["warm"]["train_s"][-1], 3)}))


if __name__ == "__main__":
    main()
