"""Classifying digits with the CNN: calibrated probabilities, a verdict (a digit, not sure, not a
digit), and numbers read left to right from one image."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

import numpy as np
import torch

from digittui.calibration import NOT_SURE_BELOW, Calibration, digit_mass, probabilities
from digittui.models import CNN

SPLIT_ASPECT = 1.0  # a piece wider than its height may be touching digits (8% of MNIST's digits are)
# Prior odds that a piece is one digit, by its width / height: even at 1.4, e^3 to 1 at 1.1, 1 to
# e^3 at 1.7 (8% of MNIST's digits are wider than tall, 3% wider than 1.2, 0.4% than 1.5; the
# VAE's digits are often wider still, and the CNN reads parts of digits confidently).
ONE_DIGIT_ASPECT, ASPECT_SLOPE = 1.4, 10.0
EXTRA_DIGIT = float(np.log(0.2))  # each cut costs this: wide digits are commoner than touching ones
MIN_PART = 0.15  # parts of a split piece are at least this share of its height wide
UNSURE_PART = -5.0  # a cut or a join is kept only if every new part is read as a digit the CNN is sure of
MERGE_GAP = 0.2  # neighbours closer than this share of their height may be one broken digit


class Verdict(Enum):
    DIGIT = "digit"
    NOT_SURE = "not sure"  # a digit below NOT_SURE_BELOW
    NOT_A_DIGIT = "not a digit"  # its top two digits together below the checkpoint's threshold, or blank


@dataclass
class Prediction:
    digit: int  # the most probable of the 10 digit classes
    confidence: float  # its calibrated probability
    probs: list[float]  # calibrated softmax over all outputs (10 digits, then the spare units)
    verdict: Verdict = Verdict.DIGIT

    def top(self, k: int = 2) -> list[tuple[int, float]]:
        """The k most probable digits with their probabilities."""
        digits = self.probs[:10]
        return sorted(((d, digits[d]) for d in range(len(digits))), key=lambda t: -t[1])[:k]

    def describe(self) -> str:
        """'7 (99.2%)', 'not sure: 4 (61.0%) or 9 (37.5%)' or 'not a digit'."""
        if self.verdict is Verdict.NOT_A_DIGIT:
            return "not a digit"
        if self.verdict is Verdict.NOT_SURE:
            (a, pa), (b, pb) = self.top(2)
            return f"not sure: {a} ({pa:.1%}) or {b} ({pb:.1%})"
        return f"{self.digit} ({self.confidence:.1%})"


def _verdict(confidence: float, mass: float, calibration: Calibration) -> Verdict:
    """From an image's top calibrated digit probability and its two likeliest digits' (digit_mass)."""
    if mass < calibration.not_a_digit_below:
        return Verdict.NOT_A_DIGIT
    return Verdict.NOT_SURE if confidence < NOT_SURE_BELOW else Verdict.DIGIT


@torch.no_grad()
def classify(model: CNN, images: np.ndarray | torch.Tensor,
             calibration: Calibration | None = None) -> list[Prediction]:
    """images: [N, 28, 28] (or [28, 28]) floats in [0, 1], ink light on dark. Without a calibration
    the probabilities are the raw softmax and nothing is called "not a digit"."""
    calibration = calibration or Calibration()
    x = torch.as_tensor(np.asarray(images, dtype=np.float32))
    if x.dim() == 2:
        x = x[None]
    device = next(model.parameters()).device
    model.eval()
    logits = model(x[:, None].to(device)).cpu()
    probs = probabilities(logits, calibration.temperature)
    digits = model.config.num_classes
    out = []
    for p, mass in zip(probs, digit_mass(logits, calibration.temperature, digits).tolist()):
        d = int(p[:digits].argmax())
        out.append(Prediction(d, float(p[d]), [float(v) for v in p], _verdict(float(p[d]), mass, calibration)))
    return out


@dataclass
class ReadDigit:
    prediction: Prediction
    box: tuple[int, int, int, int]  # x0, y0, x1, y1 in the image's pixels (x1, y1 exclusive)
    image: np.ndarray  # the MNIST-style [28, 28] the CNN saw


@dataclass
class Reading:
    """What an image holds, left to right: each digit candidate with its verdict."""

    digits: list[ReadDigit] = field(default_factory=list)

    @property
    def number(self) -> str:
        """The digits as text; '?' where a piece is not a digit."""
        return "".join("?" if d.prediction.verdict is Verdict.NOT_A_DIGIT else str(d.prediction.digit)
                       for d in self.digits)

    def describe(self) -> str:
        if not self.digits:
            return "not a digit (blank)"
        if len(self.digits) == 1:
            return self.digits[0].prediction.describe()
        parts = ", ".join(d.prediction.describe() for d in self.digits)
        return f"{self.number}   [{parts}]"


def read(model: CNN, cleaned: np.ndarray, calibration: Calibration | None = None) -> Reading:
    """Every digit in a cleaned image (`preprocess.clean`), left to right: connected pieces,
    touching digits split where a cut gives two confident digits, broken digits joined where the
    whole reads better than its parts."""
    from digittui import segment

    calibration = calibration or Calibration()

    def judge(pieces: list) -> list[Prediction]:
        return classify(model, np.stack([_mnist(p, cleaned) for p in pieces]), calibration)

    found = segment.pieces(cleaned)
    if not found:
        return Reading()
    found = [part for piece in found for part in _split(piece, cleaned, judge)]
    found = _join_broken(found, judge)
    images = [_mnist(p, cleaned) for p in found]
    predictions = classify(model, np.stack(images), calibration)
    return Reading([ReadDigit(pred, p.box, img) for pred, p, img in zip(predictions, found, images)])


def _mnist(piece, cleaned: np.ndarray) -> np.ndarray:
    from digittui.preprocess import to_mnist

    return to_mnist(piece.image(cleaned))


def _split(piece, cleaned: np.ndarray, judge) -> list:
    """A wide piece as the touching digits it holds. Cuts are tried where `split_candidates` says; the
    parts chosen are those maximising the sum over parts of log p(digit) + log prior(one digit |
    the part's width / height) + EXTRA_DIGIT per part beyond the first + UNSURE_PART per part read
    as anything but a sure digit (dynamic programming over the cuts, every possible part read in
    one batch)."""
    from digittui.segment import split_candidates

    if piece.width <= SPLIT_ASPECT * piece.height:
        return [piece]
    x0, _, x1, _ = piece.box
    cuts = [x0] + sorted(split_candidates(piece, cleaned)) + [x1]
    parts = {}
    for i in range(len(cuts)):
        for j in range(i + 1, len(cuts)):
            if (i, j) == (0, len(cuts) - 1) or cuts[j] - cuts[i] >= MIN_PART * piece.height:
                part = piece.columns(cuts[i], cuts[j])
                if part is not None:
                    parts[i, j] = part
    verdicts = dict(zip(parts, judge(list(parts.values()))))
    whole = (0, len(cuts) - 1)
    score = {k: _score(verdicts[k], p, found=k == whole) for k, p in parts.items()}
    best: dict[int, tuple[float, int]] = {0: (0.0, -1)}
    for j in range(1, len(cuts)):
        options = [(best[i][0] + score[i, j] + (EXTRA_DIGIT if i else 0.0), i)
                   for i in range(j) if i in best and (i, j) in score]
        if options:
            best[j] = max(options)
    out, j = [], len(cuts) - 1
    while j > 0:
        i = best[j][1]
        out.append(parts[i, j])
        j = i
    return out[::-1]


def _score(prediction: Prediction, piece, found: bool) -> float:
    """A part's term in a reading's score: log p(its digit) + log prior(one digit | its aspect),
    + UNSURE_PART unless it is a sure digit or a piece as segmentation found it (a change to what
    segmentation found must prove itself)."""
    unsure = not found and prediction.verdict is not Verdict.DIGIT
    log_p = float(np.log(max(prediction.confidence, 1e-12)))
    return log_p + _one_digit_prior(piece) + (UNSURE_PART if unsure else 0.0)


def _one_digit_prior(piece) -> float:
    """log P(one digit | width / height): a logistic in the aspect, even at ONE_DIGIT_ASPECT."""
    z = ASPECT_SLOPE * (ONE_DIGIT_ASPECT - piece.width / piece.height)
    return -float(np.logaddexp(0.0, -z))


def _join_broken(found: list, judge) -> list:
    """Join close neighbours when one digit reads better than the two pieces: by `_split`'s score
    without EXTRA_DIGIT (pieces that do not touch are as often two digits as one broken digit; a 5's
    loose bar is no digit alone), or as a sure digit more confident than either piece (a 0 broken into
    two arcs that a CNN reads as two sure 1s, which the score calls a tie)."""
    from digittui.segment import join

    i = 0
    while i < len(found) - 1:
        a, b = found[i], found[i + 1]
        union = join(a, b)
        if b.box[0] - a.box[2] <= MERGE_GAP * union.height:
            pa, pb, pu = judge([a, b, union])
            sure = pu.verdict is Verdict.DIGIT and pu.confidence > max(pa.confidence, pb.confidence)
            if sure or _score(pu, union, found=False) > _score(pa, a, found=True) + _score(pb, b, found=True):
                found[i:i + 2] = [union]
                continue
        i += 1
    return found
