"""Functions of symmetric matrices, with a backward that holds at repeated eigenvalues.

``F(M) = Q diag(f(λ)) Qᵀ`` with ``eigh(M) = Q diag(λ) Qᵀ`` is a smooth function
of ``M`` wherever ``f`` is smooth, repeated eigenvalues included, although
``Q`` is not: ``torch.linalg.eigh``'s backward divides by ``λ_i − λ_j`` and
gives NaN at a tie. For PyTorch tensors that require a gradient,
:func:`symmetric_functions` differentiates ``F`` itself
(:mod:`skfavor._torch_matrix_functions`, reached through the torch
namespace), by the Daleckii–Krein formula (:ref:`math-numerics`)

    dF = Q (Γ ∘ (Qᵀ dM Q)) Qᵀ,   Γ_ij = (f(λ_i) − f(λ_j)) / (λ_i − λ_j),

with ``Γ_ij = f'(λ)`` where ``λ_i`` and ``λ_j`` are equal or too close for the
division. The forward is the same array-API code in every namespace.
Functions of a Gram matrix ``C Cᵀ`` are taken from the SVD of ``C``
(``gram=True``), whose singular values keep the relative precision that the
eigenvalues of ``C Cᵀ`` would lose to the squaring.
"""

from __future__ import annotations

from typing import NamedTuple

from ._namespace import get_namespace


class SpectralFunction(NamedTuple):
    """A scalar function ``f`` applied to eigenvalues, and its derivative ``f'``.

    Both take and return arrays of eigenvalues; ``derivative`` is read only
    by the backward of :func:`symmetric_functions`.
    """

    value: object
    derivative: object


def floored(values, floor, xp):
    """``max(λ, floor · max λ)`` along the last axis; all ones where ``max λ ≤ 0``.

    The relative floor of singular second moments (:ref:`math-numerics`);
    ``floor=None`` returns ``values``.
    """
    if floor is None:
        return values
    top = xp.max(values, axis=-1, keepdims=True)
    return xp.where(top > 0, xp.maximum(values, floor * top), xp.ones_like(values))


def eigen_functions(values, vectors, functions, xp):
    """``Q diag(f(values)) Qᵀ`` for each ``f`` of ``functions`` (callables)."""
    vectors_t = xp.matrix_transpose(vectors)
    return [(vectors * f(values)[..., None, :]) @ vectors_t for f in functions]


def symmetric_functions(M, functions, *, floor=None, gram=False):
    """Eigen-decomposition and matrix functions of a batch of symmetric ``M``.

    Parameters
    ----------
    M : array of shape (..., d, d)
        Symmetric matrices (``eigh`` reads one triangle), any array-API
        namespace.
    functions : sequence of SpectralFunction
        The ``f`` of each matrix function.
    floor : float or None, default=None
        Relative floor of the eigenvalues (:func:`floored`) before ``f``.
    gram : bool, default=False
        ``M`` is a square factor ``C`` and the functions are those of ``C
        Cᵀ``: its eigenvalues are the squared singular values of ``C``, in
        descending order, and its eigenvectors ``C``'s left singular vectors.

    Returns
    -------
    eigenvalues : array of shape (..., d)
        The eigenvalues of ``M`` (ascending) or ``C Cᵀ``, unfloored. Their
        gradient is ``eigh``'s, ``Q diag(dL/dλ) Qᵀ``: exact, ties included,
        for symmetric functions of them (``Σ_l g(λ_l)``), not for one
        eigenvalue of a repeated pair.
    vectors : array of shape (..., d, d)
        The eigenvectors ``Q`` (columns); constants to autograd.
    matrices : list of arrays of shape (..., d, d)
        ``Q diag(f(floored λ)) Qᵀ`` for each function, differentiable in
        ``M`` (by the Daleckii–Krein formula) when ``M`` is a tensor that
        requires a gradient.
    """
    xp = get_namespace(M)
    if hasattr(xp, "symmetric_functions"):
        return xp.symmetric_functions(M, tuple(functions), floor, gram)
    return evaluate(M, functions, floor, gram)


def evaluate(M, functions, floor, gram=False):
    """:func:`symmetric_functions` without its backward (any namespace)."""
    xp = get_namespace(M)
    if gram:
        vectors, singular_values, _ = xp.linalg.svd(M, full_matrices=False)
        eigenvalues = singular_values**2
    else:
        eigenvalues, vectors = xp.linalg.eigh(M)
    values = floored(eigenvalues, floor, xp)
    matrices = eigen_functions(values, vectors, [f.value for f in functions], xp)
    return eigenvalues, vectors, matrices
