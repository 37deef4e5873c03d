"""Pulumi dynamic providers for what pulumi-cloudflare lacks: Vectorize indexes and D1 migrations.

Each provider talks to Cloudflare through `infra.cfapi` and reads the API token at run time
(`configure`), never from its serialized state. Components in `infra.components` wrap them.
"""
