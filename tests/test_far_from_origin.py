"""Exact to rounding far from the origin and under any order or chunking (issue 9).

Property tests over generated data sets: translation invariance of the
Gaussian-kernel fit, partial_fit = fit on any chunking, row-order invariance,
and huge inputs failing in fit with the input named.
"""

import itertools
import warnings

import numpy as np
import pytest
from _helpers import SAMPLERS
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from skfavor import DERFSampler, GERFSampler

DATA_DEPENDENT = ["gerf", "sderf", "aderf", "saderf"]

PROPERTY = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=True,
)


def _data(seed, n, d, spread):
    rng = np.random.default_rng(seed)
    return rng.normal(scale=spread, size=(n, d)) * rng.uniform(0.5, 2.0, size=d)


def _fitted_parameters(sampler):
    names = ["gamma_", "a_", "frame_", "query_transform_", "key_transform_"]
    return {name: getattr(sampler, name) for name in names if hasattr(sampler, name)}


def _assert_same_fit(moved, base, X_moved, X_base, *, rtol):
    for name, value in _fitted_parameters(base).items():
        np.testing.assert_allclose(
            getattr(moved, name), value, rtol=rtol, atol=rtol, err_msg=name
        )
    np.testing.assert_allclose(
        moved.transform(X_moved), base.transform(X_base), rtol=rtol, atol=0
    )


@pytest.mark.parametrize("family", DATA_DEPENDENT)
@PROPERTY
@given(
    seed=st.integers(0, 2**16),
    n=st.integers(3, 40),
    d=st.integers(1, 5),
    log_loc=st.floats(0.0, 8.0),
)
def test_gaussian_fit_is_translation_invariant(family, seed, n, d, log_loc):
    # The Gaussian kernel is translation invariant, and so is the variance-
    # optimal fit (center_ moves with the data): raw sums used to cancel.
    X = _data(seed, n, d, spread=0.3)
    shift = np.random.default_rng(seed + 1).choice([-1.0, 1.0], size=d) * 10**log_loc
    base = SAMPLERS[family](n_components=7, gamma=0.7, random_state=0).fit(X)
    moved = SAMPLERS[family](n_components=7, gamma=0.7, random_state=0).fit(X + shift)
    # Rounding of the shifted rows themselves: |shift| · eps relative to 0.3.
    rtol = max(1e-9, 1e3 * 10**log_loc * np.finfo(np.float64).eps)
    _assert_same_fit(moved, base, X + shift, X, rtol=rtol)


@pytest.mark.parametrize("loc", [1e4, 1e6, 1e8])
def test_gamma_scale_far_from_the_origin(loc):
    # One-pass variance (E x² − (E x)²) came out <= 0 here and gamma fell to 1.
    X = loc + _data(0, 300, 3, spread=1e-2)
    sampler = GERFSampler(gamma="scale", n_components=5, random_state=0).fit(X)
    assert sampler.gamma_ == pytest.approx(1.0 / (3 * X.var()), rel=1e-6)


@pytest.mark.parametrize("family", [*DATA_DEPENDENT, "posrf"])
@PROPERTY
@given(
    seed=st.integers(0, 2**16),
    n=st.integers(4, 50),
    cuts=st.lists(st.floats(0.0, 1.0), min_size=1, max_size=5),
    log_loc=st.floats(0.0, 7.0),
    kernel=st.sampled_from(["rbf", "softmax"]),
)
def test_partial_fit_equals_fit_on_any_chunking(family, seed, n, cuts, log_loc, kernel):
    d = 3
    X = _data(seed, n, d, spread=0.5)
    if kernel == "rbf" and family != "posrf":
        # The same shift for every column leaves gamma='scale' unchanged.
        X = X + 10**log_loc
    else:
        log_loc = 0.0
    bounds = sorted({0, n, *(int(c * n) for c in cuts)})
    whole = SAMPLERS[family](
        n_components=6, kernel=kernel, gamma="scale", random_state=1
    ).fit(X)
    streamed = SAMPLERS[family](
        n_components=6, kernel=kernel, gamma="scale", random_state=1
    )
    for start, stop in itertools.pairwise(bounds):
        if stop > start:
            streamed.partial_fit(X[start:stop])
    rtol = max(1e-9, 1e3 * 10**log_loc * np.finfo(np.float64).eps)
    _assert_same_fit(streamed, whole, X, X, rtol=rtol)


@pytest.mark.parametrize("family", [*DATA_DEPENDENT, "posrf"])
@PROPERTY
@given(
    seed=st.integers(0, 2**16),
    n=st.integers(6, 60),
    n_constant=st.integers(1, 4),
    kernel=st.sampled_from(["rbf", "softmax"]),
)
def test_fit_does_not_depend_on_the_row_order(family, seed, n, n_constant, kernel):
    # Near-constant columns tie the floored eigenvalues; ADERF's SVD then
    # picked a rotation from rounding noise (features differing by percents).
    rng = np.random.default_rng(seed)
    X = np.hstack(
        [
            _data(seed, n, 3, spread=0.5),
            np.full((n, n_constant), 0.7) + 1e-9 * rng.normal(size=(n, n_constant)),
        ]
    )
    order = rng.permutation(n)
    forward = SAMPLERS[family](n_components=9, kernel=kernel, random_state=2)
    shuffled = SAMPLERS[family](n_components=9, kernel=kernel, random_state=2)
    forward.fit(X)
    shuffled.fit(X[order])
    np.testing.assert_allclose(
        shuffled.transform(X), forward.transform(X), rtol=1e-6, atol=0
    )
    np.testing.assert_allclose(
        shuffled.transform_keys(X), forward.transform_keys(X), rtol=1e-6, atol=0
    )


@pytest.mark.parametrize("family", DATA_DEPENDENT)
@pytest.mark.parametrize("where", ["X", "keys"])
def test_huge_finite_input_fails_in_fit_naming_it(family, where):
    rng = np.random.default_rng(0)
    small = rng.normal(size=(20, 3))
    huge = small * 1e140
    X, keys = (huge, small) if where == "X" else (small, huge)
    sampler = SAMPLERS[family](n_components=5, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match=f"^{where} is too large"):
            sampler.fit(X, keys=keys)


def test_aderf_tied_eigenvalues_give_one_frame():
    # Three constant columns: MX has a triple eigenvalue at the floor; any
    # basis of it must give the same transforms.
    rng = np.random.default_rng(0)
    X = np.hstack([rng.normal(size=(40, 2)), np.ones((40, 3))])
    Y = np.hstack([rng.normal(size=(30, 2)) + 0.5, np.ones((30, 3))])
    first = DERFSampler("aderf", n_components=5, random_state=0).fit(X, keys=Y)
    second = DERFSampler("aderf", n_components=5, random_state=0).fit(
        X[::-1], keys=Y[::-1]
    )
    np.testing.assert_allclose(
        first.query_transform_, second.query_transform_, atol=1e-9
    )
    np.testing.assert_allclose(first.key_transform_, second.key_transform_, atol=1e-9)


@pytest.mark.parametrize("scale", [1e-140, 1e-100, 1e-80, 1e40])
def test_aderf_transforms_do_not_depend_on_a_common_scale(scale):
    # T₁ = N^¼ MX^-½ and T₂ = N^-¼ MX^½ are unchanged when X and keys are
    # scaled together, but N = (MX^½ MY^½)(MX^½ MY^½)ᵀ is of order scale⁴:
    # from the squared singular values, N underflowed below scale ~1e-77 and
    # T₁ came out scale⁻¹ times too large (kernel estimates off by 30 % where
    # the kernel is 1), and lost digits to subnormals at 1e-80.
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 3))
    keys = rng.normal(scale=0.5, size=(25, 3)) + 0.2
    base = DERFSampler("aderf", n_components=5, random_state=0).fit(X, keys=keys)
    scaled = DERFSampler("aderf", n_components=5, random_state=0)
    scaled.fit(X * scale, keys=keys * scale)
    for name in ["query_transform_", "key_transform_"]:
        np.testing.assert_allclose(
            getattr(scaled, name), getattr(base, name), rtol=1e-9, atol=1e-9
        )
    if scale < 1:
        estimates = scaled.transform(X * scale) @ scaled.transform_keys(keys * scale).T
        np.testing.assert_allclose(estimates, 1.0, rtol=1e-9)
