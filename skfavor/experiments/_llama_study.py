"""Uptraining through the Hugging Face integration: a tiny Llama as base model.

The second kind of base model of the uptraining study: a
``LlamaForCausalLM`` built from a ``LlamaConfig`` (the corpus' character
vocabulary, the base models' width, heads and layers, rotary positions,
SwiGLU MLP) with softmax attention (``'sdpa'``), pretrained in the run on
windows of the same training split with the same recipe (its own, smaller
budget: ``llama_pretrain_steps`` of ``llama_batch``; it learns faster than
the experiment's Transformer) and measured on the same validation windows.
Each swap deep-copies the pretrained model, turns its attention into a
family's with
:func:`skfavor.integrations.transformers.favorize` (``random_state`` is the
draw's ω seed, :func:`._model.omega_seed` ``(draw, 0)``, the same for every
family, so that the families of one draw share their directions) and fits
its statistics with :func:`~skfavor.integrations.transformers.calibrate` on
the same ``calibration_steps`` batches for every family (none with 0: the
layers' initial statistics, as on the other bases), then is measured zero-shot
and after the same short fine-tuning as the other bases. Rows and tables are
those of :mod:`._uptraining`, under the base name ``llama seed <seed>``.

Needs ``transformers``; :func:`missing` says why it cannot run otherwise.
"""

from __future__ import annotations

import copy
import importlib.util
import math
import time
from typing import TYPE_CHECKING

import torch
from torch import nn

from . import _uptraining
from ._model import Recipe, batches_of, bits_per_character, omega_seed, train
from ._uptraining import STAGES, row

if TYPE_CHECKING:
    from .transformer import Config

#: Prefix of the base names of the Llama bases in the rows.
BASE = "llama seed"


def missing() -> str | None:
    """Why the Llama bases cannot run here (None when they can)."""
    if importlib.util.find_spec("transformers") is None:
        return (
            "skipped: the Llama base models need the Hugging Face integration, "
            "and transformers is not installed (pip install "
            "'skfavor[transformers]')."
        )
    return None


class Logits(nn.Module):
    """Ids to logits: a causal LM of transformers as the study's models are.

    Parameters
    ----------
    model : transformers.PreTrainedModel
        A causal language model.
    """

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, ids):
        """Logits of shape (N, L, vocab) of the ids (N, L)."""
        return self.model(input_ids=ids).logits


def llama_config(config: Config):
    """The tiny Llama: character vocabulary, the base models' shape."""
    from transformers import LlamaConfig

    return LlamaConfig(
        vocab_size=_uptraining.corpus().vocab_size,
        hidden_size=config.width,
        intermediate_size=4 * config.width,
        num_hidden_layers=config.layers,
        num_attention_heads=config.heads,
        num_key_value_heads=config.heads,
        max_position_embeddings=config.lm_length,
        attn_implementation="sdpa",
        use_cache=False,
    )


def pretrain(config: Config, seed: int) -> tuple[list[dict], nn.Module | None]:
    """Train the Llama base of ``seed``: its rows and the model (None if NaN).

    Windows of the training split (``seed``'s stream 0, as the other base
    models), the same recipe at ``config.llama_pretrain_steps`` steps of
    ``config.llama_batch``, the same validation windows.
    """
    from transformers import LlamaForCausalLM

    _uptraining.threads(config)
    torch.manual_seed(seed)
    model = Logits(LlamaForCausalLM(llama_config(config))).to(config.device)
    recipe = Recipe(config.llama_pretrain_steps, config.pretrain_lr)
    batches = batches_of(
        *_uptraining.windows(config, seed, 0, recipe.steps * config.llama_batch),
        config.llama_batch,
    )
    start = time.perf_counter()
    finite, _ = train(model, batches, recipe)
    seconds = time.perf_counter() - start
    bpc = (
        bits_per_character(model, _uptraining.validation(config))
        if finite
        else math.nan
    )
    base = f"{BASE} {seed}"
    rows = [
        row("base", base, "softmax", None, None, "bpc", bpc),
        row("base", base, "softmax", None, None, "seconds", seconds),
    ]
    return rows, model.cpu() if math.isfinite(bpc) else None


def swaps(config: Config, bases: list[int]) -> list[tuple]:
    """(base seed, method, n_features, draw) of every swap of the Llama bases."""
    return _uptraining.swaps(config, bases, draws=config.llama_draws)


def swap(
    config: Config,
    seed: int,
    base: nn.Module,
    method: str,
    n_features: int | None,
    draw: int | None,
) -> list[dict]:
    """Favorize a copy of ``base`` with ``method``: zero-shot and fine-tuned bpc.

    ``softmax`` (no draw) is the control: the base fine-tuned the same way.
    """
    from skfavor.integrations.transformers import calibrate, favorize

    _uptraining.threads(config)
    model = copy.deepcopy(base).to(config.device)
    steps = config.finetune_steps
    n_batches = max(steps, config.calibration_steps, 1)
    inputs, targets = _uptraining.windows(
        config, seed, 1, n_batches * config.finetune_batch
    )
    batches = batches_of(inputs, targets, config.finetune_batch)
    validation = _uptraining.validation(config)
    start = time.perf_counter()
    if method != "softmax":
        favorize(
            model.model,
            feature_map=method,
            n_features=n_features,
            random_state=omega_seed(draw, 0),
        )
        if config.calibration_steps:
            calibrate(
                model.model,
                [batches(step)[0] for step in range(config.calibration_steps)],
            )
    values = {STAGES[0]: _uptraining.finite_bpc(model, validation)}
    finite, _ = train(model, batches, Recipe(steps, config.finetune_lr))
    values[STAGES[1]] = (
        _uptraining.finite_bpc(model, validation) if finite else math.nan
    )
    values["seconds"] = time.perf_counter() - start
    base_name = f"{BASE} {seed}"
    return [
        row("uptraining", base_name, method, n_features, draw, metric, value)
        for metric, value in values.items()
    ]
