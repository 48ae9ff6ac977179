"""Former path of :mod:`skfavor.nadaraya_watson` (deprecated in 0.3, removed in 0.4).

.. deprecated:: 0.3
   ``skfavor.kernel_regression`` was renamed :mod:`skfavor.nadaraya_watson`
   (Nadaraya–Watson estimators, not to be confused with
   :mod:`skfavor.kernel_ridge`); importing the old path issues a
   ``FutureWarning`` and it will be removed in 0.4.
"""

import warnings

from .nadaraya_watson import (
    NadarayaWatsonClassifier,
    NadarayaWatsonRegressor,
    NonPositiveDenominatorWarning,
)

__all__ = [
    "NadarayaWatsonClassifier",
    "NadarayaWatsonRegressor",
    "NonPositiveDenominatorWarning",
]

warnings.warn(
    "skfavor.kernel_regression was renamed skfavor.nadaraya_watson in 0.3 and "
    "will be removed in 0.4; import the Nadaraya-Watson estimators from "
    "skfavor.nadaraya_watson.",
    FutureWarning,
    stacklevel=2,
)
