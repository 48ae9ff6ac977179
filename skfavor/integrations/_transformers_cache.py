"""The mask and the cache of FAVOR attention in transformers models.

The registered mask function describes the caller's mask by what linear
attention can apply (:class:`FavorMask`); the cache layer
(:class:`FavorCacheLayer`) holds the decoding state in place of keys and
values; a favorized model's forward pre-hook (:func:`before_model_forward`)
refuses a static cache and gives compiled calls the mask they need. Used by
:mod:`skfavor.integrations.transformers`.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from transformers.cache_utils import (
    Cache,
    CacheLayerMixin,
    DynamicLayer,
    EncoderDecoderCache,
    StaticCache,
)
from transformers.masking_utils import (
    bidirectional_mask_function,
    causal_mask_function,
    prepare_padding_mask,
)

from ..attention import FavorState


class FavorMask(NamedTuple):
    """The mask that FAVOR attention receives instead of a dense 4-D mask.

    The registered mask function describes the caller's mask by what linear
    attention can apply: causal or not, and which keys are padding. Any other
    pattern (sliding window, chunks, packed documents, overlays) is refused
    where the mask is made.

    Attributes
    ----------
    causal : bool
        Query ``i`` sees the keys ``j ≤ i`` only.
    keep : bool Tensor of shape (N, S) or None
        ``True`` for the keys of this call that are not padding; ``None``
        when there is no padding mask.
    """

    causal: bool
    keep: torch.Tensor | None


class FavorCacheLayer(CacheLayerMixin):
    """A cache layer that keeps FAVOR's decoding sums instead of keys and values.

    A favorized model puts one in place of each empty ``DynamicLayer`` of
    the cache that a causal attention module is given (``model.generate()``'s
    ``DynamicCache``, or one passed by the caller). ``update`` stores no key
    and returns the new keys and values only; the attention then carries
    :attr:`state` from one call to the next, so that the cache's size does not
    depend on the number of positions seen (``O(1)`` memory per token), as for
    transformers' own ``LinearAttentionLayer``.

    Attributes
    ----------
    state : skfavor.attention.FavorState or None
        The sums and running maximum after the positions seen so far, and
        the query and key maps compiled at the first call, which the next
        calls reuse (the statistics are frozen while decoding in eval
        mode): a new token costs no closed-form fit.
    n_tokens : int
        Number of positions seen.
    """

    is_sliding = False
    is_compileable = False
    is_croppable = False
    supports_early_init = False

    def __init__(self, **kwargs) -> None:
        super().__init__()
        self.state: FavorState | None = None
        self.n_tokens = 0
        self.is_initialized = True

    def lazy_initialization(self, key_states, value_states) -> None:
        """Nothing to allocate: the state is made by the first attention call."""

    def update(self, key_states, value_states, *args, **kwargs):
        """Count the new positions and return their keys and values unchanged."""
        self.n_tokens += key_states.shape[-2]
        return key_states, value_states

    def get_mask_sizes(self, query_length: int) -> tuple[int, int]:
        """The new keys only: ``(query_length, positions seen before)``."""
        return query_length, self.n_tokens

    def get_seq_length(self) -> int:
        return self.n_tokens

    def get_max_length(self) -> int:
        return -1

    @property
    def nbytes(self) -> int:
        """Bytes held by the state (constant once the first call is made).

        The sums and the running maximum, which grow with the batch, and the
        query and key maps, one per head.
        """
        if self.state is None:
            return 0
        maps = (self.state.query_map, self.state.key_map)
        tensors = [self.state.sums, self.state.top]
        tensors += [t for m in maps for t in (m.weights, m.offset, m.quadratic)]
        return sum(t.numel() * t.element_size() for t in tensors)

    def reset(self) -> None:
        self.state = None
        self.n_tokens = 0

    def offload(self) -> None:
        """The state is small: it stays on its device."""

    def prefetch(self) -> None:
        """The state is never offloaded."""

    def _map_state(self, function) -> None:
        if self.state is not None:
            sums, top = function(self.state.sums), function(self.state.top)
            self.state = self.state._replace(sums=sums, top=top)

    def reorder_cache(self, beam_idx: torch.LongTensor) -> None:
        self._map_state(lambda t: t.index_select(0, beam_idx.to(t.device)))

    def batch_repeat_interleave(self, repeats: int) -> None:
        self._map_state(lambda t: t.repeat_interleave(repeats, dim=0))

    def batch_select_indices(self, indices: torch.Tensor) -> None:
        self._map_state(lambda t: t[indices, ...])

    def crop(self, tokens_to_remove: int) -> None:
        if tokens_to_remove == 0:
            return
        raise ValueError(
            "A FAVOR cache cannot be cropped: its state sums over all positions "
            f"seen, got tokens_to_remove={tokens_to_remove}."
        )


def mask_pattern_name(mask_function) -> str:
    """The name of a mask function, its parts for ``and_masks``/``or_masks``.

    transformers combines patterns with closures named ``and_mask`` and
    ``or_mask`` over the functions they combine; each part is named by its
    factory (``sliding_window_overlay``, ``packed_sequence_mask_function``).
    """
    name = getattr(mask_function, "__qualname__", type(mask_function).__name__)
    parts = [
        function
        for cell in getattr(mask_function, "__closure__", None) or ()
        if isinstance(cell.cell_contents, tuple)
        for function in cell.cell_contents
        if callable(function)
    ]
    if name.endswith((".and_mask", ".or_mask")) and parts:
        operator = " & " if name.endswith(".and_mask") else " | "
        return operator.join(mask_pattern_name(part) for part in parts)
    return name.split(".<locals>.")[0]


def favor_mask(
    batch_size: int,
    q_length: int,
    kv_length: int,
    q_offset: int = 0,
    kv_offset: int = 0,
    mask_function=causal_mask_function,
    attention_mask: torch.Tensor | None = None,
    **kwargs,
) -> FavorMask:
    """The mask function registered for FAVOR attention.

    Returns a :class:`FavorMask` (causal or not, and the padding of the
    keys ``kv_offset, ..., kv_offset + kv_length − 1``) instead of a dense
    mask; refuses every pattern but plain causal and bidirectional masks.
    """
    if mask_function is causal_mask_function:
        causal = True
    elif mask_function is bidirectional_mask_function:
        causal = False
    elif torch.compiler.is_compiling():
        # Functions have no names while dynamo traces them.
        raise ValueError(
            "FAVOR attention applies causal or bidirectional attention with key "
            "padding only. Under torch.compile, transformers cannot look at "
            "position_ids and asks for a packed-sequence mask in every call "
            "without attention_mask and cache: pass attention_mask "
            "(torch.ones_like(input_ids) for rows without padding) or a cache. "
            "Models with a sliding window, chunked attention or a custom mask "
            "overlay are refused whatever the call."
        )
    else:
        raise ValueError(
            "FAVOR attention applies causal or bidirectional attention with key "
            "padding only; the model asked for the mask pattern "
            f"{mask_pattern_name(mask_function)!r} (a "
            "sliding window, chunked attention, packed sequences or a custom "
            "overlay), which linear attention cannot apply."
        )
    if attention_mask is not None and attention_mask.ndim != 2:
        raise ValueError(
            "FAVOR attention applies key padding only: attention_mask must be "
            f"(N, S) of 0/1, got shape {tuple(attention_mask.shape)}."
        )
    keep = prepare_padding_mask(attention_mask, kv_length, kv_offset)
    if keep is not None:
        keep = keep[:, kv_offset : kv_offset + kv_length].to(torch.bool)
    return FavorMask(causal, keep)


#: The names under which transformers' attention modules take the cache
#: (``layer_past``: GPT-NeoX, Falcon).
CACHE_ARGUMENTS = ("cache", "past_key_values", "past_key_value", "layer_past")


def cache_layer_for(module, args, kwargs) -> FavorCacheLayer | None:
    """The FAVOR layer of the cache in a module's call, if any.

    The cache is the call's keyword argument of one of the names in
    :data:`CACHE_ARGUMENTS`, or else a positional ``Cache``. For a causal
    self-attention module given a cache, the cache's empty ``DynamicLayer``
    at the module's index is replaced by a :class:`FavorCacheLayer`; a layer
    that already holds keys, or any other kind of layer, is refused.
    """
    given = [kwargs[name] for name in CACHE_ARGUMENTS if kwargs.get(name) is not None]
    cache = given[0] if given else next((a for a in args if isinstance(a, Cache)), None)
    if cache is None or not module.is_causal:
        return None
    cache = getattr(cache, "self_attention_cache", cache)
    if not isinstance(cache, Cache):
        raise TypeError(
            f"FAVOR attention needs a transformers Cache, got {type(cache).__name__}."
        )
    index = module.layer_idx
    while len(cache.layers) <= index:
        cache.layers.append(DynamicLayer())
    layer = cache.layers[index]
    if type(layer) is DynamicLayer and layer.get_seq_length() == 0:
        layer = cache.layers[index] = FavorCacheLayer()
    if not isinstance(layer, FavorCacheLayer):
        raise ValueError(
            f"FAVOR attention keeps its state in a DynamicCache (such as "
            f"generate()'s default); layer {index} of the cache is a "
            f"{type(layer).__name__} that already holds keys or is not dynamic."
        )
    return layer


#: Keyword arguments with which transformers' attention modules change the
#: scores beyond a mask: additive position biases (T5, LongT5, LayoutLMv3),
#: logit soft-capping (Gemma 2), attention sinks (GPT-OSS) and sparse key
#: indices (DeepSeek V3.2). Linear attention applies none of them.
SCORE_TERMS = (
    "position_bias",
    "relative_position_bias",
    "softcap",
    "s_aux",
    "sinks",
    "indices",
    "block_indices",
)


def check_call(kwargs) -> None:
    """Refuse a call that FAVOR attention cannot honour, naming the argument.

    ``output_attentions=True`` (the weights are never formed), packed
    documents (``cu_seq_lens_q``/``_k``) and any of :data:`SCORE_TERMS` that
    is not ``None``: ignoring them would compute another model's attention
    without a word.
    """
    if kwargs.get("output_attentions"):
        raise ValueError(
            "FAVOR attention never forms the attention weights: "
            "output_attentions=True cannot be honoured; call the model with "
            "output_attentions=False."
        )
    packed = [
        n for n in ("cu_seq_lens_q", "cu_seq_lens_k") if kwargs.get(n) is not None
    ]
    if packed:
        raise ValueError(
            f"FAVOR attention cannot apply packed documents ({packed[0]} given): "
            "pad the sequences of a batch instead of concatenating them."
        )
    terms = [name for name in SCORE_TERMS if kwargs.get(name) is not None]
    if terms:
        raise ValueError(
            f"FAVOR attention cannot apply {terms[0]}, which the model adds to its "
            "attention scores (a position bias, soft-capping, attention sinks or "
            "sparse indices): linear attention applies causal and key padding "
            "masks only, so this model cannot be favorized."
        )


def not_favorized(module, name: str) -> str:
    """The error of an attention module that runs FAVOR without its buffers."""
    return (
        f"{type(module).__name__} uses attn_implementation={name!r} but was not "
        "favorized: call favorize(model), or load a saved favorized model with "
        "load_favorized. Models built from one config object share it, and "
        "favorize sets its attn_implementation: build each model from its own "
        "config (copy.deepcopy(config))."
    )


def canonical_mask(attention_mask, module, kwargs, key):
    """``(causal, keep)`` from the mask the model passed, or an error.

    ``key`` (N, H_kv, S, D): a bidirectional mask's padding must cover its S
    keys (transformers sizes it by the ``attention_mask`` it was given).
    """
    if isinstance(attention_mask, FavorMask):
        keep = attention_mask.keep
        if not attention_mask.causal and keep is not None:
            if keep.shape != (key.shape[0], key.shape[-2]):
                raise ValueError(
                    f"attention_mask of shape {tuple(keep.shape)} does not "
                    f"match the {key.shape[0]} sequences of {key.shape[-2]} "
                    "keys of a bidirectional attention: pass one 0/1 per token."
                )
        return attention_mask.causal, keep
    if attention_mask is None:
        causal = kwargs.get("is_causal")
        return bool(module.is_causal if causal is None else causal), None
    shape = tuple(getattr(attention_mask, "shape", ()))
    raise ValueError(
        f"FAVOR attention cannot apply an attention mask of type "
        f"{type(attention_mask).__name__} and shape {shape}: linear attention "
        "applies causal and key padding masks only. Pass a 2-D attention_mask "
        "(N, S) of 0/1 to the model instead of a 4-D mask."
    )


def _static(value) -> bool:
    """Whether ``value`` is a static cache, or an encoder–decoder pair of them."""
    if isinstance(value, EncoderDecoderCache):
        value = value.self_attention_cache
    return isinstance(value, StaticCache)


def before_model_forward(model, args, kwargs):
    """A favorized model's forward pre-hook: checks and completes its call.

    A ``StaticCache`` is refused by name: it keeps keys and values in buffers
    of fixed size, where a favorized model keeps FAVOR's decoding sums in the
    layers of a dynamic cache (:class:`FavorCacheLayer`); transformers' mask
    preparation failed on it with an ``AttributeError``. Under
    ``torch.compile``, a decoder-only call without ``attention_mask`` gets
    an all-ones one (:func:`_unpacked_mask`).
    """
    if any(_static(value) for value in (*args, *kwargs.values())):
        raise ValueError(
            "A favorized model keeps FAVOR's decoding sums in the layers of a "
            "DynamicCache; a StaticCache (cache_implementation='static') is not "
            "supported: use the default cache."
        )
    if torch.compiler.is_compiling():
        return _unpacked_mask(model, args, kwargs)
    return None


def _unpacked_mask(model, args, kwargs):
    """The call with an all-ones ``attention_mask`` where it has none (tracing).

    While tracing, transformers cannot look at ``position_ids`` and asks for
    its packed-sequence mask in every call without ``attention_mask`` and
    cache, which linear attention cannot apply. One sequence per row is what
    such a call means unless its ``position_ids`` restart: they are checked
    on the device (``torch._assert_async``, no host copy), and the call gets
    the mask of rows without padding. Encoder–decoder models, calls with a
    mask or a cache and calls whose mask is positional are left as they are.
    """
    if model.config.is_encoder_decoder or len(args) > 1:
        return None
    if kwargs.get("attention_mask") is not None:
        return None
    if any(isinstance(value, Cache) for value in kwargs.values()):
        # A cached call has no packed-sequence mask, and its mask would have
        # to cover the cached positions too.
        return None
    inputs = args[0] if args else kwargs.get("input_ids")
    if inputs is None:
        inputs = kwargs.get("inputs_embeds")
    if not isinstance(inputs, torch.Tensor):
        return None
    positions = kwargs.get("position_ids")
    if positions is not None:
        steps = torch.diff(positions, dim=-1)
        torch._assert_async(
            torch.all(steps == 1),
            "FAVOR attention cannot apply packed sequences (position_ids that "
            "restart within a row).",
        )
    mask = torch.ones(inputs.shape[:2], dtype=torch.long, device=inputs.device)
    return args, {**kwargs, "attention_mask": mask}
