"""Test helpers: exact kernels and the MATH.md §2 objective of a fitted sampler."""

import tracemalloc
from dataclasses import replace

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
    return (np.asarray(X, dtype=np.float64) - sampler.center_) * sampler.kernel_scale_


def log_second_moments(sampler, X, Y):
    """Per-pair ``log E[(f₁ f₂)²]`` of one feature of a fitted sampler."""
    return log_second_moment(
        sampler.family_parameters_,
        kernel_units(sampler, X),
        kernel_units(sampler, Y),
        alpha=sampler.norm_coefficient_,
    )


def translated(feature_map, shift):
    """``feature_map`` with its center moved by ``shift``: ``φ(x − c − shift)``.

    A map fitted near the origin and translated is what a correctly fitted
    Gaussian-kernel map far from the origin is (the kernel is translation
    invariant), without depending on the fit's own accuracy there.
    """
    return replace(feature_map, center=feature_map.center + shift)


def log_feature_tolerance(feature_map, X, dtype):
    """Bound on how far two evaluations of ``log φ(x − c)`` exact to rounding differ.

    Evaluated in ``dtype`` (machine epsilon ``ε``) with the rows shifted first,
    ``u = x − c`` is rounded relative to itself and the log feature
    ``u·W_k + offset_k + uᵀCu`` is a dot product of ``d + 2`` terms whose
    magnitudes sum to at most ``|offset_k| + |u||W_k| + ‖C‖|u|²``, so it is off
    by at most ``(d + 3) ε`` times that (the ``γ_n`` bound of a dot product, the
    shift's rounding included). An evaluation that folds a center ``c`` with
    ``|c| ≤ |u|`` into the weights and the offset sums terms of at most
    ``|offset_k| + 3|u||W_k| + 9‖C‖|u|²`` (``|x| ≤ 2|u|``). Two such
    evaluations differ by at most twice the larger bound.
    """
    X = np.asarray(X.toarray() if hasattr(X, "toarray") else X, dtype=np.float64)
    U = X if feature_map.center is None else X - feature_map.center
    u = np.linalg.norm(U, axis=1)[:, None]
    C = np.asarray(feature_map.quadratic, dtype=np.float64)
    C_norm = np.abs(C).max() if C.ndim < 2 else np.linalg.norm(C, 2)
    W_norm = np.linalg.norm(feature_map.weights, axis=1)[None, :]
    magnitude = np.abs(feature_map.offset)[None, :] + 3 * u * W_norm + 9 * C_norm * u**2
    return 2 * (X.shape[1] + 3) * np.finfo(dtype).eps * magnitude


def assert_within(actual, desired, tolerance):
    """``|actual − desired| ≤ tolerance`` entrywise, reporting the worst ratio."""
    excess = np.abs(np.asarray(actual, np.float64) - desired) / tolerance
    worst = np.unravel_index(np.argmax(excess), excess.shape)
    assert excess[worst] <= 1.0, (
        f"|Δ| is {excess[worst]:.3g} times the tolerance at {worst}: "
        f"{actual[worst]!r} against {desired[worst]!r}"
    )


def int16_memmap(path, n_samples, n_features, seed):
    """A read-only int16 memmap of integers in [-50, 50) saved at ``path``.

    Data larger than memory is often integers on disk: the tests that check
    it is converted block by block, not copied whole, read it from here.
    """
    rng = np.random.default_rng(seed)
    shape = (n_samples, n_features)
    X = np.lib.format.open_memmap(path, "w+", np.int16, shape)
    X[:] = rng.integers(-50, 50, size=shape)
    X.flush()
    return np.load(path, mmap_mode="r")


def traced_peak(function):
    """``function()`` and the peak bytes that tracemalloc saw while it ran."""
    tracemalloc.start()
    try:
        result = function()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return result, peak
