"""The judge network, its training, calibration, metrics and file, on a tiny task with a known answer."""

import numpy as np
import pytest

from promptopt.scorers.judge import Head, JudgeConfig, load_judge, output_names
from promptopt.scorers.judge_training import (
    calibrate,
    expected_calibration_error,
    fit_judge,
    head_summary,
    judge_metrics,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SCHEMA = (Head("presence", ("square", "noise_flag")), Head("side", ("side=left", "side=right"), exclusive=True))
TINY = JudgeConfig(size=16, widths=(8, 16), dense=16, epochs=25, batch_size=32, lr=1e-2, seed=0)


def _task(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A bright square present or not, on the left or the right; `noise_flag` is never known (masked)."""
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 60, size=(n, 16, 16, 3), dtype=np.uint8)
    square = rng.random(n) < 0.5
    right = rng.random(n) < 0.5
    for i in range(n):
        if square[i]:
            x = 9 if right[i] else 1
            pixels[i, 5:11, x : x + 6] = 230
    y = np.stack([square, rng.random(n) < 0.5, ~right, right], axis=1).astype(np.float32)
    known = np.ones_like(y, dtype=bool)
    known[:, 1] = False
    known[~square, 2:] = False  # no square: its side is unknown
    return pixels, y, known


@pytest.fixture(scope="module")
def trained():
    pixels, y, known = _task(320, 0)
    return fit_judge(pixels, y, known, SCHEMA, TINY)


def test_learns_presence_and_an_exclusive_head(trained):
    pixels, y, known = _task(200, 1)
    calibrate(trained, *_task(200, 2))
    metrics = judge_metrics(trained.predict_pixels(pixels), y, known, SCHEMA)
    assert metrics["outputs"]["square"]["auroc"] > 0.95
    assert metrics["outputs"]["side=right"]["auroc"] > 0.95
    assert metrics["outputs"]["noise_flag"]["n_present"] == 0  # masked everywhere: never measured
    assert metrics["outputs"]["noise_flag"]["auroc"] is None
    assert metrics["heads"]["side"]["weakest"] in ("side=left", "side=right")
    assert 0.0 <= metrics["heads"]["presence"]["ece"] <= 1.0
    proba = trained.predict_pixels(pixels)
    assert np.allclose(proba[:, 2] + proba[:, 3], 1.0)  # a softmax over the exclusive head


def test_training_is_seeded():
    pixels, y, known = _task(64, 0)
    config = JudgeConfig(size=16, widths=(8, 16), dense=16, epochs=1, batch_size=32, seed=3)
    a, b = (fit_judge(pixels, y, known, SCHEMA, config) for _ in range(2))
    assert all(np.array_equal(a.state[k].numpy(), b.state[k].numpy()) for k in a.state)


def test_calibration_lowers_the_held_out_loss(trained):
    pixels, y, known = _task(200, 2)
    trained.temperature = np.ones(len(SCHEMA))
    before = judge_metrics(trained.predict_pixels(pixels), y, known, SCHEMA)["ece"]
    temperature = calibrate(trained, pixels, y, known)
    after = judge_metrics(trained.predict_pixels(pixels), y, known, SCHEMA)["ece"]
    assert temperature.shape == (2,) and (temperature > 0).all()
    assert after <= before + 0.02


def test_save_and_load_round_trip(trained, tmp_path):
    path = tmp_path / "judge.safetensors"
    trained.save(path)
    loaded = load_judge(path, SCHEMA)  # no thresholds were chosen: stored as none, read as 0.5 with a note
    pixels, _, _ = _task(10, 5)
    assert np.allclose(loaded.predict_pixels(pixels), trained.predict_pixels(pixels))
    assert loaded.outputs == output_names(SCHEMA)


def test_an_any_of_output_is_derived_from_its_members_and_saved(trained, tmp_path):
    """`square` reported as "any of" (`square`, `side=right`): 1 − Π(1 − p) of the members, whatever it learned."""
    import dataclasses

    derived = dataclasses.replace(trained, any_of=(("square", ("noise_flag", "side=right")),))
    pixels, _, _ = _task(20, 6)
    raw, proba = trained.predict_pixels(pixels), derived.predict_pixels(pixels)
    assert np.allclose(proba[:, 0], 1 - (1 - raw[:, 1]) * (1 - raw[:, 3]))
    assert np.allclose(proba[:, 1:], raw[:, 1:])
    path = tmp_path / "judge.safetensors"
    derived.save(path)
    assert np.allclose(load_judge(path, SCHEMA).predict_pixels(pixels), proba)


def test_a_judge_of_another_attribute_set_is_refused(trained, tmp_path):
    path = tmp_path / "judge.safetensors"
    trained.save(path)
    other = (Head("presence", ("square", "circle")),)
    with pytest.raises(ValueError, match="another attribute set.*circle"):
        load_judge(path, other)


def test_ece_by_hand():
    proba = np.array([0.1, 0.1, 0.9, 0.9])
    truth = np.array([False, True, True, True])
    # bin of 0.1: accuracy 0.5, confidence 0.1 → 0.4; bin of 0.9: accuracy 1.0, confidence 0.9 → 0.1
    assert expected_calibration_error(proba, truth) == pytest.approx(0.5 * 0.4 + 0.5 * 0.1)


def test_head_summary_names_the_weakest_output():
    per = {
        "a": {"head": "h", "auroc": 0.9, "accuracy": 0.8},
        "b": {"head": "h", "auroc": 0.7, "accuracy": 0.6},
        "c": {"head": "h", "auroc": None, "accuracy": None},
    }
    summary = head_summary(per)["h"]
    assert summary["weakest"] == "b" and summary["macro_auroc"] == pytest.approx(0.8)
    assert summary["unscored"] == ["c"]


def test_rare_values_are_drawn_more_often():
    from promptopt.scorers.judge_training import draw_weights

    y = np.array([[1, 0], [0, 0], [0, 0], [0, 1]], dtype=np.float32)  # each output shown by 1 of 4 known images
    known = np.array([[1, 1], [1, 1], [1, 1], [1, 0]], dtype=bool)
    known[3, 1] = True
    weights = draw_weights(y, known, 1.0)
    assert weights == pytest.approx(np.array([4, 1, 1, 4]) / 10)
    assert draw_weights(y, known, 0.0) is None


def test_the_threshold_is_where_the_weaker_of_precision_and_recall_is_strongest():
    from promptopt.scorers.judge_training import choose_threshold

    scores = np.array([0.95, 0.9, 0.8, 0.7, 0.6, 0.4, 0.3, 0.2])
    truth = np.array([1, 1, 1, 0, 1, 0, 0, 0], dtype=bool)
    # cut below 0.8: precision 1.0, recall 0.75; below 0.6: 0.8 and 1.0, the best weaker one; halfway to 0.4
    assert choose_threshold(scores, truth) == pytest.approx(0.5)
    tied = np.array([0.9, 0.8, 0.8, 0.2])  # never inside a tie: below both 0.8s, precision 2/3, recall 1
    assert choose_threshold(tied, np.array([1, 1, 0, 0], bool)) == pytest.approx(0.5)
    equal = choose_threshold(np.array([0.9, 0.8, 0.7, 0.6]), np.array([0, 1, 0, 1], bool))
    assert equal == pytest.approx(0.3)  # 0.5 below 0.8 and below 0.6: the one with the higher recall
    assert choose_threshold(scores, np.zeros(8, bool)) == 0.5  # nothing to choose from


def test_metrics_at_the_thresholds_and_the_bar():
    from promptopt.scorers.judge_training import uncertifiable

    schema = (Head("presence", ("a", "b", "c")),)
    truth = np.array([[1, 1, 0]] * 40 + [[0, 0, 1]] * 40, dtype=np.float32)
    proba = np.where(truth > 0, 0.8, 0.2)
    proba[:40, 1] = 0.3  # b: seen below 0.5 but above its absent images
    known = np.ones_like(truth, dtype=bool)
    at_half = judge_metrics(proba, truth, known, schema)["outputs"]
    assert at_half["a"]["precision"] == 1.0 and at_half["a"]["recall"] == 1.0 and at_half["a"]["threshold"] == 0.5
    assert at_half["b"]["recall"] == 0.0 and at_half["b"]["precision"] is None
    tuned = judge_metrics(proba, truth, known, schema, np.array([0.5, 0.25, 0.5]))["outputs"]
    assert tuned["b"]["recall"] == 1.0 and tuned["b"]["precision"] == 1.0
    known[40:, 2] = False  # c keeps no positive
    held = judge_metrics(proba, truth, known, schema, np.array([0.5, 0.25, 0.5]))["outputs"]
    assert uncertifiable(held) == ["c"]
    assert uncertifiable(at_half) == ["b"]
    assert uncertifiable(held, {"precision": 0.9, "recall": 0.9, "positives": 41}) == ["a", "b", "c"]


def test_thresholds_and_uncertifiable_outputs_are_saved(trained, tmp_path):
    import dataclasses

    judge = dataclasses.replace(trained, thresholds=np.array([0.7, 0.5, 0.4, 0.6]), uncertifiable=("noise_flag",))
    path = tmp_path / "judge.safetensors"
    judge.save(path)
    loaded = load_judge(path, SCHEMA)
    assert np.allclose(loaded.threshold_array(), [0.7, 0.5, 0.4, 0.6]) and loaded.uncertifiable == ("noise_flag",)
    assert not loaded.legacy_thresholds
    proba = np.array([[0.69, 0.5, 0.41, 0.59]])
    assert loaded.decide(proba).tolist() == [[False, True, True, False]]


def test_a_judge_file_without_thresholds_reads_at_one_half_with_a_note(trained, tmp_path):
    import json

    from promptopt.core.errors import Note

    path = tmp_path / "judge.safetensors"
    trained.save(path)
    sidecar = path.with_suffix(".json")
    meta = json.loads(sidecar.read_text())
    del meta["thresholds"], meta["uncertifiable"]  # as written before thresholds were stored
    sidecar.write_text(json.dumps(meta))
    with pytest.warns(Note, match="no decision thresholds.*read at 0.5"):
        old = load_judge(path, SCHEMA)
    assert old.legacy_thresholds and np.all(old.threshold_array() == 0.5) and old.uncertifiable == ()


def test_a_separate_head_has_a_trunk_of_its_own():
    """The presence head's logits come from its own trunk: its loss moves none of the other trunk's weights."""
    import torch

    from promptopt.scorers.judge import build_net

    schema = (Head("side", ("l", "r"), exclusive=True), Head("presence", ("a", "b", "c")), Head("x", ("y",)))
    net = build_net(JudgeConfig(size=16, widths=(8, 16), dense=8, separate=("presence",)), schema)
    out = net(torch.rand(4, 3, 16, 16))
    assert out.shape == (4, 6)
    out[:, 2:5].sum().backward()  # the presence columns
    own, other = net.trunks
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in own.parameters() if p.ndim > 1)
    assert all(p.grad is None or p.grad.abs().sum() == 0 for p in other.parameters())
    single = build_net(JudgeConfig(size=16, widths=(8, 16), dense=8, separate=()), schema)
    assert not hasattr(single, "trunks") and single(torch.rand(1, 3, 16, 16)).shape == (1, 6)
