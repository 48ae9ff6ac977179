"""skfavor: sharp positive random features (FAVOR#) for scikit-learn."""

from ._feature_map import UnderflowWarning
from .kernel_approximation import DERFSampler, GERFSampler, PositiveRFSampler

__all__ = ["DERFSampler", "GERFSampler", "PositiveRFSampler", "UnderflowWarning"]
__version__ = "0.1.0"
