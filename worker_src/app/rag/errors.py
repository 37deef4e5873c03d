"""RAG errors: a status, an error kind (the gateway's kinds) and the field they concern."""

from __future__ import annotations


class RagError(Exception):
    """An answer other than success; the HTTP layer renders it in the gateway's error shape."""

    def __init__(self, status: int, kind: str, message: str, *, param: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.kind = kind
        self.message = message
        self.param = param


def bad_request(message: str, param: str | None = None) -> RagError:
    return RagError(400, "invalid_request", message, param=param)
