// Local Vectorize index for `edgestack dev`: the Worker binding's API (V2 indexes), exact
// brute-force search, persisted as one JSON file per index under the state folder.
//
// Behaviour follows Cloudflare's documentation and the workerd binding source
// (src/cloudflare/internal/vectorize-api.ts); error texts are the service's own where they
// could be verified. See docs/local-bindings.md for sources and for what is approximated.

import { randomUUID } from "node:crypto";
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import path from "node:path";

const METRICS = new Set(["cosine", "euclidean", "dot-product"]);
const METADATA_TYPES = new Set(["string", "number", "boolean"]);
const MAX_DIMENSIONS = 1536;
const MAX_ID_BYTES = 64;
const MAX_NAMESPACE_BYTES = 64;
const MAX_METADATA_BYTES = 10 * 1024;
const MAX_INDEXED_STRING_BYTES = 64;
const MAX_UPSERT_BATCH = 1000;
const MAX_TOP_K = 100;
const MAX_TOP_K_WITH_VALUES_OR_ALL_METADATA = 20;
const MAX_GET_IDS = 20;
const MAX_DELETE_IDS = 100;
const MAX_FILTER_JSON_BYTES = 2048;
const MAX_FILTER_KEY_CHARS = 512;
const STATE_FORMAT = 1;

const EQUALITY_OPS = new Set(["$eq", "$ne", "$in", "$nin"]);
const UPPER_OPS = new Set(["$lt", "$lte"]);
const LOWER_OPS = new Set(["$gt", "$gte"]);

/**
 * The error the real binding throws when the service rejects an operation:
 * `${OP}_ERROR (code = N): text`, or `${OP}_ERROR: text` when the service sends no code.
 * Codes are only given where the live service's code is known (docs/local-bindings.md).
 */
function serviceError(operation, code, text) {
  const prefix = code === null ? `${operation}_ERROR` : `${operation}_ERROR (code = ${code})`;
  return new Error(`${prefix}: ${text}`, { cause: new Error(text) });
}

function byteLength(text) {
  return Buffer.byteLength(text, "utf8");
}

/** Longest prefix of `text` that fits in `maxBytes` UTF-8 bytes without splitting a character. */
function truncateUtf8(text, maxBytes) {
  if (byteLength(text) <= maxBytes) return text;
  let out = "";
  let used = 0;
  for (const ch of text) {
    const size = byteLength(ch);
    if (used + size > maxBytes) break;
    out += ch;
    used += size;
  }
  return out;
}

function isPlainObject(value) {
  return typeof value === "object" && value !== null && !Array.isArray(value) && !ArrayBuffer.isView(value);
}

function toNumberArray(values) {
  if (Array.isArray(values)) return values;
  if (values instanceof Float32Array || values instanceof Float64Array) return Array.from(values);
  return null;
}

function validateConfig(config) {
  if (!isPlainObject(config)) throw new TypeError("createVectorizeBinding: config must be an object");
  const { name, dimensions, metric = "cosine", metadataIndexes = {} } = config;
  if (typeof name !== "string" || !/^[a-z0-9][a-z0-9-]{0,62}$/.test(name)) {
    throw new TypeError(`createVectorizeBinding: name must be a Vectorize index name, got ${JSON.stringify(name)}`);
  }
  if (!Number.isInteger(dimensions) || dimensions < 1 || dimensions > MAX_DIMENSIONS) {
    throw new TypeError(
      `createVectorizeBinding: index ${name}: dimensions must be an integer from 1 to ${MAX_DIMENSIONS}, got ${dimensions}`,
    );
  }
  if (!METRICS.has(metric)) {
    throw new TypeError(
      `createVectorizeBinding: index ${name}: metric must be one of cosine, euclidean, dot-product, got ${JSON.stringify(metric)}`,
    );
  }
  if (!isPlainObject(metadataIndexes) || Object.keys(metadataIndexes).length > 10) {
    throw new TypeError(`createVectorizeBinding: index ${name}: metadataIndexes must map at most 10 properties to a type`);
  }
  for (const [property, type] of Object.entries(metadataIndexes)) {
    if (!METADATA_TYPES.has(type)) {
      throw new TypeError(
        `createVectorizeBinding: index ${name}: metadata index ${property} has type ${JSON.stringify(type)}; use string, number or boolean`,
      );
    }
  }
  return { name, dimensions, metric, metadataIndexes: { ...metadataIndexes } };
}

// ---------------------------------------------------------------------------------------------
// Vectors: float32 storage (the service stores float32; returned values show the rounding).

function encodeValues(float32) {
  return Buffer.from(float32.buffer, float32.byteOffset, float32.byteLength).toString("base64");
}

function decodeValues(base64, dimensions, file) {
  const bytes = Buffer.from(base64, "base64");
  if (bytes.length !== dimensions * 4) {
    throw new Error(`Vectorize state file ${file} is corrupt: a vector does not have ${dimensions} dimensions`);
  }
  const copy = new Uint8Array(bytes);
  return new Float32Array(copy.buffer);
}

function valueAtPath(metadata, dottedPath) {
  let current = metadata;
  for (const part of dottedPath.split(".")) {
    if (!isPlainObject(current) || !Object.hasOwn(current, part)) return undefined;
    current = current[part];
  }
  return current;
}

/** The values the metadata indexes hold for one vector, taken when it is written. */
function indexedValuesFor(metadata, metadataIndexes) {
  const indexed = {};
  if (!metadata) return indexed;
  for (const [property, type] of Object.entries(metadataIndexes)) {
    const value = valueAtPath(metadata, property);
    if (typeof value !== type) continue;
    if (type === "number" && !Number.isFinite(value)) continue;
    indexed[property] = type === "string" ? truncateUtf8(value, MAX_INDEXED_STRING_BYTES) : value;
  }
  return indexed;
}

// ---------------------------------------------------------------------------------------------
// Scores. Cosine: similarity, higher is closer. Euclidean: L2 distance, lower is closer.
// Dot-product: the negative dot product, lower is closer (Cloudflare's "Distance metrics" table).

function dot(a, b) {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += a[i] * b[i];
  return sum;
}

function scorer(metric, query) {
  if (metric === "cosine") {
    const queryNorm = Math.sqrt(dot(query, query));
    return (values) => {
      const denominator = queryNorm * Math.sqrt(dot(values, values));
      return denominator === 0 ? 0 : dot(query, values) / denominator;
    };
  }
  if (metric === "euclidean") {
    return (values) => {
      let sum = 0;
      for (let i = 0; i < values.length; i++) {
        const d = query[i] - values[i];
        sum += d * d;
      }
      return Math.sqrt(sum);
    };
  }
  return (values) => -dot(query, values);
}

function higherIsCloser(metric) {
  return metric === "cosine";
}

// ---------------------------------------------------------------------------------------------
// Metadata filter: validation (the documented rules) and evaluation against indexed values.

function filterError(text) {
  return serviceError("VECTOR_QUERY", null, `invalid filter: ${text}`);
}

function isScalar(value) {
  return value === null || ["string", "number", "boolean"].includes(typeof value);
}

function parseFilter(filter) {
  if (!isPlainObject(filter) || Object.keys(filter).length === 0) {
    throw filterError("filter must be a non-empty object");
  }
  const json = JSON.stringify(filter);
  if (byteLength(json) >= MAX_FILTER_JSON_BYTES) {
    throw filterError(`the filter's compact JSON must be less than ${MAX_FILTER_JSON_BYTES} bytes`);
  }
  const clauses = [];
  for (const [key, raw] of Object.entries(filter)) {
    if (key === "" || key.includes('"') || key.startsWith("$") || key.length > MAX_FILTER_KEY_CHARS) {
      throw filterError(
        `key ${JSON.stringify(key)} must be non-empty, at most ${MAX_FILTER_KEY_CHARS} characters, contain no '"' and not start with '$'`,
      );
    }
    const ops = isPlainObject(raw) ? Object.entries(raw) : [["$eq", raw]];
    if (ops.length === 0) throw filterError(`key ${key}: an operator object needs an operator`);
    const names = ops.map(([op]) => op);
    for (const op of names) {
      if (!EQUALITY_OPS.has(op) && !UPPER_OPS.has(op) && !LOWER_OPS.has(op)) {
        throw filterError(`key ${key}: unsupported operator ${JSON.stringify(op)}`);
      }
    }
    const equality = names.filter((op) => EQUALITY_OPS.has(op));
    const upper = names.filter((op) => UPPER_OPS.has(op));
    const lower = names.filter((op) => LOWER_OPS.has(op));
    if (equality.length > 1 || (equality.length === 1 && names.length > 1) || upper.length > 1 || lower.length > 1) {
      throw filterError(
        `key ${key}: operators ${names.join(", ")} cannot be combined (only one upper bound with one lower bound)`,
      );
    }
    for (const [op, operand] of ops) {
      if (op === "$eq" || op === "$ne") {
        if (!isScalar(operand)) throw filterError(`key ${key}: ${op} takes a string, number, boolean or null`);
      } else if (op === "$in" || op === "$nin") {
        if (!Array.isArray(operand) || !operand.every(isScalar)) {
          throw filterError(`key ${key}: ${op} takes an array of strings, numbers, booleans or nulls`);
        }
      } else if (!(typeof operand === "string" || (typeof operand === "number" && Number.isFinite(operand)))) {
        throw filterError(`key ${key}: ${op} takes a string or a number`);
      }
    }
    clauses.push({ key, ops });
  }
  return clauses;
}

function equalsIndexed(indexed, operand) {
  // A vector with no indexed value for the property equals only `null`.
  return operand === null ? indexed === undefined : indexed === operand;
}

function clauseMatches(indexed, { ops }) {
  for (const [op, operand] of ops) {
    switch (op) {
      case "$eq":
        if (!equalsIndexed(indexed, operand)) return false;
        break;
      case "$ne":
        if (equalsIndexed(indexed, operand)) return false;
        break;
      case "$in":
        if (!operand.some((item) => equalsIndexed(indexed, item))) return false;
        break;
      case "$nin":
        if (operand.some((item) => equalsIndexed(indexed, item))) return false;
        break;
      default: {
        if (typeof indexed !== typeof operand) return false;
        if (op === "$lt" && !(indexed < operand)) return false;
        if (op === "$lte" && !(indexed <= operand)) return false;
        if (op === "$gt" && !(indexed > operand)) return false;
        if (op === "$gte" && !(indexed >= operand)) return false;
      }
    }
  }
  return true;
}

// ---------------------------------------------------------------------------------------------

class LocalVectorizeIndex {
  #config;
  #file;
  #warn;
  #newMutationId;
  #vectors = new Map(); // id -> { id, namespace, values: Float32Array, metadata, indexed }
  #lastMutationId = null;
  #processedUpToDatetime = null;
  #loading = null;
  #writeChain = Promise.resolve();
  #warnedProperties = new Set();

  constructor(config, { stateDir, warn = () => {}, newMutationId = randomUUID }) {
    if (typeof stateDir !== "string" || stateDir === "") {
      throw new TypeError("createVectorizeBinding: deps.stateDir must be the state folder path");
    }
    this.#config = config;
    this.#file = path.join(stateDir, "vectorize", `${config.name}.json`);
    this.#warn = warn;
    this.#newMutationId = newMutationId;
  }

  get stateFile() {
    return this.#file;
  }

  #ready() {
    this.#loading ??= this.#load();
    return this.#loading;
  }

  async #load() {
    let text;
    try {
      text = await readFile(this.#file, "utf8");
    } catch (error) {
      if (error.code === "ENOENT") return;
      throw new Error(`cannot read Vectorize state file ${this.#file}: ${error.message}`);
    }
    let state;
    try {
      state = JSON.parse(text);
    } catch (error) {
      throw new Error(`Vectorize state file ${this.#file} is not valid JSON (${error.message}); delete it to start empty`);
    }
    const { name, dimensions, metric } = this.#config;
    if (state?.format !== STATE_FORMAT || !Array.isArray(state.vectors)) {
      throw new Error(`Vectorize state file ${this.#file} has an unknown format; delete it to start empty`);
    }
    if (state.dimensions !== dimensions || state.metric !== metric) {
      throw new Error(
        `Vectorize index ${name}: the state file ${this.#file} holds a ${state.dimensions}-dimension ${state.metric} index, ` +
          `but the stack declares ${dimensions} dimensions and ${metric}; an index's dimensions and metric cannot change ` +
          `(as on Cloudflare), so delete that file to recreate the index`,
      );
    }
    for (const stored of state.vectors) {
      this.#vectors.set(stored.id, {
        id: stored.id,
        namespace: stored.namespace,
        values: decodeValues(stored.values, dimensions, this.#file),
        metadata: stored.metadata,
        indexed: stored.indexed ?? {},
      });
    }
    this.#lastMutationId = state.lastMutationId ?? null;
    this.#processedUpToDatetime = state.processedUpToDatetime ?? null;
  }

  #snapshot(vectors, lastMutationId, processedUpToDatetime) {
    return JSON.stringify({
      format: STATE_FORMAT,
      name: this.#config.name,
      dimensions: this.#config.dimensions,
      metric: this.#config.metric,
      lastMutationId,
      processedUpToDatetime,
      vectors: [...vectors.values()].map((v) => ({
        id: v.id,
        ...(v.namespace === undefined ? {} : { namespace: v.namespace }),
        values: encodeValues(v.values),
        ...(v.metadata === undefined ? {} : { metadata: v.metadata }),
        indexed: v.indexed,
      })),
    });
  }

  /** Writes a snapshot atomically: temp file, then rename over the state file. */
  async #writeAtomically(text) {
    const temp = `${this.#file}.${process.pid}.${randomUUID()}.tmp`;
    try {
      await mkdir(path.dirname(this.#file), { recursive: true });
      await writeFile(temp, text, "utf8");
      await rename(temp, this.#file);
    } catch (error) {
      await rm(temp, { force: true }).catch(() => {});
      throw new Error(`cannot write Vectorize state file ${this.#file}: ${error.message}`);
    }
  }

  /**
   * Applies a mutation to a copy of the index, persists the copy, then makes it current, so a
   * failed write changes nothing. Mutations run one at a time, in call order.
   */
  #commit(apply) {
    const run = async () => {
      await this.#ready();
      const next = new Map(this.#vectors);
      apply(next);
      const mutationId = this.#newMutationId();
      const processedUpToDatetime = new Date().toISOString();
      await this.#writeAtomically(this.#snapshot(next, mutationId, processedUpToDatetime));
      this.#vectors = next;
      this.#lastMutationId = mutationId;
      this.#processedUpToDatetime = processedUpToDatetime;
      return { mutationId };
    };
    const result = this.#writeChain.then(run, run);
    this.#writeChain = result.catch(() => {});
    return result;
  }

  #prepareVectors(operation, vectors) {
    if (!Array.isArray(vectors)) {
      throw new TypeError(`${operation.toLowerCase()}(): vectors must be an array of { id, values, namespace?, metadata? }`);
    }
    if (vectors.length > MAX_UPSERT_BATCH) {
      throw serviceError(operation, null, `too many vectors in payload; max is ${MAX_UPSERT_BATCH}, got ${vectors.length}`);
    }
    const { dimensions, metadataIndexes } = this.#config;
    return vectors.map((vector) => {
      if (!isPlainObject(vector)) throw new TypeError(`${operation.toLowerCase()}(): each vector must be an object`);
      const { id, namespace, metadata } = vector;
      if (typeof id !== "string" || id === "") {
        throw serviceError(operation, null, `invalid vector id ${JSON.stringify(id)}; ids are non-empty strings`);
      }
      if (byteLength(id) > MAX_ID_BYTES) {
        throw serviceError(operation, 40008, `id too long; max is ${MAX_ID_BYTES} bytes, got ${byteLength(id)} bytes`);
      }
      const values = toNumberArray(vector.values);
      const got = values === null ? 0 : values.length;
      if (got !== dimensions) {
        throw serviceError(
          operation,
          40012,
          `invalid vector for id="${id}", expected ${dimensions} dimensions, and got ${got} dimensions`,
        );
      }
      if (!values.every((x) => typeof x === "number" && Number.isFinite(x))) {
        throw serviceError(operation, null, `invalid vector for id="${id}", values must be finite numbers`);
      }
      if (namespace !== undefined) {
        if (typeof namespace !== "string") throw serviceError(operation, null, `invalid namespace for id="${id}"`);
        if (byteLength(namespace) > MAX_NAMESPACE_BYTES) {
          throw serviceError(operation, null, `namespace too long for id="${id}"; max is ${MAX_NAMESPACE_BYTES} bytes`);
        }
      }
      if (metadata !== undefined) {
        if (!isPlainObject(metadata)) throw serviceError(operation, null, `metadata for id="${id}" must be an object`);
        const size = byteLength(JSON.stringify(metadata));
        if (size > MAX_METADATA_BYTES) {
          throw serviceError(
            operation,
            null,
            `metadata too large for id="${id}"; max is ${MAX_METADATA_BYTES} bytes, got ${size} bytes`,
          );
        }
      }
      const copiedMetadata = metadata === undefined ? undefined : structuredClone(metadata);
      return {
        id,
        namespace,
        values: Float32Array.from(values),
        metadata: copiedMetadata,
        indexed: indexedValuesFor(copiedMetadata, metadataIndexes),
      };
    });
  }

  async insert(vectors) {
    const prepared = this.#prepareVectors("VECTOR_INSERT", vectors);
    return this.#commit((vectors) => {
      // Vectors whose id already exists are skipped, not overwritten.
      for (const vector of prepared) if (!vectors.has(vector.id)) vectors.set(vector.id, vector);
    });
  }

  async upsert(vectors) {
    const prepared = this.#prepareVectors("VECTOR_UPSERT", vectors);
    return this.#commit((vectors) => {
      for (const vector of prepared) vectors.set(vector.id, vector);
    });
  }

  #checkIds(operation, ids, max) {
    if (!Array.isArray(ids) || !ids.every((id) => typeof id === "string")) {
      throw new TypeError(`${operation === "VECTOR_GET" ? "getByIds" : "deleteByIds"}(): ids must be an array of strings`);
    }
    if (ids.length > max) {
      const suffix = operation === "VECTOR_DELETE" ? `, got ${ids.length}` : "";
      throw serviceError(operation, 40007, `too many ids in payload; max id count is ${max}${suffix}`);
    }
  }

  async getByIds(ids) {
    this.#checkIds("VECTOR_GET", ids, MAX_GET_IDS);
    await this.#ready();
    const out = [];
    for (const id of new Set(ids)) {
      const vector = this.#vectors.get(id);
      if (!vector) continue;
      out.push({
        id,
        values: Array.from(vector.values),
        ...(vector.namespace === undefined ? {} : { namespace: vector.namespace }),
        metadata: vector.metadata === undefined ? {} : structuredClone(vector.metadata),
      });
    }
    return out;
  }

  async deleteByIds(ids) {
    this.#checkIds("VECTOR_DELETE", ids, MAX_DELETE_IDS);
    return this.#commit((vectors) => {
      for (const id of ids) vectors.delete(id);
    });
  }

  async describe() {
    await this.#ready();
    return {
      vectorCount: this.#vectors.size,
      dimensions: this.#config.dimensions,
      processedUpToDatetime: this.#processedUpToDatetime,
      processedUpToMutation: this.#lastMutationId,
    };
  }

  async query(vector, options) {
    const values = toNumberArray(vector);
    const got = values === null ? 0 : values.length;
    if (got !== this.#config.dimensions) {
      throw serviceError(
        "VECTOR_QUERY",
        40006,
        `invalid query vector, expected ${this.#config.dimensions} dimensions, and got ${got} dimensions`,
      );
    }
    if (!values.every((x) => typeof x === "number" && Number.isFinite(x))) {
      throw serviceError("VECTOR_QUERY", null, "invalid query vector, values must be finite numbers");
    }
    const query = this.#parseQueryOptions(options);
    await this.#ready();
    return this.#search(Float32Array.from(values), query);
  }

  async queryById(vectorId, options) {
    if (typeof vectorId !== "string") throw new TypeError("queryById(): vectorId must be a string");
    const query = this.#parseQueryOptions(options);
    await this.#ready();
    const source = this.#vectors.get(vectorId);
    if (!source) return { count: 0, matches: [] };
    return this.#search(source.values, query);
  }

  #parseQueryOptions(options = {}) {
    if (!isPlainObject(options)) throw new TypeError("query(): options must be an object");
    let { returnMetadata } = options;
    // As the workerd binding does: `true` becomes "all"; other falsy values reach the service as
    // they are, and the service accepts only the three strings.
    if (returnMetadata) {
      if (typeof returnMetadata !== "boolean" && !["none", "indexed", "all"].includes(returnMetadata)) {
        throw new Error(
          `Invalid returnMetadata option. Expected: true, false, "none", "indexed" or "all"; got: ${returnMetadata}`,
        );
      }
      if (returnMetadata === true) returnMetadata = "all";
    } else if (returnMetadata !== undefined) {
      throw serviceError("VECTOR_QUERY", 40026, "Failed to parse the request body as JSON: returnMetadata: expected value");
    }
    returnMetadata ??= "none";

    const { topK = 5, returnValues = false, namespace, filter } = options;
    if (!Number.isInteger(topK) || topK < 1) {
      throw serviceError("VECTOR_QUERY", null, `invalid top K ${JSON.stringify(topK)}; top K must be a positive integer`);
    }
    if (typeof returnValues !== "boolean") {
      throw serviceError("VECTOR_QUERY", 40026, "Failed to parse the request body as JSON: returnValues: expected a boolean");
    }
    if (returnValues || returnMetadata === "all") {
      if (topK > MAX_TOP_K_WITH_VALUES_OR_ALL_METADATA) {
        throw serviceError(
          "VECTOR_QUERY",
          40025,
          `with returnValues=true or returnMetadata=all, max top K is ${MAX_TOP_K_WITH_VALUES_OR_ALL_METADATA}, but got ${topK}; ` +
            `for a top K up to ${MAX_TOP_K}, retry with returnValues=false and returnMetadata=indexed`,
        );
      }
    } else if (topK > MAX_TOP_K) {
      throw serviceError("VECTOR_QUERY", null, `max top K is ${MAX_TOP_K}, but got ${topK}`);
    }
    if (namespace !== undefined && typeof namespace !== "string") {
      throw serviceError("VECTOR_QUERY", null, "invalid namespace; a namespace is a string");
    }
    const clauses = filter === undefined ? [] : parseFilter(filter);
    for (const { key } of clauses) this.#warnIfNotIndexed(key);
    return { topK, returnValues, returnMetadata, namespace, clauses };
  }

  #warnIfNotIndexed(property) {
    if (Object.hasOwn(this.#config.metadataIndexes, property) || this.#warnedProperties.has(property)) return;
    this.#warnedProperties.add(property);
    this.#warn(
      `Vectorize index ${this.#config.name}: the filter uses "${property}", which has no metadata index; ` +
        `as on Cloudflare, vectors only match on indexed properties (declare it under metadata_indexes)`,
    );
  }

  #search(queryValues, { topK, returnValues, returnMetadata, namespace, clauses }) {
    const score = scorer(this.#config.metric, queryValues);
    const indexes = this.#config.metadataIndexes;
    const candidates = [];
    for (const vector of this.#vectors.values()) {
      if (namespace !== undefined && vector.namespace !== namespace) continue;
      const matchesFilter = clauses.every((clause) => {
        const indexed = Object.hasOwn(indexes, clause.key) ? vector.indexed[clause.key] : undefined;
        return clauseMatches(indexed, clause);
      });
      if (matchesFilter) candidates.push({ vector, score: score(vector.values) });
    }
    const direction = higherIsCloser(this.#config.metric) ? -1 : 1;
    candidates.sort((a, b) => direction * (a.score - b.score) || (a.vector.id < b.vector.id ? -1 : 1));
    const matches = candidates.slice(0, topK).map(({ vector, score: value }) => {
      const match = { id: vector.id, score: value };
      if (vector.namespace !== undefined) match.namespace = vector.namespace;
      if (returnValues) match.values = Array.from(vector.values);
      if (returnMetadata === "all") match.metadata = vector.metadata === undefined ? {} : structuredClone(vector.metadata);
      if (returnMetadata === "indexed") {
        match.metadata = Object.fromEntries(Object.entries(vector.indexed).filter(([key]) => Object.hasOwn(indexes, key)));
      }
      return match;
    });
    return { count: matches.length, matches };
  }

  /** Waits for pending writes (for a clean shutdown). */
  async flush() {
    await this.#writeChain;
  }
}

/**
 * Creates one local Vectorize index for the host: `{ binding, stateFile, flush() }`.
 *
 * config: { name, dimensions, metric = "cosine", metadataIndexes = {} } (VectorizeIndexSpec).
 * deps:   { stateDir, warn?(message), newMutationId?() }.
 * `binding` is the `env.<BINDING>` object with the Worker binding's methods: insert, upsert,
 * query, queryById, getByIds, deleteByIds, describe. State lives in
 * `<stateDir>/vectorize/<name>.json`; `flush()` waits for pending writes.
 */
export function createVectorizeIndex(config, deps = {}) {
  const index = new LocalVectorizeIndex(validateConfig(config), deps);
  const binding = {
    insert: (vectors) => index.insert(vectors),
    upsert: (vectors) => index.upsert(vectors),
    query: (vector, options) => index.query(vector, options),
    queryById: (vectorId, options) => index.queryById(vectorId, options),
    getByIds: (ids) => index.getByIds(ids),
    deleteByIds: (ids) => index.deleteByIds(ids),
    describe: () => index.describe(),
  };
  return { binding, stateFile: index.stateFile, flush: () => index.flush() };
}

/** The `env.<BINDING>` object alone (see createVectorizeIndex). */
export function createVectorizeBinding(config, deps = {}) {
  return createVectorizeIndex(config, deps).binding;
}
