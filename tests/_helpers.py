"""Test helpers: exact kernels and the MATH.md §2 objective of a fitted sampler."""

import numpy as np

from skfavor import DERFSampler, GERFSampler, PositiveRFSampler
from skfavor.metrics import log_second_moment

#: Factories of every sampler and DERF variant, by family name.
SAMPLERS = {
    "posrf": PositiveRFSampler,
    "gerf": GERFSampler,
    "sderf": lambda **kw: DERFSampler("sderf", **kw),
    "aderf": lambda **kw: DERFSampler("aderf", **kw),
    "saderf": lambda **kw: DERFSampler("saderf", **kw),
}


def exact_kernel(X, Y, *, kernel, gamma):
    """The kernel matrix that a sampler with these parameters estimates."""
    if kernel == "rbf":
        sq = ((X[:, None, :] - Y[None, :, :]) ** 2).sum(-1)
        return np.exp(-gamma * sq)
    return np.exp(gamma * X @ Y.T)


def kernel_units(sampler, X):
    """``(x − center_) · scale``: the inputs as the fitted family sees them."""
    return (np.asarray(X, dtype=np.float64) - sampler.center_) * sampler._scale


def log_second_moments(sampler, X, Y):
    """Per-pair ``log E[(f₁ f₂)²]`` of one feature of a fitted sampler."""
    return log_second_moment(
        sampler._params,
        kernel_units(sampler, X),
        kernel_units(sampler, Y),
        alpha=sampler._alpha,
    )
