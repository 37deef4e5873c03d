"""`edgestack:index:VectorizeIndex`: one Vectorize index (a dynamic resource) as a component.

Its arguments are the provider's `IndexConfig` (the same record the dynamic provider stores in state).
The Worker binding uses `index.index_name` (an output of the index) and the Worker version lists the
component in `depends_on`, so the index exists before any version binds to it. With the program's
`Storage` component, pass `provision_index` as its `index_provisioner`; directly:

    index = VectorizeIndex("rag-index", IndexConfig(account_id=..., index_name="rag", dimensions=384),
                           pulumi.ResourceOptions(parent=storage, protect=True))
"""

from __future__ import annotations

import pulumi

from infra.deploy.components.storage import ProvisionedIndex
from infra.deploy.providers.vectorize import VectorizeIndexResource
from infra.deploy.providers.vectorize_config import IndexConfig
from infra.errors import EdgestackError
from infra.plan.model import VectorizeIndexPlan
from infra.plan.planned_resource import Token


class VectorizeConfigError(EdgestackError, ValueError):
    """Invalid index arguments; the message is one line naming the binding and field."""


class VectorizeIndex(pulumi.ComponentResource):
    index_name: pulumi.Output[str]

    def __init__(self, name: str, config: IndexConfig, opts: pulumi.ResourceOptions | None = None) -> None:
        problems = config.problems()
        if problems:
            prop, message = problems[0]
            raise VectorizeConfigError(f"Vectorize index {name}: {prop}: {message}")
        super().__init__(Token.VECTORIZE_INDEX.value, name, None, opts)
        self.index = VectorizeIndexResource(f"{name}-index", config, pulumi.ResourceOptions(parent=self))
        self.index_name = self.index.index_name
        self.register_outputs({"index_name": self.index_name})


def provision_index(
    plan: VectorizeIndexPlan, account_id: str, opts: pulumi.ResourceOptions
) -> ProvisionedIndex:
    """`Storage`'s `index_provisioner`: the planned index as a `VectorizeIndex` component."""
    config = IndexConfig(
        account_id=account_id,
        index_name=plan.index_name,
        dimensions=plan.dimensions,
        metric=plan.metric,
        description=plan.description,
        metadata_indexes=dict(plan.metadata_indexes),
        adopt_existing=plan.adopt_existing,
    )
    index = VectorizeIndex(plan.name, config, opts)
    return ProvisionedIndex(resource=index, index_name=index.index_name)
