"""Every command's --help in an 80-column terminal: no line wider, every flag named in full, the docs page named."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer.main
from typer.testing import CliRunner

from promptopt.cli import app

ROOT = Path(__file__).resolve().parents[3]
REFERENCE = re.compile(r"^  Reference: (\S+\.md)")
runner = CliRunner()


def _commands(group: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    yield path, group
    for name, command in getattr(group, "commands", {}).items():
        yield from _commands(command, (*path, name))


COMMANDS = dict(_commands(typer.main.get_command(app)))


def _help(path: tuple[str, ...]) -> str:
    result = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.parametrize("path", list(COMMANDS), ids=lambda path: " ".join(path) or "promptopt")
def test_help_fits_80_columns_names_every_flag_and_its_docs_page(path):
    text = _help(path)
    wide = [line for line in text.splitlines() if len(line) > 80]
    assert not wide, wide
    for param in COMMANDS[path].params:
        for flag in [*param.opts, *param.secondary_opts]:
            if flag.startswith("-"):
                assert re.search(rf"(?<![\w-]){re.escape(flag)}(?![\w-])", text), f"{flag} not in full"
    listed = text.partition("\nCommands:\n")[2].partition("\n\n")[0].splitlines()
    assert not [line for line in listed if line.endswith(("...", "…"))], "a command's summary is cut short"
    page = REFERENCE.match(text.rstrip().splitlines()[-1])
    assert page is not None, "the last line names no docs page"
    assert (ROOT / page[1]).is_file(), page[1]


def test_the_commands_are_all_there():
    names = {" ".join(path) for path in COMMANDS}
    expected = {"search", "opg", "export", "parse", "classify", "render", "train", "data stats", "data sim"}
    expected |= {"data sim-grid", "data merge", "fit judge", "fit classifier", "fit aligner"}
    assert expected | {"evaluate images", "evaluate tstr"} <= names


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["classify", "x.png", "--threshold", "5"], "Invalid value for '--threshold'"),
        (["fit", "judge", "--data", "gi-sim", "--out", "j.safetensors", "--gi-sim-images", "0"], "'--gi-sim-images'"),
        (["render", "--bogus"], "No such option: --bogus"),
        (["fit", "judge"], "Missing option '--data': see 'promptopt fit judge --help'"),
        (["search", "--study"], "Option '--study' requires an argument: see 'promptopt search --help'"),
        (["evaluate", "tstr", "--bogus"], "see 'promptopt evaluate tstr --help'"),
    ],
)
def test_a_bad_flag_is_one_line_and_exit_2(args, message):
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], result.output


def test_no_arguments_still_prints_the_help():
    result = runner.invoke(app, ["data"])
    assert "Inspect datasets of GI endoscopy images" in result.output
