"""Statistics, sampling and the compiled feature map against MATH.md §2–§4, §8."""

import numpy as np
import pytest
import scipy.sparse as sp
from scipy import stats
from sklearn.utils import check_random_state

from skfavor import DERFSampler, GERFSampler, PositiveRFSampler
from skfavor._closed_forms import a_star
from skfavor._sampling import draw_weights, orthogonal_weights
from skfavor._statistics import SampleStatistics, cross_second_moment


def test_statistics_merge_exactly_and_match_numpy():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 4))
    whole = SampleStatistics.from_array(X)
    parts = SampleStatistics.from_array(X[:13]) + SampleStatistics.from_array(X[13:])
    centred = X - X.mean(0)
    for stats_ in (whole, parts):
        assert stats_.n_samples == 50
        np.testing.assert_allclose(stats_.mean, X.mean(0))
        np.testing.assert_allclose(stats_.scatter, centred.T @ centred)
        np.testing.assert_allclose(stats_.second_moment(), X.T @ X / 50)
    sparse = SampleStatistics.from_array(sp.csr_matrix(X))
    np.testing.assert_allclose(sparse.scatter, whole.scatter)
    np.testing.assert_allclose(sparse.mean, whole.mean)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("loc", [1e4, 1e6, 1e8])
def test_statistics_keep_the_spread_far_from_the_origin(loc, dtype):
    # Raw sums (n, Σx, XᵀX) lose every digit of a spread of 1e-2 at 1e6 in
    # float64 (XᵀX/n − μμᵀ cancels); centred statistics stay exact.
    rng = np.random.default_rng(3)
    spread = rng.normal(scale=1e-2, size=(200, 3))
    X = (loc + spread).astype(dtype)
    rows = X.astype(np.float64)
    expected = np.cov(rows.T, bias=True)
    # Rounding of float64 work on rows of magnitude loc, relative to the spread.
    atol = 10 * loc * np.finfo(np.float64).eps * 1e-2
    stats_ = SampleStatistics.from_array(X)
    np.testing.assert_allclose(stats_.covariance, expected, rtol=1e-6, atol=atol)
    chunks = [SampleStatistics.from_array(X[i : i + 7]) for i in range(0, 200, 7)]
    merged = chunks[0]
    for chunk in chunks[1:]:
        merged = merged + chunk
    np.testing.assert_allclose(merged.covariance, expected, rtol=1e-6, atol=atol)
    np.testing.assert_allclose(
        stats_.entry_variance(), rows.var(), rtol=1e-6, atol=atol
    )


def test_statistics_with_a_mask_leave_rows_out():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(2, 9, 3)) + 3.0
    mask = rng.random(size=(2, 9)) < 0.6
    mask[:, 0] = True
    stats_ = SampleStatistics.from_array(X, mask=mask)
    for b in range(2):
        rows = X[b][mask[b]]
        direct = SampleStatistics.from_array(rows)
        assert stats_.n_samples[b] == len(rows)
        np.testing.assert_allclose(stats_.mean[b], direct.mean)
        np.testing.assert_allclose(stats_.scatter[b], direct.scatter, atol=1e-12)


def test_weighted_merge_is_the_moving_average_of_moments():
    rng = np.random.default_rng(5)
    A, B = rng.normal(size=(20, 3)) + 1.0, rng.normal(size=(30, 3)) - 2.0
    running = SampleStatistics.from_array(A).merged(
        SampleStatistics.from_array(B), weight=0.1
    )
    np.testing.assert_allclose(running.mean, 0.9 * A.mean(0) + 0.1 * B.mean(0))
    np.testing.assert_allclose(
        running.second_moment(), 0.9 * A.T @ A / 20 + 0.1 * B.T @ B / 30
    )


def test_statistics_shift_and_scale_like_the_data():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(30, 3)) + 5.0
    c = np.array([5.0, -1.0, 2.0])
    moved = SampleStatistics.from_array(X).shifted(c).scaled(0.5)
    direct = SampleStatistics.from_array((X - c) * 0.5)
    np.testing.assert_allclose(moved.mean, direct.mean, atol=1e-12)
    np.testing.assert_allclose(moved.scatter, direct.scatter, atol=1e-10)


def test_cross_second_moment_is_the_mean_over_pairs():
    rng = np.random.default_rng(2)
    X, Y = rng.normal(size=(7, 3)), rng.normal(size=(5, 3)) + 1
    pairs = (X[:, None, :] + Y[None, :, :]).reshape(-1, 3)
    expected = pairs.T @ pairs / len(pairs)
    got = cross_second_moment(
        SampleStatistics.from_array(X), SampleStatistics.from_array(Y)
    )
    np.testing.assert_allclose(got, expected)


def test_orthogonal_weights_are_orthogonal_within_blocks():
    d, M = 5, 13
    W = orthogonal_weights(M, d, check_random_state(0))
    assert W.shape == (M, d)
    for start in range(0, M, d):
        block = W[start : start + d]
        directions = block / np.linalg.norm(block, axis=1, keepdims=True)
        np.testing.assert_allclose(
            directions @ directions.T, np.eye(len(block)), atol=1e-12
        )


@pytest.mark.parametrize("orthogonal", [False, True])
def test_weights_have_standard_gaussian_marginals(orthogonal):
    """Each row is N(0, I_d): mean 0, covariance I, squared norm χ²_d (MATH.md §4)."""
    d, M = 4, 40000
    W = draw_weights(
        M, d, check_random_state(0), sampling="orthogonal" if orthogonal else "iid"
    )
    np.testing.assert_allclose(W.mean(0), 0, atol=4 * np.sqrt(1 / M) * 1.5)
    np.testing.assert_allclose(np.cov(W.T), np.eye(d), atol=0.05)
    # Kolmogorov–Smirnov on the squared norms and on one coordinate
    assert stats.kstest((W**2).sum(1), stats.chi2(d).cdf).pvalue > 1e-3
    assert stats.kstest(W[:, 0], stats.norm.cdf).pvalue > 1e-3


def test_same_seed_same_weights():
    a = draw_weights(10, 3, check_random_state(7), sampling="orthogonal")
    b = draw_weights(10, 3, check_random_state(7), sampling="orthogonal")
    np.testing.assert_array_equal(a, b)


def _gerf_literal(omega, z, a):
    """GERF of MATH.md §3: (1−4a)^{d/4} exp(a|ω|² + √(1−4a) ωᵀz − ½|z|²)."""
    d = z.shape[-1]
    return (1 - 4 * a) ** (d / 4) * np.exp(
        a * (omega**2).sum(1)[None, :]
        + np.sqrt(1 - 4 * a) * z @ omega.T
        - 0.5 * (z**2).sum(1)[:, None]
    )


def _literal_features(sampler, X, side):
    """The family's map written as MATH.md §3's table, for the Gaussian kernel."""
    omega = sampler.random_weights_
    M = omega.shape[0]
    z = (X - sampler.center_) * sampler.kernel_scale_
    gaussian = np.exp(-0.5 * (z**2).sum(1))[:, None]
    if isinstance(sampler, PositiveRFSampler):
        f = np.exp(z @ omega.T - 0.5 * (z**2).sum(1)[:, None])
    elif isinstance(sampler, GERFSampler):
        f = _gerf_literal(omega, z, sampler.a_)
    elif sampler.variant == "sderf":
        Q = sampler.frame_.T
        A = Q @ np.diag(sampler.a_) @ Q.T
        root = Q @ np.diag(np.sqrt(1 - 4 * sampler.a_)) @ Q.T
        D = np.prod((1 - 4 * sampler.a_) ** 0.25)
        f = D * np.exp(
            np.einsum("mi,ij,mj->m", omega, A, omega)[None, :]
            + z @ root @ omega.T
            - 0.5 * (z**2).sum(1)[:, None]
        )
    else:
        T = sampler.query_transform_ if side == "query" else sampler.key_transform_
        f = _gerf_literal(omega, z @ T.T, sampler.a_[0])
    return f * gaussian / np.sqrt(M)


@pytest.mark.parametrize(
    "sampler",
    [
        PositiveRFSampler(),
        GERFSampler(),
        DERFSampler("sderf"),
        DERFSampler("aderf"),
        DERFSampler("saderf"),
    ],
    ids=["posrf", "gerf", "sderf", "aderf", "saderf"],
)
def test_compiled_map_equals_the_literal_formula(sampler):
    rng = np.random.default_rng(3)
    X = rng.normal(size=(12, 3)) @ rng.normal(size=(3, 3)) * 0.4 + 0.7
    Y = rng.normal(size=(9, 3)) * np.array([0.2, 0.5, 1.0])
    sampler.set_params(n_components=11, gamma=0.3, random_state=0).fit(X, keys=Y)
    np.testing.assert_allclose(
        sampler.transform(X), _literal_features(sampler, X, "query"), rtol=1e-10
    )
    np.testing.assert_allclose(
        sampler.transform_keys(Y), _literal_features(sampler, Y, "key"), rtol=1e-10
    )


def test_sderf_parameters_are_the_eigen_optimum():
    """a_l = a*(λ_l) on the eigenvalues of MXY of the centred, scaled data."""
    rng = np.random.default_rng(4)
    X = rng.normal(size=(40, 3)) * np.array([0.3, 1.0, 2.0])
    sampler = DERFSampler(gamma=0.5).fit(X)
    Z = X - X.mean(0)
    MXY = 2 * Z.T @ Z / len(Z)  # MX + MY with μ = 0; scale √(2γ) = 1
    np.testing.assert_allclose(sampler.a_, a_star(np.linalg.eigvalsh(MXY)))
    np.testing.assert_allclose(sampler.frame_ @ sampler.frame_.T, np.eye(3), atol=1e-12)
