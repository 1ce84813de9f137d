"""How good is guided generation? 64 samples of each digit 0-9 in one batched run per seed, then
(benchmarks/generation_metrics.py defines each figure):

    agreement  the share the independent judge classifies as the requested digit
               target >= 0.99 of all, >= 0.97 of every digit's
    diversity  within-digit spread, relative to real test digits     target >= 0.85
    realism    distance to the nearest training digit, relative to real test digits   target <= 1.10
    speed      seconds for the whole run (models loaded and warmed up, torch import excluded),
               and the CPU seconds it used       target <= 10 s for 640 on 2 CPU cores

Prints one line per seed and digit, then one JSON line per seed.

    DIGITTUI_DATA=/path/to/data python benchmarks/generation_quality.py [--init random] [--seeds 0 1 2 3 4]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, fields
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import judge  # noqa: E402  (the sibling files, not a package)
from generation_metrics import Reference  # noqa: E402

from digittui import checkpoints  # noqa: E402
from digittui.generate import GenerateConfig, Init, generate_many, load_guide  # noqa: E402
from digittui.paths import data_dir  # noqa: E402
from digittui.spec import parse  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description="Judge agreement, diversity, realism and speed of guided generation.")
    parser.add_argument("--cnn", help="CNN that decides (default: your trained one, else the shipped decider)")
    parser.add_argument("--vae", help="VAE checkpoint (default: your trained one, else the shipped one)")
    parser.add_argument("--data-dir", help="folder holding MNIST/raw/ (default: $DIGITTUI_DATA)")
    parser.add_argument("--count", type=int, default=64, help="samples per digit (default: 64)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0], help="generation seeds, one run each (default: 0)")
    parser.add_argument("--init", type=Init.parse, default=GenerateConfig.init,
                        help=f"random or picked (default: {GenerateConfig.init.value})")
    for f in fields(GenerateConfig):  # every generation setting can be tried from here
        if f.name not in ("count", "seed") and f.type in ("int", "float"):
            parser.add_argument(f"--{f.name.replace('_', '-')}", type={"int": int, "float": float}[f.type], default=f.default,
                                help=f"GenerateConfig.{f.name} (default: {f.default})")
    parser.add_argument("--no-robust", action="store_true", help="turn the jitter off (default: on)")
    parser.add_argument("--guide", help="guide checkpoint (default: assets/guide.pt); 'cnn': the CNN guides itself")
    parser.add_argument("--threads", type=int, default=0,
                        help="torch intra-op threads (default: 0 = torch's choice, one per core)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    cnn = checkpoints.load_default("decider", args.cnn)[0].model
    vae = checkpoints.load_default("vae", args.vae)[0].model
    guide = None if args.guide == "cnn" else checkpoints.load(args.guide, "cnn").model if args.guide else load_guide()
    reference = Reference(data_dir(args.data_dir))
    requests = [parse(str(d)) for d in range(10)]

    # Warm-up: the first convolution on a CPU picks its kernels; a user's second run never pays it.
    generate_many(requests[:1], cnn, vae, GenerateConfig(count=2, steps=2))
    for seed in args.seeds:
        config = GenerateConfig(**{f.name: getattr(args, f.name) for f in fields(GenerateConfig)
                                   if hasattr(args, f.name)}, seed=seed)
        config.robust = not args.no_robust
        start, cpu_start = time.perf_counter(), time.process_time()
        results = generate_many(requests, cnn, vae, config, guide=guide)
        seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start

        figures = reference.score({r.request.classes[0]: r.images for r in results})
        for r in results:
            d = r.request.classes[0]
            f = figures["per_digit"][d]
            f["cnn_confidence"] = round(float(r.confidence.mean()), 4)
            print(f"seed {seed} digit {d}: judge agrees {f['agreement']:6.1%}  diversity {f['diversity']:.2f}  "
                  f"realism {f['realism']:.2f}  CNN confidence {f['cnn_confidence']:.3f}", file=sys.stderr)
        samples = len(requests) * config.count
        summary = {
            "seed": seed, **{k: v for k, v in figures.items() if k != "per_digit"},
            "seconds": round(seconds, 2), "cpu_seconds": round(cpu_seconds, 2), "samples": samples,
            "samples_per_s": round(samples / seconds, 1), "steps": results[0].steps,
            "threads": torch.get_num_threads(),
            "judge_test_accuracy": torch.load(judge.WEIGHTS, weights_only=True)["test_accuracy"],
            "config": {**asdict(config), "init": config.init.value}, "guide": args.guide or "assets/guide.pt",
            "per_digit": figures["per_digit"],
        }
        print(json.dumps(summary))


if __name__ == "__main__":
    main()
