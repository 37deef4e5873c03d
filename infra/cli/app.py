"""The one `edgestack` app (typer) and its one error handler.

A command is a module in this package with one function registered on `app`:

    @app.command("name", help="...")
    def name(stack: Annotated[str, typer.Argument(help="...")]) -> int:
        ...            # raise a user-facing error, or return an exit code

then its module name in `COMMANDS` (infra/cli/__init__.py). Import heavy modules (Pulumi, the dev
runtime) inside the function so every other command stays fast.

Errors: a `StackError` prints its diagnostics (one line each); any other error in `one_line_errors()`
prints `edgestack <command>: <message>`; both on stderr, exit 1. Usage errors exit 2 (click's message).
Nothing else is caught, so a bug still shows its traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import typer

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


class CommandError(Exception):
    """A command's own one-line failure (`edgestack <command>: <message>`, exit 1)."""


def one_line_errors() -> tuple[type[Exception], ...]:
    """Every error a command may end with that is the user's to fix, each with a one-line message."""
    from infra.d1.files import D1MigrationError
    from infra.deploy.cloudflare_api import CloudflareApiError, MissingTokenError
    from infra.dev.dev_vars import DevVarsError
    from infra.dev.embedders import EmbeddingServerError
    from infra.dev.node_env import NodeSetupError
    from infra.dev.runtime_process import RuntimeStartError
    from infra.dev.session import DevConfigError
    from infra.plan.artifact import ArtifactError
    from infra.plan.planner import PLAN_ERRORS
    from infra.release.automation import AutomationError
    from infra.release.diff import DiffInputError

    return (
        CommandError,
        *PLAN_ERRORS,
        ArtifactError,
        AutomationError,
        DiffInputError,
        D1MigrationError,
        CloudflareApiError,
        MissingTokenError,
        DevVarsError,
        DevConfigError,
        EmbeddingServerError,
        NodeSetupError,
        RuntimeStartError,
    )


def run(argv: Sequence[str] | None = None) -> int:
    """Parse `argv`, run the command, map its outcome to an exit code."""
    from infra.stackfile.diagnostics import OneLineError, StackError

    command = typer.main.get_command(app)
    args = list(sys.argv[1:] if argv is None else argv)
    name = next((a for a in args if not a.startswith("-")), "")
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
        print(f"edgestack {name}: {exc}" if one_line else exc, file=sys.stderr)
        return 1
    except Exception as exc:
        if not isinstance(exc, one_line_errors()):
            raise
        print(f"edgestack {name}: {exc}", file=sys.stderr)
        return 1
    return int(result or 0)
