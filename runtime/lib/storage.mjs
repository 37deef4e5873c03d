// KV, D1 and R2 for the local runtime: Miniflare's real implementations (workerd), persisted under
// the state folder, reached from Node through Miniflare's binding proxies.
//
// The proxies answer every property name (their `constructor` is not the binding's class), so each
// is wrapped in a small class carrying the binding's real JS class name (`KvNamespace`,
// `D1Database`, `R2Bucket`): the workers SDK's env wrapper recognises bindings by that name.

import path from "node:path";
import { Miniflare } from "miniflare";

// The storage Worker inside workerd runs D1 statements for the host. D1's binding methods
// `prepare()`/`bind()` are synchronous, so through Miniflare's proxies each costs a blocking round
// trip that stalls the host's event loop; one async request per statement does not.
const STORAGE_SCRIPT = `
const encode = (v) => v instanceof ArrayBuffer ? { $bytes: btoa(String.fromCharCode(...new Uint8Array(v))) }
  : ArrayBuffer.isView(v) ? encode(v.buffer.slice(v.byteOffset, v.byteOffset + v.byteLength))
  : Array.isArray(v) ? v.map(encode)
  : v !== null && typeof v === "object" ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, encode(x)]))
  : v;
const revive = (v) => v !== null && typeof v === "object" && !Array.isArray(v)
  ? ("$bytes" in v ? Uint8Array.from(atob(v.$bytes), (c) => c.charCodeAt(0)) : "$undefined" in v ? undefined
    : Object.fromEntries(Object.entries(v).map(([k, x]) => [k, revive(x)])))
  : Array.isArray(v) ? v.map(revive) : v;
const statement = (db, s) => (s.params.length ? db.prepare(s.sql).bind(...revive(s.params)) : db.prepare(s.sql));
export default {
  async fetch(request, env) {
    const [, binding, op] = new URL(request.url).pathname.split("/");
    const db = env[binding];
    try {
      const body = await request.json();
      let result;
      if (op === "batch") result = await db.batch(body.statements.map((s) => statement(db, s)));
      else if (op === "exec") result = await db.exec(body.sql);
      else {
        const stmt = statement(db, body);
        result = body.method === "first" ? await stmt.first(body.column ?? undefined)
          : body.method === "raw" ? await stmt.raw(body.options ?? undefined)
          : body.method === "run" ? await stmt.run() : await stmt.all();
      }
      return Response.json({ result: encode(result === undefined ? null : result) });
    } catch (error) {
      return Response.json({ error: { name: error.name, message: error.message } }, { status: 400 });
    }
  },
};
`;

export class KvNamespace {
  #kv;
  constructor(proxy) {
    this.#kv = proxy;
  }
  get(key, options) {
    return this.#kv.get(key, options);
  }
  getWithMetadata(key, options) {
    return this.#kv.getWithMetadata(key, options);
  }
  put(key, value, options) {
    return this.#kv.put(key, value, options);
  }
  delete(key) {
    return this.#kv.delete(key);
  }
  list(options) {
    return this.#kv.list(options);
  }
}

function encodeValue(value) {
  if (value === undefined) return { $undefined: true };
  if (value instanceof ArrayBuffer) return { $bytes: Buffer.from(value).toString("base64") };
  if (ArrayBuffer.isView(value)) return { $bytes: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString("base64") };
  return value;
}

function decodeValue(value) {
  if (Array.isArray(value)) return value.map(decodeValue);
  if (value !== null && typeof value === "object") {
    if (typeof value.$bytes === "string") {
      const bytes = Buffer.from(value.$bytes, "base64");
      return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
    }
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, decodeValue(v)]));
  }
  return value;
}

export class D1PreparedStatement {
  #db;
  constructor(db, sql, params = []) {
    this.#db = db;
    this.sql = sql;
    this.params = params;
  }
  bind(...values) {
    return new D1PreparedStatement(this.#db, this.sql, values);
  }
  #run(method, extra = {}) {
    return this.#db.call("run", { ...this.wire(), method, ...extra });
  }
  first(column) {
    return this.#run("first", column === undefined ? {} : { column });
  }
  all() {
    return this.#run("all");
  }
  run() {
    return this.#run("run");
  }
  raw(options) {
    return this.#run("raw", options === undefined ? {} : { options });
  }
  wire() {
    return { sql: this.sql, params: this.params.map(encodeValue) };
  }
}

export class D1Database {
  #call;
  constructor(call) {
    this.#call = call;
  }
  call(op, body) {
    return this.#call(op, body);
  }
  prepare(query) {
    if (typeof query !== "string") throw new TypeError("D1Database.prepare() expects a SQL string");
    return new D1PreparedStatement(this, query);
  }
  batch(statements) {
    return this.#call("batch", { statements: Array.from(statements, (s) => s.wire()) });
  }
  exec(query) {
    return this.#call("exec", { sql: query });
  }
}

// R2 results are copied out of the proxy, so the Worker holds ordinary objects.
class R2Object {
  constructor(source) {
    this.key = source.key;
    this.version = source.version;
    this.size = source.size;
    this.etag = source.etag;
    this.httpEtag = source.httpEtag;
    this.checksums = source.checksums;
    this.uploaded = source.uploaded;
    this.httpMetadata = source.httpMetadata ?? {};
    this.customMetadata = source.customMetadata ?? {};
    this.range = source.range;
    this.storageClass = source.storageClass;
  }
  writeHttpMetadata(headers) {
    const meta = this.httpMetadata;
    const names = {
      contentType: "content-type",
      contentLanguage: "content-language",
      contentDisposition: "content-disposition",
      contentEncoding: "content-encoding",
      cacheControl: "cache-control",
    };
    for (const [field, header] of Object.entries(names)) if (meta[field]) headers.set(header, meta[field]);
    if (meta.cacheExpiry) headers.set("expires", new Date(meta.cacheExpiry).toUTCString());
  }
}

class R2ObjectBody extends R2Object {
  #bytes;
  bodyUsed = false;
  constructor(source, bytes) {
    super(source);
    this.#bytes = bytes;
  }
  get body() {
    const bytes = this.#bytes;
    return new ReadableStream({
      start(controller) {
        controller.enqueue(bytes.slice());
        controller.close();
      },
    });
  }
  async arrayBuffer() {
    return this.#bytes.slice().buffer;
  }
  async bytes() {
    return this.#bytes.slice();
  }
  async text() {
    return new TextDecoder().decode(this.#bytes);
  }
  async json() {
    return JSON.parse(await this.text());
  }
  async blob() {
    return new Blob([this.#bytes], { type: this.httpMetadata.contentType ?? "" });
  }
}

async function copyObject(result, { withBody = false } = {}) {
  if (result === null || result === undefined) return null;
  if (withBody) return new R2ObjectBody(result, new Uint8Array(await result.arrayBuffer()));
  return new R2Object(result);
}

async function bodyBytes(value) {
  if (value === null || value === undefined) return value;
  if (typeof value === "string" || value instanceof ArrayBuffer || ArrayBuffer.isView(value)) return value;
  if (value instanceof Blob) return new Uint8Array(await value.arrayBuffer());
  if (value instanceof ReadableStream) return new Uint8Array(await new Response(value).arrayBuffer());
  return value;
}

export class R2Bucket {
  #bucket;
  constructor(proxy) {
    this.#bucket = proxy;
  }
  async head(key) {
    return copyObject(await this.#bucket.head(key));
  }
  async get(key, options) {
    const result = await this.#bucket.get(key, options);
    // A failed `onlyIf` condition answers with the object's metadata and no body.
    const hasBody = result !== null && typeof result === "object" && "bodyUsed" in result;
    return copyObject(result, { withBody: hasBody });
  }
  async put(key, value, options) {
    return copyObject(await this.#bucket.put(key, await bodyBytes(value), options));
  }
  delete(keys) {
    return this.#bucket.delete(keys);
  }
  async list(options) {
    const listed = await this.#bucket.list(options);
    return { ...listed, objects: listed.objects.map((o) => new R2Object(o)) };
  }
}

/**
 * Starts Miniflare with the stack's KV namespaces, D1 databases and R2 buckets, persisted under
 * `<stateDir>/{kv,d1,r2}`. Returns `{ bindings, d1ById, dispose }`.
 */
export async function startStorage(config) {
  const kvNamespaces = Object.fromEntries(config.kv.map((b) => [b.binding, b.id]));
  const d1Databases = Object.fromEntries(config.d1.map((b) => [b.binding, b.databaseId]));
  const r2Buckets = Object.fromEntries(config.r2.map((b) => [b.binding, b.bucketName]));
  const mf = new Miniflare({
    modules: true,
    script: STORAGE_SCRIPT,
    compatibilityDate: "2025-09-01",
    kvNamespaces,
    d1Databases,
    r2Buckets,
    kvPersist: path.join(config.stateDir, "kv"),
    d1Persist: path.join(config.stateDir, "d1"),
    r2Persist: path.join(config.stateDir, "r2"),
    host: "127.0.0.1",
    port: 0,
    log: undefined,
  });
  await mf.ready;
  const bindings = {};
  const d1ById = new Map();
  for (const { binding } of config.kv) bindings[binding] = new KvNamespace(await mf.getKVNamespace(binding));
  for (const { binding, databaseId, databaseName } of config.d1) {
    const db = new D1Database(async (op, body) => {
      const response = await mf.dispatchFetch(`http://storage/${binding}/${op}`, {
        method: "POST",
        body: JSON.stringify(body),
      });
      const payload = await response.json();
      if (payload.error) {
        const error = new Error(payload.error.message);
        error.name = payload.error.name;
        throw error;
      }
      return decodeValue(payload.result);
    });
    bindings[binding] = db;
    for (const key of [databaseId, databaseName, binding]) if (key) d1ById.set(key, db);
  }
  for (const { binding } of config.r2) bindings[binding] = new R2Bucket(await mf.getR2Bucket(binding));
  return { bindings, d1ById, dispose: () => mf.dispose() };
}
