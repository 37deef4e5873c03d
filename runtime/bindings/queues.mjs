// Local Cloudflare Queue for `edgestack dev`: the producer binding (`send`, `sendBatch`) and a
// push consumer that delivers batches (max_batch_size / max_batch_timeout) to a callback the
// host provides, with per-message ack()/retry() and batch ackAll()/retryAll(), delays and a
// retry limit. Messages are kept in memory: anything not yet delivered is lost when the dev
// server stops (docs/local-bindings.md).
//
// Semantics follow Cloudflare's Queues docs ("JavaScript APIs", "Batching, Retries and Delays")
// and workerd's queue binding (error texts).

import { randomBytes } from "node:crypto";
import { format } from "node:util";
import { deserialize as v8Deserialize, serialize as v8Serialize } from "node:v8";

const CONTENT_TYPES = new Set(["text", "bytes", "json", "v8"]);
const MAX_MESSAGE_BYTES = 128_000;
const MAX_BATCH_MESSAGES = 100;
const MAX_BATCH_BYTES = 256_000;
const MAX_DELAY_SECONDS = 43_200;

const realTimers = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle),
};

/** `log` may be a function(message) or an object with warn() and error(), like console. */
function normalizeLog(log) {
  if (typeof log === "function") {
    return { warn: (...args) => log(format(...args)), error: (...args) => log(format(...args)) };
  }
  if (log && typeof log.warn === "function" && typeof log.error === "function") return log;
  throw new TypeError("createQueueBinding: deps.log must be a function or an object with warn() and error()");
}

function validateConfig(config) {
  if (typeof config !== "object" || config === null) throw new TypeError("createQueueBinding: config must be an object");
  const {
    name,
    maxBatchSize = 10,
    maxBatchTimeoutSeconds = 5,
    maxRetries = 3,
    retryDelaySeconds = 0,
    deliveryDelaySeconds = 0,
    defaultContentType = "json",
    consume = true,
  } = config;
  if (typeof name !== "string" || name === "") throw new TypeError("createQueueBinding: name must be the queue name");
  const intIn = (value, low, high, field) => {
    if (!Number.isInteger(value) || value < low || value > high) {
      throw new TypeError(`createQueueBinding: queue ${name}: ${field} must be an integer from ${low} to ${high}, got ${value}`);
    }
  };
  intIn(maxBatchSize, 1, 100, "maxBatchSize");
  intIn(maxBatchTimeoutSeconds, 0, 60, "maxBatchTimeoutSeconds");
  intIn(maxRetries, 0, 100, "maxRetries");
  intIn(retryDelaySeconds, 0, MAX_DELAY_SECONDS, "retryDelaySeconds");
  intIn(deliveryDelaySeconds, 0, MAX_DELAY_SECONDS, "deliveryDelaySeconds");
  if (!CONTENT_TYPES.has(defaultContentType)) {
    throw new TypeError(`createQueueBinding: queue ${name}: defaultContentType must be text, bytes, json or v8`);
  }
  return {
    name,
    maxBatchSize,
    maxBatchTimeoutSeconds,
    maxRetries,
    retryDelaySeconds,
    deliveryDelaySeconds,
    defaultContentType,
    consume: Boolean(consume),
  };
}

// ---------------------------------------------------------------------------------------------
// Serialization: each message is stored as bytes, and every delivery decodes a fresh copy.

function typeName(value) {
  return value === null ? "object" : typeof value;
}

function validateContentType(contentType) {
  const lower = String(contentType).toLowerCase();
  if (!CONTENT_TYPES.has(lower)) throw new TypeError(`Unsupported queue message content type: ${contentType}`);
  return lower;
}

function encodeBody(body, contentType) {
  if (body === undefined) throw new TypeError("Message body cannot be undefined");
  switch (contentType) {
    case "text":
      if (typeof body !== "string") {
        throw new TypeError(`Content Type "text" requires a value of type string, but received: ${typeName(body)}`);
      }
      return Buffer.from(body, "utf8");
    case "bytes":
      if (!ArrayBuffer.isView(body)) {
        throw new TypeError(
          `Content Type "bytes" requires a value of type ArrayBufferView, but received: ${typeName(body)}`,
        );
      }
      return Buffer.from(new Uint8Array(body.buffer, body.byteOffset, body.byteLength));
    case "json": {
      const text = JSON.stringify(body);
      if (text === undefined) throw new TypeError(`Message body of type ${typeName(body)} cannot be sent as json`);
      return Buffer.from(text, "utf8");
    }
    default:
      return v8Serialize(body);
  }
}

function decodeBody(bytes, contentType) {
  switch (contentType) {
    case "text":
      return bytes.toString("utf8");
    case "bytes":
      return new Uint8Array(bytes).buffer;
    case "json":
      return JSON.parse(bytes.toString("utf8"));
    default:
      return v8Deserialize(bytes);
  }
}

function parseDelay(delaySeconds, fallback, method) {
  if (delaySeconds === undefined) return fallback;
  if (!Number.isInteger(delaySeconds) || delaySeconds < 0 || delaySeconds > MAX_DELAY_SECONDS) {
    throw new Error(
      `Queue ${method} failed: Bad Request (delaySeconds must be an integer from 0 to ${MAX_DELAY_SECONDS}, got ${delaySeconds})`,
    );
  }
  return delaySeconds;
}

// ---------------------------------------------------------------------------------------------

/** What the consumer decided for one delivered batch (first call wins, as in workerd). */
class BatchOutcome {
  ackAll = false;
  retryAll = false;
  retryAllDelay = undefined;
  acks = new Set();
  retries = new Map(); // id -> delaySeconds | undefined

  constructor(warn) {
    this.warn = warn;
  }

  ack(id) {
    if (this.ackAll || this.acks.has(id)) return;
    if (this.retryAll || this.retries.has(id)) {
      this.warn(`Received a call to ack() on message ${id} after retry() or retryAll() was already called; it has no effect.`);
      return;
    }
    this.acks.add(id);
  }

  retry(id, delaySeconds) {
    if (this.retryAll || this.retries.has(id)) return;
    if (this.ackAll || this.acks.has(id)) {
      this.warn(`Received a call to retry() on message ${id} after ack() or ackAll() was already called; it has no effect.`);
      return;
    }
    this.retries.set(id, delaySeconds);
  }

  ackAllMessages() {
    if (this.retryAll) {
      this.warn("Received a call to ackAll() after retryAll() was already called; it has no effect.");
      return;
    }
    this.ackAll = true;
  }

  retryAllMessages(delaySeconds) {
    if (this.ackAll) {
      this.warn("Received a call to retryAll() after ackAll() was already called; it has no effect.");
      return;
    }
    if (!this.retryAll) {
      this.retryAll = true;
      this.retryAllDelay = delaySeconds;
    }
  }

  /** `null` to acknowledge, or `{ delaySeconds }` to retry. */
  decide(id, handlerFailed) {
    if (this.acks.has(id)) return null;
    if (this.retries.has(id)) return { delaySeconds: this.retries.get(id) };
    if (this.ackAll) return null;
    if (this.retryAll) return { delaySeconds: this.retryAllDelay };
    return handlerFailed ? { delaySeconds: undefined } : null;
  }
}

class LocalQueue {
  #config;
  #deliver;
  #timers;
  #log;
  #ready = []; // messages due for delivery, in order
  #delayed = new Set(); // timer handles of messages waiting out a delay
  #flushTimer = null;
  #flushTimerImmediate = false;
  #delivering = null; // promise of the batch being delivered
  #closed = false;
  #stats = { sent: 0, delivered: 0, acked: 0, retried: 0, dropped: 0 };

  constructor(config, { deliver, timers = realTimers, log = console }) {
    this.#config = config;
    if (config.consume && typeof deliver !== "function") {
      throw new TypeError(`createQueueBinding: queue ${config.name} is consumed, so deps.deliver(batch) is required`);
    }
    this.#deliver = deliver;
    this.#timers = timers;
    this.#log = normalizeLog(log);
  }

  // -- producer -------------------------------------------------------------------------------

  #encode(body, contentType, method) {
    const type = contentType === undefined ? this.#config.defaultContentType : validateContentType(contentType);
    const bytes = encodeBody(body, type);
    if (bytes.length > MAX_MESSAGE_BYTES) {
      throw new Error(
        `Queue ${method} failed: Payload Too Large (message is ${bytes.length} bytes; the limit is ${MAX_MESSAGE_BYTES})`,
      );
    }
    return { bytes, contentType: type };
  }

  async send(body, options = {}) {
    if (typeof options !== "object" || options === null) throw new TypeError("send(): options must be an object");
    const encoded = this.#encode(body, options.contentType, "send");
    const delay = parseDelay(options.delaySeconds, this.#config.deliveryDelaySeconds, "send");
    this.#accept([{ ...encoded, delay }]);
  }

  async sendBatch(messages, options = {}) {
    if (messages === null || typeof messages?.[Symbol.iterator] !== "function") {
      throw new TypeError("sendBatch(): messages must be an iterable of { body, contentType?, delaySeconds? }");
    }
    const list = [...messages];
    if (list.length === 0) throw new TypeError("sendBatch() requires at least one message");
    if (list.length > MAX_BATCH_MESSAGES) {
      throw new Error(
        `Queue sendBatch failed: Payload Too Large (batch has ${list.length} messages; the limit is ${MAX_BATCH_MESSAGES})`,
      );
    }
    const batchDelay = parseDelay(options?.delaySeconds, this.#config.deliveryDelaySeconds, "sendBatch");
    let total = 0;
    const encoded = list.map((message) => {
      if (typeof message !== "object" || message === null) {
        throw new TypeError("sendBatch(): each message must be an object { body, contentType?, delaySeconds? }");
      }
      const item = this.#encode(message.body, message.contentType, "sendBatch");
      total += item.bytes.length;
      return { ...item, delay: parseDelay(message.delaySeconds, batchDelay, "sendBatch") };
    });
    if (total > MAX_BATCH_BYTES) {
      throw new Error(
        `Queue sendBatch failed: Payload Too Large (batch is ${total} bytes; the limit is ${MAX_BATCH_BYTES})`,
      );
    }
    this.#accept(encoded);
  }

  #accept(encodedMessages) {
    if (this.#closed) throw new Error(`Queue send failed: queue ${this.#config.name} is shut down`);
    this.#stats.sent += encodedMessages.length;
    if (!this.#config.consume) return; // no consumer: like Miniflare, nothing will read it
    for (const { bytes, contentType, delay } of encodedMessages) {
      const message = {
        id: randomBytes(16).toString("hex"),
        timestamp: this.#timers.now(),
        bytes,
        contentType,
        failedAttempts: 0,
      };
      this.#enqueueAfter(message, delay);
    }
  }

  // -- consumer -------------------------------------------------------------------------------

  #enqueueAfter(message, delaySeconds) {
    if (delaySeconds > 0) {
      const handle = this.#timers.setTimeout(() => {
        this.#delayed.delete(handle);
        this.#makeReady(message);
      }, delaySeconds * 1000);
      this.#delayed.add(handle);
    } else {
      this.#makeReady(message);
    }
  }

  #makeReady(message) {
    if (this.#closed) return;
    this.#ready.push(message);
    this.#scheduleFlush();
  }

  /** A flush runs after max_batch_timeout, or at once when a full batch is waiting. */
  #scheduleFlush() {
    if (this.#closed || this.#ready.length === 0 || this.#delivering) return;
    const full = this.#ready.length >= this.#config.maxBatchSize;
    const immediate = full || this.#config.maxBatchTimeoutSeconds === 0;
    if (this.#flushTimer !== null) {
      if (this.#flushTimerImmediate || !immediate) return;
      this.#timers.clearTimeout(this.#flushTimer);
    }
    this.#flushTimerImmediate = immediate;
    this.#flushTimer = this.#timers.setTimeout(
      () => {
        this.#flushTimer = null;
        return this.#flush().catch((error) => {
          this.#log.error(`[queue ${this.#config.name}] delivering a batch failed:`, error);
        });
      },
      immediate ? 0 : this.#config.maxBatchTimeoutSeconds * 1000,
    );
  }

  #flush() {
    if (this.#delivering || this.#ready.length === 0) return this.#delivering ?? Promise.resolve();
    const batch = this.#ready.splice(0, this.#config.maxBatchSize);
    this.#delivering = this.#deliverBatch(batch).finally(() => {
      this.#delivering = null;
      this.#scheduleFlush();
    });
    return this.#delivering;
  }

  async #deliverBatch(messages) {
    const outcome = new BatchOutcome((text) => this.#log.warn(`[queue ${this.#config.name}] ${text}`));
    const batch = {
      queue: this.#config.name,
      messages: messages.map((message) => ({
        id: message.id,
        timestamp: new Date(message.timestamp),
        body: decodeBody(message.bytes, message.contentType),
        attempts: message.failedAttempts + 1,
        ack: () => outcome.ack(message.id),
        retry: (options) => outcome.retry(message.id, parseRetryDelay(options)),
      })),
      ackAll: () => outcome.ackAllMessages(),
      retryAll: (options) => outcome.retryAllMessages(parseRetryDelay(options)),
    };
    let handlerFailed = false;
    try {
      await this.#deliver(batch);
    } catch (error) {
      handlerFailed = true;
      this.#log.error(`[queue ${this.#config.name}] the queue handler failed; the batch will be retried:`, error);
    }
    this.#stats.delivered += messages.length;
    for (const message of messages) {
      const decision = outcome.decide(message.id, handlerFailed);
      if (decision === null) {
        this.#stats.acked += 1;
        continue;
      }
      message.failedAttempts += 1;
      if (message.failedAttempts > this.#config.maxRetries) {
        this.#stats.dropped += 1;
        this.#log.warn(
          `[queue ${this.#config.name}] dropped message ${message.id} after ${message.failedAttempts} failed attempts`,
        );
        continue;
      }
      this.#stats.retried += 1;
      this.#enqueueAfter(message, decision.delaySeconds ?? this.#config.retryDelaySeconds);
    }
  }

  /** Delivers everything that is due now, ignoring the batch timeout (for shutdown and tests). */
  async drain() {
    if (this.#flushTimer !== null) {
      this.#timers.clearTimeout(this.#flushTimer);
      this.#flushTimer = null;
    }
    while (this.#delivering || this.#ready.length > 0) {
      await (this.#delivering ?? this.#flush());
      if (this.#flushTimer !== null) {
        this.#timers.clearTimeout(this.#flushTimer);
        this.#flushTimer = null;
      }
    }
  }

  /** Stops the consumer. Returns how many messages were still waiting (they are discarded). */
  async close() {
    this.#closed = true;
    if (this.#flushTimer !== null) this.#timers.clearTimeout(this.#flushTimer);
    this.#flushTimer = null;
    for (const handle of this.#delayed) this.#timers.clearTimeout(handle);
    const discarded = this.#ready.length + this.#delayed.size;
    this.#delayed.clear();
    this.#ready = [];
    await this.#delivering;
    return discarded;
  }

  stats() {
    return { ...this.#stats, waiting: this.#ready.length, delayed: this.#delayed.size };
  }
}

function parseRetryDelay(options) {
  if (options === undefined || options === null) return undefined;
  const { delaySeconds } = options;
  if (delaySeconds === undefined) return undefined;
  if (!Number.isInteger(delaySeconds) || delaySeconds < 0 || delaySeconds > MAX_DELAY_SECONDS) {
    throw new RangeError(`retry(): delaySeconds must be an integer from 0 to ${MAX_DELAY_SECONDS}, got ${delaySeconds}`);
  }
  return delaySeconds;
}

/**
 * Creates one local queue: `{ binding, consumer }`.
 *
 * config: { name, maxBatchSize = 10, maxBatchTimeoutSeconds = 5, maxRetries = 3,
 *           retryDelaySeconds = 0, deliveryDelaySeconds = 0, defaultContentType = "json",
 *           consume = true } (QueueSpec: max_batch_size, max_batch_timeout_s, consume).
 * deps:   { deliver(batch) -> Promise (required when consume), timers?, log? (function or console-like) }.
 *   `batch` is a MessageBatch: { queue, messages: [{ id, timestamp, body, attempts, ack(),
 *   retry({ delaySeconds }) }], ackAll(), retryAll({ delaySeconds }) }. A rejected promise
 *   means the handler threw: every message not acked explicitly is retried.
 * `binding` is `env.<BINDING>` (send, sendBatch); `consumer` has drain(), close(), stats().
 */
export function createQueueBinding(config, deps = {}) {
  const queue = new LocalQueue(validateConfig(config), deps);
  return {
    binding: {
      send: (body, options) => queue.send(body, options),
      sendBatch: (messages, options) => queue.sendBatch(messages, options),
    },
    consumer: {
      drain: () => queue.drain(),
      close: () => queue.close(),
      stats: () => queue.stats(),
    },
  };
}
