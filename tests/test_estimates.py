"""Unbiasedness and variance of the samplers' kernel estimates (MATH.md §2, §5)."""

import warnings

import numpy as np
import pytest
from _helpers import SAMPLERS, exact_kernel, kernel_units
from sklearn.kernel_approximation import RBFSampler

from skfavor import DERFSampler, GERFSampler, PositiveRFSampler
from skfavor.datasets import paper_split
from skfavor.metrics import log_variance, trigonometric_log_variance


@pytest.fixture(scope="module")
def cmc():
    """Real data: 60 test queries and 80 training keys of cmc, kernel exp(-|x-y|²/2)."""
    X_train, X_test, _, _ = paper_split("cmc", max_train=80, max_test=60)
    return X_test, X_train


@pytest.mark.parametrize("orthogonal", [False, True])
@pytest.mark.parametrize("kernel", ["rbf", "softmax"])
@pytest.mark.parametrize("family", SAMPLERS)
def test_estimate_is_unbiased_within_the_closed_form_variance(
    cmc, family, kernel, orthogonal
):
    """transform(X) @ transform_keys(Y).T ≈ K(X, Y), errors sized by MATH.md §5.

    With M i.i.d. features each entry's error has standard deviation
    ``sqrt(Var / M)``; orthogonal features have at most that. The mean
    standardised error is bounded by the mean of the standard deviations, and
    the mean squared standardised error is ≈ 1 (i.i.d.) or below (ORF).
    """
    X, Y = cmc
    n_components = 30000
    sampler = SAMPLERS[family](
        n_components=n_components,
        kernel=kernel,
        gamma=0.5,
        sampling="orthogonal" if orthogonal else "iid",
        random_state=0,
    ).fit(X, keys=Y)
    estimate = sampler.transform(X) @ sampler.transform_keys(Y).T
    K = exact_kernel(X, Y, kernel=kernel, gamma=0.5)
    std = np.sqrt(np.exp(log_variance(sampler, X, Y)) / n_components)
    z = (estimate - K) / std
    assert np.all(estimate > 0)
    assert abs(np.mean(estimate - K)) <= 4 * np.mean(std)
    assert np.max(np.abs(z)) < 6
    mean_square = np.mean(z**2)
    assert mean_square < 1.6
    if not orthogonal:
        assert mean_square > 0.4


@pytest.mark.parametrize("family", ["gerf", "sderf"])
def test_orthogonal_features_lower_the_error(family):
    """Block-orthogonal ω lowers the mean squared relative error (MATH.md §4).

    At this scale i.i.d. features give a relative MSE of 0.28 ± 0.01 (GERF) and
    orthogonal ones 0.24 ± 0.01 over 300 seeds; without the coupling the ratio
    would be 1 ± 0.05.
    """
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(20, 8)) * 0.3, rng.normal(size=(20, 8)) * 0.3
    K = exact_kernel(X, Y, kernel="rbf", gamma=0.5)

    def mean_squared_error(orthogonal):
        errors = []
        for seed in range(300):
            sampler = SAMPLERS[family](
                n_components=8,
                gamma=0.5,
                sampling="orthogonal" if orthogonal else "iid",
                random_state=seed,
            ).fit(X, keys=Y)
            estimate = sampler.transform(X) @ sampler.transform_keys(Y).T
            errors.append(np.mean(((estimate - K) / K) ** 2))
        return np.mean(errors)

    assert mean_squared_error(True) < 0.92 * mean_squared_error(False)


def _empirical_log_variance(features_x, features_y, n_components):
    """Per-pair log variance of one feature's product, from M i.i.d. features."""
    products = features_x[:, None, :] * features_y[None, :, :] * n_components
    return np.log(products.var(axis=2, ddof=1))


@pytest.mark.parametrize("kernel", ["rbf", "softmax"])
@pytest.mark.parametrize("family", SAMPLERS)
def test_log_variance_matches_monte_carlo(family, kernel):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(4, 3)) * 0.5
    Y = rng.normal(size=(3, 3)) * 0.3 + 0.2
    n_components = 200_000
    sampler = SAMPLERS[family](
        n_components=n_components,
        kernel=kernel,
        gamma=0.5,
        sampling="iid",
        random_state=1,
    ).fit(X, keys=Y)
    empirical = _empirical_log_variance(
        sampler.transform(X), sampler.transform_keys(Y), n_components
    )
    np.testing.assert_allclose(empirical, log_variance(sampler, X, Y), atol=0.1)


def test_log_variance_of_rbf_sampler_matches_monte_carlo():
    """RBFSampler's random-phase features: Var = 1 + ½e^{−2Δ} − e^{−Δ} (MATH.md §5)."""
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(4, 3)) * 0.6, rng.normal(size=(3, 3)) * 0.6
    n_components = 200_000
    sampler = RBFSampler(gamma=0.7, n_components=n_components, random_state=0).fit(X)
    features_x, features_y = sampler.transform(X), sampler.transform(Y)
    empirical = _empirical_log_variance(features_x, features_y, n_components)
    np.testing.assert_allclose(empirical, log_variance(sampler, X, Y), atol=0.05)


def test_log_variance_defaults_and_positive_variance():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(5, 2))
    sampler = DERFSampler("aderf", gamma=0.3, random_state=0).fit(X)
    values = log_variance(sampler, X)
    assert values.shape == (5, 5)
    assert np.all(np.isfinite(values))
    np.testing.assert_array_equal(values, log_variance(sampler, X, X))


@pytest.mark.parametrize("family", ["posrf", "gerf", "sderf"])
@pytest.mark.parametrize("gap", [1e-3, 1e-6, 1e-8])
def test_log_variance_is_accurate_where_the_variance_vanishes(family, gap):
    """At x ≈ −y (kernel units) Var ≪ K²: log E2 − 2 log K must not be taken
    as a difference of the large terms of §5 (PosRF gave −inf at a gap of
    1e-8 and was 5e-3 off at 1e-6). Reference: §5 in 60-digit arithmetic."""
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 60
    rng = np.random.default_rng(0)
    x = np.array([4.0, -2.0, 1.0])
    X = np.vstack([x, -x + gap * np.array([1.0, 0.5, 0.0]), rng.normal(size=(6, 3))])
    sampler = {
        "posrf": PositiveRFSampler(kernel="softmax"),
        "gerf": GERFSampler(kernel="softmax"),
        "sderf": DERFSampler("sderf", kernel="softmax"),
    }[family].fit(X)
    params = sampler.family_parameters_
    frame = np.eye(3) if params.frame is None else params.frame
    z1, z2 = (mpmath.matrix(list(row)) for row in X[:2])
    R = mpmath.matrix(frame.tolist())
    s1, s2 = R * z1, R * z2
    a = [mpmath.mpf(float(v)) for v in np.broadcast_to(params.a, 3)]
    log_e2 = sum(
        mpmath.log(1 - 4 * a[i])
        - mpmath.log(1 - 8 * a[i]) / 2
        + 2 * (1 - 4 * a[i]) * (s1[i] + s2[i]) ** 2 / (1 - 8 * a[i])
        - s1[i] ** 2
        - s2[i] ** 2
        for i in range(3)
    )
    log_k2 = 2 * sum(z1[i] * z2[i] for i in range(3))
    expected = float(mpmath.log(mpmath.exp(log_e2) - mpmath.exp(log_k2)))
    measured = log_variance(sampler, X[:1], X[1:2])[0, 0]
    assert measured == pytest.approx(expected, abs=1e-6)


def test_log_variance_rejects_other_estimators():
    from sklearn.preprocessing import StandardScaler

    X = np.ones((3, 2))
    with pytest.raises(TypeError, match="sampler must be"):
        log_variance(StandardScaler().fit(X), X)
    sampler = GERFSampler().fit(X)
    with pytest.raises(ValueError, match="Y has 3 features"):
        log_variance(sampler, X, np.ones((2, 3)))


@pytest.mark.parametrize("family", ["gerf", "sderf", "aderf", "saderf"])
def test_rbf_features_are_translation_invariant(family):
    """Data-dependent rbf maps are evaluated at x − center_, so shifting all the
    data by t leaves every feature unchanged (the Gaussian kernel is shift
    invariant); far-from-origin data therefore neither under- nor overflows."""
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(30, 4)), rng.normal(size=(20, 4)) + 0.5
    shift = np.array([100.0, -50.0, 7.0, 0.0])
    base = SAMPLERS[family](gamma=0.4, random_state=0).fit(X, keys=Y)
    moved = SAMPLERS[family](gamma=0.4, random_state=0).fit(X + shift, keys=Y + shift)
    np.testing.assert_allclose(moved.center_ - base.center_, shift, rtol=1e-12)
    np.testing.assert_allclose(moved.transform(X + shift), base.transform(X), rtol=1e-6)
    np.testing.assert_allclose(
        moved.transform_keys(Y + shift), base.transform_keys(Y), rtol=1e-6
    )


def test_center_is_the_mean_of_the_two_means():
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(30, 3)) + 1.0, rng.normal(size=(10, 3)) - 3.0
    sampler = GERFSampler().fit(X, keys=Y)
    np.testing.assert_allclose(sampler.center_, (X.mean(0) + Y.mean(0)) / 2)
    assert np.all(PositiveRFSampler().fit(X).center_ == 0)
    assert np.all(GERFSampler(kernel="softmax").fit(X).center_ == 0)


def test_kernel_units_follow_gamma():
    """scale = √(2γ) for rbf (MATH.md §1), √γ for softmax."""
    X = np.eye(2)
    rbf = GERFSampler(gamma=2.0).fit(X)
    softmax = GERFSampler(gamma=2.0, kernel="softmax").fit(X)
    np.testing.assert_allclose(kernel_units(rbf, X + rbf.center_), 2.0 * X)
    np.testing.assert_allclose(kernel_units(softmax, X), np.sqrt(2.0) * X)


def test_rbf_sampler_scale_is_resolved_publicly_on_the_training_rows():
    """gamma='scale': RBFSampler keeps its value private; log_variance resolves it.

    On the training rows it equals the value scikit-learn resolved; rows of
    another scale are refused instead of giving a wrong variance silently.
    """
    X = np.random.default_rng(0).normal(size=(40, 3)) * 2.0
    sampler = RBFSampler(gamma="scale", n_components=500, random_state=0).fit(X)
    gamma = 1.0 / (X.shape[1] * X.var())
    np.testing.assert_allclose(
        log_variance(sampler, X), trigonometric_log_variance(X, X, gamma=gamma)
    )
    with pytest.raises(ValueError, match=r"gamma='scale'.*Pass the training rows"):
        log_variance(sampler, X * 10.0)


def test_log_variance_is_finite_where_the_relative_variance_overflows():
    """``log(Var/K²) = log expm1(r)`` overflowed to inf for r > 709 (x = y
    with |z|² > 177 in kernel units, PosRF: ``Var/K² = e^{|zx + zy|²} − 1``),
    where ``r + log(−expm1(−r))`` is exact; log E2 − 2 log K was finite."""
    x = np.array([[12.0, 8.0, 4.0]])
    sampler = PositiveRFSampler(kernel="softmax").fit(np.vstack([x, -x]))
    z = x * sampler.kernel_scale_
    r = float(np.sum((2.0 * z) ** 2))
    assert r > 800.0
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        measured = log_variance(sampler, x, x)[0, 0]
    assert measured == pytest.approx(2.0 * float(np.sum(z * z)) + r, rel=1e-12)
