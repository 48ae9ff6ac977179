"""Transforms and attention on an accelerator, in one command (issue 20).

1. Transforms: fits each sampler once on the host, then times ``transform``
   of the same data as a NumPy array (CPU, the threaded NumPy path) and as
   PyTorch / CuPy arrays on the requested device, and prints the median
   times and the speed-ups.
2. Attention: the table of ``bench_attention_floor.py`` on the device (ours
   against performer-pytorch's FastAttention and the bare floor, forward and
   forward+backward, bidirectional and causal, slope in L, SDERF's fit share,
   causal crossover with exact SDPA), with all of the device's threads on a
   GPU and one thread on the CPU (as ``bench_attention_floor.py``).

Runs on the CPU too (``--device cpu --quick``), which checks the script
without a GPU.

    python benchmarks/bench_gpu.py --device cuda --performer /tmp/performer_pytorch.py
    python benchmarks/bench_gpu.py --device cpu --quick  # a check, not a measurement
"""

import os
import warnings

# scikit-learn's array-API dispatch refuses to start unless SciPy's is on,
# which has to be set before SciPy is first imported.
os.environ.setdefault("SCIPY_ARRAY_API", "1")

import argparse
import statistics
import sys
import time

import numpy as np
from sklearn import config_context

from skfavor import AsymmetricMapWarning, DERFSampler, GERFSampler, PositiveRFSampler

SAMPLERS = {
    "posrf": lambda **kw: PositiveRFSampler(**kw),
    "gerf": lambda **kw: GERFSampler(**kw),
    "sderf": lambda **kw: DERFSampler("sderf", **kw),
    "aderf": lambda **kw: DERFSampler("aderf", **kw),
}


def _median_seconds(call, repeats, synchronize):
    call()  # warm-up: caches the map's terms on the device, compiles kernels
    synchronize()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _backends(device):
    """(name, to_array, synchronize) for each installed library."""
    backends = []
    try:
        import torch

        def torch_sync():
            if device.startswith("cuda"):
                torch.cuda.synchronize()

        backends.append(
            ("torch", lambda a: torch.asarray(a, device=device), torch_sync)
        )
    except ImportError:
        print("PyTorch is not installed: skipped")
    if device.startswith("cuda"):
        try:
            import cupy

            backends.append(
                ("cupy", cupy.asarray, lambda: cupy.cuda.Device().synchronize())
            )
        except ImportError:
            print("CuPy is not installed: skipped")
    return backends


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--features", type=int, default=64)
    parser.add_argument("--components", type=int, default=2048)
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument(
        "--quick", action="store_true", help="small shapes: checks the script"
    )
    parser.add_argument("--performer", help="path of performer_pytorch.py")
    parser.add_argument("--no-attention", action="store_true")
    args = parser.parse_args(argv)
    # ADERF maps the same rows with transform again and again here, which is
    # what its warning is about: expected, not news.
    warnings.filterwarnings("ignore", category=AsymmetricMapWarning)
    if args.quick:
        args.rows, args.components, args.repeats = 20_000, 256, 3
    check_device(args.device)
    transforms(args)
    if not args.no_attention:
        attention(args)


def check_device(name):
    """Exit (status 1) with a message, before any timing, if ``name`` is not here."""
    try:
        import torch
    except ImportError:
        if name != "cpu":
            sys.exit(f"--device {name} needs PyTorch, which is not installed")
        return
    try:
        torch.empty(1, device=name)
    except (RuntimeError, AssertionError) as error:
        sys.exit(f"--device {name}: not available here ({error}); try --device cpu")


def attention(args):
    """The attention table of ``bench_attention_floor.py`` on ``args.device``."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import bench_attention_floor

    options = ["--device", args.device, "--repeats", str(max(args.repeats, 5))]
    options += ["--threads", "0" if args.device.startswith("cuda") else "1"]
    if args.quick:
        options += ["--lengths", "256", "--crossover-lengths", "256"]
    if args.performer:
        options += ["--performer", args.performer]
    print()
    bench_attention_floor.main(options)


def transforms(args):
    """Transform times: NumPy on the host against each backend on the device."""

    rng = np.random.default_rng(0)
    X = (rng.normal(size=(args.rows, args.features)) * 0.3).astype(args.dtype)
    print(
        f"X {X.shape} {args.dtype}, n_components={args.components}, "
        f"device={args.device}, median of {args.repeats}"
    )
    print(f"{'sampler':8} {'backend':8} {'seconds':>9} {'rows/s':>12} {'vs numpy':>9}")
    for name, make in SAMPLERS.items():
        sampler = make(n_components=args.components, random_state=0).fit(X[:20_000])
        numpy_time = _median_seconds(
            lambda s=sampler: s.transform(X), args.repeats, lambda: None
        )
        print(f"{name:8} {'numpy':8} {numpy_time:9.4f} {args.rows / numpy_time:12.3g}")
        for backend, to_array, synchronize in _backends(args.device):
            X_device = to_array(X)
            with config_context(array_api_dispatch=True):
                fitted = make(n_components=args.components, random_state=0).fit(
                    to_array(X[:20_000])
                )
                seconds = _median_seconds(
                    lambda f=fitted, Z=X_device: f.transform(Z),
                    args.repeats,
                    synchronize,
                )
            print(
                f"{name:8} {backend:8} {seconds:9.4f} {args.rows / seconds:12.3g} "
                f"{numpy_time / seconds:8.1f}x"
            )


if __name__ == "__main__":
    main()
