"""Bad flags as one line: click's usage errors (a missing option, a value out of range, an unknown flag) print
the usage, a hint and the error on three lines; `OneLineGroup`, the top-level group, prints one line naming the
value and where the fix is, and exits with code 2 as click does. Asking for help by giving no arguments still
prints the help.

Typer (0.29) runs its own copy of click, `typer._click`: its exceptions, not the `click` package's, are the ones
raised here. This module is the one place that reaches into it."""

from __future__ import annotations

import math
from typing import Any, NoReturn

import typer
from typer._click.core import Context
from typer._click.exceptions import ClickException, NoArgsIsHelpError, UsageError
from typer._click.globals import get_current_context
from typer.core import TyperGroup


class OneLineUsageError(ClickException):
    """A usage error shown as `error: <what is wrong>: see '<command> --help'`."""

    exit_code = 2

    def show(self, file: Any = None) -> None:
        typer.echo(f"error: {self.format_message()}", err=True)


def _one_line(err: UsageError, fallback: str) -> NoReturn:
    path = err.ctx.command_path if err.ctx is not None else fallback
    raise OneLineUsageError(f"{err.format_message().rstrip('.')}: see '{path} --help'") from None


class OneLineGroup(TyperGroup):
    """The `promptopt` group: usage errors of every command under it (parsed here or in `invoke`) on one line."""

    def make_context(self, *args: Any, **kwargs: Any) -> Context:
        try:
            return super().make_context(*args, **kwargs)
        except NoArgsIsHelpError:
            raise
        except UsageError as err:
            _one_line(err, "promptopt")

    def invoke(self, ctx: Context) -> Any:
        typed = [*getattr(ctx, "_protected_args", []), *ctx.args][:1]  # the command, before click consumes it
        try:
            return super().invoke(ctx)
        except NoArgsIsHelpError:
            raise
        except UsageError as err:  # the parser's own errors carry no context: name the command typed
            _one_line(err, " ".join([ctx.command_path, *typed]))


def refuse_non_finite(values: dict[str, Any]) -> None:
    """Every float option is a finite number: click's float types take `nan` and `inf` (and a range lets `nan`
    through, since it compares false), so a command's values are checked before it runs."""
    for name, value in values.items():
        numbers = value if isinstance(value, (list, tuple)) else [value]
        bad = next((v for v in numbers if isinstance(v, float) and not math.isfinite(v)), None)
        if bad is not None:
            ctx = get_current_context(silent=True)
            opts = next((p.opts for p in ctx.command.params if p.name == name), None) if ctx is not None else None
            flag = max(opts, key=len) if opts else "--" + name.replace("_", "-")
            path = ctx.command_path if ctx is not None else "promptopt"
            raise OneLineUsageError(f"{flag} {bad}: give a finite number: see '{path} --help'")
