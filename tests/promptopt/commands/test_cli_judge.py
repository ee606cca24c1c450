"""`promptopt fit judge`, `promptopt classify` and `promptopt evaluate --metrics consistency` end to end on a small
GI-sim set, and their bad input as one line with exit code 2."""

import json

import pytest
from PIL import Image
from typer.testing import CliRunner

from promptopt.cli import app
from promptopt.judge.schema import OUTPUTS

runner = CliRunner()
pytestmark = pytest.mark.usefixtures("one_torch_thread")
FIT = ["fit", "judge", "--data", "gi-sim", "--gi-sim-images", "60", "--size", "32", "--epochs", "1",
       "--batch-size", "16", "--holdout", "0.2"]  # fmt: skip


def _error_line(result) -> str:
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    return lines[0]


@pytest.fixture(scope="module")
def judge_file(tmp_path_factory):
    out = tmp_path_factory.mktemp("judge") / "judge.safetensors"
    result = runner.invoke(app, [*FIT, "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["n_train"] == 48 and summary["n_test"] == 6
    assert summary["autoencoder"]["model"] == "gi-sim-tiny"  # training images went through its VAE
    assert set(summary["outputs"]) == set(OUTPUTS) and 0.0 <= summary["ece"] <= 1.0
    meta = json.loads(out.with_suffix(".json").read_text())
    assert meta["any_of"]["landmark"] == ["z-line", "pylorus", "cecum", "ileum"]  # derived, not learned alone
    assert set(meta["thresholds"]) == set(OUTPUTS) and summary["thresholds"] == meta["thresholds"]
    assert set(summary["uncertifiable"]) == set(OUTPUTS)  # 6 test images: no output has 30 positives
    assert "rare-enriched" in summary["data"]["source"]
    return out


@pytest.fixture(scope="module")
def gi_sim_folder(tmp_path_factory):
    out = tmp_path_factory.mktemp("sim") / "set"
    result = runner.invoke(app, ["data", "sim", "--n", "6", "--size", "32", "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


def test_fit_prints_a_table_per_head_and_a_line_per_uncertifiable_output(tmp_path):
    result = runner.invoke(app, [*FIT, "--autoencoder", "none", "--out", str(tmp_path / "j.safetensors")])
    assert result.exit_code == 0, result.output
    assert "no autoencoder" in result.output and "presence" in result.output and "calibration" in result.output
    lines = [line for line in result.output.splitlines() if line.startswith("uncertifiable: ")]
    assert len(lines) == len(OUTPUTS)
    assert any(line.startswith("uncertifiable: injection needle: ") and "fewer than the 30" in line for line in lines)


def test_classify_writes_a_json_line_per_image(judge_file, gi_sim_folder):
    result = runner.invoke(app, ["classify", str(gi_sim_folder / "images"), "--judge", str(judge_file), "--json"])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(lines) == 6 and lines[0]["file"].endswith("gisim-000000.jpg")
    probabilities = lines[0]["probabilities"]
    assert list(probabilities) == list(OUTPUTS)
    assert abs(probabilities["procedure=colonoscopy"] + probabilities["procedure=gastroscopy"] - 1.0) < 1e-5
    thresholds = json.loads(judge_file.with_suffix(".json").read_text())["thresholds"]
    shows = set(lines[0]["shows"])
    assert all(name in shows for name, p in probabilities.items() if p > thresholds[name] + 1e-5)
    assert not any(name in shows for name, p in probabilities.items() if p < thresholds[name] - 1e-5)


def test_classify_lists_what_each_output_shows_at_its_threshold(judge_file, gi_sim_folder, tmp_path):
    """Without --threshold every output is read at its own; an uncertifiable one is marked as such."""
    import numpy as np

    from promptopt.scorers.judge import load_judge

    image = gi_sim_folder / "images" / "gisim-000000.jpg"
    judge = load_judge(judge_file)
    row = judge.predict([Image.open(image).convert("RGB")])[0]
    judge.thresholds = np.where(np.arange(len(row)) == OUTPUTS.index("text"), 0.0, 1.01)  # only text at or above
    judge.uncertifiable = ("text",)
    path = tmp_path / "judge.safetensors"
    judge.save(path)
    result = runner.invoke(app, ["classify", str(image), "--judge", str(path)])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"{image}: text {row[OUTPUTS.index('text')]:.2f} (uncertifiable)"
    result = runner.invoke(app, ["classify", str(image), "--judge", str(path), "--threshold", "0"])
    assert result.output.count(",") == len(OUTPUTS) - 1  # every output at or above 0


def test_a_judge_file_from_before_thresholds_gets_a_note_line(judge_file, gi_sim_folder, tmp_path):
    old = tmp_path / "old.safetensors"
    old.write_bytes(judge_file.read_bytes())
    meta = json.loads(judge_file.with_suffix(".json").read_text())
    del meta["thresholds"], meta["uncertifiable"]
    old.with_suffix(".json").write_text(json.dumps(meta))
    image = gi_sim_folder / "images" / "gisim-000000.jpg"
    result = runner.invoke(app, ["classify", str(image), "--judge", str(old)])
    assert result.exit_code == 0
    notes = [line for line in result.output.splitlines() if line.startswith("note: ")]
    assert len(notes) == 1 and "no decision thresholds" in notes[0] and "read at 0.5" in notes[0]


def test_evaluate_consistency_over_every_prompt_of_every_image(judge_file, gi_sim_folder):
    args = [
        "evaluate",
        str(gi_sim_folder),
        "--reference",
        str(gi_sim_folder / "images"),
        "--metrics",
        "consistency",
        "--judge",
        str(judge_file),
        "--json",
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    row = json.loads(result.stdout)["metrics"][0]
    assert row["metric"] == "consistency" and 0.0 < row["value"] < 1.0
    pairs = len((gi_sim_folder / "prompt-gt.csv").read_text().splitlines()) - 1
    assert f"{pairs} (image, prompt) pairs of 6 images" in row["note"]


def test_consistency_on_images_without_prompts_is_one_line(judge_file, gi_sim_folder):
    args = [
        "evaluate",
        str(gi_sim_folder / "images"),
        "--reference",
        str(gi_sim_folder / "images"),
        "--metrics",
        "consistency",
        "--judge",
        str(judge_file),
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert "consistency needs a prompt for each image" in _error_line(result)


def test_classify_bad_input(judge_file, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    result = runner.invoke(app, ["classify", str(empty), "--judge", str(judge_file)])
    assert result.exit_code == 2 and "no image files" in _error_line(result)
    broken = tmp_path / "broken"
    broken.mkdir()
    Image.new("RGB", (8, 8)).save(broken / "ok.png")
    (broken / "bad.png").write_bytes(b"not a png")
    result = runner.invoke(app, ["classify", str(broken), "--judge", str(judge_file)])
    assert result.exit_code == 2 and "bad.png" in _error_line(result)
    result = runner.invoke(app, ["classify", str(broken), "--judge", str(tmp_path / "missing.safetensors")])
    assert result.exit_code == 2 and "promptopt fit judge" in _error_line(result)
    for value in ("5", "-1", "nan"):
        result = runner.invoke(app, ["classify", str(broken), "--judge", str(judge_file), "--threshold", value])
        assert result.exit_code == 2 and "--threshold" in result.output


def test_a_judge_of_another_attribute_set_is_one_line(judge_file, tmp_path, gi_sim_folder):
    other = tmp_path / "other.safetensors"
    other.write_bytes(judge_file.read_bytes())
    meta = json.loads(judge_file.with_suffix(".json").read_text())
    meta["schema"][0]["outputs"] = meta["schema"][0]["outputs"][:-1]
    other.with_suffix(".json").write_text(json.dumps(meta))
    result = runner.invoke(app, ["classify", str(gi_sim_folder / "images"), "--judge", str(other)])
    assert result.exit_code == 2 and "another attribute set" in _error_line(result)
    meta["backbone"] = "resnet"
    other.with_suffix(".json").write_text(json.dumps(meta))
    result = runner.invoke(app, ["classify", str(gi_sim_folder / "images"), "--judge", str(other)])
    assert result.exit_code == 2 and "backbone 'resnet'" in _error_line(result)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--out", "x.pt"], "must end in .safetensors"),
        (["--backbone", "resnet", "--out", "x.safetensors"], "not a judge trunk"),
        (["--autoencoder", "no/such/model", "--out", "x.safetensors"], "--autoencoder"),
        (["--size", "40", "--out", "x.safetensors"], "multiple of 16"),
    ],
)
def test_fit_bad_input(args, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, [*FIT, *args])
    assert result.exit_code == 2 and message in _error_line(result)
    assert not (tmp_path / "x.safetensors").exists()


def test_consistency_names_a_prompt_the_grammar_cannot_read(judge_file, tmp_path):
    folder = tmp_path / "set"
    folder.mkdir()
    rows = [("a.png", "Generate an image containing a polyp."), ("b.png", "Generate a banana on a plate.")]
    for name, _ in rows:
        Image.new("RGB", (32, 32), (200, 80, 80)).save(folder / name)
    (folder / "metadata.jsonl").write_text("".join(json.dumps({"file_name": f, "prompt": p}) + "\n" for f, p in rows))
    args = ["evaluate", str(folder), "--reference", str(folder), "--metrics", "consistency", "--judge", str(judge_file)]
    result = runner.invoke(app, args)
    assert result.exit_code == 2 and "banana" in _error_line(result)
    result = runner.invoke(app, [*args, "--skip-bad", "--json"])
    assert result.exit_code == 0, result.output
    row = json.loads(result.stdout)["metrics"][0]
    assert "1 (image, prompt) pairs of 1 images" in row["note"] and "1 bad rows" in row["note"]
