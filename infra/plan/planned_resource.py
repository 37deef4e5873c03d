"""A planned resource: its Pulumi type token and what every planned resource has (a logical name,
`protect`, and the logical names it depends on, which the components read to order creation).

The resource types live with their slice: model.py (storage, routing, AI Gateway, and the `Plan`)
and worker_model.py (the Worker, its bindings, versions and deployment).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import ClassVar


class Token(StrEnum):
    """Pulumi type tokens: edgestack's components, and what each planned resource becomes."""

    # components (`edgestack:index:*`), one per concern
    STORAGE = "edgestack:index:Storage"
    WORKER_COMPONENT = "edgestack:index:Worker"
    DURABLE_OBJECTS = "edgestack:index:DurableObjects"
    ROUTING = "edgestack:index:Routing"
    AI_GATEWAY_COMPONENT = "edgestack:index:AiGateway"
    # components holding one resource of edgestack's dynamic providers (deploy/providers/)
    VECTORIZE_INDEX = "edgestack:index:VectorizeIndex"
    D1_MIGRATIONS = "edgestack:index:D1Migrations"
    # pulumi-cloudflare resources
    WORKER = "cloudflare:index/worker:Worker"
    WORKER_VERSION = "cloudflare:index/workerVersion:WorkerVersion"
    WORKERS_DEPLOYMENT = "cloudflare:index/workersDeployment:WorkersDeployment"
    WORKERS_SCRIPT = "cloudflare:index/workersScript:WorkersScript"
    KV_NAMESPACE = "cloudflare:index/workersKvNamespace:WorkersKvNamespace"
    D1_DATABASE = "cloudflare:index/d1Database:D1Database"
    R2_BUCKET = "cloudflare:index/r2Bucket:R2Bucket"
    QUEUE = "cloudflare:index/queue:Queue"
    QUEUE_CONSUMER = "cloudflare:index/queueConsumer:QueueConsumer"
    R2_EVENT_NOTIFICATION = "cloudflare:index/r2BucketEventNotification:R2BucketEventNotification"
    WORKERS_ROUTE = "cloudflare:index/workersRoute:WorkersRoute"
    CUSTOM_DOMAIN = "cloudflare:index/workersCustomDomain:WorkersCustomDomain"
    CRON_TRIGGER = "cloudflare:index/workersCronTrigger:WorkersCronTrigger"
    SCRIPT_SUBDOMAIN = "cloudflare:index/workersScriptSubdomain:WorkersScriptSubdomain"
    AI_GATEWAY = "cloudflare:index/aiGateway:AiGateway"

    @property
    def dynamic(self) -> bool:
        """A component around one dynamic-provider resource (not a pulumi-cloudflare resource)."""
        return self in (Token.VECTORIZE_INDEX, Token.D1_MIGRATIONS)



@dataclass(frozen=True, kw_only=True)
class PlannedResource:
    kind: ClassVar[Token]
    component: ClassVar[Token]
    name: str
    protect: bool = False
    depends_on: tuple[str, ...] = ()
