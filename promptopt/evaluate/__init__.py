"""Measuring generated images and the offline scorers.

- `sets`: set-level metrics of a generated folder against a reference (`promptopt evaluate`); `generated`: that
  folder's images and their prompts;
- `probes`: the attribute probe and the aligner fitted on a dataset's image features (`promptopt fit`);
- `tstr`: train on synthetic, test on real, beside train on real (`promptopt evaluate tstr`).
"""

from promptopt.core.lazy import lazy_exports

__all__, __getattr__ = lazy_exports(
    __name__,
    {
        "probes": (
            "dataset_features",
            "fit_aligner_on",
            "fit_classifier_on",
        ),
        "sets": (
            "EvaluateConfig",
            "evaluate",
        ),
        "tstr": ("tstr",),
    },
)
