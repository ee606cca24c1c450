"""Datasets of GI endoscopy images with prompts and the prompt lists promptopt renders.

- `layouts`: the three folder layouts a dataset may have (challenge `prompt-gt.csv`, imagefolder
  `metadata.jsonl`, a CSV) read into items (paths only, no pixels), and what `promptopt data stats` says of one;
- `labels`: binary image attributes read from an image's prompts (what they do not say is unknown);
- `prompt_files`: the prompt files of `promptopt render` (.txt, .csv, .json) and how flags and files combine.
"""

from promptopt.datasets.labels import ATTRIBUTES, targets
from promptopt.datasets.layouts import METADATA_FILE, Dataset, Item, load_dataset
from promptopt.datasets.prompt_files import PromptSpec, read_prompts, resolve_prompts

__all__ = [
    "ATTRIBUTES",
    "Dataset",
    "Item",
    "METADATA_FILE",
    "PromptSpec",
    "load_dataset",
    "read_prompts",
    "resolve_prompts",
    "targets",
]
