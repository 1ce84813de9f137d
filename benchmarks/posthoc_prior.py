"""What a better prior p(z) buys a trained VAE, without retraining it: the negative ELBO of the test images
with the VAE's N(0, I) prior, and with Gaussian mixtures fitted afterwards to its latent codes (ex-post
density estimation, Ghosh et al. 2020; the "aggregate posterior" mismatch of Hoffman & Johnson 2016).

The decoder and encoder stay as trained; only p(z) changes, so each figure is an ELBO, a lower bound on
log p(x), of the VAE with that prior:

    -ELBO(x) = -log p(x|z) + log q(z|x) - log p(z),   z ~ q(z|x), one draw per image (seeded)

The mixtures (full covariance, scikit-learn's GaussianMixture) are fitted to one z drawn from q(z|x) for
each training image but the last `--holdout`; the number of components is chosen on those held-out
images (validation), and the test set only reports. The KL part is a one-draw estimate for every
prior, N(0, I) included, so the rows compare like with like (the closed-form KL of `digittui evaluate`
differs from it by sampling noise only).

The engine's own EM (digittui/fitprior.py, what `digittui checkpoint prior` runs) is fitted to the same
codes for each of `--engine` sizes, beside scikit-learn's. For N(0, I) and the engine's mixtures, `--samples`
draws from the prior are decoded and scored as generation_quality.py scores samples: "readable", the share
that the independent judge (judge.py) and the CNN in use read as the same digit, and "realism", the mean
distance to the nearest training digit relative to real test digits' (lower is closer).

    pip install scikit-learn
    DIGITTUI_DATA=/path/to/data python benchmarks/posthoc_prior.py [--vae FILE] [--components 1 10 50 100] \
        [--engine 100] [--samples 2000] [--seed 0]

Prints one JSON line per prior; the one chosen on validation says so.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
import judge  # noqa: E402  (the sibling files, not a package)
from generation_metrics import Reference  # noqa: E402

from digittui import checkpoints, fitprior, paths  # noqa: E402
from digittui.classify import classify  # noqa: E402
from digittui.data import Digits, load_mnist  # noqa: E402
from digittui.models.prior import LOG_2PI, StandardNormal  # noqa: E402


@torch.no_grad()
def sampled_terms(vae, digits: Digits, seed: int, batch: int = 1000) -> tuple[np.ndarray, np.ndarray]:
    """(z [N, D], -log p(x|z) + log q(z|x) [N]) for one z drawn from q(z|x) per image."""
    generator = torch.Generator().manual_seed(seed)
    zs, costs = [], []
    for start in range(0, len(digits), batch):
        x = digits.float_images(slice(start, start + batch))
        mu, logvar = vae.encode(x)
        z = mu + (0.5 * logvar).exp() * torch.randn(mu.shape, generator=generator)
        recon = F.binary_cross_entropy_with_logits(vae.decode_logits(z), x, reduction="none").sum((1, 2, 3))
        log_q = -0.5 * (((z - mu) ** 2) / logvar.exp() + logvar + LOG_2PI).sum(1)
        zs.append(z.double())
        costs.append((recon + log_q).double())
    return torch.cat(zs).numpy(), torch.cat(costs).numpy()


@torch.no_grad()
def sample_figures(prior, vae, cnn, reference: Reference, n: int, seed: int) -> dict[str, float]:
    """n draws from `prior`, decoded: the share the judge and the CNN read alike, and realism."""
    images = vae.decode(prior.sample(n, torch.Generator().manual_seed(seed)).float())[:, 0]
    cnn_digits = torch.tensor([p.digit for p in classify(cnn, images)])
    readable = (judge.predict(reference.judge, images) == cnn_digits).float().mean()
    return {"samples": n, "readable": round(float(readable), 4),
            "realism": round(float(reference.nearest(images).mean()) / reference.real_nearest, 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--vae", help="VAE checkpoint (default: the shipped one)")
    parser.add_argument("--components", type=int, nargs="*", default=[1, 10, 50, 100],
                        help="mixture sizes to fit with scikit-learn (default: 1 10 50 100; none: skip it)")
    parser.add_argument("--engine", type=int, nargs="*", default=[100],
                        help="mixture sizes to fit with digittui.fitprior too (default: 100)")
    parser.add_argument("--samples", type=int, default=2000,
                        help="draws decoded from N(0, I) and from each engine mixture (default: 2000)")
    parser.add_argument("--holdout", type=int, default=5000,
                        help="the last N training images choose the mixture size (default: 5000)")
    parser.add_argument("--seed", type=int, default=0, help="draws of z for the figures (default: 0)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.components:
        from sklearn.mixture import GaussianMixture

    path = Path(args.vae) if args.vae else paths.shipped_checkpoint("vae")
    vae = checkpoints.load(path, "vae").model.eval()
    train = load_mnist(paths.data_dir(), train=True)
    fit = Digits(train.images[:-args.holdout], train.labels[:-args.holdout])
    val = Digits(train.images[-args.holdout:], train.labels[-args.holdout:])
    z_fit, _ = sampled_terms(vae, fit, args.seed + 1)  # the codes the mixtures are fitted to
    test = load_mnist(paths.data_dir(), train=False)
    sets = {"val": sampled_terms(vae, val, args.seed), "test": sampled_terms(vae, test, args.seed)}

    cnn = checkpoints.load_default("decider")[0].model  # the CNN its figures in RESULTS.md were read with
    reference = Reference(paths.data_dir())
    normal = StandardNormal(vae.config.latent_dim)
    rows = [{"prior": "N(0, I)", **{f"{name}_loss": round(float((cost - normal.log_prob(torch.from_numpy(z)).numpy()).mean()), 3)
                                     for name, (z, cost) in sets.items()},
             **sample_figures(normal, vae, cnn, reference, args.samples, args.seed)}]
    for k in args.components:
        mixture = GaussianMixture(k, covariance_type="full", random_state=0, max_iter=200).fit(z_fit)
        rows.append({"prior": f"mixture of {k}", "components": k,
                     **{f"{name}_loss": round(float((cost - mixture.score_samples(z)).mean()), 3)
                        for name, (z, cost) in sets.items()}})
    for k in args.engine:
        mixture = fitprior.fit_mixture(torch.from_numpy(z_fit), k, torch.Generator().manual_seed(args.seed))
        rows.append({"prior": f"mixture of {k}, digittui.fitprior", "components": k,
                     **{f"{name}_loss": round(float((torch.from_numpy(cost) - mixture.log_prob(torch.from_numpy(z))).mean()), 3)
                        for name, (z, cost) in sets.items()},
                     **sample_figures(mixture, vae, cnn, reference, args.samples, args.seed)})
    best = min(rows, key=lambda r: r["val_loss"])
    for row in rows:
        print(json.dumps({"vae": str(path), "seed": args.seed, **row, "chosen_on_val": row is best}), flush=True)


if __name__ == "__main__":
    main()
