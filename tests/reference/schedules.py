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
