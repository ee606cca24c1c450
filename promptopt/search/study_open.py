"""Opening a study: create it (the plain seed prompt queued as its first trial) or resume it, and refuse one that
this config or generator cannot resume (another search config, another model, a damaged database), before any
model loads where that can be known then (`check_resumable`)."""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
from pathlib import Path
from typing import Any

from promptopt.core import atomic
from promptopt.core.errors import InputError
from promptopt.core.paths import RunPaths
from promptopt.core.tomlio import changed_paths, differences
from promptopt.generators.base import Generator, stable_identity
from promptopt.search.mutator import build_mutator
from promptopt.search.optuna_private import release_connections
from promptopt.search.storage import DEFAULT_GRACE_S, first_line, masked, open_readonly, open_storage, sqlite_file
from promptopt.study.config import StudyConfig

IDENTITY_ATTR = "search_identity"
BASELINE_ATTR = "baseline"  # user attr of the queued plain seed prompt trial
GENERATOR_ATTR = "generator_identity"


def make_sampler(cfg: StudyConfig, trial_number: int) -> Any:
    """The study's sampler (`[study] sampler`: GP by default; NSGA-II for several objectives), for one trial. The
    seed moves on with the trial number, so neither a resumed run nor another worker on the same study replays a
    trial's random proposals. TPE's constant liar keeps workers from proposing what another is still rendering."""
    import optuna

    seed = cfg.study.seed + trial_number
    if cfg.study.sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if len(cfg.objectives) > 1:
        return optuna.samplers.NSGAIISampler(seed=seed)
    n_startup = min(5, max(cfg.study.n_trials // 3, 1))
    if cfg.study.sampler == "tpe":
        return optuna.samplers.TPESampler(seed=seed, n_startup_trials=n_startup, constant_liar=True)
    return optuna.samplers.GPSampler(seed=seed, n_startup_trials=n_startup)


def open_study(
    cfg: StudyConfig,
    paths: RunPaths,
    storage: str | None = None,
    *,
    grace_s: int = DEFAULT_GRACE_S,
    create: bool = True,
) -> Any:
    """Create or resume the study in `storage` (default: the run folder's SQLite file); refuse to resume one made with
    a different search configuration. The process that creates it queues the plain seed prompt as its first trial.
    With `create` False a missing study is an input error."""
    import optuna
    from sqlalchemy.exc import DatabaseError

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    url = storage or paths.storage_url
    db = sqlite_file(url)
    if db is not None:
        prepare_database(db)
    try:
        rdb = open_storage(url, grace_s)
        study, created = _create_or_load(cfg, rdb, create=create)
    except DatabaseError as err:
        where = db or masked(url)
        raise InputError(f"{where} cannot be read as an Optuna study ({first_line(err, url)}): {DB_FIX}") from None
    except KeyError:
        missing = f"storage {masked(url)} holds no study {cfg.study.name!r}: run `promptopt search` first"
        raise InputError(missing) from None
    if created:
        study.enqueue_trial(build_mutator(cfg).baseline_params(), user_attrs={BASELINE_ATTR: True})
    if _check_identity(cfg, paths, study) is None:
        study.set_user_attr(IDENTITY_ATTR, json.dumps(cfg.search_identity(), sort_keys=True))
    return study


def check_resumable(cfg: StudyConfig, paths: RunPaths, storage: str | None) -> None:
    """Before any model loads, read only: a study already in the storage (a damaged run folder database, or one
    made with another search config) is refused now, as `open_study` would refuse it later."""
    import optuna

    url = storage or paths.storage_url
    db = sqlite_file(url)
    if db is not None:
        if not db.exists():
            return
        prepare_database(db)  # an empty or foreign file is refused; an existing database is not written
    try:
        study = optuna.load_study(study_name=cfg.study.name, storage=open_readonly(url))
    except KeyError:
        return
    try:
        _check_identity(cfg, paths, study)
    finally:
        release_connections(study)


def _check_identity(cfg: StudyConfig, paths: RunPaths, study: Any) -> str | None:
    """The search identity stored in the study (None: none yet); InputError when it is not this config's."""
    identity = json.dumps(cfg.search_identity(), sort_keys=True)
    stored = study.user_attrs.get(IDENTITY_ATTR)
    if stored is not None and stored != identity:
        changed = [key for key, _, _ in changed_paths(json.loads(stored), json.loads(identity))]
        raise InputError(
            f"run folder {paths.root} holds study {cfg.study.name!r} made with a different search config "
            f"(changed: {', '.join(changed)}); use another --out or a new [study] name to start a new study"
        )
    return stored


def _create_or_load(cfg: StudyConfig, storage: Any, *, create: bool) -> tuple[Any, bool]:
    """(study, whether this call created it): of several workers starting at once, exactly one creates it."""
    import optuna

    sampler = make_sampler(cfg, 0)
    if create:
        directions = [o.direction for o in cfg.objectives]
        try:
            return optuna.create_study(
                study_name=cfg.study.name, storage=storage, directions=directions, sampler=sampler
            ), True
        except optuna.exceptions.DuplicatedStudyError:
            pass
    return optuna.load_study(study_name=cfg.study.name, storage=storage, sampler=sampler), False


DB_FIX = "move it away (it is left as it is) and run again to start a new study, or choose another --out"


def prepare_database(db: Path) -> None:
    """Refuse a study.db that is not an SQLite database (empty, truncated or another file): SQLite would treat an
    empty file as a new database and write over it. Create a missing one whole (its header written), so that a worker
    starting at the same moment never finds it empty."""
    db.parent.mkdir(parents=True, exist_ok=True)
    if not db.exists():
        fd, tmp = atomic.staging_file(db.parent, f".{db.name}.")
        os.close(fd)
        try:
            with contextlib.closing(sqlite3.connect(tmp)) as con:
                con.executescript("CREATE TABLE promptopt_new (x); DROP TABLE promptopt_new;")
            os.link(tmp, db)
        except FileExistsError:  # another worker's, complete
            pass
        finally:
            Path(tmp).unlink(missing_ok=True)
    with db.open("rb") as fh:
        header = fh.read(16)
    if header != b"SQLite format 3\x00":
        what = "empty" if not header else "not an SQLite database"
        raise InputError(f"{db} is {what}: {DB_FIX}")


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
