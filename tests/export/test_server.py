"""The TF-Serving-compatible REST server: formats, bad requests, 8 concurrent clients."""

import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import pytest

pytestmark = pytest.mark.slow


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server(trained):
    run_dir, task, model = trained("dates")
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "keras_attention.cli", "serve", str(run_dir / "export"),
         "--port", str(port), "--name", "dates"],
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}/v1/models/dates"
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            urllib.request.urlopen(base, timeout=2)
            break
        except OSError:
            assert process.poll() is None, "the server exited"
            time.sleep(0.3)
    yield base, task, model
    process.terminate()
    process.wait(timeout=30)


def _post(url, body, raw=False):
    data = body if raw else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_status_and_metadata(server):
    base, _, _ = server
    status = json.loads(urllib.request.urlopen(base).read())
    assert status["model_version_status"][0]["state"] == "AVAILABLE"
    metadata = json.loads(urllib.request.urlopen(base + "/metadata").read())
    inputs = metadata["metadata"]["signature_def"]["serving_default"]["inputs"]
    assert inputs == {"text": {"dtype": "string", "shape": [None]}}


def test_row_and_columnar_formats(server):
    base, task, model = server
    texts = ["March 5, 2024", "the 1st of May, 1999"]
    expected = task.predict(model, texts)
    status, body = _post(base + ":predict", {"instances": texts})
    assert status == 200
    assert [row["translation"] for row in body["predictions"]] == expected
    status, body = _post(base + ":predict", {"instances": [{"text": t} for t in texts]})
    assert [row["translation"] for row in body["predictions"]] == expected
    status, body = _post(base + ":predict", {"inputs": {"text": texts}})
    assert status == 200 and body["outputs"]["translation"] == expected


@pytest.mark.parametrize(
    "body, message",
    [
        (b"{not json", "not valid JSON"),
        ({"instances": []}, "non-empty list"),
        ({"instances": [1, 2]}, "Input 'text' must be string"),
        ({"inputs": {"txt": ["a"]}}, "Missing: \\['text'\\]"),
        ({"instances": ["a"], "inputs": {"text": ["a"]}}, "exactly one of"),
        ({"instances": ["a"], "signature_name": "nope"}, "Unknown signature_name"),
        ([1, 2], "must be a JSON object"),
    ],
)
def test_bad_requests_get_clear_errors(server, body, message):
    import re

    base, _, _ = server
    status, reply = _post(base + ":predict", body, raw=isinstance(body, bytes))
    assert status == 400
    assert re.search(message, reply["error"]), reply


def test_empty_and_long_texts_have_defined_answers(server):
    base, _, _ = server
    status, body = _post(base + ":predict", {"instances": ["", "9 " * 300]})
    assert status == 200
    assert body["predictions"][0]["translation"] == ""
    assert body["predictions"][1]["truncated"] is True


def test_eight_concurrent_clients_times_100_requests(server):
    base, _, _ = server
    errors, answers = [], []

    def client(index):
        for request in range(100):
            text = f"{1 + (index + request) % 28} March {1990 + request % 30}"
            status, body = _post(base + ":predict", {"instances": [text]})
            if status != 200:
                errors.append(body)
            else:
                answers.append(body["predictions"][0]["translation"])

    threads = [threading.Thread(target=client, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert len(answers) == 800
    status, _ = _post(base + ":predict", {"instances": ["May 1, 2000"]})
    assert status == 200  # still alive
