"""The Pulumi CLI, which Pulumi's Automation API drives: one place that finds it and one wording for
its absence (release commands and fleet runs say the same)."""

from __future__ import annotations

import shutil

PULUMI_CLI_MISSING = (
    "the Pulumi CLI is not installed (or not on PATH): install it with "
    "`curl -fsSL https://get.pulumi.com | sh` (see https://www.pulumi.com/docs/iac/download-install/), "
    "then `pulumi login`"
)


def pulumi_cli() -> str | None:
    """The `pulumi` executable on PATH, or None."""
    return shutil.which("pulumi")
