"""Reference SGD update of one batch of token sequences, in plain numpy from the definitions.

The model is the smallest one with an embedding and a projection: the logits
of a token `x` are `embeddings[x] @ kernel + bias`. The loss of a batch is
the mean cross-entropy over its real target tokens (targets != `pad_id`):
`sum(loss) / T`, `T` the number of real targets in the whole batch, so its
gradient with respect to token `t`'s logits is `(softmax(logits_t) -
onehot(y_t)) / T` at real targets and 0 at padding.
"""

from __future__ import annotations

import numpy as np

from tests.reference.losses import log_softmax


def sgd_step(embeddings, kernel, bias, inputs, targets, learning_rate: float, pad_id: int = 0):
    """`(embeddings, kernel, bias)` after one SGD update on the batch `(inputs, targets)`."""
    embeddings, kernel, bias = (np.asarray(w, "float64") for w in (embeddings, kernel, bias))
    inputs, targets = np.asarray(inputs), np.asarray(targets)
    real = targets != pad_id
    hidden = embeddings[inputs]  # (batch, length, hidden_dim)
    probabilities = np.exp(log_softmax(hidden @ kernel + bias))  # (batch, length, vocabulary)
    onehot = np.eye(kernel.shape[1])[targets]
    logits_gradient = (probabilities - onehot) * real[..., None] / real.sum()
    kernel_gradient = np.einsum("blh,blv->hv", hidden, logits_gradient)
    bias_gradient = logits_gradient.sum(axis=(0, 1))
    embeddings_gradient = np.zeros_like(embeddings)
    np.add.at(embeddings_gradient, inputs, logits_gradient @ kernel.T)
    return (
        embeddings - learning_rate * embeddings_gradient,
        kernel - learning_rate * kernel_gradient,
        bias - learning_rate * bias_gradient,
    )
