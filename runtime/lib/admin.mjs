// Local-only admin API under /__edgestack/: the Cloudflare REST endpoint for D1 queries, in the same
// shape as `POST /client/v4/accounts/{account_id}/d1/database/{database_id}/query`, so
// `edgestack dev` applies migrations with the same runner and client as `pulumi up`.
// `POST /__edgestack/ready` is the session's signal that the migrations are applied (see host.mjs).
// Requests need `Authorization: Bearer <token>` with the token the host was started with, except
// `GET /__edgestack/status`.

import { timingSafeEqual } from "node:crypto";
import { splitSql } from "./do-storage.mjs";
import { jsonResponse } from "./http-bridge.mjs";

export const ADMIN_PREFIX = "/__edgestack";
const D1_QUERY = /^\/__edgestack\/client\/v4\/accounts\/([^/]+)\/d1\/database\/([^/]+)\/query$/;

function envelope(status, errors, result = null) {
  return jsonResponse(status, { success: errors.length === 0, errors, messages: [], result });
}

function error(status, code, message) {
  return envelope(status, [{ code, message }]);
}

function authorized(request, token) {
  const given = Buffer.from(request.headers.get("authorization") ?? "");
  const expected = Buffer.from(`Bearer ${token}`);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

async function readQuery(request) {
  let body;
  try {
    body = await request.json();
  } catch {
    return { problem: "request body is not JSON" };
  }
  if (body === null || typeof body !== "object" || Array.isArray(body)) return { problem: "request body must be a JSON object" };
  if (typeof body.sql !== "string" || body.sql.trim() === "") return { problem: "`sql` must be a non-empty string" };
  const params = body.params ?? [];
  if (!Array.isArray(params)) return { problem: "`params` must be an array" };
  return { sql: body.sql, params };
}

export async function handleAdmin(request, { token, accountId, d1ById, status, markReady }) {
  const url = new URL(request.url);
  if (url.pathname === `${ADMIN_PREFIX}/status` && request.method === "GET") return jsonResponse(200, status());
  if (!authorized(request, token)) return error(401, 10000, "Authentication error");
  if (url.pathname === `${ADMIN_PREFIX}/ready`) {
    if (request.method !== "POST") return error(405, 10405, `Method ${request.method} not allowed; use POST`);
    if (!markReady()) return error(409, 10409, `the runtime is ${status().state}, not waiting for migrations`);
    return envelope(200, [], { state: status().state, timings: status().timings });
  }
  const match = D1_QUERY.exec(url.pathname);
  if (!match) return error(404, 7003, `No route for ${request.method} ${url.pathname}`);
  if (request.method !== "POST") return error(405, 10405, `Method ${request.method} not allowed; use POST`);
  const [, account, databaseId] = match.map(decodeURIComponent);
  if (account !== accountId) return error(404, 7003, `Could not route to account ${account}: the local runtime serves ${accountId}`);
  const db = d1ById.get(databaseId);
  if (!db) return error(404, 7404, `The database ${databaseId} could not be found`);
  const query = await readQuery(request);
  if (query.problem) return error(400, 7400, query.problem);
  const statements = splitSql(query.sql);
  if (statements.length > 1 && query.params.length > 0) {
    return error(400, 7400, "`params` can only be used with a single SQL statement");
  }
  if (statements.length === 0) return envelope(200, [], []);
  try {
    // One batch: D1 runs it as one transaction, so a failing statement rolls back the others.
    const results = await db.batch(statements.map((text) => db.prepare(text).bind(...query.params)));
    return envelope(
      200,
      [],
      results.map((r) => ({ results: r.results ?? [], success: true, meta: r.meta ?? {} })),
    );
  } catch (cause) {
    const message = String(cause?.message ?? cause).replace(/^D1_ERROR: /, "");
    return error(400, 7500, message);
  }
}
