// KV, D1 and R2 for the local runtime: Miniflare's real implementations (workerd), persisted under
// the state folder, reached from Node through Miniflare's binding proxies.
//
// The proxies answer every property name (their `constructor` is not the binding's class), so each
// is wrapped in a small class carrying the binding's real JS class name (`KvNamespace`,
// `D1Database`, `R2Bucket`): the workers SDK's env wrapper recognises bindings by that name.

import path from "node:path";
import { Miniflare } from "miniflare";

const STORAGE_SCRIPT = 'export default { fetch() { return new Response("edgestack storage") } }';

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

export class D1PreparedStatement {
  constructor(proxy) {
    this.proxy = proxy;
  }
  bind(...values) {
    return new D1PreparedStatement(this.proxy.bind(...values));
  }
  first(column) {
    return column === undefined ? this.proxy.first() : this.proxy.first(column);
  }
  all() {
    return this.proxy.all();
  }
  run() {
    return this.proxy.run();
  }
  raw(options) {
    return this.proxy.raw(options);
  }
}

export class D1Database {
  #db;
  constructor(proxy) {
    this.#db = proxy;
  }
  prepare(query) {
    return new D1PreparedStatement(this.#db.prepare(query));
  }
  batch(statements) {
    return this.#db.batch(Array.from(statements, (s) => (s instanceof D1PreparedStatement ? s.proxy : s)));
  }
  exec(query) {
    return this.#db.exec(query);
  }
  dump() {
    return this.#db.dump();
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
    const db = new D1Database(await mf.getD1Database(binding));
    bindings[binding] = db;
    for (const key of [databaseId, databaseName, binding]) if (key) d1ById.set(key, db);
  }
  for (const { binding } of config.r2) bindings[binding] = new R2Bucket(await mf.getR2Bucket(binding));
  return { bindings, d1ById, dispose: () => mf.dispose() };
}
