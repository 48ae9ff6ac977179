"""Evaluation of feature maps in blocks (issue 20): counts, memory, threads."""

import numpy as np

from skfavor import PositiveRFSampler
from skfavor._feature_map import FeatureMap, _exponentiate


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
    assert _exponentiate(block) == (2, 1)
    assert np.all(np.isfinite(block[2])) and block[4, 3] > 0


def test_evaluate_applies_finish_to_the_log_features_block_by_block():
    sampler = PositiveRFSampler(n_components=64, random_state=0)
    X = np.random.default_rng(1).normal(size=(5000, 8))
    feature_map: FeatureMap = sampler.fit(X).query_map_
    calls = []

    def finish(block):
        calls.append(block.shape[0])
        np.negative(block, out=block)

    negated = feature_map.evaluate(X, finish, n_threads=2)
    # evaluate() takes rows in smaller products, which may round differently.
    np.testing.assert_allclose(negated, -feature_map.log_features(X), rtol=1e-14)
    assert sum(calls) == len(X) and len(calls) > 1
