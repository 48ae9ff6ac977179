"""FAVOR# against FAVOR+ and FAVOR++ inside small trained Transformers.

Three tasks, each with the same small causal Transformer in which the
attention layer is the only difference (exact softmax attention,
:class:`torch.nn.MultiheadAttention`, or :class:`skfavor.nn.FavorAttention`
with one random-feature family):

* ``mqar``: multi-query associative recall (Arora et al. 2023, "Zoology"),
  trained from scratch; metric: accuracy on the queried positions of a
  held-out set;
* ``charlm``: character-level language modelling on the Python Language
  Reference help text (``pydoc_data.topics``, split 90/5/5 by topic), trained
  from scratch; metric: validation bits per character;
* ``uptraining``: the softmax models of ``charlm`` get each family's attention
  with all their weights kept (``load_state_dict(..., strict=False)``), the
  running statistics are calibrated by a few forwards without weight updates,
  and the validation bits per character are measured before and after a
  short fine-tuning (softmax itself, fine-tuned the same way, is the control).

Every run uses the same recipe (AdamW, linear warm-up, cosine decay, gradient
clipping), the same number of steps and the same width; for one seed, every
method starts from the same initial weights and sees the same batches.
FavorAttention runs with its defaults for causal attention: running
statistics (momentum 0.1), no feature redraw, fitted parameters as constants
(``parameter_grad=False``), block-orthogonal ω.
"""

from __future__ import annotations

import argparse
import functools
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from joblib import Parallel, delayed

from ._charlm import CharCorpus, random_windows, tiled_windows
from ._mqar import IGNORE, mqar
from ._output import Line, Panel, format_table, mean_and_sem, plot_panels, write_csv
from ._progress import progress

#: Exact attention first, then FAVOR+, FAVOR++ and the three FAVOR# families.
METHODS = ("softmax", "posrf", "gerf", "sderf", "aderf", "saderf")

TASKS = ("mqar", "charlm", "uptraining")

COLUMNS = ("task", "method", "n_features", "seed", "metric", "value")

#: Family names of the paper.
PAPER_NAMES = {
    "softmax": "exact",
    "posrf": "FAVOR+",
    "gerf": "FAVOR++",
    "sderf": "FAVOR#",
    "aderf": "FAVOR#",
    "saderf": "FAVOR#",
}


@dataclass(frozen=True)
class Config:
    """Everything that defines a run of the transformer experiment.

    Parameters
    ----------
    tasks : tuple of str
        From :data:`TASKS`.
    methods : tuple of str
        From :data:`METHODS`.
    features : tuple of int
        Random features ``M`` per head (softmax runs once per seed).
    seeds : int
        Seeds ``0 … seeds - 1``: initial weights, batches, ω.
    steps : int
        Training steps of ``mqar`` and ``charlm``.
    finetune_steps : int
        Fine-tuning steps of ``uptraining``.
    calibration_steps : int
        Forwards in training mode without weight updates that fill the running
        statistics after the swap, before the first measurement.
    batch_size : int
        Sequences per step.
    lr : float
        Peak learning rate (chosen once on softmax, see the docs page).
    finetune_lr : float
        Peak learning rate of the fine-tuning.
    warmup : float
        Fraction of the steps with a linear warm-up.
    weight_decay : float
        AdamW's decoupled weight decay.
    clip : float
        Gradient norm clipping.
    width, heads, layers : int
        Model width, attention heads (head dimension ``width / heads``) and
        pre-norm blocks.
    mqar_vocab, mqar_pairs, mqar_length : int
        MQAR vocabulary, key–value pairs and sequence length.
    mqar_test : int
        Held-out MQAR sequences (generator seed ``seed + 10``, as Zoology).
    lm_length : int
        Characters per language-modelling window.
    lm_validation : int or None
        Validation windows used (None: all of them).
    device : str
        PyTorch device.
    threads : int
        ``torch.set_num_threads`` on the CPU, per worker. One: on a busy
        two-core machine two threads made a training step twenty times
        slower (OpenMP threads waiting on each other).
    n_jobs : int
        Runs trained at the same time, in worker processes (joblib).
    quiet : bool
        No progress bars.
    """

    tasks: tuple[str, ...] = TASKS
    methods: tuple[str, ...] = METHODS
    features: tuple[int, ...] = (16, 64)
    seeds: int = 3
    steps: int = 400
    finetune_steps: int = 100
    calibration_steps: int = 20
    batch_size: int = 32
    lr: float = 3e-3
    finetune_lr: float = 1e-3
    warmup: float = 0.1
    weight_decay: float = 0.01
    clip: float = 1.0
    width: int = 64
    heads: int = 4
    layers: int = 2
    mqar_vocab: int = 64
    mqar_pairs: int = 4
    mqar_length: int = 32
    mqar_test: int = 500
    lm_length: int = 64
    lm_validation: int | None = None
    device: str = "cpu"
    threads: int = 1
    n_jobs: int = 2
    quiet: bool = False


DEFAULT = Config()
QUICK = Config(
    features=(16,),
    seeds=2,
    steps=20,
    finetune_steps=5,
    calibration_steps=3,
    mqar_test=100,
    lm_validation=64,
)
FULL = Config(
    seeds=5,
    steps=5000,
    finetune_steps=1000,
    calibration_steps=50,
    batch_size=64,
    lr=1e-3,
    finetune_lr=3e-4,
    width=128,
    heads=4,
    layers=4,
    mqar_vocab=8192,
    mqar_pairs=16,
    mqar_length=256,
    mqar_test=3000,
    lm_length=256,
    device="cuda",
    n_jobs=1,
)


def make_attention(
    method: str,
    embed_dim: int,
    num_heads: int,
    n_features: int | None,
    causal: bool,
    random_state: int | None = None,
):
    """The attention layer of ``method``.

    Parameters
    ----------
    method : str
        ``'softmax'`` or a family of :data:`METHODS`.
    embed_dim, num_heads : int
        Width and heads.
    n_features : int or None
        Random features (ignored by softmax).
    causal : bool
        Unidirectional attention (softmax gets a mask in :class:`Block`).
    random_state : int or None
        Seed of ω.

    Returns
    -------
    torch.nn.Module
        :class:`torch.nn.MultiheadAttention` (``batch_first=True``) or
        :class:`skfavor.nn.FavorAttention`.
    """
    import torch

    if method == "softmax":
        return torch.nn.MultiheadAttention(embed_dim, num_heads, batch_first=True)
    from ..nn import FavorAttention

    return FavorAttention(
        embed_dim,
        num_heads,
        feature_map=method,
        n_features=n_features,
        causal=causal,
        random_state=random_state,
    )


def build_model(
    method: str,
    n_features: int | None,
    *,
    vocab_size: int,
    max_length: int,
    config: Config,
    seed: int,
    attention_factory: Callable | None = None,
):
    """A causal Transformer language model whose only variable is attention.

    The initial weights depend on ``seed`` only: they are those of the
    softmax model, loaded into the others (``strict=False`` leaves their
    ω and statistics buffers alone).

    Returns
    -------
    torch.nn.Module
        Maps ids of shape (batch, L) to logits (batch, L, vocab_size).
    """
    import torch

    factory = make_attention if attention_factory is None else attention_factory

    def build(name):
        torch.manual_seed(seed)
        return _language_model(
            vocab_size,
            max_length,
            config,
            lambda layer: factory(
                name,
                config.width,
                config.heads,
                n_features,
                True,
                1000 * seed + layer,
            ),
        )

    reference = build("softmax")
    if method == "softmax":
        return reference.to(config.device)
    model = build(method)
    load_weights(model, reference.state_dict())
    return model.to(config.device)


def load_weights(model, state_dict) -> None:
    """Load a softmax model's weights into ``model``, checking the names.

    Raises
    ------
    ValueError
        If a weight of ``state_dict`` has no place in ``model`` or a parameter
        of ``model`` is not in ``state_dict`` (only buffers may be missing).
    """
    result = model.load_state_dict(state_dict, strict=False)
    parameters = {name for name, _ in model.named_parameters()}
    missing = [name for name in result.missing_keys if name in parameters]
    if result.unexpected_keys or missing:
        raise ValueError(
            "the softmax weights do not fit the model: unexpected "
            f"{result.unexpected_keys}, missing parameters {missing}."
        )


def _language_model(vocab_size, max_length, config, attention):
    import torch
    from torch import nn

    class Block(nn.Module):
        def __init__(self, layer):
            super().__init__()
            self.norm1 = nn.LayerNorm(config.width)
            self.attn = attention(layer)
            self.norm2 = nn.LayerNorm(config.width)
            self.mlp = nn.Sequential(
                nn.Linear(config.width, 4 * config.width),
                nn.GELU(),
                nn.Linear(4 * config.width, config.width),
            )

        def forward(self, x):
            h = self.norm1(x)
            if isinstance(self.attn, nn.MultiheadAttention):
                length = x.shape[1]
                mask = torch.ones(length, length, dtype=torch.bool, device=x.device)
                a, _ = self.attn(
                    h,
                    h,
                    h,
                    attn_mask=mask.triu(1),
                    need_weights=False,
                    is_causal=True,
                )
            else:
                a, _ = self.attn(h, h, h, need_weights=False)
            x = x + a
            return x + self.mlp(self.norm2(x))

    class LanguageModel(nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = nn.Embedding(vocab_size, config.width)
            self.position = nn.Embedding(max_length, config.width)
            self.blocks = nn.ModuleList(Block(i) for i in range(config.layers))
            self.norm = nn.LayerNorm(config.width)
            self.head = nn.Linear(config.width, vocab_size)

        def forward(self, ids):
            positions = torch.arange(ids.shape[1], device=ids.device)
            x = self.embedding(ids) + self.position(positions)
            for block in self.blocks:
                x = block(x)
            return self.head(self.norm(x))

    return LanguageModel()


def train(
    model,
    batches: Callable[[int], tuple],
    *,
    steps: int,
    lr: float,
    config: Config,
) -> bool:
    """Train ``model`` for ``steps`` steps of the fixed recipe.

    AdamW (β = 0.9, 0.98, decoupled weight decay ``config.weight_decay``),
    linear warm-up over ``config.warmup · steps`` steps to ``lr``, cosine
    decay to 0, gradient norm clipped at ``config.clip``; the loss is the
    cross-entropy of the targets that are not :data:`IGNORE`.

    Parameters
    ----------
    model : torch.nn.Module
        Ids to logits.
    batches : callable
        ``batches(step)`` returns (inputs, targets) tensors on the device.
    steps : int
        Optimizer steps.
    lr : float
        Peak learning rate.
    config : Config
        The recipe.

    Returns
    -------
    bool
        False if the loss became NaN or infinite (training stopped there).
    """
    import torch

    optimizer = torch.optim.AdamW(
        model.parameters(), lr=lr, betas=(0.9, 0.98), weight_decay=config.weight_decay
    )
    warm = max(1, round(config.warmup * steps))

    def factor(step):
        if step < warm:
            return (step + 1) / warm
        return 0.5 * (1 + math.cos(math.pi * (step - warm) / max(1, steps - warm)))

    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
    model.train()
    for step in range(steps):
        inputs, targets = batches(step)
        logits = model(inputs)
        loss = torch.nn.functional.cross_entropy(
            logits.flatten(0, 1), targets.flatten(), ignore_index=IGNORE
        )
        if not torch.isfinite(loss):
            return False
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.clip)
        optimizer.step()
        schedule.step()
    return True


def calibrate(model, batches: Callable[[int], tuple], steps: int) -> None:
    """Forwards in training mode without gradients: running statistics only."""
    import torch

    model.train()
    with torch.no_grad():
        for step in range(steps):
            model(batches(step)[0])


def mqar_accuracy(model, inputs, targets, batch_size: int = 100) -> float:
    """Share of the queried positions whose most likely token is the value."""
    import torch

    model.eval()
    correct = total = 0
    with torch.no_grad():
        for start in range(0, len(inputs), batch_size):
            x = inputs[start : start + batch_size]
            y = targets[start : start + batch_size]
            queried = y != IGNORE
            predicted = model(x).argmax(-1)
            correct += int((predicted[queried] == y[queried]).sum())
            total += int(queried.sum())
    return correct / total


def bits_per_character(model, windows, batch_size: int = 64) -> float:
    """Mean cross-entropy in bits of each character given the ones before it.

    Parameters
    ----------
    model : torch.nn.Module
        Ids to logits.
    windows : tensor of shape (n, L + 1)
        Windows whose first ``L`` ids predict their last ``L``.
    batch_size : int
        Windows per forward.
    """
    import torch

    model.eval()
    nats = count = 0.0
    with torch.no_grad():
        for start in range(0, len(windows), batch_size):
            w = windows[start : start + batch_size]
            logits = model(w[:, :-1])
            nats += float(
                torch.nn.functional.cross_entropy(
                    logits.flatten(0, 1), w[:, 1:].flatten(), reduction="sum"
                )
            )
            count += w[:, 1:].numel()
    return nats / count / math.log(2)


def _runs(config: Config) -> list[tuple[str, int | None, int]]:
    """(method, n_features, seed) of every run, softmax once per seed."""
    runs = []
    for method in config.methods:
        features = (None,) if method == "softmax" else config.features
        runs += [(method, m, seed) for m in features for seed in range(config.seeds)]
    return runs


def _row(task, method, n_features, seed, metric, value):
    return {
        "task": task,
        "method": method,
        "n_features": "" if n_features is None else n_features,
        "seed": seed,
        "metric": metric,
        "value": value,
    }


@functools.lru_cache(maxsize=1)
def _corpus() -> CharCorpus:
    return CharCorpus()


@functools.lru_cache(maxsize=4)
def _mqar_data(config: Config, seed: int):
    shape = dict(
        vocab_size=config.mqar_vocab,
        n_pairs=config.mqar_pairs,
        length=config.mqar_length,
    )
    train_x, train_y = mqar(config.steps * config.batch_size, seed=seed, **shape)
    # Zoology draws its test set with seed + 10.
    test_x, test_y = mqar(config.mqar_test, seed=seed + 10, **shape)
    return train_x, train_y, test_x, test_y


def _batches(inputs, targets, batch_size: int):
    def batch(step):
        rows = slice(step * batch_size, (step + 1) * batch_size)
        return inputs[rows], targets[rows]

    return batch


def _lm_batches(config: Config, seed: int, steps: int, offset: int = 0):
    """Random training windows: the same sequence for every method of a seed."""
    import torch

    windows = random_windows(
        _corpus().train,
        n_windows=steps * config.batch_size,
        length=config.lm_length,
        rng=np.random.default_rng([seed, offset]),
    )
    windows = torch.as_tensor(windows, device=config.device)
    return _batches(windows[:, :-1], windows[:, 1:], config.batch_size)


def _validation(config: Config):
    import torch

    windows = tiled_windows(_corpus().validation, length=config.lm_length)
    windows = windows[: config.lm_validation]
    return torch.as_tensor(windows, device=config.device)


def run_one(
    task: str,
    method: str,
    n_features: int | None,
    seed: int,
    config: Config,
    attention_factory=None,
    pretrained=None,
) -> tuple[list[dict], dict | None]:
    """Train (or uptrain) one model and measure it.

    Parameters
    ----------
    task : {'mqar', 'charlm', 'uptraining'}
        The task.
    method : str
        From :data:`METHODS`.
    n_features : int or None
        Random features (None for softmax).
    seed : int
        Initial weights, batches and ω.
    config : Config
        The setting.
    attention_factory : callable, default=None
        Replaces :func:`make_attention`.
    pretrained : dict, default=None
        ``uptraining``: the state dict of the softmax ``charlm`` model of
        ``seed`` (trained here if None).

    Returns
    -------
    rows : list of dict
        Rows of :data:`COLUMNS`, with a ``seconds`` metric (training time).
    state_dict : dict or None
        The trained weights of a softmax ``charlm`` model, else None.
    """
    import torch

    if config.device == "cpu":
        torch.set_num_threads(config.threads)
    device = config.device
    if task == "mqar":
        vocab_size, max_length = config.mqar_vocab, config.mqar_length
    else:
        vocab_size, max_length = _corpus().vocab_size, config.lm_length
    model = build_model(
        method,
        n_features,
        vocab_size=vocab_size,
        max_length=max_length,
        config=config,
        seed=seed,
        attention_factory=attention_factory,
    )
    rows = []

    def add(metric, value):
        rows.append(_row(task, method, n_features, seed, metric, value))

    start = time.perf_counter()
    if task == "mqar":
        train_x, train_y, test_x, test_y = (
            torch.as_tensor(a, device=device) for a in _mqar_data(config, seed)
        )
        finite = train(
            model,
            _batches(train_x, train_y, config.batch_size),
            steps=config.steps,
            lr=config.lr,
            config=config,
        )
        add("accuracy", mqar_accuracy(model, test_x, test_y) if finite else math.nan)
    elif task == "charlm":
        finite = train(
            model,
            _lm_batches(config, seed, config.steps),
            steps=config.steps,
            lr=config.lr,
            config=config,
        )
        add(
            "bpc",
            bits_per_character(model, _validation(config)) if finite else math.nan,
        )
    else:
        if pretrained is None:
            raise ValueError("uptraining needs the pretrained softmax weights.")
        load_weights(model, pretrained)
        # Windows the pretraining did not see, in another order.
        batches = _lm_batches(config, seed, config.finetune_steps, offset=1)
        calibrate(model, batches, min(config.calibration_steps, config.finetune_steps))
        validation = _validation(config)
        add("bpc_before", bits_per_character(model, validation))
        start = time.perf_counter()
        finite = train(
            model,
            batches,
            steps=config.finetune_steps,
            lr=config.finetune_lr,
            config=config,
        )
        add("bpc_after", bits_per_character(model, validation) if finite else math.nan)
    add("seconds", time.perf_counter() - start)
    keep = task == "charlm" and method == "softmax" and finite
    return rows, ({k: v.cpu() for k, v in model.state_dict().items()} if keep else None)


def _run_task(task, config, attention_factory, pretrained) -> list[dict]:
    parallel = Parallel(n_jobs=config.n_jobs, return_as="generator")
    missing = [s for s in range(config.seeds) if s not in pretrained]
    if task == "uptraining" and missing:
        results = parallel(
            delayed(run_one)("charlm", "softmax", None, seed, config, attention_factory)
            for seed in missing
        )
        for seed, (_, state) in zip(
            missing,
            progress(
                results, total=len(missing), desc="pretraining", disable=config.quiet
            ),
            strict=True,
        ):
            pretrained[seed] = state
    runs = _runs(config)
    results = parallel(
        delayed(run_one)(
            task,
            method,
            n_features,
            seed,
            config,
            attention_factory,
            pretrained.get(seed) if task == "uptraining" else None,
        )
        for method, n_features, seed in runs
    )
    rows = []
    for (method, _, seed), (run_rows, state) in zip(
        runs,
        progress(results, total=len(runs), desc=task, disable=config.quiet),
        strict=True,
    ):
        rows += run_rows
        if state is not None and method == "softmax":
            pretrained[seed] = state
    return rows


def _cell(values: Sequence[float]) -> str:
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return "diverged"
    mean, sem = mean_and_sem(finite)
    text = f"{mean:.3f} ± {sem:.3f}" if math.isfinite(sem) else f"{mean:.3f}"
    if len(finite) < len(values):
        text += f" ({len(values) - len(finite)} diverged)"
    return text


def _values(rows, task, metric, method, n_features) -> list[float]:
    key = "" if n_features is None else n_features
    return [
        float(r["value"])
        for r in rows
        if r["task"] == task
        and r["metric"] == metric
        and r["method"] == method
        and r["n_features"] == key
    ]


def task_table(rows: list[dict], task: str, metric: str, config: Config) -> str:
    """Mean ± standard error over seeds, one row per method, one column per M."""
    header = ["method", "family", *(f"M = {m}" for m in config.features), "s/run"]
    lines = []
    for method in config.methods:
        if method == "softmax":
            cells = [_cell(_values(rows, task, metric, method, None))]
            cells += [""] * (len(config.features) - 1)
            seconds = _values(rows, task, "seconds", method, None)
        else:
            cells = [
                _cell(_values(rows, task, metric, method, m)) for m in config.features
            ]
            seconds = [
                s
                for m in config.features
                for s in _values(rows, task, "seconds", method, m)
            ]
        if not cells or not any(cells):
            continue
        mean_seconds = sum(seconds) / len(seconds) if seconds else math.nan
        lines.append([method, PAPER_NAMES[method], *cells, f"{mean_seconds:.1f}"])
    return format_table(lines, header)


_STYLES = {
    "posrf": ("tab:blue", "--"),
    "gerf": ("tab:orange", "--"),
    "sderf": ("tab:green", "-"),
    "aderf": ("tab:red", "-"),
    "saderf": ("tab:purple", "-"),
}


def _panel(rows, task, metric, title, config, level_label) -> Panel:
    lines = []
    for method in config.methods:
        if method == "softmax":
            continue
        means, errors = [], []
        for m in config.features:
            finite = [
                v for v in _values(rows, task, metric, method, m) if math.isfinite(v)
            ]
            mean, sem = mean_and_sem(finite) if finite else (math.nan, math.nan)
            means.append(mean)
            errors.append(0.0 if not math.isfinite(sem) else sem)
        color, linestyle = _STYLES[method]
        lines.append(
            Line(method, list(config.features), means, errors, color, linestyle)
        )
    levels = []
    exact = [
        v for v in _values(rows, task, metric, "softmax", None) if math.isfinite(v)
    ]
    if exact:
        levels.append((level_label, mean_and_sem(exact)[0]))
    return Panel(title, lines, levels)


METRICS = {
    "mqar": (("accuracy", "query accuracy", "MQAR (held-out accuracy)"),),
    "charlm": (("bpc", "validation bits per character", "char LM (validation bpc)"),),
    "uptraining": (
        ("bpc_before", "validation bits per character", "swapped, before fine-tuning"),
        ("bpc_after", "validation bits per character", "after fine-tuning"),
    ),
}


def run(config: Config, out: Path, *, attention_factory=None) -> dict[str, list[dict]]:
    """Run the chosen tasks, print a table per task, write the CSV and plots.

    Parameters
    ----------
    config : Config
        The setting.
    out : Path
        Folder of ``transformer.csv`` and ``transformer_<task>.png``.
    attention_factory : callable, default=None
        Replaces :func:`make_attention` (same signature).

    Returns
    -------
    dict
        ``{'transformer': rows}``.
    """
    import torch

    if config.device == "cpu":
        torch.set_num_threads(config.threads)
    start = time.perf_counter()
    print(_describe(config))
    rows: list[dict] = []
    pretrained: dict = {}
    # Uptraining starts from charlm's softmax models when charlm runs first.
    tasks = sorted(config.tasks, key=TASKS.index)
    for task in tasks:
        task_start = time.perf_counter()
        rows += _run_task(task, config, attention_factory, pretrained)
        write_csv(out / "transformer.csv", rows, COLUMNS)
        for metric, _, title in METRICS[task]:
            print(f"\n{task}: {title}, mean ± s.e. over {config.seeds} seeds")
            print(task_table(rows, task, metric, config))
        print(f"({task}: {time.perf_counter() - task_start:.0f} s)", flush=True)
    plot(rows, config, out)
    print(f"\nwall time: {time.perf_counter() - start:.0f} s")
    return {"transformer": rows}


def plot(rows: list[dict], config: Config, out: Path) -> None:
    """One PNG per task of ``config``: the metric against ``M``, per family.

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
    rows = [
        {
            **row,
            "n_features": "" if row["n_features"] == "" else int(row["n_features"]),
            "value": float(row["value"]),
        }
        for row in rows
    ]
    for task in config.tasks:
        panels = [
            _panel(
                rows,
                task,
                metric,
                title,
                config,
                "softmax (fine-tuned too)" if metric == "bpc_after" else "softmax",
            )
            for metric, _, title in METRICS[task]
        ]
        plot_panels(
            out / f"transformer_{task}.png",
            panels,
            xlabel="random features M per head",
            ylabel=METRICS[task][0][1],
            xlog=True,
            legend_columns=3,
        )


def _describe(config: Config) -> str:
    head_dim = config.width // config.heads
    return (
        f"Transformer: {config.layers} pre-norm layers, width {config.width}, "
        f"{config.heads} heads of dimension {head_dim}, causal; "
        f"{config.steps} steps of {config.batch_size} sequences, AdamW "
        f"lr {config.lr:g} (warm-up {config.warmup:.0%}, cosine, clip "
        f"{config.clip:g}, weight decay {config.weight_decay:g}); "
        f"uptraining: {config.calibration_steps} calibration forwards, "
        f"{config.finetune_steps} steps at lr {config.finetune_lr:g}; "
        f"MQAR vocab {config.mqar_vocab}, {config.mqar_pairs} pairs, length "
        f"{config.mqar_length}; char LM windows of {config.lm_length}; "
        f"seeds 0-{config.seeds - 1}; device {config.device}."
    )


def with_overrides(config: Config, **overrides) -> Config:
    """``config`` with the options that are not None replaced."""
    return replace(
        config, **{key: value for key, value in overrides.items() if value is not None}
    )


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text}")
    return value


def add_parser(commands) -> argparse.ArgumentParser:
    """Add the ``transformer`` subcommand to ``commands`` (argparse subparsers)."""
    parser = commands.add_parser(
        "transformer",
        help="FAVOR#, FAVOR+, FAVOR++ and softmax attention in trained Transformers",
        description=(
            "Small causal Transformers, identical but for the attention layer, "
            "trained from scratch on multi-query associative recall and on "
            "character-level language modelling of pydoc_data.topics, and "
            "softmax models uptrained to each family. The default runs in "
            "about 15 minutes on an idle CPU core; --quick in under 3 "
            "minutes; --full is sized for a GPU."
        ),
    )
    parser.add_argument("--tasks", nargs="+", choices=TASKS)
    parser.add_argument("--methods", nargs="+", choices=METHODS)
    parser.add_argument(
        "--features", nargs="+", type=_positive, help="random features M per head"
    )
    parser.add_argument("--seeds", type=_positive, help="number of seeds (0, 1, …)")
    parser.add_argument("--steps", type=_positive, help="training steps per model")
    parser.add_argument(
        "--finetune-steps", type=_positive, help="uptraining fine-tuning steps"
    )
    parser.add_argument("--lr", type=float, help="peak learning rate")
    parser.add_argument("--mqar-vocab", type=_positive, help="MQAR vocabulary size")
    parser.add_argument("--mqar-pairs", type=_positive, help="MQAR key-value pairs")
    parser.add_argument("--mqar-length", type=_positive, help="MQAR sequence length")
    parser.add_argument("--device", help="PyTorch device (default: cpu; --full: cuda)")
    parser.add_argument(
        "--threads", type=_positive, help="torch threads per worker (default 1)"
    )
    parser.add_argument(
        "--n-jobs", type=_positive, help="runs at the same time (default 2)"
    )
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="the CI setting")
    size.add_argument("--full", action="store_true", help="the GPU setting")
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("skfavor-results"),
        help="folder of the CSV file and plots (default: ./skfavor-results)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    return parser


def main(args: argparse.Namespace) -> dict[str, list[dict]]:
    """Run the subcommand with the parsed ``args``."""
    config = QUICK if args.quick else FULL if args.full else DEFAULT
    config = with_overrides(
        config,
        tasks=None if args.tasks is None else tuple(args.tasks),
        methods=None if args.methods is None else tuple(args.methods),
        features=None if args.features is None else tuple(args.features),
        seeds=args.seeds,
        steps=args.steps,
        finetune_steps=args.finetune_steps,
        lr=args.lr,
        mqar_vocab=args.mqar_vocab,
        mqar_pairs=args.mqar_pairs,
        mqar_length=args.mqar_length,
        device=args.device,
        threads=args.threads,
        n_jobs=args.n_jobs,
        quiet=args.quiet or None,
    )
    return run(config, args.out)
