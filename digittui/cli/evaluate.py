"""`digittui evaluate`: test-set accuracy of the CNN and test loss of the VAE in use."""

from __future__ import annotations

import argparse

from digittui.cli.common import add_checkpoints, add_data_dir, add_device, console, print_json


def add_parser(sub) -> None:
    p = sub.add_parser(
        "evaluate", help="test accuracy of the CNN and test loss of the VAE",
        description="Evaluate the checkpoints in use (yours if you trained, else the shipped ones) on "
                    "the 10,000 MNIST test images.")
    add_checkpoints(p)
    add_device(p)
    add_data_dir(p)
    p.add_argument("--json", action="store_true",
                   help="print one JSON object: cnn_test_accuracy (fraction), vae_test_loss (nats/image), ...")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from digittui import checkpoints, data, device as devices, paths
    from digittui.evaluate import cnn_metrics, vae_metrics

    device = devices.resolve(args.device, required=args.require_device).device
    cnn, cnn_source = checkpoints.load_default("cnn", args.cnn, device)
    vae, vae_source = checkpoints.load_default("vae", args.vae, device)
    test = data.load_mnist(paths.data_dir(args.data_dir), train=False, device=device)
    c, v = cnn_metrics(cnn.model, test), vae_metrics(vae.model, test)
    result = {
        "cnn_test_accuracy": c["test_accuracy"], "cnn_test_loss": c["test_loss"],
        "vae_test_loss": v["test_loss"], "vae_test_recon": v["test_recon"], "vae_test_kl": v["test_kl"],
        "cnn_checkpoint": str(cnn.path), "cnn_source": cnn_source,
        "vae_checkpoint": str(vae.path), "vae_source": vae_source, "test_images": len(test),
    }
    if args.json:
        print_json(result)
    else:
        console.print(f"CNN  test accuracy {c['test_accuracy']:.2%} ({cnn_source}: {cnn.path})")
        console.print(f"VAE  test loss {v['test_loss']:.2f} nats/image = recon {v['test_recon']:.2f} "
                      f"+ KL {v['test_kl']:.2f} ({vae_source}: {vae.path})")
    return 0
