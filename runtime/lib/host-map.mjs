// `edgestack dev --map-host HOST=http://127.0.0.1:PORT`: outbound fetches from the Worker to
// `https://HOST/...` go to that loopback address instead (same path and query). Only the local
// runtime has this; the Worker, and the SSRF guard of its tools, still see `https://HOST/...`.

export function mappedUrl(url, mapHosts) {
  let parsed;
  try {
    parsed = new URL(url);
  } catch {
    return null;
  }
  const target = parsed.protocol === "https:" && parsed.port === "" ? mapHosts[parsed.hostname] : undefined;
  if (target === undefined) return null;
  const base = new URL(target);
  return `${base.origin}${parsed.pathname}${parsed.search}`;
}

export function installHostMap(mapHosts) {
  if (Object.keys(mapHosts).length === 0) return;
  const original = globalThis.fetch;
  globalThis.fetch = function mappedFetch(input, init) {
    const url = typeof input === "string" || input instanceof URL ? String(input) : input?.url;
    const mapped = url === undefined ? null : mappedUrl(url, mapHosts);
    if (mapped === null) return original(input, init);
    return original(typeof input === "string" || input instanceof URL ? mapped : new Request(mapped, input), init);
  };
}
