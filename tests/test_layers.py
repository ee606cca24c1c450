"""The import rule, read from every module's imports with `ast` (lowest layer first):

- `promptopt.scorers` (scorers/: the ground floor: metrics, atomic writes, offline assets) imports nothing else
  of ours;
- `promptopt.generators` (generators/) imports only `promptopt.scorers`;
- promptopt's core (errors, paths, progress, interrupt, provenance, TOML I/O) imports no other promptopt module;
- its vocabulary (grammar, categories, labels, datasets, GI-sim) imports only the core (and `scorers`);
- its workflows (search, render, evaluate, fit, tstr, train, export) may import the core, the vocabulary,
  `generators` and `scorers`, never the face;
- the face (`promptopt.cli`, `promptopt.commands`) may import anything; only it and bench/ import `commands`;
- no module imports another module's `_private` name, and none imports the folders' bare names (`scorers`,
  `generators`): they install under promptopt only.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = {"promptopt": "promptopt", "generators": "promptopt.generators", "scorers": "promptopt.scorers"}
BARE = ("generators", "scorers")
CORE = {"promptopt", "promptopt.errors", "promptopt.paths", "promptopt.progress", "promptopt.interrupt",
        "promptopt.provenance", "promptopt.tomlio"}  # fmt: skip
VOCABULARY = ("promptopt.grammar", "promptopt.categories", "promptopt.labels", "promptopt.dataset", "promptopt.sim")
FACE = ("promptopt.cli", "promptopt.commands")


def layer(module: str) -> str:
    for name in BARE:
        if module == f"promptopt.{name}" or module.startswith(f"promptopt.{name}."):
            return name
    if module.split(".")[0] in BARE:
        return "bare"
    if module in CORE:
        return "core"
    if module.startswith(tuple(f"{p}." for p in VOCABULARY)) or module in VOCABULARY:
        return "vocabulary"
    if module.startswith(tuple(f"{p}." for p in FACE)) or module in FACE:
        return "face"
    return "workflows"


ALLOWED = {
    "scorers": {"scorers"},
    "generators": {"scorers", "generators"},
    "core": {"core"},
    "vocabulary": {"core", "vocabulary", "scorers"},
    "workflows": {"core", "vocabulary", "workflows", "generators", "scorers"},
    "face": {"core", "vocabulary", "workflows", "generators", "scorers", "face"},
}


def imports(source: str) -> list[tuple[str, str | None, int]]:
    """(module, imported name or None, line) of every absolute import of ours."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(alias.name, None, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found += [(node.module, alias.name, node.lineno) for alias in node.names]
    return [(m, n, line) for m, n, line in found if m.split(".")[0] in FOLDERS]


def violations(module: str, source: str) -> list[str]:
    """What `module` (with this source) imports against the rule."""
    problems = []
    for target, name, line in imports(source):
        if name is not None and name.startswith("_") and not name.startswith("__"):
            problems.append(f"{module}:{line} imports the private {target}.{name}")
        full = f"{target}.{name}" if name is not None and is_module(f"{target}.{name}") else target
        if layer(full) == "bare":
            problems.append(f"{module}:{line} imports {full}: write promptopt.{full}")
        elif layer(full) not in ALLOWED[layer(module)]:
            problems.append(f"{module}:{line} ({layer(module)}) imports {full} ({layer(full)})")
    return problems


def is_module(dotted: str) -> bool:
    """Whether `dotted` names a module or package of ours (so `from promptopt import commands` imports it)."""
    parts = dotted.split(".")
    if parts[:2] in (["promptopt", "generators"], ["promptopt", "scorers"]):
        parts = parts[1:]
    path = ROOT.joinpath(*parts)
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def module_name(path: Path) -> str:
    """The installed name of a module file: scorers/clip.py is promptopt.scorers.clip."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    parts = parts[:-1] if parts[-1] == "__init__" else parts
    return ".".join([FOLDERS[parts[0]], *parts[1:]])


def test_every_module_keeps_the_import_rule():
    modules = [p for top in FOLDERS for p in sorted((ROOT / top).rglob("*.py"))]
    assert len(modules) > 100
    problems = [v for p in modules for v in violations(module_name(p), p.read_text(encoding="utf-8"))]
    assert problems == []


WRONG = [  # (module, its source, what the rule says), the module's layer in brackets
    ("promptopt.scorers.clip", "from promptopt.errors import InputError", "(scorers) imports promptopt.errors (core)"),
    (
        "promptopt.scorers.clip",
        "from promptopt.generators import base",
        "(scorers) imports promptopt.generators.base (generators)",
    ),
    ("promptopt.generators.loading", "import promptopt.paths", "(generators) imports promptopt.paths (core)"),
    ("promptopt.export", "from scorers.realism import kid", "imports scorers.realism: write promptopt.scorers.realism"),
    ("promptopt.paths", "from promptopt.config import StudyConfig", "(core) imports promptopt.config (workflows)"),
    ("promptopt.sim.scene", "from promptopt.search import run", "(vocabulary) imports promptopt.search (workflows)"),
    (
        "promptopt.search",
        "from promptopt.commands.common import x",
        "(workflows) imports promptopt.commands.common (face)",
    ),
    ("promptopt.search", "from promptopt import commands", "(workflows) imports promptopt.commands (face)"),
    (
        "promptopt.render",
        "from promptopt.generators.loading import _x",
        "imports the private promptopt.generators.loading._x",
    ),
]
RIGHT = [
    ("promptopt.generators.loading", "from promptopt.scorers import atomic"),
    ("promptopt.commands.render", "from promptopt.render import render_folder"),
    ("promptopt.sim.writer", "from promptopt import __version__"),
]


@pytest.mark.parametrize(("module", "source", "problem"), WRONG)
def test_the_rule_catches_a_wrong_import(module, source, problem):
    assert violations(module, source) == [f"{module}:1 {problem}"]


@pytest.mark.parametrize(("module", "source"), RIGHT)
def test_the_rule_lets_a_right_import_pass(module, source):
    assert violations(module, source) == []


def test_only_the_face_draws_or_parses_the_command_line():
    """Workflows return data and never print: rich and typer are imported by the face alone."""
    for path in (p for top in FOLDERS for p in sorted((ROOT / top).rglob("*.py"))):
        module = module_name(path)
        if layer(module) != "face":
            tree = ast.parse(path.read_text(encoding="utf-8"))
            names = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
            names |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
            assert not {name.split(".")[0] for name in names} & {"rich", "typer"}, module


def test_bench_imports_only_public_names():
    for path in sorted((ROOT / "bench").glob("*.py")):
        for target, name, line in imports(path.read_text(encoding="utf-8")):
            assert not (name or "").startswith("_") or name.startswith("__"), f"{path.name}:{line} {target}.{name}"
