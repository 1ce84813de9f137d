"""Weights the user can trust: every training run's result is kept until the user deletes it, and
the app and the CLI use the weights the user chose, never silently the newest.

On disk, under paths.user_dir():
    runs/<kind>-<YYYYMMDD-HHMMSS>/last.pt   a run's last completed epoch, with what --resume needs
    runs/<kind>-<YYYYMMDD-HHMMSS>/best.pt   its epoch with the best test metric so far, weights only
    active.json                              {"cnn": "/path/to/file.pt", "vae": "shipped"}: the
                                             weights chosen for each kind
A checkpoints/<kind>.pt that an earlier digittui trained into stays in use until others are chosen.

"Best" is judged on the test set, the only held-out data here: its figure is a slightly optimistic
estimate for the epoch it picked. No torch at import (the CLI's parser and the TUI's first frame use
this module); reading a checkpoint's metrics loads it (torch).
"""

from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from digittui import paths
from digittui.errors import CheckpointError, HomeError, WriteError

KINDS = ("cnn", "vae")
SHIPPED = "shipped"
# Generation's CNN (digittui.generate decides and reports with it): the CNN in use, except that in place of
# the shipped CNN it takes assets/decider.pt. The shipped CNN is trained to read handwriting unlike MNIST's
# and to doubt letters and scribbles, which makes it a slower, narrower judge of the VAE's digits.
DECIDER = "decider"
_RUN_NAME = re.compile(r"^(cnn|vae)-(\d{8}-\d{6})(?:-(\d+))?$")


@dataclass(frozen=True)
class Metric:
    """The test figure that says which of two checkpoints of a kind is better."""

    key: str
    higher_is_better: bool
    unit: str

    def format(self, metrics: dict | None) -> str:
        value = (metrics or {}).get(self.key)
        if value is None:
            return "no test metric"
        return f"{value:.2%}" if self.unit == "%" else f"{value:.2f} {self.unit}"

    def better(self, new: dict, old: dict | None) -> bool:
        """True when `new` beats `old` (or there is nothing to beat)."""
        if self.key not in new:
            return False
        if not old or self.key not in old:
            return True
        return new[self.key] > old[self.key] if self.higher_is_better else new[self.key] < old[self.key]


METRICS = {"cnn": Metric("test_accuracy", True, "%"), "vae": Metric("test_loss", False, "nats")}


# Runs ------------------------------------------------------------------------------------------

def runs_dir() -> Path:
    return paths.user_dir() / "runs"


@dataclass(frozen=True)
class Run:
    """One training run's folder: its last epoch (to resume) and its best epoch."""

    folder: Path

    @property
    def id(self) -> str:
        return self.folder.name

    @property
    def kind(self) -> str:
        return self.id.split("-", 1)[0]

    @property
    def last(self) -> Path:
        return self.folder / "last.pt"

    @property
    def best(self) -> Path:
        return self.folder / "best.pt"

    @property
    def label(self) -> str:
        """'run 11-28 14:25:01' (a second run in the same second gets '#2')."""
        match = _RUN_NAME.match(self.id)
        if match is None:
            return f"run {self.id}"
        started = datetime.strptime(match.group(2), "%Y%m%d-%H%M%S")
        return f"run {started:%m-%d %H:%M:%S}" + (f" #{match.group(3)}" if match.group(3) else "")

    def discard_if_empty(self) -> None:
        """Remove the folder of a run that ended before its first epoch was saved."""
        try:
            self.folder.rmdir()
        except OSError:  # not empty (or already gone): it is kept
            pass


def new_run(kind: str, now: datetime | None = None) -> Run:
    """A new, empty run folder named after `kind` and the time; never one that exists."""
    stamp = f"{kind}-{(now or datetime.now()):%Y%m%d-%H%M%S}"
    runs_dir().mkdir(parents=True, exist_ok=True)
    for n in range(1, 1000):
        folder = runs_dir() / (stamp if n == 1 else f"{stamp}-{n}")
        try:
            folder.mkdir()
        except FileExistsError:
            continue
        return Run(folder)
    raise CheckpointError(f"cannot create a run folder in {runs_dir()}: too many runs started this second")


def list_runs(kind: str | None = None) -> list[Run]:
    """The kept runs with at least one saved epoch, newest first."""
    if not runs_dir().is_dir():
        return []
    found = [Run(p) for p in runs_dir().iterdir() if p.is_dir() and _RUN_NAME.match(p.name)]
    found = [run for run in found if (kind is None or run.kind == kind) and (run.last.is_file() or run.best.is_file())]
    return sorted(found, key=lambda run: _sort_key(run.id), reverse=True)


def _sort_key(run_id: str) -> tuple[str, int]:
    match = _RUN_NAME.match(run_id)
    return (match.group(2), int(match.group(3) or 1)) if match else (run_id, 0)


def latest_run(kind: str) -> Run | None:
    runs = list_runs(kind)
    return runs[0] if runs else None


def find_run(text: str) -> Run | None:
    """A run given by its id ('cnn-20261128-142501') or its folder."""
    candidate = Path(text).expanduser()
    folder = candidate if candidate.is_dir() else runs_dir() / text
    if folder.is_dir() and _RUN_NAME.match(folder.name) and folder.resolve().parent == runs_dir().resolve():
        return Run(folder)
    return None


def delete_run(run: Run) -> None:
    """Delete a run's folder; refused while one of its files is the chosen weights."""
    for kind in KINDS:
        chosen_path = chosen(kind)
        if chosen_path is not None and chosen_path.resolve().parent == run.folder.resolve():
            raise CheckpointError(f"{run.label} is in use ({chosen_path.name}): choose other {kind.upper()} "
                                  "weights first")
    shutil.rmtree(run.folder)


# The chosen weights ----------------------------------------------------------------------------

def active_file() -> Path:
    return paths.user_dir() / "active.json"


def _read_active() -> dict[str, str]:
    try:
        data = json.loads(active_file().read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"cannot read {active_file()}: {exc}. Delete it to use the shipped weights, "
                              "or choose weights with `digittui checkpoint use`.") from None
    if not isinstance(data, dict):
        raise CheckpointError(f"{active_file()} is not a JSON object: delete it, or choose weights with "
                              "`digittui checkpoint use`.")
    return {k: v for k, v in data.items() if k in KINDS and isinstance(v, str)}


def chosen(kind: str) -> Path | None:
    """The file chosen for `kind`, or None when none was (then an earlier digittui's own trained
    weights, else the shipped ones, are used)."""
    value = _read_active().get(kind)
    if not value:
        return None
    return paths.shipped_checkpoint(kind) if value == SHIPPED else Path(value)


def choose(kind: str, path: str | os.PathLike | None) -> None:
    """Make `path` the weights used for `kind`; None: the shipped ones (stored by name, so that they
    follow the installed package). The caller has checked that the file loads as a `kind`
    checkpoint. Written atomically."""
    active = _read_active()
    active[kind] = SHIPPED if path is None else str(Path(path).expanduser().resolve())
    target = active_file()
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    try:
        tmp.write_text(json.dumps(active, indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def legacy_checkpoint(kind: str) -> Path:
    """Where digittui trained into before runs were kept."""
    return paths.user_checkpoint(kind)


def label(kind: str, path: Path) -> str:
    """How the header and the lists name a weights file: 'shipped', 'run 11-28 14:25:01', ..."""
    path = Path(path)
    try:
        if path.resolve() == paths.shipped_checkpoint(kind).resolve():
            return SHIPPED
        if path.resolve().parent.parent == runs_dir().resolve():
            run = Run(path.parent)
            return run.label if path.name == "best.pt" else f"{run.label} (last)"
        if path.resolve() == legacy_checkpoint(kind).resolve():
            return "user-trained"
    except (OSError, ValueError):
        pass
    return path.name


def resolve(kind: str, explicit: str | os.PathLike | None = None) -> tuple[Path, str]:
    """The weights to use for `kind` and how to name them: a file given for this session, else the
    chosen one, else an earlier digittui's own trained one, else the shipped one."""
    if explicit:
        return Path(explicit), "given"
    try:
        path = chosen(kind)
        if path is not None:
            return path, label(kind, path)
        legacy = legacy_checkpoint(kind)
        if legacy.is_file():
            return legacy, "user-trained"
    except (HomeError, OSError):  # no home folder, or one that cannot be read: the shipped weights serve
        pass
    return paths.shipped_checkpoint(kind), SHIPPED


def resolve_role(role: str, explicit: str | os.PathLike | None = None) -> tuple[Path, str]:
    """resolve() for a kind, or for DECIDER: the CNN in use, with the shipped decider in place of the
    shipped CNN. `explicit` is the file given for the kind (for DECIDER, the CNN given)."""
    path, source = resolve(checkpoint_kind(role), explicit)
    if role == DECIDER and source == SHIPPED:
        return paths.shipped_checkpoint(DECIDER), SHIPPED
    return path, source


def checkpoint_kind(role: str) -> str:
    """The kind of checkpoint a role loads: DECIDER is a CNN."""
    return "cnn" if role == DECIDER else role


def relied_on() -> dict[Path, str]:
    """Files the app reads weights from unasked -> what they hold: the shipped CNN, VAE, decider and
    guide (the fallback, and generation's two CNNs) and the CNN and VAE in use."""
    shipped = {"cnn": "the shipped CNN", "vae": "the shipped VAE", DECIDER: "generation's shipped decider",
               "guide": "generation's shipped guide"}
    held = {paths.shipped_checkpoint(name).resolve(): what for name, what in shipped.items()}
    for kind in KINDS:
        try:
            held[resolve(kind)[0].expanduser().resolve()] = f"the {kind.upper()} in use"
        except CheckpointError:  # active.json unreadable: no chosen weights are in use until it is mended
            pass
    return held


def check_not_relied_on(path: str | os.PathLike) -> None:
    """Raise WriteError when writing `path` would replace weights the app uses (relied_on)."""
    held = relied_on().get(Path(path).expanduser().resolve())
    if held:
        raise WriteError(f"{path} holds {held}: write to another file, or add --replace to overwrite it")


@dataclass
class Candidate:
    """Weights the user can choose for a kind, with what their checkpoint says about them."""

    kind: str
    path: Path
    label: str
    epoch: int | None = None  # None until read (or when unreadable)
    metrics: dict | None = None
    error: str | None = None  # why the file cannot be used

    @property
    def metric(self) -> str:
        return self.error or METRICS[self.kind].format(self.metrics)


def candidates(kind: str) -> list[Candidate]:
    """Everything that can be chosen for `kind`: the shipped weights, an earlier digittui's own, and
    each kept run's best and last epochs (newest run first). Metrics are not read yet."""
    found = [Candidate(kind, paths.shipped_checkpoint(kind), SHIPPED)]
    if legacy_checkpoint(kind).is_file():
        found.append(Candidate(kind, legacy_checkpoint(kind), "user-trained"))
    for run in list_runs(kind):
        for path in (run.best, run.last):
            if path.is_file():
                found.append(Candidate(kind, path, label(kind, path)))
    return found


def read(candidate: Candidate) -> Candidate:
    """Fill in the epoch and metrics from the checkpoint (loads it: torch)."""
    from digittui import checkpoints

    try:
        ckpt = checkpoints.load(candidate.path, candidate.kind)
    except CheckpointError as exc:
        candidate.error = str(exc)
    else:
        candidate.epoch, candidate.metrics = ckpt.epoch, ckpt.metrics
    return candidate
