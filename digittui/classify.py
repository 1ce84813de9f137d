"""Classifying 28x28 digits with the CNN: probabilities over the 10 digits and the spare outputs."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from digittui.models import CNN


@dataclass
class Prediction:
    digit: int  # the most probable of the 10 digit classes
    confidence: float  # its probability
    probs: list[float]  # softmax over all outputs (10 digits, then the never-trained spare units)


@torch.no_grad()
def classify(model: CNN, images: np.ndarray | torch.Tensor) -> list[Prediction]:
    """images: [N, 28, 28] (or [28, 28]) floats in [0, 1], ink light on dark."""
    x = torch.as_tensor(np.asarray(images, dtype=np.float32))
    if x.dim() == 2:
        x = x[None]
    device = next(model.parameters()).device
    model.eval()
    probs = torch.softmax(model(x[:, None].to(device)).float(), dim=1).cpu()
    digits = model.config.num_classes
    out = []
    for p in probs:
        d = int(p[:digits].argmax())
        out.append(Prediction(d, float(p[d]), [float(v) for v in p]))
    return out
