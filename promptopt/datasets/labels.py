"""A fixed list of binary image attributes, read from the aggregated labels of an image's prompts.

A dataset image's labels (`promptopt.datasets.layouts.Item.labels`, the `grammar.aggregate` of its parsed prompts) only
say what its prompts say. An attribute the prompts never mention is **unknown**, not absent: the classifier's
loss and every metric ignore it (a mask). It is known only when a prompt states it or states something that
implies it:

- `polyp`: present when `findings` names a polyp, `polyp_count` >= 1, or a Paris type or polyp size is given;
  absent when `polyp_count` == 0 ("with no polyps") or the findings are accounted for (below).
- `oesophagitis`, `ulcerative colitis`, `barretts`: present when `findings` names them; absent when
  `finding_count` == 0 ("with no findings") or the findings are accounted for.
  *Accounted for*: `finding_count` counts abnormalities, each polyp plus each other finding (the grammar's and
  GI-sim's meaning). When it equals the abnormalities the prompts already name (`polyp_count`, or 1 for a named
  polyp of unknown count, plus the named other findings), no unnamed finding is left, so the unnamed ones are
  absent. "with 1 finding" + "containing oesophagitis" makes `polyp` and `ulcerative colitis` absent.
- `instrument` (any instrument): present when `instruments` names one, `instrument_count` >= 1, or an instrument
  location is given; absent when `instrument_count` == 0 ("with no instruments").
- each instrument (`biopsy forceps`, `injection needle`, `metal clip`, `polyp snare`, `tube`): present when named;
  absent when `instrument_count` == 0, or when `instrument_count` equals the number of named instruments.
- each landmark: present when `landmarks` names it. The grammar cannot say a landmark is missing, so absence
  comes only from anatomy: the z-line and the pylorus are seen in gastroscopy, the cecum and the ileum in
  colonoscopy, so "from a colonoscopy procedure" makes `z-line` and `pylorus` absent and "from a gastroscopy
  procedure" makes `cecum` and `ileum` absent. Every known negative of a landmark is therefore an image of the
  other procedure: a landmark probe partly learns the procedure, and its AUROC says no more than that.
- `text`, `box_artefact`: the prompts' own true/false ("containing text", "not containing a green/black box
  artefact").

**Closed world** (`targets(..., closed_world=True)`): every attribute the prompts do not make present is absent.
That is how a class-folder training set reads (an image rendered for one category shows nothing the prompt did
not ask for), and how a synthetic set rendered from prompts that only say what is there (OPG prompts) gets the
negatives a classifier needs. It is an assumption about the generator, not a fact about the images: use it for
synthetic sets only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from promptopt.core.errors import InputError
from promptopt.grammar.vocabulary import FINDINGS, INSTRUMENTS

OTHER_FINDINGS = tuple(f for f in FINDINGS if f != "polyp")  # barretts, oesophagitis, ulcerative colitis
LANDMARK_PROCEDURE = {"z-line": "gastroscopy", "pylorus": "gastroscopy", "cecum": "colonoscopy", "ileum": "colonoscopy"}
LANDMARKS = tuple(LANDMARK_PROCEDURE)
ATTRIBUTES: tuple[str, ...] = (
    "polyp",
    *OTHER_FINDINGS,
    "instrument",
    *INSTRUMENTS,
    *LANDMARKS,
    "text",
    "box_artefact",
)

# The attributes that show an OPG category: an image shows the category when any of them is present.
CATEGORY_ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "polyp": ("polyp",),
    "instrument": ("instrument",),
    "landmark": LANDMARKS,
}

State = bool | None  # True present, False absent, None unknown


def category_attributes(category: str) -> tuple[str, ...]:
    """The attributes whose presence makes an image show `category`."""
    if category not in CATEGORY_ATTRIBUTES:
        raise InputError(f"unknown category {category!r}: choose one of {', '.join(CATEGORY_ATTRIBUTES)}")
    return CATEGORY_ATTRIBUTES[category]


def attribute_states(labels: Mapping[str, Any]) -> dict[str, State]:
    """Each attribute of `ATTRIBUTES` as present, absent or unknown under the rules of the module docstring."""
    findings = set(labels.get("findings", ()))
    states: dict[str, State] = {}
    states["polyp"] = _polyp(labels, findings)
    no_finding_left = _findings_accounted(labels, findings, states["polyp"])
    for finding in OTHER_FINDINGS:
        states[finding] = True if finding in findings else (False if no_finding_left else None)
    if states["polyp"] is None and no_finding_left:
        states["polyp"] = False
    states.update(_instruments(labels))
    procedure = labels.get("procedure")
    for landmark, seen_in in LANDMARK_PROCEDURE.items():
        if landmark in labels.get("landmarks", ()):
            states[landmark] = True
        else:
            states[landmark] = False if procedure is not None and procedure != seen_in else None
    for flag in ("text", "box_artefact"):
        states[flag] = labels.get(flag)
    return {name: states[name] for name in ATTRIBUTES}


def _polyp(labels: Mapping[str, Any], findings: set[str]) -> State:
    count = labels.get("polyp_count")
    if "polyp" in findings or (count or 0) >= 1 or labels.get("polyp_types") or labels.get("polyp_sizes"):
        return True
    return False if count == 0 else None


def _findings_accounted(labels: Mapping[str, Any], findings: set[str], polyp: State) -> bool:
    """Whether `finding_count` leaves no room for an abnormality the prompts do not name."""
    total = labels.get("finding_count")
    if total is None:
        return False
    polyps = labels.get("polyp_count", 1 if polyp else 0)
    return total == polyps + len(findings - {"polyp"})


def _instruments(labels: Mapping[str, Any]) -> dict[str, State]:
    named = set(labels.get("instruments", ()))
    count = labels.get("instrument_count")
    states: dict[str, State] = {}
    if named or (count or 0) >= 1 or labels.get("instrument_locations"):
        states["instrument"] = True
    else:
        states["instrument"] = False if count == 0 else None
    all_named = count is not None and count == len(named)
    for instrument in INSTRUMENTS:
        states[instrument] = True if instrument in named else (False if all_named else None)
    return states


def targets(labels: Iterable[Mapping[str, Any]], *, closed_world: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(y, known) of shape (n, len(ATTRIBUTES)): y is 1.0 where present, 0.0 where absent or unknown;
    known is False where unknown (never with `closed_world`: module docstring)."""
    rows = [attribute_states(item) for item in labels]
    y = np.array([[1.0 if row[a] else 0.0 for a in ATTRIBUTES] for row in rows], dtype=np.float32)
    known = np.array([[closed_world or row[a] is not None for a in ATTRIBUTES] for row in rows], dtype=bool)
    return y.reshape(len(rows), len(ATTRIBUTES)), known.reshape(len(rows), len(ATTRIBUTES))
