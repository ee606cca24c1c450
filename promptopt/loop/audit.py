"""What a generator draws: its drawability table, read by the judge.

Every single-clause prompt the grammar can state (the challenge's most frequent wording of each clause, or one the
grammar phrases when the challenge has none) is rendered on the same fresh seeds, and the judge says on how many
renders the clause holds at its output's decision threshold: the hit rate, with a 95 % Wilson interval, beside the
mean consistency and what the judge saw instead on the misses (the other values of the clause's own attribute:
the other instruments for an instrument, the other Paris types for a type). A clause on an output the judge cannot
certify is marked unchecked: its figures are shown, but they are no evidence either way.

Renders are cached by what they are (the generator's identity, the prompt, the sampling settings and the seed), so
a rerun, or one with more images, renders only what is missing.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from promptopt import grammar
from promptopt.core import atomic
from promptopt.core.errors import InputError
from promptopt.core.progress import Progress
from promptopt.generators.base import stable_identity
from promptopt.grammar.vocabulary import COUNT_KEYS, FLAG_KEYS
from promptopt.judge.consistency import Clause, clause_hits, clause_probabilities, clauses
from promptopt.judge.schema import COLUMN, OUTPUTS, PRESENCE

AUDIT_JSON, AUDIT_CSV, RENDERS_DIR = "audit.json", "audit.csv", "renders"
SEED_START = 7_000_000_000_000  # far above every study's seed sets (`promptopt.search.seeds`)
GUIDANCE, STEPS = 7.5, 20
HIT = 0.5  # a clause "drawn" at this hit rate or more
INSTEAD = 3  # what the judge saw instead: this many of the other values, most frequent first


@dataclass(frozen=True)
class AuditRow:
    """One clause's line of the table; `instead` names the other values of its attribute on the misses."""

    clause: str
    prompt: str
    n: int
    hits: int
    hit_rate: float
    ci_low: float
    ci_high: float
    consistency: float
    checkable: bool
    instead: str

    @property
    def drawn(self) -> bool | None:
        """Whether the model draws the clause (hit rate >= HIT); None when the judge cannot check it."""
        return self.hit_rate >= HIT if self.checkable else None


def wilson(hits: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """The 95 % Wilson score interval of a proportion `hits` / `n`."""
    if n == 0:
        return 0.0, 1.0
    p = hits / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def single_clause_prompts(wanted: Sequence[str] | None = None, *, negations: bool = False) -> dict[Clause, str]:
    """A prompt per single clause: the challenge's most frequent wording, else the grammar's phrasing of it;
    `wanted` keeps those clauses (judge output names, e.g. `metal clip`, `polyp_types=iia`), in that order.
    `negations` also keeps the challenge's single negated clauses ("not containing text")."""
    chosen: dict[Clause, str] = {}
    for prompt, _ in grammar.challenge_prompts():  # most frequent first
        found = clauses(grammar.parse(prompt))
        if len(found) == 1 and (found[0].holds or negations) and found[0] not in chosen:
            chosen[found[0]] = prompt
    if wanted is None:
        return chosen
    unknown = [name for name in wanted if name not in COLUMN]
    if unknown:
        raise InputError(
            f"--clauses {', '.join(unknown)}: not an attribute the grammar knows; name judge outputs such as "
            "'metal clip', 'pylorus', 'polyp_types=iia' (promptopt classify --json lists them)"
        )
    return {Clause(name): chosen.get(Clause(name)) or _phrased(name) for name in dict.fromkeys(wanted)}


def _phrased(output: str) -> str:
    """A prompt stating just `output`, phrased by the grammar."""
    key, _, value = output.partition("=")
    if output in FLAG_KEYS:
        return grammar.phrase({output: True})
    if not value:
        named = [k for k in ("findings", "landmarks", "instruments") if output in grammar.LIST_VALUES[k]]
        if not named:
            raise InputError(f"--clauses {output}: an 'any of' output; name its members (e.g. 'tube', 'z-line')")
        return grammar.phrase({named[0]: [output]})
    if key in COUNT_KEYS:
        return grammar.phrase({key: 3 if value == "3+" else int(value)})
    if key == "procedure":
        return grammar.phrase({key: value})
    return grammar.phrase({key: [value]})


def _instead_columns(clause: Clause) -> list[int]:
    """The judge columns of the other values of the clause's attribute (its "what instead")."""
    key, _, value = clause.output.partition("=")
    if not value:
        others = [name for name in PRESENCE if name not in ("instrument", "landmark", *FLAG_KEYS)]
    else:
        others = [name for name in OUTPUTS if name.startswith(f"{key}=")]
    return [COLUMN[name] for name in others if name != clause.output]


def render_key(identity: dict[str, Any], prompt: str, guidance: float, steps: int) -> str:
    """16 hex digits naming a prompt's renders by this generator and these settings (the seed names the file)."""
    recipe = json.dumps([stable_identity(identity), prompt, guidance, steps], sort_keys=True, default=str)
    return hashlib.sha256(recipe.encode()).hexdigest()[:16]


def cached_renders(
    generator: Any, prompt: str, seeds: Sequence[int], folder: Path, *, guidance: float, steps: int
) -> list[Any]:
    """The renders of `prompt` on `seeds`, those missing from `folder` rendered (one batch) and stored first."""
    from PIL import Image

    target = folder / render_key(generator.identity, prompt, guidance, steps)
    missing = [s for s in seeds if not (target / f"{s}.png").is_file()]
    if missing:
        target.mkdir(parents=True, exist_ok=True)
        images = generator.render([prompt] * len(missing), missing, guidance_scale=guidance, steps=steps)
        for seed, image in zip(missing, images):
            buffer = io.BytesIO()
            image.save(buffer, format="PNG")
            atomic.write_bytes(target / f"{seed}.png", buffer.getvalue())
    return [Image.open(target / f"{s}.png").convert("RGB") for s in seeds]


def audit(
    generator: Any,
    judge: Any,
    prompts: dict[Clause, str],
    *,
    images: int,
    renders: Path,
    seed_start: int = SEED_START,
    progress: Progress | None = None,
    task: str = "audit",
    kept: dict[Clause, list[Any]] | None = None,
) -> list[AuditRow]:
    """The drawability table of `generator` for `prompts` (clause → prompt), `images` seeds each from
    `seed_start`, renders cached under `renders`; `progress` follows it as `task`. With `kept`, each clause's
    renders are also put there (for a caller that measures them further, without reading them again)."""
    seeds = list(range(seed_start, seed_start + images))
    cut = judge.threshold_array()
    rows = []
    for done, (clause, prompt) in enumerate(prompts.items()):
        pictures = cached_renders(generator, prompt, seeds, renders, guidance=GUIDANCE, steps=STEPS)
        if kept is not None:
            kept[clause] = pictures
        proba = judge.predict(pictures)
        hits = clause_hits(proba, [clause], cut)[:, 0]
        rows.append(_row(clause, prompt, proba, hits, judge))
        if progress is not None:
            progress(task, done + 1, len(prompts))
    return rows


def _row(clause: Clause, prompt: str, proba: np.ndarray, hits: np.ndarray, judge: Any) -> AuditRow:
    n, k = len(hits), int(hits.sum())
    low, high = wilson(k, n)
    called = judge.decide(proba[~hits]) if (~hits).any() else np.zeros((0, proba.shape[1]), bool)
    shares = {OUTPUTS[c]: float(called[:, c].mean()) for c in _instead_columns(clause) if len(called)}
    top = sorted(((s, name) for name, s in shares.items() if s > 0), reverse=True)[:INSTEAD]
    return AuditRow(
        clause=clause.label,
        prompt=prompt,
        n=n,
        hits=k,
        hit_rate=k / n,
        ci_low=low,
        ci_high=high,
        consistency=float(clause_probabilities(proba, [clause])[:, 0].mean()),
        checkable=clause.output not in judge.uncertifiable,
        instead="; ".join(f"{name} {share:.2f}" for share, name in top),
    )


def write_audit(out: Path, rows: Sequence[AuditRow], meta: dict[str, Any]) -> None:
    """`out`/audit.json (the settings and every row) and `out`/audit.csv (the rows), each written whole."""
    atomic.write_json(out / AUDIT_JSON, {**meta, "rows": [asdict(r) for r in rows]})
    atomic.write_csv(out / AUDIT_CSV, list(AuditRow.__dataclass_fields__), (asdict(r) for r in rows))


def read_audit(path: Path) -> dict[str, Any]:
    """An audit.json (or the folder holding one); InputError when there is none or it cannot be read."""
    file = path / AUDIT_JSON if path.is_dir() else path
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
        data["rows"] = [AuditRow(**row) for row in data["rows"]]
    except FileNotFoundError:
        raise InputError(f"{file} does not exist: name an audit folder or its audit.json") from None
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise InputError(f"{file} is not an audit ({type(err).__name__}: {err}): run promptopt audit again") from None
    return data


def compare(before: Sequence[AuditRow], after: Sequence[AuditRow]) -> list[dict[str, Any]]:
    """Per clause in both: the hit rates, their change, and whether the two 95 % intervals are apart."""
    mine = {row.clause: row for row in after}
    out = []
    for a in before:
        b = mine.get(a.clause)
        if b is None:
            continue
        apart = a.ci_high < b.ci_low or b.ci_high < a.ci_low
        out.append(
            {
                "clause": a.clause,
                "before": a.hit_rate,
                "after": b.hit_rate,
                "change": b.hit_rate - a.hit_rate,
                "apart": apart,
                "checkable": a.checkable and b.checkable,
            }
        )
    return out


def run_audit(
    out: Path,
    generator_config: Any,
    judge_spec: str,
    *,
    clauses_wanted: Sequence[str] | None = None,
    images: int = 24,
    seed_start: int = SEED_START,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """`promptopt audit` as one workflow: the generator `generator_config` names, read by the judge
    `judge_spec`, on every single-clause prompt (or the clauses wanted); writes audit.json and audit.csv to `out`,
    renders under `out`/renders, and returns what audit.json holds."""
    from promptopt.core.libraries import quiet_libraries
    from promptopt.judge.scorer import open_judge
    from promptopt.study.factory import generator_for

    if images < 1:
        raise InputError(f"--images must be at least 1, got {images}")
    prompts = single_clause_prompts(clauses_wanted)
    judge = open_judge(judge_spec, "--judge")
    quiet_libraries()
    generator = generator_for(generator_config)
    renders = out / RENDERS_DIR
    rows = audit(generator, judge, prompts, images=images, renders=renders, seed_start=seed_start, progress=progress)
    meta = {
        "generator": stable_identity(generator.identity),
        "judge": judge_spec,
        "images": images,
        "seed_start": seed_start,
        "guidance": GUIDANCE,
        "steps": STEPS,
        "hit": HIT,
    }
    write_audit(out, rows, meta)
    return {**meta, "rows": rows}
