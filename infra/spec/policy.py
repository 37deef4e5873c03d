"""The stack file's `policy:` section: settings of the release policy rules and exemptions."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from .base import Model

# Every rule of `infra.release.policy` (tests assert the two lists agree).
PolicyRuleId = Literal[
    "protect-prod-data",
    "no-plaintext-secrets",
    "public-gateway-rate-limit",
    "prod-observability",
    "bundle-size-margin",
    "compatibility-date-age",
    "routes-on-declared-zones",
    "no-workers-dev-in-prod",
    "no-demo-route-in-prod",
]

ExemptionReason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=10, max_length=500)]


class PolicySpec(Model):
    exemptions: dict[PolicyRuleId, ExemptionReason] = Field(
        default_factory=dict, description="rule id -> why this stack may break it (at least 10 characters)"
    )
    compatibility_date_max_age_days: int = Field(
        default=365, ge=1, le=3650, description="compatibility-date-age: oldest allowed compatibility_date"
    )
    bundle_size_margin: float = Field(
        default=0.1, ge=0.0, lt=1.0, description="bundle-size-margin: share of the size limit kept free"
    )
