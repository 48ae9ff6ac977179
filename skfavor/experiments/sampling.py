"""Couplings of ω and the automatic choice of family, by Monte Carlo.

Two tables, on the UCI sets at the paper's σ (test rows as queries, training
rows as keys, as in :mod:`skfavor.experiments.variance`) and on synthetic
Gaussian data with ``d = 64``:

* **couplings**: the mean squared error of ``transform(X) @ transform_keys(Y).T``
  against the exact Gaussian kernel for i.i.d., block-orthogonal (ORF) and
  simplex (SimRF) directions at ``M = d`` and ``M = 4d``, for every family,
  averaged over many seeds (:ref:`math-sampling`, :ref:`math-simplex`). The
  ``M = d`` estimate is the prefix of the ``M = 4d`` draw (:ref:`math-nested`).
* **auto**: over the σ multipliers of the variance experiment, the Gram-matrix
  mean squared error of :class:`~skfavor.AutoSampler`, of
  :class:`~sklearn.kernel_approximation.RBFSampler` and of every candidate
  (orthogonal directions, ``M = 4d``).
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path

import numpy as np
from scipy.special import logsumexp
from sklearn.kernel_approximation import RBFSampler
from sklearn.linear_model import RidgeClassifier
from sklearn.pipeline import Pipeline

from .. import (
    AutoSampler,
    DERFSampler,
    FourierSampler,
    GERFSampler,
    PositiveRFSampler,
    UnderflowWarning,
)
from ..datasets import UCI_DATASETS, paper_split
from ..metrics import log_variance
from ._common import PAPER_GAMMA, Config, draw_seeds, one_blas_thread
from ._output import format_table, write_csv
from ._progress import progress
from .ridge import RIDGE_ALPHAS, RIDGE_GAMMAS, _grid_search
from .variance import SCALES, synthetic_data

#: Families whose couplings are compared (``'fourier'`` is the sin/cos pair).
FAMILIES = ("fourier", "posrf", "gerf", "sderf", "aderf", "saderf")

#: Couplings of ω, in the order of the expected variance (highest first).
SAMPLINGS = ("iid", "orthogonal", "simplex")

#: ``M = d · multiplier``.
MULTIPLIERS = (1, 4)

#: Queries × keys on which the error is averaged.
N_QUERIES, N_KEYS = 100, 400

COUPLING_COLUMNS = (
    "dataset",
    "n_features",
    "family",
    "sampling",
    "n_components",
    "n_seeds",
    "mse",
    "mse_standard_error",
    "ratio_to_iid",
    "ratio_standard_error",
)
RIDGE_COLUMNS = (
    "dataset",
    "n_features",
    "method",
    "multiplier",
    "n_components",
    "n_seeds",
    "accuracy_mean",
    "accuracy_sem",
)
AUTO_COLUMNS = (
    "dataset",
    "n_features",
    "scale",
    "method",
    "selected",
    "n_components",
    "n_seeds",
    "exact_log10_mse_iid",
    "mse",
    "mse_standard_error",
)


def load_pair(name: str, n_queries: int = N_QUERIES, n_keys: int = N_KEYS):
    """``(queries, keys)``: a UCI set's test and training rows, or synthetic d = 64."""
    if name == "synthetic":
        return synthetic_data(n_queries, n_keys, n_features=64)
    X_train, X_test, _, _ = paper_split(name, max_train=n_keys, max_test=n_queries)
    return X_test, X_train


def make_sampler(family: str, *, n_components: int, sampling: str, random_state):
    """An unfitted sampler of ``family`` for the kernel ``exp(-|x − y|²/2)``."""
    shared = dict(
        n_components=n_components,
        gamma=PAPER_GAMMA,
        sampling=sampling,
        random_state=random_state,
    )
    if family == "fourier":
        return FourierSampler(**shared)
    if family == "posrf":
        return PositiveRFSampler(**shared)
    if family == "gerf":
        return GERFSampler(**shared)
    return DERFSampler(family, **shared)


def gaussian_kernel(queries, keys) -> np.ndarray:
    """``exp(-|x − y|²/2)`` from the differences."""
    return np.exp(-PAPER_GAMMA * ((queries[:, None] - keys[None]) ** 2).sum(-1))


def coupling_rows(name: str, *, n_seeds: int = 100, seed: int = 0) -> list[dict]:
    """MSE of every family under every coupling at ``M = d`` and ``M = 4d``.

    Parameters
    ----------
    name : str
        UCI set or ``'synthetic'``.
    n_seeds : int, default=100
        Independent draws per point; the same seeds for every coupling, so
        that ratios are paired.
    seed : int, default=0
        First seed.

    Returns
    -------
    list of dict
        Keyed by :data:`COUPLING_COLUMNS`.
    """
    queries, keys = load_pair(name)
    d = queries.shape[1]
    K = gaussian_kernel(queries, keys)
    multipliers = MULTIPLIERS
    top = d * max(multipliers)
    rows = []
    for family in FAMILIES:
        errors = {s: {m: [] for m in multipliers} for s in SAMPLINGS}
        for sampling in SAMPLINGS:
            for r in range(n_seeds):
                sampler = make_sampler(
                    family, n_components=top, sampling=sampling, random_state=seed + r
                )
                if family == "fourier":
                    sampler.fit(keys)
                else:
                    sampler.fit(queries, keys=keys)
                fq, fk = sampler.transform(queries), sampler.transform_keys(keys)
                for m in multipliers:
                    # Fourier features come in pairs: for odd d, M = d is
                    # rounded up to d + 1 (the prefix of whole pairs).
                    width = d * m + (d * m) % 2 if family == "fourier" else d * m
                    estimate = (top / width) * fq[:, :width] @ fk[:, :width].T
                    errors[sampling][m].append(np.mean((estimate - K) ** 2))
        for m in multipliers:
            iid = np.asarray(errors["iid"][m])
            for sampling in SAMPLINGS:
                values = np.asarray(errors[sampling][m])
                ratio, ratio_se = _ratio(values, iid)
                rows.append(
                    dict(
                        dataset=name,
                        n_features=d,
                        family=family,
                        sampling=sampling,
                        n_components=d * m,
                        n_seeds=n_seeds,
                        mse=float(values.mean()),
                        mse_standard_error=float(values.std(ddof=1) / np.sqrt(n_seeds)),
                        ratio_to_iid=ratio,
                        ratio_standard_error=ratio_se,
                    )
                )
    return rows


def _ratio(values: np.ndarray, reference: np.ndarray) -> tuple[float, float]:
    """``mean(values) / mean(reference)`` and its delta-method standard error."""
    n = len(values)
    a, b = values.mean(), reference.mean()
    ratio = a / b
    residual = (values - ratio * reference) / b
    return float(ratio), float(residual.std(ddof=1) / np.sqrt(n))


def _exact_log10_mse(sampler, queries, keys, n_components: int) -> float:
    """``log10`` of the expected Gram-matrix MSE of i.i.d. features (§5)."""
    log_var = log_variance(sampler, queries, keys)
    mean_log = logsumexp(log_var) - np.log(log_var.size)
    return float((mean_log - np.log(n_components)) / np.log(10))


def auto_rows(
    name: str, *, n_seeds: int = 10, multiplier: int = 4, seed: int = 0
) -> list[dict]:
    """Gram-matrix MSE of AutoSampler, RBFSampler and every candidate per scale.

    Each method's expected MSE for i.i.d. directions is exact (from
    :func:`~skfavor.metrics.log_variance`); the Monte-Carlo MSE is that of
    orthogonal directions (RBFSampler: i.i.d.) over ``n_seeds`` draws, whose
    heavy tails (positive families far from the data's centre) make it
    fall below the expectation with few draws.

    Parameters
    ----------
    name : str
        UCI set or ``'synthetic'``.
    n_seeds : int, default=10
        Independent draws per point.
    multiplier : int, default=4
        ``M = d · multiplier`` (rounded up to even for the sin/cos pairs).
    seed : int, default=0
        First seed.

    Returns
    -------
    list of dict
        Keyed by :data:`AUTO_COLUMNS`; ``'auto'`` is AutoSampler's default
        criterion, ``'auto_mean_variance'`` its Gram-matrix criterion.
    """
    base_queries, base_keys = load_pair(name)
    d = base_queries.shape[1]
    M = d * multiplier + (d * multiplier) % 2
    methods = {
        "rff": lambda r, s: RBFSampler(
            gamma=PAPER_GAMMA, n_components=M, random_state=r
        ),
        "auto": lambda r, s: AutoSampler(
            M, gamma=PAPER_GAMMA, sampling=s, random_state=r
        ),
        "auto_mean_variance": lambda r, s: AutoSampler(
            M, gamma=PAPER_GAMMA, sampling=s, criterion="mean_variance", random_state=r
        ),
        **{
            family: (
                lambda r, s, family=family: make_sampler(
                    family, n_components=M, sampling=s, random_state=r
                )
            )
            for family in FAMILIES
        },
    }

    def fitted(method, r, s, queries, keys):
        sampler = methods[method](r, s)
        if method in ("rff", "fourier"):
            return sampler.fit(keys)
        return sampler.fit(queries, keys=keys)

    rows = []
    for scale in SCALES:
        queries, keys = scale * base_queries, scale * base_keys
        K = gaussian_kernel(queries, keys)
        for method in methods:
            exact_sampler = fitted(method, seed, "iid", queries, keys)
            errors = []
            for r in range(n_seeds):
                sampler = fitted(method, seed + r, "orthogonal", queries, keys)
                transform_keys = getattr(sampler, "transform_keys", sampler.transform)
                estimate = sampler.transform(queries) @ transform_keys(keys).T
                errors.append(np.mean((estimate - K) ** 2))
            errors = np.asarray(errors)
            rows.append(
                dict(
                    dataset=name,
                    n_features=d,
                    scale=scale,
                    method=method,
                    selected=getattr(exact_sampler, "selected_", ""),
                    n_components=M,
                    n_seeds=n_seeds,
                    exact_log10_mse_iid=_exact_log10_mse(
                        exact_sampler, queries, keys, M
                    ),
                    mse=float(errors.mean()),
                    mse_standard_error=float(errors.std(ddof=1) / np.sqrt(n_seeds)),
                )
            )
    return rows


def ridge_rows(name: str, *, n_seeds: int = 3) -> list[dict]:
    """The Ridge route of ``kernel-regression`` with AutoSampler and RBFSampler.

    The same split, grid, folds and seeds as
    :func:`skfavor.experiments.ridge.run_ridge` (default settings); the
    pipeline's sampler is RBFSampler or AutoSampler under each criterion,
    which in a pipeline sees one set, so chooses among the symmetric
    families.

    Parameters
    ----------
    name : str
        UCI set.
    n_seeds : int, default=3
        Draws per point (each a grid search).

    Returns
    -------
    list of dict
        Keyed by :data:`RIDGE_COLUMNS`.
    """
    config = Config(ridge_repeats=n_seeds)
    split = paper_split(
        name, max_train=config.ridge_max_train, max_test=config.max_test
    )
    X_train, X_test, y_train, y_test = split
    d = X_train.shape[1]
    factories = {
        "rff": lambda M, r: RBFSampler(n_components=M, random_state=r),
        "auto": lambda M, r: AutoSampler(M, random_state=r),
        "auto_mean_variance": lambda M, r: AutoSampler(
            M, criterion="mean_variance", random_state=r
        ),
    }
    rows = []
    for multiplier in config.multipliers:
        for method, factory in factories.items():
            accuracies = []
            for r in draw_seeds(config, n_seeds):
                pipeline = Pipeline(
                    [
                        ("sampler", factory(d * multiplier, r)),
                        ("ridge", RidgeClassifier()),
                    ]
                )
                grid = {"sampler__gamma": RIDGE_GAMMAS, "ridge__alpha": RIDGE_ALPHAS}
                search = _grid_search(pipeline, grid, r)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", UnderflowWarning)
                    search.fit(X_train, y_train)
                    accuracies.append(search.score(X_test, y_test))
            rows.append(
                dict(
                    dataset=name,
                    n_features=d,
                    method=method,
                    multiplier=multiplier,
                    n_components=d * multiplier,
                    n_seeds=n_seeds,
                    accuracy_mean=float(np.mean(accuracies)),
                    accuracy_sem=float(
                        np.std(accuracies, ddof=1) / np.sqrt(n_seeds)
                        if n_seeds > 1
                        else np.nan
                    ),
                )
            )
    return rows


def ridge_table(rows: list[dict]) -> str:
    """Per set and M: accuracy of RBFSampler and of AutoSampler's two criteria."""
    body = []
    for dataset, M in dict.fromkeys((r["dataset"], r["n_components"]) for r in rows):
        at = {
            r["method"]: r
            for r in rows
            if (r["dataset"], r["n_components"]) == (dataset, M)
        }
        body.append(
            [dataset, M]
            + [
                f"{at[m]['accuracy_mean']:.3f}"
                + (
                    ""
                    if np.isnan(at[m]["accuracy_sem"])
                    else f" ± {at[m]['accuracy_sem']:.3f}"
                )
                for m in ("rff", "auto", "auto_mean_variance")
            ]
        )
    return format_table(body, ["set", "M", "RBFSampler", "auto", "auto_mean_variance"])


def coupling_table(rows: list[dict]) -> str:
    """One line per set, family and M: MSE of each coupling and ratios to i.i.d."""
    body = []
    keys = dict.fromkeys((r["dataset"], r["family"], r["n_components"]) for r in rows)
    for dataset, family, M in keys:
        at = {
            r["sampling"]: r
            for r in rows
            if (r["dataset"], r["family"], r["n_components"]) == (dataset, family, M)
        }
        body.append(
            [dataset, family, M]
            + [
                f"{at[s]['mse']:.3g} ± {at[s]['mse_standard_error']:.1g}"
                for s in SAMPLINGS
            ]
            + [
                f"{at[s]['ratio_to_iid']:.3f} ± {at[s]['ratio_standard_error']:.3f}"
                for s in SAMPLINGS[1:]
            ]
        )
    header = ["set", "family", "M", *SAMPLINGS, "ORF/iid", "SimRF/iid"]
    return format_table(body, header)


def auto_table(rows: list[dict]) -> str:
    """Per set and scale: exact log10 MSE (i.i.d.) of each method; choices."""
    body = []
    methods = ["rff", "auto", "auto_mean_variance", *FAMILIES]
    for dataset, scale in dict.fromkeys((r["dataset"], r["scale"]) for r in rows):
        at = {
            r["method"]: r
            for r in rows
            if (r["dataset"], r["scale"]) == (dataset, scale)
        }
        body.append(
            [
                dataset,
                f"{scale:.3g}",
                at["auto"]["selected"],
                at["auto_mean_variance"]["selected"],
            ]
            + [f"{at[m]['exact_log10_mse_iid']:.2f}" for m in methods]
            + [f"{at[m]['mse']:.2g}" for m in ("rff", "auto", "auto_mean_variance")]
        )
    header = [
        "set",
        "σ ×",
        "auto picks",
        "auto_mv picks",
        *methods,
        "MC rff",
        "MC auto",
        "MC auto_mv",
    ]
    return format_table(body, header)


def run(
    out: Path,
    *,
    datasets=(*UCI_DATASETS, "synthetic"),
    n_seeds: int = 100,
    auto_seeds: int = 10,
    ridge_seeds: int = 0,
    quiet: bool = False,
) -> dict:
    """Compute, print and write both tables.

    Writes ``sampling_couplings.csv`` and ``sampling_auto.csv`` into ``out``.

    Parameters
    ----------
    out : Path
        Output folder (created).
    datasets : sequence of str
        UCI sets and/or ``'synthetic'``.
    n_seeds : int, default=100
        Draws per point of the coupling table.
    auto_seeds : int, default=10
        Draws per point of the AutoSampler table (0 skips it).
    ridge_seeds : int, default=0
        Draws per point of the Ridge route with AutoSampler (0 skips it; UCI
        sets only).
    quiet : bool, default=False
        No progress bar.

    Returns
    -------
    dict
        ``'couplings'`` and ``'auto'`` rows.
    """
    start = time.perf_counter()
    with one_blas_thread(), warnings.catch_warnings():
        # Positive features of outlying rows underflow at large σ; the
        # errors count them as they are.
        warnings.simplefilter("ignore", UnderflowWarning)
        ridge = [
            row
            for name in datasets
            if ridge_seeds and name != "synthetic"
            for row in ridge_rows(name, n_seeds=ridge_seeds)
        ]
        couplings = [
            row
            for name in progress(
                datasets, total=len(datasets), desc="couplings", disable=quiet
            )
            for row in coupling_rows(name, n_seeds=n_seeds)
        ]
        auto = [
            row
            for name in progress(
                datasets, total=len(datasets), desc="auto", disable=quiet
            )
            if auto_seeds
            for row in auto_rows(name, n_seeds=auto_seeds)
        ]
    print(
        "Mean squared error of the Gram matrix (queries × keys) over "
        f"{n_seeds} seeds ± standard error; ratios to i.i.d. are paired."
    )
    print(coupling_table(couplings))
    if auto:
        print(
            "\nGram-matrix error, M = 4d: exact log10 MSE of i.i.d. features per "
            "method, then the Monte-Carlo MSE of orthogonal ones "
            f"({auto_seeds} seeds; RBFSampler i.i.d.)"
        )
        print(auto_table(auto))
    if ridge:
        spread = (
            f"± standard error ({ridge_seeds} draws)"
            if ridge_seeds > 1
            else "(1 draw, no standard error)"
        )
        print(f"\nRidge route, test accuracy {spread}")
        print(ridge_table(ridge))
        write_csv(out / "sampling_ridge.csv", ridge, RIDGE_COLUMNS)
    write_csv(out / "sampling_couplings.csv", couplings, COUPLING_COLUMNS)
    write_csv(out / "sampling_auto.csv", auto, AUTO_COLUMNS)
    print(f"\nWrote the results to {out} in {time.perf_counter() - start:.0f} s.")
    return {"couplings": couplings, "auto": auto, "ridge": ridge}
