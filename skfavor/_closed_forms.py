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

from ._feature_map import FrameParameters, frame_root
from ._matrix_functions import SpectralFunction, floored, symmetric_functions
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


def a_star_derivative(phi):
    """``da*/dφ = −(2 + (4φ + 6) / √((2φ + 1)² + 8φ)) / 16`` for ``φ > 0``, else 0.

    Zero where :func:`a_star` clamps ``φ`` at 0 (:ref:`math-estimators`).
    """
    xp = get_namespace(phi)
    positive = phi > 0
    phi = xp.where(positive, phi, xp.zeros_like(phi))
    root = xp.sqrt((2.0 * phi + 1.0) ** 2 + 8.0 * phi)
    slope = -(2.0 + (4.0 * phi + 6.0) / root) / 16.0
    return xp.where(positive, slope, xp.zeros_like(phi))


def _of_a_star(function, derivative):
    """``f(a*(λ))`` as a :class:`SpectralFunction` of ``λ`` (chain rule)."""
    return SpectralFunction(
        lambda values: function(a_star(values)),
        lambda values: derivative(a_star(values)) * a_star_derivative(values),
    )


#: ``S = (I − 4A)^½`` of SDERF as a function of ``MXY``.
_SDERF_FUNCTIONS = (_of_a_star(frame_root, lambda a: -2.0 / frame_root(a)),)


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
    through the matrix function ``S = (I − 4A)^½``, ``A = Q diag(a*(λ)) Qᵀ``
    (``root_matrix``, returned as such), and the sum ``Σ_l log(1 − 4a_l)``
    over the eigenvalues: repeated eigenvalues (whose eigenvectors are
    arbitrary) give the same features, and gradients that hold there.
    """
    xp = get_namespace(queries.mean)
    eigenvalues, Q, (S,) = symmetric_functions(
        cross_second_moment(queries, keys), _SDERF_FUNCTIONS
    )
    return FrameParameters(
        a=a_star(eigenvalues),
        frame=xp.matrix_transpose(Q),
        root_matrix=S,
    )


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


#: Functions of ``MX``, ``MY`` and ``N = MX^½ MY MX^½`` in ADERF.
_ROOTS = (
    SpectralFunction(lambda v: v**0.5, lambda v: 0.5 * v**-0.5),
    SpectralFunction(lambda v: v**-0.5, lambda v: -0.5 * v**-1.5),
)
_FOURTH_ROOTS = (
    SpectralFunction(lambda v: v**0.25, lambda v: 0.25 * v**-0.75),
    SpectralFunction(lambda v: v**-0.25, lambda v: -0.25 * v**-1.25),
)


def aderf_parameters(queries: SampleStatistics, keys: SampleStatistics):
    """ADERF (:ref:`math-families`), in a canonical frame.

    With ``A = MX^½`` and ``B = MY^½`` (eigenvalues floored,
    :ref:`math-numerics`) and the singular value decomposition
    ``A B = U Σ Vᵀ``, the recipe's pair ``Σ^½ Uᵀ Λ₁^-½ Q₁ᵀ``, ``Σ^½ Vᵀ Λ₂^-½
    Q₂ᵀ`` rotated by ``U`` on both sides (which leaves the estimator's law
    and its variance unchanged) is ``T₁ = U Σ^½ Uᵀ A⁻¹`` for queries and
    ``T₂ = U Σ^½ Vᵀ B⁻¹ = U Σ^-½ Uᵀ A`` for keys. As ``U Σ² Uᵀ = A B² A``,

    ``T₁ = N^¼ A⁻¹`` and ``T₂ = N^-¼ A``, with ``N = A B² A = MX^½ MY MX^½``:

    ``T₁ᵀT₂ = I`` and ``T₁ MX T₁ᵀ = T₂ MY T₂ᵀ = N^½``. Every factor is a
    function of a symmetric matrix (``N^±¼`` of the Gram matrix ``N = (A
    B)(A B)ᵀ``, from the singular values of ``A B``, which keep the precision
    that ``N``'s eigenvalues would lose),
    :func:`~skfavor._matrix_functions.symmetric_functions`: unchanged by the
    basis that a solver picks for repeated eigen- or singular values
    (near-constant columns) and by the signs of singular vectors, so
    statistics equal up to rounding give features equal up to rounding, with
    gradients that hold at repeated eigenvalues. The floors keep ``N``'s
    eigenvalues above ``EIGENVALUE_FLOOR²`` times its largest; they are
    floored at half that, against rounding only. ``a = a*(2 (tr Σ + μXᵀμY)
    / d)``.
    """
    xp = get_namespace(queries.mean)
    _, _, (root_x, inverse_root_x) = symmetric_functions(
        _symmetrised(queries.second_moment(), xp), _ROOTS, floor=EIGENVALUE_FLOOR
    )
    _, _, (root_y,) = symmetric_functions(
        _symmetrised(keys.second_moment(), xp), _ROOTS[:1], floor=EIGENVALUE_FLOOR
    )
    # N = C Cᵀ is of order |C|²: its (floored) eigenvalues reach subnormals
    # where |C| < 1e-148 and 0 below 1e-162, and T₁ came out 1/|C|^½ too
    # large. Such a C is taken as C / c, c = max |C|, with N^±¼ = c^±½ (N /
    # c²)^±¼, an identity in C for any c (its gradient is exact too); c = 1
    # elsewhere keeps every other fit bit for bit.
    C = root_x @ root_y
    c = xp.max(xp.abs(C), axis=(-2, -1), keepdims=True)
    c = xp.where(c < 1e-100, c, xp.ones_like(c))
    _, _, (quarter, inverse_quarter) = symmetric_functions(
        C / c, _FOURTH_ROOTS, floor=0.5 * EIGENVALUE_FLOOR**2, gram=True
    )
    T_query = (xp.sqrt(c) * quarter) @ inverse_root_x
    T_key = (inverse_quarter / xp.sqrt(c)) @ root_x
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
    diag_x = floored(xp.linalg.diagonal(queries.second_moment()), EIGENVALUE_FLOOR, xp)
    diag_y = floored(xp.linalg.diagonal(keys.second_moment()), EIGENVALUE_FLOOR, xp)
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
