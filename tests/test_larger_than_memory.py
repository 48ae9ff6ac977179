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
from skfavor.kernel_ridge import (
    RandomFeatureRidge,
    RandomFeatureRidgeClassifier,
    RandomFeatureRidgeCV,
)


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


@pytest.mark.parametrize(
    "estimator",
    [RandomFeatureRidge, RandomFeatureRidgeClassifier, RandomFeatureRidgeCV],
)
def test_a_dask_array_is_reduced_chunk_by_chunk_never_computed_whole(
    estimator, monkeypatch
):
    """doc/kernel_ridge.rst: ``fit`` takes Dask arrays, reduced where they live.

    The classifier computed a Dask ``X`` into one NumPy array (scikit-learn's
    checks call ``np.asarray`` on it): the same model, but all of ``X`` in
    memory. Its labels and weights (one value per row) may be computed.
    """
    da = pytest.importorskip("dask.array")
    dask = pytest.importorskip("dask")
    rng = np.random.default_rng(3)
    X = rng.normal(size=(600, 3)).astype(np.float32)
    y = X[:, 0] + np.sin(2 * X[:, 1])
    if estimator is RandomFeatureRidgeClassifier:
        y = np.array(["low", "mid", "high"])[np.digitize(y, [-0.5, 0.5])]
    weights = rng.uniform(0.5, 2.0, size=600)
    sampler = DERFSampler(n_components=20, random_state=0)
    expected = estimator(sampler).fit(X, y, sample_weight=weights)
    lazy = da.from_array(X, chunks=(150, 3))

    def refuse(*args, **kwargs):
        raise AssertionError("the Dask array X was computed whole")

    monkeypatch.setattr(type(lazy), "__array__", refuse)
    with dask.config.set(scheduler="synchronous"):
        model = estimator(sampler).fit(
            lazy, da.from_array(y, chunks=150), sample_weight=weights
        )
    assert model.coef_.dtype == np.float32
    np.testing.assert_allclose(model.coef_, expected.coef_, rtol=1e-4, atol=1e-6)
    monkeypatch.undo()
    if estimator is RandomFeatureRidgeClassifier:
        np.testing.assert_array_equal(model.predict(X), expected.predict(X))
    else:
        np.testing.assert_allclose(model.predict(X), expected.predict(X), rtol=1e-4)
