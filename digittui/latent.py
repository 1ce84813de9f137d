"""Looking around the VAE's latent space: prior samples, morphs, a 2-D map of the test set, and a
grid of decoded images over any plane (for instance the map's own axes).

All functions return CPU float32 tensors; images are [..., 28, 28] in [0, 1].
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import torch

from digittui.data import Digits
from digittui.errors import DataError
from digittui.models import CNN, VAE

if TYPE_CHECKING:
    from digittui.genconfig import GenerateConfig
    from digittui.spec import Request


def _device(model: torch.nn.Module) -> torch.device:
    return next(model.parameters()).device


@torch.no_grad()
def _decode(vae: VAE, z: torch.Tensor) -> torch.Tensor:
    """z [B, D] (any device) -> CPU images [B, 28, 28]."""
    vae.eval()
    return vae.decode(z.to(_device(vae)).float())[:, 0].cpu()


def sample_prior(vae: VAE, n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """n draws z ~ p(z), the VAE's prior, decoded: (latents [n, D], images [n, 28, 28])."""
    z = vae.prior.sample(n, torch.Generator().manual_seed(seed))
    return z, _decode(vae, z)


def interpolate(z_a: torch.Tensor, z_b: torch.Tensor, steps: int, spherical: bool = True) -> torch.Tensor:
    """[D], [D] -> [steps, D] from z_a to z_b, both ends included.

    Spherical (slerp) keeps the norm near that of the ends: a straight line between two typical
    N(0, I) draws passes close to the origin, where a VAE decodes washed-out averages."""
    t = torch.linspace(0, 1, steps)[:, None]  # [steps, 1]
    z_a, z_b = z_a.float().flatten().cpu(), z_b.float().flatten().cpu()
    cos = torch.dot(z_a, z_b) / (z_a.norm() * z_b.norm()).clamp_min(1e-12)
    omega = torch.arccos(cos.clamp(-1, 1))
    if not spherical or omega < 1e-4:  # (nearly) parallel: slerp degenerates to a line
        return (1 - t) * z_a + t * z_b
    return (torch.sin((1 - t) * omega) * z_a + torch.sin(t * omega) * z_b) / torch.sin(omega)


def morph(vae: VAE, z_a: torch.Tensor, z_b: torch.Tensor, steps: int = 16,
          spherical: bool = True) -> torch.Tensor:
    """Decoded frames [steps, 28, 28] along the path from z_a to z_b."""
    return _decode(vae, interpolate(z_a, z_b, steps, spherical))


def morph_generated(a: "Request", b: "Request", cnn: CNN, vae: VAE, config: "GenerateConfig",
                    steps: int = 16, spherical: bool = True) -> torch.Tensor:
    """Generate one image for each request (guided, with `config`), then morph between their latents."""
    from digittui.generate import generate_many, load_guide

    ends = generate_many([a, b], cnn, vae, replace(config, count=1), guide=load_guide(_device(cnn)))
    return morph(vae, ends[0].latents[0, 0], ends[1].latents[0, 0], steps, spherical)


@torch.no_grad()
def morph_test_digits(vae: VAE, digits: Digits, a: int, b: int, seed: int, steps: int = 16) -> torch.Tensor:
    """Morph between the posterior means of a test image of digit `a` and one of digit `b`, each
    picked at random by `seed`. Raises DataError when `digits` holds no image of either."""
    generator = torch.Generator().manual_seed(seed)
    labels = digits.labels.cpu()
    ends = []
    for digit in (a, b):
        candidates = torch.nonzero(labels == digit).flatten()
        if len(candidates) == 0:
            raise DataError(f"the test set holds no {digit} to morph from or to")
        ends.append(candidates[torch.randint(len(candidates), (1,), generator=generator)])
    vae.eval()
    index = torch.cat(ends).to(digits.images.device)
    mu = vae.encode(digits.float_images(index).to(_device(vae)))[0]
    return morph(vae, mu[0], mu[1], steps)


def plane_grid(vae: VAE, center: torch.Tensor, axis_u: torch.Tensor, axis_v: torch.Tensor,
               extent: float = 2.0, n: int = 9) -> torch.Tensor:
    """Decoded images [n, n, 28, 28] at center + u * axis_u + v * axis_v for u, v in
    [-extent, extent]; row 0 is the largest v (the top of a plot), column 0 the smallest u."""
    ticks = torch.linspace(-extent, extent, n)
    v, u = torch.meshgrid(ticks.flip(0), ticks, indexing="ij")  # [n, n] each
    z = (center.float().cpu() + u.reshape(-1, 1) * axis_u.float().cpu()
         + v.reshape(-1, 1) * axis_v.float().cpu())  # [n*n, D]
    return _decode(vae, z).view(n, n, 28, 28)


@dataclass
class LatentMap:
    points: torch.Tensor  # [P, 2]: the encoder's means projected on the two principal axes
    labels: torch.Tensor  # int64 [P]: each point's digit
    center: torch.Tensor  # [D]: the mean of the means, the map's origin
    axes: torch.Tensor  # [2, D]: unit principal axes; z = center + x * axes[0] + y * axes[1]
    explained: torch.Tensor  # [2]: fraction of the means' variance along each axis


@torch.no_grad()
def encode_map(vae: VAE, digits: Digits, max_points: int = 2000, seed: int = 0) -> LatentMap:
    """Encode (up to max_points of, chosen at random) `digits` and project their means with PCA."""
    vae.eval()
    n = len(digits)
    index = torch.randperm(n, generator=torch.Generator().manual_seed(seed))[:max_points] \
        if n > max_points else torch.arange(n)
    device = _device(vae)
    mu = torch.cat([vae.encode(digits.float_images(chunk.to(digits.images.device)).to(device))[0].float().cpu()
                    for chunk in index.split(1024)])  # [P, D]
    center = mu.mean(0)
    _, s, vh = torch.linalg.svd(mu - center, full_matrices=False)  # vh: [D, D], rows are the axes
    axes = vh[:2]
    return LatentMap(points=(mu - center) @ axes.T, labels=digits.labels[index.to(digits.labels.device)].cpu(),
                     center=center, axes=axes, explained=(s[:2] ** 2) / (s ** 2).sum())
