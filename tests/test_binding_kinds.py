"""Each planned binding type names its stack-file kind, and the planner binds every kind."""

from __future__ import annotations

from infra.plan import worker_model
from infra.stackfile.env_names import KIND_WORDS
from tests.pulumi_mocks import make_plan


def _binding_types() -> list[type[worker_model.WorkerBinding]]:
    found = []
    for value in vars(worker_model).values():
        if isinstance(value, type) and issubclass(value, worker_model.WorkerBinding) and "kind" in vars(value):
            found.append(value)
    return found


def test_every_binding_type_has_its_stack_file_kind() -> None:
    kinds = {cls.__name__: cls.kind for cls in _binding_types()}
    assert kinds == {
        "KvBinding": "kv",
        "D1Binding": "d1",
        "R2Binding": "r2",
        "VectorizeBinding": "vectorize",
        "QueueBinding": "queues",
        "DurableObjectBinding": "durable_objects",
        "AiBinding": "ai",
        "RateLimitBinding": "rate_limits",
        "PlainTextBinding": "var",
        "SecretTextBinding": "secret",
    }
    assert set(kinds.values()) == set(KIND_WORDS)


def test_planned_bindings_carry_the_kind_they_were_declared_under() -> None:
    by_name = {b.name: b.kind for b in make_plan().bindings}
    assert by_name["CACHE"] == "kv"
    assert by_name["DB"] == "d1"
    assert by_name["DOCS"] == "r2"
    assert by_name["VECTORS"] == "vectorize"
    assert by_name["JOBS"] == "queues"
    assert by_name["AGENT"] == "durable_objects"
    assert by_name["AI"] == "ai"
    assert by_name["LIMITER"] == "rate_limits"
    assert by_name["LOG_LEVEL"] == "var"
    assert by_name["OPENAI_API_KEY"] == "secret"
