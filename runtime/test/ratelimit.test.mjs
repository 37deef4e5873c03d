// Local rate-limit binding: `limit({ key })` -> `{ success }` with a fixed window of `period`
// seconds allowing `limit` calls per key, as configured on Cloudflare with
// `simple: { limit, period }` (developers.cloudflare.com/workers/runtime-apis/bindings/rate-limit/).
// Time comes from an injected clock; nothing here waits on the wall clock.

import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { createRateLimitBinding } from "../bindings/ratelimit.mjs";

function clock(startMs) {
  let now = startMs;
  return { now: () => now, set: (ms) => (now = ms), advance: (ms) => (now += ms) };
}

async function successes(limiter, key, calls) {
  const out = [];
  for (let i = 0; i < calls; i++) out.push((await limiter.limit({ key })).success);
  return out;
}

describe("fixed window per key", () => {
  test("allows `limit` calls per window, then refuses until the next window", async () => {
    const time = clock(1_000_000); // a window boundary for both 10 s and 60 s
    const limiter = createRateLimitBinding({ limit: 3, period: 10 }, { now: time.now });
    assert.deepEqual(await successes(limiter, "client-a", 4), [true, true, true, false]);
    time.advance(9_999);
    assert.deepEqual(await successes(limiter, "client-a", 1), [false], "still inside the first window");
    time.advance(1);
    assert.deepEqual(await successes(limiter, "client-a", 4), [true, true, true, false], "a new window starts");
  });

  test("windows are aligned to the period, not to the first call", async () => {
    const time = clock(1_000_000 + 9_000);
    const limiter = createRateLimitBinding({ limit: 1, period: 10 }, { now: time.now });
    assert.deepEqual(await successes(limiter, "k", 2), [true, false]);
    time.advance(1_000); // crosses the 10 s boundary after only one second
    assert.deepEqual(await successes(limiter, "k", 1), [true]);
  });

  test("keys are counted separately", async () => {
    const time = clock(0);
    const limiter = createRateLimitBinding({ limit: 2, period: 60 }, { now: time.now });
    assert.deepEqual(await successes(limiter, "a", 3), [true, true, false]);
    assert.deepEqual(await successes(limiter, "b", 2), [true, true]);
    time.advance(59_999);
    assert.deepEqual(await successes(limiter, "b", 1), [false]);
    time.advance(1);
    assert.deepEqual(await successes(limiter, "a", 1), [true]);
  });

  test("the result object has `success` only", async () => {
    const limiter = createRateLimitBinding({ limit: 1, period: 60 }, { now: () => 0 });
    assert.deepEqual(await limiter.limit({ key: "x" }), { success: true });
    assert.deepEqual(await limiter.limit({ key: "x" }), { success: false });
  });
});

describe("errors", () => {
  test("bad options are rejected", async () => {
    const limiter = createRateLimitBinding({ limit: 1, period: 10 }, { now: () => 0 });
    await assert.rejects(limiter.limit(), { message: "invalid rate limit options" });
    await assert.rejects(limiter.limit({ key: "x", keys: 1 }), { message: "bad rate limit options: [keys]" });
    await assert.rejects(limiter.limit({ key: 42 }), { message: "invalid key: 42" });
    await assert.rejects(limiter.limit({ key: "x", period: 30 }), { message: "unsupported period: 30" });
  });

  test("bad config names the field", () => {
    assert.throws(() => createRateLimitBinding({ limit: 5, period: 30 }), /period must be 10 or 60 seconds, got 30/);
    assert.throws(() => createRateLimitBinding({ limit: 0, period: 10 }), /limit must be a positive integer, got 0/);
    assert.throws(() => createRateLimitBinding(null), /config must be/);
  });
});
