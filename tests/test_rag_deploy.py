"""RAG in the deploy graph: `rag.ingest_on_upload` adds an R2 event notification on the documents bucket
to the RAG queue (pulumi-cloudflare v6 `R2BucketEventNotification`: accountId, bucketName, queueId,
rules[{actions, description}], see https://www.pulumi.com/registry/packages/cloudflare/api-docs/r2bucketeventnotification/),
checked under Pulumi's mock runtime; and the crossref checks of the rag section."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from pulumi_mocks import ACCOUNT, make_plan, synth

from infra.deploy.synth import mock_id

RAG = {
    "rag": {
        "documents_binding": "DOCS",
        "index_binding": "VECTORS",
        "queue_binding": "JOBS",
        "ingest_on_upload": True,
        "generation": "extractive",
    }
}
EVENTS = "cloudflare:index/r2BucketEventNotification:R2BucketEventNotification"


def test_ingest_on_upload_notifies_the_rag_queue_after_the_consumer_exists() -> None:
    plan = make_plan(RAG)
    [notification] = plan.routing.r2_event_notifications
    assert notification.bucket == "shop-r2-docs" and notification.queue == "shop-queue-jobs"
    assert {"shop-queue-jobs--consumer", "shop-deployment"} <= set(notification.depends_on)
    graph = synth(RAG)
    resource = graph.resource(notification.name)
    assert resource.type == EVENTS and resource.parent == "shop-routing"
    assert resource.inputs == {
        "accountId": ACCOUNT,
        "bucketName": graph.resource("shop-r2-docs").inputs["name"],
        "queueId": mock_id("cloudflare:index/queue:Queue", "shop-queue-jobs"),
        "rules": [
            {
                "actions": [
                    "PutObject",
                    "CopyObject",
                    "CompleteMultipartUpload",
                    "DeleteObject",
                    "LifecycleDeletion",
                ],
                "description": "edgestack RAG: index objects written to "
                + graph.resource("shop-r2-docs").inputs["name"],
            }
        ],
    }


def test_without_ingest_on_upload_there_is_no_notification() -> None:
    assert make_plan({"rag": {**RAG["rag"], "ingest_on_upload": False}}).routing.r2_event_notifications == ()


def _validate(tmp_path: Path, rag: dict, extra_bindings: dict | None = None) -> list[str]:
    from infra.stackfile.crossref import cross_reference_diagnostics
    from infra.stackfile.load import load_stack_with_sources

    repo = Path(__file__).resolve().parents[1]
    stack = yaml.safe_load((repo / "stacks" / "local.yaml").read_text())
    stack["rag"].update(rag)
    for kind, values in (extra_bindings or {}).items():
        if values is None:  # a top-level section to remove
            stack.pop(kind)
        else:
            stack["bindings"].setdefault(kind, {}).update(values)
    (tmp_path / "migrations").symlink_to(repo / "stacks" / "migrations")
    path = tmp_path / "stack.yaml"
    path.write_text(yaml.safe_dump(stack, sort_keys=False))
    loaded, sources = load_stack_with_sources(path, cross_check=False)
    return [
        f"{d.key_path}: {d.message}"
        for d in cross_reference_diagnostics(loaded, sources, repo / "worker_src")
    ]


@pytest.mark.parametrize(
    ("rag", "bindings", "expected"),
    [
        (
            {"filter_keys": ["lang"]},
            None,
            "rag.filter_keys[0]: filters on 'lang' need a Vectorize metadata index",
        ),
        ({"filter_keys": ["tenant"]}, None, "rag.filter_keys[0]: 'tenant' is reserved"),
        (
            {"filter_keys": ["folder"]},
            None,
            "rag.filter_keys[0]: filters on 'folder' need a Vectorize metadata index (created before the "
            "first upsert): add folder: string",
        ),
        (
            {"filter_keys": ["updated_at"]},
            {"vectorize": {"VECTORS": {"dimensions": 384, "metadata_indexes": {"tenant": "string", "updated_at": "string"}}}},
            "bindings.vectorize.VECTORS.metadata_indexes.updated_at: 'updated_at' is built-in RAG metadata of type number",
        ),
        (
            {"queue_binding": None, "ingest_on_upload": True},
            None,
            "rag.ingest_on_upload: ingest_on_upload delivers",
        ),
        (
            {"keyword_binding": "FAQ_CACHE"},
            None,
            "rag.keyword_binding: 'FAQ_CACHE' is declared under bindings.kv",
        ),
        (
            {"generation": "llm", "generation_alias": None},
            None,
            "rag: generation: llm needs generation_alias",
        ),
        (
            {"expose_as_model": "chat-fast"},
            None,
            "rag.expose_as_model: 'chat-fast' is already a gateway route",
        ),
        (
            {"queue_binding": "OUT"},
            {"queues": {"OUT": {"consume": False}}},
            "rag.queue_binding: queue 'OUT' has consume: false",
        ),
    ],
)
def test_rag_crossref_checks_name_the_key(tmp_path: Path, rag, bindings, expected) -> None:
    found = _validate(tmp_path, rag, bindings)
    assert any(message.startswith(expected) for message in found), found


def test_local_stack_rag_section_is_valid(tmp_path: Path) -> None:
    assert _validate(tmp_path, {}) == []
