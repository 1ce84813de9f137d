"""The VAE's figures: the sampled-z negative ELBO and the importance-weighted bound, checked against
-log p(x) computed by quadrature over a 2-d latent space."""

import math

import pytest
import torch
from torch.distributions import Bernoulli, Normal

from digittui.data import Digits
from digittui.evaluate import vae_iw_bound, vae_metrics
from digittui.models import VAE, VAEConfig


@pytest.fixture(scope="module")
def peaked():
    """A 2-d VAE whose decoder depends strongly on z, and four images decoded from known latents:
    their posteriors are narrow and far from the (untrained) encoder's q(z|x), so the ELBO is
    loose and the bounds' gap to -log p(x) is visible."""
    torch.manual_seed(0)
    vae = VAE(VAEConfig(latent_dim=2, channels=4, hidden=16)).eval()
    with torch.no_grad():
        vae.dec_fc1.weight.mul_(8.0)
        z = torch.tensor([[0.5, -1.0], [1.5, 0.3], [-0.2, 0.1], [-1.2, -1.3]])
        images = (vae.decode(z)[:, 0] * 255).round().to(torch.uint8)
    return vae, Digits(images, torch.zeros(4, dtype=torch.long))


def _exact_nll(vae: VAE, digits: Digits, n: int = 150, r: float = 7.0) -> float:
    """-log p(x) = -log of the integral of p(x|z) p(z) dz, by the midpoint rule on an n x n grid."""
    t = torch.linspace(-r, r, n)
    grid = torch.cartesian_prod(t, t)
    with torch.no_grad():
        logits = vae.decode_logits(grid).flatten(1)
    log_prior = Normal(0.0, 1.0).log_prob(grid).sum(-1)
    nll = []
    for x in digits.float_images().flatten(1):
        joint = Bernoulli(logits=logits, validate_args=False).log_prob(x).sum(-1) + log_prior
        nll.append(-(torch.logsumexp(joint.double(), 0).item() + 2 * math.log(t[1] - t[0])))
    return sum(nll) / len(nll)


def test_the_bounds_are_ordered_and_the_importance_weighted_one_reaches_the_exact_likelihood(peaked):
    vae, digits = peaked
    exact = _exact_nll(vae, digits)
    elbo = vae_metrics(vae, digits)["test_loss"]
    iw = {k: vae_iw_bound(vae, digits, k, seed=3) for k in (10, 4000)}
    assert elbo > exact + 1.0  # a loose ELBO, so the comparisons below tell bounds apart
    assert elbo > iw[10] > iw[4000] > exact - 0.02
    assert iw[4000] == pytest.approx(exact, abs=0.1)


def test_the_negative_elbo_samples_z_from_a_seed(peaked):
    vae, digits = peaked
    first, again, other = vae_metrics(vae, digits, seed=0), vae_metrics(vae, digits, seed=0), \
        vae_metrics(vae, digits, seed=1)
    assert first == again
    assert first["test_recon"] != other["test_recon"] and first["test_kl"] == other["test_kl"]
    assert first["test_loss"] == pytest.approx(first["test_recon"] + first["test_kl"], abs=1e-3)
    with torch.no_grad():  # decoding the mean is another, lower number
        mu, _ = vae.encode(digits.float_images())
        mean_recon = torch.nn.functional.binary_cross_entropy_with_logits(
            vae.decode_logits(mu), digits.float_images(), reduction="sum").item() / len(digits)
    assert mean_recon < first["test_recon"] - 0.5
