"""RandomFeatureRidge, its classifier and its CV: equal to the pipelines.

Every model is checked against what it replaces, on data small enough for
both: ``Pipeline([sampler, Ridge])`` (and ``RidgeClassifier``), and
``GridSearchCV`` over that pipeline with the same folds. Both sides solve the
same float64 normal equations, from statistics merged block by block on one
side and from the full feature matrix on the other; with condition numbers
below 1e4 here, rounding stays near 1e-12, so 1e-8 relative is a margin of
four digits, and a wrong centring, scale or fold is off by far more.
"""

import pickle
import re
import warnings

import numpy as np
import pytest
import scipy.linalg
import scipy.sparse as sp
from _helpers import int16_memmap, traced_peak
from sklearn.base import clone
from sklearn.exceptions import DataConversionWarning, UndefinedMetricWarning
from sklearn.linear_model import Ridge, RidgeClassifier
from sklearn.model_selection import GridSearchCV, GroupKFold, KFold, ShuffleSplit
from sklearn.pipeline import Pipeline

# The Dask fixtures (synchronous, and a 2-process loopback cluster with its
# time limits) of the samplers' Dask tests.
from test_dask import cluster_client, scheduler  # noqa: F401

from skfavor import DERFSampler, GERFSampler, PositiveRFSampler
from skfavor._ridge_algebra import ridge_path, solve_ridge
from skfavor._statistics import SampleStatistics
from skfavor.kernel_ridge import (
    RandomFeatureRidge,
    RandomFeatureRidgeClassifier,
    RandomFeatureRidgeCV,
)

RTOL = 1e-8

#: Symmetric samplers, with a data-dependent map ('scale', DERF, GERF) or not.
RIDGE_SAMPLERS = {
    "posrf": lambda **kw: PositiveRFSampler(**{"gamma": 0.2, **kw}),
    "gerf": lambda **kw: GERFSampler(**{"gamma": "scale", **kw}),
    "sderf": lambda **kw: DERFSampler(**{"gamma": "scale", **kw}),
}


def _regression(n=400, d=4, seed=0, offset=2.0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) * 0.8 + offset
    y = np.sin(2 * X[:, 0]) + X[:, 1] * X[:, 2] + 0.1 * rng.normal(size=n)
    Y = np.column_stack([y, np.cos(X[:, 3]) - 3.0])
    return X, y, Y


def _assert_close(actual, expected, rtol=RTOL):
    """Relative to the largest entry: the max-norm error of the whole array."""
    expected = np.asarray(expected)
    scale = np.max(np.abs(expected))
    np.testing.assert_allclose(actual, expected, rtol=0, atol=rtol * scale)


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("n_targets", [1, 2])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("family", list(RIDGE_SAMPLERS))
def test_ridge_equals_pipeline(family, fit_intercept, n_targets, weighted):
    X, y, Y = _regression()
    target = y if n_targets == 1 else Y
    weights = np.random.default_rng(1).uniform(0, 3, size=len(y)) if weighted else None
    sampler = RIDGE_SAMPLERS[family](n_components=61, random_state=2)
    pipeline = Pipeline(
        [("f", sampler), ("r", Ridge(alpha=0.05, fit_intercept=fit_intercept))]
    ).fit(X, target, r__sample_weight=weights)
    # Blocks of 37 rows: the statistics of 11 blocks are merged.
    model = RandomFeatureRidge(
        sampler, alpha=0.05, fit_intercept=fit_intercept, block_size=37
    ).fit(X, target, sample_weight=weights)

    ridge = pipeline[-1]
    assert model.coef_.shape == ridge.coef_.shape
    assert np.shape(model.intercept_) == np.shape(ridge.intercept_)
    _assert_close(model.coef_, ridge.coef_)
    _assert_close(model.intercept_, ridge.intercept_)
    X_test = _regression(seed=3)[0]
    _assert_close(model.predict(X_test), pipeline.predict(X_test))


def test_ridge_on_sparse_rows_equals_dense():
    X, y, _ = _regression(offset=0.0)
    X[np.abs(X) < 0.7] = 0.0
    sampler = DERFSampler(n_components=40, gamma=0.3, random_state=0)
    dense = RandomFeatureRidge(sampler, block_size=50).fit(X, y)
    sparse = RandomFeatureRidge(sampler, block_size=50).fit(sp.csr_matrix(X), y)
    _assert_close(sparse.coef_, dense.coef_)
    _assert_close(sparse.predict(sp.csr_matrix(X)), dense.predict(X))


def test_float32_in_float32_out():
    X, y, _ = _regression()
    model = RandomFeatureRidge(DERFSampler(n_components=30, random_state=0))
    model.fit(X.astype(np.float32), y)
    assert model.coef_.dtype == np.float32
    assert model.predict(X.astype(np.float32)).dtype == np.float32
    assert model.predict(X).dtype == np.float64
    reference = RandomFeatureRidge(DERFSampler(n_components=30, random_state=0))
    reference.fit(X, y)
    # float32 features: about 1e-7 relative, amplified by the conditioning.
    _assert_close(model.predict(X), reference.predict(X), rtol=1e-3)


def test_fit_never_holds_the_feature_matrix():
    """Peak memory of fit is O(M² + block · M), far below n × M."""
    rng = np.random.default_rng(0)
    n, M, block = 20_000, 256, 500
    X = rng.normal(size=(n, 8))
    y = rng.normal(size=n)
    model = RandomFeatureRidge(
        DERFSampler(n_components=M, random_state=0), block_size=block
    )
    _, peak = traced_peak(lambda: model.fit(X, y))
    feature_matrix = n * M * 8
    # A few copies of one block of [φ, y] and of the (M+1)² statistics.
    bound = 8 * (6 * block * (M + 1) + 6 * (M + 1) ** 2) + 8 * 4 * n
    assert peak < bound < feature_matrix / 3


@pytest.mark.parametrize(
    "estimator",
    [RandomFeatureRidge, RandomFeatureRidgeClassifier, RandomFeatureRidgeCV],
)
def test_an_integer_memmap_is_converted_block_by_block(estimator, tmp_path):
    """Data larger than memory is often integers on disk (uint8, int16).

    They were converted to one float64 copy of all of X before the first
    block: 4 times the int16 memmap, in memory. Now each block is converted,
    and the model is that of the float64 data.
    """
    n, d = 60_000, 16
    X = int16_memmap(tmp_path / "X.npy", n, d, seed=0)
    y = X[:, 0] / 50.0 + np.sin(X[:, 1] / 20.0)
    if estimator is RandomFeatureRidgeClassifier:
        y = y > np.median(y)
    params = dict(block_size=1000)
    if estimator is RandomFeatureRidgeCV:
        params.update(alphas=[0.1, 1.0], cv=3)
    sampler = PositiveRFSampler(n_components=32, gamma=1e-4, random_state=0)
    model = estimator(sampler, **params)
    _, peak = traced_peak(lambda: model.fit(X, y))
    # Half the float64 copy of X (7.7 MB); y and the folds' labels are 0.5 MB each.
    assert peak < n * d * 8 / 2
    expected = estimator(sampler, **params).fit(X.astype(np.float64), y)
    _assert_close(model.coef_, expected.coef_)
    assert model.coef_.dtype == np.float64
    predict = getattr(model, "decision_function", model.predict)
    predictions = predict(X[:100])
    assert predictions.dtype == np.float64
    expected = getattr(expected, "decision_function", expected.predict)
    _assert_close(predictions, expected(X[:100].astype(np.float64)))


@pytest.mark.parametrize("family", list(RIDGE_SAMPLERS))
def test_partial_fit_with_a_fitted_sampler_equals_the_pipeline(family):
    """Two passes over chunks: the sampler's, then the ridge's."""
    X, _, Y = _regression()
    chunks = np.array_split(np.arange(len(X)), 5)
    sampler = RIDGE_SAMPLERS[family](n_components=47, random_state=1)
    for rows in chunks:
        sampler.partial_fit(X[rows])
    model = RandomFeatureRidge(sampler, alpha=0.1)
    for rows in chunks:
        model.partial_fit(X[rows], Y[rows])
    pipeline = Pipeline([("f", sampler), ("r", Ridge(alpha=0.1))]).fit(X, Y)
    _assert_close(model.coef_, pipeline[-1].coef_)
    _assert_close(model.predict(X), pipeline.predict(X))


def test_partial_fit_with_a_fitted_sampler_uses_its_fitted_width():
    # n_components set since the sampler's fit (its transform keeps the
    # fitted map): the ridge solved for 6 of the 12 features, silently, and
    # predict then failed in NumPy's matmul.
    X, _, Y = _regression()
    sampler = PositiveRFSampler(n_components=12, random_state=0).fit(X)
    sampler.set_params(n_components=6)
    model = RandomFeatureRidge(sampler, alpha=0.1).partial_fit(X, Y)
    features = sampler.transform(X)
    assert features.shape[1] == 12
    expected = Ridge(alpha=0.1).fit(features, Y)
    _assert_close(model.coef_, expected.coef_)
    _assert_close(model.predict(X), expected.predict(features))
    assert sampler.n_components == 6  # the caller's sampler is left as it is


def test_partial_fit_with_a_sampler_fitted_on_dataframes():
    """The recipe of the docs with DataFrame chunks: names are checked, once.

    A sampler fitted on other column orders was used silently (column 'a'
    mapped as 'c'), and the right names drew a feature-name warning at every
    chunk and at predict.
    """
    pd = pytest.importorskip("pandas")
    X, y, _ = _regression(n=120)
    frame = pd.DataFrame(X, columns=list("abcd"))
    sampler = DERFSampler(n_components=20, gamma=0.3, random_state=0).fit(frame)
    model = RandomFeatureRidge(sampler, alpha=0.1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.partial_fit(frame[:60], y[:60]).partial_fit(frame[60:], y[60:])
        predictions = model.predict(frame)
    pipeline = Pipeline([("f", sampler), ("r", Ridge(alpha=0.1))]).fit(frame, y)
    _assert_close(predictions, pipeline.predict(frame))
    reordered = DERFSampler(n_components=20, gamma=0.3, random_state=0)
    reordered.fit(frame[list("dcba")])
    with pytest.raises(ValueError, match=r"sampler was fitted with .*'d', 'c'"):
        RandomFeatureRidge(reordered).partial_fit(frame, y)
    with pytest.warns(UserWarning, match="X does not have valid feature names"):
        RandomFeatureRidge(sampler).partial_fit(X, y)


@pytest.mark.parametrize("prefit", [False, True])
def test_partial_fit_refuses_a_sampler_changed_since_its_map_was_fixed(prefit):
    """As the samplers' partial_fit refuses a new n_components: not ignored.

    A sampler set, or one of its parameters changed, after the first chunk
    was silently ignored: the model went on with the first map.
    """
    X, y, _ = _regression(n=90)
    sampler = DERFSampler(n_components=12, gamma=0.3, random_state=0)
    if prefit:
        sampler.fit(X)
    model = RandomFeatureRidge(sampler).partial_fit(X[:30], y[:30])
    for change in (
        {"sampler__n_components": 6},
        {"sampler__gamma": 2.0},
        {"sampler": PositiveRFSampler(n_components=12, random_state=0)},
    ):
        model.set_params(sampler=sampler).set_params(**change)
        with pytest.raises(ValueError, match="sampler changed since"):
            model.partial_fit(X[30:60], y[30:60])
        sampler.set_params(n_components=12, gamma=0.3)
    model.set_params(sampler=sampler).partial_fit(X[30:], y[30:])
    expected = RandomFeatureRidge(model.sampler_).partial_fit(X, y)
    _assert_close(model.predict(X), expected.predict(X))
    # fit starts afresh with the sampler as it is now.
    model.set_params(sampler__n_components=6).fit(X, y).partial_fit(X[:30], y[:30])
    assert model.coef_.shape == (6,)


def test_partial_fit_refuses_another_sampler_class_or_default_seed():
    """Changes the parameter comparison missed, also ignored without a word.

    PositiveRFSampler and GERFSampler have the same parameters, so a swap of
    one for the other with equal values passed; with ``sampler=None`` the
    ridge's ``random_state`` seeds the map, and a new one was ignored.
    """
    X, y, _ = _regression(n=90)
    model = RandomFeatureRidge(PositiveRFSampler(n_components=12, random_state=0))
    model.partial_fit(X[:30], y[:30])
    model.set_params(sampler=GERFSampler(n_components=12, random_state=0))
    with pytest.raises(ValueError, match="sampler changed since"):
        model.partial_fit(X[30:60], y[30:60])
    model = RandomFeatureRidge(random_state=0).partial_fit(X[:30], y[:30])
    model.set_params(random_state=1)
    with pytest.raises(ValueError, match="sampler changed since"):
        model.partial_fit(X[30:60], y[30:60])
    # The same RandomState instance is the same source: no error.
    state = np.random.RandomState(0)
    model = RandomFeatureRidge(random_state=state).partial_fit(X[:30], y[:30])
    model.partial_fit(X[30:], y[30:])


def test_partial_fit_fits_the_sampler_on_the_first_chunk():
    X, y, _ = _regression()
    sampler = DERFSampler(n_components=33, gamma="scale", random_state=4)
    model = RandomFeatureRidge(sampler, fit_intercept=False)
    model.partial_fit(X[:150], y[:150]).partial_fit(X[150:], y[150:])
    first_chunk = sampler.fit(X[:150])
    features = first_chunk.transform(X)
    expected = Ridge(alpha=1.0, fit_intercept=False).fit(features, y)
    _assert_close(model.coef_, expected.coef_)
    assert model.intercept_ == 0.0


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_partial_fit_of_single_weighted_rows_equals_the_pipeline(dtype):
    """Streaming one row at a time, a row of weight 0 included.

    A chunk whose weights are all 0 adds nothing to the statistics, so the
    stream must go on (fit on the concatenation has positive total weight);
    only a stream that starts with one has nothing to fit yet, which is
    refused as ``fit`` refuses it, before the sampler is fitted.
    """
    X, _, Y = _regression(n=60)
    X = X.astype(dtype)
    weights = np.random.default_rng(0).integers(0, 3, size=60).astype(float)
    weights[0] = 0.0
    sampler = DERFSampler(n_components=12, random_state=0).fit(X)
    model = RandomFeatureRidge(sampler, alpha=0.1)
    with pytest.raises(ValueError, match="non-zero"):
        model.partial_fit(X[:1], Y[:1], sample_weight=weights[:1])
    assert not hasattr(model, "sampler_")
    for i in range(1, 60):
        model.partial_fit(X[i : i + 1], Y[i : i + 1], sample_weight=weights[i : i + 1])
    features = sampler.transform(X).astype(np.float64)
    expected = Ridge(alpha=0.1).fit(features, Y, sample_weight=weights)
    _assert_close(
        model.coef_, expected.coef_, rtol=1e-5 if dtype == np.float32 else RTOL
    )
    assert model.predict(X).dtype == dtype


def test_partial_fit_rejects_a_change_of_targets():
    X, y, Y = _regression()
    model = RandomFeatureRidge(DERFSampler(n_components=10, random_state=0))
    model.partial_fit(X[:100], y[:100])
    with pytest.raises(ValueError, match="earlier chunks had 1 target"):
        model.partial_fit(X[100:], Y[100:])


@pytest.mark.parametrize(
    "estimator",
    [RandomFeatureRidge, RandomFeatureRidgeClassifier, RandomFeatureRidgeCV],
)
@pytest.mark.parametrize("variant", ["aderf", "saderf"])
def test_asymmetric_maps_are_refused(estimator, variant):
    X, y, _ = _regression(n=50)
    y = (y > y.mean()).astype(int) if estimator is RandomFeatureRidgeClassifier else y
    with pytest.raises(ValueError, match=f"variant='{variant}'.*variant='sderf'"):
        estimator(DERFSampler(variant)).fit(X, y)


def test_other_transformers_are_refused():
    from sklearn.kernel_approximation import RBFSampler

    X, y, _ = _regression(n=50)
    with pytest.raises(TypeError, match=r"skfavor sampler.*got RBFSampler"):
        RandomFeatureRidge(RBFSampler()).fit(X, y)


def test_zero_total_weight_is_an_error():
    X, y, _ = _regression(n=50)
    with pytest.raises(ValueError, match="at least one non-zero"):
        RandomFeatureRidge().fit(X, y, sample_weight=np.zeros(50))


@pytest.mark.parametrize("class_weight", [None, "balanced"])
@pytest.mark.parametrize("n_classes", [2, 3])
def test_classifier_equals_pipeline(n_classes, class_weight):
    X, y, _ = _regression(n=500)
    labels = np.digitize(y, np.quantile(y, np.linspace(0, 1, n_classes + 1)[1:-1]))
    labels = np.array(["a", "b", "c"])[labels]
    labels[:40] = "a"
    sampler = DERFSampler(n_components=50, gamma="scale", random_state=0)
    pipeline = Pipeline(
        [("f", sampler), ("r", RidgeClassifier(alpha=0.1, class_weight=class_weight))]
    ).fit(X, labels)
    model = RandomFeatureRidgeClassifier(
        sampler, alpha=0.1, class_weight=class_weight, block_size=64
    ).fit(X, labels)

    np.testing.assert_array_equal(model.classes_, pipeline.classes_)
    assert model.coef_.shape == pipeline[-1].coef_.shape
    _assert_close(model.decision_function(X), pipeline.decision_function(X))
    np.testing.assert_array_equal(model.predict(X), pipeline.predict(X))


def test_classifier_warns_of_a_column_vector_y_as_ridge_classifier():
    """RidgeClassifier warns (DataConversionWarning) and fits the 1-D labels."""
    X, y, _ = _regression(n=120)
    labels = np.digitize(y, np.quantile(y, [0.3, 0.6]))
    sampler = DERFSampler(n_components=20, gamma=0.3, random_state=0)
    expected = RandomFeatureRidgeClassifier(sampler).fit(X, labels)
    with pytest.warns(DataConversionWarning, match="column-vector y"):
        model = RandomFeatureRidgeClassifier(sampler).fit(X, labels[:, None])
    with pytest.warns(DataConversionWarning, match="column-vector y"):
        RidgeClassifier().fit(X, labels[:, None])
    assert not model.multilabel_
    np.testing.assert_array_equal(model.predict(X), expected.predict(X))
    np.testing.assert_array_equal(model.coef_, expected.coef_)


def test_a_fitted_classifier_is_no_larger_than_the_pipeline():
    """It has no partial_fit, so it keeps no (M + n_classes)² statistics.

    It kept them: 2.2 MB pickled at M = 512 against 0.07 MB for the pipeline.
    """
    X, y, _ = _regression(n=200)
    labels = np.digitize(y, np.quantile(y, [0.3, 0.6]))
    sampler = PositiveRFSampler(n_components=512, gamma=0.2, random_state=0)
    model = RandomFeatureRidgeClassifier(sampler).fit(X, labels)
    pipeline = Pipeline([("f", clone(sampler)), ("r", RidgeClassifier())])
    pipeline.fit(X, labels)
    assert len(pickle.dumps(model)) < 1.1 * len(pickle.dumps(pipeline))
    np.testing.assert_array_equal(model.predict(X), pipeline.predict(X))


def test_classifier_multilabel_equals_pipeline():
    X, y, Y = _regression(n=300)
    labels = np.column_stack([y > 3, Y[:, 1] > -3]).astype(int)
    sampler = DERFSampler(n_components=40, random_state=0)
    pipeline = Pipeline([("f", sampler), ("r", RidgeClassifier())]).fit(X, labels)
    model = RandomFeatureRidgeClassifier(sampler).fit(X, labels)
    _assert_close(model.decision_function(X), pipeline.decision_function(X))
    np.testing.assert_array_equal(model.predict(X), pipeline.predict(X))


def _grid_search(sampler, counts, alphas, folds, scoring, fit_intercept=True):
    return GridSearchCV(
        Pipeline([("f", sampler), ("r", Ridge(fit_intercept=fit_intercept))]),
        {"f__n_components": counts, "r__alpha": alphas},
        cv=folds,
        scoring=scoring,
    )


@pytest.mark.parametrize("scoring", ["neg_mean_squared_error", "r2"])
@pytest.mark.parametrize("n_targets", [1, 2])
@pytest.mark.parametrize("family", list(RIDGE_SAMPLERS))
def test_cv_equals_grid_search(family, n_targets, scoring):
    X, y, Y = _regression(n=300)
    target = y if n_targets == 1 else Y
    sampler = RIDGE_SAMPLERS[family](n_components=40, random_state=3)
    counts, alphas = [40, 9, 23], [0.3, 0.003, 0.03]
    folds = KFold(4, shuffle=True, random_state=0)
    search = _grid_search(sampler, counts, alphas, folds, scoring).fit(X, target)
    model = RandomFeatureRidgeCV(
        sampler,
        alphas=alphas,
        n_components=counts,
        cv=folds,
        scoring=scoring,
        block_size=70,
    ).fit(X, target)

    for key in ["mean_test_score", *(f"split{k}_test_score" for k in range(4))]:
        _assert_close(model.cv_results_[key], search.cv_results_[key])
    np.testing.assert_array_equal(
        model.cv_results_["rank_test_score"], search.cv_results_["rank_test_score"]
    )
    assert model.n_components_ == search.best_params_["f__n_components"]
    assert model.alpha_ == search.best_params_["r__alpha"]
    assert model.best_score_ == pytest.approx(search.best_score_, rel=RTOL)
    assert model.sampler_.n_components == model.n_components_
    _assert_close(model.coef_, search.best_estimator_[-1].coef_)
    _assert_close(model.predict(X), search.predict(X))


def test_cv_results_parameter_columns_have_grid_searchs_dtypes():
    """Numeric columns, as GridSearchCV's since scikit-learn 1.5, not objects.

    A DataFrame of object columns sorts and plots otherwise.
    """
    X, y, _ = _regression(n=60)
    sampler = PositiveRFSampler(n_components=8, gamma=0.2, random_state=0)
    counts, alphas, folds = [4, 8], [0.1, 1.0], KFold(3)
    search = _grid_search(sampler, counts, alphas, folds, None).fit(X, y)
    model = RandomFeatureRidgeCV(sampler, alphas=alphas, n_components=counts, cv=folds)
    results = model.fit(X, y).cv_results_
    for mine, theirs in [("n_components", "f__n_components"), ("alpha", "r__alpha")]:
        column, expected = (
            results[f"param_{mine}"],
            search.cv_results_[f"param_{theirs}"],
        )
        assert isinstance(column, np.ma.MaskedArray)
        assert column.dtype == expected.dtype
        np.testing.assert_array_equal(column, expected)


def test_cv_without_intercept_equals_grid_search():
    X, y, _ = _regression(n=200)
    sampler = DERFSampler(n_components=20, random_state=0)
    folds = KFold(3)
    search = _grid_search(
        sampler, [5, 20], [0.1, 1.0], folds, "neg_mean_squared_error", False
    ).fit(X, y)
    model = RandomFeatureRidgeCV(
        sampler,
        alphas=[0.1, 1.0],
        n_components=[5, 20],
        cv=folds,
        fit_intercept=False,
    ).fit(X, y)
    _assert_close(
        model.cv_results_["mean_test_score"], search.cv_results_["mean_test_score"]
    )
    _assert_close(model.predict(X), search.predict(X))


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("scoring", ["neg_mean_squared_error", "r2"])
@pytest.mark.parametrize("family", ["posrf", "gerf"])
def test_cv_with_sample_weight_equals_grid_search(family, scoring, fit_intercept):
    """GridSearchCV passes sample_weight to the fit alone and scores unweighted.

    Without metadata routing, ``GridSearchCV.fit(X, y, r__sample_weight=w)``
    weights each training fold's Ridge and scores the held-out rows with an
    unweighted scorer: the held-out scores must be those, not weighted ones
    (which differ by far more than the tolerance on these weights).
    """
    X, y, Y = _regression(n=240)
    target = y if scoring == "neg_mean_squared_error" else Y
    weights = np.random.default_rng(0).uniform(0.05, 3.0, size=len(y))
    sampler = RIDGE_SAMPLERS[family](n_components=30, random_state=0)
    folds = KFold(3, shuffle=True, random_state=1)
    counts, alphas = [30, 12], [0.01, 1.0]
    search = _grid_search(sampler, counts, alphas, folds, scoring)
    search.set_params(estimator__r__fit_intercept=fit_intercept)
    search.fit(X, target, r__sample_weight=weights)
    model = RandomFeatureRidgeCV(
        sampler,
        alphas=alphas,
        n_components=counts,
        cv=folds,
        scoring=scoring,
        fit_intercept=fit_intercept,
    ).fit(X, target, sample_weight=weights)
    for key in ["mean_test_score", *(f"split{k}_test_score" for k in range(3))]:
        _assert_close(model.cv_results_[key], search.cv_results_[key])
    assert model.best_index_ == search.best_index_
    _assert_close(model.predict(X), search.predict(X))


def test_cv_with_groups():
    X, y, _ = _regression(n=200)
    groups = np.arange(200) % 7
    model = RandomFeatureRidgeCV(
        DERFSampler(n_components=16, random_state=0), cv=GroupKFold(3)
    ).fit(X, y, groups=groups)
    search = _grid_search(
        DERFSampler(n_components=16, random_state=0),
        [16],
        [0.1, 1.0, 10.0],
        GroupKFold(3),
        "neg_mean_squared_error",
    ).fit(X, y, groups=groups)
    _assert_close(
        model.cv_results_["mean_test_score"], search.cv_results_["mean_test_score"]
    )


def test_cv_refuses_splits_that_are_not_a_partition():
    X, y, _ = _regression(n=60)
    with pytest.raises(ValueError, match="does not split the rows"):
        RandomFeatureRidgeCV(cv=ShuffleSplit(3, random_state=0)).fit(X, y)


def test_cv_takes_splits_given_as_boolean_masks_as_grid_search_does():
    """GridSearchCV indexes with each split as given, boolean masks included;
    they were refused as 'not a partition' (their lengths sum to 2n)."""
    X, y, _ = _regression(n=60)
    half = np.arange(60) < 30
    masks = [(~half, half), (half, ~half)]
    sampler = DERFSampler(n_components=16, gamma="scale", random_state=0)
    model = RandomFeatureRidgeCV(sampler, cv=masks).fit(X, y)
    search = _grid_search(
        sampler, [16], [0.1, 1.0, 10.0], masks, "neg_mean_squared_error"
    ).fit(X, y)
    _assert_close(
        model.cv_results_["mean_test_score"], search.cv_results_["mean_test_score"]
    )


def test_cv_split_lists_that_numpy_reads_as_floats_or_bad_masks_are_named():
    """An empty list is a float array to NumPy: reading splits as arrays
    (for boolean masks) turned an empty test fold into an IndexError, and a
    mask of another length was one too; both must name cv in a ValueError."""
    X, y, _ = _regression(n=40)
    folds = list(KFold(2).split(X))
    empty = [(np.arange(40), []), *folds]
    with pytest.raises(ValueError, match="held-out rows"):
        RandomFeatureRidgeCV(cv=empty).fit(X, y)
    short = [(np.arange(39) < 20, np.arange(39) >= 20), *folds]
    with pytest.raises(ValueError, match=r"cv=.*boolean mask of shape \(39,\).*\(40\)"):
        RandomFeatureRidgeCV(cv=short).fit(X, y)


def test_cv_refuses_training_rows_that_are_not_the_complement():
    """Disjoint test folds covering every row, but a fold whose training rows
    repeat one row and leave out another: GridSearchCV would train on those
    rows, the merged statistics on the complement, so the scores would differ
    silently. The refusal's message is short (no repr of the index arrays)."""
    X, y, _ = _regression(n=40)
    first, second = np.arange(20), np.arange(20, 40)
    repeated = np.r_[second[:-1], second[0]]  # row 39 left out, row 20 twice
    with pytest.raises(ValueError, match="does not split the rows") as caught:
        RandomFeatureRidgeCV(cv=[(repeated, first), (first, second)]).fit(X, y)
    assert len(str(caught.value)) < 400


@pytest.mark.parametrize(
    "params, message",
    [
        (dict(n_components=[5, 200]), "n_components must be .* n_components=100"),
        (dict(n_components=[]), "n_components must be"),
        (dict(alphas=[1.0, 0.0]), "alphas must be .* positive"),
        # RidgeCV refuses a 2-D grid; flattening it would score a grid that
        # the user did not write, and cv_results_ would not match its shape.
        (dict(alphas=[[0.1, 1.0], [2.0, 3.0]]), r"alphas must be .*\[\[0.1"),
        (dict(alphas=["a"]), r"alphas must be .*\['a'\]"),
        # n_components=True is refused as a scalar, so it is in a list too.
        (dict(n_components=[True, 5]), r"n_components must be .*\[True, 5\]"),
        (dict(alphas=[0.1, True]), r"alphas must be .*\[0.1, True\]"),
    ],
)
def test_cv_rejects_bad_grids(params, message):
    X, y, _ = _regression(n=60)
    with pytest.raises(ValueError, match=message):
        RandomFeatureRidgeCV(**params).fit(X, y)


@pytest.mark.parametrize(
    "estimator, param",
    [
        (RandomFeatureRidge, "alpha"),
        (RandomFeatureRidgeClassifier, "alpha"),
        (RandomFeatureRidgeCV, "alphas"),
        (RandomFeatureRidge, "block_size"),
        (RandomFeatureRidgeCV, "block_size"),
    ],
)
def test_a_bool_is_not_a_number_of_the_ridges(estimator, param):
    """As for the samplers' n_components and gamma: True is a mistake, not 1."""
    X, y, _ = _regression(n=60)
    target = (y > 0).astype(int) if estimator is RandomFeatureRidgeClassifier else y
    with pytest.raises(ValueError, match=rf"'{param}' .*a bool is not one.*Got True"):
        estimator(**{param: True}).fit(X, target)


def test_unseeded_cv_uses_one_draw_for_every_fold():
    """An unseeded sampler is seeded once, so its refit is one of the maps."""
    X, y, _ = _regression(n=100)
    model = RandomFeatureRidgeCV(PositiveRFSampler(n_components=12)).fit(X, y)
    seed = model.sampler_.random_state
    assert isinstance(seed, int)
    again = RandomFeatureRidgeCV(
        PositiveRFSampler(n_components=12, random_state=seed)
    ).fit(X, y)
    _assert_close(
        again.cv_results_["mean_test_score"], model.cv_results_["mean_test_score"]
    )


def _dask_inputs(X, y, weights):
    da = pytest.importorskip("dask.array")
    chunks = (100, 250, 50, 200)
    return (
        da.from_array(X, chunks=(chunks, X.shape[1])),
        da.from_array(y, chunks=(chunks, *y.shape[1:])),
        da.from_array(weights, chunks=(chunks,)),
    )


@pytest.mark.usefixtures("scheduler")
def test_dask_fit_equals_in_memory_fit():
    """Per-chunk statistics reduced by Dask (here or on the cluster) merge exactly."""
    X, _, Y = _regression(n=600)
    weights = np.random.default_rng(0).uniform(0.5, 2.0, size=600)
    sampler = DERFSampler(n_components=45, gamma="scale", random_state=0)
    lazy = _dask_inputs(X, Y, weights)
    in_memory = RandomFeatureRidge(sampler, alpha=0.1).fit(X, Y, sample_weight=weights)
    distributed = RandomFeatureRidge(sampler, alpha=0.1).fit(
        lazy[0], lazy[1], sample_weight=lazy[2]
    )
    _assert_close(distributed.coef_, in_memory.coef_)
    _assert_close(distributed.intercept_, in_memory.intercept_)
    np.testing.assert_allclose(
        distributed.sampler_.center_, in_memory.sampler_.center_, rtol=1e-12
    )


@pytest.mark.usefixtures("scheduler")
@pytest.mark.parametrize("n_targets", [1, 2])
def test_the_recipe_for_predicting_a_dask_array_works(n_targets):
    """``predict`` refuses a Dask array and says how to map it: that must run.

    ``map_blocks`` infers a dtype by calling ``predict`` on a 1 × 1 array,
    which the estimator refuses (it expects ``n_features_in_`` columns), so
    the recipe must declare ``dtype``; several targets need their chunks.
    """
    da = pytest.importorskip("dask.array")
    X, y, Y = _regression(n=600)
    target = y if n_targets == 1 else Y
    lazy = _dask_inputs(X, target, np.ones(600))
    model = RandomFeatureRidge(DERFSampler(n_components=12, random_state=0))
    model.fit(lazy[0], lazy[1])
    with pytest.raises(TypeError, match=re.escape("dtype=X.dtype")) as error:
        model.predict(lazy[0])
    assert "rechunk" in str(error.value)
    if n_targets == 1:
        predicted = da.map_blocks(model.predict, lazy[0], drop_axis=1, dtype=X.dtype)
    else:
        predicted = da.map_blocks(
            model.predict,
            lazy[0],
            chunks=(lazy[0].chunks[0], (n_targets,)),
            dtype=X.dtype,
        )
    _assert_close(predicted.compute(), model.predict(X))


@pytest.mark.usefixtures("scheduler")
@pytest.mark.parametrize("family", ["posrf", "sderf"])
def test_dask_cv_equals_in_memory_cv(family):
    X, y, _ = _regression(n=600)
    weights = np.ones(600)
    sampler = RIDGE_SAMPLERS[family](n_components=30, random_state=0)
    params = dict(alphas=[0.01, 1.0], n_components=[10, 30], cv=KFold(3))
    in_memory = RandomFeatureRidgeCV(sampler, **params).fit(X, y)
    X_lazy, y_lazy, _ = _dask_inputs(X, y, weights)
    distributed = RandomFeatureRidgeCV(sampler, **params).fit(X_lazy, y_lazy)
    _assert_close(
        distributed.cv_results_["mean_test_score"],
        in_memory.cv_results_["mean_test_score"],
    )
    assert distributed.best_index_ == in_memory.best_index_
    _assert_close(distributed.predict(X), in_memory.predict(X))


def test_cv_rejects_a_fold_without_weight():
    X, y, _ = _regression(n=90)
    weights = np.zeros(90)
    weights[:30] = 1.0
    with pytest.raises(
        ValueError, match="Fold 0 has a total sample_weight of 0 in its training rows"
    ):
        RandomFeatureRidgeCV(cv=KFold(3)).fit(X, y, sample_weight=weights)


def test_cv_r2_of_one_row_folds_is_nan_with_a_warning_as_in_grid_search():
    """R² of one held-out row is undefined: NaN and a warning, not 0.

    ``r2_score`` of a single row warns and returns NaN, so
    ``GridSearchCV(scoring='r2')`` with one-row test folds gets NaN split
    scores, NaN means, every candidate ranked 1 and the first one chosen. A
    silent 0 (a "constant" target of one row) would pass for a real score.
    """
    X, y, _ = _regression(n=12)
    sampler = DERFSampler(n_components=10, random_state=0)
    counts, alphas = [5, 10], [0.1, 1.0]
    folds = KFold(8)  # four folds of two rows, four of one
    with pytest.warns(UserWarning):
        search = _grid_search(sampler, counts, alphas, folds, "r2").fit(X, y)
    with (
        pytest.warns(UserWarning, match="test scores are non-finite"),
        pytest.warns(UndefinedMetricWarning, match="less than two"),
    ):
        model = RandomFeatureRidgeCV(
            sampler, alphas=alphas, n_components=counts, cv=folds, scoring="r2"
        ).fit(X, y)
    for k in range(8):
        key = f"split{k}_test_score"
        assert np.isnan(search.cv_results_[key]).all() == (k >= 4)
        np.testing.assert_allclose(
            model.cv_results_[key], search.cv_results_[key], rtol=RTOL
        )
    assert np.isnan(model.cv_results_["mean_test_score"]).all()
    np.testing.assert_array_equal(
        model.cv_results_["rank_test_score"], search.cv_results_["rank_test_score"]
    )
    assert model.best_index_ == search.best_index_ == 0


def test_cv_warns_of_non_finite_mean_scores_as_grid_search():
    """GridSearchCV warns when a mean score is NaN; a NaN rank-1 choice is no choice."""
    X, y, _ = _regression(n=12)
    sampler = DERFSampler(n_components=10, random_state=0)
    model = RandomFeatureRidgeCV(sampler, alphas=[0.1, 1.0], cv=KFold(8), scoring="r2")
    with (
        pytest.warns(UserWarning, match=r"test scores are non-finite: \[nan nan\]"),
        pytest.warns(UndefinedMetricWarning, match="less than two"),
    ):
        model.fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.set_params(scoring="neg_mean_squared_error").fit(X, y)
    assert np.isfinite(model.cv_results_["mean_test_score"]).all()


# --- issue 16: random_state, y of shape (n, 1), the Dask route's checks -------

ESTIMATORS = [RandomFeatureRidge, RandomFeatureRidgeClassifier, RandomFeatureRidgeCV]


@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_random_state_seeds_the_default_sampler(estimator):
    X, y, _ = _regression(n=90)
    target = (y > np.median(y)).astype(int) if estimator is ESTIMATORS[1] else y
    fitted = [estimator(random_state=seed).fit(X, target) for seed in (0, 0, 1)]
    weights = [model.sampler_.random_weights_ for model in fitted]
    np.testing.assert_array_equal(weights[0], weights[1])
    assert not np.allclose(weights[0], weights[2])
    expected = DERFSampler(random_state=0).fit(X).random_weights_
    np.testing.assert_array_equal(weights[0], expected)


@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_a_random_state_instance_draws_anew_at_each_fit(estimator):
    """As the Glossary, RBFSampler and NadarayaWatson* do: the instance advances."""
    X, y, _ = _regression(n=90)
    target = (y > np.median(y)).astype(int) if estimator is ESTIMATORS[1] else y
    model = estimator(random_state=np.random.RandomState(0))
    weights = [model.fit(X, target).sampler_.random_weights_ for _ in range(2)]
    if estimator is RandomFeatureRidgeCV:
        # One seed per fit, drawn from the instance, for every fold's map.
        state = np.random.RandomState(0)
        seeds = [state.randint(np.iinfo(np.int32).max) for _ in range(2)]
        samplers = [DERFSampler(random_state=seed) for seed in seeds]
    else:
        sampler = DERFSampler(random_state=np.random.RandomState(0))
        samplers = [sampler, sampler]
    expected = [sampler.fit(X).random_weights_ for sampler in samplers]
    np.testing.assert_array_equal(weights[0], expected[0])
    np.testing.assert_array_equal(weights[1], expected[1])
    assert not np.allclose(weights[0], weights[1])


def test_cv_of_a_sampler_with_its_own_random_state_instance_equals_grid_search():
    """Every clone of such a sampler copies its instance: one ω for all folds.

    GridSearchCV's clones (and RandomFeatureRidge's) all draw that ω; an int
    seed drawn from the instance instead gave other scores and another model.
    """
    X, y, _ = _regression(n=150)
    sampler = DERFSampler(n_components=20, random_state=np.random.RandomState(1))
    folds = KFold(3, shuffle=True, random_state=0)
    alphas = [0.1, 1.0]
    search = _grid_search(sampler, [20], alphas, folds, "neg_mean_squared_error")
    search.fit(X, y)
    model = RandomFeatureRidgeCV(
        sampler, alphas=alphas, n_components=[20], cv=folds, random_state=5
    ).fit(X, y)
    _assert_close(
        model.cv_results_["mean_test_score"], search.cv_results_["mean_test_score"]
    )
    _assert_close(model.predict(X), search.predict(X))
    single = RandomFeatureRidge(sampler, alpha=model.alpha_).fit(X, y)
    _assert_close(model.predict(X), single.predict(X))


def test_cv_random_state_seeds_an_unseeded_sampler_once():
    X, y, _ = _regression(n=90)
    models = [
        RandomFeatureRidgeCV(PositiveRFSampler(n_components=12), random_state=4)
        for _ in range(2)
    ]
    seeds = [model.fit(X, y).sampler_.random_state for model in models]
    assert seeds[0] == seeds[1]
    np.testing.assert_array_equal(models[0].predict(X), models[1].predict(X))


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("estimator", [RandomFeatureRidge, RandomFeatureRidgeCV])
def test_y_of_one_column_gives_ridges_shapes(estimator, fit_intercept):
    """``y`` of shape (n, 1): coef_ (m,), intercept_ (1,), predict (n,), as Ridge."""
    X, y, _ = _regression(n=120)
    column = y[:, None]
    sampler = DERFSampler(n_components=20, gamma=0.3, random_state=0)
    params = {"alphas": [0.5]} if estimator is RandomFeatureRidgeCV else {}
    model = estimator(sampler, fit_intercept=fit_intercept, **params).fit(X, column)
    ridge = Ridge(alpha=0.5 if params else 1.0, fit_intercept=fit_intercept)
    pipeline = Pipeline([("f", sampler), ("r", ridge)]).fit(X, column)
    expected = pipeline[-1]
    assert model.coef_.shape == expected.coef_.shape
    assert np.shape(model.intercept_) == np.shape(expected.intercept_)
    assert model.predict(X).shape == pipeline.predict(X).shape == (120,)
    _assert_close(model.predict(X), pipeline.predict(X))


def test_partial_fit_with_y_of_one_column_predicts_one_dimension():
    X, y, _ = _regression(n=120)
    model = RandomFeatureRidge(DERFSampler(n_components=20, random_state=0))
    model.partial_fit(X[:60], y[:60, None]).partial_fit(X[60:], y[60:, None])
    assert model.coef_.shape == (20,)
    assert model.predict(X).shape == (120,)


def _bad_dask_input(case, X, y):
    """``(X, y, sample_weight)`` with one defect, in memory."""
    n = X.shape[0]
    weights = np.ones(n)
    if case == "complex X":
        return X.astype(complex), y, None
    if case == "complex y":
        return X, y.astype(complex), None
    if case == "negative weights":
        weights[3] = -1.0
        return X, y, weights
    if case == "short y":
        return X, y[:-5], None
    if case == "short weights":
        return X, y, weights[:-5]
    if case == "empty":
        return X[:0], y[:0], None
    raise AssertionError(case)


DASK_CASES = [
    "complex X",
    "complex y",
    "negative weights",
    "short y",
    "short weights",
    "empty",
]


@pytest.mark.parametrize("estimator", [RandomFeatureRidge, RandomFeatureRidgeCV])
@pytest.mark.parametrize("case", DASK_CASES)
def test_dask_inputs_are_checked_as_in_memory_ones(estimator, case):
    """The same exception type, and the in-memory message's gist, for Dask inputs."""
    da = pytest.importorskip("dask.array")
    X, y, _ = _regression(n=60)
    X, y, weights = _bad_dask_input(case, X, y)
    with pytest.raises((TypeError, ValueError)) as in_memory:
        estimator(random_state=0).fit(X, y, sample_weight=weights)
    lazy = [
        None if a is None else da.from_array(a, chunks=max(1, min(25, len(a))))
        for a in (X, y, weights)
    ]
    with pytest.raises(in_memory.type) as lazily:
        estimator(random_state=0).fit(*lazy[:2], sample_weight=lazy[2])
    gist = {
        "complex X": "Complex data not supported",
        "complex y": "Complex data not supported",
        "negative weights": "Negative values in data passed to `sample_weight`",
        "short y": "inconsistent numbers of samples",
        "short weights": r"sample_weight.shape == \(55,\), expected \(60,\)",
        "empty": "0 sample",
    }[case]
    assert re.search(gist, str(in_memory.value))
    assert re.search(gist, str(lazily.value))


def test_dask_input_of_unknown_chunk_sizes_is_refused():
    da = pytest.importorskip("dask.array")
    X, y, _ = _regression(n=60)
    lazy = da.from_array(X, chunks=(20, 4))
    unknown = lazy[lazy[:, 0] > -np.inf]
    assert np.isnan(unknown.shape[0])
    with pytest.raises(ValueError, match=r"unknown chunk sizes.*compute_chunk_sizes"):
        RandomFeatureRidge(random_state=0).fit(unknown, y)


# --- issue 20: the refit and single-alpha paths solve, they do not eigh -------


def _count_eigh(monkeypatch, n_features):
    """Record the ``eigh`` calls on matrices wider than the data.

    A data-dependent sampler's own fit takes ``eigh`` of ``n_features``-sized
    second moments; the ridge's systems are ``m × m``.
    """
    calls = []
    eigh = np.linalg.eigh

    def counted(matrix, *args, **kwargs):
        if matrix.shape[-1] > n_features:
            calls.append(matrix.shape)
        return eigh(matrix, *args, **kwargs)

    monkeypatch.setattr(np.linalg, "eigh", counted)
    return calls


@pytest.mark.parametrize(
    "alphas, n_eighs",
    [
        # Up to eight alphas: one Cholesky each, cheaper than one eigh.
        ([0.01, 0.1, 1.0], 0),
        # More share one eigh per fold and feature count.
        (list(np.logspace(-3, 1, 10)), 3 * 2),
    ],
)
def test_cv_eighs_only_for_long_alpha_grids_and_refits_by_a_solve(
    monkeypatch, alphas, n_eighs
):
    X, y, _ = _regression(n=150)
    calls = _count_eigh(monkeypatch, X.shape[1])
    model = RandomFeatureRidgeCV(
        PositiveRFSampler(n_components=24, gamma=0.2, random_state=0),
        alphas=alphas,
        n_components=[12, 24],
        cv=KFold(3),
    ).fit(X, y)
    assert len(calls) == n_eighs
    search = _grid_search(
        PositiveRFSampler(n_components=24, gamma=0.2, random_state=0),
        [12, 24],
        alphas,
        KFold(3),
        "neg_mean_squared_error",
    ).fit(X, y)
    for key in ["mean_test_score", *(f"split{k}_test_score" for k in range(3))]:
        _assert_close(model.cv_results_[key], search.cv_results_[key])
    _assert_close(model.coef_, search.best_estimator_[-1].coef_)


def test_ridge_path_solves_equal_the_shared_eigh():
    rng = np.random.default_rng(0)
    Z = rng.standard_normal((40, 7))
    centred = Z - Z.mean(axis=0)
    statistics = SampleStatistics(40.0, Z.mean(axis=0), centred.T @ centred)
    alphas = list(np.logspace(-4, 2, 12))
    shared = list(ridge_path(statistics, 6, 4, alphas, fit_intercept=True))
    for alpha, (coef, intercept) in zip(alphas, shared, strict=True):
        ((one, one_intercept),) = ridge_path(
            statistics, 6, 4, [alpha], fit_intercept=True
        )
        np.testing.assert_allclose(one, coef, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(one_intercept, intercept, rtol=1e-9, atol=1e-12)


def test_ridge_solve_of_a_singular_system_falls_back_to_least_squares():
    # Two equal features and alpha 0: Cholesky fails; least squares solves.
    A = np.array([[1.0, 1.0], [1.0, 1.0]])
    B = np.array([[2.0], [2.0]])
    coef = solve_ridge(A, B, 0.0)
    np.testing.assert_allclose(A @ coef, B)
    np.testing.assert_allclose(coef, [[1.0], [1.0]])


@pytest.mark.parametrize("n_alphas", [1, 12])
def test_a_tiny_alpha_on_a_singular_scatter_warns_of_lost_digits(n_alphas):
    """Fewer rows than features: ``A`` is singular and ``α`` alone conditions it.

    The solve from statistics then loses about ``eps / rcond`` relative, here
    ~1e-3 of the predictions (1.0 at ``α = 1e-16 λ_max``), while the
    pipeline's ``Ridge`` works on the feature matrix and stays exact. That
    must not be silent: a ``LinAlgWarning`` (as ``Ridge`` and SciPy give for
    an ill-conditioned system) whose stated loss covers the actual error, in
    the Cholesky path (one ``alpha``) and in the shared ``eigh`` path (CV).
    """
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(10, 4)), rng.normal(size=10)
    sampler = DERFSampler(n_components=50, gamma=0.3, random_state=0).fit(X)
    F = sampler.transform(X)
    centred = F - F.mean(axis=0)
    alpha = 1e-14 * np.linalg.eigvalsh(centred.T @ centred).max()
    with pytest.warns(scipy.linalg.LinAlgWarning, match="ill-conditioned") as record:
        if n_alphas == 1:
            model = RandomFeatureRidge(sampler, alpha=alpha).partial_fit(X, y)
        else:
            alphas = [alpha, *np.logspace(-2, 2, n_alphas - 1)]
            RandomFeatureRidgeCV(sampler, alphas=alphas, cv=KFold(2)).fit(X, y)
            return
    stated = float(re.search(r"about ([0-9.e+-]+)", str(record[0].message)).group(1))
    X_test = rng.normal(size=(100, 4))
    expected = (
        Ridge(alpha=alpha, solver="svd").fit(F, y).predict(sampler.transform(X_test))
    )
    error = np.max(np.abs(model.predict(X_test) - expected)) / np.max(np.abs(expected))
    assert 1e-6 < error <= stated


def test_a_well_conditioned_tiny_alpha_does_not_warn():
    """More rows than features: ``A`` is well conditioned whatever ``α``."""
    X, y, _ = _regression(n=400)
    sampler = DERFSampler(n_components=20, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", scipy.linalg.LinAlgWarning)
        RandomFeatureRidge(sampler, alpha=1e-14).fit(X, y)
        RandomFeatureRidgeCV(sampler, alphas=np.logspace(-14, 0, 12)).fit(X, y)


def test_cv_of_one_alpha_never_eighs(monkeypatch):
    X, y, _ = _regression(n=150)
    calls = _count_eigh(monkeypatch, X.shape[1])
    sampler = DERFSampler(n_components=20, gamma="scale", random_state=0)
    model = RandomFeatureRidgeCV(
        sampler, alphas=[0.1], n_components=[10, 20], cv=KFold(3)
    ).fit(X, y)
    assert calls == []
    search = _grid_search(
        sampler, [10, 20], [0.1], KFold(3), "neg_mean_squared_error"
    ).fit(X, y)
    for key in ["mean_test_score", *(f"split{k}_test_score" for k in range(3))]:
        _assert_close(model.cv_results_[key], search.cv_results_[key])


@pytest.mark.parametrize("alphas", [[1.0], [0.1, 1.0], list(np.logspace(-2, 1, 9))])
def test_statistics_that_overflow_are_refused_not_solved_to_nan(alphas):
    # y of 1e308: the scatter of [φ, y] overflows to inf. As Pipeline(sampler,
    # Ridge()), fitting raises instead of leaving NaN weights.
    X = np.random.default_rng(0).normal(size=(60, 3))
    y = np.sign(X[:, 0]) * 1e308
    sampler = PositiveRFSampler(n_components=20, random_state=0)
    with pytest.raises(ValueError, match="infs or NaNs"):
        RandomFeatureRidge(sampler, alpha=alphas[0]).fit(X, y)
    with pytest.raises(ValueError, match="infs or NaNs"):
        RandomFeatureRidgeCV(sampler, alphas=alphas, cv=3).fit(X, y)
