"""Choose a GI-sim judge's decision thresholds and certification again, without training it again: on the same
held-out images its fit used (the GI-sim run, split and autoencoder round trip its file records), with the
current rule (`promptopt.judge.fit.decide_and_certify`). Writes the judge file in place.

    .venv/bin/python bench/judge_thresholds.py [--judge scorers/gi-sim/judge.safetensors] [--rare-share 0.5]

The shipped judge's thresholds were chosen so (its fit, `promptopt fit judge --data gi-sim --gi-sim-images 16000
--epochs 14 --holdout 0.15`, took an hour; the rule changed after it): the same figures a fit with the rule would
have stored, since temperatures and weights do not depend on it.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from promptopt.core.libraries import quiet_libraries
from promptopt.core.paths import cache_dir
from promptopt.generators.autoencoder import Autoencoder
from promptopt.judge.fit import decide_and_certify, gi_sim_data, held_out, in_domain
from promptopt.judge.schema import SCHEMA
from promptopt.scorers.judge import load_judge


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--judge", type=Path, default=Path("scorers/gi-sim/judge.safetensors"))
    parser.add_argument("--rare-share", type=float, default=0.5, help="as the fit's --rare-share")
    args = parser.parse_args()
    quiet_libraries()
    judge = load_judge(args.judge, SCHEMA)
    meta = judge.meta
    data = gi_sim_data(meta["data"]["images"], judge.config.size, 0, rare_share=args.rare_share)
    _, held = held_out(data, meta["holdout"], judge.config.seed)
    autoencoder = Autoencoder(meta["autoencoder"]["model"], cache_dir())
    pixels = tuple(in_domain(data.pixels[rows], autoencoder, 1.0, 0) for rows in held)
    metrics, certification = decide_and_certify(judge, data, held, pixels)
    judge.meta.update(metrics=metrics, certification=certification)
    judge.save(args.judge)
    stored = json.loads(args.judge.with_suffix(".json").read_text())
    print(f"{args.judge}: {len(stored['uncertifiable'])} of {len(judge.outputs)} outputs uncertifiable")
    for name in stored["uncertifiable"]:
        m = certification["outputs"][name]
        print(f"  {name}: {m['n_present']} positives, precision {m['precision']}, recall {m['recall']}")


if __name__ == "__main__":
    main()
