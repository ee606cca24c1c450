"""What a user can fix about a generator: both errors name the setting or the model and the fix. Both are
`InputError`s, so the command line prints either as one line; `loading_weights` turns a damaged model folder into
one."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from promptopt.core.errors import InputError


class GeneratorInputError(InputError):
    """A generator setting this model or machine cannot honour; the message names the setting and the fix."""


class ModelNotFoundError(InputError):
    """The named model (or adapter) is neither on disk nor reachable on the hub."""


@contextmanager
def loading_weights(folder: Path) -> Iterator[None]:
    """Loading the weights of the model in `folder`: a damaged or truncated weight file (safetensors' error, or
    diffusers' OSError naming the file) becomes one GeneratorInputError naming the folder."""
    from safetensors import SafetensorError

    try:
        yield
    except (OSError, SafetensorError) as err:
        reason = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise GeneratorInputError(
            f"model folder {folder} cannot be loaded ({reason}): a weight file is damaged or incomplete; copy the "
            "folder again"
        ) from None


def read_model_index(folder: Path) -> dict[str, Any]:
    """The folder's `model_index.json`, which names the pipeline class; a damaged one is a GeneratorInputError."""
    path = folder / "model_index.json"
    try:
        index = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise GeneratorInputError(
            f"model folder {folder}: {path.name} cannot be read ({err}): copy the folder again"
        ) from None
    if not isinstance(index, dict) or not isinstance(index.get("_class_name"), str):
        raise GeneratorInputError(f"model folder {folder}: {path.name} names no pipeline (_class_name): copy it again")
    return index
