"""The VAE's prior p(z): N(0, I), or a Gaussian mixture fitted to a trained VAE's codes afterwards
(digittui/fitprior.py). Each knows its density, how to draw from it, and its KL term.

A mixture is a better density for where the encoder actually puts digits (the "aggregate posterior",
Hoffman & Johnson 2016), so the same encoder and decoder get a tighter ELBO and their draws land
where the decoder was trained (ex-post density estimation, Ghosh et al. 2020).
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn

LOG_2PI = math.log(2 * math.pi)


class StandardNormal(nn.Module):
    """N(0, I): no parameters, so a VAE with it has exactly the state dict of before priors existed."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dim = dim

    def describe(self) -> str:
        return "N(0, I)"

    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        """[..., D] -> [...]."""
        return -0.5 * (z.pow(2) + LOG_2PI).sum(-1)

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """[n, D] on the CPU: torch.randn, draw for draw, as before priors existed."""
        return torch.randn(n, self.dim, generator=generator)

    def kl(self, z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
        """KL(q(z|x) || N(0, I)) summed over the batch, in closed form (`z` is not needed)."""
        return -0.5 * torch.sum(1 + logvar.float() - mu.float().pow(2) - logvar.float().exp())


class GaussianMixture(nn.Module):
    """sum_k w_k N(z; mean_k, L_k L_k^T), full covariances given by their Cholesky factors L_k. Buffers,
    not parameters: training the VAE never moves them; fitprior.fit sets them."""

    def __init__(self, components: int, dim: int) -> None:
        super().__init__()
        self.dim = dim
        # Until fitted: every component N(0, I), so the mixture is N(0, I).
        self.register_buffer("log_weights", torch.full((components,), -math.log(components)))
        self.register_buffer("means", torch.zeros(components, dim))
        self.register_buffer("scale_tril", torch.eye(dim).repeat(components, 1, 1))

    def describe(self) -> str:
        return f"{len(self.means)}-Gaussian mixture"

    def component_log_probs(self, z: torch.Tensor) -> torch.Tensor:
        """[N, D] -> [N, K] float64: log w_k + log N(z; mean_k, L_k L_k^T)."""
        k, d = self.means.shape
        tril, means = self.scale_tril.double(), self.means.double()
        eye = torch.eye(d, dtype=tril.dtype, device=tril.device)
        inverse = torch.linalg.solve_triangular(tril, eye.expand(k, d, d), upper=False)  # L_k^-1
        precision = inverse.transpose(1, 2) @ inverse  # [K, D, D]
        pm = (precision @ means[:, :, None])[:, :, 0]  # [K, D]
        # (z - m)^T P (z - m) = z^T P z - 2 m^T P z + m^T P m, each for all k in one product; in float64,
        # where the terms' cancellation costs nothing that matters
        z = z.double()
        quadratic = (z[:, :, None] * z[:, None, :]).view(len(z), d * d) @ precision.view(k, d * d).T  # [N, K]
        mahalanobis = quadratic - 2 * z @ pm.T + (pm * means).sum(1)
        log_det = tril.diagonal(dim1=1, dim2=2).log().sum(1)  # [K]: log |L_k|
        return -0.5 * mahalanobis - log_det - 0.5 * d * LOG_2PI + self.log_weights.double()

    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        """[..., D] -> [...]."""
        flat = z.reshape(-1, self.dim)
        return self.component_log_probs(flat).logsumexp(1).view(z.shape[:-1]).to(z.dtype)

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """[n, D] on the CPU: a component by its weight, then a draw from it."""
        weights, means, tril = self.log_weights.cpu().exp(), self.means.cpu(), self.scale_tril.cpu()
        which = torch.multinomial(weights, n, replacement=True, generator=generator)  # [n]
        eps = torch.randn(n, self.dim, generator=generator, dtype=means.dtype)
        return means[which] + (tril[which] @ eps[:, :, None])[:, :, 0]

    def kl(self, z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
        """KL(q(z|x) || p(z)) summed over the batch, estimated from the draw z ~ q(z|x) that was
        decoded: log q(z|x) - log p(z). A mixture has no closed form; one draw keeps it unbiased."""
        z, mu, logvar = z.float(), mu.float(), logvar.float()
        log_q = -0.5 * ((z - mu).pow(2) / logvar.exp() + logvar + LOG_2PI).sum(-1)
        return (log_q - self.log_prob(z)).sum()


def make_prior(components: int, dim: int) -> nn.Module:
    """The prior of a VAEConfig: N(0, I) when `components` is 0."""
    return GaussianMixture(components, dim) if components else StandardNormal(dim)
