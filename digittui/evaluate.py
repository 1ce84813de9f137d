"""Test-set metrics: the CNN's accuracy and the VAE's loss in nats per image."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from digittui.data import Digits
from digittui.models import CNN, VAE, vae_loss


@torch.no_grad()
def cnn_metrics(model: CNN, digits: Digits, batch_size: int = 1000) -> dict[str, float]:
    """{"test_accuracy": fraction correct, "test_loss": mean cross-entropy} over `digits`."""
    was_training = model.training
    model.eval()
    totals = torch.zeros(2, device=digits.labels.device)  # [correct, loss]: read back once at the end
    for start in range(0, len(digits), batch_size):
        x = digits.float_images(slice(start, start + batch_size))
        y = digits.labels[start:start + batch_size]
        logits = model(x).float()
        totals[0] += (logits.argmax(1) == y).sum()
        totals[1] += F.cross_entropy(logits, y, reduction="sum")
    model.train(was_training)
    n = max(len(digits), 1)
    correct, loss = totals.tolist()
    # The sums are float32: digits past the 6th are noise, so they are not reported.
    return {"test_accuracy": round(correct) / n, "test_loss": round(loss / n, 6)}


@torch.no_grad()
def cnn_predictions(model: CNN, digits: Digits, batch_size: int = 1000) -> torch.Tensor:
    """Softmax probabilities [N, num_outputs] for every image, on the CPU."""
    model.eval()
    out = [torch.softmax(model(digits.float_images(slice(s, s + batch_size))).float(), 1).cpu()
           for s in range(0, len(digits), batch_size)]
    return torch.cat(out) if out else torch.empty(0, model.config.num_outputs)


@torch.no_grad()
def vae_metrics(model: VAE, digits: Digits, batch_size: int = 1000) -> dict[str, float]:
    """{"test_loss", "test_recon", "test_kl"} in nats per image, decoding the posterior mean
    (as pytorch/examples' VAE does in eval mode)."""
    was_training = model.training
    model.eval()
    totals = torch.zeros(2, device=digits.labels.device)  # [recon, kl]: read back once at the end
    for start in range(0, len(digits), batch_size):
        x = digits.float_images(slice(start, start + batch_size))
        logits, mu, logvar = model(x)
        totals += torch.stack(vae_loss(logits, x, mu, logvar))
    model.train(was_training)
    n = max(len(digits), 1)
    recon, kl = totals.tolist()
    # float32 sums, as in cnn_metrics: four decimals of a nat are all that is meaningful
    return {"test_loss": round((recon + kl) / n, 4), "test_recon": round(recon / n, 4),
            "test_kl": round(kl / n, 4)}
