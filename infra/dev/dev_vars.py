"""Secret values for local development: `.dev.vars`, then the process environment.

Cloudflare binds secrets as `secret_text`; locally their values come, for each secret name the
stack declares, from (last wins):

1. `.dev.vars` next to the project root (wrangler's dotenv format: `NAME=value`, `#` comments,
   optional single or double quotes, `export ` prefix allowed);
2. an environment variable of the same name.

Undeclared names in `.dev.vars` are ignored (and reported), so a typo cannot bind a stray secret.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

DEV_VARS_FILE = ".dev.vars"

_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$")


class DevVarsError(ValueError):
    """A malformed `.dev.vars` line; the message names file:line."""


@dataclass(frozen=True)
class LocalSecrets:
    values: dict[str, str]
    sources: dict[str, str]  # name -> ".dev.vars" | "environment"
    missing: tuple[str, ...]
    ignored: tuple[str, ...] = field(default=())  # names in .dev.vars the stack does not declare


def parse_dev_vars(text: str, filename: str = DEV_VARS_FILE) -> dict[str, str]:
    values: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = _LINE.match(raw)
        if match is None:
            raise DevVarsError(f"{filename}:{number}: expected NAME=value")
        name, value = match.groups()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            quote, value = value[0], value[1:-1]
            if quote == '"':
                value = value.replace("\\n", "\n").replace('\\"', '"')
        elif " #" in value:
            value = value.split(" #", 1)[0].rstrip()
        values[name] = value
    return values


def resolve_secrets(
    declared: Sequence[str], project_root: Path, environ: Mapping[str, str] | None = None
) -> LocalSecrets:
    environ = os.environ if environ is None else environ
    path = project_root / DEV_VARS_FILE
    from_file = parse_dev_vars(path.read_text(encoding="utf-8"), str(path)) if path.is_file() else {}
    values: dict[str, str] = {}
    sources: dict[str, str] = {}
    for name in declared:
        if name in environ:
            values[name], sources[name] = environ[name], "environment"
        elif name in from_file:
            values[name], sources[name] = from_file[name], DEV_VARS_FILE
    missing = tuple(name for name in declared if name not in values)
    ignored = tuple(sorted(set(from_file) - set(declared)))
    return LocalSecrets(values, sources, missing, ignored)
