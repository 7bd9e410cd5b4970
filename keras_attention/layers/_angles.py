"""The position x frequency angles shared by sinusoidal and rotary positions."""

from keras import ops


def position_angles(length, start_index, exponents, max_wavelength):
    """`(length, channels)` angles `pos / max_wavelength ** exponent`.

    Positions run from `start_index` to `start_index + length - 1`; `exponents`
    is a float32 vector with one exponent in [0, 1) per channel.
    """
    positions = ops.cast(
        ops.arange(length) + ops.cast(start_index, "int32"), "float32"
    )
    inverse_frequencies = ops.power(float(max_wavelength), -exponents)
    return ops.einsum("s,f->sf", positions, inverse_frequencies)
