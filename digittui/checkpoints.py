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

import io
import os
import pickle
import stat
import warnings
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from digittui import __version__, safeio
from digittui.calibration import Calibration
from digittui.errors import CheckpointError, ConfigError
from digittui.models.sizes import KINDS, MAX_PARAMETERS, checked_config, expected_state, parameter_count

FORMAT = "digittui-checkpoint"
FORMAT_VERSION = 1


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


# A checkpoint holds one model within models.sizes.MAX_PARAMETERS: its weights, and for --resume
# the optimizer's two moments and (with EMA) the live weights, 4 bytes each, plus the metadata.
MAX_FILE_BYTES = 4 * 4 * MAX_PARAMETERS + 16_000_000
MAX_PICKLE_BYTES = 4_000_000  # the metadata and the tensors' index: a few kB in a real checkpoint
MAX_EPOCH = 1_000_000


def save(path: Path, kind: str, model: torch.nn.Module, *, epoch: int = 0,
         metrics: dict | None = None, train: dict | None = None,
         resume: dict | None = None, calibration: dict | None = None) -> Path:
    """Write atomically (safeio.atomic_write): a crash at any moment leaves either the old file or the
    new one, never half of one; a failure leaves the old one intact and raises WriteError naming the
    cause. The archive is built in memory first, so a full disk is reported as such."""
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
    with safeio.signals_deferred():  # Ctrl+C or SIGTERM now: this epoch is saved first, then we stop
        buffer = io.BytesIO()
        torch.save(payload, buffer)
        data = buffer.getbuffer()
        return safeio.atomic_write(path, "checkpoint", lambda f: f.write(data), need_bytes=len(data))


def check_output(path: Path, kind: str, config: dict | None = None, ema: bool = False) -> Path:
    """Raise WriteError unless a training checkpoint of a `kind` model with `config`'s sizes can be
    written to `path` (room included): run before training, so that no epoch is computed for a place
    it cannot go. Also ConfigError for sizes out of range."""
    n = parameter_count(kind, checked_config(kind, dict(config or {})))
    copies = 3 + (1 if ema else 0)  # weights, Adam's two moments (resume), the live weights with EMA
    return safeio.check_destination(path, "checkpoint", need_bytes=n * 4 * copies + 100_000)


def _fail(path: Path, reason: str) -> CheckpointError:
    return CheckpointError(f"cannot use checkpoint {path}: {reason}")


def _read_archive(path: Path) -> dict:
    """The file's payload, read only once its container is known to be bounded: a regular file of at
    most MAX_FILE_BYTES, a zip archive of stored (uncompressed) entries as torch writes them, the
    metadata pickle small. Its tensors are memory-mapped, not read, until their shapes are checked."""
    try:
        st = os.stat(path)
    except OSError as exc:
        raise _fail(path, safeio.reason(exc)) from None
    if not stat.S_ISREG(st.st_mode):
        raise _fail(path, f"it is {safeio.kind_of(st.st_mode)}, not a checkpoint file")
    if st.st_size > MAX_FILE_BYTES:
        raise _fail(path, f"{st.st_size / 1e6:,.0f} MB is more than any checkpoint of a model within the "
                          f"size limit can hold ({MAX_FILE_BYTES / 1e6:,.0f} MB)")
    try:
        with zipfile.ZipFile(path) as archive:
            entries = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        raise _fail(path, "not a readable checkpoint, corrupt or truncated (not a torch archive)") from None
    for entry in entries:
        if entry.compress_type != zipfile.ZIP_STORED:
            raise _fail(path, f"its entry {entry.filename[:80]!r} is compressed, which torch never does "
                              "(a decompression bomb?); refused unread")
        if entry.filename.endswith("data.pkl") and entry.file_size > MAX_PICKLE_BYTES:
            raise _fail(path, f"its metadata is {entry.file_size / 1e6:,.1f} MB; a checkpoint's is a few kB")
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "Detected pickle protocol", UserWarning)
            return torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except pickle.UnpicklingError as exc:
        # weights_only refuses any global it does not know: a crafted pickle lands here, unrun.
        detail = next((line.strip() for line in str(exc).splitlines() if "Unsupported" in line), "")
        raise _fail(path, "it holds objects other than plain tensors and values; refused without "
                          f"running anything ({detail[:200] or 'unsafe pickle'})") from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, ValueError, OSError, IndexError, KeyError,
            TypeError, AttributeError, MemoryError) as exc:
        raise _fail(path, f"not a readable checkpoint, corrupt or truncated ({type(exc).__name__})") from None


def _check_weights(path: Path, kind: str, config, weights: Any) -> None:
    """Every tensor the model needs, of the shape and type the configuration gives it, and no other."""
    expected = expected_state(kind, config)
    if not isinstance(weights, dict):
        raise _fail(path, "its weights are not a table of tensors")
    missing = [name for name in expected if name not in weights]
    unexpected = [str(name) for name in weights if name not in expected]
    if missing or unexpected:
        raise _fail(path, "its weights do not match the model they claim to be ("
                          + "; ".join(filter(None, [missing and f"missing {', '.join(missing[:3])}",
                                                    unexpected and f"unexpected {', '.join(unexpected[:3])}"]))
                          + ")")
    for name, (shape, dtype) in expected.items():
        tensor = weights[name]
        if not isinstance(tensor, torch.Tensor) or tuple(tensor.shape) != shape or tensor.dtype != dtype:
            found = f"{list(tensor.shape)} {tensor.dtype}" if isinstance(tensor, torch.Tensor) else type(tensor).__name__
            raise _fail(path, f"its weights do not match the model they claim to be ({name}: {found}, "
                              f"expected {list(shape)} {dtype})")


def _plain(value: Any, depth: int = 0) -> bool:
    """Numbers, strings, booleans, None, and lists / string-keyed dicts of them (JSON's values)."""
    if depth > 8:
        return False
    if value is None or isinstance(value, (str, bool, int, float)):
        return True
    if isinstance(value, (list, tuple)):
        return all(_plain(v, depth + 1) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v, depth + 1) for k, v in value.items())
    return False


def _epoch(path: Path, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_EPOCH:
        raise _fail(path, f"its epoch {value!r:.40} is not a whole number from 0 to {MAX_EPOCH:,}")
    return value


def _metrics(path: Path, value: Any) -> dict[str, float]:
    if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, (int, float)) and not isinstance(v, bool) for k, v in value.items()):
        raise _fail(path, f"its metrics {value!r:.40} are not a table of numbers")
    return dict(value)


def _same(value: Any, expected: Any) -> bool:
    """value == expected, for plain values only (a tensor compares element-wise; True == 1)."""
    return type(value) is type(expected) and value == expected


def _or_empty(value: Any) -> Any:
    """Absent or None means empty; anything else is checked as it is (`value or {}` would ask a
    tensor for its truth)."""
    return {} if value is None else value


def _detached(value: Any) -> Any:
    """A copy of `value` with every tensor in memory of its own, not mapped from the file."""
    if isinstance(value, torch.Tensor):
        return value.clone()
    if isinstance(value, dict):
        return {k: _detached(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_detached(v) for v in value)
    return value


def load(path: Path, kind: str | None = None, device: torch.device | str = "cpu") -> Checkpoint:
    """Load and rebuild a model. Every way a file can be wrong becomes a CheckpointError naming it,
    found before anything of the size the file claims is allocated."""
    path = Path(path)
    if not os.path.lexists(path):
        raise _fail(path, "no such file")
    payload = _read_archive(path)
    if not isinstance(payload, dict) or not _same(payload.get("format"), FORMAT):
        raise _fail(path, "not a digittui checkpoint (foreign file)")
    if not _same(payload.get("version"), FORMAT_VERSION):
        raise _fail(path, f"format version {payload.get('version')!r:.40} is not supported "
                          f"(this digittui reads version {FORMAT_VERSION})")
    found = payload.get("kind")
    if not isinstance(found, str) or found not in KINDS:
        raise _fail(path, f"unknown model kind {found!r:.40}")
    if kind is not None and found != kind:
        raise _fail(path, f"it holds a {found.upper()}, but a {kind.upper()} was expected")
    try:
        config = checked_config(found, payload.get("config"))
    except ConfigError as exc:
        raise _fail(path, f"its model configuration is unusable: {exc}") from None
    _check_weights(path, found, config, payload.get("model"))
    epoch = _epoch(path, payload.get("epoch", 0))
    metrics = _metrics(path, _or_empty(payload.get("metrics")))
    train = _or_empty(payload.get("train"))
    if not isinstance(train, dict) or not _plain(train):
        raise _fail(path, f"its training options {train!r:.40} are not a table of plain values")
    resume = payload.get("resume")
    if resume is not None and not isinstance(resume, dict):
        raise _fail(path, f"its resume state {resume!r:.40} is not a table")
    calibration = payload.get("calibration")  # digittui.calibration reads any plain values safely
    if calibration is not None and not (isinstance(calibration, dict) and _plain(calibration)):
        raise _fail(path, f"its calibration {calibration!r:.40} is not a table of plain values")
    model = KINDS[found][0](config)
    model.load_state_dict(payload["model"], strict=True)  # shapes and types checked above
    if any(not torch.isfinite(p).all() for p in model.parameters()):
        raise _fail(path, "its weights contain NaN or infinity")
    model.to(device).eval()
    if found == "cnn":
        model.temperature = Calibration.from_dict(calibration).temperature
    return Checkpoint(kind=found, model=model, path=path, epoch=epoch, metrics=metrics, train=dict(train),
                      resume=_detached(resume), calibration=calibration)


def check_resume(ckpt: Checkpoint, model: torch.nn.Module) -> dict:
    """The checkpoint's resume state, once it fits `model` (the live weights that will be trained):
    optimizer groups over as many parameters as the model has, each state tensor of its parameter's
    shape, a scheduler state. Raises CheckpointError otherwise."""
    path, resume = ckpt.path, ckpt.resume
    if resume is None:
        raise CheckpointError(f"cannot resume from {path}: it holds weights only (stripped). "
                              "Drop --resume to train afresh.")
    optimizer, scheduler = resume.get("optimizer"), resume.get("scheduler")
    params = list(model.parameters())
    problem = None
    if not isinstance(optimizer, dict) or not isinstance(scheduler, dict):
        problem = "its optimizer or scheduler state is missing"
    elif not isinstance(optimizer.get("param_groups"), list) or not isinstance(optimizer.get("state"), dict):
        problem = "its optimizer state is malformed"
    else:
        ids = [i for group in optimizer["param_groups"] if isinstance(group, dict)
               for i in (group.get("params") if isinstance(group.get("params"), list) else [None])]
        if sorted(map(repr, ids)) != sorted(map(repr, range(len(params)))):
            problem = f"its optimizer covers {len(ids)} parameters, the model has {len(params)}"
        else:
            for i, state in optimizer["state"].items():
                if not isinstance(i, int) or not 0 <= i < len(params) or not isinstance(state, dict):
                    problem = "its optimizer state names parameters the model does not have"
                    break
                for value in state.values():
                    if isinstance(value, torch.Tensor) and value.dim() and value.shape != params[i].shape:
                        problem = f"its optimizer state for parameter {i} has shape {list(value.shape)}, " \
                                  f"the parameter {list(params[i].shape)}"
                        break
                if problem:
                    break
    live = resume.get("live_model")
    if problem is None and live is not None:
        try:
            _check_weights(path, ckpt.kind, model.config, live)
        except CheckpointError as exc:
            problem = f"its live weights do not match: {exc}"
    if problem:
        raise CheckpointError(f"cannot resume from {path}: {problem}. Drop --resume to train afresh.")
    return resume


def find(role: str, explicit: str | os.PathLike | None = None) -> tuple[Path, str]:
    """The checkpoint the app should use for a kind, or for generation's decider, and how to name it
    (digittui.weights.resolve_role): an explicit path, else the chosen weights, else the shipped ones."""
    from digittui.weights import resolve_role

    return resolve_role(role, explicit)


def load_default(role: str, explicit: str | os.PathLike | None = None,
                 device: torch.device | str = "cpu") -> tuple[Checkpoint, str]:
    """Load find(role, explicit): "cnn", "vae", or "decider" (a CNN; `explicit` is then the CNN given)."""
    from digittui.weights import checkpoint_kind

    kind = checkpoint_kind(role)
    path, source = find(role, explicit)
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
