// Local queue against Cloudflare's documented behaviour: developers.cloudflare.com/queues/
// configuration/javascript-apis/ (send, sendBatch, MessageBatch, Message, content types) and
// .../batching-retries/ (max_batch_size / max_batch_timeout, ack/retry precedence, max_retries,
// delays), with workerd's queue binding for error texts. Time is a fake clock.

import assert from "node:assert/strict";
import { beforeEach, describe, test } from "node:test";

import { createQueueBinding } from "../bindings/queues.mjs";
import { FakeTimers } from "./support/fake-timers.mjs";

let timers;
let delivered; // batches as { queue, items: [{ body, attempts, id }] }
let warnings;
let errors;
const log = { warn: (text) => warnings.push(text), error: (...args) => errors.push(args.join(" ")) };

beforeEach(() => {
  timers = new FakeTimers();
  delivered = [];
  warnings = [];
  errors = [];
});

function queue(config = {}, handler = () => {}) {
  return createQueueBinding(
    { name: "jobs", maxBatchSize: 3, maxBatchTimeoutSeconds: 5, ...config },
    {
      timers,
      log,
      deliver: async (batch) => {
        delivered.push({
          queue: batch.queue,
          items: batch.messages.map((m) => ({ id: m.id, body: m.body, attempts: m.attempts })),
        });
        await handler(batch);
      },
    },
  );
}

const bodies = (batchIndex) => delivered[batchIndex].items.map((item) => item.body);

describe("batching", () => {
  test("a full batch is delivered at once; the rest after max_batch_timeout", async () => {
    const { binding } = queue();
    for (let i = 1; i <= 7; i++) await binding.send({ n: i });
    await timers.advance(0);
    assert.equal(delivered.length, 2);
    assert.deepEqual(bodies(0), [{ n: 1 }, { n: 2 }, { n: 3 }]);
    assert.deepEqual(bodies(1), [{ n: 4 }, { n: 5 }, { n: 6 }]);
    await timers.advance(4_999);
    assert.equal(delivered.length, 2, "the last message waits for the batch timeout");
    await timers.advance(1);
    assert.equal(delivered.length, 3);
    assert.deepEqual(bodies(2), [{ n: 7 }]);
    assert.equal(delivered[0].queue, "jobs");
  });

  test("sendBatch enqueues every message; a zero timeout delivers immediately", async () => {
    const { binding } = queue({ maxBatchSize: 10, maxBatchTimeoutSeconds: 0 });
    await binding.sendBatch([{ body: "a", contentType: "text" }, { body: "b", contentType: "text" }]);
    await timers.advance(0);
    assert.equal(delivered.length, 1);
    assert.deepEqual(bodies(0), ["a", "b"]);
  });

  test("an empty queue delivers nothing", async () => {
    queue();
    await timers.advance(60_000);
    assert.equal(delivered.length, 0);
  });

  test("drain() delivers what is due without waiting for the timeout", async () => {
    const { binding, consumer } = queue({ maxBatchSize: 2 });
    await binding.sendBatch([{ body: 1 }, { body: 2 }, { body: 3 }]);
    await consumer.drain();
    assert.deepEqual(delivered.map((b) => b.items.map((i) => i.body)), [[1, 2], [3]]);
    assert.equal(consumer.stats().waiting, 0);
  });
});

describe("message bodies", () => {
  test("json (the default), text, bytes and v8 round-trip as copies", async () => {
    const { binding, consumer } = queue({ maxBatchSize: 10 });
    const sent = { nested: { list: [1, 2] } };
    await binding.send(sent);
    sent.nested.list.push(3); // changing the original after send does not change the message
    await binding.send("plain", { contentType: "text" });
    await binding.send(new Uint8Array([1, 2, 3]), { contentType: "bytes" });
    await binding.send(new Map([["when", new Date(0)]]), { contentType: "v8" });
    await consumer.drain();
    const [json, text, bytes, v8] = bodies(0);
    assert.deepEqual(json, { nested: { list: [1, 2] } });
    assert.equal(text, "plain");
    assert.deepEqual(new Uint8Array(bytes), new Uint8Array([1, 2, 3]));
    assert.ok(v8 instanceof Map && v8.get("when").getTime() === 0);
  });

  test("messages carry an id, a timestamp and attempts starting at 1", async () => {
    let seen;
    const { binding, consumer } = queue({}, (batch) => {
      seen = batch.messages[0];
    });
    await binding.send({ x: 1 });
    await consumer.drain();
    assert.match(seen.id, /^[0-9a-f]{32}$/);
    assert.ok(seen.timestamp instanceof Date);
    assert.equal(seen.timestamp.getTime(), timers.now());
    assert.equal(seen.attempts, 1);
  });
});

describe("acknowledgement and retries", () => {
  test("retry() redelivers one message with attempts + 1; ack() keeps the other", async () => {
    let round = 0;
    const { binding, consumer } = queue({}, (batch) => {
      round += 1;
      for (const message of batch.messages) {
        if (round === 1 && message.body === "again") message.retry();
        else message.ack();
      }
    });
    await binding.sendBatch([{ body: "once" }, { body: "again" }]);
    await consumer.drain();
    assert.equal(delivered.length, 2);
    assert.deepEqual(delivered[1].items.map((i) => [i.body, i.attempts]), [["again", 2]]);
    assert.equal(delivered[1].items[0].id, delivered[0].items[1].id, "the same message id is redelivered");
  });

  test("a handler that throws retries every message not acked explicitly", async () => {
    let round = 0;
    const { binding, consumer } = queue({}, (batch) => {
      round += 1;
      if (round === 1) {
        batch.messages[0].ack();
        throw new Error("boom");
      }
    });
    await binding.sendBatch([{ body: "acked" }, { body: "b" }, { body: "c" }]);
    await consumer.drain();
    assert.deepEqual(bodies(1), ["b", "c"]);
    assert.match(errors[0], /queue handler failed; the batch will be retried: Error: boom/);
    assert.deepEqual(consumer.stats(), { sent: 3, delivered: 5, acked: 3, retried: 2, dropped: 0, waiting: 0, delayed: 0 });
  });

  test("ackAll() wins over a thrown error; retryAll() delays the whole batch", async () => {
    let round = 0;
    const { binding, consumer } = queue({}, (batch) => {
      round += 1;
      if (round === 1) {
        batch.retryAll({ delaySeconds: 30 });
        return;
      }
      batch.ackAll();
      throw new Error("ignored after ackAll");
    });
    await binding.sendBatch([{ body: 1 }, { body: 2 }]);
    await consumer.drain();
    assert.equal(delivered.length, 1);
    await timers.advance(29_999);
    assert.equal(delivered.length, 1, "retryAll's delay is honoured");
    await timers.advance(1 + 5_000);
    assert.equal(delivered.length, 2);
    assert.deepEqual(delivered[1].items.map((i) => i.attempts), [2, 2]);
    await timers.advance(60_000);
    assert.equal(delivered.length, 2, "nothing is retried after ackAll()");
  });

  test("the first call wins: retry() then ack() stays a retry, with a warning", async () => {
    let round = 0;
    const { binding, consumer } = queue({}, (batch) => {
      round += 1;
      if (round > 1) return;
      const [message] = batch.messages;
      message.retry();
      message.ack();
    });
    await binding.send("x");
    await consumer.drain();
    assert.equal(delivered.length, 2);
    assert.match(warnings[0], /ack\(\) on message [0-9a-f]{32} after retry\(\)/);
  });

  test("a message that keeps failing is dropped after max_retries retries", async () => {
    const { binding, consumer } = queue({ maxRetries: 2 }, () => {
      throw new Error("always");
    });
    await binding.send("poison");
    await consumer.drain();
    assert.deepEqual(delivered.map((b) => b.items[0].attempts), [1, 2, 3]);
    assert.equal(consumer.stats().dropped, 1);
    assert.match(warnings.at(-1), /dropped message [0-9a-f]{32} after 3 failed attempts/);
  });

  test("retry delays: per message, then the queue's retryDelaySeconds", async () => {
    let round = 0;
    const { binding, consumer } = queue({ retryDelaySeconds: 10 }, (batch) => {
      round += 1;
      if (round === 1) batch.messages[0].retry({ delaySeconds: 3 });
      if (round === 2) throw new Error("use the default delay");
    });
    await binding.send("m");
    await consumer.drain();
    await timers.advance(2_999 + 5_000);
    assert.equal(delivered.length, 1);
    await timers.advance(1);
    await consumer.drain();
    assert.equal(delivered.length, 2);
    await timers.advance(9_999);
    await consumer.drain();
    assert.equal(delivered.length, 2);
    await timers.advance(1);
    await consumer.drain();
    assert.equal(delivered.length, 3);
  });
});

describe("delays on send", () => {
  test("delaySeconds holds a message back; the queue's delivery delay applies otherwise", async () => {
    const { binding, consumer } = queue({ deliveryDelaySeconds: 20, maxBatchTimeoutSeconds: 0 });
    await binding.send("default-delay");
    await binding.send("no-delay", { delaySeconds: 0 });
    await binding.sendBatch([{ body: "batch" }], { delaySeconds: 7 });
    await timers.advance(0);
    assert.deepEqual(delivered.map((b) => b.items.map((i) => i.body)), [["no-delay"]]);
    assert.equal(consumer.stats().delayed, 2);
    await timers.advance(7_000);
    assert.deepEqual(bodies(1), ["batch"]);
    await timers.advance(13_000);
    assert.deepEqual(bodies(2), ["default-delay"]);
  });
});

describe("producer errors", () => {
  test("the binding's TypeErrors", async () => {
    const { binding } = queue();
    await assert.rejects(binding.send(undefined), { name: "TypeError", message: "Message body cannot be undefined" });
    await assert.rejects(binding.sendBatch([]), { name: "TypeError", message: "sendBatch() requires at least one message" });
    await assert.rejects(binding.send("x", { contentType: "xml" }), {
      name: "TypeError",
      message: "Unsupported queue message content type: xml",
    });
    await assert.rejects(binding.send(5, { contentType: "text" }), {
      message: 'Content Type "text" requires a value of type string, but received: number',
    });
    await assert.rejects(binding.send("s", { contentType: "bytes" }), {
      message: 'Content Type "bytes" requires a value of type ArrayBufferView, but received: string',
    });
  });

  test("size, count and delay limits fail as the service does, with the reason", async () => {
    const { binding } = queue();
    await assert.rejects(binding.send("x".repeat(128_001), { contentType: "text" }), /^Error: Queue send failed: Payload Too Large \(message is 128001 bytes/);
    await assert.rejects(
      binding.sendBatch(Array.from({ length: 101 }, () => ({ body: 1 }))),
      /Queue sendBatch failed: Payload Too Large \(batch has 101 messages/,
    );
    await assert.rejects(
      binding.sendBatch(Array.from({ length: 3 }, () => ({ body: "y".repeat(100_000), contentType: "text" }))),
      /Queue sendBatch failed: Payload Too Large \(batch is 300000 bytes/,
    );
    await assert.rejects(binding.send("x", { delaySeconds: 43_201 }), /Queue send failed: Bad Request \(delaySeconds must be an integer from 0 to 43200/);
    assert.equal(delivered.length, 0);
  });
});

describe("lifecycle", () => {
  test("a queue that is not consumed accepts messages and delivers none", async () => {
    const { binding, consumer } = createQueueBinding({ name: "outbox", consume: false }, { timers, log });
    await binding.send({ a: 1 });
    await consumer.drain();
    await timers.advance(60_000);
    assert.equal(consumer.stats().sent, 1);
    assert.equal(consumer.stats().delivered, 0);
  });

  test("a consumed queue needs deliver()", () => {
    assert.throws(() => createQueueBinding({ name: "jobs" }, { timers }), /deps.deliver\(batch\) is required/);
  });

  test("close() discards what is waiting and refuses new messages", async () => {
    const { binding, consumer } = queue();
    await binding.send("waiting");
    await binding.send("later", { delaySeconds: 60 });
    assert.equal(await consumer.close(), 2);
    await timers.advance(120_000);
    assert.equal(delivered.length, 0);
    await assert.rejects(binding.send("x"), /queue jobs is shut down/);
  });

  test("log may be a plain function, as the host passes it", async () => {
    const lines = [];
    const { binding, consumer } = createQueueBinding(
      { name: "jobs", maxRetries: 0 },
      {
        timers,
        log: (line) => lines.push(line),
        deliver: () => {
          throw new Error("handler broke");
        },
      },
    );
    await binding.send("m");
    await consumer.drain();
    assert.match(lines[0], /\[queue jobs\] the queue handler failed; the batch will be retried: Error: handler broke/);
    assert.match(lines[1], /\[queue jobs\] dropped message [0-9a-f]{32} after 1 failed attempts/);
    assert.throws(() => createQueueBinding({ name: "q" }, { deliver() {}, log: {} }), /deps.log must be a function/);
  });

  test("bad config names the field", () => {
    assert.throws(() => createQueueBinding({ name: "q", maxBatchSize: 101 }, { deliver() {} }), /maxBatchSize must be an integer from 1 to 100, got 101/);
    assert.throws(() => createQueueBinding({ name: "q", maxBatchTimeoutSeconds: 61 }, { deliver() {} }), /maxBatchTimeoutSeconds/);
  });
});
