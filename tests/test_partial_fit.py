"""Streaming: partial_fit over chunks equals fit on the whole (issue 5)."""

import itertools

import numpy as np
import pytest
import scipy.sparse as sp
from _helpers import SAMPLERS, int16_memmap, traced_peak
from sklearn.kernel_approximation import RBFSampler

from skfavor import DERFSampler, FourierSampler, GERFSampler
from skfavor import _statistics as statistics_module


def _chunks(A, sizes):
    bounds = np.cumsum([0, *sizes])
    return [A[start:stop] for start, stop in itertools.pairwise(bounds)]


def _assert_same_sampler(streamed, whole, X, Y):
    np.testing.assert_array_equal(streamed.random_weights_, whole.random_weights_)
    assert streamed.gamma_ == pytest.approx(whole.gamma_, rel=1e-10)
    np.testing.assert_allclose(streamed.center_, whole.center_, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(streamed.transform(X), whole.transform(X), rtol=1e-10)
    np.testing.assert_allclose(
        streamed.transform_keys(Y), whole.transform_keys(Y), rtol=1e-10
    )


@pytest.mark.parametrize("kernel", ["rbf", "softmax"])
@pytest.mark.parametrize("family", SAMPLERS)
def test_partial_fit_equals_fit_on_the_concatenation(family, kernel):
    make = SAMPLERS[family]
    rng = np.random.default_rng(0)
    X = rng.normal(size=(90, 4)) * 0.5 + 0.2
    Y = rng.normal(size=(70, 4)) * np.array([0.2, 0.4, 0.6, 0.8])
    params = dict(n_components=37, kernel=kernel, gamma="scale", random_state=3)
    whole = make(**params).fit(X, keys=Y)
    streamed = make(**params)
    for x_chunk, y_chunk in zip(
        _chunks(X, [10, 50, 30]), _chunks(Y, [5, 5, 60]), strict=True
    ):
        streamed.partial_fit(x_chunk, keys=y_chunk)
    _assert_same_sampler(streamed, whole, X, Y)


def test_partial_fit_without_keys_uses_the_queries():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(60, 3))
    whole = DERFSampler("aderf", random_state=0).fit(X)
    streamed = DERFSampler("aderf", random_state=0)
    for chunk in _chunks(X, [1, 29, 30]):
        streamed.partial_fit(chunk)
    _assert_same_sampler(streamed, whole, X, X)


def test_partial_fit_accepts_sparse_and_float32_chunks():
    rng = np.random.default_rng(2)
    # values exact in float32, so that the float32 chunk carries the same data
    X = rng.normal(size=(40, 5)).astype(np.float32).astype(np.float64)
    whole = DERFSampler(random_state=0).fit(X)
    streamed = DERFSampler(random_state=0)
    streamed.partial_fit(sp.csr_matrix(X[:20]))
    streamed.partial_fit(X[20:].astype(np.float32))
    _assert_same_sampler(streamed, whole, X, X)


def test_partial_fit_checks_the_number_of_features():
    sampler = GERFSampler().partial_fit(np.ones((3, 4)))
    with pytest.raises(ValueError, match="4 features"):
        sampler.partial_fit(np.ones((3, 5)))
    with pytest.raises(ValueError, match="keys has 2 features"):
        sampler.partial_fit(np.ones((3, 4)), keys=np.ones((3, 2)))
    with pytest.raises(ValueError, match="NaN"):
        sampler.partial_fit(np.full((2, 4), np.nan))


def test_fit_after_partial_fit_starts_afresh():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(30, 3))
    sampler = GERFSampler(random_state=0).partial_fit(X + 5.0)
    sampler.fit(X)
    _assert_same_sampler(sampler, GERFSampler(random_state=0).fit(X), X, X)


def test_gamma_scale_matches_rbf_sampler():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(50, 6)) * 3 + 1
    for data in (X, sp.csr_matrix(X)):
        ours = GERFSampler(gamma="scale").fit(data)
        theirs = RBFSampler(gamma="scale").fit(data)
        assert ours.gamma_ == pytest.approx(theirs._gamma, rel=1e-10)


@pytest.mark.parametrize(
    "param, old, new",
    [
        ("n_components", 10, 20),
        ("orthogonal", True, False),
        ("random_state", 0, 1),
        ("random_state", 0, None),
    ],
)
@pytest.mark.parametrize("family", ["gerf", "aderf"])
def test_partial_fit_refuses_a_change_of_the_draw(family, param, old, new):
    """Parameters that fix ω cannot change between calls (issue 9, item 6).

    Before the fix the second call kept the 10 old directions while
    ``get_feature_names_out`` reported the new ``n_components``.
    """
    rng = np.random.default_rng(5)
    X = rng.normal(size=(30, 3))
    params = {"n_components": 10, "orthogonal": True, "random_state": 0}
    sampler = SAMPLERS[family](**{**params, param: old}).partial_fit(X[:15])
    before = sampler.transform(X)
    sampler.set_params(**{param: new})
    with pytest.raises(
        ValueError,
        match=(
            f"{param} changed from {old!r} to {new!r} since the random "
            "directions were drawn"
        ),
    ):
        sampler.partial_fit(X[15:])
    # The refused chunk left the sampler as it was.
    np.testing.assert_array_equal(
        sampler.set_params(**{param: old}).transform(X), before
    )
    assert sampler.get_feature_names_out().shape == (before.shape[1],)
    # fit draws afresh, so it honours the new value.
    refit = sampler.set_params(**{param: new}).fit(X)
    assert refit.transform(X).shape[1] == refit.get_feature_names_out().shape[0]


def test_partial_fit_accepts_an_equal_value_of_another_object():
    # An equal string that is another object (not interned) was taken for a
    # change of sampling: the draw's parameters were compared by identity
    # unless they were integers.
    X = np.random.default_rng(5).normal(size=(30, 3))
    sampler = SAMPLERS["gerf"](n_components=10, sampling="iid", random_state=0)
    sampler.partial_fit(X[:15])
    sampler.set_params(sampling="".join(["i", "i", "d"]))
    expected = SAMPLERS["gerf"](n_components=10, sampling="iid", random_state=0)
    np.testing.assert_allclose(
        sampler.partial_fit(X[15:]).transform(X),
        expected.fit(X).transform(X),
        rtol=1e-10,
    )


def test_partial_fit_accepts_the_same_random_state_instance():
    """A RandomState instance is the same source across calls: no error."""
    X = np.random.default_rng(6).normal(size=(20, 3))
    streamed = GERFSampler(random_state=np.random.RandomState(0))
    streamed.partial_fit(X[:10]).partial_fit(X[10:])
    whole = GERFSampler(random_state=np.random.RandomState(0)).fit(X)
    _assert_same_sampler(streamed, whole, X, X)


def test_partial_fit_refits_gamma_kernel_and_variant_from_the_statistics():
    """``gamma``, ``kernel`` and ``variant`` do not touch ω: a change is honoured,
    and the sampler equals ``fit`` on the concatenation with the new values."""
    rng = np.random.default_rng(7)
    X = rng.normal(size=(40, 3)) * 0.5
    Y = rng.normal(size=(30, 3)) * 0.3 + 0.1
    streamed = DERFSampler("sderf", gamma=0.5, n_components=16, random_state=2)
    streamed.partial_fit(X[:20], keys=Y[:10])
    new = {"gamma": "scale", "kernel": "softmax", "variant": "aderf"}
    streamed.set_params(**new).partial_fit(X[20:], keys=Y[10:])
    whole = DERFSampler(n_components=16, random_state=2, **new).fit(X, keys=Y)
    _assert_same_sampler(streamed, whole, X, Y)


def test_partial_fit_accepts_an_equal_seed_of_another_integer_type():
    X = np.random.default_rng(8).normal(size=(20, 3))
    sampler = GERFSampler(random_state=3).partial_fit(X[:10])
    sampler.set_params(random_state=np.int64(3)).partial_fit(X[10:])
    _assert_same_sampler(sampler, GERFSampler(random_state=3).fit(X), X, X)


@pytest.mark.parametrize("family", ["posrf", "gerf", "sderf", "fourier"])
def test_an_integer_memmap_is_fitted_block_by_block(family, tmp_path, monkeypatch):
    """The samplers' fit needs the statistics of the rows alone, taken in blocks.

    An integer memmap (data larger than memory is often int16 on disk) was
    first converted to one float64 copy of all of X: four times the file, in
    memory. Now each block is converted as its statistics are taken, and
    fit and partial_fit give the sampler of the float64 rows.
    """
    n, d = 60_000, 16
    X = int16_memmap(tmp_path / "X.npy", n, d, seed=5)
    make = FourierSampler if family == "fourier" else SAMPLERS[family]
    params = dict(n_components=16, gamma=1e-3, random_state=0)
    monkeypatch.setattr(statistics_module, "_BLOCK_ROWS", 2000)
    expected = make(**params).fit(X.astype(np.float64))
    fitted, peak = traced_peak(lambda: make(**params).fit(X))
    # The float64 copy of X is 7.7 MB; a block of rows 0.26 MB.
    assert peak < n * d * 8 / 4
    rows = np.asarray(X[:200], dtype=np.float64)
    np.testing.assert_allclose(
        fitted.transform(rows), expected.transform(rows), rtol=1e-12
    )
    if family == "fourier":
        return  # no partial_fit
    streamed = make(**params)
    _, peak = traced_peak(
        lambda: streamed.partial_fit(X[: n // 2]).partial_fit(X[n // 2 :])
    )
    assert peak < n * d * 8 / 4
    np.testing.assert_allclose(
        streamed.transform(rows), expected.transform(rows), rtol=1e-10
    )
