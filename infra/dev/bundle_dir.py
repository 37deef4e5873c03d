"""The Worker bundle on disk, for the host: the exact modules `pulumi up` uploads, by name."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from infra.plan.bundle import Bundle

KEEP_BUNDLES = 3


def write_bundle(bundle: Bundle, root: Path) -> Path:
    """`root/<sha256 prefix>/<module name>` for every module; reused when already written."""
    target = root / bundle.sha256[:16]
    if target.is_dir():
        return target
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=root, prefix=".staging-"))
    try:
        for module in bundle.modules:
            path = staging / module.name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(module.content)
        os.replace(staging, target)
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)
        if not target.is_dir():
            raise
    _prune(root, keep=target)
    return target


def _prune(root: Path, keep: Path) -> None:
    bundles = sorted(
        (p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".") and p != keep),
        key=lambda p: p.stat().st_mtime,
        reverse=True,
    )
    for old in bundles[KEEP_BUNDLES - 1 :]:
        shutil.rmtree(old, ignore_errors=True)
