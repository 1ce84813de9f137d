"""Checkpoints: a state dict plus the metadata needed to rebuild the model, saved atomically and
loaded with `torch.load(weights_only=True)`, so nothing in a file is ever executed.

On disk (a torch zip archive holding only tensors, numbers, strings, lists and dicts):
    format   "digittui-checkpoint"      kind      "cnn" | "vae"
    version  FORMAT_VERSION             config    asdict(CNNConfig | VAEConfig)
    model    state dict                 train     asdict(TrainConfig) of the run that made it
    epoch    completed epochs           metrics   {"test_accuracy": ..., "test_loss": ..., ...}
    versions {"digittui", "torch"}      resume    optimizer, scheduler (and, with EMA, the live
                                                  weights): only --resume needs it
    calibration (CNN, optional) temperature and not-a-digit threshold (digittui.calibration)
"""

from __future__ import annotations

import os
import pickle
import warnings
import zipfile
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import torch

from digittui import __version__
from digittui.errors import CheckpointError
from digittui.models import CNN, VAE, CNNConfig, VAEConfig

FORMAT = "digittui-checkpoint"
FORMAT_VERSION = 1
KINDS = {"cnn": (CNN, CNNConfig), "vae": (VAE, VAEConfig)}


@dataclass
class Checkpoint:
    kind: str
    model: torch.nn.Module
    path: Path | None = None
    epoch: int = 0
    metrics: dict[str, Any] = field(default_factory=dict)
    train: dict[str, Any] = field(default_factory=dict)
    resume: dict[str, Any] | None = None  # optimizer / scheduler / live-weight state for --resume
    calibration: dict[str, Any] | None = None  # digittui.calibration.Calibration.as_dict(), CNN only


def save(path: Path, kind: str, model: torch.nn.Module, *, epoch: int = 0,
         metrics: dict | None = None, train: dict | None = None,
         resume: dict | None = None, calibration: dict | None = None) -> Path:
    """Write atomically: a temporary file in the same folder, flushed to disk, then renamed over
    `path`. A crash at any moment leaves either the old file or the new one, never half of one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "kind": kind,
        "config": asdict(model.config),
        "model": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "epoch": epoch,
        "metrics": dict(metrics or {}),
        "train": dict(train or {}),
        "versions": {"digittui": __version__, "torch": str(torch.__version__)},
    }
    if resume is not None:
        payload["resume"] = resume
    if calibration is not None:
        payload["calibration"] = dict(calibration)
    _remove_stale_temporaries(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            torch.save(payload, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _remove_stale_temporaries(path: Path) -> None:
    """Delete half-written temporaries left by a process killed mid-save (SIGKILL skips `finally`)."""
    for tmp in path.parent.glob(f".{path.name}.tmp-*"):
        pid = tmp.name.rsplit("-", 1)[-1]
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            tmp.unlink(missing_ok=True)
        except PermissionError:  # alive, someone else's
            pass


def _fail(path: Path, reason: str) -> CheckpointError:
    return CheckpointError(f"cannot use checkpoint {path}: {reason}")


def load(path: Path, kind: str | None = None, device: torch.device | str = "cpu") -> Checkpoint:
    """Load and rebuild a model. Every way a file can be wrong becomes a CheckpointError naming it."""
    path = Path(path)
    if not path.is_file():
        raise _fail(path, "no such file")
    try:
        with warnings.catch_warnings():
            # torch warns about a raw (non-zip) pickle before refusing or reading it; the outcome
            # below is what the user needs, not torch's advice to file an issue
            warnings.filterwarnings("ignore", "Detected pickle protocol", UserWarning)
            payload = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        # weights_only refuses any global it does not know: a crafted pickle lands here, unrun.
        detail = next((line.strip() for line in str(exc).splitlines() if "Unsupported" in line), "")
        raise _fail(path, "it holds objects other than plain tensors and values; refused without "
                          f"running anything ({detail[:200] or 'unsafe pickle'})") from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, ValueError, OSError, IndexError) as exc:
        raise _fail(path, f"not a readable checkpoint, corrupt or truncated ({type(exc).__name__})") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise _fail(path, "not a digittui checkpoint (foreign file)")
    if payload.get("version") != FORMAT_VERSION:
        raise _fail(path, f"format version {payload.get('version')} is not supported "
                          f"(this digittui reads version {FORMAT_VERSION})")
    found = payload.get("kind")
    if found not in KINDS:
        raise _fail(path, f"unknown model kind {found!r}")
    if kind is not None and found != kind:
        raise _fail(path, f"it holds a {found.upper()}, but a {kind.upper()} was expected")
    model_cls, config_cls = KINDS[found]
    raw_config = payload.get("config")
    known = {f.name for f in fields(config_cls)}
    if not isinstance(raw_config, dict) or not set(raw_config) <= known:
        raise _fail(path, f"its model configuration {raw_config!r} does not fit a {found.upper()}")
    try:
        model = model_cls(config_cls(**raw_config))
        model.load_state_dict(payload.get("model"), strict=True)
    except (RuntimeError, TypeError, ValueError) as exc:
        first = str(exc).strip().splitlines()
        raise _fail(path, "its weights do not match the model they claim to be"
                          + (f" ({first[0][:200]})" if first else "")) from None
    if any(not torch.isfinite(p).all() for p in model.parameters()):
        raise _fail(path, "its weights contain NaN or infinity")
    model.to(device).eval()
    return Checkpoint(
        kind=found, model=model, path=path, epoch=int(payload.get("epoch", 0)),
        metrics=dict(payload.get("metrics") or {}), train=dict(payload.get("train") or {}),
        resume=payload.get("resume"), calibration=payload.get("calibration"),
    )


def find(kind: str, explicit: str | os.PathLike | None = None) -> tuple[Path, str]:
    """The checkpoint the app should use for `kind` and how to name it (digittui.weights.resolve):
    an explicit path, else the chosen weights, else the shipped ones."""
    from digittui.weights import resolve

    return resolve(kind, explicit)


def load_default(kind: str, explicit: str | os.PathLike | None = None,
                 device: torch.device | str = "cpu") -> tuple[Checkpoint, str]:
    path, source = find(kind, explicit)
    if source == "shipped" and not path.is_file():
        raise CheckpointError(f"no {kind.upper()} weights: {path} is missing and none were trained. "
                              f"Run `digittui train {kind}` first.")
    return load(path, kind, device), source


def strip(src: Path, dst: Path) -> Path:
    """Copy a checkpoint without its resume state (optimizer etc.): a third of the size, for sharing
    (the shipped weights are made this way); it can no longer be resumed."""
    ckpt = load(src)
    return save(dst, ckpt.kind, ckpt.model, epoch=ckpt.epoch, metrics=ckpt.metrics, train=ckpt.train,
                calibration=ckpt.calibration)
