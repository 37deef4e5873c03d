"""A loopback fake of the Cloudflare REST API parts edgestack's dynamic providers use.

It follows the documented shapes; the official `cloudflare` SDK is pointed at it via `base_url`.

- Envelope `{"success", "errors": [{"code", "message"}], "messages", "result"}`:
  https://developers.cloudflare.com/fundamentals/api/how-to/make-api-calls/
- Vectorize v2 indexes (create 200 / get / list / delete) and metadata indexes
  (`/metadata_index/create|list|delete`, camelCase `propertyName`/`indexType`, `mutationId` a UUID):
  https://developers.cloudflare.com/api/resources/vectorize/subresources/indexes/methods/create/
  https://developers.cloudflare.com/api/resources/vectorize/subresources/indexes/subresources/metadata_index/methods/create/
  Limits (dimensions <= 1536, 10 metadata indexes, name <= 64 bytes):
  https://developers.cloudflare.com/vectorize/platform/limits/
  Error codes as Cloudflare returns them (seen in public API responses, not in the reference):
  3000 `vectorize.index.not_found` (HTTP 404 here; some responses use 400), 3002
  `vectorize.index.duplicate_name` (HTTP 409).
- D1 query `POST /accounts/{account_id}/d1/database/{database_id}/query` with `{"sql", "params"}`;
  `result` is one `{"results", "success", "meta"}` per statement:
  https://developers.cloudflare.com/api/resources/d1/subresources/database/methods/query/
  Several statements run as one transaction, rolled back when one fails (D1 batch semantics,
  https://developers.cloudflare.com/d1/worker-api/d1-database/#batch ); a SQL error is HTTP 400 with
  code 7500 and SQLite's message (`...: SQLITE_ERROR`), as D1 answers. Each database is a real
  in-memory sqlite3 database, so SQL semantics are real. An unknown database id answers 404 (code
  7404: an assumption of this fake).
- Authentication: a wrong token is HTTP 401, a token without the needed permission HTTP 403, both
  with code 10000 "Authentication error" (as Cloudflare answers).

Faults (any status, `errors` array, headers such as `retry-after`) are injected per request pattern.
"""

from __future__ import annotations

import json
import re
import sqlite3
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from fakes.loopback import serve_on_loopback, stop_serving

ACCOUNT_ID = "0123456789abcdef0123456789abcdef"
TOKEN = "fake-token-5f1c0e3a9b7d"
D1_DATABASE_ID = "6f1a2b3c-0000-4000-8000-000000000001"  # the database the tests' `fake` fixture holds

_INDEX_NAME_RE = re.compile(r"^[a-z][a-z0-9_-]*[a-z0-9]$")
_FIXED_TIME = "2026-01-01T00:00:00.000000Z"  # no wall clock in fakes


@dataclass
class FakeIndex:
    name: str
    dimensions: int
    metric: str
    description: str
    metadata: dict[str, str] = field(default_factory=dict)

    def body(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "config": {"dimensions": self.dimensions, "metric": self.metric},
            "created_on": _FIXED_TIME,
            "modified_on": _FIXED_TIME,
        }


@dataclass
class Fault:
    method: str
    path: re.Pattern[str]
    status: int
    errors: list[dict[str, Any]]
    headers: dict[str, str]
    times: int
    after_running: bool = False  # run the request, then answer with the error (a lost response)
    body_contains: str = ""  # only requests whose JSON body contains this text


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    body: Any
    authorization: str | None


class FakeCloudflare:
    def __init__(self, token: str = TOKEN, account_id: str = ACCOUNT_ID) -> None:
        self.token = token
        self.account_id = account_id
        self.permissions = {"vectorize", "d1"}
        self.indexes: dict[str, FakeIndex] = {}
        self.databases: dict[str, sqlite3.Connection] = {}
        self.requests: list[Recorded] = []
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    # -- lifecycle ---------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        assert self._server is not None, "start() the fake first"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/client/v4"

    def start(self) -> FakeCloudflare:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # one write per response, no Nagle: avoids a 40 ms delayed-ACK stall per request
            wbufsize = 1 << 16
            disable_nagle_algorithm = True

            def do_GET(self) -> None:
                fake._handle(self)

            def do_POST(self) -> None:
                fake._handle(self)

            def do_DELETE(self) -> None:
                fake._handle(self)

            def log_message(self, format: str, *args: Any) -> None:
                return None

        # a short poll interval keeps shutdown() (once per test) from waiting the default 0.5 s
        self._server = serve_on_loopback(Handler, "fake-cloudflare", poll_interval_s=0.01)
        return self

    def stop(self) -> None:
        if self._server is not None:
            stop_serving(self._server)
        for conn in self.databases.values():
            conn.close()

    # -- test controls -----------------------------------------------------------------------------

    def add_database(self, database_id: str) -> sqlite3.Connection:
        conn = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
        self.databases[database_id] = conn
        return conn

    def fail(
        self,
        method: str,
        path_pattern: str,
        status: int,
        errors: list[tuple[int, str]] | None = None,
        headers: dict[str, str] | None = None,
        times: int = 1,
        *,
        after_running: bool = False,
        body_contains: str = "",
    ) -> None:
        """The next `times` requests matching method, path regex (and `body_contains`) get this error
        response; with `after_running` the request is carried out first, as when a response is lost."""
        self._faults.append(
            Fault(
                method.upper(),
                re.compile(path_pattern),
                status,
                [{"code": c, "message": m} for c, m in (errors or [(10001, "injected fault")])],
                headers or {},
                times,
                after_running,
                body_contains,
            )
        )

    def calls(self, method: str, path_pattern: str) -> list[Recorded]:
        pattern = re.compile(path_pattern)
        return [r for r in self.requests if r.method == method.upper() and pattern.search(r.path)]

    # -- request handling ----------------------------------------------------------------------------

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        length = int(h.headers.get("content-length") or 0)
        raw = h.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        path = h.path.split("?", 1)[0]
        method = h.command
        with self._lock:
            self.requests.append(Recorded(method, path, body, h.headers.get("authorization")))
            status, payload, headers = self._route(method, path, body, h.headers.get("authorization"))
        data = json.dumps(payload).encode()
        h.send_response(status)
        h.send_header("content-type", "application/json")
        h.send_header("content-length", str(len(data)))
        for key, value in headers.items():
            h.send_header(key, value)
        h.end_headers()
        h.wfile.write(data)

    def _route(self, method: str, path: str, body: Any, auth: str | None) -> tuple[int, Any, dict[str, str]]:
        for fault in self._faults:
            if (
                fault.times > 0
                and fault.method == method
                and fault.path.search(path)
                and fault.body_contains in json.dumps(body)
            ):
                fault.times -= 1
                if fault.after_running:
                    self._faults.remove(fault)
                    self._route(method, path, body, auth)
                    self._faults.append(fault)
                return fault.status, _envelope(None, fault.errors), fault.headers
        if auth != f"Bearer {self.token}":
            return 401, _envelope(None, [{"code": 10000, "message": "Authentication error"}]), {}
        prefix = f"/client/v4/accounts/{self.account_id}/"
        if not path.startswith(prefix):
            return 404, _envelope(None, [{"code": 7003, "message": "Could not route to " + path}]), {}
        rest = path[len(prefix) :]
        if rest.startswith("vectorize/v2/indexes"):
            if "vectorize" not in self.permissions:
                return 403, _envelope(None, [{"code": 10000, "message": "Authentication error"}]), {}
            return self._vectorize(method, rest[len("vectorize/v2/indexes") :], body)
        match = re.fullmatch(r"d1/database/([^/]+)/query", rest)
        if match and method == "POST":
            if "d1" not in self.permissions:
                return 403, _envelope(None, [{"code": 10000, "message": "Authentication error"}]), {}
            return self._d1_query(match.group(1), body)
        return 404, _envelope(None, [{"code": 7003, "message": "Could not route to " + path}]), {}

    # -- Vectorize ---------------------------------------------------------------------------------

    def _vectorize(self, method: str, rest: str, body: Any) -> tuple[int, Any, dict[str, str]]:
        if rest in ("", "/"):
            if method == "GET":
                return 200, _envelope([i.body() for i in self.indexes.values()]), {}
            if method == "POST":
                return self._create_index(body or {})
        match = re.fullmatch(r"/([^/]+)(/metadata_index/(create|list|delete))?", rest)
        if not match:
            return 404, _envelope(None, [{"code": 7003, "message": "No route"}]), {}
        name, _, action = match.groups()
        index = self.indexes.get(name)
        if index is None:
            return 404, _envelope(None, [_not_found(name)]), {}
        if action is None:
            if method == "GET":
                return 200, _envelope(index.body()), {}
            if method == "DELETE":
                del self.indexes[name]
                return 200, _envelope(None), {}
        elif action == "list" and method == "GET":
            listing = [{"propertyName": p, "indexType": t} for p, t in sorted(index.metadata.items())]
            return 200, _envelope({"metadataIndexes": listing}), {}
        elif action == "create" and method == "POST":
            prop, kind = (body or {}).get("propertyName"), (body or {}).get("indexType")
            if not prop or kind not in ("string", "number", "boolean"):
                return 400, _envelope(None, [{"code": 1002, "message": "invalid metadata index"}]), {}
            if prop not in index.metadata and len(index.metadata) >= 10:
                return 400, _envelope(None, [{"code": 1002, "message": "at most 10 metadata indexes"}]), {}
            index.metadata[prop] = kind
            return 200, _envelope({"mutationId": str(uuid.uuid4())}), {}
        elif action == "delete" and method == "POST":
            prop = (body or {}).get("propertyName")
            if prop not in index.metadata:
                return 400, _envelope(None, [{"code": 1002, "message": f"no metadata index {prop}"}]), {}
            del index.metadata[prop]
            return 200, _envelope({"mutationId": str(uuid.uuid4())}), {}
        return 405, _envelope(None, [{"code": 1002, "message": "method not allowed"}]), {}

    def _create_index(self, body: dict[str, Any]) -> tuple[int, Any, dict[str, str]]:
        name = body.get("name")
        config = body.get("config") or {}
        dims, metric = config.get("dimensions"), config.get("metric")
        if not isinstance(name, str) or not _INDEX_NAME_RE.fullmatch(name) or len(name.encode()) > 64:
            return 400, _envelope(None, [{"code": 1002, "message": f"invalid index name {name!r}"}]), {}
        if (
            not isinstance(dims, int)
            or not 1 <= dims <= 1536
            or metric not in ("cosine", "euclidean", "dot-product")
        ):
            return 400, _envelope(None, [{"code": 1002, "message": "invalid index config"}]), {}
        if name in self.indexes:
            return 409, _envelope(None, [_duplicate(name)]), {}
        self.indexes[name] = FakeIndex(name, dims, metric, str(body.get("description") or ""))
        return 200, _envelope(self.indexes[name].body()), {}

    # -- D1 ----------------------------------------------------------------------------------------

    def _d1_query(self, database_id: str, body: Any) -> tuple[int, Any, dict[str, str]]:
        conn = self.databases.get(database_id)
        if conn is None:
            message = f"The database {database_id} could not be found"
            return 404, _envelope(None, [{"code": 7404, "message": message}]), {}
        sql = (body or {}).get("sql")
        params = (body or {}).get("params") or []
        if not isinstance(sql, str) or not sql.strip():
            return 400, _envelope(None, [{"code": 7400, "message": "sql is required"}]), {}
        statements = _statements(sql)
        if params and len(statements) > 1:
            message = "params are only supported with a single statement (fake's restriction)"
            return 400, _envelope(None, [{"code": 7400, "message": message}]), {}
        results = []
        conn.execute("BEGIN")
        try:
            for statement in statements:
                before = conn.total_changes
                cursor = conn.execute(statement, params)
                columns = [d[0] for d in cursor.description or []]
                rows = [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
                changes = conn.total_changes - before
                meta = {
                    "changed_db": changes > 0,
                    "changes": changes,
                    "last_row_id": cursor.lastrowid or 0,
                    "rows_read": len(rows),
                    "rows_written": changes,
                    "duration": 0.1,
                    "size_after": 0,
                }
                results.append({"results": rows, "success": True, "meta": meta})
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            name = getattr(exc, "sqlite_errorname", "SQLITE_ERROR")
            return 400, _envelope(None, [{"code": 7500, "message": f"{exc}: {name}"}]), {}
        return 200, _envelope(results), {}


def _statements(sql: str) -> list[str]:
    """Split like SQLite's own parser would (sqlite3.complete_statement), dropping blank chunks."""
    out: list[str] = []
    buf = ""
    for ch in sql:
        buf += ch
        if ch == ";" and sqlite3.complete_statement(buf):
            out.append(buf)
            buf = ""
    if buf.strip():
        out.append(buf)
    return [s for s in out if _has_code(s)]


def _has_code(statement: str) -> bool:
    without_comments = re.sub(r"--[^\n]*|/\*.*?\*/", "", statement, flags=re.S)
    return bool(without_comments.strip().strip(";").strip())


def _envelope(result: Any, errors: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"success": not errors, "errors": errors or [], "messages": [], "result": result}


def _not_found(name: str) -> dict[str, Any]:
    return {"code": 3000, "message": f'vectorize.index.not_found - Index name "{name}"'}


def _duplicate(name: str) -> dict[str, Any]:
    return {"code": 3002, "message": f'vectorize.index.duplicate_name - Index name "{name}"'}


@contextmanager
def running_fake(token: str = TOKEN) -> Iterator[FakeCloudflare]:
    fake = FakeCloudflare(token=token).start()
    try:
        yield fake
    finally:
        fake.stop()
