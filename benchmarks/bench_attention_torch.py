"""Time and peak memory of FavorAttention against exact and FAVOR+ attention in PyTorch.

For each sequence length ``L`` and each mode (bidirectional, causal) the
script times, on ``(batch, heads, L, head_dim)`` float32 tensors:

* ``favor-<family>``: the attention engine that :class:`skfavor.nn.FavorAttention`
  calls between its projections (:func:`skfavor.attention.favor_heads`:
  statistics, closed forms, features and sums; batch statistics
  bidirectional, the layer's running statistics causal, the layer's
  defaults; the running update itself is not timed);
* ``exact``: ``torch.nn.functional.scaled_dot_product_attention``;
* ``performer``: performer-pytorch's ``FastAttention`` (FAVOR+, orthogonal
  features, the same ``M``), if it is installed (``pip install
  performer-pytorch``); otherwise ``plain-favor+``, a plain FAVOR+ written
  below (Performer's ``softmax_kernel`` and linear attention, prefix sums
  with ``cumsum`` when causal), labelled as such.

It reports the median time (CPU time of the process on the CPU, wall time
on a GPU) of ``--repeats`` runs of the forward pass
(under ``torch.no_grad``) and of forward plus backward (of ``out.sum()``, with
respect to q, k and v), and the peak memory allocated during one forward plus
backward: ``torch.cuda.max_memory_allocated`` on a GPU, and on the CPU the
largest running sum of the allocations and frees that ``torch.profiler``
records (the inputs themselves not counted). It also times SDERF's fit
(statistics, eigen-decompositions and compiling the maps) alone, as a share
of its forward, at the lengths asked for.

Run from the repository root::

    python benchmarks/bench_attention_torch.py                 # CPU, the issue's grid
    python benchmarks/bench_attention_torch.py --lengths 512 1024 2048 4096
    python benchmarks/bench_attention_torch.py --device cuda --threads 0

The script needs no change to run on a GPU (``--device cuda``).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from functools import partial

import torch
from torch.nn import functional as F
from torch.profiler import ProfilerActivity, profile

from skfavor._attention_numerics import sequence_statistics
from skfavor._namespace import get_namespace
from skfavor.attention import favor_heads, fit_maps
from skfavor.nn import FavorAttention

FAMILIES = ["posrf", "gerf", "sderf", "aderf", "saderf"]


def parse_args(argv=None) -> argparse.Namespace:
    """Command-line options (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--lengths",
        type=int,
        nargs="+",
        default=[512, 1024, 2048, 4096, 8192, 16384],
    )
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--heads", type=int, default=8)
    parser.add_argument("--head-dim", type=int, default=64)
    parser.add_argument("--n-features", type=int, default=256, help="M")
    parser.add_argument("--families", nargs="+", default=FAMILIES)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch CPU threads (0: torch's default); 1 keeps a shared machine fair",
    )
    parser.add_argument(
        "--max-exact-length",
        type=int,
        default=8192,
        help="longest L for exact attention (its time grows as L²)",
    )
    parser.add_argument("--fit-lengths", type=int, nargs="+", default=[4096])
    parser.add_argument("--no-backward", action="store_true")
    parser.add_argument("--output", help="also write every row as JSON")
    return parser.parse_args(argv)


def performer_attention(head_dim, n_features, causal, device):
    """performer-pytorch's FastAttention, or None if it is not installed."""
    try:
        from performer_pytorch import FastAttention
    except ImportError:
        return None
    torch.manual_seed(0)
    return FastAttention(head_dim, nb_features=n_features, causal=causal).to(device)


def plain_favor_plus(q, k, v, *, omega, causal):
    """FAVOR+ as the Performer paper writes it (the fallback baseline).

    ``φ(x) = exp(ωᵀx' − |x'|²/2 − max) / √M`` with ``x' = x / d^¼``, the
    query maximum per row and the key maximum per sequence; causal prefix
    sums by ``cumsum`` over an (L, M, d_v) array, as performer-pytorch's CPU
    path does in chunks.
    """
    scale = q.shape[-1] ** -0.25

    def log_features(x):
        x = x * scale
        return x @ omega.T - 0.5 * (x * x).sum(-1, keepdim=True)

    log_q, log_k = log_features(q), log_features(k)
    phi_q = torch.exp(log_q - log_q.amax(-1, keepdim=True))
    phi_k = torch.exp(log_k - log_k.amax((-2, -1), keepdim=True))
    if not causal:
        context = phi_k.transpose(-2, -1) @ v
        normaliser = phi_q @ phi_k.sum(-2, keepdim=True).transpose(-2, -1)
        return (phi_q @ context) / normaliser
    context = torch.cumsum(phi_k[..., :, None] * v[..., None, :], dim=-3)
    numerator = torch.einsum("...lm,...lmd->...ld", phi_q, context)
    normaliser = (phi_q * torch.cumsum(phi_k, dim=-2)).sum(-1, keepdim=True)
    return numerator / normaliser


def engine(q, k, v, **options):
    """The output of :func:`favor_heads` (without the state)."""
    return favor_heads(q, k, v, **options)[0]


def methods(args, causal, device):
    """Name -> function of (q, k, v) for one mode."""
    embed_dim = args.heads * args.head_dim
    table = {}
    for family in args.families:
        layer = FavorAttention(
            embed_dim,
            args.heads,
            batch_first=True,
            feature_map=family,
            n_features=args.n_features,
            causal=causal,
            random_state=0,
            device=device,
        )
        table[f"favor-{family}"] = partial(
            engine,
            omega=layer.omega,
            family=family,
            causal=causal,
            statistics=layer.running_statistics() if causal else None,
        )
    table["exact"] = partial(F.scaled_dot_product_attention, is_causal=causal)
    performer = performer_attention(args.head_dim, args.n_features, causal, device)
    if performer is not None:
        table["performer"] = performer
    else:
        omega = torch.randn(args.n_features, args.head_dim, device=device)
        table["plain-favor+"] = partial(plain_favor_plus, omega=omega, causal=causal)
    return table


def synchronize(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(function, device, repeats):
    """Median time of ``repeats`` runs after one warm-up run.

    On the CPU, the CPU time of the process (all its threads): with one
    thread it is the work done, which other processes on a shared machine
    inflate far less than the wall time. On a GPU, the wall time.
    """
    clock = time.perf_counter if device.type == "cuda" else time.process_time
    function()
    synchronize(device)
    times = []
    for _ in range(repeats):
        start = clock()
        function()
        synchronize(device)
        times.append(clock() - start)
    return statistics.median(times)


def peak_memory(function, device):
    """Peak bytes allocated during one run of ``function`` beyond what existed."""
    if device.type == "cuda":
        synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        before = torch.cuda.memory_allocated(device)
        function()
        synchronize(device)
        return torch.cuda.max_memory_allocated(device) - before
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        function()
    changes = sorted(
        (event.time_range.start, event.self_cpu_memory_usage)
        for event in prof.events()
        if event.self_cpu_memory_usage
    )
    current = peak = 0
    for _, change in changes:
        current += change
        peak = max(peak, current)
    return peak


def measure(args) -> list[dict]:
    device = torch.device(args.device)
    rows = []
    for causal in [False, True]:
        table = methods(args, causal, device)
        for length in args.lengths:
            generator = torch.Generator(device=device).manual_seed(length)
            shape = (args.batch, args.heads, length, args.head_dim)
            q, k, v = (
                0.5 * torch.randn(shape, generator=generator, device=device)
                for _ in range(3)
            )
            for name, attend in table.items():
                if name == "exact" and length > args.max_exact_length:
                    continue
                row = {"mode": "causal" if causal else "bidirectional"}
                row.update(method=name, L=length)

                def forward(attend=attend, inputs=(q, k, v)):
                    with torch.no_grad():
                        attend(*inputs)

                row["forward_s"] = timed(forward, device, args.repeats)
                if not args.no_backward:
                    inputs = [x.clone().requires_grad_() for x in (q, k, v)]

                    def backward(attend=attend, inputs=inputs):
                        attend(*inputs).sum().backward()

                    row["backward_s"] = timed(backward, device, args.repeats)
                    row["peak_MiB"] = peak_memory(backward, device) / 2**20
                rows.append(row)
                print(json.dumps(row), flush=True)
            if length in args.fit_lengths and "favor-sderf" in table:
                omega = table["favor-sderf"].keywords["omega"]
                scale = args.head_dim**-0.25

                def fit(omega=omega, q=q * scale, k=k * scale):
                    xp = get_namespace(q)
                    with torch.no_grad():
                        # As the layer's fit takes them (q, k in kernel units).
                        fit_maps(
                            sequence_statistics(q, None, xp),
                            sequence_statistics(k, None, xp),
                            omega,
                            "sderf",
                            q.dtype,
                            xp,
                        )

                fit_s = timed(fit, device, args.repeats)
                forward_s = next(
                    r["forward_s"]
                    for r in rows
                    if r["method"] == "favor-sderf"
                    and r["L"] == length
                    and r["mode"] == row["mode"]
                )
                fit_row = {"mode": row["mode"], "method": "sderf fit", "L": length}
                fit_row.update(forward_s=fit_s, share_of_forward=fit_s / forward_s)
                rows.append(fit_row)
                print(json.dumps(fit_row), flush=True)
    return rows


def print_tables(rows) -> None:
    names = list(dict.fromkeys(r["method"] for r in rows if r["method"] != "sderf fit"))
    lengths = sorted({r["L"] for r in rows})
    columns = [("forward_s", "forward (ms)", 1e3), ("backward_s", "fwd+bwd (ms)", 1e3)]
    columns.append(("peak_MiB", "peak fwd+bwd (MiB)", 1.0))
    for mode in ["bidirectional", "causal"]:
        for key, title, factor in columns:
            print(f"\n{mode}, {title}")
            print("L".rjust(6) + "".join(name.rjust(14) for name in names))
            for length in lengths:
                cells = []
                for name in names:
                    match = [
                        r
                        for r in rows
                        if r["mode"] == mode
                        and r["method"] == name
                        and r["L"] == length
                    ]
                    value = match[0].get(key) if match else None
                    cells.append("–" if value is None else f"{value * factor:.1f}")
                print(str(length).rjust(6) + "".join(c.rjust(14) for c in cells))
    for r in rows:
        if r["method"] == "sderf fit":
            print(
                f"\nSDERF fit, {r['mode']}, L={r['L']}: {r['forward_s'] * 1e3:.1f} ms, "
                f"{100 * r['share_of_forward']:.0f} % of its forward"
            )


def main(argv=None) -> None:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    print(
        f"torch {torch.__version__}, {platform.machine()}, device {args.device}, "
        f"threads {torch.get_num_threads()}, batch {args.batch}, heads {args.heads}, "
        f"head_dim {args.head_dim}, M {args.n_features}"
    )
    rows = measure(args)
    print_tables(rows)
    if args.output:
        with open(args.output, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
