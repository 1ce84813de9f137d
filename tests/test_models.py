"""Shapes and losses of the CNN and the VAE."""

import math

import torch
import torch.nn.functional as F

from digittui.models import CNN, VAE, CNNConfig, VAEConfig, vae_loss


def test_cnn_maps_images_to_all_outputs():
    model = CNN(CNNConfig(num_outputs=16)).eval()
    assert model(torch.rand(5, 1, 28, 28)).shape == (5, 16)


def test_vae_shapes_and_reparameterization_noise():
    model = VAE(VAEConfig(latent_dim=8))
    x = torch.rand(4, 1, 28, 28)
    logits, mu, logvar = model(x)
    assert logits.shape == x.shape and mu.shape == logvar.shape == (4, 8)
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
    recon, kl = vae_loss(logits, x, mu, logvar)
    expected_recon = F.binary_cross_entropy(torch.sigmoid(logits), x, reduction="sum")
    assert math.isclose(recon.item(), expected_recon.item(), rel_tol=1e-4)
    # KL of N(mu, sigma^2) from N(0, 1), dimension by dimension.
    sigma2 = logvar.exp()
    expected_kl = 0.5 * (sigma2 + mu ** 2 - 1 - logvar).sum()
    assert math.isclose(kl.item(), expected_kl.item(), rel_tol=1e-5)
    zero_recon, zero_kl = vae_loss(logits, x, torch.zeros(3, 4), torch.zeros(3, 4))
    assert zero_kl.item() == 0.0
