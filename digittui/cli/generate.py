"""`digittui generate SPEC...`: draw digits the CNN recognises, by optimizing VAE latents."""

from __future__ import annotations

import argparse

from digittui.cli.common import add_checkpoints, add_device, add_init, console, err_console, load_models, \
    non_negative_float, notice, positive_float, positive_int, print_json, say, seed

SPEC_HELP = ("what to draw: a digit (7), a number (2026), a hybrid of two digits (3+8), or one of the "
             "CNN's never-trained output units (class:11). 10-15 alone are ambiguous: write number:11 "
             "or class:11. Several specs, or commas, make one batched run")


def add_parser(sub) -> None:
    from digittui.genconfig import GenerateConfig

    d = GenerateConfig()
    p = sub.add_parser(
        "generate", help="generate digits, numbers, hybrids or unlearned classes",
        description="Generate images the CNN classifies as the target: latents of the VAE are optimized "
                    "so that the CNN's probability of the target rises, while staying plausible under "
                    "the VAE's prior. All specs are optimized together in one batch.")
    p.add_argument("specs", nargs="+", metavar="SPEC", help=SPEC_HELP)
    p.add_argument("--count", "-n", type=positive_int, default=d.count,
                   help=f"samples per spec (default: {d.count})")
    p.add_argument("--seed", type=seed, default=d.seed, help=f"same seed, same images (default: {d.seed})")
    add_init(p)
    p.add_argument("--steps", type=positive_int, default=d.steps,
                   help=f"most optimization steps; confident samples stop earlier (default: {d.steps})")
    p.add_argument("--lr", type=positive_float, default=d.lr, help=f"Adam step size (default: {d.lr})")
    p.add_argument("--prior-weight", type=non_negative_float, default=d.prior_weight,
                   help=f"pull towards typical latents, against drifting into odd images (default: {d.prior_weight})")
    p.add_argument("--stop-confidence", type=positive_float, default=d.stop_confidence,
                   help=f"a sample stops once the CNN gives its target this probability; hybrids stop "
                        f"at half of it for both digits (default: {d.stop_confidence})")
    p.add_argument("--no-robust", action="store_true",
                   help="skip the random shifts/rotations each step: faster, more fragile verdicts "
                        "(default: robust)")
    p.add_argument("--output", "-o", metavar="PNG", help="write a PNG grid of the samples (default: none)")
    p.add_argument("--npz", metavar="FILE",
                   help="write images, targets and confidences as a numpy .npz (default: none)")
    p.add_argument("--gif", metavar="FILE", help="write an animated GIF of the optimization, from step 0 to "
                                                 "the result, with the CNN's confidence under each sample "
                                                 "(default: none)")
    p.add_argument("--images", metavar="DIR",
                   help="write each sample as its own PNG in DIR, without captions, named SPEC-N.png: "
                        "what `digittui classify` reads back (default: none)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace existing files (default: keep them and write NAME-1.png, NAME-2.png...)")
    add_checkpoints(p, generation=True)
    add_device(p)
    p.add_argument("--json", action="store_true",
                   help="print one JSON line per spec instead of the table (default: off)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from digittui.spec import parse_many

    from digittui import export

    requests = parse_many(",".join(args.specs))  # a typo fails here, before seconds of loading
    _check_size(args, requests)  # and so does a request too big for the memory or a GIF
    # So does a bad output folder: the file names are settled before the work.
    stem = "generate-" + "_".join(r.text for r in requests)
    outputs = {kind: export.output_path(value, stem, suffix, args.overwrite)
               for kind, value, suffix in (("png", args.output, ".png"), ("npz", args.npz, ".npz"),
                                           ("gif", args.gif, ".gif")) if value}
    if args.images:
        export.export_folder(args.images)
    if args.stop_confidence >= 1:
        notice("--stop-confidence >= 1 is never reached: every sample runs all steps")

    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from digittui.generate import GenerateConfig, generate_many, load_guide

    device, loaded = load_models(args, "decider", "vae")
    cnn, vae = (ckpt.model for ckpt, _ in loaded)
    requests = parse_many(",".join(args.specs), cnn.config.num_outputs)
    config = GenerateConfig(count=args.count, init=args.init, steps=args.steps, lr=args.lr, prior_weight=args.prior_weight,
                            seed=args.seed, stop_confidence=args.stop_confidence, robust=not args.no_robust)

    bar = Progress(TextColumn("[bold]generate"), BarColumn(), TextColumn("step {task.completed}/{task.total}"),
                   TextColumn("{task.fields[done]}"), TimeElapsedColumn(), console=err_console,
                   disable=args.json, transient=True)
    task = bar.add_task("generate", total=config.steps, done="")
    done = [0] * len(requests)

    def on_step(step) -> None:
        done[step.index] = step.done
        if step.index == len(requests) - 1:
            bar.update(task, completed=step.step,
                       done=f"{sum(done)}/{len(requests) * config.count} samples confident")

    with bar:
        results = generate_many(requests, cnn, vae, config, guide=load_guide(device), on_step=on_step)

    _print_results(results, args.json, preview="png" not in outputs)
    _write_outputs(results, outputs, args)
    return 0


def _print_results(results: list, as_json: bool, preview: bool) -> None:
    """One JSON line per request, or a table (and block-character previews on a terminal)."""
    from rich.table import Table
    from rich.text import Text

    from digittui.generate import verdict

    if as_json:
        for r in results:
            print_json({"spec": r.request.text, "label": r.request.label, "count": len(r.images),
                        "steps": r.steps, "mean_confidence": round(float(r.confidence.mean()), 4),
                        "min_confidence": round(float(r.confidence.min()), 4), "verdict": verdict(r)})
        return
    table = Table(title=f"{sum(len(r.images) for r in results)} samples, {results[0].steps} steps")
    for column in ("request", "samples", "confidence mean", "min", "the CNN's verdict"):
        table.add_column(column, justify="right" if column in ("samples", "confidence mean", "min") else "left")
    for r in results:
        table.add_row(Text(r.request.label), str(len(r.images)), f"{float(r.confidence.mean()):.3f}",
                      f"{float(r.confidence.min()):.3f}", verdict(r))
    console.print(table)
    if preview and console.is_terminal:
        _preview(results)


def _write_outputs(results: list, outputs: dict, args: argparse.Namespace) -> None:
    """The PNG grid, arrays and GIF at the paths settled before the work, and --images' one file a sample."""
    from digittui import export

    arrays = export.generated_arrays(results) if outputs or args.images else {}
    columns = _columns(args.count, len(results), arrays["images"].shape[-1]) if outputs else None
    if "png" in outputs:
        export.save_generated_grid(outputs["png"], results, arrays, columns=columns)
    if "npz" in outputs:
        export.save_npz(outputs["npz"], **arrays)
    if "gif" in outputs:
        export.save_generated_journey(outputs["gif"], results, columns=columns)
    for path in outputs.values():
        say(f"wrote {path}", stderr=args.json)
    if args.images:
        names = [f"{r.request.text}-{i + 1}" for r in results for i in range(len(r.images))]
        trimmed = [a[:, :w] for a, w in zip(arrays["images"], arrays["widths"])]  # no right padding
        written = export.save_images(args.images, trimmed, names, args.overwrite)
        say(f"wrote {len(written)} images to {args.images}", stderr=args.json)


def _columns(count: int, specs: int, width: int) -> int | None:
    """One row per spec when rows are short and the grid still fits a GIF; else a square-ish grid."""
    from digittui import export, limits

    height = export.mosaic_shape(count * specs, 28, width, count, strip=export.JOURNEY_BAND)[0] + export.JOURNEY_BAND
    return count if count <= 32 and height * export.GIF_SCALE <= limits.GIF_SIDE else None


def _check_size(args: argparse.Namespace, requests) -> None:
    """LimitError, before anything is loaded, for a request that would not fit in the memory (every
    sample's optimization and snapshots, plus its PNG cell) or whose GIF would not fit the format."""
    from digittui import export, limits
    from digittui.genconfig import GenerateConfig

    every = GenerateConfig().report_every
    limits.check_generation(args.count * sum(r.positions for r in requests), args.steps, every,
                            png=bool(args.output))
    if args.gif:
        width = 28 * max(r.positions for r in requests)
        export.check_gif(args.steps // every + 2, args.count * len(requests), 28, width,
                         _columns(args.count, len(requests), width), band=export.JOURNEY_BAND)


def _preview(results) -> None:
    """A row of each request's samples as half-block images, as many as fit the terminal, captioned
    with the CNN's reading and confidence; then how to keep them."""
    from digittui.halfblocks import ImageRow, downsample

    if console.no_color or console.color_system is None:  # the greys are colours: nothing would show
        console.print("To see the samples, save them: --output FILE.png (all of them, captioned), --gif FILE "
                      "(the optimization), --npz FILE (the arrays)", markup=False, highlight=False)
        return
    shown = 0
    for r in results:
        width = r.images.shape[-1]
        factor = 1 if 3 * (width + 1) <= console.width + 1 else 2  # at least three side by side
        cell = -(-width // factor)
        n = max(1, min(len(r.images), (console.width + 1) // (cell + 1)))
        captions = [f"{''.join(map(str, p.tolist()))} {c:.2f}" for p, c in zip(r.predicted[:n], r.confidence[:n].tolist())]
        console.print(f"{r.request.label}: {n} of {len(r.images)}, the CNN's reading and confidence under each",
                      markup=False, highlight=False)
        console.print(ImageRow([downsample(im, factor) for im in r.images[:n].numpy()], captions))
        shown += n
    total = sum(len(r.images) for r in results)
    console.print(f"Showing {shown} of {total} samples. To keep them: --output FILE.png (all, captioned), "
                  "--gif FILE (the optimization), --npz FILE (the arrays)", markup=False, highlight=False)
