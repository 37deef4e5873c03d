"""A traffic profile: what a month of traffic through one stack looks like (`--profile traffic.yaml`).

```yaml
chat:                       # per gateway route alias (`gateway.routes`)
  chat-fast: {requests: 2_000_000, input_tokens: 600, output_tokens: 200, cache_hit_rate: 0.1}
rag:
  queries: 100_000          # POST /v1/rag/query
  query_tokens: 20
  answer_input_tokens: 1500 # context sent to the generation model
  answer_output_tokens: 200
  uploads: 2_000            # documents written this month
  document_bytes: 20_000    # average size
  stored_documents: 10_000  # corpus size at the end of the month
agents:
  turns: 50_000
  steps: 3                  # model calls per turn
  input_tokens: 2_000
  output_tokens: 300
cpu_ms: {chat: 5}           # optional: override a default CPU figure
```

Validated like a stack file: unknown keys, negative numbers and routes the stack does not have are
`file:line:col: key.path: message` errors.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, ValidationError

from infra.spec import Stack
from infra.spec.base import Model
from infra.stackfile.diagnostics import Diagnostic, StackError
from infra.stackfile.messages import did_you_mean, validation_diagnostics
from infra.stackfile.source import SourceMap, format_key_path, read_yaml_file

# Per-request Worker time, from docs/benchmarks.md (local runtime, Pyodide). These are wall-clock
# overheads over the upstream, so they bound the CPU time from above.
DEFAULT_CPU_MS = {
    "chat": 9.0,  # agents bench: chat completion through the gateway, +9.0 ms p50
    "rag_query": 69.9,  # rag bench: query (FAQ miss) 71.1 ms p50 minus healthz 1.2 ms
    "rag_upload_per_chunk": 20.4,  # rag bench: ingestion over HTTP, 49 chunks/s
    "agent_turn": 35.0,  # agents bench: agent turn, 1 step, +35.0 ms p50
    "agent_extra_step": 26.1,  # agents bench: 3 tool steps, 26.1 ms per step
}
CPU_SOURCE = "docs/benchmarks.md (local runtime wall-clock overhead: an upper bound on CPU)"


class ChatTraffic(Model):
    requests: int = Field(ge=0, description="Requests per month")
    input_tokens: float = Field(ge=0, description="Average prompt tokens")
    output_tokens: float = Field(ge=0, description="Average completion tokens")
    cache_hit_rate: float = Field(default=0.0, ge=0, le=1)


class RagTraffic(Model):
    queries: int = Field(default=0, ge=0)
    query_tokens: float = Field(default=20, ge=0)
    answer_input_tokens: float = Field(default=1500, ge=0)
    answer_output_tokens: float = Field(default=200, ge=0)
    faq_hit_rate: float = Field(default=0.0, ge=0, le=1)
    uploads: int = Field(default=0, ge=0)
    document_bytes: float = Field(default=20_000, ge=0)
    stored_documents: int = Field(default=0, ge=0)


class AgentTraffic(Model):
    turns: int = Field(ge=0)
    steps: int = Field(default=1, ge=1)
    input_tokens: float = Field(ge=0, description="Average prompt tokens per model call")
    output_tokens: float = Field(ge=0, description="Average completion tokens per model call")
    seconds_per_step: float = Field(
        default=1.0, ge=0, description="Wall time the object is active per model call (duration billing)"
    )


class CpuOverrides(Model):
    chat: float | None = Field(default=None, ge=0)
    rag_query: float | None = Field(default=None, ge=0)
    rag_upload_per_chunk: float | None = Field(default=None, ge=0)
    agent_turn: float | None = Field(default=None, ge=0)
    agent_extra_step: float | None = Field(default=None, ge=0)


class TrafficProfile(Model):
    chat: dict[str, ChatTraffic] = Field(default_factory=dict, description="route alias -> traffic")
    rag: RagTraffic | None = None
    agents: AgentTraffic | None = None
    cpu_ms: CpuOverrides = CpuOverrides()

    def cpu(self, name: str) -> tuple[float, bool]:
        """CPU ms for `name` and whether it is the default (from the benchmarks)."""
        given = getattr(self.cpu_ms, name)
        return (DEFAULT_CPU_MS[name], True) if given is None else (given, False)


DEFAULT_PROFILE = TrafficProfile()


def _reference_diagnostics(profile: TrafficProfile, stack: Stack, sources: SourceMap) -> list[Diagnostic]:
    out = []

    def report(path: tuple[str, ...], message: str) -> None:
        position = sources.nearest(path)
        out.append(Diagnostic(*position, format_key_path(path), message))

    routes = sorted(stack.gateway.routes) if stack.gateway else []
    for alias in profile.chat:
        if alias not in routes:
            known = ", ".join(routes) or "none"
            report(
                ("chat", alias),
                f"unknown route {alias!r}{did_you_mean(alias, routes)} (the stack's routes: {known})",
            )
    if profile.rag is not None and stack.rag is None:
        report(("rag",), "the stack has no rag section")
    if profile.agents is not None and stack.agents is None:
        report(("agents",), "the stack has no agents section")
    return out


def load_profile(path: Path, stack: Stack) -> TrafficProfile:
    """Parse and check a traffic profile against `stack`. Raises `StackError` (one line per problem)."""
    document = read_yaml_file(path)
    try:
        profile = TrafficProfile.model_validate(document.data)
    except ValidationError as exc:
        raise StackError(validation_diagnostics(exc, TrafficProfile, document.sources)) from None
    problems = _reference_diagnostics(profile, stack, document.sources)
    if problems:
        raise StackError(problems)
    return profile
