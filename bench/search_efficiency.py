"""How fast each sampler finds good prompts for a fine-grained target: the default (TPE) against random search and
Optuna's Gaussian-process sampler, which handles categorical spaces.

Usage: .venv/bin/python bench/search_efficiency.py [--study studies/polyp-is.toml] [--samplers random tpe gp]
       [--seed-sets 5] [--trials 16] [--images-per-trial 8] [--out bench/results/search_efficiency.json]
For each sampler and seed set s (study seed s: the sampler's seed and the evaluation seeds), a fresh study of
--trials trials (no export), with the generator and scorers loaded once. Trial 0 is the plain seed prompt in every
study. Prints, per sampler, the median best-so-far objective after each trial (over the seed sets) and the renders
it needs to reach random search's median final best (a repeated candidate renders nothing; the median over the
seed sets, `>N` when fewer than half reach it); writes the figures as JSON and the median curves with their
interquartile bands as a PNG beside it.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402

from promptopt.core.libraries import quiet_libraries  # noqa: E402
from promptopt.core.paths import RunPaths  # noqa: E402
from promptopt.search.loop import run_search  # noqa: E402
from promptopt.search.mutator import build_mutator  # noqa: E402
from promptopt.search.study_open import open_study
from promptopt.study.config import StudyConfig, load_study  # noqa: E402
from promptopt.study.factory import build_generator, build_realism, build_scorers

ROOT = Path(__file__).resolve().parents[1]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--study", type=Path, default=ROOT / "studies" / "polyp-is.toml")
    parser.add_argument("--samplers", nargs="+", default=["random", "tpe", "gp"])
    parser.add_argument("--seed-sets", type=int, default=5)
    parser.add_argument("--trials", type=int, default=16)
    parser.add_argument("--images-per-trial", type=int, default=8)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "search_efficiency.json")
    return parser.parse_args()


def one_run(cfg: StudyConfig, parts: tuple) -> tuple[list[float], list[int]]:
    """Best-so-far objective and cumulative renders after each trial of a fresh study."""
    generator, scorers, mutator = parts
    with tempfile.TemporaryDirectory() as tmp:
        paths = RunPaths(Path(tmp) / cfg.study.name)
        result = run_search(cfg, paths, open_study(cfg, paths), generator=generator, scorers=scorers, mutator=mutator)
    best, renders, so_far, rendered = [], [], -np.inf, 0
    for record in sorted(result.new_trials, key=lambda r: r.number):
        so_far = max(so_far, record.values[0])
        rendered += 0 if record.duplicate_of is not None else cfg.study.images_per_trial
        best.append(float(so_far))
        renders.append(rendered)
    return best, renders


def renders_to_reach(curves: list[tuple[list[float], list[int]]], level: float) -> float | None:
    """Median over seed sets of the renders after which best-so-far ≥ level (None: under half reach it)."""
    needed = [next((r for b, r in zip(best, renders) if b >= level), None) for best, renders in curves]
    median = statistics.median([np.inf if n is None else n for n in needed])
    return None if np.isinf(median) else float(median)


def plot(report: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=120)
    k = report["images_per_trial"]
    for name, r in report["samplers"].items():
        runs = np.array([best for best, _ in r["curves"]])
        x = np.arange(1, runs.shape[1] + 1)
        q1, med, q3 = np.percentile(runs, [25, 50, 75], axis=0)
        ax.plot(x, med, label=f"{name} (median of {len(runs)})")
        ax.fill_between(x, q1, q3, alpha=0.2)
    ax.set_xlabel(f"trials ({k} images each; a repeated candidate renders none)")
    ax.set_ylabel(f"best-so-far {report['objective']}")
    ax.set_title(f"{report['study']}: best so far, median and interquartile range")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)


def main() -> None:
    args = parse_args()
    quiet_libraries()
    base = load_study(args.study).with_study(n_trials=args.trials, images_per_trial=args.images_per_trial)
    start = time.perf_counter()
    generator = build_generator(base)
    realism = build_realism(base, device=generator.device)
    parts = (generator, build_scorers(base, realism, device=generator.device), build_mutator(base))
    report = {
        "study": base.study.name,
        "objective": base.objectives[0].name,
        "target": base.study.target,
        "trials": args.trials,
        "images_per_trial": args.images_per_trial,
        "seed_sets": args.seed_sets,
        "samplers": {},
    }
    for name in args.samplers:
        curves = []
        for seed in range(args.seed_sets):
            cfg = base.with_study(seed=seed, sampler=name)
            curves.append(one_run(cfg, parts))
            print(f"{name} seed set {seed}: final best {curves[-1][0][-1]:.4f} ({time.perf_counter() - start:.0f} s)")
        report["samplers"][name] = {"curves": curves}
    reference = statistics.median(c[0][-1] for c in report["samplers"]["random"]["curves"])
    report["random_final_best_median"] = reference
    print(
        f"\n{report['study']} (target {report['target']}), {args.trials} trials × {args.images_per_trial} images, "
        f"{args.seed_sets} seed sets; random search's median final best {reference:.4f}"
    )
    print(f"{'sampler':<8} {'median best after trial 1, 4, 8, last':<40} {'renders to reach random final best'}")
    for name, r in report["samplers"].items():
        median = [statistics.median(best[i] for best, _ in r["curves"]) for i in range(args.trials)]
        r["median_curve"] = median
        r["renders_to_random_best"] = renders_to_reach(r["curves"], reference)
        picks = [median[i] for i in (0, 3, 7, args.trials - 1) if i < args.trials]
        needed = r["renders_to_random_best"]
        shown = f">{args.trials * args.images_per_trial}" if needed is None else f"{needed:.0f}"
        print(f"{name:<8} {'  '.join(f'{v:.4f}' for v in picks):<40} {shown}")
    report["seconds"] = round(time.perf_counter() - start, 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    plot(report, args.out.with_suffix(".png"))
    print(f"wrote {args.out} and {args.out.with_suffix('.png')} in {report['seconds']:.0f} s")


if __name__ == "__main__":
    main()
