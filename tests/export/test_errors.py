"""`RequestError`: a client's error, answered with its status and `{"error": message}`.

The server's ASGI application is driven in process (no socket, no model): a
stub servable raises the errors, and the answers are read as a client reads them.
"""

import asyncio
import json

import pytest

from keras_attention.export.errors import RequestError
from keras_attention.export.server import _App


def test_a_request_error_is_a_value_error_with_a_status():
    error = RequestError("`instances` must be a non-empty list.")
    assert isinstance(error, ValueError)
    assert error.status == 400 and str(error) == "`instances` must be a non-empty list."
    assert RequestError("gone", status=404).status == 404
    with pytest.raises(ValueError, match="bad"):
        raise RequestError("bad", status=413)


class _Servable:
    """What `_App` asks of a `ModelServer`; `parse` raises `error`."""

    name, version = "dates", 1

    def __init__(self, error):
        self.error = error

    def status(self):
        return {"model_version_status": []}

    def parse(self, body):
        raise self.error


def _ask(app, method, path, body=b""):
    """`(status, headers, parsed JSON body)` of one request to the ASGI `app`."""
    scope = {"type": "http", "method": method, "path": path, "raw_path": path.encode(),
             "query_string": b"", "headers": [(b"content-length", str(len(body)).encode())]}
    sent = []

    async def receive():
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message):
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    start = next(message for message in sent if message["type"] == "http.response.start")
    content = b"".join(message.get("body", b"") for message in sent if message["type"] == "http.response.body")
    headers = {key.decode().lower(): value.decode() for key, value in start["headers"]}
    return start["status"], headers, json.loads(content)


def _app(error=None):
    return _App(_Servable(error), runner=None, max_request_bytes=1000, body_timeout_s=5)


@pytest.mark.parametrize("status", [400, 404, 422])
def test_the_server_answers_a_request_error_with_its_status_and_message(status):
    message = f"Input 'text' is wrong ({status})."
    code, headers, body = _ask(_app(RequestError(message, status=status)), "POST",
                               "/v1/models/dates:predict", b'{"instances": []}')
    assert (code, body) == (status, {"error": message})
    assert headers["content-type"] == "application/json"
    assert "connection" not in headers  # the connection stays open for the next request


@pytest.mark.parametrize("status", [408, 413])
def test_timeouts_and_oversized_bodies_also_close_the_connection(status):
    code, headers, body = _ask(_app(RequestError("too much", status=status)), "POST",
                               "/v1/models/dates:predict", b"{}")
    assert (code, body, headers["connection"]) == (status, {"error": "too much"}, "close")


def test_the_servers_own_errors_are_request_errors_too():
    # Routing raises them: an unknown model, a wrong method, an oversized body.
    app = _app()
    assert _ask(app, "GET", "/v1/models/other")[::2] == (
        404, {"error": "Servable not found: no model named 'other'."}
    )
    assert _ask(app, "GET", "/v1/models/dates:predict")[::2] == (
        405, {"error": "Method GET is not allowed here; use POST."}
    )
    code, _, body = _ask(app, "POST", "/v1/models/dates:predict", b"x" * 1001)
    assert code == 413 and "larger than 1000 bytes" in body["error"]


def test_any_other_exception_is_a_500_that_tells_no_internals(caplog):
    code, _, body = _ask(_app(KeyError("secret_graph_node")), "POST", "/v1/models/dates:predict", b"{}")
    assert code == 500
    assert body == {"error": "Internal server error; see the server's log."}
    assert "secret_graph_node" in caplog.text  # the log has it, the client does not
