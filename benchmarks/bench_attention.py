"""Time and peak memory of FAVOR attention against exact softmax attention.

For each sequence length ``L`` the script times
:func:`skfavor.attention.favor_attention` (one or more feature families) and
:func:`skfavor.attention.softmax_attention` on ``(heads, L, d)`` float32
inputs, bidirectional and causal, and reports the median CPU time over
repeated runs and the peak memory allocated during one run (NumPy
allocations, traced by :mod:`tracemalloc`). It then names the crossover: the
first length of the grid from which FAVOR is faster, or smaller, than exact
attention at every larger length measured.

Run from the repository root::

    python benchmarks/bench_attention.py
    python benchmarks/bench_attention.py --lengths 256 1024 4096 --repeats 3
    python benchmarks/bench_attention.py --output results.json

BLAS runs on ``--threads`` threads (1 by default): on a shared machine a
multi-threaded BLAS that waits for busy cores distorts timings by orders of
magnitude, and both methods get the same threads.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
import tracemalloc
from functools import partial

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

from skfavor.attention import favor_attention, softmax_attention


def parse_args(argv=None) -> argparse.Namespace:
    """Command-line options (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--lengths",
        type=int,
        nargs="+",
        default=[256, 512, 1024, 2048, 4096, 8192, 16384],
        help="sequence lengths L",
    )
    parser.add_argument("--heads", type=int, default=4, help="batch × heads")
    parser.add_argument("--dim", type=int, default=64, help="query/key width d")
    parser.add_argument("--n-features", type=int, default=256, help="M")
    parser.add_argument(
        "--families",
        nargs="+",
        default=["posrf", "sderf", "aderf"],
        help="feature maps to time",
    )
    parser.add_argument(
        "--max-exact-length",
        type=int,
        default=8192,
        help="longest L for exact attention, whose memory grows as L²",
    )
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per point")
    parser.add_argument("--threads", type=int, default=1, help="BLAS threads")
    parser.add_argument("--output", help="write the measurements to this JSON file")
    return parser.parse_args(argv)


def measure(function, repeats: int) -> dict:
    """Median wall and CPU time over ``repeats`` runs after one warm-up, and
    the peak MiB of one more run.

    The CPU time of the process is what the crossover uses: with BLAS on one
    thread it equals the wall time on an idle machine, and unlike the wall
    time it does not grow when other processes share the cores. The peak is
    taken in a separate run, as :mod:`tracemalloc` slows allocation down.
    """
    function()
    wall, cpu = [], []
    for _ in range(repeats):
        start_wall, start_cpu = time.perf_counter(), time.process_time()
        function()
        cpu.append(time.process_time() - start_cpu)
        wall.append(time.perf_counter() - start_wall)
    tracemalloc.start()
    function()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return dict(
        seconds=statistics.median(cpu),
        wall_seconds=statistics.median(wall),
        peak_mib=peak / 2**20,
    )


def run(args: argparse.Namespace) -> list[dict]:
    """Measure every method, mode and length; one record per point."""
    rng = np.random.default_rng(0)
    records = []
    for length in args.lengths:
        query, key, value = (
            0.5 * rng.standard_normal((3, args.heads, length, args.dim))
        ).astype(np.float32)
        for causal in (False, True):
            inputs = (query, key, value)
            methods = {
                family: partial(
                    favor_attention,
                    *inputs,
                    feature_map=family,
                    n_features=args.n_features,
                    causal=causal,
                    random_state=0,
                )
                for family in args.families
            }
            if length <= args.max_exact_length:
                methods["exact"] = partial(softmax_attention, *inputs, causal=causal)
            for method, function in methods.items():
                point = measure(function, args.repeats)
                records.append(
                    dict(length=length, causal=causal, method=method, **point)
                )
                print(
                    f"L={length:6d} {'causal' if causal else 'bidirectional':13s} "
                    f"{method:6s} {point['seconds'] * 1e3:10.1f} ms CPU "
                    f"{point['wall_seconds'] * 1e3:10.1f} ms wall "
                    f"{point['peak_mib']:9.1f} MiB",
                    flush=True,
                )
    return records


def crossover(records: list[dict], method: str, causal: bool, key: str):
    """First length from which ``method`` beats exact at every larger length."""
    exact = {
        r["length"]: r[key]
        for r in records
        if r["method"] == "exact" and r["causal"] == causal
    }
    favor = {
        r["length"]: r[key]
        for r in records
        if r["method"] == method and r["causal"] == causal and r["length"] in exact
    }
    first = None
    for length in sorted(favor, reverse=True):
        if favor[length] >= exact[length]:
            break
        first = length
    return first


def table(records: list[dict], methods: list[str], causal: bool, key: str) -> str:
    """A Markdown table: one row per length, one column per method."""
    lengths = sorted({r["length"] for r in records})
    values = {
        (r["length"], r["method"]): r[key] for r in records if r["causal"] == causal
    }
    unit, factor = ("ms CPU", 1e3) if key == "seconds" else ("MiB", 1.0)
    lines = [
        "| L | " + " | ".join(f"{m} ({unit})" for m in methods) + " |",
        "|---" * (len(methods) + 1) + "|",
    ]
    for length in lengths:
        cells = [
            f"{values[length, m] * factor:.1f}" if (length, m) in values else "–"
            for m in methods
        ]
        lines.append(f"| {length} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None) -> None:
    """Run the benchmark and print the tables and crossovers."""
    args = parse_args(argv)
    with threadpool_limits(args.threads):
        blas = [
            f"{p['internal_api']} {p['version']} ({p['num_threads']} threads)"
            for p in threadpool_info()
        ]
        records = run(args)
    print(
        f"\nheads={args.heads} d={args.dim} M={args.n_features} float32, "
        f"median of {args.repeats}; {platform.processor() or platform.machine()}, "
        f"NumPy {np.__version__}, BLAS: {', '.join(blas)}"
    )
    methods = [*args.families, "exact"]
    for causal in (False, True):
        mode = "causal" if causal else "bidirectional"
        for key in ("seconds", "peak_mib"):
            print(f"\n{mode}, {'time' if key == 'seconds' else 'peak memory'}:")
            print(table(records, methods, causal, key))
        for family in args.families:
            print(
                f"{mode} crossover of {family}: faster from L="
                f"{crossover(records, family, causal, 'seconds')}, smaller from L="
                f"{crossover(records, family, causal, 'peak_mib')}"
            )
    if args.output:
        with open(args.output, "w") as stream:
            json.dump(dict(settings=vars(args), blas=blas, records=records), stream)


if __name__ == "__main__":
    main()
