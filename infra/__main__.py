"""Pulumi entry point (`Pulumi.yaml`: `main: infra/`).

Pulumi runs this file with `infra/` itself on `sys.path`, so everything is imported through the
`infra` package from the project root, never as top-level modules.
"""

import sys
from pathlib import Path

_ROOT = str(Path(__file__).resolve().parent.parent)
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from infra.deploy.program import main  # noqa: E402

main()
