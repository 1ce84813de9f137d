"""`digittui train cnn|vae`: train with a live progress bar; a checkpoint after every epoch."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.markup import escape

from digittui.cli.common import add_data_dir, add_device, add_replace, check_replace, console, count_or_off, \
    err_console, non_negative_float, notice, positive_float, positive_int, say, seed, whole
from digittui.modelconfig import RANGES, CNNConfig, VAEConfig, size_fields


def add_parser(sub) -> None:
    p = sub.add_parser(
        "train", help="train the CNN classifier or the VAE",
        description="Train a model on MNIST and save a checkpoint after every epoch. "
                    "Defaults are the fast recipe (CNN: >= 99% test accuracy in under a minute on a "
                    "2-core CPU); the shipped weights used longer runs (see README).")
    p.add_argument("kind", choices=("cnn", "vae"), help="which model to train")
    p.add_argument("--epochs", type=positive_int, default=None,
                   help="passes over the training set (default: cnn 2, vae 10)")
    p.add_argument("--batch-size", type=positive_int, default=None,
                   help="images per step (default: 128)")
    p.add_argument("--lr", type=positive_float, default=None,
                   help="peak learning rate of the one-cycle schedule (default: cnn 0.004, vae 0.002)")
    p.add_argument("--weight-decay", type=non_negative_float, default=0.0, help="AdamW weight decay (default: 0)")
    p.add_argument("--augment", action="store_true",
                   help="random small rotations, scalings and shifts (default: off; on for the shipped CNN)")
    p.add_argument("--wild", type=_share, default=0.0, metavar="SHARE",
                   help="CNN: distort this share of each batch like handwriting unlike MNIST's: slant, "
                        "wobble, thin/thick strokes, hollow strokes, gaps, ruled paper, low resolution, blur, noise "
                        "(default: 0 = off; e.g. 0.5; the shipped CNN was trained without it)")
    p.add_argument("--outliers", type=non_negative_float, default=0.0, metavar="WEIGHT",
                   help="CNN: outlier exposure: each batch also holds letters and scribbles whose digit "
                        "probabilities are pushed towards uniform, with this loss weight, so that a low "
                        "confidence means 'not a digit' (default: 0 = off; e.g. 0.1; not used for the shipped CNN)")
    p.add_argument("--holdout", type=count_or_off, default=0, metavar="N",
                   help="CNN: never train on the last N training images; fit the confidence calibration "
                        "(temperature, not-a-digit threshold) on them after every epoch (default: 0 = "
                        "uncalibrated; e.g. 5000)")
    p.add_argument("--noise", type=non_negative_float, default=0.0, metavar="SIGMA",
                   help="add Gaussian pixel noise of a standard deviation drawn per image up to SIGMA; "
                        "cnn: to the images (1.0 for the shipped generation guide, assets/guide.pt); vae: to "
                        "what the encoder sees, the decoder reconstructing the clean image (default: 0 = off)")
    p.add_argument("--ema", type=_decay, default=0.0, metavar="DECAY",
                   help="evaluate and save a moving average of the weights with this per-step decay, "
                        "e.g. 0.999 (default: 0 = off; on for the shipped CNN)")
    p.add_argument("--model", action="append", default=[], metavar="FIELD=VALUE", type=_model_field,
                   help=f"override a model size field, repeatable: cnn {', '.join(_CNN_FIELDS)}; vae "
                        f"{', '.join(_VAE_FIELDS)} (default: the sizes in digittui/modelconfig.py, which says "
                        "what each is)")
    p.add_argument("--init", metavar="CHECKPOINT", default="",
                   help="start from this checkpoint's weights and model sizes instead of random ones, "
                        "e.g. to fine-tune the shipped CNN with other options (default: a fresh model)")
    p.add_argument("--seed", type=seed, default=1, help="random seed: the same seed gives the same run (default: 1)")
    p.add_argument("--compile", action="store_true",
                   help="torch.compile the model (default: off; compiling delays the first step, and "
                        "benchmarks/RESULTS.md found it no faster on a GPU than the CUDA graph step)")
    p.add_argument("--no-cuda-graph", dest="cuda_graph", action="store_false",
                   help="on CUDA, run every step eagerly instead of replaying it as a CUDA graph "
                        "(default: graph on; these small models' steps are launch-bound, see benchmarks/RESULTS.md)")
    add_device(p)
    add_data_dir(p)
    p.add_argument("--output", "-o", metavar="FILE",
                   help="checkpoint to write after every epoch, exactly there (default: a new kept run, "
                        "runs/KIND-DATE-TIME/last.pt and best.pt in $DIGITTUI_HOME, else in the per-user data "
                        "folder, e.g. ~/.local/share/digittui on Linux)")
    p.add_argument("--resume", action="store_true",
                   help="continue from the last completed epoch saved in --output, or without --output "
                        "in your latest kept run of KIND (default: start afresh)")
    p.add_argument("--use", action="store_true",
                   help="when done, make the new weights (the run's best epoch, or --output) the ones "
                        "digittui uses (default: keep the weights in use; see `digittui checkpoint use`)")
    add_replace(p)
    p.add_argument("--json", action="store_true", help="print one JSON line per epoch instead of a progress bar (default: off)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from digittui import device as devices, events, paths, train as training
    from digittui.cli.guard import exit_status

    wrong = _other_kinds_options(args)
    if wrong:
        err_console.print(f"[bold red]error:[/] {wrong}")
        return 2
    devices.resolve(args.device, required=args.require_device)  # fail fast on an absent required device
    config = training.TrainConfig(
        kind=args.kind, epochs=args.epochs or 0, batch_size=args.batch_size or 0, lr=args.lr or 0.0,
        weight_decay=args.weight_decay, augment=args.augment, noise=args.noise, seed=args.seed, device=args.device,
        compile=args.compile, cuda_graph=args.cuda_graph, ema=args.ema, model=dict(args.model),
        wild=args.wild, outliers=args.outliers, holdout=args.holdout, init=args.init)
    run_folder = None if args.output else _run_folder(args.kind, args.resume)
    output = Path(args.output) if args.output else run_folder.last
    check_replace(args, output)
    best = run_folder.best if run_folder else None
    data_dir = paths.data_dir(args.data_dir)
    control = events.TrainControl()

    bar, on_event = _reporter(args, show_best=best is not None)
    try:
        with bar:
            result = training.train(config, data_dir, output, resume=args.resume,
                                    on_event=on_event, control=control, best=best)
    except KeyboardInterrupt as exc:
        # Ctrl+C mid-epoch: the checkpoint on disk is the last completed epoch's, intact.
        say(f"interrupted: {output} holds the last completed epoch" if output.is_file()
            else "interrupted before the first epoch completed: nothing saved", stderr=True)
        return exit_status(exc)
    finally:
        if run_folder is not None:
            run_folder.discard_if_empty()
    if result.status is events.Outcome.DIVERGED:
        err_console.print(f"[bold red]training diverged:[/] {escape(result.message)}", highlight=False)
        return 1
    if result.status is events.Outcome.COMPLETED and not args.json:
        say(f"done in {result.elapsed_s:.1f} s: {_format_metrics(result.metrics)} -> {result.checkpoint}")
    new_weights = best if best is not None and best.is_file() else (output if output.is_file() else None)
    if new_weights is not None:
        _offer(args.kind, new_weights, run_folder, args.use)
    return 0


def _other_kinds_options(args: argparse.Namespace) -> str | None:
    """The message for --model fields or options that belong to the other kind, or None."""
    wrong = sorted(set(dict(args.model)) & (_VAE_ONLY if args.kind == "cnn" else _CNN_ONLY))
    if wrong:
        return f"--model {', '.join(wrong)}: not a field of the {args.kind.upper()}"
    cnn_only = [name for name in ("wild", "outliers", "holdout") if getattr(args, name)]
    if args.kind == "vae" and cnn_only:
        return f"--{', --'.join(cnn_only)}: options of the CNN only"
    return None


def _reporter(args: argparse.Namespace, show_best: bool):
    """(a progress bar, the training events' handler that drives it and prints each epoch)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, \
        TimeRemainingColumn

    from digittui import events
    from digittui.cli.common import print_json

    bar = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TextColumn("{task.fields[stats]}"), TimeElapsedColumn(), TextColumn("eta"),
                   TimeRemainingColumn(), console=console, disable=args.json)
    task = bar.add_task(f"train {args.kind}", total=None, stats="loading data")

    def on_event(event) -> None:
        if isinstance(event, events.Started):
            if event.notice:
                notice(event.notice)
            resumed = f", resuming after epoch {event.start_epoch}" if event.start_epoch else ""
            bar.console.print(f"training {event.kind} on {event.device}: {event.plan}{resumed}", markup=False,
                              highlight=False)
            bar.update(task, total=event.epochs * event.steps_per_epoch,
                       completed=event.start_epoch * event.steps_per_epoch, stats="")
        elif isinstance(event, events.Progress):
            bar.update(task, completed=event.step,
                       stats=f"epoch {event.epoch}/{event.epochs} loss {event.loss:.4f} "
                             f"{event.images_per_s:,.0f} img/s")
        elif isinstance(event, events.EpochEnd):
            if args.json:
                print_json({"epoch": event.epoch, "elapsed_s": round(event.elapsed_s, 2),
                            "train_s": round(event.train_s, 2), "images_per_s": round(event.images_per_s, 1),
                            **event.metrics, **({"best": event.best} if show_best else {})})
            else:
                kept = " (best so far)" if event.best else ""
                bar.console.print(f"epoch {event.epoch}/{event.epochs}: {_format_metrics(event.metrics)}"
                                  f"  [dim]saved {escape(str(event.checkpoint))}{kept}[/]")

    return bar, on_event


def _run_folder(kind: str, resume: bool):
    """Where a run without --output goes: a new kept run, or with --resume the latest one."""
    from digittui import weights
    from digittui.errors import CheckpointError

    if not resume:
        return weights.new_run(kind)
    latest = weights.latest_run(kind)
    if latest is None:
        raise CheckpointError(f"no kept {kind.upper()} run to resume: train one first, or give --output")
    return latest


def _offer(kind: str, new_weights: Path, run_folder, use: bool) -> None:
    """Say how the new weights compare with those in use, and switch to them only when asked."""
    from digittui import checkpoints, weights
    from digittui.errors import DigitError

    metric = weights.METRICS[kind]
    new = checkpoints.load(new_weights, kind)
    name = run_folder.id if run_folder is not None else str(new_weights)
    where = f"kept as {name}" + (f" (best epoch {new.epoch})" if run_folder is not None else "")
    if use:
        weights.choose(kind, new_weights)
        err_console.print(f"{where}: {metric.format(new.metrics)}, now the {kind.upper()} in use", highlight=False)
        return
    try:
        active, label = checkpoints.load_default(kind)
        in_use = f"{metric.format(active.metrics)} ({label})"
    except DigitError as exc:
        in_use = f"none usable ({exc})"
    err_console.print(f"{where}: {metric.format(new.metrics)}; in use: {in_use}. To use the new weights: "
                      f"digittui checkpoint use {name}", highlight=False)


_CNN_FIELDS, _VAE_FIELDS = size_fields(CNNConfig), size_fields(VAEConfig)
_MODEL_FIELDS = _CNN_FIELDS | _VAE_FIELDS
_VAE_ONLY, _CNN_ONLY = set(_VAE_FIELDS) - set(_CNN_FIELDS), set(_CNN_FIELDS) - set(_VAE_FIELDS)


def _share(text: str) -> float:
    value = non_negative_float(text)
    if value > 1:
        raise argparse.ArgumentTypeError(f"{text} must be a share between 0 and 1")
    return value


def _decay(text: str) -> float:
    value = non_negative_float(text)
    if value >= 1:
        raise argparse.ArgumentTypeError(f"{text} must be below 1 (0 turns the average off)")
    return value


def _model_field(text: str) -> tuple[str, int | float]:
    """FIELD=VALUE, the value of the field's type and within its range (the parameter count is
    checked once the kind is known)."""
    name, sep, value = text.partition("=")
    if not sep or name not in _MODEL_FIELDS:
        raise argparse.ArgumentTypeError(f"{text!r}: expected FIELD=VALUE with FIELD one of "
                                         f"{', '.join(sorted(_MODEL_FIELDS))}")
    number = (whole if _MODEL_FIELDS[name] == "int" else non_negative_float)(value)
    low, high = RANGES[name]
    if not low <= number <= high:
        raise argparse.ArgumentTypeError(f"{name}={value} is out of range ({low}-{high})")
    return name, number


def _format_metrics(metrics: dict) -> str:
    parts = []
    if "test_accuracy" in metrics:
        parts.append(f"test accuracy {metrics['test_accuracy']:.2%}")
    if "test_recon" in metrics:
        parts.append(f"test loss {metrics['test_loss']:.2f} nats "
                     f"(recon {metrics['test_recon']:.2f} + KL {metrics['test_kl']:.2f})")
    if "train_loss" in metrics:
        parts.append(f"train loss {metrics['train_loss']:.4f}")
    return ", ".join(parts)
