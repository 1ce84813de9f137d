"""Classifier-guided generation: search the VAE's latent space for images the CNN reads as the target.

Each sample is a latent z (16 numbers) decoded by the VAE into a 28x28 image x(z). Adam minimises,
for a batch of latents in parallel,

    loss(z) = - guidance(T(x(z)))                  T: a random small rotation, scaling and shift,
                                                   a new one each step (config.robust)
              + prior_weight * |z|^2 / 2           -log N(z; 0, I): the VAE's own prior

which is the negative log of p(target | x(z)) p(z)^prior_weight: the most probable latents of the
target under the VAE. The guidance term depends on the request (see digittui.spec):
    digit d       the log-odds of d, log p(d) - log(1 - p(d)), which keeps rising as p(d) nears 1 (log p
                  flattens there, and the prior would hold the sample on the border of its class, where
                  shapes are ambiguous)
    number        each digit position is its own latent with its own digit; all optimized together
    hybrid a+b    log p(a) + log p(b): largest where p(a) = p(b) = 0.5, so neither digit wins
    class:k       the log-odds of an output unit that no training example ever targeted: training
                  only ever pushed such units down, so this asks what the CNN's leftover weights
                  respond to. The result reports p(k) and, honestly, the digit the CNN actually sees
                  (`predicted`, `probs`); p(k) often stays low, because the VAE can only draw
                  digit-like images and the CNN learnt to give those to the digits.

Who guides: p comes from the guide (assets/guide.pt, `load_guide`), a CNN trained with Gaussian pixel
noise (`digittui train cnn --epochs 4 --augment --noise 1.0`). A classifier trained only on clean
digits is confident far from any digit, so the path its gradient draws through the latent space from
a random start often stalls on a wrong shape or ends on a blend it alone believes in; a noise-trained
one has input gradients that add and remove strokes (Santurkar et al. 2019, "Image Synthesis with a
Single (Robust) Classifier"). The CNN, a classifier the user trusts, decides when a sample is done
and gives every reported confidence; for class:k it also guides, as the experiment is about its own
unit. Without a guide file the CNN guides itself. (The app passes the CNN in use, but in place of the
shipped one, which is trained to read handwriting unlike MNIST's, the shipped decider: digittui.weights.)

A sample is done, and freezes, once the CNN gives the target `stop_confidence` on its image and on a
jittered copy, and, from a random start, under each of the self-check's eight fixed warps (`CHECKS`,
below; picked starts passed it when they were picked): a verdict that a small warp overturns is not
kept, since another reader would often see another digit there. Frozen samples cost nothing more. Each row ends on the best latent it reached (the highest confidence over
the image and its jittered copy, 0 while a check fails), not the last: a hybrid's optimum
p(a) = p(b) = 0.5 is a knife edge that Adam steps across.
Decoded images are sharpened (`sharpness`) towards MNIST's nearly black-and-white strokes.

Starts (config.init): Init.RANDOM takes one N(0, I) draw per sample as it comes, and only the
optimization changes it: noise becomes the digit. Init.PICKED draws a pool (`init_candidates` per
sample and digit) and starts each sample from a draw that the CNN already reads as the target and
that keeps that reading under eight fixed warps (`CHECKS`: +-12 degrees, scale 0.9 / 1.1, a 1.5-pixel
diagonal shift, every combination), in random order (which keeps them as varied as the VAE's digits);
then those that passed the most checks: rejection sampling, polished by the same optimization.

Every p the CNN gives here is its calibrated probability (its checkpoint's temperature, as `classify`
reports it), so "done at 0.9999" means what the classifier would say. Confidence per sample: digit
p(d); number the product over its digits (all read right); hybrid min(p(a), p(b)), at most 0.5;
class p(k). Each result carries its journey: frames from step 0 to the end with the CNN's confidence
in each. Same seed, same requests -> same images (on CUDA, the same up to the last bits, since
grid_sample's backward there adds with atomics; tests/test_gpu.py).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Callable, Sequence

import torch
import torch.nn.functional as F

from digittui.data import affine, augment
from digittui.genconfig import GenerateConfig, Init  # its own module: the CLI shows its defaults without torch
from digittui.models import CNN, VAE
from digittui.spec import NUM_DIGITS, Request


@dataclass
class GenerateStep:
    index: int  # which request of the batch this is about (0 for `generate`)
    step: int  # steps done
    steps: int  # config.steps
    images: torch.Tensor  # CPU float [N, H, W] in [0, 1], the current decoded samples
    confidence: torch.Tensor  # CPU float [N]
    done: int  # samples frozen because they reached stop_confidence


@dataclass
class Generated:
    request: Request
    images: torch.Tensor  # CPU float32 [N, 28, 28 * positions] in [0, 1]
    latents: torch.Tensor  # CPU float32 [N, positions, latent_dim]
    confidence: torch.Tensor  # CPU float32 [N], see the module docstring
    probs: torch.Tensor  # CPU float32 [N, positions, num_outputs]: the CNN's softmax per digit position
    predicted: torch.Tensor  # CPU int64 [N, positions]: the CNN's most probable digit (0-9) per position
    trajectory: torch.Tensor  # CPU float32 [T, N, H, W]: frames from the start (step 0) to the result
    trajectory_confidence: torch.Tensor  # CPU float32 [T, N]: the CNN's confidence in each frame
    trajectory_steps: list[int]  # [T]: the step of each frame
    steps: int  # steps actually run
    cancelled: bool = False  # should_stop() ended the run early; the images are where it stopped


def _targets(requests: Sequence[Request], count: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Per latent row: the two target classes [R, 2] (equal unless hybrid) and its request index [R].
    Rows are ordered request by request, sample by sample, position by position."""
    pairs, owner = [], []
    for i, request in enumerate(requests):
        if request.kind == "hybrid":
            row = [tuple(request.classes)]
        else:
            row = [(c, c) for c in request.classes]  # one row per digit position
        pairs += row * count
        owner += [i] * (len(row) * count)
    return torch.tensor(pairs, dtype=torch.long), torch.tensor(owner, dtype=torch.long)


def _objective(log_probs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """log_probs [B, C], targets [B, 2] -> [B], what the guidance maximises.

    One target (both columns name it): its log-odds log p - log(1 - p). Unlike log p, it keeps
    rising as p nears 1, so the prior cannot hold a sample at the edge of its class, where the
    shapes are ambiguous. Hybrid: log p(a) + log p(b), largest at p(a) = p(b) = 0.5."""
    picked = log_probs.gather(1, targets)  # [B, 2]
    others = log_probs.scatter(1, targets[:, :1], float("-inf")).logsumexp(1)  # log(1 - p(first))
    return torch.where(targets[:, 0] == targets[:, 1], picked[:, 0] - others, picked.sum(1))


def _confidence(log_probs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """log_probs [B, C], targets [B, 2] -> [B]: p(target), or min(p(a), p(b)) for a hybrid."""
    return log_probs.gather(1, targets).min(1).values.exp()


def _decode(vae: VAE, z: torch.Tensor, sharpness: float) -> torch.Tensor:
    """z [B, D] -> images [B, 1, 28, 28] in [0, 1]. The VAE's mean image blurs every stroke it is
    unsure of, where MNIST's pixels are nearly all 0 or 1: scaling the logits draws it crisper."""
    return torch.sigmoid(vae.decode_logits(z) * sharpness)


def _prior(z: torch.Tensor) -> torch.Tensor:
    """[B, D] -> [B]: -log N(z; 0, I) up to a constant. N(0, I) even for a VAE given a fitted mixture
    prior: the mixture's narrow wells hold latents that the guidance must move (benchmarks/RESULTS.md)."""
    return 0.5 * z.pow(2).sum(1)


class RowAdam:
    """Adam (Kingma & Ba, 2015) on the rows of a batch of latents, stepping only the rows it is
    given: a frozen row keeps its latent and costs nothing. Each row counts its own steps."""

    def __init__(self, z: torch.Tensor, lr: float, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8) -> None:
        self.z, self.lr, self.betas, self.eps = z, lr, betas, eps
        self.m, self.v = torch.zeros_like(z), torch.zeros_like(z)  # [R, D] each
        self.t = torch.zeros(len(z), 1, device=z.device)  # [R, 1]

    @torch.no_grad()
    def step(self, rows: torch.Tensor, grad: torch.Tensor) -> None:
        """rows [A] (indices), grad [A, D]: one step down the gradient for each of those rows."""
        b1, b2 = self.betas
        self.t[rows] += 1
        self.m[rows] = b1 * self.m[rows] + (1 - b1) * grad
        self.v[rows] = b2 * self.v[rows] + (1 - b2) * grad * grad
        t = self.t[rows]
        m_hat, v_hat = self.m[rows] / (1 - b1 ** t), self.v[rows] / (1 - b2 ** t)
        self.z[rows] -= self.lr * m_hat / (v_hat.sqrt() + self.eps)


# The self-check's warps: (degrees, scale, shift in pixels along both axes). Within the range the
# CNN was trained to shrug off, so a clear digit keeps its verdict under all of them.
CHECKS = [(degrees, scale, shift) for degrees in (-12.0, 12.0) for scale in (0.9, 1.1) for shift in (-1.5, 1.5)]


def _warp(x: torch.Tensor, degrees: float, scale: float, shift: float) -> torch.Tensor:
    """[B, 1, 28, 28] -> the same rotated by `degrees`, scaled by `scale`, shifted by `shift` pixels."""
    b, f64 = len(x), torch.float64  # the parameters in double, rounded once when the grid is built
    return affine(x, torch.full((b,), math.radians(degrees), dtype=f64), torch.full((b,), scale, dtype=f64),
                  torch.full((b, 2), shift * 2 / x.shape[-1], dtype=f64))  # pixels -> [-1, 1] grid units


@torch.no_grad()
def checks_passed(images: torch.Tensor, targets: torch.Tensor, threshold: torch.Tensor, cnn: CNN) -> torch.Tensor:
    """images [B, 1, 28, 28], targets [B, 2], threshold [B] -> [B]: how many of the CHECKS warps, in
    order, keep the CNN's confidence in the target at threshold or more. An image stops at its first
    failure, so most cost a few CNN passes, not len(CHECKS)."""
    passed = torch.zeros(len(images), dtype=torch.long, device=images.device)
    alive = torch.arange(len(images), device=images.device)
    for warp in CHECKS:
        if len(alive) == 0:
            break
        conf = _confidence(F.log_softmax(cnn(_warp(images[alive], *warp)).float(), 1), targets[alive])
        alive = alive[conf >= threshold[alive]]
        passed[alive] += 1
    return passed


@torch.no_grad()
def _initial_latents(targets: torch.Tensor, threshold: torch.Tensor, cnn: CNN, vae: VAE,
                     config: GenerateConfig, generator: torch.Generator
                     ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Starting latents [R, D], their images [R, 28, 28] and the CNN's log-probs [R, C], on the device.

    A pool of draws from N(0, I) is decoded and classified once, and every row takes a different
    draw: among those the CNN already nearly believes are its target (natural digits, as varied as
    the VAE's own digits of that class), first those that pass every self-check (random order), then
    those that pass most; else the best-scoring draw left. Rows then need few steps, and stay close
    to what the VAE draws well. The pool is sized by the target with the most rows, so a request for
    one digit finds as many candidates per sample as one for all ten."""
    rows, dim = targets.shape[0], vae.config.latent_dim
    device = next(cnn.parameters()).device
    if config.init == Init.RANDOM:  # one draw per row, taken as it comes
        size = rows
    else:  # about 1 in 10 draws is any given digit
        size = config.init_candidates * NUM_DIGITS * int(targets.unique(dim=0, return_counts=True)[1].max())
    pool = torch.randn(size, dim, generator=generator).to(device)  # [P, D]
    images = torch.cat([_decode(vae, chunk, config.sharpness) for chunk in pool.split(2048)])  # [P, 1, 28, 28]
    log_probs = torch.cat([F.log_softmax(cnn(chunk).float(), 1) for chunk in images.split(2048)])  # [P, C]
    if config.init == Init.RANDOM:
        return pool, images[:, 0], log_probs
    free = torch.ones(len(pool), dtype=torch.bool)  # [P]
    start = torch.empty(rows, dtype=torch.long)  # [R]: index into the pool
    pairs, group = targets.unique(dim=0, return_inverse=True)  # [G, 2], [R]
    for g, pair in enumerate(pairs):
        members = (group == g).nonzero().squeeze(1)
        pairs_p = pair.to(device).expand(len(pool), 2)
        score, conf = _objective(log_probs, pairs_p).cpu(), _confidence(log_probs, pairs_p).cpu()  # [P] each
        likely = conf >= threshold[members[0]] * 0.9
        good = (free & likely).nonzero().squeeze(1)
        good = good[torch.randperm(len(good), generator=generator)]
        passed = checks_passed(images[good.to(device)], pair.to(device).expand(len(good), 2),
                               threshold[members[0]].expand(len(good)).to(device), cnn).cpu()
        good = good[passed.argsort(descending=True, stable=True)]  # stable: random within a tie
        rest = (free & ~likely).nonzero().squeeze(1)
        rest = rest[score[rest].argsort(descending=True)]
        chosen = torch.cat([good, rest])[:len(members)]
        start[members] = chosen
        free[chosen] = False
    start = start.to(device)
    return pool[start], images[start, 0], log_probs[start]


def _assemble(flat: torch.Tensor, requests: Sequence[Request], owner: torch.Tensor,
              count: int) -> list[torch.Tensor]:
    """Per-row images [R, 28, 28] -> per request [N, 28, 28 * positions] (digits side by side)."""
    out = []
    for i, request in enumerate(requests):
        rows = flat[owner == i]  # [N * positions, 28, 28]
        p = request.positions
        out.append(rows.view(count, p, 28, 28).permute(0, 2, 1, 3).reshape(count, 28, 28 * p))
    return out


def _combine(conf: torch.Tensor, requests: Sequence[Request], owner: torch.Tensor,
             count: int) -> list[torch.Tensor]:
    """Per-row confidence [R] -> per request [N]: the product over a number's positions."""
    return [conf[owner == i].view(count, r.positions).prod(1) for i, r in enumerate(requests)]


def load_guide(device: torch.device | str = "cpu") -> CNN | None:
    """The shipped guide (assets/guide.pt, see the module docstring) on `device`, or None when the file
    is missing: then the CNN guides itself."""
    from digittui import paths

    path = paths.shipped_checkpoint("guide")
    return _load_guide(path, str(device)) if path.is_file() else None


@functools.lru_cache(maxsize=4)
def _load_guide(path, device: str) -> CNN:
    """Loaded once per file and device (keyed by the file: a missing one is looked for again next time)."""
    from digittui import checkpoints

    return checkpoints.load(path, "cnn", device).model


def _guidance(images: torch.Tensor, targets: torch.Tensor, own_unit: torch.Tensor, cnn: CNN,
              guide: CNN) -> torch.Tensor:
    """images [B, 1, 28, 28], targets [B, 2], own_unit [B] -> the objective's guidance term [B]. The
    guide steers digits, numbers and hybrids; a row asking for one of the CNN's unlearned units
    (own_unit) is steered by the CNN itself, since the experiment is about that network's unit."""
    objective = _objective(F.log_softmax(guide(images).float(), 1), targets)
    if guide is not cnn and bool(own_unit.any()):
        mine = own_unit.nonzero().squeeze(1)
        objective = objective.index_put((mine,), _objective(F.log_softmax(cnn(images[mine]).float(), 1), targets[mine]))
    return objective


@torch.no_grad()
def _verdict(images: torch.Tensor, jittered: torch.Tensor, targets: torch.Tensor, threshold: torch.Tensor,
             cnn: CNN, check: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """The CNN's confidence [A] in the images, and the lower of it and its confidence in their
    jittered copies [A]; with `check`, 0 for an image that passes both but not all of the CHECKS
    warps. Copies and checks are only classified for images that pass the threshold: for the others
    the image's own confidence already says "not yet"."""
    clean = _confidence(F.log_softmax(cnn(images).float(), 1), targets)
    worst = clean.clone()
    sure = (clean >= threshold).nonzero().squeeze(1)
    if jittered is not images and len(sure):
        copies = _confidence(F.log_softmax(cnn(jittered[sure]).float(), 1), targets[sure])
        worst[sure] = torch.minimum(clean[sure], copies)
        if check:
            both = sure[worst[sure] >= threshold[sure]]
            checked = checks_passed(images[both], targets[both], threshold[both], cnn) == len(CHECKS)
            worst[both] = torch.where(checked, worst[both], torch.zeros_like(worst[both]))
    return clean, worst


class _Search:
    """One batched optimization: a latent row for every sample (and digit position) of every request,
    which rows still search, each row's best latent so far, and the frames of the journey."""

    def __init__(self, requests: list[Request], cnn: CNN, vae: VAE, guide: CNN, config: GenerateConfig,
                 generator: torch.Generator) -> None:
        self.requests, self.cnn, self.vae, self.guide, self.config = requests, cnn, vae, guide, config
        self.generator = generator
        device = next(cnn.parameters()).device
        targets, self.owner = _targets(requests, config.count)  # [R, 2], [R]
        threshold = torch.where(targets[:, 0] == targets[:, 1], config.stop_confidence,
                                config.stop_confidence / 2)  # [R]: hybrids top out at 0.5
        self.z, self.images, log_probs = _initial_latents(targets, threshold, cnn, vae, config, generator)
        self.targets, self.threshold = targets.to(device), threshold.to(device)
        self.own_unit = torch.tensor([r.kind == "class" for r in requests])[self.owner].to(device)  # [R]
        self.conf = _confidence(log_probs, self.targets)  # [R]
        self.optimizer = RowAdam(self.z, config.lr)
        rows = len(targets)
        self.active = torch.ones(rows, dtype=torch.bool, device=device)  # [R]
        self.best, self.best_z = torch.full((rows,), -1.0, device=device), self.z.clone()  # [R], [R, D]
        # (step, per request: images [N, H, W], per request: confidences [N])
        self.frames: list[tuple[int, list[torch.Tensor], list[torch.Tensor]]] = []

    def searching(self) -> bool:
        return bool(self.active.any())

    def report(self, step: int, on_step: Callable[[GenerateStep], None] | None) -> None:
        """Keep a frame of every request's images and confidences; tell `on_step` about each request."""
        count = self.config.count
        per_request = _assemble(self.images.cpu(), self.requests, self.owner, count)
        confidence = _combine(self.conf.cpu(), self.requests, self.owner, count)
        self.frames.append((step, per_request, confidence))
        if on_step is not None:
            frozen = (~self.active).cpu()
            for i, request in enumerate(self.requests):
                done = int(frozen[self.owner == i].view(count, request.positions).all(1).sum())
                on_step(GenerateStep(i, step, self.config.steps, per_request[i], confidence[i], done))

    def step(self) -> None:
        """One Adam step for the rows still searching; a row whose image passes is frozen."""
        config, idx = self.config, self.active.nonzero().squeeze(1)  # [A]
        za = self.z[idx].requires_grad_(True)  # [A, D]
        x = _decode(self.vae, za, config.sharpness)  # [A, 1, 28, 28]
        # The guidance sees a randomly warped copy: over the steps, the expectation over warps.
        jittered = augment(x, self.generator, config.jitter_degrees, config.jitter_shift) if config.robust else x
        objective = _guidance(jittered, self.targets[idx], self.own_unit[idx], self.cnn, self.guide)  # [A]
        loss = -objective.sum() + config.prior_weight * _prior(za).sum()
        (grad,) = torch.autograd.grad(loss, za)  # [A, D]; no gradients for the networks' weights
        with torch.no_grad():
            x, jittered = x.detach(), jittered.detach()
            self.images[idx] = x[:, 0]
            # A row is done when the CNN passes the image and its jittered copy: its verdict is not fragile.
            self.conf[idx], worst = _verdict(x, jittered, self.targets[idx], self.threshold[idx], self.cnn,
                                             check=config.init == Init.RANDOM)  # [A] each
            passed = worst >= self.threshold[idx]  # [A]
            self.active[idx[passed]] = False
            better = worst > self.best[idx]
            self.best[idx[better]] = worst[better]
            self.best_z[idx[better]] = za[better].detach()
            self.optimizer.step(idx[~passed], grad[~passed])  # the done rows keep the latent they were judged on

    @torch.no_grad()
    def finish(self, steps: int, cancelled: bool, on_step: Callable[[GenerateStep], None] | None
               ) -> list[Generated]:
        """Judge each row on its best latent (the clean image, all rows at once), keep that as the
        last frame, and return one Generated per request."""
        self.z = self.best_z
        self.images = _decode(self.vae, self.z, self.config.sharpness)[:, 0]  # [R, 28, 28]
        probs = torch.softmax(self.cnn(self.images[:, None]).float(), 1)  # [R, C]
        self.conf = _confidence(probs.clamp_min(1e-30).log(), self.targets)
        self.report(steps, on_step)  # the last frame is the result
        return self._results(probs.cpu(), steps, cancelled)

    def _results(self, probs: torch.Tensor, steps: int, cancelled: bool) -> list[Generated]:
        """One Generated per request, from the last frame (the result) and the journey's frames."""
        out, digits, count = [], self.cnn.config.num_classes, self.config.count
        z, last = self.z.cpu(), self.frames[-1]
        for i, request in enumerate(self.requests):
            rows = self.owner == i
            row_probs = probs[rows].view(count, request.positions, -1)  # [N, positions, C]
            out.append(Generated(
                request=request,
                images=last[1][i],
                latents=z[rows].view(count, request.positions, -1),
                confidence=last[2][i],
                probs=row_probs,
                predicted=row_probs[..., :digits].argmax(-1),
                trajectory=torch.stack([f[1][i] for f in self.frames]),
                trajectory_confidence=torch.stack([f[2][i] for f in self.frames]),
                trajectory_steps=[f[0] for f in self.frames],
                steps=steps,
                cancelled=cancelled,
            ))
        return out


def generate_many(requests: Sequence[Request], cnn: CNN, vae: VAE, config: GenerateConfig | None = None,
                  guide: CNN | None = None, on_step: Callable[[GenerateStep], None] | None = None,
                  should_stop: Callable[[], bool] | None = None) -> list[Generated]:
    """All requests in one batched optimization; one Generated per request, in order. `guide`
    supplies the gradients (default: the CNN itself; see the module docstring)."""
    config = config or GenerateConfig()
    requests = list(requests)
    if not requests:
        return []
    cnn = cnn.calibrated_copy()  # a copy: the caller's CNN is untouched
    guide = guide if guide is not None else cnn
    for model in (vae, guide):
        model.eval()
    generator = torch.Generator().manual_seed(config.seed)  # CPU: same draws on every device
    search = _Search(requests, cnn, vae, guide, config, generator)
    search.report(0, on_step)
    step, cancelled = 0, False
    while step < config.steps and search.searching():
        if should_stop is not None and should_stop():
            cancelled = True
            break
        search.step()
        step += 1
        if step % config.report_every == 0 and step < config.steps and search.searching():
            search.report(step, on_step)  # (the last step's report comes after the final evaluation)
    return search.finish(step, cancelled, on_step)


def verdict(result: Generated) -> str:
    """What the CNN makes of the samples, in words, for tables and the UI."""
    request, n = result.request, len(result.images)
    digits = result.probs[..., :NUM_DIGITS]  # [N, positions, 10]
    if request.kind in ("digit", "number"):
        right = int((result.predicted == torch.tensor(request.classes)).all(1).sum())
        return f"read as {''.join(map(str, request.classes))} in {right}/{n}"
    top2 = digits[:, 0].topk(2, dim=-1).indices.sort(-1).values  # [N, 2]
    if request.kind == "hybrid":
        right = int((top2 == torch.tensor(sorted(request.classes))).all(1).sum())
        a, b = request.classes
        return f"{a} and {b} are the top two digits in {right}/{n}"
    top = result.predicted[:, 0]  # [N]
    common = int(top.mode().values)
    p_top = float(digits[:, 0].max(-1).values.mean())
    return (f"p(unit {request.classes[0]}) {float(result.confidence.mean()):.2f}; the digit it looks most "
            f"like is {common} in {int((top == common).sum())}/{n} (mean p of the top digit {p_top:.2f})")
