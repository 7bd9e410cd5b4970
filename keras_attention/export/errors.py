"""The error a request to the server can get: the client's fault, told in JSON."""

from __future__ import annotations

__all__ = ["RequestError"]


class RequestError(ValueError):
    """A client error, answered with `status` (400 unless told) and `{"error": message}`."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status
