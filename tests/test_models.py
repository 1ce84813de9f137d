"""Shapes and losses of the CNN and the VAE."""

import math

import torch
import torch.nn.functional as F

from digittui.models import CNN, VAE, CNNConfig, VAEConfig, vae_loss
from digittui.models.prior import GaussianMixture, StandardNormal


def test_cnn_maps_images_to_all_outputs():
    model = CNN(CNNConfig(num_outputs=16)).eval()
    assert model(torch.rand(5, 1, 28, 28)).shape == (5, 16)


def test_cnn_depth_adds_same_width_convs_and_keeps_old_checkpoints_loadable():
    plain, deep = CNN(CNNConfig()), CNN(CNNConfig(depth=3))
    assert set(plain.state_dict()) <= set(deep.state_dict())  # depth 1 has exactly the layers of before
    assert not any(k.startswith("more") for k in plain.state_dict())
    extra = [m for m in deep.modules() if isinstance(m, torch.nn.Conv2d)][3:]
    assert [(c.in_channels, c.out_channels, c.kernel_size) for c in extra] == \
        [(w, w, (3, 3)) for w in (16, 16, 32, 32, 64, 64)]
    assert deep.eval()(torch.rand(2, 1, 28, 28)).shape == (2, 16)


def test_calibrated_copy_divides_the_logits_by_the_temperature():
    torch.manual_seed(0)
    cnn = CNN(CNNConfig(conv1=4, conv2=8, conv3=8, hidden=16)).eval()
    cnn.temperature = 0.5
    before = {k: v.clone() for k, v in cnn.state_dict().items()}
    copy = cnn.calibrated_copy()
    x = torch.rand(5, 1, 28, 28)
    with torch.no_grad():
        torch.testing.assert_close(copy(x), cnn(x) / 0.5)
    assert copy.temperature == 1 and not copy.training
    assert all(torch.equal(v, before[k]) for k, v in cnn.state_dict().items())  # the original is untouched


def test_vae_shapes_and_reparameterization_noise():
    model = VAE(VAEConfig(latent_dim=8))
    x = torch.rand(4, 1, 28, 28)
    logits, z, mu, logvar = model(x)
    assert logits.shape == x.shape and z.shape == mu.shape == logvar.shape == (4, 8)
    assert not torch.equal(z, mu)  # training mode decodes a draw
    assert model.decode(torch.zeros(2, 8)).shape == (2, 1, 28, 28)
    torch.manual_seed(0)
    z1 = model.reparameterize(mu, logvar)
    z2 = model.reparameterize(mu, logvar)
    assert not torch.equal(z1, z2)  # sampled, not the mean
    model.eval()
    assert torch.equal(model(x)[0], model(x)[0])  # eval decodes the mean: deterministic


def test_vae_refine_adds_a_full_resolution_conv_and_keeps_old_checkpoints_loadable():
    plain, refined = VAE(VAEConfig()), VAE(VAEConfig(refine=8))
    new_keys = set(refined.state_dict()) - set(plain.state_dict())
    assert new_keys == {"dec3.weight", "dec3.bias"}  # refine=0 has exactly the layers of before
    assert refined.dec2.out_channels == 8 and refined.decode(torch.zeros(2, 16)).shape == (2, 1, 28, 28)
    # the 3x3 conv mixes neighbouring pixels: moving one feature map value moves a 3x3 patch of logits
    h = torch.zeros(1, 8, 28, 28)
    h[0, :, 10, 10] = 1.0
    changed = (refined.dec3(h) - refined.dec3(torch.zeros_like(h))).abs()[0, 0] > 0
    assert changed[9:12, 9:12].all() and changed.sum() == 9


def test_vae_loss_is_summed_bce_plus_closed_form_kl():
    x = torch.rand(3, 1, 28, 28)
    logits = torch.randn(3, 1, 28, 28)
    mu, logvar = torch.randn(3, 4), torch.randn(3, 4)
    model = VAE(VAEConfig(latent_dim=4))
    recon, kl = vae_loss(model, logits, x, torch.randn(3, 4), mu, logvar)
    expected_recon = F.binary_cross_entropy(torch.sigmoid(logits), x, reduction="sum")
    assert math.isclose(recon.item(), expected_recon.item(), rel_tol=1e-4)
    # KL of N(mu, sigma^2) from N(0, 1), dimension by dimension.
    sigma2 = logvar.exp()
    expected_kl = 0.5 * (sigma2 + mu ** 2 - 1 - logvar).sum()
    assert math.isclose(kl.item(), expected_kl.item(), rel_tol=1e-5)
    zero_recon, zero_kl = vae_loss(model, logits, x, torch.randn(3, 4), torch.zeros(3, 4), torch.zeros(3, 4))
    assert zero_kl.item() == 0.0


def _random_mixture(k: int, d: int, seed: int = 0) -> GaussianMixture:
    g = torch.Generator().manual_seed(seed)
    mixture = GaussianMixture(k, d)
    a = torch.randn(k, d, d, generator=g)
    mixture.scale_tril.copy_(torch.linalg.cholesky(a @ a.transpose(1, 2) + 0.1 * torch.eye(d)))
    mixture.means.copy_(3 * torch.randn(k, d, generator=g))
    mixture.log_weights.copy_(torch.randn(k, generator=g).log_softmax(0))
    return mixture


def test_mixture_density_is_torch_distributions_one_for_any_leading_shape():
    from torch.distributions import Categorical, MixtureSameFamily, MultivariateNormal

    mixture = _random_mixture(5, 3)
    reference = MixtureSameFamily(Categorical(logits=mixture.log_weights),
                                  MultivariateNormal(mixture.means, scale_tril=mixture.scale_tril))
    z = 3 * torch.randn(7, 2, 3)
    assert mixture.log_prob(z).shape == (7, 2)
    assert torch.allclose(mixture.log_prob(z), reference.log_prob(z), atol=1e-4)


def test_an_unfitted_mixture_is_the_standard_normal():
    z = torch.randn(10, 4)
    assert torch.allclose(GaussianMixture(7, 4).log_prob(z), StandardNormal(4).log_prob(z), atol=1e-5)


def test_mixture_draws_follow_its_components():
    mixture = GaussianMixture(2, 2)
    mixture.means.copy_(torch.tensor([[-10.0, 0.0], [10.0, 0.0]]))
    mixture.scale_tril.copy_(torch.diag_embed(torch.tensor([[1.0, 0.1], [1.0, 0.1]])))
    mixture.log_weights.copy_(torch.tensor([0.25, 0.75]).log())
    z = mixture.sample(20_000, torch.Generator().manual_seed(0))
    right = z[:, 0] > 0
    assert abs(right.float().mean().item() - 0.75) < 0.02
    assert abs(z[right, 0].mean().item() - 10) < 0.05 and abs(z[right, 1].std().item() - 0.1) < 0.01
    assert torch.equal(z, mixture.sample(20_000, torch.Generator().manual_seed(0)))  # seeded
    assert mixture.double().sample(3).dtype == torch.float64  # as fitprior makes them


def test_standard_normal_draws_are_torch_randn_draw_for_draw():
    """Generation and Explore drew torch.randn before priors existed: the same seed, the same images."""
    assert torch.equal(StandardNormal(16).sample(5, torch.Generator().manual_seed(3)),
                       torch.randn(5, 16, generator=torch.Generator().manual_seed(3)))


def test_mixture_kl_estimate_is_unbiased():
    """Against a mixture of one N(0, I), the one-draw estimate averages to the closed form."""
    mu, logvar = torch.randn(1, 4).expand(50_000, 4), torch.randn(1, 4).expand(50_000, 4)
    z = mu + (0.5 * logvar).exp() * torch.randn(50_000, 4)
    estimate = GaussianMixture(1, 4).kl(z, mu, logvar) / 50_000
    exact = StandardNormal(4).kl(z, mu, logvar) / 50_000
    assert abs(estimate.item() - exact.item()) < 0.05 * max(1.0, exact.item())


def test_a_vae_without_a_fitted_prior_has_the_state_dict_of_before():
    plain, mixed = VAE(VAEConfig()), VAE(VAEConfig(prior_components=3))
    assert not any(k.startswith("prior.") for k in plain.state_dict())  # old checkpoints load unchanged
    assert set(mixed.state_dict()) - set(plain.state_dict()) == {"prior.log_weights", "prior.means", "prior.scale_tril"}
    assert not any(n.startswith("prior.") for n, _ in mixed.named_parameters())  # training never moves it


def test_vae_loss_against_a_mixture_is_log_q_minus_log_p_at_the_decoded_draw():
    model = VAE(VAEConfig(latent_dim=3, prior_components=5))
    model.prior.load_state_dict(_random_mixture(5, 3).state_dict())
    mu, logvar, z = torch.randn(4, 3), torch.randn(4, 3), torch.randn(4, 3)
    _, kl = vae_loss(model, torch.zeros(4, 1, 28, 28), torch.rand(4, 1, 28, 28), z, mu, logvar)
    log_q = torch.distributions.Normal(mu, (0.5 * logvar).exp()).log_prob(z).sum(1)
    assert math.isclose(kl.item(), (log_q - model.prior.log_prob(z)).sum().item(), rel_tol=1e-4)
