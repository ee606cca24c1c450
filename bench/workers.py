"""Trials per minute with 1, 2 and 4 workers on one study, and the per-trial storage overhead of SQLite vs PostgreSQL.

Usage: .venv/bin/python bench/workers.py [--trials 16] [--postgres postgresql://user@127.0.0.1:5432/db]
(without --postgres: $PROMPTOPT_TEST_POSTGRES, else SQLite only)

Tiny CPU settings (tiny-random at 32x32, 2 images and 2 denoising steps per trial, a random 6-image reference).
Throughput: W `promptopt search` processes on one study with -n TRIALS, timed from the first trial's start to the
last trial's end (model loading excluded), on PostgreSQL when given, else SQLite. Overhead: one in-process search
per storage, the loop's time outside generator and scorer calls per trial (storage reads and writes, heartbeats,
sampling, PNG and JSON writes).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from promptopt.core.libraries import quiet_libraries  # noqa: E402
from promptopt.core.paths import RunPaths  # noqa: E402
from promptopt.core.tomlio import dumps  # noqa: E402
from promptopt.search.loop import run_search  # noqa: E402
from promptopt.search.mutator import build_mutator  # noqa: E402
from promptopt.search.storage import masked  # noqa: E402
from promptopt.search.study_open import open_study
from promptopt.study.config import from_dict  # noqa: E402
from promptopt.study.factory import build_generator, build_realism, build_scorers


def study_dict(reference: Path, name: str, n_trials: int) -> dict[str, Any]:
    return {
        "study": {"name": name, "category": "polyp", "n_trials": n_trials, "seed": 0, "images_per_trial": 2},
        "generator": {"model": "tiny-random", "height": 32, "width": 32, "device": "cpu"},
        "mutator": {"seed_prompts": 12, "guidance_min": 2.0, "guidance_max": 9.0, "guidance_step": 0.5, "steps": [2]},
        "scorers": {"intent": {}, "realism": {"reference": str(reference), "subset_size": 10}},
        "objectives": [{"name": "quality", "terms": {"intent": 1.0, "kid": -1.0}}],
        "export": {"top_k": 1, "images_per_prompt": 0, "validation_images": 0, "holdout_images": 0},
    }


def write_reference(folder: Path) -> None:
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(6):
        Image.fromarray(rng.integers(0, 256, (4, 4, 3)).astype(np.uint8)).resize((32, 32)).save(folder / f"{i}.png")


def throughput(tmp: Path, reference: Path, workers: int, trials: int, storage: str | None) -> float:
    """Trials per minute of `workers` processes on one new study."""
    import optuna

    name = f"b{uuid.uuid4().hex[:8]}"
    toml = tmp / f"{name}.toml"
    toml.write_text(dumps(study_dict(reference, name, trials)))
    cmd = [
        sys.executable,
        "-m",
        "promptopt.cli",
        "search",
        "--study",
        str(toml),
        "--out",
        str(tmp / "runs"),
        "--no-export",
    ]
    cmd += ["--storage", storage] if storage else []
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    procs = [subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env) for _ in range(workers)]
    for proc in procs:
        _, err = proc.communicate()
        if proc.returncode:
            raise SystemExit(f"worker failed: {err.decode()[-2000:]}")
    url = storage or RunPaths(tmp / "runs" / name).storage_url
    done = optuna.load_study(study_name=name, storage=url).get_trials(states=(optuna.trial.TrialState.COMPLETE,))
    span = max(t.datetime_complete for t in done) - min(t.datetime_start for t in done)
    return len(done) / span.total_seconds() * 60


def overhead_ms(tmp: Path, reference: Path, trials: int, storage: str | None, parts: tuple[Any, ...]) -> float:
    """Milliseconds per trial of one in-process search outside generator and scorer calls."""
    cfg = from_dict(study_dict(reference, f"o{uuid.uuid4().hex[:8]}", trials))
    paths = RunPaths(tmp / "overhead" / cfg.study.name)
    generator, scorers, mutator = parts
    study = open_study(cfg, paths, storage)
    result = run_search(cfg, paths, study, generator=generator, scorers=scorers, mutator=mutator)
    t = result.timing
    return (t.total_s - t.render_s - t.score_s) / max(len(result.new_trials), 1) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=16)
    parser.add_argument("--postgres", default=os.environ.get("PROMPTOPT_TEST_POSTGRES"))
    args = parser.parse_args()
    quiet_libraries()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        reference = tmp / "reference"
        write_reference(reference)
        storage = args.postgres
        where = masked(storage) if storage else "SQLite (one file in the run folder)"
        print(
            f"{args.trials} trials per study, tiny-random 32x32, 2 images x 2 steps, storage {where}, "
            f"{os.cpu_count()} CPUs"
        )
        for workers in (1, 2, 4):
            start = time.perf_counter()
            rate = throughput(tmp, reference, workers, args.trials, storage)
            wall = time.perf_counter() - start
            print(f"  {workers} worker(s): {rate:.1f} trials/min (wall with model loading {wall:.0f} s)")
        cfg = from_dict(study_dict(reference, "parts", args.trials))
        generator = build_generator(cfg)
        scorers = build_scorers(cfg, build_realism(cfg, device=generator.device), device=generator.device)
        parts = (generator, scorers, build_mutator(cfg))
        for label, url in (("SQLite", None), ("PostgreSQL", storage)):
            if label == "PostgreSQL" and not url:
                print("  PostgreSQL: no --postgres URL given")
                continue
            ms = overhead_ms(tmp, reference, args.trials, url, parts)
            print(f"  per-trial overhead outside render and score, one worker, {label}: {ms:.0f} ms")


if __name__ == "__main__":
    main()
