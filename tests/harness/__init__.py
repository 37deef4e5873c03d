"""In-process CPython harness for the Worker core: real HTTP on 127.0.0.1, fakes for the bindings.

`GatewayHarness(config, secrets)` serves `app.router.handle`; `gateway_section(...)` builds a
validated `gateway` config the way the planner ships it. See `target.py` for running the same
integration tests against `edgestack dev` instead.
"""

from .server import GatewayHarness, HarnessBindings, default_bindings
from .stackconfig import gateway_section, key_sha256

__all__ = ["GatewayHarness", "HarnessBindings", "default_bindings", "gateway_section", "key_sha256"]
