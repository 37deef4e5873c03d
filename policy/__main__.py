"""CrossGuard pack: `pulumi preview --policy-pack policy` enforces edgestack's release rules.

The rules live in `infra/release/policy.py` (also run offline by `edgestack policy check`); this
file only serves them. It runs in the project's virtualenv (`PulumiPolicy.yaml`).
"""

import sys
from pathlib import Path

_ROOT = str(Path(__file__).resolve().parent.parent)
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from pulumi_policy import PolicyPack  # noqa: E402

from infra.release.crossguard import PACK_NAME, policies  # noqa: E402

PolicyPack(name=PACK_NAME, policies=list(policies()))
