"""Kernel ridge regression with random features, fitted from streamed statistics."""

from __future__ import annotations

import copy
import sys
from numbers import Integral, Real

import numpy as np
import scipy.linalg
import scipy.sparse as sp
from sklearn.base import (
    BaseEstimator,
    ClassifierMixin,
    RegressorMixin,
    _fit_context,
    clone,
)
from sklearn.model_selection import check_cv
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils import check_random_state, compute_sample_weight
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (
    _check_sample_weight,
    check_is_fitted,
    validate_data,
)

from ._docstrings import fill_doc
from ._statistics import SampleStatistics
from .kernel_approximation import DERFSampler, _BasePositiveSampler

__all__ = [
    "RandomFeatureRidge",
    "RandomFeatureRidgeCV",
    "RandomFeatureRidgeClassifier",
]

#: Bytes of float64 ``[φ, y]`` rows per block when ``block_size=None``: large
#: enough for the scatter product to run at BLAS speed, small next to the
#: ``(n_components + n_targets)²`` statistics of a few thousand features.
_BLOCK_BYTES = 2**25


def _is_dask_array(X) -> bool:
    """Whether ``X`` is a Dask array (without importing Dask)."""
    module = sys.modules.get("dask.array")
    return module is not None and isinstance(X, module.Array)


def _checked_sampler(sampler, *, seed: bool):
    """An unfitted clone of ``sampler`` (``None``: ``DERFSampler()``), checked.

    Only skfavor samplers are accepted: the fit reads their statistics-only
    closed forms, and the model selection relies on their nested draws
    (:ref:`math-nested`). Asymmetric maps are refused: a linear model sees one
    map for training and test rows (:ref:`math-estimators`). With ``seed``, an
    unseeded sampler gets one integer seed, so that every map fitted from it
    (one per fold, and the refit) draws the same ω.
    """
    sampler = clone(DERFSampler() if sampler is None else sampler)
    if not isinstance(sampler, _BasePositiveSampler):
        raise TypeError(
            "sampler must be a skfavor sampler (PositiveRFSampler, GERFSampler or "
            f"DERFSampler) or None, got {type(sampler).__name__}."
        )
    variant = sampler.get_params().get("variant", "sderf")
    if variant != "sderf":
        raise ValueError(
            f"sampler=DERFSampler(variant={variant!r}) has separate query and key "
            "maps, but a ridge model maps training and test rows with one map: "
            "use variant='sderf' (symmetric)."
        )
    if seed:
        state = sampler.get_params()["random_state"]
        if not isinstance(state, Integral):
            state = check_random_state(state).randint(np.iinfo(np.int32).max)
            sampler.set_params(random_state=int(state))
    return sampler


def _fit_sampler(sampler, statistics: SampleStatistics, n_features: int):
    """Fit an unfitted skfavor ``sampler`` to the statistics of its rows.

    Equal to ``sampler.fit(X)`` for any ``X`` with these statistics: the
    samplers draw ω from ``random_state`` and fit their closed forms to the
    count, mean and scatter of the rows alone (:ref:`math-statistics`). This
    lets the statistics come from a stream, from Dask chunks or from a merge
    of cross-validation folds.
    """
    sampler._validate_params()
    sampler.n_features_in_ = n_features
    sampler._fit_statistics(statistics)
    if not sampler._params.symmetric:
        raise ValueError(
            f"{type(sampler).__name__} fitted an asymmetric map; a ridge model "
            "needs one map for every row."
        )
    return sampler


def _same_map(first, second) -> bool:
    """Whether two fitted samplers have equal fitted attributes (the same map)."""
    names = [n for n in vars(first) if n.endswith("_") and not n.startswith("_")]
    return all(
        np.array_equal(np.asarray(getattr(first, n)), np.asarray(getattr(second, n)))
        for n in names
    )


def _weighted_statistics(
    Z: np.ndarray, weights, *, overwrite: bool = False
) -> SampleStatistics | None:
    """Float64 weighted count, mean and centred scatter of the rows of ``Z``.

    ``n = Σ w``, ``μ = Σ w z / n``, ``S = Σ w (z − μ)(z − μ)ᵀ`` (two passes over
    the block); ``None`` for an empty block. Blocks merge exactly
    (:ref:`math-statistics`), weighted or not. With ``overwrite``, ``Z`` (a
    float64 block of our own) is centred in place, saving a copy.
    """
    if Z.shape[0] == 0:
        return None
    if weights is None:
        n = float(Z.shape[0])
        mean = Z.mean(axis=0)
    else:
        n = float(weights.sum())
        if n == 0:
            return None
        mean = (weights @ Z) / n
    centred = np.subtract(Z, mean, out=Z if overwrite else None)
    if weights is not None:
        centred *= np.sqrt(weights)[:, None]
    # ``centred.T @ centred`` is one symmetric rank-k update (BLAS syrk).
    return SampleStatistics(n, mean, centred.T @ centred)


def _merge(parts):
    """Merge of a sequence of statistics, skipping ``None`` (empty sets)."""
    total = None
    for part in parts:
        if part is not None:
            total = part if total is None else total + part
    return total


def _merge_tables(first, second):
    """Bucket-by-bucket merge of two tables of statistics (lists of lists)."""
    return [
        [_merge((a, b)) for a, b in zip(row_a, row_b, strict=True)]
        for row_a, row_b in zip(first, second, strict=True)
    ]


def _block_table(X, Y, weights, maps, labels, n_buckets):
    """Statistics of one block of rows, for every map and bucket of rows.

    Parameters
    ----------
    X : {ndarray, sparse matrix} of shape (n_rows, n_features)
        The block's inputs.
    Y : ndarray of shape (n_rows, n_targets) or None
        The block's targets, stacked after the features (``[φ, y]``).
    weights : ndarray of shape (n_rows,) or None
        Sample weights (``None``: all ones).
    maps : list of fitted samplers or None
        One entry per table row; ``None`` takes the statistics of ``X`` itself
        (unweighted, as the sampler of a pipeline sees them).
    labels : list of ndarray of shape (n_rows,)
        For each map, the bucket of each row (``-1``: left out).
    n_buckets : list of int
        For each map, the number of buckets.

    Returns
    -------
    list of list of SampleStatistics or None
    """
    if not (np.all(np.isfinite(Y)) if Y is not None else True):
        raise ValueError("y contains NaN or infinity.")
    table = []
    for feature_map, row_labels, count in zip(maps, labels, n_buckets, strict=True):
        if feature_map is None:
            rows = X.toarray() if sp.issparse(X) else X
            Z = np.asarray(rows, dtype=np.float64)
            if not np.all(np.isfinite(Z)):
                raise ValueError("X contains NaN or infinity.")
            block_weights = None
        else:
            features = feature_map.transform(X)
            Z = np.empty((features.shape[0], features.shape[1] + Y.shape[1]))
            Z[:, : features.shape[1]] = features
            Z[:, features.shape[1] :] = Y
            del features
            block_weights = weights
        row = []
        for bucket in range(count):
            if count == 1 and np.all(row_labels == 0):
                # The rows of X itself may be (a view of) the caller's array.
                selected, bucket_weights = Z, block_weights
                owned = feature_map is not None
            else:
                mask = row_labels == bucket
                selected, owned = Z[mask], True
                bucket_weights = None if block_weights is None else block_weights[mask]
            row.append(_weighted_statistics(selected, bucket_weights, overwrite=owned))
        table.append(row)
    return table


def _row_blocks(n_rows: int, block_rows: int):
    return [
        slice(start, min(start + block_rows, n_rows))
        for start in range(0, n_rows, block_rows)
    ]


def _accumulate(X, Y, weights, maps, labels, n_buckets, block_rows):
    """Statistics of all rows, block by block (or chunk by chunk for Dask).

    The float64 statistics of each block are merged exactly
    (:ref:`math-statistics`), so the result equals that of one block of all
    rows up to rounding, for any block size or Dask chunking. The memory is
    that of the table of statistics plus one block of features.
    """
    if _is_dask_array(X):
        return _accumulate_dask(X, Y, weights, maps, labels, n_buckets)
    total = None
    for rows in _row_blocks(X.shape[0], block_rows):
        part = _block_table(
            X[rows],
            None if Y is None else Y[rows],
            None if weights is None else weights[rows],
            maps,
            [row_labels[rows] for row_labels in labels],
            n_buckets,
        )
        total = part if total is None else _merge_tables(total, part)
    return total


def _accumulate_dask(X, Y, weights, maps, labels, n_buckets):
    """Per-chunk statistics computed where the chunks live, merged in a tree."""
    import dask

    X = X.rechunk({1: -1})
    row_chunks = X.chunks[0]
    bounds = np.cumsum((0, *row_chunks))
    blocks = X.to_delayed().ravel()

    def rows_of(array, index):
        if array is None:
            return None
        part = array[bounds[index] : bounds[index + 1]]
        return part.to_delayed().ravel()[0] if _is_dask_array(part) else part

    if _is_dask_array(Y):
        Y = Y.rechunk((row_chunks, -1))
    if _is_dask_array(weights):
        weights = weights.rechunk((row_chunks,))
    block_table = dask.delayed(_block_table, pure=True)
    merge = dask.delayed(_merge_tables, pure=True)
    parts = [
        block_table(
            blocks[i],
            rows_of(Y, i),
            rows_of(weights, i),
            maps,
            [row_labels[bounds[i] : bounds[i + 1]] for row_labels in labels],
            n_buckets,
        )
        for i in range(len(row_chunks))
    ]
    while len(parts) > 1:
        merged = [merge(a, b) for a, b in zip(parts[::2], parts[1::2], strict=False)]
        parts = merged + ([parts[-1]] if len(parts) % 2 else [])
    (table,) = dask.compute(parts[0])
    return table


def _ridge_system(statistics, n_components, n_used, fit_intercept):
    """``A``, ``B`` and the means of the first ``n_used`` features.

    The system of :ref:`math-ridge-statistics`:
    ``statistics`` are those of ``[φ, y]`` with ``n_components`` features; the
    features of ``n_used`` components are ``√(M/m)`` times the first ``m``
    (:ref:`math-nested`). With an intercept, ``A`` and ``B`` are the centred
    scatters; without, the second moments about 0 times the count.
    """
    M, m = n_components, n_used
    scale = np.sqrt(M / m)
    scatter = statistics.scatter
    if not fit_intercept:
        scatter = scatter + statistics.n_samples * np.outer(
            statistics.mean, statistics.mean
        )
    A = scatter[:m, :m] * scale**2
    B = scatter[:m, M:] * scale
    return A, B, statistics.mean[:m] * scale, statistics.mean[M:]


def _solve(A, B, alpha):
    """``(A + αI)⁻¹ B`` by Cholesky (:ref:`math-ridge-statistics`)."""
    system = A + alpha * np.eye(A.shape[0])
    try:
        return scipy.linalg.solve(system, B, assume_a="pos")
    except (scipy.linalg.LinAlgError, ValueError):
        return scipy.linalg.lstsq(system, B)[0]


def _held_out_errors(statistics, n_components, n_used, coef, intercept):
    """Weighted sums of squared held-out residuals per target, from statistics.

    With ``r = y − s φ[:m]ᵀ w − b`` (``s = √(M/m)``) and the held-out rows'
    count ``n``, mean ``μ`` and scatter ``S`` of ``[φ, y]``:
    ``Σ r² = diag(Pᵀ S P) + n (Pᵀ μ − b)²`` with ``P = [−s w; I]``, taken
    about the held-out mean so that no raw sums cancel
    (:ref:`math-ridge-statistics`).
    """
    M, m = n_components, n_used
    scale = np.sqrt(M / m)
    S, mean = statistics.scatter, statistics.mean
    w = coef * scale
    S_ff, S_fy, S_yy = S[:m, :m], S[:m, M:], S[M:, M:]
    quadratic = (
        np.diag(S_yy)
        - 2.0 * np.einsum("ij,ij->j", w, S_fy)
        + np.einsum("ij,ij->j", w, S_ff @ w)
    )
    mean_residual = mean[M:] - mean[:m] @ w - intercept
    return np.maximum(quadratic, 0.0) + statistics.n_samples * mean_residual**2


class _BaseRandomFeatureRidge(BaseEstimator):
    """Streams row blocks through a sampler into ``[φ, y]`` statistics."""

    _parameter_constraints: dict = {
        "sampler": [HasMethods(["fit", "transform"]), None],
        "fit_intercept": ["boolean"],
        "block_size": [Interval(Integral, 1, None, closed="left"), None],
    }

    def _block_rows(self, n_columns: int) -> int:
        if self.block_size is not None:
            return int(self.block_size)
        return max(1, _BLOCK_BYTES // (8 * n_columns))

    def _check_inputs(self, X, y, sample_weight, *, reset: bool):
        """Validated ``X``, 2-D float64 targets and weights (Dask stays lazy)."""
        if _is_dask_array(X):
            if X.ndim != 2:
                raise ValueError(
                    f"Expected a 2-D Dask array for X, got {X.ndim} dimensions."
                )
            if X.dtype not in (np.float32, np.float64):
                X = X.astype(np.float64)
            if reset:
                self.n_features_in_ = X.shape[1]
            elif X.shape[1] != self.n_features_in_:
                raise ValueError(
                    f"X has {X.shape[1]} features, but {type(self).__name__} is "
                    f"expecting {self.n_features_in_} features as input."
                )
            if y is None:
                raise ValueError("y must be given, got None.")
            if _is_dask_array(y):
                y = y.astype(np.float64)
            else:
                y = np.asarray(y, dtype=np.float64)
            if sample_weight is not None and not _is_dask_array(sample_weight):
                sample_weight = np.asarray(sample_weight, dtype=np.float64)
            return X, y, sample_weight
        X, y = validate_data(
            self,
            X,
            y,
            accept_sparse="csr",
            dtype=[np.float64, np.float32],
            multi_output=True,
            y_numeric=True,
            reset=reset,
        )
        if sample_weight is not None:
            sample_weight = _check_sample_weight(
                sample_weight, X, dtype=np.float64, ensure_non_negative=True
            )
        return X, np.asarray(y, dtype=np.float64), sample_weight

    @staticmethod
    def _targets_2d(y):
        return y.reshape(-1, 1) if y.ndim == 1 else y

    def _x_statistics(self, X, labels, n_buckets):
        """Unweighted statistics of the rows of ``X`` per bucket (one pass)."""
        (row,) = _accumulate(
            X, None, None, [None], [labels], [n_buckets], self._block_rows(X.shape[1])
        )
        return row

    def _set_solution(self, coef, intercept, n_targets_1d: bool, dtype):
        """Store ``coef_`` (n_targets, m) and ``intercept_`` in Ridge's shapes."""
        coef = coef.T.astype(dtype, copy=False)
        intercept = np.asarray(intercept, dtype=dtype)
        if n_targets_1d:
            self.coef_, self.intercept_ = coef[0], float(intercept[0])
        else:
            self.coef_, self.intercept_ = coef, intercept
        if not self.fit_intercept:
            self.intercept_ = 0.0

    def _decision_values(self, X):
        """``φ(x) coef_ᵀ + intercept_`` of each row, streamed in blocks."""
        check_is_fitted(self)
        if _is_dask_array(X):
            raise TypeError(
                "predict takes in-memory rows; for a Dask array use "
                "dask.array.map_blocks(model.predict, X, drop_axis=1)."
            )
        X = validate_data(
            self, X, accept_sparse="csr", dtype=[np.float64, np.float32], reset=False
        )
        coef = np.atleast_2d(self.coef_)
        out = np.empty((X.shape[0], coef.shape[0]), dtype=X.dtype)
        for rows in _row_blocks(X.shape[0], self._block_rows(coef.shape[1])):
            out[rows] = self.sampler_.transform(X[rows]) @ coef.T.astype(X.dtype)
        out += np.asarray(self.intercept_, dtype=X.dtype)
        return out[:, 0] if np.ndim(self.coef_) == 1 else out

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.target_tags.multi_output = True
        return tags


_SHARED_PARAMETERS = """sampler : skfavor sampler, default=None
        The random-feature map: :class:`~skfavor.PositiveRFSampler`,
        :class:`~skfavor.GERFSampler` or a symmetric
        :class:`~skfavor.DERFSampler` (``variant='sderf'``; the asymmetric
        variants are refused). It is cloned and fitted on the training rows,
        unweighted, as in a pipeline. ``None`` means
        :class:`~skfavor.DERFSampler` with its defaults."""

_SHARED_BLOCK = """block_size : int, default=None
        Rows per block streamed through the sampler. ``None`` takes blocks of
        about 32 MiB of float64 features. The memory of ``fit`` is
        ``O((n_components + n_targets)² + block_size · n_components)``,
        independent of the number of rows."""

_SHARED_ATTRIBUTES = """sampler_ : skfavor sampler
        The sampler fitted on the training rows.

    n_features_in_ : int
        Number of features seen during :term:`fit`.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during :term:`fit`. Defined only when `X`
        has feature names that are all strings."""

_SHARED_NOTES = """The training rows are mapped block by block, and only the
    float64 count, mean and centred scatter of the stacked rows ``[φ(x), y]``
    are kept, merged exactly from block to block (:ref:`math-statistics`):
    ``A = Σ (φ − φ̄)(φ − φ̄)ᵀ`` and ``B = Σ (φ − φ̄)(y − ȳ)ᵀ`` (weighted by
    ``sample_weight``), then ``coef = (A + αI)⁻¹ B`` and
    ``intercept = ȳ − φ̄ᵀ coef`` (:ref:`math-ridge-statistics`). The sampler's
    own statistics take a first, cheaper pass (``O(n · n_features²)``). The
    result equals ``Pipeline([("f", sampler), ("r", Ridge(alpha))])`` up to
    rounding, without the ``n × n_components`` feature matrix. A Dask array
    ``X`` is reduced chunk by chunk where its chunks live."""

_fill_doc = fill_doc(
    shared_parameters=_SHARED_PARAMETERS,
    shared_block=_SHARED_BLOCK,
    shared_attributes=_SHARED_ATTRIBUTES,
    shared_notes=_SHARED_NOTES,
)


class _SingleAlphaRidge(_BaseRandomFeatureRidge):
    """Fit of one ``alpha``: sampler pass, then ``[φ, y]`` statistics pass."""

    _parameter_constraints: dict = {
        **_BaseRandomFeatureRidge._parameter_constraints,
        "alpha": [Interval(Real, 0.0, None, closed="neither")],
    }

    def _fit_statistics(self, X, Y, weights, sampler):
        """Statistics of ``[φ, y]`` over all rows for a fitted ``sampler``."""
        labels = np.zeros(X.shape[0], dtype=np.intp)
        ((statistics,),) = _accumulate(
            X,
            Y,
            weights,
            [sampler],
            [labels],
            [1],
            self._block_rows(sampler.n_components + Y.shape[1]),
        )
        return statistics

    def _fit_regression(self, X, Y, weights):
        self._n_targets = Y.shape[1]
        sampler = _checked_sampler(self.sampler, seed=False)
        (x_statistics,) = self._x_statistics(X, np.zeros(X.shape[0], np.intp), 1)
        self.sampler_ = _fit_sampler(sampler, x_statistics, self.n_features_in_)
        self._statistics = self._fit_statistics(X, Y, weights, self.sampler_)
        return self._solve_statistics(X.dtype)

    def _solve_statistics(self, dtype):
        statistics = self._statistics
        if statistics is None:
            raise ValueError(
                "sample_weight sums to 0: there is nothing to fit; give some rows "
                "a positive weight."
            )
        M = self.sampler_.n_components
        A, B, feature_mean, target_mean = _ridge_system(
            statistics, M, M, self.fit_intercept
        )
        coef = _solve(A, B, self.alpha)
        intercept = (
            target_mean - feature_mean @ coef
            if self.fit_intercept
            else np.zeros(B.shape[1])
        )
        self._set_solution(coef, intercept, self._y_1d, dtype)
        return self


@_fill_doc
class RandomFeatureRidge(RegressorMixin, _SingleAlphaRidge):
    """Ridge regression on random features, fitted without the feature matrix.

    Equal to ``Pipeline([("f", sampler), ("r", Ridge(alpha=alpha))])`` up to
    rounding (multi-output targets, ``sample_weight`` and ``fit_intercept``
    included), in memory ``O(n_components²)`` instead of
    ``O(n_samples · n_components)``: an approximate kernel ridge regression
    that scales to millions of rows (:ref:`math-ridge-statistics`).

    Parameters
    ----------
    {shared_parameters}

    alpha : float, default=1.0
        Regularisation strength, > 0, as in :class:`~sklearn.linear_model.Ridge`.

    fit_intercept : bool, default=True
        Whether to fit an intercept (centred features and targets).

    {shared_block}

    Attributes
    ----------
    coef_ : ndarray of shape (n_components,) or (n_targets, n_components)
        Weights of the random features.

    intercept_ : float or ndarray of shape (n_targets,)
        Independent term; ``0.0`` when ``fit_intercept=False``.

    {shared_attributes}

    See Also
    --------
    RandomFeatureRidgeCV : Exact K-fold choice of ``alpha`` and ``n_components``
        from one pass.
    RandomFeatureRidgeClassifier : The same model for classification.
    sklearn.kernel_ridge.KernelRidge : Exact kernel ridge, ``O(n²)`` memory.

    Notes
    -----
    {shared_notes}

    :meth:`partial_fit` accumulates the statistics of chunks; the sampler is
    fitted on the first chunk, or used as given when already fitted.

    Examples
    --------
    >>> from sklearn.datasets import make_regression
    >>> from skfavor import DERFSampler
    >>> from skfavor.kernel_ridge import RandomFeatureRidge
    >>> X, y = make_regression(n_samples=500, n_features=5, random_state=0)
    >>> sampler = DERFSampler(n_components=200, gamma=0.05, random_state=0)
    >>> model = RandomFeatureRidge(sampler, alpha=0.1).fit(X, y)
    >>> model.coef_.shape
    (200,)
    >>> model.score(X, y) > 0.9
    True
    """

    def __init__(self, sampler=None, *, alpha=1.0, fit_intercept=True, block_size=None):
        self.sampler = sampler
        self.alpha = alpha
        self.fit_intercept = fit_intercept
        self.block_size = block_size

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the sampler, then the ridge weights, streaming row blocks.

        Parameters
        ----------
        X : {array-like, sparse matrix, dask array} of shape (n_samples, n_features)
            Training rows: in memory, a :class:`numpy.memmap`, or a Dask array
            (row chunks, reduced where they live).

        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Targets.

        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights of the squared errors (the sampler's
            statistics stay unweighted, as in a pipeline).

        Returns
        -------
        self : object
            Fitted estimator.
        """
        X, y, sample_weight = self._check_inputs(X, y, sample_weight, reset=True)
        self._y_1d = y.ndim == 1
        return self._fit_regression(X, self._targets_2d(y), sample_weight)

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None):
        """Accumulate the statistics of one chunk of rows and re-solve.

        On the first call the sampler is fitted on this chunk, unless it was
        given already fitted (for instance by its own ``partial_fit`` over
        all chunks in a first pass), in which case a copy is used as it is.
        The feature map is then fixed, and after any sequence of calls the
        model equals :meth:`fit` with that map on the concatenated chunks, up
        to rounding. Each call solves an ``n_components``-sized system.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            A chunk of training rows.

        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Its targets.

        sample_weight : array-like of shape (n_samples,), default=None
            Its non-negative weights.

        Returns
        -------
        self : object
            Fitted estimator.
        """
        first_call = not hasattr(self, "sampler_")
        X, y, sample_weight = self._check_inputs(X, y, sample_weight, reset=first_call)
        Y = self._targets_2d(y)
        if first_call:
            self._y_1d = y.ndim == 1
            self._n_targets = Y.shape[1]
            given = self.sampler
            if given is not None and hasattr(given, "random_weights_"):
                _checked_sampler(given, seed=False)
                self.sampler_ = copy.deepcopy(given)
                if not self.sampler_._params.symmetric:
                    raise ValueError(
                        "The fitted sampler has an asymmetric map; a ridge model "
                        "needs one map for every row."
                    )
                if self.sampler_.n_features_in_ != self.n_features_in_:
                    raise ValueError(
                        f"X has {self.n_features_in_} features, but the fitted "
                        f"sampler expects {self.sampler_.n_features_in_}."
                    )
            else:
                sampler = _checked_sampler(given, seed=False)
                (x_statistics,) = self._x_statistics(
                    X, np.zeros(X.shape[0], np.intp), 1
                )
                self.sampler_ = _fit_sampler(sampler, x_statistics, self.n_features_in_)
            self._statistics = None
        elif Y.shape[1] != self._n_targets or (y.ndim == 1) != self._y_1d:
            raise ValueError(
                f"y has shape {y.shape}, but the earlier chunks had "
                f"{self._n_targets} target(s) of "
                f"{'1' if self._y_1d else '2'} dimension(s)."
            )
        chunk = self._fit_statistics(X, Y, sample_weight, self.sampler_)
        self._statistics = _merge((self._statistics, chunk))
        return self._solve_statistics(X.dtype)

    def predict(self, X):
        """Predict targets, mapping the rows block by block.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Rows to predict.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,) or (n_samples, n_targets)
            Predictions, in ``X``'s float dtype.
        """
        return self._decision_values(X)


@_fill_doc
class RandomFeatureRidgeClassifier(ClassifierMixin, _SingleAlphaRidge):
    """Ridge classification on random features, fitted without the feature matrix.

    As :class:`~sklearn.linear_model.RidgeClassifier`: the classes are coded as
    ±1 targets (one column per class, one column for two classes), a
    :class:`RandomFeatureRidge` is fitted to them, and the predicted class is
    the largest decision value (its sign for two classes). Equal to
    ``Pipeline([("f", sampler), ("r", RidgeClassifier(alpha=alpha))])`` up to
    rounding.

    Parameters
    ----------
    {shared_parameters}

    alpha : float, default=1.0
        Regularisation strength, > 0.

    fit_intercept : bool, default=True
        Whether to fit an intercept.

    class_weight : dict or 'balanced', default=None
        Weights of the classes, multiplied into ``sample_weight``, as in
        :class:`~sklearn.linear_model.RidgeClassifier`.

    {shared_block}

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.

    coef_ : ndarray of shape (n_components,) or (n_classes, n_components)
        Weights of the random features (one row for two classes).

    intercept_ : ndarray of shape (1,) or (n_classes,)
        Independent terms.

    multilabel_ : bool
        Whether ``y`` was a multilabel indicator matrix (read-only).

    {shared_attributes}

    See Also
    --------
    RandomFeatureRidge : The regressor.
    sklearn.linear_model.RidgeClassifier : The same on explicit features.

    Notes
    -----
    {shared_notes}

    Examples
    --------
    >>> from sklearn.datasets import make_moons
    >>> from skfavor import DERFSampler
    >>> from skfavor.kernel_ridge import RandomFeatureRidgeClassifier
    >>> X, y = make_moons(n_samples=400, noise=0.1, random_state=0)
    >>> sampler = DERFSampler(n_components=100, gamma=2.0, random_state=0)
    >>> model = RandomFeatureRidgeClassifier(sampler, alpha=0.01).fit(X, y)
    >>> model.score(X, y) > 0.95
    True
    """

    _parameter_constraints: dict = {
        **_SingleAlphaRidge._parameter_constraints,
        "class_weight": [dict, StrOptions({"balanced"}), None],
    }

    def __init__(
        self,
        sampler=None,
        *,
        alpha=1.0,
        fit_intercept=True,
        class_weight=None,
        block_size=None,
    ):
        self.sampler = sampler
        self.alpha = alpha
        self.fit_intercept = fit_intercept
        self.class_weight = class_weight
        self.block_size = block_size

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the sampler, then the ridge weights of the ±1 class codes.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training rows.

        y : array-like of shape (n_samples,) or (n_samples, n_labels)
            Class labels (or a multilabel indicator matrix).

        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights of the squared errors.

        Returns
        -------
        self : object
            Fitted estimator.
        """
        X, y = validate_data(
            self,
            X,
            y,
            accept_sparse="csr",
            dtype=[np.float64, np.float32],
            multi_output=True,
            y_numeric=False,
        )
        check_classification_targets(y)
        self._label_binarizer = LabelBinarizer(pos_label=1, neg_label=-1)
        Y = self._label_binarizer.fit_transform(y).astype(np.float64)
        self.classes_ = self._label_binarizer.classes_
        multilabel = self._label_binarizer.y_type_.startswith("multilabel")
        if not multilabel and np.ndim(y) == 2:
            y = np.ravel(y)
        weights = _check_sample_weight(
            sample_weight, X, dtype=np.float64, ensure_non_negative=True
        )
        if self.class_weight:
            weights = weights * compute_sample_weight(self.class_weight, y)
        self._y_1d = False
        self._fit_regression(X, Y, weights)
        if Y.shape[1] == 1:
            # RidgeClassifier's shapes for two classes.
            self.coef_ = self.coef_[0]
        return self

    def decision_function(self, X):
        """Decision values: ``φ(x) coef_ᵀ + intercept_``, in blocks of rows.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Rows to score.

        Returns
        -------
        scores : ndarray of shape (n_samples,) or (n_samples, n_classes)
            One column per class, one value per row for two classes.
        """
        return self._decision_values(X)

    def predict(self, X):
        """Predict class labels (largest decision value, or its sign).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Rows to classify.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,) or (n_samples, n_labels)
            Predicted labels.
        """
        scores = self.decision_function(X)
        if self._label_binarizer.y_type_.startswith("multilabel"):
            return self._label_binarizer.inverse_transform(2 * (scores > 0) - 1)
        if scores.ndim == 1:
            return self.classes_[(scores > 0).astype(int)]
        return self.classes_[np.argmax(scores, axis=1)]

    @property
    def multilabel_(self) -> bool:
        """Whether ``y`` was a multilabel indicator matrix at ``fit``."""
        check_is_fitted(self)
        return self._label_binarizer.y_type_.startswith("multilabel")

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


@_fill_doc
class RandomFeatureRidgeCV(RegressorMixin, _BaseRandomFeatureRidge):
    """Ridge on random features with exact K-fold choice of ``alpha`` and ``m``.

    Scores every ``alpha`` in ``alphas`` and every feature count ``m`` in
    ``n_components`` by K-fold cross-validation, from statistics gathered in
    one pass over the data, and refits the best model on all rows. The scores
    are those of ``GridSearchCV(Pipeline([("f", sampler), ("r", Ridge())]),
    {"f__n_components": n_components, "r__alpha": alphas}, cv=cv)`` up to
    rounding, and the same model is chosen (:ref:`math-ridge-statistics`).

    Parameters
    ----------
    {shared_parameters}

    alphas : array-like of float or float, default=(0.1, 1.0, 10.0)
        Regularisation strengths to try, each > 0.

    n_components : array-like of int or int, default=None
        Feature counts ``m`` to try, each at most the sampler's
        ``n_components`` ``M``; ``None`` tries ``M`` alone. The features of
        ``m`` are the first ``m`` of ``M``, rescaled (:ref:`math-nested`), so
        every ``m`` comes from the same pass.

    cv : int, cross-validation generator or iterable, default=5
        As in :class:`~sklearn.model_selection.GridSearchCV`; an int gives
        :class:`~sklearn.model_selection.KFold`. The test folds must split
        the rows (each row in exactly one test fold, the training rows of a
        fold being all the others).

    scoring : {'neg_mean_squared_error', 'r2'}, default=None
        Score of the held-out rows; ``None`` is ``'neg_mean_squared_error'``.
        Both are quadratic forms in the held-out statistics, averaged
        uniformly over the targets (weighted by ``sample_weight`` if given).

    fit_intercept : bool, default=True
        Whether to fit an intercept.

    {shared_block}

    Attributes
    ----------
    alpha_ : float
        The chosen ``alpha``.

    n_components_ : int
        The chosen feature count.

    best_score_ : float
        Mean held-out score of the chosen model.

    best_index_ : int
        Index of the chosen candidate in ``cv_results_``.

    cv_results_ : dict of ndarrays
        As :class:`~sklearn.model_selection.GridSearchCV`'s, with the
        candidates in its order (``n_components`` outer, ``alphas`` inner):
        ``params``, ``param_n_components``, ``param_alpha``,
        ``split{{k}}_test_score``, ``mean_test_score``, ``std_test_score`` and
        ``rank_test_score``.

    coef_ : ndarray of shape (`n_components_`,) or (n_targets, `n_components_`)
        Weights of the refitted model.

    intercept_ : float or ndarray of shape (n_targets,)
        Its independent term.

    {shared_attributes}

    See Also
    --------
    RandomFeatureRidge : One ``alpha`` and feature count.
    sklearn.linear_model.RidgeCV : The same choice on explicit features.

    Notes
    -----
    The training statistics of a fold are the merge of the other folds'
    (:ref:`math-statistics`), the held-out squared error is a quadratic form
    in the held-out fold's statistics, one eigendecomposition per fold and
    ``m`` serves every ``alpha``, and the statistics of ``m`` features are the
    leading block of those of ``M`` (:ref:`math-nested`).

    The sampler itself is fitted to the training rows of each fold, as in the
    pipeline. When its fitted map does not depend on the data (a
    :class:`~skfavor.PositiveRFSampler` with a numeric ``gamma``) one map
    serves every fold: the pass costs one ``transform`` and
    ``n · (M + n_targets)²`` flops. Otherwise each block is mapped by each
    fold's map and by the refit's map: ``K + 1`` transforms and
    ``(K + 1) · n · (M + n_targets)²`` flops, still one pass over the data
    (after the cheap pass for the sampler statistics), and ``2K + 1``
    statistics of size ``(M + n_targets)²`` in memory.
    ``GridSearchCV`` fits ``K · len(alphas) · len(n_components)`` pipelines
    instead.

    Examples
    --------
    >>> from sklearn.datasets import make_regression
    >>> from skfavor import DERFSampler
    >>> from skfavor.kernel_ridge import RandomFeatureRidgeCV
    >>> X, y = make_regression(n_samples=500, n_features=5, random_state=0)
    >>> sampler = DERFSampler(n_components=200, gamma=0.05, random_state=0)
    >>> model = RandomFeatureRidgeCV(
    ...     sampler, alphas=[0.01, 0.1, 1.0], n_components=[50, 100, 200]
    ... ).fit(X, y)
    >>> len(model.cv_results_["params"])
    9
    >>> model.n_components_ in (50, 100, 200)
    True
    """

    _parameter_constraints: dict = {
        **_BaseRandomFeatureRidge._parameter_constraints,
        "alphas": ["array-like", Interval(Real, 0.0, None, closed="neither")],
        "n_components": [
            "array-like",
            Interval(Integral, 1, None, closed="left"),
            None,
        ],
        "cv": ["cv_object"],
        "scoring": [StrOptions({"neg_mean_squared_error", "r2"}), None],
    }

    def __init__(
        self,
        sampler=None,
        *,
        alphas=(0.1, 1.0, 10.0),
        n_components=None,
        cv=5,
        scoring=None,
        fit_intercept=True,
        block_size=None,
    ):
        self.sampler = sampler
        self.alphas = alphas
        self.n_components = n_components
        self.cv = cv
        self.scoring = scoring
        self.fit_intercept = fit_intercept
        self.block_size = block_size

    def _grid(self, M: int):
        alphas = np.asarray(self.alphas, dtype=np.float64).ravel()
        if alphas.size == 0 or not np.all(np.isfinite(alphas)) or np.any(alphas <= 0):
            raise ValueError(
                "alphas must be a non-empty list of positive floats, got "
                f"{self.alphas!r}."
            )
        counts = self.n_components
        if counts is None or isinstance(counts, Integral):
            counts = [M if counts is None else counts]
        counts = list(counts)
        if not counts or any(
            not isinstance(m, Integral) or not 1 <= m <= M for m in counts
        ):
            raise ValueError(
                "n_components must be a non-empty list of ints between 1 and the "
                f"sampler's n_components={M}, got {self.n_components!r}."
            )
        return [float(a) for a in alphas], [int(m) for m in counts]

    def _folds(self, X, y, groups):
        """Fold of each row; the test folds must split the rows."""
        n = X.shape[0]
        cv = check_cv(self.cv, y, classifier=False)
        probe = np.empty((n, 0)) if _is_dask_array(X) else X
        fold = np.full(n, -1, dtype=np.intp)
        n_folds = 0
        for k, (train, test) in enumerate(cv.split(probe, y, groups)):
            if np.any(fold[test] >= 0) or (len(train) + len(test) != n):
                raise ValueError(
                    f"cv={self.cv!r} does not split the rows into disjoint test "
                    "folds whose training rows are all the other rows; "
                    "RandomFeatureRidgeCV merges fold statistics and needs such "
                    "a partition (KFold, GroupKFold, StratifiedKFold, ...)."
                )
            fold[test] = k
            n_folds = k + 1
        if n_folds < 2 or np.any(fold < 0):
            raise ValueError(
                f"cv={self.cv!r} must give at least 2 test folds covering every row."
            )
        return fold, n_folds

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None, groups=None):
        """Cross-validate every ``alpha`` and feature count, then refit.

        Parameters
        ----------
        X : {array-like, sparse matrix, dask array} of shape (n_samples, n_features)
            Training rows.

        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Targets.

        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights of the squared errors, in training and in the
            held-out scores.

        groups : array-like of shape (n_samples,), default=None
            Group labels for a group-aware ``cv``.

        Returns
        -------
        self : object
            Fitted estimator.
        """
        X, y, sample_weight = self._check_inputs(X, y, sample_weight, reset=True)
        y_memory = y.compute() if _is_dask_array(y) else y
        Y = self._targets_2d(y)
        n_targets = 1 if y.ndim == 1 else y.shape[1]
        sampler = _checked_sampler(self.sampler, seed=True)
        M = sampler.n_components
        alphas, counts = self._grid(M)
        fold, K = self._folds(X, y_memory, groups)
        d = self.n_features_in_

        x_parts = self._x_statistics(X, fold, K)
        x_train = [_merge(x_parts[j] for j in range(K) if j != k) for k in range(K)]
        refit_map = _fit_sampler(clone(sampler), _merge(x_parts), d)
        fold_maps = [_fit_sampler(clone(sampler), s, d) for s in x_train]
        block_rows = self._block_rows(M + n_targets)
        everything = np.zeros(X.shape[0], dtype=np.intp)
        if all(_same_map(refit_map, other) for other in fold_maps):
            (parts,) = _accumulate(
                X, Y, sample_weight, [refit_map], [fold], [K], block_rows
            )
            train = [_merge(parts[j] for j in range(K) if j != k) for k in range(K)]
            test, full = parts, _merge(parts)
        else:
            table = _accumulate(
                X,
                Y,
                sample_weight,
                [*fold_maps, refit_map],
                [*((fold == k).astype(np.intp) for k in range(K)), everything],
                [2] * K + [1],
                block_rows,
            )
            train = [table[k][0] for k in range(K)]
            test = [table[k][1] for k in range(K)]
            full = table[K][0]

        for k in range(K):
            if train[k] is None or test[k] is None:
                raise ValueError(
                    f"Fold {k} has a total sample_weight of 0 in its "
                    f"{'training' if train[k] is None else 'held-out'} rows; "
                    "give every fold some positive weight."
                )
        scores = np.empty((len(counts) * len(alphas), K))
        for k in range(K):
            for i, m in enumerate(counts):
                for j, (coef, intercept) in enumerate(
                    self._path(train[k], M, m, alphas)
                ):
                    errors = _held_out_errors(test[k], M, m, coef, intercept)
                    scores[i * len(alphas) + j, k] = self._score(errors, test[k], M)
        self._set_results(scores, counts, alphas)
        best = self.best_index_
        self.n_components_ = counts[best // len(alphas)]
        self.alpha_ = alphas[best % len(alphas)]
        ((coef, intercept),) = self._path(full, M, self.n_components_, [self.alpha_])
        self._set_solution(coef, intercept, y.ndim == 1, X.dtype)
        final = clone(sampler).set_params(n_components=self.n_components_)
        self.sampler_ = _fit_sampler(final, _merge(x_parts), d)
        return self

    def _path(self, statistics, M, m, alphas):
        """Weights and intercepts of every ``alpha`` from one ``eigh`` of ``A``."""
        A, B, feature_mean, target_mean = _ridge_system(
            statistics, M, m, self.fit_intercept
        )
        eigenvalues, vectors = np.linalg.eigh(A)
        eigenvalues = np.maximum(eigenvalues, 0.0)
        projected = vectors.T @ B
        for alpha in alphas:
            coef = vectors @ (projected / (eigenvalues + alpha)[:, None])
            intercept = (
                target_mean - feature_mean @ coef
                if self.fit_intercept
                else np.zeros(B.shape[1])
            )
            yield coef, intercept

    def _score(self, errors, statistics, M):
        """Held-out score from per-target sums of squared residuals."""
        n = statistics.n_samples
        if self.scoring == "r2":
            total = np.diag(statistics.scatter)[M:]
            ratios = np.where(
                total > 0,
                1.0 - errors / np.where(total > 0, total, 1.0),
                np.where(errors == 0, 1.0, 0.0),
            )
            return float(np.mean(ratios))
        return -float(np.mean(errors)) / n

    def _set_results(self, scores, counts, alphas):
        n_candidates = scores.shape[0]
        params = [{"n_components": m, "alpha": a} for m in counts for a in alphas]
        mean = scores.mean(axis=1)
        results = {
            "params": params,
            "param_n_components": np.ma.MaskedArray(
                [p["n_components"] for p in params], mask=False, dtype=object
            ),
            "param_alpha": np.ma.MaskedArray(
                [p["alpha"] for p in params], mask=False, dtype=object
            ),
        }
        for k in range(scores.shape[1]):
            results[f"split{k}_test_score"] = scores[:, k]
        # Ranks as GridSearchCV's: ties share the lowest rank, and the first
        # candidate of the best rank is chosen.
        order = np.argsort(-mean, kind="stable")
        rank = np.empty(n_candidates, dtype=np.int32)
        rank[order] = np.arange(1, n_candidates + 1)
        for position in range(1, n_candidates):
            if mean[order[position]] == mean[order[position - 1]]:
                rank[order[position]] = rank[order[position - 1]]
        results.update(
            mean_test_score=mean,
            std_test_score=scores.std(axis=1),
            rank_test_score=rank,
        )
        self.cv_results_ = results
        self.best_index_ = int(np.argmin(rank))
        self.best_score_ = float(mean[self.best_index_])

    def predict(self, X):
        """Predict with the refitted model, mapping the rows block by block.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Rows to predict.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,) or (n_samples, n_targets)
            Predictions, in ``X``'s float dtype.
        """
        return self._decision_values(X)
