"""Wall time of fit and transform against RBFSampler, Nystroem and the bare product.

Every skfavor sampler and DERF variant is timed side by side with
scikit-learn's ``RBFSampler`` and ``Nystroem`` and with the bare ``X @ W.T``
and ``exp(X @ W.T)`` of the same shape, for each shape (``n_samples x
n_features x n_components``) and dtype. Each round times every method once, in
a new order each round, so that load from other processes (and the page
faults a call meets after another gave its memory back) falls on all of them
alike, and the tables give medians. Fast shapes get more rounds than
``--repeats``, up to a quarter of ``--budget``. The peak extra memory of
``transform`` (numpy's allocations traced by ``tracemalloc``, less the
output) is measured in a separate, untimed call.

Examples
--------
::

    python benchmarks/bench_transform.py --quick
    python benchmarks/bench_transform.py --shapes 20000x32x2048 --dtypes float32
    python benchmarks/bench_transform.py --csv transform.csv

To time against a current OpenBLAS kernel where ``OPENBLAS_CORETYPE`` is set
for old builds, unset it for this command only::

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/bench_transform.py
"""

from __future__ import annotations

import argparse
import csv
import functools
import os
import platform
import statistics
import time
import tracemalloc
import warnings
from collections.abc import Callable

import numpy as np
import sklearn
from bench_blas_interference import spin_seconds
from sklearn.base import clone
from sklearn.kernel_approximation import Nystroem, RBFSampler
from threadpoolctl import threadpool_info

from skfavor import (
    AsymmetricMapWarning,
    DERFSampler,
    FourierSampler,
    GERFSampler,
    PositiveRFSampler,
)

FULL_SHAPES = "20000x32x2048,100000x64x1024,5000x784x4096"
QUICK_SHAPES = "1000x32x256,5000x32x1024,2000x256x1024"
POSITIVE = ("PositiveRF", "GERF", "SDERF", "ADERF", "SADERF")
BARE_EXP = "bare exp(X @ W.T)"
#: Most rounds of a case: fast shapes repeat beyond ``--repeats`` within
#: a quarter of ``--budget``.
MAX_ROUNDS = 200


def estimators(n_components: int) -> dict[str, object]:
    """Every estimator to time, unfitted, with the kernel ``exp(-|x - y|² / 2)``."""
    shared = {"n_components": n_components, "gamma": 0.5, "random_state": 0}
    return {
        "PositiveRF": PositiveRFSampler(**shared),
        "GERF": GERFSampler(**shared),
        "SDERF": DERFSampler("sderf", **shared),
        "ADERF": DERFSampler("aderf", **shared),
        "SADERF": DERFSampler("saderf", **shared),
        "Fourier": FourierSampler(**shared),
        "RBFSampler": RBFSampler(**shared),
        "Nystroem": Nystroem(kernel="rbf", **shared),
    }


def timed(function: Callable[[], object]) -> tuple[float, float]:
    """Wall time and CPU time (all threads of this process) of one call."""
    wall, cpu = time.perf_counter(), time.process_time()
    function()
    return time.perf_counter() - wall, time.process_time() - cpu


def peak_extra_memory(function: Callable[[], np.ndarray]) -> float:
    """Peak traced allocation of ``function`` beyond its output, over the output."""
    tracemalloc.start()
    try:
        output = function()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return (peak - output.nbytes) / output.nbytes


def bench_case(
    n_samples: int,
    n_features: int,
    n_components: int,
    dtype: np.dtype,
    repeats: int,
    budget: float,
) -> list[dict]:
    """Median fit and transform times of every method for one shape and dtype.

    At least ``repeats`` rounds, more while the case has run less than a
    quarter of ``budget``; a method stops being repeated once it has spent
    ``budget`` seconds, so a slow fit (Nystroem's SVD) does not dominate the
    run; ``runs`` says how many timings each median has.
    """
    rng = np.random.default_rng(0)
    # |x|² ≈ 4: the features neither underflow nor overflow for any family.
    X = (
        2.0 * rng.standard_normal((n_samples, n_features)) / np.sqrt(n_features)
    ).astype(dtype)
    W = rng.standard_normal((n_components, n_features)).astype(dtype)
    models = estimators(n_components)
    fitted = {name: clone(model).fit(X) for name, model in models.items()}
    transforms: dict[str, Callable[[], np.ndarray]] = {
        "bare X @ W.T": lambda: X @ W.T,
        BARE_EXP: lambda: np.exp(X @ W.T),
    }
    for name, model in fitted.items():
        transforms[name] = functools.partial(model.transform, X)
    fit_times: dict[str, list[float]] = {name: [] for name in models}
    transform_times: dict[str, list[tuple[float, float]]] = {n: [] for n in transforms}
    # A new order each round: a call runs slower right after one that gave
    # its memory back to the system (its output's pages fault again), which
    # in a fixed order always falls on the method after the bare floor.
    order = np.random.default_rng(0)
    names = list(transforms)
    started = time.perf_counter()
    for round_ in range(MAX_ROUNDS):
        if round_ >= repeats and time.perf_counter() - started > budget / 4:
            break  # fast cases get more rounds, up to a quarter of the budget
        for name in order.permutation(names):
            transform = transforms[name]
            if sum(wall for wall, _ in transform_times[name]) < budget:
                transform_times[name].append(timed(transform))
            if name in models and sum(fit_times[name]) < budget:
                fit = functools.partial(clone(models[name]).fit, X)
                fit_times[name].append(timed(fit)[0])
    rows = []
    for name, transform in transforms.items():
        walls, cpus = zip(*transform_times[name], strict=True)
        rows.append(
            {
                "shape": f"{n_samples}x{n_features}x{n_components}",
                "dtype": np.dtype(dtype).name,
                "method": name,
                "fit_s": statistics.median(fit_times[name]) if name in models else None,
                "transform_s": statistics.median(walls),
                "transform_best_s": min(walls),
                "transform_cpu_s": statistics.median(cpus),
                "runs": len(walls),
                "peak_extra_memory": peak_extra_memory(transform),
            }
        )
    by_name = {row["method"]: row for row in rows}
    bare, rbf = by_name[BARE_EXP], by_name["RBFSampler"]
    for row in rows:
        row["vs_bare_exp"] = row["transform_s"] / bare["transform_s"]
        row["vs_bare_exp_best"] = row["transform_best_s"] / bare["transform_best_s"]
        row["rbf_speedup"] = rbf["transform_s"] / row["transform_s"]
        row["rbf_speedup_best"] = rbf["transform_best_s"] / row["transform_best_s"]
        row["fit_vs_transform"] = (
            row["fit_s"] / row["transform_s"] if row["fit_s"] is not None else None
        )
    return rows


def format_table(rows: list[dict]) -> str:
    """One reStructuredText simple table of a case's rows."""
    header = (
        "method",
        "fit",
        "transform",
        "best",
        "CPU",
        "/ bare exp",
        "RBF / this",
        "fit / transform",
        "extra memory",
    )
    lines = []
    for row in rows:
        fit = row["fit_s"]
        lines.append(
            (
                row["method"],
                "" if fit is None else f"{fit:.3f}",
                f"{row['transform_s']:.3f}",
                f"{row['transform_best_s']:.3f}",
                f"{row['transform_cpu_s']:.3f}",
                f"{row['vs_bare_exp']:.2f} ({row['vs_bare_exp_best']:.2f})",
                f"{row['rbf_speedup']:.2f} ({row['rbf_speedup_best']:.2f})",
                "" if fit is None else f"{row['fit_vs_transform']:.2f}",
                f"{100 * row['peak_extra_memory']:.0f} %",
            )
        )
    widths = [
        max(len(line[i]) for line in [header, *lines]) for i in range(len(header))
    ]
    rule = "  ".join("=" * w for w in widths)

    def join(cells):
        return "  ".join(
            cell.ljust(w) for cell, w in zip(cells, widths, strict=True)
        ).rstrip()

    return "\n".join([rule, join(header), rule, *map(join, lines), rule])


def targets(rows: list[dict]) -> list[str]:
    """The issue's targets, met or not, for each positive family of each case.

    Verdicts use the medians; the ratio of the best times is in parentheses.
    """
    verdicts = []
    for row in rows:
        if row["method"] not in (*POSITIVE, "Fourier"):
            continue
        n_samples, n_features, _ = map(int, row["shape"].split("x"))
        checks = []
        if row["method"] == "Fourier":
            checks.append(
                (
                    row["rbf_speedup"] >= 1.0,
                    f"{1 / row['rbf_speedup']:.2f} "
                    f"({1 / row['rbf_speedup_best']:.2f}) x RBFSampler, target <= 1",
                )
            )
            checks.append(
                (
                    row["peak_extra_memory"] <= 0.05,
                    f"peak {1 + row['peak_extra_memory']:.3f} x output, target <= 1.05",
                )
            )
        elif n_samples >= 1000:
            checks.append(
                (
                    row["vs_bare_exp"] <= 1.1,
                    f"{row['vs_bare_exp']:.2f} ({row['vs_bare_exp_best']:.2f}) "
                    "x bare exp (the fresh-output floor), target <= 1.1",
                )
            )
        if row["method"] == "Fourier":
            pass  # its targets are above
        elif row["dtype"] == "float64":
            checks.append(
                (
                    row["rbf_speedup"] >= 3.5,
                    f"{row['rbf_speedup']:.2f} ({row['rbf_speedup_best']:.2f}) "
                    "x faster than RBFSampler, target >= 3.5",
                )
            )
        else:
            checks.append(
                (
                    row["rbf_speedup"] >= 1.0,
                    f"{1 / row['rbf_speedup']:.2f} "
                    f"({1 / row['rbf_speedup_best']:.2f}) x RBFSampler, target <= 1",
                )
            )
        if n_samples >= 10000 and n_features <= 128:
            checks.append(
                (
                    row["fit_vs_transform"] <= 0.5,
                    f"fit {row['fit_vs_transform']:.2f} x transform, target <= 0.5",
                )
            )
        checks.append(
            (
                row["peak_extra_memory"] <= 0.25,
                f"extra memory {100 * row['peak_extra_memory']:.0f} % of the "
                "output, target <= 25 %",
            )
        )
        case = f"{row['shape']} {row['dtype']} {row['method']}"
        verdicts.extend(
            f"{'met   ' if ok else 'MISSED'}  {case}: {text}" for ok, text in checks
        )
    return verdicts


def cpu_description() -> str:
    """The processor's model and numpy's widest x86 SIMD target found on it.

    The same versions time (and round) differently on another processor:
    numpy picks its exp/cos/sin loops by these features (doc/performance.rst,
    "Another processor").
    """
    model = platform.machine()
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            names = [
                line.split(":", 1)[1].strip()
                for line in cpuinfo
                if "model name" in line
            ]
        model = names[0] if names else model
    except OSError:
        pass
    try:
        from numpy._core._multiarray_umath import __cpu_features__ as features
    except ImportError:  # numpy < 2
        from numpy.core._multiarray_umath import __cpu_features__ as features
    targets = ("AVX512_SPR", "AVX512_ICL", "AVX512_SKX", "AVX2", "SSE42")
    widest = next((t for t in targets if features.get(t)), "baseline")
    return f"{model}, numpy SIMD up to {widest}"


def environment() -> str:
    """What the timings depend on: versions, BLAS, CPUs and load."""
    blas = [
        f"{i['internal_api']} {i['version']} ({i.get('architecture')}, "
        f"{i['num_threads']} threads)"
        for i in threadpool_info()
        if i["user_api"] == "blas"
    ]
    coretype = os.environ.get("OPENBLAS_CORETYPE", "unset")
    timeout = os.environ.get("OPENBLAS_THREAD_TIMEOUT", "unset")
    # The CPU time BLAS's idle threads spin after a product (bench_blas_interference).
    spin = spin_seconds()
    return (
        f"python {platform.python_version()}, numpy {np.__version__}, "
        f"scikit-learn {sklearn.__version__}; BLAS: {', '.join(blas)}; "
        f"OPENBLAS_CORETYPE={coretype}; OPENBLAS_THREAD_TIMEOUT={timeout} "
        f"(spin after a product: {spin:.2f} s of CPU); "
        f"{os.cpu_count()} CPUs ({cpu_description()}); "
        f"load average {os.getloadavg()[0]:.2f}"
    )


def parse_shapes(text: str) -> list[tuple[int, int, int]]:
    shapes = []
    for item in text.split(","):
        parts = item.lower().split("x")
        if len(parts) != 3:
            raise argparse.ArgumentTypeError(
                f"a shape is n_samples x n_features x n_components, got {item!r}"
            )
        shapes.append(tuple(int(p) for p in parts))
    return shapes


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--shapes",
        type=parse_shapes,
        default=None,
        help=f"comma-separated NxDxM (default {FULL_SHAPES})",
    )
    parser.add_argument(
        "--dtypes", default="float64,float32", help="comma-separated (%(default)s)"
    )
    parser.add_argument(
        "--repeats", type=int, default=None, help="default 7 (quick: 3)"
    )
    parser.add_argument(
        "--budget",
        type=float,
        default=None,
        help="seconds after which a method is not repeated (default 20; quick: 2)",
    )
    parser.add_argument(
        "--quick", action="store_true", help=f"shapes {QUICK_SHAPES}, fewer repeats"
    )
    parser.add_argument("--csv", help="also write every row to this CSV file")
    args = parser.parse_args(argv)
    shapes = args.shapes or parse_shapes(QUICK_SHAPES if args.quick else FULL_SHAPES)
    repeats = args.repeats or (3 if args.quick else 7)
    budget = args.budget or (2.0 if args.quick else 20.0)

    # ADERF and SADERF map the same rows with transform again and again here,
    # which is what their warning is about: it is expected, not news.
    warnings.filterwarnings("ignore", category=AsymmetricMapWarning)
    print(environment(), flush=True)
    all_rows = []
    for shape in shapes:
        for dtype in args.dtypes.split(","):
            rows = bench_case(*shape, np.dtype(dtype), repeats, budget)
            fewest, most = (f(row["runs"] for row in rows) for f in (min, max))
            runs = f"{fewest}" if fewest == most else f"{fewest} to {most}"
            print(
                f"\n{rows[0]['shape']} {dtype}: seconds, medians of {runs} runs "
                "(ratios of best times in parentheses)",
                flush=True,
            )
            print(format_table(rows), flush=True)
            all_rows.extend(rows)
    print(f"\nTargets of issues 4 and 20 ({environment()}):")
    print("\n".join(targets(all_rows)))
    if args.csv:
        with open(args.csv, "w", newline="") as file:
            writer = csv.DictWriter(file, fieldnames=list(all_rows[0]))
            writer.writeheader()
            writer.writerows(all_rows)
    return all_rows


if __name__ == "__main__":
    main()
