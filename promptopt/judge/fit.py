"""Fitting the judge on a dataset, in the generator's image domain.

Data (`judge_data`):
- `gi-sim`: GI-sim images simulated in memory, with their complete ground truth: a share (`rare_share`, by
  default half) drawn rare-enriched (`promptopt.sim.config.rare_enriched`: every scene, instrument, Paris type,
  size and colour set equally likely), so that the judge sees the rare attributes often enough to learn them,
  and the rest at the development frequencies;
- a folder with GI-sim's `labels.jsonl` (what `promptopt data sim` writes): its images with complete ground truth;
- any other dataset (challenge layout or imagefolder + metadata.jsonl): labels from its prompts, with unknowns
  masked (`promptopt.judge.schema`).

Domain (`in_domain`): a share of the training images (by default 70 %, chosen by seed) go through the
generator's autoencoder round trip, as every generated image does; the rest stay clean. The held-out images
are split in two, a calibration half and a test half, both entirely round-tripped, because the judge's job is
generated images. On the calibration half: the temperatures from its images at the development frequencies only
(so probabilities stay calibrated at the frequencies the data has), then each output's decision threshold from
all of it (the rare-enriched images give the rare outputs their positives). On the test half: the metrics saved
with the judge, at the development frequencies (`metrics`) and over all of it (`certification`), which marks the
outputs that miss the bar as uncertifiable.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from promptopt.core.errors import InputError
from promptopt.core.images import load_images, stack
from promptopt.core.progress import Progress
from promptopt.datasets.layouts import load_dataset
from promptopt.judge.schema import ANY_OF, OUTPUTS, SCHEMA, judge_targets
from promptopt.scorers.assets import GI_SIM
from promptopt.scorers.fitting import holdout_split
from promptopt.scorers.judge import Judge, JudgeConfig
from promptopt.sim.config import SimConfig, rare_enriched
from promptopt.sim.writer import read_labels

DOMAIN_SHARE = 0.7
RARE_SHARE = 0.5  # of --data gi-sim images drawn rare-enriched


@dataclass(frozen=True)
class JudgeData:
    """Images as uint8 NHWC pixels with (y, known) over `promptopt.judge.schema.OUTPUTS`; `source` says where from."""

    pixels: np.ndarray
    y: np.ndarray
    known: np.ndarray
    source: str
    complete: bool
    rare: np.ndarray | None = None  # per image: drawn rare-enriched (None: every image at the data's frequencies)

    def subset(self, rows: np.ndarray) -> JudgeData:
        rare = None if self.rare is None else self.rare[rows]
        return JudgeData(self.pixels[rows], self.y[rows], self.known[rows], self.source, self.complete, rare)

    def natural(self, rows: np.ndarray) -> np.ndarray:
        """Those of `rows` drawn at the data's own frequencies (all of them when none was enriched)."""
        return rows if self.rare is None or self.rare[rows].all() else rows[~self.rare[rows]]


def gi_sim_data(
    n: int, size: int, seed: int, progress: Progress | None = None, *, rare_share: float = RARE_SHARE
) -> JudgeData:
    """`n` GI-sim images of run `seed` at `size`, simulated in memory, with complete ground truth: the first
    n - round(n * rare_share) at the development frequencies, the rest rare-enriched (the next indices)."""
    from promptopt.sim.scene import simulate

    n_rare = round(n * rare_share)
    images, labels = [], []
    for index in range(n):
        image, truth = simulate(seed, index, size, SimConfig() if index < n - n_rare else rare_enriched())
        images.append(np.asarray(image.convert("RGB"), dtype=np.uint8))
        labels.append(truth.as_dict())
        if progress is not None:
            progress("simulating GI-sim", index + 1, n)
    y, known = judge_targets(labels, complete=True)
    rare = np.arange(n) >= n - n_rare
    source = f"gi-sim seed {seed}, {n} images at {size}x{size} ({n_rare} rare-enriched)"
    return JudgeData(np.stack(images), y, known, source, True, rare)


def folder_data(path: Path, size: int) -> JudgeData:
    """A dataset folder: complete labels from GI-sim's labels.jsonl when it has one, else from its prompts."""
    truth = read_labels(path)
    if truth is not None:
        files = [path / "images" / name for name in truth]
        y, known = judge_targets(list(truth.values()), complete=True)
        return JudgeData(stack(load_images(files), size), y, known, str(path), True)
    dataset = load_dataset(path)
    y, known = judge_targets((item.labels for item in dataset.items), complete=False)
    pixels = stack(load_images([item.image for item in dataset.items]), size)
    return JudgeData(pixels, y, known, str(path), False)


def judge_data(
    data: str, *, n: int, size: int, seed: int, rare_share: float = RARE_SHARE, progress: Progress | None = None
) -> JudgeData:
    """What `--data` names (module docstring); InputError for fewer than 10 images."""
    if data == GI_SIM:
        found = gi_sim_data(n, size, seed, progress, rare_share=rare_share)
    else:
        found = folder_data(Path(data).expanduser(), size)
    if len(found.pixels) < 10:
        raise InputError(f"--data {data}: {len(found.pixels)} image(s); fitting a judge needs at least 10")
    return found


def in_domain(pixels: np.ndarray, autoencoder: Any, share: float, seed: int) -> np.ndarray:
    """A copy of `pixels` with a seeded `share` of them through `autoencoder.round_trip`."""
    out = pixels.copy()
    if autoencoder is None or share <= 0:
        return out
    rows = np.sort(np.random.default_rng(seed).permutation(len(pixels))[: round(len(pixels) * share)])
    out[rows] = autoencoder.round_trip(pixels[rows])
    return out


def fit_judge_on(
    data: JudgeData,
    autoencoder: Any,
    config: JudgeConfig,
    *,
    holdout: float,
    share: float = DOMAIN_SHARE,
    on_epoch: Any = None,
) -> tuple[Judge, dict[str, Any]]:
    """Fit, calibrate and measure a judge (module docstring); the metrics also go into its meta."""
    from promptopt.scorers.judge_training import calibrate, fit_judge

    train, held = held_out(data, holdout, config.seed)
    pixels = in_domain(data.pixels[train], autoencoder, share, config.seed)
    judge = fit_judge(pixels, data.y[train], data.known[train], SCHEMA, config, any_of=ANY_OF, on_epoch=on_epoch)
    calib_pixels, test_pixels = (in_domain(data.pixels[rows], autoencoder, 1.0, 0) for rows in held)
    natural = np.isin(held[0], data.natural(held[0]))
    calibrate(judge, calib_pixels[natural], data.y[held[0]][natural], data.known[held[0]][natural])
    metrics, certification = decide_and_certify(judge, data, held, (calib_pixels, test_pixels))
    judge.meta.update(
        data={"source": data.source, "images": len(data.pixels), "complete_labels": data.complete},
        autoencoder=None if autoencoder is None else {"model": autoencoder.model, "identity": autoencoder.identity},
        domain_share=share if autoencoder is not None else 0.0,
        holdout=holdout,
        n_calibration=len(held[0]),
        n_test=len(held[1]),
        metrics=metrics,
        certification=certification,
        outputs_count=len(OUTPUTS),
    )
    return judge, metrics


def held_out(data: JudgeData, holdout: float, seed: int) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]:
    """(training rows, (calibration rows, test rows)): a seeded split, the held-out half and half."""
    train, rest = holdout_split(len(data.pixels), holdout, seed)
    return train, (rest[::2], rest[1::2])


def decide_and_certify(
    judge: Judge, data: JudgeData, held: tuple[np.ndarray, np.ndarray], pixels: tuple[np.ndarray, np.ndarray]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Each output's decision threshold from the calibration images, then on the test images the metrics at the
    development frequencies and the certification over all of them (module docstring); sets the judge's
    `thresholds` and `uncertifiable`. `held` are the (calibration, test) rows, `pixels` their round-tripped
    images."""
    from promptopt.scorers.judge_training import CERTIFY, choose_thresholds, judge_metrics, uncertifiable

    (calib, test), (calib_pixels, test_pixels) = held, pixels
    judge.thresholds = choose_thresholds(judge.predict_pixels(calib_pixels), data.y[calib], data.known[calib])
    proba = judge.predict_pixels(test_pixels)
    natural = np.isin(test, data.natural(test))
    metrics = judge_metrics(proba[natural], data.y[test][natural], data.known[test][natural], SCHEMA, judge.thresholds)
    outputs = judge_metrics(proba, data.y[test], data.known[test], SCHEMA, judge.thresholds)["outputs"]
    judge.uncertifiable = tuple(uncertifiable(outputs))
    return metrics, {"bar": CERTIFY, "n_test": len(test), "outputs": outputs}
