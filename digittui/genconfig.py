"""The guided generator's settings (digittui/generate.py explains each term).

A module of their own, without torch, so that `digittui --help` and the TUI's first frame can show
the defaults without importing torch (~2 s).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class GenerateConfig:
    count: int = 16  # samples per request
    steps: int = 30  # most Adam steps; samples that reach stop_confidence freeze earlier
    lr: float = 0.2  # Adam step size in latent space (N(0, I) has unit scale per coordinate)
    prior_weight: float = 0.05  # weight of the prior term: higher keeps latents where N(0, I) draws lie
    seed: int = 0  # same seed, same images
    stop_confidence: float = 0.9999  # freeze a sample once p(target) reaches this (hybrid: both >= half)
    robust: bool = True  # also score a randomly shifted / rotated copy of each image every step
    jitter_degrees: float = 15.0  # most rotation of that copy (15 beat 10 on 4 of 5 seeds, benchmarks/RESULTS.md)
    jitter_shift: float = 2.0  # most shift of that copy, in pixels
    init_candidates: int = 6  # draws per sample and digit, classified to pick natural starts; 1: plain N(0, I) starts
    sharpness: float = 2.0  # decoder logits are scaled by this before the sigmoid: crisper strokes
    report_every: int = 5  # steps between on_step calls and trajectory snapshots
