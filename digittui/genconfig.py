"""The guided generator's settings (digittui/generate.py explains each term).

A module of their own, without torch, so that `digittui --help` and the TUI's first frame can show
the defaults without importing torch (~2 s).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Init(str, Enum):
    """Where each sample's latent starts."""

    RANDOM = "random"  # one N(0, I) draw per sample, changed only by the optimization: noise becomes a digit
    PICKED = "picked"  # the draw, among a pool, that the CNN already reads as the target: a digit from step 0

    @classmethod
    def parse(cls, text: str) -> "Init":
        try:
            return cls(text)
        except ValueError:
            raise ValueError(f"{text!r} is not a start: choose {' or '.join(i.value for i in cls)}") from None


INIT_HELP = {Init.RANDOM: "each sample starts from one random latent; the CNN's guidance alone turns it "
                          "into the digit",
             Init.PICKED: "each sample starts from a random latent the CNN already reads as the target "
                          "(picked from a pool), then is polished"}


@dataclass
class GenerateConfig:
    count: int = 16  # samples per request
    init: Init = Init.PICKED  # where each latent starts (Init)
    steps: int = 80  # most Adam steps; samples that reach stop_confidence freeze earlier
    lr: float = 0.5  # Adam step size in latent space (N(0, I) has unit scale per coordinate)
    prior_weight: float = 0.4  # weight of the prior -log N(z; 0, I): higher keeps latents where the VAE's draws lie
    seed: int = 0  # same seed, same images
    stop_confidence: float = 0.9999  # freeze a sample once p(target) reaches this (hybrid: both >= half)
    robust: bool = True  # also score a randomly shifted / rotated copy of each image every step
    jitter_degrees: float = 15.0  # most rotation of that copy (15 beat 10 on 4 of 5 seeds, benchmarks/RESULTS.md)
    jitter_shift: float = 2.0  # most shift of that copy, in pixels
    init_candidates: int = 6  # Init.PICKED: draws per sample and digit, classified to pick natural starts
    sharpness: float = 2.0  # decoder logits are scaled by this before the sigmoid: crisper strokes
    report_every: int = 5  # steps between on_step calls and trajectory snapshots
