"""edgestack: stack files to Cloudflare edge stacks."""
