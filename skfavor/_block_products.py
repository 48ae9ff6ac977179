"""The NumPy evaluation of a feature map, block by block (:ref:`math-families`).

:class:`BlockProducts` writes the log features ``[x − c, 1, q(x − c)] [W,
offset, 1]ᵀ`` of a block of rows straight into that block of the output, and
:func:`exponentiate` takes the exponential in place and counts the rows that
overflow or underflow. :class:`skfavor._feature_map.FeatureMap` shares the
blocks out (:func:`skfavor._blocks.plan_blocks`).
"""

from __future__ import annotations

import functools

import numpy as np
import scipy.sparse as sp
from sklearn.utils.extmath import row_norms, safe_sparse_dot


class BlockProducts:
    """The log features of blocks of rows, ``[x − c, 1, q(x − c)] [W, offset, 1]ᵀ``.

    Built by :meth:`FeatureMap._evaluate` from the map's cast ``terms``
    (``[W, offset, 1]ᵀ``, ``C``, center), its folded weights for sparse rows
    and its test of which sparse rows are near the center.

    Dense rows are shifted into a buffer of each thread's and multiplied by
    the augmented weights; sparse rows farther from the center than the
    origin keep their sparsity (the center is folded into the weights),
    nearer ones are densified and shifted (see :class:`FeatureMap`).
    """

    def __init__(self, terms, folded_T, near, X, n_block_rows: int):
        self.near = near
        self.sparse = sp.issparse(X)
        self.n_features = X.shape[1]
        self.dtype = X.dtype
        self.weights_T, self.C, self.center = terms
        if self.sparse:
            self.folded_weights_T = folded_T[: self.n_features]
            self.folded_offset = folded_T[self.n_features]
        # Rows of [x − c, 1, q(x − c)] at a time: a block's, or for sparse
        # rows as many as fill a block of the output, however wide the rows.
        self.shifted_rows = n_block_rows
        if self.sparse:
            n_components = self.weights_T.shape[1]
            self.shifted_rows = min(
                n_block_rows,
                max(1, n_block_rows * n_components // (self.n_features + 2)),
            )
        # A zero C leaves the q column at 0 for good.
        self.quadratic = not (np.ndim(self.C) == 0 and self.C == 0)

    @staticmethod
    def extra_bytes(terms, n_rows: int, n_features: int, itemsize: int) -> int:
        """Memory beyond its output that a block of ``n_rows`` dense rows needs.

        The row buffer ``[x − c, 1, q(x − c)]``, the row term's and the
        exponential's per-row vectors (with :func:`exponentiate`'s two of
        booleans and its vector of ones), numpy's buffers for ``x − c`` into
        the strided row buffer (16384 items) and the row term's temporary
        (:data:`_ROW_TERM_ROWS` rows, diagonal or full ``C``).
        """
        weights_T, C, center = terms
        extra = n_rows * ((n_features + 4) * itemsize + 2)
        extra += weights_T.shape[-1] * itemsize
        if center is not None:
            extra += 16384 * itemsize
        if np.ndim(C) > 0:
            extra += min(n_rows, _ROW_TERM_ROWS) * n_features * itemsize
        return extra

    def worker(self):
        """A function ``(rows_X, block)`` with its own row buffer (one per thread)."""
        augmented = np.empty((self.shifted_rows, self.n_features + 2), self.dtype)
        augmented[:, self.n_features] = 1.0
        augmented[:, self.n_features + 1] = 0.0

        def shifted(rows_X, block) -> None:
            for start in range(0, block.shape[0], self.shifted_rows):
                part = slice(start, start + self.shifted_rows)
                inputs = augmented[: block[part].shape[0]]
                rows = inputs[:, : self.n_features]
                if self.sparse:
                    _shifted_into(rows_X[part], self.center, rows)
                elif self.center is None:
                    rows[...] = rows_X[part]
                else:
                    np.subtract(rows_X[part], self.center, out=rows)
                if self.quadratic:
                    inputs[:, self.n_features + 1] = row_term(rows, self.C)
                np.matmul(inputs, self.weights_T, out=block[part])

        if not self.sparse:
            return shifted
        return functools.partial(self._sparse_product, shifted)

    def _sparse_product(self, shifted, rows_X, block) -> None:
        near = None if self.center is None else self.near(rows_X)
        if near is None or not near.any():
            self._folded(rows_X, block)
        elif near.all():
            shifted(rows_X, block)
        else:
            for rows, product in ((~near, self._folded), (near, shifted)):
                part = np.empty((rows.sum(), block.shape[1]), self.dtype)
                product(rows_X[rows], part)
                block[rows] = part

    def _folded(self, rows_X, block) -> None:
        np.add(rows_X @ self.folded_weights_T, self.folded_offset, out=block)
        block += row_term(rows_X, self.C)[:, None]


def exponentiate(block: np.ndarray) -> tuple[int, int]:
    """``exp`` of a block in place; its numbers of overflowing and all-zero rows.

    The rows are told apart by their sums, one matrix-vector product (a
    fraction of the cost of a per-row maximum): a row of non-negative
    features sums to 0 exactly when all of them are 0, and to a finite
    number when none is inf or NaN. Only rows whose sum is not finite (a
    sum can overflow where no feature does) are checked feature by feature.
    """
    with np.errstate(over="ignore"):
        np.exp(block, out=block)
        sums = block @ np.ones(block.shape[1], dtype=block.dtype)
    suspect = ~np.isfinite(sums)
    n_overflow = 0
    if suspect.any():
        top = block[suspect].max(axis=1)
        n_overflow = int(np.count_nonzero(~np.isfinite(top)))
    return n_overflow, int(np.count_nonzero(sums == 0))


def _shifted_into(X, center: np.ndarray, out: np.ndarray) -> None:
    """``out = X − center`` for CSR rows ``X``, as the dense subtraction rounds it.

    ``−c + x`` rounds as ``x − c`` does, so the result is the one of a dense
    ``X``; the zeros are never made into an array of their own. ``X`` holds
    no duplicate entries (:class:`~skfavor._feature_map.FeatureMap` sums them
    before any block).
    """
    np.negative(center, out=out)
    rows = np.repeat(np.arange(X.shape[0]), np.diff(X.indptr))
    out[rows, X.indices] += X.data


#: Dense rows at a time in a diagonal or full ``C``'s row term
#: (:func:`row_term`), so that its temporary (``x ∘ x`` or ``x C``) is not the
#: size of a whole block, while each product by ``C`` still has rows enough
#: to run at BLAS speed.
_ROW_TERM_ROWS = 256


def row_term(X, C) -> np.ndarray:
    """``xᵀ C x`` for each row of ``X``, with ``C`` a scalar, diagonal or matrix.

    Dense rows need no temporary of their size: a diagonal or full ``C``
    takes :data:`_ROW_TERM_ROWS` rows at a time.
    """
    if np.ndim(C) == 0:
        if sp.issparse(X):
            return row_norms(X, squared=True) * C
        # einsum directly: row_norms costs more than the sum for a small block.
        squares = np.einsum("ij,ij->i", X, X)
        squares *= C
        return squares
    if sp.issparse(X):
        if C.ndim == 1:
            return np.asarray(X.multiply(X) @ C).ravel()
        XC = safe_sparse_dot(X, C)
        return np.asarray(X.multiply(XC).sum(axis=1)).ravel()
    out = np.empty(X.shape[0], dtype=np.result_type(X, C))
    for start in range(0, X.shape[0], _ROW_TERM_ROWS):
        rows = X[start : start + _ROW_TERM_ROWS]
        part = out[start : start + _ROW_TERM_ROWS]
        if C.ndim == 1:
            np.matmul(rows * rows, C, out=part)
        else:
            np.einsum("ij,ij->i", rows @ C, rows, out=part)
    return out
