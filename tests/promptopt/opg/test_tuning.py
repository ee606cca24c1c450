"""Which targets `opg --tune` tunes: those whose hold-out hit rate stays below `tune_below`, by category."""

import json

from promptopt.core.paths import HOLDOUT_FILE, RunPaths
from promptopt.judge.targets import parse_target
from promptopt.opg.plan import PlannedStudy
from promptopt.opg.tuning import weak_targets


def _study(tmp_path, text, hit_rate, unchecked=()):
    target = parse_target(text)
    paths = RunPaths(tmp_path / target.slug)
    if hit_rate is not None:
        paths.export.mkdir(parents=True)
        side = {"prompt": text, "target_consistency": hit_rate}
        held = {  # holdout.json as `promptopt.search.holdout` writes it
            "best": {**side, "hit_rate": hit_rate},
            "seed_prompt": {**side, "hit_rate": hit_rate},
            "paired": {},
            "best_is_seed_prompt": True,
            "unchecked": list(unchecked),
        }
        (paths.export / HOLDOUT_FILE).write_text(json.dumps(held))
    return PlannedStudy(text, target, paths)


def test_weak_targets_by_category_an_uncertified_clause_included(tmp_path):
    """The judge cannot certify the needle's output, yet the needle is the rare instrument the loop is for."""
    needle = _study(tmp_path, "instrument: injection needle", 0.0, unchecked=["injection needle"])
    pylorus = _study(tmp_path, "landmark: the pylorus", 0.3)
    z_line = _study(tmp_path, "landmark: the z-line", 1.0)
    unchecked_yet = _study(tmp_path, "polyp: type ip", None)  # no hold-out check: nothing to go by
    weak = weak_targets([needle, pylorus, z_line, unchecked_yet], 0.5)
    assert weak == {"instrument": [needle], "landmark": [pylorus]}
