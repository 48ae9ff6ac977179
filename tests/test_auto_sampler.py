"""AutoSampler: the family of lowest exact variance on the data."""

import numpy as np
import pytest
from scipy.special import logsumexp
from sklearn.kernel_approximation import RBFSampler

from skfavor import AutoSampler, DERFSampler, FourierSampler
from skfavor.datasets import paper_split
from skfavor.metrics import log_variance


@pytest.fixture(scope="module")
def car():
    """Test queries and training keys of car at the paper's σ (kernel γ = ½)."""
    X_train, X_test, _, _ = paper_split("car", max_train=800, max_test=200)
    return X_test, X_train


def test_paper_bandwidth_on_car_selects_a_positive_family(car):
    """At the paper's σ, car's positive families beat Fourier by e^15 (§7)."""
    queries, keys = car
    auto = AutoSampler(gamma=0.5, random_state=0).fit(queries, keys=keys)
    assert auto.selected_ in {"sderf", "aderf"}
    assert auto.log_variances_["fourier"] - auto.log_variances_[auto.selected_] > 10
    assert isinstance(auto.sampler_, DERFSampler)


def test_tiny_bandwidth_selects_fourier(car):
    """As γ → 0, 1 − K² ≈ γ|x − y|²: Fourier's variance is O(γ²), the
    positive families' O(γ) (their log second moment is linear in the data)."""
    queries, keys = car
    auto = AutoSampler(gamma=1e-3, random_state=0).fit(queries, keys=keys)
    assert auto.selected_ == "fourier"
    assert isinstance(auto.sampler_, FourierSampler)
    positive = min(v for k, v in auto.log_variances_.items() if k != "fourier")
    assert positive - auto.log_variances_["fourier"] > 2


def test_scores_are_exact_mean_log_variances_on_the_drawn_pairs(car):
    queries, keys = car
    auto = AutoSampler(n_components=10, gamma=0.5, max_pairs=400, random_state=3)
    auto.fit(queries, keys=keys)
    Q, K = auto._draw_pairs(queries, keys, np.random.RandomState(3))
    assert Q.shape[0] * K.shape[0] <= 400
    distinct = ((Q[:, None] - K[None]) ** 2).sum(-1) > 0
    expected = np.mean(log_variance(auto.sampler_, Q, K)[distinct])
    assert auto.log_variances_[auto.selected_] == pytest.approx(expected)
    assert auto.log_variances_[auto.selected_] == min(auto.log_variances_.values())


def test_choice_and_features_are_deterministic_for_a_seed(car):
    queries, keys = car
    a = AutoSampler(gamma=0.5, random_state=7).fit(queries, keys=keys)
    b = AutoSampler(gamma=0.5, random_state=7).fit(queries, keys=keys)
    assert a.selected_ == b.selected_ and a.log_variances_ == b.log_variances_
    np.testing.assert_array_equal(a.transform(queries), b.transform(queries))
    np.testing.assert_array_equal(a.transform_keys(keys), b.transform_keys(keys))


def test_candidates_depend_on_keys_and_kernel():
    X = np.random.default_rng(0).normal(size=(40, 3))
    assert set(AutoSampler(random_state=0).fit(X).log_variances_) == {
        "fourier",
        "posrf",
        "gerf",
        "sderf",
    }
    with_keys = AutoSampler(random_state=0).fit(X, keys=X + 1)
    assert {"aderf", "saderf"} <= set(with_keys.log_variances_)
    softmax = AutoSampler(kernel="softmax", gamma=0.1, random_state=0).fit(X)
    assert "fourier" not in softmax.log_variances_
    assert "fourier" in AutoSampler(n_components=7).fit(X).log_variances_
    only = AutoSampler(candidates=["gerf", "posrf"], random_state=0).fit(X)
    assert set(only.log_variances_) == {"gerf", "posrf"}


@pytest.mark.parametrize(
    "params, message",
    [
        ({"candidates": ["gerf", "rff"]}, "candidates must be a non-empty list"),
        ({"candidates": []}, "candidates must be a non-empty list"),
        ({"candidates": ["fourier"], "kernel": "softmax"}, "kernel='softmax'"),
        ({"sampling": "halton"}, "'sampling' parameter"),
    ],
)
def test_bad_parameters_are_named(params, message):
    X = np.random.default_rng(0).normal(size=(10, 3))
    with pytest.raises(ValueError, match=message):
        AutoSampler(**params).fit(X)


@pytest.mark.parametrize("scale", [0.25, 1.0, 4.0])
def test_mean_variance_criterion_never_loses_to_rbf_sampler(car, scale):
    """Its score is log(M · expected Gram MSE) of i.i.d. features on the pairs,
    and Fourier's variance is below RBFSampler's pair by pair (§5), so the
    choice's expected Gram MSE is at most RBFSampler's."""
    queries, keys = scale * car[0], scale * car[1]
    auto = AutoSampler(
        gamma=0.5, criterion="mean_variance", max_pairs=2500, random_state=0
    ).fit(queries, keys=keys)
    Q, K = auto._draw_pairs(queries, keys, np.random.RandomState(0))
    distinct = ((Q[:, None] - K[None]) ** 2).sum(-1) > 0
    rff = log_variance(RBFSampler(gamma=0.5).fit(keys), Q, K)[distinct]
    assert auto.log_variances_[auto.selected_] <= logsumexp(rff) - np.log(rff.size)
    selected = log_variance(auto, Q, K)[distinct]
    assert auto.log_variances_[auto.selected_] == pytest.approx(
        logsumexp(selected) - np.log(selected.size)
    )
