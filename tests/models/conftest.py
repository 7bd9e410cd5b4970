import numpy as np
import pytest

from tests.models.bert_helpers import BATCH, LENGTH


@pytest.fixture
def bert_batch(rng):
    """A masked batch: inputs (with `[MASK]` = 1 at `mask_positions`) and labels."""
    token_ids = rng.integers(4, 100, (BATCH, LENGTH)).astype("int32")
    token_ids[0, 6:] = 0
    segment_ids = np.zeros_like(token_ids)
    segment_ids[:, 4:] = 1
    segment_ids[token_ids == 0] = 0
    mask_positions = np.array([[1, 3], [2, 5], [0, 7], [4, 6]], "int32")
    labels = np.take_along_axis(token_ids, mask_positions, axis=1)
    masked = token_ids.copy()
    np.put_along_axis(masked, mask_positions, 1, axis=1)
    inputs = {"token_ids": masked, "segment_ids": segment_ids, "mask_positions": mask_positions}
    return inputs, labels
