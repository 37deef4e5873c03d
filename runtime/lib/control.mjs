// Messages from the host to the `edgestack dev` process that started it.
//
// Control messages are single stdout lines: the marker, then JSON. Everything else the host or
// the Worker prints is log output that the Python side passes through unchanged.

export const CONTROL_MARKER = "@@edgestack ";

export function sendControl(event, payload = {}) {
  process.stdout.write(`${CONTROL_MARKER}${JSON.stringify({ event, ...payload })}\n`);
}

/** A one-line, user-facing failure: the host reports it and exits non-zero. */
export class HostError extends Error {
  constructor(message, { code = "host_error" } = {}) {
    super(message);
    this.name = "HostError";
    this.code = code;
  }
}

export function logError(context, error) {
  const detail = error instanceof Error ? (error.stack ?? error.message) : String(error);
  process.stderr.write(`[edgestack] ${context}: ${detail}\n`);
}
