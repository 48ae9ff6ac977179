"""Transforms in processes forked from a process that transforms (issue: fork safety).

The feature maps hold BLAS to one thread while their own threads share the
blocks of a transform (``skfavor._blocks``). A child forked meanwhile (a
``multiprocessing`` worker, a data loader started from another thread)
inherits that limit without the thread that would lift it.
"""

import multiprocessing
import os
import threading

import numpy as np
import pytest
from threadpoolctl import threadpool_info

from skfavor import DERFSampler
from skfavor._blocks import single_threaded_blas

pytestmark = pytest.mark.skipif(
    not hasattr(os, "register_at_fork")
    or "fork" not in multiprocessing.get_all_start_methods(),
    reason="no fork on this platform",
)


def _blas_threads() -> list[int]:
    return [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]


def _child_report(queue, sampler, X):
    before = _blas_threads()
    features = sampler.transform(X)
    queue.put((before, _blas_threads(), features))


def _in_forked_child(sampler, X):
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_child_report, args=(queue, sampler, X))
    child.start()
    try:
        return queue.get(timeout=60)
    finally:
        child.join(10)
        if child.is_alive():
            child.kill()


@pytest.mark.filterwarnings("ignore:.*fork.*:DeprecationWarning")
def test_a_child_forked_during_a_transform_gets_its_blas_threads_back():
    before = _blas_threads()
    if max(before, default=1) < 2:
        pytest.skip("BLAS uses one thread already")
    X = np.random.default_rng(0).normal(size=(4000, 16))
    sampler = DERFSampler(n_components=128, random_state=0).fit(X)
    expected = sampler.transform(X)
    inside, release = threading.Event(), threading.Event()

    def transforming():
        # What a transform on our threads does for its whole length.
        with single_threaded_blas():
            inside.set()
            release.wait(60)

    holder = threading.Thread(target=transforming)
    holder.start()
    try:
        assert inside.wait(10)
        child_before, child_after, features = _in_forked_child(sampler, X)
    finally:
        release.set()
        holder.join(10)
    # The child does not inherit the parent's hold, nor keep BLAS on one
    # thread after its own transforms.
    assert child_before == before
    assert child_after == before
    np.testing.assert_allclose(features, expected, rtol=1e-12)
    assert _blas_threads() == before


@pytest.mark.filterwarnings("ignore:.*fork.*:DeprecationWarning")
def test_a_child_forked_after_threaded_transforms_transforms_alike():
    X = np.random.default_rng(1).normal(size=(20000, 16)).astype(np.float32)
    sampler = DERFSampler(n_components=256, random_state=0).fit(X)
    expected = sampler.transform(X)  # on the parent's pool of threads
    _, _, features = _in_forked_child(sampler, X)
    assert features.dtype == np.float32
    np.testing.assert_allclose(features, expected, rtol=1e-5)
