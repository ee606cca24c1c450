"""`--target` against a study: a study's own target is replaced only with a note."""

import warnings

from promptopt.core.errors import Note
from promptopt.study.lookup import bundled_studies, targeted


def test_a_target_replacing_the_study_s_own_says_so():
    study = bundled_studies() / "polyp-is.toml"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cfg = targeted(None, study, "polyp: type ip")
    assert cfg.study.target == {"polyp_types": ["ip"]} and cfg.study.name == "polyp-ip"
    notes = [str(w.message) for w in caught if issubclass(w.category, Note)]
    assert len(notes) == 1 and "replaces the target {'polyp_types': ['is']} of" in notes[0]


def test_the_same_target_or_a_study_without_one_needs_no_note():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        targeted(None, bundled_studies() / "polyp-is.toml", "polyp: type is")
        targeted("polyp", None, "polyp: type ip")
    assert not [w for w in caught if issubclass(w.category, Note)]
