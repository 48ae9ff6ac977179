"""Public fitted attributes that exporters read instead of private state (issue 21)."""

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

from skfavor import GERFSampler, RandomFeatureRidgeClassifier
from skfavor.nadaraya_watson import (
    NadarayaWatsonClassifier,
    NadarayaWatsonRegressor,
)

X = np.random.default_rng(0).normal(size=(40, 3))


def test_nadaraya_watson_fallbacks_are_public():
    y = np.column_stack([X[:, 0], 3 * X[:, 1] + 2.0])
    regressor = NadarayaWatsonRegressor(GERFSampler(random_state=0)).fit(X, y)
    np.testing.assert_allclose(regressor.target_mean_, y.mean(axis=0))
    labels = np.array(["a"] * 5 + ["b"] * 25 + ["c"] * 10)
    classifier = NadarayaWatsonClassifier(GERFSampler(random_state=0)).fit(X, labels)
    assert classifier.majority_class_ == "b"
    for model in (NadarayaWatsonRegressor(), NadarayaWatsonClassifier()):
        name = "target_mean_" if hasattr(type(model), "target_mean_") else None
        name = name or "majority_class_"
        with pytest.raises(NotFittedError):
            getattr(model, name)
        assert not hasattr(model, name)


def test_ridge_classifier_multilabel_flag():
    sampler = GERFSampler(random_state=0)
    single = RandomFeatureRidgeClassifier(sampler).fit(X, X[:, 0] > 0)
    assert single.multilabel_ is False
    indicator = np.column_stack([X[:, 0] > 0, X[:, 1] > 0]).astype(int)
    multi = RandomFeatureRidgeClassifier(sampler).fit(X, indicator)
    assert multi.multilabel_ is True
    assert not hasattr(RandomFeatureRidgeClassifier(), "multilabel_")
