"""Our transforms right after themselves and right after a BLAS product, as ratios.

``bench_transform.py`` interleaves every method, so each of our transforms
runs right after some other method's multi-threaded BLAS call (the bare
floor's ``X @ W.T``, ``RBFSampler``, ``Nystroem``). After such a call,
OpenBLAS's worker threads keep spinning (busy-waiting, on x86-64 without
yielding the core) for ``2**OPENBLAS_THREAD_TIMEOUT`` cycles, 2**28 by default,
about a tenth of a second, before they sleep. On a machine of few cores they
take cores from any other threads of the process meanwhile, ours included.

This script first measures that spin (the CPU time of the process during a
pause right after a product: about 0.12 s per idle worker by default, 0 with
the spin off), then, for each shape and dtype, times medians of
``--repeats`` of ``PositiveRFSampler``'s map (``query_map_.transform``)

* with its default plan (``n_threads=None``, ``skfavor._blocks.plan_blocks``),
  with ``n_threads=1`` and with ``n_threads`` = all the CPUs;
* right after another call of the same method (``after itself``; the floor
  and the default plan's BLAS-threaded products leave a spin behind them too)
  and right after a multi-threaded ``X @ W.T`` (``after BLAS``),

each against the bare floor ``np.exp(X @ W.T)`` timed the same way (its
milliseconds are printed), the methods in a new order each round.
``OPENBLAS_THREAD_TIMEOUT=4`` in the environment (the smallest value OpenBLAS
takes: 1 to 3 count as 4 and 0 leaves the default; it is read when OpenBLAS
loads) turns the spin off, and the two rows of each case then agree.

    python benchmarks/bench_blas_interference.py
    OPENBLAS_THREAD_TIMEOUT=4 python benchmarks/bench_blas_interference.py
    python benchmarks/bench_blas_interference.py --shapes 5000x32x1024 --repeats 31
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np
from threadpoolctl import threadpool_info

from skfavor import PositiveRFSampler


def spin_seconds(pause: float = 0.3) -> float:
    """CPU seconds this process spends in a ``pause`` right after a BLAS product."""
    rng = np.random.default_rng(0)
    A = rng.standard_normal((512, 512))
    A @ A
    cpu = time.process_time()
    time.sleep(pause)
    return time.process_time() - cpu


def case(n_samples, n_features, n_components, dtype, repeats):
    rng = np.random.default_rng(0)
    X = (2.0 * rng.standard_normal((n_samples, n_features)) / n_features**0.5).astype(
        dtype
    )
    W = rng.standard_normal((n_components, n_features)).astype(dtype)
    sampler = PositiveRFSampler(n_components=n_components, gamma=0.5, random_state=0)
    feature_map = sampler.fit(X).query_map_
    n_cpus = os.cpu_count() or 1
    methods = {
        "floor": lambda: np.exp(X @ W.T),
        "default": lambda: feature_map.transform(X),
        "1 thread": lambda: feature_map.transform(X, n_threads=1),
        f"{n_cpus} threads": lambda: feature_map.transform(X, n_threads=n_cpus),
    }
    befores = {"after itself": None, "after BLAS": lambda: X @ W.T}
    times = {(before, name): [] for before in befores for name in methods}
    order = np.random.default_rng(1)
    for _ in range(repeats):
        for name in order.permutation(list(methods)):
            for before, call in befores.items():
                (call or methods[name])()
                start = time.perf_counter()
                methods[name]()
                times[before, name].append(time.perf_counter() - start)
    medians = {key: statistics.median(value) for key, value in times.items()}
    shape = f"{n_samples}x{n_features}x{n_components} {np.dtype(dtype).name}"
    for before in befores:
        floor = medians[before, "floor"]
        cells = ", ".join(
            f"{name} {medians[before, name] / floor:.2f}"
            for name in methods
            if name != "floor"
        )
        print(f"{shape:24} {before:12}: floor {1e3 * floor:7.2f} ms; x floor: {cells}")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="Set OPENBLAS_THREAD_TIMEOUT=4 in the environment to turn the spin off.",
    )
    parser.add_argument(
        "--shapes",
        default="1000x32x256,5000x32x1024,2000x256x1024",
        help="comma-separated NxDxM (default %(default)s)",
    )
    parser.add_argument("--dtypes", default="float32,float64", help="%(default)s")
    parser.add_argument(
        "--repeats", type=int, default=15, help="timings per median (%(default)s)"
    )
    args = parser.parse_args(argv)
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    blas = ", ".join(
        f"{info['internal_api']} {info['version']} ({info['num_threads']} threads)"
        for info in threadpool_info()
        if info["user_api"] == "blas"
    )
    timeout = os.environ.get("OPENBLAS_THREAD_TIMEOUT", "unset")
    print(
        f"{os.cpu_count()} CPUs, load average {load[0]:.2f} {load[1]:.2f} "
        f"{load[2]:.2f}, medians of {args.repeats}; {blas}; "
        f"OPENBLAS_THREAD_TIMEOUT {timeout}"
    )
    spin = spin_seconds()
    print(
        f"CPU time in a 0.3 s pause right after a product: {spin:.3f} s "
        + (
            "(BLAS's idle threads spinning)"
            if spin > 0.01
            else "(no spin: BLAS's threads sleep at once)"
        )
    )
    print(
        "Columns: the map's time over the floor's, with n_threads=None (default), "
        "1 and all the CPUs\n"
    )
    for shape in args.shapes.split(","):
        for dtype in args.dtypes.split(","):
            case(*map(int, shape.split("x")), np.dtype(dtype), args.repeats)


if __name__ == "__main__":
    main()
