"""Streaming statistics of ``[φ(x), y]``: row blocks in memory, chunks in Dask.

The kernel-ridge estimators keep only float64 counts, means and centred
scatters (:ref:`math-statistics`), merged exactly from block to block, so that
their memory does not grow with the number of rows. This module owns that
accumulation (one block-size policy, :func:`block_rows`), the per-fold tables
of :class:`~skfavor.kernel_ridge.RandomFeatureRidgeCV`, and the checks of Dask
inputs, which match scikit-learn's in-memory ones.
"""

from __future__ import annotations

import sys
from typing import NamedTuple

import numpy as np
import scipy.sparse as sp
from sklearn.model_selection import check_cv
from sklearn.utils import check_array

from ._blocks import rows_per_block
from ._statistics import SampleStatistics

__all__ = [
    "TableRow",
    "accumulate",
    "block_rows",
    "bucket_dtype",
    "check_lazy_inputs",
    "fold_statistics",
    "is_dask_array",
    "merge_statistics",
    "one_bucket",
    "row_blocks",
]


def block_rows(n_columns: int, n_rows: int, block_size: int | None) -> int:
    """Rows per block of float64 ``[φ, y]`` rows of ``n_columns`` entries.

    ``block_size`` when given; otherwise the feature maps' policy
    (:func:`skfavor._blocks.rows_per_block`): blocks of at most 8 MiB,
    within scikit-learn's ``working_memory``.
    """
    if block_size is not None:
        return int(block_size)
    return rows_per_block(8 * n_columns, n_rows, 1)


def bucket_dtype(n_buckets: int) -> np.dtype:
    """The narrowest signed integers for bucket labels ``-1 … n_buckets − 1``.

    The labels are the one table of the fits that grows with the rows: one
    byte per row and table row, rather than eight, for up to 127 buckets.
    """
    return np.result_type(np.int8, np.min_scalar_type(-max(int(n_buckets), 1)))


def one_bucket(n_rows: int) -> np.ndarray:
    """Labels putting all ``n_rows`` rows in bucket 0."""
    return np.zeros(n_rows, dtype=np.int8)


def same_map(first, second) -> bool:
    """Whether two fitted skfavor samplers map rows the same way.

    Their public compiled maps (``query_map_``, :class:`FeatureMap`) hold all
    that ``transform`` computes: equal weights, offsets, quadratic terms and
    centers are the same map.
    """
    maps = (first.query_map_, second.query_map_)
    for name in ("weights", "offset", "quadratic", "center"):
        values = [getattr(feature_map, name) for feature_map in maps]
        if (values[0] is None) != (values[1] is None):
            return False
        if values[0] is not None and not np.array_equal(
            np.asarray(values[0]), np.asarray(values[1])
        ):
            return False
    return True


def is_dask_array(X) -> bool:
    """Whether ``X`` is a Dask array (without importing Dask)."""
    module = sys.modules.get("dask.array")
    return module is not None and isinstance(X, module.Array)


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


def merge_statistics(parts):
    """Merge of a sequence of statistics, skipping ``None`` (empty sets)."""
    total = None
    for part in parts:
        if part is not None:
            total = part if total is None else total + part
    return total


def _merge_tables(first, second):
    """Bucket-by-bucket merge of two tables of statistics (lists of lists)."""
    return [
        [merge_statistics((a, b)) for a, b in zip(row_a, row_b, strict=True)]
        for row_a, row_b in zip(first, second, strict=True)
    ]


class TableRow(NamedTuple):
    """One row of a table of statistics: a map, and how rows fall into buckets.

    Attributes
    ----------
    feature_map : fitted sampler or None
        The map of the rows; ``None`` takes the statistics of ``X`` itself
        (unweighted, as the sampler of a pipeline sees them).
    labels : ndarray of shape (n_samples,)
        The bucket of each row (``-1``: left out).
    n_buckets : int
        The number of buckets.
    weighted : bool, default=True
        Whether the rows count with their ``sample_weight``.
    """

    feature_map: object
    labels: np.ndarray
    n_buckets: int
    weighted: bool = True

    def rows(self, index) -> TableRow:
        """The same row restricted to the samples ``index`` (a slice)."""
        return self._replace(labels=self.labels[index])


def _check_block(Y, weights) -> None:
    """Refuse non-finite targets and negative or non-finite weights of a block.

    In memory these are checked up front; a Dask array's chunks are checked
    here, as they are reduced, with the in-memory messages.
    """
    if Y is not None and not np.all(np.isfinite(Y)):
        raise ValueError("y contains NaN or infinity.")
    if weights is not None:
        if not np.all(np.isfinite(weights)):
            raise ValueError("sample_weight contains NaN or infinity.")
        if np.any(weights < 0):
            raise ValueError("Negative values in data passed to `sample_weight`.")


def _stacked_rows(X, Y, feature_map) -> np.ndarray:
    """Float64 ``X`` (``feature_map`` None) or ``[φ(X), Y]``, a fresh array."""
    if feature_map is None:
        rows = X.toarray() if sp.issparse(X) else X
        Z = np.asarray(rows, dtype=np.float64)
        if not np.all(np.isfinite(Z)):
            raise ValueError("X contains NaN or infinity.")
        return Z
    features = feature_map.transform(X)
    Z = np.empty((features.shape[0], features.shape[1] + Y.shape[1]))
    Z[:, : features.shape[1]] = features
    Z[:, features.shape[1] :] = Y
    return Z


def _block_table(X, Y, weights, table_rows):
    """Statistics of one block of rows, for every row of the table and bucket.

    Parameters
    ----------
    X : {ndarray, sparse matrix} of shape (n_rows, n_features)
        The block's inputs (``n_features``: of the data).
    Y : ndarray of shape (n_rows, n_targets) or None
        The block's targets, stacked after the features (``[φ, y]``).
    weights : ndarray of shape (n_rows,) or None
        Sample weights (``None``: all ones).
    table_rows : list of TableRow
        The maps and buckets; the rows of one map share its features.

    Returns
    -------
    list of list of SampleStatistics or None
    """
    _check_block(Y, weights)
    last_use = {id(row.feature_map): i for i, row in enumerate(table_rows)}
    stacked = {}
    table = []
    for i, (feature_map, row_labels, count, weighted) in enumerate(table_rows):
        key = id(feature_map)
        if key not in stacked:
            stacked[key] = _stacked_rows(X, Y, feature_map)
        Z = stacked[key]
        # The caller's rows (no map) are never centred in place, nor features
        # that a later row of the table still reads.
        own = feature_map is not None and last_use[key] == i
        block_weights = weights if weighted and feature_map is not None else None
        row = []
        for bucket in range(count):
            if count == 1 and np.all(row_labels == 0):
                selected, bucket_weights, owned = Z, block_weights, own
            else:
                mask = row_labels == bucket
                selected, owned = Z[mask], True
                bucket_weights = None if block_weights is None else block_weights[mask]
            row.append(_weighted_statistics(selected, bucket_weights, overwrite=owned))
        table.append(row)
    return table


def row_blocks(n_rows: int, n_block_rows: int):
    """Slices of ``n_block_rows`` consecutive rows (the last one shorter)."""
    return [
        slice(start, min(start + n_block_rows, n_rows))
        for start in range(0, n_rows, n_block_rows)
    ]


def accumulate(X, Y, weights, table_rows, n_block_rows):
    """Statistics of all rows, block by block (or chunk by chunk for Dask).

    The float64 statistics of each block are merged exactly
    (:ref:`math-statistics`), so the result equals that of one block of all
    rows up to rounding, for any block size or Dask chunking. The memory is
    that of the table of statistics plus one block of features.
    """
    if is_dask_array(X):
        return _accumulate_dask(X, Y, weights, table_rows)
    total = None
    for rows in row_blocks(X.shape[0], n_block_rows):
        part = _block_table(
            X[rows],
            None if Y is None else Y[rows],
            None if weights is None else weights[rows],
            [row.rows(rows) for row in table_rows],
        )
        total = part if total is None else _merge_tables(total, part)
    return total


def _accumulate_dask(X, Y, weights, table_rows):
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
        return part.to_delayed().ravel()[0] if is_dask_array(part) else part

    if is_dask_array(Y):
        Y = Y.rechunk((row_chunks, -1))
    if is_dask_array(weights):
        weights = weights.rechunk((row_chunks,))
    block_table = dask.delayed(_block_table, pure=True)
    merge = dask.delayed(_merge_tables, pure=True)
    parts = [
        block_table(
            blocks[i],
            rows_of(Y, i),
            rows_of(weights, i),
            [row.rows(slice(bounds[i], bounds[i + 1])) for row in table_rows],
        )
        for i in range(len(row_chunks))
    ]
    while len(parts) > 1:
        merged = [merge(a, b) for a, b in zip(parts[::2], parts[1::2], strict=False)]
        parts = merged + ([parts[-1]] if len(parts) % 2 else [])
    (table,) = dask.compute(parts[0])
    return table


def fold_statistics(X, Y, weights, refit_map, fold_maps, fold, n_block_rows):
    """Weighted training, unweighted held-out and weighted full statistics.

    As ``GridSearchCV`` does without metadata routing, ``sample_weight``
    weights the training rows of each fold and the refit, and the held-out
    rows are scored unweighted. When every fold's map is the refit's (a map
    independent of the data) the folds' statistics are taken once and merged;
    otherwise each fold's map takes its own training and held-out rows.
    """
    K = len(fold_maps)
    weighted = weights is not None
    if all(same_map(refit_map, other) for other in fold_maps):
        rows = [TableRow(refit_map, fold, K)]
        if weighted:
            rows.append(TableRow(refit_map, fold, K, weighted=False))
        table = accumulate(X, Y, weights, rows, n_block_rows)
        parts = table[0]
        train = [
            merge_statistics(parts[j] for j in range(K) if j != k) for k in range(K)
        ]
        return train, table[-1], merge_statistics(parts)
    rows = [
        *(TableRow(fold_maps[k], (fold == k).view(np.int8), 2) for k in range(K)),
        TableRow(refit_map, one_bucket(fold.shape[0]), 1),
    ]
    if weighted:
        rows += [
            TableRow(
                fold_maps[k], np.where(fold == k, np.int8(0), np.int8(-1)), 1, False
            )
            for k in range(K)
        ]
    table = accumulate(X, Y, weights, rows, n_block_rows)
    train = [table[k][0] for k in range(K)]
    if weighted:
        test = [table[K + 1 + k][0] for k in range(K)]
    else:
        test = [table[k][1] for k in range(K)]
    return train, test, table[K][0]


def _check_lazy_dtype(array, name: str):
    """``array`` as a Dask array of float32 or float64; complex or text refused.

    The messages are those of scikit-learn's ``check_array`` for the same
    defect in memory.
    """
    kind = array.dtype.kind
    if kind == "c":
        raise ValueError(f"Complex data not supported\n{name}: {array!r}\n")
    if kind not in "biuf":
        raise ValueError(
            f"{name} must be numeric for a Dask array, got dtype {array.dtype}; "
            "convert the chunks to numbers first (e.g. with astype)."
        )
    if array.dtype in (np.float32, np.float64):
        return array
    return array.astype(np.float64)


def _check_lazy_length(array, name: str, n_samples: int) -> None:
    if any(np.isnan(size) for size in array.shape):
        raise ValueError(
            f"{name} has unknown chunk sizes (shape {array.shape}); call "
            f"{name}.compute_chunk_sizes() first, or build it with known chunks."
        )
    if name == "sample_weight" and array.shape != (n_samples,):
        raise ValueError(
            f"sample_weight.shape == {array.shape}, expected {(n_samples,)}!"
        )
    if name == "y" and array.shape[0] != n_samples:
        raise ValueError(
            "Found input variables with inconsistent numbers of samples: "
            f"[{n_samples}, {array.shape[0]}]"
        )


def check_lazy_inputs(X, y, sample_weight, *, estimator_name: str):
    """Check a Dask ``X`` and its targets and weights as ``validate_data`` would.

    Shapes, dtypes and lengths are checked at once, with scikit-learn's
    in-memory messages; the values (NaN, infinity, negative weights) are
    checked chunk by chunk as they are reduced. ``y`` and ``sample_weight``
    may be Dask or in-memory arrays.

    Returns
    -------
    X, y, sample_weight
        ``X`` a float Dask array, ``y`` float64 (lazy if given lazy), and
        ``sample_weight`` float64 or None.
    """
    if X.ndim != 2:
        raise ValueError(f"Expected a 2-D Dask array for X, got {X.ndim} dimensions.")
    _check_lazy_length(X, "X", X.shape[0])
    if X.shape[0] == 0 or X.shape[1] == 0:
        what = "sample" if X.shape[0] == 0 else "feature"
        raise ValueError(
            f"Found array with 0 {what}(s) (shape={X.shape}) while a minimum of "
            f"1 is required by {estimator_name}."
        )
    X = _check_lazy_dtype(X, "X")
    if y is None:
        raise ValueError(
            f"{estimator_name} requires y to be passed, but the target y is None."
        )
    if is_dask_array(y):
        y = _check_lazy_dtype(y, "y").astype(np.float64)
    else:
        y = np.asarray(
            check_array(y, ensure_2d=False, dtype="numeric", input_name="y"),
            dtype=np.float64,
        )
    _check_lazy_length(y, "y", X.shape[0])
    if sample_weight is not None:
        if is_dask_array(sample_weight):
            sample_weight = _check_lazy_dtype(sample_weight, "sample_weight")
            sample_weight = sample_weight.astype(np.float64)
        else:
            sample_weight = check_array(
                sample_weight,
                ensure_2d=False,
                dtype=np.float64,
                input_name="sample_weight",
            )
        _check_lazy_length(sample_weight, "sample_weight", X.shape[0])
    return X, y, sample_weight


def fold_labels(cv, X, y, groups) -> tuple[np.ndarray, int]:
    """Test fold of each row of ``X`` under ``cv``, and the number of folds.

    The test folds must partition the rows, each fold's training rows being
    all the others, as merging fold statistics needs
    (:ref:`math-ridge-statistics`).
    """
    n = X.shape[0]
    splitter = check_cv(cv, y, classifier=False)
    probe = np.empty((n, 0)) if is_dask_array(X) else X
    fold = np.full(n, -1, dtype=bucket_dtype(splitter.get_n_splits(probe, y, groups)))
    n_folds = 0
    for k, split in enumerate(splitter.split(probe, y, groups)):
        if k > np.iinfo(fold.dtype).max:  # more folds than get_n_splits said
            fold = fold.astype(np.intp)
        # Boolean masks index as GridSearchCV's splits do: as their rows.
        train, test = (_row_indices(part, n, cv) for part in split)
        in_train = np.zeros(n, dtype=bool)
        in_train[train] = True
        # The training rows must be the complement of the test rows, each once.
        complement = len(train) + len(test) == n and in_train.sum() == len(train)
        if not complement or np.any(in_train[test]) or np.any(fold[test] >= 0):
            raise ValueError(
                f"cv={_short_repr(cv)} does not split the rows into disjoint test "
                "folds whose training rows are all the other rows; "
                "RandomFeatureRidgeCV merges fold statistics and needs such "
                "a partition (KFold, GroupKFold, StratifiedKFold, ...)."
            )
        fold[test] = k
        n_folds = k + 1
    if n_folds < 2 or np.any(fold < 0):
        raise ValueError(
            f"cv={_short_repr(cv)} must give at least 2 test folds covering every row."
        )
    return fold, n_folds


def _row_indices(part, n: int, cv) -> np.ndarray:
    """A split's rows as integer indices (a boolean mask of ``n`` rows too)."""
    part = np.asarray(part)
    if part.dtype == bool:
        if part.shape != (n,):
            raise ValueError(
                f"cv={_short_repr(cv)} gives a boolean mask of shape "
                f"{part.shape}; a mask needs one entry per row of X ({n})."
            )
        return np.flatnonzero(part)
    # An empty list is a float array to NumPy: no rows.
    return part if part.size else part.astype(np.intp)


def _short_repr(cv) -> str:
    """``repr(cv)``, or its type for a long one (lists of index arrays)."""
    text = repr(cv)
    return text if len(text) <= 120 else f"{type(cv).__name__}(...)"
