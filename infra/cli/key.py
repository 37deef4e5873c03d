"""`edgestack key new`: a virtual API key from the operating system's CSPRNG (192 bits), printed
once, with the entry for the stack file's `gateway.keys` (only the key's sha256 goes there).

Why an unsalted sha256 is enough (docs/security.md): the stack file and `EDGESTACK_CONFIG` hold only
sha256 digests, and a digest of a 192-bit random key cannot be reversed or guessed; salting and
stretching protect low-entropy secrets such as passwords, which this command never produces.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from typing import Annotated

import typer

from .app import CommandError, app

KEY_PREFIX = "sk-es-"
KEY_BYTES = 24  # 192 bits
_KEY_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")

key = typer.Typer(help="Virtual API keys for the gateway.", no_args_is_help=True)
app.add_typer(key, name="key", short_help="generate a virtual API key")


def generate_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(KEY_BYTES)


def key_sha256(value: str) -> str:
    """What the stack file stores and the Worker compares (`app.web.auth.hash_key`)."""
    return hashlib.sha256(value.encode()).hexdigest()


def stack_entry(name: str, value: str, scope: str, admin: bool) -> str:
    entry: dict[str, object] = {"sha256": key_sha256(value), "scope": scope}
    if admin:
        entry["admin"] = True
    import yaml  # on use: `edgestack --help` imports no command's dependencies

    return yaml.safe_dump({name: entry}, default_flow_style=False, sort_keys=False).rstrip()


@key.command(
    "new",
    help="Print a new random key (once: store it now) and its entry for gateway.keys in the stack file.",
)
def new(
    name: Annotated[str, typer.Argument(metavar="NAME", help="the key's name in gateway.keys")] = "client",
    scope: Annotated[str, typer.Option("--scope", metavar="SCOPE", help="the key's tenant")] = "default",
    admin: Annotated[bool, typer.Option("--admin", help="a tenant admin key (tools, usage)")] = False,
) -> int:
    if not _KEY_NAME.match(name):
        raise CommandError(f"NAME {name!r} must be 1-64 letters, digits, '_' or '-'")
    from infra.spec.base import TENANT_SCOPE_RE

    if not re.match(TENANT_SCOPE_RE, scope):
        raise CommandError(f"--scope {scope!r} must be 1-64 letters, digits, '.', '_' or '-'")
    value = generate_key()
    print(f"key (shown once, store it now): {value}")
    print("stack file, under gateway.keys:")
    for line in stack_entry(name, value, scope, admin).splitlines():
        print(f"  {line}")
    return 0
