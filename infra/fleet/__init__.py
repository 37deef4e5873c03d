"""Per-customer fleets: scaffolding, fleet-wide isolation checks, fleet synth, the CI shard matrix, and
preview/up/refresh/destroy over many stacks (pure cores; `automation` is the thin Pulumi layer)."""
