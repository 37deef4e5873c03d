// Node's HTTP server <-> the Fetch API objects the Worker sees (Request in, Response out).

import { Readable, Transform } from "node:stream";

export class BadRequest extends Error {}
/** A body over the host's limit: announced by `content-length` (refused before reading) or sent chunked. */
export class PayloadTooLarge extends Error {}

const BODYLESS = new Set(["GET", "HEAD"]);

/** The TCP peer's address, IPv4-mapped IPv6 (`::ffff:1.2.3.4`) shown as IPv4. */
export function peerAddress(socket) {
  return socket.remoteAddress?.replace(/^::ffff:/, "") ?? "127.0.0.1";
}

/** The body stream, cut with an error once more than `maxBytes` arrived (bodies without content-length). */
function capped(req, maxBytes) {
  let seen = 0;
  const cap = new Transform({
    transform(chunk, _encoding, done) {
      seen += chunk.length;
      if (seen > maxBytes) {
        req.destroy();
        done(new PayloadTooLarge(`the body is over ${maxBytes} bytes`));
      } else done(null, chunk);
    },
  });
  req.on("error", (error) => cap.destroy(error));
  return req.pipe(cap);
}

/** The Worker's `Request` for a Node request; throws BadRequest for what fetch cannot represent and
 * PayloadTooLarge, before reading anything, for a `content-length` over `maxBodyBytes`. */
export function toFetchRequest(req, listenAddress, maxBodyBytes = Infinity) {
  const announced = Number(req.headers["content-length"] ?? 0);
  if (announced > maxBodyBytes) {
    throw new PayloadTooLarge(`content-length ${announced} is over the limit of ${maxBodyBytes} bytes`);
  }
  const target = req.url ?? "";
  if (!target.startsWith("/") && !/^https?:\/\//i.test(target)) {
    throw new BadRequest(`request target ${JSON.stringify(target.slice(0, 100))} is not a path`);
  }
  let url;
  try {
    url = new URL(target, `http://${req.headers.host || listenAddress}`);
  } catch {
    throw new BadRequest(`invalid Host header ${JSON.stringify(String(req.headers.host).slice(0, 100))}`);
  }
  const headers = new Headers();
  try {
    for (let i = 0; i < req.rawHeaders.length; i += 2) headers.append(req.rawHeaders[i], req.rawHeaders[i + 1]);
  } catch (error) {
    throw new BadRequest(`invalid header: ${error.message}`);
  }
  // What Cloudflare's edge adds in front of a Worker. It overwrites client-sent copies, so a Worker
  // can trust `cf-connecting-ip` (the TCP peer) and `x-forwarded-proto` (the scheme the client used).
  headers.set("cf-connecting-ip", peerAddress(req.socket));
  headers.set("x-forwarded-proto", "http");
  const init = { method: req.method, headers };
  if (!BODYLESS.has(req.method)) {
    init.body = Readable.toWeb(capped(req, maxBodyBytes));
    init.duplex = "half";
  }
  try {
    return new Request(url, init);
  } catch (error) {
    throw new BadRequest(error.message);
  }
}

/** Writes a Fetch `Response` to Node's response, streaming the body with backpressure. */
export async function writeResponse(req, res, response) {
  const headers = {};
  response.headers.forEach((value, name) => {
    if (name !== "set-cookie") headers[name] = value;
  });
  const cookies = response.headers.getSetCookie();
  if (cookies.length > 0) headers["set-cookie"] = cookies;
  res.writeHead(response.status, response.statusText || undefined, headers);
  if (response.body === null || req.method === "HEAD") {
    res.end();
    await response.body?.cancel().catch(() => {});
    return;
  }
  const reader = response.body.getReader();
  let clientGone = false;
  const onClose = () => {
    if (!res.writableFinished) {
      clientGone = true;
      reader.cancel().catch(() => {});
    }
  };
  res.on("close", onClose);
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done || clientGone) break;
      if (!res.write(value)) await new Promise((resolve) => res.once("drain", resolve).once("close", resolve));
    }
    res.end();
  } catch (error) {
    // The Worker's stream failed after the status was sent: cut the response so the client sees it.
    res.destroy(error);
    throw error;
  } finally {
    res.off("close", onClose);
  }
}

export function plainResponse(status, text, extraHeaders = {}) {
  return new Response(`${text}\n`, {
    status,
    headers: { "content-type": "text/plain; charset=utf-8", ...extraHeaders },
  });
}

export function jsonResponse(status, payload, extraHeaders = {}) {
  return new Response(JSON.stringify(payload), {
    status,
    headers: { "content-type": "application/json", ...extraHeaders },
  });
}
