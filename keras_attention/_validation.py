"""Argument checks for the whole package: each error names the argument, the
value received and what was expected."""

from __future__ import annotations

import numbers

# Python and numpy integers (numpy registers its integer types as Integral).
_ACCEPTED_INTS = (numbers.Integral,)


def positive_int(name, value, allow_none=False):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, _ACCEPTED_INTS) or value < 1:
        expected = "a positive integer" + (" or None" if allow_none else "")
        raise ValueError(f"`{name}` must be {expected}. Received: {name}={value!r}")
    return int(value)


def positive_float(name, value, allow_none=False):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (numbers.Real,)) or not value > 0:
        expected = "a positive float" + (" or None" if allow_none else "")
        raise ValueError(f"`{name}` must be {expected}. Received: {name}={value!r}")
    return float(value)


def rate(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
        0.0 <= value < 1.0
    ):
        raise ValueError(
            f"`{name}` must be a float in [0, 1). Received: {name}={value!r}"
        )
    return float(value)


def choice(name, value, allowed):
    if value not in allowed:
        raise ValueError(
            f"`{name}` must be one of {sorted(allowed)}. Received: {name}={value!r}"
        )
    return value


def tensor_rank(name, tensor, rank, meaning):
    if len(tensor.shape) != rank:
        raise ValueError(
            f"`{name}` must be a rank-{rank} tensor {meaning}. "
            f"Received: {name}.shape={tuple(tensor.shape)}"
        )


def integer(name, value, minimum):
    """An int (not a bool) >= `minimum`."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(
            f"`{name}` must be an integer >= {minimum}. Received: {name}={value!r}"
        )
    return value


def texts(name, values):
    """A non-empty sequence of str, as a list."""
    values = list(values)
    if not values:
        raise ValueError(f"`{name}` must not be empty. Received: {name}=[]")
    for text in values:
        if not isinstance(text, str):
            raise ValueError(f"`{name}` must contain only str. Received an element {text!r}")
    return values


def token_id(name, value, vocabulary_size):
    """None, or an int (not a bool) in [0, vocabulary_size)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, _ACCEPTED_INTS) or not 0 <= value < vocabulary_size:
        raise ValueError(
            f"`{name}` must be None or a token id in [0, {vocabulary_size}). "
            f"Received: {name}={value!r}"
        )
    return int(value)
