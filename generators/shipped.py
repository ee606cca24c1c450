"""gi-sim-tiny: the text-to-image model promptopt trained on GI-sim, shipped in the package (its model card
is `generators/gi-sim-tiny/README.md`). A StableDiffusionPipeline folder without a text encoder: it is
conditioned by the bundled all-MiniLM-L6-v2 (see `generators.bundled_text`)."""

from __future__ import annotations

from pathlib import Path

GI_SIM_TINY = "gi-sim-tiny"


def gi_sim_tiny_dir() -> Path:
    """The shipped pipeline folder; FileNotFoundError with the fix when the install lacks it."""
    folder = Path(__file__).resolve().parent / GI_SIM_TINY
    if not (folder / "model_index.json").is_file():
        raise FileNotFoundError(
            f"the shipped model {GI_SIM_TINY} is missing from {folder}: reinstall promptopt "
            "(pip install -e .) or name another model with --model"
        )
    return folder
