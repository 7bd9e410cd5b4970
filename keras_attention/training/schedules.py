"""The paper's learning-rate schedule: linear warmup, then inverse square root."""

from __future__ import annotations

import keras
from keras import ops

__all__ = ["TransformerSchedule"]


@keras.saving.register_keras_serializable(package="keras_attention")
class TransformerSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """`lr = scale * hidden_dim^-0.5 * min(step^-0.5, step * warmup_steps^-1.5)`.

    The rate grows linearly for `warmup_steps` steps, peaks at
    `scale / sqrt(hidden_dim * warmup_steps)`, then decays with the inverse
    square root of the step (paper §5.3). Steps count from 1.

    Args:
        hidden_dim: int, the model width (d_model).
        warmup_steps: int, default 4000 (the paper's value).
        scale: float, default 1.0, a multiplier on the whole schedule.

    Example:

    >>> schedule = TransformerSchedule(hidden_dim=512, warmup_steps=4000)
    >>> round(float(schedule(3999)), 6)  # the peak, at step 4000
    0.000699

    References:
        Vaswani et al., "Attention Is All You Need", 2017, §5.3, equation (3).
    """

    def __init__(self, hidden_dim: int, warmup_steps: int = 4000, scale: float = 1.0):
        for name, value in (("hidden_dim", hidden_dim), ("warmup_steps", warmup_steps)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"`{name}` must be a positive integer. Received: {name}={value!r}")
        if not isinstance(scale, (int, float)) or scale <= 0:
            raise ValueError(f"`scale` must be a positive float. Received: scale={scale!r}")
        self.hidden_dim = hidden_dim
        self.warmup_steps = warmup_steps
        self.scale = float(scale)

    def __call__(self, step):
        step = ops.cast(step, "float32") + 1.0
        warmup = float(self.warmup_steps)
        return (
            self.scale
            * self.hidden_dim**-0.5
            * ops.minimum(ops.power(step, -0.5), step * warmup**-1.5)
        )

    def get_config(self):
        return {
            "hidden_dim": self.hidden_dim,
            "warmup_steps": self.warmup_steps,
            "scale": self.scale,
        }
