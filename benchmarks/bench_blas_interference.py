"""A transform alone and right after a multi-threaded BLAS product, as ratios.

``bench_transform.py`` interleaves every method, so each of our transforms
runs right after some other method's multi-threaded BLAS call (the bare
floor's ``X @ W.T``, ``RBFSampler``, ``Nystroem``). This script separates that
effect: for each shape and dtype it times, median of ``--repeats``,

* ``bare``: ``np.exp(X @ W.T)`` right after another one (the floor);
* ``alone``: ``PositiveRFSampler.transform`` right after another transform;
* ``after BLAS``: the same transform right after ``X @ W.T``;
* ``after BLAS + sleep``: the same with ``--sleep`` seconds between them.

It prints the medians (wall and CPU time of all the process's threads) and
``after BLAS / alone``. On the 2-core development machine the transforms that
share their blocks out to two threads of ours (BLAS held to one thread
meanwhile) took up to twice as long right after a multi-threaded product as
alone, with more CPU time spent by the process; a pause of a second after
the product did not cure it, and the cause inside OpenBLAS is not pinned
down.

    python benchmarks/bench_blas_interference.py
    python benchmarks/bench_blas_interference.py --shapes 5000x32x1024 --repeats 31
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np

from skfavor import PositiveRFSampler


def timed(before, function, repeats):
    """Median wall and CPU milliseconds of ``function`` run right after ``before``."""
    walls, cpus = [], []
    for _ in range(repeats):
        before()
        wall, cpu = time.perf_counter(), time.process_time()
        function()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return 1e3 * statistics.median(walls), 1e3 * statistics.median(cpus)


def case(n_samples, n_features, n_components, dtype, repeats, sleep):
    rng = np.random.default_rng(0)
    X = (2.0 * rng.standard_normal((n_samples, n_features)) / n_features**0.5).astype(
        dtype
    )
    W = rng.standard_normal((n_components, n_features)).astype(dtype)
    sampler = PositiveRFSampler(n_components=n_components, gamma=0.5, random_state=0)
    sampler.fit(X)

    def product():
        return X @ W.T

    def product_and_sleep():
        product()
        time.sleep(sleep)

    def transform():
        return sampler.transform(X)

    def floor():
        return np.exp(X @ W.T)

    rows = {
        "bare": timed(floor, floor, repeats),
        "alone": timed(transform, transform, repeats),
        "after BLAS": timed(product, transform, repeats),
        f"after BLAS + sleep {sleep:g} s": timed(product_and_sleep, transform, repeats),
    }
    cells = ", ".join(
        f"{name} {wall:.2f} ms (CPU {cpu:.2f})" for name, (wall, cpu) in rows.items()
    )
    ratio = rows["after BLAS"][0] / rows["alone"][0]
    shape = f"{n_samples}x{n_features}x{n_components} {np.dtype(dtype).name}"
    print(f"{shape}: {cells} | after BLAS / alone {ratio:.2f}", flush=True)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--shapes",
        default="1000x32x256,5000x32x1024,2000x256x1024",
        help="comma-separated NxDxM (default %(default)s)",
    )
    parser.add_argument("--dtypes", default="float32,float64", help="%(default)s")
    parser.add_argument(
        "--repeats", type=int, default=15, help="timings per median (%(default)s)"
    )
    parser.add_argument(
        "--sleep",
        type=float,
        default=1.0,
        help="seconds between product and transform in the last column (%(default)s)",
    )
    args = parser.parse_args(argv)
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    print(
        f"{os.cpu_count()} CPUs, load average {load[0]:.2f} {load[1]:.2f} "
        f"{load[2]:.2f}, medians of {args.repeats}"
    )
    for shape in args.shapes.split(","):
        for dtype in args.dtypes.split(","):
            case(*map(int, shape.split("x")), np.dtype(dtype), args.repeats, args.sleep)


if __name__ == "__main__":
    main()
