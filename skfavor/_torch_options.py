"""Validation of :class:`skfavor.nn.FavorAttention`'s constructor arguments."""

from __future__ import annotations

import warnings
from numbers import Integral, Real

from .attention import check_attention_option


class _BatchFirstDefault:
    """The default of ``batch_first``: True with a FutureWarning (False in 0.4)."""

    def __repr__(self) -> str:
        return "<True, with a FutureWarning; False from 0.4>"


BATCH_FIRST_DEFAULT = _BatchFirstDefault()


def resolved_batch_first(batch_first):
    """``batch_first``, with 0.2.0's True and a FutureWarning when not given."""
    if batch_first is not BATCH_FIRST_DEFAULT:
        return batch_first
    warnings.warn(
        "FavorAttention's batch_first defaults to True (inputs (N, L, E)) "
        "and becomes False, torch.nn.MultiheadAttention's default, in 0.4: "
        "pass batch_first explicitly.",
        FutureWarning,
        stacklevel=3,
    )
    return True


#: The constructor arguments of FavorAttention that mirror MultiheadAttention's.
MHA_ARGUMENTS = (
    "embed_dim",
    "num_heads",
    "dropout",
    "bias",
    "add_bias_kv",
    "add_zero_attn",
    "kdim",
    "vdim",
    "batch_first",
    "device",
    "dtype",
)


def check_options(arguments: dict) -> None:
    """Validate the constructor's arguments (``locals()`` of ``__init__``)."""
    embed_dim, num_heads = arguments["embed_dim"], arguments["num_heads"]
    for name in ("embed_dim", "num_heads"):
        check_int(name, arguments[name], 1)
    # The options the layer shares with favor_attention: one check each.
    for name in ("feature_map", "n_features", "sampling", "causal", "parameter_grad"):
        check_attention_option(name, arguments[name])
    check_attention_option("dropout", arguments["dropout"])
    if embed_dim % num_heads:
        raise ValueError(
            f"num_heads must divide embed_dim, got embed_dim={embed_dim} and "
            f"num_heads={num_heads}."
        )
    for name in ("kdim", "vdim", "redraw_interval"):
        if arguments[name] is not None:
            check_int(name, arguments[name], 1)
    for name in ("bias", "add_bias_kv", "add_zero_attn", "batch_first"):
        if not isinstance(arguments[name], bool):
            raise TypeError(f"{name} must be a bool, got {arguments[name]!r}.")
    for name in ("add_bias_kv", "add_zero_attn"):
        if arguments[name]:
            raise ValueError(
                f"{name}=True is not supported by FavorAttention: appended keys "
                "would enter the fitted statistics of every sequence. Pass False."
            )
    _check_choices(arguments)
    check_momentum(arguments["momentum"])


def _check_choices(arguments: dict) -> None:
    """``statistics`` (and the causal warning)."""
    feature_map, statistics = arguments["feature_map"], arguments["statistics"]
    check_statistics(statistics)
    if arguments["causal"] and statistics == "batch" and feature_map != "posrf":
        warnings.warn(
            "causal=True with statistics='batch': each output sees later "
            "positions through the d² numbers of the fitted parameters. Use "
            "statistics=None or 'running' for strictly causal attention.",
            UserWarning,
            stacklevel=4,
        )


def check_int(name, value, minimum) -> None:
    if not isinstance(value, Integral) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}.")


def check_statistics(statistics) -> None:
    """``statistics`` of the layer and of the Hugging Face adapter."""
    if statistics not in (None, "batch", "running"):
        raise ValueError(
            f"statistics must be 'batch', 'running' or None, got {statistics!r}."
        )


def check_momentum(momentum) -> None:
    """``momentum`` of the running statistics: a float in (0, 1]."""
    if (
        not isinstance(momentum, Real)
        or isinstance(momentum, bool)
        or not 0 < momentum <= 1
    ):
        raise ValueError(f"momentum must be a float in (0, 1], got {momentum!r}.")
