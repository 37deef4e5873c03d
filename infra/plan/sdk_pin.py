"""Pinned versions shared by the deploy bundle and the local runtime.

`workers-runtime-sdk` provides the `workers` module. At current compatibility dates workerd no
longer ships it, so the bundle vendors this exact wheel under `python_modules/`, and the local
runtime loads the same files (`infra.plan.bundle.sdk_files()`), so dev and prod run one SDK.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class WheelPin:
    """A PyPI wheel pinned by version and sha256 of the wheel file."""

    project: str
    version: str
    filename: str
    sha256: str

    @property
    def requirement(self) -> str:
        return f"{self.project}=={self.version}"


WORKERS_RUNTIME_SDK_VERSION = "1.9.5"
WORKERS_RUNTIME_SDK_SHA256 = "f2b912660a3ab60d2a24920106422f9eaf4cd7a794e42b022237ad2444287fef"

WORKERS_RUNTIME_SDK = WheelPin(
    project="workers-runtime-sdk",
    version=WORKERS_RUNTIME_SDK_VERSION,
    filename=f"workers_runtime_sdk-{WORKERS_RUNTIME_SDK_VERSION}-py3-none-any.whl",
    sha256=WORKERS_RUNTIME_SDK_SHA256,
)
