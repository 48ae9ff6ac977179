"""Kernel ridge at scale: memory of the streamed fit, one-pass CV, accuracy per second.

Three tables, each of ratios measured in one run of this script:

1. **Memory.** Peak memory of ``RandomFeatureRidge.fit`` on ``--rows`` rows ×
   16 features read from a ``numpy.memmap`` (written chunk by chunk first),
   ``M = --components`` features, against the ``n × M`` float64 feature matrix
   that ``Pipeline(sampler, Ridge)`` builds, and the pipeline's own peak at
   ``--pipeline-rows`` rows (where it fits in memory; its ratio to its own
   feature matrix is the figure to extrapolate). Each measurement runs in a
   fresh process: ``tracemalloc`` peak (NumPy's allocations) and the growth of
   the resident set (which also counts the memmap pages read).
2. **Model selection.** ``RandomFeatureRidgeCV`` over 4 feature counts × 5
   alphas × ``--cv-folds`` folds (default 5) against
   ``GridSearchCV(Pipeline(sampler, Ridge))`` with the same folds at
   ``--cv-rows`` rows: the largest score difference, whether the same model is
   chosen, and the minimum wall times of ``--repeats`` interleaved runs of
   each, for a data-dependent sampler
   (SDERF, ``gamma='scale'``: one map per fold) and a data-independent one
   (PosRF, numeric ``gamma``: one map for all folds).
3. **Accuracy per second.** Test R² against fit + predict time for
   ``RandomFeatureRidge`` (SDERF), Nystroem + Ridge and exact ``KernelRidge``
   (up to ``--exact-rows`` training rows) on a nonlinear regression and on
   abalone (``skfavor.datasets.load_uci``, rings as the target), all with the
   same kernel ``exp(-γ|x − y|²)`` and ``alpha``.

The machine this was written on has 2 cores and 24 GB shared with up to seven
other users: the default sizes are capped for it (the pipeline and exact
kernel ridge only where they fit in a few GB) and timings are medians of
``--repeats`` runs; read the ratios, not the seconds.

Examples
--------
::

    python benchmarks/bench_kernel_ridge.py --quick
    python benchmarks/bench_kernel_ridge.py --csv kernel_ridge.csv
"""

from __future__ import annotations

import argparse
import csv
import multiprocessing
import os
import resource
import statistics
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
from sklearn.kernel_approximation import Nystroem
from sklearn.kernel_ridge import KernelRidge
from sklearn.linear_model import Ridge
from sklearn.metrics import r2_score
from sklearn.model_selection import GridSearchCV, KFold, train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from skfavor import (
    DERFSampler,
    PositiveRFSampler,
    RandomFeatureRidge,
    RandomFeatureRidgeCV,
)
from skfavor.datasets import load_uci

N_FEATURES = 16
CHUNK_ROWS = 50_000


def _target(X: np.ndarray) -> np.ndarray:
    """A smooth nonlinear function of the first four inputs."""
    return (
        np.sin(2.0 * X[:, 0])
        + X[:, 1] * X[:, 2]
        + np.cos(X[:, 3] + X[:, 0])
        + 0.1 * np.tanh(X[:, 4:].sum(axis=1))
    )


def _synthetic(n_rows: int, n_features: int, seed: int):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_rows, n_features)) * 0.7
    return X, _target(X) + 0.1 * rng.normal(size=n_rows)


def _write_memmap(folder: Path, n_rows: int) -> tuple[Path, Path]:
    """``n_rows × 16`` inputs and their targets as .npy files, chunk by chunk."""
    x_path, y_path = folder / "X.npy", folder / "y.npy"
    X = np.lib.format.open_memmap(
        x_path, mode="w+", dtype=np.float64, shape=(n_rows, N_FEATURES)
    )
    y = np.lib.format.open_memmap(y_path, mode="w+", dtype=np.float64, shape=(n_rows,))
    for start in range(0, n_rows, CHUNK_ROWS):
        stop = min(start + CHUNK_ROWS, n_rows)
        X[start:stop], y[start:stop] = _synthetic(stop - start, N_FEATURES, start)
    X.flush()
    y.flush()
    del X, y
    return x_path, y_path


def _fit_in_child(kind: str, x_path: str, y_path: str, n_rows: int, M: int, queue):
    """Fit one model on the memmapped rows; report peaks (run in a fresh process)."""
    X = np.load(x_path, mmap_mode="r")[:n_rows]
    y = np.load(y_path, mmap_mode="r")[:n_rows]
    sampler = DERFSampler(n_components=M, gamma=0.5, random_state=0)
    if kind == "streamed":
        model = RandomFeatureRidge(sampler, alpha=1e-3)
    else:
        X, y = np.array(X), np.array(y)
        model = Pipeline([("f", sampler), ("r", Ridge(alpha=1e-3))])
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    tracemalloc.start()
    start = time.perf_counter()
    model.fit(X, y)
    seconds = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    queue.put((peak, rss_after - rss_before, seconds))


def _measure(kind, x_path, y_path, n_rows, M):
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    child = context.Process(
        target=_fit_in_child, args=(kind, str(x_path), str(y_path), n_rows, M, queue)
    )
    child.start()
    result = queue.get()
    child.join()
    return result


def memory_table(args) -> list[dict]:
    rows = []
    M = args.components
    with tempfile.TemporaryDirectory() as folder:
        x_path, y_path = _write_memmap(Path(folder), args.rows)
        for kind, n_rows in (
            ("RandomFeatureRidge (memmap)", args.rows),
            ("Pipeline(sampler, Ridge)", args.pipeline_rows),
        ):
            streamed = kind.startswith("Random")
            peak, rss, seconds = _measure(
                "streamed" if streamed else "pipeline", x_path, y_path, n_rows, M
            )
            features = n_rows * M * 8
            rows.append(
                {
                    "table": "memory",
                    "model": kind,
                    "rows": n_rows,
                    "M": M,
                    "feature_matrix_MB": features / 2**20,
                    "tracemalloc_peak_MB": peak / 2**20,
                    "rss_growth_MB": rss / 2**20,
                    "peak_over_feature_matrix": peak / features,
                    "fit_s": seconds,
                }
            )
            print(rows[-1], flush=True)
    return rows


def _best(times):
    return statistics.median(times)


def cv_table(args) -> list[dict]:
    X, y = _synthetic(args.cv_rows, 8, seed=1)
    M = args.cv_components
    counts = [M // 8, M // 4, M // 2, M]
    alphas = [1e-4, 1e-3, 1e-2, 1e-1, 1.0]
    folds = KFold(args.cv_folds, shuffle=True, random_state=0)
    rows = []
    for name, sampler in (
        ("sderf, gamma='scale'", DERFSampler(n_components=M, gamma="scale")),
        ("posrf, gamma=0.5", PositiveRFSampler(n_components=M, gamma=0.5)),
    ):
        sampler.set_params(random_state=0)
        ours_times, search_times = [], []
        # Interleaved, the minimum of each: the machine's load moves both alike.
        for _ in range(args.repeats):
            start = time.perf_counter()
            ours = RandomFeatureRidgeCV(
                sampler, alphas=alphas, n_components=counts, cv=folds
            ).fit(X, y)
            ours_times.append(time.perf_counter() - start)
            start = time.perf_counter()
            search = GridSearchCV(
                Pipeline([("f", sampler), ("r", Ridge())]),
                {"f__n_components": counts, "r__alpha": alphas},
                cv=folds,
                scoring="neg_mean_squared_error",
            ).fit(X, y)
            search_times.append(time.perf_counter() - start)
        ours_s, search_s = min(ours_times), min(search_times)
        reference = search.cv_results_["mean_test_score"]
        difference = np.max(
            np.abs(ours.cv_results_["mean_test_score"] - reference) / np.abs(reference)
        )
        same = (ours.n_components_, ours.alpha_) == (
            search.best_params_["f__n_components"],
            search.best_params_["r__alpha"],
        )
        rows.append(
            {
                "table": "cv",
                "model": name,
                "rows": args.cv_rows,
                "M": M,
                "grid": f"4 m x 5 alphas x {args.cv_folds} folds",
                "max_rel_score_difference": float(difference),
                "same_choice": same,
                "RandomFeatureRidgeCV_s": ours_s,
                "GridSearchCV_s": search_s,
                "speedup": search_s / ours_s,
            }
        )
        print(rows[-1], flush=True)
    return rows


def _timed(model, X_train, y_train, X_test, y_test, repeats):
    times, score = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        model.fit(X_train, y_train)
        predictions = model.predict(X_test)
        times.append(time.perf_counter() - start)
        score = r2_score(y_test, predictions)
    return _best(times), score


def accuracy_table(args) -> list[dict]:
    sets = {}
    X, y = _synthetic(args.accuracy_rows, 8, seed=2)
    sets["nonlinear (8 features)"] = (*train_test_split(X, y, random_state=0), 0.5)
    X, y = load_uci("abalone", return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X.astype(np.float64), y.astype(np.float64), random_state=0
    )
    scaler = StandardScaler().fit(X_train)
    sets["abalone (UCI)"] = (
        scaler.transform(X_train),
        scaler.transform(X_test),
        y_train,
        y_test,
        0.1,
    )
    rows = []
    alpha = 1e-2
    for data_name, (X_train, X_test, y_train, y_test, gamma) in sets.items():
        candidates = []
        for M in args.accuracy_components:
            candidates.append(
                (
                    "RandomFeatureRidge (sderf)",
                    M,
                    RandomFeatureRidge(
                        DERFSampler(n_components=M, gamma=gamma, random_state=0),
                        alpha=alpha,
                    ),
                )
            )
            candidates.append(
                (
                    "Nystroem + Ridge",
                    M,
                    Pipeline(
                        [
                            (
                                "f",
                                Nystroem(
                                    gamma=gamma,
                                    n_components=min(M, len(X_train)),
                                    random_state=0,
                                ),
                            ),
                            ("r", Ridge(alpha=alpha)),
                        ]
                    ),
                )
            )
        if len(X_train) <= args.exact_rows:
            candidates.append(
                (
                    "KernelRidge (exact)",
                    len(X_train),
                    KernelRidge(alpha=alpha, kernel="rbf", gamma=gamma),
                )
            )
        for name, M, model in candidates:
            seconds, score = _timed(
                model, X_train, y_train, X_test, y_test, args.repeats
            )
            rows.append(
                {
                    "table": "accuracy",
                    "data": data_name,
                    "model": name,
                    "rows": len(X_train),
                    "M": M,
                    "test_r2": score,
                    "fit_predict_s": seconds,
                }
            )
            print(rows[-1], flush=True)
    return rows


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--components", type=int, default=2048)
    parser.add_argument("--pipeline-rows", type=int, default=25_000)
    parser.add_argument("--cv-rows", type=int, default=50_000)
    parser.add_argument("--cv-components", type=int, default=512)
    parser.add_argument("--cv-folds", type=int, default=5)
    parser.add_argument("--accuracy-rows", type=int, default=12_000)
    parser.add_argument(
        "--accuracy-components",
        type=lambda text: [int(v) for v in text.split(",")],
        default=[128, 512, 2048],
    )
    parser.add_argument("--exact-rows", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--tables", default="memory,cv,accuracy")
    parser.add_argument("--quick", action="store_true", help="small sizes")
    parser.add_argument("--csv", type=Path, default=None)
    args = parser.parse_args(argv)
    if args.quick:
        args.rows, args.components, args.pipeline_rows = 50_000, 256, 10_000
        args.cv_rows, args.cv_components = 5_000, 64
        args.accuracy_rows, args.accuracy_components = 2_000, [64, 256]
        args.repeats = 1
    print(f"cpus: {os.cpu_count()}, load: {os.getloadavg()}", flush=True)
    rows = []
    tables = args.tables.split(",")
    if "memory" in tables:
        rows += memory_table(args)
    if "cv" in tables:
        rows += cv_table(args)
    if "accuracy" in tables:
        rows += accuracy_table(args)
    if args.csv is not None:
        keys = list(dict.fromkeys(key for row in rows for key in row))
        with args.csv.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=keys)
            writer.writeheader()
            writer.writerows(rows)


if __name__ == "__main__":
    main()
