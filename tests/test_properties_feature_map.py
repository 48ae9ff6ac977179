"""Properties of the feature map over generated cases (hypothesis).

* CSR rows give the log features of the same rows dense, to rounding, for
  every family and kernel, far from the origin included (MATH.md §8).
* Transforms running at once in several threads leave BLAS's number of
  threads as they found it.

The maps are fitted near the origin and translated far from it (the
Gaussian kernel is translation invariant), so that the evaluation is tested
apart from the fit's accuracy far from the origin.
"""

import threading

import numpy as np
import scipy.sparse as sp
from _helpers import SAMPLERS, assert_within, log_feature_tolerance, translated
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose
from sklearn import config_context
from threadpoolctl import threadpool_info

#: Largest offsets from the origin tried, by dtype: float32 rows near 10⁴
#: keep about 3 digits, float64 rows near 10⁸ about 8.
LARGEST_OFFSET = {np.float32: 1e4, np.float64: 1e8}


@st.composite
def far_rows(draw):
    """Rows of small spread around a random offset, with random zeros."""
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    n_features = draw(st.integers(1, 6))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    magnitude = LARGEST_OFFSET[dtype] ** draw(st.floats(0.0, 1.0))
    spread = draw(st.sampled_from([1e-2, 1e-1, 1.0]))
    # The spread must be representable at the offset in this dtype.
    assume(spread > 1e3 * np.finfo(dtype).eps * magnitude)
    shift = magnitude * rng.choice([-1.0, 1.0], n_features)
    shift[rng.random(n_features) < draw(st.floats(0.0, 0.5))] = 0.0
    fit_rows = rng.standard_normal((100, n_features)) * spread
    rows = rng.standard_normal((draw(st.integers(1, 200)), n_features)) * spread
    X = rows + shift
    # Zeros where the rows are large put those rows far from the center.
    X[rng.random(X.shape) < draw(st.floats(0.0, 0.3))] = 0.0
    return X.astype(dtype), fit_rows, shift, spread


@settings(max_examples=60, deadline=None)
@given(
    case=far_rows(),
    family=st.sampled_from(list(SAMPLERS)),
    kernel=st.sampled_from(["rbf", "softmax"]),
    n_threads=st.integers(1, 3),
    working_memory=st.sampled_from([1e-3, 1e-2, 1.0]),
)
def test_csr_rows_give_the_log_features_of_dense_rows(
    case, family, kernel, n_threads, working_memory
):
    X, fit_rows, shift, spread = case
    n_features = X.shape[1]
    sampler = SAMPLERS[family](
        n_components=16,
        kernel=kernel,
        gamma=0.5 / (n_features * spread**2),
        random_state=0,
    ).fit(fit_rows)
    maps = {id(m): m for m in (sampler.query_map_, sampler.key_map_)}.values()
    for fitted in maps:
        # The softmax kernel is not translation invariant: its map stays at
        # the origin, and the rows are far from it.
        feature_map = translated(fitted, shift) if kernel == "rbf" else fitted
        dense = feature_map.log_features(X)
        with config_context(working_memory=working_memory):
            for matrix in (sp.csr_matrix, sp.csr_array):
                sparse = feature_map.log_features(matrix(X), n_threads=n_threads)
                assert sparse.dtype == X.dtype
                assert_within(
                    sparse, dense, log_feature_tolerance(feature_map, X, X.dtype)
                )


def _blas_threads() -> list[int]:
    return [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]


@settings(max_examples=8, deadline=None)
@given(
    n_callers=st.integers(2, 6),
    n_samples=st.integers(100, 1500),
    n_threads=st.sampled_from([None, 1, 2]),
    sparse=st.booleans(),
    family=st.sampled_from(["gerf", "aderf"]),
)
def test_concurrent_transforms_leave_blas_threads_as_they_were(
    n_callers, n_samples, n_threads, sparse, family
):
    before = _blas_threads()
    rng = np.random.default_rng(n_samples)
    X = rng.standard_normal((n_samples, 8))
    X[rng.random(X.shape) < 0.5] = 0.0
    sampler = SAMPLERS[family](n_components=64, random_state=0).fit(X)
    X = sp.csr_matrix(X) if sparse else X
    expected = sampler.transform(X)
    start = threading.Barrier(n_callers)
    results, errors = [], []

    def call():
        try:
            # scikit-learn's configuration is per thread. Blocks of 16 KiB
            # give every transform several blocks.
            with config_context(working_memory=2**-6):
                start.wait(10)
                for _ in range(3):
                    results.append(sampler.query_map_.transform(X, n_threads=n_threads))
        except Exception as error:  # the main thread asserts there were none
            errors.append(error)

    callers = [threading.Thread(target=call) for _ in range(n_callers)]
    for caller in callers:
        caller.start()
    for caller in callers:
        caller.join(60)
    assert not errors
    assert len(results) == 3 * n_callers
    assert _blas_threads() == before
    # BLAS's threads while others held it change the results by rounding only.
    for features in results:
        assert_allclose(features, expected, rtol=1e-12)
