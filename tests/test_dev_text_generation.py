"""`edgestack dev`'s text-generation settings: flags over environment, the API key reaching the host
config, the model map in the banner, and one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from infra.dev.host_config import HostInputs, build_host_config
from infra.dev.session import DevConfigError, DevOptions, TextGeneration
from infra.plan.bundle import load_bundle
from infra.plan.planner import plan as make_plan
from infra.stackfile.load import load_stack
from infra.stackfile.names import resolve_stack_path

REPO = Path(__file__).resolve().parents[1]
ENV = {
    "EDGESTACK_TEXT_GENERATION_URL": "http://127.0.0.1:11434/v1",
    "EDGESTACK_TEXT_GENERATION_MODELS": "@cf/meta/llama-3.1-8b-instruct=llama3.1:8b",
    "EDGESTACK_TEXT_GENERATION_API_KEY": "sk-env",
}


def test_environment_then_flags_win() -> None:
    from_env = TextGeneration.resolve(DevOptions(), ENV)
    assert from_env == TextGeneration(
        "http://127.0.0.1:11434/v1", {"@cf/meta/llama-3.1-8b-instruct": "llama3.1:8b"}, "sk-env"
    )
    flags = DevOptions(
        text_generation_url="http://10.0.0.2:8000/v1",
        text_generation_models="@cf/a=b,@cf/c=d",
        text_generation_api_key="sk-flag",
    )
    assert TextGeneration.resolve(flags, ENV) == TextGeneration(
        "http://10.0.0.2:8000/v1", {"@cf/a": "b", "@cf/c": "d"}, "sk-flag"
    )


def test_a_model_map_without_a_server_is_a_one_line_error() -> None:
    with pytest.raises(DevConfigError, match="no server is given: set EDGESTACK_TEXT_GENERATION_URL"):
        TextGeneration.resolve(DevOptions(text_generation_models="@cf/a=b"), {})


def test_the_banner_shows_the_model_map_or_how_to_make_one() -> None:
    lines = TextGeneration.resolve(DevOptions(), ENV).banner_lines()
    assert lines == [
        "Text generation: http://127.0.0.1:11434/v1, with an API key",
        "  @cf/meta/llama-3.1-8b-instruct -> llama3.1:8b",
    ]
    assert "sk-env" not in "\n".join(lines)
    unset = "\n".join(TextGeneration.resolve(DevOptions(), {}).banner_lines())
    assert "EDGESTACK_TEXT_GENERATION_MODELS='@cf/meta/llama-3.1-8b-instruct=llama3.1:8b'" in unset


def test_the_api_key_reaches_the_host_config(tmp_path: Path) -> None:
    stack = load_stack(resolve_stack_path("local"))
    bundle = load_bundle(REPO / "worker_src")
    settings = TextGeneration.resolve(DevOptions(), ENV)
    config = build_host_config(
        stack,
        make_plan(stack, bundle, stack_name="local"),
        HostInputs(
            port=0,
            state_dir=tmp_path,
            bundle_dir=tmp_path,
            source_label="worker_src/",
            admin_token="t",
            secrets={},
            text_generation_url=settings.url,
            text_generation_models=settings.models,
            text_generation_api_key=settings.api_key,
        ),
    )
    ai = json.loads(config.to_json())["ai"]
    assert ai["textGenerationApiKey"] == "sk-env" and ai["textGenerationUrl"] == "http://127.0.0.1:11434/v1"
    assert ai["textGenerationModelMap"] == {"@cf/meta/llama-3.1-8b-instruct": "llama3.1:8b"}
