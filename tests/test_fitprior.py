"""Fitting a VAE's prior afterwards: EM that recovers a known mixture, and a VAE copy that keeps its
encoder and decoder."""

import math

import pytest
import torch

from digittui import checkpoints, fitprior
from digittui.data import load_mnist
from digittui.errors import ConfigError
from digittui.models import VAE, VAEConfig
from digittui.models.sizes import MAX_PARAMETERS, checked_config


def _three_clusters(n: int = 6000) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(points [n, 2] float64, the true means [3, 2], the true weights [3])."""
    g = torch.Generator().manual_seed(0)
    means = torch.tensor([[-6.0, 0.0], [0.0, 5.0], [6.0, -1.0]], dtype=torch.float64)
    weights = torch.tensor([0.5, 0.3, 0.2], dtype=torch.float64)
    which = torch.multinomial(weights, n, replacement=True, generator=g)
    scales = torch.tensor([[1.0, 0.3], [0.5, 1.5], [0.8, 0.8]], dtype=torch.float64)
    return means[which] + scales[which] * torch.randn(n, 2, generator=g, dtype=torch.float64), means, weights


def test_em_recovers_a_known_mixture_and_never_lowers_the_likelihood():
    z, means, weights = _three_clusters()
    trace = []
    mixture = fitprior.fit_mixture(z, 3, torch.Generator().manual_seed(1), lambda i, ll: trace.append(ll))
    order = mixture.means[:, 0].argsort()
    assert torch.allclose(mixture.means[order], means, atol=0.1)
    assert torch.allclose(mixture.log_weights[order].exp(), weights, atol=0.02)
    assert all(b >= a - 1e-9 for a, b in zip(trace, trace[1:]))  # EM's guarantee
    assert len(trace) < fitprior.MAX_ITERATIONS  # it converged rather than ran out


def test_kmeans_plus_plus_starts_from_distinct_points_of_the_data():
    z, _, _ = _three_clusters(500)
    centres = fitprior.kmeans_plus_plus(z, 3, torch.Generator().manual_seed(0))
    assert len({tuple(c.tolist()) for c in centres}) == 3
    assert all((z == c).all(1).any() for c in centres)
    assert len({int(c[0] > 3) - int(c[0] < -3) for c in centres}) == 3  # spread: one per cluster


def test_more_components_than_codes_are_refused():
    with pytest.raises(ValueError, match="at least as many"):
        fitprior.fit_mixture(torch.randn(4, 2, dtype=torch.float64), 5, torch.Generator())


def offset_vae() -> VAE:
    """A small VAE whose codes lie far from N(0, I), around (3, 3) with deviation 0.1, as a trained
    encoder's do not fill N(0, I) either."""
    torch.manual_seed(0)
    vae = VAE(VAEConfig(latent_dim=2, channels=4, hidden=16)).eval()
    with torch.no_grad():
        vae.fc_mu.bias.fill_(3.0)
        vae.fc_logvar.bias.fill_(-4.6)
    return vae


def test_fit_keeps_the_encoder_and_decoder_and_raises_the_codes_likelihood(tiny_mnist):
    vae = offset_vae()
    digits = load_mnist(tiny_mnist, train=True)
    fitted = fitprior.fit(vae, digits, 4, seed=0)
    assert fitted.config.prior_components == 4
    kept = {k: v for k, v in fitted.state_dict().items() if not k.startswith("prior.")}
    assert kept.keys() == vae.state_dict().keys() and all(torch.equal(v, vae.state_dict()[k]) for k, v in kept.items())
    z = fitprior.codes(vae, digits, torch.Generator().manual_seed(5)).float()
    assert fitted.prior.log_prob(z).mean() > vae.prior.log_prob(z).mean()
    refitted = fitprior.fit(fitted, digits, 2, seed=0)  # a VAE that has a mixture takes another
    assert refitted.config.prior_components == 2 and refitted.prior.means.shape == (2, 2)


def test_a_fitted_vae_round_trips_through_a_checkpoint(tmp_path, tiny_mnist):
    vae = fitprior.fit(VAE(VAEConfig(latent_dim=2, channels=4, hidden=16)), load_mnist(tiny_mnist, train=True), 3)
    path = checkpoints.save(tmp_path / "v.pt", "vae", vae, epoch=1)
    loaded = checkpoints.load(path, "vae").model
    assert loaded.config.prior_components == 3
    z = torch.randn(8, 2)
    assert torch.equal(loaded.prior.log_prob(z), vae.prior.log_prob(z))


def test_a_prior_too_large_to_hold_is_refused_before_it_is_built():
    components = 1000
    dim = math.isqrt(MAX_PARAMETERS // components) + 1
    with pytest.raises(ConfigError, match="prior of 1000 Gaussians"):
        checked_config("vae", {"latent_dim": dim, "prior_components": components})
    with pytest.raises(ConfigError, match="prior of 1000 Gaussians"):
        fitprior.fitted_config(VAEConfig(latent_dim=dim), components)  # what fit and `checkpoint prior` check first


def test_fine_tuning_a_vae_with_a_fitted_prior_trains_against_it_and_keeps_it(tmp_path, tiny_mnist):
    from digittui import train as training
    from digittui.evaluate import vae_metrics

    fitted = fitprior.fit(offset_vae(), load_mnist(tiny_mnist, train=True), 3)
    checkpoints.save(tmp_path / "fitted.pt", "vae", fitted, epoch=1)
    end = training.train(training.TrainConfig(kind="vae", epochs=1, batch_size=32, device="cpu",
                                              init=str(tmp_path / "fitted.pt")), tiny_mnist, tmp_path / "tuned.pt")
    tuned = checkpoints.load(end.checkpoint, "vae").model
    assert tuned.config.prior_components == 3
    assert all(torch.equal(a, b) for a, b in zip(tuned.prior.state_dict().values(), fitted.prior.state_dict().values()))
    assert not torch.equal(tuned.fc_mu.weight, fitted.fc_mu.weight)  # the encoder did train
    assert end.metrics["test_loss"] == vae_metrics(tuned, load_mnist(tiny_mnist, train=False))["test_loss"]


def test_kmeans_gives_every_point_its_nearest_of_k_centres():
    z, _, _ = _three_clusters(900)
    clusters = fitprior.kmeans(z, 3, torch.Generator().manual_seed(0))
    assert set(clusters.tolist()) == {0, 1, 2}
    centres = torch.stack([z[clusters == c].mean(0) for c in range(3)])
    assert torch.equal(torch.cdist(z, centres).argmin(1), clusters)  # converged: Lloyd's fixed point
