"""Honest confidence: temperature scaling (Guo et al. 2017) and the "not a digit" threshold, both
fitted on a validation split that training never saw, and the expected calibration error.

A checkpoint stores the result as plain values (`Calibration.as_dict`):
    temperature       logits are divided by it before the softmax
    not_a_digit_below the quantile of the validation digits' calibrated confidences that flags
                      `digit_false_alarm` of them; an image is "not a digit" when even its two likeliest
                      digits together (`digit_mass`) fall under it: one torn between two digits is a
                      doubtful digit, not a non-digit
    fitted_on         what it was fitted on, e.g. "validation: the last 5,000 training images"
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F

NOT_SURE_BELOW = 0.9  # a calibrated confidence under this says "not sure" and shows the top two
DIGIT_FALSE_ALARM = 0.005  # the share of validation digits that the not-a-digit threshold flags


@dataclass
class Calibration:
    temperature: float = 1.0
    not_a_digit_below: float = 0.0  # 0: no threshold fitted, only blank images are not digits
    fitted_on: str = "nothing (uncalibrated)"

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict | None) -> "Calibration":
        """From a checkpoint's stored values; anything missing or malformed gives the uncalibrated default."""
        if not isinstance(values, dict):
            return cls()
        try:
            c = cls(float(values["temperature"]), float(values["not_a_digit_below"]), str(values["fitted_on"]))
        except (KeyError, TypeError, ValueError):
            return cls()
        return c if 0.01 <= c.temperature <= 100 and 0 <= c.not_a_digit_below < 1 else cls()


def probabilities(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """Calibrated softmax over all outputs (digits, then the spare units)."""
    return torch.softmax(logits.float() / temperature, dim=1)


def confidence(logits: torch.Tensor, temperature: float, digits: int = 10) -> torch.Tensor:
    """The calibrated probability of the most probable digit, [N]."""
    return probabilities(logits, temperature)[:, :digits].max(1).values


def digit_mass(logits: torch.Tensor, temperature: float, digits: int = 10) -> torch.Tensor:
    """The calibrated probability of the two most probable digits together, [N]: what the not-a-digit
    threshold is held against."""
    return probabilities(logits, temperature)[:, :digits].topk(2, dim=1).values.sum(1)


def fit_temperature(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """The temperature minimising the negative log-likelihood of `labels` (one scalar, so a
    bounded 1-D search: LBFGS on log T)."""
    logits, labels = logits.detach().float(), labels.detach()
    log_t = torch.zeros((), requires_grad=True)
    optimizer = torch.optim.LBFGS([log_t], lr=0.1, max_iter=200, line_search_fn="strong_wolfe")

    def closure():
        optimizer.zero_grad()
        loss = F.cross_entropy(logits / log_t.exp(), labels)
        loss.backward()
        return loss

    optimizer.step(closure)
    return float(log_t.detach().clamp(-4, 4).exp())


def expected_calibration_error(conf: torch.Tensor, correct: torch.Tensor, bins: int = 15) -> float:
    """ECE: the gap |accuracy - mean confidence| of each of `bins` equal-width confidence bins,
    weighted by the share of predictions in it."""
    conf, correct = conf.detach().float().flatten(), correct.detach().float().flatten()
    if conf.numel() == 0:
        return 0.0
    index = (conf * bins).long().clamp(max=bins - 1)
    total = torch.zeros(bins).index_add_(0, index, torch.ones_like(conf))
    gap = torch.zeros(bins).index_add_(0, index, conf - correct).abs()
    return float(gap.sum() / conf.numel()) if total.sum() else 0.0


def fit(logits: torch.Tensor, labels: torch.Tensor, fitted_on: str,
        false_alarm: float = DIGIT_FALSE_ALARM) -> Calibration:
    """Temperature and not-a-digit threshold from validation logits [N, outputs] and labels [N]."""
    t = fit_temperature(logits, labels)
    threshold = float(torch.quantile(confidence(logits, t), false_alarm))
    return Calibration(round(t, 4), round(threshold, 4), fitted_on)
