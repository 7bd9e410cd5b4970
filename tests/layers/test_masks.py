import numpy as np
import pytest

from keras import ops

from keras_attention.layers import causal_mask, compute_attention_mask, local_window_mask


def _np(x):
    return ops.convert_to_numpy(x)


def test_causal_mask_with_offset_matches_cached_positions():
    # Two new queries at absolute positions 3 and 4 over a cache of 6 keys.
    expected = np.arange(6)[None, :] <= np.array([3, 4])[:, None]
    np.testing.assert_array_equal(_np(causal_mask(2, 6, offset=3))[0], expected)


def test_local_window_is_a_band():
    mask = _np(local_window_mask(6, 6, window=2))[0]
    distance = np.abs(np.arange(6)[:, None] - np.arange(6)[None, :])
    np.testing.assert_array_equal(mask, distance <= 2)


def test_nothing_to_mask_returns_none():
    assert compute_attention_mask(4, 4) is None


def test_masks_are_combined_with_and():
    padding = np.array([[1, 1, 1, 0]])
    user = np.ones((1, 4, 4), bool)
    user[0, 2, 0] = False
    mask = _np(
        compute_attention_mask(
            4,
            4,
            padding_mask=padding,
            key_padding_mask=padding,
            attention_mask=user,
            use_causal_mask=True,
            attention_window=1,
        )
    )[0]
    expected = np.array(
        [[1, 0, 0, 0], [1, 1, 0, 0], [0, 1, 1, 0], [0, 0, 0, 0]], bool
    )
    np.testing.assert_array_equal(mask, expected)


def test_key_valid_length_hides_the_unfilled_cache():
    mask = _np(compute_attention_mask(1, 5, key_valid_length=3))
    np.testing.assert_array_equal(mask[0, 0], [True, True, True, False, False])


@pytest.mark.parametrize("window", [0, -1, 1.5, True])
def test_bad_window(window):
    with pytest.raises(ValueError, match="attention_window"):
        local_window_mask(3, 3, window)


def test_mask_shape_errors_name_the_argument():
    with pytest.raises(ValueError, match=r"key_padding_mask.shape=\(2, 3\)"):
        compute_attention_mask(4, 4, batch_size=2, key_padding_mask=np.ones((2, 3)))
