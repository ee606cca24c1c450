"""Fitting the judge on GI-sim drawn partly rare-enriched: temperatures from the images at the development
frequencies, decision thresholds from all held-out calibration images, certification on the test images."""

import numpy as np
import pytest

from promptopt.judge.fit import fit_judge_on, gi_sim_data
from promptopt.judge.schema import OUTPUTS
from promptopt.scorers.judge import JudgeConfig

pytestmark = pytest.mark.usefixtures("one_torch_thread")
TINY = JudgeConfig(size=32, widths=(8, 16), dense=16, epochs=2, batch_size=16, seed=0)


def test_the_rare_share_is_drawn_rare_enriched_after_the_rest():
    data = gi_sim_data(40, 32, 3, rare_share=0.25)
    assert data.rare.tolist() == [False] * 30 + [True] * 10 and "10 rare-enriched" in data.source
    rows = np.arange(25, 35)
    assert data.natural(rows).tolist() == [25, 26, 27, 28, 29]
    assert data.natural(np.arange(30, 40)).tolist() == list(range(30, 40))  # none natural: all of them


def test_fit_stores_thresholds_and_what_it_cannot_certify(monkeypatch):
    import promptopt.scorers.judge_training as training

    calibrated = []
    real = training.calibrate
    monkeypatch.setattr(
        training, "calibrate", lambda judge, pixels, *a: calibrated.append(len(pixels)) or real(judge, pixels, *a)
    )
    data = gi_sim_data(120, 32, 0, rare_share=0.5)
    judge, metrics = fit_judge_on(data, None, TINY, holdout=0.4)
    assert calibrated and calibrated[0] < 24  # the 24 calibration images less the rare-enriched ones
    assert judge.thresholds.shape == (len(OUTPUTS),) and ((0 <= judge.thresholds) & (judge.thresholds <= 1)).all()
    certification = judge.meta["certification"]
    assert certification["bar"] == {"precision": 0.9, "recall": 0.9, "positives": 30}
    assert certification["n_test"] == 24 and set(certification["outputs"]) == set(OUTPUTS)
    assert "injection needle" in judge.uncertifiable  # 24 test images cannot hold 30 positives of anything
    assert set(judge.uncertifiable) == set(OUTPUTS)
    assert metrics["outputs"]["polyp"]["threshold"] == pytest.approx(judge.thresholds[OUTPUTS.index("polyp")])
