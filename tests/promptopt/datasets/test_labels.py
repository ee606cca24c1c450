import json

import numpy as np
import pytest

from promptopt import grammar
from promptopt.core.errors import InputError
from promptopt.datasets.labels import ATTRIBUTES, CATEGORY_ATTRIBUTES, attribute_states, category_attributes, targets


def states_of(*prompts: str) -> dict:
    return attribute_states(grammar.aggregate(grammar.parse(p) for p in prompts))


def test_attribute_list_is_fixed_and_covers_the_grammar():
    assert ATTRIBUTES[:4] == ("polyp", "barretts", "oesophagitis", "ulcerative colitis")
    assert {"instrument", "tube", "polyp snare", "z-line", "cecum", "pylorus", "ileum", "text", "box_artefact"} <= set(
        ATTRIBUTES
    )
    assert len(set(ATTRIBUTES)) == len(ATTRIBUTES)
    assert CATEGORY_ATTRIBUTES == {
        "polyp": ("polyp",),
        "instrument": ("instrument",),
        "landmark": ("z-line", "pylorus", "cecum", "ileum"),
    }
    assert set(CATEGORY_ATTRIBUTES) == set(grammar.CATEGORY_NAMES)
    with pytest.raises(InputError, match="unknown category 'tumour'"):
        category_attributes("tumour")


def test_unmentioned_attributes_are_unknown_not_absent():
    states = states_of("Generate an image containing a polyp.")
    assert states["polyp"] is True
    assert all(states[a] is None for a in ATTRIBUTES if a != "polyp")


def test_negations_and_counts():
    states = states_of(
        "Generate an image with no polyps.",
        "Generate an image with no instruments.",
        "Generate an image not containing text.",
    )
    assert states["polyp"] is False and states["instrument"] is False and states["text"] is False
    assert all(states[i] is False for i in ("tube", "biopsy forceps", "polyp snare", "metal clip", "injection needle"))
    assert states["oesophagitis"] is None and states["box_artefact"] is None
    assert states_of("Generate an image with 2 polyps.")["polyp"] is True
    assert states_of("Generate a polyp of type paris ip.")["polyp"] is True
    assert states_of("Generate an image with 1 instrument.")["instrument"] is True
    assert states_of("Generate an image containing a green/black box artefact.")["box_artefact"] is True


def test_finding_count_accounts_for_unnamed_findings():
    states = states_of("Generate an image with 1 finding.", "Generate an image containing oesophagitis.")
    assert states["oesophagitis"] is True
    assert states["polyp"] is False and states["ulcerative colitis"] is False and states["barretts"] is False
    # two findings but only one named: the other could be anything
    states = states_of("Generate an image with 2 findings.", "Generate an image containing oesophagitis.")
    assert states["polyp"] is None and states["ulcerative colitis"] is None
    states = states_of("Generate an image with no findings.")
    assert all(states[f] is False for f in ("polyp", "barretts", "oesophagitis", "ulcerative colitis"))
    states = states_of("Generate an image with 1 finding.", "Generate an image containing a polyp.")
    assert states["polyp"] is True and states["ulcerative colitis"] is False


def test_instrument_count_accounts_for_unnamed_instruments():
    states = states_of("Generate an image with 1 instrument.", "Generate an image containing tube.")
    assert states["tube"] is True and states["instrument"] is True
    assert states["polyp snare"] is False and states["biopsy forceps"] is False
    states = states_of("Generate an image with 2 instruments.", "Generate an image containing tube.")
    assert states["polyp snare"] is None


def test_landmark_absence_comes_only_from_the_procedure():
    states = states_of("Generate an image from a colonoscopy procedure.")
    assert states["z-line"] is False and states["pylorus"] is False
    assert states["cecum"] is None and states["ileum"] is None
    states = states_of("Generate an image from a gastroscopy procedure.", "Generate an image containing the z-line.")
    assert states["z-line"] is True and states["pylorus"] is None
    assert states["cecum"] is False and states["ileum"] is False


def test_targets_matrix_and_mask():
    labels = [
        grammar.parse("Generate an image containing a polyp."),
        grammar.parse("Generate an image with no polyps."),
    ]
    y, known = targets(labels)
    assert y.shape == known.shape == (2, len(ATTRIBUTES)) and y.dtype == np.float32 and known.dtype == bool
    col = ATTRIBUTES.index("polyp")
    assert y[:, col].tolist() == [1.0, 0.0] and known[:, col].tolist() == [True, True]
    assert known.sum() == 2 and y.sum() == 1
    assert targets([])[0].shape == (0, len(ATTRIBUTES))


def test_prompts_agree_with_gi_sim_ground_truth(tmp_path):
    """On GI-sim the drawn labels are known: every attribute the prompts make known must match them."""
    from promptopt.datasets.layouts import load_dataset
    from promptopt.sim.writer import write_dataset

    write_dataset(tmp_path / "sim", 120, 32, 3)
    truth = {}
    for line in (tmp_path / "sim" / "labels.jsonl").read_text().splitlines():
        record = json.loads(line)
        truth[record["filename"]] = record["labels"]
    n_known = 0
    for item in load_dataset(tmp_path / "sim").items:
        drawn = truth[item.file_name]
        present = {
            **{f: f in drawn["findings"] for f in ("polyp", "barretts", "oesophagitis", "ulcerative colitis")},
            **{
                i: i in drawn["instruments"]
                for i in ("tube", "biopsy forceps", "polyp snare", "metal clip", "injection needle")
            },
            **{lm: lm in drawn["landmarks"] for lm in ("z-line", "pylorus", "cecum", "ileum")},
            "instrument": bool(drawn["instruments"]),
            "text": drawn["text"],
            "box_artefact": drawn["box_artefact"],
        }
        for name, state in attribute_states(item.labels).items():
            if state is not None:
                n_known += 1
                assert state == present[name], (item.file_name, name)
    assert n_known > 120 * 10  # the rules make most attributes known on GI-sim


def test_closed_world_makes_every_unnamed_attribute_absent():
    from promptopt.datasets.labels import ATTRIBUTES, targets

    labels = [grammar.parse("Generate an image containing tube.")]
    y, known = targets(labels)
    assert known.sum() < len(ATTRIBUTES)  # the tube and the instrument: what the prompt says
    y_closed, known_closed = targets(labels, closed_world=True)
    assert known_closed.all() and (y_closed == y).all()
    assert y_closed[0, ATTRIBUTES.index("tube")] == 1.0 and y_closed[0, ATTRIBUTES.index("polyp")] == 0.0
