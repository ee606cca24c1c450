"""The generation loop on gi-sim-tiny: what targeted fine-tunes teach it, checked by the guards. Prints a
before/after table and writes every figure as JSON.

    .venv/bin/python bench/tune_loop.py [--images 24] [--steps 1500] [--out bench/results/tune_loop.json]
                                        [--work /tmp/tune_loop] [--ablation] [--noise AUDIT_JSON]

- one adapter per category, from the 3,000 GI-sim images gi-sim-tiny learnt from (seed 0, 64×64), each the
  default `promptopt tune` (`promptopt.loop.tune.TuneConfig`), on the rare and unbound attributes of issue 26:
  instrument (injection needle, metal clip), landmark (pylorus, ileum), polyp (Paris IIa, 2 polyps, grey, brown);
- each checked as `promptopt tune` checks it: gi-sim-tiny and the tuned model audited on every single-clause
  prompt (`--images` fresh seeds), then the three guards (forgetting, copying, realism);
- the table: per tuned clause, its training images, the base and tuned hit rates with their 95 % intervals;
- `--noise`: the forgetting guard applied to gi-sim-tiny against its own audit on other seeds, which says how
  much of a failed guard sampling noise alone explains;
- `--ablation`: the instrument adapter again with attention-only LoRA, with 400 other images (a larger target
  share), and with half the steps, audited on the instrument clauses and the clauses the base draws, so that the defaults are measured.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

from promptopt.judge.targets import parse_target
from promptopt.loop.run import tune_and_check
from promptopt.loop.tune import TuneConfig

PLAN = {
    "instrument": ["instrument: injection needle", "instrument: metal clip"],
    "landmark": ["landmark: the pylorus", "landmark: the ileum"],
    "polyp": ["polyp: type iia", "polyp: 2 polyps", "polyp: color grey", "polyp: color brown"],
}
ABLATION = {
    "attention only": {"modules": "attention"},
    "others 400": {"others": 400},
    "half the steps": {"steps": 750},
}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=24, help="renders a clause in each audit")
    parser.add_argument("--steps", type=int, default=None, help="optimizer steps of each tune (default: TuneConfig's)")
    parser.add_argument("--work", type=Path, default=Path("/tmp/tune_loop"), help="adapters and renders")
    parser.add_argument("--out", type=Path, default=Path("bench/results/tune_loop.json"))
    parser.add_argument("--ablation", action="store_true")
    parser.add_argument("--categories", nargs="*", default=list(PLAN))
    parser.add_argument(
        "--noise",
        type=Path,
        default=None,
        help="audit.json of gi-sim-tiny on other seeds (promptopt audit --seed-start 9000000000000): the forgetting "
        "guard applied to the base model against itself, what sampling noise alone fails",
    )
    return parser.parse_args()


def noise(base_rows: list[dict], other: Path) -> dict:
    """The forgetting guard with the base model's audit as 'tuned': the same model on other seeds."""
    from promptopt.loop.audit import AuditRow
    from promptopt.loop.guards import forgetting

    rows = json.loads(other.read_text())["rows"]
    guard = forgetting([AuditRow(**r) for r in base_rows], [AuditRow(**r) for r in rows])
    print(f"\ngi-sim-tiny against itself ({other}): no forgetting {'passed' if guard.passed else 'FAILED'}")
    print(f"  ({guard.detail})")
    return {"audit": str(other), "passed": guard.passed, "detail": guard.detail, "figures": guard.figures}


def row_of(check: dict, clause: str) -> tuple[dict, dict]:
    base = next(r for r in check["audit"]["base"] if r["clause"] == clause)
    tuned = next(r for r in check["audit"]["tuned"] if r["clause"] == clause)
    return base, tuned


def clause_of(text: str) -> str:
    from promptopt.loop.verify import target_clause

    return target_clause(parse_target(text)).output


def report(name: str, done: dict, texts: list[str], seconds: float) -> dict:
    check, record = done["check"], done["tune"]
    print(f"\n{name}: {record['examples']} examples, {record.get('steps')} steps, {seconds / 60:.1f} min")
    rows = []
    for text in texts:
        target = parse_target(text)
        base, tuned = row_of(check, clause_of(text))
        images = len(record["target_images"][target.slug])
        rows.append({"target": text, "clause": base["clause"], "training_images": images, "base": base, "tuned": tuned})
        mark = "" if tuned["checkable"] else "  (cannot be checked by this judge)"
        print(
            f"  {base['clause']:<22} {images:>4} images  hit rate {base['hit_rate']:.2f} "
            f"[{base['ci_low']:.2f}, {base['ci_high']:.2f}] → {tuned['hit_rate']:.2f} "
            f"[{tuned['ci_low']:.2f}, {tuned['ci_high']:.2f}]{mark}"
        )
    for guard in check["guards"]:
        print(f"  {guard['name']}: {'passed' if guard['passed'] else 'FAILED'} ({guard['detail']})")
    return {"rows": rows, "guards": check["guards"], "passed": check["passed"], "seconds": round(seconds, 1)}


def progress(task: str, done: int, total: int) -> None:
    """One line per tenth of each task: the bench's output is a log, not a terminal."""
    if done == total or done % max(1, total // 10) == 0:
        print(f"    {task}: {done}/{total}", flush=True)


def tuned(texts: list[str], cfg: TuneConfig, folder: Path, args: argparse.Namespace) -> dict:
    """`tune_and_check` on `texts`, the audit renders shared by every adapter (gi-sim-tiny's are drawn once)."""
    return tune_and_check(
        [parse_target(t) for t in texts],
        cfg,
        folder,
        audit_images=args.images,
        renders=args.work / "audit-renders",
        on_step=lambda r: progress("tune", r.step, r.max_steps),
        progress=progress,
    )


def main() -> None:
    args = parse_args()
    base_cfg = TuneConfig() if args.steps is None else TuneConfig(steps=args.steps)
    results: dict = {"settings": dataclasses.asdict(base_cfg), "images": args.images, "adapters": {}}
    for category in args.categories:
        texts = PLAN[category]
        start = time.perf_counter()
        done = tuned(texts, base_cfg, args.work / category, args)
        results["adapters"][category] = report(category, done, texts, time.perf_counter() - start)
        base_rows = done["check"]["audit"]["base"]
    if args.noise is not None:
        results["noise"] = noise(base_rows, args.noise)
    if args.ablation:
        results["ablation"] = {}
        texts = PLAN["instrument"]
        for arm, change in ABLATION.items():
            cfg = dataclasses.replace(base_cfg, **change)
            start = time.perf_counter()
            folder = args.work / f"ablation-{arm.replace(' ', '-')}"
            done = tuned(texts, cfg, folder, args)
            results["ablation"][arm] = report(f"instrument, {arm}", done, texts, time.perf_counter() - start)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
