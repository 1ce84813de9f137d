"""Picking the compute device: `auto` prefers CUDA, then Apple's MPS, then the CPU."""

from __future__ import annotations

import re
from dataclasses import dataclass

from digittui.errors import DeviceError

CHOICES = ("auto", "cuda", "mps", "cpu")
_NAME = re.compile(r"(?P<base>[a-z]+)(?::(?P<index>\d+))?")


@dataclass(frozen=True)
class DeviceChoice:
    device: "torch.device"  # noqa: F821 - torch is imported lazily
    notice: str | None  # set when the request could not be honoured and we fell back


def resolve(name: str = "auto", *, required: bool = False) -> DeviceChoice:
    """Turn a device name into a torch.device.

    An unavailable explicit device falls back to the CPU with a notice, unless `required`,
    in which case it is an error (for scripts that must not silently run 100x slower).
    """
    import torch

    name = (name or "auto").lower()
    match = _NAME.fullmatch(name)
    if match is None or match["base"] not in CHOICES:
        raise DeviceError(f"unknown device {name[:40]!r}: choose one of {', '.join(CHOICES)} (or cuda:N)")
    base, index = match["base"], match["index"]
    if index is not None and (len(index) > 3 or base == "auto" or base != "cuda" and int(index) != 0):
        raise DeviceError(f"unknown device {name!r}: only CUDA devices are numbered (cuda:0, cuda:1, ...)")
    cuda = torch.cuda.is_available()
    mps = getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    if base == "auto":
        if cuda:
            return DeviceChoice(torch.device("cuda"), None)
        if mps:
            return DeviceChoice(torch.device("mps"), None)
        return DeviceChoice(torch.device("cpu"), None)
    if base == "cuda" and cuda and index is not None and int(index) >= torch.cuda.device_count():
        count = torch.cuda.device_count()
        raise DeviceError(f"device {name!r} does not exist: this machine has {count} CUDA device"
                          f"{'' if count == 1 else 's'} (cuda:0{f' to cuda:{count - 1}' if count > 1 else ''})")
    if base == "cuda" and not cuda or base == "mps" and not mps:
        msg = f"device {name!r} is not available on this machine"
        if required:
            raise DeviceError(msg + " (drop --require-device to fall back to the CPU)")
        return DeviceChoice(torch.device("cpu"), msg + "; using the CPU instead")
    return DeviceChoice(torch.device(name), None)


def describe(device: "torch.device") -> str:  # noqa: F821
    """A short human name: the GPU's model for CUDA, else the device type."""
    import torch

    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    if device.type == "mps":
        return "Apple GPU (MPS)"
    return f"CPU ({torch.get_num_threads()} threads)"
