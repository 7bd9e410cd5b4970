"""Serving latency while hundreds of idle and slow sockets hold the server, in one run.

One `keras-attention serve` process answers a translation SavedModel. A few
keep-alive clients send one-text `:predict` requests back to back for
`--seconds`, first on a quiet server (the peer), then while `--idle` idle
sockets (a third send nothing, a third part of their headers, a third their
headers and part of a body) and `--slow-readers` sockets that asked for a large
answer (`token_ids_to_logits` on 32 rows as long as the model takes) and never
read it are open; quiet and abusive phases alternate `--repeats` times. The
script prints the requests answered, p50/p99 latency and the ratios abusive /
quiet, the size of each unread answer, how many abusive sockets were still open
when each phase ended, and how many the server had cut off within 2 x
`--timeout` after the last phase (idle ones are closed after `--timeout`,
unread answers reset after at most twice that).

    python benchmarks/server_load.py [--export DIR] [--idle 500] [--slow-readers 20] [--seconds 10]

`--export` is a SavedModel directory or a base directory of numeric versions;
without it, a briefly trained run of `models/dates.toml` is served, as in
`benchmarks/serving.py`. The server's `--timeout` must outlast an abusive phase
(opening the sockets, computing the slow readers' answers, the load), or it
closes the sockets before the load ends.
"""

from __future__ import annotations

import argparse
import json
import re
import select
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from serving import _export, _load, _percentile, _start  # noqa: E402  (benchmarks/serving.py)

PATH = b"/v1/models/dates:predict"
ROWS = 32  # the server's default --max-batch-size


def _idle_sockets(port: int, count: int) -> list[socket.socket]:
    head = b"POST " + PATH + b" HTTP/1.1\r\nHost: x\r\n"
    sockets = []
    for index in range(count):
        sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        if index % 3 == 1:
            sock.sendall(head)
        elif index % 3 == 2:
            sock.sendall(head + b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"inst")
        sockets.append(sock)
    return sockets


def _longest_rows(export: Path) -> int:
    """The longest id rows the model's `token_ids_to_logits` takes (as the server reads its bounds)."""
    from keras_attention.export.server import ModelServer

    bounds = ModelServer(export).bounds
    return min(bounds[("token_ids_to_logits", name)].sequence_length
               for name in ("encoder_token_ids", "decoder_token_ids"))


def _slow_readers(port: int, count: int, length: int) -> list[socket.socket]:
    """`count` sockets whose large answers are written (or being written) and never read."""
    ids = [[5] * length] * ROWS
    body = json.dumps({"signature_name": "token_ids_to_logits",
                       "inputs": {"encoder_token_ids": ids, "decoder_token_ids": ids}}).encode()
    request = (b"POST " + PATH + b" HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
               + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
    sockets = []
    for _ in range(count):
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect(("127.0.0.1", port))
        sock.sendall(request)
        sockets.append(sock)
    waiting, deadline = list(sockets), time.monotonic() + 300
    while waiting and time.monotonic() < deadline:  # until every answer has started to arrive
        readable, _, _ = select.select(waiting, [], [], 1.0)
        waiting = [sock for sock in waiting if sock not in readable]
    if waiting:
        raise SystemExit(f"{len(waiting)} slow readers got no answer within 300 s")
    return sockets


def _answer_bytes(sock: socket.socket) -> int:
    """The Content-Length of the answer arriving on `sock`, read without taking it; it must be a 200."""
    head = sock.recv(4096, socket.MSG_PEEK).split(b"\r\n\r\n", 1)[0]
    if not head.startswith(b"HTTP/1.1 200 "):
        raise SystemExit(f"a slow reader's request was refused: {head.splitlines()[0]!r}")
    return int(re.search(rb"(?i)content-length: (\d+)", head).group(1))


def _open(sock: socket.socket) -> bool:
    """Whether the server still holds `sock`: its TCP state is ESTABLISHED (not reset, no FIN)."""
    return sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 1)[0] == 1  # Linux's TCP_ESTABLISHED


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--export", help="a translation SavedModel, or a base directory of versions (default: train a short dates run)")
    parser.add_argument("--idle", type=int, default=500, help="idle sockets held open")
    parser.add_argument("--slow-readers", type=int, default=20, help="sockets that never read a large answer")
    parser.add_argument("--clients", type=int, default=4, help="keep-alive clients measured")
    parser.add_argument("--seconds", type=int, default=10, help="load per phase")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--timeout", type=int, default=30, help="the server's --timeout")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as directory:
        export = Path(args.export) if args.export else _export(Path(directory))
        length = _longest_rows(export)
        process, port = _start(export, ["--timeout", str(args.timeout)])
        abusive: list[socket.socket] = []
        try:
            _load(port, args.clients, 2.0)  # warm up
            throughputs = {"quiet": [], "abusive": []}
            latencies = {"quiet": [], "abusive": []}
            still_open = []
            for repeat in range(args.repeats):
                throughput, measured = _load(port, args.clients, args.seconds)
                throughputs["quiet"].append(throughput)
                latencies["quiet"].extend(measured)
                began = time.monotonic()
                idle = _idle_sockets(port, args.idle)
                slow = _slow_readers(port, args.slow_readers, length)
                abusive = idle + slow
                answer_bytes = _answer_bytes(slow[0]) if slow else 0
                throughput, measured = _load(port, args.clients, args.seconds)
                throughputs["abusive"].append(throughput)
                latencies["abusive"].extend(measured)
                still_open.append((sum(map(_open, idle)), sum(map(_open, slow)), time.monotonic() - began))
                if repeat < args.repeats - 1:  # the last ones stay, to see the server cut them off
                    for sock in abusive:
                        sock.close()
            print("| phase | idle sockets | slow-reader sockets | requests answered | requests/s | "
                  "p50 ms | p99 ms | p50 vs quiet | p99 vs quiet |")
            print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
            p50 = {mode: statistics.median(values) for mode, values in latencies.items()}
            p99 = {mode: _percentile(values, 0.99) for mode, values in latencies.items()}
            for mode in ("quiet", "abusive"):
                sockets = ("0", "0") if mode == "quiet" else (
                    f"{min(i for i, _, _ in still_open)}/{args.idle}",
                    f"{min(s for _, s, _ in still_open)}/{args.slow_readers}")
                ratios = ("", "") if mode == "quiet" else (
                    f"{p50['abusive'] / p50['quiet']:.2f}x", f"{p99['abusive'] / p99['quiet']:.2f}x")
                print(f"| {mode} | {sockets[0]} | {sockets[1]} | {len(latencies[mode])} | "
                      f"{statistics.median(throughputs[mode]):.1f} | {1000 * p50[mode]:.0f} | "
                      f"{1000 * p99[mode]:.0f} | {ratios[0]} | {ratios[1]} |", flush=True)
            print(f"Each slow reader's unread answer: {answer_bytes / 1e6:.1f} MB.")
            print(f"Abusive sockets still open when each abusive phase ended (at most "
                  f"{max(t for _, _, t in still_open):.0f} s after they opened; the least over the "
                  f"repeats is in the table): " + ", ".join(f"{i} idle + {s} slow" for i, s, _ in still_open))
            deadline = time.monotonic() + 2 * args.timeout + 5
            while any(map(_open, abusive)) and time.monotonic() < deadline:
                time.sleep(1)
            print(f"Cut off by the server within 2 x --timeout ({2 * args.timeout} s) + 5 s of the "
                  f"last phase: {sum(not _open(sock) for sock in idle)}/{args.idle} idle, "
                  f"{sum(not _open(sock) for sock in slow)}/{args.slow_readers} slow readers.")
        finally:
            for sock in abusive:
                sock.close()
            process.terminate()
            process.wait(timeout=30)


if __name__ == "__main__":
    main()
