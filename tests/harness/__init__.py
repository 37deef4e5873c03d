"""In-process CPython harness for the Worker core: real HTTP on 127.0.0.1, fakes for the bindings.

`GatewayHarness(config, secrets)` serves `app.router.handle`; `planned_config(...)` builds the
config the real planner ships for the local stack with a test's sections. See `target.py` for running the same
integration tests against `edgestack dev` instead.
"""

from .planned import key_sha256, planned_config
from .server import GatewayHarness, HarnessBindings, default_bindings

__all__ = ["GatewayHarness", "HarnessBindings", "default_bindings", "key_sha256", "planned_config"]
