"""`digittui evaluate`: test-set accuracy of the CNN and the negative ELBO of the VAE in use."""

from __future__ import annotations

import argparse

from digittui.cli.common import add_checkpoints, add_data_dir, add_device, load_models, positive_int, \
    print_json, say


IW_SAMPLES_MAX = 10_000  # papers report K = 5,000


def add_parser(sub) -> None:
    p = sub.add_parser(
        "evaluate", help="test accuracy of the CNN and negative ELBO of the VAE",
        description="Evaluate the checkpoints in use (yours if you trained, else the shipped ones) on "
                    "the 10,000 MNIST test images. The VAE's figure is the negative ELBO with one z "
                    "sampled per image (seed 0, so it repeats), in nats per image: reconstruction + KL.")
    add_checkpoints(p)
    add_device(p)
    add_data_dir(p)
    p.add_argument("--iw", type=_iw_samples, default=0, metavar="K",
                   help="also compute the importance-weighted bound on -log p(x) with K samples per image "
                        f"(1-{IW_SAMPLES_MAX:,}; tighter than the ELBO as K grows; costs K decodes per "
                        "image: K=100 takes minutes on a CPU) (default: off)")
    p.add_argument("--json", action="store_true",
                   help="print one JSON object: cnn_test_accuracy (fraction), vae_test_loss (nats/image), ...")
    p.set_defaults(run=run)


def _iw_samples(text: str) -> int:
    value = positive_int(text)
    if value > IW_SAMPLES_MAX:
        raise argparse.ArgumentTypeError(f"{value:,} samples per image is over the limit of {IW_SAMPLES_MAX:,}")
    return value


def run(args: argparse.Namespace) -> int:
    from digittui import data, paths
    from digittui.calibration import Calibration
    from digittui.evaluate import calibration_metrics, cnn_metrics, vae_iw_bound, vae_metrics

    device, [(cnn, cnn_source), (vae, vae_source)] = load_models(args, "cnn", "vae")
    test = data.load_mnist(paths.data_dir(args.data_dir), train=False, device=device)
    c, v = cnn_metrics(cnn.model, test), vae_metrics(vae.model, test)
    calibration = Calibration.from_dict(cnn.calibration)
    k = calibration_metrics(cnn.model, test, calibration)
    result = {
        "cnn_test_accuracy": c["test_accuracy"], "cnn_test_loss": c["test_loss"],
        "cnn_ece": k["ece"], "cnn_ece_uncalibrated": k["ece_uncalibrated"],
        "cnn_temperature": calibration.temperature, "cnn_calibrated_on": calibration.fitted_on,
        "cnn_not_sure": k["not_sure"], "cnn_not_a_digit": k["not_a_digit"],
        "vae_test_loss": v["test_loss"], "vae_test_recon": v["test_recon"], "vae_test_kl": v["test_kl"],
    }
    if args.iw:
        result.update(vae_test_iw_loss=vae_iw_bound(vae.model, test, args.iw), vae_iw_samples=args.iw)
    result.update(cnn_checkpoint=str(cnn.path), cnn_source=cnn_source, vae_checkpoint=str(vae.path),
                  vae_source=vae_source, test_images=len(test))
    if args.json:
        print_json(result)
        return 0
    say(f"CNN  test accuracy {c['test_accuracy']:.2%} ({cnn_source}: {cnn.path})")
    say(f"     calibration error (ECE) {k['ece']:.2%} at temperature {calibration.temperature:g} "
        f"({k['ece_uncalibrated']:.2%} at 1; fitted on {calibration.fitted_on}); said "
        f"'not sure' of {k['not_sure']:.2%} and 'not a digit' of {k['not_a_digit']:.2%} of the "
        "test digits")
    say(f"VAE  negative ELBO {v['test_loss']:.2f} nats/image = recon {v['test_recon']:.2f} "
        f"+ KL {v['test_kl']:.2f} ({vae_source}: {vae.path})")
    if args.iw:
        say(f"VAE  importance-weighted bound, K={args.iw:,}: {result['vae_test_iw_loss']:.2f} "
            "nats/image (>= -log p(x))")
    return 0
