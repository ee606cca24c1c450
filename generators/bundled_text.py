"""Pipelines conditioned by the bundled all-MiniLM-L6-v2 keep no copy of it.

A pipeline trained around the frozen MiniLM text encoder (`text_encoder = "minilm"`) is saved without its
`text_encoder/` and `tokenizer/` folders (90 MB that the installed package already holds) and with a
`promptopt.json` marker `{"text_encoder": "minilm"}`. Loading passes the bundled encoder and tokenizer as
components: `DiffusionPipeline.from_pretrained(folder, **bundled_components(folder))` in plain diffusers.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

MARKER = "promptopt.json"
MINILM = "minilm"
MAX_TOKENS = 77  # the pipelines pad prompts to the tokenizer's max length, as CLIP pipelines do


def minilm_text_encoder() -> tuple[Any, Any]:
    """The bundled all-MiniLM-L6-v2 BertModel (eval mode) and its tokenizer, padding to 77 tokens."""
    from transformers import AutoTokenizer, BertModel

    from promptopt.scorers.assets import minilm_dir

    tokenizer = AutoTokenizer.from_pretrained(minilm_dir(), model_max_length=MAX_TOKENS)
    return BertModel.from_pretrained(minilm_dir()).eval(), tokenizer


def write_marker(folder: Path) -> None:
    """Mark `folder` (a pipeline saved without text_encoder/ and tokenizer/) as conditioned by bundled MiniLM."""
    (folder / MARKER).write_text(json.dumps({"text_encoder": MINILM}, indent=2) + "\n")


def bundled_components(folder: Path, dtype: Any = None) -> dict[str, Any]:
    """`text_encoder` (in `dtype`, if given) and `tokenizer` for a folder marked as MiniLM-conditioned;
    {} for any other folder."""
    marker = Path(folder) / MARKER
    if not marker.is_file():
        return {}
    spec = json.loads(marker.read_text()).get("text_encoder")
    if spec != MINILM:
        raise ValueError(f"{marker} names text encoder {spec!r}; this version of promptopt knows only {MINILM!r}")
    text_encoder, tokenizer = minilm_text_encoder()
    return {"text_encoder": text_encoder.to(dtype) if dtype is not None else text_encoder, "tokenizer": tokenizer}
