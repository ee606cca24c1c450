"""Optuna's private parts that promptopt relies on, each reached here and nowhere else.

Why: Optuna records heartbeats and fails the trials of dead workers only inside `study.optimize`; promptopt runs
ask-and-tell (a trial is rendered, scored and written before `tell`), so it does both itself, and for that it needs
a trial's storage id, the study's storage, Optuna's own stale-trial query, and one query Optuna does not offer
(the running trials that never sent a heartbeat). Checked against optuna 5.1.0 (constraints.txt);
tests/promptopt/search/test_storage.py exercises every function here, so a release that moves them fails there.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def trial_id(trial: Any) -> int:
    """The storage's id of a trial (FrozenTrial or Trial): what heartbeats and state changes are keyed by."""
    return trial._trial_id


def storage_of(study: Any) -> Any:
    """The study's storage (Optuna's cached wrapper around the RDB storage)."""
    return study._storage


def stale_trial_ids(study: Any) -> set[int]:
    """Optuna's own rule: RUNNING trials whose last heartbeat is older than the grace period."""
    return set(study._storage._get_stale_trial_ids(study._study_id))


def grace_period(study: Any) -> int:
    """The grace period (seconds) of the RDB storage under Optuna's cache."""
    return study._storage._backend.grace_period


def with_heartbeat(study: Any, ids: Iterable[int]) -> set[int]:
    """Those of the trial ids that have sent at least one heartbeat."""
    from optuna.storages._rdb import models
    from optuna.storages._rdb.storage import _create_scoped_session

    ids = list(ids)
    if not ids:
        return set()
    beat = models.TrialHeartbeatModel
    with _create_scoped_session(study._storage._backend.scoped_session) as session:
        return {row[0] for row in session.query(beat.trial_id).filter(beat.trial_id.in_(ids))}


def release_connections(study: Any) -> None:
    """Close the pooled database connections of the study's storage (it reconnects if used again): a process
    that runs many studies, as `opg` does, would otherwise hold a pool per study until it ends."""
    backend = getattr(study._storage, "_backend", study._storage)
    engine = getattr(backend, "engine", None)
    if engine is not None:
        engine.dispose()
