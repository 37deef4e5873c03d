"""The one `edgestack` app (typer) and its one error handler.

A command is a module in this package with one function registered on `app`:

    @app.command("name", help="...")
    def name(stack: Annotated[str, typer.Argument(help="...")]) -> int:
        ...            # raise a user-facing error, or return an exit code

then its module name in `COMMANDS` (infra/cli/__init__.py). Import heavy modules (Pulumi, the dev
runtime) inside the function so every other command stays fast.

Errors: a `StackError` prints its diagnostics (one line each); any other `EdgestackError` (the base
of every user-facing infra error, infra/errors.py) prints `edgestack <command>: <message>`, naming the
subcommand (`fleet up`); both on stderr, exit 1. Usage errors exit 2 (click's message).
Nothing else is caught, so a bug still shows its traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import typer
import typer.core

from infra.errors import EdgestackError

app = typer.Typer(
    name="edgestack",
    help="AI applications on Cloudflare's edge, from a stack file.",
    add_completion=True,  # --install-completion / --show-completion (bash, zsh, fish, PowerShell)
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain click help: the same text on a terminal and in a log
)


def _print_version(value: bool) -> None:
    if value:
        from importlib.metadata import version  # only for --version: importlib.metadata is slow to import

        print(f"edgestack {version('edgestack')}")
        raise typer.Exit()


@app.callback()
def _options(
    show_version: bool = typer.Option(
        False, "--version", callback=_print_version, is_eager=True, help="print the version and exit"
    ),
) -> None:
    """AI applications on Cloudflare's edge, from a stack file."""


class CommandError(EdgestackError):
    """A command's own one-line failure (`edgestack <command>: <message>`, exit 1)."""


def _command_path(args: Sequence[str]) -> str:
    """The (sub)command `args` run, e.g. `synth` or `fleet up`: what a one-line error names."""
    group = typer.main.get_command(app)
    words = []
    for arg in args:
        if arg.startswith("-") or not isinstance(group, typer.core.TyperGroup):
            break
        sub = group.commands.get(arg)
        if sub is None:
            break
        words.append(arg)
        group = sub
    return " ".join(words)


def run(argv: Sequence[str] | None = None) -> int:
    """Parse `argv`, run the command, map its outcome to an exit code."""
    from infra.stackfile.diagnostics import OneLineError, StackError

    command = typer.main.get_command(app)
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        result = command.main(args=args, prog_name="edgestack", standalone_mode=False)
    except typer.Exit as exc:  # --help
        return exc.exit_code
    except typer.TyperException as exc:  # usage errors (typer's click exceptions): message, exit 2
        exc.show()  # type: ignore[attr-defined]
        return int(getattr(exc, "exit_code", 2))
    except (KeyboardInterrupt, typer.Abort):
        print("edgestack: interrupted", file=sys.stderr)
        return 130
    except StackError as exc:
        one_line = isinstance(exc, OneLineError)  # no position in a stack file: the command's own line
        print(f"edgestack {_command_path(args)}: {exc}" if one_line else exc, file=sys.stderr)
        return 1
    except EdgestackError as exc:
        print(f"edgestack {_command_path(args)}: {exc}", file=sys.stderr)
        return 1
    return int(result or 0)
