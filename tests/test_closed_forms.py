"""The closed forms of MATH.md §2–§3: check values, optimality, §7 and the orderings."""

import numpy as np
import pytest
from _helpers import log_second_moments
from scipy.optimize import minimize, minimize_scalar

from skfavor import DERFSampler, GERFSampler, PositiveRFSampler
from skfavor._closed_forms import (
    FAMILIES,
    a_star,
    aderf_parameters,
    gerf_parameters,
    saderf_parameters,
    sderf_parameters,
)
from skfavor._feature_map import FrameParameters
from skfavor._statistics import SampleStatistics
from skfavor.datasets import UCI_DATASETS, paper_split
from skfavor.metrics import (
    _log_relative_variance,
    log_second_moment,
    trigonometric_log_variance,
)


@pytest.mark.parametrize(
    "phi, expected",
    [(0.1, -0.0435), (0.5, -0.1768), (1, -0.3202), (2, -0.5877), (10, -2.614)],
)
def test_a_star_check_values(phi, expected):
    """The check values of MATH.md §2, to the digits printed there."""
    half_last_digit = 0.5 * 10.0 ** -len(str(expected).split(".")[1])
    assert a_star(phi) == pytest.approx(expected, abs=half_last_digit)


def test_a_star_at_zero_and_sign():
    assert a_star(0.0) == 0.0
    phis = np.logspace(-6, 4, 50)
    assert np.all(a_star(phis) < 0)
    # ≈ -φ/4 for large φ (MATH.md §2)
    assert a_star(1e6) / (-1e6 / 4) == pytest.approx(1.0, rel=1e-5)


@pytest.mark.parametrize("phi", [1e-3, 0.1, 0.7, 3.0, 40.0])
def test_a_star_minimises_the_one_dimensional_objective(phi):
    """a*(φ) minimises log(1−4a) − ½ log(1−8a) + 2φ(1−4a)/(1−8a) over a < 1/8."""

    def objective(a):
        return (
            np.log1p(-4 * a)
            - 0.5 * np.log1p(-8 * a)
            + 2 * phi * (1 - 4 * a) / (1 - 8 * a)
        )

    numeric = minimize_scalar(
        objective, bounds=(-100.0, 0.12), method="bounded", options={"xatol": 1e-12}
    )
    assert a_star(phi) == pytest.approx(numeric.x, abs=1e-5)
    assert objective(a_star(phi)) <= numeric.fun + 1e-12


def _different_sets(d, seed=0):
    """Queries and keys with different means and covariances, in kernel units."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(60, d)) @ rng.normal(size=(d, d)) * 0.4 + 0.3
    Y = rng.normal(size=(50, d)) * np.linspace(0.2, 0.9, d) - 0.1
    return X, Y


def _objective(params, X, Y):
    """Mean over pairs of the log second moment (MATH.md §2), softmax kernel."""
    return log_second_moment(params, X, Y, alpha=0.0).mean()


def _closed_form_objective(family, X, Y):
    stats_x, stats_y = SampleStatistics.from_array(X), SampleStatistics.from_array(Y)
    params = FAMILIES[family](stats_x, stats_y)
    return params, _objective(params, X, Y)


def _feasible(a):
    return np.all(a < 0.12)


def test_gerf_is_optimal_against_scipy():
    X, Y = _different_sets(3)
    params, best = _closed_form_objective("gerf", X, Y)

    def objective(a):
        return _objective(FrameParameters(a=np.full(3, a)), X, Y)

    numeric = minimize_scalar(objective, bounds=(-20, 0.12), method="bounded")
    assert params.a[0] == pytest.approx(numeric.x, abs=1e-4)
    assert best <= numeric.fun + 1e-10


def test_sderf_is_optimal_against_scipy():
    """SDERF's A = Q diag(a*(λ)) Qᵀ beats every symmetric A that scipy finds."""
    d = 3
    X, Y = _different_sets(d, seed=1)
    _, best = _closed_form_objective("sderf", X, Y)
    upper = np.triu_indices(d)

    def objective(theta):
        A = np.zeros((d, d))
        A[upper] = theta
        A = A + A.T - np.diag(np.diag(A))
        a, Q = np.linalg.eigh(A)
        if not _feasible(a):
            return np.inf
        return _objective(FrameParameters(a=a, frame=Q.T), X, Y)

    numeric = minimize(
        objective,
        np.zeros(len(upper[0])),
        method="Nelder-Mead",
        options={"maxiter": 20000, "xatol": 1e-9, "fatol": 1e-12},
    )
    assert best <= numeric.fun + 1e-9
    assert numeric.fun - best < 1e-4  # the optimiser gets there too


def test_aderf_is_optimal_against_scipy():
    """ADERF's (a, T₁, T₂ = T₁⁻ᵀ) beats every pair the optimiser finds."""
    d = 2
    X, Y = _different_sets(d, seed=2)
    params, best = _closed_form_objective("aderf", X, Y)

    def objective(theta):
        a, T1 = theta[0], theta[1:].reshape(d, d)
        if a >= 0.12 or abs(np.linalg.det(T1)) < 1e-8:
            return np.inf
        T2 = np.linalg.inv(T1).T
        return _objective(FrameParameters(np.full(d, a), None, T1, T2), X, Y)

    start = np.concatenate([[0.0], np.eye(d).ravel()])
    numeric = minimize(
        objective,
        start,
        method="Nelder-Mead",
        options={"maxiter": 40000, "xatol": 1e-10, "fatol": 1e-13},
    )
    assert best <= numeric.fun + 1e-9
    assert numeric.fun - best < 1e-4
    # MATH.md §3: T₁ᵀT₂ = I and T₁ MX T₁ᵀ = T₂ MY T₂ᵀ = Σ (diagonal).
    T1, T2 = params.query_transform, params.key_transform
    MX, MY = X.T @ X / len(X), Y.T @ Y / len(Y)
    np.testing.assert_allclose(T1.T @ T2, np.eye(d), atol=1e-10)
    Sigma = T1 @ MX @ T1.T
    np.testing.assert_allclose(Sigma, T2 @ MY @ T2.T, atol=1e-10)
    # The canonical frame: Σ is symmetric with the singular values of
    # MX^½ MY^½ as eigenvalues (the recipe's diagonal Σ, rotated).
    lam_x, Q_x = np.linalg.eigh(MX)
    lam_y, Q_y = np.linalg.eigh(MY)
    singular = np.linalg.svd(
        (np.sqrt(lam_x)[:, None] * (Q_x.T @ Q_y)) * np.sqrt(lam_y),
        compute_uv=False,
    )
    np.testing.assert_allclose(Sigma, Sigma.T, atol=1e-12)
    np.testing.assert_allclose(
        np.sort(np.linalg.eigvalsh(Sigma)), np.sort(singular), atol=1e-10
    )
    # and a = a*(2 (tr Σ + μXᵀμY) / d)
    phi = 2 * (np.trace(Sigma) + X.mean(0) @ Y.mean(0)) / d
    assert params.a[0] == pytest.approx(a_star(phi), rel=1e-12)


def test_saderf_is_optimal_against_scipy():
    d = 3
    X, Y = _different_sets(d, seed=3)
    params, best = _closed_form_objective("saderf", X, Y)

    def objective(theta):
        a, psi = theta[0], np.exp(theta[1:])
        if a >= 0.12:
            return np.inf
        return _objective(FrameParameters(np.full(d, a), None, psi, 1 / psi), X, Y)

    numeric = minimize(
        objective,
        np.zeros(d + 1),
        method="Nelder-Mead",
        options={"maxiter": 20000, "xatol": 1e-10, "fatol": 1e-13},
    )
    assert best <= numeric.fun + 1e-9
    assert numeric.fun - best < 1e-5
    MX, MY = np.diag(X.T @ X / len(X)), np.diag(Y.T @ Y / len(Y))
    np.testing.assert_allclose(params.query_transform, (MY / MX) ** 0.25)
    phi = 2 * (np.sqrt(MX * MY).sum() + X.mean(0) @ Y.mean(0)) / d
    assert params.a[0] == pytest.approx(a_star(phi), rel=1e-12)


def test_same_statistics_reduce_asymmetric_families_to_gerf():
    """MATH.md §3: with X and Y alike, ADERF and SADERF give GERF's objective."""
    X, _ = _different_sets(3, seed=4)
    _, gerf = _closed_form_objective("gerf", X, X)
    for family in ("aderf", "saderf"):
        params, value = _closed_form_objective(family, X, X)
        assert value == pytest.approx(gerf, abs=1e-10)
        assert params.a[0] == pytest.approx(
            gerf_parameters(*[SampleStatistics.from_array(X)] * 2).a[0], rel=1e-10
        )


# doc/math.rst §7: mean over distinct test × train pairs of log(Var/K²), one
# feature, columns RFF (sin/cos), PosRF, GERF, SADERF, ADERF, SDERF.
MAGNITUDES = {
    "abalone": (2.06, 3.24, 2.10, 2.10, 2.10, 1.13),
    "banknote": (7.16, 8.07, 2.68, 2.67, 2.67, 2.29),
    "car": (24.66, 25.37, 11.03, 11.01, 10.86, 9.41),
    "yeast": (11.20, 11.92, 4.70, 4.44, 4.42, 4.53),
    "cmc": (3.21, 4.07, 2.44, 2.42, 2.39, 2.25),
    "nursery": (0.84, 1.72, 1.47, 1.47, 1.45, 1.38),
    "wifi": (-1.98, -0.24, -0.38, -0.38, -0.39, -0.48),
    "chess": (4.61, 5.32, 4.34, 4.33, 4.24, 4.18),
}


@pytest.mark.parametrize("name", sorted(MAGNITUDES))
def test_math_table_rows_are_reproduced(name):
    """The closed forms of §3 and variances of §5 give the docs' §7 rows.

    Pairs with ``x = y`` are left out: RFF's variance is exactly 0 there
    (banknote, yeast and cmc have a few such pairs), so its log is −inf.
    """
    X_train, X_test, _, _ = paper_split(name, max_train=800, max_test=200)
    squared = ((X_test[:, None, :] - X_train[None, :, :]) ** 2).sum(-1)
    distinct = squared > 0
    rff = trigonometric_log_variance(X_test, X_train, gamma=0.5, kind="sincos")
    measured = [np.mean((rff + squared)[distinct])]
    queries = SampleStatistics.from_array(X_test)
    keys = SampleStatistics.from_array(X_train)
    for family in ("posrf", "gerf", "saderf", "aderf", "sderf"):
        params = FAMILIES[family](queries, keys)
        ratio = _log_relative_variance(params, X_test, X_train)
        measured.append(np.mean(ratio[distinct]))
    np.testing.assert_allclose(measured, MAGNITUDES[name], atol=0.006)


# MATH.md §7 (the team's reference, not the docs) has rows that its stated
# protocol (seed-42 split, σ of the data README) does not give: (set, its
# PosRF value, the protocol's, the input scale that gives its whole row).
# The docs' table above holds the protocol's values.
MATH_TABLE_OTHER_SCALE = [
    ("banknote", 8.88, 8.07, 1.0482),
    ("wifi", -0.33, -0.24, 0.9672),
]


@pytest.mark.parametrize("name, table, protocol, scale", MATH_TABLE_OTHER_SCALE)
def test_math_table_rows_of_small_sets_used_another_bandwidth(
    name, table, protocol, scale
):
    """PosRF has no fitted parameter, so its §7 entry, the mean over pairs of
    log(Var/K²) = log(e^{|x+y|²} − 1) (§5), depends on the data alone: the
    protocol gives 8.07 on banknote, not the table's 8.88, which comes back
    with the inputs times 1.048 (and with it the rest of the row, to 0.01).
    The abalone, car, nursery and chess rows do follow the protocol."""
    X_train, X_test, _, _ = paper_split(name, max_train=800, max_test=200)

    def posrf(factor):
        sums = factor**2 * ((X_test[:, None] + X_train[None]) ** 2).sum(-1)
        return np.mean(np.log(np.expm1(sums)))

    assert posrf(1.0) == pytest.approx(protocol, abs=0.01)
    assert posrf(scale) == pytest.approx(table, abs=0.005)


def _fitted(sampler, X_test, X_train):
    return sampler.set_params(gamma=0.5, random_state=0).fit(X_test, keys=X_train)


@pytest.mark.parametrize("name", UCI_DATASETS)
def test_orderings_hold_on_every_uci_set(name):
    """MATH.md §3: SDERF ≤ GERF ≤ PosRF and ADERF ≤ SADERF ≤ GERF (objective)."""
    X_train, X_test, _, _ = paper_split(name, max_train=400, max_test=100)
    objective = {}
    for key, sampler in {
        "posrf": PositiveRFSampler(),
        "gerf": GERFSampler(),
        "sderf": DERFSampler("sderf"),
        "aderf": DERFSampler("aderf"),
        "saderf": DERFSampler("saderf"),
    }.items():
        fitted = _fitted(sampler, X_test, X_train)
        objective[key] = log_second_moments(fitted, X_test, X_train).mean()
    tol = 1e-9
    assert objective["sderf"] <= objective["gerf"] + tol
    assert objective["gerf"] <= objective["posrf"] + tol
    assert objective["aderf"] <= objective["saderf"] + tol
    assert objective["saderf"] <= objective["gerf"] + tol


def test_centring_never_raises_the_objective():
    """The fitted origin (μX + μY)/2 is optimal for GERF and SDERF (MATH.md §5)."""
    X_train, X_test, _, _ = paper_split("yeast", max_train=400, max_test=100)
    shift = np.linspace(-1.0, 1.0, X_train.shape[1])
    for family in ("gerf", "sderf"):
        queries = SampleStatistics.from_array(X_test + shift)
        keys = SampleStatistics.from_array(X_train + shift)
        uncentred = FAMILIES[family](queries, keys)
        log_k = -0.5 * ((X_test[:, None] - X_train[None]) ** 2).sum(-1)
        raw = log_second_moment(uncentred, X_test + shift, X_train + shift, alpha=-0.5)
        sampler = GERFSampler() if family == "gerf" else DERFSampler("sderf")
        fitted = _fitted(sampler, X_test + shift, X_train + shift)
        centred = log_second_moments(fitted, X_test + shift, X_train + shift)
        # Same kernel, lower second moment: log(E2/K²) drops.
        assert np.mean(centred - 2 * log_k) < np.mean(raw - 2 * log_k) - 0.1


@pytest.mark.parametrize(
    "family", [gerf_parameters, sderf_parameters, aderf_parameters, saderf_parameters]
)
def test_singular_statistics_give_finite_parameters(family):
    """One-hot and constant columns make MX, MY singular (MATH.md §6)."""
    rng = np.random.default_rng(0)
    onehot = np.eye(3)[rng.integers(0, 3, size=40)]
    X = np.hstack([onehot, np.zeros((40, 1)), rng.normal(size=(40, 2))])
    params = family(SampleStatistics.from_array(X), SampleStatistics.from_array(X[:25]))
    for value in (params.a, params.frame, params.query_transform, params.key_transform):
        if value is not None:
            assert np.all(np.isfinite(value))
    assert np.all(params.a <= 0)
