"""Every `promptopt …` command line in README.md and docs/*.md (in a fenced code block or an inline code span) names
commands and flags that exist: each line is parsed against the real CLI's click objects, never run."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import typer.main

from promptopt.cli import app
from promptopt.commands.default_group import DefaultGroup

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^\s*(```|~~~)")
PREFIX = re.compile(r"^(\$|time|[A-Z_][A-Z0-9_]*=\S*)$")  # a prompt, `time`, an environment variable
SPAN = re.compile(r"`([^`]+)`")
SHELL = re.compile(r"^(\||\|\||&|&&|;|\d*>.*|<.*)$")  # where the promptopt command ends


def command_lines(text: str) -> list[str]:
    """The `promptopt …` lines of fenced code blocks (backslash continuations joined) and the `promptopt …` inline
    code spans of the prose (a synopsis's optional parts in brackets read as given)."""
    lines, inside, joined, prose = [], False, "", []
    for line in text.splitlines():
        if FENCE.match(line):
            inside, joined = not inside, ""
            continue
        if not inside:
            prose.append(line)
            continue
        joined += line.rstrip()
        if joined.endswith("\\"):
            joined = joined[:-1] + " "
            continue
        if _promptopt_tokens(joined) is not None:
            lines.append(joined.strip())
        joined = ""
    spans = (" ".join(word.strip("[]") for word in span.split()) for span in SPAN.findall("\n".join(prose)))
    return lines + [span for span in spans if _promptopt_tokens(span) is not None]


def _promptopt_tokens(line: str) -> list[str] | None:
    """The line's words from `promptopt` on, when the line runs promptopt (after a prompt, `time` or variables)."""
    try:
        tokens = shlex.split(line, comments=True)
    except ValueError:  # unbalanced quotes: program output, not a command
        return None
    while tokens and PREFIX.match(tokens[0]):
        tokens.pop(0)
    return tokens if tokens[:1] == ["promptopt"] else None


def problems(line: str) -> list[str]:
    """What in `line` the CLI does not have: an unknown command or flag. Empty when the line parses."""
    tokens = _promptopt_tokens(line)
    if tokens is None:
        return [f"not a promptopt command line: {line}"]
    args = []
    for token in tokens[1:]:
        if SHELL.match(token):
            break
        args.append(token)
    command: Any = typer.main.get_command(app)
    path = ["promptopt"]
    while hasattr(command, "commands"):
        name = args[0] if args else None
        if name in command.commands and not (isinstance(command, DefaultGroup) and name not in command.visible()):
            command, path = command.commands[name], [*path, args.pop(0)]
        elif isinstance(command, DefaultGroup) and name not in (None, "--help"):
            command = command.default_command()[1]
        elif name is None or name.startswith("-"):  # the group's own options, or nothing more
            break
        else:
            return [f"{' '.join(path)} has no command {name!r}"]
    flags = {flag for param in command.params for flag in [*param.opts, *param.secondary_opts]} | {"--help"}
    used = [arg.split("=", 1)[0] for arg in args if re.match(r"^--?[A-Za-z]", arg)]
    return [f"{' '.join(path)} has no flag {flag}" for flag in used if flag not in flags]


def test_the_pages_hold_command_lines():
    assert len([line for page in PAGES for line in command_lines(page.read_text())]) > 100


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_every_command_line_names_commands_and_flags_that_exist(page):
    found = {line: problems(line) for line in command_lines(page.read_text())}
    assert not {line: errors for line, errors in found.items() if errors}


def test_a_made_up_flag_or_command_is_caught():
    assert problems("promptopt search -c polyp --n-trials 3") == []
    assert problems("promptopt search -c polyp --frobnicate 3") == ["promptopt search has no flag --frobnicate"]
    assert problems("promptopt data simulate --n 5") == ["promptopt data has no command 'simulate'"]
    assert problems("$ time OMP_NUM_THREADS=1 promptopt fit judge --data gi-sim --no-such") == [
        "promptopt fit judge has no flag --no-such"
    ]
    assert problems("promptopt evaluate GEN -r REAL --metrics fid") == problems("promptopt evaluate -r REAL GEN") == []
    assert problems("promptopt --version") == [] and problems("promptopt fit --help") == []
    assert problems("promptopt --verbose") == ["promptopt has no flag --verbose"]
    assert problems("promptopt evaluate tstr SYN REAL --closed-world --reference R") == [
        "promptopt evaluate tstr has no flag --reference"
    ]


def test_continuations_and_shell_are_read_as_the_shell_would():
    text = "```bash\nCUDA_VISIBLE_DEVICES=0 promptopt render --prompts p.txt \\\n    --bogus 8 > log 2>&1 &\n```\n"
    (line,) = command_lines(text)
    assert problems(line) == ["promptopt render has no flag --bogus"]
    assert command_lines("promptopt search --bogus, outside code\n") == []
    (span,) = command_lines("In prose, `promptopt export RUN [--top-k 10] [--bogus]` and `promptopt.cli`.\n")
    assert problems(span) == ["promptopt export has no flag --bogus"]
