"""Stage 2: `Stack` + Worker bundle -> `Plan`, pure: no Pulumi, no network."""
