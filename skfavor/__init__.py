"""skfavor: sharp positive random features (FAVOR#) for scikit-learn."""

from ._feature_map import FeatureMap, UnderflowWarning
from .auto import AutoSampler
from .fourier import FourierSampler
from .kernel_approximation import (
    AsymmetricMapWarning,
    DERFSampler,
    GERFSampler,
    PositiveRFSampler,
)
from .kernel_ridge import (
    RandomFeatureRidge,
    RandomFeatureRidgeClassifier,
    RandomFeatureRidgeCV,
)

__all__ = [
    "AsymmetricMapWarning",
    "AutoSampler",
    "DERFSampler",
    "FeatureMap",
    "FourierSampler",
    "GERFSampler",
    "PositiveRFSampler",
    "RandomFeatureRidge",
    "RandomFeatureRidgeCV",
    "RandomFeatureRidgeClassifier",
    "UnderflowWarning",
]
__version__ = "0.3.0"
