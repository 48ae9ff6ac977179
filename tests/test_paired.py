"""The paired statistics of the experiments: t intervals, sign counts, words."""

import math

import pytest
from scipy import stats

from skfavor.experiments._paired import (
    format_difference,
    format_mean,
    not_separated,
    paired,
    summarize,
    t_half_width,
)


def test_summary_mean_interval_and_spread_on_known_numbers():
    summary = summarize([1.0, 2.0, 3.0, 4.0])
    sd = math.sqrt(5 / 3)
    assert summary.mean == 2.5 and summary.sd == pytest.approx(sd)
    # t_{3, 0.975} = 3.182446...
    assert summary.half_width == pytest.approx(3.182446305 * sd / 2)
    assert (summary.n, summary.n_diverged) == (4, 0)
    assert t_half_width(1.0, 1) != t_half_width(1.0, 1)  # NaN with one value


def test_paired_differences_interval_sign_counts_and_diverged_pairs():
    first = {0: 1.0, 1: 2.0, 2: 3.0, 3: math.nan}
    second = {0: 0.5, 1: 2.5, 2: 2.0, 3: 1.0}
    summary = paired(first, second)
    # Differences 0.5, -0.5, 1.0; the NaN pair is counted, not used.
    assert (summary.n, summary.n_diverged) == (3, 1)
    assert summary.mean == pytest.approx(1 / 3)
    sd = math.sqrt(((1 / 6) ** 2 + (5 / 6) ** 2 + (2 / 3) ** 2) / 2)
    half = stats.t.ppf(0.975, 2) * sd / math.sqrt(3)
    assert summary.half_width == pytest.approx(half)
    assert half == pytest.approx(4.302652730 * sd / math.sqrt(3))
    assert (summary.n_negative, summary.n_positive) == (1, 2)
    assert not summary.excludes_zero
    assert format_difference(summary) == "+0.333 [-1.564, +2.231] 1/3 (1 div.)"


def test_paired_flags_an_interval_without_zero_and_needs_the_same_draws():
    summary = paired({0: 1.0, 1: 1.1, 2: 1.2}, {0: 2.0, 1: 2.0, 2: 2.0})
    assert summary.excludes_zero and summary.high < 0
    assert format_difference(summary).endswith("3/3*")
    with pytest.raises(ValueError, match="same draws"):
        paired({0: 1.0}, {1: 1.0})


def test_plain_words_name_exactly_the_intervals_that_contain_zero():
    apart = paired({0: 1.0, 1: 1.1, 2: 1.2}, {0: 2.0, 1: 2.0, 2: 2.0})
    level = paired({0: 1.0, 1: 2.0, 2: 3.0}, {0: 0.5, 1: 2.5, 2: 2.0})
    single = paired({0: 1.0}, {0: 2.0})
    cells = [
        ("sderf - posrf", "M = 16", apart),
        ("sderf - posrf", "M = 64", level),
        ("gerf - posrf", "M = 16", level),
        ("gerf - posrf", "M = 64", single),
    ]
    assert not_separated(cells) == (
        "do not separate (95% interval contains 0): sderf - posrf at M = 64; "
        "gerf - posrf at M = 16. No interval (fewer than 2 pairs): gerf - posrf "
        "at M = 64."
    )
    assert not_separated(cells[:1]) == "every 95% interval excludes 0."


def test_every_value_diverged_is_reported_as_such():
    summary = summarize([math.nan, math.inf])
    assert (summary.n, summary.n_diverged) == (0, 2)
    assert format_mean(summary) == "diverged (2)"
    assert format_mean(summarize([1.0, 3.0, math.nan])) == "2.000 ± 12.706 (1 div.)"
