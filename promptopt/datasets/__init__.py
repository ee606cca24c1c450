"""Datasets of GI endoscopy images with prompts and the prompt lists promptopt renders.

- `layouts`: the three folder layouts a dataset may have (challenge `prompt-gt.csv`, imagefolder
  `metadata.jsonl`, a CSV) read into items (paths only, no pixels), and what `promptopt data stats` says of one;
- `labels`: binary image attributes read from an image's prompts (what they do not say is unknown);
- `prompt_files`: the prompt files of `promptopt render` (.txt, .csv, .json) and how flags and files combine.
"""

from promptopt.core.lazy import lazy_exports

__all__, __getattr__ = lazy_exports(
    __name__,
    {
        "labels": (
            "ATTRIBUTES",
            "targets",
        ),
        "layouts": (
            "METADATA_FILE",
            "Dataset",
            "Item",
            "load_dataset",
        ),
        "prompt_files": (
            "PromptSpec",
            "read_prompts",
            "resolve_prompts",
        ),
    },
)
