"""Evaluation of the compiled feature map: blocks, threads, dtypes, sparse input.

The reference in every test is the definition ``exp(x Wᵀ + offset + xᵀCx)``
written out in full float64 (MATH.md §3), never the blocked code itself.
"""

import pickle
import threading
import time
import tracemalloc

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal
from sklearn import config_context
from threadpoolctl import threadpool_info, threadpool_limits

import skfavor._feature_map as feature_map_module
from skfavor import DERFSampler, GERFSampler, PositiveRFSampler, UnderflowWarning
from skfavor._feature_map import FeatureMap

N_FEATURES = 6
N_COMPONENTS = 48


def _random_map(kind: str, seed: int = 0) -> FeatureMap:
    """A map with a scalar, diagonal or full (negative definite) row term."""
    rng = np.random.default_rng(seed)
    weights = rng.standard_normal((N_COMPONENTS, N_FEATURES)) * 0.5
    offset = rng.standard_normal(N_COMPONENTS) * 0.1 - 0.5 * np.log(N_COMPONENTS)
    if kind == "scalar":
        quadratic = -0.75
    elif kind == "diagonal":
        quadratic = -rng.uniform(0.2, 1.0, N_FEATURES)
    else:
        A = rng.standard_normal((N_FEATURES, N_FEATURES))
        quadratic = -(A @ A.T) / N_FEATURES - 0.1 * np.eye(N_FEATURES)
    return FeatureMap(weights, offset, quadratic)


def _definition(feature_map: FeatureMap, X) -> np.ndarray:
    """``x Wᵀ + offset + xᵀCx`` of each row, in float64, row by row."""
    X = np.asarray(X.toarray() if sp.issparse(X) else X, dtype=np.float64)
    C = np.asarray(feature_map.quadratic, dtype=np.float64)
    if C.ndim == 0:
        C = C * np.eye(X.shape[1])
    elif C.ndim == 1:
        C = np.diag(C)
    return np.array(
        [feature_map.weights @ x + feature_map.offset + x @ C @ x for x in X]
    )


def _inputs(n_samples: int = 301, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n_samples, N_FEATURES)) * 0.6


def _samplers():
    return [
        PositiveRFSampler(n_components=40, gamma=0.3, random_state=0),
        GERFSampler(n_components=40, gamma=0.3, random_state=0),
        DERFSampler("sderf", n_components=40, gamma=0.3, random_state=0),
        DERFSampler("aderf", n_components=40, gamma=0.3, random_state=0),
        DERFSampler("saderf", n_components=40, gamma=0.3, random_state=0),
        DERFSampler("sderf", kernel="softmax", n_components=40, gamma=0.3),
    ]


def _sampler_id(sampler) -> str:
    return (
        f"{type(sampler).__name__}-{getattr(sampler, 'variant', '')}-{sampler.kernel}"
    )


@pytest.mark.parametrize("kind", ["scalar", "diagonal", "full"])
def test_transform_matches_definition(kind):
    feature_map = _random_map(kind)
    X = _inputs()
    assert_allclose(feature_map.transform(X), np.exp(_definition(feature_map, X)))
    assert_allclose(feature_map.log_features(X), _definition(feature_map, X))
    assert_allclose(
        feature_map.row_term(X),
        _definition(
            FeatureMap(np.zeros((1, N_FEATURES)), np.zeros(1), feature_map.quadratic), X
        )[:, 0],
    )


@pytest.mark.parametrize("kind", ["scalar", "diagonal", "full"])
@pytest.mark.parametrize("working_memory", [1e-4, 2e-3, 1024])
@pytest.mark.parametrize("n_threads", [1, 2, 5])
def test_blocks_and_threads_do_not_change_the_result(kind, working_memory, n_threads):
    # 1e-4 MiB holds less than one row (one row per block), 2e-3 MiB a few.
    feature_map = _random_map(kind)
    X = _inputs(n_samples=997)
    expected = np.exp(_definition(feature_map, X))
    with config_context(working_memory=working_memory):
        features = feature_map.transform(X, n_threads=n_threads)
        log_features = feature_map.log_features(X, n_threads=n_threads)
    assert_allclose(features, expected, rtol=1e-13)
    assert_allclose(log_features, np.log(expected), rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("sampler", _samplers(), ids=_sampler_id)
def test_samplers_do_not_depend_on_blocks_or_threads(sampler):
    X = _inputs(n_samples=500)
    sampler.fit(X)
    maps = {id(m): m for m in (sampler._query_map, sampler._key_map)}
    for transform in (m.transform for m in maps.values()):
        with config_context(working_memory=1e-3):
            small_blocks = [transform(X, n_threads=k) for k in (1, 2, 3)]
        with threadpool_limits(limits=1):
            one_block = transform(X)
        for features in small_blocks:
            assert_allclose(features, one_block, rtol=1e-13)
    # The public transform is the query map.
    assert_allclose(sampler.transform(X), sampler._query_map.transform(X))


def test_each_row_depends_on_its_own_input_alone():
    feature_map = _random_map("full")
    X = _inputs(n_samples=64)
    with config_context(working_memory=1e-3):
        together = feature_map.transform(X, n_threads=2)
    apart = np.vstack([feature_map.transform(X[i : i + 1]) for i in range(len(X))])
    assert_allclose(together, apart, rtol=1e-13)


def test_blocks_are_shared_by_threads(monkeypatch):
    # Each block computes the row term once; record which threads did so.
    row_term = feature_map_module._row_term
    seen = set()

    def recording_row_term(X, C):
        seen.add(threading.get_ident())
        time.sleep(1e-3)
        return row_term(X, C)

    monkeypatch.setattr(feature_map_module, "_row_term", recording_row_term)
    feature_map = _random_map("scalar")
    X = _inputs(n_samples=200)
    with config_context(working_memory=1e-3):
        features = feature_map.transform(X, n_threads=3)
    assert len(seen) == 3
    assert_allclose(features, np.exp(_definition(feature_map, X)))


def test_blas_threads_are_restored():
    def blas_threads():
        return [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]

    before = blas_threads()
    with config_context(working_memory=1e-3):
        _random_map("scalar").transform(_inputs(n_samples=400), n_threads=2)
    assert blas_threads() == before


def test_default_threads_follow_blas_limits():
    with threadpool_limits(limits=1, user_api="blas"):
        assert feature_map_module._default_threads() == 1
    assert (
        1
        <= feature_map_module._default_threads()
        <= max(1, feature_map_module._n_cpus())
    )


@pytest.mark.parametrize("kind", ["scalar", "diagonal", "full"])
def test_float32_stays_float32(kind):
    feature_map = _random_map(kind)
    X = _inputs(n_samples=400)
    with config_context(working_memory=1e-3):
        features = feature_map.transform(X.astype(np.float32), n_threads=2)
    assert features.dtype == np.float32
    # float32 log features carry a few ulps of their magnitude (about 5 here).
    assert_allclose(features, np.exp(_definition(feature_map, X)), rtol=1e-5)
    weights_T, C, _ = feature_map._terms(np.dtype(np.float32))
    assert weights_T.dtype == np.asarray(C).dtype == np.float32
    # The cast is made once and reused.
    assert feature_map._terms(np.dtype(np.float32))[0] is weights_T


@pytest.mark.parametrize("kind", ["scalar", "diagonal", "full"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_sparse_input_matches_dense(kind, dtype):
    feature_map = _random_map(kind)
    X = _inputs(n_samples=300)
    X[np.abs(X) < 0.5] = 0.0
    X = X.astype(dtype)
    dense = feature_map.transform(X)
    with config_context(working_memory=1e-3):
        for matrix in (sp.csr_matrix, sp.csr_array):
            sparse = feature_map.transform(matrix(X), n_threads=2)
            assert sparse.dtype == dtype
            assert_allclose(sparse, dense, rtol=1e-12 if dtype == np.float64 else 1e-5)


@pytest.mark.parametrize("sampler", _samplers(), ids=_sampler_id)
def test_samplers_sparse_input_matches_dense(sampler):
    X = _inputs(n_samples=200)
    X[np.abs(X) < 0.4] = 0.0
    sampler.fit(X)
    assert_allclose(sampler.transform(sp.csr_matrix(X)), sampler.transform(X))


def test_integer_input_is_evaluated_in_float64():
    feature_map = _random_map("scalar")
    X = np.array([[1, 0, 0, 1, 0, 0], [0, 1, 0, 0, 0, -1]])
    features = feature_map.transform(X)
    assert features.dtype == np.float64
    assert_allclose(features, np.exp(_definition(feature_map, X)))


@pytest.mark.parametrize("n_threads", [1, 2])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_overflow_raises(n_threads, dtype):
    # exp overflows past 709.8 in float64 and 88.7 in float32: put three rows
    # well past that in the last blocks, where a helper thread may meet them.
    feature_map = FeatureMap(np.ones((4, 1)), np.zeros(4), 0.0)
    X = np.linspace(0.0, 1.0, 200)[:, None].astype(dtype)
    X[-3:] = 1e4
    with config_context(working_memory=1e-4):
        with pytest.raises(FloatingPointError, match="3 of 200 input rows"):
            feature_map.transform(X, n_threads=n_threads)
    advice = "pass float64 inputs"
    with pytest.raises(FloatingPointError) as error:
        feature_map.transform(X)
    assert (advice in str(error.value)) == (dtype == np.float32)


@pytest.mark.parametrize("n_threads", [1, 2])
def test_underflow_warns_and_counts_rows(n_threads):
    feature_map = FeatureMap(np.zeros((4, 1)), np.zeros(4), -1.0)
    X = np.linspace(0.0, 1.0, 200)[:, None]
    X[[3, 150]] = 100.0  # exp(-10⁴) is 0 in float64
    with config_context(working_memory=1e-4):
        with pytest.warns(UnderflowWarning, match="2 of 200 rows"):
            features = feature_map.transform(X, n_threads=n_threads)
    assert_array_equal(features[[3, 150]], 0.0)
    rest = np.delete(np.arange(200), [3, 150])
    assert_allclose(features[rest], np.exp(-(X[rest] ** 2)) * np.ones((1, 4)))


def test_no_warning_without_underflow(recwarn):
    _random_map("scalar").transform(_inputs())
    assert not [w for w in recwarn if issubclass(w.category, UnderflowWarning)]


def test_samplers_warn_on_underflow():
    X = _inputs(n_samples=50)
    sampler = PositiveRFSampler(n_components=10, random_state=0).fit(X)
    with pytest.warns(UnderflowWarning, match="1 of 2 rows"):
        sampler.transform(np.vstack([X[:1], np.full((1, N_FEATURES), 100.0)]))


@pytest.mark.parametrize("sparse", [False, True])
def test_peak_extra_memory_is_a_fraction_of_the_output(sparse):
    # Blocks of 256 KiB against an 8 MiB output: the only full-size array is
    # the output itself.
    feature_map = _random_map("full")
    feature_map.transform(_inputs(n_samples=10))  # cast cache and threads warm
    X = _inputs(n_samples=4096 * 4)
    X = sp.csr_matrix(X) if sparse else X
    with config_context(working_memory=0.25):
        tracemalloc.start()
        try:
            features = feature_map.transform(X, n_threads=2)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert peak - features.nbytes <= 0.25 * features.nbytes


def test_pickle_keeps_the_map():
    feature_map = _random_map("full")
    X = _inputs()
    feature_map.transform(X.astype(np.float32))
    restored = pickle.loads(pickle.dumps(feature_map))
    assert not restored._cast
    assert_array_equal(restored.transform(X), feature_map.transform(X))
