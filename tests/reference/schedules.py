"""Reference learning-rate schedule of the Transformer paper (Vaswani et al., 2017, §5.3, eq. 3).

    lrate = d_model^-0.5 * min(step_num^-0.5, step_num * warmup_steps^-1.5)

`step_num` counts training steps from 1 (the first update uses step_num = 1);
`scale` multiplies the whole schedule.
"""

from __future__ import annotations

import math


def learning_rate(step_num: int, hidden_dim: int, warmup_steps: int = 4000, scale: float = 1.0) -> float:
    if step_num < 1:
        raise ValueError(f"step_num counts from 1. Received: step_num={step_num}")
    return scale / math.sqrt(hidden_dim) * min(1 / math.sqrt(step_num), step_num / warmup_steps**1.5)


def cosine_learning_rate(update: int, learning_rate: float, warmup_steps: int, total_steps: int) -> float:
    """The cosine schedule's rate at `update` (the optimizer's update count, from 0).

    Update `update` is the `n = update + 1`-th of `total_steps`: the warmup
    climbs linearly, `learning_rate * n / warmup_steps`, reaching the peak at
    the `warmup_steps`-th update; the remaining `total_steps - warmup_steps`
    updates follow half a cosine period, `learning_rate * (1 + cos(pi * done))
    / 2` with `done = (n - warmup_steps) / (total_steps - warmup_steps)` of
    the decay behind them, so the last update (`n = total_steps`) has rate 0.
    """
    if not 0 <= update:
        raise ValueError(f"update counts from 0. Received: update={update}")
    n = update + 1
    if n <= warmup_steps:
        return learning_rate * n / warmup_steps
    done = min((n - warmup_steps) / (total_steps - warmup_steps), 1.0)
    return learning_rate * (1 + math.cos(math.pi * done)) / 2
