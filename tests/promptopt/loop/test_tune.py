"""The targeted fine-tune's data: which images show a target, their captions, the mix, and what it refuses."""

import pytest
from typer.testing import CliRunner

from promptopt import grammar
from promptopt.cli import app
from promptopt.core.errors import InputError
from promptopt.judge.targets import parse_target
from promptopt.loop.tune import TuneConfig, captions, labelled_items, shows, training_plan, tune

runner = CliRunner()


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    out = tmp_path_factory.mktemp("sim") / "set"
    assert runner.invoke(app, ["data", "sim", "--n", "60", "--size", "32", "--out", str(out)]).exit_code == 0
    return out


def test_targets_are_found_from_the_ground_truth_and_captioned_by_what_states_them(sim):
    items = labelled_items(sim)
    assert len(items) == 60 and all("instruments" in item.labels for item in items)  # labels.jsonl, complete
    tube = parse_target("instrument: tube")
    mine = [item for item in items if shows(item, tube)]
    assert mine and all("tube" in item.labels["instruments"] for item in mine)
    for item in mine:
        said = captions(item, tube)
        assert said[-1] == grammar.phrase({"instruments": ["tube"]})
        assert all("tube" in grammar.parse(text)["instruments"] for text in said)
    polyp = parse_target("polyp:")  # a bare category: an image with a polyp
    assert all("polyp" in item.labels["findings"] for item in items if shows(item, polyp))
    landmark = parse_target("landmark:")
    assert [shows(item, landmark) for item in items] == [bool(item.labels["landmarks"]) for item in items]
    assert captions(mine[0], landmark) == mine[0].prompts


def test_the_plan_oversamples_the_target_and_keeps_others(sim):
    tube = parse_target("instrument: tube")
    n = len(training_plan(labelled_items(sim), [tube], TuneConfig(data=str(sim)), str(sim)).target_images[tube.slug])
    cfg = TuneConfig(per_target=3 * n - 1, others=10, data=str(sim))  # rounded up to 3 copies of each image
    plan = training_plan(labelled_items(sim), [tube], cfg, str(sim))
    assert len(plan.examples) == 3 * n + 10 and plan.others == 10
    again = training_plan(labelled_items(sim), [tube], cfg, str(sim))
    assert again == plan  # seeded


def test_a_training_set_without_the_target_is_refused(sim):
    needle = parse_target("instrument: injection needle")
    items = [item for item in labelled_items(sim) if not shows(item, needle)]
    with pytest.raises(
        InputError, match=r"has no image of instrument-injection-needle \(\d+ images, none showing it\)"
    ):
        training_plan(items, [needle], TuneConfig(), str(sim))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"modules": "everything"}, "modules 'everything'"),
        ({"steps": 0}, "steps must be at least 1"),
        ({"others": -1}, "others must be at least 0"),
    ],  # fmt: skip
)
def test_bad_settings_are_named(change, message):
    with pytest.raises(InputError, match=message):
        TuneConfig(**change)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--target", "instrument: banana"], "cannot read 'banana'"),
        (["--target", "polyp: type ip", "--data", "no/such/folder"], "no/such/folder"),
        (["--target", "polyp: type ip", "--modules", "all"], "modules 'all'"),
    ],
)
def test_tune_bad_input_is_one_line(args, message, tmp_path):
    result = runner.invoke(app, ["tune", *args, "--out", str(tmp_path / "t")])
    assert result.exit_code == 2 and message in result.output, result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "t").exists()


def test_a_folder_holding_another_tune_is_not_resumed_into(sim, tmp_path):
    out = tmp_path / "adapter"
    (out / "checkpoints" / "checkpoint-5").mkdir(parents=True)
    (out / "tune.json").write_text('{"targets": [{"text": "instrument-tube"}]}')
    cfg = TuneConfig(data=str(sim), others=5)
    with pytest.raises(InputError, match=r"holds a tune of other targets, settings or data: give another output"):
        tune([parse_target("polyp: type ip")], cfg, out)
    assert (out / "checkpoints" / "checkpoint-5").is_dir()  # nothing of it lost
