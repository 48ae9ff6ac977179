"""Centred, mergeable data statistics: all that any closed form needs.

A set of rows is summarised by its count ``n``, its mean ``μ`` and its centred
scatter ``S = Σ (x − μ)(x − μ)ᵀ`` (:ref:`math-statistics`). Unlike raw sums
(``Σx``, ``XᵀX``), these keep every digit when the mean dwarfs the spread, and
two sets merge exactly (Chan, Golub and LeVeque), so chunked, streamed and
distributed fits equal the fit on all rows up to rounding.

The arrays may carry leading batch dimensions and live in any array-API
namespace: the samplers keep float64 NumPy statistics on the host, attention
keeps one set per sequence and head on the inputs' device.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ._namespace import device as array_device
from ._namespace import get_namespace

#: Rows per block when the statistics of a large NumPy or sparse input are
#: taken block by block (each block two-pass, then merged): bounds the float64
#: copy of the centred rows.
_BLOCK_ROWS = 2**15


@dataclass(frozen=True)
class SampleStatistics:
    """Count, mean and centred scatter of a set of rows (:ref:`math-statistics`).

    Parameters
    ----------
    n_samples : float or array of shape batch_shape
        Number (or total weight) of rows seen.
    mean : array of shape (*batch_shape, n_features)
        Mean row ``μ``.
    scatter : array of shape (*batch_shape, n_features, n_features)
        Centred scatter ``S = Σ (x − μ)(x − μ)ᵀ``.

    Notes
    -----
    ``a + b`` merges the statistics of two disjoint sets exactly:
    ``n = n_a + n_b``, ``δ = μ_b − μ_a``, ``μ = μ_a + δ n_b / n`` and
    ``S = S_a + S_b + δδᵀ n_a n_b / n``.
    """

    n_samples: object
    mean: object
    scatter: object

    @classmethod
    def from_array(cls, X, *, mask=None) -> SampleStatistics:
        """Statistics of the rows of ``X``, each set computed in two passes.

        Parameters
        ----------
        X : {array, sparse matrix} of shape (*batch_shape, n_rows, n_features)
            Rows of one set per batch index, in any array-API namespace. NumPy
            and sparse inputs (2-D) give float64 NumPy statistics, taken in
            blocks of rows (sparse blocks are densified one at a time).
        mask : array of shape (*batch_shape, n_rows), default=None
            Rows to count (``True``) or leave out; ``None`` counts every row.

        Returns
        -------
        SampleStatistics
        """
        if sp.issparse(X) or (
            isinstance(X, np.ndarray) and X.ndim == 2 and mask is None
        ):
            return cls._from_host_rows(X)
        xp = get_namespace(X)
        if mask is None:
            n = xp.asarray(float(X.shape[-2]), dtype=X.dtype, device=array_device(X))
            n = xp.broadcast_to(n, X.shape[:-2])
            mean = xp.mean(X, axis=-2)
            centred = X - mean[..., None, :]
            return cls(n, mean, xp.matrix_transpose(centred) @ centred)
        # Rows left out are replaced, not multiplied, by 0: they may hold NaN.
        n = xp.sum(xp.astype(mask, X.dtype), axis=-1)
        safe_n = xp.where(n > 0, n, xp.ones_like(n))
        zeros = xp.zeros_like(X)
        mean = xp.sum(xp.where(mask[..., None], X, zeros), axis=-2) / safe_n[..., None]
        centred = xp.where(mask[..., None], X - mean[..., None, :], zeros)
        return cls(n, mean, xp.matrix_transpose(centred) @ centred)

    @classmethod
    def _from_host_rows(cls, X) -> SampleStatistics:
        """Float64 NumPy statistics of a 2-D NumPy array or sparse matrix."""
        n_rows, n_features = X.shape
        total = None
        # Overflow shows as inf in the statistics, which the estimators report.
        with np.errstate(over="ignore", invalid="ignore"):
            for start in range(0, max(n_rows, 1), _BLOCK_ROWS):
                block = X[start : start + _BLOCK_ROWS]
                block = block.toarray() if sp.issparse(block) else block
                block = np.asarray(block, dtype=np.float64)
                if block.shape[0] == 0:
                    part = cls(0, np.zeros(n_features), np.zeros((n_features,) * 2))
                else:
                    mean = block.mean(axis=0)
                    centred = block - mean
                    part = cls(block.shape[0], mean, centred.T @ centred)
                total = part if total is None else total + part
        return total

    def __add__(self, other: SampleStatistics) -> SampleStatistics:
        if not isinstance(other, SampleStatistics):
            return NotImplemented
        return self.merged(other)

    def merged(self, other: SampleStatistics, *, weight=None) -> SampleStatistics:
        """Exact merge with ``other`` (Chan, Golub and LeVeque).

        Parameters
        ----------
        other : SampleStatistics
            Statistics of a disjoint set of rows.
        weight : float, default=None
            If given, the statistics of the mixture that gives ``other``
            the weight ``weight`` and ``self`` the weight ``1 − weight``
            (an exponential moving average of the means and second moments,
            :ref:`math-attention-model`), with a total count of 1.

        Returns
        -------
        SampleStatistics
        """
        n_a, n_b = self.n_samples, other.n_samples
        scatter_a, scatter_b = self.scatter, other.scatter
        if weight is not None:
            scatter_a = scatter_a * ((1.0 - weight) / _expand(_positive(n_a), 2))
            scatter_b = scatter_b * (weight / _expand(_positive(n_b), 2))
            n_a, n_b = 1.0 - weight, weight
        n = n_a + n_b
        ratio = _expand(n_b / _positive(n), 1)
        delta = other.mean - self.mean
        mean = self.mean + delta * ratio
        factor = _expand(n_a * n_b / _positive(n), 2)
        scatter = scatter_a + scatter_b + _outer(delta, delta) * factor
        return SampleStatistics(n, mean, scatter)

    @property
    def covariance(self):
        """Centred second moment ``S / n``."""
        return self.scatter / _expand(_positive(self.n_samples), 2)

    def second_moment(self, center=None):
        """Second moment about ``center``: ``S / n + (μ − c)(μ − c)ᵀ``.

        Parameters
        ----------
        center : array of shape (*batch_shape, n_features), default=None
            The origin ``c``; ``None`` is 0 (the uncentred ``XᵀX / n``).
        """
        offset = self.mean if center is None else self.mean - center
        return self.covariance + _outer(offset, offset)

    def shifted(self, center) -> SampleStatistics:
        """Statistics of the rows minus ``center`` (the scatter is unchanged)."""
        return SampleStatistics(self.n_samples, self.mean - center, self.scatter)

    def scaled(self, scale) -> SampleStatistics:
        """Statistics of the rows multiplied by ``scale`` (the kernel bandwidth)."""
        return SampleStatistics(
            self.n_samples, self.mean * scale, self.scatter * scale**2
        )

    def entry_variance(self) -> float:
        """Variance of all entries of the rows, as ``X.var()`` (``gamma='scale'``).

        ``(tr S / n + Σ_j (μ_j − μ̄)²) / d`` with ``μ̄`` the mean of the means.
        """
        xp = get_namespace(self.mean)
        trace = xp.sum(xp.linalg.diagonal(self.covariance), axis=-1)
        return entry_variance(self.mean, trace)


def entry_variance(mean, trace):
    """``(trace + Σ_j (μ_j − μ̄)²) / d``: the variance of all entries of the rows.

    ``trace`` is that of the covariance, ``mean`` the column means (last axis
    of length ``d``); ``X.var()`` for ``gamma='scale'``.
    """
    xp = get_namespace(mean)
    spread = xp.sum((mean - xp.mean(mean, axis=-1, keepdims=True)) ** 2, axis=-1)
    return (trace + spread) / mean.shape[-1]


def column_moments(X) -> tuple[float, np.ndarray, np.ndarray]:
    """Count, column means and centred column sums of squares of a 2-D ``X``.

    The diagonal of :class:`SampleStatistics` without the ``d × d`` scatter,
    for maps that need no more (a NumPy array or sparse matrix of any width).
    Float64, taken in blocks of rows merged exactly (:ref:`math-statistics`):
    two passes per dense block; a sparse block uses ``Σ x² − n μ²`` on its
    stored entries, as ``X.var()`` of scikit-learn's ``RBFSampler`` does.

    Returns
    -------
    n_samples : float
    mean : ndarray of shape (n_features,)
    squares : ndarray of shape (n_features,)
        ``Σ_i (x_ij − μ_j)²`` for each column ``j``.
    """
    n_rows, n_features = X.shape
    n, mean, squares = 0.0, np.zeros(n_features), np.zeros(n_features)
    with np.errstate(over="ignore", invalid="ignore"):
        for start in range(0, n_rows, _BLOCK_ROWS):
            block = X[start : start + _BLOCK_ROWS]
            n_block = float(block.shape[0])
            if sp.issparse(block):
                block = block.astype(np.float64)
                block_mean = np.asarray(block.sum(axis=0)).ravel() / n_block
                raw = np.asarray(block.multiply(block).sum(axis=0)).ravel()
                block_squares = np.maximum(raw - n_block * block_mean**2, 0.0)
            else:
                block = np.asarray(block, dtype=np.float64)
                block_mean = block.mean(axis=0)
                block_squares = ((block - block_mean) ** 2).sum(axis=0)
            total = n + n_block
            delta = block_mean - mean
            squares = squares + block_squares + delta**2 * (n * n_block / total)
            mean = mean + delta * (n_block / total)
            n = total
    return n, mean, squares


def cross_second_moment(queries: SampleStatistics, keys: SampleStatistics):
    """Mean of ``(x + y)(x + y)ᵀ`` over all query/key pairs (``MXY``).

    ``MXY = CX + CY + (μX + μY)(μX + μY)ᵀ`` with ``C`` the covariances, equal to
    ``MX + MY + μX μYᵀ + μY μXᵀ`` of :ref:`math-estimators` without its
    cancellation.
    """
    total = queries.mean + keys.mean
    return queries.covariance + keys.covariance + _outer(total, total)


def _outer(u, v):
    """Batched outer product ``u vᵀ`` of (..., d) arrays."""
    return u[..., :, None] * v[..., None, :]


def _positive(n):
    """``n`` with zeros replaced by ones (an empty set has zero scatter)."""
    if isinstance(n, int | float):
        return n if n > 0 else 1
    xp = get_namespace(n)
    return xp.where(n > 0, n, xp.ones_like(n))


def _expand(values, n_dims: int):
    """Append ``n_dims`` unit axes to a batch-shaped array (scalars pass)."""
    if isinstance(values, int | float) or getattr(values, "ndim", 0) == 0:
        return values
    return values[(..., *([None] * n_dims))]
