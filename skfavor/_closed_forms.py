"""Closed-form optimal parameters of each family, as pure functions of statistics.

Each function takes the statistics of the query and key sets **in kernel units**
(already multiplied by the bandwidth scale, :ref:`math-kernels`) and returns
the family's :class:`~skfavor._feature_map.FrameParameters`. The objective they
minimise is the mean over query/key pairs of the log second moment of one
random feature (:ref:`math-estimators`).

The functions are written once against the array API: the samplers call them
on float64 NumPy statistics on the host, attention on batches of statistics
(one per sequence and head, leading dimensions) in PyTorch on the inputs'
device. Batched eigen-decompositions replace every loop.
"""

from __future__ import annotations

import numpy as np

from ._feature_map import FrameParameters
from ._namespace import get_namespace, is_array
from ._statistics import SampleStatistics, cross_second_moment

#: Relative floor of eigenvalues and diagonals of singular second moments
#: (:ref:`math-numerics`, marked [choice] there).
EIGENVALUE_FLOOR = 1e-6


def a_star(phi):
    """Minimiser ``a*(φ)`` of the one-dimensional GERF objective.

    ``a*(φ) = (1 − 2φ − √((2φ + 1)² + 8φ)) / 16``, written without a division
    by ``φ`` so that ``a*(0) = 0`` exactly. Always ``≤ 0`` for ``φ ≥ 0``
    (:ref:`math-estimators`).

    Parameters
    ----------
    phi : float or array
        Non-negative statistic (a normalised trace or an eigenvalue); any
        array-API array, else it is taken as float64 NumPy.

    Returns
    -------
    float or array
        ``a*`` of each ``phi``, in ``phi``'s namespace.
    """
    if not is_array(phi):
        phi = np.asarray(phi, dtype=np.float64)
    xp = get_namespace(phi)
    phi = xp.where(phi > 0, phi, xp.zeros_like(phi))
    return (1.0 - 2.0 * phi - xp.sqrt((2.0 * phi + 1.0) ** 2 + 8.0 * phi)) / 16.0


def posrf_parameters(queries: SampleStatistics, keys: SampleStatistics):
    """PosRF / FAVOR+ (:ref:`math-families`): ``a = 0``, identity transforms."""
    xp = get_namespace(queries.mean)
    return FrameParameters(a=xp.zeros_like(queries.mean))


def gerf_parameters(queries: SampleStatistics, keys: SampleStatistics):
    """GERF / OPRF (:ref:`math-families`).

    ``a = a*((tr MX + tr MY + 2 μXᵀμY) / d)``, the trace of ``MXY`` over ``d``.
    """
    xp = get_namespace(queries.mean)
    d = queries.mean.shape[-1]
    phi = _trace(cross_second_moment(queries, keys), xp) / d
    return FrameParameters(a=xp.zeros_like(queries.mean) + a_star(phi)[..., None])


def sderf_parameters(queries: SampleStatistics, keys: SampleStatistics):
    """SDERF (:ref:`math-families`): ``eigh(MXY) = Q diag(λ) Qᵀ``, ``a_l = a*(λ_l)``.

    The frame is ``R = Qᵀ`` (``ω' = Qᵀ ω``) and both inputs are rotated by it
    alone, so the map stays symmetric. The features depend on ``Q`` only
    through ``Q diag(f(λ)) Qᵀ``, so repeated eigenvalues (whose eigenvectors
    are arbitrary) give the same features.
    """
    xp = get_namespace(queries.mean)
    eigenvalues, Q = xp.linalg.eigh(cross_second_moment(queries, keys))
    return FrameParameters(a=a_star(eigenvalues), frame=xp.matrix_transpose(Q))


def _floored(values, xp):
    """Floor non-negative ``values`` at ``EIGENVALUE_FLOOR · max`` (last axis).

    :ref:`math-numerics`; an all-zero set of values becomes all ones.
    """
    top = xp.max(values, axis=-1, keepdims=True)
    floored = xp.maximum(values, EIGENVALUE_FLOOR * top)
    return xp.where(top > 0, floored, xp.ones_like(values))


def _matrix_functions(M, functions, xp):
    """``Q diag(f(floored λ)) Qᵀ`` for each ``f``, with ``eigh(M) = Q diag(λ) Qᵀ``.

    Functions of the matrix, not of its eigenvectors: repeated (or floored)
    eigenvalues give the same result whatever basis ``eigh`` picks for them.
    """
    eigenvalues, Q = xp.linalg.eigh(M)
    values = _floored(eigenvalues, xp)
    Q_t = xp.matrix_transpose(Q)
    return [(Q * function(values)[..., None, :]) @ Q_t for function in functions]


def _symmetrised(M, xp):
    return 0.5 * (M + xp.matrix_transpose(M))


def _trace(M, xp):
    return xp.sum(xp.linalg.diagonal(M), axis=-1)


def _asymmetric_a(queries, keys, T_query, T_key, xp):
    """Optimal shared ``a`` for GERF on ``T_query x`` and ``T_key y``.

    ``φ = (tr(T₁ MX T₁ᵀ) + tr(T₂ MY T₂ᵀ) + 2 μXᵀ T₁ᵀT₂ μY) / d`` with
    ``T₁ᵀT₂ = I``; on nonsingular statistics this is :ref:`math-families`'
    ``2 (tr Σ + μXᵀμY) / d`` (ADERF) and ``2 (Σ √(MX_ll MY_ll) + μXᵀμY) / d``
    (SADERF), and with floored statistics it is still the exact optimum for
    the transforms actually used.
    """
    d = queries.mean.shape[-1]

    def transformed_trace(stats, T):
        M = stats.second_moment()
        if T.ndim == stats.mean.ndim:
            return xp.sum(xp.linalg.diagonal(M) * T**2, axis=-1)
        return xp.sum((T @ M) * T, axis=(-2, -1))

    phi = (
        transformed_trace(queries, T_query)
        + transformed_trace(keys, T_key)
        + 2.0 * xp.sum(queries.mean * keys.mean, axis=-1)
    ) / d
    return xp.zeros_like(queries.mean) + a_star(phi)[..., None]


def aderf_parameters(queries: SampleStatistics, keys: SampleStatistics):
    """ADERF (:ref:`math-families`), in a canonical frame.

    With ``A = MX^½`` and ``B = MY^½`` (eigenvalues floored,
    :ref:`math-numerics`) and the singular value decomposition
    ``A B = U Σ Vᵀ``:

    ``T₁ = U Σ^½ Uᵀ A⁻¹`` for queries and ``T₂ = U Σ^½ Vᵀ B⁻¹`` for keys.

    Then ``T₁ᵀT₂ = A⁻¹ (A B) B⁻¹ = I`` and ``T₁ MX T₁ᵀ = T₂ MY T₂ᵀ = U Σ Uᵀ``:
    this is the recipe's pair ``Σ^½ Uᵀ Λ₁^-½ Q₁ᵀ``, ``Σ^½ Vᵀ Λ₂^-½ Q₂ᵀ``
    rotated by one orthogonal matrix on both sides, which leaves the
    estimator's law and its variance unchanged. ``U Σ^½ Uᵀ``, ``U Σ^½ Vᵀ``,
    ``A`` and ``B`` are functions of their matrices, unchanged by the basis
    that a solver picks for repeated eigen- or singular values (near-constant
    columns) and by the signs of singular vectors: statistics equal up to
    rounding give features equal up to rounding. ``a = a*(2 (tr Σ + μXᵀμY) /
    d)``.
    """
    xp = get_namespace(queries.mean)
    roots = [lambda v: xp.sqrt(v), lambda v: 1.0 / xp.sqrt(v)]
    root_x, inverse_root_x = _matrix_functions(
        _symmetrised(queries.second_moment(), xp), roots, xp
    )
    root_y, inverse_root_y = _matrix_functions(
        _symmetrised(keys.second_moment(), xp), roots, xp
    )
    U, sigma, Vt = xp.linalg.svd(root_x @ root_y, full_matrices=False)
    U_half = U * xp.sqrt(sigma)[..., None, :]
    T_query = U_half @ xp.matrix_transpose(U) @ inverse_root_x
    T_key = U_half @ Vt @ inverse_root_y
    return FrameParameters(
        a=_asymmetric_a(queries, keys, T_query, T_key, xp),
        query_transform=T_query,
        key_transform=T_key,
    )


def saderf_parameters(queries: SampleStatistics, keys: SampleStatistics):
    """SADERF (:ref:`math-families`): ``Ψ = diag(ψ)``, ``ψ_l = (MY_ll / MX_ll)^¼``.

    Queries are mapped by ``Ψ``, keys by ``Ψ⁻¹``; zero diagonals are floored
    (:ref:`math-numerics`).
    """
    xp = get_namespace(queries.mean)
    diag_x = _floored(xp.linalg.diagonal(queries.second_moment()), xp)
    diag_y = _floored(xp.linalg.diagonal(keys.second_moment()), xp)
    psi = (diag_y / diag_x) ** 0.25
    return FrameParameters(
        a=_asymmetric_a(queries, keys, psi, 1.0 / psi, xp),
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
