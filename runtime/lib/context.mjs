// `ctx` for the Worker's handlers, and the host-wide record of `waitUntil` work.
//
// Cloudflare keeps an invocation alive until the promises passed to `ctx.waitUntil()` settle, for up
// to 30 seconds after the response. Locally every such promise is tracked so that shutdown (Ctrl-C,
// `--watch` reloads, tests stopping the host) waits for them before closing the storage.

import { logError } from "./control.mjs";

/** A promise the host owns: a borrowed Python awaitable is copied so it outlives the call. */
export function ownAwaitable(value) {
  if (value && typeof value.copy === "function" && typeof value.destroy === "function") {
    const owned = value.copy();
    return (async () => {
      try {
        return await owned;
      } finally {
        owned.destroy();
      }
    })();
  }
  return Promise.resolve(value);
}

export class BackgroundWork {
  #pending = new Set();
  #completed = 0;
  #failed = 0;

  track(value, label = "waitUntil") {
    const promise = ownAwaitable(value).then(
      () => {
        this.#completed += 1;
      },
      (error) => {
        this.#failed += 1;
        logError(`${label} task failed`, error);
      },
    );
    this.#pending.add(promise);
    promise.finally(() => this.#pending.delete(promise));
  }

  get pending() {
    return this.#pending.size;
  }

  stats() {
    return { pending: this.#pending.size, completed: this.#completed, failed: this.#failed };
  }

  /** Waits for every tracked task (including ones started meanwhile), up to `timeoutMs`. */
  async drain(timeoutMs = 30_000) {
    const deadline = Date.now() + timeoutMs;
    while (this.#pending.size > 0) {
      const left = deadline - Date.now();
      if (left <= 0) return false;
      let timer;
      await Promise.race([
        Promise.allSettled([...this.#pending]),
        new Promise((resolve) => {
          timer = setTimeout(resolve, left);
        }),
      ]);
      clearTimeout(timer);
    }
    return true;
  }
}

export class ExecutionContext {
  #work;
  props = {};
  constructor(work) {
    this.#work = work;
  }
  waitUntil(promise) {
    this.#work.track(promise);
  }
  passThroughOnException() {
    // There is no origin behind the local runtime to pass through to.
  }
  get [Symbol.toStringTag]() {
    return "ExecutionContext";
  }
}
