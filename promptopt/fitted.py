"""Loading a fitted scorer model (judge, aligner) named by a spec: `gi-sim` (the one shipped with promptopt) or a
.safetensors path, with one-line errors that say how to make one."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from promptopt.config import GI_SIM_REFERENCE
from promptopt.errors import InputError


def load_fitted(load: Callable[[Path], Any], model: str, kind: str, what: str) -> Any:
    """`load` applied to the model file `model` names; InputError (naming `what`, the flag or key) when it is
    missing or cannot be loaded."""
    if model == GI_SIM_REFERENCE:
        from promptopt.scorers.assets import shipped_model

        try:
            model = str(shipped_model(kind))
        except FileNotFoundError as err:
            raise InputError(str(err)) from None
    path = Path(model).expanduser()
    if not path.is_file():
        raise InputError(f"{what} {path} does not exist: fit one with `promptopt fit {kind} --data DIR --out {path}`")
    try:
        return load(path)
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise InputError(f"{what} {path} cannot be loaded ({err}): refit it") from None
