"""Couplings of ω (§4 and §10 of the docs' math page): simplex, orthogonal, i.i.d."""

import warnings

import numpy as np
import pytest
from _helpers import SAMPLERS, exact_kernel
from scipy import stats
from sklearn.utils import check_random_state

from skfavor import DERFSampler, FourierSampler, GERFSampler, PositiveRFSampler
from skfavor._sampling import (
    SAMPLINGS,
    draw_weights,
    gaussian_weights,
    simplex_directions,
    simplex_weights,
)
from skfavor.datasets import paper_split
from skfavor.metrics import log_variance


@pytest.mark.parametrize("d", [2, 3, 7])
def test_simplex_directions_are_a_regular_simplex(d):
    S = simplex_directions(d)
    np.testing.assert_allclose(S @ S.T, np.where(np.eye(d), 1.0, -1.0 / (d - 1)))
    np.testing.assert_allclose(S.sum(0), 0.0, atol=1e-12)


def test_simplex_weights_are_rotated_simplices_within_blocks():
    d, M = 5, 13
    W = simplex_weights(M, d, check_random_state(0))
    assert W.shape == (M, d)
    for start in range(0, M, d):
        block = W[start : start + d]
        u = block / np.linalg.norm(block, axis=1, keepdims=True)
        expected = np.where(np.eye(len(block)), 1.0, -1.0 / (d - 1))
        np.testing.assert_allclose(u @ u.T, expected, atol=1e-12)


@pytest.mark.parametrize("sampling", SAMPLINGS)
def test_weights_have_standard_gaussian_marginals(sampling):
    """Each row is N(0, I_d): mean 0, covariance I, squared norm χ²_d."""
    d, M = 4, 40000
    W = draw_weights(M, d, check_random_state(0), sampling=sampling)
    # Rows of one block are dependent: the standard error of a mean is at
    # most that of M / d independent rows.
    np.testing.assert_allclose(W.mean(0), 0, atol=4 * np.sqrt(d / M))
    np.testing.assert_allclose(np.cov(W.T), np.eye(d), atol=4 * np.sqrt(2 * d / M))
    assert stats.kstest((W**2).sum(1), stats.chi2(d).cdf).pvalue > 1e-3
    assert stats.kstest(W[:, 0], stats.norm.cdf).pvalue > 1e-3


@pytest.mark.parametrize("d", [1, 3])
@pytest.mark.parametrize("sampling", SAMPLINGS)
def test_prefixes_of_a_draw_are_draws(sampling, d):
    """The first m rows of an M-row draw are the m-row draw (§11)."""
    full = draw_weights(13, d, check_random_state(3), sampling=sampling)
    for m in range(1, 14):
        np.testing.assert_array_equal(
            draw_weights(m, d, check_random_state(3), sampling=sampling), full[:m]
        )


def test_one_feature_has_no_simplex_and_draws_iid():
    np.testing.assert_array_equal(
        simplex_weights(6, 1, check_random_state(2)),
        gaussian_weights(6, 1, check_random_state(2)),
    )


def test_draw_weights_rejects_unknown_names():
    with pytest.raises(ValueError, match=r"sampling must be one of .*'halton'"):
        draw_weights(7, 3, check_random_state(1), sampling="halton")


@pytest.fixture(scope="module")
def cmc():
    """60 test queries and 80 training keys of cmc at the paper's σ."""
    X_train, X_test, _, _ = paper_split("cmc", max_train=80, max_test=60)
    return X_test, X_train


def _fourier(**kwargs):
    return FourierSampler(**{k: v for k, v in kwargs.items() if k != "kernel"})


@pytest.mark.parametrize("sampling", ["simplex", "orthogonal"])
@pytest.mark.parametrize("family", [*SAMPLERS, "fourier"])
def test_coupled_estimates_are_unbiased(cmc, family, sampling):
    """Unbiased under every coupling, errors sized by the exact variance (§5).

    The estimate is the mean of ``M / d`` independent block means; the
    variance of a mean of ``d`` equally distributed, correlated terms is at
    most that of one, so each entry's standard deviation is at most
    ``sqrt(d · Var / M)`` whatever the coupling (``Var`` the exact variance of
    one feature).
    """
    X, Y = cmc
    d = X.shape[1]
    n_components = 30000
    factory = _fourier if family == "fourier" else SAMPLERS[family]
    sampler = factory(
        n_components=n_components,
        kernel="rbf",
        gamma=0.5,
        sampling=sampling,
        random_state=0,
    )
    sampler = sampler.fit(Y) if family == "fourier" else sampler.fit(X, keys=Y)
    estimate = sampler.transform(X) @ sampler.transform_keys(Y).T
    K = exact_kernel(X, Y, kernel="rbf", gamma=0.5)
    variance = np.exp(log_variance(sampler, X, Y))
    std = np.sqrt(d * variance / n_components)
    distinct = variance > 0
    z = (estimate - K)[distinct] / std[distinct]
    assert abs(np.mean(estimate - K)) <= 4 * np.mean(std) / np.sqrt(X.shape[0])
    assert np.max(np.abs(z)) < 6
    assert np.mean(z**2) < 1.3


@pytest.mark.parametrize("cls", [PositiveRFSampler, GERFSampler])
def test_orthogonal_parameter_is_deprecated(cls):
    X = np.random.default_rng(0).normal(size=(20, 3))
    for orthogonal, sampling in ((True, "orthogonal"), (False, "iid")):
        with pytest.warns(FutureWarning, match="`orthogonal` is deprecated") as w:
            old = cls(n_components=7, orthogonal=orthogonal, random_state=0).fit(X)
        assert w[0].filename == __file__
        with pytest.warns(FutureWarning) as w:
            cls(orthogonal=orthogonal).partial_fit(X)
        assert w[0].filename == __file__
        new = cls(n_components=7, sampling=sampling, random_state=0).fit(X)
        np.testing.assert_array_equal(old.random_weights_, new.random_weights_)
        np.testing.assert_array_equal(old.transform(X), new.transform(X))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sampler = cls(n_components=7, sampling="simplex", random_state=0).fit(X)
    assert sampler.get_params()["orthogonal"] == "deprecated"
    with pytest.raises(ValueError, match="'sampling' parameter"):
        cls(sampling="sobol").fit(X)


@pytest.mark.parametrize("sampling", SAMPLINGS)
def test_samplers_draw_through_draw_weights(sampling):
    X = np.random.default_rng(0).normal(size=(10, 4))
    sampler = GERFSampler(n_components=9, sampling=sampling, random_state=5).fit(X)
    np.testing.assert_array_equal(
        sampler.random_weights_,
        draw_weights(9, 4, check_random_state(5), sampling=sampling),
    )


@pytest.mark.parametrize("cls", [PositiveRFSampler, GERFSampler, DERFSampler])
@pytest.mark.parametrize(
    "sampling, orthogonal", [("simplex", False), ("simplex", True), ("iid", True)]
)
def test_sampling_and_the_deprecated_orthogonal_together_are_refused(
    cls, sampling, orthogonal
):
    """``sampling='simplex', orthogonal=False`` drew i.i.d. directions: the
    explicit new parameter was silently overridden by the deprecated one."""
    X = np.random.default_rng(0).normal(size=(20, 3))
    sampler = cls(n_components=7, sampling=sampling, orthogonal=orthogonal)
    with pytest.raises(ValueError, match=f"sampling={sampling!r}.*orthogonal"):
        sampler.fit(X)


def test_posrf_error_orders_simplex_orthogonal_iid():
    """SimRF ≤ ORF ≤ i.i.d. for PosRF (Reid et al. 2023, proved; §10).

    Gram-matrix MSE of PosRF, d = M = 8, over 1000 seeds, paired by seed
    (ORF and SimRF share rotation and norms). At this scale i.i.d. gives
    0.063, ORF 0.057 and SimRF 0.021: the simplex cancels the term linear in
    ω of each block, orthogonality does not. Each ordering is asserted up to
    three standard errors of the paired difference, and SimRF's gain, 40
    standard errors, strictly.
    """
    rng = np.random.default_rng(0)
    d = 8
    X, Y = rng.normal(size=(10, d)) * 0.2, rng.normal(size=(10, d)) * 0.2
    K = exact_kernel(X, Y, kernel="rbf", gamma=0.5)

    def features(W, Z):
        # PosRF of the Gaussian kernel in kernel units (γ = ½): exp(ωᵀz − |z|²)
        return np.exp(Z @ W.T - (Z**2).sum(1, keepdims=True)) / np.sqrt(len(W))

    errors = {}
    for sampling in SAMPLINGS:
        errors[sampling] = np.array(
            [
                np.mean((features(W, X) @ features(W, Y).T - K) ** 2)
                for W in (
                    draw_weights(d, d, check_random_state(r), sampling=sampling)
                    for r in range(1000)
                )
            ]
        )
    for lower, higher in (("orthogonal", "iid"), ("simplex", "orthogonal")):
        difference = errors[lower] - errors[higher]
        standard_error = difference.std(ddof=1) / np.sqrt(len(difference))
        assert difference.mean() <= 3 * standard_error
    difference = errors["simplex"] - errors["orthogonal"]
    assert difference.mean() < -10 * difference.std(ddof=1) / np.sqrt(len(difference))


def test_sampling_experiment_writes_its_tables(tmp_path, capsys):
    from skfavor.experiments.__main__ import main
    from skfavor.experiments.sampling import COUPLING_COLUMNS

    arguments = "sampling --datasets banknote --seeds 3 --auto-seeds 0 --quiet"
    result = main([*arguments.split(), "--out", str(tmp_path)])
    rows = result["couplings"]
    # 6 families × 3 couplings × 2 feature counts
    assert len(rows) == 36 and set(rows[0]) == set(COUPLING_COLUMNS)
    assert {r["n_components"] for r in rows} == {4, 16}
    assert all(r["ratio_to_iid"] == 1.0 for r in rows if r["sampling"] == "iid")
    assert (tmp_path / "sampling_couplings.csv").exists()
    assert "SimRF/iid" in capsys.readouterr().out
