"""Stage 3: `Plan` -> Cloudflare resources (the Pulumi program, components, dynamic providers)."""
