"""Secret values for local development: `.dev.vars`, then the process environment.

Cloudflare binds secrets as `secret_text`; locally their values come, for each secret name the
stack declares, from (last wins):

1. `.dev.vars` in the project root, in the dotenv syntax wrangler reads
   (developers.cloudflare.com/workers/local-development/environment-variables/), parsed by
   python-dotenv: `NAME=value`, `#` comments (inline after a space), single quotes (literal), double
   quotes (escapes such as `\n`, and values across lines), `export ` prefix; no `${VAR}` expansion;
2. an environment variable of the same name.

An empty value counts as not set; an empty environment variable also hides the `.dev.vars` value
(`OPENAI_API_KEY= edgestack dev` runs without the key).

Undeclared names in `.dev.vars` are ignored (and reported), so a typo cannot bind a stray secret.
"""

from __future__ import annotations

import io
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from infra.errors import EdgestackError

DEV_VARS_FILE = ".dev.vars"


class DevVarsError(EdgestackError, ValueError):
    """A malformed `.dev.vars` line; the message names file:line."""


@dataclass(frozen=True)
class LocalSecrets:
    values: dict[str, str]
    sources: dict[str, str]  # name -> ".dev.vars" | "environment"
    missing: tuple[str, ...]
    ignored: tuple[str, ...] = field(default=())  # names in .dev.vars the stack does not declare


def parse_dev_vars(text: str, filename: str = DEV_VARS_FILE) -> dict[str, str]:
    """`NAME -> value`; a line that is not `NAME=value` (nor blank or a comment) is a DevVarsError."""
    from dotenv.parser import parse_stream

    values: dict[str, str] = {}
    for binding in parse_stream(io.StringIO(text)):
        if binding.error or (binding.key is not None and binding.value is None):
            raise DevVarsError(f"{filename}:{binding.original.line}: expected NAME=value")
        if binding.key is not None and binding.value is not None:
            values[binding.key] = binding.value
    return values


def resolve_secrets(
    declared: Sequence[str], project_root: Path, environ: Mapping[str, str] | None = None
) -> LocalSecrets:
    environ = os.environ if environ is None else environ
    path = project_root / DEV_VARS_FILE
    from_file = parse_dev_vars(path.read_text(encoding="utf-8"), str(path)) if path.is_file() else {}
    values: dict[str, str] = {}
    sources: dict[str, str] = {}
    for name in declared:  # an empty value is no secret (the Worker treats it as unset, so does the banner)
        if name in environ:
            if environ[name]:
                values[name], sources[name] = environ[name], "environment"
        elif from_file.get(name):
            values[name], sources[name] = from_file[name], DEV_VARS_FILE
    missing = tuple(name for name in declared if name not in values)
    ignored = tuple(sorted(set(from_file) - set(declared)))
    return LocalSecrets(values, sources, missing, ignored)
