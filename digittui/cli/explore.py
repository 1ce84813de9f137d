"""`digittui explore sample|morph|latent-map`: look around the VAE's latent space, as PNGs (and GIFs)."""

from __future__ import annotations

import argparse

from digittui.cli.common import add_checkpoints, add_data_dir, add_device, add_init, at_most, load_models, \
    positive_int, say, seed

MAX_EXTENT = 1000.0  # map units: the VAE's codes (prior N(0, I) or fitted to them) lie within about 4 of the centre


def _add_output(p: argparse.ArgumentParser, default_name: str, generation: bool = False) -> None:
    p.add_argument("--output", "-o", metavar="PNG",
                   help=f"PNG to write (default: {default_name}.png in the export folder)")
    p.add_argument("--out-dir", metavar="DIR",
                   help="export folder for default file names (default: $DIGITTUI_EXPORTS, else ./digittui-exports)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace existing files (default: keep them and write NAME-1.png, NAME-2.png...)")
    add_checkpoints(p, generation=generation)
    add_device(p)


def add_parser(sub) -> None:
    p = sub.add_parser("explore", help="sample, morph and map the VAE's latent space (writes PNGs)",
                       description="Look around the VAE's latent space. Each command writes a PNG.")
    commands = p.add_subparsers(dest="explore", metavar="WHAT", required=True)

    s = commands.add_parser("sample", help="decode random latents z ~ p(z), the VAE's prior, captioned with the CNN's verdict",
                            description="Decode random draws from the VAE's prior; each is captioned with "
                                        "the digit the CNN sees and its probability.")
    s.add_argument("--count", "-n", type=positive_int, default=64, help="samples (default: 64)")
    s.add_argument("--seed", type=seed, default=0, help="same seed, same samples (default: 0)")
    _add_output(s, "sample")
    s.set_defaults(run=run_sample)

    m = commands.add_parser("morph", help="interpolate between two generated digits",
                            description="Generate one sample of A and one of B (guided, same seed), then "
                                        "decode the path between their latents.")
    m.add_argument("a", metavar="A", help="start: a digit, hybrid or class spec (7, 3+8, class:11)")
    m.add_argument("b", metavar="B", help="end: the same kinds of spec")
    m.add_argument("--frames", type=positive_int, default=12, help="images along the path, ends included (default: 12)")
    m.add_argument("--seed", type=seed, default=0, help="seed of the two end points (default: 0)")
    add_init(m)
    m.add_argument("--linear", action="store_true",
                   help="straight line instead of spherical interpolation (default: spherical)")
    m.add_argument("--gif", metavar="FILE", help="also write an animated GIF of the morph (default: none)")
    _add_output(m, "morph-A-B", generation=True)
    m.set_defaults(run=run_morph)

    lm = commands.add_parser("latent-map", help="the test set's latent means on their two principal axes, "
                                                "beside the images decoded over that plane",
                             description="Encode test digits, project their latent means with PCA, plot them "
                                         "coloured by digit, and decode a grid over the same two axes.")
    lm.add_argument("--points", type=positive_int, default=2000, help="test digits to encode (default: 2000)")
    lm.add_argument("--grid", type=positive_int, default=15, help="decoded images per side (default: 15)")
    lm.add_argument("--extent", type=at_most(MAX_EXTENT, "the latent codes lie within a few units of the centre"),
                    default=None, help="half-width of the plane, in map units, at most "
                                       f"{MAX_EXTENT:g} (default: covers 98%% of the points)")
    add_data_dir(lm)
    _add_output(lm, "latent-map")
    lm.set_defaults(run=run_latent_map)


def _load(args: argparse.Namespace, *kinds: str):
    _, loaded = load_models(args, *kinds)
    return [ckpt.model for ckpt, _ in loaded]


def _wrote(path) -> int:
    say(f"wrote {path}")
    return 0


def run_sample(args: argparse.Namespace) -> int:
    from digittui import export, limits
    from digittui.classify import classify
    from digittui.latent import sample_prior

    limits.check_memory("--count", args.count, limits.DECODE_IMAGE + limits.PNG_IMAGE, "samples",
                        "Ask for fewer, and run again with another --seed for more")
    path = export.output_path(args.output, "sample", ".png", args.overwrite, args.out_dir)
    cnn, vae = _load(args, "cnn", "vae")
    _, images = sample_prior(vae, args.count, args.seed)
    predictions = classify(cnn, images)
    export.save_png_grid(path, images, titles=[str(p.digit) for p in predictions],
                         confidences=[p.confidence for p in predictions],
                         title=f"z ~ {vae.prior.describe()}, seed {args.seed}: the CNN's verdict")
    return _wrote(path)


def run_morph(args: argparse.Namespace) -> int:
    from digittui import export, limits
    from digittui.errors import SpecError
    from digittui.spec import parse

    limits.check_memory("--frames", args.frames, limits.DECODE_IMAGE + limits.PNG_IMAGE
                        + (28 * 28 * export.GIF_SCALE ** 2 * 2 if args.gif else 0), "frames")

    requests = [parse(args.a), parse(args.b)]  # syntax errors before any loading
    for r in requests:
        if r.positions > 1:
            raise SpecError(f"{r.text!r}: morph takes single images (a digit, hybrid or class), not numbers")
    name = f"morph-{requests[0].text}-{requests[1].text}"
    path = export.output_path(args.output, name, ".png", args.overwrite, args.out_dir)
    gif = export.output_path(args.gif, name, ".gif", args.overwrite) if args.gif else None

    from digittui.generate import GenerateConfig
    from digittui.latent import morph_generated

    cnn, vae = _load(args, "decider", "vae")
    requests = [parse(text, cnn.config.num_outputs) for text in (args.a, args.b)]
    frames = morph_generated(*requests, cnn, vae, GenerateConfig(seed=args.seed, init=args.init), args.frames,
                             spherical=not args.linear)
    export.save_png_grid(path, frames, columns=args.frames,
                         title=f"{requests[0].label} -> {requests[1].label}"
                               f" ({'linear' if args.linear else 'spherical'})")
    if gif is not None:
        _wrote(export.save_gif(gif, frames))
    return _wrote(path)


def run_latent_map(args: argparse.Namespace) -> int:
    from digittui import export, limits, paths
    from digittui.data import load_mnist
    from digittui.latent import encode_map, plane_grid

    limits.check_memory("--grid", args.grid ** 2, limits.DECODE_IMAGE + 2 * 28 * 28 * 4,
                        f"decoded images ({args.grid:,} x {args.grid:,})")

    path = export.output_path(args.output, "latent-map", ".png", args.overwrite, args.out_dir)
    (vae,) = _load(args, "vae")
    test = load_mnist(paths.data_dir(args.data_dir), train=False)
    latent_map = encode_map(vae, test, args.points)
    extent = args.extent or float(latent_map.points.abs().quantile(0.98))
    grid = plane_grid(vae, latent_map.center, latent_map.axes[0], latent_map.axes[1], extent, args.grid)
    export.save_latent_map(path, latent_map, grid, extent)
    return _wrote(path)
