"""Dynamic batching (`BatchingRunner`) against a fake server that records every model call.

No model is involved: the fake's `run` answers from its inputs (each row
doubled), so a reply proves which rows came back to which request.
"""

import asyncio
import threading
import time
from dataclasses import dataclass

import numpy as np
import pytest

from keras_attention.export.batching import BatchingRunner
from keras_attention.export.errors import RequestError


@dataclass
class Call:
    """What the runner reads of `server.Call`."""

    signature_name: str
    inputs: dict
    batch_size: int


def call(*rows, signature="serving_default", **scalars):
    """A request of `rows` (lists of ints) plus scalar inputs."""
    inputs = {"ids": np.array(rows, dtype=np.int32)}
    inputs.update({name: np.array(value) for name, value in scalars.items()})
    return Call(signature, inputs, len(rows))


class FakeServer:
    """Doubles `ids`; a negative id is the client's fault (`RequestError`), 666 a server fault."""

    def __init__(self, seconds=0.0):
        self.seconds = seconds
        self.calls = []  # (signature, {input: array}, monotonic time) per model call
        self.lock = threading.Lock()

    def run(self, signature_name, inputs):
        with self.lock:
            self.calls.append((signature_name, {k: v.copy() for k, v in inputs.items()}, time.monotonic()))
        time.sleep(self.seconds)
        ids = inputs["ids"]
        if (ids == 666).any():
            raise RuntimeError("the server broke")
        if (ids < 0).any():
            raise RequestError(f"negative id {int(ids.min())}")
        return {"doubled": ids * 2, "rows": np.array(len(ids))}

    def batches(self):
        """The ids of each call, as lists of rows."""
        return [inputs["ids"].tolist() for _, inputs, _ in self.calls]


def run_all(server, schedule, max_batch_size=8, batch_timeout_s=0.05, num_threads=1):
    """Send `schedule` [(delay_s, call)] to a runner; results (or exceptions) in order, and the runner."""

    async def main():
        runner = BatchingRunner(server, max_batch_size, batch_timeout_s, num_threads)
        await runner.start()

        async def send(delay, request):
            await asyncio.sleep(delay)
            return await runner.run(request)

        try:
            # A slot or a queue left behind would hang here: the timeout turns it into a failure.
            results = await asyncio.wait_for(
                asyncio.gather(*(send(delay, request) for delay, request in schedule), return_exceptions=True),
                timeout=30,
            )
        finally:
            await runner.stop()
        return results, runner

    return asyncio.run(main())


def test_requests_merge_up_to_max_batch_size_and_come_back_in_order():
    server = FakeServer()
    results, _ = run_all(server, [(0, call([i, i])) for i in range(20)], max_batch_size=8)
    # All 20 are queued before the first batch closes: full batches of 8, then the rest.
    assert server.batches() == [[[i, i] for i in batch] for batch in (range(0, 8), range(8, 16), range(16, 20))]
    assert [result["doubled"].tolist() for result in results] == [[[2 * i, 2 * i]] for i in range(20)]


def test_a_request_is_never_split_and_never_overfills_a_batch():
    server = FakeServer()
    requests = [call([1], [2], [3]), call([4], [5], [6]), call([7], [8], [9]), call([10])]
    results, _ = run_all(server, [(0, request) for request in requests], max_batch_size=8)
    # 3 + 3 = 6; another 3 would make 9 > 8, so the third request starts the next batch.
    assert server.batches() == [[[1], [2], [3], [4], [5], [6]], [[7], [8], [9], [10]]]
    assert [result["doubled"].ravel().tolist() for result in results] == [
        [2, 4, 6], [8, 10, 12], [14, 16, 18], [20]
    ]


def test_outputs_without_the_batch_dimension_go_whole_to_every_request():
    server = FakeServer()
    results, _ = run_all(server, [(0, call([1])), (0, call([2], [3]))])
    assert len(server.calls) == 1
    assert [result["rows"].tolist() for result in results] == [3, 3]  # the merged call's scalar


def test_a_batch_closes_at_the_timeout_and_takes_what_arrived_before():
    server = FakeServer()
    timeout = 0.5
    start = time.monotonic()
    schedule = [(0, call([1])), (0.1, call([2])), (1.5, call([3]))]
    results, _ = run_all(server, schedule, max_batch_size=8, batch_timeout_s=timeout)
    assert server.batches() == [[[1], [2]], [[3]]]
    first, second = (called - start for _, _, called in server.calls)
    # The first batch waited for its timeout (not for the third request, nor forever).
    assert timeout <= first < 1.5, first
    assert second >= 1.5 + timeout, second
    assert [result["doubled"].tolist() for result in results] == [[[2]], [[4]], [[6]]]


def test_a_full_batch_does_not_wait_for_the_timeout():
    server = FakeServer()
    start = time.monotonic()
    run_all(server, [(0, call([i])) for i in range(4)], max_batch_size=4, batch_timeout_s=5)
    assert server.batches() == [[[0], [1], [2], [3]]]
    assert server.calls[0][2] - start < 2


def test_different_inner_shapes_scalars_or_signatures_never_merge():
    server = FakeServer()
    requests = [
        call([1, 1]),
        call([2, 2, 2]),  # another row length
        call([3, 3], temperature=0.0),
        call([4, 4], temperature=1.0),  # another scalar value
        call([5, 5], temperature=0.0),  # merges with [3, 3]
        call([6, 6], signature="token_ids_to_logits"),  # another signature
        call([7, 7]),  # merges with [1, 1]
    ]
    results, _ = run_all(server, [(0, request) for request in requests])
    calls = sorted((name, inputs["ids"].tolist(), inputs.get("temperature")) for name, inputs, _ in server.calls)
    assert [(name, ids) for name, ids, _ in calls] == [
        ("serving_default", [[1, 1], [7, 7]]),
        ("serving_default", [[2, 2, 2]]),
        ("serving_default", [[3, 3], [5, 5]]),
        ("serving_default", [[4, 4]]),
        ("token_ids_to_logits", [[6, 6]]),
    ]
    # The scalar is passed once, unbatched, with the value its requests share.
    assert [temperature.tolist() for _, _, temperature in calls if temperature is not None] == [0.0, 1.0]
    assert [result["doubled"].tolist()[0] for result in results] == [
        [2, 2], [4, 4, 4], [6, 6], [8, 8], [10, 10], [12, 12], [14, 14]
    ]


def test_a_bad_request_in_a_merged_batch_fails_alone():
    server = FakeServer()
    requests = [call([1]), call([-7]), call([3], [4])]
    results, runner = run_all(server, [(0, request) for request in requests])
    # One merged call is rejected, then each request is retried on its own.
    assert server.batches() == [[[1], [-7], [3], [4]], [[1]], [[-7]], [[3], [4]]]
    good, bad, other = results
    assert isinstance(bad, RequestError) and str(bad) == "negative id -7"
    assert good["doubled"].tolist() == [[2]] and other["doubled"].tolist() == [[6], [8]]
    assert runner.slots._value == 1 and not runner.queues


def test_a_server_fault_fails_its_batch_and_frees_the_slot():
    server = FakeServer()
    schedule = [(0, call([1])), (0, call([666])), (0.5, call([2])), (0.5, call([-1]))]
    results, runner = run_all(server, schedule, num_threads=1)
    assert [type(result).__name__ for result in results] == ["RuntimeError", "RuntimeError", "dict", "RequestError"]
    # Later requests still ran, on the one thread: no slot was lost to either error.
    assert results[2]["doubled"].tolist() == [[4]]
    assert runner.slots._value == 1 and not runner.queues and not runner.tasks


@pytest.mark.parametrize("num_threads", [1, 3])
def test_busy_threads_let_batches_grow_and_every_slot_comes_back(num_threads):
    server = FakeServer(seconds=0.05)
    schedule = [(0.005 * i, call([-i] if i % 7 == 3 else [i])) for i in range(40)]
    results, runner = run_all(server, schedule, max_batch_size=8, batch_timeout_s=0.001, num_threads=num_threads)
    for i, result in enumerate(results):
        if i % 7 == 3:
            assert isinstance(result, RequestError) and str(result) == f"negative id {-i}"
        else:
            assert result["doubled"].tolist() == [[2 * i]]
    sizes = [len(batch) for batch in server.batches()]
    # While the threads are busy, requests pile up into batches larger than one.
    assert max(sizes) > 1
    assert runner.slots._value == num_threads and not runner.queues
