"""The one feature map that every positive family compiles to (MATH.md §3).

A family is described in the frame form of MATH.md §3,

    log f(ω, z) = ¼ Σ_l log(1 − 4a_l) + Σ_l a_l ω'_l² + Σ_l √(1 − 4a_l) ω'_l s_l
                  − ½ |s|² + α |z|²,

with ``ω' = R ω`` (an orthonormal frame, ω' is again N(0, I)), ``s = T R z`` the
transformed input of one side, ``z = scale · x`` the input in kernel units
(MATH.md §1) and ``α = -½`` for the Gaussian kernel, ``0`` for the softmax
kernel. :func:`compile_feature_map` folds the frame, ``T`` and ``√(1 − 4a)``
into one weight matrix, so that evaluating the map is one matrix product, a
per-feature offset, a per-row quadratic term and one exponential.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from sklearn import get_config
from sklearn.utils import gen_batches
from sklearn.utils.extmath import row_norms, safe_sparse_dot


@dataclass(frozen=True)
class FrameParameters:
    """Parameters of a positive family in the frame form of MATH.md §3.

    Parameters
    ----------
    a : ndarray of shape (n_features,)
        The ``a_l`` of each frame direction, all ``≤ 0``.
    frame : ndarray of shape (n_features, n_features) or None
        Orthonormal ``R`` with ``ω' = R ω``; ``None`` is the identity.
    query_transform, key_transform : ndarray or None
        ``T`` of each side, applied in the frame: ``None`` is the identity,
        a 1-D array a diagonal matrix, a 2-D array a full matrix. For an
        unbiased estimator ``T_queryᵀ T_key = I``.
    """

    a: np.ndarray
    frame: np.ndarray | None = None
    query_transform: np.ndarray | None = None
    key_transform: np.ndarray | None = None

    @property
    def symmetric(self) -> bool:
        """Whether queries and keys share one map."""
        q, k = self.query_transform, self.key_transform
        if q is None or k is None:
            return q is None and k is None
        return q.shape == k.shape and np.array_equal(q, k)

    def side_transform(self, side: str) -> np.ndarray | None:
        """``T`` of ``side`` ('query' or 'key')."""
        return self.query_transform if side == "query" else self.key_transform

    def transformed_input(self, Z: np.ndarray, side: str) -> np.ndarray:
        """``s = T R z`` for each row ``z`` of the (scaled, dense) ``Z``."""
        S = Z if self.frame is None else Z @ self.frame.T
        T = self.side_transform(side)
        if T is None:
            return S
        if T.ndim == 1:
            return S * T
        return S @ T.T


@dataclass(frozen=True)
class FeatureMap:
    """``φ(x) = exp(x Wᵀ + offset + q(x))``, evaluated in row chunks.

    Parameters
    ----------
    weights : ndarray of shape (n_components, n_features)
        Effective weights ``W_eff`` acting on the raw input.
    offset : ndarray of shape (n_components,)
        Per-feature log offset, ``−½ log M`` included.
    quadratic : float or ndarray
        The per-row term ``q(x) = xᵀ C x``: a float ``c`` means ``C = c I``, a
        1-D array a diagonal ``C``, a 2-D array a full ``C``.
    """

    weights: np.ndarray
    offset: np.ndarray
    quadratic: float | np.ndarray

    def row_term(self, X) -> np.ndarray:
        """``q(x)`` for each row of ``X`` (dense or sparse), in ``X``'s dtype."""
        C = self.quadratic
        if np.ndim(C) == 0:
            return row_norms(X, squared=True) * X.dtype.type(C)
        C = C.astype(X.dtype, copy=False)
        if C.ndim == 1:
            if sp.issparse(X):
                return np.asarray(X.multiply(X) @ C).ravel()
            return (X * X) @ C
        XC = safe_sparse_dot(X, C)
        if sp.issparse(X):
            return np.asarray(X.multiply(XC).sum(axis=1)).ravel()
        return np.einsum("ij,ij->i", XC, X)

    def log_features(self, X) -> np.ndarray:
        """Logarithm of the features of each row of ``X``."""
        dtype = X.dtype
        out = safe_sparse_dot(X, self.weights.astype(dtype, copy=False).T)
        out = np.asarray(out)
        out += self.offset.astype(dtype, copy=False)
        out += self.row_term(X)[:, None]
        return out

    def transform(self, X) -> np.ndarray:
        """Features of each row of ``X``; warns or raises on over/underflow.

        The work is split in row chunks sized by scikit-learn's
        ``working_memory`` so that no temporary besides the output is of the
        output's size; each output row depends on its input row alone.
        """
        n_samples = X.shape[0]
        n_components = self.weights.shape[0]
        out = np.empty((n_samples, n_components), dtype=X.dtype)
        chunk = _chunk_rows(n_components * X.dtype.itemsize, n_samples)
        n_underflow = 0
        advice = "scale the inputs down or lower gamma" + (
            ", or pass float64 inputs" if X.dtype == np.float32 else ""
        )
        for rows in gen_batches(n_samples, chunk):
            block = self.log_features(X[rows])
            with np.errstate(over="ignore"):
                np.exp(block, out=block)
            top = block.max(axis=1, initial=-np.inf)
            if not np.all(np.isfinite(top)):
                raise FloatingPointError(
                    f"The random features overflow to inf in {X.dtype} for some "
                    f"input rows: the inputs are too large for this kernel; {advice}."
                )
            n_underflow += int(np.count_nonzero(top == 0))
            out[rows] = block
        if n_underflow:
            warnings.warn(
                f"The random features of {n_underflow} of {n_samples} rows all "
                f"underflow to 0 in {X.dtype}, so their kernel estimates are 0: the "
                f"inputs are too large for this kernel; {advice}.",
                UnderflowWarning,
                stacklevel=3,
            )
        return out


def _chunk_rows(row_bytes: int, n_rows: int) -> int:
    """Rows per chunk so that one chunk fits scikit-learn's ``working_memory``."""
    budget = get_config()["working_memory"] * 2**20
    return int(min(max(budget // max(row_bytes, 1), 1), max(n_rows, 1)))


class UnderflowWarning(RuntimeWarning):
    """Some rows' random features all underflowed to zero."""


def compile_feature_map(
    omega: np.ndarray,
    params: FrameParameters,
    *,
    scale: float,
    alpha: float,
    center: np.ndarray | None = None,
    side: str = "query",
) -> FeatureMap:
    """Fold a family's parameters into one :class:`FeatureMap` (MATH.md §3).

    Parameters
    ----------
    omega : ndarray of shape (n_components, n_features)
        The raw Gaussian draws ``ω`` (marginally N(0, I)).
    params : FrameParameters
        The family's parameters.
    scale : float
        ``z = scale · x`` maps raw inputs to kernel units (MATH.md §1).
    alpha : float
        ``-0.5`` for the Gaussian kernel, ``0`` for the softmax kernel.
    center : ndarray of shape (n_features,), default=None
        Raw-unit origin ``c`` of the map: it is evaluated at ``x − c``. The
        shift is folded into the weights and the offset, so sparse inputs stay
        sparse: ``(x − c) Wᵀ + (x − c)ᵀC(x − c) = x (W − 2 Cc)ᵀ + xᵀCx
        − c Wᵀ + cᵀCc``.
    side : {'query', 'key'}
        Which side's input transform to use.

    Returns
    -------
    FeatureMap
        ``W_eff = scale · Ω Rᵀ diag(√(1 − 4a)) T R``, offset
        ``¼ Σ log(1 − 4a) + Σ a_l ω'_l² − ½ log M`` and row term
        ``scale² (α |x|² − ½ |T R x|²)``.
    """
    n_components, n_features = omega.shape
    a = np.asarray(params.a, dtype=np.float64)
    frame = params.frame
    omega_frame = omega if frame is None else omega @ frame.T
    root = np.sqrt(1.0 - 4.0 * a)
    offset = (
        0.25 * np.sum(np.log1p(-4.0 * a))
        + (omega_frame**2) @ a
        - 0.5 * np.log(n_components)
    )
    T = params.side_transform(side)
    if T is None:
        weights = omega_frame * root
        quadratic = scale**2 * (alpha - 0.5)
    elif T.ndim == 1 and frame is None:
        weights = omega_frame * (root * T)
        quadratic = scale**2 * (alpha - 0.5 * T**2)
    else:
        T_full = np.diag(T) if T.ndim == 1 else T
        weights = (omega_frame * root) @ T_full
        TR = T_full if frame is None else T_full @ frame
        quadratic = scale**2 * (alpha * np.eye(n_features) - 0.5 * TR.T @ TR)
    if frame is not None:
        weights = weights @ frame
    weights = scale * weights
    if center is not None:
        C_center = quadratic @ center if np.ndim(quadratic) == 2 else quadratic * center
        offset = offset - weights @ center + center @ C_center
        weights = weights - 2.0 * C_center
    return FeatureMap(weights, offset, quadratic)
