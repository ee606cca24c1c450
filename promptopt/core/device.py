"""The one device resolver: what a `--device` value (or `device` in a config) means on this machine.

`auto` is CUDA when available, else the CPU. A value that names no device, or a device this machine lacks, is a
DeviceError whose message names the fix, so a missing GPU is one clear line, not a CUDA traceback later on.
"""

from __future__ import annotations

import re

from promptopt.core.errors import InputError

DEVICES = "auto, cpu, cuda, cuda:N or mps"


class DeviceError(InputError):
    """A device value that is not a device, or a device this machine lacks."""


def resolve_device(device: str) -> str:
    """`device` as torch names it on this machine (`auto` resolved), or DeviceError."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if not re.fullmatch(r"cpu|mps|cuda(:\d+)?", device):
        raise DeviceError(f"device {device!r} is not a device: use {DEVICES}")
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise DeviceError(f"device {device}: CUDA is not available on this machine; use cpu (or auto)")
        index = int(device.partition(":")[2] or 0)
        if index >= torch.cuda.device_count():
            raise DeviceError(
                f"device {device}: this machine has {torch.cuda.device_count()} CUDA device(s); use cuda:0 or auto"
            )
    if device == "mps" and not torch.backends.mps.is_available():
        raise DeviceError("device mps: MPS is not available on this machine; use cpu (or auto)")
    return device
