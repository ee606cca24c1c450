"""The bad-input corpus: every case, over every command, is exit code 2 and one line on stderr that names the
value, with no traceback and the world folder (`conftest.build_world`) byte-identical afterwards.

Two sources: `cases.toml`, written by hand (missing, empty, folder-for-file and damaged files of every format
promptopt reads, unreachable servers, conflicting flags, hostile strings, symlinks out of the run folder), and
cases generated from the commands' own options (`generated`): every number option given a word, a negative
number, and (floats) nan and inf; every command given an unknown flag and, where it has some, no required
argument. Each case checks before loading anything heavy, so the corpus runs in seconds."""

from __future__ import annotations

import hashlib
import os
import signal
from dataclasses import dataclass
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from promptopt.cli import app
from promptopt.core.tomlio import read_toml

CASES_FILE = Path(__file__).with_name("cases.toml")
runner = CliRunner()
SECONDS = 60  # a case that runs longer got past its check and is doing real work: a failure


@dataclass(frozen=True)
class Case:
    id: str
    args: tuple[str, ...]
    says: tuple[str, ...]  # what the line names (each, case-insensitively)


BASE = {  # each command's required arguments, valid, so that the case's own value is what fails
    "search": ["--category", "polyp", "--out", "{w}/cwd/runs"],
    "export": ["{w}/runs/t"],
    "opg": ["--out", "{w}/cwd/opg"],
    "parse": ["Generate a polyp of type paris ip"],
    "classify": ["{w}/images"],
    "render": ["--prompts", "{w}/prompts.txt", "--out", "{w}/cwd/render"],
    "report": ["{w}/runs/t", "--out", "{w}/cwd/report.html"],
    "audit": ["--out", "{w}/cwd/audit"],
    "tune": ["--target", "polyp: type ip", "--out", "{w}/cwd/tune"],
    "train": ["--base", "tiny-random", "--data", "{w}/dataset", "--out", "{w}/cwd/train"],
    "data stats": ["{w}/dataset"],
    "data sim": ["--out", "{w}/cwd/sim"],
    "data sim-grid": ["--out", "{w}/cwd/grid"],
    "data merge": ["{w}/shard1", "{w}/shard2", "--out", "{w}/cwd/merged"],
    "fit judge": ["--data", "gi-sim", "--out", "{w}/cwd/judge.safetensors"],
    "fit classifier": ["--data", "gi-sim", "--out", "{w}/cwd/probe.safetensors"],
    "fit aligner": ["--data", "gi-sim", "--out", "{w}/cwd/aligner.safetensors"],
    "evaluate": ["{w}/images"],
    "evaluate tstr": ["{w}/dataset", "{w}/dataset"],
}
NOT_BELOW_MINUS_ONE = set()  # number options for which -1 is a valid value (none so far)


def commands() -> dict[str, object]:
    """Every leaf command by its path ("data stats"), as click sees it."""
    found: dict[str, object] = {}

    def walk(command: object, path: list[str]) -> None:
        subcommands = getattr(command, "commands", None)
        if subcommands:
            for name, sub in subcommands.items():
                walk(sub, path if getattr(sub, "hidden", False) else [*path, name])  # a default command: untyped
        else:
            found[" ".join(path)] = command

    walk(typer.main.get_command(app), [])
    return found


def generated() -> list[Case]:
    cases = []
    for path, command in commands().items():
        base = [*path.split(), *BASE[path]]
        cases.append(Case(f"{path}: unknown flag", (*base, "--banana"), ("--banana",)))
        if any(p.required for p in command.params) and not getattr(command, "hidden", False):  # (bare: help)
            cases.append(Case(f"{path}: nothing given", tuple(path.split()), ("missing",)))
        for param in command.params:
            kind = param.bare_type() if hasattr(param, "bare_type") else None
            if kind not in ("int", "float") or param.param_type_name != "option":
                continue
            flag = max(param.opts, key=len)
            values = ["many", "-1"] + (["nan", "inf", "-inf"] if kind == "float" else [])
            for value in values:
                if value == "-1" and f"{path} {flag}" in NOT_BELOW_MINUS_ONE:
                    continue
                cases.append(Case(f"{path} {flag} {value}", (*base, flag, value), (flag.lstrip("-"),)))
    return cases


def written() -> list[Case]:
    table = read_toml(CASES_FILE, "bad-input cases")
    cases = []
    for entry in table["case"]:
        says = entry["says"] if isinstance(entry["says"], list) else [entry["says"]]
        cases.append(Case(entry["id"], tuple(entry["args"]), tuple(says)))
    return cases


CASES = written() + generated()


def tree(root: Path) -> dict[str, str]:
    """Every entry under `root`: a file's SHA-256, a symlink's target, a folder as such."""
    found: dict[str, str] = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(folder) / name
            key = str(path.relative_to(root))
            if path.is_symlink():
                found[key] = "link " + os.readlink(path)
            elif path.is_dir():
                found[key] = "dir"
            else:
                found[key] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def test_the_corpus_is_large_and_its_ids_distinct():
    assert len(CASES) >= 250
    assert len({case.id for case in CASES}) == len(CASES)


def _plain(text: str) -> str:
    return text.lower().replace("_", "-").replace(".", "-")


def _alarm(signum, frame):
    raise TimeoutError(f"still running after {SECONDS} s: the bad value was accepted")


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_bad_input_is_one_line_and_changes_nothing(case, world, monkeypatch):
    monkeypatch.chdir(world / "cwd")
    before = tree(world.parent)
    args = [arg.replace("{w}", str(world)) for arg in case.args]
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(SECONDS)
    try:
        result = runner.invoke(app, args)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    lines = result.stderr.strip().splitlines()
    assert result.exit_code == 2, f"exit {result.exit_code}: {result.output}{result.exception!r}"
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.output
    for word in case.says:  # a flag may be named by its key: --batch-size as batch_size
        assert _plain(word.replace("{w}", str(world))) in _plain(lines[0]), lines[0]
    assert tree(world.parent) == before, "the case changed the world folder"
