"""The small causal Transformer of the experiment, its training and metrics.

Every model is the same pre-norm Transformer (learned positions, GELU MLP of
four times the width) whose attention layer is the only variable: exact
softmax attention (:class:`torch.nn.MultiheadAttention` with a causal mask)
or :class:`skfavor.nn.FavorAttention` with one random-feature family.
Optionally the keys come from the previous position's hidden state (a token
shift, the same for every method), which lets one attention layer form the
"previous token" half of an induction circuit.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ._mqar import IGNORE

#: First word of the seed sequence of every ω: draws never share a stream with
#: the initial weights (``torch.manual_seed(seed)``) or the data
#: (``numpy.random.default_rng([seed, ...])``).
OMEGA_STREAM = 0x0E6A


def omega_seed(draw: int, layer: int) -> int:
    """Seed of the ω of ``layer`` in ``draw``, the same for every family.

    Parameters
    ----------
    draw : int
        Index of the ω draw (uptraining) or of the seed (MQAR).
    layer : int
        Index of the attention layer.

    Returns
    -------
    int
        A 32-bit seed from ``numpy.random.SeedSequence([OMEGA_STREAM, draw,
        layer])``.
    """
    state = np.random.SeedSequence([OMEGA_STREAM, draw, layer]).generate_state(1)
    return int(state[0])


@dataclass(frozen=True)
class Architecture:
    """Shape of a model.

    Parameters
    ----------
    vocab_size, max_length : int
        Token ids and positions.
    width, heads, layers : int
        Model width, attention heads and pre-norm blocks.
    token_shift : bool
        Keys from the previous position's normalised hidden state (zeros at
        the first position); queries and values from the current one.
    """

    vocab_size: int
    max_length: int
    width: int = 64
    heads: int = 4
    layers: int = 2
    token_shift: bool = False


def make_attention(
    method: str,
    embed_dim: int,
    num_heads: int,
    n_features: int | None,
    random_state: int | None = None,
) -> nn.Module:
    """The causal attention layer of ``method``, built with keywords only.

    Parameters
    ----------
    method : str
        ``'softmax'`` or a family of :class:`skfavor.nn.FavorAttention`.
    embed_dim, num_heads : int
        Width and heads.
    n_features : int or None
        Random features per head (ignored by softmax).
    random_state : int or None
        Seed of ω.

    Returns
    -------
    torch.nn.Module
        :class:`torch.nn.MultiheadAttention` or FavorAttention, batch first.
    """
    if method == "softmax":
        return nn.MultiheadAttention(
            embed_dim=embed_dim, num_heads=num_heads, batch_first=True
        )
    from ..nn import FavorAttention

    keywords = {}
    # The layer gains MultiheadAttention's batch_first in another branch.
    if "batch_first" in inspect.signature(FavorAttention).parameters:
        keywords["batch_first"] = True
    return FavorAttention(
        embed_dim=embed_dim,
        num_heads=num_heads,
        feature_map=method,
        n_features=n_features,
        causal=True,
        random_state=random_state,
        **keywords,
    )


class Block(nn.Module):
    """Pre-norm block: attention (causal) then a GELU MLP, both residual."""

    def __init__(self, attention: nn.Module, width: int, token_shift: bool):
        super().__init__()
        self.norm1 = nn.LayerNorm(width)
        self.attn = attention
        self.norm2 = nn.LayerNorm(width)
        self.mlp = nn.Sequential(
            nn.Linear(width, 4 * width), nn.GELU(), nn.Linear(4 * width, width)
        )
        self.token_shift = token_shift

    def forward(self, x):
        h = self.norm1(x)
        k = nn.functional.pad(h, (0, 0, 1, 0))[:, :-1] if self.token_shift else h
        if isinstance(self.attn, nn.MultiheadAttention):
            length = x.shape[1]
            mask = torch.ones(length, length, dtype=torch.bool, device=x.device)
            a, _ = self.attn(
                h, k, h, attn_mask=mask.triu(1), need_weights=False, is_causal=True
            )
        else:
            a, _ = self.attn(h, k, h, need_weights=False)
        x = x + a
        return x + self.mlp(self.norm2(x))


class LanguageModel(nn.Module):
    """Ids of shape (N, L) to next-token logits of shape (N, L, vocab_size)."""

    def __init__(self, shape: Architecture, attention: Callable[[int], nn.Module]):
        super().__init__()
        self.embedding = nn.Embedding(shape.vocab_size, shape.width)
        self.position = nn.Embedding(shape.max_length, shape.width)
        self.blocks = nn.ModuleList(
            Block(attention(i), shape.width, shape.token_shift)
            for i in range(shape.layers)
        )
        self.norm = nn.LayerNorm(shape.width)
        self.head = nn.Linear(shape.width, shape.vocab_size)

    def forward(self, ids):
        positions = torch.arange(ids.shape[1], device=ids.device)
        x = self.embedding(ids) + self.position(positions)
        for block in self.blocks:
            x = block(x)
        return self.head(self.norm(x))


def build_model(
    method: str,
    n_features: int | None,
    shape: Architecture,
    *,
    seed: int,
    draw: int,
    device: str = "cpu",
    attention_factory: Callable | None = None,
) -> LanguageModel:
    """A language model whose initial weights depend on ``seed`` only.

    Every method gets the softmax model's initial weights (loaded with
    ``strict=False``, which leaves ω and the statistics buffers alone); the
    ω of layer ``i`` is seeded by :func:`omega_seed(draw, i) <omega_seed>`,
    independently of ``seed``.

    Parameters
    ----------
    method : str
        ``'softmax'`` or a family.
    n_features : int or None
        Random features per head.
    shape : Architecture
        The model.
    seed : int
        Initial weights (``torch.manual_seed``).
    draw : int
        ω draw.
    device : str, default='cpu'
        Where the model goes.
    attention_factory : callable, default=None
        Replaces :func:`make_attention` (same signature).

    Returns
    -------
    LanguageModel
    """
    factory = make_attention if attention_factory is None else attention_factory

    def build(name):
        torch.manual_seed(seed)
        return LanguageModel(
            shape,
            lambda layer: factory(
                name, shape.width, shape.heads, n_features, omega_seed(draw, layer)
            ),
        )

    reference = build("softmax")
    if method == "softmax":
        return reference.to(device)
    model = build(method)
    load_weights(model, reference.state_dict())
    return model.to(device)


def load_weights(model: nn.Module, state_dict: dict) -> None:
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


@dataclass(frozen=True)
class Recipe:
    """The optimiser and schedule, the same for every method.

    AdamW (β = 0.9, 0.98, decoupled weight decay), linear warm-up over
    ``warmup · steps`` steps to ``lr``, cosine decay to 0, gradient norm
    clipped at ``clip``.
    """

    steps: int
    lr: float
    warmup: float = 0.1
    weight_decay: float = 0.01
    clip: float = 1.0


def train(
    model: nn.Module,
    batches: Callable[[int], tuple],
    recipe: Recipe,
    *,
    every: int = 0,
    evaluate: Callable[[], float] | None = None,
) -> tuple[bool, list[tuple[int, float]]]:
    """Train ``model`` for ``recipe.steps`` steps of cross-entropy.

    Parameters
    ----------
    model : torch.nn.Module
        Ids to logits.
    batches : callable
        ``batches(step)`` returns (inputs, targets) tensors; targets equal to
        :data:`~skfavor.experiments._mqar.IGNORE` are left out of the loss.
    recipe : Recipe
        Steps, learning rate and schedule.
    every : int, default=0
        Call ``evaluate`` after every that many steps (0: never).
    evaluate : callable, default=None
        Returns a metric of the model (which it may put in eval mode).

    Returns
    -------
    finite : bool
        False if the loss became NaN or infinite (training stopped there).
    curve : list of (int, float)
        ``(step, evaluate())`` after every ``every`` steps.
    """
    optimizer = torch.optim.AdamW(
        model.parameters(),
        lr=recipe.lr,
        betas=(0.9, 0.98),
        weight_decay=recipe.weight_decay,
    )
    steps = recipe.steps
    warm = max(1, round(recipe.warmup * steps))

    def factor(step):
        if step < warm:
            return (step + 1) / warm
        return 0.5 * (1 + math.cos(math.pi * (step - warm) / max(1, steps - warm)))

    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
    curve = []
    model.train()
    for step in range(steps):
        inputs, targets = batches(step)
        loss = nn.functional.cross_entropy(
            model(inputs).flatten(0, 1), targets.flatten(), ignore_index=IGNORE
        )
        if not torch.isfinite(loss):
            return False, curve
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), recipe.clip)
        optimizer.step()
        schedule.step()
        if every and evaluate is not None and (step + 1) % every == 0:
            curve.append((step + 1, evaluate()))
            model.train()
    return True, curve


def calibrate(model: nn.Module, batches: Callable[[int], tuple], steps: int) -> None:
    """Forwards in training mode without gradients: running statistics only."""
    model.train()
    with torch.no_grad():
        for step in range(steps):
            model(batches(step)[0])


def mqar_accuracy(model: nn.Module, inputs, targets, batch_size: int = 100) -> float:
    """Share of the queried positions whose most likely token is the value."""
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


def bits_per_character(model: nn.Module, windows, batch_size: int = 64) -> float:
    """Mean cross-entropy in bits of each character given the ones before it.

    Parameters
    ----------
    model : torch.nn.Module
        Ids to logits.
    windows : tensor of shape (n, L + 1)
        Windows whose first ``L`` ids predict their last ``L``.
    batch_size : int
        Windows per forward.

    Returns
    -------
    float
        NaN if a logit is not finite.
    """
    model.eval()
    nats = count = 0.0
    with torch.no_grad():
        for start in range(0, len(windows), batch_size):
            w = windows[start : start + batch_size]
            logits = model(w[:, :-1])
            nats += float(
                nn.functional.cross_entropy(
                    logits.flatten(0, 1), w[:, 1:].flatten(), reduction="sum"
                )
            )
            count += w[:, 1:].numel()
    return nats / count / math.log(2)


def batches_of(inputs, targets, batch_size: int) -> Callable[[int], tuple]:
    """``batch(step)``: rows ``step · batch_size`` onwards of both tensors."""

    def batch(step):
        rows = slice(step * batch_size, (step + 1) * batch_size)
        return inputs[rows], targets[rows]

    return batch
