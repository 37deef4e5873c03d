// A Durable Object's SQLite-backed storage (`ctx.storage`): the key-value API and `sql.exec`, over
// one SQLite file per object (better-sqlite3). Values of the key-value API are stored structured-
// cloned (v8 serialization), as Cloudflare stores them, in a table the `sql` API may not touch.

import { mkdirSync } from "node:fs";
import path from "node:path";
import { deserialize, serialize } from "node:v8";
import Database from "better-sqlite3";

const MAX_KEY_BYTES = 2048;
const MAX_KEYS_PER_CALL = 128;
const RESERVED_PREFIX = /(^|[^A-Za-z0-9_])_cf_/i;

function checkKey(key) {
  if (typeof key !== "string") throw new TypeError("Durable Object storage keys must be strings");
  if (Buffer.byteLength(key) > MAX_KEY_BYTES) throw new RangeError(`Keys cannot be larger than ${MAX_KEY_BYTES} bytes.`);
  return key;
}

function checkKeys(keys) {
  const list = Array.from(keys, checkKey);
  if (list.length > MAX_KEYS_PER_CALL) throw new RangeError(`Maximum number of keys is ${MAX_KEYS_PER_CALL}.`);
  return list;
}

function toSqlValue(value) {
  if (value === undefined || value === null) return null;
  if (typeof value === "boolean") return value ? 1 : 0;
  if (value instanceof ArrayBuffer) return Buffer.from(value);
  if (ArrayBuffer.isView(value)) return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  if (typeof value === "number" || typeof value === "string" || typeof value === "bigint") return value;
  throw new TypeError(`Unsupported type of value in sql.exec binding: ${Object.prototype.toString.call(value)}`);
}

function fromSqlValue(value) {
  if (Buffer.isBuffer(value)) return value.buffer.slice(value.byteOffset, value.byteOffset + value.byteLength);
  return value;
}

/** Splits SQL at top-level `;` (outside quotes, comments and CREATE TRIGGER ... END bodies). */
export function splitSql(sql) {
  const out = [];
  let start = 0;
  let depth = 0; // BEGIN ... END nesting inside CREATE TRIGGER
  let i = 0;
  const word = /[A-Za-z_]+/y;
  while (i < sql.length) {
    const ch = sql[i];
    if (ch === "-" && sql[i + 1] === "-") {
      const nl = sql.indexOf("\n", i);
      i = nl < 0 ? sql.length : nl + 1;
    } else if (ch === "/" && sql[i + 1] === "*") {
      const close = sql.indexOf("*/", i + 2);
      i = close < 0 ? sql.length : close + 2;
    } else if (ch === "'" || ch === '"' || ch === "`" || ch === "[") {
      const closer = ch === "[" ? "]" : ch;
      let j = i + 1;
      for (;;) {
        const k = sql.indexOf(closer, j);
        if (k < 0) {
          j = sql.length;
          break;
        }
        if (closer !== "]" && sql[k + 1] === closer) {
          j = k + 2;
          continue;
        }
        j = k + 1;
        break;
      }
      i = j;
    } else if (/[A-Za-z_]/.test(ch)) {
      word.lastIndex = i;
      const token = word.exec(sql)[0];
      const upper = token.toUpperCase();
      if (upper === "BEGIN" && /\bTRIGGER\b/i.test(sql.slice(start, i))) depth += 1;
      else if (upper === "END" && depth > 0) depth -= 1;
      i += token.length;
    } else if (ch === ";" && depth === 0) {
      const text = sql.slice(start, i).trim();
      if (text && !isOnlyComments(text)) out.push(text);
      start = i + 1;
      i += 1;
    } else {
      i += 1;
    }
  }
  const tail = sql.slice(start).trim();
  if (tail && !isOnlyComments(tail)) out.push(tail);
  return out;
}

function isOnlyComments(text) {
  return text.replace(/--[^\n]*(\n|$)/g, "").replace(/\/\*[\s\S]*?\*\//g, "").trim() === "";
}

export class SqlStorageCursor {
  #rows;
  #columns;
  #index = 0;
  constructor(columns, rows, rowsRead, rowsWritten) {
    this.#columns = columns;
    this.#rows = rows;
    this.rowsRead = rowsRead;
    this.rowsWritten = rowsWritten;
  }
  get columnNames() {
    return [...this.#columns];
  }
  next() {
    if (this.#index >= this.#rows.length) return { done: true, value: undefined };
    return { done: false, value: this.#object(this.#rows[this.#index++]) };
  }
  toArray() {
    const out = [];
    for (let r = this.next(); !r.done; r = this.next()) out.push(r.value);
    return out;
  }
  one() {
    const rest = this.#rows.length - this.#index;
    if (rest === 0) throw new Error("Expected exactly one result from SQL query, but got no results.");
    if (rest > 1) throw new Error("Expected exactly one result from SQL query, but got multiple results.");
    return this.next().value;
  }
  raw() {
    const cursor = this;
    return {
      next() {
        if (cursor.#index >= cursor.#rows.length) return { done: true, value: undefined };
        return { done: false, value: cursor.#rows[cursor.#index++].map(fromSqlValue) };
      },
      toArray() {
        const out = [];
        for (let r = this.next(); !r.done; r = this.next()) out.push(r.value);
        return out;
      },
      [Symbol.iterator]() {
        return this;
      },
    };
  }
  #object(row) {
    const out = {};
    this.#columns.forEach((name, i) => {
      out[name] = fromSqlValue(row[i]);
    });
    return out;
  }
  [Symbol.iterator]() {
    return this;
  }
}

export class SqlStorage {
  #db;
  constructor(db) {
    this.#db = db;
  }
  exec(query, ...bindings) {
    if (typeof query !== "string") throw new TypeError("sql.exec() expects a SQL string");
    if (RESERVED_PREFIX.test(query)) {
      throw new Error("not authorized: access to tables prefixed with _cf_ is reserved (SQLITE_AUTH)");
    }
    const statements = splitSql(query);
    if (statements.length === 0) return new SqlStorageCursor([], [], 0, 0);
    let written = 0;
    for (const text of statements.slice(0, -1)) written += this.#db.prepare(text).run().changes;
    const stmt = this.#db.prepare(statements.at(-1));
    const values = bindings.map(toSqlValue);
    if (stmt.reader) {
      const columns = stmt.columns().map((c) => c.name);
      const rows = stmt.raw(true).all(...values);
      return new SqlStorageCursor(columns, rows, rows.length, written);
    }
    const info = stmt.run(...values);
    return new SqlStorageCursor([], [], 0, written + info.changes);
  }
  get databaseSize() {
    const { page_count: pages } = this.#db.prepare("PRAGMA page_count").get();
    const { page_size: size } = this.#db.prepare("PRAGMA page_size").get();
    return pages * size;
  }
}

export class DurableObjectStorage {
  #db;
  #alarms;
  #statements;
  constructor(file, alarms) {
    mkdirSync(path.dirname(file), { recursive: true });
    this.#db = new Database(file);
    this.#db.pragma("journal_mode = WAL");
    this.#db.pragma("synchronous = NORMAL");
    this.#db.exec(`
      CREATE TABLE IF NOT EXISTS _cf_KV (key TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS _cf_METADATA (key TEXT PRIMARY KEY, value) WITHOUT ROWID;
    `);
    this.#alarms = alarms;
    this.#statements = {
      get: this.#db.prepare("SELECT value FROM _cf_KV WHERE key = ?"),
      put: this.#db.prepare("INSERT INTO _cf_KV (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value"),
      delete: this.#db.prepare("DELETE FROM _cf_KV WHERE key = ?"),
      getMeta: this.#db.prepare("SELECT value FROM _cf_METADATA WHERE key = ?"),
      putMeta: this.#db.prepare("INSERT INTO _cf_METADATA (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value"),
      deleteMeta: this.#db.prepare("DELETE FROM _cf_METADATA WHERE key = ?"),
    };
    this.sql = new SqlStorage(this.#db);
  }

  #read(key) {
    const row = this.#statements.get.get(key);
    return row === undefined ? undefined : deserialize(row.value);
  }

  async get(keys) {
    if (Array.isArray(keys)) {
      const out = new Map();
      for (const key of checkKeys(keys).sort()) {
        const value = this.#read(key);
        if (value !== undefined) out.set(key, value);
      }
      return out;
    }
    return this.#read(checkKey(keys));
  }

  async put(keyOrEntries, value) {
    if (typeof keyOrEntries === "string") {
      if (value === undefined) throw new TypeError("put() requires a value; use delete() to remove a key");
      this.#statements.put.run(checkKey(keyOrEntries), serialize(value));
      return;
    }
    const entries = keyOrEntries instanceof Map ? [...keyOrEntries.entries()] : Object.entries(keyOrEntries ?? {});
    checkKeys(entries.map(([key]) => key));
    const encoded = entries.map(([key, item]) => [key, serialize(item)]);
    this.#db.transaction(() => {
      for (const [key, blob] of encoded) this.#statements.put.run(key, blob);
    })();
  }

  async delete(keys) {
    if (Array.isArray(keys)) {
      const list = checkKeys(keys);
      return this.#db.transaction(() => list.reduce((n, key) => n + this.#statements.delete.run(key).changes, 0))();
    }
    return this.#statements.delete.run(checkKey(keys)).changes > 0;
  }

  async deleteAll() {
    this.#db.exec("DELETE FROM _cf_KV");
    for (const { name } of this.#db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '\\_cf\\_%' ESCAPE '\\' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'").all()) {
      this.#db.exec(`DROP TABLE IF EXISTS "${name.replaceAll('"', '""')}"`);
    }
    await this.deleteAlarm();
  }

  async list(options = {}) {
    const { start, startAfter, end, prefix, reverse = false, limit } = options ?? {};
    if (start !== undefined && startAfter !== undefined) throw new TypeError("list() cannot take both start and startAfter");
    const where = [];
    const params = [];
    const bound = [
      ["key >= ?", start],
      ["key > ?", startAfter],
      ["key < ?", end],
    ];
    for (const [clause, value] of bound) {
      if (value === undefined) continue;
      where.push(clause);
      params.push(checkKey(value));
    }
    if (prefix !== undefined && prefix !== "") {
      where.push("substr(key, 1, ?) = ?");
      params.push(prefix.length, prefix);
    }
    if (limit !== undefined && (!Number.isInteger(limit) || limit <= 0)) throw new RangeError("list() limit must be a positive integer");
    const sql = `SELECT key, value FROM _cf_KV ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY key ${reverse ? "DESC" : "ASC"} ${limit ? `LIMIT ${limit}` : ""}`;
    return new Map(this.#db.prepare(sql).all(...params).map((row) => [row.key, deserialize(row.value)]));
  }

  async getAlarm() {
    const row = this.#statements.getMeta.get("alarm");
    return row === undefined || row.value === null ? null : Number(row.value);
  }

  async setAlarm(scheduledTime) {
    const time = scheduledTime instanceof Date ? scheduledTime.getTime() : Number(scheduledTime);
    if (!Number.isFinite(time)) throw new TypeError("setAlarm() expects a Date or milliseconds since the epoch");
    this.#statements.putMeta.run("alarm", Math.trunc(time));
    this.#alarms.scheduled(Math.trunc(time));
  }

  async deleteAlarm() {
    this.#statements.deleteMeta.run("alarm");
    this.#alarms.cancelled();
  }

  async sync() {}

  transactionSync(closure) {
    return this.#db.transaction(closure)();
  }

  async transaction(closure) {
    this.#db.exec("SAVEPOINT edgestack_txn");
    let rolledBack = false;
    const txn = Object.create(this);
    txn.rollback = () => {
      rolledBack = true;
    };
    try {
      const result = await closure(txn);
      this.#db.exec(rolledBack ? "ROLLBACK TO edgestack_txn; RELEASE edgestack_txn" : "RELEASE edgestack_txn");
      return result;
    } catch (error) {
      this.#db.exec("ROLLBACK TO edgestack_txn; RELEASE edgestack_txn");
      throw error;
    }
  }

  close() {
    if (this.#db.open) this.#db.close();
  }
}
