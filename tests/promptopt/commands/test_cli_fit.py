"""`promptopt fit classifier` / `promptopt fit aligner` through the CLI: GI-sim end to end, and bad input as one
line with exit code 2 (found before any image feature is computed)."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from promptopt.cli import app

GI_SIM_IMAGES = 200  # the same set in every test file, so its features are computed once per session
GI_SIM = [
    "--data",
    "gi-sim",
    "--gi-sim-images",
    str(GI_SIM_IMAGES),
    "--size",
    "64",
    "--holdout",
    "0.25",
    "--device",
    "cpu",
]
runner = CliRunner()


def _error_line(result) -> str:
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    return lines[0]


def test_fit_classifier_on_gi_sim(tmp_path):
    from promptopt.scorers.classifier import load_classifier

    out = tmp_path / "models" / "clf.safetensors"
    result = runner.invoke(app, ["fit", "classifier", *GI_SIM, "--epochs", "60", "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["n_train"] == 150 and summary["n_held_out"] == 50
    for name in ("polyp", "instrument", "box_artefact"):
        assert summary["attributes"][name]["auroc"] > 0.9
    model = load_classifier(out)
    assert model.meta["metrics"]["attributes"] == summary["attributes"]
    assert (tmp_path / "models" / "clf.json").is_file() and model.backbone == summary["backbone"]

    shown = runner.invoke(app, ["fit", "classifier", *GI_SIM, "--epochs", "60", "--out", str(out)])
    assert shown.exit_code == 0, shown.output
    polyp_row = next(
        cells for cells in map(str.split, shown.stdout.splitlines()) if cells[:1] == ["polyp"] and cells[1].isdigit()
    )
    assert float(polyp_row[3]) == pytest.approx(summary["attributes"]["polyp"]["auroc"], abs=5e-4)
    assert f"saved {out}" in shown.stdout
    np.testing.assert_array_equal(
        load_classifier(out).predict_proba(np.ones((1, 2048))), model.predict_proba(np.ones((1, 2048)))
    )


def test_fit_aligner_on_gi_sim(tmp_path):
    from promptopt.scorers.aligner import load_aligner

    out = tmp_path / "al.safetensors"
    result = runner.invoke(
        app, ["fit", "aligner", *GI_SIM, "--epochs", "60", "--dim", "64", "--out", str(out), "--json"]
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["n_train_images"] == 150 and summary["n_images"] == 50
    assert summary["image_to_text_r5"] > summary["image_to_text_r5_chance"] + 0.3
    assert load_aligner(out).params["wi"].shape == (64, 2048)

    shown = runner.invoke(app, ["fit", "aligner", *GI_SIM, "--epochs", "60", "--dim", "64", "--out", str(out)])
    assert shown.exit_code == 0, shown.output
    assert "image→text R@5" in shown.stdout and "chance" in shown.stdout


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    from promptopt.sim.writer import write_dataset

    return write_dataset(tmp_path_factory.mktemp("small") / "sim", 12, 32, 0).out


@pytest.fixture(scope="module")
def one_class(tmp_path_factory, small):
    folder = tmp_path_factory.mktemp("one-class")
    rows = [
        {"file_name": str(p), "prompt": "Generate an image containing a polyp."}
        for p in sorted((small / "images").iterdir())
    ]
    (folder / "metadata.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return folder


@pytest.fixture(scope="module")
def empty(tmp_path_factory):
    folder = tmp_path_factory.mktemp("empty")
    (folder / "metadata.jsonl").write_text("")
    return folder


@pytest.mark.parametrize("command", ["classifier", "aligner"])
@pytest.mark.parametrize(
    ("data", "extra", "message"),
    [
        ("missing", [], "no such file or folder"),
        ("empty", [], "lists no images"),
        ("small", ["--holdout", "1.5"], "'--holdout': 1.5 is not a share"),
        ("small", ["--epochs", "0"], "epochs must be at least 1"),
        ("small", ["--backbone", "resnet"], "--backbone: unknown feature backbone 'resnet'"),
        ("gi-sim", ["--gi-sim-images", "1"], "'--gi-sim-images': Input should be greater than or equal to 2"),
        ("gi-sim", ["--size", "8"], "'--size': Input should be greater than or equal to 32"),
        ("small", ["--device", "gpu"], "--device 'gpu' is not a device"),
        ("small", ["--device", "cuda:7"], "--device cuda:7: "),  # no such GPU here (none, or fewer than 8)
    ],
)
def test_bad_input_is_one_line_and_exit_2(command, data, extra, message, request, tmp_path):
    path = {"missing": str(tmp_path / "nowhere"), "gi-sim": "gi-sim"}.get(data) or str(request.getfixturevalue(data))
    result = runner.invoke(app, ["fit", command, "--data", path, "--out", str(tmp_path / "m.safetensors"), *extra])
    assert result.exit_code == 2, result.output
    assert message in _error_line(result)


def test_classifier_needs_an_attribute_with_both_classes(one_class, tmp_path):
    result = runner.invoke(
        app, ["fit", "classifier", "--data", str(one_class), "--out", str(tmp_path / "m.safetensors")]
    )
    assert result.exit_code == 2
    assert "no labelled attribute has both classes" in _error_line(result)


@pytest.mark.parametrize(
    ("out", "message"), [("m.pt", "must end in .safetensors"), ("file/m.safetensors", "is not writable")]
)
def test_bad_out_is_one_line_and_exit_2(out, message, small, tmp_path):
    (tmp_path / "file").write_text("a file, not a folder")
    result = runner.invoke(app, ["fit", "classifier", "--data", str(small), "--out", str(tmp_path / out)])
    assert result.exit_code == 2
    assert message in _error_line(result)


def test_fit_help_lists_both_commands():
    result = runner.invoke(app, ["fit", "--help"])
    assert result.exit_code == 0 and "classifier" in result.output and "aligner" in result.output


@pytest.mark.parametrize("command", ["judge", "classifier", "aligner"])
def test_out_onto_a_file_that_is_no_model_is_refused_and_kept(command, small, tmp_path):
    out = tmp_path / "weights.safetensors"
    out.write_bytes(b"someone else's weights")
    (tmp_path / "weights.json").write_text('{"epochs": 3}')
    result = runner.invoke(app, ["fit", command, "--data", str(small), "--out", str(out)])
    assert result.exit_code == 2
    assert "exists and is no promptopt model: choose a new path" in _error_line(result)
    assert out.read_bytes() == b"someone else's weights" and (tmp_path / "weights.json").read_text() == '{"epochs": 3}'
