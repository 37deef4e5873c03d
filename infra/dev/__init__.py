"""`edgestack dev`: the local edge runtime, driven from Python.

The runtime itself is a Node host (`runtime/host.mjs`): Pyodide from npm running the Worker bundle
with Cloudflare's workers-runtime-sdk, Miniflare for KV/D1/R2, and the local Durable Object,
Vectorize, rate-limit, queue and Workers AI bindings. This package builds the same bundle the
Pulumi program uploads, writes the host's configuration, starts and stops the host, applies D1
migrations through the host's loopback D1 REST endpoint, and prints the banner.
"""
