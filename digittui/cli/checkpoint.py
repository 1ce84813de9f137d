"""`digittui checkpoint list|use|delete|info|strip|prior`: the kept runs and the weights in use; inspect a
checkpoint, copy it without optimizer state, or give a VAE a prior fitted to its codes."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rich.markup import escape

from digittui.cli.common import (add_data_dir, add_replace, check_replace, console, count_or_off, positive_int,
                                 print_json, say, seed)


def add_parser(sub) -> None:
    p = sub.add_parser("checkpoint", help="list kept runs, choose the weights in use, inspect a checkpoint, fit a VAE's prior",
                       description="Every training run is kept (its best and its last epoch) until you delete "
                                   "it; the weights in use change only when you choose. Loading is always "
                                   "safe: nothing in a checkpoint is executed.")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="the weights you can use, with their test metric; * marks those in use")
    listing.add_argument("--json", action="store_true", help="print one JSON line per checkpoint (default: a table)")
    listing.set_defaults(run=run_list)
    use = actions.add_parser("use", help="choose the weights digittui uses (TUI and CLI)")
    use.add_argument("target", metavar="shipped|RUN|FILE",
                     help="'shipped', a kept run (its id, as `checkpoint list` shows, or its folder: its best "
                          "epoch), or a checkpoint file")
    use.add_argument("--kind", choices=("cnn", "vae"),
                     help="with 'shipped': only this model (default: both); otherwise a check")
    use.add_argument("--last", action="store_true", help="a run's last epoch instead of its best")
    use.set_defaults(run=run_use)
    delete = actions.add_parser("delete", help="delete a kept run (refused while it is in use)")
    delete.add_argument("run_id", metavar="RUN", help="the run's id, as `checkpoint list` shows it")
    delete.set_defaults(run=run_delete)
    info = actions.add_parser("info", help="model kind, configuration, epoch, metrics, training options")
    info.add_argument("file", nargs="?", metavar="FILE",
                      help="checkpoint (default: the CNN, the VAE and generation's decider in use)")
    info.add_argument("--json", action="store_true", help="print JSON (default: a readable summary)")
    info.set_defaults(run=run_info)
    strip = actions.add_parser("strip", help="copy without optimizer state (about 3x smaller; cannot be resumed)")
    strip.add_argument("src", metavar="SRC", help="checkpoint to read")
    strip.add_argument("dst", metavar="DST", help="file to write (replaced atomically)")
    add_replace(strip)
    strip.set_defaults(run=run_strip)
    prior = actions.add_parser(
        "prior", help="give a trained VAE a Gaussian-mixture prior fitted to its codes: a tighter ELBO, no retraining",
        description="Copy a VAE with its prior (N(0, I), or an earlier fit) replaced by a mixture of Gaussians "
                    "fitted (EM) to one code z ~ q(z|x) per training image; the last --holdout images are left out, "
                    "to show what the new prior buys on images it never saw. The encoder and decoder are unchanged. "
                    "The test set's negative ELBO is recomputed with the new prior and stored in DST (weights "
                    "only). Explore then draws its random digits from the new prior; guided generation keeps "
                    "N(0, I) for its search. About 1-2 minutes on 2 CPU cores.")
    prior.add_argument("src", metavar="SRC", help="VAE checkpoint to read")
    prior.add_argument("dst", metavar="DST", help="file to write (replaced atomically; SRC itself is refused)")
    prior.add_argument("--components", type=_components, default=100, metavar="K",
                       help="Gaussians in the mixture, 1-1000 (default: 100, the best of 10/50/100/200 on held-out "
                            "images for the shipped VAE, benchmarks/RESULTS.md)")
    prior.add_argument("--holdout", type=count_or_off, default=5000, metavar="N",
                       help="leave the last N training images out of the fit and report the ELBO on them "
                            "(default: 5000; 0 = fit on all 60,000)")
    prior.add_argument("--seed", type=seed, default=0, help="the codes' draws and the EM start (default: 0)")
    add_replace(prior)
    add_data_dir(prior)
    prior.add_argument("--json", action="store_true", help="print one JSON object when done (default: a progress bar)")
    prior.set_defaults(run=run_prior)


def _components(text: str) -> int:
    from digittui.modelconfig import RANGES

    value, most = positive_int(text), RANGES["prior_components"][1]
    if value > most:
        raise argparse.ArgumentTypeError(f"{value:,} components is over the limit of {most:,}")
    return value


def run_info(args: argparse.Namespace) -> int:
    from digittui import checkpoints

    paths = [(Path(args.file), "given")] if args.file else [checkpoints.find(r) for r in ("cnn", "vae", "decider")]
    for path, source in dict.fromkeys(paths):  # a CNN of yours is also generation's decider: said once
        ckpt = checkpoints.load(path)
        summary = {"file": str(path), "source": source, "kind": ckpt.kind, "epoch": ckpt.epoch,
                   "config": vars(ckpt.model.config).copy(), "metrics": ckpt.metrics, "train": ckpt.train,
                   "parameters": sum(p.numel() for p in ckpt.model.parameters()),
                   "resumable": ckpt.resume is not None}
        if args.json:
            print_json(summary)
        else:
            console.print(f"[bold]{escape(str(path))}[/] ({source}): {ckpt.kind.upper()}, epoch {ckpt.epoch}, "
                          f"{summary['parameters']:,} parameters, "
                          f"{'resumable' if summary['resumable'] else 'weights only'}")
            say(f"  metrics {json.dumps(ckpt.metrics)}")
            say(f"  config  {json.dumps(summary['config'])}")
    return 0


def run_strip(args: argparse.Namespace) -> int:
    from digittui import checkpoints

    check_replace(args, args.dst)
    out = checkpoints.strip(Path(args.src), Path(args.dst))
    say(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB)")
    return 0


def run_prior(args: argparse.Namespace) -> int:
    from digittui import checkpoints, data, fitprior, paths, safeio
    from digittui.errors import LimitError, WriteError
    from digittui.evaluate import vae_metrics

    src, dst = Path(args.src), Path(args.dst)
    ckpt = checkpoints.load(src, "vae")
    if dst.exists() and dst.resolve() == src.resolve():
        raise WriteError(f"{dst} is SRC: write the VAE with its new prior to another file (SRC stays as it is)")
    check_replace(args, dst)
    d = fitprior.fitted_config(ckpt.model.config, args.components).latent_dim  # a prior too large: refused now
    safeio.check_destination(dst, "checkpoint", need_bytes=src.stat().st_size + 4 * args.components * (d * d + d + 1))
    data_dir = paths.data_dir(args.data_dir)
    fit_set, held = data.split_holdout(data.load_mnist(data_dir, train=True), args.holdout)
    test = data.load_mnist(data_dir, train=False)  # read before the fit, so a missing file costs no work
    if args.components > len(fit_set):
        raise LimitError(f"{args.components:,} components need at least as many training images; the fit has "
                         f"{len(fit_set):,}")
    with _fit_progress(args.json) as on_iteration:
        vae = fitprior.fit(ckpt.model, fit_set, args.components, args.seed, on_iteration)
    metrics = vae_metrics(vae, test)
    held_out = {"holdout_loss_before": vae_metrics(ckpt.model, held)["test_loss"],
                "holdout_loss": vae_metrics(vae, held)["test_loss"]} if held is not None else {}
    fitted = {"components": args.components, "seed": args.seed, "fitted_on": len(fit_set), **held_out}
    checkpoints.save(dst, "vae", vae, epoch=ckpt.epoch, metrics=metrics, train={**ckpt.train, "prior": fitted})
    if args.json:
        print_json({"checkpoint": str(dst), **fitted, "test_loss_before": ckpt.metrics.get("test_loss"), **metrics})
        return 0
    if held_out:
        say(f"held-out images (the last {args.holdout:,} training images): negative ELBO "
            f"{held_out['holdout_loss']:.2f} nats/image (with SRC's prior: {held_out['holdout_loss_before']:.2f})")
    say(f"test set: negative ELBO {metrics['test_loss']:.2f} nats/image = recon {metrics['test_recon']:.2f} "
        f"+ KL {metrics['test_kl']:.2f} (with SRC's prior: {ckpt.metrics.get('test_loss', float('nan')):.2f})")
    say(f"wrote {dst}; to use it: digittui checkpoint use {dst}")
    return 0


def _fit_progress(quiet: bool):
    """A context holding a progress bar over the EM iterations; it yields the callback that drives it."""
    from contextlib import contextmanager

    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from digittui.fitprior import MAX_ITERATIONS

    @contextmanager
    def bar():
        with Progress(TextColumn("fitting the prior"), BarColumn(), TextColumn("{task.fields[stats]}"),
                      TimeElapsedColumn(), console=console, disable=quiet, transient=True) as progress:
            task = progress.add_task("fit", total=MAX_ITERATIONS, stats="encoding the training images")
            yield lambda i, ll: progress.update(task, completed=i,
                                                stats=f"EM iteration {i}: log p(z) {ll:.3f} per code")
    return bar()


def run_list(args: argparse.Namespace) -> int:
    from digittui import weights

    for kind in weights.KINDS:
        in_use = weights.resolve(kind)[0].resolve()
        rows = [weights.read(c) for c in weights.candidates(kind)]
        if not args.json:
            console.print(f"[bold]{kind.upper()}[/]")
        for c in rows:
            active = c.path.resolve() == in_use
            if args.json:
                print_json({"kind": kind, "label": c.label, "file": str(c.path), "active": active,
                            "epoch": c.epoch, "metrics": c.metrics, "error": c.error,
                            "run": c.path.parent.name if c.path.parent.parent == weights.runs_dir() else None})
            else:
                epoch = f"epoch {c.epoch}" if c.epoch is not None else ""
                console.print(f"  {'*' if active else ' '} {c.label:<24} {c.metric:<16} {epoch:<9} {c.path}",
                              highlight=False, markup=False)
    return 0


def run_use(args: argparse.Namespace) -> int:
    from digittui import checkpoints, weights

    if args.target == weights.SHIPPED:
        changes = [(kind, None) for kind in ([args.kind] if args.kind else weights.KINDS)]
    else:
        run = weights.find_run(args.target)
        path = (run.last if args.last else run.best) if run is not None else Path(args.target)
        if run is not None and not path.is_file():
            path = run.last  # a run stopped before any epoch counted as its best has only its last
        kind = checkpoints.load(path, args.kind).kind  # refuses what would not load
        changes = [(kind, path)]
    for kind, path in changes:
        before = _describe(kind)
        weights.choose(kind, path)
        console.print(f"{kind.upper()} in use: {_describe(kind)} (was {before})", highlight=False, markup=False)
    return 0 if changes else 1


def _describe(kind: str) -> str:
    """'99.60% test accuracy, shipped' for the weights in use, or why there are none."""
    from digittui import checkpoints, weights
    from digittui.errors import DigitError

    try:
        ckpt, label = checkpoints.load_default(kind)
    except DigitError as exc:
        return f"unusable: {exc}"
    return f"{weights.METRICS[kind].format(ckpt.metrics)}, {label}"


def run_delete(args: argparse.Namespace) -> int:
    from digittui import weights
    from digittui.errors import CheckpointError

    run = weights.find_run(args.run_id)
    if run is None:
        raise CheckpointError(f"no kept run {args.run_id!r}: `digittui checkpoint list` shows them")
    weights.delete_run(run)
    console.print(f"deleted {run.id}", highlight=False, markup=False)
    return 0
