"""Honest confidence: expected calibration error on the test set, and how often "not a digit" is said
for non-digits (letters in five fonts, random scribbles; `nondigits.py`; a blank image always is) and for the
MNIST test digits. Uses the calibration stored in the checkpoint (fitted on the validation split by
`digittui train cnn --holdout N`); `--fit` refits it here on the last 5,000 training images first
(for checkpoints trained with that holdout, e.g. while trying recipes).

    DIGITTUI_DATA=/path/to/data python benchmarks/calibration.py [--cnn FILE] [--fit]

Targets (issue #15): ECE <= 1% on the test set; >= 90% of non-digits flagged, <= 1% of test digits.
Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import nondigits  # noqa: E402  (the sibling file)

from digittui import checkpoints  # noqa: E402
from digittui.calibration import (  # noqa: E402
    NOT_SURE_BELOW, Calibration, confidence, digit_mass, expected_calibration_error, fit)
from digittui.data import load_mnist  # noqa: E402
from digittui.paths import data_dir  # noqa: E402


@torch.no_grad()
def logits_of(model, images: torch.Tensor, batch: int = 1000) -> torch.Tensor:
    """images [N, 28, 28] or [N, 1, 28, 28] floats -> logits [N, outputs]."""
    x = images if images.dim() == 4 else images[:, None]
    return torch.cat([model(x[s:s + batch]).float() for s in range(0, len(x), batch)])


def main() -> None:
    parser = argparse.ArgumentParser(description="Calibration error and not-a-digit rates.")
    parser.add_argument("--cnn", help="CNN checkpoint (default: your trained one, else the shipped one)")
    parser.add_argument("--data-dir", help="folder holding MNIST/raw/ (default: $DIGITTUI_DATA)")
    parser.add_argument("--fit", action="store_true",
                        help="refit on the last 5,000 training images (only for checkpoints that never saw them)")
    args = parser.parse_args()

    ckpt = checkpoints.load_default("cnn", args.cnn)[0]
    model = ckpt.model.eval()
    root = data_dir(args.data_dir)
    test = load_mnist(root, train=False)
    if args.fit:
        train = load_mnist(root, train=True)
        calibration = fit(logits_of(model, train.float_images(slice(-5000, None))), train.labels[-5000:],
                          "validation: the last 5,000 training images (refit by benchmarks/calibration.py)")
    else:
        calibration = Calibration.from_dict(ckpt.calibration)
    t = calibration.temperature
    z = logits_of(model, test.float_images())
    correct = (z[:, :10].argmax(1) == test.labels).float()
    sets = {"letters": nondigits.letters(), "lookalike_letters": nondigits.letters("lookalikes"),
            "scribbles": nondigits.strokes()}
    def share_flagged(logits: torch.Tensor) -> float:
        return round(float((digit_mass(logits, t) < calibration.not_a_digit_below).float().mean()), 4)

    flagged = {name: share_flagged(logits_of(model, torch.from_numpy(a))) for name, a in sets.items()}
    non_digits = np.concatenate([sets["letters"], sets["scribbles"]])
    result = {
        "cnn": str(ckpt.path), "calibration": calibration.as_dict(),
        "test_accuracy": round(float(correct.mean()), 4),
        "ece_uncalibrated": round(expected_calibration_error(confidence(z, 1.0), correct), 5),
        "ece": round(expected_calibration_error(confidence(z, t), correct), 5),
        "test_digits_flagged": share_flagged(z),
        "test_digits_not_sure": round(float((confidence(z, t) < NOT_SURE_BELOW).float().mean()), 4),
        "non_digits_flagged": share_flagged(logits_of(model, torch.from_numpy(non_digits))),
        "flagged": flagged, "non_digit_images": {k: len(v) for k, v in sets.items()},
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
