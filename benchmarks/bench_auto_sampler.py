"""AutoSampler's choice in ``Pipeline(sampler, Ridge)`` against every family's CV score.

For each of scikit-learn's own data sets (digits, diabetes, make_friedman1,
make_moons) and each ``gamma``, the 3-fold cross-validated score (R² for the
regressions, accuracy for the classifications) of ``Pipeline(sampler,
Ridge())`` (``RidgeClassifier()`` for the classifications) with

* each candidate family of :class:`skfavor.AutoSampler` (Fourier, PosRF,
  GERF, SDERF, all orthogonal),
* ``AutoSampler`` under each criterion (its family picks in the three outer
  folds are listed),
* scikit-learn's ``RBFSampler``,

all at the same ``n_components`` and the same ``random_state``; scores are
means over ``--seeds`` seeds. The last column is AutoSampler's (default
criterion) score minus RBFSampler's. The table is printed as reST
(``--rst``) for ``doc/auto_sampler.rst`` and optionally written as CSV.

Examples
--------
::

    python benchmarks/bench_auto_sampler.py                  # the docs' table
    python benchmarks/bench_auto_sampler.py --quick          # two cells
    python benchmarks/bench_auto_sampler.py --csv auto.csv --rst
"""

from __future__ import annotations

import argparse
import csv
import os
import time
from collections import Counter

import numpy as np
from sklearn.datasets import load_diabetes, load_digits, make_friedman1, make_moons
from sklearn.kernel_approximation import RBFSampler
from sklearn.linear_model import Ridge, RidgeClassifier
from sklearn.model_selection import cross_validate
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skfavor import AutoSampler
from skfavor.auto import CANDIDATES

FAMILIES = ["fourier", "posrf", "gerf", "sderf"]
CRITERIA = ["ridge_cv", "mean_log_variance", "mean_variance"]
GAMMAS = [0.01, 0.1, 0.5, 2.0]


def datasets() -> dict:
    """Name -> (X, y, is_classification): standardised inputs (digits: /16)."""
    diabetes = load_diabetes(return_X_y=True)
    digits = load_digits(return_X_y=True)
    friedman = make_friedman1(n_samples=1000, noise=1.0, random_state=0)
    moons = make_moons(n_samples=1000, noise=0.3, random_state=0)
    scale = StandardScaler().fit_transform
    return {
        "digits": (digits[0] / 16.0, digits[1], True),
        "diabetes": (scale(diabetes[0]), diabetes[1], False),
        "friedman1": (scale(friedman[0]), friedman[1], False),
        "moons": (scale(moons[0]), moons[1], True),
    }


def cv_score(sampler, X, y, classification: bool):
    """Mean 3-fold test score of Pipeline(sampler, Ridge) and fitted samplers."""
    model = make_pipeline(sampler, RidgeClassifier() if classification else Ridge())
    result = cross_validate(model, X, y, cv=3, return_estimator=True)
    return float(np.mean(result["test_score"])), [e[0] for e in result["estimator"]]


def cell(X, y, classification, gamma, n_components, seeds) -> dict:
    """Every column of one (data set, gamma) row, averaged over seeds."""
    row = {}
    picks = Counter()
    for seed in seeds:
        common = {"n_components": n_components, "gamma": gamma, "random_state": seed}
        for family in FAMILIES:
            sampler = CANDIDATES[family]("rbf", sampling="orthogonal", **common)
            score = cv_score(sampler, X, y, classification)[0]
            row.setdefault(family, []).append(score)
        row.setdefault("rbf", []).append(
            cv_score(RBFSampler(**common), X, y, classification)[0]
        )
        for criterion in CRITERIA:
            score, fitted = cv_score(
                AutoSampler(criterion=criterion, **common), X, y, classification
            )
            row.setdefault(criterion, []).append(score)
            if criterion == "ridge_cv":
                picks.update(sampler.selected_ for sampler in fitted)
    means = {key: float(np.mean(values)) for key, values in row.items()}
    means["picks"] = ", ".join(f"{name} {count}" for name, count in picks.most_common())
    means["gap"] = means["ridge_cv"] - means["rbf"]
    return means


COLUMNS = [
    ("data", "data set"),
    ("gamma", "gamma"),
    *[(family, family) for family in FAMILIES],
    ("rbf", "RBFSampler"),
    ("ridge_cv", "Auto (ridge_cv)"),
    ("picks", "picks (folds × seeds)"),
    ("mean_log_variance", "Auto (mean_log_variance)"),
    ("mean_variance", "Auto (mean_variance)"),
    ("gap", "Auto − RBFSampler"),
]


def _format(value) -> str:
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def rst_table(rows: list[dict]) -> str:
    """The rows as a reST list-table."""
    lines = [".. list-table::", "   :header-rows: 1", ""]
    for cells in [[title for _, title in COLUMNS]] + [
        [_format(row[key]) for key, _ in COLUMNS] for row in rows
    ]:
        lines.append(f"   * - {cells[0]}")
        lines.extend(f"     - {value}" for value in cells[1:])
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n-components", type=int, default=100)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--gammas", type=float, nargs="+", default=GAMMAS)
    parser.add_argument("--data", nargs="+", default=None)
    parser.add_argument("--quick", action="store_true", help="diabetes, 2 gammas")
    parser.add_argument("--csv", default=None, help="also write the rows as CSV")
    parser.add_argument("--rst", action="store_true", help="print a reST table")
    args = parser.parse_args()
    data = datasets()
    names = args.data or list(data)
    gammas = args.gammas
    if args.quick:
        names, gammas, args.seeds = ["diabetes"], [0.1, 0.5], 1
    print(f"# load average {os.getloadavg()[0]:.2f}; n_components {args.n_components}")
    rows = []
    start = time.perf_counter()
    for name in names:
        X, y, classification = data[name]
        for gamma in gammas:
            row = cell(
                X, y, classification, gamma, args.n_components, range(args.seeds)
            )
            rows.append({"data": name, "gamma": gamma, **row})
            print(
                " ".join(f"{key}={_format(rows[-1][key])}" for key, _ in COLUMNS),
                flush=True,
            )
    print(f"# {time.perf_counter() - start:.0f} s")
    gaps = [row["gap"] for row in rows]
    worst = int(np.argmin(gaps))
    print(
        f"# AutoSampler (ridge_cv) minus RBFSampler: worst {gaps[worst]:+.3f} "
        f"({rows[worst]['data']}, gamma {rows[worst]['gamma']}), "
        f"mean {np.mean(gaps):+.3f}, behind by more than 0.02 in "
        f"{sum(g < -0.02 for g in gaps)} of {len(gaps)} cells"
    )
    if args.rst:
        print(rst_table(rows))
    if args.csv:
        with open(args.csv, "w", newline="") as file:
            writer = csv.DictWriter(file, fieldnames=[key for key, _ in COLUMNS])
            writer.writeheader()
            writer.writerows({key: row[key] for key, _ in COLUMNS} for row in rows)


if __name__ == "__main__":
    main()
