"""Float64 data statistics: all that any closed form needs (:ref:`math-estimators`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp


@dataclass(frozen=True)
class SampleStatistics:
    """Count, sum and sum of outer products of a set of rows, in float64.

    The statistics are sums, so two sets' statistics add up to those of their
    union (``a + b``): this is what makes chunked and distributed fitting exact
    (:ref:`math-estimators`).

    Parameters
    ----------
    n_samples : int
        Number of rows seen.
    sum : ndarray of shape (n_features,)
        Sum of the rows.
    outer_sum : ndarray of shape (n_features, n_features)
        Sum of the outer products ``x xᵀ`` of the rows (``XᵀX``).
    """

    n_samples: int
    sum: np.ndarray
    outer_sum: np.ndarray

    @classmethod
    def from_array(cls, X) -> SampleStatistics:
        """Statistics of the rows of a dense array or a sparse matrix ``X``."""
        # Overflow shows as inf in the sums, which the estimators report.
        with np.errstate(over="ignore"):
            if sp.issparse(X):
                X = X.astype(np.float64)
                outer = (X.T @ X).toarray()
                total = np.asarray(X.sum(axis=0)).ravel()
            else:
                X = np.asarray(X, dtype=np.float64)
                outer = X.T @ X
                total = X.sum(axis=0)
        return cls(X.shape[0], total, outer)

    def __add__(self, other: SampleStatistics) -> SampleStatistics:
        if not isinstance(other, SampleStatistics):
            return NotImplemented
        return SampleStatistics(
            self.n_samples + other.n_samples,
            self.sum + other.sum,
            self.outer_sum + other.outer_sum,
        )

    @property
    def mean(self) -> np.ndarray:
        """Mean row ``μ``."""
        return self.sum / self.n_samples

    @property
    def second_moment(self) -> np.ndarray:
        """Uncentred second moment ``M = XᵀX / L``."""
        return self.outer_sum / self.n_samples

    def shifted(self, center: np.ndarray) -> SampleStatistics:
        """Statistics of the rows minus ``center``, from the sums alone."""
        n, total = self.n_samples, self.sum
        cross = np.outer(total, center)
        return SampleStatistics(
            n,
            total - n * center,
            self.outer_sum - cross - cross.T + n * np.outer(center, center),
        )

    def scaled(self, scale: float) -> SampleStatistics:
        """Statistics of the rows multiplied by ``scale`` (the kernel bandwidth)."""
        return SampleStatistics(
            self.n_samples, self.sum * scale, self.outer_sum * scale**2
        )


def cross_second_moment(
    queries: SampleStatistics, keys: SampleStatistics
) -> np.ndarray:
    """Mean of ``(x + y)(x + y)ᵀ`` over all query/key pairs (``MXY``).

    See :ref:`math-estimators`.

    ``MXY = MX + MY + μX μYᵀ + μY μXᵀ``.
    """
    mu_x, mu_y = queries.mean, keys.mean
    cross = np.outer(mu_x, mu_y)
    return queries.second_moment + keys.second_moment + cross + cross.T
