// A manual clock for tests: timers fire only when the test advances time, so no test depends
// on wall-clock speed. Timer callbacks may return promises; advance() awaits them.

export class FakeTimers {
  #now;
  #pending = [];
  #sequence = 0;

  constructor(start = Date.UTC(2026, 0, 1)) {
    this.#now = start;
  }

  now = () => this.#now;

  setTimeout = (fn, ms = 0) => {
    const handle = { id: ++this.#sequence, at: this.#now + Math.max(0, ms), fn };
    this.#pending.push(handle);
    return handle;
  };

  clearTimeout = (handle) => {
    this.#pending = this.#pending.filter((timer) => timer !== handle);
  };

  get pendingCount() {
    return this.#pending.length;
  }

  /** Moves time forward by `ms`, firing due timers in order and awaiting their work. */
  async advance(ms) {
    const target = this.#now + ms;
    for (;;) {
      await settle();
      const due = this.#pending
        .filter((timer) => timer.at <= target)
        .sort((a, b) => a.at - b.at || a.id - b.id)[0];
      if (due === undefined) break;
      this.#pending = this.#pending.filter((timer) => timer !== due);
      this.#now = due.at;
      await due.fn();
    }
    this.#now = target;
    await settle();
  }
}

/** Lets queued promise continuations run. */
export async function settle() {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
}
