"""Audit a judge on the images it will see. Prints tables and writes every figure as JSON.

    .venv/bin/python bench/judge_audit.py [--judge gi-sim|FILE] [--seed 7] [--n 1000] [--rare 2000]
                                          [--renders 24] [--out bench/results/judge_audit.json]

- (a) held-out GI-sim run `--seed` (never used to fit the shipped judge): `--rare` images drawn rare-enriched
  (every scene, instrument, Paris type, size and colour set equally likely: each presence output the simulator
  draws gets its positives) and `--n` at the development frequencies, clean;
- (b) the same images after the generator's autoencoder round trip (gi-sim-tiny's VAE). Per output, at the judge's
  own decision thresholds: positives, AUROC, precision and recall on the rare-enriched images, and whether they
  meet the certification bar; per head the expected calibration error at the development frequencies
  (`promptopt.judge.audit`);
- (c) gi-sim-tiny renders (`--renders` seeds, guidance 7.5, 20 steps) of every single-clause challenge prompt
  (one prompt per clause, the most frequent wording): the share of renders on which the judge says the clause
  holds (at its output's threshold), and the shares it calls landmark / instrument / polyp. A clause held on
  under half of its own renders is one gi-sim-tiny does not draw, unless its output is one the judge cannot
  certify: then it is "cannot be checked by this judge", never "not drawn";
- (d) consistency of true claims against their negations on the (b) development-frequency images: per image,
  from its ground truth,
  "containing a polyp" ↔ "with no polyps", a named instrument ↔ "with no instruments", text and box artefact;
- (e) the consistency rules (mean, min, product) on a four-clause true claim against the same claim with one
  clause negated: mean levels and the AUROC of telling them apart.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from promptopt.judge.audit import AUDIT_NATURAL, AUDIT_RARE, AUDIT_SEED, judge_audit, macro
from promptopt.judge.consistency import RULES, clause_hits, clause_probabilities, clauses, combine
from promptopt.judge.fit import gi_sim_data
from promptopt.judge.schema import COLUMN
from promptopt.loop.audit import single_clause_prompts
from promptopt.scorers.fitting import auroc

RENDER_GUIDANCE, RENDER_STEPS = 7.5, 20


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--judge", default="gi-sim")
    parser.add_argument("--seed", type=int, default=AUDIT_SEED, help="GI-sim run of (a), (b), (d), (e)")
    parser.add_argument("--n", type=int, default=AUDIT_NATURAL, help="images at the development frequencies")
    parser.add_argument("--rare", type=int, default=AUDIT_RARE, help="images drawn rare-enriched")
    parser.add_argument("--renders", type=int, default=24, help="renders per prompt in (c); 0 skips (c)")
    parser.add_argument("--model", default="gi-sim-tiny", help="generator of (b) and (c)")
    parser.add_argument("--out", type=Path, default=Path("bench/results/judge_audit.json"))
    return parser.parse_args()


def _figures(m: dict) -> str:
    if m["auroc"] is None:
        return f"{m['n_present']:>5}      -      -      -"
    precision, recall = m["precision"] or 0.0, m["recall"] or 0.0
    return f"{m['n_present']:>5} {m['auroc']:6.3f} {precision:6.2f} {recall:6.2f}"


def print_outputs(report: dict, views: list[str]) -> None:
    """Per presence output: positives, AUROC, precision and recall at its threshold on each view."""
    heading = "  ".join(f"{v + ': n, AUROC, P, R':<28}" for v in views)
    print(f"\n(a)/(b) rare-enriched, per presence output at its threshold   {heading}")
    outputs = report[f"rare_enriched_{views[0]}"]["outputs"]
    for name, m in outputs.items():
        if m["head"] != "presence":
            continue
        cells = "  ".join(f"{_figures(report[f'rare_enriched_{v}']['outputs'][name]):<28}" for v in views)
        mark = "misses the bar" if name in report["misses_bar"] else ""
        print(f"  {name:<20} threshold {m['threshold']:.2f}  {cells} {mark}")
    for v in views:
        natural = report[f"natural_{v}"]
        print(f"  {v}, development frequencies: presence macro AUROC {macro(natural):.3f}, ECE {natural['ece']:.4f}")
        for head, h in natural["heads"].items():
            if h["macro_auroc"] is not None:
                print(f"    {head:<22} macro {h['macro_auroc']:.3f}  weakest {h['weakest']} {h['weakest_auroc']:.3f}"
                      f"  ECE {h['ece']:.4f}")  # fmt: skip


def responses(judge, model: str, renders: int) -> list[dict]:
    from promptopt.core.libraries import quiet_libraries
    from promptopt.core.paths import cache_dir
    from promptopt.generators.base import GeneratorConfig
    from promptopt.generators.diffusers_generator import load_generator

    quiet_libraries()
    generator = load_generator(GeneratorConfig(model=model, device="cpu", height=64, width=64), cache_dir=cache_dir())
    seeds = list(range(renders))
    rows = []
    cut = judge.threshold_array()
    for clause, prompt in single_clause_prompts(negations=True).items():
        images = generator.render([prompt] * renders, seeds, guidance_scale=RENDER_GUIDANCE, steps=RENDER_STEPS)
        proba = judge.predict(images)
        held = clause_probabilities(proba, [clause])[:, 0]
        hits = clause_hits(proba, [clause], cut)[:, 0]
        called = judge.decide(proba)
        share = {name: float(called[:, COLUMN[name]].mean()) for name in ("landmark", "instrument", "polyp")}
        checkable = clause.output not in judge.uncertifiable
        rows.append(
            {
                "prompt": prompt,
                "clause": clause.label,
                "checkable": checkable,
                "holds": float(hits.mean()),
                "consistency": float(held.mean()),
                **{f"called_{k}": v for k, v in share.items()},
            }
        )
        note = "" if checkable else "  (cannot be checked by this judge)"
        print(
            f"  {rows[-1]['holds']:.2f} {rows[-1]['consistency']:.2f}  landmark {share['landmark']:.2f} "
            f"instrument {share['instrument']:.2f} polyp {share['polyp']:.2f}  {prompt}{note}"
        )
    return rows


def _pair(holds: bool, claim: dict, negation: dict) -> tuple[dict, dict]:
    """(what is true of the image, what is false), given whether `claim` holds."""
    return (claim, negation) if holds else (negation, claim)


def claims(truth: dict) -> list[tuple[dict, dict]]:
    """(true claim, its negation) per attribute, in the grammar's form, from one image's ground truth."""
    named = truth["instruments"][:1] or ["tube"]
    return [
        _pair("polyp" in truth["findings"], {"findings": ["polyp"]}, {"polyp_count": 0}),
        _pair(bool(truth["instruments"]), {"instruments": named}, {"instrument_count": 0}),
        ({"text": truth["text"]}, {"text": not truth["text"]}),
        ({"box_artefact": truth["box_artefact"]}, {"box_artefact": not truth["box_artefact"]}),
    ]


def truth_against_falsehood(proba: np.ndarray, truths: list[dict], seed: int) -> dict:
    names = ("polyp", "instrument", "text", "box_artefact")
    true = {k: [] for k in names}
    false = {k: [] for k in names}
    rules = {r: {"true": [], "one_false": []} for r in RULES}
    rng = np.random.default_rng(seed)
    for row, truth in zip(proba, truths):
        pairs = claims(truth)
        for name, (yes, no) in zip(names, pairs):
            true[name].append(float(combine(clause_probabilities(row[None], clauses(yes)))[0]))
            false[name].append(float(combine(clause_probabilities(row[None], clauses(no)))[0]))
        flip = rng.integers(len(pairs))
        whole = [c for yes, _ in pairs for c in clauses(yes)]
        wrong = [c for i, (yes, no) in enumerate(pairs) for c in clauses(no if i == flip else yes)]
        for rule in RULES:
            rules[rule]["true"].append(float(combine(clause_probabilities(row[None], whole), rule)[0]))
            rules[rule]["one_false"].append(float(combine(clause_probabilities(row[None], wrong), rule)[0]))
    per = {k: {"true": float(np.mean(true[k])), "negation": float(np.mean(false[k]))} for k in names}
    per["all"] = {"true": float(np.mean(sum(true.values(), []))), "negation": float(np.mean(sum(false.values(), [])))}
    rule_table = {}
    for rule, v in rules.items():
        scores = np.array(v["true"] + v["one_false"])
        labels = np.array([True] * len(v["true"]) + [False] * len(v["one_false"]))
        rule_table[rule] = {
            "true": float(np.mean(v["true"])),
            "one_false": float(np.mean(v["one_false"])),
            "auroc": auroc(scores, labels),
        }
    return {"claims": per, "rules": rule_table}


def main() -> None:
    args = parse_args()
    from promptopt.core.paths import cache_dir
    from promptopt.generators.autoencoder import Autoencoder
    from promptopt.judge.scorer import open_judge
    from promptopt.sim.config import SimConfig
    from promptopt.sim.scene import simulate

    start = time.perf_counter()
    judge = open_judge(args.judge, "--judge")
    autoencoder = Autoencoder(args.model, cache_dir())
    audit = judge_audit(judge, autoencoder, seed=args.seed, n_natural=args.n, n_rare=args.rare)
    print(f"GI-sim seed {args.seed}: {args.rare} images rare-enriched, {args.n} at the development frequencies")
    print_outputs(audit, ["clean", "round_trip"])
    print(f"  outputs that miss the bar {audit['bar']}: {', '.join(audit['misses_bar']) or 'none'}")
    rendered, not_drawn, unchecked = [], [], []
    if args.renders:
        print(f"\n(c) {args.model} renders, {args.renders} a prompt: clause holds, consistency, called landmark/…")
        rendered = responses(judge, args.model, args.renders)
        not_drawn = [r["clause"] for r in rendered if r["holds"] < 0.5 and r["checkable"]]
        unchecked = [r["clause"] for r in rendered if not r["checkable"]]
        print(f"  clauses holding on under half of their own renders: {', '.join(not_drawn) or 'none'}")
        print(f"  cannot be checked by this judge: {', '.join(unchecked) or 'none'}")
    natural = gi_sim_data(args.n, judge.config.size, args.seed, rare_share=0.0)
    truths = [simulate(args.seed, i, judge.config.size, SimConfig())[1].as_dict() for i in range(args.n)]
    separation = truth_against_falsehood(
        judge.predict_pixels(autoencoder.round_trip(natural.pixels)), truths, args.seed
    )
    print("\n(d) consistency of true claims vs their negations, (b) images")
    for name, v in separation["claims"].items():
        print(f"  {name:<13} true {v['true']:.3f}  negation {v['negation']:.3f}")
    print("\n(e) rules: four-clause true claim vs one clause negated")
    for rule, v in separation["rules"].items():
        print(f"  {rule:<8} true {v['true']:.3f}  one false {v['one_false']:.3f}  AUROC {v['auroc']:.3f}")
    report = {
        "judge": args.judge,
        "model": args.model,
        "renders": args.renders,
        **audit,
        "renders_response": rendered,
        "not_drawn": not_drawn,
        "unchecked": unchecked,
        **separation,
        "seconds": round(time.perf_counter() - start, 1),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nwrote {args.out} in {report['seconds']} s")


if __name__ == "__main__":
    main()
