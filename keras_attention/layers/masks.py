"""Attention masks: the one place where padding, causal, local-window and user
masks are built and combined.

Every mask here is a boolean tensor where `True` means "this query may attend
to this key". Shapes broadcast against attention scores of shape
`(batch, heads, query_length, key_length)`; the helpers return
`(batch or 1, query_length, key_length)` and the attention core adds the heads
axis.

Local attention is nothing more than attention with some weights forced to
zero: `local_window_mask` is the mask that does it.
"""

from __future__ import annotations

from keras import ops

from keras_attention import _validation

__all__ = [
    "causal_mask",
    "local_window_mask",
    "compute_attention_mask",
    "keras_mask",
]


def keras_mask(tensor):
    """The implicit Keras mask attached to `tensor`, or None.

    Layers such as `keras.layers.Embedding(mask_zero=True)` attach a padding
    mask to their outputs; the layers of this package use it when no explicit
    `padding_mask` is passed (but never rely on it across a SavedModel).

    Args:
        tensor: any tensor.

    Returns:
        The `(batch, length)` mask, or None when the tensor carries none.

    Example:

    >>> import keras, numpy as np
    >>> embedded = keras.layers.Embedding(10, 4, mask_zero=True)(np.array([[3, 0]]))
    >>> keras.ops.convert_to_numpy(keras_mask(embedded))
    array([[ True, False]])
    >>> keras_mask(np.zeros((1, 2))) is None
    True
    """
    return getattr(tensor, "_keras_mask", None)


def _positions(query_length, key_length, offset):
    # (query_length, 1) absolute query positions, (1, key_length) key positions.
    query_positions = ops.expand_dims(
        ops.arange(query_length, dtype="int32") + ops.cast(offset, "int32"), 1
    )
    key_positions = ops.expand_dims(ops.arange(key_length, dtype="int32"), 0)
    return query_positions, key_positions


def causal_mask(query_length, key_length, offset=0):
    """Lower-triangular mask: query `i` sees keys `0 .. offset + i`.

    Args:
        query_length: int or scalar tensor, number of queries.
        key_length: int or scalar tensor, number of keys.
        offset: int or scalar tensor, default 0. Absolute position of the
            first query; in cached decoding this is the cache index.

    Returns:
        Boolean tensor of shape `(1, query_length, key_length)`.

    Example:

    >>> from keras import ops
    >>> ops.convert_to_numpy(causal_mask(3, 3)[0]).astype(int)
    array([[1, 0, 0],
           [1, 1, 0],
           [1, 1, 1]])
    """
    query_positions, key_positions = _positions(query_length, key_length, offset)
    return ops.expand_dims(key_positions <= query_positions, 0)


def local_window_mask(query_length, key_length, window, offset=0):
    """Band mask: query `i` sees only keys `j` with `|offset + i - j| <= window`.

    This is local attention: a global attention whose weights outside the band
    are forced to exactly zero.

    Args:
        query_length: int or scalar tensor, number of queries.
        key_length: int or scalar tensor, number of keys.
        window: int >= 1, how far a query may look on each side.
        offset: int or scalar tensor, default 0, absolute position of the
            first query.

    Returns:
        Boolean tensor of shape `(1, query_length, key_length)`.

    Example:

    >>> from keras import ops
    >>> ops.convert_to_numpy(local_window_mask(4, 4, window=1)[0]).astype(int)
    array([[1, 1, 0, 0],
           [1, 1, 1, 0],
           [0, 1, 1, 1],
           [0, 0, 1, 1]])
    """
    _validation.positive_int("attention_window", window)
    query_positions, key_positions = _positions(query_length, key_length, offset)
    return ops.expand_dims(ops.abs(query_positions - key_positions) <= window, 0)


def _as_bool(mask):
    return mask if ops.dtype(mask) == "bool" else ops.not_equal(mask, 0)


def _check_static_shape(name, mask, expected):
    shape = tuple(mask.shape)
    if len(shape) != len(expected) or any(
        got is not None and want is not None and got != want
        for got, want in zip(shape, expected)
    ):
        raise ValueError(
            f"`{name}` must have shape {tuple(expected)} to fit the inputs. "
            f"Received: {name}.shape={shape}"
        )


def compute_attention_mask(
    query_length,
    key_length,
    batch_size=None,
    padding_mask=None,
    key_padding_mask=None,
    attention_mask=None,
    use_causal_mask=False,
    attention_window=None,
    offset=0,
    key_valid_length=None,
):
    """Combine every kind of mask into one boolean attention mask.

    Args:
        query_length: int or scalar tensor.
        key_length: int or scalar tensor.
        batch_size: optional static batch size, used only to validate shapes.
        padding_mask: `(batch, query_length)`, nonzero for real query tokens.
            Padded query rows attend to nothing (their output is zero).
        key_padding_mask: `(batch, key_length)`, nonzero for real keys.
        attention_mask: `(batch, query_length, key_length)`, a user mask.
        use_causal_mask: bool, forbid attending to later positions.
        attention_window: None or int >= 1, local attention band.
        offset: absolute position of the first query (cached decoding).
        key_valid_length: optional scalar; keys at positions `>=` it are
            masked (the unfilled tail of a fixed-size cache).

    Returns:
        `None` when nothing is masked, else a boolean tensor of shape
        `(batch or 1, query_length, key_length)`.

    Example:

    >>> from keras import ops
    >>> mask = compute_attention_mask(
    ...     3, 3, padding_mask=ops.array([[1, 1, 0]]),
    ...     key_padding_mask=ops.array([[1, 1, 0]]), use_causal_mask=True)
    >>> ops.convert_to_numpy(mask[0]).astype(int)
    array([[1, 0, 0],
           [1, 1, 0],
           [0, 0, 0]])
    """
    masks = []
    static_q = query_length if isinstance(query_length, int) else None
    static_k = key_length if isinstance(key_length, int) else None
    if padding_mask is not None:
        _check_static_shape("padding_mask", padding_mask, (batch_size, static_q))
        masks.append(ops.expand_dims(_as_bool(padding_mask), 2))
    if key_padding_mask is not None:
        _check_static_shape(
            "key_padding_mask", key_padding_mask, (batch_size, static_k)
        )
        masks.append(ops.expand_dims(_as_bool(key_padding_mask), 1))
    if attention_mask is not None:
        if len(attention_mask.shape) == 2:
            attention_mask = ops.expand_dims(attention_mask, 0)
        _check_static_shape(
            "attention_mask",
            attention_mask,
            (
                None if attention_mask.shape[0] == 1 else batch_size,
                static_q,
                static_k,
            ),
        )
        masks.append(_as_bool(attention_mask))
    if use_causal_mask:
        masks.append(causal_mask(query_length, key_length, offset))
    if attention_window is not None:
        masks.append(
            local_window_mask(query_length, key_length, attention_window, offset)
        )
    if key_valid_length is not None:
        key_positions = ops.arange(key_length, dtype="int32")
        valid = key_positions < ops.cast(key_valid_length, "int32")
        masks.append(ops.reshape(valid, (1, 1, -1)))
    if not masks:
        return None
    mask = masks[0]
    for other in masks[1:]:
        mask = ops.logical_and(mask, other)
    return mask
