"""A local HTTP server speaking TF Serving's REST API for an exported SavedModel.

Clients written for TensorFlow Serving work against it unchanged:

    GET  /v1/models/NAME              model status
    GET  /v1/models/NAME/metadata     signatures, inputs and outputs
    POST /v1/models/NAME:predict      {"instances": [...]} (row format) or
                                      {"inputs": {...}} (columnar format),
                                      optional "signature_name"

Row format: each instance is a value (for a one-input signature) or an object
of input name -> value; inputs of shape `()` (e.g. `max_new_tokens`) must be
equal in every instance. The reply is `{"predictions": [...]}`, one entry
per instance (an object when the signature has several outputs). Columnar
format replies `{"outputs": {...}}`.

A bad request gets HTTP 400 and `{"error": "..."}` naming what was wrong; an
unexpected failure gets 500 and the same shape: the server never dies on a
request. For production, serve the same directory with `tensorflow/serving`
(see docs); its image must include the tensorflow-text ops.
"""

from __future__ import annotations

import json
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import tensorflow as tf

__all__ = ["ModelServer", "RequestError", "serve"]


class RequestError(ValueError):
    """A client error: answered with HTTP 400."""


def _to_json(value):
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, np.ndarray):
        return [_to_json(item) for item in value] if value.ndim else _to_json(value.item())
    if isinstance(value, (np.floating, float)):
        return float(value)
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value


class ModelServer:
    """The SavedModel's signatures behind TF Serving's request and response formats."""

    def __init__(self, path: str | Path, name: str = "model"):
        import tensorflow_text  # noqa: F401  (registers the tokenizer ops)

        self.path = Path(path)
        if not (self.path / "saved_model.pb").exists():
            raise FileNotFoundError(f"No SavedModel at {self.path} (saved_model.pb missing).")
        self.name = name
        self.model = tf.saved_model.load(str(self.path))
        self.signatures = dict(self.model.signatures)

    # --- formats -----------------------------------------------------------

    def _signature(self, request: dict):
        name = request.get("signature_name", "serving_default")
        if name not in self.signatures:
            raise RequestError(
                f"Unknown signature_name {name!r}. Available: {sorted(self.signatures)}"
            )
        function = self.signatures[name]
        return function, function.structured_input_signature[1]

    @staticmethod
    def _tensor(name, value, spec: tf.TensorSpec):
        try:
            array = np.asarray(value)
            if spec.dtype == tf.string:
                if array.size and array.dtype.kind not in "US":
                    raise TypeError
                array = array.astype(object)
            else:
                if array.dtype.kind not in "biuf":
                    raise TypeError
                array = array.astype(spec.dtype.as_numpy_dtype)
            tensor = tf.constant(array, dtype=spec.dtype)
        except (TypeError, ValueError):
            raise RequestError(
                f"Input {name!r} must be {spec.dtype.name} values. Received: {value!r:.200}"
            ) from None
        if not spec.shape.is_compatible_with(tensor.shape):
            raise RequestError(
                f"Input {name!r} must have shape {spec.shape.as_list()} "
                f"(None: any size). Received shape {tensor.shape.as_list()}."
            )
        return tensor

    def _columnar(self, inputs, specs):
        if not isinstance(inputs, dict):
            if len(specs) != 1:
                raise RequestError(f"`inputs` must be an object with keys {sorted(specs)}.")
            inputs = {next(iter(specs)): inputs}
        missing = sorted(set(specs) - set(inputs))
        unknown = sorted(set(inputs) - set(specs))
        if missing or unknown:
            raise RequestError(
                f"Inputs must be exactly {sorted(specs)}. Missing: {missing}; unknown: {unknown}."
            )
        return {name: self._tensor(name, inputs[name], specs[name]) for name in specs}

    def _rows(self, instances, specs):
        if not isinstance(instances, list) or not instances:
            raise RequestError("`instances` must be a non-empty list.")
        if len(specs) == 1 and not all(isinstance(row, dict) for row in instances):
            return self._columnar(instances, specs)
        if not all(isinstance(row, dict) for row in instances):
            raise RequestError(f"Each instance must be an object with keys {sorted(specs)}.")
        columns = {}
        for name, spec in specs.items():
            if any(name not in row for row in instances):
                raise RequestError(f"Every instance needs the input {name!r}.")
            values = [row[name] for row in instances]
            if spec.shape.rank == 0:  # one value for the whole request
                if any(value != values[0] for value in values):
                    raise RequestError(f"Input {name!r} must be equal in every instance.")
                columns[name] = values[0]
            else:
                columns[name] = values
        return self._columnar(columns, specs)

    def predict(self, request: dict) -> dict:
        """Answer one predict request body (already parsed JSON)."""
        if not isinstance(request, dict):
            raise RequestError("The request body must be a JSON object.")
        function, specs = self._signature(request)
        if ("instances" in request) == ("inputs" in request):
            raise RequestError("The request must have exactly one of `instances` or `inputs`.")
        if "instances" in request:
            outputs = function(**self._rows(request["instances"], specs))
            outputs = {name: value.numpy() for name, value in outputs.items()}
            batch = len(next(iter(outputs.values())))
            rows = [{name: _to_json(value[i]) for name, value in outputs.items()} for i in range(batch)]
            if len(outputs) == 1:
                rows = [next(iter(row.values())) for row in rows]
            return {"predictions": rows}
        outputs = function(**self._columnar(request["inputs"], specs))
        outputs = {name: _to_json(value.numpy()) for name, value in outputs.items()}
        return {"outputs": outputs if len(outputs) > 1 else next(iter(outputs.values()))}

    def status(self) -> dict:
        return {
            "model_version_status": [
                {"version": "1", "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}}
            ]
        }

    def metadata(self) -> dict:
        def describe(function):
            return {
                "inputs": {
                    name: {"dtype": spec.dtype.name, "shape": spec.shape.as_list()}
                    for name, spec in function.structured_input_signature[1].items()
                },
                "outputs": {
                    name: {"dtype": spec.dtype.name, "shape": spec.shape.as_list()}
                    for name, spec in function.structured_outputs.items()
                },
            }

        return {
            "model_spec": {"name": self.name, "version": "1"},
            "metadata": {"signature_def": {n: describe(f) for n, f in self.signatures.items()}},
        }


def _handler(server: ModelServer, log):
    prefix = f"/v1/models/{server.name}"

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _reply(self, status, body):
            data = json.dumps(body).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):  # noqa: N802 (http.server's naming)
            path = self.path.split("?")[0].rstrip("/")
            if path in (prefix, f"{prefix}/versions/1"):
                return self._reply(HTTPStatus.OK, server.status())
            if path in (f"{prefix}/metadata", f"{prefix}/versions/1/metadata"):
                return self._reply(HTTPStatus.OK, server.metadata())
            self._reply(HTTPStatus.NOT_FOUND, {"error": f"Unknown path {self.path!r}; the model is at {prefix}"})

        def do_POST(self):  # noqa: N802
            path = self.path.split("?")[0]
            if path not in (f"{prefix}:predict", f"{prefix}/versions/1:predict"):
                return self._reply(HTTPStatus.NOT_FOUND, {"error": f"Unknown path {self.path!r}; POST to {prefix}:predict"})
            try:
                length = int(self.headers.get("Content-Length") or 0)
                try:
                    request = json.loads(self.rfile.read(length) or b"null")
                except (json.JSONDecodeError, UnicodeDecodeError) as error:
                    raise RequestError(f"The request body is not valid JSON: {error}") from None
                self._reply(HTTPStatus.OK, server.predict(request))
            except RequestError as error:
                self._reply(HTTPStatus.BAD_REQUEST, {"error": str(error)})
            except Exception as error:  # the server never dies on a request
                self._reply(HTTPStatus.INTERNAL_SERVER_ERROR, {"error": f"{type(error).__name__}: {error}"})

        def log_message(self, format, *args):
            if log is not None:
                log(f"{self.address_string()} {format % args}")

    return Handler


def serve(path: str | Path, port: int = 8501, host: str = "127.0.0.1", name: str = "model",
          log=print, ready: threading.Event | None = None) -> None:
    """Serve the SavedModel at `path` until interrupted (Ctrl-C)."""
    server = ModelServer(path, name)
    httpd = ThreadingHTTPServer((host, port), _handler(server, log))
    httpd.daemon_threads = True
    if log is not None:
        log(f"Serving {path} as {name!r} on http://{host}:{httpd.server_address[1]}/v1/models/{name}")
    if ready is not None:
        ready.set()
    try:
        httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        httpd.server_close()
