"""Learning-rate schedules: the paper's (linear warmup, then inverse square
root) and linear warmup then cosine decay to 0 at the last update."""

from __future__ import annotations

import math

import keras
from keras import ops

__all__ = ["CosineSchedule", "TransformerSchedule"]


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


@keras.saving.register_keras_serializable(package="keras_attention")
class CosineSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warmup to `learning_rate`, then cosine decay to 0 at the last update.

    With `s` the number of the update (from 1, as in `TransformerSchedule`:
    the optimizer's `iterations` + 1), `W = warmup_steps` and
    `T = total_steps`:

        lr(s) = learning_rate * s / W                                  s <= W
        lr(s) = learning_rate * (1 + cos(pi * (s - W) / (T - W))) / 2  W < s <= T

    and 0 after `T`. The first update already has a rate
    (`learning_rate / W`), the `W`-th the peak, and the last one, the `T`-th,
    exactly 0: no update is spent at rate 0 before training, nor is one
    missing at the end.

    Args:
        learning_rate: float > 0, the peak rate.
        warmup_steps: int >= 0, the updates of the warmup (0: none).
        total_steps: int > `warmup_steps`, the updates of the whole run.

    Example:

    >>> schedule = CosineSchedule(1.0, warmup_steps=2, total_steps=4)
    >>> [round(float(schedule(step)), 4) for step in range(4)]  # the optimizer's iterations
    [0.5, 1.0, 0.5, 0.0]
    """

    def __init__(self, learning_rate: float, warmup_steps: int, total_steps: int):
        if isinstance(learning_rate, bool) or not isinstance(learning_rate, (int, float)) or not (
            0 < learning_rate < math.inf
        ):
            raise ValueError(
                f"`learning_rate` must be a finite float > 0. Received: learning_rate={learning_rate!r}"
            )
        if isinstance(warmup_steps, bool) or not isinstance(warmup_steps, int) or warmup_steps < 0:
            raise ValueError(
                f"`warmup_steps` must be an integer >= 0. Received: warmup_steps={warmup_steps!r}"
            )
        if isinstance(total_steps, bool) or not isinstance(total_steps, int) or total_steps <= warmup_steps:
            raise ValueError(
                f"`total_steps` must be an integer > `warmup_steps` ({warmup_steps}). "
                f"Received: total_steps={total_steps!r}"
            )
        self.learning_rate = float(learning_rate)
        self.warmup_steps = warmup_steps
        self.total_steps = total_steps

    def __call__(self, step):
        step = ops.cast(step, "float32") + 1.0
        warmup = float(self.warmup_steps)
        warming = self.learning_rate * step / max(warmup, 1.0)
        progress = ops.clip((step - warmup) / float(self.total_steps - self.warmup_steps), 0.0, 1.0)
        # (1 + cos(pi * progress)) / 2, exactly 0 at the end and precise near it.
        decaying = self.learning_rate * ops.square(ops.sin(0.5 * math.pi * (1.0 - progress)))
        return ops.where(step <= warmup, warming, decaying)

    def get_config(self):
        return {
            "learning_rate": self.learning_rate,
            "warmup_steps": self.warmup_steps,
            "total_steps": self.total_steps,
        }
