"""The ask/tell search loop over an Optuna study stored in runs/<study>/study.db."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from promptopt.config import StudyConfig
from promptopt.errors import InputError
from promptopt.generators.base import Generator, stable_identity
from promptopt.interrupt import StopFlag
from promptopt.mutator import Candidate, PromptMutator
from promptopt.paths import TRIAL_IMAGES, TRIAL_SCORES, RunPaths
from promptopt.provenance import environment
from promptopt.scorers import atomic
from promptopt.scorers.base import Scorer
from promptopt.tomlio import changed_paths, differences, dumps, to_dict

IDENTITY_ATTR = "search_identity"
BASELINE_ATTR = "baseline"  # user attr of the queued plain seed prompt trial
GENERATOR_ATTR = "generator_identity"


@dataclass(frozen=True)
class TrialRecord:
    number: int
    candidate: Candidate
    scores: dict[str, float]
    values: tuple[float, ...]
    duplicate_of: int | None = None


@dataclass
class Timing:
    render_s: float = 0.0
    score_s: float = 0.0
    total_s: float = 0.0

    @property
    def overhead_share(self) -> float:
        """Share of wall time spent outside generator and scorer calls."""
        return 1.0 - (self.render_s + self.score_s) / self.total_s if self.total_s else 0.0


@dataclass
class SearchResult:
    n_complete: int
    new_trials: list[TrialRecord] = field(default_factory=list)
    stopped_early: bool = False
    timing: Timing = field(default_factory=Timing)


def make_sampler(cfg: StudyConfig, n_existing: int) -> Any:
    """Seeded TPE for one objective, NSGA-II for several. The seed moves on with the trials already in the
    study, so a resumed run does not replay the first run's random start-up proposals."""
    import optuna

    seed = cfg.study.seed + n_existing
    if len(cfg.objectives) > 1:
        return optuna.samplers.NSGAIISampler(seed=seed)
    return optuna.samplers.TPESampler(seed=seed, n_startup_trials=min(5, max(cfg.study.n_trials // 3, 1)))


def open_study(cfg: StudyConfig, paths: RunPaths) -> Any:
    """Create or resume the study; refuse to resume one made with a different search configuration."""
    import optuna

    from sqlalchemy.exc import DatabaseError

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    paths.root.mkdir(parents=True, exist_ok=True)
    check_database(paths.db)
    try:
        storage = optuna.storages.RDBStorage(paths.storage_url, engine_kwargs={"connect_args": {"timeout": 60}})
        try:
            n_existing = len(optuna.load_study(study_name=cfg.study.name, storage=storage).trials)
        except KeyError:
            n_existing = 0
        study = optuna.create_study(
            study_name=cfg.study.name,
            storage=storage,
            directions=[o.direction for o in cfg.objectives],
            sampler=make_sampler(cfg, n_existing),
            load_if_exists=True,
        )
    except DatabaseError as err:
        raise InputError(f"{paths.db} cannot be read as an Optuna study ({_first_line(err)}): {DB_FIX}") from None
    identity = json.dumps(cfg.search_identity(), sort_keys=True)
    stored = study.user_attrs.get(IDENTITY_ATTR)
    if stored is None:
        study.set_user_attr(IDENTITY_ATTR, identity)
    elif stored != identity:
        changed = [key for key, _, _ in changed_paths(json.loads(stored), json.loads(identity))]
        raise InputError(
            f"run folder {paths.root} holds study {cfg.study.name!r} made with a different search config "
            f"(changed: {', '.join(changed)}); use another --out or a new [study] name to start a new study"
        )
    return study


DB_FIX = "move it away (it is left as it is) and run again to start a new study, or choose another --out"


def check_database(db: Path) -> None:
    """Refuse a study.db that is not an SQLite database (empty, truncated or another file): SQLite would treat an
    empty file as a new database and write over it."""
    if not db.exists():
        return
    with db.open("rb") as fh:
        header = fh.read(16)
    if header != b"SQLite format 3\x00":
        what = "empty" if not header else "not an SQLite database"
        raise InputError(f"{db} is {what}: {DB_FIX}")


def _first_line(err: Exception) -> str:
    return str(getattr(err, "orig", None) or err).splitlines()[0]


def check_generator(study: Any, generator: Generator, paths: RunPaths) -> None:
    """Refuse to go on with a study whose trials another generator rendered (other weights, adapters or
    scheduler): its scores, and the scores a repeated candidate reuses, would mix two models. A study made before
    this record existed gets the current generator's."""
    identity = stable_identity(generator.identity)
    stored = study.user_attrs.get(GENERATOR_ATTR)
    if stored is None:
        study.set_user_attr(GENERATOR_ATTR, identity)
        return
    changed = list(differences(stored, identity, "generator"))
    if changed:
        raise InputError(
            f"run folder {paths.root} holds trials rendered by another generator ({changed[0]}): use another --out "
            "or a new [study] name to search with this one"
        )


def recover(study: Any, paths: RunPaths) -> None:
    """After a crash or kill: fail trials left RUNNING and remove every trial folder that is not COMPLETE."""
    from optuna.trial import TrialState

    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        study.tell(trial.number, state=TrialState.FAIL)
    atomic.remove_stale_staging(paths.trials)
    complete = {t.number for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))}
    if paths.trials.is_dir():
        for folder in paths.trials.iterdir():
            if folder.is_dir() and not (folder.name.isdigit() and int(folder.name) in complete):
                shutil.rmtree(folder)


def write_run_files(cfg: StudyConfig, paths: RunPaths) -> None:
    paths.trials.mkdir(parents=True, exist_ok=True)
    header = f"# resolved config of study {cfg.study.name!r}, from {cfg.source or 'defaults'} and command-line flags\n"
    atomic.write_text(paths.config, header + dumps(to_dict(cfg)))
    atomic.write_json(paths.environment, environment())


def _write_trial(paths: RunPaths, record: TrialRecord, images: Sequence[Any], seeds: Sequence[int], meta: dict[str, Any]) -> None:
    with atomic.staged_dir(paths.trial(record.number)) as folder:
        (folder / TRIAL_IMAGES).mkdir()
        for i, image in enumerate(images):
            image.save(folder / TRIAL_IMAGES / f"{i:02d}.png")
        payload = {
            "trial": record.number,
            "candidate": asdict(record.candidate),
            "scores": record.scores,
            "values": list(record.values),
            "seeds": list(seeds),
            "duplicate_of": record.duplicate_of,
            **meta,
        }
        (folder / TRIAL_SCORES).write_text(json.dumps(payload, indent=2) + "\n")


def _previous_results(study: Any) -> dict[tuple[str, str, float, int], tuple[int, dict[str, float]]]:
    from optuna.trial import TrialState

    out = {}
    for trial in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        cand = trial.user_attrs.get("candidate")
        if cand:
            out[Candidate(**cand).key()] = (trial.number, trial.user_attrs["scores"])
    return out


def _queue_baseline(study: Any, mutator: PromptMutator, seen: dict[tuple[str, str, float, int], Any]) -> None:
    """Queue the plain seed prompt, the baseline the search must beat, until a trial of it completes: a new study's
    first trial, and again when a kill lost that trial (recovery failed it) before it completed."""
    from optuna.trial import TrialState

    if mutator.baseline().key() in seen:
        return
    pending = study.get_trials(deepcopy=False, states=(TrialState.WAITING, TrialState.RUNNING))
    if not any(trial.user_attrs.get(BASELINE_ATTR) for trial in pending):
        study.enqueue_trial(mutator.baseline_params(), user_attrs={BASELINE_ATTR: True})


def render_candidate(generator: Generator, candidate: Candidate, seeds: Sequence[int]) -> list[Any]:
    """The candidate's images, one per seed."""
    return generator.render(
        [candidate.prompt] * len(seeds),
        seeds,
        negative_prompt=candidate.negative_prompt or None,
        guidance_scale=candidate.guidance_scale,
        steps=candidate.steps,
    )


def score_images(scorers: Sequence[Scorer], images: Sequence[Any], prompt: str) -> dict[str, float]:
    """Every scorer's metrics for images rendered from `prompt`."""
    scores: dict[str, float] = {}
    for scorer in scorers:
        scores.update(scorer.score(images, [prompt] * len(images)))
    return scores


def run_search(
    cfg: StudyConfig,
    paths: RunPaths,
    study: Any,
    *,
    generator: Generator,
    scorers: Sequence[Scorer],
    mutator: PromptMutator,
    stop: StopFlag | None = None,
    on_trial: Callable[[int, TrialRecord | None], None] | None = None,
) -> SearchResult:
    """Run trials of `study` (from `open_study`) until it holds `cfg.study.n_trials` complete ones, or a stop
    is requested. `on_trial(n_complete, record)` is called once before the first trial (record None) and after
    each one.

    Every trial renders its candidate on the same evaluation seeds. A new study's first trial is the plain seed
    prompt (`PromptMutator.baseline_params`). A candidate identical to an earlier one reuses its images and
    scores (rendering is deterministic), recorded as `duplicate_of`.
    """
    from optuna.trial import TrialState

    start = time.perf_counter()
    stop = stop or StopFlag()
    recover(study, paths)
    write_run_files(cfg, paths)
    seeds = cfg.study.eval_seeds
    result = SearchResult(n_complete=len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))))
    seen = _previous_results(study)
    _queue_baseline(study, mutator, seen)
    if on_trial is not None:
        on_trial(result.n_complete, None)
    while result.n_complete < cfg.study.n_trials and not stop.requested:
        trial = study.ask()
        try:
            record, images = _evaluate(cfg, paths, trial, generator, scorers, mutator, seeds, seen, result.timing)
            _write_trial(paths, record, images, seeds, {"generator": generator.identity})
            study.tell(trial, list(record.values))
        except BaseException:
            study.tell(trial, state=TrialState.FAIL)
            shutil.rmtree(paths.trial(trial.number), ignore_errors=True)
            raise
        seen.setdefault(record.candidate.key(), (record.number, record.scores))
        result.n_complete += 1
        result.new_trials.append(record)
        if on_trial is not None:
            on_trial(result.n_complete, record)
    result.stopped_early = result.n_complete < cfg.study.n_trials
    result.timing.total_s = time.perf_counter() - start
    return result


def _evaluate(
    cfg: StudyConfig,
    paths: RunPaths,
    trial: Any,
    generator: Generator,
    scorers: Sequence[Scorer],
    mutator: PromptMutator,
    seeds: Sequence[int],
    seen: dict[tuple[str, str, float, int], tuple[int, dict[str, float]]],
    timing: Timing,
) -> tuple[TrialRecord, list[Any]]:
    from PIL import Image

    candidate = mutator.propose(trial)
    duplicate_of = None
    if candidate.key() in seen:
        duplicate_of, scores = seen[candidate.key()]
        folder = paths.trial(duplicate_of) / TRIAL_IMAGES
        images = [Image.open(folder / f"{i:02d}.png").convert("RGB") for i in range(len(seeds))]
    else:
        t0 = time.perf_counter()
        images = render_candidate(generator, candidate, seeds)
        t1 = time.perf_counter()
        scores = score_images(scorers, images, candidate.prompt)
        timing.render_s += t1 - t0
        timing.score_s += time.perf_counter() - t1
    values = tuple(objective.value(scores) for objective in cfg.objectives)
    trial.set_user_attr("candidate", asdict(candidate))
    trial.set_user_attr("scores", scores)
    if duplicate_of is not None:
        trial.set_user_attr("duplicate_of", duplicate_of)
    return TrialRecord(trial.number, candidate, scores, values, duplicate_of), images
