"""Options several commands share, defined once so that their flags, defaults and help read the same everywhere."""

from __future__ import annotations

from typing import Any

import typer

from promptopt.core.errors import InputError


def backbone_option() -> Any:
    return typer.Option("inception", "--backbone", help="Image features: inception, open_clip:SPEC or dinov2:DIR.")


def feature_device_option() -> Any:
    return typer.Option("auto", "--device", help="auto, cpu, cuda, cuda:N or mps (feature extraction).")


def epochs_option() -> Any:
    return typer.Option(100, "--epochs", help="Passes over the training images.")


def hidden_option() -> Any:
    return typer.Option(0, "--hidden", help="0: logistic regression; N: one hidden layer of N units.")


def holdout_option(default: float, what: str) -> Any:
    """`--holdout`: a share strictly between 0 and 1, refused before anything loads."""
    return typer.Option(default, "--holdout", callback=_share, help=what)


def _share(value: float) -> float:
    if not 0.0 < value < 1.0:
        raise typer.BadParameter(f"{value} is not a share: give a number between 0 and 1 (exclusive)")
    return value


def json_option(what: str) -> Any:
    return typer.Option(False, "--json", help=f"Print {what} as JSON on stdout.")


# The export's budget, on `search`, `export` and `opg` (None: the study's [export] value).
def top_k_option() -> Any:
    return typer.Option(None, "--top-k", help="Prompts to export (default: the study's).")


def images_per_prompt_option() -> Any:
    return typer.Option(None, "--images-per-prompt", help="Dataset images per exported prompt; 0: prompt lists only.")


def validation_images_option() -> Any:
    return typer.Option(
        None, "--validation-images", help="Fresh seeds that re-score the top-k before ranking; 0 ranks by trial scores."
    )


def holdout_images_option() -> Any:
    return typer.Option(
        None, "--holdout-images", help="Fresh seeds comparing the first prompt with the plain seed prompt; 0 skips."
    )


def device_flag(device: str) -> str:
    """A `--device` value resolved on this machine (`promptopt.core.device`); one it lacks is an InputError."""
    from promptopt.core.device import DeviceError, resolve_device

    try:
        return resolve_device(device)
    except DeviceError as err:
        raise InputError(f"--{err}") from None
