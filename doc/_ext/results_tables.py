"""Condense the measured CSV files of ``doc/results`` into the results page's tables.

``python -m skfavor.experiments`` writes long tables (one row per data set,
method, sampling and feature count). At the start of each build this
extension writes short ones into ``doc/generated/results``, which
``results.rst`` includes with the ``csv-table`` directive: accuracies at the
largest feature count, the gain of SDERF (orthogonal) over RBFSampler at
every feature count (and, labelled as such, that of the best skfavor
configuration chosen on the test set), the gain of AutoSampler over
RBFSampler on the Ridge route with the family it selected, and the variances
at the paper's σ.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

from skfavor.experiments._common import NAMES

#: AutoSampler's picks, as the table cells name them.
PICKS = {"fourier": "Fourier", **NAMES}


def _read(path: Path) -> list[dict]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def _write(path: Path, header: list[str], rows: list[list[str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


def _accuracy(mean: str, sem: str = "nan") -> str:
    """``0.862 ± 0.036``, or the mean alone when there is no standard error."""
    if math.isnan(float(sem)):
        return f"{float(mean):.3f}"
    return f"{float(mean):.3f} ± {float(sem):.3f}"


def _method(name: str) -> str:
    """Display name of ``gerf-orf``, ``aderf-iid``, ``rff``..."""
    family, _, sampling = name.partition("-")
    suffix = {"orf": "", "iid": " (i.i.d.)"}.get(sampling, "")
    return NAMES.get(family, family) + suffix


def _datasets(rows: list[dict]) -> list[str]:
    return list(dict.fromkeys(row["dataset"] for row in rows))


def _largest_multiplier(rows: list[dict], dataset: str) -> str:
    return max(
        (row["multiplier"] for row in rows if row["dataset"] == dataset), key=float
    )


def accuracy_table(rows: list[dict], methods: list[str]) -> list[list[str]]:
    """Per data set at its largest ``M``: test accuracy of each method, exact kernel."""
    table = []
    for dataset in _datasets(rows):
        top = _largest_multiplier(rows, dataset)
        cells = {
            row["method"]: row
            for row in rows
            if row["dataset"] == dataset
            and row["multiplier"] == top
            # RBFSampler has no orthogonal variant; the others are shown with it.
            and (row["method"] == "rff" or row.get("orthogonal") != "False")
        }
        first = next(iter(cells.values()))
        table.append(
            [dataset, first["n_features"], first["n_components"]]
            + [
                _accuracy(cells[m]["accuracy_mean"], cells[m]["accuracy_sem"])
                for m in methods
            ]
            + [_accuracy(first["exact_accuracy"])]
        )
    return table


def _gain(row: dict | None) -> str:
    """``+0.043 ± 0.031``: SDERF (orthogonal) accuracy minus RBFSampler's.

    The ``±`` is the standard error of the mean per-draw difference (the two
    samplers draw with the same seeds, so the draws are paired), where there
    are repeated draws.
    """
    if row is None:
        return ""
    gain = float(row["sderf_orf_accuracy_gain"])
    error = float(row["sderf_orf_accuracy_gain_sem"])
    return f"{gain:+.3f}" if math.isnan(error) else f"{gain:+.3f} ± {error:.3f}"


def _auto_gain(row: dict | None) -> str:
    """``+0.012 (SDERF)``: AutoSampler's accuracy minus RBFSampler's, its pick."""
    if row is None or math.isnan(float(row["auto_accuracy_gain"])):
        return ""
    picks = "/".join(PICKS[p] for p in row["auto_selected"].split("|"))
    return f"{float(row['auto_accuracy_gain']):+.3f} ({picks})"


def _best_on_test(row: dict | None) -> str:
    """``+0.043 (ADERF (i.i.d.))``: the test-selected best minus RBFSampler."""
    if row is None:
        return ""
    gain = float(row["best_on_test_accuracy"]) - float(row["rbf_sampler_accuracy"])
    return f"{gain:+.3f} ({_method(row['best_on_test_method'])})"


def gain_table(
    rows: list[dict], route: str, cell=_gain
) -> tuple[list[str], list[list[str]]]:
    """``cell`` of each headline row of ``route``, per data set and multiplier."""
    rows = [row for row in rows if row["route"] == route]
    multipliers = sorted({row["multiplier"] for row in rows}, key=float)
    header = ["dataset"] + [f"M = {m} d" for m in multipliers]
    table = []
    for dataset in _datasets(rows):
        cells = {row["multiplier"]: row for row in rows if row["dataset"] == dataset}
        table.append([dataset] + [cell(cells.get(m)) for m in multipliers])
    return header, table


def variance_table(rows: list[dict]) -> tuple[list[str], list[list[str]]]:
    """Mean log(Var/K²) of one feature at the paper's σ (scale 1), per data set."""
    rows = [row for row in rows if math.isclose(float(row["scale"]), 1.0)]
    methods = [m for m in NAMES if any(row["method"] == m for row in rows)]
    header = ["dataset", "d"] + [NAMES[m] for m in methods]
    table = []
    for dataset in _datasets(rows):
        cells = {row["method"]: row for row in rows if row["dataset"] == dataset}
        table.append(
            [dataset, cells[methods[0]]["n_features"]]
            + [f"{float(cells[m]['mean_log_relative_variance']):.2f}" for m in methods]
        )
    return header, table


def write_tables(results: Path, out: Path) -> None:
    """Write the short tables of ``results.rst`` from the CSV files in ``results``."""
    nw = _read(results / "nadaraya_watson.csv")
    methods = ["rff", "posrf", "gerf", "sderf", "aderf", "saderf"]
    _write(
        out / "nadaraya_watson.csv",
        ["dataset", "d", "M"] + [NAMES[m] for m in methods] + ["exact kernel"],
        accuracy_table(nw, methods),
    )
    ridge = _read(results / "ridge.csv")
    methods = [m for m in NAMES if any(row["method"] == m for row in ridge)]
    _write(
        out / "ridge.csv",
        ["dataset", "d", "M"] + [NAMES[m] for m in methods] + ["exact kernel"],
        accuracy_table(ridge, methods),
    )
    headline = _read(results / "headline.csv")
    for route in ("nadaraya-watson", "ridge"):
        _write(out / f"gain_{route}.csv", *gain_table(headline, route))
        _write(
            out / f"best_on_test_{route}.csv",
            *gain_table(headline, route, _best_on_test),
        )
    _write(out / "auto_gain_ridge.csv", *gain_table(headline, "ridge", _auto_gain))
    _write(out / "variance.csv", *variance_table(_read(results / "variance.csv")))


def _on_builder_inited(app) -> None:
    source = Path(app.srcdir)
    write_tables(source / "results", source / "generated" / "results")


def setup(app):
    """Write the tables before Sphinx reads ``results.rst``."""
    app.connect("builder-inited", _on_builder_inited)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
