"""The variational autoencoder: conv encoder to (mu, logvar), reparameterization, deconv decoder.

Loss = binary cross-entropy summed over the 784 pixels + KL(q(z|x) || p(z)), per image, in nats: the
negative ELBO, the quantity pytorch/examples' VAE prints as "Test set loss" (its prior is N(0, I), as
here unless a mixture was fitted: digittui/models/prior.py).
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from digittui.modelconfig import VAEConfig
from digittui.models.prior import make_prior


class VAE(nn.Module):
    def __init__(self, config: VAEConfig | None = None) -> None:
        super().__init__()
        c = self.config = config or VAEConfig()
        ch = c.channels
        self.enc1 = nn.Conv2d(1, ch, 4, stride=2, padding=1)  # 28 -> 14
        self.enc2 = nn.Conv2d(ch, 2 * ch, 4, stride=2, padding=1)  # 14 -> 7
        self.enc_fc = nn.Linear(2 * ch * 7 * 7, c.hidden)
        self.fc_mu = nn.Linear(c.hidden, c.latent_dim)
        self.fc_logvar = nn.Linear(c.hidden, c.latent_dim)
        self.dec_fc1 = nn.Linear(c.latent_dim, c.hidden)
        self.dec_fc2 = nn.Linear(c.hidden, 2 * ch * 7 * 7)
        self.dec1 = nn.ConvTranspose2d(2 * ch, ch, 4, stride=2, padding=1)  # 7 -> 14
        # A transposed conv of stride 2 draws each output pixel from a 2x2 patch of features; a 3x3 conv
        # at full resolution lets neighbouring pixels' logits depend on each other's features.
        self.dec2 = nn.ConvTranspose2d(ch, c.refine or 1, 4, stride=2, padding=1)  # 14 -> 28
        self.dec3 = nn.Conv2d(c.refine, 1, 3, padding=1) if c.refine else None
        self.prior = make_prior(c.prior_components, c.latent_dim)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x: [B, 1, 28, 28] in [0, 1] -> (mu, logvar), each [B, latent_dim]."""
        h = F.relu(self.enc1(x))  # [B, ch, 14, 14]
        h = F.relu(self.enc2(h))  # [B, 2ch, 7, 7]
        h = F.relu(self.enc_fc(torch.flatten(h, 1)))  # [B, hidden]
        return self.fc_mu(h), self.fc_logvar(h)

    def reparameterize(self, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
        """z = mu + sigma * eps with eps ~ N(0, I): sampling that gradients can flow through."""
        std = torch.exp(0.5 * logvar)
        return mu + std * torch.randn_like(std)

    def decode_logits(self, z: torch.Tensor) -> torch.Tensor:
        """z: [B, latent_dim] -> Bernoulli logits [B, 1, 28, 28]."""
        h = F.relu(self.dec_fc1(z))  # [B, hidden]
        h = F.relu(self.dec_fc2(h)).view(-1, 2 * self.config.channels, 7, 7)  # [B, 2ch, 7, 7]
        h = F.relu(self.dec1(h))  # [B, ch, 14, 14]
        if self.dec3 is None:
            return self.dec2(h)  # [B, 1, 28, 28]
        return self.dec3(F.relu(self.dec2(h)))  # [B, refine, 28, 28] -> [B, 1, 28, 28]

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """z: [B, latent_dim] -> images [B, 1, 28, 28] in [0, 1]."""
        return torch.sigmoid(self.decode_logits(z))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """(logits, z, mu, logvar): z sampled in training mode, the posterior mean in eval mode."""
        mu, logvar = self.encode(x)
        z = self.reparameterize(mu, logvar) if self.training else mu
        return self.decode_logits(z), z, mu, logvar


def vae_loss(model: VAE, logits: torch.Tensor, x: torch.Tensor, z: torch.Tensor, mu: torch.Tensor,
             logvar: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(reconstruction, KL), each summed over the batch, in nats, for logits decoded from z ~ q(z|x).

    Reconstruction: BCE of the decoder's logits against the [0, 1] pixels, summed over 784 pixels.
    KL: the model's prior's (closed form against N(0, I); against a mixture, estimated from z).
    """
    recon = F.binary_cross_entropy_with_logits(logits.float(), x.float(), reduction="sum")
    return recon, model.prior.kl(z, mu, logvar)
