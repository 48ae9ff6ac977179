"""FAVOR# against FAVOR+ and FAVOR++ inside small trained Transformers.

Two studies, each with the same small causal Transformer in which the
attention layer is the only difference (exact softmax attention,
:class:`torch.nn.MultiheadAttention`, or :class:`skfavor.nn.FavorAttention`
with one random-feature family):

* ``uptraining`` (:mod:`._uptraining`): softmax character language models
  trained until they beat a Kneser–Ney trigram table get each family's
  attention with all their weights kept, over independent ω draws (the same
  ω for every family within a draw); validation bits per character
  zero-shot after calibrating the running statistics, and after a short
  fine-tuning; with ``base='llama'`` (or ``'both'``) on a tiny Llama of
  transformers pretrained in the run and swapped through
  :func:`skfavor.integrations.transformers.favorize` (:mod:`._llama_study`);
* ``mqar`` (:mod:`._mqar_study`): multi-query associative recall (Arora et
  al. 2023, "Zoology") trained from scratch, with a token shift (keys from
  the previous position, the same for every method); held-out accuracy and
  steps to 0.9.

Families are compared by paired differences over the draws (or seeds) with
Student-t 95 % intervals and sign counts (:mod:`._paired`); a diverged run
is counted and reported, never dropped. FavorAttention runs with its
defaults for causal attention: running statistics (momentum 0.1), no feature
redraw, fitted parameters as constants, block-orthogonal ω.
"""

from __future__ import annotations

import argparse
import math
import time
from dataclasses import dataclass, replace
from pathlib import Path

from joblib import Parallel, delayed

from ._mqar import check_task
from ._output import (
    Line,
    Panel,
    add_output_arguments,
    non_negative_int,
    plot_panels,
    positive_int,
    write_csv,
)
from ._paired import summarize
from ._progress import progress

#: Exact attention first, then FAVOR+, FAVOR++ and the three FAVOR# families.
METHODS = ("softmax", "posrf", "gerf", "sderf", "aderf", "saderf")

TASKS = ("uptraining", "mqar")

#: Kinds of base model of the uptraining study.
BASES = ("transformer", "llama", "both")

COLUMNS = ("task", "base", "method", "n_features", "draw", "metric", "value")


@dataclass(frozen=True)
class Config:
    """Everything that defines a run of the transformer experiment.

    Parameters
    ----------
    tasks : tuple of str
        From :data:`TASKS`.
    methods : tuple of str
        From :data:`METHODS`.
    bases : int
        Base models (softmax char-LMs of seeds ``0 … bases - 1``).
    base : {'transformer', 'llama', 'both'}
        Kind of base model of the uptraining study: the experiment's own
        Transformer, a tiny Llama of transformers swapped through
        :func:`skfavor.integrations.transformers.favorize` (:mod:`._llama_study`;
        skipped with a message without transformers), or both.
    llama_bases, llama_draws : int
        Llama base models (seeds ``0 … llama_bases - 1``) and ω draws per
        family and ``M`` on each.
    llama_pretrain_steps, llama_batch : int
        Pretraining of the Llama bases (at ``pretrain_lr``).
    width, heads, layers : int
        Base model width, attention heads and pre-norm blocks (MQAR models
        share ``heads`` and ``layers``).
    lm_length : int
        Characters per language-modelling window.
    lm_validation : int or None
        Validation windows used (None: all of them).
    pretrain_steps, pretrain_lr, batch_size : int, float, int
        Pretraining of the base models.
    features : tuple of int
        Random features ``M`` per head of the uptraining study.
    draws : int
        ω draws per family and ``M`` (draw ``d`` is the same for every family).
    calibration_steps : int
        Forwards in training mode without weight updates that fill the running
        statistics after the swap.
    finetune_steps, finetune_batch, finetune_lr : int, int, float
        The short fine-tuning after the swap.
    mqar_features : tuple of int
        ``M`` of the MQAR study.
    mqar_seeds, mqar_steps, mqar_batch, mqar_lr : int, int, int, float
        MQAR seeds (weights, data and ω) and training.
    mqar_vocab, mqar_pairs, mqar_length, mqar_width : int
        MQAR vocabulary, key–value pairs, sequence length and model width.
    mqar_test : int
        Held-out MQAR sequences (generator seed ``seed + 10``, as Zoology).
    mqar_every : int
        Steps between two evaluations of the held-out accuracy.
    mqar_target : float
        Accuracy whose first step is reported.
    token_shift : bool
        MQAR keys from the previous position's hidden state.
    device : str
        PyTorch device.
    threads : int
        ``torch.set_num_threads`` on the CPU, per worker.
    n_jobs : int
        Runs at the same time, in worker processes (joblib).
    quiet : bool
        No progress bars.
    """

    tasks: tuple[str, ...] = TASKS
    methods: tuple[str, ...] = METHODS
    bases: int = 2
    base: str = "transformer"
    llama_bases: int = 1
    llama_draws: int = 8
    llama_pretrain_steps: int = 500
    llama_batch: int = 16
    width: int = 64
    heads: int = 4
    layers: int = 2
    lm_length: int = 64
    lm_validation: int | None = None
    pretrain_steps: int = 1000
    pretrain_lr: float = 3e-3
    batch_size: int = 32
    features: tuple[int, ...] = (16, 64, 256)
    draws: int = 8
    calibration_steps: int = 10
    finetune_steps: int = 15
    finetune_batch: int = 16
    finetune_lr: float = 3e-4
    mqar_features: tuple[int, ...] = (16,)
    mqar_seeds: int = 3
    mqar_steps: int = 1000
    mqar_batch: int = 32
    mqar_lr: float = 3e-3
    mqar_vocab: int = 256
    mqar_pairs: int = 16
    mqar_length: int = 64
    mqar_width: int = 64
    mqar_test: int = 200
    mqar_every: int = 50
    mqar_target: float = 0.9
    token_shift: bool = True
    device: str = "cpu"
    threads: int = 1
    n_jobs: int = 2
    quiet: bool = False


DEFAULT = Config()
#: The default's base models (the same weights), fewer draws and M, and a
#: small MQAR that every family learns.
QUICK = Config(
    features=(16, 64),
    draws=4,
    calibration_steps=5,
    finetune_steps=10,
    lm_validation=128,
    mqar_steps=300,
    mqar_vocab=64,
    mqar_pairs=4,
    mqar_length=32,
    mqar_test=200,
)
#: Sized, by estimate (no GPU was lent to measure it), for about ten minutes
#: on one GPU: a larger base model and a Zoology-scale MQAR (vocabulary 8192,
#: 64 pairs in 256 tokens); four worker processes share the GPU, whose small
#: kernels leave it mostly idle with one.
CUDA = Config(
    width=256,
    heads=4,
    layers=4,
    lm_length=256,
    pretrain_steps=3000,
    pretrain_lr=1e-3,
    batch_size=64,
    calibration_steps=20,
    finetune_steps=100,
    finetune_batch=32,
    finetune_lr=1e-4,
    mqar_steps=2000,
    mqar_batch=64,
    mqar_lr=1e-3,
    mqar_vocab=8192,
    mqar_pairs=64,
    mqar_length=256,
    mqar_width=128,
    mqar_test=1000,
    mqar_every=100,
    device="cuda",
    n_jobs=4,
)


def run(config: Config, out: Path, *, attention_factory=None) -> dict[str, list[dict]]:
    """Run the chosen studies, print their tables, write the CSV and plots.

    Parameters
    ----------
    config : Config
        The setting.
    out : Path
        Folder of ``transformer.csv`` and ``transformer_<task>.png``.
    attention_factory : callable, default=None
        Replaces :func:`._model.make_attention` (same signature).

    Returns
    -------
    dict
        ``{'transformer': rows}`` (no rows when the device is missing).
    """
    import torch

    if config.device.startswith("cuda") and not torch.cuda.is_available():
        print(
            f"skipped: device {config.device!r} asked for but torch sees no CUDA "
            "GPU here; run without --device cuda for the CPU setting."
        )
        return {"transformer": []}
    if config.device == "cpu":
        torch.set_num_threads(config.threads)
    start = time.perf_counter()
    print(describe(config), flush=True)
    rows: list[dict] = []
    parallel = Parallel(n_jobs=config.n_jobs, return_as="generator")
    if "uptraining" in config.tasks:
        rows += _uptraining(config, parallel, attention_factory)
        write_csv(out / "transformer.csv", rows, COLUMNS)
    if "mqar" in config.tasks:
        rows += _mqar(config, parallel, attention_factory)
        write_csv(out / "transformer.csv", rows, COLUMNS)
    print("\n" + diverged_report(rows))
    plot(rows, config, out)
    print(f"\nwall time: {time.perf_counter() - start:.0f} s")
    return {"transformer": rows}


def _collect(parallel, calls, total, desc, quiet) -> list:
    return list(progress(parallel(calls), total=total, desc=desc, disable=quiet))


def _studies(config) -> list[tuple]:
    """(study module, base seeds) of each kind of base model asked for."""
    from . import _llama_study, _uptraining

    studies = []
    if config.base in ("transformer", "both"):
        studies.append((_uptraining, list(range(config.bases))))
    if config.base in ("llama", "both"):
        reason = _llama_study.missing()
        if reason is None:
            studies.append((_llama_study, list(range(config.llama_bases))))
        else:
            print(reason, flush=True)
    return studies


def _uptraining(config, parallel, attention_factory) -> list[dict]:
    from . import _uptraining as study

    task_start = time.perf_counter()
    rows = study.ngram_rows(config)
    studies = _studies(config)
    pretrain = [(kind, seed) for kind, seeds in studies for seed in seeds]
    pretrained = _collect(
        parallel,
        (delayed(kind.pretrain)(config, seed) for kind, seed in pretrain),
        len(pretrain),
        "pretraining",
        config.quiet,
    )
    bases = {}
    for (kind, seed), (base_rows, base) in zip(pretrain, pretrained, strict=True):
        rows += base_rows
        if base is not None:
            bases[kind, seed] = base
    jobs = [
        (kind, job)
        for kind, seeds in studies
        for job in kind.swaps(config, seeds)
        if (kind, job[0]) in bases
    ]
    results = _collect(
        parallel,
        (
            _swap_call(config, kind, bases[kind, job[0]], job, attention_factory)
            for kind, job in jobs
        ),
        len(jobs),
        "uptraining",
        config.quiet,
    )
    rows += [r for result in results for r in result]
    print("\n" + study.report(rows, config))
    print(f"(uptraining: {time.perf_counter() - task_start:.0f} s)", flush=True)
    return rows


def _swap_call(config, kind, base, job, attention_factory):
    """The delayed swap of ``job`` = (seed, method, n_features, draw) into ``base``."""
    from . import _llama_study

    seed, method, n_features, draw = job
    if kind is _llama_study:
        return delayed(kind.swap)(config, seed, base, method, n_features, draw)
    return delayed(kind.swap)(
        config, seed, base, method, n_features, draw, attention_factory
    )


def _mqar(config, parallel, attention_factory) -> list[dict]:
    from . import _mqar_study as study

    task_start = time.perf_counter()
    jobs = study.jobs(config)
    results = _collect(
        parallel,
        (
            delayed(study.run_one)(config, m, n, s, attention_factory)
            for m, n, s in jobs
        ),
        len(jobs),
        "mqar",
        config.quiet,
    )
    rows = [r for result in results for r in result]
    print("\n" + study.report(rows, config))
    print(f"(mqar: {time.perf_counter() - task_start:.0f} s)", flush=True)
    return rows


def diverged_report(rows: list[dict]) -> str:
    """Count the runs whose metric is NaN (diverged or failed) and name them."""
    bad = [
        r for r in rows if r["metric"] != "seconds" and math.isnan(float(r["value"]))
    ]
    runs = {
        (r["task"], r["base"], r["method"], r["n_features"], r["draw"]) for r in bad
    }
    if not runs:
        return "diverged runs: none"
    names = ", ".join(
        "/".join(str(part) for part in run if part != "")
        for run in sorted(runs, key=str)
    )
    return f"diverged runs: {len(runs)} ({names})"


_STYLES = {
    "posrf": ("tab:blue", "--"),
    "gerf": ("tab:orange", "--"),
    "sderf": ("tab:green", "-"),
    "aderf": ("tab:red", "-"),
    "saderf": ("tab:purple", "-"),
}


def _panel(rows, title, select, features, methods) -> Panel:
    lines = []
    for method in methods:
        if method == "softmax":
            continue
        summaries = [summarize(select(method, m)) for m in features]
        color, linestyle = _STYLES[method]
        lines.append(
            Line(
                method,
                list(features),
                [s.mean for s in summaries],
                [
                    s.half_width if math.isfinite(s.half_width) else 0.0
                    for s in summaries
                ],
                color,
                linestyle,
            )
        )
    exact = summarize(select("softmax", ""))
    levels = [("softmax", exact.mean)] if exact.n else []
    return Panel(title, lines, levels)


def plot(rows: list[dict], config: Config, out: Path) -> None:
    """One PNG per task: the metric against ``M``, mean ± 95 % t half-width.

    Parameters
    ----------
    rows : list of dict
        Rows of :data:`COLUMNS` (as :func:`run` returns them or as read back
        from ``transformer.csv``).
    config : Config
        Its tasks, methods and features select what is drawn.
    out : Path
        Folder of ``transformer_<task>.png``.
    """

    def values(task, base, metric):
        def select(method, m):
            return [
                float(r["value"])
                for r in rows
                if r["task"] == task
                and r["base"] == base
                and r["method"] == method
                and str(r["n_features"]) == str(m)
                and r["metric"] == metric
            ]

        return select

    if "uptraining" in config.tasks:
        bases = sorted({r["base"] for r in rows if r["task"] == "uptraining"})
        from ._uptraining import failed_bases

        failed = failed_bases(rows)
        panels = [
            _panel(
                rows,
                f"{base}{' (NOT COUNTED)' if base in failed else ''}, {title}",
                values("uptraining", base, stage),
                config.features,
                config.methods,
            )
            for base in bases
            for stage, title in (
                ("bpc_zero_shot", "zero-shot"),
                ("bpc_finetuned", "fine-tuned"),
            )
        ]
        if panels:
            plot_panels(
                out / "transformer_uptraining.png",
                panels,
                xlabel="random features M per head",
                ylabel="validation bits per character",
                xlog=True,
                legend_columns=3,
            )
    if "mqar" in config.tasks:
        panel = _panel(
            rows,
            "MQAR (held-out accuracy)",
            values("mqar", "", "accuracy"),
            config.mqar_features,
            config.methods,
        )
        plot_panels(
            out / "transformer_mqar.png",
            [panel],
            xlabel="random features M per head",
            ylabel="query accuracy",
            xlog=True,
            legend_columns=3,
        )


def describe(config: Config) -> str:
    """One paragraph with the settings of the tasks ``config`` runs."""
    parts = []
    if "uptraining" in config.tasks:
        bases = " and ".join(
            kind
            for kind, asked in (
                (f"{config.bases} softmax char-LMs", config.base != "llama"),
                (
                    f"{config.llama_bases} tiny Llama ({config.llama_pretrain_steps} "
                    f"steps of {config.llama_batch}, {config.llama_draws} ω draws)",
                    config.base != "transformer",
                ),
            )
            if asked
        )
        parts.append(
            f"Base models: {bases}, {config.layers} pre-norm layers, width "
            f"{config.width}, {config.heads} heads, windows of {config.lm_length}; "
            f"{config.pretrain_steps} steps of {config.batch_size} at lr "
            f"{config.pretrain_lr:g} (AdamW, warm-up 10%, cosine, clip 1). "
            f"Uptraining: M in {list(config.features)}, {config.draws} ω draws, "
            f"{config.calibration_steps} calibration forwards, "
            f"{config.finetune_steps} fine-tuning steps of {config.finetune_batch} "
            f"at lr {config.finetune_lr:g}."
        )
    if "mqar" in config.tasks:
        parts.append(
            f"MQAR: vocab {config.mqar_vocab}, {config.mqar_pairs} pairs, length "
            f"{config.mqar_length}, width {config.mqar_width}, token shift "
            f"{'on' if config.token_shift else 'off'}, M in "
            f"{list(config.mqar_features)}, {config.mqar_steps} steps of "
            f"{config.mqar_batch} at lr {config.mqar_lr:g}, {config.mqar_seeds} seeds."
        )
    parts.append(f"Device {config.device}, {config.n_jobs} workers.")
    return " ".join(parts)


def with_overrides(config: Config, **overrides) -> Config:
    """``config`` with the options that are not None replaced."""
    return replace(
        config, **{key: value for key, value in overrides.items() if value is not None}
    )


#: Options that override a field of the chosen Config: (flag, type, help).
_OVERRIDES = (
    ("--bases", positive_int, "base models, softmax char-LMs of seeds 0, 1, …"),
    ("--pretrain-steps", positive_int, "pretraining steps of each base model"),
    ("--draws", positive_int, "ω draws per family and M of the uptraining"),
    ("--llama-bases", positive_int, "Llama base models, with --base llama or both"),
    ("--llama-draws", positive_int, "ω draws per family and M on the Llama bases"),
    ("--llama-pretrain-steps", positive_int, "pretraining steps of each Llama base"),
    ("--calibration-steps", non_negative_int, "calibration forwards after the swap"),
    ("--finetune-steps", non_negative_int, "fine-tuning steps after the swap"),
    ("--mqar-seeds", positive_int, "MQAR seeds (weights, data, ω)"),
    ("--mqar-steps", positive_int, "MQAR training steps"),
    ("--mqar-vocab", positive_int, "MQAR vocabulary size"),
    ("--mqar-pairs", positive_int, "MQAR key-value pairs"),
    ("--mqar-length", positive_int, "MQAR sequence length"),
    ("--threads", positive_int, "torch threads per worker"),
    ("--n-jobs", positive_int, "runs at the same time"),
)


def _settings(name: str) -> str:
    """``default 15; --quick 10; --device cuda 100``: a field in each setting."""

    def shown(value):
        return " ".join(map(str, value)) if isinstance(value, tuple) else str(value)

    default = getattr(DEFAULT, name)
    parts = [f"default {shown(default)}"]
    for option, config in (("--quick", QUICK), ("--device cuda", CUDA)):
        if getattr(config, name) != default:
            parts.append(f"{option} {shown(getattr(config, name))}")
    return "; ".join(parts)


def add_parser(commands) -> argparse.ArgumentParser:
    """Add the ``transformer`` subcommand to ``commands`` (argparse subparsers)."""
    parser = commands.add_parser(
        "transformer",
        help="FAVOR#, FAVOR+, FAVOR++ and softmax attention in trained Transformers",
        description=(
            "Softmax character language models trained past a Kneser-Ney "
            "trigram, uptrained to each family over paired ω draws (zero-shot "
            "and fine-tuned), and MQAR with a token shift trained from scratch; "
            "paired differences with 95 percent t intervals. The default runs in "
            "under 20 minutes on two idle CPU cores, --quick in under 5; "
            "--device cuda picks a setting sized for ten minutes on one GPU "
            "(skipped when torch sees none)."
        ),
    )
    parser.add_argument("--tasks", nargs="+", choices=TASKS, help="default: both")
    parser.add_argument("--methods", nargs="+", choices=METHODS, help="default: all")
    parser.add_argument(
        "--base",
        choices=BASES,
        help=(
            "base models of the uptraining study: the experiment's Transformer "
            "(default), a tiny Llama of transformers pretrained in the run and "
            "swapped through favorize/calibrate, or both"
        ),
    )
    parser.add_argument(
        "--features",
        nargs="+",
        type=positive_int,
        help=f"uptraining M per head ({_settings('features')})",
    )
    parser.add_argument(
        "--mqar-features",
        nargs="+",
        type=positive_int,
        help=f"MQAR M per head ({_settings('mqar_features')})",
    )
    for flag, kind, text in _OVERRIDES:
        name = flag[2:].replace("-", "_")
        parser.add_argument(flag, type=kind, help=f"{text} ({_settings(name)})")
    parser.add_argument(
        "--token-shift",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="MQAR keys from the previous position (default: on)",
    )
    parser.add_argument(
        "--device",
        help="PyTorch device (default cpu); cuda picks the GPU setting",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a small setting, under 5 minutes on two idle cores",
    )
    add_output_arguments(parser, "CSV file and plots")
    return parser


def config_from(args: argparse.Namespace) -> Config:
    """The Config that the parsed ``args`` of the subcommand ask for."""
    gpu = args.device is not None and args.device.startswith("cuda")
    config = QUICK if args.quick else CUDA if gpu else DEFAULT
    fields = {flag[2:].replace("-", "_") for flag, _, _ in _OVERRIDES}
    return with_overrides(
        config,
        tasks=None if args.tasks is None else tuple(args.tasks),
        methods=None if args.methods is None else tuple(args.methods),
        base=args.base,
        features=None if args.features is None else tuple(args.features),
        mqar_features=None if args.mqar_features is None else tuple(args.mqar_features),
        token_shift=args.token_shift,
        device=args.device,
        quiet=args.quiet or None,
        **{name: getattr(args, name) for name in fields},
    )


def main(args: argparse.Namespace) -> dict[str, list[dict]]:
    """Run the subcommand with the parsed ``args``."""
    config = config_from(args)
    check_options(config)
    return run(config, args.out)


def check_options(config: Config) -> None:
    """Stop with the option's name before any training when it cannot run."""
    import torch

    if config.device is not None:
        try:
            device = torch.device(config.device)
        except RuntimeError as error:
            raise SystemExit(
                f"transformer: --device {config.device!r} is not a PyTorch device "
                f"(cpu, cuda, cuda:1, mps, …): {error}"
            ) from error
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if device.type == "cuda" and count and (device.index or 0) >= count:
            raise SystemExit(
                f"transformer: --device {config.device!r}: torch sees {count} CUDA "
                "device(s)."
            )
    if "mqar" in config.tasks:
        try:
            check_task(config.mqar_vocab, config.mqar_pairs, config.mqar_length)
        except ValueError as error:
            raise SystemExit(
                f"transformer: --mqar-vocab {config.mqar_vocab}, --mqar-pairs "
                f"{config.mqar_pairs} and --mqar-length {config.mqar_length} make "
                f"no MQAR task: {error}"
            ) from error
