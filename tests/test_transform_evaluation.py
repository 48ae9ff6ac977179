"""Evaluation of feature maps in blocks (issue 20): counts, memory, threads."""

import numpy as np

from skfavor._block_products import exponentiate


def test_row_counts_from_sums_are_those_of_the_row_maxima():
    """All-zero rows and rows with an inf or NaN feature are counted; a row
    whose sum overflows while every feature is finite is not."""
    big = np.finfo(np.float32).max
    log_big = np.float32(np.log(big) - 0.01)
    block = np.zeros((5, 4), dtype=np.float32)
    block[0] = -200.0  # exp underflows to 0 in every column
    block[1] = [1.0, np.inf, 0.0, 0.0]  # overflows
    block[2] = log_big  # finite features whose sum overflows
    block[3] = [np.nan, 0.0, 0.0, 0.0]  # NaN is reported as an overflow
    block[4] = [-200.0, -200.0, -200.0, -80.0]  # one subnormal feature
    assert exponentiate(block) == (2, 1)
    assert np.all(np.isfinite(block[2])) and block[4, 3] > 0
