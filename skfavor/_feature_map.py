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

import math
import sys
import warnings
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from sklearn.utils._array_api import _is_numpy_namespace, get_namespace_and_device
from sklearn.utils.extmath import row_norms

from ._block_products import BlockProducts, exponentiate
from ._block_products import row_term as _row_term
from ._blocks import plan_blocks, run_in_blocks
from ._matrix_functions import eigen_functions
from ._namespace import device as array_device
from ._namespace import get_namespace


def frame_root(a):
    """``√(1 − 4a)``, the scale of ``ω'`` in the frame form (:ref:`math-families`)."""
    return get_namespace(a).sqrt(1.0 - 4.0 * a)


def frame_log_root(a):
    """``log(1 − 4a)``, four times the log of the frame form's ``D`` per direction."""
    return get_namespace(a).log1p(-4.0 * a)


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
    root_matrix : array of shape (*batch_shape, n_features, n_features) or None
        ``S = Rᵀ diag(√(1 − 4a)) R = (I − 4A)^½`` with ``A = Rᵀ diag(a) R``,
        computed from ``a`` and ``frame`` when None. Without side transforms
        a family depends on its frame only through ``S`` (``ωᵀ A ω = ¼ (|ω|²
        − |S ω|²)``) and ``Σ_l log(1 − 4a_l)``, functions of ``A`` unchanged
        by the basis that an eigen-decomposition picks for repeated
        eigenvalues; a family whose frame comes from one gives ``S`` as a
        function of its matrix, so that gradients hold there
        (:func:`~skfavor._matrix_functions.symmetric_functions`).
    """

    a: object
    frame: object = None
    query_transform: object = None
    key_transform: object = None
    root_matrix: object = None

    def frame_root_matrix(self):
        """``S = Rᵀ diag(√(1 − 4a)) R`` of the frame (``root_matrix`` if given)."""
        if self.root_matrix is not None:
            return self.root_matrix
        xp = get_namespace(self.a)
        (root_matrix,) = eigen_functions(
            self.a, xp.matrix_transpose(self.frame), (frame_root,), xp
        )
        return root_matrix

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
    GIL) with BLAS held to one thread meanwhile, or, for short outputs and
    wide rows, run in the calling thread with BLAS's own threads
    (:func:`~skfavor._blocks.plan_blocks`). Each output row depends on its
    input row alone, so the result does not depend on the blocks or the
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
            Threads to use; ``None`` lets the block plan choose (see
            :meth:`transform`).

        Returns
        -------
        ndarray of shape (n_samples, n_components)
            ``x Wᵀ + offset + q(x)`` of each row.
        """
        out, _, _ = self._evaluate(X, finish=None, n_threads=n_threads)
        return out

    def transform(self, X, *, n_threads: int | None = None) -> np.ndarray:
        """Features of each row of ``X``; warns or raises on over/underflow.

        Parameters
        ----------
        X : {ndarray, sparse matrix} of shape (n_samples, n_features)
            Rows in float32 or float64; the result has their dtype.
        n_threads : int, default=None
            Threads that evaluate blocks of rows, BLAS held to one thread
            meanwhile. ``None`` lets :func:`~skfavor._blocks.plan_blocks`
            choose: up to as many threads as BLAS may use now (so
            ``threadpoolctl.threadpool_limits`` and the limits joblib sets in
            its workers apply), at most the number of CPUs and one per 2 MiB
            (float32) or 1 MiB (float64) of output; short transforms of wide
            dense rows, and short outputs of narrow maps, are evaluated in the
            calling thread with BLAS's own threads sharing out each product.
            Rows are cut in blocks of 128 KiB to 8 MiB of output
            (:func:`~skfavor._blocks.rows_per_block`); on BLAS's threads, in
            the longest blocks whose row buffers stay within a quarter of the
            output where the rows allow (one block where it allows), never over
            ``sklearn.get_config()['working_memory']`` MiB. Samplers'
            ``transform`` takes the default; to keep BLAS and these threads to
            one thread (a loaded machine), wrap the calls in
            ``threadpoolctl.threadpool_limits(1)``.

        Returns
        -------
        ndarray of shape (n_samples, n_components)
            The positive features.

        Raises
        ------
        FloatingPointError
            If a feature overflows to inf (:ref:`math-numerics`).
        ValueError
            If ``X`` is not 2-D with the map's input width, or holds NaN or
            infinity (found when some features are not finite).

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
                X, finish=exponentiate, n_threads=n_threads
            )
            single = X.dtype == np.float32
        n_samples = X.shape[0]
        advice = "scale the inputs down or lower gamma" + (
            ", or pass float64 inputs" if single else ""
        )
        if n_overflow:
            # NaN and inf rows give non-finite features too: not "too large".
            values = X.data if sp.issparse(X) else X
            if not bool(xp.all(xp.isfinite(values))):
                raise ValueError(
                    "X contains NaN or infinity; the map needs finite rows."
                )
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

    def _check_width(self, X) -> None:
        """Refuse rows that are not 2-D rows of the map's input width."""
        width = self.weights.shape[1]
        if len(X.shape) != 2:
            raise ValueError(f"X must be 2-D, got shape {tuple(X.shape)}.")
        if X.shape[1] != width:
            raise ValueError(
                f"X has {X.shape[1]} features, but the map takes rows of {width}."
            )

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
        self._check_width(X)
        Z = X if center is None else X - center
        out = xp.exp(stacked.log_features(Z[None, ...], xp)[0, ...])
        top = xp.max(out, axis=1)
        # Both counts in one number, read with one device-to-host copy:
        # overflowing rows count n + 1 each, all-zero rows 1.
        weight = xp.where(
            xp.isfinite(top),
            xp.astype(top == 0, xp.int64),
            xp.full_like(top, X.shape[0] + 1, dtype=xp.int64),
        )
        n_overflow, n_underflow = divmod(int(xp.sum(weight)), X.shape[0] + 1)
        return out, n_overflow, n_underflow

    def _evaluate(self, X, *, finish, n_threads: int | None):
        """Fill the output block by block, ``finish`` each block in place.

        ``finish(block)`` returns the block's numbers of overflowing and
        all-zero rows, which are summed; ``None`` leaves the log features.
        """
        if not (isinstance(X, np.ndarray) or sp.issparse(X)):
            # A tensor with array_api_dispatch off, a list, ...: the map
            # does not run scikit-learn's conversions.
            raise TypeError(
                "X must be a NumPy array or a SciPy sparse matrix (or, with "
                "sklearn's array_api_dispatch=True, an array of an array-API "
                f"library), got {type(X).__module__}.{type(X).__qualname__}."
            )
        X = _floating(X)
        if sp.issparse(X):
            X = _canonical_csr(X)
        self._check_width(X)
        n_samples = X.shape[0]
        n_components = self.weights.shape[0]
        out = np.empty((n_samples, n_components), dtype=X.dtype)
        cached = (X.dtype, False) in self._cast
        terms = self._terms(X.dtype)
        # The first call's casts are held through it as well as the blocks'.
        casts = 0 if cached else sum(getattr(term, "nbytes", 0) for term in terms)
        plan = plan_blocks(
            n_samples,
            n_components,
            X.shape[1],
            X.dtype.itemsize,
            n_threads,
            sparse=sp.issparse(X),
            block_extra_bytes=lambda n_rows: (
                casts
                + BlockProducts.extra_bytes(terms, n_rows, X.shape[1], X.dtype.itemsize)
            ),
        )
        n_block_rows = plan.n_block_rows
        products = BlockProducts(
            terms,
            self._terms(X.dtype, sparse=True)[0] if sp.issparse(X) else None,
            self._near,
            X,
            n_block_rows,
        )

        def make_worker():
            product = products.worker()

            def worker(rows):
                block = out[rows]
                product(X[rows], block)
                return (0, 0) if finish is None else finish(block)

            return worker

        # Non-finite features are counted and reported by transform.
        with np.errstate(over="ignore", invalid="ignore"):
            n_overflow, n_underflow = run_in_blocks(
                n_samples,
                n_block_rows,
                plan.n_threads,
                make_worker,
                blas_threads=plan.blas_threads,
            )
        return out, n_overflow, n_underflow


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

    def rescaled(self, factor: float) -> StackedFeatureMap:
        """The maps of raw rows ``x`` that give these maps' features of ``factor · x``.

        ``log φ(factor · x) = x (factor W)ᵀ + offset + xᵀ (factor² C) x``: a
        pass over the (B, M, d) weights instead of one over the inputs.
        """
        if factor == 1.0:
            return self
        xp = get_namespace(self.weights)

        def times(term, value):
            # Cast back: NumPy 1.x promotes a 0-d float32 times a Python
            # float to float64 (value-based casting).
            return xp.astype(term * value, term.dtype, copy=False)

        return StackedFeatureMap(
            times(self.weights, factor), self.offset, times(self.quadratic, factor**2)
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


def _float_dtype(X) -> np.dtype:
    """The dtype of results for rows ``X``: float32 for float32, float64 otherwise."""
    return X.dtype if X.dtype in (np.float32, np.float64) else np.dtype(np.float64)


def _canonical_csr(X):
    """``X`` as CSR without duplicate entries (a copy only if it has some).

    SciPy allows an entry stored twice (meaning their sum); squared row norms
    from the stored values and densifying by fancy assignment would not add
    them up.
    """
    X = X.tocsr()
    if not X.has_canonical_format:
        X = X.copy()
        X.sum_duplicates()
    return X


def _floating(X):
    """``X`` itself if float32 or float64, else ``X`` in float64."""
    dtype = _float_dtype(X)
    return X if X.dtype == dtype else X.astype(dtype)


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
        ``W_eff = scale · Ω Rᵀ diag(√(1 − 4a)) T R``, with a frame
        ``scale · Ω S Rᵀ T R`` (``S`` of :meth:`FrameParameters.frame_root_matrix`).
    offset : array of shape (*batch_shape, n_components)
        ``¼ Σ log(1 − 4a) + Σ a_l ω'_l² − ½ log M``, with a frame
        ``Σ a_l ω'_l² = ωᵀ A ω = ¼ (|ω|² − |S ω|²)``.
    quadratic : array
        ``C`` of the row term ``xᵀ C x = scale² (α |x|² − ½ |T R x|²)``: of
        shape batch_shape for ``c I``, (*batch_shape, n_features) for a
        diagonal, (*batch_shape, n_features, n_features) for a full matrix.
    """
    a = params.a
    xp = get_namespace(a)
    n_components, n_features = omega.shape
    frame = params.frame
    log_root = xp.sum(frame_log_root(a), axis=-1)
    if frame is None:
        root = frame_root(a)
        quadratic_form = xp.sum(omega**2 * a[..., None, :], axis=-1)
        scaled = omega * root[..., None, :]
    else:
        scaled = omega @ params.frame_root_matrix()
        # ωᵀ A ω = ¼ (|ω|² − |S ω|²), as S² = I − 4A.
        quadratic_form = 0.25 * (xp.sum(omega**2, axis=-1) - xp.sum(scaled**2, axis=-1))
    offset = 0.25 * log_root[..., None] + quadratic_form - 0.5 * math.log(n_components)
    T = params.side_transform(side)
    if T is None:
        weights = scaled
        quadratic = xp.zeros_like(a[..., 0]) + scale**2 * (alpha - 0.5)
    elif params.is_diagonal(T) and frame is None:
        weights = omega * (root * T)[..., None, :]
        quadratic = scale**2 * (alpha - 0.5 * T**2)
    else:
        T_full = _diagonal_matrix(T, xp) if params.is_diagonal(T) else T
        TR = T_full if frame is None else T_full @ frame
        weights = scaled @ (TR if frame is None else xp.matrix_transpose(frame) @ TR)
        eye = xp.eye(n_features, dtype=a.dtype, device=array_device(a))
        quadratic = scale**2 * (alpha * eye - 0.5 * xp.matrix_transpose(TR) @ TR)
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
