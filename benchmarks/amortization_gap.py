"""Where a VAE's negative ELBO is lost: the encoder or the decoder (Cremer et al. 2018, "Inference
Suboptimality in Variational Autoencoders"). For the first N test and N training images, the negative
ELBO with the encoder's q(z|x), then with q's mean and log-variance optimized for each image alone
(Adam, the decoder fixed). The difference is the amortization gap: what a better encoder could win
without touching the decoder. An encoder that fits its training images more closely than others
shows a larger gap on the test images than on the training ones.

    DIGITTUI_DATA=/path/to/data python benchmarks/amortization_gap.py --vae FILE [--n 200] [--steps 200]

Each ELBO is averaged over 16 draws of z (seeded); prints one JSON line per split.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from digittui import checkpoints
from digittui.data import load_mnist
from digittui.models.vae import vae_loss
from digittui.paths import data_dir

EVAL_DRAWS = 16  # draws of z per image for each reported ELBO
STEP_DRAWS = 2  # draws per optimization step


def negative_elbo(vae, x: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor, draws: int,
                  generator: torch.Generator | None = None) -> torch.Tensor:
    """Mean over images and `draws` samples of z ~ q of reconstruction + KL, in nats per image."""
    total = 0.0
    for _ in range(draws):
        z = mu + torch.exp(0.5 * logvar) * torch.randn(mu.shape, generator=generator)
        recon, kl = vae_loss(vae, vae.decode_logits(z), x, z, mu, logvar)
        total = total + recon + kl
    return total / draws / len(x)


def gap(vae, x: torch.Tensor, steps: int, lr: float) -> dict[str, float]:
    with torch.no_grad():
        mu0, logvar0 = vae.encode(x)
        amortized = negative_elbo(vae, x, mu0, logvar0, EVAL_DRAWS, torch.Generator().manual_seed(1)).item()
    mu, logvar = mu0.clone().requires_grad_(), logvar0.clone().requires_grad_()
    optimizer = torch.optim.Adam([mu, logvar], lr=lr)
    for _ in range(steps):
        optimizer.zero_grad()
        negative_elbo(vae, x, mu, logvar, STEP_DRAWS).backward()
        optimizer.step()
    with torch.no_grad():
        optimized = negative_elbo(vae, x, mu, logvar, EVAL_DRAWS, torch.Generator().manual_seed(1)).item()
    return {"encoder_q": round(amortized, 2), "optimized_q": round(optimized, 2),
            "amortization_gap": round(amortized - optimized, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description="The amortization gap of a VAE on test and training images.")
    parser.add_argument("--vae", required=True, help="VAE checkpoint")
    parser.add_argument("--data-dir", help="folder holding MNIST/raw/ (default: $DIGITTUI_DATA)")
    parser.add_argument("--n", type=int, default=200, help="images of each split (default: 200)")
    parser.add_argument("--steps", type=int, default=200, help="Adam steps per image's q (default: 200)")
    parser.add_argument("--lr", type=float, default=3e-3, help="Adam's learning rate (default: 0.003)")
    args = parser.parse_args()
    torch.manual_seed(0)
    vae = checkpoints.load(Path(args.vae), "vae").model.eval()
    for p in vae.parameters():
        p.requires_grad_(False)
    for split in ("test", "train"):
        digits = load_mnist(data_dir(args.data_dir), train=split == "train")
        start = time.perf_counter()
        result = gap(vae, digits.float_images(slice(0, args.n)), args.steps, args.lr)
        print(json.dumps({"vae": args.vae, "split": split, "images": args.n, "steps": args.steps, **result,
                          "seconds": round(time.perf_counter() - start, 1)}), flush=True)


if __name__ == "__main__":
    main()
