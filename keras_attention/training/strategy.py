"""Distribution strategies by name: one host (`mirrored`) or many (`multi_worker`)."""

from __future__ import annotations

import json
import os

__all__ = ["get_strategy", "patch_keras_for_multi_worker"]


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
    """
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
