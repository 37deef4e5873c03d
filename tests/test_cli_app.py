"""The one CLI app: plain text when not on a terminal, rich when on one; one error handler."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Annotated

import pytest
import typer

from infra.cli import COMMANDS, main
from infra.cli.app import CommandError, app
from infra.terminal import print_table, status, table_lines


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


ROWS = [("shop-worker", "Worker", ""), ("  shop-version", "WorkerVersion", "shop-worker")]


def test_plain_columns_are_aligned_two_spaces_apart_without_trailing_spaces() -> None:
    assert table_lines(("NAME", "TYPE", "DEPENDS ON"), ROWS) == [
        "NAME            TYPE           DEPENDS ON",
        "shop-worker     Worker",
        "  shop-version  WorkerVersion  shop-worker",
    ]
    assert table_lines(None, [("KV", "kv", "sqlite")], indent="  ") == ["  KV  kv  sqlite"]


def test_a_table_is_plain_when_not_a_tty_and_drawn_on_a_terminal() -> None:
    plain, terminal = io.StringIO(), FakeTerminal()
    print_table(("NAME", "TYPE", "DEPENDS ON"), ROWS, stream=plain)
    print_table(("NAME", "TYPE", "DEPENDS ON"), ROWS, stream=terminal)
    assert plain.getvalue().splitlines() == table_lines(("NAME", "TYPE", "DEPENDS ON"), ROWS)
    assert plain.getvalue().isascii()
    drawn = terminal.getvalue()
    assert "\x1b[" in drawn and "─" in drawn  # bold headers, a rule under them
    assert "shop-version" in drawn


def test_status_prints_its_message_once_when_not_a_tty() -> None:
    stream = io.StringIO()
    with status("installing [npm ci] ...", stream=stream):
        pass
    assert stream.getvalue() == "installing [npm ci] ...\n"


@pytest.fixture
def probe_command() -> object:
    """A throwaway command on the shared app, removed afterwards."""

    @app.command("probe-command")
    def probe(
        mode: Annotated[str, typer.Argument()],
        where: Annotated[Path | None, typer.Option("--where")] = None,
    ) -> int:
        if mode == "fail":
            raise CommandError(f"cannot use {where}")
        if mode == "bug":
            raise ZeroDivisionError("a bug")
        return 3

    yield probe
    app.registered_commands[:] = [c for c in app.registered_commands if c.name != "probe-command"]


def test_one_handler_for_every_command(probe_command: object, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["probe-command", "ok"]) == 3
    assert main(["probe-command", "fail", "--where", "x"]) == 1
    assert capsys.readouterr().err == "edgestack probe-command: cannot use x\n"
    assert main(["probe-command"]) == 2  # usage error
    assert "Missing argument 'mode'" in capsys.readouterr().err
    with pytest.raises(ZeroDivisionError):  # a bug is not dressed up as a user error
        main(["probe-command", "bug"])


def test_every_listed_command_is_registered(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    listed = capsys.readouterr().out
    for module in COMMANDS:
        assert f"  {module.replace('_', '-')} " in listed


def test_version_and_completion_options(capsys) -> None:
    from importlib.metadata import version

    assert main(["--version"]) == 0
    assert capsys.readouterr().out == f"edgestack {version('edgestack')}\n"
    assert main(["--help"]) == 0
    assert "--install-completion" in capsys.readouterr().out


def test_help_imports_no_command_module_dependencies() -> None:
    """`edgestack --help` / `--version` stay fast: the stack loader, pydantic, rich, the planner and
    Pulumi are imported by the commands that use them, not by the CLI's start-up."""
    import subprocess
    import sys

    code = (
        "import sys; from infra.cli import main; main(['--help']); "
        "print('MODULES:' + ','.join(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('pydantic', 'rich', 'pulumi', 'yaml', 'httpx') or m.startswith(('infra.stackfile.load', 'infra.plan', 'infra.spec', 'infra.deploy')))))"
    )
    ran = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert ran.stdout.strip().splitlines()[-1] == "MODULES:"


def test_no_color_gives_plain_tables_on_a_terminal(monkeypatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    styled_off = FakeTerminal()
    print_table(("NAME", "TYPE"), [("a", "b")], styled_off)
    assert styled_off.getvalue().splitlines() == ["NAME  TYPE", "a     b"]
    assert "\x1b[" not in styled_off.getvalue()
    monkeypatch.delenv("NO_COLOR")
    monkeypatch.setenv("TERM", "xterm-256color")
    styled = FakeTerminal()
    print_table(("NAME", "TYPE"), [("a", "b")], styled)
    assert styled.getvalue() != styled_off.getvalue()  # boxed and bold on a terminal otherwise
# Exceptions infra raises and converts itself; they never reach a command's caller.
INTERNAL_ERRORS = {"_NodeError", "EmbeddingRequestError", "ConversionError", "CronProblem"}
# the sidecar answers the embedding/conversion errors over HTTP; CronProblem becomes a stack-file diagnostic


def _infra_exception_classes() -> list[type[BaseException]]:
    import importlib
    import pkgutil

    import infra

    found: dict[str, type[BaseException]] = {}
    for module_info in pkgutil.walk_packages(infra.__path__, "infra."):
        if module_info.name in ("infra.__main__", "infra.cli.__main__"):
            continue
        module = importlib.import_module(module_info.name)
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and issubclass(value, BaseException)
                and value.__module__.startswith("infra.")
            ):
                found[f"{value.__module__}.{value.__qualname__}"] = value
    return list(found.values())


def test_every_user_facing_infra_error_is_an_edgestack_error() -> None:
    from infra.errors import EdgestackError

    classes = _infra_exception_classes()
    assert len(classes) >= 28
    outside = sorted(c.__name__ for c in classes if not issubclass(c, EdgestackError))
    assert outside == sorted(INTERNAL_ERRORS)


def test_a_subcommand_error_names_the_subcommand(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["fleet", "matrix", "--shards", "0", "--stacks-dir", str(tmp_path)]) == 1
    assert capsys.readouterr().err == "edgestack fleet matrix: --shards must be at least 1, got 0\n"
