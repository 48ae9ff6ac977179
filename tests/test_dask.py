"""Dask: the samplers through dask-ml's Incremental and ParallelPostFit (issue 5).

Every test runs twice: on Dask's synchronous scheduler, in this process, and
(marked slow) on a ``LocalCluster`` of two worker processes bound to
127.0.0.1, where the samplers travel between processes as pickles. Each
compares the lazy, blockwise result with the in-memory one on data small
enough for both.
"""

import contextlib
import itertools
import os
import signal

import numpy as np
import pytest
from _helpers import SAMPLERS
from sklearn.linear_model import SGDRegressor
from sklearn.metrics import r2_score
from sklearn.pipeline import make_pipeline

from skfavor import DERFSampler, GERFSampler

dask = pytest.importorskip("dask")
da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")
wrappers = pytest.importorskip("dask_ml.wrappers")
Incremental, ParallelPostFit = wrappers.Incremental, wrappers.ParallelPostFit


#: Uneven row blocks, as a real data set would have.
ROW_CHUNKS = (100, 500, 300, 300)
N_COMPONENTS = 37

#: dask-ml's Incremental refuses an estimator that it cannot score, as a
#: transformer cannot; any scorer passes the check, and none is called while
#: fitting.
UNUSED_SCORING = "r2"

#: Generous bounds, only so that a hung cluster fails the test run instead of
#: blocking it. On the shared 2-core machine, under a load of 7-10, the cluster
#: started in about 40 s and no test took over 5 s.
STARTUP_LIMIT_S = 240
TEST_LIMIT_S = 120


@contextlib.contextmanager
def _time_limit(seconds):
    def expire(signum, frame):
        raise TimeoutError(f"the Dask computation ran over {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@pytest.fixture(scope="module")
def cluster_client():
    """A client of two single-threaded worker processes, on loopback only."""
    with contextlib.ExitStack() as stack:
        with _time_limit(STARTUP_LIMIT_S):
            cluster = stack.enter_context(
                distributed.LocalCluster(
                    n_workers=2,
                    threads_per_worker=1,
                    processes=True,
                    host="127.0.0.1",
                    dashboard_address=None,
                    memory_limit="2GiB",
                    # Imported at start-up, within its time limit, rather than
                    # by the first test.
                    preload=["skfavor", "dask_ml.wrappers"],
                )
            )
            client = stack.enter_context(
                distributed.Client(cluster, set_as_default=False)
            )
        yield client


@pytest.fixture(params=["synchronous", pytest.param("cluster", marks=pytest.mark.slow)])
def scheduler(request):
    """Run the test's Dask computations in this process, or on the cluster."""
    target = request.param
    if target == "cluster":
        target = request.getfixturevalue("cluster_client")
    with dask.config.set(scheduler=target), _time_limit(TEST_LIMIT_S):
        yield request.param


def _data(dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(sum(ROW_CHUNKS), 4)) * 0.5 + 0.2
    return X.astype(dtype)


def _lazy(X):
    return da.from_array(X, chunks=(ROW_CHUNKS, X.shape[1]))


def _feature_chunks(X_lazy, n_components):
    return (X_lazy.chunks[0], (n_components,))


@pytest.mark.parametrize("kernel", ["rbf", "softmax"])
@pytest.mark.parametrize("family", SAMPLERS)
def test_incremental_fit_equals_fit(family, kernel, scheduler):
    X = _data()
    params = dict(
        n_components=N_COMPONENTS, kernel=kernel, gamma="scale", random_state=3
    )
    whole = SAMPLERS[family](**params).fit(X)
    # Incremental visits the blocks in a shuffled order: the sums, and so the
    # fitted parameters, then differ from the in-memory ones only by rounding.
    wrapper = Incremental(
        SAMPLERS[family](**params), scoring=UNUSED_SCORING, random_state=0
    )
    streamed = wrapper.fit(_lazy(X)).estimator_

    np.testing.assert_array_equal(streamed.random_weights_, whole.random_weights_)
    assert streamed.gamma_ == pytest.approx(whole.gamma_, rel=1e-10)
    np.testing.assert_allclose(streamed.center_, whole.center_, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(streamed.transform(X), whole.transform(X), rtol=1e-10)
    np.testing.assert_allclose(
        streamed.transform_keys(X), whole.transform_keys(X), rtol=1e-10
    )
    # dask-ml copies the fitted attributes onto the wrapper as well.
    np.testing.assert_array_equal(wrapper.random_weights_, whole.random_weights_)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_parallel_post_fit_transform_computes_to_the_in_memory_transform(
    dtype, scheduler
):
    X = _data(dtype)
    sampler = DERFSampler(n_components=N_COMPONENTS, random_state=0).fit(X)
    features = ParallelPostFit(sampler).transform(_lazy(X))

    assert features.dtype == dtype
    computed = features.compute()
    assert computed.dtype == dtype
    assert computed.shape == (X.shape[0], N_COMPONENTS)
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(computed, sampler.transform(X), rtol=rtol)


def test_parallel_post_fit_declares_the_input_width(scheduler):
    """Pin the dask-ml behaviour that doc/scaling.rst warns about.

    dask-ml (2025.1) maps ``transform`` over the blocks without declaring the
    output's chunks, so the lazy array claims the *input's* width although
    its blocks have ``n_components`` columns. If this test fails, dask-ml has
    changed, and the advice in the docs and the example should be revisited.
    """
    X = _data()
    sampler = GERFSampler(n_components=N_COMPONENTS, random_state=0).fit(X)
    features = ParallelPostFit(sampler).transform(_lazy(X))

    assert features.shape == X.shape
    assert features.chunks == _lazy(X).chunks
    assert features.compute().shape == (X.shape[0], N_COMPONENTS)


@pytest.mark.parametrize("method", ["transform", "transform_keys"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_map_blocks_with_declared_chunks(dtype, method, scheduler):
    """``da.map_blocks`` with the output chunks declared: a lazy array to trust."""
    X, Y = _data(dtype, seed=0), _data(dtype, seed=1) * 1.5
    sampler = DERFSampler("saderf", n_components=N_COMPONENTS, random_state=0)
    sampler.fit(X, keys=Y)
    rows = X if method == "transform" else Y
    lazy_rows = _lazy(rows)
    features = da.map_blocks(
        getattr(sampler, method),
        lazy_rows,
        chunks=_feature_chunks(lazy_rows, N_COMPONENTS),
        dtype=dtype,
    )
    expected = getattr(sampler, method)(rows)

    assert features.shape == expected.shape
    assert features.chunks == (ROW_CHUNKS, (N_COMPONENTS,))
    assert features.dtype == dtype
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    # Slicing and a product over all rows rely on the declared chunks.
    last_column, gram = da.compute(features[:, -1], features.T @ features)
    assert last_column.dtype == dtype
    np.testing.assert_allclose(last_column, expected[:, -1], rtol=rtol)
    np.testing.assert_allclose(gram, expected.T @ expected, rtol=10 * rtol)


def _target(X):
    return np.sin(X[:, 0]) + 0.5 * X[:, 1] * X[:, 2] + np.cos(X[:, 3])


def test_pipeline_through_incremental_sgd_regressor(scheduler):
    """Sampler by streaming, features blockwise, SGD by blocks, predictions.

    The blockwise SGD visits the blocks in order, so an in-memory loop over
    the same blocks must give the same coefficients; and the random features
    must beat the same regressor on the raw inputs.
    """
    rng = np.random.default_rng(0)
    X = rng.normal(size=(sum(ROW_CHUNKS), 4))
    y = _target(X) + 0.1 * rng.normal(size=X.shape[0])
    X_test = rng.normal(size=(500, 4))
    y_test = _target(X_test)
    X_lazy, y_lazy = _lazy(X), da.from_array(y, chunks=(ROW_CHUNKS,))
    n_epochs = 3

    def regressor():
        # The features are small positive numbers: a large first step.
        return SGDRegressor(alpha=1e-6, eta0=0.5, random_state=0)

    sampler = DERFSampler(n_components=64, gamma=0.1, random_state=0)
    sampler = Incremental(sampler, scoring=UNUSED_SCORING).fit(X_lazy).estimator_
    features = da.map_blocks(
        sampler.transform,
        X_lazy,
        chunks=_feature_chunks(X_lazy, 64),
        dtype=X.dtype,
    )
    sgd = Incremental(regressor(), scoring="r2", shuffle_blocks=False)
    for _ in range(n_epochs):
        sgd.partial_fit(features, y_lazy)

    in_memory = regressor()
    blocks = np.cumsum([0, *ROW_CHUNKS])
    Z = sampler.transform(X)
    for _ in range(n_epochs):
        for start, stop in itertools.pairwise(blocks):
            in_memory.partial_fit(Z[start:stop], y[start:stop])
    np.testing.assert_allclose(sgd.estimator_.coef_, in_memory.coef_, rtol=1e-10)
    np.testing.assert_allclose(
        sgd.estimator_.intercept_, in_memory.intercept_, rtol=1e-10
    )

    pipeline = make_pipeline(sampler, sgd.estimator_)
    predictions = ParallelPostFit(pipeline).predict(
        da.from_array(X_test, chunks=(200, 4))
    )
    assert predictions.shape == (500,)
    assert predictions.dtype == np.float64
    computed = predictions.compute()
    np.testing.assert_allclose(computed, pipeline.predict(X_test), rtol=1e-10)

    linear = Incremental(regressor(), scoring="r2", shuffle_blocks=False)
    for _ in range(n_epochs):
        linear.partial_fit(X_lazy, y_lazy)
    assert r2_score(y_test, computed) > 0.75
    assert r2_score(y_test, linear.predict(X_test)) < 0.5


@pytest.mark.slow
def test_the_cluster_computes_in_worker_processes(cluster_client):
    """The cluster tests above do run their blocks in the worker processes."""
    X = _data()
    sampler = GERFSampler(n_components=N_COMPONENTS, random_state=0).fit(X)
    worker_pids = cluster_client.run(os.getpid)
    with (
        dask.config.set(scheduler=cluster_client),
        _time_limit(TEST_LIMIT_S),
        distributed.get_task_stream(cluster_client) as tasks,
    ):
        ParallelPostFit(sampler).transform(_lazy(X)).compute()

    workers = {task["worker"] for task in tasks.data}
    assert workers and workers <= set(worker_pids)
    assert os.getpid() not in worker_pids.values()
    assert len(set(worker_pids.values())) == 2
