"""`keras-attention demo`: one self-attention layer learns to reverse sequences."""

import numpy as np

from keras_attention import demo


def test_demo_learns_reversal_by_attending_along_the_anti_diagonal(capsys):
    accuracy = demo.main(epochs=2, steps_per_epoch=150, seed=0)
    assert accuracy > 0.95
    printed = capsys.readouterr().out
    assert "Attention weights of head 0" in printed


def test_reversal_data_is_reversed():
    inputs, targets = demo.reversal_data(4, seed=1)
    np.testing.assert_array_equal(inputs[:, ::-1], targets)
    assert inputs.min() >= 1  # no padding ids
