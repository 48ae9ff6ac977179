"""Nadaraya–Watson estimators against dense exact-kernel and direct computations."""

import pickle
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from _helpers import traced_peak
from scipy.special import logsumexp
from sklearn import config_context
from sklearn.kernel_approximation import RBFSampler

from skfavor import (
    AutoSampler,
    DERFSampler,
    FourierSampler,
    GERFSampler,
    PositiveRFSampler,
    UnderflowWarning,
)
from skfavor.metrics import log_variance
from skfavor.nadaraya_watson import (
    NadarayaWatsonClassifier,
    NadarayaWatsonRegressor,
    NonPositiveDenominatorWarning,
)

SAMPLERS = [
    PositiveRFSampler(n_components=64, gamma=0.5, random_state=0),
    GERFSampler(n_components=64, gamma=0.5, random_state=0),
    DERFSampler("sderf", n_components=64, gamma=0.5, random_state=0),
    DERFSampler("aderf", n_components=64, gamma=0.5, random_state=0),
    DERFSampler("saderf", n_components=64, gamma=0.5, random_state=0),
    RBFSampler(n_components=64, gamma=0.5, random_state=0),
]


def _data(n_train=80, n_test=30, d=3, seed=0):
    rng = np.random.default_rng(seed)
    X_train = rng.normal(size=(n_train, d))
    X_test = rng.normal(0.3, 0.7, size=(n_test, d))
    y_train = np.sin(X_train).sum(1)
    return X_train, X_test, y_train


def _exact_log_weights(X_test, X_train, gamma):
    sq = ((X_test[:, None, :] - X_train[None, :, :]) ** 2).sum(-1)
    return -gamma * sq


def _direct_parts(sampler, X_train, X_test, targets):
    """The unstabilised formula of the issue, with the sampler's public API."""
    sampler = sampler.fit(X_train)
    keys = getattr(sampler, "transform_keys", sampler.transform)(X_train)
    queries = sampler.transform(X_test)
    return queries @ (keys.T @ targets), queries @ keys.sum(0)


@pytest.mark.parametrize("sampler", SAMPLERS, ids=lambda s: repr(s)[:40])
def test_regressor_is_the_direct_ratio(sampler):
    """Stabilisation cancels: same predictions as φ₁(x)ᵀΣφ₂y / φ₁(x)ᵀΣφ₂."""
    X_train, X_test, y_train = _data()
    numerators, denominators = _direct_parts(sampler, X_train, X_test, y_train)
    positive = denominators > 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NonPositiveDenominatorWarning)
        y_pred = NadarayaWatsonRegressor(sampler).fit(X_train, y_train).predict(X_test)
    np.testing.assert_allclose(
        y_pred[positive], numerators[positive] / denominators[positive], rtol=1e-10
    )
    np.testing.assert_allclose(y_pred[~positive], y_train.mean())


@pytest.mark.parametrize("sampler", SAMPLERS, ids=lambda s: repr(s)[:40])
def test_classifier_is_the_direct_vote(sampler):
    X_train, X_test, y_train = _data()
    labels = np.digitize(y_train, [-1.0, 0.5])
    one_hot = (labels[:, None] == np.arange(3)).astype(float)
    votes, totals = _direct_parts(sampler, X_train, X_test, one_hot)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NonPositiveDenominatorWarning)
        y_pred = NadarayaWatsonClassifier(sampler).fit(X_train, labels).predict(X_test)
    positive = totals > 0
    np.testing.assert_array_equal(y_pred[positive], votes[positive].argmax(1))


@pytest.mark.parametrize(
    "sampler",
    [
        GERFSampler(n_components=20_000, gamma=0.5, random_state=0),
        DERFSampler("sderf", n_components=20_000, gamma=0.5, random_state=0),
        DERFSampler("aderf", n_components=20_000, gamma=0.5, random_state=0),
        RBFSampler(n_components=20_000, gamma=0.5, random_state=0),
    ],
    ids=lambda s: repr(s)[:40],
)
def test_predictions_approach_the_exact_kernel(sampler):
    """With many features both estimators match a dense exact-kernel computation.

    The relative error of a kernel estimate from ``M`` features is about
    ``√(Var/K² / M)`` with the single-feature ``Var`` of MATH.md §5; the
    tolerance is four times its geometric mean over the pairs (≈ 0.06 for the
    positive families here, ≈ 0.3 for random Fourier features), in units of
    the targets, whose spread is about 1.
    """
    X_train, X_test, y_train = _data()
    log_w = _exact_log_weights(X_test, X_train, 0.5)
    weights = np.exp(log_w - logsumexp(log_w, axis=1, keepdims=True))
    exact = weights @ y_train
    regressor = NadarayaWatsonRegressor(sampler).fit(X_train, y_train)
    log_relative = log_variance(regressor.sampler_, X_test, X_train) - 2 * log_w
    tolerance = 4 * np.sqrt(np.exp(log_relative.mean()) / sampler.n_components)
    assert np.abs(regressor.predict(X_test) - exact).max() < tolerance

    labels = np.digitize(y_train, [-1.0, 0.5])
    exact_votes = weights @ (labels[:, None] == np.arange(3))
    classifier = NadarayaWatsonClassifier(sampler).fit(X_train, labels)
    y_class = classifier.predict(X_test)
    # Near-ties between classes may go either way; require agreement elsewhere.
    top2 = np.sort(exact_votes, axis=1)[:, -2:]
    clear = top2[:, 1] - top2[:, 0] > tolerance
    assert clear.sum() >= 5
    np.testing.assert_array_equal(y_class[clear], exact_votes[clear].argmax(1))


def test_fitted_key_sums_are_the_scaled_key_features():
    X_train, _, y_train = _data()
    sampler = DERFSampler("aderf", n_components=32, gamma=0.5, random_state=0)
    model = NadarayaWatsonRegressor(sampler).fit(X_train, y_train)
    keys = model.sampler_.transform_keys(X_train)
    scale = np.exp(model.key_log_shift_)
    np.testing.assert_allclose(model.key_sums_[:, 0] * scale, keys.T @ y_train)
    np.testing.assert_allclose(model.key_totals_ * scale, keys.sum(0))
    assert model.key_sums_.shape == (32, 1)


def _auto_gerf(**params):
    return AutoSampler(candidates=["gerf"], criterion="mean_log_variance", **params)


# AutoSampler: it lost the stabilisation (the training mean and two warnings).
@pytest.mark.parametrize(
    "family", [PositiveRFSampler, GERFSampler, DERFSampler, _auto_gerf]
)
def test_rows_whose_features_underflow_are_still_predicted(family):
    """Rows at |x| = 30 underflow in ``transform`` but not in the stabilised ratio."""
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(-1, 0.3, (50, 1)), rng.normal(1, 0.3, (50, 1))])
    y = np.repeat([0, 1], 50)
    far = np.array([[-30.0], [30.0]])
    sampler = family(n_components=50, gamma=0.5, random_state=0)
    with pytest.warns(UnderflowWarning):
        sampler.fit(X).transform(far)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        classifier = NadarayaWatsonClassifier(sampler).fit(X, y)
        regressor = NadarayaWatsonRegressor(sampler).fit(X, y.astype(float))
        np.testing.assert_array_equal(classifier.predict(far), [0, 1])
        y_far = regressor.predict(far)
    # Positive weights: a convex combination leaning to the nearer cluster.
    assert 0 <= y_far[0] < 0.1 and 0.9 < y_far[1] <= 1


def test_rows_too_large_for_float64_get_the_fallback_and_one_clear_warning():
    """|x|² overflows at |x| ~ 1e160: NumPy's 'invalid value' leaked, and the
    warning blamed only underflow."""
    X_train, X_test, y_train = _data()
    model = NadarayaWatsonRegressor(random_state=0).fit(X_train, y_train)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        prediction = model.predict(X_test[:4] * 1e160)
    assert [type(w.message) for w in caught] == [NonPositiveDenominatorWarning]
    assert "too large" in str(caught[0].message)
    np.testing.assert_allclose(prediction, np.full(4, y_train.mean()))


@pytest.mark.parametrize("sampler", SAMPLERS[:2] + SAMPLERS[-1:], ids=repr)
def test_float32_in_float32_out(sampler):
    # predict returned float64 for float32 rows.
    X_train, X_test, y_train = _data()
    X_train, X_test = X_train.astype(np.float32), X_test.astype(np.float32)
    model = NadarayaWatsonRegressor(sampler).fit(X_train, y_train)
    prediction = model.predict(X_test)
    assert prediction.dtype == np.float32
    expected = NadarayaWatsonRegressor(sampler).fit(X_train.astype(np.float64), y_train)
    np.testing.assert_allclose(
        prediction, expected.predict(X_test.astype(np.float64)), rtol=1e-4, atol=1e-5
    )


@pytest.mark.parametrize("sampler", SAMPLERS[:3], ids=repr)
def test_classifier_probabilities_are_the_class_shares(sampler):
    # The classifier had neither predict_proba nor decision_function, so
    # scoring="roc_auc" gave NaN, while its ONNX graph output the shares.
    from sklearn.model_selection import cross_val_score

    X_train, X_test, y_train = _data()
    labels = (y_train > 0).astype(int)
    model = NadarayaWatsonClassifier(sampler).fit(X_train, labels)
    proba = model.predict_proba(X_test)
    votes, totals = _direct_parts(sampler, X_train, X_test, np.eye(2)[labels])
    np.testing.assert_allclose(proba, votes / totals[:, None], rtol=1e-10)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert np.all((proba >= 0) & (proba <= 1))
    np.testing.assert_array_equal(
        model.classes_[proba.argmax(1)], model.predict(X_test)
    )
    scores = cross_val_score(
        NadarayaWatsonClassifier(sampler), X_train, labels, scoring="roc_auc", cv=3
    )
    assert np.all(np.isfinite(scores)) and scores.mean() > 0.7


def test_signed_features_fall_back_when_the_total_weight_is_not_positive():
    X_train, X_test, y_train = _data(n_test=200)
    sampler = RBFSampler(n_components=2, gamma=0.5, random_state=0)
    regressor = NadarayaWatsonRegressor(sampler).fit(X_train, y_train)
    totals = regressor.sampler_.transform(X_test) @ regressor.key_totals_
    bad = totals <= 0
    assert 0 < bad.sum() < bad.size
    with pytest.warns(NonPositiveDenominatorWarning, match=f"{bad.sum()} of 200") as w:
        y_pred = regressor.predict(X_test)
    assert (w[0].message.n_rows, w[0].message.n_samples) == (bad.sum(), 200)
    np.testing.assert_allclose(y_pred[bad], y_train.mean())
    assert np.all(np.isfinite(y_pred))

    labels = np.where(y_train > 1.0, "high", "low")
    classifier = NadarayaWatsonClassifier(sampler).fit(X_train, labels)
    with pytest.warns(NonPositiveDenominatorWarning):
        y_class = classifier.predict(X_test)
    majority = "low" if (labels == "low").sum() > (labels == "high").sum() else "high"
    assert np.all(y_class[bad] == majority)


@pytest.mark.parametrize("variant", ["sderf", "aderf", "saderf"])
def test_transductive_refits_queries_on_the_batch(variant):
    X_train, X_test, y_train = _data()
    sampler = DERFSampler(variant, n_components=64, gamma=0.5, random_state=3)
    model = NadarayaWatsonRegressor(sampler, transductive=True).fit(X_train, y_train)
    assert not hasattr(model, "key_sums_")
    refit = DERFSampler(variant, n_components=64, gamma=0.5, random_state=3)
    refit.fit(X_test, keys=X_train)
    np.testing.assert_array_equal(refit.random_weights_, model.sampler_.random_weights_)
    queries = refit.transform(X_test)
    keys = refit.transform_keys(X_train)
    expected = queries @ (keys.T @ y_train) / (queries @ keys.sum(0))
    np.testing.assert_allclose(model.predict(X_test), expected, rtol=1e-10)
    # The documented batch dependence: a sub-batch has other query statistics.
    assert not np.allclose(model.predict(X_test[:5]), expected[:5], rtol=1e-6)


@pytest.mark.parametrize(
    "estimator", [NadarayaWatsonRegressor, NadarayaWatsonClassifier]
)
@pytest.mark.parametrize("transductive", [False, True])
def test_transductive_set_after_fit_waits_for_the_next_fit(estimator, transductive):
    """predict follows the fit, as scikit-learn's set_params convention asks.

    predict read the parameter: an AttributeError ('_fit_X' or 'key_sums_')
    after set_params, and a refit kept the other mode's stale key sums.
    """
    X_train, X_test, y_train = _data()
    if estimator is NadarayaWatsonClassifier:
        y_train = y_train > 0
    sampler = DERFSampler("aderf", n_components=32, gamma=0.5, random_state=3)
    model = estimator(sampler, transductive=transductive).fit(X_train, y_train)
    predict = getattr(model, "predict_proba", model.predict)
    expected = predict(X_test)
    model.set_params(transductive=not transductive)
    np.testing.assert_array_equal(predict(X_test), expected)
    model.fit(X_train, y_train)
    assert hasattr(model, "key_sums_") == transductive
    assert hasattr(model, "key_totals_") == transductive
    assert hasattr(model, "key_log_shift_") == transductive
    assert not np.allclose(predict(X_test), expected)


@pytest.mark.parametrize("transductive", [False, True])
def test_a_pickle_holding_both_modes_predicts_as_it_did(transductive):
    """Models pickled before a refit dropped the other mode's attributes.

    A refit in the other mode kept the earlier fit's key sums (or training
    rows), and predict followed the parameter; predict now follows the
    attributes, so the stale key sums of such a pickle were used silently.
    """
    X_train, X_test, y_train = _data()
    sampler = DERFSampler("aderf", n_components=32, gamma=0.5, random_state=3)
    model = NadarayaWatsonRegressor(sampler, transductive=not transductive)
    stale = dict(model.fit(X_train, y_train).__dict__)
    model.set_params(transductive=transductive).fit(X_train, y_train)
    expected = model.predict(X_test)
    names = ("key_sums_", "key_totals_", "key_log_shift_", "_fit_X", "_fit_targets")
    for name in names:  # as the earlier code left them
        model.__dict__.setdefault(name, stale.get(name))
    restored = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(restored.predict(X_test), expected)
    assert hasattr(restored, "key_sums_") != transductive


def test_transductive_fixes_the_seed_of_an_unseeded_sampler():
    X_train, X_test, y_train = _data()
    model = NadarayaWatsonRegressor(
        DERFSampler("aderf", n_components=16, gamma=0.5), transductive=True
    ).fit(X_train, y_train)
    assert isinstance(model.sampler_.random_state, int)
    assert model.sampler.random_state is None
    np.testing.assert_array_equal(model.predict(X_test), model.predict(X_test))


def test_transductive_needs_transform_keys():
    X_train, _, y_train = _data()
    model = NadarayaWatsonRegressor(RBFSampler(), transductive=True)
    with pytest.raises(ValueError, match=r"transductive=True.*RBFSampler"):
        model.fit(X_train, y_train)


def test_transductive_refuses_at_fit_a_sampler_whose_fit_takes_no_keys():
    """FourierSampler has transform_keys (its one map) but its fit takes no
    keys: fit accepted it and predict then failed with TypeError "fit() got
    an unexpected keyword argument 'keys'"; the refusal belongs in fit."""
    X_train, _, y_train = _data()
    model = NadarayaWatsonClassifier(
        FourierSampler(n_components=8, random_state=0), transductive=True
    )
    with pytest.raises(ValueError, match=r"transductive=True.*FourierSampler"):
        model.fit(X_train, y_train > 0)


class _KeywordSampler(DERFSampler):
    """A sampler whose fit passes its keyword arguments on (a wrapper's)."""

    def fit(self, X, y=None, **fit_params):
        return super().fit(X, y, **fit_params)


def test_transductive_takes_a_sampler_whose_fit_passes_keywords_on():
    """``fit(X, y=None, **fit_params)`` takes ``keys``: the signature check
    must not refuse it, and the predictions are those of its base class."""
    X_train, X_test, y_train = _data()
    sampler = DERFSampler(n_components=8, random_state=0)
    expected = NadarayaWatsonRegressor(sampler, transductive=True)
    model = NadarayaWatsonRegressor(
        _KeywordSampler(n_components=8, random_state=0), transductive=True
    )
    np.testing.assert_allclose(
        model.fit(X_train, y_train).predict(X_test),
        expected.fit(X_train, y_train).predict(X_test),
        rtol=1e-12,
    )


@pytest.mark.parametrize("targets", ["1d", "2d"])
def test_regressor_refuses_missing_targets_held_as_objects(targets):
    """An object ``y`` with None (a pandas object column with gaps) passes
    scikit-learn's finiteness check and became NaN in the float conversion:
    every prediction was NaN, without a warning."""
    X_train, _, _ = _data()
    y = np.array([1.0, None] * (len(X_train) // 2), dtype=object)
    y = y if targets == "1d" else np.column_stack([y, y])
    model = NadarayaWatsonRegressor(GERFSampler(n_components=8, random_state=0))
    with pytest.raises(ValueError, match="y contains NaN"):
        model.fit(X_train, y)


def test_default_sampler_is_sderf():
    X_train, _, y_train = _data()
    model = NadarayaWatsonRegressor().fit(X_train, y_train)
    assert isinstance(model.sampler_, DERFSampler)
    assert model.sampler_.variant == "sderf"
    assert model.sampler is None


def test_classifier_labels_and_multioutput_regression():
    X_train, X_test, y_train = _data()
    labels = np.where(y_train > 0, "pos", "neg")
    sampler = GERFSampler(n_components=32, gamma=0.5, random_state=0)
    classifier = NadarayaWatsonClassifier(sampler).fit(X_train, labels)
    np.testing.assert_array_equal(classifier.classes_, ["neg", "pos"])
    assert set(classifier.predict(X_test)) <= {"neg", "pos"}

    Y = np.column_stack([y_train, -2 * y_train])
    regressor = NadarayaWatsonRegressor(sampler).fit(X_train, Y)
    Y_pred = regressor.predict(X_test)
    assert Y_pred.shape == (X_test.shape[0], 2)
    np.testing.assert_allclose(Y_pred[:, 1], -2 * Y_pred[:, 0])


def test_sparse_input_gives_the_dense_predictions():
    X_train, X_test, y_train = _data()
    sampler = DERFSampler("aderf", n_components=32, gamma=0.5, random_state=0)
    dense = NadarayaWatsonRegressor(sampler).fit(X_train, y_train).predict(X_test)
    sparse = (
        NadarayaWatsonRegressor(sampler)
        .fit(sp.csr_matrix(X_train), y_train)
        .predict(sp.csr_matrix(X_test))
    )
    np.testing.assert_allclose(sparse, dense, rtol=1e-10)


def test_the_former_module_path_warns_and_reexports():
    """skfavor.kernel_regression is an alias of skfavor.nadaraya_watson until 0.4."""
    import importlib
    import sys

    from skfavor import nadaraya_watson

    sys.modules.pop("skfavor.kernel_regression", None)
    with pytest.warns(FutureWarning, match="renamed skfavor.nadaraya_watson"):
        alias = importlib.import_module("skfavor.kernel_regression")
    for name in alias.__all__:
        assert getattr(alias, name) is getattr(nadaraya_watson, name)
    assert set(alias.__all__) == set(nadaraya_watson.__all__)


@pytest.mark.parametrize(
    "sampler",
    [
        RBFSampler(n_components=32, gamma=0.5, random_state=0),
        AutoSampler(n_components=32, gamma=0.5, candidates=["fourier"], random_state=0),
        DERFSampler(n_components=32, gamma=0.5, random_state=0),
    ],
    ids=["rbf", "auto-fourier", "sderf"],
)
def test_a_global_pandas_transform_output_changes_no_prediction(sampler):
    """``set_config(transform_output='pandas')`` is for the user's transformers.

    The estimators call their sampler's ``transform`` internally; a DataFrame
    there broke the ratio (``KeyError`` on ``sums[:, :-1]``) for samplers
    without a log-space map (RBFSampler, an AutoSampler that chose Fourier).
    """
    pytest.importorskip("pandas")
    sklearn = pytest.importorskip("sklearn")
    X_train, X_test, y_train = _data()
    labels = (y_train > 0).astype(int)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NonPositiveDenominatorWarning)
        regressor = NadarayaWatsonRegressor(sampler).fit(X_train, y_train)
        expected = regressor.predict(X_test)
        classifier = NadarayaWatsonClassifier(sampler).fit(X_train, labels)
        shares = classifier.predict_proba(X_test)
        with sklearn.config_context(transform_output="pandas"):
            regressor = NadarayaWatsonRegressor(sampler).fit(X_train, y_train)
            classifier = NadarayaWatsonClassifier(sampler).fit(X_train, labels)
            predicted = regressor.predict(X_test)
            probabilities = classifier.predict_proba(X_test)
    np.testing.assert_allclose(predicted, expected, rtol=1e-12)
    np.testing.assert_allclose(probabilities, shares, rtol=1e-12)


@pytest.mark.parametrize(
    "sampler",
    [
        DERFSampler("aderf", n_components=256, gamma=0.5, random_state=0),
        RBFSampler(n_components=256, gamma=0.5, random_state=0),
    ],
    ids=["aderf", "rbf"],
)
def test_fit_and_predict_hold_one_block_of_features_at_a_time(sampler):
    """Memory of a block of features within ``working_memory``, not of n × M.

    The features of all 40 000 rows would take 82 MB (float64, M = 256); with
    ``working_memory=2`` (MiB) fit and predict stay within a sixth of that.
    """
    X_train, _, y_train = _data(n_train=40_000, d=4)
    features_bytes = X_train.shape[0] * 256 * 8
    with config_context(working_memory=2), warnings.catch_warnings():
        warnings.simplefilter("ignore", NonPositiveDenominatorWarning)
        # A first fit of the process makes its one-time objects (the thread
        # pool, threadpoolctl's view of the BLAS libraries) outside the trace.
        NadarayaWatsonRegressor(sampler).fit(X_train[:100], y_train[:100])
        model, fit_peak = traced_peak(
            lambda: NadarayaWatsonRegressor(sampler).fit(X_train, y_train)
        )
        _, predict_peak = traced_peak(lambda: model.predict(X_train))
    assert fit_peak < features_bytes / 6
    assert predict_peak < features_bytes / 6


@pytest.mark.parametrize("sampler", SAMPLERS, ids=lambda s: repr(s)[:40])
def test_blocks_of_rows_do_not_change_the_fit_or_the_predictions(sampler):
    """Tiny blocks (``working_memory``) give the fit and predictions of one block."""
    X_train, X_test, y_train = _data(n_train=300, n_test=50)
    labels = (y_train > 0).astype(int)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NonPositiveDenominatorWarning)
        results = []
        for memory in (1024, 0.001):
            with config_context(working_memory=memory):
                regressor = NadarayaWatsonRegressor(sampler).fit(X_train, y_train)
                classifier = NadarayaWatsonClassifier(sampler).fit(X_train, labels)
                results.append(
                    (
                        regressor.predict(X_test),
                        classifier.predict_proba(X_test),
                        getattr(regressor, "key_log_shift_", None),
                    )
                )
    (one, shares, shift), (blocked, blocked_shares, blocked_shift) = results
    np.testing.assert_allclose(blocked, one, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(blocked_shares, shares, rtol=1e-10, atol=1e-12)
    assert blocked_shift == shift


def test_leading_rows_whose_log_features_are_all_minus_inf_add_nothing():
    """A first block of rows whose features all underflow (|x|² overflowing
    float32) adds 0 to the key sums, as under one shift for all rows, rather
    than NaN that would make every prediction the fallback (review of the
    blocked fit)."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 4)).astype(np.float32)
    y = X[:, 0].astype(np.float64)
    X[:20] = 2e19
    X_test = rng.normal(size=(5, 4)).astype(np.float32)
    sampler = PositiveRFSampler(n_components=32, random_state=0)
    one_block = NadarayaWatsonRegressor(sampler).fit(X, y)
    with config_context(working_memory=0.001), warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        model = NadarayaWatsonRegressor(sampler).fit(X, y)
        predicted = model.predict(X_test)
    assert np.isfinite(model.key_sums_).all()
    assert model.key_log_shift_ == one_block.key_log_shift_
    np.testing.assert_allclose(predicted, one_block.predict(X_test), rtol=1e-5)
