"""Guided generation against its baselines, same models, same run, same seeds: COUNT samples of each
digit 0-9 by each method, then time, judge agreement, diversity and realism of each
(benchmarks/generation_metrics.py defines them).

    naive      random z ~ N(0, I), decoded with a plain sigmoid, Adam (lr 0.05) for 200 steps on the
               CNN's cross-entropy for the digit, no prior, no early stop, all samples in one batch
    rejection  rejection sampling alone: --init picked's pool of draws and self-check, zero steps
    picked     digittui generate --init picked (the pool, then the optimization)
    random     digittui generate --init random (one N(0, I) draw per sample, the optimization alone)

Seconds: models loaded and warmed up, torch import excluded. Prints one JSON line per seed.

    python benchmarks/generation_speed.py [--device cpu] [--count 64] [--seeds 0 1 2 3 4]
    python benchmarks/generation_speed.py --device cuda --count 1000    # the 10,000-sample GPU figure
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from generation_metrics import Reference  # noqa: E402  (the sibling file, not a package)

from digittui import checkpoints  # noqa: E402
from digittui.device import describe, resolve  # noqa: E402
from digittui.generate import GenerateConfig, Init, generate_many, load_guide  # noqa: E402
from digittui.paths import data_dir  # noqa: E402
from digittui.spec import parse  # noqa: E402

NAIVE_STEPS, NAIVE_LR = 200, 0.05


def naive(cnn, vae, digits: torch.Tensor, seed: int) -> torch.Tensor:
    """digits [N] on the device -> images [N, 28, 28] on the CPU, by the naive method."""
    generator = torch.Generator(digits.device).manual_seed(seed)
    z = torch.randn(len(digits), vae.config.latent_dim, generator=generator, device=digits.device)
    z.requires_grad_(True)
    optimizer = torch.optim.Adam([z], lr=NAIVE_LR)
    for _ in range(NAIVE_STEPS):
        loss = F.cross_entropy(cnn(vae.decode(z)).float(), digits, reduction="sum")
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        return vae.decode(z)[:, 0].cpu()


def timed(fn, device: torch.device) -> tuple[object, float]:
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    out = fn()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return out, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu", help="cpu or cuda (default: cpu)")
    parser.add_argument("--count", type=int, default=64, help="samples per digit (default: 64, so 640 in all)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0], help="seeds, one run of each method each (default: 0)")
    parser.add_argument("--data-dir", help="folder holding MNIST/raw/ (default: $DIGITTUI_DATA)")
    parser.add_argument("--threads", type=int, default=0,
                        help="torch intra-op threads on the CPU (default: 0 = torch's choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve(args.device, required=True).device
    cnn = checkpoints.load_default("decider")[0].model.to(device).eval()
    vae = checkpoints.load_default("vae")[0].model.to(device).eval()
    guide = load_guide(device)
    for p in [*cnn.parameters(), *vae.parameters()]:
        p.requires_grad_(False)  # only the latents are optimized
    reference = Reference(data_dir(args.data_dir))
    requests = [parse(str(d)) for d in range(10)]
    digits = torch.arange(10, device=device).repeat_interleave(args.count)  # [10 * count]

    def ours(init: Init, seed: int, **overrides):
        config = GenerateConfig(count=args.count, init=init, seed=seed, **overrides)
        return lambda: torch.cat([r.images for r in generate_many(requests, cnn, vae, config, guide=guide)])

    # Warm-up of every path: kernel selection and allocator growth are paid once per process.
    for init in Init:
        generate_many(requests, cnn, vae, GenerateConfig(count=2, steps=2, init=init), guide=guide)
    naive(cnn, vae, digits[:: args.count], 0)

    for seed in args.seeds:
        methods = {"naive": lambda: naive(cnn, vae, digits, seed),
                   "rejection": ours(Init.PICKED, seed, steps=0),
                   "picked": ours(Init.PICKED, seed), "random": ours(Init.RANDOM, seed)}
        out = {"benchmark": "generation_speed", "device": describe(device), "seed": seed,
               "samples": len(digits), "threads": torch.get_num_threads() if device.type == "cpu" else None}
        for name, run in methods.items():
            images, seconds = timed(run, device)
            figures = reference.score({d: images[digits.cpu() == d] for d in range(10)})
            out[name] = {"seconds": round(seconds, 3), "samples_per_s": round(len(digits) / seconds, 1),
                         **{k: v for k, v in figures.items() if k != "per_digit"},
                         "worst_digit": min(figures["per_digit"], key=lambda d: figures["per_digit"][d]["agreement"])}
        print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
