"""The judge's schema and labels, and prompt–image consistency read off judge probabilities."""

import numpy as np
import pytest

from promptopt import grammar
from promptopt.core.errors import InputError
from promptopt.judge.consistency import (
    Clause,
    clause_hits,
    clause_probabilities,
    clauses,
    combine,
    consistency,
    prompt_clauses,
)
from promptopt.judge.schema import COLUMN, OUTPUTS, judge_targets, valued
from promptopt.judge.targets import Target, parse_target
from promptopt.sim.config import SimConfig
from promptopt.sim.scene import simulate


def test_output_names_follow_the_grammar():
    for name in (
        "polyp",
        "ulcerative colitis",
        "z-line",
        "polyp snare",
        "text",
        "box_artefact",
        "instrument",
        "landmark",
        "procedure=colonoscopy",
        "polyp_count=0",
        "polyp_count=3+",
        "polyp_sizes=>20mm",
        "polyp_types=ip",
        "colors=red",
        "abnormality_locations=upper-left",
        "landmark_locations=center",
    ):
        assert name in COLUMN
    assert valued("polyp_count", 6) == "polyp_count=3+"
    assert len(OUTPUTS) == len(set(OUTPUTS))


def test_complete_labels_know_everything():
    truths = [simulate(0, i, 32, SimConfig())[1].as_dict() for i in range(20)]
    y, known = judge_targets(truths, complete=True)
    assert known.all()
    for row, truth in zip(y, truths):
        assert row[COLUMN["polyp"]] == float("polyp" in truth["findings"])
        assert row[COLUMN[valued("polyp_count", truth["polyp_count"])]] == 1.0
        assert row[COLUMN["instrument"]] == float(truth["instrument_count"] > 0)
        assert row[COLUMN[f"procedure={truth['procedure']}"]] == 1.0
        for cell in truth["abnormality_locations"]:
            assert row[COLUMN[f"abnormality_locations={cell}"]] == 1.0


def test_prompt_labels_mask_what_the_prompts_do_not_say():
    attrs = grammar.aggregate(
        [grammar.parse("Generate an image with no polyps."), grammar.parse("Generate an image containing text.")]
    )
    y, known = judge_targets([attrs], complete=False)
    said = {OUTPUTS[j]: bool(y[0, j]) for j in np.flatnonzero(known[0])}
    assert said["polyp"] is False and said["polyp_count=0"] is True and said["text"] is True
    assert said["polyp_types=ip"] is False and said["polyp_sizes=>20mm"] is False  # ruled out by no polyps
    assert "z-line" not in said and "colors=red" not in said and "procedure=colonoscopy" not in said


def test_clauses_assert_and_negate():
    found = prompt_clauses("Generate an image containing a polyp, with a polyp of type paris ip, not containing text.")
    assert Clause("polyp") in found and Clause("polyp_types=ip") in found
    assert Clause("text", holds=False) in found
    assert prompt_clauses("Generate an image with no polyps.") == (Clause("polyp_count=0"),)


def test_consistency_of_true_and_negated_prompts():
    proba = np.zeros((1, len(OUTPUTS)))
    proba[0, COLUMN["polyp"]] = 0.9
    proba[0, COLUMN["polyp_count=1"]] = 0.8
    proba[0, COLUMN["polyp_count=0"]] = 0.1
    proba[0, COLUMN["text"]] = 0.2
    true = consistency(proba, ["Generate an image containing a polyp, not containing text."])
    false = consistency(proba, ["Generate an image with no polyps, containing text."])
    assert true[0] == pytest.approx((0.9 + 0.8) / 2)
    assert false[0] == pytest.approx((0.1 + 0.2) / 2)


def test_combination_rules():
    per_clause = np.array([[0.9, 0.5, 0.1]])
    assert combine(per_clause, "mean")[0] == pytest.approx(0.5)
    assert combine(per_clause, "min")[0] == pytest.approx(0.1)
    assert combine(per_clause, "product")[0] == pytest.approx(0.045)
    with pytest.raises(ValueError, match="unknown consistency rule"):
        combine(per_clause, "max")


def test_clause_probabilities_flip_negated_clauses():
    proba = np.zeros((2, len(OUTPUTS)))
    proba[:, COLUMN["text"]] = [0.3, 0.7]
    assert clause_probabilities(proba, [Clause("text", False)])[:, 0] == pytest.approx([0.7, 0.3])


def test_a_clause_holds_at_its_outputs_threshold():
    proba = np.zeros((3, len(OUTPUTS)))
    proba[:, COLUMN["metal clip"]] = [0.2, 0.35, 0.6]
    thresholds = np.full(len(OUTPUTS), 0.5)
    thresholds[COLUMN["metal clip"]] = 0.3
    assert clause_hits(proba, [Clause("metal clip")], thresholds)[:, 0].tolist() == [False, True, True]
    assert clause_hits(proba, [Clause("metal clip", False)], thresholds)[:, 0].tolist() == [True, False, False]


def test_unreadable_and_empty_prompts_are_named():
    with pytest.raises(InputError, match="cannot be read"):
        prompt_clauses("Generate an image of a banana.")
    with pytest.raises(InputError, match="asks for nothing"):
        prompt_clauses("Generate an image.")


def test_target_clauses_and_validation():
    target = Target("polyp", {"polyp_types": ["ip"], "polyp_sizes": [">20mm"], "abnormality_locations": ["upper-left"]})
    assert target.clauses() == (
        Clause("polyp"),
        Clause("polyp_types=ip"),
        Clause("polyp_sizes=>20mm"),
        Clause("abnormality_locations=upper-left"),
    )
    assert clauses({"findings": ["polyp"]}) == (Clause("polyp"),)
    with pytest.raises(InputError, match="unknown category"):
        Target("tumour")
    with pytest.raises(InputError, match="polyp_types"):
        Target("polyp", {"polyp_types": ["xx"]})


def test_a_colour_the_judge_does_not_know_makes_no_clause_and_no_target():
    prompt = "Generate an image with an abnormality with the colors pink and cerulean."
    assert prompt_clauses(prompt) == (Clause("colors=pink"),)
    with pytest.raises(InputError, match="asks for nothing the judge can check"):
        prompt_clauses("Generate an image with an abnormality with the color cerulean.")
    with pytest.raises(InputError, match="colors=cerulean, which the judge cannot check"):
        Target("polyp", {"colors": ["cerulean", "pink"]})
    _, known = judge_targets([grammar.parse(prompt)], complete=False)
    assert known[0, COLUMN["colors=pink"]] and known[0].sum() == 1  # the unknown colour teaches nothing


@pytest.mark.parametrize(
    ("text", "attributes", "slug"),
    [
        ("polyp: type ip, size >20mm", {"polyp_types": ["ip"], "polyp_sizes": [">20mm"]}, "polyp-ip-gt20mm"),
        (
            "Polyp: size < 5 mm; in the upper-left",
            {"polyp_sizes": ["<5mm"], "abnormality_locations": ["upper-left"]},
            "polyp-lt5mm-upper-left",
        ),
        ("instrument: biopsy forceps", {"instruments": ["biopsy forceps"]}, "instrument-biopsy-forceps"),
        ("landmark: the pylorus", {"landmarks": ["pylorus"]}, "landmark-pylorus"),
        ("polyp:", {}, "polyp"),
    ],
)
def test_a_target_reads_as_the_prompts_do(text, attributes, slug):
    target = parse_target(text)
    assert target.attributes == attributes and target.slug == slug
