"""Runtime configuration the Worker reads: the AI gateway, RAG and agents.

These sections are shipped to the Worker as JSON (`EDGESTACK_CONFIG`, built by the planner's
`runtime_config_json`), so they hold plain data only. Binding fields name bindings declared under
`bindings:`.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, HttpUrl, JsonValue, model_validator

from .base import TENANT_SCOPE_RE, BindingName, Model, SecretName

# local-echo: the built-in stand-in that answers offline without a model (docs/gateway.md).
ProviderKind = Literal["openai", "anthropic", "workers-ai", "openai-compatible", "local-echo"]


class ModelPrice(Model):
    """USD per million tokens."""

    input: float = Field(ge=0)
    output: float = Field(ge=0)
    cached_input: float | None = Field(default=None, ge=0)


class ProviderSpec(Model):
    kind: ProviderKind
    base_url: HttpUrl | None = Field(default=None, description="Required for openai-compatible")
    api_key_secret: SecretName | None = Field(default=None, description="Worker secret holding the key")
    timeout_ms: int = Field(default=30_000, ge=100, le=300_000)
    prices: dict[str, ModelPrice] = Field(default_factory=dict, description="model -> price")
    default_max_tokens: int = Field(
        default=4096, ge=1, le=1_000_000, description="max_tokens sent to Anthropic when a client omits it"
    )
    anthropic_betas: tuple[str, ...] = Field(
        default=(), description="anthropic-beta values clients may send through this anthropic provider"
    )


class Candidate(Model):
    provider: str = Field(description="Key into gateway.providers")
    model: str = Field(min_length=1)
    weight: int = Field(default=1, ge=0, description="Used by the weighted strategy")


class CircuitBreaker(Model):
    failure_threshold: int = Field(default=5, ge=1)
    cooldown_s: int = Field(default=30, ge=1)


class RetryPolicy(Model):
    max_attempts: int = Field(default=3, ge=1, le=10)
    backoff: Literal["constant", "linear", "exponential"] = "exponential"
    base_delay_ms: int = Field(default=100, ge=0, le=10_000)
    max_total_ms: int = Field(default=20_000, ge=0)


class CachePolicy(Model):
    enabled: bool = False
    ttl_s: int = Field(default=3600, ge=60, le=30 * 86400)
    max_temperature: float | None = Field(
        default=None, ge=0, description="Only cache requests at or below this temperature"
    )


class RouteSpec(Model):
    kind: Literal["chat", "embeddings"] = Field(
        default="chat", description="embeddings: served by POST /v1/embeddings, not by the chat endpoints"
    )
    strategy: Literal["cheapest", "fastest", "fallback", "weighted"] = "fallback"
    candidates: tuple[Candidate, ...] = Field(min_length=1)
    retry: RetryPolicy = RetryPolicy()
    circuit_breaker: CircuitBreaker = CircuitBreaker()
    cache: CachePolicy = CachePolicy()


class RateLimitPolicy(Model):
    binding: BindingName = Field(description="A rate_limits binding")
    key: Literal["ip", "api_key"] = "ip"
    retry_after_s: int = Field(
        default=60, ge=1, le=86_400, description="retry-after sent with a 429; match the binding's period"
    )


class ResponseStoreSpec(Model):
    """Where `POST /v1/responses` keeps responses for `previous_response_id` and GET/DELETE by id."""

    binding: BindingName = Field(description="D1 database holding gateway_responses (migration 0007)")
    ttl_s: int = Field(default=30 * 86400, ge=60, le=365 * 86400, description="How long a response is kept")


class VirtualKeySpec(Model):
    """A client key; only its sha256 is stored."""

    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    scope: str = Field(
        default="default",
        pattern=TENANT_SCOPE_RE,
        description="The key's tenant: prefixes its storage keys, so it never contains '/'",
    )
    allowed_models: tuple[str, ...] = Field(default=(), description="Empty means every alias")
    requests_per_day: int | None = Field(default=None, ge=1)
    tokens_per_day: int | None = Field(default=None, ge=1)
    admin: bool = Field(
        default=False, description="Tenant admin: manages its scope's tools and reads its scope's usage"
    )
    operator: bool = Field(
        default=False, description="Platform operator: reads every tenant's usage and budgets (/v1/usage, /v1/budgets)"
    )
    approve: bool = Field(
        default=False, description="May approve its tenant's pending agent tool calls, not only its own"
    )
    documents: Literal["read", "write"] = Field(
        default="read", description="RAG documents: `write` may PUT and DELETE /v1/documents"
    )
    budget_usd_per_day: float | None = Field(
        default=None, gt=0, description="Shorthand: a hard daily budget in USD for this key"
    )
    budget_usd_per_month: float | None = Field(
        default=None, gt=0, description="Shorthand: a hard monthly budget in USD for this key"
    )


class BudgetSpec(Model):
    """A spend limit in USD over a UTC day or month, for one key, one tenant, or the whole stack."""

    scope: Literal["key", "tenant", "stack"]
    match: str | None = Field(
        default=None, min_length=1, description="Key name or tenant; unset: every key (or tenant) gets its own"
    )
    limit_usd: float = Field(gt=0)
    window: Literal["day", "month"]
    mode: Literal["hard", "soft"] = Field(default="hard", description="hard refuses (429); soft only records")
    alert_at: tuple[float, ...] = Field(default=(), description="Fractions of the limit that fire the webhook")
    alert_webhook_url: HttpUrl | None = Field(default=None, description="POSTed JSON when an alert_at is crossed")
    alert_webhook_secret: SecretName | None = Field(
        default=None, description="Worker secret signing the webhook (HMAC-SHA256, x-edgestack-signature)"
    )

    @model_validator(mode="after")
    def _consistent(self) -> BudgetSpec:
        if self.scope == "stack" and self.match is not None:
            raise ValueError("a stack budget covers the whole stack: remove match")
        for value in self.alert_at:
            if not 0 < value < 1:
                raise ValueError(f"alert_at values are fractions of the limit, strictly between 0 and 1; got {value}")
        if self.alert_at and self.alert_webhook_url is None:
            raise ValueError("alert_at needs alert_webhook_url")
        return self


class GatewaySpec(Model):
    enabled: bool = True
    public: bool = Field(default=False, description="Serve without a virtual key")
    providers: dict[str, ProviderSpec] = Field(default_factory=dict)
    routes: dict[str, RouteSpec] = Field(default_factory=dict, description="model alias -> route")
    rate_limit: RateLimitPolicy | None = None
    keys: dict[str, VirtualKeySpec] = Field(default_factory=dict, description="key name -> key")
    cache_binding: BindingName | None = Field(default=None, description="KV binding for the edge cache")
    usage_binding: BindingName | None = Field(default=None, description="D1 binding for usage logs")
    response_store: ResponseStoreSpec | None = Field(
        default=None, description="D1 store of Responses API responses (`store: true`, previous_response_id)"
    )
    log_bodies: bool = False
    ip_hash_salt_secret: SecretName | None = Field(
        default=None, description="Worker secret salting the client-IP hash in usage records"
    )
    max_body_bytes: int = Field(default=1_048_576, ge=1024, le=100 * 1_048_576)
    budgets: dict[str, BudgetSpec] = Field(default_factory=dict, description="budget name -> budget")
    budget_binding: BindingName | None = Field(
        default=None, description="Durable Object namespace (class BudgetCounter) holding budget counters"
    )

    def all_budgets(self) -> dict[str, BudgetSpec]:
        """`budgets` plus the keys' `budget_usd_per_day/month` shorthands (named `key:<name>:<window>`)."""
        out = dict(self.budgets)
        for name, key in self.keys.items():
            if key.budget_usd_per_day is not None:
                out[f"key:{name}:day"] = BudgetSpec(scope="key", match=name, limit_usd=key.budget_usd_per_day, window="day")
            if key.budget_usd_per_month is not None:
                out[f"key:{name}:month"] = BudgetSpec(
                    scope="key", match=name, limit_usd=key.budget_usd_per_month, window="month"
                )
        return out


MODE_CANDIDATES = 20  # the most candidates one mode retrieves (Vectorize: top-k 20 with metadata)


class RagFusionSpec(Model):
    """How `hybrid` merges the vector and keyword rankings."""

    method: Literal["rrf", "max"] = Field(
        default="max",
        description="max: the higher weighted score, each mode's scores divided by its best (the better "
        "of the two on both bench/rag.py corpora); rrf: sum of weight / (60 + rank)",
    )
    vector_weight: float = Field(default=1.0, ge=0, le=100)
    keyword_weight: float = Field(default=1.0, ge=0, le=100)

    @model_validator(mode="after")
    def _some_weight(self) -> RagFusionSpec:
        if self.vector_weight == 0 and self.keyword_weight == 0:
            raise ValueError("vector_weight and keyword_weight cannot both be 0")
        return self


class RagMinScoreSpec(Model):
    """A relevance floor per mode: hits scoring below it are dropped (none: keep all)."""

    vector: float | None = Field(default=None, ge=0, le=1, description="cosine similarity")
    keyword: float | None = Field(default=None, ge=0, description="-bm25 of the FTS5 index")
    hybrid: float | None = Field(default=None, ge=0, description="the fused score")


class RagRerankSpec(Model):
    """Re-score the fused top-N with a cross-encoder (Workers AI), then keep top_k."""

    enabled: bool = False
    model: Literal["@cf/baai/bge-reranker-base"] = "@cf/baai/bge-reranker-base"
    top_n: int = Field(default=20, ge=1, description="Candidates re-scored; at least top_k")


class RagRewriteSpec(Model):
    """Rewrite the question through a gateway alias before retrieval."""

    enabled: bool = False
    alias: str | None = Field(default=None, min_length=1, description="A gateway alias")
    prompt: str | None = Field(default=None, min_length=1, max_length=4000, description="The system prompt")

    @model_validator(mode="after")
    def _alias_when_enabled(self) -> RagRewriteSpec:
        if self.enabled and self.alias is None:
            raise ValueError("enabled needs alias (the gateway alias that rewrites the question)")
        return self


class RagSpec(Model):
    enabled: bool = True
    documents_binding: BindingName = Field(description="R2 bucket holding documents")
    index_binding: BindingName = Field(description="Vectorize index")
    faq_cache_binding: BindingName | None = Field(default=None, description="KV namespace")
    catalog_binding: BindingName | None = Field(
        default=None, description="D1 database holding the document catalogue (migration 0005)"
    )
    keyword_binding: BindingName | None = Field(
        default=None,
        description="D1 database holding the FTS5 keyword index; its own database keeps the main one exportable",
    )
    queue_binding: BindingName | None = Field(
        default=None, description="Queue for large documents and ingest-on-upload (consumed by this Worker)"
    )
    embedding_model: str = "@cf/baai/bge-small-en-v1.5"
    generation_alias: str | None = Field(default=None, description="Gateway alias used to answer")
    generation: Literal["llm", "extractive"] = Field(
        default="llm", description="`extractive` answers with the best source sentences, without an LLM"
    )
    mode: Literal["hybrid", "vector", "keyword"] = "hybrid"
    fusion: RagFusionSpec = RagFusionSpec()
    min_score: RagMinScoreSpec = RagMinScoreSpec()
    rerank: RagRerankSpec = RagRerankSpec()
    rewrite_query: RagRewriteSpec = RagRewriteSpec()
    chunk_chars: int = Field(default=1200, ge=100, le=2000, description="At most 2000: 512 tokens per text")
    chunk_overlap: int = Field(default=150, ge=0, le=1000)
    top_k: int = Field(default=5, ge=1, le=20)
    faq_ttl_s: int = Field(default=86400, ge=60)
    filter_keys: tuple[str, ...] = Field(
        default=(), description="Metadata keys queries may filter on; each needs a Vectorize metadata index"
    )
    inline_max_bytes: int = Field(
        default=262_144, ge=1, description="Larger documents are indexed through queue_binding"
    )
    max_document_bytes: int = Field(default=10 * 1_048_576, ge=1, le=100 * 1_048_576)
    ingest_on_upload: bool = Field(
        default=False, description="Index objects written straight to the bucket (R2 event notification)"
    )
    expose_as_model: str | None = Field(
        default=None, min_length=1, description="Also serve RAG as this model in /v1/chat/completions"
    )

    @model_validator(mode="after")
    def _overlap_below_chunk(self) -> RagSpec:
        if self.chunk_overlap >= self.chunk_chars // 2:
            raise ValueError(f"chunk_overlap ({self.chunk_overlap}) must be below half of chunk_chars")
        return self

    @model_validator(mode="after")
    def _rerank_within_the_fused_set(self) -> RagSpec:
        if not self.rerank.enabled:
            return self
        fused = fused_set_size(self.mode)
        if self.rerank.top_n > fused:
            raise ValueError(
                f"rerank.top_n ({self.rerank.top_n}) is over the fused set size: mode {self.mode} "
                f"retrieves at most {fused} candidates ({MODE_CANDIDATES} per mode)"
            )
        if self.rerank.top_n < self.top_k:
            raise ValueError(f"rerank.top_n ({self.rerank.top_n}) must be at least top_k ({self.top_k})")
        return self


def fused_set_size(mode: str) -> int:
    """The most distinct candidates a mode's retrieval yields for reranking."""
    return 2 * MODE_CANDIDATES if mode == "hybrid" else MODE_CANDIDATES


class AgentsSpec(Model):
    enabled: bool = True
    state_binding: BindingName = Field(description="Durable Object namespace holding agent state")
    history_binding: BindingName = Field(description="D1 database for conversation history")
    tools_binding: BindingName | None = Field(default=None, description="KV namespace of tool configs")
    model_alias: str | None = None
    max_turns: int = Field(default=8, ge=1, le=64, description="Model calls per turn")
    system_prompt: str | None = Field(default=None, max_length=16_000)
    max_tool_calls: int = Field(default=16, ge=1, le=256, description="Tool calls per turn")
    turn_deadline_s: int = Field(default=120, ge=1, le=900, description="Wall-clock budget of one turn")
    max_context_messages: int = Field(
        default=40, ge=2, le=500, description="Most recent messages sent to the model"
    )
    max_message_chars: int = Field(default=32_000, ge=1, le=200_000, description="Longest user message")
    max_tool_output_chars: int = Field(
        default=16_000, ge=256, le=500_000, description="Longer tool outputs are truncated before storing"
    )
    tool_timeout_ms: int = Field(default=10_000, ge=100, le=120_000, description="Default per tool call")
    tool_cache_ttl_s: int = Field(
        default=10, ge=0, le=60, description="Per-isolate cache of tool configs read from KV"
    )
    max_schedules: int = Field(default=50, ge=1, le=1000, description="Pending schedules per agent")
    local_tools: dict[str, dict[str, JsonValue]] = Field(
        default_factory=dict,
        description="environment: local only: tool specs `edgestack dev` PUTs for the `public` tenant "
        "when absent (validated by the Worker, like PUT /v1/tools/{name}); never shipped to the Worker",
    )
    tool_secrets: tuple[SecretName, ...] = Field(
        default=(),
        description="Worker secrets an http_get tool may send (secret_headers); each is in worker.secrets",
    )


McpToolName = Literal[
    "search_documents",
    "ask_documents",
    "get_document",
    "list_documents",
    "put_document",
    "delete_document",
    "message_agent",
]
MCP_TOOLS: tuple[McpToolName, ...] = (
    "search_documents",
    "ask_documents",
    "get_document",
    "list_documents",
    "put_document",
    "delete_document",
    "message_agent",
)
MCP_AGENT_TOOLS = frozenset({"message_agent"})  # the others need a rag section


class McpSpec(Model):
    """`/mcp`: the stack's RAG and agents as an MCP server (docs/mcp.md)."""

    enabled: bool = True
    tools: tuple[McpToolName, ...] = Field(default=MCP_TOOLS, description="The tools exposed (default: all)")
    resources: bool = Field(default=True, description="Documents as resources (needs rag)")
    allowed_origins: tuple[str, ...] = Field(
        default=(),
        description="Browser origins (scheme://host[:port]) allowed besides the endpoint's own",
    )

    @model_validator(mode="after")
    def _unique_tools(self) -> McpSpec:
        repeated = sorted({t for t in self.tools if self.tools.count(t) > 1})
        if repeated:
            raise ValueError(f"tools lists {', '.join(repeated)} more than once")
        for origin in self.allowed_origins:
            if not origin.startswith(("https://", "http://")) or origin.rstrip("/").count("/") != 2:
                raise ValueError(f"allowed_origins: {origin!r} is not an origin (scheme://host[:port])")
        return self


# Output dimensions of the Workers AI embedding models the stack can name.
EMBEDDING_DIMENSIONS: dict[str, int] = {
    "@cf/baai/bge-small-en-v1.5": 384,
    "@cf/baai/bge-base-en-v1.5": 768,
    "@cf/baai/bge-large-en-v1.5": 1024,
}
