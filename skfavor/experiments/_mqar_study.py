"""MQAR trained from scratch: accuracy and steps to a target accuracy.

For one seed every method starts from the same initial weights, sees the
same training sequences and, for the random-feature families, the same ω
(seeded apart from both, :func:`._model.omega_seed`). The held-out accuracy
is measured every ``mqar_every`` steps; the first of these steps at which it
reaches ``target`` is the run's steps-to-target (infinite when never).
"""

from __future__ import annotations

import functools
import math
import time
from typing import TYPE_CHECKING

import numpy as np
import torch

from . import _paired
from ._model import (
    Architecture,
    Recipe,
    batches_of,
    build_model,
    mqar_accuracy,
    train,
)
from ._mqar import mqar
from ._output import format_table
from ._uptraining import row, values_by_draw

if TYPE_CHECKING:
    from .transformer import Config

#: Paired comparisons (first − second) of the accuracy table.
COMPARISONS = (
    ("sderf", "posrf"),
    ("sderf", "gerf"),
    ("sderf", "aderf"),
    ("sderf", "saderf"),
    ("aderf", "gerf"),
    ("saderf", "gerf"),
    ("gerf", "posrf"),
)


def architecture(config: Config) -> Architecture:
    """The MQAR model: the base models' shape, with the token shift option."""
    return Architecture(
        vocab_size=config.mqar_vocab,
        max_length=config.mqar_length,
        width=config.mqar_width,
        heads=config.heads,
        layers=config.layers,
        token_shift=config.token_shift,
    )


@functools.lru_cache(maxsize=2)
def _data(config: Config, seed: int):
    shape = dict(
        vocab_size=config.mqar_vocab,
        n_pairs=config.mqar_pairs,
        length=config.mqar_length,
    )
    train_x, train_y = mqar(config.mqar_steps * config.mqar_batch, seed=seed, **shape)
    # Zoology draws its test set with seed + 10.
    test_x, test_y = mqar(config.mqar_test, seed=seed + 10, **shape)
    return train_x, train_y, test_x, test_y


def steps_to(curve: list[tuple[int, float]], target: float) -> float:
    """First step of ``curve`` whose accuracy reaches ``target`` (inf if none)."""
    return next((float(step) for step, value in curve if value >= target), math.inf)


def run_one(
    config: Config,
    method: str,
    n_features: int | None,
    seed: int,
    attention_factory=None,
) -> list[dict]:
    """Train one MQAR model; rows of accuracy, steps to target and seconds."""
    if config.device == "cpu":
        torch.set_num_threads(config.threads)
    model = build_model(
        method,
        n_features,
        architecture(config),
        seed=seed,
        draw=seed,
        device=config.device,
        attention_factory=attention_factory,
    )
    train_x, train_y, test_x, test_y = (
        torch.as_tensor(a, device=config.device) for a in _data(config, seed)
    )
    start = time.perf_counter()
    finite, curve = train(
        model,
        batches_of(train_x, train_y, config.mqar_batch),
        Recipe(config.mqar_steps, config.mqar_lr),
        every=config.mqar_every,
        evaluate=lambda: mqar_accuracy(model, test_x, test_y),
    )
    accuracy = mqar_accuracy(model, test_x, test_y) if finite else math.nan
    reached = steps_to(curve, config.mqar_target) if finite else math.nan
    values = {"accuracy": accuracy, "steps_to_target": reached}
    values["seconds"] = time.perf_counter() - start
    return [
        row("mqar", "", method, n_features, seed, metric, value)
        for metric, value in values.items()
    ]


def jobs(config: Config) -> list[tuple]:
    """(method, n_features, seed) of every MQAR run, softmax once per seed."""
    runs = []
    for method in config.methods:
        features = (None,) if method == "softmax" else config.mqar_features
        runs += [(method, m, s) for m in features for s in range(config.mqar_seeds)]
    return runs


def _by_seed(rows, method, n_features, metric) -> dict:
    return values_by_draw(
        rows, task="mqar", method=method, n_features=n_features, metric=metric
    )


def _steps_cell(values: list[float]) -> str:
    """``reached k/n, median (range)`` of the finite steps; NaN is diverged."""
    finite = sorted(v for v in values if math.isfinite(v))
    diverged = sum(math.isnan(v) for v in values)
    text = f"reached {len(finite)}/{len(values)}"
    if finite:
        text += f", median {np.median(finite):.0f}"
        text += f" (range {finite[0]:.0f}-{finite[-1]:.0f})"
    if diverged:
        text += f", {diverged} div."
    return text


def report(rows: list[dict], config: Config) -> str:
    """The MQAR tables, as printed."""
    target = config.mqar_target
    lines = []
    for method in config.methods:
        features = (None,) if method == "softmax" else config.mqar_features
        for m in features:
            accuracy = _by_seed(rows, method, m, "accuracy")
            steps = _by_seed(rows, method, m, "steps_to_target")
            summary = _paired.summarize(list(accuracy.values()))
            lines.append(
                [
                    method if m is None else f"{method}, M = {m}",
                    _paired.format_mean(summary),
                    " ".join(f"{accuracy[s]:.3f}" for s in sorted(accuracy)),
                    _steps_cell([steps[s] for s in sorted(steps)]),
                ]
            )
    header = ["method", "accuracy (95% t)", "per seed", f"steps to {target:g}"]
    parts = [
        f"MQAR: held-out accuracy over {config.mqar_seeds} seeds, evaluated "
        f"every {config.mqar_every} steps",
        format_table(lines, header),
        "\nMQAR paired differences of accuracy (same seed): mean [95% t "
        "interval] negatives/pairs, * when 0 is outside",
    ]
    header = ["difference", *(f"M = {m}" for m in config.mqar_features)]
    lines, cells = [], []
    for first, second in COMPARISONS:
        if first not in config.methods or second not in config.methods:
            continue
        label = f"{first} - {second}"
        summaries = [
            _paired.paired(
                _by_seed(rows, first, m, "accuracy"),
                _by_seed(rows, second, m, "accuracy"),
            )
            for m in config.mqar_features
        ]
        lines.append([label, *map(_paired.format_difference, summaries)])
        cells += [
            (label, column, summary)
            for column, summary in zip(header[1:], summaries, strict=True)
        ]
    parts.append(format_table(lines, header))
    parts.append(_paired.not_separated(cells))
    return "\n".join(parts)
