"""Pulumi dynamic providers for what pulumi-cloudflare lacks: Vectorize indexes and D1 migrations.

Each provider talks to Cloudflare through `infra.deploy.cloudflare_api` and reads the API token at run time
(`configure`), never from its serialized state. Components in `infra.deploy.components` wrap them.
"""
