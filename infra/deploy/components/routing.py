"""`edgestack:index:Routing`: every way events reach the deployed Worker.

Zone routes, custom domains, the workers.dev subdomain, cron triggers and queue consumers. All of
them wait for the `WorkersDeployment`, so traffic only arrives once a version serves it.
"""

from __future__ import annotations

from collections.abc import Mapping

import pulumi
import pulumi_cloudflare as cloudflare

from infra.plan.model import RoutingPlan
from infra.plan.planned_resource import PlannedResource, Token

from .bindings import waits_for


class Routing(pulumi.ComponentResource):
    routes: list[cloudflare.WorkersRoute]
    custom_domains: list[cloudflare.WorkersCustomDomain]
    crons: cloudflare.WorkersCronTrigger | None
    subdomain: cloudflare.WorkersScriptSubdomain
    queue_consumers: list[cloudflare.QueueConsumer]
    r2_event_notifications: list[cloudflare.R2BucketEventNotification]

    def __init__(
        self,
        name: str,
        args: RoutingPlan,
        *,
        script_name: pulumi.Input[str],
        queues: Mapping[str, cloudflare.Queue],
        created: Mapping[str, pulumi.Resource],
        buckets: Mapping[str, cloudflare.R2Bucket] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """`queues` (and `buckets`) map the logical name of each planned queue (bucket) to its resource;
        `created` maps logical names to the resources a route may wait for (its plan's `depends_on`)."""
        super().__init__(Token.ROUTING.value, name, None, opts)
        self._plan = args
        account = args.account_id

        def child(planned: PlannedResource) -> pulumi.ResourceOptions:
            return pulumi.ResourceOptions(parent=self, depends_on=waits_for(planned, created))

        self.routes = [
            cloudflare.WorkersRoute(
                route.name,
                zone_id=route.zone_id,
                pattern=route.pattern,
                script=script_name,
                opts=child(route),
            )
            for route in args.routes
        ]
        self.custom_domains = [
            cloudflare.WorkersCustomDomain(
                domain.name,
                account_id=account,
                hostname=domain.hostname,
                service=script_name,
                zone_id=domain.zone_id,
                opts=child(domain),
            )
            for domain in args.custom_domains
        ]
        self.crons = None
        if args.crons is not None:
            self.crons = cloudflare.WorkersCronTrigger(
                args.crons.name,
                account_id=account,
                script_name=script_name,
                schedules=[{"cron": c} for c in args.crons.schedules],
                opts=child(args.crons),
            )
        self.subdomain = cloudflare.WorkersScriptSubdomain(
            args.subdomain.name,
            account_id=account,
            script_name=script_name,
            enabled=args.subdomain.enabled,
            previews_enabled=False,
            opts=child(args.subdomain),
        )
        self.queue_consumers = [
            cloudflare.QueueConsumer(
                consumer.name,
                account_id=account,
                queue_id=queues[consumer.queue].queue_id,
                script_name=script_name,
                type="worker",
                settings={"batch_size": consumer.batch_size, "max_wait_time_ms": consumer.max_wait_time_ms},
                opts=child(consumer),
            )
            for consumer in args.queue_consumers
        ]
        buckets = buckets or {}
        with_consumers = {
            **created,
            **{c.name: r for c, r in zip(args.queue_consumers, self.queue_consumers, strict=True)},
        }
        self.r2_event_notifications = [
            cloudflare.R2BucketEventNotification(
                notification.name,
                account_id=account,
                bucket_name=buckets[notification.bucket].name,
                queue_id=queues[notification.queue].queue_id,
                rules=[{"actions": list(notification.actions), "description": notification.description}],
                opts=pulumi.ResourceOptions(parent=self, depends_on=waits_for(notification, with_consumers)),
            )
            for notification in args.r2_event_notifications
        ]
        self.register_outputs({"urls": args.urls()})

    def ids(self) -> dict[str, pulumi.Output[str]]:
        """Resource id by logical name."""
        plan = self._plan
        ids = {r.name: res.id for r, res in zip(plan.routes, self.routes, strict=True)}
        ids.update({d.name: res.id for d, res in zip(plan.custom_domains, self.custom_domains, strict=True)})
        ids.update(
            {c.name: res.id for c, res in zip(plan.queue_consumers, self.queue_consumers, strict=True)}
        )
        ids.update(
            {
                n.name: res.id
                for n, res in zip(plan.r2_event_notifications, self.r2_event_notifications, strict=True)
            }
        )
        if plan.crons is not None and self.crons is not None:
            ids[plan.crons.name] = self.crons.id
        ids[plan.subdomain.name] = self.subdomain.id
        return ids
