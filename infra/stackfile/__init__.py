"""Stage 1: stack files -> a validated `Stack` (YAML with positions, `extends:`, cross-references)."""
