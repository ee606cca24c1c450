"""The 2024 protocol's downstream test, offline: train a classifier on each synthetic set, test it on real
held-out GI-sim (TSTR), beside the same classifier trained on real GI-sim (TRTR).

Usage: .venv/bin/python bench/opg_tstr.py --opg runs/opg [--n 1000] [--real-n 1000] [--real-seed 4242]
       [--threshold 0.5] [--backbone inception] [--out bench/results/opg_tstr.json]
`--opg` is a finished `promptopt opg` run; its generator renders every set at its settings, --n images each:
- (a) `development`: the development prompts drawn at their frequencies (seeded), plain (guidance 7.5, 20 steps);
- (b) `opg`: the run's exported prompts, mixed over its targets as its training set is (`promptopt.opg.training_set`);
- (c) `opg-filtered`: (b)'s mix rendered twice over, keeping the first --n images whose judge consistency with
  their own prompt is at least --threshold (fewer when not enough pass: the report says how many);
- (d) `random`: random grammar prompts (one or two attribute values of any category), plain.
Every synthetic set is labelled closed-world (`promptopt.datasets.labels`: what an image's prompt does not make present is
absent), the same rule for all four, because OPG prompts only say what is there and would otherwise give no
negatives; a set whose prompts also state absences (the development prompts) is measured a second time read as
prompted, `<set> (as prompted)`. The real set is GI-sim seed --real-seed (used nowhere else), challenge layout,
labelled by its prompts; `promptopt.evaluate.tstr` holds out a part of it as the test set. Renders live under
`<opg>/tstr/n<N>-seed<S>/` and resume. Prints per set the macro recall, F1 and AUROC over the attributes both sides
could learn (TRTR over the same attributes beside it, so the ratio compares like with like) and TSTR/TRTR of the
macro F1, then the same over the attributes the four sets (a) to (d) share (the figures to compare across sets),
and writes everything as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402

from promptopt import grammar  # noqa: E402
from promptopt.core.errors import InputError  # noqa: E402
from promptopt.core.libraries import quiet_libraries  # noqa: E402
from promptopt.core.paths import RunPaths, cache_dir  # noqa: E402
from promptopt.datasets.prompt_files import PromptSpec  # noqa: E402
from promptopt.evaluate.tstr import tstr  # noqa: E402
from promptopt.grammar.vocabulary import COLORS, FINDINGS, INSTRUMENTS, LANDMARKS, PARIS_TYPES, POLYP_SIZES  # noqa: E402
from promptopt.judge.scorer import open_judge  # noqa: E402
from promptopt.judge.targets import Target  # noqa: E402
from promptopt.opg.plan import STUDIES_DIR, PlannedStudy, exported_specs, recorded_targets  # noqa: E402
from promptopt.opg.training_set import RENDERED, judged, labelled, read_records, shares, write_views  # noqa: E402
from promptopt.render.imagefolder import RenderJob, render_folder  # noqa: E402
from promptopt.scorers.backbones import load_backbone  # noqa: E402
from promptopt.sim.writer import gi_sim_dataset  # noqa: E402
from promptopt.study.config import load_study  # noqa: E402
from promptopt.study.factory import build_generator  # noqa: E402

PLAIN = {"negative_prompt": "", "guidance_scale": 7.5, "steps": 20}
RANDOM_VALUES = {"findings": FINDINGS, "instruments": INSTRUMENTS, "landmarks": LANDMARKS,
                 "polyp_types": PARIS_TYPES, "polyp_sizes": POLYP_SIZES, "colors": COLORS}  # fmt: skip


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--opg", type=Path, required=True, help="a finished promptopt opg run folder")
    parser.add_argument("--n", type=int, default=1000, help="images in each synthetic set")
    parser.add_argument("--real-n", type=int, default=1000)
    parser.add_argument("--real-seed", type=int, default=4242)
    parser.add_argument("--threshold", type=float, default=0.5)
    parser.add_argument("--backbone", default="inception")
    parser.add_argument("--seed", type=int, default=0, help="prompt draws and render seeds")
    parser.add_argument("--out", type=Path, default=Path("bench/results/opg_tstr.json"))
    return parser.parse_args()


def opg_studies(run: Path) -> list[tuple[PlannedStudy, object]]:
    """Each study of the opg run with its config (targets read back from the studies' config.toml)."""
    slugs = recorded_targets(run)
    if slugs is None:
        raise SystemExit(f"{run} holds no promptopt opg run (no plan.json)")
    found = []
    for slug in slugs:
        paths = RunPaths(run / STUDIES_DIR / slug)
        cfg = load_study(paths.config)
        found.append((PlannedStudy(slug, Target(cfg.study.category, cfg.study.target), paths), cfg))
    return found


def development_specs(n: int, rng: np.random.Generator) -> list[PromptSpec]:
    prompts, counts = zip(*grammar.challenge_prompts())
    drawn = rng.choice(len(prompts), size=n, p=np.array(counts) / sum(counts))
    return [PromptSpec(prompts[i], **PLAIN) for i in drawn]


def random_specs(n: int, rng: np.random.Generator) -> list[PromptSpec]:
    """Prompts of one or two random attribute values (different keys), rendered by the grammar."""
    keys = list(RANDOM_VALUES)
    out = []
    for _ in range(n):
        chosen = rng.choice(len(keys), size=rng.integers(1, 3), replace=False)
        attrs = {keys[k]: [str(rng.choice(RANDOM_VALUES[keys[k]]))] for k in chosen}
        out.append(PromptSpec(grammar.phrase(attrs), **PLAIN))
    return out


def rendered(folder: Path, specs: list[PromptSpec], seed: int, cfg, generator) -> Path:
    render_folder(RenderJob(tuple(specs), 1, seed, cfg.generator), folder, generator, prompts_file=folder.name)
    return folder


def filtered(folder: Path, parts, n: int, threshold: float, seed: int, cfg, generator, judge) -> tuple[Path, int]:
    """(c): the mix rendered under `folder`/rendered, its first `n` consistent images as `folder`/imagefolder."""
    rendered(folder / RENDERED, [p for part in parts for p in part.prompts], seed, cfg, generator)
    rows = labelled(read_records(folder / RENDERED), [part.category for part in parts for _ in part.prompts])
    scores = judged(folder / RENDERED, rows, judge)
    kept = [{**row, "consistency": c} for row, c in zip(rows, scores) if c >= threshold][:n]
    write_views(folder, kept)
    return folder / "imagefolder", len(kept)


def main() -> None:
    args = parse_args()
    quiet_libraries()
    start = time.perf_counter()
    studies = opg_studies(args.opg)
    cfg = studies[0][1]
    generator = build_generator(cfg)
    judge = open_judge(cfg.scorers.judge.model, "[scorers.judge] model")
    targets = [s.target for s, _ in studies]
    exported = [exported_specs(s) for s, _ in studies]
    work = args.opg / "tstr" / f"n{args.n}-seed{args.seed}"  # another size or seed draws other prompts
    rng = np.random.default_rng(args.seed)
    sets = {
        "development": rendered(work / "development", development_specs(args.n, rng), args.seed, cfg, generator),
        "opg": rendered(
            work / "opg",
            [p for part in shares(targets, exported, args.n) for p in part.prompts],
            args.seed,
            cfg,
            generator,
        ),
    }
    sets["opg-filtered"], kept = filtered(
        work / "opg-filtered",
        shares(targets, exported, 2 * args.n),
        args.n,
        args.threshold,
        args.seed + 1,
        cfg,
        generator,
        judge,
    )
    sets["random"] = rendered(work / "random", random_specs(args.n, rng), args.seed, cfg, generator)
    real = gi_sim_dataset(args.real_n, cfg.generator.height, args.real_seed, cache_dir())
    backbone = load_backbone(args.backbone)
    results = {name: tstr(folder, real, backbone, closed_world=True) for name, folder in sets.items()}
    as_prompted = {}  # the sets whose prompts also state absences, read as they are (no closed world)
    for name, folder in sets.items():
        try:
            as_prompted[f"{name} (as prompted)"] = tstr(folder, real, backbone)
        except InputError:
            pass
    report = {
        "opg": str(args.opg),
        "n": args.n,
        "filtered_kept": kept,
        "threshold": args.threshold,
        "real": {"seed": args.real_seed, "n": args.real_n},
        "backbone": args.backbone,
        "sets": results,
    }
    print(
        f"TSTR on GI-sim seed {args.real_seed} ({args.real_n} images, the held-out part), {args.n} synthetic "
        f"images a set ((c) kept {kept}), backbone {args.backbone}"
    )
    common = sorted(set.intersection(*(set(r["attributes"]) for r in results.values())))  # of (a) to (d)
    results.update(as_prompted)
    report["common_attributes"] = common
    print(
        f"macro over each set's own attributes, then over the {len(common)} the four sets share "
        f"({', '.join(common)}; an 'as prompted' row: those of them it has, m)"
    )
    print(
        f"{'set':<26} {'recall':>7} {'F1':>7} {'AUROC':>7} {'TRTR F1':>8} {'ratio':>6}  n | {'F1':>6} {'AUROC':>6} "
        f"{'TRTR F1':>8} {'ratio':>6}  m"
    )
    for name, r in results.items():
        t, ceiling = r["macro"]["tstr"], r["macro"]["trtr"]
        mine = [a for a in common if a in r["attributes"]]
        shared = {
            side: {
                k: float(np.mean([r["attributes"][a][side][k] for a in mine])) if mine else float("nan")
                for k in ("f1", "auroc")
            }
            for side in ("tstr", "trtr")
        }
        r["macro_common"] = {**shared, "attributes": mine}
        print(
            f"{name:<26} {t['recall']:>7.3f} {t['f1']:>7.3f} {t['auroc']:>7.3f} {ceiling['f1']:>8.3f} "
            f"{t['f1'] / ceiling['f1']:>6.2f}  {len(r['attributes'])} | {shared['tstr']['f1']:>6.3f} "
            f"{shared['tstr']['auroc']:>6.3f} {shared['trtr']['f1']:>8.3f} "
            f"{shared['tstr']['f1'] / shared['trtr']['f1']:>6.2f}  {len(mine)}"
        )
    report["seconds"] = round(time.perf_counter() - start, 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.out} in {report['seconds']:.0f} s")


if __name__ == "__main__":
    main()
