"""Generation and prefill time of a favorized Hugging Face model against SDPA.

A Llama-shaped model (random weights, grouped-query attention) is built
twice from one config: with ``attn_implementation='sdpa'`` and favorized
(:func:`skfavor.integrations.transformers.favorize`, SDERF, calibrated on
random tokens). In one run, so that the machine's load falls on both alike,
the script reports:

* **per-token generation time** at a context of 256 and 4096 tokens: the
  prompt is prefilled into a cache, then ``--tokens`` greedy steps are timed
  one by one (median); FAVOR's cache holds constant-size sums, so its time
  per token is flat in the context, SDPA's grows with the keys it reads.
  The cache's size is printed too;
* **prefill time** (one forward of L tokens, no cache) at L from 512 to
  8192, and the ratio of SDPA's time to FAVOR's.

Run from the repository root::

    python benchmarks/bench_transformers.py --quick   # about a minute, idle 2 cores
    python benchmarks/bench_transformers.py           # L up to 8192
    python benchmarks/bench_transformers.py --device cuda --threads 0
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import time

import torch
from transformers import DynamicCache, LlamaConfig, LlamaForCausalLM

from skfavor.integrations.transformers import FavorCacheLayer, calibrate, favorize


def build(args):
    config = LlamaConfig(
        vocab_size=1024,
        hidden_size=args.width,
        intermediate_size=2 * args.width,
        num_hidden_layers=args.layers,
        num_attention_heads=args.heads,
        num_key_value_heads=args.heads // 2,
        max_position_embeddings=max(args.lengths + args.contexts) + args.tokens + 1,
        attn_implementation="sdpa",
    )
    torch.manual_seed(0)
    softmax = LlamaForCausalLM(config).eval().to(args.device)
    favor = favorize(copy.deepcopy(softmax), n_features=args.features, random_state=0)
    calibrate(favor, torch.randint(1024, (4, 256), device=args.device))
    return softmax, favor


def sync(device):
    if device.startswith("cuda"):
        torch.cuda.synchronize()


@torch.no_grad()
def per_token(model, context, args):
    """Median seconds per generated token after a prompt of ``context`` tokens."""
    cache = DynamicCache(config=model.config)
    prompt = torch.randint(1024, (1, context), device=args.device)
    logits = model(prompt, cache=cache, use_cache=True).logits
    times = []
    for _ in range(args.tokens):
        token = logits[:, -1:].argmax(-1)
        sync(args.device)
        start = time.perf_counter()
        logits = model(token, cache=cache, use_cache=True).logits
        sync(args.device)
        times.append(time.perf_counter() - start)
    size = 0
    for layer in cache.layers:
        if isinstance(layer, FavorCacheLayer):
            size += layer.nbytes
        else:
            size += sum(t.nbytes for t in (layer.keys, layer.values))
    return statistics.median(times), size


@torch.no_grad()
def prefill(model, length, args):
    ids = torch.randint(1024, (1, length), device=args.device)
    times = []
    for _ in range(args.repeats):
        sync(args.device)
        start = time.perf_counter()
        model(ids, use_cache=False)
        sync(args.device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="L 512 and 2048 only")
    parser.add_argument("--lengths", type=int, nargs="+", default=None)
    parser.add_argument("--contexts", type=int, nargs="+", default=[256, 4096])
    parser.add_argument("--tokens", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--width", type=int, default=256)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--heads", type=int, default=8)
    parser.add_argument("--features", type=int, default=128)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1, help="0: torch's default")
    args = parser.parse_args(argv)
    if args.lengths is None:
        args.lengths = [512, 2048] if args.quick else [512, 1024, 2048, 4096, 8192]
    if args.quick:
        args.tokens, args.repeats = min(args.tokens, 8), 1
    if args.threads:
        torch.set_num_threads(args.threads)
    print(
        f"load average before: {os.getloadavg()}; torch threads "
        f"{torch.get_num_threads()}; device {args.device}"
    )
    softmax, favor = build(args)

    print("\nper-token generation (median ms per token, cache size in KiB)")
    print(f"{'context':>8} {'favor':>9} {'sdpa':>9} {'favor KiB':>10} {'sdpa KiB':>10}")
    rows = {}
    for context in args.contexts:
        f_time, f_size = per_token(favor, context, args)
        s_time, s_size = per_token(softmax, context, args)
        rows[context] = f_time, s_time
        print(
            f"{context:>8} {1e3 * f_time:>9.2f} {1e3 * s_time:>9.2f} "
            f"{f_size / 2**10:>10.0f} {s_size / 2**10:>10.0f}"
        )
    first, last = args.contexts[0], args.contexts[-1]
    print(
        f"time per token at {last} over {first}: favor "
        f"{rows[last][0] / rows[first][0]:.2f}, sdpa "
        f"{rows[last][1] / rows[first][1]:.2f}"
    )

    print("\nprefill (median s of one forward, no cache)")
    print(f"{'L':>6} {'favor':>9} {'sdpa':>9} {'sdpa/favor':>11}")
    for length in args.lengths:
        f_time = prefill(favor, length, args)
        s_time = prefill(softmax, length, args)
        print(f"{length:>6} {f_time:>9.3f} {s_time:>9.3f} {s_time / f_time:>11.2f}")
    print(f"\nload average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
