"""The `promptopt` command line.

Only light modules are imported here: every command imports torch, diffusers and the scorers inside
its body, so `promptopt --help` stays instant.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from typing import Any

import typer

from promptopt import __version__
from promptopt.commands.default_group import DefaultCommand, DefaultGroup
from promptopt.commands.evaluate import EVALUATE_HELP
from promptopt.commands.folders import cannot_write, collecting_created, remove_empty_created
from promptopt.commands.usage import OneLineGroup, refuse_non_finite
from promptopt.core.errors import InputError, Note


def reference(page: str) -> str:
    """The last line of a command's --help: the docs page that has its reference."""
    return f"Reference: {page}"


# Help is click's plain layout, not typer's rich panels: click rewraps docstring paragraphs to the terminal (at
# most 80 columns), puts an option's help under a flag too long for the first column instead of truncating it, and
# shows no placeholder for a flag; rich markup would also eat any [...] in a help string.
PLAIN_HELP: dict[str, Any] = {"rich_markup_mode": None, "no_args_is_help": True}

app = typer.Typer(
    cls=OneLineGroup,
    name="promptopt",
    help="Find prompts whose generated GI endoscopy images reliably show a category, and export them.",
    epilog=reference("README.md, which maps the pages under docs/"),
    add_completion=False,
    pretty_exceptions_enable=False,
    **PLAIN_HELP,
)
data_app = typer.Typer(
    help="Inspect datasets of GI endoscopy images with prompts.", epilog=reference("docs/gi-sim.md"), **PLAIN_HELP
)
app.add_typer(data_app, name="data")
fit_app = typer.Typer(
    help="Fit the offline scorers on a dataset.\n\nThe judge, the attribute probe and the text–image aligner.",
    epilog=reference("docs/evaluate.md"),
    **PLAIN_HELP,
)
app.add_typer(fit_app, name="fit")
evaluate_app = typer.Typer(cls=DefaultGroup, help=EVALUATE_HELP, epilog=reference("docs/evaluate.md"), **PLAIN_HELP)
app.add_typer(evaluate_app, name="evaluate")


def guarded(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn what the user can fix, raised by a command (an InputError, an image file that cannot be read, a full
    disk or a read-only folder), into one line on stderr and exit code 2; print a `Note` as one line."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        refuse_non_finite(kwargs)
        with collecting_created(), warnings.catch_warnings():  # both undone when the command ends
            warnings.showwarning = _notes
            try:
                return _one_line_errors(fn, *args, **kwargs)
            except BaseException:
                remove_empty_created()  # a failed run leaves no empty <out>/<study>/ behind
                raise

    return wrapper


def _notes(message: Any, category: type[Warning], *args: Any, **kwargs: Any) -> None:
    """Print a `Note` warning as one line on stderr; any other warning as Python prints it."""
    if issubclass(category, Note):
        typer.echo(f"note: {message}", err=True)
    else:
        _show_warning(message, category, *args, **kwargs)


_show_warning = warnings.showwarning


def _one_line_errors(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    try:
        return fn(*args, **kwargs)
    except InputError as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(2) from None
    except Exception as err:
        line = cannot_write(err)
        if line is None:
            raise
        typer.echo(f"error: {line}", err=True)
        raise typer.Exit(2) from None


def _version(value: bool) -> None:
    if value:
        typer.echo(f"promptopt {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Prompt optimisation for synthetic GI endoscopy images (ImageCLEFmed MEDVQA-GI)."""


def _register() -> None:
    from promptopt.commands import (
        audit,
        classify,
        data_merge,
        data_sim,
        data_stats,
        evaluate,
        export,
        fit,
        fit_judge,
        opg,
        parse,
        render,
        report,
        search,
        tstr,
        tune,
    )

    app.command("search", epilog=reference("docs/search.md"))(guarded(search.search))
    app.command("export", epilog=reference("docs/search.md"))(guarded(export.export))
    app.command("opg", epilog=reference("docs/opg.md"))(guarded(opg.opg))
    app.command("parse", epilog=reference("docs/gi-sim.md"))(guarded(parse.parse))
    app.command("classify", epilog=reference("docs/evaluate.md"))(guarded(classify.classify))
    app.command("render", epilog=reference("docs/render.md"))(guarded(render.render))
    app.command("report", epilog=reference("docs/report.md"))(guarded(report.report))
    app.command("audit", epilog=reference("docs/tune.md"))(guarded(audit.audit))
    app.command("tune", epilog=reference("docs/tune.md"))(guarded(tune.tune))
    from promptopt.commands import train

    app.command("train", epilog=reference("docs/train.md"))(guarded(train.train))
    data_app.command("stats", epilog=reference("docs/gi-sim.md"))(guarded(data_stats.stats))
    data_app.command("sim", epilog=reference("docs/gi-sim.md"))(guarded(data_sim.sim))
    data_app.command("sim-grid", epilog=reference("docs/gi-sim.md"))(guarded(data_sim.sim_grid))
    data_app.command("merge", epilog=reference("docs/render.md"))(guarded(data_merge.merge))
    fit_app.command("judge", epilog=reference("docs/evaluate.md"))(guarded(fit_judge.judge))
    fit_app.command("classifier", epilog=reference("docs/evaluate.md"))(guarded(fit.classifier))
    fit_app.command("aligner", epilog=reference("docs/evaluate.md"))(guarded(fit.aligner))
    evaluate_app.command("images", cls=DefaultCommand, epilog=reference("docs/evaluate.md"))(guarded(evaluate.evaluate))
    evaluate_app.command("tstr", epilog=reference("docs/evaluate.md"))(guarded(tstr.tstr))


_register()


if __name__ == "__main__":
    app()
