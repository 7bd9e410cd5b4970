"""`keras_attention._validation`: each check returns the value or raises a
ValueError naming the argument, the value received and what was expected."""

import re

import numpy as np
import pytest

from keras_attention import _validation


def test_accepted_values_come_back():
    assert _validation.positive_int("num_heads", 4) == 4
    assert _validation.positive_int("top_k", None, allow_none=True) is None
    assert _validation.rate("dropout", 0) == 0.0 and isinstance(_validation.rate("dropout", 0), float)
    assert _validation.choice("norm", "rms", ("layer", "rms")) == "rms"
    assert _validation.integer("max_length", 2, 2) == 2
    assert _validation.texts("texts", (text for text in ["a", "b"])) == ["a", "b"]
    _validation.tensor_rank("token_ids", np.zeros((2, 3)), 2, "(batch, length)")


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: _validation.positive_int("num_heads", 0), "`num_heads` must be a positive integer. Received: num_heads=0"),
        (lambda: _validation.positive_int("num_heads", True), "Received: num_heads=True"),
        (lambda: _validation.positive_int("num_heads", 2.0), "Received: num_heads=2.0"),
        (lambda: _validation.positive_int("top_k", -1, allow_none=True),
         "`top_k` must be a positive integer or None. Received: top_k=-1"),
        (lambda: _validation.rate("dropout", 1.0), "`dropout` must be a float in [0, 1). Received: dropout=1.0"),
        (lambda: _validation.rate("dropout", "0.1"), "Received: dropout='0.1'"),
        (lambda: _validation.choice("norm", "batch", {"rms", "layer"}),
         "`norm` must be one of ['layer', 'rms']. Received: norm='batch'"),
        (lambda: _validation.integer("max_length", 1, 2), "`max_length` must be an integer >= 2. Received: max_length=1"),
        (lambda: _validation.integer("max_length", False, 0), "Received: max_length=False"),
        (lambda: _validation.texts("texts", []), "`texts` must not be empty. Received: texts=[]"),
        (lambda: _validation.texts("texts", ["a", b"b"]), "`texts` must contain only str. Received an element b'b'"),
        (lambda: _validation.tensor_rank("token_ids", np.zeros((2, 3, 4)), 2, "(batch, length)"),
         "`token_ids` must be a rank-2 tensor (batch, length). Received: token_ids.shape=(2, 3, 4)"),
    ],
)
def test_refused_values_are_named(call, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        call()


def test_numpy_integers_are_integers():
    positive_int = _validation.positive_int
    assert positive_int("max_new_tokens", np.int64(4)) == 4
    assert type(positive_int("max_new_tokens", np.int32(4))) is int
    with pytest.raises(ValueError, match="max_new_tokens=np.int64\\(0\\)|max_new_tokens=0"):
        positive_int("max_new_tokens", np.int64(0))
    with pytest.raises(ValueError, match="positive integer"):
        positive_int("max_new_tokens", np.float64(4.0))
