"""Serving throughput and latency with dynamic batching on vs off, in one run.

Two `keras-attention serve` processes answer the same translation SavedModel,
one with `--enable-batching` (TF Serving's `--enable_batching`), one without.
For 1, 8 and 32 concurrent clients (each a keep-alive connection sending
one-text `:predict` requests back to back), each server is loaded for
`--seconds`, the two interleaved and repeated `--repeats` times; the script
prints the median requests per second, p50 and p99 latency over all repeats,
and the median of the per-repeat throughput ratios batching on / off (the peer
is the same server without batching).

    python benchmarks/serving.py [--export DIR] [--seconds 10] [--repeats 3] [--max-batch-size 32]

`--export` is a SavedModel directory or a base directory of numeric versions
(the newest is served). Without it, the script serves `RUN/export` (version 1)
of a briefly trained run of `models/dates.toml` (the zoo's architecture, a few
training steps: decoding cost, not quality, is what is measured).
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).parents[1]
CLIENTS = (1, 8, 32)


def _export(directory: Path) -> Path:
    from keras_attention.runs import train

    out = directory / "dates"
    overrides = ["training.epochs=1", "training.steps_per_epoch=4", "training.batch_size=16",
                 "data.num_examples=2000", "evaluation.max_examples=8"]
    with contextlib.redirect_stdout(sys.stderr):  # Keras' progress bars stay out of the table
        train(ROOT / "models" / "dates.toml", out, overrides, log=lambda *_: None)
    return out / "export"  # a base directory of versions: 1/


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start(export: Path, flags: list[str]):
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "keras_attention.cli", "serve", str(export), "--port", str(port),
         "--name", "dates", *flags],
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"), stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/v1/models/dates"
    for _ in range(600):
        try:
            urllib.request.urlopen(url, timeout=2)
            return process, port
        except OSError:
            if process.poll() is not None:
                raise SystemExit(f"the server {flags} exited")
            time.sleep(0.5)
    raise SystemExit("the server did not start")


def _load(port: int, clients: int, seconds: float) -> tuple[float, list[float]]:
    """`clients` keep-alive clients for `seconds`: (requests per second, latencies in s)."""
    latencies: list[float] = []
    failures: list[str] = []
    stop = time.perf_counter() + seconds

    def client(index: int):
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        request = 0
        while time.perf_counter() < stop:
            text = f"{1 + (index * 7 + request) % 28} March {1950 + (index + request) % 70}"
            body = json.dumps({"instances": [text]})
            start = time.perf_counter()
            connection.request("POST", "/v1/models/dates:predict", body,
                               {"Content-Type": "application/json"})
            response = connection.getresponse()
            response.read()
            if response.status != 200:
                failures.append(str(response.status))
            latencies.append(time.perf_counter() - start)
            request += 1
        connection.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    if failures:
        raise SystemExit(f"{len(failures)} failed requests: {sorted(set(failures))}")
    return len(latencies) / elapsed, latencies


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--export", help="a translation SavedModel, or a base directory of versions (default: train a short dates run)")
    parser.add_argument("--seconds", type=float, default=10.0, help="load per configuration and repeat")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--max-batch-size", type=int, default=32)
    parser.add_argument("--batch-timeout-ms", type=float, default=5.0)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as directory:
        export = Path(args.export) if args.export else _export(Path(directory))
        common = ["--max-batch-size", str(args.max_batch_size), "--limit-concurrency", "256"]
        servers = {
            "off": _start(export, common),
            "on": _start(export, [*common, "--enable-batching",
                                  "--batch-timeout-ms", str(args.batch_timeout_ms)]),
        }
        try:
            for _, port in servers.values():  # warm up both
                _load(port, 4, 2.0)
            print("| clients | batching | requests/s | p50 ms | p99 ms | throughput on/off |")
            print("|---:|---|---:|---:|---:|---:|")
            for clients in CLIENTS:
                throughputs = {"off": [], "on": []}
                latencies = {"off": [], "on": []}
                for repeat in range(args.repeats):
                    for mode in ("off", "on") if repeat % 2 == 0 else ("on", "off"):
                        throughput, measured = _load(servers[mode][1], clients, args.seconds)
                        throughputs[mode].append(throughput)
                        latencies[mode].extend(measured)
                ratio = statistics.median(
                    on / off for on, off in zip(throughputs["on"], throughputs["off"])
                )
                for mode in ("off", "on"):
                    print(f"| {clients} | {mode} | {statistics.median(throughputs[mode]):.1f} | "
                          f"{1000 * statistics.median(latencies[mode]):.0f} | "
                          f"{1000 * _percentile(latencies[mode], 0.99):.0f} | "
                          f"{f'{ratio:.2f}x' if mode == 'on' else ''} |", flush=True)
        finally:
            for process, _ in servers.values():
                process.terminate()
                process.wait(timeout=30)


if __name__ == "__main__":
    main()
