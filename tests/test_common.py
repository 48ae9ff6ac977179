"""scikit-learn's estimator checks on every public estimator."""

import pytest
from sklearn.utils.estimator_checks import estimator_checks_generator

from skfavor import DERFSampler, GERFSampler, PositiveRFSampler
from skfavor.kernel_regression import NadarayaWatsonClassifier, NadarayaWatsonRegressor

ESTIMATORS = [
    PositiveRFSampler(),
    GERFSampler(),
    DERFSampler(variant="sderf"),
    DERFSampler(variant="aderf"),
    DERFSampler(variant="saderf"),
    # The checks' data reach |x|² of 2·10⁴: a softmax kernel of gamma=1 would be
    # e^20000 there, so this instance uses a gamma that suits that scale.
    DERFSampler(variant="sderf", kernel="softmax", gamma=1e-4, orthogonal=False),
    # At their defaults: the checks seed them through random_state.
    NadarayaWatsonClassifier(),
    NadarayaWatsonRegressor(),
    NadarayaWatsonClassifier(DERFSampler(variant="aderf", random_state=0)),
    NadarayaWatsonClassifier(transductive=True),
    NadarayaWatsonRegressor(transductive=True),
]

#: Checks expected to fail, with the reason for each, by estimator. Keep it short.
EXPECTED_FAILED_CHECKS: dict = {}


def _expected_failed_checks(estimator) -> dict:
    return EXPECTED_FAILED_CHECKS.get(repr(estimator), {})


def _check_id(value) -> str:
    """``Estimator(params)`` and ``check_name(args)``, as scikit-learn's ids."""
    if hasattr(value, "get_params"):
        return repr(value).replace("\n", "").replace(" ", "")
    name = getattr(value, "__name__", None) or value.func.__name__
    keywords = getattr(value, "keywords", {})
    arguments = ",".join(f"{key}={item}" for key, item in keywords.items())
    return f"{name}({arguments})" if arguments else name


# A list, not scikit-learn's generator (parametrize_with_checks), which pytest
# deprecates (PytestRemovedIn10Warning).
CHECKS = [
    pair
    for estimator in ESTIMATORS
    for pair in estimator_checks_generator(
        estimator,
        expected_failed_checks=_expected_failed_checks(estimator),
        mark="xfail",
    )
]


@pytest.mark.parametrize("estimator, check", CHECKS, ids=_check_id)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
