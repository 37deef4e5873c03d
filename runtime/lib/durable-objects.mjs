// Durable Objects for the local runtime: instances of the Worker's Python classes, one per id.
//
// - Ids are 64 hex digits, as on Cloudflare: `idFromName` is deterministic per namespace,
//   `newUniqueId` random, and `idFromString` rejects ids that another namespace made.
// - Every event delivered to one object (fetch, RPC method, alarm) runs after the previous one has
//   finished: a strict form of Cloudflare's input gate, so read-modify-write handlers never lose
//   updates. (Cloudflare also lets events interleave while an object awaits I/O other than storage.)
// - Each object has its own SQLite file (`<state>/do/<Class>/<id>.sqlite`) behind `ctx.storage`.
// - Alarms persist in the object's storage and in an index the host reads at start, fire at their
//   time, and retry with exponential backoff (2 s, 4 s, ... 6 retries) when `alarm()` throws.

import { createHash, randomBytes } from "node:crypto";
import { mkdirSync } from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { logError } from "./control.mjs";
import { ownAwaitable } from "./context.mjs";
import { DurableObjectStorage } from "./do-storage.mjs";

const ID_PATTERN = /^[0-9a-f]{64}$/;
const MAX_ALARM_RETRIES = 6;
const MAX_TIMER_MS = 2 ** 31 - 1;
// Property names a stub never answers with an RPC method: Pyodide and JS probe them.
const NOT_RPC = new Set(["then", "catch", "finally", "next", "toJSON", "constructor", "length", "size"]);

function sha256(text) {
  return createHash("sha256").update(text).digest("hex");
}

export class DurableObjectId {
  #hex;
  constructor(hex, name) {
    this.#hex = hex;
    if (name !== undefined) this.name = name;
  }
  toString() {
    return this.#hex;
  }
  equals(other) {
    return other instanceof DurableObjectId && other.toString() === this.#hex;
  }
}

/** Serializes the events of one object. */
class InputGate {
  #tail = Promise.resolve();
  run(task) {
    const result = this.#tail.then(task);
    this.#tail = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }
}

export class DurableObjectState {
  #work;
  #gate;
  constructor(id, storage, work, gate) {
    this.id = id;
    this.storage = storage;
    this.#work = work;
    this.#gate = gate;
  }
  waitUntil(promise) {
    this.#work.track(promise, "Durable Object waitUntil");
  }
  async blockConcurrencyWhile(callback) {
    // Events of this object already run one at a time (see InputGate).
    return await ownAwaitable(callback());
  }
  abort(reason) {
    throw new Error(reason ?? "Durable Object aborted");
  }
  get [Symbol.toStringTag]() {
    return "DurableObjectState";
  }
}

class ObjectInstance {
  constructor(namespace, id) {
    this.namespace = namespace;
    this.id = id;
    this.gate = new InputGate();
    this.alarmTimer = null;
    const hex = id.toString();
    const alarms = {
      scheduled: (time) => namespace.alarms.schedule(namespace.className, hex, time),
      cancelled: () => namespace.alarms.cancel(namespace.className, hex),
    };
    this.storage = new DurableObjectStorage(path.join(namespace.dir, `${hex}.sqlite`), alarms);
    this.state = new DurableObjectState(id, this.storage, namespace.work, this.gate);
    this.python = null;
  }

  async pyInstance() {
    if (this.python === null) this.python = await this.namespace.construct(this.state);
    return this.python;
  }

  /** Runs one event: the object's Python method `name`, called the way workerd calls it. */
  deliver(name, args, { relaxed = false, raw = false } = {}) {
    return this.gate.run(async () => {
      const instance = await this.pyInstance();
      const host = this.namespace.python.host;
      return raw ? host.call_raw(instance, name, ...args) : host.call_handler(relaxed, instance, name, ...args);
    });
  }
}

export class DurableObjectStub {
  #instance;
  constructor(instance, methods) {
    this.#instance = instance;
    this.id = instance.id;
    if (instance.id.name !== undefined) this.name = instance.id.name;
    return new Proxy(this, {
      get(target, prop) {
        if (typeof prop === "symbol" || prop in target || NOT_RPC.has(prop) || !methods.has(prop)) {
          const value = Reflect.get(target, prop, target);
          // Methods run on the target: private fields are not reachable through the proxy.
          return typeof value === "function" && prop !== "constructor" ? value.bind(target) : value;
        }
        // RPC: arguments are structured-cloned across the call, as between isolates.
        return (...args) => instance.deliver(prop, args.map(cloneForRpc));
      },
    });
  }
  async fetch(input, init) {
    const request = new Request(input, init);
    const response = await this.#instance.deliver("fetch", [request], { relaxed: true });
    if (!(response instanceof Response)) throw new TypeError("Durable Object fetch() did not return a Response");
    return response;
  }
}

function cloneForRpc(value) {
  try {
    return structuredClone(value);
  } catch {
    return value;
  }
}

export class DurableObjectNamespace {
  #instances = new Map();
  #key;
  constructor({ scriptName, className, pyClass, methods, python, env, work, alarms, stateDir }) {
    this.className = className;
    this.pyClass = pyClass;
    this.methods = new Set(methods.filter((m) => !["fetch", "alarm"].includes(m)));
    this.python = python;
    this.env = env;
    this.work = work;
    this.alarms = alarms;
    this.dir = path.join(stateDir, "do", className);
    mkdirSync(this.dir, { recursive: true });
    this.#key = sha256(`edgestack-do:${scriptName}:${className}`);
  }

  #makeId(body, name) {
    return new DurableObjectId(body + sha256(this.#key + body).slice(0, 16), name);
  }

  idFromName(name) {
    if (typeof name !== "string") throw new TypeError("idFromName() expects a string");
    return this.#makeId(sha256(`${this.#key}\0name\0${name}`).slice(0, 48), name);
  }

  newUniqueId() {
    return this.#makeId(randomBytes(24).toString("hex"));
  }

  idFromString(hex) {
    if (typeof hex !== "string" || !ID_PATTERN.test(hex)) {
      throw new TypeError("Invalid Durable Object ID: must be 64 hex digits");
    }
    const id = this.#makeId(hex.slice(0, 48));
    if (id.toString() !== hex) throw new TypeError("Durable Object ID is not valid for this namespace.");
    return id;
  }

  get(id) {
    if (!(id instanceof DurableObjectId)) throw new TypeError("get() expects a DurableObjectId");
    return new DurableObjectStub(this.instance(id), this.methods);
  }

  getByName(name) {
    return this.get(this.idFromName(name));
  }

  jurisdiction() {
    return this;
  }

  instance(id) {
    const hex = id.toString();
    let instance = this.#instances.get(hex);
    if (instance === undefined) {
      instance = new ObjectInstance(this, id);
      this.#instances.set(hex, instance);
    }
    return instance;
  }

  instanceFromHex(hex) {
    return this.instance(this.idFromString(hex));
  }

  async construct(state) {
    return this.pyClass(state, this.env);
  }

  close() {
    for (const instance of this.#instances.values()) instance.storage.close();
  }
}

/** Host-wide alarm scheduler, with an index of pending alarms that survives restarts. */
export class AlarmScheduler {
  #db;
  #timers = new Map();
  #namespaces = new Map();
  #running = new Set();
  #closed = false;
  constructor(stateDir) {
    const dir = path.join(stateDir, "do");
    mkdirSync(dir, { recursive: true });
    this.#db = new Database(path.join(dir, "alarms.sqlite"));
    this.#db.pragma("journal_mode = WAL");
    this.#db.exec("CREATE TABLE IF NOT EXISTS alarms (class TEXT, id TEXT, time INTEGER, PRIMARY KEY (class, id)) WITHOUT ROWID");
  }

  register(namespace) {
    this.#namespaces.set(namespace.className, namespace);
  }

  /** Arms the timers of alarms persisted by earlier runs. */
  resume() {
    for (const { class: className, id, time } of this.#db.prepare("SELECT class, id, time FROM alarms").all()) {
      if (this.#namespaces.has(className)) this.#arm(className, id, time, 0);
    }
  }

  schedule(className, id, time) {
    this.#db.prepare("INSERT INTO alarms (class, id, time) VALUES (?, ?, ?) ON CONFLICT(class, id) DO UPDATE SET time = excluded.time").run(className, id, time);
    this.#arm(className, id, time, 0);
  }

  cancel(className, id) {
    this.#db.prepare("DELETE FROM alarms WHERE class = ? AND id = ?").run(className, id);
    this.#disarm(`${className}/${id}`);
  }

  #disarm(key) {
    const timer = this.#timers.get(key);
    if (timer) clearTimeout(timer);
    this.#timers.delete(key);
  }

  #arm(className, id, time, retryCount) {
    if (this.#closed) return;
    const key = `${className}/${id}`;
    this.#disarm(key);
    const delay = Math.max(0, time - Date.now());
    const timer = setTimeout(
      () => (delay > MAX_TIMER_MS ? this.#arm(className, id, time, retryCount) : this.#fire(className, id, time, retryCount)),
      Math.min(delay, MAX_TIMER_MS),
    );
    this.#timers.set(key, timer);
  }

  async #fire(className, id, time, retryCount) {
    const key = `${className}/${id}`;
    this.#timers.delete(key);
    const namespace = this.#namespaces.get(className);
    if (!namespace || this.#closed) return;
    const instance = namespace.instanceFromHex(id);
    const run = instance.gate.run(async () => {
      // The alarm is consumed when its handler starts; `alarm()` may set the next one.
      if ((await instance.storage.getAlarm()) !== time) return "superseded";
      await instance.storage.deleteAlarm();
      const python = await instance.pyInstance();
      try {
        await namespace.python.host.call_raw(python, "alarm", { retryCount, isRetry: retryCount > 0 });
        return "done";
      } catch (error) {
        if ((await instance.storage.getAlarm()) === null && retryCount < MAX_ALARM_RETRIES) {
          logError(`alarm of ${className} ${id} failed (retry ${retryCount + 1} of ${MAX_ALARM_RETRIES})`, error);
          const retryAt = Date.now() + 2000 * 2 ** retryCount;
          await instance.storage.setAlarm(retryAt);
          this.#arm(className, id, retryAt, retryCount + 1);
        } else {
          logError(`alarm of ${className} ${id} failed`, error);
        }
        return "failed";
      }
    });
    this.#running.add(run);
    try {
      await run;
    } catch (error) {
      logError(`alarm of ${className} ${id}`, error);
    } finally {
      this.#running.delete(run);
    }
  }

  async close() {
    this.#closed = true;
    for (const timer of this.#timers.values()) clearTimeout(timer);
    this.#timers.clear();
    await Promise.allSettled([...this.#running]);
    this.#db.close();
  }
}
