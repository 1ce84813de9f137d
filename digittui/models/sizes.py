"""Model configurations from outside (a checkpoint file, `train --model`), checked before a model
is built: every field of the right type and in range, and the whole model within MAX_PARAMETERS, so
that a file saying `hidden=1000000` is refused in milliseconds instead of allocating gigabytes."""

from __future__ import annotations

import math
from dataclasses import fields
from typing import Any

from digittui.errors import ConfigError
from digittui.modelconfig import RANGES, CNNConfig, VAEConfig
from digittui.models.cnn import CNN
from digittui.models.vae import VAE

KINDS = {"cnn": (CNN, CNNConfig), "vae": (VAE, VAEConfig)}

# 20 million parameters: 80 MB of float32 weights, about 320 MB to train (weights, gradients and
# Adam's two moments), 12x the shipped VAE (1.7 M) and 58x the shipped CNN (0.34 M).
MAX_PARAMETERS = 20_000_000

def checked_config(kind: str, raw: Any) -> CNNConfig | VAEConfig:
    """`raw` (a dict of field -> value, missing fields take the defaults) as the kind's configuration.
    Raises ConfigError naming the first field that is unknown, of the wrong type or out of range, or
    the size of a model past MAX_PARAMETERS."""
    model_cls, config_cls = KINDS[kind]
    if not isinstance(raw, dict):
        raise ConfigError(f"a {kind.upper()} configuration must be a table of sizes, not {type(raw).__name__}")
    types = {f.name: f.type for f in fields(config_cls)}
    for name, value in raw.items():
        if name not in types:
            raise ConfigError(f"{name!r} is not a field of the {kind.upper()} (fields: {', '.join(types)})")
        whole = types[name] == "int"
        if isinstance(value, bool) or not isinstance(value, int if whole else (int, float)):
            raise ConfigError(f"{kind.upper()} {name} must be {'a whole number' if whole else 'a number'}, "
                              f"not {_short(value)}")
        low, high = RANGES[name]
        if not (math.isfinite(value) and low <= value <= high):
            raise ConfigError(f"{kind.upper()} {name}={_short(value)} is out of range ({low}-{high})")
    config = config_cls(**raw)
    if kind == "cnn" and config.num_outputs < config.num_classes:
        raise ConfigError(f"CNN num_outputs={config.num_outputs} is fewer than its {config.num_classes} classes")
    if kind == "vae" and config.prior_components * config.latent_dim ** 2 > MAX_PARAMETERS:
        raise ConfigError(f"a prior of {config.prior_components} Gaussians over {config.latent_dim} dimensions holds "
                          f"{config.prior_components * config.latent_dim ** 2:,} numbers; the limit is "
                          f"{MAX_PARAMETERS:,}")
    n = parameter_count(kind, config)
    if n > MAX_PARAMETERS:
        raise ConfigError(f"a {kind.upper()} of {_changed(raw)} has {n:,} parameters ({n * 4 / 1e9:.1f} GB); "
                          f"the limit is {MAX_PARAMETERS:,} ({MAX_PARAMETERS * 4 / 1e6:.0f} MB of weights, "
                          f"about {MAX_PARAMETERS * 16 / 1e6:.0f} MB to train)")
    return config


def parameter_count(kind: str, config: CNNConfig | VAEConfig) -> int:
    """Parameters of the model `config` describes, counted on torch's meta device: nothing allocated."""
    import torch

    with torch.device("meta"):
        model = KINDS[kind][0](config)
    return sum(p.numel() for p in model.parameters())


def expected_state(kind: str, config: CNNConfig | VAEConfig) -> dict[str, tuple[tuple[int, ...], Any]]:
    """name -> (shape, dtype) of every entry of the model's state dict, without allocating it."""
    import torch

    with torch.device("meta"):
        model = KINDS[kind][0](config)
    return {name: (tuple(t.shape), t.dtype) for name, t in model.state_dict().items()}


def _changed(raw: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in raw.items()) or "the default sizes"


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
