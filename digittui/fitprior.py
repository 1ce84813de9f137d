"""A trained VAE's prior replaced by a Gaussian mixture fitted to its codes: one z drawn from q(z|x)
for each training image, then expectation-maximization (Dempster et al. 1977) from k-means clusters.

The encoder and decoder stay as trained; only p(z) changes, so the VAE's ELBO is still a lower bound
on log p(x), of the model with the new prior (benchmarks/RESULTS.md, "A better prior, fitted afterwards").
Written here, not taken from scikit-learn, because the engine needs only torch; posthoc_prior.py
checks it against scikit-learn's GaussianMixture.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Callable

import torch

from digittui.data import Digits
from digittui.modelconfig import VAEConfig
from digittui.models import VAE
from digittui.models.prior import GaussianMixture
from digittui.models.sizes import checked_config

MAX_ITERATIONS = 200
TOLERANCE = 1e-4  # stop once an iteration raises the mean log-likelihood by less, in nats per image
REGULARIZATION = 1e-6  # added to every covariance's diagonal: a component on a few points stays invertible
KMEANS_ITERATIONS = 20  # Lloyd steps from the k-means++ centres before EM: EM starts from better-placed clusters


@torch.no_grad()
def codes(vae: VAE, digits: Digits, generator: torch.Generator, batch: int = 1000) -> torch.Tensor:
    """[N, D] float64: one z ~ q(z|x) per image, on the CPU."""
    vae.eval()
    out = []
    for start in range(0, len(digits), batch):
        mu, logvar = vae.encode(digits.float_images(slice(start, start + batch)))
        eps = torch.randn(mu.shape, generator=generator).to(mu.device)
        out.append((mu + (0.5 * logvar).exp() * eps).double().cpu())
    return torch.cat(out) if out else torch.empty(0, vae.config.latent_dim, dtype=torch.float64)


def kmeans_plus_plus(z: torch.Tensor, k: int, generator: torch.Generator) -> torch.Tensor:
    """[k, D] centres spread over the points (Arthur & Vassilvitskii 2007): each next one drawn with
    probability proportional to its squared distance from the nearest centre so far."""
    centres = [z[torch.randint(len(z), (1,), generator=generator)].squeeze(0)]
    nearest = (z - centres[0]).pow(2).sum(1)
    for _ in range(k - 1):
        centres.append(z[torch.multinomial(nearest + 1e-30, 1, generator=generator)].squeeze(0))
        nearest = torch.minimum(nearest, (z - centres[-1]).pow(2).sum(1))
    return torch.stack(centres)


def kmeans(z: torch.Tensor, k: int, generator: torch.Generator) -> torch.Tensor:
    """[N] the cluster of each point: k-means++ centres, then KMEANS_ITERATIONS Lloyd steps."""
    centres = kmeans_plus_plus(z, k, generator)
    for _ in range(KMEANS_ITERATIONS):
        nearest = torch.cdist(z, centres).argmin(1)
        counts = torch.bincount(nearest, minlength=k)
        sums = torch.zeros_like(centres).index_add_(0, nearest, z)
        centres = torch.where(counts[:, None] > 0, sums / counts.clamp_min(1)[:, None], centres)  # empty: stays
    return torch.cdist(z, centres).argmin(1)


def _log_responsibilities(mixture: GaussianMixture, z: torch.Tensor, chunk: int = 4096
                          ) -> tuple[torch.Tensor, torch.Tensor]:
    """(log p(component | z) [N, K], mean log p(z)) under `mixture`."""
    joint = torch.cat([mixture.component_log_probs(part) for part in z.split(chunk)])  # [N, K]
    log_pz = joint.logsumexp(1, keepdim=True)
    return joint - log_pz, log_pz.mean()


def _maximize(mixture: GaussianMixture, z: torch.Tensor, resp: torch.Tensor) -> None:
    """Set the mixture's weights, means and covariances to the responsibility-weighted ones."""
    counts = resp.sum(0) + 10 * torch.finfo(resp.dtype).eps  # [K]; never 0
    means = resp.T @ z / counts[:, None]  # [K, D]
    n, d = z.shape
    # every component's second moment in one product: responsibilities [K, N] x outer products [N, D*D]
    second = (resp.T @ (z[:, :, None] * z[:, None, :]).view(n, d * d)).view(-1, d, d) / counts[:, None, None]
    cov = second - means[:, :, None] * means[:, None, :] + REGULARIZATION * torch.eye(d, dtype=z.dtype)
    mixture.scale_tril.copy_(torch.linalg.cholesky(cov))
    mixture.means.copy_(means)
    mixture.log_weights.copy_((counts / counts.sum()).log())


@torch.no_grad()
def fit_mixture(z: torch.Tensor, components: int, generator: torch.Generator,
                on_iteration: Callable[[int, float], None] = lambda i, ll: None) -> GaussianMixture:
    """A float64 GaussianMixture of `components` fitted to z [N, D] by EM. Starts from k-means
    clusters, each point given to its nearest centre; stops after MAX_ITERATIONS or once the mean
    log-likelihood rises by less than TOLERANCE. `on_iteration(i, mean log-likelihood)` after each."""
    if not 1 <= components <= len(z):
        raise ValueError(f"{components} components need at least as many codes, not {len(z)}")
    mixture = GaussianMixture(components, z.shape[1]).double()
    _maximize(mixture, z, torch.nn.functional.one_hot(kmeans(z, components, generator), components).to(z.dtype))
    previous = -float("inf")
    for i in range(MAX_ITERATIONS):
        log_resp, log_likelihood = _log_responsibilities(mixture, z)
        on_iteration(i + 1, float(log_likelihood))
        if float(log_likelihood) - previous < TOLERANCE:
            break
        previous = float(log_likelihood)
        _maximize(mixture, z, log_resp.exp())
    return mixture


def fitted_config(config: VAEConfig, components: int) -> VAEConfig:
    """`config` with a prior of `components` Gaussians; ConfigError when that prior is past the size limit."""
    return checked_config("vae", {**asdict(config), "prior_components": components})


def fit(vae: VAE, digits: Digits, components: int, seed: int = 0,
        on_iteration: Callable[[int, float], None] = lambda i, ll: None) -> VAE:
    """A copy of `vae` (on the CPU) whose prior is a mixture of `components` Gaussians fitted to the
    codes of `digits`; the encoder and decoder are the same weights."""
    config = fitted_config(vae.config, components)
    generator = torch.Generator().manual_seed(seed)
    mixture = fit_mixture(codes(vae, digits, generator), components, generator, on_iteration)
    fitted = VAE(config)
    own = {k: v for k, v in vae.state_dict().items() if not k.startswith("prior.")}
    prior = {f"prior.{k}": v.float() for k, v in mixture.state_dict().items()}
    fitted.load_state_dict(own | prior, strict=True)
    return fitted.eval()
