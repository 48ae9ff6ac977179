"""Kernel regression on the UCI sets, every sampler against RBFSampler.

Runs the two routes of :mod:`~skfavor.experiments.nadaraya_watson` and
:mod:`~skfavor.experiments.ridge` on each set, prints their tables and the
headline (RBFSampler against the best skfavor method), and writes CSV files
and plots.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from ._common import Config, method_label, one_blas_thread
from ._output import Line, Panel, format_table, plot_panels, write_csv
from .nadaraya_watson import NW_COLUMNS, run_nadaraya_watson
from .ridge import RIDGE_ALPHAS, RIDGE_COLUMNS, RIDGE_GAMMAS, run_ridge

HEADLINE_COLUMNS = (
    "route",
    "dataset",
    "multiplier",
    "n_components",
    "rff_accuracy",
    "rff_sem",
    "best_method",
    "best_accuracy",
    "best_sem",
    "exact_accuracy",
)


#: The default: a few minutes on two cores; large sets subsampled.
DEFAULT = Config()
#: The paper's protocol: 500 draws on the full split.
FULL = Config(
    repeats=500, ridge_repeats=10, max_train=None, max_test=None, ridge_max_train=5000
)


def _label(row: dict) -> str:
    return method_label(row["method"], row.get("orthogonal", True))


def headline(route: str, rows: list[dict]) -> list[dict]:
    """Per set and multiplier: RBFSampler against the best skfavor method.

    The best method is the one of highest mean accuracy among the skfavor
    rows, so with few draws it is slightly favoured by the selection.

    Parameters
    ----------
    route : str
        ``'nadaraya-watson'`` or ``'ridge'``.
    rows : list of dict
        Rows of :func:`run_nadaraya_watson` or :func:`run_ridge`.

    Returns
    -------
    list of dict
        Keyed by :data:`HEADLINE_COLUMNS`.
    """
    out = []
    keys = dict.fromkeys((row["dataset"], row["multiplier"]) for row in rows)
    for dataset, multiplier in keys:
        group = [
            r for r in rows if r["dataset"] == dataset and r["multiplier"] == multiplier
        ]
        rff = next(r for r in group if r["method"] == "rff")
        best = max(
            (r for r in group if r["method"] != "rff"),
            key=lambda r: r["accuracy_mean"],
        )
        out.append(
            dict(
                route=route,
                dataset=dataset,
                multiplier=multiplier,
                n_components=rff["n_components"],
                rff_accuracy=rff["accuracy_mean"],
                rff_sem=rff["accuracy_sem"],
                best_method=_label(best),
                best_accuracy=best["accuracy_mean"],
                best_sem=best["accuracy_sem"],
                exact_accuracy=rff["exact_accuracy"],
            )
        )
    return out


def _cell(mean: float, sem: float) -> str:
    return f"{mean:.3f}" if np.isnan(sem) else f"{mean:.3f}±{sem:.3f}"


def accuracy_table(rows: list[dict], multipliers) -> str:
    """Methods down, multipliers across, ``mean±sem`` in each cell."""
    labels = list(dict.fromkeys(_label(r) for r in rows))
    body = []
    for label in labels:
        cells = {r["multiplier"]: r for r in rows if _label(r) == label}
        body.append(
            [label]
            + [
                _cell(cells[m]["accuracy_mean"], cells[m]["accuracy_sem"])
                for m in multipliers
            ]
        )
    body.append(
        ["exact kernel"] + [f"{rows[0]['exact_accuracy']:.3f}"] * len(multipliers)
    )
    return format_table(body, ["method"] + [f"M={m}d" for m in multipliers])


def headline_table(rows: list[dict]) -> str:
    """The headline rows as text."""
    body = [
        [
            r["route"],
            r["dataset"],
            r["n_components"],
            _cell(r["rff_accuracy"], r["rff_sem"]),
            r["best_method"],
            _cell(r["best_accuracy"], r["best_sem"]),
            f"{r['best_accuracy'] - r['rff_accuracy']:+.3f}",
            f"{r['exact_accuracy']:.3f}",
        ]
        for r in rows
    ]
    header = ["route", "dataset", "M", "rff", "best skfavor", "acc.", "gain", "exact"]
    return format_table(body, header)


_COLORS = {
    "rff": "black",
    "posrf": "tab:blue",
    "gerf": "tab:orange",
    "sderf": "tab:green",
    "aderf": "tab:red",
    "saderf": "tab:purple",
}


def _panels(rows: list[dict]) -> list[Panel]:
    panels = []
    for dataset in dict.fromkeys(r["dataset"] for r in rows):
        group = [r for r in rows if r["dataset"] == dataset]
        lines = []
        for label in dict.fromkeys(_label(r) for r in group):
            series = [r for r in group if _label(r) == label]
            first = series[0]
            lines.append(
                Line(
                    label=label,
                    x=[r["n_components"] for r in series],
                    y=[r["accuracy_mean"] for r in series],
                    yerr=[r["accuracy_sem"] for r in series],
                    color=_COLORS[first["method"]],
                    linestyle="--" if first.get("orthogonal") is False else "-",
                )
            )
        title = f"{dataset} (d={group[0]['n_features']})"
        panels.append(
            Panel(title, lines, [("exact kernel", group[0]["exact_accuracy"])])
        )
    return panels


def run(config: Config, out: Path) -> dict[str, list[dict]]:
    """Run both routes on every set of ``config``; print and write the results.

    Writes ``nadaraya_watson.csv``, ``ridge.csv``, ``headline.csv`` and (with
    matplotlib) ``nadaraya_watson.png`` and ``ridge.png`` into ``out``.

    Parameters
    ----------
    config : Config
        The run's settings.
    out : Path
        Output folder (created).

    Returns
    -------
    dict
        ``'nadaraya_watson'``, ``'ridge'`` and ``'headline'`` rows.
    """
    start = time.perf_counter()
    print(_describe(config), flush=True)
    with one_blas_thread():
        nw_rows, ridge_rows = _run_routes(config)
    headlines = headline("nadaraya-watson", nw_rows) + headline("ridge", ridge_rows)
    print("\nBest skfavor method against RBFSampler (rff)")
    print(headline_table(headlines))
    write_csv(out / "nadaraya_watson.csv", nw_rows, NW_COLUMNS)
    write_csv(out / "headline.csv", headlines, HEADLINE_COLUMNS)
    plot_panels(
        out / "nadaraya_watson.png",
        _panels(nw_rows),
        xlabel="number of features M",
        ylabel="test accuracy",
        xlog=True,
        suptitle="Nadaraya–Watson classification (dashed: i.i.d., solid: orthogonal)",
    )
    if ridge_rows:
        write_csv(out / "ridge.csv", ridge_rows, RIDGE_COLUMNS)
        plot_panels(
            out / "ridge.png",
            _panels(ridge_rows),
            xlabel="number of features M",
            ylabel="test accuracy",
            xlog=True,
            suptitle="Pipeline(sampler, RidgeClassifier) tuned by GridSearchCV",
        )
    print(f"\nWrote the results to {out} in {time.perf_counter() - start:.0f} s.")
    return {"nadaraya_watson": nw_rows, "ridge": ridge_rows, "headline": headlines}


def _run_routes(config: Config) -> tuple[list[dict], list[dict]]:
    """Both routes on every set, printing each set's tables as they come."""
    nw_rows, ridge_rows = [], []
    for name in config.datasets:
        rows = run_nadaraya_watson(name, config)
        nw_rows += rows
        print(
            f"\nNadaraya–Watson, {name} (n_train={rows[0]['n_train']}, "
            f"n_test={rows[0]['n_test']}, {rows[0]['repeats']} draws)"
        )
        print(accuracy_table(rows, config.multipliers), flush=True)
        if config.ridge_repeats:
            rows = run_ridge(name, config)
            ridge_rows += rows
            print(
                f"\nRidge, {name} (n_train={rows[0]['n_train']}, "
                f"{rows[0]['repeats']} draws of a {len(RIDGE_GAMMAS)}×"
                f"{len(RIDGE_ALPHAS)} grid search)"
            )
            print(accuracy_table(rows, config.multipliers), flush=True)
    return nw_rows, ridge_rows


def _describe(config: Config) -> str:
    def rows(limit):
        return "all" if limit is None else f"at most {limit}"

    lines = [
        f"Kernel regression on {', '.join(config.datasets)}; M = d·"
        f"{{{', '.join(map(str, config.multipliers))}}}; seed {config.seed}.",
        f"Nadaraya–Watson: {config.repeats} draws per point, {rows(config.max_train)} "
        f"training and {rows(config.max_test)} test rows per set.",
    ]
    if config.ridge_repeats:
        lines.append(
            f"Ridge: {config.ridge_repeats} draws per point, "
            f"{rows(config.ridge_max_train)} training rows, grid gamma "
            f"{RIDGE_GAMMAS} × alpha {RIDGE_ALPHAS}, 3-fold CV."
        )
    if config.repeats < FULL.repeats or config.max_train or config.max_test:
        lines.append(
            "That is fewer draws and/or rows than the paper's protocol (500 draws "
            "on the full split): pass --full for it."
        )
    return "\n".join(lines)
