"""Stack + traffic profile -> itemised monthly cost on Workers Paid.

What each kind of traffic consumes (the model; every figure per request):
- chat request: 1 Worker request, its CPU ms; with the route's cache on, 1 KV read and, on a miss,
  1 KV write; with `usage_binding`, 1 D1 row written (the usage record); on a miss, the provider's
  tokens at the stack's `prices` (route strategy `cheapest`: the cheapest priced candidate,
  `weighted`: the candidates by weight, otherwise the first candidate).
- RAG query: 1 Worker request; with a FAQ cache, 1 KV read and 1 write per miss; per miss, the
  query's embedding (Workers AI neurons), 1 Vectorize query (its dimensions), `top_k` D1 rows read
  from the keyword index, the answer's tokens at the generation alias's price and its usage row.
- RAG upload: 1 Worker request, 1 R2 class A write, the document's embedding (4 bytes per token),
  1 catalog row and 1 keyword row per chunk, 3 queue operations when larger than `inline_max_bytes`.
  Stored: the corpus in R2 and in the keyword index (D1), one vector per chunk.
- budgets (`gateway.budgets`): per model call, each budget takes a reservation and a settlement, 2
  BudgetCounter requests and 4 SQLite rows written (counted as if every budget covered every call:
  an upper bound; the objects' duration, a few ms per call, is not counted).
- agent turn: 1 Worker request, 1 Durable Object request, `seconds_per_step` of object duration
  per step at 128 MB, 2 messages per step (each a SQLite message row and an outbox row) plus the
  alarm, the same messages flushed to D1, and one model call per step.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import asdict, dataclass, field

from infra.spec import Stack
from infra.spec.apps import ModelPrice, RouteSpec

from .prices import DAYS_PER_MONTH, PriceList, price_list
from .traffic import CPU_SOURCE, ChatTraffic, TrafficProfile

DO_GB = 0.128  # duration is billed for 128 MB per object
BYTES_PER_TOKEN = 4


@dataclass(frozen=True)
class MeterLine:
    meter: str
    product: str
    what: str
    usage: float
    paid_included: float
    free_allowance: str
    fits_free: bool
    billable: float
    cost_usd: float
    source: str


@dataclass(frozen=True)
class TokenLine:
    alias: str
    provider: str
    model: str
    input_tokens: float
    output_tokens: float
    cost_usd: float | None  # None: the stack has no price for this model


@dataclass(frozen=True)
class CostEstimate:
    stack: str
    prices_read_on: str
    base_usd: float
    meters: tuple[MeterLine, ...]
    tokens: tuple[TokenLine, ...]
    notes: tuple[str, ...] = field(default=())

    @property
    def platform_usd(self) -> float:
        return self.base_usd + sum(line.cost_usd for line in self.meters)

    @property
    def tokens_usd(self) -> float:
        return sum(line.cost_usd or 0.0 for line in self.tokens)

    @property
    def total_usd(self) -> float:
        return self.platform_usd + self.tokens_usd

    def to_json(self) -> dict[str, object]:
        return {
            "stack": self.stack,
            "prices_read_on": self.prices_read_on,
            "workers_paid_base_usd": self.base_usd,
            "meters": [asdict(line) for line in self.meters],
            "tokens": [asdict(line) for line in self.tokens],
            "platform_usd": round(self.platform_usd, 6),
            "tokens_usd": round(self.tokens_usd, 6),
            "total_usd": round(self.total_usd, 6),
            "notes": list(self.notes),
        }


def default_profile(stack: Stack) -> TrafficProfile:
    """A small application: 100k requests a month per route, a 1,000-document corpus, 1,000 agent turns."""
    chat = {
        alias: ChatTraffic(requests=100_000, input_tokens=500, output_tokens=200) for alias in routes(stack)
    }
    data: dict[str, object] = {"chat": chat}
    if stack.rag is not None:
        data["rag"] = {"queries": 10_000, "uploads": 100, "stored_documents": 1_000}
    if stack.agents is not None:
        data["agents"] = {"turns": 1_000, "steps": 3, "input_tokens": 2_000, "output_tokens": 300}
    return TrafficProfile.model_validate(data)


def routes(stack: Stack) -> dict[str, RouteSpec]:
    return dict(stack.gateway.routes) if stack.gateway else {}


def _price(stack: Stack, provider: str, model: str) -> ModelPrice | None:
    spec = stack.gateway.providers.get(provider) if stack.gateway else None
    return spec.prices.get(model) if spec else None


def _route_mix(stack: Stack, route: RouteSpec) -> list[tuple[str, str, float]]:
    """(provider, model, share of requests) the estimate charges a route's traffic to."""
    candidates = route.candidates
    if route.strategy == "weighted":
        total = sum(c.weight for c in candidates) or 1
        return [(c.provider, c.model, c.weight / total) for c in candidates if c.weight]
    if route.strategy == "cheapest":
        priced = [(c, _price(stack, c.provider, c.model)) for c in candidates]
        known = [(c, p) for c, p in priced if p is not None]
        if known:
            best = min(known, key=lambda item: item[1].input + item[1].output)[0]
            return [(best.provider, best.model, 1.0)]
    return [(candidates[0].provider, candidates[0].model, 1.0)]


class _Tally:
    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.usage: dict[str, float] = defaultdict(float)
        self.tokens: dict[tuple[str, str, str], list[float]] = {}
        self.notes: list[str] = []

    def add(self, meter: str, amount: float) -> None:
        self.usage[meter] += amount

    def llm(self, alias: str, calls: float, input_tokens: float, output_tokens: float) -> None:
        route = routes(self.stack).get(alias)
        if route is None or calls == 0:
            return
        budgets = len(self.stack.gateway.all_budgets()) if self.stack.gateway else 0
        self.add("durable_objects_requests", calls * 2 * budgets)
        self.add("durable_objects_rows_written", calls * 4 * budgets)
        for provider, model, share in _route_mix(self.stack, route):
            entry = self.tokens.setdefault((alias, provider, model), [0.0, 0.0])
            entry[0] += calls * share * input_tokens
            entry[1] += calls * share * output_tokens


def _chat(tally: _Tally, profile: TrafficProfile) -> None:
    stack = tally.stack
    gateway = stack.gateway
    cpu, _ = profile.cpu("chat")
    for alias, traffic in profile.chat.items():
        route = routes(stack)[alias]
        cached = bool(gateway and gateway.cache_binding and route.cache.enabled)
        hit_rate = traffic.cache_hit_rate if cached else 0.0
        if traffic.cache_hit_rate and not cached:
            tally.notes.append(f"chat.{alias}: the route has no cache, so cache_hit_rate is taken as 0")
        misses = traffic.requests * (1 - hit_rate)
        tally.add("workers_requests", traffic.requests)
        tally.add("workers_cpu_ms", traffic.requests * cpu)
        if cached:
            tally.add("kv_reads", traffic.requests)
            tally.add("kv_writes", misses)
        if gateway and gateway.usage_binding:
            tally.add("d1_rows_written", traffic.requests)
        tally.llm(alias, misses, traffic.input_tokens, traffic.output_tokens)


def _rag(tally: _Tally, profile: TrafficProfile, prices: PriceList) -> None:
    rag, traffic, stack = tally.stack.rag, profile.rag, tally.stack
    if rag is None or traffic is None:
        return
    index = stack.bindings.vectorize.get(rag.index_binding)
    dimensions = index.dimensions if index else 0
    neurons_per_token = prices.embedding_neurons_per_million_tokens.get(rag.embedding_model, 0.0) / 1e6
    if not neurons_per_token:
        tally.notes.append(
            f"rag.embedding_model {rag.embedding_model!r} has no neuron price; embeddings counted as 0"
        )
    misses = traffic.queries * (1 - traffic.faq_hit_rate) if rag.faq_cache_binding else traffic.queries
    tally.add("workers_requests", traffic.queries + traffic.uploads)
    tally.add("workers_cpu_ms", traffic.queries * profile.cpu("rag_query")[0])
    if rag.faq_cache_binding:
        tally.add("kv_reads", traffic.queries)
        tally.add("kv_writes", misses)
    if rag.mode != "keyword":
        tally.add("workers_ai_neurons", misses * traffic.query_tokens * neurons_per_token)
        tally.add("vectorize_queried_dimensions", misses * dimensions)
    if rag.keyword_binding and rag.mode != "vector":
        tally.add("d1_rows_read", misses * rag.top_k)
    if rag.generation == "llm" and rag.generation_alias:
        tally.llm(rag.generation_alias, misses, traffic.answer_input_tokens, traffic.answer_output_tokens)
        if stack.gateway and stack.gateway.usage_binding:
            tally.add("d1_rows_written", misses)
    chunks = (
        math.ceil(traffic.document_bytes / (rag.chunk_chars - rag.chunk_overlap))
        if traffic.document_bytes
        else 0
    )
    tally.add("workers_cpu_ms", traffic.uploads * chunks * profile.cpu("rag_upload_per_chunk")[0])
    tally.add("r2_class_a", traffic.uploads)
    tally.add(
        "workers_ai_neurons", traffic.uploads * traffic.document_bytes / BYTES_PER_TOKEN * neurons_per_token
    )
    if rag.catalog_binding:
        tally.add("d1_rows_written", traffic.uploads)
    if rag.keyword_binding:
        tally.add("d1_rows_written", traffic.uploads * chunks)
        tally.add("d1_storage_gb", traffic.stored_documents * traffic.document_bytes / 1e9)
    if rag.queue_binding and traffic.document_bytes > rag.inline_max_bytes:
        tally.add("queues_operations", traffic.uploads * 3)
    tally.add("r2_storage_gb", traffic.stored_documents * traffic.document_bytes / 1e9)
    tally.add("vectorize_stored_dimensions", traffic.stored_documents * chunks * dimensions)


def _agents(tally: _Tally, profile: TrafficProfile) -> None:
    agents, traffic = tally.stack.agents, profile.agents
    if agents is None or traffic is None:
        return
    turn_cpu = profile.cpu("agent_turn")[0] + (traffic.steps - 1) * profile.cpu("agent_extra_step")[0]
    messages = 2 * traffic.steps
    tally.add("workers_requests", traffic.turns)
    tally.add("workers_cpu_ms", traffic.turns * turn_cpu)
    tally.add("durable_objects_requests", traffic.turns)
    tally.add(
        "durable_objects_duration_gb_s", traffic.turns * traffic.steps * traffic.seconds_per_step * DO_GB
    )
    tally.add("durable_objects_rows_written", traffic.turns * (2 * messages + 1))
    tally.add("d1_rows_written", traffic.turns * messages)
    if agents.model_alias:
        tally.llm(
            agents.model_alias, traffic.turns * traffic.steps, traffic.input_tokens, traffic.output_tokens
        )
        if tally.stack.gateway and tally.stack.gateway.usage_binding:
            tally.add("d1_rows_written", traffic.turns * traffic.steps)


def estimate(
    stack: Stack, profile: TrafficProfile, *, name: str = "", prices: PriceList | None = None
) -> CostEstimate:
    prices = prices or price_list()
    tally = _Tally(stack)
    _chat(tally, profile)
    _rag(tally, profile, prices)
    _agents(tally, profile)
    meters = []
    for meter_id, meter in prices.meters.items():
        usage = tally.usage.get(meter_id, 0.0)
        if not usage and meter_id not in ("workers_requests", "workers_cpu_ms"):
            continue
        free = meter.free
        meters.append(
            MeterLine(
                meter=meter_id,
                product=meter.product,
                what=meter.what,
                usage=usage,
                paid_included=meter.paid_included,
                free_allowance=str(free) if free else "none",
                fits_free=free is not None and usage <= free.monthly,
                billable=meter.billable(usage),
                cost_usd=meter.cost(usage),
                source=str(meter.source),
            )
        )
    tokens = []
    for (alias, provider, model), (input_tokens, output_tokens) in sorted(tally.tokens.items()):
        price = _price(stack, provider, model)
        cost = None if price is None else (input_tokens * price.input + output_tokens * price.output) / 1e6
        if price is None:
            tally.notes.append(
                f"{provider}/{model} (route {alias}) has no price in the stack: its tokens are not counted"
            )
        tokens.append(TokenLine(alias, provider, model, input_tokens, output_tokens, cost))
    defaults = [
        n
        for n in ("chat", "rag_query", "rag_upload_per_chunk", "agent_turn", "agent_extra_step")
        if profile.cpu(n)[1]
    ]
    if defaults:
        tally.notes.append(f"CPU ms per request for {', '.join(defaults)}: defaults from {CPU_SOURCE}")
    tally.notes.append(
        f"a month is {DAYS_PER_MONTH} days; prices read {prices.read_on} (infra/cost/prices.yaml)"
    )
    return CostEstimate(
        stack=name,
        prices_read_on=prices.read_on,
        base_usd=prices.workers_paid_base_usd,
        meters=tuple(meters),
        tokens=tuple(tokens),
        notes=tuple(tally.notes),
    )


def _amount(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 or value == int(value) else f"{value:,.3f}"


def render_table(result: CostEstimate) -> list[tuple[list[str], list[list[str]]]]:
    """(headers, rows) of the platform table and of the tokens table."""
    platform = [["Workers Paid", "subscription", "", "", "", "", f"${result.base_usd:,.2f}"]]
    for line in result.meters:
        platform.append(
            [
                line.product,
                line.what,
                _amount(line.usage),
                _amount(line.paid_included),
                line.free_allowance + (" (fits)" if line.fits_free else ""),
                _amount(line.billable),
                f"${line.cost_usd:,.2f}",
            ]
        )
    tokens = [
        [
            line.alias,
            f"{line.provider}/{line.model}",
            _amount(line.input_tokens),
            _amount(line.output_tokens),
            "no price" if line.cost_usd is None else f"${line.cost_usd:,.2f}",
        ]
        for line in result.tokens
    ]
    return [
        (
            ["product", "meter", "usage", "paid plan includes", "free allowance", "billable", "cost / month"],
            platform,
        ),
        (["route", "provider/model", "input tokens", "output tokens", "cost / month"], tokens),
    ]


@dataclass(frozen=True)
class CostDelta:
    """What moving from `before` to `after` changes in the monthly estimate, per line."""

    before: CostEstimate
    after: CostEstimate

    def rows(self) -> list[tuple[str, float, float]]:
        """(line, before USD, after USD) for each line that differs, the total last."""

        def lines(result: CostEstimate) -> dict[str, float]:
            out = {f"{m.product} {m.what}": m.cost_usd for m in result.meters}
            out.update({f"tokens {t.alias} {t.provider}/{t.model}": t.cost_usd or 0.0 for t in result.tokens})
            return out

        left, right = lines(self.before), lines(self.after)
        changed = [
            (name, left.get(name, 0.0), right.get(name, 0.0))
            for name in dict.fromkeys([*left, *right])
            if round(left.get(name, 0.0), 6) != round(right.get(name, 0.0), 6)
        ]
        return [*changed, ("total", self.before.total_usd, self.after.total_usd)]

    @property
    def delta_usd(self) -> float:
        return self.after.total_usd - self.before.total_usd

    def to_json(self) -> dict[str, object]:
        return {
            "before_usd": round(self.before.total_usd, 6),
            "after_usd": round(self.after.total_usd, 6),
            "delta_usd": round(self.delta_usd, 6),
            "lines": [
                {
                    "line": name,
                    "before_usd": round(a, 6),
                    "after_usd": round(b, 6),
                    "delta_usd": round(b - a, 6),
                }
                for name, a, b in self.rows()
            ],
        }

    def table(self) -> tuple[list[str], list[list[str]]]:
        rows = [[name, f"${a:,.2f}", f"${b:,.2f}", f"{b - a:+,.2f}"] for name, a, b in self.rows()]
        return ["line", self.before.stack, self.after.stack, "delta / month"], rows
