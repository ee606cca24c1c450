"""The folder every bad-input case runs against: a finished tiny search, a dataset, prompts, images, and damaged
files of every format promptopt reads. A case must leave it byte for byte as it found it (`tree`)."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

from promptopt.cli import app
from promptopt.core.tomlio import dumps

runner = CliRunner()


def _run(*args: str) -> None:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output


def _damaged(bad: Path, study: dict) -> None:
    bad.mkdir()
    (bad / "garbage.toml").write_text("[study\nname = = 'x'\n")
    (bad / "empty.toml").write_text("")
    (bad / "list.toml").write_text("study = [1, 2]\n")
    (bad / "folder.toml").mkdir()
    (bad / "not.json").write_text("{'a': 1,")
    (bad / "list.json").write_text("[1, 2, 3]")
    (bad / "bad.csv").write_bytes(b'"unterminated,\x00\xff\n')
    (bad / "empty.csv").write_text("")
    (bad / "bad.jsonl").write_text('{"file_name": "a.png"\n')
    (bad / "text.png").write_text("not an image")
    (bad / "cut.png").write_bytes(Image.new("RGB", (8, 8)).tobytes()[:20])
    (bad / "bad.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json}")
    (bad / "empty.safetensors").write_bytes(b"")
    (bad / "random.db").write_bytes(os.urandom(4096))
    (bad / "empty.db").write_bytes(b"")
    (bad / "other.db").write_bytes(b"")
    with sqlite3.connect(bad / "other.db") as db:
        db.execute("create table t (x)")
    (bad / "hostile.txt").write_text("<script>alert(1)</script>\n")
    (bad / "binary.txt").write_bytes(os.urandom(256))
    (bad / "n_trials0.toml").write_text(dumps({**study, "study": {**study["study"], "n_trials": 0}}))
    (bad / "escape.toml").write_text(dumps({**study, "study": {**study["study"], "name": "../../escaped"}}))
    (bad / "unknown_key.toml").write_text(dumps({**study, "banana": {"x": 1}}))
    (bad / "plan0.toml").write_text('[plan]\ntargets = ["polyp: type ip"]\nn_trials = 0\n')
    (bad / "plan_target.toml").write_text('[plan]\ntargets = ["polyp: banana"]\n')
    (bad / "lora_dir").mkdir()
    (bad / "lora_dir" / "pytorch_lora_weights.safetensors").write_bytes(b"\x00" * 12)
    (bad / "model_dir").mkdir()
    (bad / "model_dir" / "model_index.json").write_text("{")


def build_world(root: Path, study: dict) -> Path:
    """Build the world under `root` (outside it: the target of a symlink that leads out)."""
    world = root / "world"
    world.mkdir()
    (root / "outside").mkdir()
    (world / "link-out").symlink_to(root / "outside")
    (world / "cwd").mkdir()
    (world / "study.toml").write_text(dumps(study))
    (world / "prompts.txt").write_text("Generate a polyp of type paris ip\n")
    (world / "images").mkdir()
    for i in range(2):
        Image.new("RGB", (32, 32), (40 * i, 80, 120)).save(world / "images" / f"{i}.png")
    _run("search", "--study", str(world / "study.toml"), "--out", str(world / "runs"), "-n", "2")
    _run("data", "sim", "--n", "6", "--size", "32", "--out", str(world / "dataset"))
    for name, seed in (("shard1", "1"), ("shard2", "2")):
        tiny = ["--model", "tiny-random", "--steps", "2", "--height", "32", "--width", "32", "-k", "1"]
        _run("render", "--prompts", str(world / "prompts.txt"), *tiny, "--seed", seed, "--out", str(world / name))
    linked = world / "linked-render"  # a render folder whose metadata.jsonl leads out of it
    linked.mkdir()
    (root / "outside" / "metadata.jsonl").write_text("")
    (linked / "metadata.jsonl").symlink_to(root / "outside" / "metadata.jsonl")
    damaged_run = world / "damaged-run"
    damaged_run.mkdir()
    (damaged_run / "config.toml").write_bytes((world / "runs" / "t" / "config.toml").read_bytes())
    (damaged_run / "study.db").write_bytes(os.urandom(2048))
    bad_layout = world / "bad-layout"
    bad_layout.mkdir()
    (bad_layout / "metadata.jsonl").write_text('{"file_name": "a.png", "text": \n')
    _damaged(world / "bad", study)
    return world


@pytest.fixture(scope="module")
def world(tmp_path_factory, reference, make_study_dict) -> Path:
    """The world, built once for the module: every case must leave it as it was."""
    return build_world(tmp_path_factory.mktemp("bad-inputs"), make_study_dict(str(reference)))
