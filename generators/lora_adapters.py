"""Load LoRA adapters into a pipeline, blend them with weights, optionally fuse them, and refuse misfits.

diffusers does not raise for every LoRA that does not fit the base model: weights of another shape raise,
but keys that match no module are only logged (and a LoRA for another architecture loads nothing at all).
Both are caught here, so a wrong adapter is an error naming the file and the base model, never a silent
no-op that renders the base model's images under the adapter's name.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from promptopt.generators.base import LoraAdapter
from promptopt.generators.errors import GeneratorInputError, ModelNotFoundError

LORA_WEIGHT_NAME = "pytorch_lora_weights.safetensors"  # what diffusers' save_lora_weights writes
UNEXPECTED = "unexpected keys found in the model:"  # how diffusers logs adapter weights that found no module


def lora_file(path: str) -> Path:
    """The adapter's weight file: the path itself, or the one .safetensors file in a folder."""
    local = Path(path).expanduser()
    if local.is_dir():
        if (local / LORA_WEIGHT_NAME).is_file():
            return local / LORA_WEIGHT_NAME
        candidates = sorted(local.glob("*.safetensors"))
        if len(candidates) != 1:
            raise ModelNotFoundError(
                f"LoRA folder {local} holds {len(candidates)} .safetensors files: pass the adapter file itself"
            )
        return candidates[0]
    if not local.is_file():
        raise ModelNotFoundError(
            f"LoRA file {local} does not exist: check the path given to --lora / [generator] loras"
        )
    return local


def file_sha256(path: Path) -> str:
    """The first 16 hex digits of the file's sha256 (adapters are small enough to hash whole)."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:16]


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@contextmanager
def _diffusers_log() -> Iterator[list[str]]:
    """Collect (and keep off the terminal) what diffusers logs at WARNING and above."""
    library = logging.getLogger("diffusers")
    handler = _Collect()
    saved = library.handlers[:], library.level, library.propagate
    library.handlers, library.propagate = [handler], False
    library.setLevel(logging.WARNING)
    try:
        yield handler.messages
    finally:
        library.handlers, library.propagate = saved[0], saved[2]
        library.setLevel(saved[1])


def _unexpected_keys(messages: list[str]) -> list[str]:
    """The adapter weights diffusers reported as matching no module ("missing keys" are not misfits: they are
    modules the adapter config targets by name but the file has no weights for, left at a zero update)."""
    keys: list[str] = []
    for message in messages:
        if UNEXPECTED in message:
            listed = message.split(UNEXPECTED, 1)[1].split("Loading adapter weights", 1)[0]
            keys += [key.strip().rstrip(".") for key in listed.strip().rstrip(".").split(", ") if key.strip()]
    return keys


def _loaded_adapters(pipe: Any) -> set[str]:
    return {name for names in pipe.get_list_adapters().values() for name in names}


def _load_one(pipe: Any, path: Path, name: str, base: str) -> None:
    misfit = f"LoRA {path} does not fit base model {base}"
    fix = "use an adapter trained on this base model"
    from safetensors import SafetensorError

    with _diffusers_log() as messages:
        try:
            pipe.load_lora_weights(str(path), adapter_name=name)
        except (OSError, SafetensorError) as err:  # diffusers' "Unable to load weights from checkpoint file"
            raise GeneratorInputError(
                f"LoRA file {path} cannot be loaded ({type(err).__name__}): it is damaged or no safetensors file; "
                "copy or train it again"
            ) from None
        except (RuntimeError, ValueError, KeyError) as err:
            reason = "its weights have other shapes" if "size mismatch" in str(err) else str(err).splitlines()[0]
            raise GeneratorInputError(f"{misfit} ({reason}): {fix}") from None
    if name not in _loaded_adapters(pipe):
        raise GeneratorInputError(f"{misfit} (none of its weights match a module of {type(pipe).__name__}): {fix}")
    unused = _unexpected_keys(messages)
    if unused:
        raise GeneratorInputError(f"{misfit} ({len(unused)} of its weights match no module, e.g. {unused[0]}): {fix}")


def load_loras(
    pipe: Any, adapters: Sequence[LoraAdapter], names: Sequence[str], *, fuse: bool, base: str
) -> list[dict[str, Any]]:
    """Load, weight and (optionally) fuse the adapters; returns their identity records for provenance."""
    records = []
    for adapter, name in zip(adapters, names):
        path = lora_file(adapter.path)
        _load_one(pipe, path, name, base)
        records.append({"name": name, "file": path.name, "sha256": file_sha256(path), "weight": adapter.weight})
    if adapters:
        pipe.set_adapters(list(names), adapter_weights=[a.weight for a in adapters])
    if fuse and adapters:
        pipe.fuse_lora(adapter_names=list(names), lora_scale=1.0)
        pipe.unload_lora_weights()  # keeps the fused weights, drops the adapter layers
    return records
