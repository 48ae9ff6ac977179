"""FAVOR# attention in Hugging Face ``transformers`` models.

:func:`favorize` turns every attention of a ``PreTrainedModel`` into FAVOR
attention in place, through transformers' ``AttentionInterface``;
:func:`calibrate` fits its statistics from a few batches without gradients
(the training-free swap); generation keeps the linear-attention state in the
cache (:class:`FavorCacheLayer`), so that each new token costs time and
memory independent of the context. Importing this module imports PyTorch and
transformers; ``import skfavor`` does not.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from transformers import AttentionInterface, PreTrainedModel
from transformers.masking_utils import AttentionMaskInterface

from .._attention_checks import check_random_state_option
from .._checkpointing import forward_statistics, recomputing
from .._sampling import draw_weights
from .._torch_masks import repeat_heads
from .._torch_options import check_int, check_momentum, check_statistics
from .._torch_sampling import draw_directions
from ..attention import (
    check_attention_option,
    favor_heads,
)
from ._transformers_cache import (
    FavorCacheLayer,
    FavorMask,
    before_model_forward,
    cache_layer_for,
    canonical_mask,
    check_call,
    favor_mask,
    not_favorized,
)
from ._transformers_statistics import (
    PREFIX,
    calibration_forward,
    favor_buffer,
    favor_options,
    favor_state,
    is_cross_attention,
    query_keep,
    running_statistics,
    update_running,
)
from ._transformers_trainer import FavorCheckpointCallback

__all__ = [
    "ATTN_IMPLEMENTATION",
    "FavorCacheLayer",
    "FavorCheckpointCallback",
    "FavorMask",
    "FavorOptions",
    "calibrate",
    "favorize",
    "load_favorized",
]

#: The name under which FAVOR attention and its mask function are registered
#: in transformers' ``AttentionInterface`` and ``AttentionMaskInterface``.
ATTN_IMPLEMENTATION = "favor"


@dataclass
class FavorOptions:
    """What :func:`favorize` stores on each attention module (``favor_options``).

    The arrays (directions, statistics) are buffers of the module, prefixed
    ``favor_``; these are the Python-side settings.
    """

    feature_map: str
    n_features: int
    statistics: str
    momentum: float
    redraw_interval: int | None
    sampling: str
    random_state: Any = field(repr=False)
    #: Set by :func:`calibrate` while it runs: the statistics gathered so far.
    calibration: Any = field(default=None, repr=False)
    calibrating: bool = False
    #: Whether the module's current forward called FAVOR attention.
    attended: bool = False
    hooks: list = field(default_factory=list, repr=False)


def favorize(
    model: PreTrainedModel,
    *,
    feature_map: str = "sderf",
    n_features: int = 256,
    statistics: str | None = None,
    momentum: float = 0.1,
    redraw_interval: int | None = None,
    random_state=None,
    sampling: str = "orthogonal",
) -> PreTrainedModel:
    """Make every attention of ``model`` FAVOR# attention, in place.

    Registers FAVOR attention and its mask function under the name
    :data:`ATTN_IMPLEMENTATION` in transformers' ``AttentionInterface`` and
    ``AttentionMaskInterface`` and selects it with
    ``model.set_attn_implementation``. Each attention module (a module with
    ``scaling`` and ``is_causal`` attributes, as in Llama, GPT-2, BERT and
    most models of transformers ≥ 5) gets buffers, saved in the
    ``state_dict``:

    * ``favor_omega`` (n_features, head_dim): the random directions;
    * ``favor_query_mean``, ``favor_key_mean`` (num_heads, head_dim) and
      ``favor_query_covariance``, ``favor_key_covariance`` (num_heads,
      head_dim, head_dim): running statistics of the queries and keys in
      kernel units ``x · √scaling`` (:ref:`math-kernels`), initially those of
      unit-variance projections;
    * ``favor_num_batches_tracked``: updates of the running statistics;
    * ``favor_redraw_seed``, ``favor_n_redraws``, ``favor_calls_since_redraw``:
      the schedule of ``redraw_interval``.

    The softmax kernel ``exp(scaling · qᵀk)`` of each head is replaced by
    ``φ_q(q)ᵀ φ_k(k)`` with the family's parameters fitted in closed form to
    the statistics (:ref:`math-families`, :ref:`math-attention-model`). The
    model keeps its class and its parameters; grouped-query attention (fewer
    key heads) repeats the keys over the query heads; attention dropout
    (in training) drops key features of the numerator; padding is left out.
    Masks that linear attention cannot apply (sliding window, chunked
    attention, packed documents, a 4-D mask tensor) and terms added to the
    scores (T5's ``position_bias``, ``softcap``, sinks, ALiBi) raise a ``ValueError``.

    Parameters
    ----------
    model : transformers.PreTrainedModel
        A model whose attention goes through the ``AttentionInterface``.
    feature_map : {'posrf', 'gerf', 'sderf', 'aderf', 'saderf'}, default='sderf'
        ``'posrf'`` is FAVOR+, ``'gerf'`` FAVOR++, the others FAVOR#.
    n_features : int, default=256
        Random features ``M`` per head.
    statistics : {'running', 'batch'} or None, default=None
        ``'running'``: one set of statistics per layer and head, fitted by
        :func:`calibrate` and followed by an exponential moving average in
        training (the maps of a forward use the statistics from before it),
        frozen in eval mode; strictly causal. ``'batch'``: each sequence and
        head fits its own (bidirectional attention only: in causal
        attention every output would see later positions). ``None`` is
        ``'running'`` for causal self-attention and for a decoder's
        cross-attention (whose queries are the decoder's positions), and
        ``'batch'`` for the other, bidirectional modules (encoders).
    momentum : float, default=0.1
        Weight of each training batch in the running statistics.
    redraw_interval : int or None, default=None
        Draw new directions every that many training forwards of each
        module (each draw serves exactly that many); ``None`` never redraws.
        The schedule lives in buffers (``favor_redraw_seed``,
        ``favor_n_redraws``, ``favor_calls_since_redraw``) and draw ``k`` is
        a function of the seed and ``k`` computed on the device, so that
        every process of a distributed run draws the same directions and a
        ``state_dict`` resumes the schedule exactly.
    random_state : int, RandomState instance or None, default=None
        Controls the directions (each module draws its own, in module
        order). ``None`` takes a seed from PyTorch's global generator, so
        that ``torch.manual_seed`` controls it.
    sampling : {'orthogonal', 'simplex', 'iid'}, default='orthogonal'
        Coupling of the directions (:ref:`math-sampling`).

    Returns
    -------
    model : transformers.PreTrainedModel
        The same object, favorized.

    See Also
    --------
    calibrate : Fit the statistics from a few batches (training-free swap).
    load_favorized : Load a model saved with ``save_pretrained`` after this.

    Notes
    -----
    The options are also stored in ``model.config.favorize_options``, so that
    ``save_pretrained`` records them and :func:`load_favorized` can rebuild
    the model: ``from_pretrained`` knows nothing of the ``favor_`` buffers.
    Calling ``favorize`` again replaces the directions and statistics.

    Examples
    --------
    >>> import torch
    >>> from transformers import LlamaConfig, LlamaForCausalLM
    >>> from skfavor.integrations.transformers import calibrate, favorize
    >>> config = LlamaConfig(vocab_size=32, hidden_size=16, intermediate_size=32,
    ...                      num_hidden_layers=1, num_attention_heads=2)
    >>> model = favorize(LlamaForCausalLM(config), n_features=16, random_state=0)
    >>> model.model.layers[0].self_attn.favor_omega.shape
    torch.Size([16, 8])
    >>> model = calibrate(model, torch.randint(32, (2, 8)))
    >>> prompt = torch.randint(32, (1, 4))
    >>> model.generate(prompt, min_new_tokens=3, max_new_tokens=3).shape
    torch.Size([1, 7])
    """
    random_state = _check_favorize_options(
        model,
        feature_map,
        n_features,
        statistics,
        momentum,
        redraw_interval,
        sampling,
        random_state,
    )
    modules = _attention_modules(model, statistics)
    _register()
    model.set_attn_implementation(ATTN_IMPLEMENTATION)
    config = model.config.get_text_config()
    num_heads = config.num_attention_heads
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // num_heads
    for module in modules:
        options = FavorOptions(
            feature_map=feature_map,
            n_features=int(n_features),
            statistics=statistics
            or ("running" if _decoder_queries(module) else "batch"),
            momentum=float(momentum),
            redraw_interval=redraw_interval,
            sampling=sampling,
            random_state=random_state,
        )
        _install(module, options, num_heads, head_dim)
    previous = getattr(model, "favor_static_cache_check", None)
    if previous is not None:
        previous.remove()
    model.favor_static_cache_check = model.register_forward_pre_hook(
        before_model_forward, with_kwargs=True
    )
    model.config.favorize_options = {
        "feature_map": feature_map,
        "n_features": int(n_features),
        "statistics": statistics,
        "momentum": float(momentum),
        "redraw_interval": redraw_interval,
        "sampling": sampling,
    }
    return model


def _check_favorize_options(
    model,
    feature_map,
    n_features,
    statistics,
    momentum,
    redraw_interval,
    sampling,
    random_state,
):
    """Check :func:`favorize`'s arguments; return its resolved seed."""
    if not isinstance(model, PreTrainedModel):
        raise TypeError(
            f"model must be a transformers PreTrainedModel, got {type(model).__name__}."
        )
    for name, value in (
        ("feature_map", feature_map),
        ("n_features", n_features),
        ("sampling", sampling),
    ):
        check_attention_option(name, value)
    check_statistics(statistics)
    check_momentum(momentum)
    if redraw_interval is not None:
        check_int("redraw_interval", redraw_interval, 1)
    if random_state is None:
        random_state = int(torch.randint(0, 2**31 - 1, ()))
    _, resolve = check_random_state_option(random_state)
    return resolve()


def _attention_modules(model, statistics):
    """The attention modules :func:`favorize` swaps, checked against ``statistics``."""
    if getattr(model.config, "alibi", False):
        raise ValueError(
            f"{type(model).__name__} has alibi=True: ALiBi adds a bias to the "
            "attention scores, which linear attention cannot apply."
        )
    modules = [m for m in model.modules() if _is_attention(m)]
    if not modules:
        raise ValueError(
            f"{type(model).__name__} has no attention module with `scaling` and "
            "`is_causal` attributes (transformers' AttentionInterface models)."
        )
    if statistics == "batch" and any(_decoder_queries(m) for m in modules):
        raise ValueError(
            "statistics='batch' would let every output of the model's causal "
            "attention (or of its decoder's cross-attention) see later positions "
            "through the fitted parameters; use statistics='running' (or None) "
            "and calibrate()."
        )
    return modules


def calibrate(model, batches, *, max_batches: int | None = None):
    """Fit the running statistics of a favorized model from a few batches.

    Runs the model on ``batches`` in eval mode without gradients and sets
    every attention module's running statistics to the exact statistics of
    its queries and keys over all unpadded positions of all batches (in
    kernel units). During calibration each attention computes exact
    softmax attention, so that every layer's statistics are those of the
    original model, whatever the statistics of the layers below. The
    model's train or eval mode is restored afterwards. Batches in which an
    attention sees no unpadded position are refused (a ``ValueError``), the
    statistics left as they were.

    Parameters
    ----------
    model : torch.nn.Module
        A model returned by :func:`favorize` (or a wrapper of one, such as a
        ``peft`` model).
    batches : Tensor, mapping or iterable
        A tensor of input ids (N, L) or a mapping of model inputs (what a
        tokenizer returns), or an iterable of either (a ``DataLoader`` with
        a data collator); ``labels`` are accepted and ignored by the
        statistics. Lists and tuples (a ``TensorDataset``'s batches) are
        refused: which of their tensors are the input ids is not known.
    max_batches : int or None, default=None
        Use at most that many batches.

    Returns
    -------
    model : torch.nn.Module
        The same object.
    """
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {model!r}.")
    modules = [m for m in model.modules() if isinstance(favor_options(m), FavorOptions)]
    if not modules:
        raise ValueError("model has no favorized attention: call favorize(model).")
    if max_batches is not None:
        check_int("max_batches", max_batches, 1)
    if isinstance(batches, torch.Tensor | Mapping):
        batches = [batches]
    device = next(model.parameters()).device
    training = model.training
    for module in modules:
        favor_options(module).calibration = None
        favor_options(module).calibrating = True
    n_batches = 0
    model.eval()
    try:
        with torch.no_grad():
            for batch in batches:
                if max_batches is not None and n_batches >= max_batches:
                    break
                model(**_model_inputs(batch, device))
                n_batches += 1
    finally:
        for module in modules:
            favor_options(module).calibrating = False
        model.train(training)
    if n_batches == 0:
        raise ValueError("batches must hold at least one batch, got none.")
    everything = [favor_options(module).calibration for module in modules]
    for module in modules:
        favor_options(module).calibration = None
    if any(bool((s.n_samples == 0).any()) for g in everything if g for s in g):
        raise ValueError(
            "batches hold no unpadded position for some attention (attention_mask "
            "all 0): nothing to calibrate; the statistics are left as they were."
        )
    for module, gathered in zip(modules, everything, strict=True):
        if gathered is None:
            continue
        with torch.no_grad():
            for side, stats in zip(("query", "key"), gathered, strict=True):
                n = stats.n_samples.clamp(min=1)[..., None]
                favor_buffer(module, f"{side}_mean").copy_(stats.mean)
                favor_buffer(module, f"{side}_covariance").copy_(
                    stats.scatter / n[..., None]
                )
            favor_buffer(module, "num_batches_tracked").fill_(1)
    return model


def load_favorized(model_class, path, **from_pretrained_kwargs):
    """Load a model saved by ``save_pretrained`` after :func:`favorize`.

    ``from_pretrained`` builds the softmax model (and reports the
    ``favor_`` buffers as unexpected); this favorizes it with the options
    recorded in its config and loads the directions and statistics from the
    checkpoint's ``.safetensors`` files. Equivalent by hand::

        model = model_class.from_pretrained(path)
        favorize(model, **model.config.favorize_options, random_state=0)
        model.load_state_dict(favor_buffers, strict=False)

    Parameters
    ----------
    model_class : type
        A transformers model class or auto class, such as
        ``AutoModelForCausalLM``.
    path : str or Path
        A local directory written by ``save_pretrained``.
    **from_pretrained_kwargs
        Passed to ``model_class.from_pretrained``; an ``attn_implementation``
        other than None and :data:`ATTN_IMPLEMENTATION` is refused (ValueError).

    Returns
    -------
    model : transformers.PreTrainedModel
    """
    from safetensors import safe_open

    path = Path(path)
    files = sorted(path.glob("*.safetensors"))
    if not path.is_dir() or not files:
        raise ValueError(
            f"path must be a local directory written by save_pretrained with "
            f"safetensors files, got {str(path)!r}."
        )
    asked = from_pretrained_kwargs.pop("attn_implementation", None)
    if asked not in (None, ATTN_IMPLEMENTATION):
        raise ValueError(
            f"attn_implementation={asked!r}: the loaded model's attention is "
            f"FAVOR's ({ATTN_IMPLEMENTATION!r}); load the softmax model with "
            "from_pretrained."
        )
    model = model_class.from_pretrained(path, **from_pretrained_kwargs)
    options = getattr(model.config, "favorize_options", None)
    if not isinstance(options, dict):
        raise ValueError(
            f"The config in {str(path)!r} has no favorize_options: the model was "
            "not favorized when it was saved."
        )
    favorize(model, **options, random_state=0)  # the saved buffers replace ω
    expected = set(favor_state(model))
    saved = {}
    for file in files:
        with safe_open(str(file), framework="pt") as handle:
            for key in handle.keys():
                if key in expected:
                    saved[key] = handle.get_tensor(key)
    missing = sorted(expected - saved.keys())
    if missing:
        raise ValueError(
            f"The checkpoint in {str(path)!r} lacks FAVOR buffers, e.g. {missing[0]!r}."
        )
    model.load_state_dict(saved, strict=False)
    return model


def favor_attention_forward(
    module,
    query,
    key,
    value,
    attention_mask,
    dropout: float = 0.0,
    scaling: float | None = None,
    **kwargs,
):
    """The attention function registered as :data:`ATTN_IMPLEMENTATION`.

    Called by transformers' attention modules as ``fn(module, query, key,
    value, attention_mask, dropout=..., scaling=..., **kwargs)`` with query
    (N, H, L, D), key and value (N, H_kv, S, D) and the mask made by the
    registered mask function (a :class:`FavorMask`); returns the output
    (N, L, H, D) and no attention weights.
    """
    options = favor_options(module)
    if not isinstance(options, FavorOptions):
        raise ValueError(not_favorized(module, ATTN_IMPLEMENTATION))
    options.attended = True
    check_call(kwargs)
    causal, keep = canonical_mask(attention_mask, module, kwargs, key)
    n_heads, length, head_dim = query.shape[1:]
    omega = favor_buffer(module, "omega")
    if favor_buffer(module, "query_mean").shape != (n_heads, head_dim):
        raise ValueError(
            f"{type(module).__name__} gets {n_heads} heads of width {head_dim}, "
            f"but was favorized for {tuple(favor_buffer(module, 'query_mean').shape)}."
        )
    key, value = repeat_heads(key, n_heads), repeat_heads(value, n_heads)
    scale = head_dim**-0.5 if scaling is None else float(scaling)
    layer = getattr(module, "favor_cache_layer", None)
    if layer is not None and not causal:
        raise ValueError(
            "A cache with bidirectional FAVOR attention is not supported: new "
            "queries would change the outputs of earlier ones."
        )
    if causal and layer is None and key.shape[-2] != length:
        raise ValueError(
            f"Causal FAVOR attention needs as many keys as queries without a "
            f"cache, got {length} queries and {key.shape[-2]} keys."
        )
    if options.calibrating:
        return calibration_forward(module, query, key, value, causal, keep, scale)
    # Training side effects: not when recomputed, nor when a cache is continued.
    updating = module.training and not recomputing()
    updating = updating and (layer is None or layer.state is None)
    if updating and options.redraw_interval is not None:
        _scheduled_redraw(module, options)
    running = options.statistics == "running"
    statistics = running_statistics(module) if running else None
    statistics = forward_statistics(module, statistics, module.training)
    out, state = _favor(
        query,
        key,
        value,
        omega,
        family=options.feature_map,
        causal=causal,
        scale=scale,
        keep=keep,
        query_keep=query_keep(module, query, key, keep),
        statistics=statistics,
        dropout=dropout if module.training else 0.0,
        initial_state=None if layer is None else layer.state,
    )
    if layer is not None:
        layer.state = state
    if running and updating:
        update_running(module, query, key, keep, scale)
    return out.transpose(1, 2), None


def _favor(
    query,
    key,
    value,
    omega,
    *,
    family,
    causal,
    scale,
    keep=None,
    query_keep=None,
    statistics=None,
    dropout=0.0,
    initial_state=None,
):
    """FAVOR attention of (N, H, L, D) heads: the adapter's one engine call.

    ``statistics`` (an :class:`~skfavor.attention.AttentionStatistics` per
    head, in kernel units) or ``None`` for each sequence's own statistics;
    ``keep`` (N, S) leaves padded keys out, ``query_keep`` (N, L) padded
    queries (None: every query); ``initial_state`` continues a causal pass,
    with its maps. Returns the output, in ``query``'s dtype, and the state
    after the last position (causal attention; ``None`` otherwise).
    """
    return favor_heads(
        query,
        key,
        value,
        omega,
        family=family,
        causal=causal,
        scale=scale,
        keep=None if keep is None else keep[:, None, :],
        query_keep=None if query_keep is None else query_keep[:, None, :],
        statistics=statistics,
        initial_state=initial_state,
        output_final_state=causal,
        dropout=dropout or None,
    )


@torch.no_grad()
def _scheduled_redraw(module, options: FavorOptions) -> None:
    """Redraw when the directions served ``redraw_interval`` training forwards.

    Decided by ``torch.where`` on the counter buffer, with no value read on
    the host: the candidate draw ``(seed, n_redraws + 1)`` is computed at
    every training forward and kept only when due.
    """
    omega, calls = (
        favor_buffer(module, "omega"),
        favor_buffer(module, "calls_since_redraw"),
    )
    n_redraws = favor_buffer(module, "n_redraws")
    due = calls >= options.redraw_interval
    fresh = draw_directions(
        favor_buffer(module, "redraw_seed"),
        n_redraws + 1,
        omega.shape[0],
        omega.shape[1],
        sampling=options.sampling,
    )
    omega.copy_(torch.where(due, fresh.to(omega.dtype), omega))
    n_redraws += due.long()
    calls.copy_(torch.where(due, torch.ones_like(calls), calls + 1))


def _install(module, options: FavorOptions, num_heads: int, head_dim: int) -> None:
    """Buffers, options and cache hooks of one attention module."""
    previous = favor_options(module)
    if isinstance(previous, FavorOptions):
        for handle in previous.hooks:
            handle.remove()
    parameter = next(module.parameters(), None)
    device = None if parameter is None else parameter.device
    factory = {"device": device, "dtype": torch.float32}
    omega = draw_weights(
        options.n_features, head_dim, options.random_state, sampling=options.sampling
    )
    module.register_buffer(PREFIX + "omega", torch.tensor(omega, **factory))
    scale = float(getattr(module, "scaling", None) or head_dim**-0.5)
    # Kernel units x·√scaling of projections with unit-variance entries.
    identity = torch.eye(head_dim, **factory) * scale
    for side in ("query", "key"):
        module.register_buffer(
            f"{PREFIX}{side}_mean", torch.zeros((num_heads, head_dim), **factory)
        )
        module.register_buffer(
            f"{PREFIX}{side}_covariance",
            identity.expand(num_heads, -1, -1).clone(),
        )
    for name in ("num_batches_tracked", "n_redraws", "calls_since_redraw"):
        module.register_buffer(
            PREFIX + name, torch.zeros((), dtype=torch.long, device=device)
        )
    seed = int(options.random_state.randint(0, 2**62, dtype=np.int64))
    module.register_buffer(
        PREFIX + "redraw_seed", torch.tensor(seed, dtype=torch.long, device=device)
    )
    module.favor_options = options
    module.favor_cache_layer = None
    options.hooks = [
        module.register_forward_pre_hook(_before_forward, with_kwargs=True),
        module.register_forward_hook(_after_forward, always_call=True),
    ]


def _before_forward(module, args, kwargs):
    module.favor_cache_layer = cache_layer_for(module, args, kwargs)
    favor_options(module).attended = False


def _after_forward(module, args, output):
    """Refuse a forward that did not go through FAVOR attention.

    A model whose attention does not dispatch through transformers'
    ``AttentionInterface`` (``set_attn_implementation`` then only warns)
    would otherwise silently keep softmax attention.
    """
    module.favor_cache_layer = None
    if output is None or favor_options(module).attended:
        return
    name = getattr(getattr(module, "config", None), "_attn_implementation", None)
    reason = (
        f"the model's attn_implementation={name!r} was set after favorize; call "
        f"model.set_attn_implementation({ATTN_IMPLEMENTATION!r}) to use it again."
        if name not in (None, ATTN_IMPLEMENTATION)
        else "the model does not dispatch its attention through transformers' "
        f"AttentionInterface (attn_implementation={ATTN_IMPLEMENTATION!r}), so it "
        "cannot be favorized."
    )
    raise ValueError(f"{type(module).__name__} did not call FAVOR attention: {reason}")


def _is_attention(module) -> bool:
    return hasattr(module, "scaling") and hasattr(module, "is_causal")


def _decoder_queries(module) -> bool:
    """Whether the queries of ``module`` are positions of a causal decoder.

    Its own causal self-attention, or a decoder's cross-attention
    (:func:`is_cross_attention`): batch statistics of these queries would let
    each output see later positions through the fitted parameters, and a
    cached generation step would fit other maps than the full forward.
    """
    return bool(module.is_causal or is_cross_attention(module))


def _model_inputs(batch, device) -> dict:
    if isinstance(batch, torch.Tensor):
        batch = {"input_ids": batch}
    if not isinstance(batch, Mapping):
        raise TypeError(
            "batches must yield tensors of input ids or dicts of model inputs, "
            f"got {type(batch).__name__}; for a DataLoader of a TensorDataset, "
            "whose batches are lists, pass ({'input_ids': b[0]} for b in loader)."
        )
    return {
        name: value.to(device) if isinstance(value, torch.Tensor) else value
        for name, value in batch.items()
    }


def _register() -> None:
    AttentionInterface.register(ATTN_IMPLEMENTATION, favor_attention_forward)
    AttentionMaskInterface.register(ATTN_IMPLEMENTATION, favor_mask)


_register()
