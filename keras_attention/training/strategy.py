"""Distribution strategies by name: one host (`mirrored`) or many (`multi_worker`)."""

from __future__ import annotations

import json
import os
import re

__all__ = ["TESTED_KERAS", "get_strategy", "patch_keras_for_multi_worker"]

# `patch_keras_for_multi_worker` replaces private Keras internals
# (`keras.src.backend.tensorflow.trainer.reduce_per_replica` and the
# iterator format `Trainer._maybe_symbolic_build` reads), which may change in
# any minor release. It refuses to run on Keras minors it was not tested on:
# [first, last) as (major, minor). setup.cfg bounds `keras` below the same
# upper limit; raise both together after the multi-worker test passes.
TESTED_KERAS = ((3, 15), (3, 16))


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


def patch_keras_for_multi_worker(model, strategy) -> None:
    """Work around two Keras 3 (3.15) bugs with `MultiWorkerMirroredStrategy`.

    1. `fit` builds the model from its first batch after averaging it across
       workers with one `strategy.reduce` over the whole (inputs, targets)
       structure, which the collective strategy rejects for dict inputs
       ("Attempt to convert a value ({'encoder_token_ids': PerReplica ...})
       to a Tensor"). Building needs only shapes, so the worker's local batch
       is used instead (this model only).
    2. Each step's logs (scalar losses and metrics) are averaged with
       `strategy.reduce("MEAN", value, axis=0)`, which fails on scalars
       ("Invalid reduction dimension 0 for input with 0 dimensions"). Scalars
       are averaged with `axis=None` instead; everything else is unchanged.

    Remove once Keras handles both (the multi-worker test will tell).

    Raises:
        RuntimeError: when the installed Keras is outside `TESTED_KERAS`, whose
            private internals the patch was not checked against.
    """
    _check_keras_version()
    import tensorflow as tf
    from keras import tree
    from keras.src.backend.tensorflow import trainer as tensorflow_trainer

    def local(value):
        if isinstance(value, tf.distribute.DistributedValues):
            return strategy.experimental_local_results(value)[0]
        return value

    def build(iterator=None, data_batch=None):
        if iterator is not None:
            for _, _, batches in iterator:
                data_batch = tree.map_structure(local, next(batches))
                break
        with strategy.scope():
            model._symbolic_build(data_batch=data_batch)

    model._maybe_symbolic_build = build

    original = getattr(tensorflow_trainer.reduce_per_replica, "__wrapped__", None)
    original = original or tensorflow_trainer.reduce_per_replica

    def reduce_per_replica(values, strategy, reduction):
        def reduce(value):
            if (
                isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)
                and reduction in ("auto", "mean")
                and tf.is_tensor(local(value))
                and local(value).shape.rank == 0
            ):
                return strategy.reduce("MEAN", value, axis=None)
            return original(value, strategy, reduction)

        return tree.map_structure(reduce, values)

    reduce_per_replica.__wrapped__ = original
    tensorflow_trainer.reduce_per_replica = reduce_per_replica


def _check_keras_version() -> None:
    import keras

    version = keras.__version__
    numbers = re.match(r"(\d+)\.(\d+)", version)
    (first, last) = TESTED_KERAS
    if numbers is None or not first <= (int(numbers[1]), int(numbers[2])) < last:
        raise RuntimeError(
            f"`strategy='multi_worker'` patches private Keras internals tested with Keras "
            f">={first[0]}.{first[1]},<{last[0]}.{last[1]} only. Received: keras=={version}. "
            "Install a tested Keras, or use `strategy='mirrored'` / `'default'`."
        )
