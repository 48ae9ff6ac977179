"""skfavor: sharp positive random features (FAVOR#) for scikit-learn."""

from ._feature_map import UnderflowWarning
from .kernel_approximation import (
    AsymmetricMapWarning,
    DERFSampler,
    GERFSampler,
    PositiveRFSampler,
)

__all__ = [
    "AsymmetricMapWarning",
    "DERFSampler",
    "GERFSampler",
    "PositiveRFSampler",
    "UnderflowWarning",
]
__version__ = "0.1.0"
