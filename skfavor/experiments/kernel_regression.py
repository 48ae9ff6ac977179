"""Classification on the UCI sets by kernel regression: samplers against RBFSampler.

Runs the two routes of :mod:`~skfavor.experiments.nadaraya_watson` and
:mod:`~skfavor.experiments.ridge` on each set (the metric is test accuracy),
prints their tables and the summary (SDERF with orthogonal ω, the recommended
configuration, against RBFSampler at equal ``n_components``, and on the Ridge
route :class:`~skfavor.AutoSampler` against RBFSampler), and writes CSV files
and plots. AutoSampler is left out of the Nadaraya–Watson route: it may select
the sin/cos Fourier pair, whose features are not positive, and the vote's
weights must be (:ref:`§3 <math-families>`).
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np

from . import _paired
from ._common import (
    NAMES,
    RECOMMENDED,
    Config,
    method_key,
    method_label,
    one_blas_thread,
)
from ._output import (
    Line,
    Panel,
    format_table,
    parse_draws,
    plot_panels,
    write_csv,
)
from .nadaraya_watson import NW_COLUMNS, run_nadaraya_watson
from .ridge import RIDGE_ALPHAS, RIDGE_COLUMNS, RIDGE_GAMMAS, run_ridge

HEADLINE_COLUMNS = (
    "route",
    "dataset",
    "multiplier",
    "n_components",
    "repeats",
    "rbf_sampler_accuracy",
    "rbf_sampler_accuracy_sem",
    "sderf_orf_accuracy",
    "sderf_orf_accuracy_sem",
    "sderf_orf_accuracy_gain",
    "sderf_orf_accuracy_gain_sem",
    "auto_accuracy",
    "auto_accuracy_sem",
    "auto_accuracy_gain",
    "auto_accuracy_gain_sem",
    "auto_selected",
    "best_on_test_method",
    "best_on_test_of",
    "best_on_test_accuracy",
    "best_on_test_accuracy_sem",
    "exact_accuracy",
)


#: The default: a few minutes on two cores; large sets subsampled.
DEFAULT = Config()
#: The paper's protocol: 500 draws on the full split.
FULL = Config(
    repeats=500, ridge_repeats=10, max_train=None, max_test=None, ridge_max_train=5000
)

#: Curves of the plots, all at equal ``M``: RBFSampler and the symmetric
#: families with orthogonal ω (the CSV files hold every configuration). With
#: the exact-kernel level that is five lines a panel, the most a panel shows.
PLOTTED = (("rff", False), ("posrf", True), ("gerf", True), ("sderf", True))

#: The Ridge plot's curves: AutoSampler takes GERF's place (GERF stays in the
#: tables and ``ridge.csv``), keeping five lines a panel.
PLOTTED_RIDGE = (("rff", False), ("posrf", True), ("sderf", True), ("auto", True))

_ROUTES = {"nadaraya-watson": "Nadaraya–Watson", "ridge": "Ridge"}


def _configuration(row: dict) -> tuple[str, bool]:
    # The Ridge route draws every skfavor sampler orthogonally.
    return row["method"], row["method"] != "rff" and row.get("orthogonal", True)


def _label(row: dict) -> str:
    return method_label(*_configuration(row))


def headline(route: str, rows: list[dict]) -> list[dict]:
    """Per set and multiplier: SDERF (orthogonal) against RBFSampler.

    The recommended configuration (:data:`~._common.RECOMMENDED`) is compared
    with RBFSampler at equal ``n_components``, and so is AutoSampler where the
    route has it (the Ridge route; ``nan`` and ``''`` otherwise). Every
    method of a route draws with the same seeds on the same split, so a gain
    is the mean of the per-draw differences (``accuracy_draws``, paired by
    seed), and its ``_gain_sem`` is their standard error (``nan`` with one
    draw). The
    ``best_on_test`` columns
    hold, for reference, the skfavor configuration of highest mean *test*
    accuracy: chosen on the numbers it reports, so it is optimistic.

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
        ours = next(r for r in group if _configuration(r) == RECOMMENDED)
        candidates = [r for r in group if r["method"] != "rff"]
        best = max(candidates, key=lambda r: r["accuracy_mean"])
        auto = next((r for r in group if r["method"] == "auto"), None)
        out.append(
            dict(
                route=route,
                dataset=dataset,
                multiplier=multiplier,
                n_components=rff["n_components"],
                repeats=rff["repeats"],
                rbf_sampler_accuracy=rff["accuracy_mean"],
                rbf_sampler_accuracy_sem=rff["accuracy_sem"],
                sderf_orf_accuracy=ours["accuracy_mean"],
                sderf_orf_accuracy_sem=ours["accuracy_sem"],
                sderf_orf_accuracy_gain=ours["accuracy_mean"] - rff["accuracy_mean"],
                sderf_orf_accuracy_gain_sem=paired_gain_sem(ours, rff),
                **_auto_columns(auto, rff),
                best_on_test_method=method_key(*_configuration(best)),
                best_on_test_of=len(candidates),
                best_on_test_accuracy=best["accuracy_mean"],
                best_on_test_accuracy_sem=best["accuracy_sem"],
                exact_accuracy=rff["exact_accuracy"],
            )
        )
    return out


def _auto_columns(auto: dict | None, rff: dict) -> dict:
    if auto is None:
        nan = float("nan")
        return dict(
            auto_accuracy=nan,
            auto_accuracy_sem=nan,
            auto_accuracy_gain=nan,
            auto_accuracy_gain_sem=nan,
            auto_selected="",
        )
    return dict(
        auto_accuracy=auto["accuracy_mean"],
        auto_accuracy_sem=auto["accuracy_sem"],
        auto_accuracy_gain=auto["accuracy_mean"] - rff["accuracy_mean"],
        auto_accuracy_gain_sem=paired_gain_sem(auto, rff),
        auto_selected=auto.get("auto_selected", ""),
    )


def paired_gain_sem(row: dict, reference: dict) -> float:
    """Standard error of the mean per-draw difference ``row − reference``.

    Both rows were measured on the same seeds (draw ``r`` of every method
    uses seed ``r``), so their accuracies are compared draw by draw, which
    is right whether or not the shared seeds correlate the two.

    Parameters
    ----------
    row, reference : dict
        Route rows with ``accuracy_draws`` (:func:`~._output.format_draws`).

    Returns
    -------
    float
        ``sd / √n`` of the differences; ``nan`` with fewer than two draws.
    """
    mine, theirs = (
        parse_draws(row["accuracy_draws"]),
        parse_draws(reference["accuracy_draws"]),
    )
    summary = _paired.paired(dict(enumerate(mine)), dict(enumerate(theirs)))
    return summary.sd / math.sqrt(summary.n) if summary.n > 1 else math.nan


def tally(rows: list[dict], ours: str = "sderf_orf") -> dict[str, float]:
    """Count the cells where a configuration is ahead of RBFSampler.

    With repeated draws a difference counts when the paired 95 % t interval
    of the per-draw differences excludes 0: when it exceeds
    ``t(0.975, n − 1) · s``, with ``s`` the headline's ``_gain_sem`` over the
    ``n = repeats`` draws. The draws are paired because every method uses the
    same seeds (they are not independent samples: PosRF with i.i.d. ω even
    draws RBFSampler's very directions). With one draw (no standard error)
    any difference counts, and the summary says that there is no interval.

    Parameters
    ----------
    rows : list of dict
        Headline rows of one route.
    ours : {'sderf_orf', 'auto'}, default='sderf_orf'
        The configuration: SDERF with orthogonal ω, or AutoSampler (the
        prefix of its ``headline`` columns).

    Returns
    -------
    dict
        ``'ahead'``, ``'behind'`` and ``'level'`` counts, ``'cells'`` and the
        ``'mean_gain'`` in accuracy.
    """
    counts = {"ahead": 0, "behind": 0, "level": 0}
    for row in rows:
        gain = row[f"{ours}_accuracy_gain"]
        margin = paired_margin(row[f"{ours}_accuracy_gain_sem"], row["repeats"])
        if gain > margin:
            counts["ahead"] += 1
        elif gain < -margin:
            counts["behind"] += 1
        else:
            counts["level"] += 1
    gains = [row[f"{ours}_accuracy_gain"] for row in rows]
    return counts | {"cells": len(rows), "mean_gain": float(np.mean(gains))}


def paired_margin(sem: float, repeats: int) -> float:
    """Half-width of the paired 95 % t interval of a mean difference.

    ``sem``: standard error of the mean of ``repeats`` per-draw differences
    (:func:`paired_gain_sem`). 0 with one draw (any difference counts, as
    the summary says) or without spread (the gain is exact); inf where
    several draws give no standard error (fewer than two finite pairs): no
    interval, so nothing separates.
    """
    if repeats < 2 or sem == 0:
        return 0.0
    if not np.isfinite(sem):
        return math.inf
    return _paired.t_half_width(sem * math.sqrt(repeats), repeats)


def summary_lines(rows: list[dict]) -> list[str]:
    """Where SDERF (orthogonal), and on the Ridge route AutoSampler, beat RBFSampler.

    One sentence per route for SDERF (orth.), and one for AutoSampler on the
    route that runs it.
    """
    lines = []
    for route, name in _ROUTES.items():
        group = [r for r in rows if r["route"] == route]
        if not group:
            continue
        count = tally(group)
        repeats = group[0]["repeats"]
        if repeats > 1:
            draws = f"{repeats} draws per cell"
            level = "not separated by a paired 95 % t interval"
        else:
            draws = "1 draw per cell, no standard error"
            level = "level"
        lines.append(
            f"{name} classification ({draws}): SDERF (orth.) is ahead of "
            f"RBFSampler in {count['ahead']} of {count['cells']} (set, M) cells, "
            f"behind in {count['behind']}, {level} in {count['level']}; "
            f"mean test-accuracy gain {count['mean_gain']:+.3f}."
        )
        if all(np.isnan(r["auto_accuracy"]) for r in group):
            continue
        count = tally(group, "auto")
        lines.append(
            f"{name} classification ({draws}): AutoSampler (orth.) vs RBFSampler: "
            f"ahead in {count['ahead']} of {count['cells']} (set, M) cells, "
            f"behind in {count['behind']}, {level} in {count['level']}; "
            f"mean test-accuracy gain {count['mean_gain']:+.3f}."
        )
    return lines


def _key_label(key: str) -> str:
    """Display name of a :func:`~._common.method_key` identifier."""
    method, _, sampling = key.partition("-")
    return method_label(method, sampling == "orf")


def _draws(count: int) -> str:
    return f"{count} draw" if count == 1 else f"{count} draws"


def _cell(mean: float, sem: float) -> str:
    return f"{mean:.3f}" if np.isnan(sem) else f"{mean:.3f}±{sem:.3f}"


def accuracy_table(rows: list[dict], multipliers) -> str:
    """Methods down, multipliers across, test accuracy ``mean±sem`` in each cell."""
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
    return format_table(body, ["test accuracy"] + [f"M={m}d" for m in multipliers])


def headline_table(rows: list[dict]) -> str:
    """The headline rows as text: test accuracies per route, set and ``M``."""
    body = [
        [
            _ROUTES[r["route"]],
            r["dataset"],
            r["n_components"],
            _cell(r["rbf_sampler_accuracy"], r["rbf_sampler_accuracy_sem"]),
            _cell(r["sderf_orf_accuracy"], r["sderf_orf_accuracy_sem"]),
            _gain_cell(r["sderf_orf_accuracy_gain"], r["sderf_orf_accuracy_gain_sem"]),
            _auto_cell(r),
            f"{_key_label(r['best_on_test_method'])} of {r['best_on_test_of']}",
            _cell(r["best_on_test_accuracy"], r["best_on_test_accuracy_sem"]),
            f"{r['exact_accuracy']:.3f}",
        ]
        for r in rows
    ]
    header = [
        "route",
        "dataset",
        "M",
        "RBFSampler accuracy",
        "SDERF (orth.) accuracy",
        "gain ± paired se",
        "AutoSampler accuracy (picks)",
        "best on test",
        "its accuracy",
        "exact accuracy",
    ]
    return format_table(body, header)


def _gain_cell(gain: float, sem: float) -> str:
    """``+0.020±0.003``: a gain with its paired standard error (if any)."""
    return f"{gain:+.3f}" if np.isnan(sem) else f"{gain:+.3f}±{sem:.3f}"


def _auto_cell(row: dict) -> str:
    """AutoSampler's accuracy and the family it selected, or '-' without it."""
    if np.isnan(row["auto_accuracy"]):
        return "-"
    cell = _cell(row["auto_accuracy"], row["auto_accuracy_sem"])
    return f"{cell} ({row['auto_selected']})"


_COLORS = {
    "rff": "black",
    "posrf": "tab:blue",
    "gerf": "tab:orange",
    "sderf": "tab:green",
    "auto": "tab:red",
}


def _panels(rows: list[dict], plotted=PLOTTED) -> list[Panel]:
    panels = []
    for dataset in dict.fromkeys(r["dataset"] for r in rows):
        group = [r for r in rows if r["dataset"] == dataset]
        lines = []
        for method, orthogonal in plotted:
            series = [r for r in group if _configuration(r) == (method, orthogonal)]
            if not series:
                continue
            lines.append(
                Line(
                    label=NAMES[method],
                    x=[r["n_components"] for r in series],
                    y=[r["accuracy_mean"] for r in series],
                    yerr=[r["accuracy_sem"] for r in series],
                    color=_COLORS[method],
                    linestyle="--" if method == "rff" else "-",
                )
            )
        title = f"{dataset} (d={group[0]['n_features']})"
        panels.append(
            Panel(title, lines, [("exact kernel", group[0]["exact_accuracy"])])
        )
    return panels


def _error_bars(rows: list[dict]) -> str:
    repeats = rows[0]["repeats"]
    if repeats > 1:
        return f"error bars: ± one standard error over {repeats} draws"
    return "one draw per point, no error bars"


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
    print(
        "\nSummary: test accuracy of SDERF with orthogonal ω (the recommended "
        "configuration), and on the Ridge route of AutoSampler, against "
        "RBFSampler at equal M"
    )
    print("\n".join(summary_lines(headlines)))
    print(
        "\nAutoSampler runs on the Ridge route only (its picks in parentheses): it "
        "may select the sin/cos Fourier pair,\nwhich is not positive, and "
        "Nadaraya–Watson's weights must be.\n"
        "Per set and M: test accuracy, mean±standard error over the draws; the "
        "gain (SDERF minus RBFSampler) ± the standard error\nof its per-draw "
        "differences (same seeds). "
        "'Best on test' is the best of n skfavor configurations, chosen on this\n"
        "same test accuracy: it flatters skfavor and is shown for reference only."
    )
    print(headline_table(headlines))
    write_csv(out / "nadaraya_watson.csv", nw_rows, NW_COLUMNS)
    write_csv(out / "headline.csv", headlines, HEADLINE_COLUMNS)
    plot_panels(
        out / "nadaraya_watson.png",
        _panels(nw_rows),
        xlabel="number of features M",
        ylabel="test accuracy",
        xlog=True,
        suptitle=(
            "Nadaraya–Watson classification, skfavor samplers with orthogonal ω "
            f"({_error_bars(nw_rows)})"
        ),
    )
    if ridge_rows:
        write_csv(out / "ridge.csv", ridge_rows, RIDGE_COLUMNS)
        plot_panels(
            out / "ridge.png",
            _panels(ridge_rows, PLOTTED_RIDGE),
            xlabel="number of features M",
            ylabel="test accuracy",
            xlog=True,
            suptitle=(
                "Pipeline(sampler, RidgeClassifier) tuned by GridSearchCV, skfavor "
                f"samplers with orthogonal ω ({_error_bars(ridge_rows)});\n"
                "AutoSampler in GERF's place (GERF: see ridge.csv)"
            ),
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
            f"\nNadaraya–Watson classification, {name}: test accuracy, mean±standard "
            f"error over {_draws(rows[0]['repeats'])} (n_train={rows[0]['n_train']}, "
            f"n_test={rows[0]['n_test']})"
        )
        print(accuracy_table(rows, config.multipliers), flush=True)
        if config.ridge_repeats:
            rows = run_ridge(name, config)
            ridge_rows += rows
            print(
                f"\nRidge classification, {name}: test accuracy over "
                f"{_draws(rows[0]['repeats'])} of a {len(RIDGE_GAMMAS)}×"
                f"{len(RIDGE_ALPHAS)} grid search (n_train={rows[0]['n_train']})"
            )
            print(accuracy_table(rows, config.multipliers), flush=True)
    return nw_rows, ridge_rows


def _describe(config: Config) -> str:
    def rows(limit):
        return "all" if limit is None else f"at most {limit}"

    lines = [
        f"Classification on {', '.join(config.datasets)}, by kernel regression "
        f"with M = d·{{{', '.join(map(str, config.multipliers))}}} random "
        f"features; metric: test accuracy; seed {config.seed}.",
        f"Nadaraya–Watson: {_draws(config.repeats)} per point, "
        f"{rows(config.max_train)} training and {rows(config.max_test)} test "
        "rows per set.",
    ]
    if config.ridge_repeats:
        lines.append(
            f"Ridge: {_draws(config.ridge_repeats)} per point, "
            f"{rows(config.ridge_max_train)} training rows, grid gamma "
            f"{RIDGE_GAMMAS} × alpha {RIDGE_ALPHAS}, 3-fold CV."
        )
    if config.repeats < FULL.repeats or config.max_train or config.max_test:
        lines.append(
            "That is fewer draws and/or rows than the paper's protocol (500 draws "
            "on the full split): pass --full for it."
        )
    return "\n".join(lines)
