"""Ridge regression from the statistics of ``[φ, y]``: solves, paths and scores.

Pure functions of :class:`~skfavor._statistics.SampleStatistics` (float64
count, mean and centred scatter of the stacked rows ``[φ(x), y]``) and of the
ridge's ``alpha`` (the regularisation strength, never the kernel's
``norm_coefficient_``), as :ref:`math-ridge-statistics` writes them. The
estimators of :mod:`skfavor.kernel_ridge` stream the statistics
(:mod:`skfavor._streaming`) and call these.
"""

from __future__ import annotations

import warnings

import numpy as np
import scipy.linalg
import scipy.stats
from sklearn.exceptions import UndefinedMetricWarning

from ._statistics import SampleStatistics

__all__ = [
    "check_conditioning",
    "grid_results",
    "held_out_errors",
    "held_out_score",
    "ridge_path",
    "ridge_solution",
    "ridge_system",
    "solve_ridge",
]


def ridge_system(statistics, n_components, n_used, fit_intercept):
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


def solve_ridge(A, B, alpha):
    """``(A + αI)⁻¹ B`` by Cholesky (:ref:`math-ridge-statistics`).

    A system that is not numerically positive definite (a tiny ``alpha`` on
    collinear features) is solved by least squares instead; one that is, but
    ill-conditioned, warns (:func:`check_conditioning`). Statistics that
    overflowed (inf or NaN) raise ``ValueError``, as ``Ridge`` does.
    """
    system = A + alpha * np.eye(A.shape[0])
    if not (np.all(np.isfinite(system)) and np.all(np.isfinite(B))):
        raise ValueError(
            "array must not contain infs or NaNs: the statistics of the features "
            "and targets overflow float64; scale the targets (or inputs) down."
        )
    try:
        factor = scipy.linalg.cho_factor(system, check_finite=False)
    except (scipy.linalg.LinAlgError, ValueError):
        return scipy.linalg.lstsq(system, B)[0]
    rcond, _ = scipy.linalg.lapack.dpocon(
        factor[0], np.linalg.norm(system, 1), uplo="L" if factor[1] else "U"
    )
    check_conditioning(rcond, alpha)
    return scipy.linalg.cho_solve(factor, B, check_finite=False)


#: Relative error of the solve above which :func:`check_conditioning` warns.
_MAX_LOSS = 1e-6


def check_conditioning(rcond: float, alpha: float) -> None:
    """Warn when ``A + αI`` is too ill-conditioned for the statistics' solve.

    ``A`` is formed from the statistics, so its rounding (``eps · λ_max``)
    reaches the weights as about ``eps / rcond`` relative: with fewer rows
    than features (``A`` singular) or collinear features, a tiny ``alpha``
    leaves predictions off by up to 100 % where ``Ridge`` on the feature
    matrix (its SVD, or its dual for wide matrices) is exact. The stated
    loss is ``eps / rcond`` rounded up to a power of ten.
    """
    loss = np.finfo(np.float64).eps / max(rcond, np.finfo(np.float64).tiny)
    if loss > _MAX_LOSS:
        bound = 10.0 ** np.ceil(np.log10(loss))
        warnings.warn(
            f"The ridge system of alpha={alpha:.3g} is ill-conditioned (fewer "
            "rows than features, or collinear features): solved from the "
            f"feature statistics, its weights and predictions may be off by "
            f"about {bound:.0e} relative, where Ridge on the feature matrix "
            "is not. Use a larger alpha.",
            scipy.linalg.LinAlgWarning,
            stacklevel=2,
        )


#: Up to this many ``alpha`` share no factorisation: one Cholesky each is
#: cheaper than one ``eigh`` (``eigh`` with vectors costs 9–12 Cholesky
#: factorisations at ``n`` = 256 … 2048 with OpenBLAS).
_CHOLESKY_MAX_ALPHAS = 8


def held_out_errors(statistics, n_components, n_used, coef, intercept):
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


def _intercept(target_mean, feature_mean, coef, fit_intercept: bool):
    """``ȳ − φ̄ᵀ coef`` with an intercept, zeros without."""
    if fit_intercept:
        return target_mean - feature_mean @ coef
    return np.zeros(coef.shape[1])


def ridge_path(
    statistics: SampleStatistics,
    n_components: int,
    n_used: int,
    alphas,
    *,
    fit_intercept: bool,
):
    """Weights and intercepts of every ``alpha``: Cholesky solves or one ``eigh``.

    One ``alpha`` is one Cholesky solve of ``A + αI`` (``n³/3`` flops). Many
    share one ``eigh(A) = V diag(λ) Vᵀ``: ``coef = V diag(1/(λ + alpha)) Vᵀ
    B`` (:ref:`math-ridge-statistics`), about ten times the cost of one
    solve, then ``O(n²)`` per ``alpha``; up to ``_CHOLESKY_MAX_ALPHAS`` are
    solved one by one. ``n_used`` features are the first of ``n_components``
    (:ref:`math-nested`).

    Yields
    ------
    coef : ndarray of shape (n_used, n_targets)
    intercept : ndarray of shape (n_targets,)
    """
    A, B, feature_mean, target_mean = ridge_system(
        statistics, n_components, n_used, fit_intercept
    )
    alphas = list(alphas)
    if len(alphas) <= _CHOLESKY_MAX_ALPHAS:
        for alpha in alphas:
            coef = solve_ridge(A, B, alpha)
            yield coef, _intercept(target_mean, feature_mean, coef, fit_intercept)
        return
    eigenvalues, vectors = np.linalg.eigh(A)
    eigenvalues = np.maximum(eigenvalues, 0.0)
    projected = vectors.T @ B
    for alpha in alphas:
        check_conditioning((eigenvalues[0] + alpha) / (eigenvalues[-1] + alpha), alpha)
        coef = vectors @ (projected / (eigenvalues + alpha)[:, None])
        yield coef, _intercept(target_mean, feature_mean, coef, fit_intercept)


def ridge_solution(
    statistics: SampleStatistics, n_components: int, alpha: float, *, fit_intercept
):
    """``coef`` and ``intercept`` of one ``alpha`` on all ``n_components``."""
    ((coef, intercept),) = ridge_path(
        statistics, n_components, n_components, [alpha], fit_intercept=fit_intercept
    )
    return coef, intercept


def held_out_score(errors, statistics: SampleStatistics, n_components: int, scoring):
    """Held-out score from per-target sums of squared residuals.

    ``'r2'``: ``1 − errors / Σ(y − ȳ)²`` per target (``1`` for a constant
    target predicted exactly, else ``0``, as :func:`~sklearn.metrics.r2_score`),
    averaged uniformly; otherwise the negated mean squared error, averaged
    uniformly over the targets. ``statistics`` are the held-out rows'
    (unweighted). R² of fewer than two rows is NaN, as ``r2_score`` gives
    it (:func:`grid_scores` warns).
    """
    n = statistics.n_samples
    if scoring == "r2":
        if n < 2:
            return float("nan")
        total = np.diag(statistics.scatter)[n_components:]
        ratios = np.where(
            total > 0,
            1.0 - errors / np.where(total > 0, total, 1.0),
            np.where(errors == 0, 1.0, 0.0),
        )
        return float(np.mean(ratios))
    return -float(np.mean(errors)) / n


def grid_results(scores: np.ndarray, counts, alphas) -> tuple[dict, int]:
    """``cv_results_`` as :class:`~sklearn.model_selection.GridSearchCV`'s.

    ``scores`` has one row per candidate (``counts`` outer, ``alphas``
    inner) and one column per fold. Returns the results and the index of the
    chosen candidate: ties share the lowest rank, NaN means rank last
    together (all 1 when every mean is NaN), and the first candidate of the
    best rank is chosen, as in ``GridSearchCV``, which also warns of
    non-finite means.
    """
    n_candidates = scores.shape[0]
    params = [{"n_components": m, "alpha": a} for m in counts for a in alphas]
    mean = scores.mean(axis=1)
    results = {
        "params": params,
        # Numeric columns, as GridSearchCV's (scikit-learn >= 1.5).
        "param_n_components": np.ma.MaskedArray(
            [p["n_components"] for p in params], mask=False, dtype=np.int64
        ),
        "param_alpha": np.ma.MaskedArray(
            [p["alpha"] for p in params], mask=False, dtype=np.float64
        ),
    }
    for k in range(scores.shape[1]):
        results[f"split{k}_test_score"] = scores[:, k]
    if not np.isfinite(mean).all():
        # GridSearchCV's own warning, so that a NaN choice is not silent.
        warnings.warn(
            f"One or more of the test scores are non-finite: {mean}",
            UserWarning,
            stacklevel=3,
        )
    if np.isnan(mean).all():
        rank = np.ones(n_candidates, dtype=np.int32)
    else:
        filled = np.where(np.isnan(mean), np.nanmin(mean) - 1.0, mean)
        rank = scipy.stats.rankdata(-filled, method="min").astype(np.int32)
    results.update(
        mean_test_score=mean,
        std_test_score=scores.std(axis=1),
        rank_test_score=rank,
    )
    return results, int(np.argmin(rank))


def grid_scores(train, test, M, counts, alphas, fit_intercept, scoring) -> np.ndarray:
    """Held-out score of every candidate (rows) in every fold (columns).

    ``train[k]`` and ``test[k]`` are fold ``k``'s statistics (None where its
    weights sum to 0); candidate ``i · len(alphas) + j`` uses the first
    ``counts[i]`` of the ``M`` features and ``alphas[j]``.
    """
    K = len(train)
    single = [k for k in range(K) if test[k] is not None and test[k].n_samples < 2]
    if scoring == "r2" and single:
        warnings.warn(
            f"R^2 score is not well-defined with less than two samples: the "
            f"held-out folds {single} have one row each, so their scores (and "
            "the mean scores) are NaN, as in GridSearchCV; use fewer folds or "
            "scoring='neg_mean_squared_error'.",
            UndefinedMetricWarning,
            stacklevel=3,
        )
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
            path = ridge_path(train[k], M, m, alphas, fit_intercept=fit_intercept)
            for j, (coef, intercept) in enumerate(path):
                errors = held_out_errors(test[k], M, m, coef, intercept)
                scores[i * len(alphas) + j, k] = held_out_score(
                    errors, test[k], M, scoring
                )
    return scores
