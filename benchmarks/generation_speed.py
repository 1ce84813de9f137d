"""Guided generation throughput: digittui's default settings vs the naive method, same models, same run.

Both generate COUNT samples of each digit 0-9 with the shipped CNN and VAE on one device:

    digittui  generate_many at the default GenerateConfig (natural starts, prior, robustness copy,
              early stop per sample)
    naive     random z ~ N(0, I), decoded with a plain sigmoid, Adam (lr 0.05) for 200 steps on the
              CNN's cross-entropy for the digit, no prior, no early stop, all samples in one batch

and the independent judge (benchmarks/judge.pt) scores both. Prints one JSON line: seconds and
samples/s of each (models loaded and warmed up, torch import excluded), judge agreement of each,
and the throughput ratio.

    python benchmarks/generation_speed.py [--device cpu] [--count 64]
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
import judge as judge_module  # noqa: E402  (the sibling file, not a package)

from digittui import checkpoints  # noqa: E402
from digittui.device import describe, resolve  # noqa: E402
from digittui.generate import GenerateConfig, generate_many  # noqa: E402
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
    parser.add_argument("--seed", type=int, default=0, help="seed of both methods (default: 0)")
    parser.add_argument("--threads", type=int, default=0,
                        help="torch intra-op threads on the CPU (default: 0 = torch's choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve(args.device, required=True).device
    cnn = checkpoints.load_default("cnn")[0].model.to(device).eval()
    vae = checkpoints.load_default("vae")[0].model.to(device).eval()
    for p in [*cnn.parameters(), *vae.parameters()]:
        p.requires_grad_(False)  # only the latents are optimized
    judge = judge_module.load()
    requests = [parse(str(d)) for d in range(10)]
    digits = torch.arange(10, device=device).repeat_interleave(args.count)  # [10 * count]

    # Warm-up of both paths: kernel selection and allocator growth are paid once per process.
    generate_many(requests, cnn, vae, GenerateConfig(count=2, steps=2))
    naive(cnn, vae, digits[:: args.count], args.seed)

    results, ours_s = timed(lambda: generate_many(requests, cnn, vae, GenerateConfig(count=args.count,
                                                                                    seed=args.seed)), device)
    ours_images = torch.cat([r.images for r in results])
    naive_images, naive_s = timed(lambda: naive(cnn, vae, digits, args.seed), device)

    truth = digits.cpu()
    n = len(truth)
    out = {"benchmark": "generation_speed", "device": describe(device), "samples": n,
           "threads": torch.get_num_threads() if device.type == "cpu" else None,
           "digittui": {"seconds": round(ours_s, 3), "samples_per_s": round(n / ours_s, 1),
                        "steps": results[0].steps,
                        "judge_agreement": round(float((judge_module.predict(judge, ours_images) == truth)
                                                       .float().mean()), 4)},
           "naive": {"seconds": round(naive_s, 3), "samples_per_s": round(n / naive_s, 1), "steps": NAIVE_STEPS,
                     "judge_agreement": round(float((judge_module.predict(judge, naive_images) == truth)
                                                    .float().mean()), 4)}}
    out["throughput_ratio"] = round(naive_s / ours_s, 2)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
