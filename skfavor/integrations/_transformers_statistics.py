"""The statistics of favorized transformers attention modules.

Calibration (exact attention that gathers each head's query and key
statistics), the running statistics kept in the buffers that
:func:`skfavor.integrations.transformers.favorize` adds, and the access to
those buffers. Used by :mod:`skfavor.integrations.transformers`.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

from .._nn_buffers import merge_running, pooled_head_statistics
from ..attention import AttentionStatistics

#: Prefix of the buffers that ``favorize`` adds to each attention module.
PREFIX = "favor_"


def favor_state(model) -> dict:
    """The entries of ``model.state_dict()`` that are ``favorize``'s buffers."""
    return {
        name: value
        for name, value in model.state_dict().items()
        if name.rsplit(".", 1)[-1].startswith(PREFIX)
    }


def calibration_forward(module, query, key, value, causal, keep, scale):
    """Exact softmax attention, gathering the statistics of the module's heads."""
    queries = query_keep(module, query, key, keep)
    gathered = pooled_head_statistics(query, key, keep, queries, scale)
    options = favor_options(module)
    if options.calibration is not None:
        gathered = tuple(
            old + new for old, new in zip(options.calibration, gathered, strict=True)
        )
    options.calibration = gathered
    length, n_keys = query.shape[-2], key.shape[-2]
    allowed = torch.ones(length, n_keys, dtype=torch.bool, device=query.device)
    if causal:
        allowed = torch.tril(allowed, diagonal=n_keys - length)
    allowed = allowed.expand(query.shape[0], 1, length, n_keys)
    if keep is not None:
        allowed = allowed & keep[:, None, None, :]
    if length == n_keys:
        # A query that sees no key (left padding) attends to itself.
        allowed = allowed | torch.eye(length, dtype=torch.bool, device=query.device)
    out = F.scaled_dot_product_attention(
        query, key, value, attn_mask=allowed, scale=scale
    )
    return out.transpose(1, 2), None


def update_running(module, query, key, keep, scale) -> None:
    """Merge this forward's statistics into the running ones (:func:`merge_running`)."""
    running = [
        (
            favor_buffer(module, f"{side}_mean"),
            favor_buffer(module, f"{side}_covariance"),
        )
        for side in ("query", "key")
    ]
    queries = query_keep(module, query, key, keep)
    batch = pooled_head_statistics(query, key, keep, queries, scale)
    tracked = favor_buffer(module, "num_batches_tracked")
    merge_running(running, batch, tracked, favor_options(module).momentum, keep)


def running_statistics(module) -> AttentionStatistics:
    """The module's running statistics, as FAVOR attention takes them."""
    return AttentionStatistics(
        *(
            favor_buffer(module, f"{side}_{part}")
            for side in ("query", "key")
            for part in ("mean", "covariance")
        )
    )


def is_cross_attention(module) -> bool:
    """Whether ``module`` attends from a decoder's positions to another sequence.

    transformers marks a decoder's cross-attention ``is_cross_attention``
    (GPT-2), or makes it the non-causal attention of a decoder: ``is_decoder``
    on the module (BART, Whisper) or on its ``config`` (BERT-family decoders,
    which mark the wrapper, not the attention).
    """
    if getattr(module, "is_cross_attention", False):
        return True
    decoder = getattr(module, "is_decoder", False) or getattr(
        getattr(module, "config", None), "is_decoder", False
    )
    return bool(decoder and not module.is_causal)


def is_self_attention(module, n_queries, n_keys) -> bool:
    """Whether queries and keys are one sequence's positions."""
    return n_queries == n_keys and not is_cross_attention(module)


def query_keep(module, query, key, keep):
    """Which queries (N, H, L, D) the statistics keep: the key mask in self-attention.

    Calibration and the running update take this one rule; cross-attention's
    key mask says nothing of its queries.
    """
    if is_self_attention(module, query.shape[-2], key.shape[-2]):
        return keep
    return None


def favor_options(module):
    """The :class:`FavorOptions` that :func:`favorize` set on ``module``, or None."""
    return getattr(module, "favor_options", None)


def favor_buffer(module, name):
    """The buffer ``name`` that :func:`favorize` added to ``module``."""
    return getattr(module, PREFIX + name)
