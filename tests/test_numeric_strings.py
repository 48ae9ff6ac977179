"""Numbers written as strings, and bools for numbers, refused by every estimator.

Issue 16: ``AutoSampler(n_components=True)`` was accepted as 1, and arrays of
numeric strings were parsed by some estimators and refused by others. Every
public estimator now does what scikit-learn's own do (``RBFSampler``,
``Ridge``): an array of strings is refused by the ``dtype='numeric'`` check,
however numeric its entries look, and a parameter given as a string ("100",
"0.5") or a bool where a number is expected is an ``InvalidParameterError``.
"""

import inspect

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.kernel_approximation import RBFSampler
from sklearn.utils._param_validation import InvalidParameterError

from skfavor import (
    AutoSampler,
    DERFSampler,
    FourierSampler,
    GERFSampler,
    PositiveRFSampler,
    RandomFeatureRidge,
    RandomFeatureRidgeClassifier,
    RandomFeatureRidgeCV,
)
from skfavor.nadaraya_watson import NadarayaWatsonClassifier, NadarayaWatsonRegressor

ESTIMATORS = [
    RBFSampler(random_state=0),
    PositiveRFSampler(random_state=0),
    GERFSampler(random_state=0),
    DERFSampler(random_state=0),
    FourierSampler(random_state=0),
    AutoSampler(random_state=0),
    NadarayaWatsonClassifier(random_state=0),
    NadarayaWatsonRegressor(random_state=0),
    RandomFeatureRidge(),
    RandomFeatureRidgeClassifier(),
    RandomFeatureRidgeCV(),
]

MESSAGE = "dtype='numeric' is not compatible with arrays of bytes/strings"


def _data():
    X = np.random.default_rng(0).normal(size=(30, 3))
    return X, (X[:, 0] > 0).astype(int)


def _strings():
    X, _ = _data()
    return {
        "str": X.astype(str),
        "bytes": X.astype(bytes),
        "list-of-str": X.astype(str).tolist(),
    }


def _name(estimator) -> str:
    return type(estimator).__name__


@pytest.mark.parametrize("form", sorted(_strings()))
@pytest.mark.parametrize("estimator", ESTIMATORS, ids=_name)
def test_numeric_strings_in_fit_are_refused(estimator, form):
    _, y = _data()
    with pytest.raises(ValueError, match=MESSAGE):
        clone(estimator).fit(_strings()[form], y)


@pytest.mark.parametrize("form", sorted(_strings()))
@pytest.mark.parametrize("estimator", ESTIMATORS, ids=_name)
def test_numeric_strings_after_fit_are_refused(estimator, form):
    X, y = _data()
    fitted = clone(estimator).fit(X, y)
    method = fitted.transform if hasattr(fitted, "transform") else fitted.predict
    with pytest.raises(ValueError, match=MESSAGE):
        method(_strings()[form])


@pytest.mark.parametrize(
    "estimator",
    [e for e in ESTIMATORS if hasattr(e, "transform_keys")],
    ids=_name,
)
def test_numeric_string_keys_are_refused(estimator):
    X, _ = _data()
    if "keys" in inspect.signature(estimator.fit).parameters:
        with pytest.raises(ValueError, match=MESSAGE):
            clone(estimator).fit(X, keys=X.astype(str))
    fitted = clone(estimator).fit(X)
    with pytest.raises(ValueError, match=MESSAGE):
        fitted.transform_keys(X.astype(str))


def _numeric_parameters():
    """(estimator, parameter, bad value) for every number-valued parameter.

    RBFSampler is left out: scikit-learn counts a bool as an int there.
    """
    cases = []
    for estimator in ESTIMATORS[1:]:
        if hasattr(estimator, "marks"):
            estimator = estimator.values[0]
        params = estimator.get_params(deep=False)
        for name, values in (
            ("n_components", [True, np.True_, "100"]),
            ("gamma", [True, "0.5"]),
        ):
            for value in values if name in params else ():
                cases.append(
                    pytest.param(
                        estimator,
                        name,
                        value,
                        id=f"{_name(estimator)}-{name}={value!r}",
                    )
                )
    return cases


@pytest.mark.parametrize("estimator, name, value", _numeric_parameters())
def test_numbers_as_strings_or_bools_are_refused_as_parameters(estimator, name, value):
    X, y = _data()
    with pytest.raises(InvalidParameterError, match=f"'{name}' parameter"):
        clone(estimator).set_params(**{name: value}).fit(X, y)
