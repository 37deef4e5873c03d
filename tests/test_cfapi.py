"""`infra.deploy.cloudflare_api`: token resolution, base URL override, retries with bounded backoff, one-line errors.

Runs the official `cloudflare` SDK against the loopback fake in `tests/fakes/cloudflare_api.py`,
which follows the response envelope of
https://developers.cloudflare.com/fundamentals/api/how-to/make-api-calls/ and the Vectorize and D1
API reference pages named there. Sleeps are injected: no test waits for real.
"""

from __future__ import annotations

import pytest
from fakes.cloudflare_api import ACCOUNT_ID, TOKEN, FakeCloudflare

from infra.d1.migrations import D1QueryError
from infra.deploy.cloudflare_api import (
    BASE_URL_ENV,
    CloudflareApiError,
    CloudflareAuthError,
    CloudflareUnavailableError,
    D1RestClient,
    MissingTokenError,
    RetryPolicy,
    base_url_from_env,
    connect,
    resolve_token,
)


class FakeClock:
    """`sleep` advances `now`; nothing really waits."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def __call__(self) -> float:
        return self.now


def _api(fake: FakeCloudflare, clock: FakeClock, policy: RetryPolicy | None = None, token: str = TOKEN):
    return connect(token, base_url=fake.base_url, retry=policy, sleep=clock.sleep, clock=clock)


def _list_indexes(api):
    return api.call("listing indexes", lambda sdk: list(sdk.vectorize.indexes.list(account_id=ACCOUNT_ID)))


def test_config_token_wins_over_environment() -> None:
    assert resolve_token("from-config", {"CLOUDFLARE_API_TOKEN": "from-env"}) == "from-config"
    assert resolve_token(None, {"CLOUDFLARE_API_TOKEN": " from-env "}) == "from-env"
    assert resolve_token("", {"CLOUDFLARE_API_TOKEN": "from-env"}) == "from-env"


def test_missing_token_is_one_clear_line() -> None:
    with pytest.raises(MissingTokenError) as err:
        resolve_token(None, {})
    message = str(err.value)
    assert "\n" not in message
    assert "pulumi config set --secret cloudflare:apiToken" in message and "CLOUDFLARE_API_TOKEN" in message


def test_base_url_override_is_validated() -> None:
    assert base_url_from_env({}) is None
    assert (
        base_url_from_env({BASE_URL_ENV: "http://127.0.0.1:9/client/v4/"}) == "http://127.0.0.1:9/client/v4"
    )
    with pytest.raises(ValueError, match=BASE_URL_ENV):
        base_url_from_env({BASE_URL_ENV: "127.0.0.1:9"})


def test_base_url_from_environment_reaches_the_fake(fake: FakeCloudflare, monkeypatch) -> None:
    monkeypatch.setenv(BASE_URL_ENV, fake.base_url)
    api = connect(TOKEN)
    assert _list_indexes(api) == []
    assert fake.calls("GET", r"/vectorize/v2/indexes$")[0].authorization == f"Bearer {TOKEN}"


def test_environment_api_key_is_not_sent_instead_of_the_token(fake: FakeCloudflare, monkeypatch) -> None:
    monkeypatch.setenv("CLOUDFLARE_API_KEY", "global-key")
    monkeypatch.setenv("CLOUDFLARE_EMAIL", "someone@example.com")
    clock = FakeClock()
    assert _list_indexes(_api(fake, clock)) == []


def test_5xx_is_retried_with_exponential_backoff(fake: FakeCloudflare) -> None:
    fake.fail("GET", r"/vectorize/v2/indexes$", 502, times=2)
    clock = FakeClock()
    api = _api(fake, clock, RetryPolicy(max_attempts=5, base_delay_s=0.5, max_delay_s=8, max_total_s=60))
    assert _list_indexes(api) == []
    assert clock.sleeps == [0.5, 1.0]
    assert len(fake.calls("GET", r"/vectorize/v2/indexes$")) == 3


def test_429_honours_retry_after(fake: FakeCloudflare) -> None:
    fake.fail("GET", r"/vectorize/v2/indexes$", 429, [(10429, "rate limited")], {"retry-after": "7"})
    clock = FakeClock()
    assert _list_indexes(_api(fake, clock)) == []
    assert clock.sleeps == [7.0]


def test_backoff_is_capped_per_retry(fake: FakeCloudflare) -> None:
    fake.fail("GET", r"/vectorize/v2/indexes$", 503, times=4)
    clock = FakeClock()
    policy = RetryPolicy(max_attempts=6, base_delay_s=1, max_delay_s=3, max_total_s=100)
    assert _list_indexes(_api(fake, clock, policy)) == []
    assert clock.sleeps == [1, 2, 3, 3]


def test_retries_stop_at_the_attempt_limit(fake: FakeCloudflare) -> None:
    fake.fail("GET", r"/vectorize/v2/indexes$", 500, [(10002, "internal")], times=10)
    clock = FakeClock()
    policy = RetryPolicy(max_attempts=3, base_delay_s=0.5, max_delay_s=8, max_total_s=100)
    with pytest.raises(CloudflareUnavailableError) as err:
        _list_indexes(_api(fake, clock, policy))
    assert len(fake.calls("GET", r"/vectorize/v2/indexes$")) == 3
    message = str(err.value)
    assert "HTTP 500" in message and "[10002] internal" in message and "gave up after 3 attempt(s)" in message
    assert "\n" not in message


def test_retries_stop_within_the_total_time_budget(fake: FakeCloudflare) -> None:
    fake.fail("GET", r"/vectorize/v2/indexes$", 429, headers={"retry-after": "30"}, times=10)
    clock = FakeClock()
    policy = RetryPolicy(max_attempts=10, max_total_s=45)
    with pytest.raises(CloudflareUnavailableError, match="HTTP 429"):
        _list_indexes(_api(fake, clock, policy))
    # one 30 s wait fits the 45 s budget, a second would not: it gives up instead of sleeping past it
    assert clock.sleeps == [30.0]
    assert clock.now - 1000.0 <= policy.max_total_s


def test_connection_errors_are_retried_then_reported(fake: FakeCloudflare) -> None:
    clock = FakeClock()
    dead = connect(
        TOKEN,
        base_url="http://127.0.0.1:9/client/v4",
        retry=RetryPolicy(max_attempts=2),
        sleep=clock.sleep,
        clock=clock,
    )
    with pytest.raises(CloudflareUnavailableError, match="no response"):
        _list_indexes(dead)
    assert clock.sleeps == [0.5]


def test_4xx_is_not_retried(fake: FakeCloudflare) -> None:
    fake.fail("GET", r"/vectorize/v2/indexes$", 400, [(1002, "bad request")])
    clock = FakeClock()
    with pytest.raises(CloudflareApiError) as err:
        _list_indexes(_api(fake, clock))
    assert type(err.value) is CloudflareApiError
    assert err.value.status == 400 and err.value.has_code(1002)
    assert clock.sleeps == []


def test_401_names_the_token_settings_and_is_not_retried(fake: FakeCloudflare) -> None:
    clock = FakeClock()
    with pytest.raises(CloudflareAuthError) as err:
        _list_indexes(_api(fake, clock, token="wrong-token"))
    message = str(err.value)
    assert "HTTP 401" in message and "cloudflare:apiToken" in message and "CLOUDFLARE_API_TOKEN" in message
    assert "[10000] Authentication error" in message
    assert "\n" not in message and "wrong-token" not in message
    assert clock.sleeps == []


def test_403_names_the_missing_permission(fake: FakeCloudflare) -> None:
    fake.permissions.discard("d1")
    fake.add_database("db-1")
    client = D1RestClient(_api(fake, FakeClock()), ACCOUNT_ID, "db-1")
    with pytest.raises(CloudflareAuthError) as err:
        client.query("SELECT 1")
    message = str(err.value)
    assert "HTTP 403" in message and "D1 Write" in message and "\n" not in message


def test_d1_client_returns_rows_per_statement(fake: FakeCloudflare) -> None:
    fake.add_database("db-1")
    client = D1RestClient(_api(fake, FakeClock()), ACCOUNT_ID, "db-1")
    results = client.query("CREATE TABLE t (a TEXT); INSERT INTO t VALUES ('x'); SELECT a FROM t;")
    assert [r.rows for r in results] == [[], [], [{"a": "x"}]]
    assert results[1].meta["changes"] == 1
    assert client.query("SELECT a FROM t WHERE a = ?1", ["x"])[0].rows == [{"a": "x"}]
    assert fake.calls("POST", r"/d1/database/db-1/query$")[-1].body == {
        "sql": "SELECT a FROM t WHERE a = ?1",
        "params": ["x"],
    }


def test_d1_sql_errors_carry_d1s_message(fake: FakeCloudflare) -> None:
    fake.add_database("db-1")
    client = D1RestClient(_api(fake, FakeClock()), ACCOUNT_ID, "db-1")
    with pytest.raises(D1QueryError) as err:
        client.query("SELECT * FROM missing")
    assert err.value.status == 400
    assert err.value.message == "no such table: missing: SQLITE_ERROR"


def test_d1_unknown_database_is_a_404(fake: FakeCloudflare) -> None:
    client = D1RestClient(_api(fake, FakeClock()), ACCOUNT_ID, "nope")
    with pytest.raises(D1QueryError) as err:
        client.query("SELECT 1")
    assert err.value.status == 404


def test_the_client_refuses_to_be_pickled(fake: FakeCloudflare) -> None:
    import pickle

    with pytest.raises(TypeError, match="must not be serialized"):
        pickle.dumps(_api(fake, FakeClock()))


def test_backoff_is_jittered_by_default_but_retry_after_is_exact(fake: FakeCloudflare) -> None:
    """`connect` without a policy spreads retries (up to 0.5 s of jitter); a server's retry-after is kept."""
    fake.fail("GET", r"/vectorize/v2/indexes$", 503, times=2)
    fake.fail("GET", r"/vectorize/v2/indexes$", 429, headers={"retry-after": "2"})
    clock = FakeClock()
    api = connect(TOKEN, base_url=fake.base_url, sleep=clock.sleep, clock=clock)
    api.random = lambda: 0.5
    assert api.retry.jitter_s == 0.5
    assert _list_indexes(api) == []
    assert clock.sleeps == [0.5 + 0.25, 1.0 + 0.25, 2.0]


def test_a_failed_statement_is_explained_by_the_envelope_errors() -> None:
    """The documented per-statement result has only meta, results and success; the reason is in errors[]."""
    from infra.deploy.cloudflare_api import parse_d1_envelope

    envelope = {
        "success": True,
        "errors": [{"code": 7500, "message": "no such table: missing"}],
        "messages": [],
        "result": [{"meta": {}, "results": [], "success": False, "error": "not a documented field"}],
    }
    with pytest.raises(D1QueryError, match=r"^no such table: missing$"):
        parse_d1_envelope(envelope)
    with pytest.raises(D1QueryError, match=r"^a statement failed \(no error given\)$"):
        parse_d1_envelope({**envelope, "errors": []})
