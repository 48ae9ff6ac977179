"""skfavor: sharp positive random features (FAVOR#) for scikit-learn."""

from ._feature_map import UnderflowWarning
from .kernel_approximation import DERFSampler, GERFSampler, PositiveRFSampler
from .kernel_ridge import (
    RandomFeatureRidge,
    RandomFeatureRidgeClassifier,
    RandomFeatureRidgeCV,
)

__all__ = ["DERFSampler", "GERFSampler", "PositiveRFSampler", "UnderflowWarning"]
__all__ += ["RandomFeatureRidge", "RandomFeatureRidgeClassifier"]
__all__ += ["RandomFeatureRidgeCV"]
__version__ = "0.1.0"
