"""Latent-space tools: paths between latents and morphs between test digits."""

import pytest
import torch

from digittui.data import Digits
from digittui.errors import DataError
from digittui.latent import interpolate, morph_test_digits
from digittui.models import VAE, VAEConfig


@pytest.fixture
def vae_and_digits():
    torch.manual_seed(0)
    vae = VAE(VAEConfig(latent_dim=4, channels=4, hidden=16)).eval()
    images = torch.randint(0, 256, (12, 28, 28), generator=torch.Generator().manual_seed(1), dtype=torch.uint8)
    return vae, Digits(images, torch.tensor([3, 8, 1] * 4))


def test_paths_start_and_end_at_their_ends():
    a, b = torch.randn(16), torch.randn(16)
    for spherical in (True, False):
        path = interpolate(a, b, 5, spherical)
        assert path.shape == (5, 16)
        assert torch.allclose(path[0], a, atol=1e-5) and torch.allclose(path[-1], b, atol=1e-5)


def test_a_test_digit_morph_runs_between_two_encoded_test_digits_of_those_classes(vae_and_digits):
    vae, digits = vae_and_digits
    frames = morph_test_digits(vae, digits, 3, 8, seed=5, steps=6)
    assert frames.shape == (6, 28, 28)
    with torch.no_grad():
        mu = vae.encode(digits.float_images())[0]
        decoded = vae.decode(mu)[:, 0]
    first = [i for i in range(len(digits)) if torch.allclose(decoded[i], frames[0], atol=1e-5)]
    last = [i for i in range(len(digits)) if torch.allclose(decoded[i], frames[-1], atol=1e-5)]
    assert len(first) == len(last) == 1
    assert digits.labels[first[0]] == 3 and digits.labels[last[0]] == 8
    assert torch.equal(frames, morph_test_digits(vae, digits, 3, 8, seed=5, steps=6))  # seeded


def test_a_digit_missing_from_the_test_set_is_a_message(vae_and_digits):
    vae, digits = vae_and_digits
    with pytest.raises(DataError, match="no 7"):
        morph_test_digits(vae, digits, 3, 7, seed=0)
