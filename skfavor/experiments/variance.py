"""Variance of each random-feature family against the scale of the data.

For every UCI set (test rows as queries, training rows as keys, 200 × 800 as
in :ref:`math-magnitudes`) and for synthetic Gaussian data whose queries and keys have
different distributions, the data are multiplied by a factor of their σ and
each family's exact mean ``log(Var/K²)`` of one feature (:ref:`math-variances`,
:func:`skfavor.metrics.log_variance`) is computed for the Gaussian kernel
``exp(-|x - y|²/2)``. The gain of a family over RFF (or GERF) is the
difference of the means: ``exp(gain)`` is the ratio of the geometric-mean
relative variances. A Monte-Carlo estimate from many i.i.d. features checks
the closed forms at a few points.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from ..datasets import UCI_DATASETS, paper_split
from ..metrics import log_variance, squared_distances, trigonometric_log_variance
from ._common import NAMES, PAPER_GAMMA, make_sampler, one_blas_thread
from ._output import Line, Panel, format_table, plot_panels, write_csv
from ._progress import progress

#: Families compared: RBFSampler's random-phase RFF, then the positive ones.
METHODS = ("rff", "posrf", "gerf", "sderf", "aderf", "saderf")

#: Multipliers of each set's σ.
SCALES = tuple(float(s) for s in np.geomspace(0.25, 4.0, 9))

#: Sizes of :ref:`math-magnitudes`: 800 keys (training rows) and 200 queries
#: (test rows).
N_KEYS, N_QUERIES = 800, 200

#: Points of the Monte-Carlo check: (set, multiplier of σ).
MONTE_CARLO_POINTS = (("wifi", 1.0), ("banknote", 1.0), ("synthetic", 1.0))

VARIANCE_COLUMNS = (
    "dataset",
    "n_features",
    "scale",
    "method",
    "mean_log_relative_variance",
    "gain_over_rff",
    "gain_over_rff_sincos",
    "gain_over_gerf",
)
MONTE_CARLO_COLUMNS = (
    "dataset",
    "scale",
    "method",
    "n_draws",
    "n_pairs",
    "exact",
    "monte_carlo",
)


def synthetic_data(
    n_queries: int = N_QUERIES, n_keys: int = N_KEYS, n_features: int = 8, seed=0
):
    """Queries and keys from two different Gaussians, at a unit-variance scale.

    Keys are ``N(0, Σ_k)`` and queries ``N(μ, Σ_q)`` with random covariances
    of trace ``d`` and a mean shift of norm 1, then both are multiplied by
    0.5 so that multiplier 1 sits in the range of the UCI sets' σ.

    Parameters
    ----------
    n_queries, n_keys, n_features : int
        Sizes.
    seed : int
        Seed of the generator.

    Returns
    -------
    queries, keys : ndarray
    """
    rng = np.random.default_rng(seed)

    def covariance_factor():
        A = rng.normal(size=(n_features, n_features))
        return A / np.sqrt(np.trace(A @ A.T) / n_features)

    shift = rng.normal(size=n_features)
    shift /= np.linalg.norm(shift)
    keys = rng.normal(size=(n_keys, n_features)) @ covariance_factor().T
    queries = shift + rng.normal(size=(n_queries, n_features)) @ covariance_factor().T
    return 0.5 * queries, 0.5 * keys


def load_pair(name: str):
    """``(queries, keys)``: a UCI set's scaled test and training rows, or synthetic."""
    if name == "synthetic":
        return synthetic_data()
    X_train, X_test, _, _ = paper_split(name, max_train=N_KEYS, max_test=N_QUERIES)
    return X_test, X_train


def fitted_sampler(method: str, queries, keys, *, n_components=1, random_state=0):
    """A sampler of ``method`` fitted to the queries and keys at ``gamma = 0.5``."""
    sampler = make_sampler(
        method,
        n_components=n_components,
        gamma=PAPER_GAMMA,
        orthogonal=False,
        random_state=random_state,
    )
    if method == "rff":
        return sampler.fit(keys)
    return sampler.fit(queries, keys=keys)


def mean_log_relative_variances(queries, keys) -> dict[str, float]:
    """Mean over pairs of ``log(Var/K²)`` of one feature of each family.

    Parameters
    ----------
    queries, keys : ndarray
        The two sets, in units where the kernel is ``exp(-|x - y|²/2)``.

    Returns
    -------
    dict
        ``{method: mean}`` for :data:`METHODS`, plus ``'rff_sincos'``, the
        sin/cos pair of :ref:`math-magnitudes`'s table. Pairs of identical points are
        left out.
    """
    squared = squared_distances(queries, keys)
    # A point present in both sets has a sin/cos variance of exactly 0
    # (log −inf); such pairs are left out of every family's mean.
    distinct = squared > 0
    log_k2 = -2 * PAPER_GAMMA * squared[distinct]

    def mean(log_var):
        return float(np.mean(log_var[distinct] - log_k2))

    means = {
        method: mean(log_variance(fitted_sampler(method, queries, keys), queries, keys))
        for method in METHODS
    }
    means["rff_sincos"] = mean(
        trigonometric_log_variance(queries, keys, gamma=PAPER_GAMMA, kind="sincos")
    )
    return means


def monte_carlo_check(
    name: str, scale: float, *, n_draws=20_000, n_queries=20, n_keys=40, seed=0
) -> list[dict]:
    """Empirical against exact mean ``log(Var/K²)`` on a subset of pairs.

    Each family is fitted to the full sets; ``n_draws`` i.i.d. features then
    give, per pair, ``n_draws`` independent single-feature estimates
    ``M φ₁(x)_m φ₂(y)_m`` whose sample variance is compared with the closed
    form. Heavy tails make the sample variance low when ``Var/K²`` is large.

    Parameters
    ----------
    name : str
        UCI set or ``'synthetic'``.
    scale : float
        Multiplier of the set's σ.
    n_draws : int, default=20000
        Features drawn.
    n_queries, n_keys : int
        Pairs used: the first rows of each set.
    seed : int, default=0
        Seed of the features.

    Returns
    -------
    list of dict
        Keyed by :data:`MONTE_CARLO_COLUMNS`.
    """
    queries, keys = (scale * Z for Z in load_pair(name))
    Q, K = queries[:n_queries], keys[:n_keys]
    log_k2 = -2 * PAPER_GAMMA * squared_distances(Q, K)
    rows = []
    for method in METHODS:
        sampler = fitted_sampler(
            method, queries, keys, n_components=n_draws, random_state=seed
        )
        key_features = getattr(sampler, "transform_keys", sampler.transform)(K)
        query_features = sampler.transform(Q)
        # Per pair, the sample variance of the n_draws single-feature
        # estimates M·φ₁(x)_m·φ₂(y)_m, from their first two moments.
        first = n_draws * query_features @ key_features.T / n_draws
        second = n_draws**2 * (query_features**2) @ (key_features**2).T / n_draws
        variance = (second - first**2) * n_draws / (n_draws - 1)
        empirical = np.log(variance) - log_k2
        exact = log_variance(sampler, Q, K) - log_k2
        rows.append(
            dict(
                dataset=name,
                scale=scale,
                method=method,
                n_draws=n_draws,
                n_pairs=Q.shape[0] * K.shape[0],
                exact=float(exact.mean()),
                monte_carlo=float(empirical.mean()),
            )
        )
    return rows


def run(out: Path, *, datasets=(*UCI_DATASETS, "synthetic"), quiet=False):
    """Compute, print and write the variance comparison.

    Writes ``variance.csv``, ``variance_monte_carlo.csv`` and (with
    matplotlib) ``variance.png`` into ``out``.

    Parameters
    ----------
    out : Path
        Output folder (created).
    datasets : sequence of str
        UCI sets and/or ``'synthetic'``.
    quiet : bool, default=False
        No progress bar.

    Returns
    -------
    dict
        ``'variance'`` and ``'monte_carlo'`` rows.
    """
    start = time.perf_counter()
    with one_blas_thread():
        rows = _variance_rows(datasets, quiet)
        checks = [
            row
            for name, scale in MONTE_CARLO_POINTS
            if name in datasets
            for row in monte_carlo_check(name, scale)
        ]
    print(
        "Mean log(Var/K²) of one feature over query × key pairs "
        "(lower is better). RBFSampler is the random-phase RFF √2 cos(ωᵀx + u),\n"
        "RFF (sin/cos) the sin/cos pair; a gain is the other family's value "
        "minus the best DERF's."
    )
    for name in datasets:
        print(f"\n{name}")
        print(variance_table([r for r in rows if r["dataset"] == name]))
    if checks:
        print(
            f"\nMonte-Carlo check of the closed forms: mean log(Var/K²) over "
            f"{checks[0]['n_pairs']} pairs, exact and from {checks[0]['n_draws']} "
            "i.i.d. features (heavy tails make the sample variance low where "
            "Var/K² is large)"
        )
        print(
            format_table(
                [
                    [
                        c["dataset"],
                        c["scale"],
                        NAMES[c["method"]],
                        f"{c['exact']:.3f}",
                        f"{c['monte_carlo']:.3f}",
                    ]
                    for c in checks
                ],
                ["dataset", "scale", "method", "exact", "Monte Carlo"],
            )
        )
    write_csv(out / "variance.csv", rows, VARIANCE_COLUMNS)
    write_csv(out / "variance_monte_carlo.csv", checks, MONTE_CARLO_COLUMNS)
    plot_panels(
        out / "variance.png",
        _panels(rows, datasets),
        xlabel="multiplier of σ",
        ylabel="mean log(Var / K²) (symlog axis)",
        xlog=True,
        yscale="symlog",
        suptitle=(
            "Relative variance of one random feature (lower is better; PosRF and "
            "SADERF are in variance.csv)"
        ),
    )
    print(f"\nWrote the results to {out} in {time.perf_counter() - start:.0f} s.")
    return {"variance": rows, "monte_carlo": checks}


def _variance_rows(datasets, quiet: bool) -> list[dict]:
    """Every family's mean at every scale of every set, with the gains."""
    rows = []
    pairs = {name: load_pair(name) for name in datasets}
    tasks = [(name, scale) for name in datasets for scale in SCALES]
    for name, scale in progress(
        tasks, total=len(tasks), desc="variance", disable=quiet
    ):
        queries, keys = pairs[name]
        means = mean_log_relative_variances(scale * queries, scale * keys)
        rows += [
            dict(
                dataset=name,
                n_features=queries.shape[1],
                scale=scale,
                method=method,
                mean_log_relative_variance=value,
                gain_over_rff=means["rff"] - value,
                gain_over_rff_sincos=means["rff_sincos"] - value,
                gain_over_gerf=means["gerf"] - value,
            )
            for method, value in means.items()
        ]
    return rows


def variance_table(rows: list[dict]) -> str:
    """Scales down; each method's mean, then the best DERF's gains across."""
    methods = list(dict.fromkeys(r["method"] for r in rows))
    body = []
    for scale in dict.fromkeys(r["scale"] for r in rows):
        at = {r["method"]: r for r in rows if r["scale"] == scale}
        best = min(
            ("sderf", "aderf", "saderf"),
            key=lambda m: at[m]["mean_log_relative_variance"],
        )
        body.append(
            [f"{scale:.3g}"]
            + [f"{at[m]['mean_log_relative_variance']:.2f}" for m in methods]
            + [
                NAMES[best],
                f"{at[best]['gain_over_rff']:+.2f}",
                f"{at[best]['gain_over_rff_sincos']:+.2f}",
                f"{at[best]['gain_over_gerf']:+.2f}",
            ]
        )
    header = [
        "σ ×",
        *(NAMES[m] for m in methods),
        "best DERF",
        "gain/RBFSampler",
        "gain/sin-cos",
        "gain/GERF",
    ]
    return format_table(body, header)


#: Curves of the plot (PosRF and SADERF are in the CSV file and the table:
#: PosRF's curve follows RBFSampler's from σ × 0.7 on, SADERF's GERF's).
PLOTTED = {
    "rff": ("black", "-"),
    "rff_sincos": ("black", ":"),
    "gerf": ("tab:orange", "-"),
    "sderf": ("tab:green", "-"),
    "aderf": ("tab:red", "--"),
}


def _panels(rows: list[dict], datasets) -> list[Panel]:
    panels = []
    for name in datasets:
        group = [r for r in rows if r["dataset"] == name]
        lines = []
        for method, (color, linestyle) in PLOTTED.items():
            series = [r for r in group if r["method"] == method]
            lines.append(
                Line(
                    label=NAMES[method],
                    x=[r["scale"] for r in series],
                    y=[r["mean_log_relative_variance"] for r in series],
                    color=color,
                    linestyle=linestyle,
                )
            )
        panels.append(Panel(f"{name} (d={group[0]['n_features']})", lines))
    return panels
