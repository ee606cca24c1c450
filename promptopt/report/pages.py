"""`promptopt report`: one self-contained HTML page of a study's run folder, or, for an `opg` run, an index page
and one page per category. What a page shows, in order: provenance (generator identity, resolved config,
versions), the optimisation history with the best-so-far line and the plain seed prompt marked, parameter
importances (Optuna's fANOVA), the exported prompts beside the plain seed prompt with their image grids on the
same evaluation seeds and their scores, the hold-out check, and the exported set's metrics with their notes."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from promptopt.core.atomic import write_text
from promptopt.core.errors import InputError
from promptopt.core.grids import grid_png
from promptopt.core.paths import HOLDOUT_FILE, PROMPTS_JSON, SUMMARY_FILE, TRIAL_GRID, TRIAL_IMAGES, RunPaths
from promptopt.loop.tune import GUARDS_FILE
from promptopt.opg.plan import STUDIES_DIR, SUMMARY_JSON, recorded_targets
from promptopt.opg.tuning import TUNED_DIR, TUNED_SUFFIX
from promptopt.report.html import esc, fixed, number, page, png, table
from promptopt.report.plots import History, history_png, importances_png
from promptopt.search.storage import first_line, masked, open_readonly
from promptopt.search.study_open import BASELINE_ATTR, GENERATOR_ATTR
from promptopt.study.config import StudyConfig, load_study

RANK_NOTE = (
    "The search picks finalists by their score on the evaluation seeds, which every trial shares; the export then "
    "renders each finalist on {n} fresh validation seeds and ranks them by that score, so a prompt that a lucky draw "
    "of the evaluation seeds flattered does not come first."
)


@dataclass(frozen=True)
class Run:
    """A study's run folder with its resolved config, its Optuna study and the study's complete trials (read once)."""

    paths: RunPaths
    cfg: StudyConfig
    study: Any
    complete: tuple[Any, ...]

    @property
    def baseline(self) -> Any:
        """The complete trial of the plain seed prompt (None when none completed)."""
        return next((t for t in self.complete if t.user_attrs.get(BASELINE_ATTR)), None)

    def read_json(self, name: str) -> Any:
        file = self.paths.export / name
        if not file.is_file():
            return None
        try:
            return json.loads(file.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise InputError(f"{file} is damaged (not JSON): write it again with promptopt export") from None


def open_run(folder: Path, storage: str | None = None) -> Run:
    """The run in `folder` (runs/<study>/); its study from `storage`, else the folder's study.db."""
    import optuna
    from optuna.trial import TrialState
    from sqlalchemy.exc import DatabaseError

    paths = RunPaths(folder)
    if not paths.config.is_file():
        raise InputError(f"{folder} is not a study's run folder (no config.toml): give runs/<study> or an opg --out")
    cfg = load_study(paths.config)
    if storage is None and not paths.db.is_file():
        raise InputError(f"{folder} has no study.db: give the study's --storage URL")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    url = storage or paths.storage_url
    try:
        study = optuna.load_study(study_name=cfg.study.name, storage=open_readonly(url))
    except KeyError:
        raise InputError(f"the storage holds no study {cfg.study.name!r}: give the --storage the search used") from None
    except DatabaseError as err:
        raise InputError(f"storage {masked(url)} cannot be read ({first_line(err, url)}): restore it") from None
    return Run(paths, cfg, study, tuple(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))))


def _history(run: Run) -> str:
    trials = run.complete
    if not trials:
        return "<p>No complete trial yet.</p>"
    objective = run.cfg.objectives[0]
    history = History(
        objective.name,
        objective.direction == "maximize",
        tuple(t.number for t in trials),
        tuple(t.values[0] for t in trials),
        run.baseline.number if run.baseline is not None else None,
    )
    more = " (the first objective of several)" if len(run.cfg.objectives) > 1 else ""
    return f"<h3>Optimisation history{more}</h3>" + png(history_png(history), "optimisation history", "plot")


def _importances(run: Run) -> str:
    from optuna.importance import FanovaImportanceEvaluator, get_param_importances

    head = "<h3>Parameter importances</h3>"
    trials = run.complete
    varied = {
        name for name in {k for t in trials for k in t.params} if len({str(t.params.get(name)) for t in trials}) > 1
    }
    if len(trials) < 3 or not varied:
        return head + "<p>Needs at least 3 complete trials whose parameters differ.</p>"
    values = get_param_importances(run.study, evaluator=FanovaImportanceEvaluator(seed=0), target=lambda t: t.values[0])
    note = (
        f'<p class="note">fANOVA (Optuna\'s default evaluator) on {len(trials)} trials: the share of the '
        f"{esc(run.cfg.objectives[0].name)} variance each parameter explains. Few trials make it a rough guide.</p>"
    )
    return head + png(importances_png({k: float(v) for k, v in values.items()}), "parameter importances", "plot") + note


def _grid(run: Run, trial: int) -> str:
    """The trial's images on the evaluation seeds, in one row."""
    folder = run.paths.trial(trial)
    if (folder / TRIAL_GRID).is_file():
        data = (folder / TRIAL_GRID).read_bytes()
    elif (folder / TRIAL_IMAGES).is_dir():  # a run from before grids were written
        from PIL import Image

        data = grid_png([Image.open(p).convert("RGB") for p in sorted((folder / TRIAL_IMAGES).glob("*.png"))], 1)
    else:
        return "<p>(no images: the trial folder is missing)</p>"
    return png(data, f"images of trial {trial}", "grid")


def _scores(scores: dict[str, float], prefix: str) -> str:
    """The judge's per-clause consistency (c_*) and the other scores of one prompt, a line each."""
    keys = sorted(k[len(prefix) :] for k in scores if k.startswith(prefix))
    return "<br>".join(f"{esc(k)}: {number(scores[prefix + k], 3)}" for k in keys)


def _prompt_cell(row: dict[str, Any]) -> str:
    negative = f"<br>negative: {esc(row['negative_prompt'])}" if row.get("negative_prompt") else ""
    return (
        f'<span class="prompt">{esc(row["prompt"])}</span>{negative}<br>guidance {number(row["guidance_scale"])}, '
        f"{esc(row['steps'])} steps"
    )


def _prompts(run: Run) -> str:
    """The exported prompts and the plain seed prompt, each with its grid on the same evaluation seeds."""
    head = "<h3>Exported prompts beside the plain seed prompt</h3>"
    rows = run.read_json(PROMPTS_JSON)
    if not rows:
        return head + "<p>Not exported yet: run <code>promptopt export</code>.</p>"
    name = run.cfg.objectives[0].name
    maximize = run.cfg.objectives[0].direction == "maximize"
    by_eval = sorted(rows, key=lambda r: r[f"objective_{name}"], reverse=maximize)
    eval_rank = {r["trial"]: i for i, r in enumerate(by_eval, start=1)}
    validated = f"validation_objective_{name}" in rows[0]
    prefix = "validation_score_" if validated else "score_"
    baseline = run.baseline
    body = []
    for row in rows:
        ranks = f"{esc(row['rank'])} (evaluation seeds: {eval_rank[row['trial']]})" if validated else esc(row["rank"])
        if baseline is not None and row["trial"] == baseline.number:
            ranks += "; the plain seed prompt"
        value = number(row[f"objective_{name}"]) + (
            f" / {number(row[f'validation_objective_{name}'])}" if validated else ""
        )
        body.append(
            [ranks, esc(row["trial"]), _prompt_cell(row) + _grid(run, row["trial"]), value, _scores(row, prefix)]
        )
    if baseline is not None and baseline.number not in {row["trial"] for row in rows}:
        cand = baseline.user_attrs["candidate"]
        scores = {f"score_{k}": v for k, v in baseline.user_attrs["scores"].items()}
        body.append(
            [
                "plain seed prompt",
                str(baseline.number),
                _prompt_cell(cand) + _grid(run, baseline.number),
                number(baseline.values[0]),
                _scores(scores, "score_"),
            ]
        )
    seeds = run.cfg.study.images_per_trial
    header = [
        "rank",
        "trial",
        f"prompt and its images on the {seeds} evaluation seeds",
        f"{name}: evaluation{' / validation' if validated else ''}",
        f"scores ({'validation' if validated else 'evaluation'} seeds; c_*: the judge's consistency per clause)",
    ]
    note = RANK_NOTE.format(n=run.cfg.export.validation_images) if validated else "Ranked by the evaluation seeds."
    return head + table(header, body, [False, True, False, True, False]) + f'<p class="note">{esc(note)}</p>'


def _holdout(run: Run) -> str:
    head = "<h3>Hold-out check</h3>"
    h = run.read_json(HOLDOUT_FILE)
    if h is None:
        return head + "<p>None: the study has no judge, or <code>holdout_images = 0</code>.</p>"
    start = h["seeds"].get("seed_start", h["seeds"].get("first"))  # older runs wrote {"first", "last"}
    seeds = f"{h['images']} fresh seeds from {start}"
    if h["best_is_seed_prompt"]:
        return (
            head
            + f"<p>The first exported prompt is the plain seed prompt itself: nothing to compare ({esc(seeds)}).</p>"
        )
    best, plain, paired = h["best"], h["seed_prompt"], h["paired"]
    rows = [
        ["first exported prompt", number(best["target_consistency"], 3), number(best["hit_rate"], 3)],
        ["plain seed prompt", number(plain["target_consistency"], 3), number(plain["hit_rate"], 3)],
        [
            "paired test",
            f"Wilcoxon signed-rank p = {number(paired['wilcoxon_p'], 3)}",
            f"McNemar exact p = {number(paired['mcnemar_p'], 3)}",
        ],
    ]
    interval = paired.get("gain_ci")
    spread = f" (95 % interval {number(interval[0], 3)} to {number(interval[1], 3)})" if interval else ""
    verdict = "; no difference: the interval lies within ±0.02" if paired.get("no_difference") else ""
    note = (
        f"Both prompts rendered on the same {seeds}, judged for the target. Mean per-seed gain "
        f"{number(paired.get('consistency_gain'), 3)}{spread}{verdict}; seeds only the first prompt hits: "
        f"{paired['best_only']}, only the plain one: {paired['seed_prompt_only']}."
    )
    return (
        head
        + table(["", "target consistency", "hit rate"], rows, [False, True, True])
        + f'<p class="note">{esc(note)}</p>'
    )


def _set_metrics(run: Run) -> str:
    head = "<h3>The exported set</h3>"
    summary = run.read_json(SUMMARY_FILE)
    realism = (summary or {}).get("dataset_realism")
    if not realism:
        return head + "<p>No set-level metrics (no exported images, or no realism reference).</p>"
    rows = [[esc(k), number(v)] for k, v in realism.items() if isinstance(v, (int, float))]
    rows += [
        [f"{esc(group)} {esc(k)}", number(v)]
        for group in ("prdc", "memorisation")
        for k, v in (realism.get(group) or {}).items()
    ]
    note = realism.get("note", "")
    return head + table(["metric", "value"], rows, [False, True]) + (f'<p class="note">{esc(note)}</p>' if note else "")


def _provenance(run: Run) -> str:
    generator = run.study.user_attrs.get(GENERATOR_ATTR, {})
    environment = (
        json.loads(run.paths.environment.read_text(encoding="utf-8")) if run.paths.environment.is_file() else {}
    )
    versions = {"python": environment.get("python", "?"), **environment.get("packages", {})}
    config = run.paths.config.read_text(encoding="utf-8")
    return (
        "<h3>Provenance</h3>"
        + table(["generator", ""], [[esc(k), esc(v)] for k, v in generator.items()])
        + table(["package", "version"], [[esc(k), esc(v)] for k, v in versions.items()])
        + f"<details><summary>resolved config ({esc(run.paths.config.name)})</summary>"
        + f"<pre>{esc(config)}</pre></details>"
    )


def study_section(run: Run) -> str:
    """One study: its heading (anchored by the study's name) and every part of the report."""
    cfg = run.cfg
    target = "; ".join(
        f"{k} {' or '.join(map(str, v)) if isinstance(v, (list, tuple)) else v}" for k, v in cfg.study.target.items()
    )
    n = len(run.complete)
    head = (
        f'<h2 id="{esc(cfg.study.name)}">{esc(cfg.study.name)}</h2><p>Category {esc(cfg.study.category)}; target: '
        f"{esc(target or 'the category only')}; {n} complete trials of {cfg.study.images_per_trial} images each.</p>"
    )
    parts = (_history, _importances, _prompts, _holdout, _set_metrics, _provenance)
    return head + "".join(part(run) for part in parts)


def write_study_report(folder: Path, out: Path, storage: str | None = None) -> Path:
    run = open_run(folder, storage)
    write_text(out, page(f"promptopt report: {run.cfg.study.name}", study_section(run), heading="promptopt report"))
    return out


def _index(folder: Path, runs: list[Run]) -> str:
    """The opg run's targets by category, each linked to its section, with its hold-out check (SUMMARY_JSON)."""
    file = folder / SUMMARY_JSON
    summary = {row["study"]: row for row in json.loads(file.read_text(encoding="utf-8"))} if file.is_file() else {}
    rows = []
    for run in runs:
        name, category = run.cfg.study.name, run.cfg.study.category
        s = summary.get(name, {})
        figures = [fixed(s.get("seed_consistency")), fixed(s.get("best_consistency"))]
        if s.get("best_is_seed_prompt"):
            figures += ["same prompt", ""]
        else:
            figures += [fixed(s.get("gain"), 4), number(s.get("wilcoxon_p"), 3)]
        rows.append([esc(category), f'<a href="{esc(category)}.html#{esc(name)}">{esc(name)}</a>', *figures])
    header = ["category", "study", "plain seed prompt", "first exported", "mean gain", "Wilcoxon p"]
    note = (
        "Target consistency of each study's plain seed prompt and first exported prompt on its hold-out seeds, the "
        "mean per-seed gain and its Wilcoxon signed-rank p. Same prompt: the plain seed prompt stayed first."
    )
    return table(header, rows, [False, False, True, True, True, True]) + f'<p class="note">{esc(note)}</p>'


def _adapters(folder: Path) -> str:
    """The tuned adapters of an opg --tune run: per category, what the base and the tuned model draw (the audit of
    their check, the clauses that changed) and the guards."""
    parts = []
    for checked in sorted((folder / TUNED_DIR).glob(f"*/{GUARDS_FILE}")):
        report = json.loads(checked.read_text(encoding="utf-8"))
        base = {row["clause"]: row for row in report["audit"]["base"]}
        rows = [
            [
                esc(row["clause"]),
                fixed(base[row["clause"]]["hit_rate"], 2),
                fixed(row["hit_rate"], 2),
                "" if row["checkable"] else "cannot be checked by this judge",
            ]  # fmt: skip
            for row in report["audit"]["tuned"]
            if row["clause"] in base and abs(row["hit_rate"] - base[row["clause"]]["hit_rate"]) >= 0.1
        ]
        guards = "".join(
            f"<li>{esc(g['name'])}: {'passed' if g['passed'] else 'FAILED'} ({esc(g['detail'])})</li>"
            for g in report["guards"]
        )
        parts.append(
            f"<h3>{esc(checked.parent.name)}</h3><p>Hit rates on {esc(report['images'])} fresh seeds a clause, base → "
            "tuned, where they moved by 0.1 or more:</p>"
            + table(["clause", "base", "tuned", ""], rows, [False, True, True, False])
            + f"<ul>{guards}</ul>"
        )
    return "<h2>Tuned adapters (opg --tune)</h2>" + "".join(parts) if parts else ""


def write_opg_report(folder: Path, slugs: list[str], out: Path) -> Path:
    """An opg run (its targets' `slugs`): out/index.html (the summary table by category, linked to the studies)
    and out/<category>.html."""
    names = [name for slug in slugs for name in (slug, f"{slug}{TUNED_SUFFIX}")]  # a tuned target's search again too
    found = [folder / STUDIES_DIR / name for name in names if RunPaths(folder / STUDIES_DIR / name).config.is_file()]
    if not found:
        raise InputError(f"{folder} is an opg run with no study yet: run promptopt opg first")
    runs = [open_run(study) for study in found]
    categories = sorted({run.cfg.study.category for run in runs})
    nav = [("index.html", "index"), *((f"{c}.html", c) for c in categories)]
    out.mkdir(parents=True, exist_ok=True)
    write_text(out / "index.html", page("promptopt report: OPG run", _index(folder, runs) + _adapters(folder), nav))
    for category in categories:
        body = "".join(study_section(run) for run in runs if run.cfg.study.category == category)
        write_text(out / f"{category}.html", page(f"promptopt report: {category}", body, nav))
    return out / "index.html"


def report_out(folder: Path, out: Path | None) -> Path:
    """Where the report of `folder` goes: `out`, else folder/report.html for a study's run folder and
    folder/report/ for an opg run. InputError for a folder that is no run, or an `out` of the wrong kind."""
    if not folder.is_dir():
        raise InputError(f"run folder {folder} does not exist: give runs/<study> or an opg --out")
    if recorded_targets(folder) is not None:
        if out is not None and out.exists() and not out.is_dir():
            raise InputError(f"--out {out} is a file: an opg run's report is a folder (index.html and a page each)")
        return out or folder / "report"
    if out is not None and (out.suffix.lower() not in (".html", ".htm") or out.is_dir()):
        raise InputError(f"--out {out}: name an .html file, a study's report is one page")
    return out or folder / "report.html"


def write_report(folder: Path, out: Path, storage: str | None = None) -> Path:
    """The report of a study's run folder or of an opg run into `out` (`report_out`); the page to open."""
    slugs = recorded_targets(folder)
    if slugs is not None:
        if storage is not None:
            raise InputError("--storage is for one study's run folder; an opg run keeps its studies in study.db files")
        return write_opg_report(folder, slugs, out)
    return write_study_report(folder, out, storage)
