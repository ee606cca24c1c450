"""GI-sim: determinism, label consistency, true prompts, the challenge layout, the CLI, and a classifier check
that the pixels carry the labels."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from promptopt import grammar
from promptopt.cli import app
from promptopt.core.errors import InputError
from promptopt.datasets.layouts import load_dataset
from promptopt.sim import SimConfig, render_scene, sample_scene, simulate
from promptopt.sim.grid import TILES
from promptopt.sim.sampling import Instrument, Polyp, Scene
from promptopt.sim.writer import write_dataset

GASTRO_ONLY = {"z-line", "pylorus", "oesophagitis", "barretts"}
COLON_ONLY = {"cecum", "ileum", "ulcerative colitis"}


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _labels(folder: Path) -> dict[str, dict]:
    lines = (folder / "labels.jsonl").read_text().splitlines()
    return {rec["filename"]: rec["labels"] for rec in map(json.loads, lines)}


def _rows(folder: Path) -> list[tuple[str, str]]:
    with open(folder / "prompt-gt.csv", newline="") as fh:
        return [(r["Prompt"], r["Filename"]) for r in csv.DictReader(fh, delimiter=";")]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("sim") / "gi-sim"
    write_dataset(out, 40, 64, seed=7)
    return out


def test_same_seed_gives_identical_bytes_and_a_prefix(tmp_path, dataset):
    again = tmp_path / "again"
    write_dataset(again, 40, 64, seed=7)
    assert _files(again) == _files(dataset)

    short = tmp_path / "short"
    write_dataset(short, 5, 64, seed=7)
    first = [f"gisim-{i:06d}.jpg" for i in range(5)]
    assert {k: v for k, v in _files(short).items() if k.startswith("images/")} == {
        f"images/{name}": (dataset / "images" / name).read_bytes() for name in first
    }
    assert _rows(short) == [row for row in _rows(dataset) if row[1] in first]
    assert _labels(short) == {name: _labels(dataset)[name] for name in first}

    other = tmp_path / "other"
    write_dataset(other, 5, 64, seed=8)
    assert all(_files(other)[f"images/{n}"] != (dataset / "images" / n).read_bytes() for n in first)


def test_labels_are_consistent():
    cfg = SimConfig()
    for index in range(120):
        _, labels = simulate(3, index, 64, cfg)
        d = labels.as_dict()
        grammar.validate({k: v for k, v in d.items() if v != []})
        findings = set(labels.findings)
        assert labels.finding_count == labels.polyp_count + len(findings - {"polyp"})
        assert (labels.polyp_count > 0) == ("polyp" in findings) == bool(labels.polyp_types) == bool(labels.polyp_sizes)
        assert labels.instrument_count == len(labels.instruments)
        assert bool(findings) == bool(labels.colors) == bool(labels.abnormality_locations)
        assert bool(labels.instruments) == bool(labels.instrument_locations)
        assert bool(labels.landmarks) == bool(labels.landmark_locations)
        present = findings | set(labels.landmarks)
        if labels.procedure == "colonoscopy":
            assert not present & GASTRO_ONLY
        else:
            assert not present & COLON_ONLY and not labels.box_artefact


def _scene(**changes) -> Scene:
    base = dict(
        procedure="colonoscopy",
        findings=(),
        landmarks=(),
        polyps=(),
        instruments=(),
        colours=(),
        lumen=(0.0, 0.0),
        lumen_radius=0.12,
        text=False,
        box=False,
    )
    return Scene(**{**base, **changes})


def test_locations_are_where_things_are_drawn():
    polyps = (Polyp("is", "<5mm", 0.6, -0.6, 0.15, 0.0), Polyp("ip", "<5mm", -0.62, 0.62, 0.15, 0.0))
    scene = _scene(findings=("polyp",), polyps=polyps, colours=("pink", "red"))
    _, labels = render_scene(scene, 96, np.random.default_rng(0))
    assert labels.polyp_count == 2 and labels.finding_count == 2
    assert labels.abnormality_locations == ("lower-left", "upper-right")
    assert labels.polyp_types == ("ip", "is") and labels.colors == ("pink", "red")

    tube = Instrument("tube", (1.15, 0.0), (0.55, 0.0))
    _, labels = render_scene(_scene(instruments=(tube,)), 96, np.random.default_rng(0))
    assert labels.instrument_locations == ("center-right",) and labels.instruments == ("tube",)


def test_overlays_are_drawn_where_labelled():
    rng = np.random.default_rng
    plain, _ = render_scene(_scene(), 128, rng(1))
    marked, labels = render_scene(_scene(text=True, box=True), 128, rng(1))
    assert labels.text and labels.box_artefact
    a, b = np.asarray(plain, np.int32), np.asarray(marked, np.int32)
    box = b[100:, :30]
    assert (box.max(axis=2) < 20).mean() > 0.5  # mostly black …
    assert ((box[..., 1] > 150) & (box[..., 0] < 100)).any()  # … with a green trace
    text = b[:40, :35]
    assert ((text.min(axis=2) > 200) & (np.abs(text - a[:40, :35]).sum(axis=2) > 60)).sum() > 20  # white text
    assert np.array_equal(a[:, 64:], b[:, 64:])  # nothing else changes


def test_every_prompt_holds_for_its_image(dataset):
    labels, rows = _labels(dataset), _rows(dataset)
    for prompt, name in rows:
        assert grammar.holds(grammar.parse(prompt), labels[name]), (prompt, labels[name])
    per_image = np.bincount([int(name[6:12]) for _, name in rows])
    assert per_image.min() >= 6 and 8 <= per_image.mean() <= 12
    prompts = {p for p, _ in rows}
    assert {"Generate an image with no polyps.", "Generate an image from a colonoscopy procedure."} <= prompts


def test_layout_is_the_challenges(dataset):
    lines = (dataset / "prompt-gt.csv").read_text().splitlines()
    assert lines[0] == "Prompt;Filename" and all(line.count(";") == 1 for line in lines)
    images = sorted(p.name for p in (dataset / "images").iterdir())
    assert images == [f"gisim-{i:06d}.jpg" for i in range(40)] == sorted(_labels(dataset))
    assert {Image.open(dataset / "images" / name).size for name in images} == {(64, 64)}
    readme = (dataset / "README.md").read_text()
    assert "simulator, not medical data" in readme and "--seed 7" in readme and "promptopt 0.1.0" in readme

    loaded = load_dataset(dataset)
    assert loaded.layout == "challenge" and len(loaded.items) == 40
    truth = _labels(dataset)
    assert all(grammar.holds(item.labels, truth[item.file_name]) for item in loaded.items)


@pytest.mark.parametrize(
    ("title", "key", "value"),
    [
        ("polyp Ip", "polyp_types", ["ip"]),
        ("polyp Is", "polyp_types", ["is"]),
        ("polyp IIa", "polyp_types", ["iia"]),
        ("oesophagitis", "findings", ["oesophagitis"]),
        ("ulcerative colitis", "findings", ["ulcerative colitis"]),
        ("barretts", "findings", ["barretts"]),
        ("z-line", "landmarks", ["z-line"]),
        ("pylorus", "landmarks", ["pylorus"]),
        ("cecum", "landmarks", ["cecum"]),
        ("ileum", "landmarks", ["ileum"]),
        ("biopsy forceps", "instruments", ["biopsy forceps"]),
        ("polyp snare", "instruments", ["polyp snare"]),
        ("metal clip", "instruments", ["metal clip"]),
        ("injection needle", "instruments", ["injection needle"]),
        ("tube", "instruments", ["tube"]),
        ("box artefact + text", "box_artefact", True),
    ],
)
def test_grid_tiles_show_their_attribute(title, key, value):
    cfg = dict(TILES)[title]
    for index in range(3):
        rng = np.random.default_rng(index)
        _, labels = render_scene(sample_scene(rng, cfg), 64, rng)
        assert labels.as_dict()[key] == value
    assert len(TILES) == 16


def test_cli_rejects_bad_input(tmp_path):
    runner = CliRunner()

    def run(*args: str):
        return runner.invoke(app, ["data", "sim", *args])

    result = run("--n", "0", "--out", str(tmp_path / "a"))
    assert result.exit_code == 2 and "--n must be at least 1" in result.output
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = run("--n", "2", "--out", str(blocker / "sub"))
    assert result.exit_code == 2 and "cannot write" in result.output
    full = tmp_path / "full"
    full.mkdir()
    (full / "keep.txt").write_text("x")
    result = run("--n", "2", "--size", "32", "--out", str(full))
    assert result.exit_code == 2 and "--overwrite" in result.output and (full / "keep.txt").exists()
    result = run("--n", "2", "--size", "32", "--out", str(full), "--overwrite")
    assert result.exit_code == 0, result.output
    assert not (full / "keep.txt").exists() and len(_rows(full)) >= 12
    with pytest.raises(InputError):
        write_dataset(tmp_path / "b", 1, 16, 0)

    grid = tmp_path / "grid.png"
    assert runner.invoke(app, ["data", "sim-grid", "--out", str(tmp_path / "grid.jpg")]).exit_code == 2
    result = runner.invoke(app, ["data", "sim-grid", "--out", str(grid), "--size", "64"])
    assert result.exit_code == 0, result.output
    assert Image.open(grid).size == (4 * 64, 4 * (64 + 10))


def _pixels(images: list[Image.Image]) -> np.ndarray:
    """Raw pixels downsampled to 16×16×3, in [0, 1]."""
    return np.stack([np.asarray(im.resize((16, 16), Image.Resampling.BOX), np.float32).ravel() / 255 for im in images])


def _local_colours(images: list[Image.Image], bins: int = 6, patch: int = 16) -> np.ndarray:
    """Share of each of bins³ colours in every patch×patch window; mean and max over the windows.

    Polyps and instruments appear anywhere, which a linear model on raw pixels cannot pool over."""
    arr = np.stack([np.asarray(im) for im in images]).astype(np.int64) * bins // 256
    colour = (arr[..., 0] * bins + arr[..., 1]) * bins + arr[..., 2]
    n, h, w = colour.shape
    window = (np.arange(h)[:, None] // patch) * (w // patch) + np.arange(w)[None, :] // patch
    n_windows, n_colours = (h // patch) * (w // patch), bins**3
    flat = (np.arange(n)[:, None, None] * n_windows + window) * n_colours + colour
    share = np.bincount(flat.ravel(), minlength=n * n_windows * n_colours).reshape(n, n_windows, n_colours)
    share = share / patch**2
    return np.hstack([share.mean(axis=1), share.max(axis=1)]).astype(np.float32)


def _logistic(x: np.ndarray, y: np.ndarray, l2: float = 1e-3):
    """Class-balanced L2 logistic regression on standardised features (L-BFGS); returns a predictor."""
    xt, yt = torch.from_numpy(x), torch.from_numpy(y.astype(np.float32))
    mu, sd = xt.mean(0), xt.std(0) + 1e-6
    z = (xt - mu) / sd
    weight = torch.where(yt == 1, 0.5 / yt.mean(), 0.5 / (1 - yt.mean()))
    w = torch.zeros(z.shape[1], requires_grad=True)
    b = torch.zeros(1, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], max_iter=200, line_search_fn="strong_wolfe")

    def loss():
        opt.zero_grad()
        bce = torch.nn.functional.binary_cross_entropy_with_logits(z @ w + b, yt, weight=weight)
        value = bce + l2 * (w * w).sum()
        value.backward()
        return value

    opt.step(loss)
    return lambda xn: ((((torch.from_numpy(xn) - mu) / sd) @ w + b) > 0).numpy()


def _balanced_accuracy(y: np.ndarray, predicted: np.ndarray) -> float:
    return 0.5 * (float(predicted[y].mean()) + float((~predicted[~y]).mean()))


def test_a_linear_classifier_reads_the_labels_from_the_pixels():
    cfg, n_train, n_test = SimConfig(), 1000, 400
    images, targets = [], []
    for index in range(n_train + n_test):
        image, labels = simulate(11, index, 64, cfg)
        images.append(image)
        targets.append((labels.polyp_count > 0, labels.instrument_count > 0, labels.box_artefact))
    y = np.array(targets)
    pixels, colours = _pixels(images), _local_colours(images)
    scores = {}
    for k, (name, x) in enumerate((("polyp", colours), ("instrument", colours), ("box artefact", pixels))):
        predict = _logistic(x[:n_train], y[:n_train, k])
        scores[name] = _balanced_accuracy(y[n_train:, k], predict(x[n_train:]))
    print("held-out balanced accuracy:", {k: round(v, 3) for k, v in scores.items()})
    assert min(scores.values()) > 0.8, scores


def test_rare_enriched_gi_sim_draws_every_rare_attribute_often():
    """At the development frequencies 200 images hold about one injection needle; rare-enriched, every
    instrument kind, landmark and Paris type is common, and the labels still match the scene."""
    from promptopt.sim.config import rare_enriched

    cfg = rare_enriched()
    counts: dict[str, int] = {}
    for index in range(300):
        truth = simulate(5, index, 32, cfg)[1].as_dict()
        for name in (*truth["instruments"], *truth["landmarks"], *truth["findings"], *truth["polyp_types"]):
            counts[name] = counts.get(name, 0) + 1
    rare = ("injection needle", "metal clip", "polyp snare", "biopsy forceps", "pylorus", "ileum", "barretts", "iia")
    assert all(counts.get(name, 0) >= 15 for name in rare), counts
    assert all(weight == 1.0 for _, weight in cfg.instrument_types)
    assert cfg.p_text == SimConfig().p_text  # what is not rare keeps its frequency
