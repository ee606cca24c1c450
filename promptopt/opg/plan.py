"""The optimal prompt generation (OPG) submission: a plan of targets, one study each, and the folder the 2024
organisers asked for ("submit both the prompts and the models you have used… organize your submissions by
category").

A plan (`Plan`) is a list of targets (`promptopt.judge.targets.parse_target`'s form) and a budget; by default
(`default_targets`) each category alone plus each value of its key attributes that the development prompts use
(polyp: Paris types and sizes; instrument: each instrument; landmark: each landmark). `promptopt opg` runs one
study per target under `<out>/studies/<target slug>/` (each resumable as any study) and then writes:
- `<out>/submission/<category>/prompts.txt`: the category's exported prompts, one a line, best first (by
  target consistency on the validation seeds);
- `prompts.json`: the same prompts with their negative prompt, guidance, steps, target, study and scores
  (`promptopt render --prompts` reads both files as they are);
- `model.json`: the generator of the category's studies (model, weights hash, pipeline, scheduler, adapters);
- `<out>/summary.csv` / `.json`: per target, the plain seed prompt against the first exported prompt on the
  hold-out check's fresh seeds.
`<out>/training-set/` is composed from the exported prompts (`promptopt.opg.training_set`).
`<out>/plan.json` records the targets; another plan's run in the same folder is refused.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomllib

from promptopt import grammar
from promptopt.core.atomic import write_bytes, write_csv, write_json, write_text
from promptopt.core.errors import InputError
from promptopt.core.paths import HOLDOUT_FILE, PROMPTS_JSON, SUMMARY_FILE, RunPaths
from promptopt.datasets.prompt_files import PromptSpec
from promptopt.judge.targets import Target, parse_target
from promptopt.search.study_open import GENERATOR_ATTR

PLAN_FILE = "plan.json"
ADAPTER_DIR = "adapter"
ADAPTER_FILES = ("pytorch_lora_weights.safetensors", "README.md", "tune.json", "guards.json")
SUMMARY_CSV, SUMMARY_JSON = "summary.csv", "summary.json"  # per target, the hold-out check (`summary_rows`)
STUDIES_DIR = "studies"
SUBMISSION_DIR = "submission"
# the attributes a category's default targets vary, each value the development prompts use
DEFAULT_KEYS = {"polyp": ("polyp_types", "polyp_sizes"), "instrument": ("instruments",), "landmark": ("landmarks",)}
_ITEM = {"polyp_types": "type {}", "polyp_sizes": "size {}", "instruments": "{}", "landmarks": "the {}"}
PLAN_KEYS = ("targets", "n_trials", "images_per_trial", "studies", "tune", "tune_below")


@dataclass(frozen=True)
class Plan:
    """Targets (their text) with the budget of each study (None: the base study's) and a base study TOML per
    category (None: studies/<category>.toml)."""

    targets: tuple[str, ...]
    n_trials: int | None = None
    images_per_trial: int | None = None
    studies: dict[str, Path] | None = None
    tune: bool = False  # `opg --tune`: tune the targets whose hold-out hit rate stays below `tune_below`
    tune_below: float = 0.5

    def parsed(self) -> list[Target]:
        """Every target, read (InputError names the first that cannot be); two with one slug are one study."""
        found = [parse_target(text) for text in self.targets]
        slugs = Counter(t.slug for t in found)
        if repeated := [s for s, n in slugs.items() if n > 1]:
            raise InputError(f"the plan names target {repeated[0]!r} twice: drop one")
        return found


def default_targets() -> tuple[str, ...]:
    """Each category alone, then each value of `DEFAULT_KEYS` in the development prompts, most frequent first."""
    counts: Counter[tuple[str, str]] = Counter()
    for prompt, n in grammar.challenge_prompts():
        attrs = grammar.parse(prompt)
        for keys in DEFAULT_KEYS.values():
            for key in keys:
                for value in attrs.get(key, ()):
                    counts[key, value] += n
    targets = []
    for category, keys in DEFAULT_KEYS.items():
        targets.append(f"{category}:")
        for key in keys:
            values = sorted((v for k, v in counts if k == key), key=lambda v: -counts[key, v])
            targets += [f"{category}: {_ITEM[key].format(v)}" for v in values]
    return tuple(targets)


def load_plan(path: Path | None) -> Plan:
    """The plan in a TOML file (`[plan]` with `PLAN_KEYS`), or the default plan."""
    if path is None:
        return Plan(default_targets())
    if path.is_dir():
        raise InputError(f"plan {path} is a folder: give a TOML file with a [plan] table")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"plan {path} does not exist: give a TOML file with a [plan] table") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise InputError(f"plan {path} is not valid TOML ({err}): fix it") from None
    section = data.get("plan")
    if set(data) != {"plan"} or not isinstance(section, dict):
        raise InputError(f"plan {path} must hold one [plan] table (found {', '.join(data) or 'nothing'})")
    if unknown := sorted(set(section) - set(PLAN_KEYS)):
        raise InputError(f"unknown key plan.{unknown[0]} in {path}: use {', '.join(PLAN_KEYS)}")
    targets = section.get("targets", default_targets())
    if not isinstance(targets, (list, tuple)) or not targets or not all(isinstance(t, str) for t in targets):
        raise InputError(f"plan.targets in {path} must be a non-empty list of target strings")
    for key, least in (("n_trials", 1), ("images_per_trial", 2)):  # checked here: a flag may replace them later
        if key in section and type(section[key]) is not int:
            raise InputError(f"plan.{key} in {path} must be a whole number, got {section[key]!r}")
        if key in section and section[key] < least:
            raise InputError(f"plan.{key} in {path} must be at least {least}, got {section[key]}")
    if not isinstance(section.get("tune", False), bool):
        raise InputError(f"plan.tune in {path} must be true or false, got {section['tune']!r}")
    below = section.get("tune_below", 0.5)
    if type(below) not in (int, float) or not 0.0 < below <= 1.0:
        raise InputError(f"plan.tune_below in {path} must be a number in (0, 1], got {below!r}")
    studies = section.get("studies", {})
    if not isinstance(studies, dict) or not set(studies) <= set(DEFAULT_KEYS):
        raise InputError(f"plan.studies in {path} maps categories ({', '.join(DEFAULT_KEYS)}) to study TOML files")
    return Plan(
        tuple(targets),
        section.get("n_trials"),
        section.get("images_per_trial"),
        {category: path.parent / file for category, file in studies.items()} or None,
        section.get("tune", False),
        float(below),
    )


def recorded_targets(out: Path) -> list[str] | None:
    """The target slugs of the plan whose run `out` holds, in plan order (None: `out` holds no opg run)."""
    record = out / PLAN_FILE
    if not record.is_file():
        return None
    try:
        targets = json.loads(record.read_text(encoding="utf-8")).get("targets")
    except (OSError, ValueError, AttributeError):
        targets = None
    if not (isinstance(targets, list) and all(isinstance(t, str) for t in targets)):
        raise InputError(
            f"{record} is damaged (it should list the plan's targets): restore it, or remove it and run the plan "
            "that made the folder again (finished studies resume)"
        )
    return targets


def claim_folder(out: Path, targets: list[Target]) -> None:
    """Record the plan's targets in `out`, or refuse a folder that holds another plan's run."""
    slugs = [t.slug for t in targets]
    if (out / PLAN_FILE).is_file():
        held = recorded_targets(out)
        if held != slugs:
            raise InputError(
                f"{out} holds another plan's run ({len(held or [])} targets, first {(held or ['none'])[0]!r}): "
                "use another --out, or the plan that made it"
            )
        return
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / PLAN_FILE, {"targets": slugs})


@dataclass(frozen=True)
class PlannedStudy:
    """One target of a plan (`text` as the plan writes it), its run folder and, once run, its generator."""

    text: str
    target: Target
    paths: RunPaths
    generator: dict[str, Any] | None = None
    adapter: Path | None = None  # the tuned adapter this study searched on (`opg --tune`)
    untuned: RunPaths | None = None  # the same target's study on the base model, when this one is tuned


def planned(out: Path, plan: Plan) -> list[PlannedStudy]:
    """The plan's studies under `out` (InputError names a target that cannot be read)."""
    return [PlannedStudy(text, t, RunPaths(out / STUDIES_DIR / t.slug)) for text, t in zip(plan.targets, plan.parsed())]


def generator_identity(paths: RunPaths, name: str) -> dict[str, Any]:
    """The generator that rendered the study's trials, as the study records it (`promptopt.search.study_open.check_generator`)."""
    import optuna

    return optuna.load_study(study_name=name, storage=paths.storage_url).user_attrs.get(GENERATOR_ATTR, {})


def finished(paths: RunPaths, n_trials: int) -> bool:
    """The study holds `n_trials` complete trials and its export was written after them."""
    summary = paths.export / SUMMARY_FILE
    if not summary.is_file():
        return False
    return json.loads(summary.read_text(encoding="utf-8")).get("n_complete_trials", 0) >= n_trials


def exported_specs(study: PlannedStudy) -> tuple[PromptSpec, ...]:
    """The study's exported prompts, best first, with their settings."""
    rows = json.loads((study.paths.export / PROMPTS_JSON).read_text(encoding="utf-8"))
    return tuple(PromptSpec(r["prompt"], r["negative_prompt"], r["guidance_scale"], r["steps"]) for r in rows)


def _score(row: dict[str, Any]) -> float:
    """What orders a category's prompts: target consistency on the validation seeds, else on the trial's."""
    return float(row.get("validation_score_target_consistency", row.get("score_target_consistency", 0.0)))


def write_submission(out: Path, studies: list[PlannedStudy]) -> dict[str, Path]:
    """`<out>/submission/<category>/` for every category with a study (module docstring), from the studies'
    exports. Returns each category's folder."""
    folders = {}
    for category in DEFAULT_KEYS:
        mine = [s for s in studies if s.target.category == category]
        if not mine:
            continue
        rows = []
        for study in mine:
            target = study.target
            for row in json.loads((study.paths.export / PROMPTS_JSON).read_text(encoding="utf-8")):
                scores = {k: v for k, v in row.items() if k.startswith(("score_", "validation_", "objective_"))}
                rows.append(
                    {
                        "prompt": row["prompt"],
                        "negative_prompt": row["negative_prompt"],
                        "guidance_scale": row["guidance_scale"],
                        "steps": row["steps"],
                        "target": {"category": category, **target.attributes},
                        "study": target.slug,
                        "rank_in_study": row["rank"],
                        "scores": scores,
                    }
                )
        rows.sort(key=lambda r: -_score(r["scores"]))
        folder = out / SUBMISSION_DIR / category
        folder.mkdir(parents=True, exist_ok=True)
        write_text(folder / "prompts.txt", "".join(f"{r['prompt']}\n" for r in rows))
        write_json(folder / "prompts.json", rows)
        identities = {s.target.slug: s.generator for s in mine}
        first = next(iter(identities.values()))
        model = {"generator": first} if all(g == first for g in identities.values()) else {"generators": identities}
        adapters = {s.adapter for s in mine if s.adapter is not None}
        if adapters:
            model["adapter"] = _carry_adapter(adapters.pop(), folder / ADAPTER_DIR)
        write_json(folder / "model.json", {**model, "studies": list(identities)})
        folders[category] = folder
    return folders


def _carry_adapter(adapter: Path, into: Path) -> dict[str, Any]:
    """Copy the adapter's files (weights, model card, tune record, guards) into the submission; what model.json
    says of it: the folder (plain diffusers: `pipe.load_lora_weights(folder)`), its base model and targets."""
    into.mkdir(parents=True, exist_ok=True)
    for name in ADAPTER_FILES:
        if (adapter / name).is_file():
            write_bytes(into / name, (adapter / name).read_bytes())
    record = json.loads((adapter / "tune.json").read_text(encoding="utf-8"))
    return {
        "folder": ADAPTER_DIR,
        "weights": f"{ADAPTER_DIR}/pytorch_lora_weights.safetensors",
        "base_model": record["settings"]["base"],
        "targets": [t["text"] for t in record["targets"]],
    }


SUMMARY_COLUMNS = ("target", "study", "seed_prompt", "seed_consistency", "best_prompt", "best_consistency", "gain",
                   "gain_low", "gain_high", "no_difference",
                   "seed_hit_rate", "best_hit_rate", "wilcoxon_p", "mcnemar_p", "best_is_seed_prompt",
                   "unchecked", "tuned", "untuned_best_consistency", "untuned_best_hit_rate", "untuned_wilcoxon_p",
                   "untuned_mcnemar_p")  # fmt: skip
BEFORE = ("best_consistency", "best_hit_rate", "wilcoxon_p", "mcnemar_p")  # a tuned target's figures before tuning


def summary_rows(studies: list[PlannedStudy], tuning: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """Per target, the hold-out check: plain seed prompt vs the first exported prompt on fresh seeds (empty
    figures where a study has no hold-out check: no judge, or `holdout_images = 0`). `tuning` says per target
    slug what `opg --tune` did; a tuned target's row also holds its figures before tuning (`untuned_*`)."""
    rows = []
    for study in studies:
        row: dict[str, Any] = {"target": study.text, "study": study.paths.root.name, **holdout_figures(study.paths)}
        row["tuned"] = (tuning or {}).get(study.target.slug, "")
        if study.untuned is not None:
            before = holdout_figures(study.untuned)
            row.update({f"untuned_{key}": before.get(key) for key in BEFORE})
        rows.append(row)
    return rows


def holdout_figures(paths: RunPaths) -> dict[str, Any]:
    """A study's hold-out check as summary columns (none without one)."""
    file = paths.export / HOLDOUT_FILE
    if not file.is_file():
        return {}
    h = json.loads(file.read_text(encoding="utf-8"))
    return {
        "seed_prompt": h["seed_prompt"]["prompt"],
        "seed_consistency": h["seed_prompt"]["target_consistency"],
        "best_prompt": h["best"]["prompt"],
        "best_consistency": h["best"]["target_consistency"],
        "seed_hit_rate": h["seed_prompt"]["hit_rate"],
        "best_hit_rate": h["best"]["hit_rate"],
        "gain": h["paired"].get("consistency_gain"),
        "gain_low": (h["paired"].get("gain_ci") or [None])[0],
        "gain_high": (h["paired"].get("gain_ci") or [None, None])[1],
        "no_difference": h["paired"].get("no_difference", ""),
        "wilcoxon_p": h["paired"].get("wilcoxon_p"),
        "mcnemar_p": h["paired"].get("mcnemar_p"),
        "best_is_seed_prompt": h["best_is_seed_prompt"],
        "unchecked": "; ".join(h.get("unchecked", [])),  # target clauses the judge cannot certify
    }


def write_summary(out: Path, rows: list[dict[str, Any]]) -> None:
    write_csv(out / SUMMARY_CSV, SUMMARY_COLUMNS, ({k: row.get(k, "") for k in SUMMARY_COLUMNS} for row in rows))
    write_json(out / SUMMARY_JSON, rows)
