"""Memory per row of the kernel-ridge fits, for data larger than memory.

The fits keep statistics whose size does not depend on the number of rows;
what does grow with it (the fold of each row, the sample weights) must stay a
few bytes per row, far below the rows themselves.
"""

import functools

import numpy as np
import pytest
from _helpers import traced_peak

from skfavor import DERFSampler
from skfavor import _statistics as statistics_module
from skfavor.kernel_ridge import RandomFeatureRidge, RandomFeatureRidgeCV


def _bytes_per_row(make_model, weighted, monkeypatch):
    """Peak bytes of fit per extra row, between 50 000 and 150 000 rows."""
    monkeypatch.setattr(statistics_module, "_BLOCK_ROWS", 2000)
    rng = np.random.default_rng(0)
    peaks = []
    for n in (50_000, 150_000):
        X = rng.normal(size=(n, 4)).astype(np.float32)
        y = rng.normal(size=n)
        weights = rng.uniform(0.5, 1.5, size=n) if weighted else None
        fit = make_model().fit
        _, peak = traced_peak(functools.partial(fit, X, y, sample_weight=weights))
        peaks.append(peak)
    return (peaks[1] - peaks[0]) / 100_000


@pytest.mark.parametrize("weighted", [False, True])
def test_cross_validation_keeps_a_few_bytes_per_row(weighted, monkeypatch):
    # A data-dependent sampler: each of the 5 folds has its own map, and the
    # table of statistics marks each row for each fold. Those marks were
    # 8-byte integers: 56 bytes per row (96 with weights), 3.5 to 6 times
    # these float32 rows of 4 features (16 bytes).
    def make_model():
        return RandomFeatureRidgeCV(
            DERFSampler(n_components=16, random_state=0), alphas=[1.0], block_size=500
        )

    per_row = _bytes_per_row(make_model, weighted, monkeypatch)
    # The folds' marks now take 1 byte per row each (7 in all, 12 with
    # weights) during the pass; the peak, about 34 bytes per row, is
    # scikit-learn's KFold making its indices before it.
    assert per_row < 40


def test_ridge_keeps_a_few_bytes_per_row(monkeypatch):
    def make_model():
        return RandomFeatureRidge(
            DERFSampler(n_components=16, random_state=0), block_size=500
        )

    assert _bytes_per_row(make_model, False, monkeypatch) < 4
