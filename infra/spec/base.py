"""Shared base for every stack-file model: strict, immutable, no extra keys."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints

# Binding names become `env.NAME` attributes in the Worker: upper snake case.
BINDING_NAME_RE = r"^[A-Z][A-Z0-9_]*$"
BindingName = Annotated[str, StringConstraints(pattern=BINDING_NAME_RE, max_length=64)]

# Cloudflare resource names (worker, bucket, database, index): lowercase, digits, dashes.
RESOURCE_NAME_RE = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"
ResourceName = Annotated[str, StringConstraints(pattern=RESOURCE_NAME_RE)]

# `name_prefix` (and so a customer's name): a lowercase slug that starts with a letter.
NAME_PREFIX_RE = r"^[a-z][a-z0-9-]{0,39}$"

# Environment-variable style secret names.
# A tenant scope prefixes the tenant's R2 keys (`<tenant>/<id>`): a '/' would let one scope extend another.
TENANT_SCOPE_RE = r"^[A-Za-z0-9._-]{1,64}$"
SecretName = Annotated[str, StringConstraints(pattern=r"^[A-Z][A-Z0-9_]*$", max_length=128)]


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def slug(text: str) -> str:
    """Lowercase dash-separated form of a binding name (`FAQ_CACHE` -> `faq-cache`)."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
