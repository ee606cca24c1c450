"""Prompt files for `promptopt render`: a .txt (one prompt a line), a .csv with a `prompt` column, or a .json list
of prompts or of objects with `prompt` and optional sampling settings (as an export's opg_prompts.json), and how
command-line flags, a file's settings and the defaults combine."""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from promptopt.core.errors import InputError

DEFAULT_STEPS = 20
DEFAULT_GUIDANCE = 7.5


@dataclass(frozen=True)
class PromptSpec:
    """One prompt and the sampling settings its images use (None: not given, take the run's default)."""

    prompt: str
    negative_prompt: str | None = None
    guidance_scale: float | None = None
    steps: int | None = None


def read_prompts(path: Path) -> tuple[PromptSpec, ...]:
    """Prompts from a .txt (one a line), a .csv with a `prompt` column, a .json list of prompts or of objects with
    `prompt` (and optionally `negative_prompt`, `guidance_scale`, `steps`, as opg_prompts.json), or a .jsonl of
    those, one a line."""
    if path.is_dir():
        raise InputError(f"prompts file {path} is a folder: give a .txt, .csv, .json or .jsonl file of prompts")
    if not path.is_file():
        raise InputError(f"prompts file {path} does not exist: give a .txt, .csv, .json or .jsonl file of prompts")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(f"prompts file {path} cannot be read ({type(err).__name__}): save it as UTF-8 text") from None
    suffix = path.suffix.lower()
    if suffix == ".csv":
        specs = _csv_prompts(path, text)
    elif suffix == ".json":
        specs = _json_prompts(path, _json(path, text))
    elif suffix == ".jsonl":
        lines = [(n, line) for n, line in enumerate(text.splitlines(), start=1) if line.strip()]
        specs = _json_prompts(path, [_json(path, line, n) for n, line in lines])
    elif suffix in ("", ".txt"):
        specs = tuple(PromptSpec(line.strip()) for line in text.splitlines() if line.strip())
    else:
        raise InputError(f"prompts file {path}: {suffix} is no prompts format: give a .txt, .csv, .json or .jsonl file")
    if not specs:
        raise InputError(f"prompts file {path} holds no prompts: add at least one")
    return specs


def _csv_prompts(path: Path, text: str) -> tuple[PromptSpec, ...]:
    reader = csv.DictReader(io.StringIO(text))
    columns = {name.strip().lower(): name for name in reader.fieldnames or []}
    if "prompt" not in columns:
        raise InputError(f"prompts file {path} has no 'prompt' column (found {', '.join(columns) or 'none'}): add one")
    return tuple(PromptSpec(row[columns["prompt"]].strip()) for row in reader if (row[columns["prompt"]] or "").strip())


def _json(path: Path, text: str, line: int = 0) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise InputError(f"prompts file {path} is not valid JSON ({err.msg}, line {line or err.lineno})") from None


def _json_prompts(path: Path, data: Any) -> tuple[PromptSpec, ...]:
    if not isinstance(data, list):
        raise InputError(f"prompts file {path} must hold a JSON list of prompts or of objects with a 'prompt'")
    specs = []
    for n, item in enumerate(data, start=1):
        if isinstance(item, str):
            item = {"prompt": item}
        if not isinstance(item, dict) or not isinstance(item.get("prompt"), str):
            raise InputError(f"prompts file {path}: item {n} is neither a string nor an object with a 'prompt' string")
        if item["prompt"].strip():
            specs.append(_json_spec(path, n, item))
    return tuple(specs)


def _json_spec(path: Path, n: int, item: dict[str, Any]) -> PromptSpec:
    negative, guidance, steps = item.get("negative_prompt"), item.get("guidance_scale"), item.get("steps")
    try:
        return PromptSpec(
            item["prompt"].strip(),
            None if negative is None else str(negative),
            None if guidance is None else float(guidance),
            None if steps is None else int(steps),
        )
    except (TypeError, ValueError):
        raise InputError(
            f"prompts file {path}: item {n} has a guidance_scale or steps that is not a number; fix or remove it"
        ) from None


def _usable_guidance(value: float | None) -> bool:
    """A guidance scale a pipeline can use: finite and not negative (nan and inf give black images)."""
    return value is not None and math.isfinite(value) and value >= 0


def resolve_prompts(
    specs: tuple[PromptSpec, ...], *, negative_prompt: str | None, guidance_scale: float | None, steps: int | None
) -> tuple[PromptSpec, ...]:
    """Fill in every prompt's settings: a flag given on the command line, else the prompt file's value, else the
    default (no negative prompt, guidance DEFAULT_GUIDANCE, DEFAULT_STEPS steps)."""
    if steps is not None and steps < 1:
        raise InputError(f"--steps must be at least 1, got {steps}")
    if guidance_scale is not None and not _usable_guidance(guidance_scale):
        raise InputError(f"--guidance must be a finite number ≥ 0 (7.5 is usual), got {guidance_scale}")

    def pick(flag: Any, row: Any, default: Any) -> Any:
        return flag if flag is not None else row if row is not None else default

    resolved = tuple(
        PromptSpec(
            spec.prompt,
            pick(negative_prompt, spec.negative_prompt, "") or None,
            float(pick(guidance_scale, spec.guidance_scale, DEFAULT_GUIDANCE)),
            int(pick(steps, spec.steps, DEFAULT_STEPS)),
        )
        for spec in specs
    )
    if any(spec.steps < 1 for spec in resolved):  # type: ignore[operator]
        raise InputError("every prompt needs at least 1 step: fix the steps in the prompts file or pass --steps")
    bad = next((spec for spec in resolved if not _usable_guidance(spec.guidance_scale)), None)
    if bad is not None:
        raise InputError(
            f"guidance {bad.guidance_scale} of prompt {bad.prompt!r} is not a finite number ≥ 0: fix the prompts "
            "file or pass --guidance"
        )
    return resolved
