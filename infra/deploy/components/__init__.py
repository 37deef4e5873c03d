"""Pulumi components, one per concern; each turns its part of a `Plan` into resources.

`Storage` (KV, D1, R2, queues; Vectorize and D1 migrations hooks), `Worker` (named Worker,
version, deployment; its child `DurableObjects` carries migrations), `Routing` (routes, domains,
workers.dev, crons, queue consumers) and `AiGateway`. Every resource gets a derived logical name
from the plan and `parent=` its component.
"""

from .ai_gateway import AiGateway
from .durable_objects import DurableObjects
from .routing import Routing
from .storage import D1Migrator, IndexProvisioner, ProvisionedIndex, Storage
from .worker import Worker

__all__ = [
    "AiGateway",
    "D1Migrator",
    "DurableObjects",
    "IndexProvisioner",
    "ProvisionedIndex",
    "Routing",
    "Storage",
    "Worker",
]
