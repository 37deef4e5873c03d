"""`.dev.vars`: the dotenv syntax wrangler reads for local secrets
(https://developers.cloudflare.com/workers/local-development/environment-variables/ : "formatted
using the dotenv syntax", e.g. `SECRET_KEY="value"`). The edge cases edgestack relies on, pinned."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra.dev.dev_vars import DevVarsError, parse_dev_vars, resolve_secrets


def test_the_dotenv_forms_wrangler_documents() -> None:
    text = (
        "# a comment\n"
        "\n"
        'SECRET_KEY="value"\n'
        'API_TOKEN="eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"\n'
        "PLAIN=abc\n"
        "export EXPORTED=1\n"
        "SPACED = padded  \n"
    )
    assert parse_dev_vars(text) == {
        "SECRET_KEY": "value",
        "API_TOKEN": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9",
        "PLAIN": "abc",
        "EXPORTED": "1",
        "SPACED": "padded",
    }


def test_quotes_comments_and_escapes() -> None:
    text = (
        "SINGLE='lit \\n eral # kept'\n"
        'DOUBLE="line1\\nline2"\n'
        'QUOTE="say \\"hi\\""\n'
        "INLINE=value # a comment\n"
        'QUOTED_THEN_COMMENT="v" # note\n'
        "HASH=a#b\n"
        'EMPTY=""\n'
        "BLANK=\n"
        'MULTI="first\nsecond"\n'
        "REF=${PLAIN}\n"
        "DUP=1\nDUP=2\n"
    )
    assert parse_dev_vars(text) == {
        "SINGLE": "lit \\n eral # kept",  # single quotes are literal
        "DOUBLE": "line1\nline2",
        "QUOTE": 'say "hi"',
        "INLINE": "value",
        "QUOTED_THEN_COMMENT": "v",
        "HASH": "a#b",  # a comment needs a space before '#'; quote values holding ' #'
        "EMPTY": "",
        "BLANK": "",
        "MULTI": "first\nsecond",
        "REF": "${PLAIN}",  # no expansion
        "DUP": "2",  # last wins
    }


@pytest.mark.parametrize("line", ["not a pair", "=no_name", "NAME_ONLY"])
def test_a_malformed_line_names_file_and_line(line: str) -> None:
    with pytest.raises(DevVarsError) as caught:
        parse_dev_vars(f"OK=1\n# fine\n{line}\n", "/p/.dev.vars")
    assert str(caught.value) == "/p/.dev.vars:3: expected NAME=value"


def test_environment_wins_and_undeclared_names_are_ignored(tmp_path: Path) -> None:
    (tmp_path / ".dev.vars").write_text("OPENAI_API_KEY=from-file\nTYPO_KEY=x\nANTHROPIC_API_KEY=file\n")
    secrets = resolve_secrets(
        ["OPENAI_API_KEY", "ANTHROPIC_API_KEY", "MISSING"], tmp_path, environ={"ANTHROPIC_API_KEY": "env"}
    )
    assert secrets.values == {"OPENAI_API_KEY": "from-file", "ANTHROPIC_API_KEY": "env"}
    assert secrets.sources == {"OPENAI_API_KEY": ".dev.vars", "ANTHROPIC_API_KEY": "environment"}
    assert secrets.missing == ("MISSING",)
    assert secrets.ignored == ("TYPO_KEY",)


def test_an_empty_value_is_not_a_secret(tmp_path: Path) -> None:
    (tmp_path / ".dev.vars").write_text("OPENAI_API_KEY=from-file\nANTHROPIC_API_KEY=\n")
    from_file = resolve_secrets(["OPENAI_API_KEY", "ANTHROPIC_API_KEY"], tmp_path, environ={})
    assert from_file.values == {"OPENAI_API_KEY": "from-file"} and from_file.missing == ("ANTHROPIC_API_KEY",)
    blanked = resolve_secrets(["OPENAI_API_KEY"], tmp_path, environ={"OPENAI_API_KEY": ""})
    assert blanked.values == {} and blanked.missing == ("OPENAI_API_KEY",)  # the environment hides the file
