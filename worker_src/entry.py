"""Cloudflare entrypoints. These classes only adapt; the logic lives in `app/`."""

import js_bindings as edge
from app.config import (
    CONFIG_BINDING,
    STACK_BINDING,
    VERSION_BINDING,
    BuildInfo,
    ParsedOnce,
    load_runtime_config,
)
from app.http import HttpRequest, HttpResponse
from app.router import handle, handle_scheduled
from app.services import Services
from workers import DurableObject, Response, WorkerEntrypoint

# EDGESTACK_CONFIG is the same text for every request of an isolate: parse it once.
_config_once = ParsedOnce(load_runtime_config)


def _text(env, name: str, default: str = "") -> str:
    value = getattr(env, name, None)
    return value if isinstance(value, str) else default


# What Services takes from `env`, built once per env object: an isolate hands every request the same
# `env`, and rebuilding the binding adapters per request cost ~10% of a chat request's CPU
# (bench/worker_cpu.py).
_from_env: dict[int, dict] = {}
_FETCHER = edge.WorkersFetcher()


def _services(env, ctx) -> Services:
    key = edge.env_key(env)
    parts = _from_env.get(key)
    if parts is None:
        if len(_from_env) > 4:  # never grows with traffic, even where env objects are per request
            _from_env.clear()
        parts = _from_env[key] = _env_parts(env)
    return Services(
        **parts, fetch=_FETCHER, wait_until=edge.wait_until(ctx), clock=edge.clock, sleep=edge.sleep
    )


def _env_parts(env) -> dict:
    """Services' env-derived parts: the bindings `EDGESTACK_CONFIG` declares, each by its name and kind."""
    config = _config_once(_text(env, CONFIG_BINDING))
    ai = config.names("ai")
    return dict(
        build=BuildInfo(stack=_text(env, STACK_BINDING), bundle_version=_text(env, VERSION_BINDING, "dev")),
        config=config,
        kv=edge.bindings_of(env, "kv", config.names("kv")),
        d1=edge.bindings_of(env, "d1", config.names("d1")),
        r2=edge.bindings_of(env, "r2", config.names("r2")),
        vectorize=edge.bindings_of(env, "vectorize", config.names("vectorize")),
        rate_limits=edge.bindings_of(env, "rate_limit", config.names("rate_limit")),
        ai=edge.ai_binding(env, ai[0] if ai else None),
        secrets=edge.text_bindings(env, config.names("secret") + config.names("plain_text")),
        durable_objects=edge.bindings_of(env, "durable_object", config.names("durable_object")),
        local_backends=edge.local_backends(env),
        queues=edge.bindings_of(env, "queue", config.names("queue")),
    )


async def _http_request(request) -> HttpRequest:
    method, url, headers, body = await edge.http_request_parts(request)
    return HttpRequest(
        method=method, url=url, headers=headers, body=body, client_ip=headers.get("cf-connecting-ip", "")
    )


def _response(response: HttpResponse):  # a JS Response
    return edge.js_response(response.status, response.headers, response.body, response.stream)


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        return _response(await handle(await _http_request(request), _services(self.env, self.ctx)))

    async def scheduled(self, controller, env=None, ctx=None):
        """Cron Triggers (`scheduled(controller, env, ctx)`); `self.env` / `self.ctx` are the same objects."""
        await handle_scheduled(
            str(controller.cron), float(controller.scheduledTime), _services(self.env, self.ctx)
        )

    async def queue(self, batch, env=None, ctx=None):
        """Queue consumer (`queue(batch, env, ctx)`): RAG ingestion batches and R2 event notifications."""
        from app.rag.consumer import consume  # on first use: keeps start-up imports small

        await consume(edge.queue_messages(batch), _services(self.env, self.ctx))


class AgentState(DurableObject):
    """One agent (or a /demo counter): `app.agents.objects.AgentObject` over this object's storage."""

    _agent = None

    def _agent_object(self):
        if self._agent is None:
            from app.agents.objects import AgentObject  # on first use: keeps start-up imports small

            storage = edge.ObjectStorage(self.ctx.storage)
            self._agent = AgentObject(storage, edge.WorkersFetcher(redirect="manual"), edge.clock)
        return self._agent

    async def fetch(self, request):
        http_request = await _http_request(request)
        if http_request.path.startswith("/agents/"):
            agent = self._agent_object()
            return _response(await agent.handle(http_request, _services(self.env, self.ctx)))
        if http_request.path.startswith("/demo/"):
            from app.demo import handle_object_request  # on first use: keeps start-up imports small

            return _response(await handle_object_request(http_request, edge.ObjectStorage(self.ctx.storage)))
        return Response.from_json({"ok": True})

    async def alarm(self, alarm_info=None):
        """workerd calls `alarm` (the JS handler name) on Python Durable Object classes too."""
        await self._agent_object().alarm(_services(self.env, self.ctx))


class BudgetCounter(DurableObject):
    """One budget's counter for one key, tenant or the stack: `app.gateway.budget_counter`."""

    _counter = None

    async def fetch(self, request):
        if self._counter is None:
            from app.gateway.budget_counter import BudgetCounterObject  # on first use

            self._counter = BudgetCounterObject(edge.ObjectStorage(self.ctx.storage))
        return _response(await self._counter.handle(await _http_request(request)))
