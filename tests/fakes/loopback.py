"""The fakes' HTTP servers: bound to a free 127.0.0.1 port, serving from a daemon thread until stopped."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def serve_on_loopback(
    handler: type[BaseHTTPRequestHandler],
    name: str,
    server_class: type[ThreadingHTTPServer] = ThreadingHTTPServer,
    poll_interval_s: float = 0.5,
) -> ThreadingHTTPServer:
    """Start serving on a free port (read it from `server_address`); `stop_serving` ends it."""
    server = server_class(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, args=(poll_interval_s,), name=name, daemon=True).start()
    return server


def stop_serving(server: ThreadingHTTPServer) -> None:
    server.shutdown()  # returns within one poll interval
    server.server_close()
