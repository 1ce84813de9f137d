"""Picking the compute device: `auto` prefers CUDA, then Apple's MPS, then the CPU."""

from __future__ import annotations

from dataclasses import dataclass

from digittui.errors import DeviceError

CHOICES = ("auto", "cuda", "mps", "cpu")


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
    base = name.split(":")[0]
    if base not in CHOICES:
        raise DeviceError(f"unknown device {name!r}: choose one of {', '.join(CHOICES)} (or cuda:N)")
    cuda = torch.cuda.is_available()
    mps = getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    if base == "auto":
        if cuda:
            return DeviceChoice(torch.device("cuda"), None)
        if mps:
            return DeviceChoice(torch.device("mps"), None)
        return DeviceChoice(torch.device("cpu"), None)
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
