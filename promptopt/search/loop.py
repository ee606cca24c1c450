"""The ask/tell search loop over an Optuna study stored in runs/<study>/study.db."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from promptopt.core import atomic
from promptopt.core.interrupt import StopFlag
from promptopt.core.paths import TRIAL_IMAGES, RunPaths
from promptopt.core.provenance import environment
from promptopt.core.tomlio import dumps, to_dict
from promptopt.generators.base import Generator
from promptopt.scorers.base import Scorer
from promptopt.search.mutator import Candidate, PromptMutator
from promptopt.search.storage import (
    WORKER_ATTR,
    ask,
    fail_stale_trials,
    heartbeat,
    queue_again,
)
from promptopt.search.study_open import BASELINE_ATTR, make_sampler
from promptopt.search.trials import TrialRecord, remove_grid, upload_grid, write_trial
from promptopt.study.config import StudyConfig

OVER_CAP_ATTR = "over_cap"  # user attr of a trial failed unrun: the study's cap was reached as it started
WAIT_S = 1.0  # how often a worker waiting for the others' last trials looks again


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
    finished_here: bool = False  # this process completed the study's last trial (or found it complete): it exports
    timing: Timing = field(default_factory=Timing)


def recover(study: Any, paths: RunPaths) -> None:
    """After a crash or kill: fail and queue again the trials of workers that are gone (no heartbeat within the grace
    period: `promptopt.search.storage.fail_stale_trials`), and remove the folders of failed trials and the staging folders of
    ended processes. A live worker's trial and folder are never touched."""
    from optuna.trial import TrialState

    fail_stale_trials(study)
    atomic.remove_stale_staging(paths.trials)
    failed = {t.number for t in study.get_trials(deepcopy=False, states=(TrialState.FAIL,))}
    if paths.trials.is_dir():
        for folder in paths.trials.iterdir():
            if folder.is_dir() and folder.name.isdigit() and int(folder.name) in failed:
                shutil.rmtree(folder, ignore_errors=True)


def write_run_files(cfg: StudyConfig, paths: RunPaths) -> None:
    paths.trials.mkdir(parents=True, exist_ok=True)
    header = f"# resolved config of study {cfg.study.name!r}, from {cfg.source or 'defaults'} and command-line flags\n"
    atomic.write_text(paths.config, header + dumps(to_dict(cfg)))
    atomic.write_json(paths.environment, environment())


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
    first trial (queued by the worker that creates the study: `open_study`), and again when a failure lost that
    trial before it completed and no retry of it is queued."""
    from optuna.trial import TrialState

    if mutator.baseline().key() in seen or not study.get_trials(deepcopy=False):
        return
    pending = study.get_trials(deepcopy=False, states=(TrialState.WAITING, TrialState.RUNNING))
    if not any(trial.user_attrs.get(BASELINE_ATTR) for trial in pending):
        study.enqueue_trial(mutator.baseline_params(), user_attrs={BASELINE_ATTR: True})


class TrialStopped(Exception):
    """A stop was requested between two render batches of a trial: the trial is failed and queued again."""


def render_candidate(
    generator: Generator, candidate: Candidate, seeds: Sequence[int], stop: StopFlag | None = None
) -> list[Any]:
    """The candidate's images, one per seed, a generator batch at a time (image i depends only on its prompt and
    seed, so the batches change nothing): a stop requested meanwhile ends the trial before its next batch
    (`TrialStopped`), and a trial of many images ends within one batch."""
    images: list[Any] = []
    while len(images) < len(seeds):
        if stop is not None and stop.requested:
            raise TrialStopped
        batch = seeds[len(images) : len(images) + max(1, getattr(generator, "batch_size", len(seeds)))]
        images += generator.render(
            [candidate.prompt] * len(batch),
            batch,
            negative_prompt=candidate.negative_prompt or None,
            guidance_scale=candidate.guidance_scale,
            steps=candidate.steps,
        )
    return images


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
    result = SearchResult(n_complete=_count(study, TrialState.COMPLETE))
    already_complete = result.n_complete >= cfg.study.n_trials
    _queue_baseline(study, mutator, _previous_results(study))
    if on_trial is not None:
        on_trial(result.n_complete, None)
    while (trial := _next_trial(cfg, study, stop)) is not None:
        artifact = None
        try:
            with heartbeat(study, trial):
                trial.set_user_attr(WORKER_ATTR, atomic.owner())
                study.sampler = make_sampler(cfg, trial.number)
                seen = _previous_results(study)  # other workers' trials too
                args = (cfg, paths, trial, generator, scorers, mutator, seeds, seen, result.timing, stop)
                record, images = _evaluate(*args)
                write_trial(paths, record, images, seeds, {"generator": generator.identity})
                artifact = upload_grid(paths, trial)
                study.tell(trial, list(record.values))
        except BaseException as err:
            study.tell(trial, state=TrialState.FAIL)
            shutil.rmtree(paths.trial(trial.number), ignore_errors=True)
            if artifact is not None:  # failed after its upload: no orphaned grid in the artifact store
                remove_grid(paths, artifact)
            if not isinstance(err, (TrialStopped, KeyboardInterrupt)):
                raise
            queue_again(study, trial)  # stopped, not failed: the next run renders the same candidate
            if isinstance(err, KeyboardInterrupt):
                raise
            break
        result.n_complete = _count(study, TrialState.COMPLETE)
        result.new_trials.append(record)
        if on_trial is not None:
            on_trial(result.n_complete, record)
    result.n_complete = _count(study, TrialState.COMPLETE)
    result.stopped_early = result.n_complete < cfg.study.n_trials
    result.finished_here = not result.stopped_early and (already_complete or _completed_last(study, result))
    result.timing.total_s = time.perf_counter() - start
    return result


def _count(study: Any, *states: Any) -> int:
    return len(study.get_trials(deepcopy=False, states=states))


def _next_trial(cfg: StudyConfig, study: Any, stop: StopFlag) -> Any:
    """The next trial to run, or None once the study holds `n_trials` complete ones (or a stop is requested).

    The cap is the study's, shared by all its workers: a trial is started only while the complete trials and those
    running before it stay below `n_trials`. When the others' running trials would reach it, this worker waits for
    them: each either completes, or its worker dies and it is failed after the grace period and queued again, and
    then a waiting worker runs it."""
    from optuna.trial import TrialState

    while not stop.requested:
        fail_stale_trials(study)
        trials = study.get_trials(deepcopy=False)
        complete = sum(t.state == TrialState.COMPLETE for t in trials)
        if complete >= cfg.study.n_trials:
            return None
        if complete + sum(t.state == TrialState.RUNNING for t in trials) < cfg.study.n_trials:
            study.sampler = make_sampler(cfg, len(trials))
            trial = ask(study)
            ahead = sum(
                t.state == TrialState.COMPLETE or (t.state == TrialState.RUNNING and t.number < trial.number)
                for t in study.get_trials(deepcopy=False)
            )
            if ahead < cfg.study.n_trials:
                return trial
            trial.set_user_attr(OVER_CAP_ATTR, True)  # another worker took the last place at the same moment
            study.tell(trial, state=TrialState.FAIL)
        time.sleep(WAIT_S)
    return None


def _completed_last(study: Any, result: SearchResult) -> bool:
    """Whether this process ran the study's last completed trial: that worker exports, and no other."""
    from optuna.trial import TrialState

    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    last = max(complete, key=lambda t: (t.datetime_complete, t.number))
    return last.number in {record.number for record in result.new_trials}


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
    stop: StopFlag,
) -> tuple[TrialRecord, list[Any]]:
    from PIL import Image

    candidate = mutator.propose(trial)
    duplicate_of = None
    if candidate.key() in seen and (paths.trial(seen[candidate.key()][0]) / TRIAL_IMAGES).is_dir():
        duplicate_of, scores = seen[candidate.key()]  # (a worker with another run folder renders it again)
        folder = paths.trial(duplicate_of) / TRIAL_IMAGES
        images = [Image.open(folder / f"{i:02d}.png").convert("RGB") for i in range(len(seeds))]
    else:
        t0 = time.perf_counter()
        images = render_candidate(generator, candidate, seeds, stop)
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
