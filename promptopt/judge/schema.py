"""What the judge judges: its heads, named by the grammar, and the labels it learns from.

Output names (what `promptopt classify` prints and exports store):
- presence, by grammar name: `polyp`, `oesophagitis`, `ulcerative colitis`, `barretts`, each instrument, each
  landmark, `text`, `box_artefact`, and `instrument` / `landmark` for "any of" (`ANY_OF`: the judge derives
  each from its members);
- valued attributes as `key=value`: `procedure=colonoscopy`, `polyp_count=2`, `polyp_sizes=>20mm`,
  `polyp_types=ip`, `colors=red`, `abnormality_locations=upper-left`, …

Counts are exclusive heads over 0, 1, 2 and `3+` (a prompt's "4 polyps" asks for `polyp_count=3+`); the procedure
is exclusive; everything else is a yes/no output.

Labels come two ways (`judge_targets`):
- **complete** ground truth (GI-sim's `labels.jsonl`): every output is known;
- **from prompts** (a real dataset): only what the image's prompts say is known (`promptopt.datasets.labels` for
  presence; a valued attribute is known present when a prompt names it, known absent only when a count of 0
  rules it out, e.g. "with no polyps" rules out every polyp size, type and abnormality cell that no other
  finding could fill). The unknown rest is left out of the loss, so a judge fitted this way never learns what an
  image *without* an unnamed attribute looks like: its negatives are weak and its calibration is worse.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from promptopt.datasets.labels import ATTRIBUTES, LANDMARKS, attribute_states
from promptopt.grammar.vocabulary import COUNT_KEYS, GRID, INSTRUMENTS, LIST_VALUES, PROCEDURES
from promptopt.scorers.judge import AnyOf, Head, Schema, output_names

PRESENCE = (*ATTRIBUTES, "landmark")
COUNT_VALUES = ("0", "1", "2", "3+")
VALUED_LISTS = ("polyp_sizes", "polyp_types", "colors", "abnormality_locations", "instrument_locations",
                "landmark_locations")  # fmt: skip


def valued(key: str, value: object) -> str:
    """The output name of one attribute value: `key=value` (a count above 2 is `key=3+`)."""
    if key in COUNT_KEYS:
        count = int(value)  # type: ignore[call-overload]
        return f"{key}={count if count < 3 else '3+'}"
    return f"{key}={value}"


def _values(key: str) -> tuple[str, ...]:
    return GRID if key.endswith("_locations") else LIST_VALUES[key]


SCHEMA: Schema = (
    Head("presence", PRESENCE),
    Head("procedure", tuple(valued("procedure", p) for p in PROCEDURES), exclusive=True),
    *(Head(key, tuple(f"{key}={v}" for v in COUNT_VALUES), exclusive=True) for key in COUNT_KEYS),
    *(Head(key, tuple(valued(key, v) for v in _values(key))) for key in VALUED_LISTS),
)
ANY_OF: AnyOf = (("instrument", INSTRUMENTS), ("landmark", LANDMARKS))
OUTPUTS = output_names(SCHEMA)
COLUMN = {name: i for i, name in enumerate(OUTPUTS)}
_ZEROED_BY = {"polyp_count": ("polyp_sizes", "polyp_types"), "instrument_count": ("instrument_locations",),
              "finding_count": ("abnormality_locations", "colors", "polyp_sizes", "polyp_types")}  # fmt: skip


def _complete_row(labels: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    y = np.zeros(len(OUTPUTS), np.float32)
    named = {*labels["findings"], *labels["landmarks"], *labels["instruments"]}
    for name in PRESENCE:
        if name in named or labels.get(name) is True:
            y[COLUMN[name]] = 1.0
    y[COLUMN["instrument"]] = float(labels["instrument_count"] > 0)
    y[COLUMN["landmark"]] = float(bool(labels["landmarks"]))
    y[COLUMN[valued("procedure", labels["procedure"])]] = 1.0
    for key in COUNT_KEYS:
        y[COLUMN[valued(key, labels[key])]] = 1.0
    for key in VALUED_LISTS:
        for value in labels[key]:
            y[COLUMN[valued(key, value)]] = 1.0
    return y, np.ones(len(OUTPUTS), bool)


def _prompt_row(labels: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    y = np.zeros(len(OUTPUTS), np.float32)
    known = np.zeros(len(OUTPUTS), bool)

    def mark(name: str, value: bool) -> None:
        y[COLUMN[name]], known[COLUMN[name]] = float(value), True

    for name, state in attribute_states(labels).items():
        if state is not None:
            mark(name, state)
    if any(landmark in labels.get("landmarks", ()) for landmark in LANDMARKS):
        mark("landmark", True)
    if "procedure" in labels:
        for p in PROCEDURES:
            mark(valued("procedure", p), labels["procedure"] == p)
    for key in COUNT_KEYS:
        if key in labels:
            for v in COUNT_VALUES:
                mark(f"{key}={v}", valued(key, labels[key]) == f"{key}={v}")
            if labels[key] == 0:
                for zeroed in _ZEROED_BY[key]:
                    for v in _values(zeroed):
                        mark(valued(zeroed, v), False)
    for key in VALUED_LISTS:
        for value in labels.get(key, ()):
            if valued(key, value) in COLUMN:  # a colour outside the schema's (grammar.colors) teaches nothing
                mark(valued(key, value), True)
    return y, known


def judge_targets(labels: Iterable[Mapping[str, Any]], *, complete: bool) -> tuple[np.ndarray, np.ndarray]:
    """(y, known), each (n, len(OUTPUTS)), from each image's attribute labels (module docstring)."""
    rows = [(_complete_row if complete else _prompt_row)(item) for item in labels]
    if not rows:
        return np.zeros((0, len(OUTPUTS)), np.float32), np.zeros((0, len(OUTPUTS)), bool)
    return np.stack([r[0] for r in rows]), np.stack([r[1] for r in rows])
