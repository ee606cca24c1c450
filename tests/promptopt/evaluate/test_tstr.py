"""TSTR: a classifier trained on synthetic images, tested on real ones, beside the TRTR ceiling.

GI-sim plays both parts: the "real" set is the session's shared GI-sim set (seed 0, challenge layout, every
image's prompts); the "synthetic" set is GI-sim drawn with another seed and written like an export (an
imagefolder with metadata.jsonl, one rendered prompt per image). Same distribution, so TSTR ≈ TRTR.
"""

import json
import shutil

import pytest
from typer.testing import CliRunner

from promptopt import grammar
from promptopt.core.errors import InputError

GI_SIM_IMAGES = 200  # the same set in every test file, so its features are computed once per session
SYNTHETIC_IMAGES = 100
KEYS = ("procedure", "findings", "finding_count", "polyp_count", "instrument_count", "text", "box_artefact")


def write_export_like(source, out, n=None, prompt=None):
    """An imagefolder (images/ + metadata.jsonl) from a GI-sim folder, one prompt per image rendered from its
    drawn labels (or the fixed `prompt`)."""
    (out / "images").mkdir(parents=True)
    rows = []
    for line in (source / "labels.jsonl").read_text().splitlines()[:n]:
        record = json.loads(line)
        shutil.copy(source / "images" / record["filename"], out / "images" / record["filename"])
        attrs = {k: record["labels"][k] for k in KEYS if record["labels"][k] != []}
        rows.append({"file_name": f"images/{record['filename']}", "prompt": prompt or grammar.phrase(attrs), "seed": 0})
    (out / "metadata.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return out


@pytest.fixture(scope="module")
def inception():
    from promptopt.scorers.inception import InceptionFeatures

    return InceptionFeatures()


@pytest.fixture(scope="module")
def real():
    from promptopt.core.paths import cache_dir
    from promptopt.sim.writer import gi_sim_dataset

    return gi_sim_dataset(GI_SIM_IMAGES, 64, 0, cache_dir())


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    from promptopt.sim.writer import gi_sim_dataset

    source = gi_sim_dataset(SYNTHETIC_IMAGES, 64, 1, tmp_path_factory.mktemp("cache"))
    return write_export_like(source, tmp_path_factory.mktemp("synthetic") / "export")


@pytest.fixture(scope="module")
def result(synthetic, real, inception):
    from promptopt.evaluate.tstr import tstr
    from promptopt.scorers.classifier import ProbeConfig

    return tstr(synthetic, real, inception, holdout=0.25, config=ProbeConfig(epochs=60))


def test_tstr_matches_trtr_when_synthetic_is_drawn_like_real(result):
    assert result["synthetic"]["images"] == SYNTHETIC_IMAGES
    assert result["real"] | {"root": None} == {"root": None, "images": GI_SIM_IMAGES, "train": 150, "test": 50}
    compared = result["attributes"]
    assert {"polyp", "instrument", "box_artefact", "text"} <= compared.keys()
    for name in ("polyp", "instrument", "box_artefact"):
        assert compared[name]["tstr"]["auroc"] > 0.85, (name, compared[name])
    tstr, trtr = result["macro"]["tstr"], result["macro"]["trtr"]
    assert abs(tstr["auroc"] - trtr["auroc"]) < 0.06, result["macro"]
    assert abs(tstr["f1"] - trtr["f1"]) < 0.15, result["macro"]


def test_only_attributes_both_sides_learnt_are_compared(result):
    # the export-like prompts never name a landmark or an instrument type: not compared, with the reason
    for name in ("z-line", "tube", "cecum"):
        assert name not in result["attributes"]
        assert "not fitted on the synthetic set" in result["not_compared"][name]
    macro = sum(m["tstr"]["f1"] for m in result["attributes"].values()) / len(result["attributes"])
    assert result["macro"]["tstr"]["f1"] == pytest.approx(macro)


def test_single_category_synthetic_set_cannot_be_used(real, tmp_path):
    """All images prompted 'containing a polyp': no attribute has a known negative, so nothing can be fitted;
    this is found from the prompts, before any image feature is computed."""
    from promptopt.evaluate.tstr import tstr
    from promptopt.sim.writer import gi_sim_dataset

    source = gi_sim_dataset(8, 32, 2, tmp_path / "cache")
    one_class = write_export_like(source, tmp_path / "polyps", prompt="Generate an image containing a polyp.")
    with pytest.raises(InputError, match="synthetic set .*no labelled attribute has both classes"):
        tstr(one_class, real, None)


def test_closed_world_gives_prompts_that_only_say_what_is_there_their_negatives(real, inception, tmp_path):
    """OPG-like prompts ("containing a polyp" / "containing tube"): nothing known absent, so not trainable; read
    closed-world, each image lacks what its prompt does not name, and TSTR runs on polyp, instrument and tube."""
    from promptopt.evaluate.tstr import tstr
    from promptopt.scorers.classifier import ProbeConfig
    from promptopt.sim.writer import gi_sim_dataset

    source = gi_sim_dataset(40, 64, 3, tmp_path / "cache")
    mixed = write_export_like(source, tmp_path / "mixed", prompt="Generate an image containing a polyp.")
    rows = [json.loads(line) for line in (mixed / "metadata.jsonl").read_text().splitlines()]
    for row in rows[::2]:
        row["prompt"] = "Generate an image containing tube."
    (mixed / "metadata.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(InputError, match="no labelled attribute has both classes"):
        tstr(mixed, real, inception)
    result = tstr(mixed, real, inception, holdout=0.25, config=ProbeConfig(epochs=5), closed_world=True)
    assert result["closed_world"] and {"polyp", "instrument", "tube"} <= set(result["attributes"])


def test_command_prints_the_comparison_and_json(synthetic, real, result):
    from promptopt.cli import app

    runner = CliRunner()
    args = ["evaluate", "tstr", str(synthetic), str(real), "--holdout", "0.25", "--epochs", "60", "--device", "cpu"]
    shown = runner.invoke(app, args)
    assert shown.exit_code == 0, shown.output
    assert "TSTR: trained on 100 synthetic images" in shown.stdout
    assert any(line.startswith("polyp ") for line in shown.stdout.splitlines())
    assert "not compared: z-line: not fitted on the synthetic set" in shown.stdout
    as_json = runner.invoke(app, [*args, "--json"])
    assert as_json.exit_code == 0, as_json.output
    assert json.loads(as_json.stdout)["macro"] == result["macro"]  # deterministic, and JSON floats round-trip
    bad = runner.invoke(app, ["evaluate", "tstr", str(synthetic), str(real / "nowhere")])
    assert bad.exit_code == 2 and "no such file or folder" in bad.output
    no_gpu = runner.invoke(app, ["evaluate", "tstr", str(synthetic), str(real), "--device", "cuda:7"])
    assert no_gpu.exit_code == 2 and "--device cuda:7: " in no_gpu.output
    assert len(bad.output.strip().splitlines()) == 1
