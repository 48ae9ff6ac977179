"""Uptraining: pretrained softmax char-LMs with each family's attention swapped in.

Base models: softmax character language models on the ``pydoc_data`` topics
(:mod:`._charlm`), one per base seed, trained until they beat an interpolated
Kneser–Ney trigram table of the same training split on the same validation
split. Each family then replaces every attention layer of a base with all
its weights kept, on ``draws`` independent ω draws (the same ω for every
family within a draw), is calibrated (forwards in training mode that fill
the running statistics), measured (zero-shot), fine-tuned briefly and
measured again. Softmax fine-tuned the same way is the control.
"""

from __future__ import annotations

import functools
import math
import time
from typing import TYPE_CHECKING

import numpy as np
import torch

from . import _paired
from ._charlm import (
    CharCorpus,
    kneser_ney,
    ngram_bits_per_character,
    random_windows,
    tiled_windows,
)
from ._model import (
    Architecture,
    Recipe,
    batches_of,
    bits_per_character,
    build_model,
    calibrate,
    load_weights,
    train,
)
from ._output import format_table

if TYPE_CHECKING:
    from .transformer import Config

#: The two stages at which the swapped models are measured.
STAGES = ("bpc_zero_shot", "bpc_finetuned")

#: Paired comparisons (first − second) of the tables.
COMPARISONS = (
    ("sderf", "posrf"),
    ("sderf", "gerf"),
    ("aderf", "posrf"),
    ("aderf", "gerf"),
    ("saderf", "posrf"),
    ("saderf", "gerf"),
    ("gerf", "posrf"),
)


@functools.lru_cache(maxsize=1)
def corpus() -> CharCorpus:
    """The character corpus, loaded once per process."""
    return CharCorpus()


def row(task, base, method, n_features, draw, metric, value) -> dict:
    """One row of :data:`skfavor.experiments.transformer.COLUMNS`."""
    return {
        "task": task,
        "base": base,
        "method": method,
        "n_features": "" if n_features is None else n_features,
        "draw": "" if draw is None else draw,
        "metric": metric,
        "value": value,
    }


def values_by_draw(rows, *, task, method, n_features, metric, base=None) -> dict:
    """The values of the rows that :func:`row` made with these fields, by draw.

    ``base=None`` takes rows of any base model.
    """
    key = "" if n_features is None else n_features
    return {
        r["draw"]: float(r["value"])
        for r in rows
        if r["task"] == task
        and (base is None or r["base"] == base)
        and r["method"] == method
        and r["n_features"] == key
        and r["metric"] == metric
    }


def _by_draw(rows, base, method, n_features, metric) -> dict:
    return values_by_draw(
        rows,
        task="uptraining",
        base=base,
        method=method,
        n_features=n_features,
        metric=metric,
    )


def architecture(config: Config) -> Architecture:
    """The base models' shape (no token shift)."""
    return Architecture(
        vocab_size=corpus().vocab_size,
        max_length=config.lm_length,
        width=config.width,
        heads=config.heads,
        layers=config.layers,
    )


def windows(config: Config, seed: int, stream: int, n_windows: int):
    """Random training windows of ``seed``'s ``stream``: (inputs, targets).

    Stream 0 is pretraining, stream 1 calibration and fine-tuning.
    """
    windows = random_windows(
        corpus().train,
        n_windows=n_windows,
        length=config.lm_length,
        rng=np.random.default_rng([seed, stream]),
    )
    windows = torch.as_tensor(windows, device=config.device)
    return windows[:, :-1], windows[:, 1:]


@functools.lru_cache(maxsize=2)
def validation(config: Config):
    """The validation windows (n, L + 1) that every model is measured on."""
    windows = tiled_windows(corpus().validation, length=config.lm_length)
    return torch.as_tensor(windows[: config.lm_validation], device=config.device)


def ngram_rows(config: Config) -> list[dict]:
    """Validation bits per character of Kneser–Ney unigram … trigram tables.

    Evaluated on the ids of the validation windows that the models see, the
    first ``order - 1`` of the split serving as context only.
    """
    data = corpus()
    windows = validation(config).cpu().numpy()
    ids = np.concatenate([windows[0], *(w[1:] for w in windows[1:])])
    rows = []
    for order, name in ((1, "unigram"), (2, "bigram"), (3, "trigram")):
        table = kneser_ney(data.train, order=order, vocab_size=data.vocab_size)
        bpc = ngram_bits_per_character(table, ids)
        rows.append(row("base", "", name, None, None, "bpc", bpc))
    return rows


def pretrain(config: Config, seed: int) -> tuple[list[dict], dict | None]:
    """Train the softmax base model of ``seed``; its rows and weights."""
    threads(config)
    model = build_model(
        "softmax", None, architecture(config), seed=seed, draw=0, device=config.device
    )
    recipe = Recipe(config.pretrain_steps, config.pretrain_lr)
    batches = batches_of(
        *windows(config, seed, 0, recipe.steps * config.batch_size),
        config.batch_size,
    )
    start = time.perf_counter()
    finite, _ = train(model, batches, recipe)
    seconds = time.perf_counter() - start
    bpc = bits_per_character(model, validation(config)) if finite else math.nan
    base = f"seed {seed}"
    rows = [
        row("base", base, "softmax", None, None, "bpc", bpc),
        row("base", base, "softmax", None, None, "seconds", seconds),
    ]
    if not math.isfinite(bpc):
        return rows, None
    return rows, {k: v.cpu() for k, v in model.state_dict().items()}


def swap(
    config: Config,
    seed: int,
    state: dict,
    method: str,
    n_features: int | None,
    draw: int | None,
    attention_factory=None,
) -> list[dict]:
    """Swap ``method`` into the base of ``seed``: zero-shot and fine-tuned bpc.

    Calibration and fine-tuning batches depend on the base only, so that the
    families of one draw differ by their estimator alone.
    """
    threads(config)
    model = build_model(
        method,
        n_features,
        architecture(config),
        seed=seed,
        draw=0 if draw is None else draw,
        device=config.device,
        attention_factory=attention_factory,
    )
    load_weights(model, state)
    steps = config.finetune_steps
    n_batches = max(steps, config.calibration_steps, 1)
    batches = batches_of(
        *windows(config, seed, 1, n_batches * config.finetune_batch),
        config.finetune_batch,
    )
    held_out = validation(config)
    base = f"seed {seed}"
    start = time.perf_counter()
    if method != "softmax":
        calibrate(model, batches, config.calibration_steps)
    rows = [
        row(
            "uptraining",
            base,
            method,
            n_features,
            draw,
            STAGES[0],
            finite_bpc(model, held_out),
        )
    ]
    finite, _ = train(model, batches, Recipe(steps, config.finetune_lr))
    after = finite_bpc(model, held_out) if finite else math.nan
    rows.append(row("uptraining", base, method, n_features, draw, STAGES[1], after))
    rows.append(
        row(
            "uptraining",
            base,
            method,
            n_features,
            draw,
            "seconds",
            time.perf_counter() - start,
        )
    )
    return rows


def finite_bpc(model, validation) -> float:
    """Bits per character of ``model`` on ``validation``; NaN if not finite."""
    bpc = bits_per_character(model, validation)
    return bpc if math.isfinite(bpc) else math.nan


def threads(config: Config) -> None:
    """Torch threads of this worker, on the CPU."""
    if config.device == "cpu":
        torch.set_num_threads(config.threads)


def swaps(config: Config, bases: list[int], draws: int | None = None) -> list[tuple]:
    """(base seed, method, n_features, draw) of every swap, softmax once per base.

    ``draws`` ω draws per family and M (None: ``config.draws``).
    """
    draws = config.draws if draws is None else draws
    jobs = []
    for seed in bases:
        for method in config.methods:
            if method == "softmax":
                jobs.append((seed, method, None, None))
            else:
                jobs += [
                    (seed, method, m, d) for m in config.features for d in range(draws)
                ]
    return jobs


def _trigram_bpc(rows: list[dict]) -> float | None:
    """The Kneser–Ney trigram's validation bpc, None if it was not run."""
    values = [
        float(r["value"])
        for r in rows
        if r["task"] == "base" and r["method"] == "trigram" and r["metric"] == "bpc"
    ]
    return values[0] if values else None


def _beats_trigram(value: float, trigram: float | None) -> bool:
    return trigram is None or (math.isfinite(value) and value < trigram)


def failed_bases(rows: list[dict]) -> set:
    """The softmax bases that do not beat the trigram: they do not count."""
    trigram = _trigram_bpc(rows)
    return {
        r["base"]
        for r in rows
        if r["task"] == "base" and r["method"] == "softmax" and r["metric"] == "bpc"
        if not _beats_trigram(float(r["value"]), trigram)
    }


def base_table(rows: list[dict]) -> str:
    """The base models' validation bpc beside the n-gram tables'."""
    trigram = _trigram_bpc(rows)
    lines = []
    for r in rows:
        if r["task"] != "base" or r["metric"] != "bpc":
            continue
        value = float(r["value"])
        name = r["method"] if not r["base"] else f"{r['method']} ({r['base']})"
        verdict = ""
        if r["method"] == "softmax" and trigram is not None:
            beats = _beats_trigram(value, trigram)
            verdict = "beats the trigram" if beats else "DOES NOT beat the trigram"
        lines.append([name, f"{value:.3f}", verdict])
    return format_table(lines, ["model", "validation bpc", ""])


def level_table(rows: list[dict], config: Config, base: str, stage: str) -> str:
    """Mean ± t half-width and spread (sd) over draws, per family and M."""
    header = ["method", *(f"M = {m}" for m in config.features)]
    lines = []
    for method in config.methods:
        if method == "softmax":
            value = _by_draw(rows, base, method, None, stage).get("", math.nan)
            lines.append([method, f"{value:.3f}", *[""] * (len(config.features) - 1)])
            continue
        cells = []
        for m in config.features:
            summary = _paired.summarize(
                list(_by_draw(rows, base, method, m, stage).values())
            )
            cells.append(f"{_paired.format_mean(summary)} (sd {summary.sd:.3f})")
        lines.append([method, *cells])
    return format_table(lines, header)


def difference_table(rows: list[dict], config: Config, base: str, stage: str) -> str:
    """Paired differences over the ω draws, per comparison and M.

    Under the table, in words, the cells whose interval contains 0.
    """
    header = ["difference (bpc)", *(f"M = {m}" for m in config.features)]
    lines, cells = [], []
    for first, second in COMPARISONS:
        if first not in config.methods or second not in config.methods:
            continue
        label = f"{first} - {second}"
        summaries = [
            _paired.paired(
                _by_draw(rows, base, first, m, stage),
                _by_draw(rows, base, second, m, stage),
            )
            for m in config.features
        ]
        lines.append([label, *map(_paired.format_difference, summaries)])
        cells += [
            (label, column, summary)
            for column, summary in zip(header[1:], summaries, strict=True)
        ]
    return format_table(lines, header) + "\n" + _paired.not_separated(cells)


def report(rows: list[dict], config: Config) -> str:
    """Every uptraining table, as printed."""
    parts = ["base models against n-gram tables (validation split)", base_table(rows)]
    bases = sorted({r["base"] for r in rows if r["task"] == "uptraining"})
    failed = failed_bases(rows)
    for base in bases:
        flag = ""
        if base in failed:
            flag = " [NOT COUNTED: the base does not beat the trigram]"
            parts.append(
                f"\nbase {base} DOES NOT beat the trigram: it does not count, and "
                "its tables below are not evidence for or against any family. "
                "Train it longer (--pretrain-steps)."
            )
        for stage in STAGES:
            title = (
                "zero-shot after calibration"
                if stage == STAGES[0]
                else (f"after {config.finetune_steps} fine-tuning steps")
            )
            draws = len(
                {
                    r["draw"]
                    for r in rows
                    if r["task"] == "uptraining" and r["base"] == base
                    if r["method"] != "softmax"
                }
            )
            parts.append(
                f"\nuptraining, base {base}, {title}: validation bpc, mean ± "
                f"95% t half-width over {draws} ω draws (sd over draws){flag}"
            )
            parts.append(level_table(rows, config, base, stage))
            parts.append(
                f"\npaired differences, base {base}, {title}: mean [95% t "
                f"interval] negatives/pairs, * when 0 is outside{flag}"
            )
            parts.append(difference_table(rows, config, base, stage))
    return "\n".join(parts)
