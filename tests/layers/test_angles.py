"""`position_angles`: `pos / max_wavelength ** exponent`, from any start position."""

import numpy as np
from keras import ops

from keras_attention.layers._angles import position_angles


def test_angles_are_positions_over_wavelengths():
    exponents = np.array([0.0, 0.25, 0.5, 0.75], "float32")
    angles = ops.convert_to_numpy(position_angles(5, 3, ops.convert_to_tensor(exponents), 10000))
    expected = np.arange(3, 8)[:, None] / 10000.0 ** exponents[None, :]
    assert angles.shape == (5, 4) and angles.dtype == np.float32
    np.testing.assert_allclose(angles, expected, rtol=1e-6)


def test_a_start_index_tensor_shifts_the_positions():
    exponents = ops.convert_to_tensor(np.array([0.0, 0.5], "float32"))
    whole = ops.convert_to_numpy(position_angles(6, 0, exponents, 100))
    tail = ops.convert_to_numpy(position_angles(2, ops.convert_to_tensor(4), exponents, 100))
    np.testing.assert_allclose(tail, whole[4:], rtol=1e-6)
