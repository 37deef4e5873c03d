"""`edgestack:index:AiGateway`: Cloudflare's managed AI Gateway, when the stack declares one."""

from __future__ import annotations

import pulumi
import pulumi_cloudflare as cloudflare

from infra.plan.model import AiGatewayPlan
from infra.plan.planned_resource import Token


class AiGateway(pulumi.ComponentResource):
    gateway: cloudflare.AiGateway

    def __init__(
        self, name: str, plan: AiGatewayPlan, *, account_id: str, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(Token.AI_GATEWAY_COMPONENT.value, name, None, opts)
        self.gateway = cloudflare.AiGateway(
            plan.name,
            account_id=account_id,
            ai_gateway_id=plan.gateway_id,
            cache_invalidate_on_update=plan.cache_invalidate_on_update,
            log_management=plan.log_management,
            log_management_strategy=plan.log_management_strategy,
            cache_ttl=plan.cache_ttl,
            collect_logs=plan.collect_logs,
            rate_limiting_interval=plan.rate_limiting_interval,
            rate_limiting_limit=plan.rate_limiting_limit,
            rate_limiting_technique=plan.rate_limiting_technique,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({"id": self.gateway.id})
