"""Measuring generated images and the offline scorers.

- `sets`: set-level metrics of a generated folder against a reference (`promptopt evaluate`);
- `probes`: the attribute probe and the aligner fitted on a dataset's image features (`promptopt fit`);
- `tstr`: train on synthetic, test on real, beside train on real (`promptopt evaluate tstr`).
"""

from promptopt.evaluate.probes import dataset_features, fit_aligner_on, fit_classifier_on
from promptopt.evaluate.sets import EvaluateConfig, evaluate
from promptopt.evaluate.tstr import tstr

__all__ = ["EvaluateConfig", "dataset_features", "evaluate", "fit_aligner_on", "fit_classifier_on", "tstr"]
