"""The one feature map that every positive family compiles to (:ref:`math-families`).

A family is described in the frame form of :ref:`math-families`,

    log f(ω, z) = ¼ Σ_l log(1 − 4a_l) + Σ_l a_l ω'_l² + Σ_l √(1 − 4a_l) ω'_l s_l
                  − ½ |s|² + α |z|²,

with ``ω' = R ω`` (an orthonormal frame, ω' is again N(0, I)), ``s = T R z`` the
transformed input of one side, ``z = scale · x`` the input in kernel units
(:ref:`math-kernels`) and ``α = -½`` for the Gaussian kernel, ``0`` for the softmax
kernel. :func:`compile_feature_map` folds the frame, ``T`` and ``√(1 − 4a)``
into one weight matrix, so that evaluating the map is one matrix product, a
per-feature offset, a per-row quadratic term and one exponential.
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
import sys
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from joblib import cpu_count
from sklearn import get_config
from sklearn.utils._array_api import _is_numpy_namespace, get_namespace_and_device
from sklearn.utils.extmath import row_norms, safe_sparse_dot
from threadpoolctl import ThreadpoolController

from ._namespace import device as array_device
from ._namespace import get_namespace


@dataclass(frozen=True)
class FrameParameters:
    """Parameters of a positive family in the frame form of :ref:`math-families`.

    Arrays may carry leading batch dimensions (one family per sequence and
    head in attention) and live in any array-API namespace.

    Parameters
    ----------
    a : array of shape (*batch_shape, n_features)
        The ``a_l`` of each frame direction, all ``≤ 0``.
    frame : array of shape (*batch_shape, n_features, n_features) or None
        Orthonormal ``R`` with ``ω' = R ω``; ``None`` is the identity.
    query_transform, key_transform : array or None
        ``T`` of each side, applied in the frame: ``None`` is the identity,
        an array shaped like ``a`` a diagonal matrix, one with one more
        dimension a full matrix. For an unbiased estimator
        ``T_queryᵀ T_key = I``.
    """

    a: object
    frame: object = None
    query_transform: object = None
    key_transform: object = None

    @property
    def symmetric(self) -> bool:
        """Whether queries and keys share one map (no side transform)."""
        return self.query_transform is None and self.key_transform is None

    def side_transform(self, side: str):
        """``T`` of ``side`` ('query' or 'key')."""
        return self.query_transform if side == "query" else self.key_transform

    def is_diagonal(self, T) -> bool:
        """Whether the transform ``T`` is stored as its diagonal (a vector)."""
        return T.ndim == self.a.ndim

    def transformed_input(self, Z, side: str):
        """``s = T R z`` for each row ``z`` of the (scaled, dense) ``Z``."""
        xp = get_namespace(Z)
        S = Z if self.frame is None else Z @ xp.matrix_transpose(self.frame)
        T = self.side_transform(side)
        if T is None:
            return S
        if self.is_diagonal(T):
            return S * T[..., None, :] if T.ndim > 1 else S * T
        return S @ xp.matrix_transpose(T)


@dataclass(frozen=True)
class FeatureMap:
    """``φ(x) = exp(x Wᵀ + offset + q(x))``, evaluated in row blocks.

    See :ref:`math-families` and :ref:`math-numerics`.

    Parameters
    ----------
    weights : ndarray of shape (n_components, n_features)
        Effective weights ``W_eff`` acting on the raw input.
    offset : ndarray of shape (n_components,)
        Per-feature log offset, ``−½ log M`` included.
    quadratic : float or ndarray
        The per-row term ``q(x) = xᵀ C x``: a float ``c`` means ``C = c I``, a
        1-D array a diagonal ``C``, a 2-D array a full ``C``.
    center : ndarray of shape (n_features,) or None, default=None
        Origin ``c`` at which the map is evaluated: ``φ(x − c)``. Rows are
        shifted before the product, which keeps float32 exact far from the
        origin. Sparse rows farther from the center than the origin is
        (``|x − c| ≥ |c|``) stay sparse: the shift is folded into the weights
        and the offset instead (``(x − c) Wᵀ + (x − c)ᵀC(x − c) = x (W −
        2Cc)ᵀ + xᵀCx − c Wᵀ + cᵀCc``, :ref:`§8 <math-statistics>`).

    Notes
    -----
    Evaluation appends ``1`` and ``q(x)`` to each input row and the offset and
    ``1`` to each weight row, so that one product ``[x, 1, q(x)] [W, offset,
    1]ᵀ`` gives the log features of a block of rows, written straight into
    that block of the output and exponentiated in place: the only full-size
    array is the output, and no broadcast adds are made (their speed depends
    on how the operands happen to be aligned).
    Blocks are shared out to threads (BLAS and numpy's ufuncs release the
    GIL) with BLAS held to one thread meanwhile. Each output row depends on
    its input row alone, so the result does not depend on the blocks or the
    number of threads beyond rounding.

    The fold sums terms as large as ``|x|`` and ``|c|``, where the shifted
    product's are as large as ``|x − c|``: in a dtype of machine epsilon
    ``ε``, the log feature of a shifted row is off by at most about ``(d + 3)
    ε (|offset_k| + |x − c||W_k| + ‖C‖|x − c|²)``, and a folded row's terms are
    bounded by the same expression with ``|x| + |c|`` for ``|x − c|``. Rows
    with ``|c| ≤ |x − c|`` have ``|x| + |c| ≤ 3 |x − c|``, so their fold is
    exact to rounding (at most 9 times that bound); rows nearer the center,
    where the fold would cancel (a float32 row near 10⁴ loses every digit),
    are densified block by block into the shifted product's buffer and
    shifted. The test ``|x|² < 2 x·c`` is made in float64 from the sparse
    entries alone; it errs only where ``|x − c| ≈ |c|``, where either way is
    exact.
    """

    weights: np.ndarray
    offset: np.ndarray
    quadratic: float | np.ndarray
    center: np.ndarray | None = None
    _cast: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    def __getstate__(self) -> dict:
        # The casts are rebuilt on first use rather than pickled.
        return {**self.__dict__, "_cast": {}}

    @property
    def _centered(self) -> bool:
        """Whether the map has a nonzero center."""
        return self.center is not None and bool(np.any(self.center))

    def _folded(self) -> tuple[np.ndarray, np.ndarray]:
        """Weights and offset with the center folded in (for sparse rows)."""
        c, C = self.center, self.quadratic
        if not self._centered:
            return self.weights, self.offset
        C_c = C @ c if np.ndim(C) == 2 else C * c
        return self.weights - 2.0 * C_c, self.offset - self.weights @ c + c @ C_c

    def _near(self, X) -> np.ndarray:
        """Which sparse rows are nearer the center than the origin is.

        ``|x − c| < |c|`` is ``|x|² < 2 x·c``; these rows are shifted rather
        than folded (see the Notes).
        """
        X = X.astype(np.float64, copy=False)
        return row_norms(X, squared=True) < 2.0 * (X @ self.center)

    def _terms(self, dtype: np.dtype, sparse: bool = False):
        """``[W, offset, 1]ᵀ``, ``C`` and the center in ``dtype``, cached.

        For sparse rows the center is folded into ``W`` and the offset, and
        the returned center is None.
        """
        key = (dtype, sparse)
        terms = self._cast.get(key)
        if terms is None:
            weights, offset = self._folded() if sparse else (self.weights, self.offset)
            n_components, n_features = weights.shape
            augmented = np.empty((n_components, n_features + 2), dtype=dtype)
            augmented[:, :n_features] = weights
            augmented[:, n_features] = offset
            augmented[:, n_features + 1] = 1.0
            C = self.quadratic
            center = None if sparse or not self._centered else self.center
            terms = (
                augmented.T,
                dtype.type(C) if np.ndim(C) == 0 else C.astype(dtype, copy=False),
                None if center is None else center.astype(dtype),
            )
            self._cast[key] = terms
        return terms

    def row_term(self, X) -> np.ndarray:
        """``q(x − c)`` for each row of ``X`` (dense or sparse), in ``X``'s dtype."""
        X = _floating(X)
        _, C, center = self._terms(X.dtype)
        if sp.issparse(X):
            X = X.toarray()
        return _row_term(X if center is None else X - center, C)

    def log_features(self, X, *, n_threads: int | None = None) -> np.ndarray:
        """Logarithm of the features of each row of ``X`` (dense or sparse).

        Parameters
        ----------
        X : {ndarray, sparse matrix} of shape (n_samples, n_features)
            Rows in float32 or float64; the result has their dtype.
        n_threads : int, default=None
            Threads to use; ``None`` uses as many as BLAS may (see
            :meth:`transform`).

        Returns
        -------
        ndarray of shape (n_samples, n_components)
            ``x Wᵀ + offset + q(x)`` of each row.
        """
        out, _, _ = self._evaluate(X, finish=None, n_threads=n_threads)
        return out

    def evaluate(self, X, finish, *, n_threads: int | None = None) -> np.ndarray:
        """``finish`` applied in place to the log features, block by block.

        The product of each block of rows is written into its block of the
        output and handed to ``finish`` while it is still in the cache, so an
        element-wise function of ``x Wᵀ + offset + q(x)`` (the cosines of
        :class:`~skfavor.FourierSampler`) costs no full-size temporary.

        Parameters
        ----------
        X : {ndarray, sparse matrix} of shape (n_samples, n_features)
            Rows in float32 or float64; the result has their dtype.
        finish : callable
            ``finish(block)`` rewrites a C-contiguous block of rows of the
            output in place; it is called from several threads at once (on
            different blocks).
        n_threads : int, default=None
            Threads, as in :meth:`transform`.

        Returns
        -------
        ndarray of shape (n_samples, n_components)
        """

        def apply(block):
            finish(block)
            return 0, 0

        out, _, _ = self._evaluate(X, finish=apply, n_threads=n_threads, compact=True)
        return out

    def transform(self, X, *, n_threads: int | None = None) -> np.ndarray:
        """Features of each row of ``X``; warns or raises on over/underflow.

        Parameters
        ----------
        X : {ndarray, sparse matrix} of shape (n_samples, n_features)
            Rows in float32 or float64; the result has their dtype.
        n_threads : int, default=None
            Threads that evaluate blocks of rows. ``None`` uses as many as
            BLAS may use now (so ``threadpoolctl.threadpool_limits`` and the
            limits joblib sets in its workers apply), at most the number of
            CPUs. Rows are cut in blocks of at most
            ``sklearn.get_config()['working_memory']`` MiB and of a few hundred
            KiB, so that each block stays in the cache between the product and
            the exponential.

        Returns
        -------
        ndarray of shape (n_samples, n_components)
            The positive features.

        Raises
        ------
        FloatingPointError
            If a feature overflows to inf (:ref:`math-numerics`).

        Warns
        -----
        UnderflowWarning
            If all the features of some rows underflow to 0 (:ref:`math-numerics`).
        """
        xp, is_array_api, device = get_namespace_and_device(X)
        if is_array_api and not _is_numpy_namespace(xp):
            out, n_overflow, n_underflow = self._evaluate_namespace(X, xp, device)
            single = X.dtype == xp.float32
        else:
            out, n_overflow, n_underflow = self._evaluate(
                X, finish=_exponentiate, n_threads=n_threads
            )
            single = X.dtype == np.float32
        n_samples = X.shape[0]
        advice = "scale the inputs down or lower gamma" + (
            ", or pass float64 inputs" if single else ""
        )
        if n_overflow:
            raise FloatingPointError(
                f"The random features overflow to inf in {X.dtype} for "
                f"{n_overflow} of {n_samples} input rows: the inputs are too large "
                f"for this kernel; {advice}."
            )
        if n_underflow:
            warnings.warn(
                f"The random features of {n_underflow} of {n_samples} rows all "
                f"underflow to 0 in {X.dtype}, so their kernel estimates are 0: the "
                f"inputs are too large for this kernel; {advice}.",
                UnderflowWarning,
                stacklevel=_caller_stacklevel(),
            )
        return out

    def _evaluate_namespace(self, X, xp, device):
        """The map in another array namespace (array API), on ``X``'s device.

        The terms are moved once per namespace, device and dtype, as a
        :class:`StackedFeatureMap` of one map; the work is left to the library
        (one product, one exponential), without the row blocks and threads of
        the NumPy path.
        """
        key = (xp.__name__, str(device), str(X.dtype))
        terms = self._cast.get(key)
        if terms is None:
            stacked = StackedFeatureMap.from_maps([self], xp, X.dtype, device)
            center = self.center
            if center is not None:
                center = xp.asarray(center, dtype=X.dtype, device=device)
            terms = self._cast[key] = (stacked, center)
        stacked, center = terms
        Z = X if center is None else X - center
        out = xp.exp(stacked.log_features(Z[None, ...], xp)[0, ...])
        top = xp.max(out, axis=1)
        n_overflow = int(xp.sum(xp.astype(~xp.isfinite(top), xp.int32)))
        n_underflow = int(xp.sum(xp.astype(top == 0, xp.int32)))
        return out, n_overflow, n_underflow

    def _evaluate(self, X, *, finish, n_threads: int | None, compact: bool = False):
        """Fill the output block by block, ``finish`` each block in place.

        ``finish(block)`` returns the block's numbers of overflowing and
        all-zero rows, which are summed; ``None`` leaves the log features.
        ``compact`` bounds the row buffers by the output rather than the
        block size.
        """
        X = _floating(X)
        sparse = sp.issparse(X)
        if sparse:
            X = X.tocsr()
        n_samples, n_features = X.shape
        augmented_weights_T, C, center = self._terms(X.dtype)
        if sparse:
            folded_T = self._terms(X.dtype, sparse=True)[0]
            folded_weights_T = folded_T[:n_features]
            folded_offset = folded_T[n_features]
        out = np.empty((n_samples, augmented_weights_T.shape[1]), dtype=X.dtype)
        if n_threads is None:
            n_threads = _default_threads()
        n_block_rows = rows_per_block(out.strides[0], n_samples, n_threads)
        # A plain generator: sklearn's gen_batches validates its arguments,
        # which costs as much as the product of a small input.
        blocks = (
            slice(start, min(start + n_block_rows, n_samples))
            for start in range(0, n_samples, n_block_rows)
        )
        n_blocks = -(-n_samples // n_block_rows)
        n_threads = max(1, min(n_threads, n_blocks // _MIN_BLOCKS_PER_THREAD))
        lock = threading.Lock()
        counts = [0, 0]

        # Rows of [x − c, 1, q(x − c)] at a time: a block's, or for sparse rows
        # as many as fill a block of the output, however wide the rows.
        shifted_rows = n_block_rows
        if compact:
            # Dense rows too in parts of at most a sixteenth of the block's
            # output bytes, so that the threads' buffers stay a few per cent
            # of the output however wide the rows. Not for the exponential
            # maps: a product of fewer rows can round differently, and their
            # features are kept bit for bit.
            shifted_rows = min(
                n_block_rows,
                max(
                    _MIN_SHIFTED_ROWS,
                    n_block_rows * out.shape[1] // (_INPUT_SHARE * n_features),
                ),
            )
        if sparse:
            shifted_rows = min(
                shifted_rows,
                max(1, n_block_rows * out.shape[1] // (n_features + 2)),
            )

        # A zero C (the Fourier map's) leaves the q column at 0 for good.
        quadratic = not (np.ndim(C) == 0 and C == 0)

        def work() -> None:
            # Each thread's [x − c, 1, q(x − c)] rows.
            augmented = np.empty((shifted_rows, n_features + 2), dtype=X.dtype)
            augmented[:, n_features] = 1.0
            augmented[:, n_features + 1] = 0.0

            def shifted_product(rows_X, block) -> None:
                for start in range(0, block.shape[0], shifted_rows):
                    part = slice(start, start + shifted_rows)
                    inputs = augmented[: block[part].shape[0]]
                    shifted = inputs[:, :n_features]
                    if sparse:
                        _shifted_into(rows_X[part], center, shifted)
                    elif center is None:
                        shifted[...] = rows_X[part]
                    else:
                        np.subtract(rows_X[part], center, out=shifted)
                    if quadratic:
                        inputs[:, n_features + 1] = _row_term(shifted, C)
                    np.matmul(inputs, augmented_weights_T, out=block[part])

            def folded_product(rows_X, block) -> None:
                np.add(rows_X @ folded_weights_T, folded_offset, out=block)
                block += _row_term(rows_X, C)[:, None]

            n_overflow = n_underflow = 0
            with np.errstate(over="ignore"):
                while True:
                    # Blocks are handed out one at a time rather than split up
                    # front, so that a thread slowed down by other processes on
                    # a shared machine takes fewer of them.
                    with lock:
                        rows = next(blocks, None)
                    if rows is None:
                        break
                    block = out[rows]
                    if not sparse:
                        shifted_product(X[rows], block)
                    else:
                        rows_X = X[rows]
                        near = None if center is None else self._near(rows_X)
                        if near is None or not near.any():
                            folded_product(rows_X, block)
                        elif near.all():
                            shifted_product(rows_X, block)
                        else:
                            far = ~near
                            part = np.empty((far.sum(), block.shape[1]), X.dtype)
                            folded_product(rows_X[far], part)
                            block[far] = part
                            part = np.empty((near.sum(), block.shape[1]), X.dtype)
                            shifted_product(rows_X[near], part)
                            block[near] = part
                    if finish is not None:
                        block_overflow, block_underflow = finish(block)
                        n_overflow += block_overflow
                        n_underflow += block_underflow
            with lock:
                counts[0] += n_overflow
                counts[1] += n_underflow

        if n_blocks == 1:
            work()
        else:
            # BLAS gets one thread per block whatever the number of our own
            # threads, so that the blocks' products, and so the results, do
            # not depend on it.
            with _single_threaded_blas():
                if n_threads <= 1:
                    work()
                else:
                    pool = _pool(n_threads - 1)
                    helpers = [pool.submit(work) for _ in range(n_threads - 1)]
                    work()
                    # A helper that has not started by now would find no block
                    # left: cancel it rather than wait for a busy machine to
                    # schedule its thread.
                    for helper in helpers:
                        if not helper.cancel():
                            helper.result()
        return out, counts[0], counts[1]


@dataclass(frozen=True)
class StackedFeatureMap:
    """Several uncentred maps of one shape, evaluated together in any namespace.

    ``log φ_b(x) = x W_bᵀ + offset_b + q_b(x)`` (:ref:`math-families`) for a stack of
    maps ``b`` (attention fits one per batch element and head), with
    ``weights`` of shape (B, M, d), ``offset`` (B, M) and ``quadratic`` the
    ``C_b`` of ``q_b(x) = xᵀ C_b x``: shape (B,) for ``c I``, (B, d) for a
    diagonal, (B, d, d) for a full matrix. ``B`` may be any number of batch
    dimensions. Arrays are of the inputs' namespace.
    """

    weights: object
    offset: object
    quadratic: object

    @classmethod
    def from_maps(cls, maps, xp, dtype, device) -> StackedFeatureMap:
        """Stack :class:`FeatureMap` objects (without center) into ``xp`` arrays."""
        fields = zip(
            *((m.weights, m.offset, np.asarray(m.quadratic)) for m in maps),
            strict=True,
        )
        return cls(
            *(xp.asarray(np.stack(f), dtype=dtype, device=device) for f in fields)
        )

    def log_features(self, X, xp):
        """Log features of the rows of ``X`` of shape (..., n, d): (..., n, M).

        The leading dimensions of ``X`` broadcast against the maps' batch
        dimensions (attention evaluates one map per head on a batch of
        sequences).
        """
        return (
            X @ xp.matrix_transpose(self.weights)
            + self.offset[..., None, :]
            + self.row_term(X, xp)[..., None]
        )

    def row_term(self, X, xp):
        """``q(x) = xᵀ C x`` of the rows of ``X`` (..., n, d): (..., n).

        Of the batch shape of ``X`` and of the maps broadcast together.
        """
        C = self.quadratic
        kind = C.ndim - (self.weights.ndim - 2)
        if kind == 0:
            return C[..., None] * xp.sum(X * X, axis=-1)
        if kind == 1:
            return xp.sum(X * X * C[..., None, :], axis=-1)
        return xp.sum((X @ C) * X, axis=-1)


def _exponentiate(block: np.ndarray) -> tuple[int, int]:
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


_POOLS: dict[int, tuple[int, ThreadPoolExecutor]] = {}
_POOLS_LOCK = threading.Lock()


def _pool(n_workers: int) -> ThreadPoolExecutor:
    """Helper threads for transforms, at least ``n_workers``, kept for reuse.

    Starting threads in each call cost about as much as a transform of a
    thousand rows. A helper only takes blocks while any are left, so helpers
    that wait behind another transform's find none and return. The pool is
    kept per process id (a forked child does not inherit the threads) and
    replaced by a larger one when a call asks for more helpers.
    """
    pid = os.getpid()
    with _POOLS_LOCK:
        size, pool = _POOLS.get(pid, (0, None))
        if size < n_workers:
            if pool is not None:
                pool.shutdown(wait=False)
            size = max(n_workers, _n_cpus() - 1)
            pool = ThreadPoolExecutor(size, thread_name_prefix="skfavor")
            _POOLS.clear()
            _POOLS[pid] = (size, pool)
        return pool


def _shifted_into(X, center: np.ndarray, out: np.ndarray) -> None:
    """``out = X − center`` for CSR rows ``X``, as the dense subtraction rounds it.

    ``−c + x`` rounds as ``x − c`` does, so the result is the one of a dense
    ``X``; the zeros are never made into an array of their own.
    """
    if not X.has_canonical_format:
        X = X.copy()
        X.sum_duplicates()
    np.negative(center, out=out)
    rows = np.repeat(np.arange(X.shape[0]), np.diff(X.indptr))
    out[rows, X.indices] += X.data


def _floating(X):
    """``X`` itself if float32 or float64, else ``X`` in float64."""
    if X.dtype in (np.float32, np.float64):
        return X
    return X.astype(np.float64)


def _row_term(X, C) -> np.ndarray:
    """``xᵀ C x`` for each row of ``X``, with ``C`` a scalar, diagonal or matrix."""
    if np.ndim(C) == 0:
        if sp.issparse(X):
            return row_norms(X, squared=True) * C
        # einsum directly: row_norms costs more than the sum for a small block.
        squares = np.einsum("ij,ij->i", X, X)
        squares *= C
        return squares
    if C.ndim == 1:
        if sp.issparse(X):
            return np.asarray(X.multiply(X) @ C).ravel()
        return (X * X) @ C
    XC = safe_sparse_dot(X, C)
    if sp.issparse(X):
        return np.asarray(X.multiply(XC).sum(axis=1)).ravel()
    return np.einsum("ij,ij->i", XC, X)


#: Most bytes of output per block. BLAS packs the whole weight matrix again for
#: each block's product, so blocks of few rows waste time when n_features is
#: large: on 2 cores, (5000, 784, 4096) took 1.6 times as long with 1 MiB
#: blocks as with 4 to 16 MiB ones, and no shape measured gained from blocks
#: small enough to stay in a core's cache.
_BLOCK_BYTES = 2**23

#: Fewest bytes per block, so that mid-sized outputs are still shared out.
_MIN_BLOCK_BYTES = 2**17

#: In compact evaluation, the row buffer is at most 1/_INPUT_SHARE of a block.
_INPUT_SHARE = 16

#: Fewest rows of one product: fewer would pay BLAS's packing of the weights
#: too often.
_MIN_SHIFTED_ROWS = 32

#: Fewest blocks per thread, for a thread to pay for its start and for the
#: blocks to even out the threads' loads.
_MIN_BLOCKS_PER_THREAD = 4


def rows_per_block(row_bytes: int, n_rows: int, n_threads: int) -> int:
    """Rows per block: within ``working_memory``, enough blocks for the threads.

    The package's one block-size policy: blocks of ``_MIN_BLOCK_BYTES`` to
    ``_BLOCK_BYTES``, at least ``_MIN_BLOCKS_PER_THREAD`` per thread where the
    rows allow, never over scikit-learn's ``working_memory``.
    """
    target = row_bytes * n_rows // (_MIN_BLOCKS_PER_THREAD * max(n_threads, 1))
    target = min(max(target, _MIN_BLOCK_BYTES), _BLOCK_BYTES)
    budget = min(get_config()["working_memory"] * 2**20, target)
    return int(min(max(budget // max(row_bytes, 1), 1), max(n_rows, 1)))


@functools.cache
def _blas_controller() -> ThreadpoolController:
    """One controller for the process: finding the libraries is the slow part."""
    return ThreadpoolController()


@functools.cache
def _n_cpus() -> int:
    """CPUs this process may use (affinity and cgroup quotas included)."""
    return cpu_count()


def _blas_num_threads() -> int | None:
    """Threads BLAS may use now (the most of its libraries), None without BLAS."""
    blas = [
        lib.num_threads
        for lib in _blas_controller().lib_controllers
        if lib.user_api == "blas"
    ]
    return max(blas) if blas else None


class _BlasHold:
    """BLAS held to one thread while transforms share blocks among threads.

    BLAS's number of threads belongs to the process, and a threadpoolctl
    limit restores on leaving what it found on entering: overlapping limits
    (transforms from several threads, or joblib's threading backend) would
    restore one another's 1 and leave BLAS on one thread for good. So only
    a transform that starts while no other holds BLAS sets the limit, and it
    lifts it as it leaves, from its own thread (threadpoolctl 3.8 and later
    let only the thread that set OpenBLAS's limit change it); transforms that
    start meanwhile run inside that hold for as long as it lasts, and on
    BLAS's own threads after it, which changes their results only by
    rounding. Holds never overlap, so each finds and restores the process's
    own setting.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held = False
        self._threads_before: int | None = None

    @contextlib.contextmanager
    def __call__(self):
        limiter = None
        with self._lock:
            if not self._held:
                self._threads_before = _blas_num_threads()
                limiter = _blas_controller().limit(limits=1, user_api="blas")
                limiter.__enter__()
                self._held = True
        try:
            yield
        finally:
            if limiter is not None:
                with self._lock:
                    limiter.__exit__(None, None, None)
                    self._held = False
                    self._threads_before = None

    def threads_outside(self) -> int | None:
        """Threads BLAS may use outside a hold (None without BLAS)."""
        with self._lock:
            return self._threads_before if self._held else _blas_num_threads()


_single_threaded_blas = _BlasHold()


def _default_threads() -> int:
    """Threads BLAS may use, at most the CPUs available to this process.

    A transform's own hold on BLAS (:class:`_BlasHold`) is not the user's
    limit: while one holds, the number from before it counts.
    """
    blas = _single_threaded_blas.threads_outside()
    return min(blas, _n_cpus()) if blas else _n_cpus()


def _caller_stacklevel() -> int:
    """Stack level of the first frame outside skfavor and scikit-learn.

    ``transform`` is reached through scikit-learn's set_output wrapper or
    skfavor's own methods; the warning should point at the user's line.
    """
    frame, level = sys._getframe(1), 1
    while frame is not None and frame.f_globals.get("__name__", "").split(".")[0] in (
        "skfavor",
        "sklearn",
    ):
        frame, level = frame.f_back, level + 1
    return level


class UnderflowWarning(RuntimeWarning):
    """Some rows' random features all underflowed to zero."""


def compile_terms(omega, params: FrameParameters, *, scale, alpha, side="query"):
    """Fold a family's parameters into ``W_eff``, an offset and ``C``.

    The one computation of :ref:`math-families` that every family compiles to.

    Written once against the array API, batched over the leading dimensions
    of ``params``: the samplers call it on float64 NumPy arrays, attention on
    one family per sequence and head on the inputs' device.

    Parameters
    ----------
    omega : array of shape (n_components, n_features)
        The raw Gaussian draws ``ω`` (marginally N(0, I)), shared by the batch.
    params : FrameParameters
        The family's parameters, of batch shape ``params.a.shape[:-1]``.
    scale : float
        ``z = scale · x`` maps raw inputs to kernel units (:ref:`math-kernels`).
    alpha : float
        ``-0.5`` for the Gaussian kernel, ``0`` for the softmax kernel.
    side : {'query', 'key'}
        Which side's input transform to use.

    Returns
    -------
    weights : array of shape (*batch_shape, n_components, n_features)
        ``W_eff = scale · Ω Rᵀ diag(√(1 − 4a)) T R``.
    offset : array of shape (*batch_shape, n_components)
        ``¼ Σ log(1 − 4a) + Σ a_l ω'_l² − ½ log M``.
    quadratic : array
        ``C`` of the row term ``xᵀ C x = scale² (α |x|² − ½ |T R x|²)``: of
        shape batch_shape for ``c I``, (*batch_shape, n_features) for a
        diagonal, (*batch_shape, n_features, n_features) for a full matrix.
    """
    a = params.a
    xp = get_namespace(a)
    n_components, n_features = omega.shape
    frame = params.frame
    omega_frame = omega if frame is None else omega @ xp.matrix_transpose(frame)
    root = xp.sqrt(1.0 - 4.0 * a)
    offset = (
        0.25 * xp.sum(xp.log1p(-4.0 * a), axis=-1)[..., None]
        + xp.sum(omega_frame**2 * a[..., None, :], axis=-1)
        - 0.5 * math.log(n_components)
    )
    T = params.side_transform(side)
    if T is None:
        weights = omega_frame * root[..., None, :]
        quadratic = xp.zeros_like(a[..., 0]) + scale**2 * (alpha - 0.5)
    elif params.is_diagonal(T) and frame is None:
        weights = omega_frame * (root * T)[..., None, :]
        quadratic = scale**2 * (alpha - 0.5 * T**2)
    else:
        T_full = _diagonal_matrix(T, xp) if params.is_diagonal(T) else T
        weights = (omega_frame * root[..., None, :]) @ T_full
        TR = T_full if frame is None else T_full @ frame
        eye = xp.eye(n_features, dtype=a.dtype, device=array_device(a))
        quadratic = scale**2 * (alpha * eye - 0.5 * xp.matrix_transpose(TR) @ TR)
    if frame is not None:
        weights = weights @ frame
    return scale * weights, offset, quadratic


def _diagonal_matrix(values, xp):
    """Batched ``diag(values)`` of a (..., d) array."""
    eye = xp.eye(values.shape[-1], dtype=values.dtype, device=array_device(values))
    return values[..., None, :] * eye


def compile_feature_map(
    omega: np.ndarray,
    params: FrameParameters,
    *,
    scale: float,
    alpha: float,
    center: np.ndarray | None = None,
    side: str = "query",
) -> FeatureMap:
    """One :class:`FeatureMap` of an unbatched NumPy family (:ref:`math-families`).

    Parameters
    ----------
    omega : ndarray of shape (n_components, n_features)
        The raw Gaussian draws ``ω`` (marginally N(0, I)).
    params : FrameParameters
        The family's parameters (float64 NumPy, no batch dimensions).
    scale : float
        ``z = scale · x`` maps raw inputs to kernel units (:ref:`math-kernels`).
    alpha : float
        ``-0.5`` for the Gaussian kernel, ``0`` for the softmax kernel.
    center : ndarray of shape (n_features,), default=None
        Raw-unit origin ``c`` of the map: it is evaluated at ``x − c`` (see
        :class:`FeatureMap`).
    side : {'query', 'key'}
        Which side's input transform to use.

    Returns
    -------
    FeatureMap
        The terms of :func:`compile_terms` with ``center``.
    """
    weights, offset, quadratic = compile_terms(
        omega, params, scale=scale, alpha=alpha, side=side
    )
    if np.ndim(quadratic) == 0:
        quadratic = float(quadratic)
    return FeatureMap(np.asarray(weights), np.asarray(offset), quadratic, center)
