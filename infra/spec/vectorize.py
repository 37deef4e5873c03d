"""Vectorize index rules, from Cloudflare's docs; pure, shared by the stack-file checks and the provider.

- name: `^[a-z][a-z0-9_-]*[a-z0-9]$` (the API schema `vectorize_index-name`), at most 64 bytes
  (developers.cloudflare.com/vectorize/platform/limits/);
- dimensions 1..1536, metric cosine | euclidean | dot-product (Create Vectorize Index API reference);
- at most 10 metadata indexes, each typed string | number | boolean.
"""

from __future__ import annotations

import re
from typing import Literal, get_args

VectorizeMetric = Literal["cosine", "euclidean", "dot-product"]
MetadataType = Literal["string", "number", "boolean"]
METRICS: tuple[str, ...] = get_args(VectorizeMetric)
METADATA_TYPES: tuple[str, ...] = get_args(MetadataType)
MAX_DIMENSIONS = 1536
MAX_METADATA_INDEXES = 10
MAX_NAME_BYTES = 64
_NAME_RE = re.compile(r"^[a-z][a-z0-9_-]*[a-z0-9]$")


def vectorize_name_problem(name: str) -> str | None:
    """Why `name` is not a valid Vectorize index name, or None."""
    if len(name.encode()) > MAX_NAME_BYTES:
        return f"Vectorize index name {name!r} is {len(name.encode())} bytes; the limit is {MAX_NAME_BYTES}"
    if not _NAME_RE.fullmatch(name):
        return (
            f"Vectorize index name {name!r} must start with a lowercase letter, contain only lowercase "
            "letters, digits, '-' or '_', and end with a letter or digit"
        )
    return None
