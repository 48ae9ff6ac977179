"""Attention against performer-pytorch and the bare floor, as ratios (issue 20).

One run, interleaved (each repeat times every method once in turn, so load
from other processes falls on all alike), best of ``--repeats`` (default 5), one
thread by default, on ``(batch, heads, L, 64)`` float32 tensors, ``M = 256``:

* ``fn``: :func:`skfavor.attention.favor_attention` with ``posrf`` and the
  same ``ω`` as performer (like for like: the same FAVOR+ math);
* ``layer``: the attention part of :class:`skfavor.nn.FavorAttention` with
  its defaults, i.e. :func:`skfavor.attention.favor_heads` with ``sderf``,
  batch statistics bidirectional and running statistics (and the final
  state) causal, as the layer calls it;
* ``performer``: performer-pytorch's ``FastAttention`` with its projection
  set to the same ``ω``, loaded from ``--performer PATH`` (a copy of
  ``performer_pytorch/performer_pytorch.py``; it needs ``einops``; its
  optional imports are stubbed). Without it that column is skipped;
* ``floor``: the bare work, a few torch lines: one GEMM per side, one exp
  (in place), two thin GEMMs, a division; causal, the same in blocks of
  positions with a masked product per block and carried sums, timed with
  blocks of 64 and of 128 and the faster kept (on the 2-core CPU of the
  notes 64 was 7 to 13 % faster; on an accelerator larger blocks may win).
  No stabilisation, no statistics, no checks.

It prints ours over performer and ours over the floor (forward under
``no_grad``, and forward plus backward of ``out.sum()``), bidirectional and
causal; the slope of time against L (log-log, from L 2048 to 8192); SDERF's
fit (statistics, closed forms, compiled maps) as a share of the layer's
forward at L 2048; and the causal crossover with exact attention
(``scaled_dot_product_attention(is_causal=True)``): the smallest L tried
where ours is faster.

    python benchmarks/bench_attention_floor.py --performer /tmp/performer_pytorch.py
    python benchmarks/bench_attention_floor.py --quick  # no performer column
    python benchmarks/bench_attention_floor.py --device cuda --threads 0 --performer ...
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import math
import os
import platform
import sys
import time
import types
from functools import partial

import torch
from torch.nn import functional as F

from skfavor._attention_numerics import sequence_statistics
from skfavor._namespace import get_namespace
from skfavor.attention import (
    favor_attention,
    favor_heads,
    fit_maps,
)
from skfavor.nn import FavorAttention

#: Block lengths of the causal floor: each is timed and the faster kept.
FLOOR_BLOCKS = (64, 128)

#: Our two columns: the function with posrf and the layer's SDERF path.
OURS = ("fn", "layer")

#: Lengths of the causal crossover search (``--quick``: 512 to 2048).
CROSSOVER_LENGTHS = (512, 768, 1024, 1536, 2048, 3072, 4096)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--lengths",
        type=int,
        nargs="+",
        help="sequence lengths (default 512 2048 8192; the slope needs 2048 and 8192)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="default lengths 512 2048 (no slope) and crossover lengths 512 to 2048",
    )
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--head-dim", type=int, default=64)
    parser.add_argument("--n-features", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1, help="0: torch's default")
    parser.add_argument("--performer", help="path of performer_pytorch.py")
    parser.add_argument(
        "--crossover-lengths",
        type=int,
        nargs="+",
        help="lengths of the causal crossover search (default 512 to 4096)",
    )
    args = parser.parse_args(argv)
    if args.lengths is None:
        args.lengths = [512, 2048] if args.quick else [512, 2048, 8192]
    if args.crossover_lengths is None:
        args.crossover_lengths = (
            [512, 1024, 1536, 2048] if args.quick else list(CROSSOVER_LENGTHS)
        )
    args.repeats = max(args.repeats, 1)
    return args


def load_performer(path):
    """performer-pytorch's module from ``path``, or None (with the reason)."""
    if not path or not os.path.exists(path):
        reason = "no --performer given" if not path else f"no file at {path}"
        print(f"performer: {reason}: its column is skipped")
        return None
    stubs = {
        "local_attention": ["LocalAttention"],
        "axial_positional_embedding": ["AxialPositionalEmbedding"],
        "performer_pytorch": [],
        "performer_pytorch.reversible": ["ReversibleSequence", "SequentialSequence"],
    }
    for name, attributes in stubs.items():
        if name not in sys.modules:
            module = types.ModuleType(name)
            for attribute in attributes:
                setattr(module, attribute, object)
            sys.modules[name] = module
    spec = importlib.util.spec_from_file_location("performer_reference", path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except ImportError as error:
        print(f"performer: {path} does not import ({error}): its column is skipped")
        return None
    return module


def performer_method(module, omega, causal):
    if module is None:
        return None
    import contextlib
    import io

    with contextlib.redirect_stdout(io.StringIO()):  # its CPU-causal notice
        attention = module.FastAttention(
            omega.shape[1], nb_features=omega.shape[0], causal=causal
        )
    attention = attention.to(omega.device)
    attention.projection_matrix.copy_(omega)
    return attention


def floor_bidirectional(q, k, v, *, weights):
    """One GEMM per side, one exp, two thin GEMMs, a ratio."""
    phi_q = (q @ weights).exp_()
    phi_k = (k @ weights).exp_()
    ones = torch.ones(*v.shape[:-1], 1, dtype=v.dtype, device=v.device)
    out = phi_q @ (phi_k.transpose(-2, -1) @ torch.cat((v, ones), -1))
    return out[..., :-1] / out[..., -1:]


def floor_causal(q, k, v, *, weights, block=FLOOR_BLOCKS[0]):
    """The same in blocks: a masked product per block, carried sums."""
    phi_q = (q @ weights).exp_()
    phi_k = (k @ weights).exp_()
    ones = torch.ones(*v.shape[:-1], 1, dtype=v.dtype, device=v.device)
    values = torch.cat((v, ones), -1)
    lower = torch.ones(block, block, dtype=torch.bool, device=q.device).tril()
    sums = phi_k.new_zeros(*phi_k.shape[:-2], phi_k.shape[-1], values.shape[-1])
    pieces = []
    # One split per sequence: a slice per block would zero-fill a gradient
    # of the whole sequence per block in backward.
    blocks = (x.split(block, dim=-2) for x in (phi_q, phi_k, values))
    for pq, pk, vals in zip(*blocks, strict=True):
        n = pq.shape[-2]
        scores = (pq @ pk.transpose(-2, -1)).masked_fill_(~lower[:n, :n], 0)
        pieces.append(scores @ vals + pq @ sums)
        sums = sums + pk.transpose(-2, -1) @ vals
    out = torch.cat(pieces, -2)
    return out[..., :-1] / out[..., -1:]


def layer_attention(q, k, v, *, omega, causal, statistics):
    """What FavorAttention calls between its projections (eval mode)."""
    return favor_heads(
        q,
        k,
        v,
        omega,
        family="sderf",
        causal=causal,
        statistics=statistics,
        output_final_state=causal,
    )[0]


def methods(args, omega, performer_module, causal):
    """Name -> function of (q, k, v) for one mode."""
    layer = FavorAttention(
        args.heads * args.head_dim,
        args.heads,
        batch_first=True,
        n_features=args.n_features,
        causal=causal,
        random_state=0,
        device=omega.device,
    )
    scale = args.head_dim**-0.25
    table = {
        "fn": partial(favor_attention, feature_map="posrf", omega=omega, causal=causal),
        "layer": partial(
            layer_attention,
            omega=layer.omega,
            causal=causal,
            statistics=layer.running_statistics() if causal else None,
        ),
    }
    performer = performer_method(performer_module, omega, causal)
    if performer is not None:
        table["performer"] = performer
    # The floor's inputs are pre-scaled once: q·d^-¼ @ ωᵀ is one GEMM.
    weights = (omega * scale).T.contiguous()
    if not causal:
        table["floor"] = partial(floor_bidirectional, weights=weights)
    for block in FLOOR_BLOCKS if causal else ():
        table[f"floor {block}"] = partial(floor_causal, weights=weights, block=block)
    return table


def with_one_floor(best):
    """``best`` with the causal floor's blocks merged into ``floor``, the faster."""
    blocks = {name: t for name, t in best.items() if name.startswith("floor ")}
    if not blocks:
        return best
    merged = {name: t for name, t in best.items() if name not in blocks}
    merged["floor"] = min(blocks.values())
    return merged


def clock(device):
    if device.type == "cuda":

        def now():
            torch.cuda.synchronize(device)
            return time.perf_counter()

        return now
    return time.process_time if torch.get_num_threads() == 1 else time.perf_counter


def best_times(table, inputs, device, repeats, backward):
    """Best of ``repeats`` per method, interleaved, after one warm-up each."""

    def run(attend):
        if backward:
            attend(*inputs).sum().backward()
        else:
            with torch.no_grad():
                attend(*inputs)

    now = clock(device)
    for attend in table.values():
        run(attend)
    best = dict.fromkeys(table, math.inf)
    for _ in range(repeats):
        for name, attend in table.items():
            start = now()
            run(attend)
            best[name] = min(best[name], now() - start)
    return best


def make_inputs(args, length, device, grad):
    generator = torch.Generator(device=device).manual_seed(length)
    shape = (args.batch, args.heads, length, args.head_dim)
    return [
        (0.5 * torch.randn(shape, generator=generator, device=device)).requires_grad_(
            grad
        )
        for _ in range(3)
    ]


def check_like_for_like(module, omega, device):
    """performer's FAVOR+ and our posrf with one ω: equal up to its eps."""
    if module is None:
        return
    q, k, v = (
        0.5 * torch.randn(1, 2, 64, omega.shape[1], dtype=torch.float64, device=device)
        for _ in range(3)
    )
    omega64 = omega.double()
    ours = favor_attention(q, k, v, feature_map="posrf", omega=omega64)
    kernel = partial(module.softmax_kernel, projection_matrix=omega64, eps=0.0)
    theirs = module.linear_attention(
        kernel(q, is_query=True), kernel(k, is_query=False), v
    )
    exact_diff = (ours - theirs).abs().max().item()
    attention = performer_method(module, omega64, causal=False).double()
    with_eps = (ours - attention(q, k, v)).abs().max().item()
    print(
        f"like for like (float64, same ω): |posrf - performer FAVOR+| = "
        f"{exact_diff:.1e} without its eps, {with_eps:.1e} with eps 1e-4"
    )
    if exact_diff > 1e-10:
        print("  WARNING: the two FAVOR+ differ: the ratios compare unlike math")


def ratio_tables(args, omega, module, device):
    """Best times per (mode, pass, L, method)."""
    times = {}
    for causal in (False, True):
        mode = "causal" if causal else "bidirectional"
        table = methods(args, omega, module, causal)
        for length in args.lengths:
            for backward in (False, True):
                inputs = make_inputs(args, length, device, backward)
                best = best_times(table, inputs, device, args.repeats, backward)
                times[mode, backward, length] = with_one_floor(best)
    return times


def print_ratios(args, times) -> None:
    for (mode, backward, length), best in times.items():
        label = f"{mode:13} {'fwd+bwd' if backward else 'forward':7} L {length:5}"
        cells = [f"{name} {1e3 * t:8.1f} ms" for name, t in best.items()]
        ratios = []
        for ours in OURS:
            if "performer" in best:
                ratios.append(f"{ours}/perf {best[ours] / best['performer']:4.2f}")
            ratios.append(f"{ours}/floor {best[ours] / best['floor']:4.2f}")
        print(label + " | " + ", ".join(cells) + " | " + ", ".join(ratios))
    lengths = sorted(args.lengths)
    if 2048 in lengths and 8192 in lengths:
        print("\nslope of time vs L (log-log, 2048 -> 8192):")
        for mode in ("bidirectional", "causal"):
            for backward in (False, True):
                small = times[mode, backward, 2048]
                large = times[mode, backward, 8192]
                slopes = ", ".join(
                    f"{name} {math.log(large[name] / small[name], 4):.2f}"
                    for name in small
                )
                pass_ = "fwd+bwd" if backward else "forward"
                print(f"  {mode:13} {pass_:7} {slopes}")


def sderf_fit_share(args, omega, times, device) -> None:
    length = 2048 if 2048 in args.lengths else max(args.lengths)
    q, k, _ = make_inputs(args, length, device, False)
    scale = args.head_dim**-0.25
    q, k = q * scale, k * scale
    xp = get_namespace(q)

    def fit():
        with torch.no_grad():
            # As the layer's fit takes them (q, k in kernel units).
            fit_maps(
                sequence_statistics(q, None, xp),
                sequence_statistics(k, None, xp),
                omega.double(),
                "sderf",
                q.dtype,
                xp,
            )

    fit_s = best_times({"fit": fit}, (), device, args.repeats, False)["fit"]
    forward = times["bidirectional", False, length]["layer"]
    print(
        f"\nSDERF fit at L {length}: {1e3 * fit_s:.1f} ms, "
        f"{100 * fit_s / forward:.0f} % of the layer's forward ({1e3 * forward:.1f} ms)"
    )


def crossover(args, omega, module, device) -> None:
    """Smallest L where ours (causal) beats exact SDPA, forward and fwd+bwd."""
    table = methods(args, omega, None, causal=True)
    table = {name: attend for name, attend in table.items() if name != "performer"}
    table["exact"] = partial(F.scaled_dot_product_attention, is_causal=True)
    print(
        "\ncausal crossover with exact SDPA (time / exact's; the floor is the "
        "bound any implementation of these features' prefix sums meets):"
    )
    found = {}
    for length in args.crossover_lengths:
        cells = []
        for backward in (False, True):
            inputs = make_inputs(args, length, device, backward)
            best = with_one_floor(
                best_times(table, inputs, device, args.repeats, backward)
            )
            pass_ = "fwd+bwd" if backward else "forward"
            for ours in (*OURS, "floor"):
                ratio = best[ours] / best["exact"]
                cells.append(f"{ours} {pass_} {ratio:4.2f}")
                if ratio < 1:
                    found.setdefault((ours, pass_), length)
        print(f"  L {length:5}: " + ", ".join(cells))
    for ours in (*OURS, "floor"):
        for pass_ in ("forward", "fwd+bwd"):
            length = found.get((ours, pass_))
            where = f"L {length}" if length else f"> {max(args.crossover_lengths)}"
            print(f"  crossover {ours} {pass_}: {where}")


def device_or_exit(name: str) -> torch.device:
    """``torch.device(name)``, or exit (status 1) with a message if it is not there."""
    try:
        device = torch.device(name)
        torch.empty(1, device=device)
    except (RuntimeError, AssertionError) as error:
        sys.exit(f"--device {name}: not available here ({error}); try --device cpu")
    return device


def main(argv=None) -> None:
    args = parse_args(argv)
    device = device_or_exit(args.device)
    sys.stdout.reconfigure(line_buffering=True)  # rows as they come, also to a file
    if args.threads:
        torch.set_num_threads(args.threads)
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    print(
        f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, "
        f"load {load}, torch {torch.__version__}, {platform.machine()}, "
        f"device {device}, threads {torch.get_num_threads()}, batch {args.batch}, "
        f"heads {args.heads}, head_dim {args.head_dim}, M {args.n_features}, "
        f"best of {args.repeats}, interleaved"
    )
    module = load_performer(args.performer)
    torch.manual_seed(0)
    omega = torch.randn(args.n_features, args.head_dim, device=device)
    check_like_for_like(module, omega, device)
    times = ratio_tables(args, omega, module, device)
    print_ratios(args, times)
    sderf_fit_share(args, omega, times, device)
    crossover(args, omega, module, device)


if __name__ == "__main__":
    main()
