"""How well a linear model does on random features: AutoSampler's default score."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.special import logsumexp
from sklearn.metrics.pairwise import euclidean_distances, safe_sparse_dot
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils.validation import column_or_1d

#: Kernel columns that stand in for a target when ``fit`` gets no ``y``.
N_LANDMARKS = 16


def ridge_targets(y, n_samples: int) -> np.ndarray | None:
    """``y`` as float64 columns a ridge fits, or None for no usable target.

    A float ``y`` (and a 2-D numeric one, or numbers held as objects, which
    Ridge reads as floats) is a regression target, used as it is; any other
    1-D ``y`` (integers, bools, strings) holds class labels, which become one
    ±1 indicator column per class (one column for two classes), as
    :class:`~sklearn.linear_model.RidgeClassifier` fits them.
    Constant columns carry no signal and are dropped.
    """
    if y is None:
        return None
    y = np.asarray(y)
    if y.dtype == object and not any(isinstance(value, str) for value in y.flat):
        # Numbers held as objects (a pandas object column): no classifier
        # takes them, and Ridge reads them as floats; so does this.
        try:
            y = y.astype(np.float64)
        except (TypeError, ValueError):
            pass
    if y.dtype.kind == "f" or (y.ndim == 2 and y.dtype.kind in "iub"):
        T = y.astype(np.float64)
    else:
        T = LabelBinarizer(neg_label=-1).fit_transform(column_or_1d(y))
    T = np.asarray(T, dtype=np.float64).reshape(len(T), -1)
    if T.shape[0] != n_samples:
        raise ValueError(
            f"y has {T.shape[0]} rows, but X has {n_samples}; they must match."
        )
    if not np.all(np.isfinite(T)):
        raise ValueError("Input y contains NaN or infinity.")
    T = T[:, np.ptp(T, axis=0) > 0]
    return T if T.shape[1] else None


def kernel_columns(X, landmarks, *, kernel: str, gamma: float) -> np.ndarray:
    """``K(x, l)`` of each row of ``X`` and landmark ``l``: targets without ``y``.

    Every function that a kernel method fits is a sum of such columns, so
    how well a ridge on the features predicts them measures how well the
    features span the kernel's functions. Softmax columns are divided by
    their largest entry (an overflow-free scale that the score ignores).
    """
    if kernel == "rbf":
        squared = euclidean_distances(X, landmarks, squared=True)
        return np.exp(-gamma * squared)
    logs = gamma * np.asarray(safe_sparse_dot(X, landmarks.T, dense_output=True))
    return np.exp(logs - logs.max(axis=0))


def ridge_cv_errors(features: np.ndarray, targets: np.ndarray, folds, alphas):
    """Cross-validated squared error of a ridge on each row, at its best penalty.

    For each fold, a ridge with intercept is fitted on the other rows for
    every penalty of ``alphas`` at the cost of one eigendecomposition (of
    the Gram matrix or of the covariance, whichever is smaller), and
    predicts the held-out rows. Each row's squared error, summed over the
    targets, is divided by the sum over all rows of the targets' squared
    deviations from their training means: the errors sum to ``1 − R²``
    pooled over the folds (0 is a perfect fit, 1 no better than the mean),
    and the penalty kept is the one of least sum.

    Parameters
    ----------
    features : ndarray of shape (n_samples, n_components)
    targets : ndarray of shape (n_samples, n_targets)
    folds : list of ndarray
        Held-out row indices of each fold; the folds partition the rows.
    alphas : ndarray of shape (n_alphas,)
        Ridge penalties, > 0.

    Returns
    -------
    ndarray of shape (n_samples,)
        The rows' relative errors; ``inf`` everywhere if the features are not
        finite, 0 everywhere if the held-out targets are constant.
    """
    features = np.asarray(features, dtype=np.float64)
    n_samples = features.shape[0]
    if not np.all(np.isfinite(features)):
        return np.full(n_samples, np.inf)
    errors = np.zeros((len(alphas), n_samples))
    baseline = 0.0
    for held_out in folds:
        train = np.ones(n_samples, dtype=bool)
        train[held_out] = False
        F, T = features[train], targets[train]
        mean_F, mean_T = F.mean(axis=0), T.mean(axis=0)
        F, T = F - mean_F, T - mean_T
        F_out, T_out = features[held_out] - mean_F, targets[held_out] - mean_T
        if F.shape[0] <= F.shape[1]:
            eigenvalues, U = np.linalg.eigh(F @ F.T)
            projected_out, projected_T = F_out @ (F.T @ U), U.T @ T
        else:
            eigenvalues, V = np.linalg.eigh(F.T @ F)
            projected_out, projected_T = F_out @ V, V.T @ (F.T @ T)
        eigenvalues = np.maximum(eigenvalues, 0.0)
        for k, alpha in enumerate(alphas):
            prediction = projected_out @ (projected_T / (eigenvalues + alpha)[:, None])
            errors[k, held_out] = np.sum((T_out - prediction) ** 2, axis=1)
        baseline += np.sum(T_out**2)
    if baseline == 0:
        return np.zeros(n_samples)
    best = np.argmin(errors.sum(axis=1))
    return errors[best] / baseline


def one_standard_error_choice(errors: dict, reference: str | None) -> str:
    """The candidate of least summed error, unless ``reference`` is within noise.

    The one-standard-error rule (Hastie, Tibshirani and Friedman, *The
    Elements of Statistical Learning*, §7.10): the best candidate replaces
    the reference only if its total error is lower by more than one standard
    error of the paired difference over the rows, ``√n · std(e_ref − e_best)``.
    """
    totals = {name: float(np.sum(rows)) for name, rows in errors.items()}
    best = min(totals, key=totals.__getitem__)
    if reference is None or reference not in errors or best == reference:
        return best
    difference = errors[reference] - errors[best]
    if not np.all(np.isfinite(difference)):
        return best
    standard_error = np.sqrt(difference.size) * np.std(difference, ddof=1)
    return best if np.sum(difference) > standard_error else reference


def mean_log_variance(pairs: np.ndarray, criterion: str, log_kernel) -> float:
    """The variance criteria's score of per-pair log variances.

    ``log_kernel`` holds the pairs' ``log K``. Under ``'mean_log_variance'``,
    relative variances ``Var/K²`` below float64's epsilon count as epsilon:
    one feature is then exact to rounding, and an exact 0 (PosRF at
    ``x = −y``, :ref:`math-variances`) would make the mean −inf whatever the
    other pairs' variances.
    """
    if criterion == "mean_log_variance":
        floor = 2.0 * log_kernel + np.log(np.finfo(np.float64).eps)
        return float(np.mean(np.maximum(pairs, floor)))
    return float(logsumexp(pairs) - np.log(pairs.size))


def fold_indices(n_samples: int, n_folds: int, random_state) -> list[np.ndarray]:
    """Held-out rows of ``n_folds`` shuffled folds of nearly equal size."""
    order = random_state.permutation(n_samples)
    return [np.sort(part) for part in np.array_split(order, n_folds)]


def dense_rows(X, index) -> np.ndarray:
    """Rows ``index`` of a dense or sparse ``X`` as a float64 array."""
    part = X[index]
    part = part.toarray() if sp.issparse(part) else part
    return np.asarray(part, dtype=np.float64)
