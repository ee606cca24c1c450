"""A command group with a default command: `promptopt evaluate GENERATED …` beside `promptopt evaluate tstr …`.

Click parses a group's own arguments before it looks for a subcommand, so a group cannot take GENERATED itself.
`DefaultGroup` routes instead: when the first token is not the name of a visible subcommand (or --help), the
tokens go to the group's one `DefaultCommand`, whose name never has to be typed (a folder named like the
default command still works; a folder named like a visible subcommand needs a path prefix, e.g. `./tstr`).
Help and usage lines show the default command's usage as the group's own, then the subcommands.
"""

from __future__ import annotations

from typing import Any

from typer.core import TyperCommand, TyperGroup


class DefaultCommand(TyperCommand):
    """The command a DefaultGroup runs when no subcommand is named; its usage reads as the group's.

    It is hidden from the group's command list: its name is never typed.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.hidden = True

    def format_usage(self, ctx: Any, formatter: Any) -> None:
        path = ctx.parent.command_path if ctx.parent is not None else ctx.command_path
        formatter.write_usage(path, " ".join(self.collect_usage_pieces(ctx)))


class DefaultGroup(TyperGroup):
    """Routes tokens that name no visible subcommand to the group's DefaultCommand."""

    def default_command(self) -> tuple[str, DefaultCommand]:
        found = [(name, cmd) for name, cmd in self.commands.items() if isinstance(cmd, DefaultCommand)]
        if len(found) != 1:
            raise RuntimeError(f"group {self.name!r} needs exactly one DefaultCommand, has {len(found)}")
        return found[0]

    def visible(self) -> dict[str, Any]:
        return {name: cmd for name, cmd in self.commands.items() if not isinstance(cmd, DefaultCommand)}

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if args and args[0] not in self.visible() and args[0] not in ctx.help_option_names:
            args = [self.default_command()[0], *args]
        return super().parse_args(ctx, args)

    def format_usage(self, ctx: Any, formatter: Any) -> None:
        """One usage line for the default command, one per subcommand."""
        _, default = self.default_command()
        formatter.write_usage(ctx.command_path, " ".join(default.collect_usage_pieces(ctx)))
        for name, cmd in self.visible().items():
            formatter.write_usage(ctx.command_path, " ".join([name, *cmd.collect_usage_pieces(ctx)]), prefix="       ")

    def format_help(self, ctx: Any, formatter: Any) -> None:
        """Click's layout: both usages, the group's text, the default command's options, the subcommands, the
        group's epilog."""
        self.format_usage(ctx, formatter)
        self.format_help_text(ctx, formatter)
        self.default_command()[1].format_options(ctx, formatter)
        self.format_commands(ctx, formatter)
        self.format_epilog(ctx, formatter)
