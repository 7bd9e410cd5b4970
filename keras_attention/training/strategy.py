"""Distribution strategies by name: one host (`mirrored`) or many (`multi_worker`)."""

from __future__ import annotations

import json
import os

__all__ = ["get_strategy"]


def get_strategy(name: str = "default"):
    """A `tf.distribute.Strategy` for `name`.

    * `"default"`: the default (no-op) strategy, one device.
    * `"mirrored"`: `MirroredStrategy` over this host's GPUs (or the CPU).
    * `"multi_worker"`: `MultiWorkerMirroredStrategy`, configured by the
      `TF_CONFIG` environment variable (cluster and this worker's task), as on
      every host of the job.

    Raises:
        ValueError: for an unknown name, or `multi_worker` without `TF_CONFIG`.
    """
    import tensorflow as tf

    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multi_worker":
        if "TF_CONFIG" not in os.environ:
            raise ValueError(
                "`strategy='multi_worker'` needs the TF_CONFIG environment variable, "
                'e.g. {"cluster": {"worker": ["host1:port", "host2:port"]}, '
                '"task": {"type": "worker", "index": 0}}'
            )
        json.loads(os.environ["TF_CONFIG"])  # fail early on malformed JSON
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise ValueError(
        "`strategy` must be one of ['default', 'mirrored', 'multi_worker']. "
        f"Received: strategy={name!r}"
    )
