// Local rate-limit binding for `edgestack dev`: `limit({ key })` -> `{ success }`, a fixed
// window per key of `period` seconds (10 or 60) allowing `limit` calls, as the Workers
// rate-limiting binding is configured (`simple: { limit, period }`). In memory: counters reset
// when the dev server restarts, like a fresh Cloudflare location would.

const PERIODS = new Set([10, 60]);
const OPTION_KEYS = new Set(["key", "limit", "period"]);

function validateConfig(config) {
  if (typeof config !== "object" || config === null) {
    throw new TypeError("createRateLimitBinding: config must be { limit, period }");
  }
  const { limit, period } = config;
  if (!Number.isInteger(limit) || limit < 1) {
    throw new TypeError(`createRateLimitBinding: limit must be a positive integer, got ${limit}`);
  }
  if (!PERIODS.has(period)) {
    throw new TypeError(`createRateLimitBinding: period must be 10 or 60 seconds, got ${period}`);
  }
  return { limit, period };
}

class FixedWindowLimiter {
  #limit;
  #period;
  #now;
  #windows = new Map(); // `${period}:${key}` -> { window, count }

  constructor({ limit, period }, now) {
    this.#limit = limit;
    this.#period = period;
    this.#now = now;
  }

  async limit(options) {
    if (typeof options !== "object" || options === null) throw new Error("invalid rate limit options");
    const unknown = Object.keys(options).filter((key) => !OPTION_KEYS.has(key));
    if (unknown.length > 0) throw new Error(`bad rate limit options: [${unknown.join(",")}]`);
    const { key = "", limit = this.#limit, period = this.#period } = options;
    if (typeof key !== "string") throw new Error(`invalid key: ${key}`);
    if (!Number.isInteger(limit) || limit < 1) throw new Error(`limit must be a positive integer: ${limit}`);
    if (!PERIODS.has(period)) throw new Error(`unsupported period: ${period}`);

    const window = Math.floor(this.#now() / (period * 1000));
    const bucketKey = `${period}:${key}`;
    let bucket = this.#windows.get(bucketKey);
    if (bucket === undefined || bucket.window !== window) {
      bucket = { window, count: 0 };
      this.#windows.set(bucketKey, bucket);
      this.#forgetOldWindows(window, period);
    }
    if (bucket.count >= limit) return { success: false };
    bucket.count += 1;
    return { success: true };
  }

  /** Drops counters of finished windows so memory stays bounded by the active keys. */
  #forgetOldWindows(window, period) {
    if (this.#windows.size < 10_000) return;
    const prefix = `${period}:`;
    for (const [bucketKey, bucket] of this.#windows) {
      if (bucketKey.startsWith(prefix) && bucket.window < window) this.#windows.delete(bucketKey);
    }
  }
}

/**
 * Creates the `env.<BINDING>` object for one rate limiter.
 *
 * config: { limit, period } (RateLimitSpec; period is 10 or 60 seconds).
 * deps:   { now?() -> milliseconds } (a clock for tests; defaults to Date.now).
 */
export function createRateLimitBinding(config, deps = {}) {
  const { now = Date.now } = deps;
  const limiter = new FixedWindowLimiter(validateConfig(config), now);
  return { limit: (options) => limiter.limit(options) };
}
