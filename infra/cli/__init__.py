"""`edgestack` command line. Each subcommand lives in its own module under `infra.cli`."""

from __future__ import annotations

import argparse
import importlib
import sys

# subcommand -> module under infra.cli exposing `register(subparsers)` and `run(args) -> int`
SUBCOMMANDS: dict[str, str] = {
    "validate": "validate",
    "check": "check",
    "synth": "synth",
    "dev": "dev",
    "wrangler-config": "wrangler_config",
    "build": "build",
    "diff": "diff",
    "policy": "policy",
    "promote": "promote",
    "rollback": "rollback",
    "mark-stable": "mark_stable",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="edgestack", description=__doc__)
    subparsers = parser.add_subparsers(dest="command", required=True)
    for module_name in SUBCOMMANDS.values():
        importlib.import_module(f"infra.cli.{module_name}").register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.run(args))
    except KeyboardInterrupt:
        print("edgestack: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
