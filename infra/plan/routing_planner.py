"""Planning the ways events reach the deployed Worker (`RoutingPlan`: routes, custom domains, crons,
workers.dev, queue consumers, R2 event notifications) and the AI Gateway; the base of the planner
(planner.py), which plans storage and the Worker first."""

from __future__ import annotations

import hashlib

from infra.spec import slug

from .model import (
    RAG_UPLOAD_ACTIONS,
    AiGatewayPlan,
    CronTriggerPlan,
    CustomDomainPlan,
    QueueConsumerPlan,
    R2EventNotificationPlan,
    RoutePlan,
    RoutingPlan,
    StoragePlan,
    SubdomainPlan,
)
from .naming import Naming
from .worker_model import WorkerPlan


def _short_digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:6]


class RoutingPlanner(Naming):
    """`routing()` and `ai_gateway()`, after `storage()` and `worker()` have named their resources."""

    def routing(self, storage: StoragePlan, worker: WorkerPlan) -> RoutingPlan:
        """Routes, custom domains, crons, workers.dev and queue consumers: all after the deployment."""
        stack, worker_spec = self.stack, self.stack.worker
        after_deploy = (worker.script.name, worker.deployment.name)
        routes = []
        for route in worker_spec.routes:
            routes.append(
                RoutePlan(
                    name=self.logical("route", slug(route.pattern)[:40], _short_digest(route.pattern)),
                    pattern=route.pattern,
                    zone_id=self.zone_id(route.zone),
                    depends_on=after_deploy,
                )
            )
        domains = []
        for domain in worker_spec.custom_domains:
            domains.append(
                CustomDomainPlan(
                    name=self.logical("domain", slug(domain.hostname)[:40], _short_digest(domain.hostname)),
                    hostname=domain.hostname,
                    zone_id=self.zone_id(domain.zone),
                    depends_on=after_deploy,
                )
            )
        crons = None
        if worker_spec.crons:
            crons = CronTriggerPlan(
                name=self.logical("crons"), schedules=worker_spec.crons, depends_on=after_deploy
            )
        subdomain = SubdomainPlan(
            name=self.logical("workers-dev"), enabled=worker_spec.workers_dev, depends_on=after_deploy
        )
        consumers = []
        for queue in storage.queues:
            queue_spec = stack.bindings.queues[queue.binding]
            if queue_spec.consume:
                consumers.append(
                    QueueConsumerPlan(
                        name=self.logical(
                            "queue",
                            f"{slug(queue.binding)}--consumer",
                            where=f"bindings.queues.{queue.binding}",
                        ),
                        queue=queue.name,
                        batch_size=queue_spec.max_batch_size,
                        max_wait_time_ms=queue_spec.max_batch_timeout_s * 1000,
                        depends_on=(queue.name, *after_deploy),
                    )
                )
        return RoutingPlan(
            account_id=stack.account_id,
            routes=tuple(routes),
            custom_domains=tuple(domains),
            crons=crons,
            subdomain=subdomain,
            queue_consumers=tuple(consumers),
            r2_event_notifications=self.rag_upload_notifications(storage, consumers, after_deploy),
        )

    def rag_upload_notifications(
        self, storage: StoragePlan, consumers: list[QueueConsumerPlan], after_deploy: tuple[str, ...]
    ) -> tuple[R2EventNotificationPlan, ...]:
        """`rag.ingest_on_upload`: the documents bucket notifies the RAG queue of writes and deletes,
        once the queue's consumer exists. `load_stack` checked that the bucket and the queue are
        declared (and that ingest_on_upload has a queue)."""
        rag = self.stack.rag
        if rag is None or not rag.enabled or not rag.ingest_on_upload or rag.queue_binding is None:
            return ()
        bucket = next(b for b in storage.r2 if b.binding == rag.documents_binding)
        queue = next(q for q in storage.queues if q.binding == rag.queue_binding)
        consumer = [c.name for c in consumers if c.queue == queue.name]
        return (
            R2EventNotificationPlan(
                name=self.logical("r2-events", slug(bucket.binding), where="rag.ingest_on_upload"),
                bucket=bucket.name,
                queue=queue.name,
                actions=RAG_UPLOAD_ACTIONS,
                description=f"edgestack RAG: index objects written to {bucket.bucket_name}",
                depends_on=(bucket.name, queue.name, *consumer, *after_deploy),
            ),
        )

    def ai_gateway(self) -> AiGatewayPlan | None:
        gateway, gateway_id = self.stack.ai_gateway, self.stack.ai_gateway_id
        if gateway is None or gateway_id is None:
            return None
        return AiGatewayPlan(
            name=self.logical("ai-gateway"),
            gateway_id=gateway_id,
            cache_ttl=gateway.cache_ttl,
            collect_logs=gateway.collect_logs,
            rate_limiting_limit=gateway.rate_limiting_limit,
            rate_limiting_interval=gateway.rate_limiting_interval,
            rate_limiting_technique=gateway.rate_limiting_technique,
            cache_invalidate_on_update=gateway.cache_invalidate_on_update,
            log_management=gateway.log_management,
            log_management_strategy=gateway.log_management_strategy,
        )
