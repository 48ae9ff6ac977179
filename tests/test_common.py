"""scikit-learn's estimator checks on every public estimator."""

from sklearn.utils.estimator_checks import parametrize_with_checks

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
    # The checks seed only top-level random_state parameters, so the samplers
    # inside the Nadaraya-Watson estimators are seeded here.
    NadarayaWatsonClassifier(DERFSampler(random_state=0)),
    NadarayaWatsonClassifier(DERFSampler(variant="aderf", random_state=0)),
    # check_regressors_train wants R² > 0.5 on training data in 10 dimensions
    # at gamma=1, where 100 features give about 0.35 and 1000 about 0.6.
    NadarayaWatsonRegressor(DERFSampler(n_components=1000, random_state=0)),
]

#: Checks expected to fail, with the reason for each. Keep it empty.
EXPECTED_FAILED_CHECKS: dict = {}


@parametrize_with_checks(
    ESTIMATORS, expected_failed_checks=lambda est: EXPECTED_FAILED_CHECKS
)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
