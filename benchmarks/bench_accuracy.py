"""Accuracy per second: Gram-matrix error against fit + transform time.

For each UCI set (``skfavor.datasets.paper_split``, kernel
``exp(-|x - y|² / 2)``, so ``gamma=0.5``), each method and each number of
features, the script fits the method, maps the test rows (queries) and the
training rows (keys), and measures the relative Frobenius error
``|K̂ − K|_F / |K|_F`` of the test × train Gram matrix against the wall time
of the fit and both transforms. skfavor's samplers are fitted to the
statistics of both sets (``fit(X_test, keys=X_train)``, :ref:`math-estimators`), and the
asymmetric variants map the keys with ``transform_keys``; ``RBFSampler`` and
``Nystroem`` are fitted to the training rows (Nystroem only with fewer
landmarks than training rows: with all of them it is the exact kernel). Each
point is the median over ``--seeds`` random states.

Examples
--------
::

    python benchmarks/bench_accuracy.py --quick
    python benchmarks/bench_accuracy.py --datasets car,chess --plot accuracy.png

matplotlib is needed only for the plot (``--plot``).
"""

from __future__ import annotations

import argparse
import csv
import statistics
import time
from pathlib import Path

import numpy as np
from sklearn.kernel_approximation import Nystroem, RBFSampler
from sklearn.metrics.pairwise import rbf_kernel

from skfavor import DERFSampler, GERFSampler, PositiveRFSampler
from skfavor.datasets import paper_split

GAMMA = 0.5
METHODS = (
    "RBFSampler",
    "Nystroem",
    "PositiveRF",
    "GERF",
    "SDERF",
    "ADERF",
    "SADERF",
)


def make(method: str, n_components: int, seed: int):
    """An unfitted estimator of ``method`` for the kernel ``exp(-|x − y|² / 2)``."""
    shared = {"n_components": n_components, "gamma": GAMMA, "random_state": seed}
    return {
        "RBFSampler": lambda: RBFSampler(**shared),
        "Nystroem": lambda: Nystroem(kernel="rbf", **shared),
        "PositiveRF": lambda: PositiveRFSampler(**shared),
        "GERF": lambda: GERFSampler(**shared),
        "SDERF": lambda: DERFSampler("sderf", **shared),
        "ADERF": lambda: DERFSampler("aderf", **shared),
        "SADERF": lambda: DERFSampler("saderf", **shared),
    }[method]()


def approximate_gram(estimator, X_test, X_train) -> tuple[np.ndarray, float]:
    """``K̂(X_test, X_train)`` and the wall time of the fit and the two maps."""
    start = time.perf_counter()
    if hasattr(estimator, "transform_keys"):
        estimator.fit(X_test, keys=X_train)
        queries = estimator.transform(X_test)
        keys = estimator.transform_keys(X_train)
    else:
        estimator.fit(X_train)
        queries = estimator.transform(X_test)
        keys = estimator.transform(X_train)
    seconds = time.perf_counter() - start
    return queries @ keys.T, seconds


def run(
    datasets: list[str],
    n_components: list[int],
    seeds: int,
    max_train: int,
    max_test: int,
) -> list[dict]:
    """One row per dataset, method, number of features and seed."""
    rows = []
    for dataset in datasets:
        X_train, X_test, _, _ = paper_split(
            dataset, max_train=max_train, max_test=max_test
        )
        K = rbf_kernel(X_test, X_train, gamma=GAMMA)
        norm = np.linalg.norm(K)
        for m in n_components:
            for seed in range(seeds):
                for method in METHODS:
                    if method == "Nystroem" and m >= X_train.shape[0]:
                        # With every training row as a landmark, Nystroem is the
                        # exact kernel matrix: another regime, left out.
                        continue
                    K_hat, seconds = approximate_gram(
                        make(method, m, seed), X_test, X_train
                    )
                    rows.append(
                        {
                            "dataset": dataset,
                            "n_train": X_train.shape[0],
                            "n_test": X_test.shape[0],
                            "n_features": X_train.shape[1],
                            "method": method,
                            "n_components": m,
                            "seed": seed,
                            "seconds": seconds,
                            "relative_error": np.linalg.norm(K_hat - K) / norm,
                        }
                    )
            print(f"{dataset}: {m} features done", flush=True)
    return rows


def medians(rows: list[dict]) -> list[dict]:
    """Median time and error over seeds of each dataset, method and size."""
    groups: dict[tuple, list[dict]] = {}
    for row in rows:
        key = (row["dataset"], row["method"], row["n_components"])
        groups.setdefault(key, []).append(row)
    return [
        {
            "dataset": dataset,
            "method": method,
            "n_components": m,
            "seconds": statistics.median(r["seconds"] for r in group),
            "relative_error": statistics.median(r["relative_error"] for r in group),
        }
        for (dataset, method, m), group in groups.items()
    ]


def format_table(summary: list[dict], dataset: str) -> str:
    """Median error (and milliseconds) of each method by number of features."""
    sizes = sorted({r["n_components"] for r in summary if r["dataset"] == dataset})
    cell = {
        (r["method"], r["n_components"]): f"{r['relative_error']:.3f} "
        f"({1e3 * r['seconds']:.0f} ms)"
        for r in summary
        if r["dataset"] == dataset
    }
    header = ["method", *map(str, sizes)]
    lines = [
        [method, *(cell.get((method, m), "–") for m in sizes)] for method in METHODS
    ]
    widths = [
        max(len(line[i]) for line in [header, *lines]) for i in range(len(header))
    ]
    rule = "  ".join("=" * w for w in widths)

    def join(cells):
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True))

    return "\n".join([rule, join(header), rule, *map(join, lines), rule])


def plot(summary: list[dict], path: str) -> None:
    """Error against time, one panel per dataset, one line per method."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    datasets = list(dict.fromkeys(r["dataset"] for r in summary))
    fig, axes = plt.subplots(
        1, len(datasets), figsize=(5 * len(datasets), 4.2), squeeze=False
    )
    for ax, dataset in zip(axes[0], datasets, strict=True):
        for method in METHODS:
            points = sorted(
                (r["n_components"], r["seconds"], r["relative_error"])
                for r in summary
                if r["dataset"] == dataset and r["method"] == method
            )
            _, seconds, errors = zip(*points, strict=True)
            style = "--" if method in ("RBFSampler", "Nystroem") else "-"
            ax.plot(seconds, errors, style, marker="o", ms=3, label=method)
        ax.set(
            xscale="log",
            yscale="log",
            xlabel="fit + transform time (s)",
            ylabel="relative Frobenius error of K(test, train)",
            title=dataset,
        )
        # Nystroem's error falls to rounding level on small sets: clip there so
        # that the random-feature methods stay readable.
        lowest = min(r["relative_error"] for r in summary if r["dataset"] == dataset)
        ax.set_ylim(bottom=max(lowest / 2, 1e-3))
        ax.grid(True, which="both", alpha=0.3)
    axes[0][0].legend(fontsize=8)
    sizes = sorted({r["n_components"] for r in summary})
    fig.suptitle(
        f"Gram-matrix error against time; each line is n_components = {sizes[0]} "
        f"… {sizes[-1]} from left to right (medians over random states)"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", default="car,chess,wifi")
    parser.add_argument(
        "--n-components",
        default=None,
        help="comma-separated sizes (default 16,32,...,2048; quick: 16,...,256)",
    )
    parser.add_argument("--seeds", type=int, default=None, help="default 5 (quick: 2)")
    parser.add_argument("--max-train", type=int, default=2000)
    parser.add_argument("--max-test", type=int, default=500)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--csv", help="write every row to this CSV file")
    parser.add_argument("--plot", help="write the plot to this PNG file")
    parser.add_argument(
        "--from-csv", help="read the rows of an earlier --csv instead of measuring"
    )
    args = parser.parse_args(argv)
    default_sizes = (
        "16,32,64,128,256" if args.quick else "16,32,64,128,256,512,1024,2048"
    )
    sizes = [int(m) for m in (args.n_components or default_sizes).split(",")]
    seeds = args.seeds or (2 if args.quick else 5)
    datasets = args.datasets.split(",")

    if args.from_csv:
        with open(args.from_csv, newline="") as file:
            rows = [
                {
                    **r,
                    "seconds": float(r["seconds"]),
                    "relative_error": float(r["relative_error"]),
                    "n_components": int(r["n_components"]),
                }
                for r in csv.DictReader(file)
            ]
        datasets = list(dict.fromkeys(r["dataset"] for r in rows))
        seeds = len({r["seed"] for r in rows})
    else:
        rows = run(datasets, sizes, seeds, args.max_train, args.max_test)
    summary = medians(rows)
    for dataset in datasets:
        first = next(r for r in rows if r["dataset"] == dataset)
        print(
            f"\n{dataset} ({first['n_test']} test x {first['n_train']} train rows, "
            f"d={first['n_features']}): median relative error (median fit + "
            f"transform time) over {seeds} seeds"
        )
        print(format_table(summary, dataset))
    if args.csv:
        Path(args.csv).parent.mkdir(parents=True, exist_ok=True)
        with open(args.csv, "w", newline="") as file:
            writer = csv.DictWriter(file, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    if args.plot:
        Path(args.plot).parent.mkdir(parents=True, exist_ok=True)
        plot(summary, args.plot)
    return rows


if __name__ == "__main__":
    main()
