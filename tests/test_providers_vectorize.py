"""The Vectorize index dynamic provider: check, create, read, diff, update, delete called directly
(not through the Pulumi engine), with the official SDK pointed at the loopback fake.

The fake follows the Vectorize v2 API reference:
https://developers.cloudflare.com/api/resources/vectorize/subresources/indexes/methods/create/ (and
get, list, delete), the metadata index endpoints
https://developers.cloudflare.com/api/resources/vectorize/subresources/indexes/subresources/metadata_index/methods/create/
(and list, delete), with errors in the envelope of
https://developers.cloudflare.com/fundamentals/api/how-to/make-api-calls/ .
"""

from __future__ import annotations

import base64
import json

import pytest
from fakes.cloudflare_api import ACCOUNT_ID, TOKEN, FakeCloudflare, FakeIndex
from pulumi.dynamic import Config, ConfigureRequest
from pulumi.dynamic.dynamic import serialize_provider

from infra.deploy.cloudflare_api import BASE_URL_ENV, CloudflareAuthError, connect
from infra.deploy.providers.base import ProviderError
from infra.deploy.providers.vectorize import VectorizeIndexProvider
from infra.deploy.providers.vectorize_config import IndexConfig
from infra.spec.vectorize import vectorize_name_problem
from tests.conftest import fake_api


@pytest.fixture
def provider(fake: FakeCloudflare) -> VectorizeIndexProvider:
    p = VectorizeIndexProvider()
    p.use_api(fake_api(fake, max_attempts=3))
    return p


def props(**overrides) -> dict:
    config = {
        "account_id": ACCOUNT_ID,
        "index_name": "acme-rag-index",
        "dimensions": 384,
        "metric": "cosine",
        "description": "RAG chunks",
        "metadata_indexes": {"doc_id": "string"},
        "adopt_existing": False,
    }
    config.update(overrides)
    return config


def test_full_create_update_drift_delete_cycle(
    fake: FakeCloudflare, provider: VectorizeIndexProvider
) -> None:
    # create
    assert provider.check({}, props()).failures == []
    created = provider.create(props())
    assert created.id == "acme-rag-index"
    live = fake.indexes["acme-rag-index"]
    assert (live.dimensions, live.metric, live.description, live.metadata) == (
        384,
        "cosine",
        "RAG chunks",
        {"doc_id": "string"},
    )
    state = created.outs
    assert state["created_on"] and state["adopted"] is False
    assert fake.calls("POST", r"/indexes$")[0].body == {
        "name": "acme-rag-index",
        "description": "RAG chunks",
        "config": {"dimensions": 384, "metric": "cosine"},
    }
    assert fake.calls("POST", r"/metadata_index/create$")[0].body == {
        "propertyName": "doc_id",
        "indexType": "string",
    }

    # refresh without drift, then an unchanged spec is a no-op
    read = provider.read(created.id, state)
    assert read.id == created.id and read.outs == state
    assert provider.diff(created.id, state, props()).changes is False

    # a metadata-index change is an in-place update
    wanted = props(metadata_indexes={"tenant": "string", "page": "number"})
    diff = provider.diff(created.id, state, wanted)
    assert (diff.changes, diff.replaces, diff.delete_before_replace) == (True, [], False)
    state = provider.update(created.id, state, wanted).outs
    assert live.metadata == {"tenant": "string", "page": "number"}
    assert state["metadata_indexes"] == {"page": "number", "tenant": "string"}

    # drift: someone drops a metadata index by hand; refresh shows it, the next update restores it
    del live.metadata["page"]
    drifted = provider.read(created.id, state).outs
    assert drifted["metadata_indexes"] == {"tenant": "string"}
    assert provider.diff(created.id, drifted, wanted).changes is True
    provider.update(created.id, drifted, wanted)
    assert live.metadata == {"tenant": "string", "page": "number"}

    # delete, and deleting what is already gone is fine
    provider.delete(created.id, state)
    assert fake.indexes == {}
    provider.delete(created.id, state)


def test_index_deleted_by_hand_reads_as_gone(fake: FakeCloudflare, provider: VectorizeIndexProvider) -> None:
    created = provider.create(props())
    del fake.indexes["acme-rag-index"]
    gone = provider.read(created.id, created.outs)
    assert (gone.id, gone.outs) == ("", {})


def test_not_found_as_400_with_code_3000_also_reads_as_gone(fake, provider) -> None:
    created = provider.create(props())
    fake.fail("GET", r"/indexes/acme-rag-index$", 400, [(3000, 'vectorize.index.not_found - Index name "x"')])
    assert provider.read(created.id, created.outs).id == ""


@pytest.mark.parametrize(
    ("change", "replaces", "delete_first"),
    [
        ({"dimensions": 768}, ["dimensions"], True),
        ({"metric": "euclidean"}, ["metric"], True),
        ({"dimensions": 768, "metric": "dot-product"}, ["dimensions", "metric"], True),
        ({"index_name": "acme-rag-index-v2"}, ["index_name"], False),
    ],
)
def test_immutable_changes_force_replacement(provider, change, replaces, delete_first) -> None:
    diff = provider.diff("acme-rag-index", props(), props(**change))
    assert diff.changes is True
    assert diff.replaces == replaces
    assert diff.delete_before_replace is delete_first


def test_description_and_adopt_flag_alone_change_nothing(provider) -> None:
    assert provider.diff("i", props(), props(description="other words")).changes is False
    assert provider.diff("i", props(), props(adopt_existing=True)).changes is False


def test_numbers_from_pulumi_arrive_as_floats(provider) -> None:
    assert provider.diff("i", props(dimensions=384.0), props()).changes is False


def test_existing_index_without_adopt_flag_is_a_clear_error(fake, provider) -> None:
    fake.indexes["acme-rag-index"] = FakeIndex("acme-rag-index", 384, "cosine", "made by hand")
    with pytest.raises(ProviderError) as err:
        provider.create(props())
    message = str(err.value)
    assert message == (
        f"Vectorize index 'acme-rag-index' already exists in account {ACCOUNT_ID}: set `adopt_existing: true` "
        "on its binding to manage it, or give the binding another name"
    )
    assert fake.indexes["acme-rag-index"].description == "made by hand"


def test_adopt_existing_index_with_the_same_spec(fake, provider) -> None:
    fake.indexes["acme-rag-index"] = FakeIndex(
        "acme-rag-index", 384, "cosine", "made by hand", {"old": "number"}
    )
    created = provider.create(props(adopt_existing=True))
    assert created.outs["adopted"] is True
    assert fake.indexes["acme-rag-index"].metadata == {"doc_id": "string"}
    # an adopted index is managed from now on: delete removes it
    provider.delete(created.id, created.outs)
    assert "acme-rag-index" not in fake.indexes


def test_adopt_refuses_a_different_shape(fake, provider) -> None:
    fake.indexes["acme-rag-index"] = FakeIndex("acme-rag-index", 768, "euclidean", "")
    with pytest.raises(
        ProviderError, match="it has 768 dimensions and metric euclidean, the stack wants 384"
    ):
        provider.create(props(adopt_existing=True))
    assert fake.indexes["acme-rag-index"].dimensions == 768


def test_failed_metadata_index_rolls_the_new_index_back(fake, provider) -> None:
    fake.fail("POST", r"/metadata_index/create$", 400, [(1002, "metadata property rejected")])
    with pytest.raises(ProviderError) as err:
        provider.create(props())
    assert "[1002] metadata property rejected" in str(err.value)
    assert str(err.value).endswith("the new index 'acme-rag-index' was deleted again")
    assert fake.indexes == {}


def test_a_create_replayed_after_a_lost_response_is_not_an_error(fake, provider) -> None:
    """The first POST created the index but its answer was a 502; the retry gets 409."""
    fake.indexes["acme-rag-index"] = FakeIndex("acme-rag-index", 384, "cosine", "RAG chunks")
    fake.fail("POST", r"/indexes$", 502)
    created = provider.create(props())
    assert created.outs["adopted"] is False
    assert len(fake.calls("POST", r"/indexes$")) == 2


def test_check_reports_each_invalid_field(provider) -> None:
    failures = provider.check(
        {}, props(index_name="9-Bad", dimensions=2000, metric="manhattan", metadata_indexes={"x": "date"})
    ).failures
    assert [(f.property, f.reason) for f in failures] == [
        ("index_name", vectorize_name_problem("9-Bad")),
        ("dimensions", "dimensions must be 1..1536, not 2000"),
        ("metric", "metric 'manhattan' is not one of cosine, euclidean, dot-product"),
        ("metadata_indexes", "metadata index 'x': type 'date' is not one of string, number, boolean"),
    ]


def test_name_rules() -> None:
    assert vectorize_name_problem("acme-rag_index-2") is None
    assert "64" in (vectorize_name_problem("a" * 65) or "")
    for bad in ("a", "-abc", "abc-", "Abc", "1abc", "ab.c"):
        assert vectorize_name_problem(bad), bad


def test_wrong_token_is_a_one_line_401(fake) -> None:
    p = VectorizeIndexProvider()
    p.use_api(connect("not-the-token", base_url=fake.base_url, sleep=lambda _s: None))
    with pytest.raises(CloudflareAuthError) as err:
        p.create(props())
    assert "HTTP 401" in str(err.value) and "\n" not in str(err.value)


def test_token_lacking_vectorize_permission_is_a_403(fake, provider) -> None:
    fake.permissions.discard("vectorize")
    with pytest.raises(CloudflareAuthError, match=r"HTTP 403.*grant it 'Vectorize Write'"):
        provider.create(props())


def test_token_comes_from_config_at_run_time_and_is_never_serialized(fake, monkeypatch) -> None:
    """What Pulumi stores is `serialize_provider(provider)` (dill, base64) plus the outputs."""
    monkeypatch.setenv(BASE_URL_ENV, fake.base_url)
    monkeypatch.delenv("CLOUDFLARE_API_TOKEN", raising=False)
    provider = VectorizeIndexProvider()
    before = serialize_provider(provider)
    provider.configure(ConfigureRequest(Config({"cloudflare:apiToken": TOKEN}, "edgestack")))
    created = provider.create(props())  # authenticated with the configured token
    assert fake.calls("POST", r"/indexes$")[0].authorization == f"Bearer {TOKEN}"

    after = serialize_provider(provider)  # configured and used: still no token inside
    assert after == before
    decoded = base64.b64decode(after)
    assert TOKEN.encode() not in decoded and TOKEN not in after
    assert TOKEN not in json.dumps(created.outs) and TOKEN not in json.dumps(props())
    assert TOKEN not in json.dumps(provider.read(created.id, created.outs).outs)


def test_token_from_environment_when_config_has_none(fake, monkeypatch) -> None:
    monkeypatch.setenv(BASE_URL_ENV, fake.base_url)
    monkeypatch.setenv("CLOUDFLARE_API_TOKEN", TOKEN)
    provider = VectorizeIndexProvider()
    provider.configure(ConfigureRequest(Config({}, "edgestack")))
    assert provider.create(props()).id == "acme-rag-index"


def test_config_round_trip() -> None:
    config = IndexConfig.from_props(props())
    assert config.to_props() == props()


def test_the_fake_answers_as_documented_create_200_and_uuid_mutation_ids(fake: FakeCloudflare) -> None:
    import uuid

    import httpx

    headers = {"authorization": f"Bearer {TOKEN}"}
    base = f"{fake.base_url}/accounts/{ACCOUNT_ID}/vectorize/v2/indexes"
    created = httpx.post(base, json={"name": "idx", "config": {"dimensions": 8, "metric": "cosine"}}, headers=headers)
    assert created.status_code == 200 and created.json()["success"] is True
    mutation = httpx.post(
        f"{base}/idx/metadata_index/create", json={"propertyName": "tenant", "indexType": "string"}, headers=headers
    ).json()["result"]["mutationId"]
    assert len(mutation) == 36 and str(uuid.UUID(mutation)) == mutation
