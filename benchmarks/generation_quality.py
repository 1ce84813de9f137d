"""How good is guided generation? 64 samples of each digit 0-9 in one batched run, then:

    agreement  the share the independent judge (benchmarks/judge.py, an MLP never seen by the
               generator) classifies as the requested digit           target >= 0.99
    diversity  mean pairwise pixel distance (L2 over the 784 pixels in [0, 1]) of the samples,
               divided by the same for the real test digits of that class       target >= 0.80
    speed      seconds for the whole run (models loaded and warmed up, torch import excluded),
               and the CPU seconds it used       target <= 10 s for 640 on 2 CPU cores
               (on a busy machine `--threads 1` is much faster: two threads wait on each other)

Prints one line per digit, then one JSON line with everything. About a minute on 2 CPU cores.

    DIGITTUI_DATA=/path/to/data python benchmarks/generation_quality.py [--cnn FILE] [--vae FILE]
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
import judge as judge_module  # noqa: E402  (the sibling file, not a package)

from digittui import checkpoints  # noqa: E402
from digittui.data import load_mnist  # noqa: E402
from digittui.generate import GenerateConfig, generate_many  # noqa: E402
from digittui.paths import data_dir  # noqa: E402
from digittui.spec import parse  # noqa: E402


def mean_pairwise_distance(images: torch.Tensor) -> float:
    """images [N, 28, 28] -> mean L2 distance over all pairs i != j."""
    flat = images.reshape(len(images), -1).float()
    d = torch.cdist(flat, flat)  # [N, N]
    n = len(images)
    return float(d.sum() / (n * (n - 1)))


def main() -> None:
    parser = argparse.ArgumentParser(description="Judge agreement, diversity and speed of guided generation.")
    parser.add_argument("--cnn", help="CNN checkpoint (default: your trained one, else the shipped one)")
    parser.add_argument("--vae", help="VAE checkpoint (default: your trained one, else the shipped one)")
    parser.add_argument("--data-dir", help="folder holding MNIST/raw/ (default: $DIGITTUI_DATA)")
    parser.add_argument("--count", type=int, default=64, help="samples per digit (default: 64)")
    parser.add_argument("--seed", type=int, default=0, help="generation seed (default: 0)")
    for f in fields(GenerateConfig):  # every generation setting can be tried from here
        if f.name not in ("count", "seed") and f.type in ("int", "float"):
            parser.add_argument(f"--{f.name.replace('_', '-')}", type={"int": int, "float": float}[f.type], default=f.default,
                                help=f"GenerateConfig.{f.name} (default: {f.default})")
    parser.add_argument("--no-robust", action="store_true", help="turn the jitter off (default: on)")
    parser.add_argument("--threads", type=int, default=0,
                        help="torch intra-op threads (default: 0 = torch's choice, one per core)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    cnn = checkpoints.load_default("cnn", args.cnn)[0].model
    vae = checkpoints.load_default("vae", args.vae)[0].model
    judge = judge_module.load()
    test = load_mnist(data_dir(args.data_dir), train=False)
    config = GenerateConfig(**{f.name: getattr(args, f.name) for f in fields(GenerateConfig)
                               if hasattr(args, f.name)})
    config.robust = not args.no_robust
    requests = [parse(str(d)) for d in range(10)]

    # Warm-up: the first convolution on a CPU picks its kernels; a user's second run never pays it.
    generate_many(requests[:1], cnn, vae, GenerateConfig(count=2, steps=2))
    start, cpu_start = time.perf_counter(), time.process_time()
    results = generate_many(requests, cnn, vae, config)
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start

    per_digit, agree_all = {}, []
    for result in results:
        d = result.request.classes[0]
        agree = (judge_module.predict(judge, result.images) == d).float()
        agree_all.append(agree)
        real = test.float_images(test.labels == d)[:, 0]  # [~1000, 28, 28]
        ratio = mean_pairwise_distance(result.images) / mean_pairwise_distance(real)
        per_digit[d] = {"agreement": round(float(agree.mean()), 4), "diversity": round(ratio, 3),
                        "cnn_confidence": round(float(result.confidence.mean()), 4)}
        print(f"digit {d}: judge agrees {float(agree.mean()):6.1%}  diversity {ratio:.2f}  "
              f"CNN confidence {float(result.confidence.mean()):.3f}")
    samples = len(requests) * config.count
    summary = {
        "agreement": round(float(torch.cat(agree_all).mean()), 4),
        "min_agreement": min(v["agreement"] for v in per_digit.values()),
        "min_diversity": min(v["diversity"] for v in per_digit.values()),
        "seconds": round(seconds, 2), "cpu_seconds": round(cpu_seconds, 2), "samples": samples, "samples_per_s": round(samples / seconds, 1),
        "steps": results[0].steps, "threads": torch.get_num_threads(),
        "judge_test_accuracy": torch.load(judge_module.WEIGHTS, weights_only=True)["test_accuracy"],
        "config": asdict(config), "per_digit": per_digit,
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
