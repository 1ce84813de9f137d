"""The models' size fields and the range of each, without torch: the command line checks
`train --model FIELD=VALUE` while it parses, and `digittui --help` stays fast (torch takes ~2 s to import).
digittui/models/sizes.py checks whole configurations, parameter count included."""

from __future__ import annotations

from dataclasses import dataclass, fields


@dataclass
class CNNConfig:
    conv1: int = 16  # channels of the 5x5 conv on the 28x28 input
    conv2: int = 32  # channels of the 3x3 conv at 14x14
    conv3: int = 64  # channels of the 3x3 conv at 7x7
    hidden: int = 128  # width of the fully connected layer
    depth: int = 1  # convs per resolution: each after the first is a 3x3 conv of the same width
    dropout: float = 0.2  # before the output layer
    num_classes: int = 10  # digits that training examples target
    num_outputs: int = 16  # output units; the 6 beyond num_classes are never targeted by any example,
    # so asking the generator for "class 11" is a real experiment on an untrained-for unit


@dataclass
class VAEConfig:
    latent_dim: int = 16  # size of z; guided generation optimizes in this space
    channels: int = 32  # channels after the first stride-2 conv (doubled after the second)
    hidden: int = 256  # width of the fully connected layer on both sides of z
    refine: int = 0  # channels of a 3x3 conv at 28x28 that outputs the logits (0: the last transposed conv does)
    prior_components: int = 0  # Gaussians in the prior p(z), fitted after training by `digittui checkpoint
    # prior` (digittui/fitprior.py); 0 = N(0, I)


# field -> (smallest, largest), checked for every configuration, from a file or from --model.
RANGES: dict[str, tuple[float, float]] = {
    "conv1": (1, 1024), "conv2": (1, 1024), "conv3": (1, 1024), "hidden": (1, 65536),
    "depth": (1, 8),
    "dropout": (0.0, 0.99), "num_classes": (10, 10), "num_outputs": (10, 1024),
    "latent_dim": (1, 1024), "channels": (1, 1024), "refine": (0, 1024),
    "prior_components": (0, 1000),
}

# Fields no --model may change: generation and the spare output units rely on 10 classes; a prior is
# fitted to a trained VAE, not trained with it.
FIXED = {"num_classes", "num_outputs", "prior_components"}


def size_fields(config_cls: type) -> dict[str, str]:
    """name -> "int" or "float" of the fields a user may set."""
    return {f.name: f.type for f in fields(config_cls) if f.name not in FIXED}
