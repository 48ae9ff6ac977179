"""Paired comparisons over random draws: t intervals, sign counts, spread.

The Transformer experiment measures every family on the same draws (the same
ω per uptraining draw, the same seed per MQAR run), so a family is compared
with another through the per-draw differences, whose mean gets a Student-t
95 % interval. A run whose value is not finite (a diverged training) is never
dropped silently: every summary counts it, and a pair with a non-finite side
leaves the mean and is counted as diverged.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

#: Coverage of every interval of the experiment.
CONFIDENCE = 0.95


@dataclass(frozen=True)
class Summary:
    """Mean of the finite values with a t interval, spread and counts.

    Attributes
    ----------
    n : int
        Finite values used.
    n_diverged : int
        Values (or pairs) left out because one was NaN or infinite.
    mean : float
        Mean of the finite values (NaN if there is none).
    half_width : float
        Half-width of the :data:`CONFIDENCE` Student-t interval of the mean
        (NaN with fewer than two values).
    sd : float
        Sample standard deviation (``ddof=1``), the spread over draws (NaN
        with fewer than two values).
    n_negative, n_positive : int
        Values below and above zero (the sign counts of paired differences).
    """

    n: int
    n_diverged: int
    mean: float
    half_width: float
    sd: float
    n_negative: int
    n_positive: int

    @property
    def low(self) -> float:
        """Lower end of the interval."""
        return self.mean - self.half_width

    @property
    def high(self) -> float:
        """Upper end of the interval."""
        return self.mean + self.half_width

    @property
    def excludes_zero(self) -> bool:
        """Whether the interval lies entirely on one side of zero."""
        return bool(self.low > 0 or self.high < 0)


def t_half_width(sd: float, n: int, confidence: float = CONFIDENCE) -> float:
    """Half-width ``t_{n-1, (1+c)/2} · sd / √n`` of the interval of a mean.

    Parameters
    ----------
    sd : float
        Sample standard deviation (``ddof=1``).
    n : int
        Number of values.
    confidence : float, default=0.95
        Coverage of the two-sided interval.

    Returns
    -------
    float
        NaN when ``n < 2``.
    """
    if n < 2:
        return math.nan
    return float(stats.t.ppf(0.5 + confidence / 2, n - 1) * sd / math.sqrt(n))


def summarize(values: Sequence[float], confidence: float = CONFIDENCE) -> Summary:
    """Mean, t interval, spread and sign counts of the finite ``values``.

    Parameters
    ----------
    values : sequence of float
        One value per draw; NaN or infinite values count as diverged.
    confidence : float, default=0.95
        Coverage of the interval.

    Returns
    -------
    Summary
    """
    array = np.asarray(values, dtype=float)
    finite = array[np.isfinite(array)]
    n = len(finite)
    mean = float(finite.mean()) if n else math.nan
    sd = float(finite.std(ddof=1)) if n > 1 else math.nan
    return Summary(
        n=n,
        n_diverged=len(array) - n,
        mean=mean,
        half_width=t_half_width(sd, n, confidence),
        sd=sd,
        n_negative=int((finite < 0).sum()),
        n_positive=int((finite > 0).sum()),
    )


def paired(first: Mapping, second: Mapping, confidence: float = CONFIDENCE) -> Summary:
    """Summary of ``first[k] - second[k]`` over the draws ``k`` of both.

    Parameters
    ----------
    first, second : mapping of draw to float
        One value per draw (ω draw or seed); the same keys.
    confidence : float, default=0.95
        Coverage of the interval.

    Returns
    -------
    Summary
        Of the differences; a pair with a non-finite side counts in
        ``n_diverged``.

    Raises
    ------
    ValueError
        If the two mappings do not have the same draws.
    """
    if set(first) != set(second):
        raise ValueError(
            "paired values need the same draws on both sides, got "
            f"{sorted(first)} and {sorted(second)}."
        )
    keys = sorted(first)
    return summarize([first[k] - second[k] for k in keys], confidence)


def format_mean(summary: Summary, digits: int = 3) -> str:
    """``mean ± half-width`` with the diverged count, e.g. ``2.531 ± 0.012``."""
    if summary.n == 0:
        return f"diverged ({summary.n_diverged})" if summary.n_diverged else "-"
    text = f"{summary.mean:.{digits}f}"
    if math.isfinite(summary.half_width):
        text += f" ± {summary.half_width:.{digits}f}"
    if summary.n_diverged:
        text += f" ({summary.n_diverged} div.)"
    return text


def format_difference(summary: Summary, digits: int = 3) -> str:
    """``mean [low, high] negatives/n``, flagged ``*`` when 0 is outside.

    The sign count is the number of negative differences (the first side
    lower) out of the finite pairs.
    """
    if summary.n == 0:
        return f"diverged ({summary.n_diverged})" if summary.n_diverged else "-"
    text = f"{summary.mean:+.{digits}f}"
    if math.isfinite(summary.half_width):
        text += f" [{summary.low:+.{digits}f}, {summary.high:+.{digits}f}]"
    text += f" {summary.n_negative}/{summary.n}"
    if summary.excludes_zero:
        text += "*"
    if summary.n_diverged:
        text += f" ({summary.n_diverged} div.)"
    return text


def not_separated(cells: Sequence[tuple[str, str, Summary]]) -> str:
    """Plain words for the comparisons whose interval contains 0.

    Parameters
    ----------
    cells : sequence of (str, str, Summary)
        ``(comparison, column, summary)`` per cell of a difference table, e.g.
        ``('sderf - posrf', 'M = 16', paired(...))``.

    Returns
    -------
    str
        The cells whose interval contains 0, grouped by comparison (exactly
        those that :func:`format_difference` leaves without ``*``), then the
        cells without an interval (fewer than two finite pairs); or that every
        interval excludes 0.
    """
    confidence = f"{CONFIDENCE:.0%}"

    def listed(selected):
        columns: dict[str, list[str]] = {}
        for comparison, column, _ in selected:
            columns.setdefault(comparison, []).append(column)
        return "; ".join(
            f"{comparison} at {', '.join(names)}"
            for comparison, names in columns.items()
        )

    level = [c for c in cells if c[2].n > 1 and not c[2].excludes_zero]
    missing = [c for c in cells if c[2].n < 2]
    parts = []
    if level:
        parts.append(
            f"do not separate ({confidence} interval contains 0): {listed(level)}."
        )
    if missing:
        parts.append(f"No interval (fewer than 2 pairs): {listed(missing)}.")
    return " ".join(parts) or f"every {confidence} interval excludes 0."
