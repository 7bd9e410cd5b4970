"""Reference token cross-entropy in plain numpy, written from the definitions.

`masked_cross_entropy` is the mean over real target tokens (weighted by
sample weights where given): sum(w * loss) / sum(w). With label smoothing the
target distribution follows the Annotated Transformer: `1 - eps` on the true
token, `eps` spread evenly over the other tokens that can be emitted (every
token but the true one and the pad token), and nothing on the pad token.
"""

from __future__ import annotations

import numpy as np


def log_softmax(logits: np.ndarray) -> np.ndarray:
    logits = np.asarray(logits, "float64")
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def smoothed_target(label: int, vocabulary_size: int, label_smoothing: float, pad_id: int = 0):
    """The target distribution of one real token `label`, shape `(vocabulary_size,)`."""
    target = np.zeros(vocabulary_size)
    others = [token for token in range(vocabulary_size) if token not in (label, pad_id)]
    for token in others:
        target[token] = label_smoothing / len(others)
    target[label] = 1.0 - label_smoothing if others else 1.0
    return target


def token_cross_entropies(labels, logits, label_smoothing=0.0, pad_id=0) -> np.ndarray:
    """Per-position cross-entropy, 0 at pad targets; shape of `labels`."""
    labels = np.asarray(labels)
    log_probs = log_softmax(logits)
    losses = np.zeros(labels.shape)
    for index in np.ndindex(labels.shape):
        label = int(labels[index])
        if label == pad_id:
            continue
        target = smoothed_target(label, log_probs.shape[-1], label_smoothing, pad_id)
        losses[index] = -(target * log_probs[index]).sum()
    return losses


def masked_cross_entropy(labels, logits, label_smoothing=0.0, pad_id=0, sample_weight=None) -> float:
    """Mean cross-entropy per real token: sum(w * loss) / sum(w), w = 0 at pad targets."""
    labels = np.asarray(labels)
    weights = (labels != pad_id).astype("float64")
    if sample_weight is not None:
        sample_weight = np.asarray(sample_weight, "float64")
        weights = weights * sample_weight.reshape(sample_weight.shape + (1,) * (labels.ndim - sample_weight.ndim))
    losses = token_cross_entropies(labels, logits, label_smoothing, pad_id)
    return float((weights * losses).sum() / weights.sum())


def sparse_cross_entropy(labels, logits, sample_weight=None) -> float:
    """Mean cross-entropy of class labels (no pad class): sum(w * loss) / sum(w)."""
    labels = np.asarray(labels)
    log_probs = log_softmax(logits)
    losses = np.array([-log_probs[index + (int(labels[index]),)] for index in np.ndindex(labels.shape)])
    weights = np.ones(labels.size) if sample_weight is None else np.asarray(sample_weight, "float64").ravel()
    return float((weights * losses).sum() / weights.sum())
