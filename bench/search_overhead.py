"""Share of a short offline search's wall time spent outside generator and scorer calls (target: < 5%).

Usage: .venv/bin/python bench/search_overhead.py [--trials 10] [--category polyp]
Runs the shipped study (tiny-random generator, GI-sim reference) in a temporary folder and prints the
split of the search loop's wall time; model loading is reported separately.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from promptopt.core.libraries import quiet_libraries  # noqa: E402
from promptopt.core.paths import RunPaths  # noqa: E402
from promptopt.search.loop import run_search  # noqa: E402
from promptopt.search.mutator import build_mutator  # noqa: E402
from promptopt.search.study_open import open_study
from promptopt.study.config import load_study  # noqa: E402
from promptopt.study.factory import build_generator, build_realism, build_scorers

STUDIES = Path(__file__).resolve().parents[1] / "studies"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--category", default="polyp")
    args = parser.parse_args()
    cfg = load_study(STUDIES / f"{args.category}.toml").with_study(n_trials=args.trials)
    quiet_libraries()
    t0 = time.perf_counter()
    generator = build_generator(cfg)
    realism = build_realism(cfg, device=generator.device)
    scorers = build_scorers(cfg, realism, device=generator.device)
    mutator = build_mutator(cfg)
    load_s = time.perf_counter() - t0
    with tempfile.TemporaryDirectory() as tmp:
        paths = RunPaths(Path(tmp) / cfg.study.name)
        study = open_study(cfg, paths)
        result = run_search(cfg, paths, study, generator=generator, scorers=scorers, mutator=mutator)
    t = result.timing
    other = t.total_s - t.render_s - t.score_s
    print(
        f"study {cfg.study.name}: {result.n_complete} trials, {cfg.study.images_per_trial} images/trial, "
        f"{cfg.generator.height}x{cfg.generator.width}, device {generator.device}"
    )
    print(f"loading models (once): {load_s:.2f} s")
    print(f"search loop: {t.total_s:.2f} s = render {t.render_s:.2f} s + score {t.score_s:.2f} s + other {other:.2f} s")
    print(f"share outside generator and scorer calls: {t.overhead_share:.1%} (target < 5%)")
    print(f"per trial: other {other / max(result.n_complete, 1) * 1000:.0f} ms")


if __name__ == "__main__":
    main()
