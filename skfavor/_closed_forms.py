"""Closed-form optimal parameters of each family, as pure functions of statistics.

Each function takes the statistics of the query and key sets **in kernel units**
(already multiplied by the bandwidth scale, :ref:`math-kernels`) and returns the
family's
:class:`~skfavor._feature_map.FrameParameters`. The objective they minimise is
the mean over query/key pairs of the log second moment of one random feature
(:ref:`math-estimators`).
"""

from __future__ import annotations

import numpy as np
from sklearn.utils.extmath import svd_flip

from ._feature_map import FrameParameters
from ._statistics import SampleStatistics, cross_second_moment

#: Relative floor of eigenvalues and diagonals of singular second moments
#: (:ref:`math-numerics`, marked [choice] there).
EIGENVALUE_FLOOR = 1e-6


def a_star(phi):
    """Minimiser ``a*(φ)`` of the one-dimensional GERF objective.

    See :ref:`math-estimators`.

    ``a*(φ) = (1 − 2φ − √((2φ + 1)² + 8φ)) / 16``, written without a division
    by ``φ`` so that ``a*(0) = 0`` exactly. Always ``≤ 0`` for ``φ ≥ 0``.

    Parameters
    ----------
    phi : float or ndarray
        Non-negative statistic (a normalised trace or an eigenvalue).

    Returns
    -------
    float or ndarray
        ``a*`` of each ``phi``.
    """
    phi = np.maximum(np.asarray(phi, dtype=np.float64), 0.0)
    return (1.0 - 2.0 * phi - np.sqrt((2.0 * phi + 1.0) ** 2 + 8.0 * phi)) / 16.0


def posrf_parameters(queries: SampleStatistics, keys: SampleStatistics):
    """PosRF / FAVOR+ (:ref:`math-families`): ``a = 0``, identity transforms."""
    return FrameParameters(a=np.zeros(queries.sum.shape[0]))


def gerf_parameters(queries: SampleStatistics, keys: SampleStatistics):
    """GERF / OPRF (:ref:`math-families`): ``a = a*((tr MX + tr MY + 2 μXᵀμY) / d)``."""
    d = queries.sum.shape[0]
    phi = np.trace(cross_second_moment(queries, keys)) / d
    return FrameParameters(a=np.full(d, a_star(phi)))


def sderf_parameters(queries: SampleStatistics, keys: SampleStatistics):
    """SDERF (:ref:`math-families`): ``eigh(MXY) = Q diag(λ) Qᵀ``, ``a_l = a*(λ_l)``.

    The frame is ``R = Qᵀ`` (``ω' = Qᵀ ω``) and both inputs are rotated by it
    alone, so the map stays symmetric.
    """
    eigenvalues, Q = np.linalg.eigh(cross_second_moment(queries, keys))
    return FrameParameters(a=a_star(eigenvalues), frame=Q.T)


def _floored(values: np.ndarray) -> np.ndarray:
    """Floor non-negative ``values`` at ``EIGENVALUE_FLOOR · max``.

    See :ref:`math-numerics`.
    """
    top = float(np.max(values, initial=0.0))
    if top <= 0.0:
        return np.ones_like(values)
    return np.maximum(values, EIGENVALUE_FLOOR * top)


def _asymmetric_a(queries, keys, T_query, T_key) -> np.ndarray:
    """Optimal shared ``a`` for GERF on ``T_query x`` and ``T_key y``.

    ``φ = (tr(T₁ MX T₁ᵀ) + tr(T₂ MY T₂ᵀ) + 2 μXᵀ T₁ᵀT₂ μY) / d`` with
    ``T₁ᵀT₂ = I``; on nonsingular statistics this is :ref:`math-families`'s
    ``2 (tr Σ + μXᵀμY) / d`` (ADERF) and ``2 (Σ √(MX_ll MY_ll) + μXᵀμY) / d``
    (SADERF), and with floored statistics it is still the exact optimum for the
    transforms actually used.
    """
    d = queries.sum.shape[0]

    def transformed_trace(stats, T):
        if T.ndim == 1:
            return float(np.diag(stats.second_moment) @ T**2)
        return float(np.sum((T @ stats.second_moment) * T))

    phi = (
        transformed_trace(queries, T_query)
        + transformed_trace(keys, T_key)
        + 2.0 * float(queries.mean @ keys.mean)
    ) / d
    return np.full(d, a_star(phi))


def aderf_parameters(queries: SampleStatistics, keys: SampleStatistics):
    """ADERF (:ref:`math-families`, steps 1–4).

    1. ``MX = Q₁Λ₁Q₁ᵀ``, ``MY = Q₂Λ₂Q₂ᵀ`` (eigenvalues floored, :ref:`math-numerics`).
    2. ``Λ₁^½ Q₁ᵀ Q₂ Λ₂^½ = U Σ Vᵀ``.
    3. ``T₁ = Σ^½ Uᵀ Λ₁^-½ Q₁ᵀ``, ``T₂ = Σ^½ Vᵀ Λ₂^-½ Q₂ᵀ``, so ``T₁ᵀT₂ = I``.
    4. ``a = a*(2 (tr Σ + μXᵀμY) / d)``.
    """
    lam_x, Q_x = np.linalg.eigh(queries.second_moment)
    lam_y, Q_y = np.linalg.eigh(keys.second_moment)
    root_x = np.sqrt(_floored(lam_x))
    root_y = np.sqrt(_floored(lam_y))
    U, sigma, Vt = np.linalg.svd((root_x[:, None] * (Q_x.T @ Q_y)) * root_y)
    # Each pair of singular vectors is defined up to a common sign, which leaves
    # T₁ᵀT₂ = I but changes the features of a given ω: fix it, so that
    # statistics equal up to rounding give the same features.
    U, Vt = svd_flip(U, Vt)
    root_sigma = np.sqrt(sigma)[:, None]
    T_query = root_sigma * (U.T / root_x) @ Q_x.T
    T_key = root_sigma * (Vt / root_y) @ Q_y.T
    return FrameParameters(
        a=_asymmetric_a(queries, keys, T_query, T_key),
        query_transform=T_query,
        key_transform=T_key,
    )


def saderf_parameters(queries: SampleStatistics, keys: SampleStatistics):
    """SADERF (:ref:`math-families`): ``Ψ = diag(ψ)``, ``ψ_l = ((MY)_ll / (MX)_ll)^¼``.

    Queries are mapped by ``Ψ``, keys by ``Ψ⁻¹``; zero diagonals are floored
    (:ref:`math-numerics`).
    """
    diag_x = _floored(np.diag(queries.second_moment).copy())
    diag_y = _floored(np.diag(keys.second_moment).copy())
    psi = (diag_y / diag_x) ** 0.25
    return FrameParameters(
        a=_asymmetric_a(queries, keys, psi, 1.0 / psi),
        query_transform=psi,
        key_transform=1.0 / psi,
    )


FAMILIES = {
    "posrf": posrf_parameters,
    "gerf": gerf_parameters,
    "sderf": sderf_parameters,
    "aderf": aderf_parameters,
    "saderf": saderf_parameters,
}
