"""The two networks: a CNN digit classifier and a convolutional VAE."""

from digittui.models.cnn import CNN, CNNConfig
from digittui.models.vae import VAE, VAEConfig, vae_loss

__all__ = ["CNN", "CNNConfig", "VAE", "VAEConfig", "vae_loss"]
