"""`promptopt opg`: a plan's studies, the submission by category (files that `promptopt render` reads as they
are), resuming, and the plans it refuses."""

import json

import pytest
from typer.testing import CliRunner

from promptopt.cli import app
from promptopt.core.tomlio import dumps

runner = CliRunner()
TARGETS = ["polyp: type ip", "instrument: tube", "landmark: the z-line"]
RENDER = ["--model", "tiny-random", "--steps", "2", "--height", "32", "--width", "32", "--device", "cpu"]


def _error_line(result) -> str:
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    return lines[0]


@pytest.fixture
def plan(tmp_path, make_study_dict, reference):
    """Three targets, one a category, each on a tiny study (tiny-random, 2 images, 2 steps, no judge)."""
    for category in ("polyp", "instrument", "landmark"):
        data = make_study_dict(str(reference), category=category)
        data["export"]["holdout_images"] = 0
        (tmp_path / f"{category}.toml").write_text(dumps(data))
    studies = {c: f"{c}.toml" for c in ("polyp", "instrument", "landmark")}
    path = tmp_path / "plan.toml"
    path.write_text(dumps({"plan": {"targets": TARGETS, "n_trials": 2, "images_per_trial": 2, "studies": studies}}))
    return path


def test_opg_writes_the_submission_by_category_and_resumes(plan, tmp_path):
    out = tmp_path / "opg"
    result = runner.invoke(app, ["opg", "--plan", str(plan), "--out", str(out), "--training-images", "7", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert set(summary["submission"]) == {"polyp", "instrument", "landmark"}
    assert [row["study"] for row in summary["summary"]] == ["polyp-ip", "instrument-tube", "landmark-z-line"]
    for category in ("polyp", "instrument", "landmark"):
        folder = out / "submission" / category
        prompts = (folder / "prompts.txt").read_text().splitlines()
        rows = json.loads((folder / "prompts.json").read_text())
        assert prompts == [row["prompt"] for row in rows] and 1 <= len(rows) <= 2  # at most top_k
        assert all(row["target"]["category"] == category and row["guidance_scale"] > 0 for row in rows)
        model = json.loads((folder / "model.json").read_text())
        assert model["generator"]["model"] == "tiny-random" and model["generator"]["model_hash"]
        for name in ("prompts.txt", "prompts.json"):  # the submission renders as it is
            rendered = runner.invoke(
                app, ["render", "--prompts", str(folder / name), "--out", str(tmp_path / name / category), *RENDER]
            )
            assert rendered.exit_code == 0, rendered.output
    assert "polyp_types" in json.loads((out / "submission" / "polyp" / "prompts.json").read_text())[0]["target"]
    assert (out / "summary.csv").read_text().startswith("target,study,seed_prompt")

    again = runner.invoke(app, ["opg", "--plan", str(plan), "--out", str(out), "--training-images", "7"])
    assert again.exit_code == 0, again.output
    assert "search " not in again.stderr  # every study was finished: none searched again
    assert "training set: " in again.stdout and "(7 of 7 images;" in again.stdout

    _check_report(out)


def _check_report(out) -> None:
    """`promptopt report` on the opg run: an index linking each study's section on its category's page, and
    pages with only embedded images (the browser test loads a single study's page)."""
    import re

    result = runner.invoke(app, ["report", str(out)])
    assert result.exit_code == 0, result.output
    index = out / "report" / "index.html"
    assert result.stdout.strip() == str(index)
    links = re.findall(r'href="([^"]+)"', index.read_text())
    for study, category in (("polyp-ip", "polyp"), ("instrument-tube", "instrument"), ("landmark-z-line", "landmark")):
        assert f"{category}.html#{study}" in links
        page = (out / "report" / f"{category}.html").read_text()
        assert f'<h2 id="{study}">' in page and "Exported prompts beside the plain seed prompt" in page
        sources = re.findall(r'src="([^"]+)"', page)
        assert len(sources) >= 3 and all(src.startswith("data:image/png;base64,") for src in sources)


def test_the_training_set_loads_with_datasets_and_torchvision(plan, tmp_path):
    import datasets
    from torchvision.datasets import ImageFolder

    out = tmp_path / "opg"
    result = runner.invoke(app, ["opg", "--plan", str(plan), "--out", str(out), "--training-images", "7", "--json"])
    assert result.exit_code == 0, result.output
    composed = json.loads(result.stdout)["training_set"]
    # 7 images shared as the development prompts ask: polyp ip 1 + 189 rows, tube 1 + 426, z-line 1 + 457
    assert composed["per_category"] == {"polyp": 1, "instrument": 3, "landmark": 3}
    loaded = datasets.load_dataset("imagefolder", data_dir=str(out / "training-set" / "imagefolder"), split="train")
    assert len(loaded) == 7 and loaded[0]["image"].size == (32, 32)
    assert sorted(loaded["category"]) == ["instrument"] * 3 + ["landmark"] * 3 + ["polyp"]
    for row in loaded:
        assert row["labels"]  # from the prompt: what the image should show
    classes = ImageFolder(str(out / "training-set" / "classes"))
    assert classes.classes == ["instrument", "landmark", "polyp"] and len(classes) == 7


def test_filter_leaves_out_images_the_judge_finds_inconsistent(tmp_path, make_study_dict, reference, tiny_judge_file):
    data = make_study_dict(str(reference), category="polyp")
    data["scorers"]["judge"] = {"model": str(tiny_judge_file)}
    data["export"]["holdout_images"] = 4
    (tmp_path / "polyp.toml").write_text(dumps(data))
    plan = tmp_path / "plan.toml"
    plan.write_text(
        dumps(
            {
                "plan": {
                    "targets": ["polyp: type ip"],
                    "n_trials": 2,
                    "images_per_trial": 2,
                    "studies": {"polyp": "polyp.toml"},
                }
            }
        )
    )
    out = tmp_path / "opg"
    args = ["opg", "--plan", str(plan), "--out", str(out), "--training-images", "6", "--json"]
    first = json.loads(runner.invoke(app, args).stdout)
    (row,) = first["summary"]  # the hold-out check, per target: plain seed prompt vs best, with the signed gain
    assert row["study"] == "polyp-ip" and {"seed_consistency", "best_consistency", "gain", "wilcoxon_p"} <= set(row)
    kept_all = first["training_set"]
    rows = [json.loads(x) for x in (out / "training-set" / "imagefolder" / "metadata.jsonl").read_text().splitlines()]
    scores = sorted(row["consistency"] for row in rows)
    assert kept_all["kept"] == 6 and all(0.0 <= c <= 1.0 for c in scores)
    threshold = (scores[2] + scores[3]) / 2  # half the images fall below
    filtered = runner.invoke(app, [*args, "--filter", str(threshold)])
    assert filtered.exit_code == 0, filtered.output
    composed = json.loads(filtered.stdout)["training_set"]
    assert (composed["kept"], composed["dropped"], composed["rendered"]) == (3, 3, 6)
    assert len(list((out / "training-set" / "classes" / "polyp").iterdir())) == 3


def test_opg_refuses_another_plans_folder(plan, tmp_path):
    out = tmp_path / "opg"
    (out).mkdir()
    (out / "plan.json").write_text(json.dumps({"targets": ["polyp-is"]}))
    result = runner.invoke(app, ["opg", "--plan", str(plan), "--out", str(out)])
    assert result.exit_code == 2 and "holds another plan's run" in _error_line(result)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ({"plan": {"targets": ["polyp: type xx"]}}, "cannot read 'type xx'"),
        ({"plan": {"targets": ["polyp: color cerulean"]}}, "colors=cerulean, which the judge cannot check"),
        ({"plan": {"targets": ["polyp:"], "budget": 3}}, "unknown key plan.budget"),
        ({"plan": {"targets": ["polyp: type ip", "polyp: type ip"]}}, "names target 'polyp-ip' twice"),
        ({"plan": {"targets": ["polyp:"], "n_trials": 0}}, "plan.n_trials in"),
        ({"plan": {"targets": ["polyp:"], "images_per_trial": 1}}, "must be at least 2, got 1"),
        ({"plan": {"targets": []}}, "non-empty list of target strings"),
        ({"plan": {"targets": ["polyp:"], "n_trials": "4"}}, "plan.n_trials in"),
        ({"study": {}}, "must hold one [plan] table"),
    ],
)
@pytest.mark.parametrize("flags", [[], ["-n", "2", "--images-per-trial", "4"]])
def test_bad_plans_are_one_line_and_exit_2(tmp_path, content, message, flags):
    """A flag that replaces a plan's value does not hide that the value is wrong."""
    path = tmp_path / "plan.toml"
    path.write_text(dumps(content))
    result = runner.invoke(app, ["opg", "--plan", str(path), "--out", str(tmp_path / "o"), *flags])
    assert result.exit_code == 2 and message in _error_line(result)
    assert not (tmp_path / "o").exists()  # nothing written


def test_a_plan_folder_and_a_damaged_plan_record_are_one_line(plan, tmp_path):
    result = runner.invoke(app, ["opg", "--plan", str(tmp_path), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "is a folder: give a TOML file" in _error_line(result)
    out = tmp_path / "opg"
    out.mkdir()
    (out / "plan.json").write_text("{not json")
    result = runner.invoke(app, ["opg", "--plan", str(plan), "--out", str(out)])
    assert result.exit_code == 2 and "plan.json is damaged" in _error_line(result)
    assert (out / "plan.json").read_text() == "{not json"


def test_a_zero_budget_is_refused(tmp_path):
    result = runner.invoke(app, ["opg", "--out", str(tmp_path / "o"), "--images-per-trial", "0"])
    assert result.exit_code == 2 and "images_per_trial must be at least 2" in _error_line(result)


def test_filter_needs_a_judge(plan, tmp_path):
    result = runner.invoke(app, ["opg", "--plan", str(plan), "--out", str(tmp_path / "o"), "--filter", "0.5"])
    assert result.exit_code == 2 and "--filter needs a training set" in _error_line(result)


def test_the_default_plan_covers_the_development_prompts_values():
    from promptopt.opg.plan import default_targets

    targets = default_targets()
    assert targets[0] == "polyp:" and "instrument:" in targets and "landmark:" in targets
    assert {
        "polyp: type ip",
        "polyp: type is",
        "polyp: size >20mm",
        "instrument: biopsy forceps",
        "landmark: the z-line",
    } <= set(targets)


def test_the_export_budget_flags_reach_every_study(plan, tmp_path):
    out = tmp_path / "opg"
    flags = ["--top-k", "1", "--images-per-prompt", "0", "--validation-images", "0", "--training-images", "0"]
    result = runner.invoke(app, ["opg", "--plan", str(plan), "--out", str(out), *flags])
    assert result.exit_code == 0, result.output
    for category in ("polyp", "instrument", "landmark"):
        assert len((out / "submission" / category / "prompts.txt").read_text().splitlines()) == 1
    for study in (out / "studies").iterdir():
        assert not (study / "export" / "dataset").exists() and not (study / "validation").exists()
