"""The local-only admin key of `stacks/local.yaml`: its secret is public (printed by `edgestack dev`,
shown in the docs), so the cross-reference pass refuses its hash on every stack that is not local."""

from __future__ import annotations

import hashlib

LOCAL_ADMIN_KEY = "sk-edgestack-local-admin"
LOCAL_ADMIN_KEY_SHA256 = hashlib.sha256(LOCAL_ADMIN_KEY.encode()).hexdigest()
