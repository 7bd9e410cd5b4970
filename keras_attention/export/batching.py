"""Dynamic batching for the REST server, as TF Serving's `--enable_batching`.

Concurrent requests to one signature wait in a queue; a batch closes when it
holds `max_batch_size` instances or `batch_timeout_s` after its first request,
runs as one model call on a thread pool, and its outputs are split back by
request. While every thread is busy, the open batch keeps filling, so the
batches grow with the load. Requests merge only when they agree on everything
but the batch dimension: the signature, the inner shapes of batch inputs (e.g.
the length of token-id rows) and the values of scalar inputs (e.g.
`max_new_tokens`); each such group has its own queue.
"""

from __future__ import annotations

import asyncio
from collections import deque
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from keras_attention.export.errors import RequestError

__all__ = ["BatchingRunner"]


class _Pending:
    def __init__(self, call, future):
        self.call = call
        self.future = future


class _Queue:
    def __init__(self):
        self.items: deque[_Pending] = deque()
        self.arrived = asyncio.Event()


def _group(call) -> tuple:
    """What requests must share to be merged."""
    parts = [call.signature_name]
    for name, array in sorted(call.inputs.items()):
        if array.ndim:
            parts.append((name, array.shape[1:]))
        else:
            parts.append((name, array.item()))
    return tuple(parts)


class BatchingRunner:
    """Runs `ModelServer` calls, merging concurrent ones.

    Args:
        server: the `ModelServer`.
        max_batch_size: int. The most instances in one model call.
        batch_timeout_s: float. How long a batch waits for more requests.
        num_threads: int. Model calls running at once.
    """

    def __init__(self, server, max_batch_size: int, batch_timeout_s: float, num_threads: int):
        self.server = server
        self.max_batch_size = max_batch_size
        self.batch_timeout_s = batch_timeout_s
        self.num_threads = num_threads
        self.pool = ThreadPoolExecutor(num_threads, thread_name_prefix="batch")
        self.queues: dict[tuple, _Queue] = {}
        self.tasks: set[asyncio.Task] = set()
        self.slots = None

    async def start(self):
        self.slots = asyncio.Semaphore(self.num_threads)

    async def stop(self):
        for task in list(self.tasks):
            task.cancel()
        self.pool.shutdown(wait=False, cancel_futures=True)

    async def run(self, call) -> dict[str, np.ndarray]:
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        key = _group(call)
        queue = self.queues.get(key)
        if queue is None:
            # No await between creating the queue and the worker: nothing is lost.
            queue = self.queues[key] = _Queue()
            self._spawn(self._worker(key, queue))
        queue.items.append(_Pending(call, future))
        queue.arrived.set()
        return await future

    def _spawn(self, coroutine):
        task = asyncio.get_running_loop().create_task(coroutine)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _worker(self, key, queue: _Queue):
        loop = asyncio.get_running_loop()
        while queue.items:
            await self.slots.acquire()
            try:
                batch = [queue.items.popleft()]
                size = batch[0].call.batch_size
                deadline = loop.time() + self.batch_timeout_s
                while size < self.max_batch_size:
                    if queue.items:
                        if size + queue.items[0].call.batch_size > self.max_batch_size:
                            break
                        batch.append(queue.items.popleft())
                        size += batch[-1].call.batch_size
                        continue
                    remaining = deadline - loop.time()
                    if remaining <= 0:
                        break
                    queue.arrived.clear()
                    try:
                        await asyncio.wait_for(queue.arrived.wait(), remaining)
                    except asyncio.TimeoutError:
                        break
            except BaseException:
                self.slots.release()
                raise
            self._spawn(self._execute(batch))
        del self.queues[key]  # an idle group holds nothing

    async def _execute(self, batch: list[_Pending]):
        try:
            results = await self._call(batch)
            for pending, result in zip(batch, results):
                if not pending.future.done():
                    if isinstance(result, BaseException):
                        pending.future.set_exception(result)
                    else:
                        pending.future.set_result(result)
        except BaseException as error:  # e.g. cancelled at shutdown
            for pending in batch:
                if not pending.future.done():
                    pending.future.set_exception(error)
            if not isinstance(error, Exception):
                raise
        finally:
            self.slots.release()

    async def _call(self, batch: list[_Pending]) -> list:
        """One model call for the batch, split back; a rejected batch is retried request by request."""
        loop = asyncio.get_running_loop()
        calls = [pending.call for pending in batch]
        first = calls[0]
        inputs = {
            name: np.concatenate([call.inputs[name] for call in calls]) if array.ndim else array
            for name, array in first.inputs.items()
        }
        try:
            outputs = await loop.run_in_executor(self.pool, self.server.run, first.signature_name, inputs)
        except RequestError as error:
            if len(calls) == 1:
                return [error]
            # One request's inputs broke the merged call; the others deserve their answers.
            results = []
            for call in calls:
                try:
                    results.append(await loop.run_in_executor(
                        self.pool, self.server.run, call.signature_name, call.inputs))
                except RequestError as single:
                    results.append(single)
            return results
        total = sum(call.batch_size for call in calls)
        results, start = [], 0
        for call in calls:
            end = start + call.batch_size
            results.append({
                name: value[start:end] if value.ndim and value.shape[0] == total else value
                for name, value in outputs.items()
            })
            start = end
        return results
