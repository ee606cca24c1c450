"""The search's hold-out check: best prompt vs plain seed prompt on fresh seeds, scored by the judge."""

import dataclasses
import json

import pytest
from typer.testing import CliRunner

from promptopt.cli import app
from promptopt.judge.schema import OUTPUTS
from promptopt.search.holdout import mcnemar_exact, wilcoxon_p
from promptopt.search.mutator import build_mutator
from promptopt.search.seeds import export_seeds, holdout_seeds
from promptopt.study.config import from_dict

runner = CliRunner()


def _with_judge(make_study_dict, reference, **export):
    data = make_study_dict(str(reference))
    data["scorers"]["judge"] = {"model": "gi-sim"}
    data["export"] = {**data["export"], **export}
    return data


def _search(make_study_dict, reference, tmp_path, holdout_images):
    """`promptopt search -n 2 --json` on a small study with a judge: (its summary, the runs folder)."""
    from promptopt.core.tomlio import dumps

    study = tmp_path / "study.toml"
    study.write_text(dumps(_with_judge(make_study_dict, reference, holdout_images=holdout_images)))
    out = tmp_path / "runs"
    result = runner.invoke(app, ["search", "--study", str(study), "--out", str(out), "-n", "2", "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout), out


def test_holdout_seeds_are_fresh(make_study_dict, reference):
    for seed in (0, 1, 7):
        cfg = from_dict(_with_judge(make_study_dict, reference, holdout_images=16))
        cfg = dataclasses.replace(cfg, study=dataclasses.replace(cfg.study, seed=seed))
        held = set(holdout_seeds(cfg))
        assert len(held) == 16 and not held & set(cfg.study.eval_seeds) and not held & set(export_seeds(cfg))


def test_mcnemar_exact_is_the_two_sided_binomial_test_on_discordant_pairs():
    assert mcnemar_exact(8, 1) == pytest.approx(2 * (9 + 1) / 2**9)  # P(X >= 8) doubled, X ~ Bin(9, 1/2)
    assert mcnemar_exact(1, 8) == mcnemar_exact(8, 1)
    assert mcnemar_exact(3, 3) == 1.0 and mcnemar_exact(0, 0) == 1.0
    assert mcnemar_exact(10, 0) == pytest.approx(2 / 2**10)


def test_wilcoxon_on_paired_consistencies():
    import numpy as np
    from scipy.stats import wilcoxon

    a, b = np.array([0.9, 0.8, 0.7, 0.95, 0.85, 0.6]), np.array([0.5, 0.6, 0.65, 0.7, 0.2, 0.61])
    assert wilcoxon_p(a, b) == pytest.approx(wilcoxon(a, b, zero_method="zsplit").pvalue)
    assert wilcoxon_p(a, a) == 1.0


def test_search_reports_both_consistencies_and_writes_them(make_study_dict, reference, tmp_path):
    summary, out = _search(make_study_dict, reference, tmp_path, holdout_images=4)
    holdout = summary["holdout"]
    keys = {"images", "seeds", "best_is_seed_prompt", "unchecked", "best", "seed_prompt", "paired"}
    assert holdout["images"] == 4 and set(holdout) == keys
    seeds = holdout_seeds(from_dict(_with_judge(make_study_dict, reference, holdout_images=4)))
    assert holdout["seeds"] == {"seed_start": seeds[0], "count": 4}
    assert seeds == tuple(range(seeds[0], seeds[0] + 4))
    paired = holdout["paired"]
    difference = holdout["best"]["hit_rate"] - holdout["seed_prompt"]["hit_rate"]
    assert difference == pytest.approx((paired["best_only"] - paired["seed_prompt_only"]) / 4)
    assert paired["mcnemar_p"] == mcnemar_exact(paired["best_only"], paired["seed_prompt_only"])
    assert paired["consistency_gain"] == pytest.approx(
        holdout["best"]["target_consistency"] - holdout["seed_prompt"]["target_consistency"]
    )
    for side in ("best", "seed_prompt"):
        assert 0.0 <= holdout[side]["hit_rate"] <= 1.0 and holdout[side]["prompt"]
        assert 0.0 <= holdout[side]["target_consistency"] <= 1.0
    cfg = from_dict(_with_judge(make_study_dict, reference))
    plain = build_mutator(cfg).baseline()
    assert {k: holdout["seed_prompt"][k] for k in ("prompt", "negative_prompt", "guidance_scale", "steps")} == {
        "prompt": plain.prompt,
        "negative_prompt": "",
        "guidance_scale": 4.0,
        "steps": 2,
    }
    first = summary["export"]["top_prompts"][0]
    assert holdout["best"]["prompt"] == first
    records = [json.loads(line) for line in (out / "t" / "export" / "dataset" / "metadata.jsonl").open()]
    judged = records[0]["judge"]  # each exported image carries the judge's view of it
    assert set(judged) == {"consistency", "target_consistency", "probabilities"}
    assert 0.0 <= judged["consistency"] <= 1.0 and judged["probabilities"]["polyp"] == pytest.approx(
        judged["target_consistency"], abs=1e-5
    )  # the polyp study's target is the polyp output alone
    assert json.loads((out / "t" / "export" / "holdout.json").read_text()) == holdout
    printed = runner.invoke(app, ["search", "--study", str(tmp_path / "study.toml"), "--out", str(out), "-n", "2"])
    assert printed.exit_code == 0 and "hold-out check (4 fresh seeds" in printed.output
    again = json.loads((out / "t" / "export" / "holdout.json").read_text())
    assert ("nothing to compare" if again["best_is_seed_prompt"] else "Wilcoxon p = ") in printed.output


def test_export_reruns_the_check_with_its_own_seed_count(make_study_dict, reference, tmp_path):
    """`promptopt export --holdout-images N` repeats the check on N fresh seeds without searching again."""
    summary, out = _search(make_study_dict, reference, tmp_path, holdout_images=0)
    assert "holdout" not in summary
    assert not (out / "t" / "export" / "holdout.json").exists()
    exported = runner.invoke(app, ["export", str(out / "t"), "--holdout-images", "6"])
    assert exported.exit_code == 0, exported.output
    holdout = json.loads((out / "t" / "export" / "holdout.json").read_text())
    assert holdout["images"] == 6 and "hold-out check (6 fresh seeds" in exported.output
    assert holdout["best"]["prompt"] == summary["export"]["top_prompts"][0]


def test_a_best_prompt_that_is_the_seed_prompt_is_said_plainly(make_study_dict, reference, build):
    from promptopt.search.holdout import holdout_check

    cfg = from_dict(_with_judge(make_study_dict, reference, holdout_images=4))
    from promptopt.study.factory import build_scorers

    generator, _, mutator, realism = build(cfg)
    judge = next(s for s in build_scorers(cfg, realism) if s.name == "judge")
    rendered = []

    class Counted:  # the real generator, counting its calls
        def render(self, prompts, seeds, **kwargs):
            rendered.append(len(prompts))
            return generator.render(prompts, seeds, **kwargs)

    plain = mutator.baseline()
    result = holdout_check(cfg, plain, plain, Counted(), judge)
    assert result["best_is_seed_prompt"] and result["best"]["hit_rate"] == result["seed_prompt"]["hit_rate"]
    assert result["paired"] == {
        "consistency_gain": 0.0,
        "gain_ci": [0.0, 0.0],
        "no_difference": True,
        "wilcoxon_p": 1.0,
        "best_only": 0,
        "seed_prompt_only": 0,
        "mcnemar_p": 1.0,
    }
    assert rendered == [4]  # rendered once, not checked against itself


def test_a_target_the_judge_cannot_certify_is_noted_once_and_never_a_verdict(make_study_dict, reference, tmp_path):
    """A judge whose polyp output missed the certification bar: the polyp search says so in one note line, and
    its hold-out check records and prints the clause as one this judge cannot check."""
    from promptopt.core.tomlio import dumps
    from promptopt.scorers.assets import shipped_model

    judge = tmp_path / "judge.safetensors"
    judge.write_bytes(shipped_model("judge").read_bytes())
    meta = json.loads(shipped_model("judge").with_suffix(".json").read_text())
    thresholds = meta.get("thresholds") or dict.fromkeys(OUTPUTS, 0.5)
    judge.with_suffix(".json").write_text(json.dumps({**meta, "thresholds": thresholds, "uncertifiable": ["polyp"]}))
    data = _with_judge(make_study_dict, reference, holdout_images=4)
    data["scorers"]["judge"] = {"model": str(judge)}
    (tmp_path / "study.toml").write_text(dumps(data))
    args = ["search", "--study", str(tmp_path / "study.toml"), "--out", str(tmp_path / "runs"), "-n", "2"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    notes = [line for line in result.output.splitlines() if line.startswith("note: ")]
    assert len(notes) == 1 and "polyp cannot be checked by this judge" in notes[0]
    holdout = json.loads((tmp_path / "runs" / "t" / "export" / "holdout.json").read_text())
    assert holdout["unchecked"] == ["polyp"]
    assert "(cannot be checked by this judge: polyp; no verdict)" in result.output


def test_a_gain_within_the_margin_is_no_difference_whatever_its_p():
    """Two equal means with a tiny p (every seed 1e-4 apart) read as no difference, not as a finding."""
    import numpy as np

    from promptopt.search.holdout import EQUIVALENCE_MARGIN, gain_interval

    tiny = np.full(64, -1e-4) + np.random.default_rng(0).normal(0, 1e-5, 64)
    low, high = gain_interval(tiny)
    assert -EQUIVALENCE_MARGIN <= low < high <= EQUIVALENCE_MARGIN and wilcoxon_p(tiny, np.zeros(64)) < 1e-6
    from scipy.stats import t

    gains = np.array([0.1, 0.3, 0.2, 0.4])
    half = t.ppf(0.975, 3) * gains.std(ddof=1) / 2
    assert gain_interval(gains) == pytest.approx((0.25 - half, 0.25 + half))
