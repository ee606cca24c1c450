"""The floors of the code, read from every module's imports with `ast` (lowest first):

- `promptopt.core` (the ground floor: errors, atomic writes, paths, TOML I/O, device, images, grids, progress,
  interrupt, provenance) imports nothing else of ours;
- `promptopt.scorers` (scorers/: metrics, the judge model, offline assets) imports only the core;
- `promptopt.generators` (generators/) imports only the core and `promptopt.scorers`;
- the vocabulary (`grammar`, `sim`, `datasets`, and the bundled `studies`) imports only the floors below it;
- the workflows, one package per concept, import only the floors below them and the packages before them in
  `WORKFLOWS`: judge, study, then search, render, evaluate and train, then opg, then report; never the face;
- the face (`promptopt.cli`, `promptopt.commands`) may import anything; only it and bench/ import `commands`, and
  no command module defines a workflow (no function body longer than `FACE_FUNCTION_LINES`);
- no module imports another module's `_private` name, none imports the folders' bare names (`scorers`,
  `generators`: they install under promptopt only), and no chain of imports leads from a module back to itself.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = {"promptopt": "promptopt", "generators": "promptopt.generators", "scorers": "promptopt.scorers"}
BARE = ("generators", "scorers")
VOCABULARY = ("promptopt.grammar", "promptopt.sim", "promptopt.datasets", "promptopt.studies")
WORKFLOWS = (  # each may import those before it (a tuple: packages on one floor, which import none of each other)
    ("promptopt.judge",),
    ("promptopt.study",),
    ("promptopt.search", "promptopt.render", "promptopt.evaluate", "promptopt.train", "promptopt.loop"),
    ("promptopt.opg",),
    ("promptopt.report",),
)
FACE = ("promptopt.cli", "promptopt.commands")
FACE_FUNCTION_LINES = 40


def _under(module: str, packages: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(f"{p}.") for p in packages)


def layer(module: str) -> str:
    """The floor of a module: bare, core, scorers, generators, vocabulary, workflows:<floor index> or face."""
    for name in BARE:
        if _under(module, (f"promptopt.{name}",)):
            return name
    if module.split(".")[0] in BARE:
        return "bare"
    if module == "promptopt" or _under(module, ("promptopt.core",)):
        return "core"
    if _under(module, VOCABULARY):
        return "vocabulary"
    if _under(module, FACE):
        return "face"
    for index, floor in enumerate(WORKFLOWS):
        if _under(module, floor):
            return f"workflows:{index}"
    return "unknown"


BELOW = {
    "core": {"core"},
    "scorers": {"core", "scorers"},
    "generators": {"core", "scorers", "generators"},
    "vocabulary": {"core", "scorers", "vocabulary"},
}


def allowed(importer: str, imported: str) -> bool:
    """Whether a module on floor `importer` may import one on floor `imported`."""
    if importer == "face":
        return imported != "bare"
    if importer.startswith("workflows:"):
        if imported.startswith("workflows:"):
            return int(imported.split(":")[1]) < int(importer.split(":")[1])
        return imported in BELOW["vocabulary"] | {"generators", "vocabulary"}
    return imported in BELOW.get(importer, set())


def imports(source: str) -> list[tuple[str, str | None, int]]:
    """(module, imported name or None, line) of every absolute import of ours."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(alias.name, None, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found += [(node.module, alias.name, node.lineno) for alias in node.names]
    return [(m, n, line) for m, n, line in found if m.split(".")[0] in FOLDERS]


def imported_module(target: str, name: str | None) -> str:
    """The module an import loads: `from promptopt.core import atomic` loads promptopt.core.atomic."""
    return f"{target}.{name}" if name is not None and is_module(f"{target}.{name}") else target


def violations(module: str, source: str) -> list[str]:
    """What `module` (with this source) imports against the rule."""
    problems = []
    for target, name, line in imports(source):
        if name is not None and name.startswith("_") and not name.startswith("__"):
            problems.append(f"{module}:{line} imports the private {target}.{name}")
        full = imported_module(target, name)
        if layer(full) == "bare":
            problems.append(f"{module}:{line} imports {full}: write promptopt.{full}")
        elif _package(full) != _package(module) and not allowed(layer(module), layer(full)):
            problems.append(f"{module}:{line} ({layer(module)}) imports {full} ({layer(full)})")
    return problems


def _package(module: str) -> str:
    """The concept a module belongs to (promptopt.search.loop: promptopt.search); its own imports are free."""
    parts = module.split(".")
    return ".".join(parts[:2]) if len(parts) > 2 or is_package(module) else module


def is_module(dotted: str) -> bool:
    """Whether `dotted` names a module or package of ours (so `from promptopt import commands` imports it)."""
    return _path(dotted).with_suffix(".py").is_file() or is_package(dotted)


def is_package(dotted: str) -> bool:
    return (_path(dotted) / "__init__.py").is_file()


def _path(dotted: str) -> Path:
    parts = dotted.split(".")
    if parts[:2] in (["promptopt", "generators"], ["promptopt", "scorers"], ["promptopt", "studies"]):
        parts = parts[1:]
    return ROOT.joinpath(*parts)


def module_name(path: Path) -> str:
    """The installed name of a module file: scorers/clip.py is promptopt.scorers.clip."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    parts = parts[:-1] if parts[-1] == "__init__" else parts
    return ".".join([FOLDERS[parts[0]], *parts[1:]])


def sources() -> dict[str, str]:
    paths = [p for top in FOLDERS for p in sorted((ROOT / top).rglob("*.py"))]
    return {module_name(p): p.read_text(encoding="utf-8") for p in paths}


def test_every_module_keeps_the_import_rule():
    modules = sources()
    assert len(modules) > 100
    assert all(layer(m) != "unknown" for m in modules), [m for m in modules if layer(m) == "unknown"]
    problems = [v for module, source in modules.items() for v in violations(module, source)]
    assert problems == []


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def module_graph(modules: dict[str, str]) -> dict[str, set[str]]:
    """Module → the modules of ours it imports (at any depth of its code, TYPE_CHECKING included), packages'
    `__init__` re-exports left out: they follow their modules and are imported by no module of ours."""
    graph: dict[str, set[str]] = {}
    for module, source in modules.items():
        if is_package(module):
            continue
        targets = {imported_module(t, n) for t, n, _ in imports(source)}
        graph[module] = {t for t in targets if t != module and t in modules and not is_package(t)}
    return graph


def test_no_chain_of_imports_leads_back_to_its_start():
    assert cycles(module_graph(sources())) == []


def test_the_cycle_finder_finds_a_circle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_package_imports_another_through_its_init():
    """Inside promptopt, a module imports the module that defines a name, not the package that re-exports it:
    a workflow package's `__init__` is the public face for users and notebooks, and importing through it would
    hide real edges. The vocabulary's grammar and sim are read through their package API (`grammar.parse`)."""
    problems = []
    for module, source in sources().items():
        for target, name, line in imports(source):
            full = imported_module(target, name)
            reexport = (
                name is not None
                and is_package(full)
                and full not in ("promptopt", "promptopt.grammar", "promptopt.sim")
            )
            if reexport and not is_module(f"{full}.{name}") and full != _package(module):
                problems.append(f"{module}:{line} imports {name} from the package {full}")
    assert problems == []


def test_no_command_defines_a_workflow():
    """A command parses options, calls one workflow and prints: no function body in the face is long."""
    long = []
    for path in sorted((ROOT / "promptopt" / "commands").glob("*.py")) + [ROOT / "promptopt" / "cli.py"]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                body = node.body[1:] if ast.get_docstring(node) is not None else node.body
                if body and body[-1].end_lineno - body[0].lineno + 1 > FACE_FUNCTION_LINES:
                    long.append(f"{path.name}:{node.lineno} {node.name}")
    assert long == []


WRONG = [  # (module, its source, what the rule says), the module's layer in brackets
    (
        "promptopt.core.paths",
        "from promptopt.scorers.images import x",
        "(core) imports promptopt.scorers.images (scorers)",
    ),
    (
        "promptopt.scorers.clip",
        "from promptopt.generators import base",
        "(scorers) imports promptopt.generators.base (generators)",
    ),
    (
        "promptopt.generators.loading",
        "import promptopt.grammar",
        "(generators) imports promptopt.grammar (vocabulary)",
    ),
    (
        "promptopt.search.export",
        "from scorers.realism import kid",
        "imports scorers.realism: write promptopt.scorers.realism",
    ),
    (
        "promptopt.core.paths",
        "from promptopt.study.config import StudyConfig",
        "(core) imports promptopt.study.config (workflows:1)",
    ),
    (
        "promptopt.sim.scene",
        "from promptopt.search.loop import run",
        "(vocabulary) imports promptopt.search.loop (workflows:2)",
    ),
    (
        "promptopt.judge.scorer",
        "from promptopt.study.config import StudyConfig",
        "(workflows:0) imports promptopt.study.config (workflows:1)",
    ),
    (
        "promptopt.search.loop",
        "from promptopt.render.imagefolder import render_folder",
        "(workflows:2) imports promptopt.render.imagefolder (workflows:2)",
    ),
    (
        "promptopt.search.loop",
        "from promptopt.commands.folders import x",
        "(workflows:2) imports promptopt.commands.folders (face)",
    ),
    ("promptopt.search.loop", "from promptopt import commands", "(workflows:2) imports promptopt.commands (face)"),
    (
        "promptopt.render.imagefolder",
        "from promptopt.generators.loading import _x",
        "imports the private promptopt.generators.loading._x",
    ),
]
RIGHT = [
    ("promptopt.generators.loading", "from promptopt.core import atomic"),
    ("promptopt.scorers.fitting", "from promptopt.core.errors import InputError"),
    ("promptopt.commands.render", "from promptopt.render.imagefolder import render_folder"),
    ("promptopt.sim.writer", "from promptopt import __version__"),
    ("promptopt.opg.run", "from promptopt.search.run import run_study"),
    ("promptopt.search.loop", "from promptopt.search.trials import TrialRecord"),
]


@pytest.mark.parametrize(("module", "source", "problem"), WRONG)
def test_the_rule_catches_a_wrong_import(module, source, problem):
    assert violations(module, source) == [f"{module}:1 {problem}"]


@pytest.mark.parametrize(("module", "source"), RIGHT)
def test_the_rule_lets_a_right_import_pass(module, source):
    assert violations(module, source) == []


def test_only_the_face_draws_or_parses_the_command_line():
    """Workflows return data and never print: rich, typer and click are imported by the face alone."""
    for module, source in sources().items():
        if layer(module) != "face":
            tree = ast.parse(source)
            names = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
            names |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
            assert not {name.split(".")[0] for name in names} & {"rich", "typer", "click"}, module


def test_bench_imports_only_public_names():
    for path in sorted((ROOT / "bench").glob("*.py")):
        for target, name, line in imports(path.read_text(encoding="utf-8")):
            assert not (name or "").startswith("_") or name.startswith("__"), f"{path.name}:{line} {target}.{name}"
