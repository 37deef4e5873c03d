// The host's configuration, written as JSON by `infra/dev` (see infra/dev/host_config.py).
// Validated here so a bad file gives one clear line instead of a crash deep in the host.

import { readFileSync } from "node:fs";
import { HostError } from "./control.mjs";

const PYODIDE_LINES = new Set(["314", "0.28"]);

function fail(path, message) {
  throw new HostError(`host config ${path}: ${message}`, { code: "bad_config" });
}

function expectType(path, value, type) {
  const actual = Array.isArray(value) ? "array" : value === null ? "null" : typeof value;
  if (actual !== type) fail(path, `expected ${type}, got ${actual}`);
  return value;
}

function stringMap(path, value) {
  expectType(path, value, "object");
  for (const [key, item] of Object.entries(value)) expectType(`${path}.${key}`, item, "string");
  return value;
}

function list(path, value, fields) {
  expectType(path, value, "array");
  value.forEach((item, i) => {
    expectType(`${path}[${i}]`, item, "object");
    for (const [field, type] of Object.entries(fields)) expectType(`${path}[${i}].${field}`, item[field], type);
  });
  return value;
}

export function loadHostConfig(file) {
  let raw;
  try {
    raw = JSON.parse(readFileSync(file, "utf8"));
  } catch (error) {
    throw new HostError(`cannot read host config ${file}: ${error.message}`, { code: "bad_config" });
  }
  expectType("$", raw, "object");
  expectType("host", raw.host, "string");
  if (raw.host !== "127.0.0.1") fail("host", "the local runtime only listens on 127.0.0.1");
  expectType("port", raw.port, "number");
  if (!Number.isInteger(raw.port) || raw.port < 0 || raw.port > 65535) fail("port", `invalid port ${raw.port}`);
  expectType("stateDir", raw.stateDir, "string");
  expectType("bundleDir", raw.bundleDir, "string");
  expectType("sourceLabel", raw.sourceLabel, "string");
  expectType("mainModule", raw.mainModule, "string");
  expectType("pyodideLine", raw.pyodideLine, "string");
  if (!PYODIDE_LINES.has(raw.pyodideLine)) fail("pyodideLine", `unknown Pyodide line ${raw.pyodideLine}`);
  expectType("scriptName", raw.scriptName, "string");
  expectType("compatibilityDate", raw.compatibilityDate, "string");
  expectType("compatibilityFlags", raw.compatibilityFlags, "array");
  stringMap("vars", raw.vars);
  stringMap("secrets", raw.secrets);
  stringMap("backends", raw.backends);
  stringMap("mapHosts", raw.mapHosts);
  for (const [name, target] of Object.entries(raw.mapHosts)) {
    if (!/^http:\/\/(127\.0\.0\.1|localhost|\[::1\]):\d{1,5}$/.test(target)) fail(`mapHosts.${name}`, "must be http://127.0.0.1:PORT");
  }
  list("kv", raw.kv, { binding: "string", id: "string" });
  list("d1", raw.d1, { binding: "string", databaseId: "string" });
  list("r2", raw.r2, { binding: "string", bucketName: "string" });
  list("durableObjects", raw.durableObjects, { binding: "string", className: "string" });
  list("vectorize", raw.vectorize, { binding: "string", name: "string", dimensions: "number" });
  list("rateLimits", raw.rateLimits, { binding: "string", limit: "number", period: "number" });
  list("queues", raw.queues, { binding: "string", name: "string" });
  if (raw.ai !== null) list("ai", [raw.ai], { binding: "string" });
  expectType("admin", raw.admin, "object");
  expectType("admin.token", raw.admin.token, "string");
  expectType("accountId", raw.accountId, "string");
  expectType("limits", raw.limits, "object");
  for (const field of ["maxBodyBytes", "headersTimeoutMs", "requestTimeoutMs"]) {
    const value = expectType(`limits.${field}`, raw.limits[field], "number");
    if (!Number.isInteger(value) || value < 1) fail(`limits.${field}`, `expected a positive integer, got ${value}`);
  }
  if (raw.limits.headersTimeoutMs > raw.limits.requestTimeoutMs) {
    fail("limits.headersTimeoutMs", "must not exceed limits.requestTimeoutMs");
  }
  return raw;
}
