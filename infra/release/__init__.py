"""Release pipeline: build-once artifacts, policy gates, graph diffs, promote and rollback.

Nothing here imports the Pulumi Automation API at module level; `infra.release.automation` is the
only module that talks to the Pulumi CLI.
"""
