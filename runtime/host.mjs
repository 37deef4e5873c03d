#!/usr/bin/env node
// The local edge runtime host for `edgestack dev`:
//   node host.mjs <host-config.json>
// Serves the Python Worker over HTTP on 127.0.0.1 with Pyodide + workers-runtime-sdk, KV/D1/R2 from
// Miniflare, Durable Objects, and the local Vectorize / rate-limit / queue / AI bindings.
// Reports to its parent with control lines on stdout (see lib/control.mjs).
//
// Start-up states: "starting" (Pyodide, storage) -> "loaded" (control line `loaded`; only the admin API
// answers, so `edgestack dev` can apply the D1 migrations) -> "ready" (after the session's
// `POST /__edgestack/ready`; Worker traffic, /healthz included, is served from here on).

import { existsSync } from "node:fs";
import http from "node:http";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { ADMIN_PREFIX, handleAdmin } from "./lib/admin.mjs";
import { loadHostConfig } from "./lib/config.mjs";
import { installHostMap } from "./lib/host-map.mjs";
import { BackgroundWork, ExecutionContext } from "./lib/context.mjs";
import { HostError, logError, sendControl } from "./lib/control.mjs";
import { AlarmScheduler, DurableObjectNamespace } from "./lib/durable-objects.mjs";
import { BadRequest, PayloadTooLarge, jsonResponse, plainResponse, toFetchRequest, writeResponse } from "./lib/http-bridge.mjs";
import { errorSummary, findClass, formatWorkerError, startPython } from "./lib/python-runtime.mjs";
import { startStorage } from "./lib/storage.mjs";

const HERE = path.dirname(fileURLToPath(import.meta.url));
// wrangler dev's test route for Cron Triggers: `GET /__scheduled?cron=<pattern>[&time=<ms>]`.
const SCHEDULED_PATH = "/__scheduled";

async function optionalBindingModule(name) {
  const file = path.join(HERE, "bindings", `${name}.mjs`);
  if (!existsSync(file)) return null;
  return import(pathToFileURL(file).href);
}

class Host {
  constructor(config) {
    this.config = config;
    this.work = new BackgroundWork();
    this.env = { ...config.vars, ...config.secrets };
    if (Object.keys(config.backends).length > 0) this.env.EDGESTACK_LOCAL_BACKENDS = JSON.stringify(config.backends);
    this.python = null;
    this.entrypoint = null;
    this.storage = null;
    this.alarms = null;
    this.namespaces = [];
    this.closers = [];
    this.state = "starting";
    this.startedAt = performance.now();
    this.timings = {};
    this.requests = { served: 0, failed: 0 };
  }

  listen() {
    const { host, port } = this.config;
    // Slow clients (slowloris) are cut off: the headers within headersTimeoutMs, the whole request
    // within requestTimeoutMs (Node answers 408 and closes), checked every second.
    const { headersTimeoutMs, requestTimeoutMs } = this.config.limits;
    const options = { headersTimeout: headersTimeoutMs, requestTimeout: requestTimeoutMs, connectionsCheckingInterval: 1000 };
    this.server = http.createServer(options, (req, res) => this.onRequest(req, res));
    this.server.on("clientError", (error, socket) => {
      if (!socket.writable) return socket.destroy();
      let status = "400 Bad Request";
      let body;
      if (error.code === "ERR_HTTP_REQUEST_TIMEOUT") {
        status = "408 Request Timeout";
        body = `the request was not received in time (headers within ${headersTimeoutMs} ms, all of it within ${requestTimeoutMs} ms)\n`;
      } else {
        const reason = (error.code ?? "bad request").replace(/^HPE_/, "").toLowerCase().replaceAll("_", " ");
        body = `malformed HTTP request: ${reason}\n`;
      }
      socket.end(
        `HTTP/1.1 ${status}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
      );
    });
    return new Promise((resolve, reject) => {
      this.server.once("error", (error) => {
        if (error.code === "EADDRINUSE") {
          reject(new HostError(`port ${port} on ${host} is already in use: stop the other server or pass --port`, { code: "port_in_use" }));
        } else if (error.code === "EACCES") {
          reject(new HostError(`no permission to listen on ${host}:${port}`, { code: "port_denied" }));
        } else reject(error);
      });
      this.server.listen(port, host, () => {
        this.port = this.server.address().port;
        resolve();
      });
    });
  }

  async start() {
    await this.listen();
    const storageStart = performance.now();
    const storage = startStorage(this.config).then((s) => {
      this.timings.storageMs = Math.round(performance.now() - storageStart);
      this.onStorageStarted?.();
      return s;
    });
    installHostMap(this.config.mapHosts); // before the Worker imports `fetch`
    const python = startPython(this.config, {
      env: this.env,
      work: this.work,
      log: { worker: (line) => process.stdout.write(`${line}\n`) },
    });
    const [storageResult, pythonResult] = await Promise.allSettled([storage, python]);
    if (storageResult.status === "fulfilled") this.storage = storageResult.value;
    if (pythonResult.status === "rejected") throw pythonResult.reason;
    if (storageResult.status === "rejected") throw storageResult.reason;
    this.python = pythonResult.value;
    Object.assign(this.timings, this.python.timings);
    Object.assign(this.env, this.storage.bindings);
    this.entrypoint = findClass(this.python, "Default", "WorkerEntrypoint");
    if (this.entrypoint === null) {
      throw new HostError(`${this.config.sourceLabel}${this.config.mainModule} defines no \`class Default(WorkerEntrypoint)\``, { code: "no_entrypoint" });
    }
    this.startDurableObjects();
    await this.startOptionalBindings();
    this.state = "loaded";
    this.timings.loadMs = Math.round(performance.now() - this.startedAt);
    sendControl("loaded", {
      url: `http://${this.config.host}:${this.port}`,
      port: this.port,
      pyodide: this.python.version,
      timings: this.timings,
    });
  }

  /** The session applied the migrations: serve the Worker (alarms fire from now on too). */
  markReady() {
    if (this.state !== "loaded") return false;
    this.alarms?.resume();
    this.state = "ready";
    this.timings.startMs = Math.round(performance.now() - this.startedAt);
    sendControl("serving", { timings: this.timings });
    return true;
  }

  startDurableObjects() {
    if (this.config.durableObjects.length === 0) return;
    this.alarms = new AlarmScheduler(this.config.stateDir);
    for (const { binding, className } of this.config.durableObjects) {
      const found = findClass(this.python, className, "DurableObject");
      if (found === null) {
        throw new HostError(
          `Durable Object binding ${binding}: ${this.config.sourceLabel}${this.config.mainModule} defines no \`class ${className}(DurableObject)\``,
          { code: "no_durable_object" },
        );
      }
      const namespace = new DurableObjectNamespace({
        scriptName: this.config.scriptName,
        className,
        pyClass: found.cls,
        methods: found.methods,
        python: this.python,
        env: this.env,
        work: this.work,
        alarms: this.alarms,
        stateDir: this.config.stateDir,
      });
      this.alarms.register(namespace);
      this.namespaces.push(namespace);
      this.env[binding] = namespace;
    }
  }

  async startOptionalBindings() {
    const { stateDir } = this.config;
    const warn = (message) => process.stderr.write(`[edgestack] ${message}\n`);
    const need = async (name, bindings) => {
      if (bindings.length === 0) return null;
      const mod = await optionalBindingModule(name);
      if (mod === null) warn(`runtime/bindings/${name}.mjs is missing: ${bindings.map((b) => b.binding).join(", ")} left unbound`);
      return mod;
    };
    const vectorize = await need("vectorize", this.config.vectorize);
    for (const spec of vectorize ? this.config.vectorize : []) {
      const index = vectorize.createVectorizeIndex(spec, { stateDir, warn });
      this.env[spec.binding] = index.binding;
      this.closers.push(() => index.flush());
    }
    const ratelimit = await need("ratelimit", this.config.rateLimits);
    for (const spec of ratelimit ? this.config.rateLimits : []) {
      this.env[spec.binding] = ratelimit.createRateLimitBinding(spec);
    }
    const queues = await need("queues", this.config.queues);
    for (const spec of queues ? this.config.queues : []) {
      const queue = queues.createQueueBinding(spec, {
        deliver: (batch) => this.callEntrypoint("queue", [batch]),
        log: warn,
      });
      this.env[spec.binding] = queue.binding;
      this.closers.push(async () => {
        await queue.consumer.drain?.();
        await queue.consumer.close?.();
      });
    }
    const ai = this.config.ai ? await need("ai", [this.config.ai]) : null;
    if (ai) this.env[this.config.ai.binding] = ai.createAiBinding(this.config.ai, { warn });
  }

  /** A fresh `Default` instance per event, as workerd creates one per request. Handlers other than
   * `fetch` also get `env, ctx` after their argument, as workerd passes them (unused extras dropped). */
  async callEntrypoint(handler, args) {
    const ctx = new ExecutionContext(this.work);
    const instance = this.entrypoint.cls(ctx, this.env);
    try {
      if (handler === "fetch") return await this.python.host.call_handler(true, instance, "fetch", ...args);
      return await this.python.host.call_raw(instance, handler, ...args, this.env, ctx);
    } finally {
      instance.destroy?.();
    }
  }

  /** CPU totals for benchmarks: the Worker's own (CPU and wall time inside its asyncio handles, see
   * _edgestack_host.py) and this host process's (Pyodide, the HTTP server, Miniflare's client). */
  workerCpu() {
    const [workerMs, workerWallMs, handles, meterUs] = this.python ? this.python.host.worker_cpu() : [0, 0, 0, 0];
    const { user, system } = process.cpuUsage();
    return { workerMs, workerWallMs, handles, meterUs, hostMs: (user + system) / 1000, pid: process.pid };
  }

  status() {
    return {
      state: this.state,
      pyodide: this.python?.version ?? null,
      timings: this.timings,
      requests: this.requests,
      background: this.work.stats(),
      workerCpu: this.workerCpu(),
    };
  }

  async onRequest(req, res) {
    let response;
    const started = performance.now();
    const label = `${req.method} ${req.url}`;
    try {
      const request = toFetchRequest(req, `${this.config.host}:${this.port}`, this.config.limits.maxBodyBytes);
      if (new URL(request.url).pathname.startsWith(`${ADMIN_PREFIX}/`)) {
        response = await this.adminResponse(request);
      } else if (this.state !== "ready") {
        response = this.notReadyResponse();
      } else if (new URL(request.url).pathname === SCHEDULED_PATH) {
        response = await this.scheduledResponse(request, label);
      } else {
        response = await this.workerResponse(request, label);
      }
    } catch (error) {
      if (error instanceof PayloadTooLarge) {
        // The body is never read: answer and close the connection instead of draining it.
        response = plainResponse(413, `request entity too large: ${error.message}`, { connection: "close" });
      } else if (error instanceof BadRequest) {
        response = plainResponse(400, `bad request: ${error.message}`);
      } else throw error;
    }
    try {
      await writeResponse(req, res, response);
    } catch (error) {
      logError(`${label}: the Worker's response stream failed`, error);
    }
    if (process.env.EDGESTACK_ACCESS_LOG === "1") {
      process.stderr.write(`[edgestack] ${label} ${response.status} ${Math.round(performance.now() - started)}ms\n`);
    }
  }

  notReadyResponse() {
    const why = {
      starting: "the Worker is starting",
      loaded: "the D1 migrations are being applied",
      stopping: "the runtime is stopping",
    }[this.state];
    return jsonResponse(
      503,
      { error: { type: "not_ready", state: this.state, message: `edgestack dev is not ready: ${why}; retry shortly` } },
      { "retry-after": "1" },
    );
  }

  async adminResponse(request) {
    return handleAdmin(request, {
      token: this.config.admin.token,
      accountId: this.config.accountId,
      d1ById: this.storage?.d1ById ?? new Map(),
      status: () => this.status(),
      markReady: () => this.markReady(),
    });
  }

  /** Runs the Worker's `scheduled(controller, env, ctx)` once, as a Cron Trigger would. */
  async scheduledResponse(request, label) {
    const url = new URL(request.url);
    const cron = url.searchParams.get("cron") ?? "";
    const time = url.searchParams.get("time");
    const scheduledTime = time === null ? Date.now() : Number(time);
    if (!Number.isSafeInteger(scheduledTime) || scheduledTime < 0) {
      return jsonResponse(400, { error: { message: "`time` must be milliseconds since the epoch" } });
    }
    if (!this.entrypoint.methods.includes("scheduled")) {
      return jsonResponse(404, {
        error: { message: `${this.config.mainModule}: class Default defines no scheduled() handler` },
      });
    }
    const controller = { cron, scheduledTime, type: "scheduled", noRetry() {} };
    try {
      await this.callEntrypoint("scheduled", [controller]);
      return jsonResponse(200, { outcome: "ok", cron, scheduledTime });
    } catch (error) {
      process.stderr.write(`[edgestack] ${label}: scheduled() threw an exception:\n${formatWorkerError(this.python, error)}\n`);
      return jsonResponse(500, { outcome: "exception", error: errorSummary(this.python, error) });
    }
  }

  async workerResponse(request, label) {
    try {
      const response = await this.callEntrypoint("fetch", [request]);
      if (!(response instanceof Response)) {
        throw new TypeError(`fetch() returned ${response === undefined ? "nothing" : typeof response}, not a Response`);
      }
      this.requests.served += 1;
      return response;
    } catch (error) {
      this.requests.failed += 1;
      process.stderr.write(`[edgestack] ${label}: the Worker threw an exception:\n${formatWorkerError(this.python, error)}\n`);
      return plainResponse(500, `Worker threw exception: ${errorSummary(this.python, error)}`);
    }
  }

  async stop(signal) {
    if (this.state === "stopping") return;
    this.state = "stopping";
    await new Promise((resolve) => {
      this.server?.close(resolve);
      this.server?.closeIdleConnections();
      setTimeout(() => this.server?.closeAllConnections(), 5000).unref();
    });
    const drained = await this.work.drain(30_000);
    if (!drained) process.stderr.write("[edgestack] gave up waiting for waitUntil tasks after 30 s\n");
    for (const close of this.closers) await close().catch((error) => logError("closing a binding", error));
    await this.alarms?.close();
    for (const namespace of this.namespaces) namespace.close();
    await this.storage?.dispose();
    sendControl("stopped", { signal, background: this.work.stats() });
  }
}

async function main() {
  const configFile = process.argv[2];
  if (!configFile) throw new HostError("usage: node host.mjs <host-config.json>", { code: "usage" });
  const host = new Host(loadHostConfig(configFile));
  let stopping = null;
  const shutdown = (signal) => {
    stopping ??= host.stop(signal).then(
      () => process.exit(0),
      (error) => {
        logError("shutdown", error);
        process.exit(1);
      },
    );
  };
  // Miniflare (through exit-hook) exits the process on SIGINT/SIGTERM as soon as it starts; the
  // host must instead stop serving, drain waitUntil work and close storage first, so its own
  // handlers replace those once storage is up (exit-hook's `exit` cleanup of workerd stays).
  const installSignalHandlers = () => {
    for (const signal of ["SIGINT", "SIGTERM"]) {
      process.removeAllListeners(signal);
      process.on(signal, () => shutdown(signal));
    }
  };
  installSignalHandlers();
  host.onStorageStarted = installSignalHandlers;
  // The parent closes our stdin when it goes away: never outlive it.
  process.stdin.on("end", () => shutdown("stdin closed"));
  process.stdin.resume();
  try {
    await host.start();
  } catch (error) {
    if (error instanceof HostError) {
      sendControl("error", { code: error.code, message: error.message });
    } else {
      logError("startup failed", error);
      sendControl("error", { code: "crash", message: `the runtime host crashed while starting: ${error.message}` });
    }
    await host.storage?.dispose().catch(() => {});
    process.exit(1);
  }
}

process.on("unhandledRejection", (error) => logError("unhandled rejection", error));
main();
