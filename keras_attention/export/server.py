"""A REST server speaking TF Serving's API for an exported SavedModel.

Clients written for TensorFlow Serving work against it unchanged:

    GET  /v1/models/NAME[/versions/N]             model status
    GET  /v1/models/NAME[/versions/N]/metadata    the signature defs, as TF Serving writes them
    POST /v1/models/NAME[/versions/N]:predict     {"instances": [...]} (row format) or
                                                  {"inputs": ...} (columnar format),
                                                  optional "signature_name"

`path` is either one SavedModel directory (served as version 1) or a base
directory of numeric version subdirectories (`1/`, `2/`, ...), of which the
newest is served, as TF Serving does. Strings may be sent as `{"b64": "..."}`.

Row format: each instance is a value (for a one-input signature) or an object
of input name -> value; inputs of shape `()` (e.g. `max_new_tokens`) must be
equal in every instance. The reply is `{"predictions": [...]}`, one entry per
instance (an object when the signature has several outputs). The columnar
format replies `{"outputs": ...}`.

The HTTP side is uvicorn + starlette: request bodies above `max_request_bytes`
get 413, a client that is slow to send its headers or body is cut off
(connection closed / 408), and so is one that does not read its answer; at
most `limit_concurrency` predict requests are processed at once (503 beyond;
idle connections and requests still arriving do not count); keep-alive and
chunked bodies are handled by the library. Every error is JSON,
`{"error": "..."}`, with the status TF Serving uses: 400 for a bad request
(never a stringified guess), 404 for an unknown model, version, signature or
path, 405 for a wrong method, 503 when busy, 500 only for a fault of the
server (its details go to the server's log, never to the client); only
uvicorn's own answer to a malformed HTTP message (400) is plain text. Model
calls run in a thread pool, so the event loop keeps answering while the model
works; with `enable_batching`, concurrent requests to one signature are merged
into one call (see `keras_attention.export.batching`).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import ctypes
import json
import logging
import math
import re
import socket
import struct
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tensorflow as tf

from keras_attention.export.batching import BatchingRunner
from keras_attention.export.errors import RequestError

__all__ = ["ModelServer", "RequestError", "serve"]

_LOG = logging.getLogger("keras_attention.serve")


class ServeError(ValueError):
    """The server cannot start (bad port, busy port, no SavedModel): a CLI error."""


# --- versions and bounds ----------------------------------------------------


def _versions(path: Path) -> dict[int, Path]:
    """`{version: SavedModel directory}`: one plain SavedModel (version 1) or numeric subdirectories."""
    if (path / "saved_model.pb").exists():
        return {1: path}
    versions = {}
    if path.is_dir():
        for child in path.iterdir():
            if child.name.isdigit() and (child / "saved_model.pb").exists():
                versions[int(child.name)] = child
    if not versions:
        raise FileNotFoundError(
            f"No SavedModel at {path}: neither {path / 'saved_model.pb'} nor numeric "
            "version subdirectories (1/, 2/, ...) holding one."
        )
    return versions


def _embedding_rows(model, suffix: str) -> int | None:
    rows = [v.shape[0] for v in model.variables if v.name.split(":")[0] == suffix]
    return int(rows[0]) if rows else None


@dataclass(frozen=True)
class _Bound:
    """What an integer token-id input may hold: ids in [0, vocabulary_size), length <= sequence_length."""

    vocabulary_size: int | None
    sequence_length: int | None


def _token_bounds(model, input_name: str, max_sequence_length: int) -> _Bound | None:
    """Bounds for this library's id inputs, read from the SavedModel's embedding tables.

    `X_token_ids` looks up `X_embedding/token_embedding`, `token_ids` looks up
    `embedding/token_embedding`, `segment_ids` `segment_embedding`; the length is
    the rows of the matching learned position table, or `max_sequence_length`
    for models with sinusoidal positions (which would accept any length at a
    quadratic cost).
    """
    if input_name == "segment_ids":
        return _Bound(_embedding_rows(model, "segment_embedding/embeddings"), max_sequence_length)
    if not input_name.endswith("token_ids"):
        return None
    prefix = input_name[: -len("token_ids")]
    vocabulary = _embedding_rows(model, f"{prefix}embedding/token_embedding/embeddings")
    positions = _embedding_rows(model, f"{prefix}embedding/position_encoding/embeddings")
    return _Bound(vocabulary, min(positions or max_sequence_length, max_sequence_length))


# --- JSON values -> arrays ---------------------------------------------------


def _is_b64(value) -> bool:
    return isinstance(value, dict) and len(value) == 1 and "b64" in value


def _leaf(name, value, spec: tf.TensorSpec):
    dtype = spec.dtype
    if dtype == tf.string:
        if isinstance(value, str):
            try:
                return value.encode("utf-8")
            except UnicodeEncodeError as error:  # JSON's "\ud800" escapes parse into such strings
                raise RequestError(
                    f"Input {name!r}: a string holds the lone surrogate {value[error.start]!r} at "
                    f"position {error.start}, which is not Unicode text; send bytes as {{\"b64\": ...}}."
                ) from None
        if _is_b64(value) and isinstance(value["b64"], str):
            try:
                return base64.b64decode(value["b64"], validate=True)
            except (binascii.Error, ValueError):
                raise RequestError(f"Input {name!r}: {value['b64']!r:.80} is not valid base64.") from None
        raise RequestError(f"Input {name!r} must hold strings (or {{\"b64\": ...}}). Received: {value!r:.80}")
    if dtype == tf.bool:
        if isinstance(value, bool):
            return value
        raise RequestError(f"Input {name!r} must hold booleans. Received: {value!r:.80}")
    if dtype.is_integer:
        if isinstance(value, int) and not isinstance(value, bool):
            if not dtype.min <= value <= dtype.max:
                raise RequestError(f"Input {name!r}: {value} does not fit {dtype.name}.")
            return value
        raise RequestError(f"Input {name!r} must hold integers ({dtype.name}). Received: {value!r:.80}")
    if dtype.is_floating:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            try:
                number = float(value)
            except OverflowError:
                raise RequestError(f"Input {name!r}: {value!r:.40} does not fit {dtype.name}.") from None
            if not math.isfinite(number):  # JSON's NaN, Infinity, or 1e400
                raise RequestError(f"Input {name!r} must hold finite numbers. Received: {value!r:.40}")
            return number
        raise RequestError(f"Input {name!r} must hold numbers ({dtype.name}). Received: {value!r:.80}")
    raise RequestError(f"Input {name!r} has dtype {dtype.name}, which this server cannot read from JSON.")


def _nested(name, value, spec: tf.TensorSpec, depth: int):
    """Check `value` against `spec` to `depth` levels; return (leaves nested, shape)."""
    if depth == 0:
        if isinstance(value, list):
            raise RequestError(
                f"Input {name!r} must have shape {spec.shape.as_list()} (None: any size); "
                "it is nested too deeply."
            )
        return _leaf(name, value, spec), ()
    if not isinstance(value, list):
        raise RequestError(
            f"Input {name!r} must have shape {spec.shape.as_list()} (None: any size). "
            f"Received: {value!r:.80}"
        )
    items = [_nested(name, item, spec, depth - 1) for item in value]
    shapes = {shape for _, shape in items}
    if len(shapes) > 1:
        raise RequestError(f"Input {name!r} is ragged: its lists differ in length.")
    inner = shapes.pop() if shapes else (0,) * (depth - 1)
    return [leaf for leaf, _ in items], (len(value), *inner)


def _array(name, value, spec: tf.TensorSpec) -> np.ndarray:
    if spec.shape.rank is None:
        raise RequestError(f"Input {name!r} has an unknown rank; this server cannot read it.")
    leaves, shape = _nested(name, value, spec, spec.shape.rank)
    if not spec.shape.is_compatible_with(shape):
        raise RequestError(
            f"Input {name!r} must have shape {spec.shape.as_list()} (None: any size). "
            f"Received shape {list(shape)}."
        )
    if spec.dtype != tf.string:
        return np.array(leaves, dtype=spec.dtype.as_numpy_dtype).reshape(shape)
    # Filled leaf by leaf, so numpy never splits or pads the bytes.
    array = np.empty(shape, dtype=object)
    if shape == ():
        array[()] = leaves
    else:
        array.reshape(-1)[:] = list(_flatten(leaves, len(shape)))
    return array


def _flatten(value, depth):
    if depth == 0:
        yield value
        return
    for item in value:
        yield from _flatten(item, depth - 1)


def _to_json(value, binary: bool = False):
    if isinstance(value, bytes):
        if binary:
            return {"b64": base64.b64encode(value).decode("ascii")}
        return value.decode("utf-8", errors="replace")
    if isinstance(value, np.ndarray):
        return [_to_json(item, binary) for item in value] if value.ndim else _to_json(value.item(), binary)
    if isinstance(value, (np.floating, float)):
        return float(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value


_TF_MARKERS = re.compile(
    r"\[Op:[^\]]*\]( name: \S*)?|\[\[\{\{node [^}]*\}\}\]\]|\{\{function_node [^}]*\}\}"
)
_TF_HEADERS = re.compile(r"Graph execution error:|Detected at node|<stack traces unavailable>")


def _client_message(error: tf.errors.OpError) -> str:
    """The op error's reason, without stack frames or internal graph node names."""
    reasons = []
    for line in str(error.message).splitlines():
        if not line.strip() or line[0].isspace():  # stack frames, their code, node markers
            continue
        line = _TF_MARKERS.sub("", line).strip()
        if line and not _TF_HEADERS.match(line):
            reasons.append(line)
    if not reasons or "node" in reasons[-1].lower():
        return "the model rejected the inputs"
    return reasons[-1]


# --- the model behind TF Serving's formats -----------------------------------


@dataclass
class Call:
    """A parsed predict request: which signature, its input arrays, how to answer."""

    signature_name: str
    inputs: dict[str, np.ndarray]
    batch_size: int
    row_format: bool


class ModelServer:
    """The SavedModel's signatures behind TF Serving's request and response formats.

    Args:
        path: a SavedModel directory, or a base directory of numeric versions
            (the newest is served).
        name: the model name in the URL.
        max_sequence_length: int, default 512. The longest id sequence a
            `token_ids_to_logits` input may have when the model itself has no
            learned position table to bound it.
        max_batch_size: int, default 128. The most instances one request may carry.
    """

    def __init__(self, path: str | Path, name: str = "model", max_sequence_length: int = 512,
                 max_batch_size: int = 128):
        import tensorflow_text  # noqa: F401  (registers the tokenizer ops)

        from google.protobuf import json_format
        from tensorflow.core.protobuf import saved_model_pb2

        self.base = Path(path)
        self.versions = _versions(self.base)
        self.version = max(self.versions)
        self.path = self.versions[self.version]
        self.name = name
        self.max_batch_size = max_batch_size
        self.model = tf.saved_model.load(str(self.path))
        self.signatures = dict(self.model.signatures)
        self.bounds = {
            (signature, input_name): bound
            for signature, function in self.signatures.items()
            for input_name, spec in function.structured_input_signature[1].items()
            if spec.dtype.is_integer and spec.shape.rank == 2
            and (bound := _token_bounds(self.model, input_name, max_sequence_length)) is not None
        }
        proto = saved_model_pb2.SavedModel()
        proto.ParseFromString((self.path / "saved_model.pb").read_bytes())
        self._signature_defs = {
            key: json_format.MessageToDict(
                definition, always_print_fields_with_no_presence=True, preserving_proto_field_name=True
            )
            for key, definition in proto.meta_graphs[0].signature_def.items()
        }

    # --- requests -----------------------------------------------------------

    def parse(self, request) -> Call:
        """Check a predict request body (parsed JSON) against its signature; raise `RequestError`."""
        if not isinstance(request, dict):
            raise RequestError("The request body must be a JSON object.")
        name = request.get("signature_name", "serving_default")
        if not isinstance(name, str):
            raise RequestError(f"`signature_name` must be a string. Received: {name!r:.80}")
        if name not in self.signatures:
            raise RequestError(
                f"Unknown signature_name {name!r}. Available: {sorted(self.signatures)}", status=404
            )
        unknown = sorted(set(request) - {"signature_name", "instances", "inputs"})
        if unknown:
            raise RequestError(f"Unknown request fields {unknown}; expected `instances` or `inputs`.")
        if ("instances" in request) == ("inputs" in request):
            raise RequestError("The request must have exactly one of `instances` or `inputs`.")
        specs = self.signatures[name].structured_input_signature[1]
        row_format = "instances" in request
        if row_format:
            inputs = self._columnar(self._rows(request["instances"], specs), specs)
        else:
            inputs = self._columnar(request["inputs"], specs)
        batch_sizes = {array.shape[0] for array in inputs.values() if array.ndim}
        if len(batch_sizes) > 1:
            raise RequestError(f"The inputs' first (batch) dimensions differ: {sorted(batch_sizes)}.")
        batch_size = batch_sizes.pop() if batch_sizes else 1
        if batch_size == 0:
            raise RequestError("The request carries no instances (an empty batch).")
        if batch_size > self.max_batch_size:
            raise RequestError(
                f"The request carries {batch_size} instances; the most this server takes "
                f"in one request is {self.max_batch_size} (--max-batch-size)."
            )
        for input_name, array in inputs.items():
            self._check_bounds(name, input_name, array)
        return Call(name, inputs, batch_size, row_format)

    def _check_bounds(self, signature, input_name, array):
        bound = self.bounds.get((signature, input_name))
        if bound is None:
            return
        if bound.sequence_length is not None and array.shape[1] > bound.sequence_length:
            raise RequestError(
                f"Input {input_name!r} has sequences of length {array.shape[1]}; the model "
                f"takes at most {bound.sequence_length}."
            )
        if bound.vocabulary_size is not None and array.size:
            low, high = int(array.min()), int(array.max())
            if low < 0 or high >= bound.vocabulary_size:
                bad = low if low < 0 else high
                raise RequestError(
                    f"Input {input_name!r} holds the id {bad}, outside the vocabulary "
                    f"[0, {bound.vocabulary_size})."
                )

    @staticmethod
    def _columnar(inputs, specs) -> dict[str, np.ndarray]:
        if not isinstance(inputs, dict) or _is_b64(inputs):
            if len(specs) != 1:
                raise RequestError(f"`inputs` must be an object with keys {sorted(specs)}.")
            inputs = {next(iter(specs)): inputs}
        missing = sorted(set(specs) - set(inputs))
        unknown = sorted(set(inputs) - set(specs))
        if missing or unknown:
            raise RequestError(
                f"Inputs must be exactly {sorted(specs)}. Missing: {missing}; unknown: {unknown}."
            )
        return {name: _array(name, inputs[name], specs[name]) for name in specs}

    @staticmethod
    def _rows(instances, specs):
        if not isinstance(instances, list) or not instances:
            raise RequestError("`instances` must be a non-empty list.")
        named = [isinstance(row, dict) and not _is_b64(row) for row in instances]
        if not any(named):
            if len(specs) != 1:
                raise RequestError(f"Each instance must be an object with keys {sorted(specs)}.")
            return {next(iter(specs)): instances}
        if not all(named):
            raise RequestError(f"Each instance must be an object with keys {sorted(specs)}.")
        columns = {}
        for name, spec in specs.items():
            if any(name not in row for row in instances):
                raise RequestError(f"Every instance needs the input {name!r}.")
            values = [row[name] for row in instances]
            if spec.shape.rank == 0:  # one value for the whole request
                if any(value != values[0] or type(value) is not type(values[0]) for value in values):
                    raise RequestError(f"Input {name!r} must be equal in every instance.")
                columns[name] = values[0]
            else:
                columns[name] = values
        unknown = sorted({key for row in instances for key in row} - set(specs))
        if unknown:
            raise RequestError(f"Unknown inputs {unknown}; the signature takes {sorted(specs)}.")
        return columns

    def run(self, signature_name: str, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Call a signature (blocking); an input the graph rejects is a `RequestError`."""
        function = self.signatures[signature_name]
        specs = function.structured_input_signature[1]
        tensors = {name: tf.constant(array, dtype=specs[name].dtype) for name, array in inputs.items()}
        try:
            outputs = function(**tensors)
        except (tf.errors.InvalidArgumentError, tf.errors.OutOfRangeError) as error:
            raise RequestError(f"The model rejected the inputs: {_client_message(error)}") from None
        return {name: value.numpy() for name, value in outputs.items()}

    def answer(self, call: Call, outputs: dict[str, np.ndarray]) -> dict:
        """The response body for `call`, in the request's format."""
        binary = {name: name.endswith("_bytes") for name in outputs}
        if call.row_format:
            rows = [
                {name: _to_json(value[i], binary[name]) for name, value in outputs.items()}
                for i in range(call.batch_size)
            ]
            if len(outputs) == 1:
                rows = [next(iter(row.values())) for row in rows]
            return {"predictions": rows}
        columns = {name: _to_json(value, binary[name]) for name, value in outputs.items()}
        return {"outputs": columns if len(columns) > 1 else next(iter(columns.values()))}

    def predict(self, request) -> dict:
        """Answer one predict request body (already parsed JSON), blocking."""
        call = self.parse(request)
        return self.answer(call, self.run(call.signature_name, call.inputs))

    # --- status and metadata ------------------------------------------------

    def status(self) -> dict:
        """TF Serving's GetModelStatusResponse, as its REST API writes it."""
        return {
            "model_version_status": [
                {
                    "version": str(self.version),
                    "state": "AVAILABLE",
                    "status": {"error_code": "OK", "error_message": ""},
                }
            ]
        }

    def metadata(self) -> dict:
        """TF Serving's GetModelMetadataResponse, as its REST API writes it."""
        return {
            "model_spec": {"name": self.name, "signature_name": "", "version": str(self.version)},
            "metadata": {"signature_def": {"signature_def": self._signature_defs}},
        }


# --- memory ------------------------------------------------------------------

# A request or response body at least this large marks a request as large.
_LARGE_BODY_BYTES = 256 << 10


def _find_malloc_trim():
    try:
        return ctypes.CDLL(None).malloc_trim  # glibc
    except (OSError, AttributeError):  # another C library: nothing to call
        return None


_MALLOC_TRIM = _find_malloc_trim()


class _MemoryReleaser:
    """Hands the C heap's free pages back to the system (glibc only): after a large request, and when idle.

    A large request (e.g. `token_ids_to_logits` on 32 rows of 512 ids: a 30 MB
    JSON answer, and the model's intermediate tensors when TensorFlow's oneDNN
    is off) frees its memory into glibc's arenas, which keep it; so do the
    arenas of the threads that served a burst of small requests. `malloc_trim(0)`
    gives those pages back (measured: 20-60 MB of the growth large requests
    left; 10-40 ms for a ~1 GB process). It runs in a thread, at most one at a
    time: right after a request or response of `_LARGE_BODY_BYTES` or more, and
    once the server has had no request in flight for `idle_s`. What
    TensorFlow's own oneDNN CPU allocator ("mklcpu") pools is not in glibc's
    free lists, and stays; see docs/guides/tf-serving.md.
    """

    def __init__(self, idle_s: float = 0.5):
        self.idle_s = idle_s
        self.in_flight = 0
        self.running = False
        self.idle_timer = None
        self.tasks: set[asyncio.Task] = set()

    def started(self):
        self.in_flight += 1

    def finished(self, large: bool):
        self.in_flight -= 1
        if large:
            self._trim_soon()
        elif self.in_flight == 0 and self.idle_timer is None:
            self.idle_timer = asyncio.get_running_loop().call_later(self.idle_s, self._idle)

    def _idle(self):
        self.idle_timer = None
        if self.in_flight == 0:
            self._trim_soon()

    def _trim_soon(self):
        if _MALLOC_TRIM is None or self.running:
            return
        self.running = True
        task = asyncio.get_running_loop().create_task(self._trim())
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _trim(self):
        try:
            await asyncio.get_running_loop().run_in_executor(None, _MALLOC_TRIM, 0)
        finally:
            self.running = False


# --- HTTP --------------------------------------------------------------------


class _Disconnected(Exception):
    pass


def _json_response(status: int, body, close: bool = False):
    from starlette.responses import Response

    headers = {"Connection": "close"} if close else None
    return Response(json.dumps(body), status_code=status, media_type="application/json", headers=headers)


class _App:
    """The ASGI application: routing, body limits and timeouts, errors as JSON."""

    _PATH = re.compile(r"/v1/models/(?P<name>[^/:]+)(?:/versions/(?P<version>[^/:]+))?(?P<rest>/metadata|:predict)?/?")

    def __init__(self, server: ModelServer, runner, max_request_bytes: int, body_timeout_s: float,
                 limit_concurrency: int = 128, on_startup=None):
        self.server = server
        self.runner = runner
        self.max_request_bytes = max_request_bytes
        self.body_timeout_s = body_timeout_s
        self.limit_concurrency = limit_concurrency
        self.processing = 0  # predict requests whose body has arrived and whose answer is not built
        self.on_startup = on_startup
        self.memory = _MemoryReleaser()

    async def __call__(self, scope, receive, send):
        if scope["type"] == "lifespan":
            return await self._lifespan(receive, send)
        if scope["type"] != "http":
            return
        from starlette.requests import ClientDisconnect, Request

        request = Request(scope, receive)
        large = False
        self.memory.started()
        try:
            try:
                response = await self._route(request)
            except (ClientDisconnect, _Disconnected):
                return  # nobody to answer; not an error of the server
            except RequestError as error:
                response = _json_response(error.status, {"error": str(error)}, close=error.status in (408, 413))
            except Exception:  # the server never dies on a request
                _LOG.exception("Internal error answering %s %s", request.method, request.url.path)
                response = _json_response(500, {"error": "Internal server error; see the server's log."})
            await response(scope, receive, send)
            large = len(response.body) >= _LARGE_BODY_BYTES or bool(scope.get("large_body"))
        finally:
            self.memory.finished(large)

    async def _lifespan(self, receive, send):
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await self.runner.start()
                if self.on_startup is not None:
                    self.on_startup()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.runner.stop()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _route(self, request):
        server = self.server
        match = self._PATH.fullmatch(request.url.path)
        if match is None:
            raise RequestError(
                f"Unknown path {request.url.path!r}; the model is at /v1/models/{server.name}", status=404
            )
        if match["name"] != server.name:
            raise RequestError(f"Servable not found: no model named {match['name']!r}.", status=404)
        if match["version"] is not None and match["version"] != str(server.version):
            raise RequestError(
                f"Servable not found: {server.name!r} version {match['version']!r} is not served "
                f"(serving version {server.version}).",
                status=404,
            )
        allowed = "POST" if match["rest"] == ":predict" else "GET"
        method = "GET" if request.method == "HEAD" else request.method
        if method != allowed:
            raise RequestError(f"Method {request.method} is not allowed here; use {allowed}.", status=405)
        if match["rest"] is None:
            return _json_response(200, server.status())
        if match["rest"] == "/metadata":
            return _json_response(200, server.metadata())
        body = await self._body(request)
        with self._processing():
            return await self._predict(body)

    @contextlib.contextmanager
    def _processing(self):
        """Count a predict request as processed (parsing, model call, answer), or refuse it with 503.

        Connections, and requests still sending their headers or body, are not
        counted: they cost a socket until --timeout closes them, not the model's time.
        """
        if self.processing >= self.limit_concurrency:
            raise RequestError(
                f"The server is processing {self.processing} predict requests, the most it takes "
                "at once (--limit-concurrency); retry later.",
                status=503,
            )
        self.processing += 1
        try:
            yield
        finally:
            self.processing -= 1

    async def _predict(self, body: bytes):
        server = self.server
        try:
            parsed = json.loads(body or b"null")
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise RequestError(f"The request body is not valid JSON: {error}") from None
        except ValueError:  # Python's limit on the digits of an integer it converts
            raise RequestError(
                f"The request body holds an integer of more than {sys.get_int_max_str_digits()} "
                "digits, which this server does not read."
            ) from None
        except RecursionError:
            raise RequestError("The request body's JSON is nested too deeply.") from None
        call = server.parse(parsed)
        outputs = await self.runner.run(call)
        return _json_response(200, server.answer(call, outputs))

    async def _body(self, request) -> bytes:
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_request_bytes:
            raise RequestError(self._too_large(), status=413)

        async def collect():
            chunks, size = [], 0
            async for chunk in request.stream():
                size += len(chunk)
                if size > self.max_request_bytes:
                    raise RequestError(self._too_large(), status=413)
                chunks.append(chunk)
            if size >= _LARGE_BODY_BYTES:
                request.scope["large_body"] = True
            return b"".join(chunks)

        try:
            return await asyncio.wait_for(collect(), self.body_timeout_s)
        except asyncio.TimeoutError:
            raise RequestError(
                f"The request body did not arrive within {self.body_timeout_s:g} s.", status=408
            ) from None

    def _too_large(self):
        return f"The request body is larger than {self.max_request_bytes} bytes (--max-request-bytes)."


class _DirectRunner:
    """Each request is one model call, in a thread pool (the call blocks)."""

    def __init__(self, server: ModelServer, threads: int):
        self.server = server
        self.pool = ThreadPoolExecutor(threads, thread_name_prefix="model")

    async def start(self):
        pass

    async def stop(self):
        self.pool.shutdown(wait=False, cancel_futures=True)

    async def run(self, call: Call):
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.pool, self.server.run, call.signature_name, call.inputs)


def _protocol_with_timeouts(timeout_s: float):
    """uvicorn's h11 protocol, also closing connections that stall for `timeout_s`.

    uvicorn times out only idle keep-alive connections, and stops that timer at
    the first byte received; a client trickling its headers would hold the
    connection for good. Nor does it time out writes: an answer its client does
    not read stays in the transport's buffer (and `close()` waits for it to
    drain) for good. So the headers of a request must be complete within
    `timeout_s` of its first byte (or of the connection), and a connection
    whose unsent answer did not shrink for `timeout_s` is reset (RST, which
    also drops what the kernel holds), so a client that stops reading is cut
    off within 2 x `timeout_s`.
    """
    import h11
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class Protocol(H11Protocol):
        header_timer = None
        write_timer = None
        unsent = 0  # bytes in the transport's buffer at the last check
        drained = False  # the transport resumed writing since the last check

        def connection_made(self, transport):
            super().connection_made(transport)
            self._arm_header_timer()

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if self.conn.their_state is h11.IDLE:  # headers still incomplete
                if self.header_timer is None:
                    self._arm_header_timer()
            elif self.header_timer is not None:
                self.header_timer.cancel()
                self.header_timer = None

        def connection_lost(self, exc):
            for timer in (self.header_timer, self.write_timer):
                if timer is not None:
                    timer.cancel()
            super().connection_lost(exc)

        def _arm_header_timer(self):
            self.header_timer = self.loop.call_later(timeout_s, self._header_timeout)

        def _header_timeout(self):
            self.header_timer = None
            if self.conn.their_state is h11.IDLE:
                self.timeout_keep_alive_handler()

        # An answer is written to the transport whole; what the socket does not take
        # at once is buffered, and the transport pauses the protocol above 64 KiB.
        def pause_writing(self):
            super().pause_writing()
            self._watch_writes()

        def resume_writing(self):
            self.drained = True
            super().resume_writing()

        def on_response_complete(self):
            super().on_response_complete()
            self._watch_writes()

        def _watch_writes(self):
            if self.write_timer is None and self.transport.get_write_buffer_size():
                self.unsent, self.drained = self.transport.get_write_buffer_size(), False
                self.write_timer = self.loop.call_later(timeout_s, self._write_check)

        def _write_check(self):
            self.write_timer = None
            unsent = self.transport.get_write_buffer_size()
            if not unsent:
                return
            if unsent < self.unsent or self.drained:  # progress: watch on
                self.unsent, self.drained = unsent, False
                self.write_timer = self.loop.call_later(timeout_s, self._write_check)
                return
            sock = self.transport.get_extra_info("socket")
            try:  # a reset, not a FIN queued behind data the client will not read
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            except (OSError, AttributeError):
                pass
            self.transport.abort()

    return Protocol


def _listen(host: str, port: int) -> socket.socket:
    if not isinstance(port, int) or not 0 <= port <= 65535:
        raise ServeError(f"`port` must be an integer in [0, 65535]. Received: {port!r}")
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        sock = socket.socket(family, socket.SOCK_STREAM)
    except OSError as error:
        raise ServeError(f"Cannot listen on {host}:{port}: {error.strerror or error}") from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except OSError as error:
        sock.close()
        reason = "the port is in use" if error.errno == 98 else (error.strerror or str(error))
        raise ServeError(f"Cannot listen on {host}:{port}: {reason}.") from None
    sock.set_inheritable(True)
    return sock


def serve(path: str | Path, port: int = 8501, host: str = "127.0.0.1", name: str = "model",
          log=print, ready: threading.Event | None = None, *,
          max_request_bytes: int = 1 << 20, limit_concurrency: int = 128, timeout_s: float = 10.0,
          max_sequence_length: int = 512, enable_batching: bool = False, max_batch_size: int = 32,
          batch_timeout_ms: float = 5.0, num_threads: int = 4) -> None:
    """Serve the SavedModel at `path` until interrupted (Ctrl-C).

    Args:
        path: a SavedModel directory or a base directory of numeric versions.
        port: int, default 8501. 0 picks a free port.
        host: str, default "127.0.0.1".
        name: str, default "model". The model name in the URL.
        log: a callable for the start-up line, or None.
        ready: set once the server answers requests.
        max_request_bytes: int, default 1 MiB. Larger request bodies get 413.
        limit_concurrency: int, default 128. The most predict requests processed
            at once (from their body's arrival to their answer); more get 503.
            Open connections are not counted.
        timeout_s: float, default 10. Headers (and idle keep-alive connections)
            must arrive within it, else the connection is closed; a body, else
            408. A connection whose answer the client does not read for it is
            reset (within twice `timeout_s`).
        max_sequence_length: int, default 512. See `ModelServer`.
        enable_batching: bool, default False. Merge concurrent requests.
        max_batch_size: int, default 32. The most instances in one request, and
            in one merged call when batching.
        batch_timeout_ms: float, default 5. How long a batch waits to fill up.
        num_threads: int, default 4. Threads running model calls.
    """
    import uvicorn

    sock = _listen(host, port)
    try:
        server = ModelServer(path, name, max_sequence_length=max_sequence_length,
                             max_batch_size=max_batch_size)
        if enable_batching:
            runner = BatchingRunner(server, max_batch_size, batch_timeout_ms / 1000, num_threads)
        else:
            runner = _DirectRunner(server, num_threads)
        bound_port = sock.getsockname()[1]

        def started():
            if log is not None:
                log(f"Serving {server.path} (version {server.version}) as {name!r} on "
                    f"http://{host}:{bound_port}/v1/models/{name}"
                    + (f" with batching up to {max_batch_size}" if enable_batching else ""))
            if ready is not None:
                ready.set()

        app = _App(server, runner, max_request_bytes, timeout_s, limit_concurrency, on_startup=started)
        config = uvicorn.Config(
            app,
            http=_protocol_with_timeouts(timeout_s),
            lifespan="on",
            # Open connections are bounded by the process's file descriptors and by
            # --timeout, which closes idle ones; --limit-concurrency bounds requests
            # being processed (`_App`), as uvicorn's own limit counted idle connections.
            limit_concurrency=None,
            timeout_keep_alive=max(1, int(timeout_s)),
            access_log=False,
            log_level="warning",
        )
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        sock.close()
