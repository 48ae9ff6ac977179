"""Evaluation of the compiled feature map: blocks, threads, dtypes, sparse input.

The reference in every test is the definition ``exp(x Wᵀ + offset + xᵀCx)``
written out in full float64 (MATH.md §3), never the blocked code itself.
"""

import functools
import pickle
import threading
import time

import numpy as np
import pytest
import scipy.sparse as sp
from _helpers import (
    SAMPLERS,
    assert_within,
    log_feature_tolerance,
    traced_peak,
    translated,
)
from numpy.testing import assert_allclose, assert_array_equal
from sklearn import config_context
from threadpoolctl import threadpool_info, threadpool_limits

import skfavor._block_products as block_products_module
import skfavor._blocks as blocks_module
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


@pytest.mark.parametrize("n_features", [8, 300])
@pytest.mark.parametrize("n_threads", [None, 1, 2])
def test_wide_rows_leave_their_products_to_blas_threads(
    monkeypatch, n_features, n_threads
):
    # From BLAS_THREADED_WIDTH columns and with the threads left to it, the
    # calling thread runs the blocks and BLAS threads the products; threads
    # chosen by the caller are kept. The features are the definition's.
    rng = np.random.default_rng(0)
    A = rng.standard_normal((n_features, n_features))
    feature_map = FeatureMap(
        rng.standard_normal((40, n_features)) * 0.1,
        rng.standard_normal(40) * 0.1,
        -(A @ A.T) / n_features**2,
        rng.standard_normal(n_features),
    )
    X = rng.standard_normal((300, n_features)) * 0.3
    seen = []
    run = blocks_module.run_in_blocks

    def recorded(*args, **kwargs):
        seen.append(kwargs.get("blas_threads", False))
        return run(*args, **kwargs)

    monkeypatch.setattr(feature_map_module, "run_in_blocks", recorded)
    with config_context(working_memory=2e-3):
        features = feature_map.transform(X, n_threads=n_threads)
    wide = n_features + 2 >= blocks_module.BLAS_THREADED_WIDTH[8]
    threads = blocks_module.default_threads() if n_threads is None else n_threads
    # The narrow map's row buffer is too large next to its 40 features for
    # one block (test_block_plan_follows_the_output_size).
    assert seen == [wide and n_threads is None and threads > 1]
    reference = np.exp(_definition(feature_map, X - feature_map.center))
    assert_allclose(features, reference, rtol=1e-12)


def test_long_or_narrow_transforms_keep_their_own_threads():
    # Float32's exponential is cheap, float64's dear: BLAS's threads take
    # short transforms of wide rows only (the thresholds' measurements are
    # by the constants).
    def threaded(n_samples, n_components, n_features, dtype):
        itemsize = np.dtype(dtype).itemsize
        return blocks_module.blas_threaded(
            n_samples, n_components, n_features, itemsize
        )

    assert threaded(2000, 1024, 256, np.float32)
    assert threaded(2000, 1024, 784, np.float64)
    assert not threaded(2000, 1024, 64, np.float32)  # narrow
    assert not threaded(10000, 1024, 128, np.float64)  # narrow for float64
    assert not threaded(5000, 4096, 784, np.float32)  # long
    assert not threaded(5000, 2048, 256, np.float64)  # long for float64


@pytest.mark.parametrize("n_samples", [300, 20000])
@pytest.mark.parametrize("n_threads", [None, 1, 3])
@pytest.mark.parametrize("n_features", [8, 120])
def test_block_plan_follows_the_output_size(
    monkeypatch, n_samples, n_threads, n_features
):
    # Left to the default, a transform shares its output out to one thread
    # of ours per MIN_BYTES_PER_THREAD bytes; on one thread, a map whose row
    # buffer is small next to its output is one block with the product on
    # BLAS's threads. Threads chosen by the caller are kept. The features do
    # not change.
    rng = np.random.default_rng(0)
    n_components = 256
    feature_map = FeatureMap(
        rng.standard_normal((n_components, n_features)) * 0.3,
        rng.standard_normal(n_components) * 0.1,
        -0.75,
        None,
    )
    X = rng.standard_normal((n_samples, n_features)) * 0.3
    seen = []
    run = blocks_module.run_in_blocks

    def recorded(n_rows, n_block_rows, threads, make_worker, **kwargs):
        seen.append((threads, n_block_rows, kwargs["blas_threads"]))
        return run(n_rows, n_block_rows, threads, make_worker, **kwargs)

    monkeypatch.setattr(feature_map_module, "run_in_blocks", recorded)
    monkeypatch.setattr(blocks_module, "default_threads", lambda: 4)
    features = feature_map.transform(X, n_threads=n_threads)
    [(threads, n_block_rows, blas_threads)] = seen
    per_thread = blocks_module.MIN_BYTES_PER_THREAD[features.itemsize]
    ours = min(4, max(1, features.nbytes // per_thread))
    # Uncentred, scalar C: the row buffer and two per-row vectors.
    extra = n_samples * (n_features + 4) * features.itemsize
    small = extra <= blocks_module.ONE_BLOCK_EXTRA_FRACTION * features.nbytes
    if n_threads is not None:
        assert (threads, blas_threads) == (n_threads, False)
    elif ours == 1 and small:
        assert (threads, n_block_rows, blas_threads) == (1, n_samples, True)
    else:
        assert (threads, blas_threads) == (ours, False)
    reference = np.exp(_definition(feature_map, X))
    assert_allclose(features, reference, rtol=1e-12)


def test_one_block_keeps_within_working_memory(monkeypatch):
    # The one-block plan is cut to scikit-learn's working_memory like any.
    monkeypatch.setattr(blocks_module, "default_threads", lambda: 2)
    plan = blocks_module.plan_blocks(
        1000, 256, 8, 8, None, block_extra_bytes=lambda rows: 0
    )
    assert plan == (1, 1000, True)
    with config_context(working_memory=0.1):
        plan = blocks_module.plan_blocks(
            1000, 256, 8, 8, None, block_extra_bytes=lambda rows: 0
        )
    assert plan.blas_threads and plan.n_block_rows == int(0.1 * 2**20) // (256 * 8)
    sparse = blocks_module.plan_blocks(
        1000, 256, 8, 8, None, sparse=True, block_extra_bytes=lambda rows: 0
    )
    assert not sparse.blas_threads


def test_wide_short_transforms_take_as_few_blocks_as_memory_allows(monkeypatch):
    # On BLAS's threads, blocks only bound the memory (there is no load to
    # balance), and each block's product packs the weights again: the plan
    # takes the longest blocks whose row buffers stay within
    # ONE_BLOCK_EXTRA_FRACTION of the output, never shorter than the blocks
    # of rows_per_block, never over working_memory. They are not evened out:
    # a product of all but a few rows and one of the rest were faster than
    # two of half the rows each (BLAS's threads share a long product better).
    monkeypatch.setattr(blocks_module, "default_threads", lambda: 2)

    def plan(n_samples, n_components, n_features):
        def extra(rows):
            return rows * (n_features + 4) * 4

        return blocks_module.plan_blocks(
            n_samples, n_components, n_features, 4, None, block_extra_bytes=extra
        )

    assert plan(5000, 2048, 256) == (1, 5000, True)  # buffer 13 % of the output
    assert plan(5000, 1024, 128) == (1, 5000, True)
    # 25.4 % as one block: 1969 rows (2 048 000 // 1040 bytes), then 31.
    assert plan(2000, 1024, 256) == (1, 1969, True)
    # Rows wider than a quarter of the output's: rows_per_block's blocks.
    rows = blocks_module.rows_per_block(256 * 4, 2000, 1)
    assert plan(2000, 256, 784) == (1, rows, True)
    with config_context(working_memory=4):
        # 512 rows fit 4 MiB: nine blocks of 512 and one of 392.
        assert plan(5000, 2048, 256) == (1, 512, True)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_wide_transforms_keep_within_a_quarter_of_the_output(monkeypatch, dtype):
    # On BLAS's threads with blocks as long as the memory allows, the row
    # buffers stay within 25 % of the output, also on the first transform
    # after fit, which casts [W, offset, 1]ᵀ to the dtype (12.9 % of the
    # output here) and caches it.
    monkeypatch.setattr(blocks_module, "default_threads", lambda: 2)
    X = np.random.default_rng(0).normal(size=(2000, 256)).astype(dtype) * 0.05
    sampler = PositiveRFSampler(n_components=1024, random_state=0).fit(X)
    for _ in ("first", "cached"):
        features, peak = traced_peak(lambda: sampler.transform(X))
        assert peak - features.nbytes <= 0.25 * features.nbytes


def test_most_rows_within_a_budget_for_any_growing_memory():
    # The search is exact for any non-decreasing memory of the rows.
    search = blocks_module._rows_with_extra_within
    assert search(1000, 100, lambda rows: rows * rows) == 10
    assert search(1000, 100, lambda rows: 50 + rows) == 50
    assert search(10**7, 10**9, lambda rows: 0.999e9 + 100 * rows) == 10**4
    assert search(1000, 10**9, lambda rows: rows) == 1000
    assert search(1000, 1, lambda rows: 2 * rows) == 1


@pytest.mark.parametrize("kind", ["scalar", "diagonal", "full"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_one_block_keeps_within_a_quarter_of_the_output(monkeypatch, kind, dtype):
    # The one-block plan's extra memory (row buffer, numpy's buffers for the
    # shift, the row term's temporaries) stays within 25 % of the output, up
    # to the edge of the rule (d = 34 with M = 256 for a centred
    # map with a diagonal or full C, in both dtypes) and for every kind of C.
    rng = np.random.default_rng(0)
    monkeypatch.setattr(blocks_module, "default_threads", lambda: 2)
    plans = []
    run = blocks_module.run_in_blocks

    def recorded(n_rows, n_block_rows, threads, make_worker, **kwargs):
        plans.append(n_block_rows == n_rows and kwargs["blas_threads"])
        return run(n_rows, n_block_rows, threads, make_worker, **kwargs)

    monkeypatch.setattr(feature_map_module, "run_in_blocks", recorded)
    one_block = {}
    for n_features in (16, 32, 34, 35):
        A = rng.standard_normal((n_features, n_features))
        quadratic = {
            "scalar": -0.75,
            "diagonal": -rng.uniform(0.2, 1.0, n_features),
            "full": -(A @ A.T) / n_features**2,
        }[kind]
        feature_map = FeatureMap(
            rng.standard_normal((256, n_features)) * 0.1,
            rng.standard_normal(256) * 0.1,
            quadratic,
            rng.standard_normal(n_features) * 0.1,
        )
        X = (rng.standard_normal((1000, n_features)) * 0.3).astype(dtype)
        feature_map.transform(X)  # the casts of the terms are cached
        plans.clear()
        features, peak = traced_peak(functools.partial(feature_map.transform, X))
        one_block[n_features] = plans == [True]
        if one_block[n_features]:
            assert peak - features.nbytes <= 0.25 * features.nbytes
    # bench_transform's 1000 x 32 -> 256 is one block; the rule's edge is met.
    assert one_block[16] and one_block[32]
    edge = kind != "scalar"
    assert one_block[34] and (one_block[35] != edge)


@pytest.mark.parametrize("itemsize", [4, 8])
def test_threads_for_gives_each_thread_enough_output(itemsize):
    per_thread = blocks_module.MIN_BYTES_PER_THREAD[itemsize]
    assert blocks_module.threads_for(0, itemsize, 8) == 1
    assert blocks_module.threads_for(per_thread - 1, itemsize, 8) == 1
    assert blocks_module.threads_for(3 * per_thread, itemsize, 8) == 3
    assert blocks_module.threads_for(100 * per_thread, itemsize, 8) == 8
    assert blocks_module.threads_for(100 * per_thread, itemsize, 1) == 1
    # float64's exponentials are dearer: threads from fewer bytes.
    minimum = blocks_module.MIN_BYTES_PER_THREAD
    assert minimum[8] < minimum[4]


@pytest.mark.parametrize("sampler", _samplers(), ids=_sampler_id)
def test_samplers_do_not_depend_on_blocks_or_threads(sampler):
    X = _inputs(n_samples=500)
    sampler.fit(X)
    maps = {id(m): m for m in (sampler.query_map_, sampler.key_map_)}
    for transform in (m.transform for m in maps.values()):
        with config_context(working_memory=1e-3):
            small_blocks = [transform(X, n_threads=k) for k in (1, 2, 3)]
        with threadpool_limits(limits=1):
            one_block = transform(X)
        for features in small_blocks:
            assert_allclose(features, one_block, rtol=1e-13)
    # The public transform is the query map.
    assert_allclose(sampler.transform(X), sampler.query_map_.transform(X))


def test_each_row_depends_on_its_own_input_alone():
    feature_map = _random_map("full")
    X = _inputs(n_samples=64)
    with config_context(working_memory=1e-3):
        together = feature_map.transform(X, n_threads=2)
    apart = np.vstack([feature_map.transform(X[i : i + 1]) for i in range(len(X))])
    assert_allclose(together, apart, rtol=1e-13)


def test_blocks_are_shared_by_threads(monkeypatch):
    # Each block computes the row term once; record which threads did so.
    row_term = block_products_module.row_term
    seen = set()

    def recording_row_term(X, C):
        seen.add(threading.get_ident())
        time.sleep(1e-3)
        return row_term(X, C)

    monkeypatch.setattr(block_products_module, "row_term", recording_row_term)
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
        assert blocks_module.default_threads() == 1
    assert 1 <= blocks_module.default_threads() <= max(1, blocks_module.n_cpus())


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


def _with_duplicate_entries(X) -> sp.csr_matrix:
    """``X`` as a CSR matrix whose every entry is stored twice (0.3 and 0.7 of
    it): valid SciPy input, the same matrix, but not in canonical format."""
    coo = sp.coo_matrix(X)
    rows = np.r_[coo.row, coo.row]
    order = np.argsort(rows, kind="stable")
    indptr = np.r_[0, np.cumsum(np.bincount(rows, minlength=X.shape[0]))]
    data = np.r_[0.3 * coo.data, 0.7 * coo.data][order]
    matrix = sp.csr_matrix(
        (data, np.r_[coo.col, coo.col][order], indptr), shape=X.shape
    )
    assert not matrix.has_canonical_format
    assert_allclose(matrix.toarray(), X, rtol=1e-15, atol=0)
    return matrix


@pytest.mark.parametrize("sampler", _samplers(), ids=_sampler_id)
def test_sparse_input_with_duplicate_entries_matches_dense(sampler):
    """Squared row norms summed the squares of stored entries, (0.3a)² +
    (0.7a)² for a², and densifying assigned duplicates instead of adding them:
    features of a non-canonical CSR matrix were off by up to 40 (PosRF, GERF,
    DERF), silently."""
    rng = np.random.default_rng(0)
    # Half the entries 0: rows near the center (shifted) and far (folded).
    X = np.abs(rng.standard_normal((60, N_FEATURES))) * (rng.random((60, 6)) < 0.5)
    sampler.fit(X)
    duplicated = _with_duplicate_entries(X)
    assert_allclose(sampler.transform(duplicated), sampler.transform(X), rtol=1e-10)
    assert not duplicated.has_canonical_format  # the caller's matrix is kept


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


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_rows_are_named_not_called_too_large(bad, sparse):
    """A NaN row was reported as 'features overflow to inf ... the inputs are
    too large; scale the inputs down', which sends the user the wrong way."""
    feature_map = _random_map("diagonal")
    X = _inputs(20)
    X[7, 2] = bad
    with pytest.raises(ValueError, match="X contains NaN or infinity"):
        feature_map.transform(sp.csr_matrix(X) if sparse else X)


def test_rows_of_another_width_are_refused_by_name():
    """A row of the wrong width failed with NumPy's 'operands could not be
    broadcast' (or a matmul mismatch), which names neither X nor the widths."""
    feature_map = _random_map("full")
    for method in (feature_map.transform, feature_map.log_features):
        with pytest.raises(ValueError, match="X has 4 features, but the map"):
            method(_inputs(5)[:, :4])


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
        features, peak = traced_peak(lambda: feature_map.transform(X, n_threads=2))
    assert peak - features.nbytes <= 0.25 * features.nbytes


def test_pickle_keeps_the_map():
    feature_map = _random_map("full")
    X = _inputs()
    feature_map.transform(X.astype(np.float32))
    restored = pickle.loads(pickle.dumps(feature_map))
    assert not restored._cast
    assert_array_equal(restored.transform(X), feature_map.transform(X))


_FAR_ROWS = np.r_[0:300:50, 1:300:50]


def _far_rows(offset: float, spread: float, dtype, seed: int = 0):
    """Rows near ``offset`` (spread ``spread``) in all but two columns, which are 0.

    Every 50th row is far from the others (−offset where they are +offset),
    and the next is the origin. Returns the rows in ``dtype``, the rows less
    the offset in float64 and the offset.
    """
    rng = np.random.default_rng(seed)
    shift = np.full(N_FEATURES, offset)
    shift[[1, 4]] = 0.0
    near_origin = rng.standard_normal((300, N_FEATURES)) * spread
    near_origin[:, [1, 4]] = 0.0
    near_origin[::50, 2] = -2 * offset
    near_origin[1::50] = -shift
    return (near_origin + shift).astype(dtype), near_origin, shift


@pytest.mark.parametrize(
    ("dtype", "offset", "spread"),
    [(np.float32, 1e4, 1.0), (np.float64, 1e8, 1e-2), (np.float64, 1e9, 1.0)],
)
@pytest.mark.parametrize("family", ["gerf", "sderf", "aderf", "saderf"])
def test_sparse_rows_far_from_the_origin_match_dense(dtype, offset, spread, family):
    # The maps are fitted near the origin and translated (the Gaussian kernel
    # is translation invariant), so that only the evaluation is tested.
    X, near_origin, shift = _far_rows(offset, spread, dtype)
    sampler = SAMPLERS[family](
        n_components=N_COMPONENTS, gamma=0.5 / spread**2, random_state=0
    ).fit(np.delete(near_origin, _FAR_ROWS, axis=0))
    for fitted in {id(m): m for m in (sampler.query_map_, sampler.key_map_)}.values():
        feature_map = translated(fitted, shift)
        dense = feature_map.log_features(X)
        tolerance = log_feature_tolerance(feature_map, X, dtype)
        with config_context(working_memory=1e-2):
            for matrix in (sp.csr_matrix, sp.csr_array):
                sparse = feature_map.log_features(matrix(X), n_threads=2)
                assert sparse.dtype == dtype
                assert_within(sparse, dense, tolerance)
        # Both the folded and the shifted evaluation of sparse rows were met.
        assert 0 < feature_map._near(sp.csr_matrix(X)).sum() < len(X)
        # Dense rows are right where the inputs are: X − shift is exact
        # (Sterbenz), and the translated center is off by half an ulp of the
        # offset in each entry, which moves log φ by at most that times
        # |W_k|₁ + 2 |C (x − c)|₁.
        if dtype == np.float64:
            rows = X[2::50] - shift
            reference = fitted.log_features(rows)
            C = np.asarray(fitted.quadratic, dtype=np.float64)
            C = C * np.eye(N_FEATURES) if C.ndim == 0 else C
            C = np.diag(C) if C.ndim == 1 else C
            gradient = np.abs(fitted.weights).sum(axis=1)[None, :] + 2 * np.abs(
                (rows - fitted.center) @ C
            ).sum(axis=1, keepdims=True)
            tolerance = 0.5 * np.spacing(offset) * gradient + log_feature_tolerance(
                fitted, rows, np.float64
            )
            assert_within(dense[2::50], reference, tolerance)


@pytest.mark.parametrize(
    ("dtype", "offset", "spread"), [(np.float32, 1e4, 1.0), (np.float64, 1e8, 1e-2)]
)
@pytest.mark.parametrize("family", ["gerf", "sderf", "aderf", "saderf"])
def test_samplers_sparse_rows_far_from_the_origin_match_dense(
    dtype, offset, spread, family
):
    # Fitted where the rows are: the public route end to end.
    X, _, _ = _far_rows(offset, spread, dtype)
    X = np.delete(X, _FAR_ROWS, axis=0)
    sampler = SAMPLERS[family](
        n_components=N_COMPONENTS, gamma=0.5 / spread**2, random_state=0
    ).fit(X)
    dense = sampler.transform(X)
    sparse = sampler.transform(sp.csr_matrix(X))
    tolerance = log_feature_tolerance(sampler.query_map_, X, dtype)
    assert_within(np.log(sparse), np.log(dense), tolerance)


def _blas_threads() -> list[int]:
    return [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]


def test_overlapping_transforms_restore_blas_threads(monkeypatch):
    # Thread "first" starts a multi-block transform and waits inside it until
    # thread "second" is inside its own; "first" then finishes before
    # "second". Each limit restoring what it found on entry would leave BLAS
    # at the 1 that "first" had set when "second" entered.
    row_term = block_products_module.row_term
    inside = {name: threading.Event() for name in ("first", "second")}
    first_done = threading.Event()
    seen_threads = []

    def waiting_row_term(X, C):
        name = threading.current_thread().name
        if name in inside and not inside[name].is_set():
            inside[name].set()
            if name == "first":
                assert inside["second"].wait(10)
                # A third caller, while both hold BLAS to one thread, still
                # sees the number of threads BLAS had before.
                seen_threads.append(blocks_module.default_threads())
            else:
                assert first_done.wait(10)
        return row_term(X, C)

    monkeypatch.setattr(block_products_module, "row_term", waiting_row_term)
    feature_map = _random_map("scalar")
    X = _inputs(n_samples=400)
    expected = np.exp(_definition(feature_map, X))
    results = {}

    def run(name):
        with config_context(working_memory=1e-3):
            results[name] = feature_map.transform(X, n_threads=1)
        if name == "first":
            first_done.set()

    before = _blas_threads()
    if max(before, default=1) < 2:
        pytest.skip("BLAS uses one thread already")
    first = threading.Thread(target=run, args=("first",), name="first")
    second = threading.Thread(target=run, args=("second",), name="second")
    first.start()
    assert inside["first"].wait(10)
    second.start()
    first.join(20)
    second.join(20)
    assert not first.is_alive() and not second.is_alive()
    after = _blas_threads()
    assert after == before
    assert seen_threads == [min(max(before), blocks_module.n_cpus())]
    for name in ("first", "second"):
        assert_allclose(results[name], expected, rtol=1e-13)


def test_blas_is_single_threaded_in_blocks_inside_a_user_limit(monkeypatch):
    # Inside the user's threadpool_limits, the user's thread may be the only
    # one allowed to change OpenBLAS's pool (threadpoolctl 3.8): the blocks
    # must still run with BLAS on one thread, and the user's limit stand after.
    row_term = block_products_module.row_term
    seen = []

    def recording_row_term(X, C):
        seen.append(max(_blas_threads()))
        return row_term(X, C)

    monkeypatch.setattr(block_products_module, "row_term", recording_row_term)
    with threadpool_limits(limits=2, user_api="blas"):
        inside = _blas_threads()
        with config_context(working_memory=1e-3):
            _random_map("scalar").transform(_inputs(n_samples=400), n_threads=2)
        assert _blas_threads() == inside
    assert len(seen) > 1 and set(seen) == {1}


def test_wide_sparse_rows_near_the_center_are_shifted_in_bounded_memory():
    # 20000 columns and 8 features: a block of 2 KiB of output must not
    # densify its rows all at once (that would be 160 KiB per row).
    rng = np.random.default_rng(0)
    n_features, n_components = 20000, 8
    weights = rng.standard_normal((n_components, n_features)) * 1e-2
    center = np.zeros(n_features)
    center[:4] = 1e4
    feature_map = FeatureMap(weights, np.zeros(n_components), -1e-3, center)
    X = np.zeros((64, n_features))
    X[:, :4] = center[:4] + rng.standard_normal((64, 4))
    X[:, 4:] = sp.random(64, n_features - 4, density=0.01, random_state=0).toarray()
    expected = feature_map.log_features(X)
    X_sparse = sp.csr_matrix(X)
    feature_map.log_features(X_sparse[:1])  # cast cache warm
    with config_context(working_memory=2**-9):
        sparse, peak = traced_peak(
            lambda: feature_map.log_features(X_sparse, n_threads=1)
        )
    assert_within(sparse, expected, log_feature_tolerance(feature_map, X, np.float64))
    # A shifted row (160 KiB) and copies of the sparse rows, not a block's
    # 32 shifted rows (5 MiB).
    assert peak < 2 * 160 * 2**10 + 4 * X_sparse.data.nbytes


@pytest.mark.parametrize("quadratic_shape", [(), (3,), (3, 4), (3, 4, 4)])
def test_rescaled_stacked_maps_keep_their_dtype(quadratic_shape):
    # A 0-d float32 term times a Python float became float64 under NumPy
    # 1.x's value-based casting, and float32 attention then ran in float64.
    from skfavor._feature_map import StackedFeatureMap

    rng = np.random.default_rng(0)
    maps = StackedFeatureMap(
        rng.standard_normal((3, 5, 4)).astype(np.float32),
        rng.standard_normal((3, 5)).astype(np.float32),
        np.asarray(-rng.uniform(size=quadratic_shape), dtype=np.float32),
    )
    rescaled = maps.rescaled(0.5)
    for term, before in zip(
        (rescaled.weights, rescaled.offset, rescaled.quadratic),
        (maps.weights, maps.offset, maps.quadratic),
        strict=True,
    ):
        assert term.dtype == np.float32
        assert term.shape == before.shape
    assert_allclose(rescaled.weights, 0.5 * maps.weights, rtol=1e-7)
    assert_allclose(rescaled.quadratic, 0.25 * maps.quadratic, rtol=1e-7)


def test_a_helper_cancelled_in_the_queue_keeps_nothing_of_the_call_alive():
    """A transform's helpers that never started are cancelled but stay in the
    pool's queue until a thread takes them: they must not hold the call's
    worker (and through it the output) meanwhile, or a caller mapping block
    after block holds two blocks."""
    import weakref

    pool = blocks_module._pool(1)
    gate = threading.Event()
    # Every thread of the pool busy (it has fewer than the CPUs): the call's
    # helper waits in the queue.
    blockers = [pool.submit(gate.wait) for _ in range(blocks_module.n_cpus())]
    try:

        class Output:
            pass

        def workers_into(output):
            def make_worker():
                def worker(rows):
                    output.rows = rows
                    return 0, 0

                return worker

            return make_worker

        output = Output()
        alive = weakref.ref(output)
        blocks_module.run_in_blocks(8, 1, 2, workers_into(output))
        del output
        assert alive() is None
    finally:
        gate.set()
        for blocker in blockers:
            blocker.result()


def test_a_pool_replaced_by_another_call_leaves_the_work_to_the_caller(monkeypatch):
    """A call that asks for more helpers than the pool has replaces it and
    shuts the old one down; a call in another thread that had already taken
    the old pool cannot submit to it, and does its blocks itself (the review
    reproduced a RuntimeError with concurrent transforms and growing
    ``n_threads``)."""
    old = blocks_module._pool(1)
    blocks_module._pool(blocks_module.n_cpus() + 8)  # replaces and shuts `old` down
    monkeypatch.setattr(blocks_module, "_pool", lambda n_workers: old)
    seen = []

    def make_worker():
        def worker(rows):
            seen.append(rows.start)
            return 1, 0

        return worker

    counts = blocks_module.run_in_blocks(8, 1, 2, make_worker)
    assert counts == (8, 0)
    assert sorted(seen) == list(range(8))
