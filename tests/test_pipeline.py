"""The samplers as scikit-learn transformers: pipelines, grid search, copies,
seeds, dtypes, sparse input, feature names and the query/key maps.

Issue 2, "Done when" point 7 and the "Design" list.
"""

import pickle

import numpy as np
import pytest
import scipy.sparse as sp
from _helpers import SAMPLERS
from sklearn.base import clone
from sklearn.datasets import make_friedman1
from sklearn.linear_model import Ridge, RidgeClassifier
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from skfavor import DERFSampler, GERFSampler
from skfavor.datasets import paper_split

SYMMETRIC = ["posrf", "gerf", "sderf"]
ASYMMETRIC = ["aderf", "saderf"]


@pytest.fixture(scope="module")
def friedman():
    """A smooth non-linear regression task, standardised: train and test parts."""
    X, y = make_friedman1(n_samples=600, n_features=5, noise=0.1, random_state=1)
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
    scaler = StandardScaler().fit(X_train)
    return scaler.transform(X_train), scaler.transform(X_test), y_train, y_test


@pytest.fixture
def X():
    return np.random.default_rng(0).normal(scale=0.7, size=(30, 4))


@pytest.fixture
def keys():
    """Keys whose mean and covariance differ from those of ``X``."""
    rng = np.random.default_rng(1)
    mixing = np.array(
        [
            [1.0, 0.4, 0.0, 0.0],
            [0.0, 0.5, 0.2, 0.0],
            [0.3, 0.0, 0.8, 0.0],
            [0, 0, 0, 0.3],
        ]
    )
    return 0.2 + rng.normal(size=(25, 4)) @ mixing


# --- pipelines -------------------------------------------------------------


@pytest.mark.parametrize("family", SYMMETRIC)
def test_grid_search_over_n_components_and_gamma(friedman, family):
    """GridSearchCV reaches the sampler's parameters and picks the sensible ones:
    more features, and the gamma that suits standardised data (γ = 3 overfits)."""
    X_train, _, y_train, _ = friedman
    pipeline = Pipeline(
        [("features", SAMPLERS[family](random_state=0)), ("ridge", Ridge(alpha=1e-3))]
    )
    search = GridSearchCV(
        pipeline,
        {"features__n_components": [10, 100], "features__gamma": [0.1, 3.0]},
        cv=3,
    ).fit(X_train[:200], y_train[:200])
    assert search.best_params_ == {
        "features__n_components": 100,
        "features__gamma": 0.1,
    }
    assert search.best_score_ > 0.85
    best = search.best_estimator_.named_steps["features"]
    assert best.n_components == 100 and best.gamma_ == 0.1
    assert best.random_weights_.shape == (100, 5)


@pytest.mark.parametrize("family", SYMMETRIC)
def test_fitted_pipeline_predicts_held_out_data(friedman, family):
    X_train, X_test, y_train, y_test = friedman
    model = make_pipeline(
        SAMPLERS[family](n_components=300, gamma=0.1, random_state=0),
        Ridge(alpha=1e-3),
    ).fit(X_train, y_train)
    assert model.score(X_test, y_test) > 0.95


@pytest.mark.parametrize("family", SYMMETRIC)
def test_pipeline_classifies_a_uci_set(family):
    """banknote under the paper's protocol (kernel exp(-|x-y|²/2), γ = 0.5)."""
    X_train, X_test, y_train, y_test = paper_split("banknote")
    model = make_pipeline(
        SAMPLERS[family](n_components=200, gamma=0.5, random_state=0),
        RidgeClassifier(alpha=1e-3),
    ).fit(X_train, y_train)
    assert model.score(X_test, y_test) > 0.95


# --- copies and seeds ------------------------------------------------------


@pytest.mark.parametrize("kernel", ["rbf", "softmax"])
@pytest.mark.parametrize("family", SAMPLERS)
def test_clone_and_pickle_round_trips_give_identical_features(X, family, kernel):
    sampler = SAMPLERS[family](n_components=50, kernel=kernel, random_state=0)
    sampler.fit(X[:20], keys=X[10:] + 0.2)
    Y = X + 0.1
    features, key_features = sampler.transform(Y), sampler.transform_keys(Y)

    restored = pickle.loads(pickle.dumps(sampler))
    np.testing.assert_array_equal(restored.transform(Y), features)
    np.testing.assert_array_equal(restored.transform_keys(Y), key_features)

    copy = clone(sampler)
    assert not hasattr(copy, "random_weights_")
    assert copy.get_params() == sampler.get_params()
    copy.fit(X[:20], keys=X[10:] + 0.2)
    np.testing.assert_array_equal(copy.transform(Y), features)
    np.testing.assert_array_equal(copy.transform_keys(Y), key_features)


@pytest.mark.parametrize("orthogonal", [False, True])
@pytest.mark.parametrize("family", SAMPLERS)
def test_seed_controls_the_features(X, family, orthogonal):
    def features(random_state):
        sampler = SAMPLERS[family](
            n_components=20,
            sampling="orthogonal" if orthogonal else "iid",
            random_state=random_state,
        )
        return sampler.fit(X).transform(X)

    np.testing.assert_array_equal(features(0), features(0))
    np.testing.assert_array_equal(
        features(np.random.RandomState(5)), features(np.random.RandomState(5))
    )
    # Different draws of ω: no feature column is the same.
    first, second = features(0), features(1)
    assert not np.any(np.all(np.isclose(first, second), axis=0))
    assert not np.allclose(features(None), features(None))


# --- dtypes and sparse input -------------------------------------------------


@pytest.mark.parametrize("kernel", ["rbf", "softmax"])
@pytest.mark.parametrize("family", SAMPLERS)
def test_float32_in_float32_out_close_to_float64(X, keys, family, kernel):
    make = SAMPLERS[family]
    single = make(n_components=50, kernel=kernel, random_state=0)
    double = make(n_components=50, kernel=kernel, random_state=0)
    X32, keys32 = X.astype(np.float32), keys.astype(np.float32)
    single.fit(X32, keys=keys32)
    double.fit(X32.astype(np.float64), keys=keys32.astype(np.float64))
    for method in ("transform", "transform_keys"):
        out32 = getattr(single, method)(X32)
        out64 = getattr(double, method)(X32.astype(np.float64))
        assert out32.dtype == np.float32 and out64.dtype == np.float64
        np.testing.assert_allclose(out32, out64, rtol=1e-4)


def test_aderf_features_do_not_depend_on_rounding():
    """Fitted without keys, ADERF's SVD input is diagonal up to rounding, so its
    signs are arbitrary: the same data as float32, Fortran-ordered, as a
    DataFrame or perturbed by 1e-12 must still give the same features."""
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 3)) * [1.0, 0.7, 0.4]
    variants = [X.astype(np.float32), np.asfortranarray(X), pd.DataFrame(X)]
    variants += [X * (1 + 1e-12 * rng.normal(size=X.shape)) for _ in range(20)]

    def features(data):
        sampler = DERFSampler("aderf", n_components=20, random_state=0)
        return sampler.fit(data).transform(X)

    reference = features(X)
    for data in variants:
        np.testing.assert_allclose(features(data), reference, rtol=1e-4)


@pytest.mark.parametrize(
    "loc",
    [
        10.0,
        100.0,
        1000.0,
    ],
)
@pytest.mark.parametrize("family", ["gerf", "sderf", "aderf", "saderf"])
def test_float32_far_from_the_origin_is_close_to_float64(family, loc):
    """Centred rbf maps: float32 data at |x| = loc is stored to loc·6e-8, so the
    features need not be worse than that (here: rtol 1e-3)."""
    X = np.random.default_rng(1).normal(loc=loc, size=(30, 3)).astype(np.float32)
    make = SAMPLERS[family]
    out32 = make(gamma=0.5, random_state=0).fit(X).transform(X)
    out64 = make(gamma=0.5, random_state=0).fit(X.astype(np.float64))
    out64 = out64.transform(X.astype(np.float64))
    assert out32.dtype == np.float32
    np.testing.assert_allclose(out32, out64, rtol=1e-3)


@pytest.fixture
def sparse_X():
    X = np.random.default_rng(2).normal(size=(40, 6))
    X[np.abs(X) < 0.8] = 0.0
    return X


@pytest.mark.parametrize("kernel", ["rbf", "softmax"])
@pytest.mark.parametrize("family", SAMPLERS)
def test_sparse_transform_equals_dense(sparse_X, family, kernel):
    sampler = SAMPLERS[family](n_components=40, kernel=kernel, random_state=0)
    sampler.fit(sparse_X, keys=sparse_X[::-1] * 0.5)
    for method in (sampler.transform, sampler.transform_keys):
        dense = method(sparse_X)
        for fmt in (sp.csr_matrix, sp.csc_matrix, sp.csr_array):
            np.testing.assert_allclose(method(fmt(sparse_X)), dense, rtol=1e-12)
        np.testing.assert_allclose(
            method(sp.csr_matrix(sparse_X, dtype=np.float32)),
            dense,
            rtol=1e-4,
        )


@pytest.mark.parametrize("kernel", ["rbf", "softmax"])
@pytest.mark.parametrize("family", SAMPLERS)
def test_sparse_fit_equals_dense_fit(sparse_X, family, kernel):
    make = SAMPLERS[family]
    keys = sparse_X[::-1] * [1.0, 0.5, 2.0, 1.0, 0.3, 1.0]
    dense = make(n_components=40, kernel=kernel, random_state=0)
    dense.fit(sparse_X, keys=keys)
    sparse = make(n_components=40, kernel=kernel, random_state=0)
    sparse.fit(sp.csr_matrix(sparse_X), keys=sp.csr_matrix(keys))
    np.testing.assert_allclose(sparse.center_, dense.center_, atol=1e-12)
    np.testing.assert_allclose(
        sparse.transform(sparse_X), dense.transform(sparse_X), rtol=1e-10
    )
    np.testing.assert_allclose(
        sparse.transform_keys(keys), dense.transform_keys(keys), rtol=1e-10
    )


def test_gamma_scale_on_sparse_equals_dense(sparse_X):
    dense = GERFSampler(gamma="scale").fit(sparse_X)
    sparse = GERFSampler(gamma="scale").fit(sp.csr_matrix(sparse_X))
    assert sparse.gamma_ == pytest.approx(dense.gamma_, rel=1e-12)
    assert dense.gamma_ == pytest.approx(1.0 / (6 * sparse_X.var()), rel=1e-12)


# --- feature names and pandas output -----------------------------------------


@pytest.mark.parametrize(
    "family, prefix",
    [
        ("posrf", "positiverfsampler"),
        ("gerf", "gerfsampler"),
        ("sderf", "derfsampler"),
        ("aderf", "derfsampler"),
    ],
)
def test_get_feature_names_out(X, family, prefix):
    sampler = SAMPLERS[family](n_components=7).fit(X)
    names = sampler.get_feature_names_out()
    assert list(names) == [f"{prefix}{i}" for i in range(7)]
    assert names.dtype == object


@pytest.mark.parametrize("family", SAMPLERS)
def test_set_output_pandas(X, family):
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(X, columns=["a", "b", "c", "d"], index=np.arange(30) + 100)
    sampler = SAMPLERS[family](n_components=9, random_state=0)
    sampler.set_output(transform="pandas").fit(frame)
    np.testing.assert_array_equal(sampler.feature_names_in_, ["a", "b", "c", "d"])
    out = sampler.transform(frame)
    assert isinstance(out, pd.DataFrame)
    assert list(out.columns) == list(sampler.get_feature_names_out())
    assert list(out.index) == list(frame.index)
    expected = sampler.set_output(transform="default").transform(frame)
    assert isinstance(expected, np.ndarray)
    np.testing.assert_array_equal(out.to_numpy(), expected)
    with pytest.warns(UserWarning, match="X does not have valid feature names"):
        sampler.transform(X)


# --- the query and key maps --------------------------------------------------


@pytest.mark.parametrize("kernel", ["rbf", "softmax"])
@pytest.mark.parametrize("family", SYMMETRIC)
def test_transform_keys_is_transform_for_symmetric_samplers(X, family, kernel):
    """Even fitted to keys of other statistics, a symmetric family has one map."""
    keys = 0.5 + 2.0 * X[::-1]
    sampler = SAMPLERS[family](n_components=30, kernel=kernel, random_state=0)
    sampler.fit(X, keys=keys)
    for rows in (X, keys):
        np.testing.assert_array_equal(
            sampler.transform_keys(rows), sampler.transform(rows)
        )


@pytest.mark.parametrize("kernel", ["rbf", "softmax"])
@pytest.mark.parametrize("family", ASYMMETRIC)
def test_asymmetric_maps_differ_on_differently_distributed_keys(X, family, kernel):
    rng = np.random.default_rng(3)
    keys = 0.3 + rng.normal(size=(40, 4)) * [1.5, 0.2, 0.8, 0.4]
    sampler = SAMPLERS[family](n_components=30, kernel=kernel, random_state=0)
    sampler.fit(X, keys=keys)
    assert not np.allclose(sampler.query_transform_, sampler.key_transform_)
    # Both maps are unbiased for the same kernel, so only their products agree
    # in expectation; the features themselves differ on every row.
    query, key = sampler.transform(keys), sampler.transform_keys(keys)
    assert np.all(np.abs(query / key - 1).max(axis=1) > 1e-3)


@pytest.mark.parametrize("kernel", ["rbf", "softmax"])
@pytest.mark.parametrize("family", ASYMMETRIC)
def test_asymmetric_maps_coincide_when_keys_are_the_queries(X, family, kernel):
    """With equal statistics ADERF and SADERF reduce to GERF (MATH.md §3):
    ``T₁ = T₂``, so the two maps agree up to rounding."""
    sampler = SAMPLERS[family](n_components=30, kernel=kernel, random_state=0)
    sampler.fit(X)
    np.testing.assert_allclose(
        sampler.query_transform_, sampler.key_transform_, atol=1e-10
    )
    np.testing.assert_allclose(
        sampler.transform_keys(X + 0.3), sampler.transform(X + 0.3), rtol=1e-9
    )
