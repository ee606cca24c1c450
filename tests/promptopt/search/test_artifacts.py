"""Each trial's image grid is an Optuna artifact in <run>/artifacts: read back through Optuna's API, and served
by optuna-dashboard's HTTP API beside the trial (its WSGI app, called as a server would call it)."""

from __future__ import annotations

import io
import json
import wsgiref.util

import optuna
from optuna.artifacts import FileSystemArtifactStore, download_artifact, get_all_artifact_meta
from PIL import Image
from typer.testing import CliRunner

from promptopt.cli import app
from promptopt.core.paths import TRIAL_GRID, RunPaths

runner = CliRunner()


def _search(study_toml, tmp_path) -> RunPaths:
    result = runner.invoke(app, ["search", "--study", str(study_toml), "--out", str(tmp_path / "runs"), "-n", "2"])
    assert result.exit_code == 0, result.output
    return RunPaths(tmp_path / "runs" / "t")


def _get(wsgi_app, path: str, query: str = "") -> tuple[str, bytes]:
    environ = {"PATH_INFO": path, "QUERY_STRING": query, "REQUEST_METHOD": "GET"}
    wsgiref.util.setup_testing_defaults(environ)
    status: list[str] = []
    body = b"".join(wsgi_app(environ, lambda s, headers, exc_info=None: status.append(s)))
    return status[0], body


def test_each_trial_grid_is_an_artifact_that_optuna_and_the_dashboard_read_back(study_toml, tmp_path):
    paths = _search(study_toml, tmp_path)
    study = optuna.load_study(study_name="t", storage=paths.storage_url)
    store = FileSystemArtifactStore(str(paths.artifacts))
    trials = study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))
    assert len(trials) == 2
    for trial in trials:
        (meta,) = get_all_artifact_meta(trial, storage=study._storage)
        assert meta.mimetype == "image/png"
        copy = tmp_path / f"grid{trial.number}.png"
        download_artifact(artifact_store=store, file_path=str(copy), artifact_id=meta.artifact_id)
        grid = paths.trial(trial.number) / TRIAL_GRID
        assert copy.read_bytes() == grid.read_bytes()
        assert Image.open(grid).size == (2 * 32, 32)  # the trial's two 32×32 images in one row

    import optuna_dashboard

    dashboard = optuna_dashboard.wsgi(paths.storage_url, artifact_store=store)
    status, body = _get(dashboard, f"/api/studies/{study._study_id}", "after=0")
    assert status.startswith("200")
    served = json.loads(body)["trials"]
    assert [t["number"] for t in served] == [0, 1]
    for trial in served:
        (artifact,) = trial["artifacts"]
        status, png = _get(dashboard, f"/artifacts/{study._study_id}/{trial['trial_id']}/{artifact['artifact_id']}")
        assert status.startswith("200") and Image.open(io.BytesIO(png)).size == (64, 32)
