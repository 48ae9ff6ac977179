"""Tables on stdout, CSV files and (when matplotlib is installed) PNG plots."""

from __future__ import annotations

import argparse
import csv
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path


def _integer(text: str, kind: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {kind}, got {text!r}") from None


def positive_int(text: str) -> int:
    """An argparse type: an integer ``>= 1``, else a message naming the value."""
    value = _integer(text, "a positive integer")
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text}")
    return value


def non_negative_int(text: str) -> int:
    """An argparse type: an integer ``>= 0``, else a message naming the value."""
    value = _integer(text, "an integer >= 0")
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text}")
    return value


def add_output_arguments(parser, contents: str = "CSV files and plots") -> None:
    """The ``--out`` folder and ``--quiet`` switch every subcommand shares.

    Parameters
    ----------
    parser : argparse.ArgumentParser
        A subcommand's parser.
    contents : str, default="CSV files and plots"
        What the folder receives, for the help text.
    """
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("skfavor-results"),
        help=f"folder of the {contents} (default: ./skfavor-results)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def write_csv(path: Path, rows: Sequence[dict], columns: Sequence[str]) -> Path:
    """Write ``rows`` (dicts keyed by ``columns``) to ``path`` as CSV.

    Parameters
    ----------
    path : Path
        File to write; its folder is created.
    rows : sequence of dict
        One dict per row.
    columns : sequence of str
        The header, in order; every row must have exactly these keys.

    Returns
    -------
    Path
        ``path``.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(columns))
        writer.writeheader()
        writer.writerows(rows)
    return path


def format_table(rows: Sequence[Sequence], header: Sequence[str]) -> str:
    """Align ``rows`` of already formatted cells under ``header``.

    Parameters
    ----------
    rows : sequence of sequence
        Cells, converted with ``str``.
    header : sequence of str
        Column titles.

    Returns
    -------
    str
        The table, one line per row, first column left-aligned and the others
        right-aligned.
    """
    cells = [list(map(str, header))] + [list(map(str, row)) for row in rows]
    widths = [max(len(row[j]) for row in cells) for j in range(len(header))]

    def line(row):
        first = row[0].ljust(widths[0])
        rest = (
            cell.rjust(width) for cell, width in zip(row[1:], widths[1:], strict=True)
        )
        return "  ".join([first, *rest])

    rule = "  ".join("-" * width for width in widths)
    return "\n".join([line(cells[0]), rule, *(line(row) for row in cells[1:])])


def format_draws(values: Sequence[float]) -> str:
    """Per-draw values as one CSV cell: space-separated, exact (``repr``).

    The routes keep each draw's accuracy, in seed order, so that methods
    measured on the same seeds can be paired from the CSV file.
    """
    return " ".join(repr(float(v)) for v in values)


def parse_draws(text: str) -> list[float]:
    """The values of a :func:`format_draws` cell."""
    return [float(v) for v in str(text).split()]


def mean_and_sem(values: Sequence[float]) -> tuple[float, float]:
    """Mean and standard error of the mean (``nan`` error for one value)."""
    n = len(values)
    mean = sum(values) / n
    if n < 2:
        return mean, math.nan
    variance = sum((v - mean) ** 2 for v in values) / (n - 1)
    return mean, math.sqrt(variance / n)


@dataclass
class Line:
    """One curve of a panel: ``y`` (± ``yerr``) against ``x``."""

    label: str
    x: Sequence[float]
    y: Sequence[float]
    yerr: Sequence[float] | None = None
    color: str | None = None
    linestyle: str = "-"


@dataclass
class Panel:
    """One subplot: curves and horizontal reference levels (label, value)."""

    title: str
    lines: list[Line]
    levels: list[tuple[str, float]] = field(default_factory=list)


def plot_panels(
    path: Path,
    panels: Sequence[Panel],
    *,
    xlabel: str,
    ylabel: str,
    xlog: bool = False,
    yscale: str = "linear",
    suptitle: str = "",
    legend_columns: int = 6,
) -> bool:
    """Draw one subplot per panel into a PNG file, if matplotlib is installed.

    Parameters
    ----------
    path : Path
        PNG file to write.
    panels : sequence of Panel
        The subplots, laid out in rows of four.
    xlabel, ylabel : str
        Axis labels of every subplot.
    xlog : bool, default=False
        Logarithmic x axis, ticked at the panel's x values.
    yscale : str, default='linear'
        Scale of the y axes (``'symlog'`` compresses a wide range of log
        variances while keeping negative values).
    suptitle : str, default=''
        Title of the figure.
    legend_columns : int, default=6
        Most columns of the legend below the panels (fewer keep it within a
        narrow figure of one panel).

    Returns
    -------
    bool
        Whether the file was written (False, with a message, without
        matplotlib).
    """
    try:
        from matplotlib.figure import Figure
    except ImportError:
        print(f"matplotlib is not installed: skipping the plot {path.name}.")
        return False
    n_cols = min(4, len(panels))
    n_rows = -(-len(panels) // n_cols)
    figure = Figure(figsize=(4.2 * n_cols, 3.4 * n_rows + 0.8), layout="constrained")
    axes = figure.subplots(n_rows, n_cols, squeeze=False).ravel()
    for ax, panel in zip(axes, panels, strict=False):
        for line in panel.lines:
            ax.errorbar(
                line.x,
                line.y,
                yerr=line.yerr,
                label=line.label,
                color=line.color,
                linestyle=line.linestyle,
                marker="o",
                markersize=3,
                capsize=2,
                linewidth=1.2,
            )
        for label, value in panel.levels:
            ax.axhline(value, color="0.4", linestyle=":", linewidth=1.2, label=label)
        ax.set_title(panel.title)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        if xlog:
            ax.set_xscale("log")
            ticks = sorted({x for line in panel.lines for x in line.x})
            # More than six labels overlap in a panel of this width.
            ticks = ticks[:: 1 + (len(ticks) > 6)]
            ax.set_xticks(ticks, [f"{x:.3g}" for x in ticks])
            ax.minorticks_off()
        ax.set_yscale(yscale)
        ax.grid(alpha=0.3)
    for ax in axes[len(panels) :]:
        ax.set_visible(False)
    handles, labels = axes[0].get_legend_handles_labels()
    figure.legend(
        handles,
        labels,
        loc="outside lower center",
        ncols=min(legend_columns, len(labels)),
    )
    if suptitle:
        figure.suptitle(suptitle)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    return True
