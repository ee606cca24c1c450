"""Where a study lives: an Optuna RDB storage (an SQLite file by default, PostgreSQL for many workers on one study),
opened with heartbeats so that only the trials of workers that are gone are failed and retried, and shown only with
its password masked.

A worker records a heartbeat for its running trial every `heartbeat_interval` seconds; a RUNNING trial whose last
heartbeat is older than the grace period belongs to a worker that was killed: any worker fails it and queues a copy
(the same parameters and user attributes) to run again.
"""

from __future__ import annotations

import copy
import threading
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from promptopt.core import atomic
from promptopt.core.errors import InputError
from promptopt.search.optuna_private import grace_period, stale_trial_ids, storage_of, trial_id, with_heartbeat

STORAGE_ENV = "PROMPTOPT_STORAGE"  # the storage URL when --storage is not given
DEFAULT_GRACE_S = 60
MIN_BARE_PASSWORD = 4  # a password shorter than this is masked only where it stands in a URL
WORKER_ATTR = "worker"  # a trial's user attr: `<host>-<pid>` of the process that runs it (`atomic.owner`)
MAX_RETRY = 3  # how often one trial is run again after its worker died
SCHEMES = ("sqlite", "postgresql", "mysql")
DRIVERS = {
    "postgresql": "psycopg[binary] (installed with promptopt)",
    "mysql": "a MySQL driver, e.g. `pip install pymysql`, with mysql+pymysql://",
}
_CREATE_TRIES = 8


def heartbeat_interval(grace_s: int) -> int:
    """Seconds between a running trial's heartbeats: several fit in the grace period."""
    return max(1, grace_s // 5)


def check_url(url: str) -> str:
    """`url` if it is a storage URL promptopt can open (sqlite, postgresql, mysql, with or without +driver)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        shown = repr(url) if "@" not in url else "<storage URL>"  # it may hold a password it cannot mask
        raise InputError(
            f"--storage {shown} is not a database URL: write postgresql://user:password@host:port/db or "
            "sqlite:///path/study.db"
        ) from None
    if parsed.get_backend_name() not in SCHEMES:
        raise InputError(
            f"--storage {masked(url)}: unsupported database {parsed.get_backend_name()!r}: use {', '.join(SCHEMES)}"
        )
    return url


def sqlite_file(url: str) -> Path | None:
    """The database file of an SQLite URL (None for another database, or SQLite in memory)."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def open_readonly(url: str) -> Any:
    """The storage at `url` for reading only: an SQLite file opened read-only (an empty or foreign file is
    refused, never turned into a database), another database as it is. InputError when it cannot be read."""
    import optuna
    from sqlalchemy.exc import DatabaseError

    db = sqlite_file(url)
    if db is not None:
        url = f"sqlite:///file:{db.resolve()}?mode=ro&uri=true"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.storages.RDBStorage(url, skip_table_creation=db is not None)
    except (DatabaseError, optuna.exceptions.StorageInternalError) as err:  # the latter: a write refused
        reason = first_line(err.__cause__ or err, url)
        if db is not None:
            raise InputError(f"{db} is damaged or no Optuna database ({reason}): restore it, or give another") from None
        raise InputError(
            f"cannot read storage {masked(url)} ({reason}): check the URL and that the database server runs"
        ) from None


def masked(url: str) -> str:
    """The URL with its password replaced by ***: what may be printed or written."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not a URL at all: show nothing of it
        return "<storage URL>"


def scrubbed(text: str, url: str) -> str:
    """`text` (an error message) with the URL's password, as written and as decoded, replaced by ***."""
    from urllib.parse import quote

    from sqlalchemy.engine import make_url

    try:
        password = make_url(url).password
    except Exception:
        return text.replace(url, masked(url))
    if password:
        for form in {str(password), quote(str(password), safe="")}:
            text = text.replace(f":{form}@", ":***@")  # in a URL, whatever its length
            if len(form) >= MIN_BARE_PASSWORD:  # alone: a short one would garble every word it occurs in
                text = text.replace(form, "***")
    return text


def first_line(err: BaseException, url: str) -> str:
    """The first line of a database error's message, without the password."""
    lines = str(getattr(err, "orig", None) or err).strip().splitlines()
    return scrubbed(lines[0] if lines else type(err).__name__, url)


def open_storage(url: str, grace_s: int = DEFAULT_GRACE_S) -> Any:
    """An `optuna.storages.RDBStorage` with heartbeats and the retry of stale trials. Several workers may start at
    once on a new database: creating its tables then races, so creation is tried again on a conflict."""
    import optuna
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import DatabaseError, IntegrityError, NoSuchModuleError, OperationalError

    backend = make_url(url).get_backend_name()  # sqlite, postgresql, mysql: the scheme without its +driver
    _refuse_foreign_sqlite(url)
    connect_args = {"sqlite": {"timeout": 60}, "postgresql": {"connect_timeout": 20}}.get(backend, {})
    engine_kwargs: dict[str, Any] = {"connect_args": connect_args}
    if backend != "sqlite":
        engine_kwargs["pool_pre_ping"] = True
    for attempt in range(_CREATE_TRIES):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return optuna.storages.RDBStorage(
                    url,
                    engine_kwargs=engine_kwargs,
                    heartbeat_interval=heartbeat_interval(grace_s),
                    grace_period=grace_s,
                    heartbeat_stale_trial_callback=optuna.storages.RetryHeartbeatStaleTrialCallback(MAX_RETRY),
                )
        except (NoSuchModuleError, ImportError):
            driver = DRIVERS.get(backend, "it")
            message = f"--storage {masked(url)}: its database driver is not installed: install {driver}"
            raise InputError(message) from None
        except IntegrityError:  # another worker created the tables meanwhile
            time.sleep(0.2 * (attempt + 1))
        except OperationalError as err:
            if attempt == _CREATE_TRIES - 1 or backend != "sqlite":
                raise InputError(
                    f"cannot open storage {masked(url)} ({first_line(err, url)}): check the URL and that the database "
                    "server runs and accepts this user"
                ) from None
            time.sleep(0.2 * (attempt + 1))  # SQLite file locked by another worker creating it
        except DatabaseError as err:  # a damaged or foreign file: "file is not a database", "malformed"
            raise InputError(
                f"storage {masked(url)} is no Optuna database ({first_line(err, url)}): restore it, or give another"
            ) from None
    raise InputError(f"cannot create the tables of storage {masked(url)}: several workers conflicted; run again")


def _refuse_foreign_sqlite(url: str) -> None:
    """An SQLite file that holds tables but no Optuna study table is another program's database: Optuna would add
    its tables to it. Refused, and the file left as it is."""
    import sqlite3

    db = sqlite_file(url)
    if db is None or not db.is_file() or db.stat().st_size == 0:
        return
    try:
        with sqlite3.connect(f"file:{db.resolve()}?mode=ro", uri=True) as conn:
            tables = {row[0] for row in conn.execute("select name from sqlite_master where type = 'table'")}
    except sqlite3.DatabaseError:
        return  # damaged: RDBStorage says so
    if tables and "studies" not in tables:
        raise InputError(
            f"storage {db} is another program's SQLite database (tables: {', '.join(sorted(tables)[:5])}), not an "
            "Optuna storage: give a new file or a promptopt study.db"
        )


def fail_stale_trials(study: Any) -> None:
    """Fail the RUNNING trials whose worker is gone, and queue each again (at most MAX_RETRY times): those whose last
    heartbeat is older than the grace period (Optuna's rule), those that never sent one and started longer ago
    than that (a worker killed between starting a trial and its first heartbeat, or one of a promptopt from before
    heartbeats), and at once those whose worker ran on this machine and has ended (a run restarted after a kill
    need not wait for the grace period). Of several workers doing this at once, one fails and queues each trial.

    Optuna offers this only inside `study.optimize` and only for trials with a heartbeat: the reads use its storage's
    internals, all in `promptopt.search.optuna_private`."""
    from optuna.exceptions import UpdateFinishedTrialError
    from optuna.trial import TrialState
    from sqlalchemy.exc import OperationalError

    storage = storage_of(study)
    stale = stale_trial_ids(study) | _silent_trial_ids(study) | _ended_here(study)
    for stale_id in sorted(stale):
        try:
            if not storage.set_trial_state_values(stale_id, state=TrialState.FAIL):
                continue
        except (UpdateFinishedTrialError, OperationalError):  # another worker failed it first
            continue
        _retry(study, stale_id)


def queue_again(study: Any, trial: Any) -> None:
    """Queue the parameters of a failed trial again, as a stale trial is (at most MAX_RETRY times): a trial
    stopped by a stop request is run again by the next run, not lost."""
    _retry(study, trial_id(trial))


def _retry(study: Any, trial_id: int) -> None:
    storage = storage_of(study)
    failed = copy.deepcopy(storage.get_trial(trial_id))
    failed.user_attrs.pop(WORKER_ATTR, None)  # the retry's worker is not yet known, and not the dead one
    storage.get_heartbeat_stale_trial_callback()(study, failed)


def _ended_here(study: Any) -> set[int]:
    """Ids of RUNNING trials whose worker (`WORKER_ATTR`) ran on this machine and has ended."""
    from optuna.trial import TrialState

    running = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
    ended = {trial_id(t): t.user_attrs[WORKER_ATTR] for t in running if WORKER_ATTR in t.user_attrs}
    return {trial_id for trial_id, owner in ended.items() if atomic.owner_is_gone(owner)}


def _silent_trial_ids(study: Any) -> set[int]:
    """Ids of RUNNING trials that started more than the grace period ago and never sent a heartbeat."""
    from datetime import datetime, timedelta

    from optuna.trial import TrialState

    cutoff = datetime.now() - timedelta(seconds=grace_period(study))
    running = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
    old = {trial_id(t) for t in running if t.datetime_start is not None and t.datetime_start < cutoff}
    return old - with_heartbeat(study, old)


def ask(study: Any) -> Any:
    """`study.ask()`, without Optuna's warning that heartbeats are meant for `study.optimize` (`heartbeat` below
    sends them for ask-and-tell)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed to be used")
        return study.ask()


@contextmanager
def heartbeat(study: Any, trial: Any) -> Iterator[None]:
    """Record `trial`'s heartbeat now and every heartbeat interval while the block runs (in a thread)."""
    storage = storage_of(study)  # Optuna sends heartbeats itself only inside `study.optimize`
    interval = storage.get_heartbeat_interval()
    beating = trial_id(trial)
    storage.record_heartbeat(beating)
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(interval):
            try:
                storage.record_heartbeat(beating)
            except Exception:  # a beat lost to a busy or briefly unreachable database; the next one may pass
                continue

    thread = threading.Thread(target=beat, name=f"heartbeat-{trial.number}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
