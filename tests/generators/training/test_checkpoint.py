import pytest
import torch

from promptopt.generators.training.checkpoint import find_checkpoint, list_checkpoints, load_checkpoint, save_checkpoint


def _save(out, step, limit=0):
    weights = {"unet.w": torch.full((2, 2), float(step))}
    objects = {
        "optimizer": {"state": {0: {"exp_avg": torch.ones(2) * step}}, "param_groups": []},
        "rng": {"cpu": torch.get_rng_state()},
    }
    return save_checkpoint(
        out, step, weights, objects, [{"step": float(step), "loss": 0.5, "lr": 1e-4}], total_limit=limit
    )


def test_checkpoints_round_trip_and_latest_is_the_newest(tmp_path):
    rng = torch.get_rng_state()
    for step in (2, 10, 4):
        _save(tmp_path, step)
    assert [s for s, _ in list_checkpoints(tmp_path)] == [2, 4, 10]
    latest = find_checkpoint(tmp_path, "latest")
    assert latest.name == "checkpoint-10"
    loaded = load_checkpoint(latest)
    assert loaded.step == 10 and torch.equal(loaded.weights["unet.w"], torch.full((2, 2), 10.0))
    assert torch.equal(loaded.objects["optimizer"]["state"][0]["exp_avg"], torch.ones(2) * 10)
    assert torch.equal(loaded.objects["rng"]["cpu"], rng)
    assert loaded.log == [{"step": 10.0, "loss": 0.5, "lr": 1e-4}]
    assert not [p for p in (tmp_path / "checkpoints").iterdir() if p.name.startswith(".")]  # no staging left


def test_total_limit_keeps_the_newest(tmp_path):
    for step in (1, 2, 3, 4):
        _save(tmp_path, step, limit=2)
    assert [s for s, _ in list_checkpoints(tmp_path)] == [3, 4]


def test_resaving_a_step_replaces_it(tmp_path):
    _save(tmp_path, 3)
    folder = _save(tmp_path, 3)
    assert [s for s, _ in list_checkpoints(tmp_path)] == [3] and load_checkpoint(folder).step == 3


def test_incomplete_or_missing_checkpoints_are_refused_by_name(tmp_path):
    with pytest.raises(ValueError, match="holds no checkpoint yet"):
        find_checkpoint(tmp_path, "latest")
    folder = _save(tmp_path, 5)
    (folder / "optimizer.pt").unlink()
    with pytest.raises(ValueError, match=rf"checkpoint {folder} is incomplete \(missing optimizer.pt\)"):
        find_checkpoint(tmp_path, "latest")
    (folder / "state.json").unlink()
    with pytest.raises(ValueError, match="missing state.json"):
        find_checkpoint(tmp_path, str(folder))
    with pytest.raises(ValueError, match="does not exist"):
        find_checkpoint(tmp_path, str(tmp_path / "checkpoint-99"))
