"""Test-set metrics: the CNN's accuracy, the VAE's negative ELBO and importance-weighted bound in nats per image."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from digittui.data import Digits
from digittui.models import CNN, VAE, vae_loss
from digittui.models.prior import LOG_2PI


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
def cnn_predictions(model: CNN, digits: Digits, batch_size: int = 1000, logits: bool = False) -> torch.Tensor:
    """Softmax probabilities (or with `logits`, the logits) [N, num_outputs] for every image, on the CPU."""
    was_training = model.training
    model.eval()
    out = [model(digits.float_images(slice(s, s + batch_size))).float().cpu()
           for s in range(0, len(digits), batch_size)]
    model.train(was_training)
    out = torch.cat(out) if out else torch.empty(0, model.config.num_outputs)
    return out if logits else torch.softmax(out, 1)


def calibration_metrics(model: CNN, digits: Digits, calibration) -> dict[str, float]:
    """How honest the CNN's confidence is on `digits` under a digittui.calibration.Calibration:
    {"ece": expected calibration error, "ece_uncalibrated": the same at temperature 1,
    "not_sure": share said "not sure", "not_a_digit": share said "not a digit"}."""
    from digittui.calibration import NOT_SURE_BELOW, confidence, digit_mass, expected_calibration_error

    logits = cnn_predictions(model, digits, logits=True)
    correct = (logits[:, :model.config.num_classes].argmax(1) == digits.labels.cpu()).float()
    conf = confidence(logits, calibration.temperature, model.config.num_classes)
    flagged = digit_mass(logits, calibration.temperature, model.config.num_classes) < calibration.not_a_digit_below
    return {"ece": round(expected_calibration_error(conf, correct), 5),
            "ece_uncalibrated": round(expected_calibration_error(
                confidence(logits, 1.0, model.config.num_classes), correct), 5),
            "not_sure": round(float(((conf < NOT_SURE_BELOW) & ~flagged).float().mean()), 4),
            "not_a_digit": round(float(flagged.float().mean()), 4)}


@torch.no_grad()
def vae_metrics(model: VAE, digits: Digits, batch_size: int = 1000, seed: int = 0) -> dict[str, float]:
    """The negative ELBO in nats per image, "test_loss", and its parts "test_recon" (the decoder's
    BCE for one z drawn from q(z|x)) and "test_kl" (KL(q(z|x) || p(z)): in closed form against
    N(0, I), estimated from the same z against a fitted mixture).

    z is sampled, as the ELBO requires and as pytorch/examples' VAE does for its "Test set loss"; the
    draws come from `seed`, so the figure repeats. Decoding the posterior mean instead would give a
    lower number that bounds nothing (it stays for the reconstructions shown on screen)."""
    was_training = model.training
    model.eval()
    device = digits.labels.device
    generator = torch.Generator(device).manual_seed(seed)
    totals = torch.zeros(2, device=device)  # [recon, kl]: read back once at the end
    for start in range(0, len(digits), batch_size):
        x = digits.float_images(slice(start, start + batch_size))
        mu, logvar = model.encode(x)
        z = mu + torch.exp(0.5 * logvar) * torch.randn(mu.shape, generator=generator, device=device)
        totals += torch.stack(vae_loss(model, model.decode_logits(z), x, z, mu, logvar))
    model.train(was_training)
    n = max(len(digits), 1)
    recon, kl = totals.tolist()
    # float32 sums, as in cnn_metrics: four decimals of a nat are all that is meaningful
    return {"test_loss": round((recon + kl) / n, 4), "test_recon": round(recon / n, 4),
            "test_kl": round(kl / n, 4)}


@torch.no_grad()
def vae_iw_bound(model: VAE, digits: Digits, samples: int, seed: int = 0, decodes: int = 4096) -> float:
    """The negative importance-weighted bound (IWAE, Burda et al. 2016) in nats per image: the mean
    over images of -log (1/K) sum_k p(x|z_k) p(z_k) / q(z_k|x) (p(z) the model's prior), with K = `samples` draws z_k from
    q(z|x). It is >= -log p(x), tightens towards it as K grows, and equals the negative ELBO in
    expectation at K = 1. `decodes` bounds the images decoded at once (memory)."""
    if samples < 1:
        raise ValueError(f"samples must be at least 1, not {samples}")
    was_training = model.training
    model.eval()
    device = digits.labels.device
    generator = torch.Generator(device).manual_seed(seed)
    images = max(1, decodes // samples)  # per batch; each takes `chunk` samples at a time
    chunk = max(1, decodes // images)
    total = torch.zeros((), dtype=torch.float64, device=device)
    for start in range(0, len(digits), images):
        x = digits.float_images(slice(start, start + images)).flatten(1)  # [B, 784]
        mu, logvar = model.encode(x.view(-1, 1, 28, 28))
        log_sum = torch.full((x.shape[0],), -math.inf, dtype=torch.float64, device=device)
        for k_start in range(0, samples, chunk):
            k = min(chunk, samples - k_start)
            eps = torch.randn((k, *mu.shape), generator=generator, device=device)
            z = mu + torch.exp(0.5 * logvar) * eps  # [k, B, D]
            logits = model.decode_logits(z.flatten(0, 1)).float().view(k, *x.shape)
            log_px_z = -F.binary_cross_entropy_with_logits(logits, x.expand_as(logits), reduction="none").sum(-1)
            log_pz = model.prior.log_prob(z)
            log_qz = -0.5 * (eps.pow(2) + logvar + LOG_2PI).sum(-1)
            log_w = (log_px_z + log_pz - log_qz).double()  # [k, B]
            log_sum = torch.logaddexp(log_sum, torch.logsumexp(log_w, 0))
        total -= (log_sum - math.log(samples)).sum()
    model.train(was_training)
    return round(total.item() / max(len(digits), 1), 4)
